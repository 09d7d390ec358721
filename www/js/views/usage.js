// Usage: download and upload per day in this billing period and the one
// before, per hour on a chosen day, the meter's gaps with their reasons, the
// totals, and every figure again in tables for screen readers.

import {h, uid} from '../dom.js';
import {t, bytes, dateTime, dayNumber, hour, period, timeZone, date} from '../i18n.js';
import {localDay, localMidnight, periodOf, rfc3339} from '../zone.js';
import {barChart, pointIndex} from './chart.js';
import {section, fillFrom, table} from './common.js';

const SERIES = [{key: 'bytes_down', cls: 'down'}, {key: 'bytes_up', cls: 'up'}];

function usagePath(ctx, from, to, step) {
	return `/api/v1/households/${ctx.household.id}/usage?from=${encodeURIComponent(rfc3339(from))}` +
		`&to=${encodeURIComponent(rfc3339(to))}&step=${step}`;
}

function hasLocal(usage) {
	return usage.total.local_up > 0 || usage.total.local_down > 0;
}

function figure(value) {
	return h('span', {class: 'figure', 'data-bytes': String(value)}, bytes(value));
}

function totals(usage, label, id) {
	const items = [
		['usage.download', usage.total.bytes_down, 'down'],
		['usage.upload', usage.total.bytes_up, 'up'],
	];
	if (hasLocal(usage)) {
		items.push(['usage.local-down', usage.total.local_down, 'local-down'],
			['usage.local-up', usage.total.local_up, 'local-up']);
	}
	return h('dl', {class: 'totals', id, 'aria-label': label},
		items.flatMap(([key, value, cls]) => [
			h('dt', {class: cls}, t(key)),
			h('dd', {'data-total': cls}, figure(value)),
		]));
}

function gapText(gap) {
	return t('usage.gap', {
		at: dateTime(gap.at),
		counter: t(`usage.counter.${gap.scope}-${gap.direction}`),
		reason: t(`usage.reason.${gap.reason}`),
		since: gap.since ? dateTime(gap.since) : t('usage.since-unknown'),
		after: bytes(gap.bytes_after),
	});
}

function gapList(gaps) {
	if (!gaps.length)
		return null;
	return h('div', {class: 'gaps'}, [
		h('h4', {}, t('usage.gaps')),
		h('ul', {}, gaps.map((gap) => h('li', {class: 'gap'}, [
			h('span', {class: 'gap-icon', 'aria-hidden': 'true'}, '▼ '),
			gapText(gap), ' ',
			h('span', {class: 'gap-detail'}, t('usage.gap-detail', {detail: gap.detail})),
		]))),
	]);
}

function seriesTable(usage, caption, labelOf) {
	const local = hasLocal(usage);
	const headers = [t('usage.col.when'), {text: t('usage.download'), num: true},
		{text: t('usage.upload'), num: true}];
	if (local)
		headers.push({text: t('usage.local-down'), num: true}, {text: t('usage.local-up'), num: true});
	headers.push(t('usage.col.source'));
	const rows = usage.series.map((p) => {
		const row = [labelOf(p), {text: bytes(p.bytes_down), num: true},
			{text: bytes(p.bytes_up), num: true}];
		if (local)
			row.push({text: bytes(p.local_down), num: true}, {text: bytes(p.local_up), num: true});
		row.push(p.imported ? t('usage.imported') : t('usage.metered'));
		return row;
	});
	const row = [t('usage.total'), {text: bytes(usage.total.bytes_down), num: true},
		{text: bytes(usage.total.bytes_up), num: true}];
	if (local)
		row.push({text: bytes(usage.total.local_down), num: true}, {text: bytes(usage.total.local_up), num: true});
	row.push('');
	rows.push(row);
	return table(caption, headers, rows, {class: 'figures'});
}

// The figures' table is always there for screen readers; a button shows it.
function tableToggle(tableNode) {
	tableNode.classList.add('sr-only');
	const button = h('button', {type: 'button', class: 'link', 'aria-expanded': 'false',
		onclick: () => {
			const shown = tableNode.classList.toggle('sr-only') === false;
			button.setAttribute('aria-expanded', String(shown));
			button.textContent = t(shown ? 'usage.hide-table' : 'usage.show-table');
		}}, t('usage.show-table'));
	return h('div', {class: 'table-toggle'}, [button, tableNode]);
}

function legend(gaps) {
	return h('ul', {class: 'legend', 'aria-hidden': 'true'}, [
		h('li', {class: 'down'}, t('usage.download')),
		h('li', {class: 'up'}, t('usage.upload')),
		gaps ? h('li', {class: 'gap-key'}, t('usage.gap-key')) : null,
	]);
}

