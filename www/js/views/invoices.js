// Invoices: the list, and one invoice as a document (its lines, the tariff
// it used with its hash, the household's payments and balance) that prints
// as what an accountant accepts, checked in the browser against the log.

import {h, clear} from '../dom.js';
import {t, money, date, dateTime, period, calendarDate} from '../i18n.js';
import {section, fillFrom, table} from './common.js';
import {linesTable} from './lines.js';

const verifications = new Map();

function receipt(id) {
	return `R-${String(id).padStart(6, '0')}`;
}

function ledgerTable(ledger, invoices) {
	const periodOf = new Map(invoices.map((inv) => [inv.id, inv.period]));
	const what = (e) => {
		switch (e.kind) {
		case 'invoice':
			return t('ledger.invoice', {period: period(periodOf.get(e.invoice_id) || '')});
		case 'payment':
			return t('ledger.payment', {receipt: receipt(e.id), method: e.method,
				reference: e.reference ? ` (${e.reference})` : ''});
		case 'adjustment':
			return t('ledger.adjustment', {reason: e.reason || ''});
		default:
			return t('ledger.reversal', {reason: e.reason || ''});
		}
	};
	return table(t('ledger.caption'), [t('ledger.col.date'), t('ledger.col.what'),
		{text: t('ledger.col.amount'), num: true}, {text: t('ledger.col.balance'), num: true}],
	ledger.entries.map((e) => [e.received_on ? date(`${e.received_on}T12:00:00Z`) : date(e.created_at),
		what(e), {text: money(e.amount_minor, ledger.currency), num: true},
		{text: money(e.balance_minor, ledger.currency), num: true}]), {class: 'ledger'});
}

function balanceLine(ledger) {
	const b = ledger.balance_minor;
	const key = b > 0 ? 'ledger.owes' : b < 0 ? 'ledger.ahead' : 'ledger.settled';
	return h('p', {class: 'balance', 'data-minor': String(b)},
		t(key, {amount: money(Math.abs(b), ledger.currency)}));
}

function checkText(c) {
	if (c.ok)
		return t(`verify.ok.${c.name}`);
	const params = {reason: c.reason || '', computed: c.computed || '', logged: c.logged || '',
		last: c.lastSize ?? ''};
	if (c.name === 'consistency' && (c.reason === 'smaller' || c.reason === 'fork'))
		return t(`verify.fail.consistency-${c.reason}`, params);
	return t(`verify.fail.${c.name}`, params) + (c.reason ? ` (${c.reason})` : '');
}

// The key warning goes to the top of the invoice, where it cannot be missed;
// the short verdict sits under the invoice's title, the details at the end.
function keyWarning(result, rerun) {
	return h('div', {class: 'key-warning', role: 'alert'}, [
		h('p', {class: 'warning-title'}, t('verify.key-changed.title')),
		h('p', {}, t('verify.key-changed.text')),
		h('p', {}, [t('verify.key.pinned'), ' ', h('code', {class: 'key-line'}, result.keyLine)]),
		h('p', {}, [t('verify.key.served'), ' ', h('code', {class: 'key-line served'}, result.servedKey)]),
		h('button', {type: 'button', class: 'secondary', onclick: () => rerun(result.servedKey)},
			t('verify.key-changed.trust')),
	]);
}

function verificationView(result) {
	const box = h('div', {class: `verify ${result.ok ? 'ok' : 'failed'}`, id: 'verification'});
	if (result.error) {
		box.append(h('p', {class: 'verdict', role: 'status', 'data-verified': 'false'},
			t('verify.could-not', {detail: result.error})));
		return box;
	}
	const failed = result.checks.filter((c) => !c.ok);
	box.append(
		h('p', {class: 'verdict', 'data-verified': String(result.ok)},
			result.ok ? t('verify.verified', {index: result.index, size: result.size})
				: t('verify.not-verified', {what: failed.map(checkText).join(' ')})),
		h('ul', {class: 'checks'}, result.checks.map((c) => h('li', {class: c.ok ? 'pass' : 'fail',
			'data-check': c.name}, [h('span', {class: 'mark', 'aria-hidden': 'true'}, c.ok ? '✓ ' : '✗ '),
			h('span', {class: 'sr-only'}, `${c.ok ? t('verify.passed') : t('verify.failed')} `),
			checkText(c)]))),
		h('p', {class: 'key'}, [t('verify.key.line', {since: dateTime(result.pinnedSince)}), ' ',
			h('code', {class: 'key-line', id: 'pinned-key'}, result.keyLine)]),
		h('p', {class: 'help'}, t('verify.key.compare')),
	);
	return box;
}

function shortVerdict(result) {
	const ok = result.ok && !result.error;
	return h('p', {class: `short-verdict ${ok ? 'ok' : 'failed'}`, role: 'status'}, [
		h('span', {'aria-hidden': 'true'}, ok ? '✓ ' : '✗ '),
		h('a', {href: '#verification'}, t(ok ? 'verify.short-ok' : 'verify.short-failed')),
	]);
}

