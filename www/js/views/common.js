// What every part of the page shares: a titled section, and filling it from
// the API with a loading note and, on failure, the problem's own words.

import {h, clear} from '../dom.js';
import {t} from '../i18n.js';

export function section(id, titleKey, intro) {
	const heading = h('h2', {id: `${id}-title`}, t(titleKey));
	const body = h('div', {class: 'section-body'});
	const el = h('section', {id, class: 'card', 'aria-labelledby': `${id}-title`, tabindex: '-1'},
		[heading, intro ? h('p', {class: 'intro'}, intro) : null, body]);
	return {el, body};
}

export function errorBox(text) {
	return h('p', {class: 'error', role: 'alert'}, text);
}

// Shows "loading" in container until work() gives its nodes, or the error;
// the promise it returns settles when either is shown.
export function fillFrom(ctx, container, work) {
	clear(container);
	container.setAttribute('aria-busy', 'true');
	container.append(h('p', {class: 'loading'}, t('app.loading')));
	return Promise.resolve().then(work).then((nodes) => {
		clear(container);
		container.append(...[].concat(nodes).filter(Boolean));
	}, (error) => {
		clear(container);
		container.append(errorBox(ctx.errorText(error)));
	}).finally(() => container.removeAttribute('aria-busy'));
}

// A table with a caption, column headers and rows of cells; a cell is text,
// a node, or {text|node, num: true} for a right-aligned figure.
export function table(caption, headers, rows, attrs = {}) {
	const cell = (tag, c) => {
		if (c && typeof c === 'object' && !(c instanceof Node))
			return h(tag, {class: c.num ? 'num' : c.class, ...(c.attrs || {})}, c.node ?? c.text);
		return h(tag, {}, c);
	};
	return h('div', {class: 'table-wrap'}, h('table', attrs, [
		h('caption', {}, caption),
		h('thead', {}, h('tr', {}, headers.map((c) => {
			const th = cell('th', c);
			th.setAttribute('scope', 'col');
			return th;
		}))),
		h('tbody', {}, rows.map((row) => h('tr', {}, row.map((c, i) => {
			const el = cell(i === 0 ? 'th' : 'td', c);
			if (i === 0)
				el.setAttribute('scope', 'row');
			return el;
		})))),
	]));
}
