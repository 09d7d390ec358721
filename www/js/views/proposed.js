// Proposed changes: each tariff the cooperative consults its members on,
// and each published one that is still to take effect, with its terms (its
// label once published), what it would have made of this household's last
// invoices, and what it means for the cooperative as a whole
// (GET /api/v1/tariffs/{id}/impact). Nothing about another household is
// shown: a member's reply has only aggregates besides their own rows.

import {h} from '../dom.js';
import {t, money, number, period, shortPeriod, calendarDate, date} from '../i18n.js';
import {section, fillFrom, table} from './common.js';
import {tariffTerms} from './cooperative.js';
import {labelDocument, loadLabel, today} from './label.js';

const QUANTILES = ['min', 'p10', 'p25', 'p50', 'p75', 'p90', 'max'];

// The proposed tariffs, or {tariffs: [], unavailable: true} from a server
// that has no consultations (it refuses status=proposed).
export async function loadProposed(ctx) {
	try {
		return await ctx.load('/api/v1/tariffs?status=proposed', {auth: false});
	} catch (error) {
		if (error.status === 400 || error.status === 404)
			return {tariffs: [], unavailable: true};
		throw error;
	}
}

function periodsText(periods) {
	if (periods.length === 1)
		return period(periods[0]);
	return t('proposed.periods', {from: period(periods[0]), to: period(periods[periods.length - 1])});
}

function signed(minor, impact) {
	return money(minor, impact.currency, {digits: impact.exponent, signed: true});
}

function plain(minor, impact) {
	return money(minor, impact.currency, {digits: impact.exponent});
}

function mineView(impact, name) {
	if (!impact.mine || !impact.mine.length)
		return h('p', {}, t('proposed.mine-none'));
	return table(t('proposed.mine-caption', {name}), [t('proposed.col.period'),
		{text: t('proposed.col.paid'), num: true}, {text: t('proposed.col.under'), num: true},
		{text: t('proposed.col.difference'), num: true}],
	impact.mine.map((row) => [
		{node: shortPeriod(row.period), attrs: {'data-period': row.period}},
		{text: plain(row.invoice_minor, impact), num: true},
		{text: plain(row.repriced_minor, impact), num: true},
		{node: h('span', {class: 'difference', 'data-minor': String(row.difference_minor)},
			signed(row.difference_minor, impact)), num: true},
	]), {class: 'mine'});
}

function countsView(impact) {
	const row = (outcome, part) => [t(`proposed.outcome.${outcome}`),
		{node: h('span', {'data-outcome': outcome, 'data-count': String(part.count)}, number(part.count)),
			num: true},
		{text: part.total_minor === undefined ? '' : signed(part.total_minor, impact), num: true}];
	return table(t('proposed.counts-caption', {periods: periodsText(impact.periods),
		invoices: number(impact.invoices)}),
	[t('proposed.col.outcome'), {text: t('proposed.col.count'), num: true},
		{text: t('proposed.col.in-all'), num: true}],
	[row('more', impact.more), row('less', impact.less), row('same', impact.same)], {class: 'counts'});
}

function quantilesView(impact) {
	const q = impact.difference_quantiles_minor;
	return table(t('proposed.quantiles-caption'), [t('proposed.col.quantile'),
		{text: t('proposed.col.difference'), num: true}],
	QUANTILES.map((name) => [t(`proposed.quantile.${name}`),
		{node: h('span', {'data-quantile': name, 'data-minor': String(q[name])}, signed(q[name], impact)),
			num: true}]), {class: 'quantiles'});
}

// Revenue against expenses, month by month and in all.
function revenueView(impact, name) {
	const balance = impact.repriced_revenue_minor - impact.expenses_minor;
	const row = (head, f, attrs = {}) => [head,
		{text: plain(f.revenue_minor, impact), num: true},
		{node: h('span', attrs, plain(f.repriced_revenue_minor, impact)), num: true},
		{text: plain(f.expenses_minor, impact), num: true}];
	const rows = (impact.by_period || []).map((f) => row(shortPeriod(f.period), f));
	rows.push(row(h('strong', {}, t('proposed.in-all')), impact, {class: 'repriced-revenue',
		'data-minor': String(impact.repriced_revenue_minor)}));
	return [
		table(t('proposed.revenue-caption', {name, periods: periodsText(impact.periods)}),
			[t('proposed.col.period'), {text: t('proposed.revenue'), num: true},
				{text: t('proposed.col.under'), num: true}, {text: t('proposed.expenses'), num: true}],
			rows, {class: 'revenue'}),
		h('p', {class: 'balance-note'}, t(balance >= 0 ? 'proposed.covers' : 'proposed.short',
			{name, amount: plain(Math.abs(balance), impact)})),
	];
}

async function impactView(ctx, tariff) {
	let impact;
	try {
		impact = await ctx.load(`/api/v1/tariffs/${tariff.id}/impact`);
	} catch (error) {
		if (error.status === 404)
			return h('p', {class: 'notice unavailable'}, t('proposed.impact-unavailable'));
		if (error.type === 'urn:coopbill:problem:no-closed-period')
			return h('p', {class: 'notice'}, t('proposed.no-closed'));
		throw error;
	}
	return [
		h('h4', {}, t('proposed.mine-title')),
		mineView(impact, tariff.name),
		h('h4', {}, t('proposed.all-title')),
		h('p', {class: 'help'}, t('proposed.all-intro')),
		countsView(impact),
		quantilesView(impact),
		...revenueView(impact, tariff.name),
	];
}

function change(ctx, tariff, status) {
	const terms = h('div', {class: 'change-terms'});
	const impact = h('div', {class: 'impact', 'aria-live': 'polite'});
	const id = `change-${tariff.id}`;
	const article = h('article', {class: `change ${status}`, 'data-tariff': String(tariff.id),
		'aria-labelledby': id}, [
		h('h3', {id}, [tariff.name, ' ', h('span', {class: `badge ${status}`}, t(`proposed.badge.${status}`))]),
		h('p', {class: 'when'}, t(`proposed.when.${status}`, {date: calendarDate(tariff.valid_from)})),
		tariff.proposed_at ? h('p', {class: 'help'}, t('proposed.since', {date: date(tariff.proposed_at)})) : null,
		terms,
		impact,
	]);
	fillFrom(ctx, terms, async () => {
		const label = status === 'upcoming' ? await loadLabel(ctx, tariff.id) : null;
		if (label)
			return labelDocument(ctx, label, 4);
		return [h('h4', {}, t('proposed.terms')), tariffTerms(tariff.document)];
	});
	fillFrom(ctx, impact, () => impactView(ctx, tariff));
	return article;
}

export function renderProposed(ctx) {
	const {el, body} = section('proposed', 'proposed.title', t('proposed.intro'));
	fillFrom(ctx, body, async () => {
		const [published, proposed] = await Promise.all([
			ctx.load('/api/v1/tariffs', {auth: false}),
			loadProposed(ctx),
		]);
		const day = today();
		const byDate = (a, b) => (a.valid_from < b.valid_from ? -1 : a.valid_from > b.valid_from ? 1 : a.id - b.id);
		const changes = [
			...[...proposed.tariffs].sort(byDate).map((x) => change(ctx, x, 'proposed')),
			...published.tariffs.filter((x) => x.valid_from > day).sort(byDate).map((x) => change(ctx, x, 'upcoming')),
		];
		return [
			proposed.unavailable ? h('p', {class: 'notice unavailable'}, t('proposed.unavailable')) : null,
			...(changes.length ? changes : [h('p', {}, t('proposed.none'))]),
		];
	});
	return el;
}