// boxes: {details, top, warning}: where the outcome goes.
async function runVerification(ctx, inv, boxes, trustKey) {
	for (const box of Object.values(boxes))
		clear(box);
	boxes.top.append(h('p', {class: 'short-verdict', role: 'status'}, t('verify.running')));
	let result;
	try {
		const verify = await import('../verify.js');
		if (trustKey)
			verify.pinKey(trustKey);
		result = await verify.verifyInvoice(inv);
	} catch (error) {
		result = {ok: false, error: ctx.errorText(error)};
	}
	verifications.set(inv.id, result);
	showVerification(ctx, inv, boxes, result);
}

function showVerification(ctx, inv, boxes, result) {
	for (const box of Object.values(boxes))
		clear(box);
	if (result.keyChanged)
		boxes.warning.append(keyWarning(result, (key) => runVerification(ctx, inv, boxes, key)));
	boxes.top.append(shortVerdict(result));
	boxes.details.append(verificationView(result));
}

function invoiceDocument(ctx, inv, ledger, invoices) {
	const coop = ctx.coop;
	const doc = inv.invoice;
	const boxes = {
		details: h('div', {class: 'verify-box'}),
		top: h('div', {class: 'verify-top', 'aria-live': 'polite'}),
		warning: h('div', {class: 'no-print'}),
	};
	const article = h('article', {class: 'invoice-doc', 'aria-labelledby': 'invoice-title'}, [
		h('header', {class: 'doc-head'}, [
			h('div', {class: 'issuer'}, [
				h('p', {class: 'issuer-name'}, coop.name || ''),
				coop.address ? h('p', {class: 'issuer-address'}, coop.address) : null,
				coop.tax_id ? h('p', {class: 'issuer-tax'}, t('invoice.tax-id', {id: coop.tax_id})) : null,
			]),
			h('h3', {id: 'invoice-title', tabindex: '-1'}, t('invoice.title', {period: period(inv.period)})),
			boxes.top,
			h('dl', {class: 'doc-facts'}, [
				h('dt', {}, t('invoice.number')), h('dd', {}, String(inv.id)),
				h('dt', {}, t('invoice.issued')), h('dd', {}, date(inv.created_at)),
				h('dt', {}, t('invoice.period')), h('dd', {}, t('invoice.period-range', {
					from: date(doc.period_start_s), to: date(doc.period_end_s - 1)})),
				h('dt', {}, t('invoice.to')), h('dd', {class: 'recipient'},
					t('invoice.household', {name: ctx.household.name, id: ctx.household.id})),
			]),
		]),
		...linesTable(doc, t('invoice.lines', {period: period(inv.period)})),
		h('div', {class: 'tariff-used'}, [
			h('h4', {}, t('invoice.tariff')),
			h('p', {}, t('invoice.tariff-line', {name: inv.tariff.name, id: inv.tariff.id,
				from: calendarDate(inv.tariff.valid_from)})),
			h('p', {class: 'hash'}, [t('invoice.tariff-hash'), ' ', h('code', {}, inv.tariff.sha256)]),
		]),
		h('div', {class: 'account'}, [
			h('h4', {}, t('invoice.account')),
			ledgerTable(ledger, invoices),
			balanceLine(ledger),
		]),
		h('div', {class: 'log'}, [
			h('h4', {}, t('invoice.verification')),
			boxes.details,
		]),
	]);
	const known = verifications.get(inv.id);
	if (known)
		showVerification(ctx, inv, boxes, known);
	else
		runVerification(ctx, inv, boxes);
	return [
		boxes.warning,
		h('div', {class: 'doc-actions no-print'}, [
			h('button', {type: 'button', onclick: () => window.print()}, t('invoice.print')),
			h('button', {type: 'button', class: 'secondary', id: 'verify-again',
				onclick: () => runVerification(ctx, inv, boxes)},
				t('invoice.verify-again')),
		]),
		article,
	];
}

export function renderInvoices(ctx) {
	const {el, body} = section('invoices', 'invoices.title', t('invoices.intro'));
	const detail = h('div', {class: 'invoice-detail', id: 'invoice-detail'});
	const list = h('div', {});
	body.append(list, detail);
	const hid = ctx.household.id;

	function open(invoices, row) {
		document.body.classList.add('has-invoice');
		fillFrom(ctx, detail, async () => {
			const [inv, ledger] = await Promise.all([
				ctx.load(`/api/v1/households/${hid}/invoices/${row.period}`),
				ctx.load(`/api/v1/households/${hid}/ledger`),
			]);
			return invoiceDocument(ctx, inv, ledger, invoices);
		}).then(() => detail.querySelector('#invoice-title')?.focus());
	}

	fillFrom(ctx, list, async () => {
		const answer = await ctx.load(`/api/v1/households/${hid}/invoices`);
		const invoices = answer.invoices;
		if (!invoices.length)
			return h('p', {}, t('invoices.none'));
		const rows = [...invoices].reverse().map((row) => [
			{node: h('button', {type: 'button', class: 'link open-invoice', 'data-period': row.period,
				onclick: () => open(invoices, row)}, t('invoices.open', {period: period(row.period)}))},
			{text: money(row.total_minor, answer.currency), num: true},
			date(row.created_at),
		]);
		return table(t('invoices.caption'), [t('invoices.col.period'),
			{text: t('invoices.col.total'), num: true}, t('invoices.col.issued')], rows);
	});
	return el;
}

