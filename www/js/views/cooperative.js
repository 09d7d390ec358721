// The cooperative: its published tariffs (the one in force and those coming,
// with the day each takes effect) and a period's figures, with how its
// costs were shared.

import {h} from '../dom.js';
import {t, money, bytes, number, percent, period, calendarDate, timeZone} from '../i18n.js';
import {periodOf} from '../zone.js';
import {section, fillFrom, table} from './common.js';

function price(minor, currency) {
	return t('tariff.per-gb', {price: money(minor, currency)});
}

function charge(c, currency) {
	const parts = [];
	const windows = (c.windows || []).map((w) => t('tariff.window', {
		days: w.days.map((d) => t(`day.${d}`)).join(', '), from: w.from, to: w.to}));
	if (windows.length)
		parts.push(windows.join('; '));
	if (c.allowance_gb)
		parts.push(t('tariff.allowance', {gb: number(c.allowance_gb)}));
	// The allowance comes first: the first tier starts where it ends.
	let below = c.allowance_gb || 0;
	for (const tier of c.tiers || []) {
		parts.push(tier.up_to_gb !== undefined
			? t('tariff.tier-upto', {from: number(below), to: number(tier.up_to_gb), price: price(tier.price_per_gb_minor, currency)})
			: t(below ? 'tariff.tier-beyond' : 'tariff.tier-all', {from: number(below), price: price(tier.price_per_gb_minor, currency)}));
		below = tier.up_to_gb ?? below;
	}
	return h('li', {}, [h('strong', {}, c.name), ' ',
		`(${t(`tariff.direction.${c.direction}`)}${c.scope === 'local' ? `, ${t('tariff.local')}` : ''}): `,
		parts.join('; ')]);
}

// A tariff document's terms, one list item each: the fee, each usage charge
// (direction, windows, allowance, tiers), minimum, cap, cost sharing, tax.
// The price label shows the same list.
export function tariffTerms(doc) {
	const items = [];
	if (doc.fixed_fee)
		items.push(h('li', {}, [h('strong', {}, doc.fixed_fee.description || t('tariff.fixed')), ': ',
			t(doc.fixed_fee.prorate ? 'tariff.fixed-prorated' : 'tariff.fixed-whole',
				{amount: money(doc.fixed_fee.amount_minor, doc.currency)})]));
	for (const c of doc.usage_charges || [])
		items.push(charge(c, doc.currency));
	if (doc.minimum_minor !== undefined)
		items.push(h('li', {}, t('tariff.minimum', {amount: money(doc.minimum_minor, doc.currency)})));
	if (doc.cap_minor !== undefined)
		items.push(h('li', {}, t('tariff.cap', {amount: money(doc.cap_minor, doc.currency)})));
	if (doc.cost_sharing)
		items.push(h('li', {}, t('tariff.sharing', {categories: doc.cost_sharing.categories.join(', '),
			equal: percent(doc.cost_sharing.equal_bp), usage: percent(10000 - doc.cost_sharing.equal_bp),
			direction: t(`tariff.direction.${doc.cost_sharing.direction || 'down'}`)})));
	if (doc.tax)
		items.push(h('li', {}, t(doc.tax.included ? 'tariff.tax-included' : 'tariff.tax-added',
			{rate: percent(doc.tax.rate_bp)})));
	return h('ul', {class: 'tariff-parts'}, items);
}

function tariffCard(tariff, status) {
	const doc = tariff.document;
	return h('article', {class: `tariff ${status}`, 'data-tariff': String(tariff.id),
		'aria-labelledby': `tariff-${tariff.id}`}, [
		h('h4', {id: `tariff-${tariff.id}`}, [tariff.name, ' ',
			h('span', {class: `badge ${status}`}, t(`tariff.${status}`))]),
		h('p', {class: 'when'}, t(status === 'upcoming' ? 'tariff.from-upcoming' : 'tariff.from-current',
			{date: calendarDate(tariff.valid_from)})),
		doc.emergency ? h('p', {class: 'emergency'}, t('tariff.emergency', {reason: doc.emergency.reason})) : null,
		tariffTerms(doc),
		h('p', {class: 'hash'}, [t('tariff.hash', {id: tariff.id, index: tariff.log_index}), ' ',
			h('code', {}, tariff.sha256)]),
	]);
}

