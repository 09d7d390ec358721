// The price label of a published tariff (GET /api/v1/tariffs/{id}/label):
// its terms and what a month costs for light, typical and heavy use, with
// where those profiles come from, checked on this device against the
// signature and the log entry the cooperative published it with. It prints
// alone, on one A4 or Letter page.

import {h, clear, uid} from '../dom.js';
import {t, money, bytes, number, date, calendarDate, period, timeZone} from '../i18n.js';
import {localDay} from '../zone.js';
import {section, fillFrom, table} from './common.js';
import {tariffTerms, tariffInForce} from './cooperative.js';
import {linesTable} from './lines.js';

const PROFILES = ['light', 'typical', 'heavy'];
const checked = new Map();

// Today in the cooperative's zone, as YYYY-MM-DD.
export function today() {
	const d = localDay(new Date(), timeZone());
	return `${d.year}-${String(d.month).padStart(2, '0')}-${String(d.day).padStart(2, '0')}`;
}

// The label, or null when the tariff has none: a tariff published before
// labels existed, or a server that does not make them (both answer 404).
export async function loadLabel(ctx, id) {
	try {
		return await ctx.load(`/api/v1/tariffs/${id}/label`, {auth: false});
	} catch (error) {
		if (error.status === 404)
			return null;
		throw error;
	}
}

// "each profile the average of 5 households" (or "5 to 7" when they differ).
function sourceText(profiles) {
	if (profiles.source !== 'period')
		return t('label.source-configuration', {period: period(profiles.period)});
	const counts = PROFILES.map((p) => profiles[p].households);
	const low = Math.min(...counts);
	const high = Math.max(...counts);
	return t('label.source-period', {period: period(profiles.period), households: number(profiles.households),
		each: low === high ? number(low) : t('label.range', {from: number(low), to: number(high)})});
}

function profileName(name, profile) {
	return [h('span', {class: 'line-name'}, t(`label.profile.${name}`)),
		profile.percentile !== undefined
			? h('span', {class: 'explain'}, t('label.percentile', {p: number(profile.percentile),
				households: number(profile.households)}))
			: null];
}

function costsTable(doc) {
	const digits = doc.exponent;
	const rows = PROFILES.map((name) => {
		const p = doc.profiles[name];
		const local = p.local_down || p.local_up
			? h('span', {class: 'explain'}, t('label.local', {down: bytes(p.local_down), up: bytes(p.local_up)}))
			: null;
		return [{node: profileName(name, p)},
			{node: [bytes(p.bytes_down), local], num: true},
			{text: bytes(p.bytes_up), num: true},
			{node: h('strong', {'data-minor': String(p.total_minor), 'data-profile': name},
				money(p.total_minor, doc.currency, {digits})), num: true}];
	});
	return table(t('label.costs-caption', {period: period(doc.profiles.period)}),
		[t('label.col.profile'), {text: t('label.col.down'), num: true},
			{text: t('label.col.up'), num: true}, {text: t('label.col.cost'), num: true}],
		rows, {class: 'label-costs'});
}

function checkText(c, result) {
	return t(`label.check.${c.ok ? 'ok' : 'fail'}.${c.name}`, {computed: c.computed || '',
		logged: c.logged || '', index: result.index});
}

function signatureView(result) {
	if (result.error)
		return h('p', {class: 'signature-status failed', 'data-verified': 'false'},
			t('label.sig.could-not', {detail: result.error}));
	const failed = result.checks.filter((c) => !c.ok);
	return [
		h('p', {class: `signature-status ${result.ok ? 'ok' : 'failed'}`, 'data-verified': String(result.ok)}, [
			h('span', {'aria-hidden': 'true'}, result.ok ? '✓ ' : '✗ '),
			result.ok ? t('label.sig.ok', {index: result.index})
				: t('label.sig.failed', {what: failed.map((c) => checkText(c, result)).join(' ')})]),
		result.ok ? null : h('p', {class: 'help no-print'}, t('label.sig.key-help')),
	];
}

async function checkSignature(ctx, label, box) {
	let result = checked.get(label.sha256);
	if (!result) {
		try {
			const verify = await import('../verify.js');
			result = await verify.verifyLabel(label);
		} catch (error) {
			result = {ok: false, error: ctx.errorText(error)};
		}
		checked.set(label.sha256, result);
	}
	clear(box).append(...[].concat(signatureView(result)).filter(Boolean));
}

