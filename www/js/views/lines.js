// An invoice's lines (or the estimate's), each with the sentence that says
// how it was worked out, then the tax and the total.

import {h} from '../dom.js';
import {t, money, percent} from '../i18n.js';
import {table} from './common.js';

export function linesTable(doc, caption) {
	const rows = doc.lines.map((line) => [
		{node: [h('span', {class: 'line-name'}, line.description),
			h('span', {class: 'explain'}, line.explain)]},
		{text: money(line.amount_minor, doc.currency), num: true},
	]);
	if (doc.subtotal_minor !== doc.total_minor)
		rows.push([{node: h('span', {class: 'line-name'}, t('lines.subtotal'))},
			{text: money(doc.subtotal_minor, doc.currency), num: true}]);
	rows.push([{node: h('strong', {}, t('lines.total'))},
		{node: h('strong', {'data-minor': String(doc.total_minor)}, money(doc.total_minor, doc.currency)),
			num: true}]);
	return [
		table(caption, [t('lines.col.line'), {text: t('lines.col.amount'), num: true}], rows,
			{class: 'lines'}),
		doc.tax ? h('p', {class: 'tax'}, [
			h('span', {}, t(doc.tax.included ? 'lines.tax-included' : 'lines.tax-added',
				{amount: money(doc.tax.amount_minor, doc.currency), rate: percent(doc.tax.rate_bp)})),
			' ',
			h('span', {class: 'explain'}, doc.tax.explain),
		]) : null,
	];
}