// The published tariff in force on a day (YYYY-MM-DD): the latest
// valid_from on or before it, of two the one published last.
export function tariffInForce(list, day) {
	return list.filter((x) => x.valid_from <= day)
		.sort((a, b) => (a.valid_from === b.valid_from ? (a.published_at < b.published_at ? -1 : 1)
			: a.valid_from < b.valid_from ? -1 : 1)).pop();
}

function tariffs(list, firstDay) {
	const inForce = tariffInForce(list, firstDay);
	const upcoming = list.filter((x) => x.valid_from > firstDay)
		.sort((a, b) => (a.valid_from < b.valid_from ? -1 : 1));
	const nodes = [];
	nodes.push(inForce ? tariffCard(inForce, 'current') : h('p', {}, t('tariff.none')));
	for (const x of upcoming)
		nodes.push(tariffCard(x, 'upcoming'));
	if (!upcoming.length)
		nodes.push(h('p', {class: 'help'}, t('tariff.no-upcoming')));
	return nodes;
}

function summaryView(s) {
	const c = s.currency;
	const kinds = Object.entries(s.revenue_by_kind_minor).map(([kind, minor]) =>
		[t(`kind.${kind}`), {text: money(minor, c), num: true}]);
	kinds.push([h('strong', {}, t('summary.revenue')), {node: h('strong', {}, money(s.revenue_minor, c)), num: true}]);
	const expenses = Object.entries(s.expenses_by_category_minor).map(([cat, minor]) =>
		[cat, {text: money(minor, c), num: true}]);
	expenses.push([h('strong', {}, t('summary.expenses')), {node: h('strong', {}, money(s.expenses_minor, c)), num: true}]);
	return [
		h('p', {}, t(s.status === 'closed' ? 'summary.closed' : 'summary.open', {period: period(s.period),
			households: number(s.households_billed), down: bytes(s.bytes_down), up: bytes(s.bytes_up)})),
		table(t('summary.revenue-caption', {period: period(s.period)}),
			[t('summary.col.kind'), {text: t('summary.col.amount'), num: true}], kinds),
		table(t('summary.expenses-caption', {period: period(s.period)}),
			[t('summary.col.category'), {text: t('summary.col.amount'), num: true}], expenses),
		...s.cost_sharing.map((cs) => h('p', {class: 'sharing'}, t('summary.sharing', {
			categories: cs.categories.join(', '), pool: money(cs.pool_minor, c),
			equal: money(cs.equal_pool_minor, c), households: number(cs.households),
			each: money(cs.equal_part_per_household_minor, c), usage: money(cs.usage_pool_minor, c),
			traffic: bytes(cs.total_usage_bytes), direction: t(`tariff.direction.${cs.direction}`),
			gb: money(cs.price_per_gb_minor, c)}))),
	];
}

export function renderCooperative(ctx) {
	const {el, body} = section('cooperative', 'coop.title');
	const tariffBox = h('div', {});
	const summaryBox = h('div', {'aria-live': 'polite'});
	const now = new Date();
	const current = periodOf(now, timeZone(), 0);
	const previous = periodOf(now, timeZone(), 1);
	const select = h('select', {id: 'summary-period', onchange: () => showSummary(select.value)}, [
		h('option', {value: previous.label, selected: true}, period(previous.label)),
		h('option', {value: current.label}, t('summary.so-far', {period: period(current.label)})),
	]);
	function showSummary(label) {
		fillFrom(ctx, summaryBox, async () => summaryView(await ctx.load(`/api/v1/periods/${label}/summary`)));
	}
	body.append(
		h('h3', {}, t('coop.tariffs')),
		tariffBox,
		h('h3', {}, t('coop.summary')),
		h('div', {class: 'day-pick'}, [h('label', {for: 'summary-period'}, t('summary.pick')), select]),
		summaryBox,
	);
	fillFrom(ctx, tariffBox, async () => tariffs((await ctx.load('/api/v1/tariffs', {auth: false})).tariffs,
		`${current.label}-01`));
	showSummary(previous.label);
	return el;
}
