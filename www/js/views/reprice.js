// "Try another tariff on my usage": the household's last invoiced month
// priced under a published or proposed tariff the member picks
// (GET /api/v1/households/{id}/reprice), beside what the invoice was, line
// by line with each line's explanation, and the difference.

import {h} from '../dom.js';
import {t, money, period, calendarDate} from '../i18n.js';
import {section, fillFrom, table} from './common.js';
import {linesTable} from './lines.js';
import {loadProposed} from './proposed.js';

// The difference in words: more, less or the same.
export function differenceText(minor, currency, params) {
	const key = minor > 0 ? 'try.more' : minor < 0 ? 'try.less' : 'try.same';
	return t(key, {...params, amount: money(Math.abs(minor), currency)});
}

function comparison(reply, tariff) {
	const paid = reply.invoice;
	const under = reply.repriced;
	const params = {name: tariff.name, period: period(reply.period)};
	return h('div', {class: 'try-result', 'data-tariff': String(tariff.id),
		'data-difference': String(reply.difference_minor)}, [
		h('h3', {id: 'try-result-title', tabindex: '-1'}, t('try.result-title', params)),
		h('p', {class: 'try-verdict'}, differenceText(reply.difference_minor, paid.currency, params)),
		table(t('try.summary-caption', params), [t('try.col.what'), {text: t('try.col.amount'), num: true}], [
			[t('try.paid'), {node: h('span', {class: 'paid-total', 'data-minor': String(paid.total_minor)},
				money(paid.total_minor, paid.currency)), num: true}],
			[t('try.under', params), {node: h('span', {class: 'repriced-total',
				'data-minor': String(under.total_minor)}, money(under.total_minor, under.currency)), num: true}],
			[h('strong', {}, t('try.difference')), {node: h('strong', {class: 'difference',
				'data-minor': String(reply.difference_minor)},
			money(reply.difference_minor, paid.currency, {signed: true})), num: true}],
		], {class: 'try-summary'}),
		h('div', {class: 'side-by-side'}, [
			h('div', {class: 'paid'}, linesTable(paid, t('try.paid-caption', params))),
			h('div', {class: 'repriced'}, linesTable(under, t('try.under-caption', params))),
		]),
	]);
}

export function renderReprice(ctx) {
	const {el, body} = section('try', 'try.title', t('try.intro'));
	const hid = ctx.household.id;
	fillFrom(ctx, body, async () => {
		const [invoices, published, proposed] = await Promise.all([
			ctx.load(`/api/v1/households/${hid}/invoices`),
			ctx.load('/api/v1/tariffs', {auth: false}),
			loadProposed(ctx),
		]);
		const last = invoices.invoices.reduce((a, b) => (!a || b.period > a.period ? b : a), null);
		if (!last)
			return h('p', {}, t('try.no-invoice'));
		const choices = [...published.tariffs.map((x) => ({tariff: x, key: 'try.option'})),
			...(proposed.tariffs || []).map((x) => ({tariff: x, key: 'try.option-proposed'}))];
		if (!choices.length)
			return h('p', {}, t('tariff.none'));
		const preferred = choices.find((c) => c.tariff.id !== last.tariff_id) || choices[0];
		const select = h('select', {id: 'try-tariff'}, choices.map((c) => h('option', {
			value: String(c.tariff.id), selected: c === preferred},
		t(c.key, {name: c.tariff.name, from: calendarDate(c.tariff.valid_from)}))));
		const result = h('div', {class: 'try-box', 'aria-live': 'polite'});
		const form = h('form', {class: 'day-pick try-form', onsubmit: (event) => {
			event.preventDefault();
			const tariff = choices.find((c) => String(c.tariff.id) === select.value).tariff;
			fillFrom(ctx, result, async () => comparison(await ctx.load(
				`/api/v1/households/${hid}/reprice?period=${last.period}&tariff_id=${tariff.id}`), tariff))
				.then(() => result.querySelector('#try-result-title')?.focus());
		}}, [
			h('label', {for: 'try-tariff'}, t('try.pick')),
			select,
			h('button', {type: 'submit', id: 'try-go'}, t('try.go')),
		]);
		return [
			h('p', {}, t('try.period', {period: period(last.period)})),
			form,
			proposed.unavailable ? h('p', {class: 'help'}, t('proposed.unavailable')) : null,
			result,
		];
	});
	return el;
}