// The label as a document; level is the heading level of its title (the
// label section's is 3, inside a proposed change 4).
export function labelDocument(ctx, label, level = 3) {
	const doc = label.document;
	const id = uid('label-title');
	const heading = (n) => `h${Math.min(n, 6)}`;
	const signature = h('div', {class: 'signature', 'aria-live': 'polite'},
		h('p', {class: 'signature-status'}, t('label.sig.checking')));
	const notes = [];
	if (PROFILES.some((p) => doc.profiles[p].cost_share_estimated))
		notes.push(t('label.share-estimated'));
	if (PROFILES.some((p) => doc.profiles[p].invoice?.cost_share_excluded))
		notes.push(t('label.share-excluded'));
	const article = h('article', {class: 'label-doc', 'data-tariff': String(label.tariff_id),
		'aria-labelledby': id}, [
		ctx.coop.name ? h('p', {class: 'issuer-name'}, ctx.coop.name) : null,
		h(heading(level), {id, class: 'label-title'}, t('label.doc-title', {name: doc.tariff.name})),
		h('p', {class: 'label-facts'}, t('label.tariff-line', {id: doc.tariff.id,
			from: calendarDate(doc.tariff.valid_from), published: date(label.published_at)})),
		doc.emergency_reason ? h('p', {class: 'emergency'}, t('tariff.emergency', {reason: doc.emergency_reason})) : null,
		h(heading(level + 1), {}, t('label.costs')),
		h('p', {class: 'label-source'}, sourceText(doc.profiles)),
		costsTable(doc),
		...notes.map((note) => h('p', {class: 'help'}, note)),
		h('details', {class: 'no-print label-lines'}, [
			h('summary', {}, t('label.how')),
			...PROFILES.flatMap((name) => linesTable(doc.profiles[name].invoice,
				t('label.lines-caption', {profile: t(`label.profile.${name}`)}))),
		]),
		h(heading(level + 1), {}, t('label.terms')),
		tariffTerms(doc.terms),
		h('p', {class: 'label-notice'}, t('label.notice', {days: number(doc.notice_days)})),
		h(heading(level + 1), {}, t('label.signature')),
		signature,
		h('p', {class: 'hash'}, [t('label.hash', {index: label.log_index}), ' ', h('code', {}, label.sha256)]),
	]);
	checkSignature(ctx, label, signature);
	return article;
}

// The tariff the household follows: its own, else the one in force today.
function followed(ctx, list) {
	const own = list.find((x) => x.id === ctx.household.tariff_id);
	return own || tariffInForce(list, today()) || list[0];
}

export function renderLabel(ctx) {
	const {el, body} = section('label', 'label.title', t('label.intro'));
	fillFrom(ctx, body, async () => {
		const list = (await ctx.load('/api/v1/tariffs', {auth: false})).tariffs;
		if (!list.length)
			return h('p', {}, t('tariff.none'));
		const first = followed(ctx, list);
		const ordered = [first, ...list.filter((x) => x !== first)];
		const box = h('div', {class: 'label-box', 'aria-live': 'polite'});
		const select = h('select', {id: 'label-tariff', onchange: () => show(Number(select.value))},
			ordered.map((x) => h('option', {value: String(x.id)}, x === first
				? t('label.option-yours', {name: x.name, from: calendarDate(x.valid_from)})
				: t('label.option', {name: x.name, from: calendarDate(x.valid_from)}))));
		const print = h('button', {type: 'button', id: 'print-label', hidden: true, onclick: () => {
			// Printed, the page is this label alone (css/print.css) until the
			// browser says printing is over.
			document.body.classList.add('print-label');
			window.print();
		}}, t('label.print'));
		function show(id) {
			print.hidden = true;
			fillFrom(ctx, box, async () => {
				const label = await loadLabel(ctx, id);
				if (!label) {
					const tariff = list.find((x) => x.id === id);
					return h('p', {class: 'notice unavailable'}, t('label.none', {name: tariff.name}));
				}
				print.hidden = false;
				return labelDocument(ctx, label);
			});
		}
		show(first.id);
		return [
			h('div', {class: 'day-pick'}, [h('label', {for: 'label-tariff'}, t('label.pick')), select]),
			h('div', {class: 'doc-actions no-print'}, print),
			box,
		];
	});
	return el;
}

window.addEventListener('afterprint', () => document.body.classList.remove('print-label'));