function periodBlock(ctx, usage, key, label, max, width, onPick) {
	const id = uid('period');
	const marks = usage.gaps.map((gap) => ({at: pointIndex(usage.series, usage.to, gap.at), text: gapText(gap)}))
		.filter((m) => m.at !== null);
	return h('div', {class: 'period-usage', 'data-period': key, 'aria-labelledby': `${id}-h`,
		role: 'group'}, [
		h('h3', {id: `${id}-h`}, label),
		totals(usage, label, `${id}-totals`),
		h('div', {class: 'chart-box'}, barChart({
			points: usage.series, series: SERIES, max, width,
			label: (p) => dayNumber(p.start),
			labelEvery: width < 500 ? 7 : 3,
			marks, onPick,
			pickLabel: (i) => t('usage.pick-day', {day: date(usage.series[i].start)}),
		})),
		gapList(usage.gaps),
		tableToggle(seriesTable(usage, t('usage.table-days', {period: label}), (p) => date(p.start))),
	]);
}

function hourBlock(ctx, container, day, width) {
	const zone = timeZone();
	const from = localMidnight(day.year, day.month, day.day, zone);
	const to = localMidnight(day.year, day.month, day.day + 1, zone);
	const label = date(from);
	fillFrom(ctx, container, async () => {
		const usage = await ctx.load(usagePath(ctx, from, to, 'hour'));
		const max = Math.max(...usage.series.map((p) => Math.max(p.bytes_down, p.bytes_up)), 0);
		const marks = usage.gaps.map((gap) => ({at: pointIndex(usage.series, usage.to, gap.at),
			text: gapText(gap)})).filter((m) => m.at !== null);
		return [
			h('h4', {}, t('usage.hours-of', {day: label})),
			totals(usage, t('usage.hours-of', {day: label}), 'hour-totals'),
			h('div', {class: 'chart-box'}, barChart({points: usage.series, series: SERIES, max, width,
				label: (p) => hour(p.start).slice(0, 2), labelEvery: width < 500 ? 6 : 3, marks})),
			gapList(usage.gaps),
			tableToggle(seriesTable(usage, t('usage.table-hours', {day: label}), (p) => hour(p.start))),
		];
	});
}

export function renderUsage(ctx) {
	const {el, body} = section('usage', 'usage.title', t('usage.intro'));
	fillFrom(ctx, body, async () => {
		const zone = timeZone();
		const now = new Date();
		const current = periodOf(now, zone, 0);
		const previous = periodOf(now, zone, 1);
		const [cur, prev] = await Promise.all([
			ctx.load(usagePath(ctx, current.start, current.end, 'day')),
			ctx.load(usagePath(ctx, previous.start, previous.end, 'day')),
		]);
		const max = Math.max(...[...cur.series, ...prev.series].map((p) => Math.max(p.bytes_down, p.bytes_up)), 0);
		const width = Math.min(body.clientWidth || 600, 900);

		// Days to pick from: those of both periods up to today.
		const days = [...prev.series, ...cur.series].filter((p) => new Date(p.start) <= now);
		// The day whose hours are shown first: the last one with traffic.
		const busy = days.filter((p) => p.bytes_down + p.bytes_up + p.local_down + p.local_up > 0).pop();
		const today = localDay(busy ? new Date(new Date(busy.start).getTime() + 12 * 3600 * 1000) : now, zone);
		const hoursBox = h('div', {class: 'hours', 'aria-live': 'polite'});
		const selectId = 'usage-day';
		const select = h('select', {id: selectId, onchange: () => pick(select.value)},
			days.map((p) => {
				const d = localDay(new Date(new Date(p.start).getTime() + 12 * 3600 * 1000), zone);
				const value = `${d.year}-${d.month}-${d.day}`;
				return h('option', {value, selected: d.year === today.year && d.month === today.month &&
					d.day === today.day}, date(p.start));
			}).reverse());
		function pick(value) {
			const [year, month, day] = value.split('-').map(Number);
			select.value = value;
			hourBlock(ctx, hoursBox, {year, month, day}, width);
		}
		const pickFrom = (series) => (i) => {
			const d = localDay(new Date(new Date(series[i].start).getTime() + 12 * 3600 * 1000), zone);
			if (new Date(series[i].start) <= now) {
				pick(`${d.year}-${d.month}-${d.day}`);
				select.focus();
			}
		};
		pick(select.value);
		return [
			legend(cur.gaps.length + prev.gaps.length > 0),
			periodBlock(ctx, cur, current.label, t('usage.current', {period: period(current.label)}), max, width,
				pickFrom(cur.series)),
			periodBlock(ctx, prev, previous.label, t('usage.previous', {period: period(previous.label)}), max, width,
				pickFrom(prev.series)),
			h('div', {class: 'day-pick'}, [h('label', {for: selectId}, t('usage.pick-label')), select]),
			hoursBox,
		];
	});
	return el;
}
