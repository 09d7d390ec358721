// Checking an invoice in the browser against the cooperative's transparency
// log: the checkpoint's Ed25519 signature with the key pinned on this device,
// the invoice entry's inclusion proof against the signed root, the document's
// SHA-256 against the entry, and the new checkpoint's consistency with the
// last one this device saw. The cryptography is in crypto/ and is loaded
// only when an invoice is checked.

import {get} from './api.js';

const KEY_PIN = 'coopbill.log-key';
const LAST_CHECKPOINT = 'coopbill.checkpoint';

let crypto = null;
async function loadCrypto() {
	if (!crypto) {
		const [sha, merkle, note] = await Promise.all([
			import('./crypto/sha256.js'), import('./crypto/merkle.js'), import('./crypto/note.js'),
		]);
		crypto = {sha, merkle, note};
	}
	return crypto;
}

function readJson(key) {
	try {
		return JSON.parse(localStorage.getItem(key) || 'null');
	} catch (error) {
		return null;
	}
}

// Trust on first use: the first key seen is pinned with the time it was seen.
export function pinnedKey() {
	return readJson(KEY_PIN);
}

export function pinKey(line) {
	localStorage.setItem(KEY_PIN, JSON.stringify({line, since: new Date().toISOString()}));
	localStorage.removeItem(LAST_CHECKPOINT);
}

function hex(bytes) {
	return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

const utf8 = (text) => new TextEncoder().encode(text);

// An entry's lines after the type line are "key value".
function parseEntry(text) {
	const lines = text.split('\n');
	const fields = {type: lines[0]};
	for (const line of lines.slice(1)) {
		const space = line.indexOf(' ');
		if (space > 0)
			fields[line.slice(0, space)] = line.slice(space + 1);
	}
	return fields;
}

// The key served now, and the pinned one (the served one, when this device
// has pinned none yet).
async function keyOfLog() {
	const servedKey = (await get('/api/v1/log/key', {as: 'text', auth: false})).trim();
	let pin = pinnedKey();
	if (!pin) {
		pinKey(servedKey);
		pin = pinnedKey();
	}
	return {pin, servedKey, keyChanged: pin.line !== servedKey};
}

// Strings escaped as jansson escapes them: the quote, the backslash and
// control characters (these as \u with upper-case hex), nothing else.
const ESCAPES = {'"': '\\"', '\\': '\\\\', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r',
	'\t': '\\t'};
function jsonString(text) {
	return `"${text.replace(/["\\\u0000-\u001f]/g, (c) => ESCAPES[c] ??
		`\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`)}"`;
}

// A signed document's canonical text, as the daemon writes it (JSON with its
// keys sorted and no white space): what its SHA-256 and signature are over.
// Signed documents hold integers, strings, booleans, objects and arrays.
export function canonicalJson(value) {
	if (Array.isArray(value))
		return `[${value.map(canonicalJson).join(',')}]`;
	if (value !== null && typeof value === 'object')
		return `{${Object.keys(value).sort().map((key) =>
			`${jsonString(key)}:${canonicalJson(value[key])}`).join(',')}}`;
	return typeof value === 'string' ? jsonString(value) : JSON.stringify(value);
}

function merkleResult(value) {
	if (value === true || value?.ok === true)
		return {ok: true};
	return {ok: false, reason: value?.reason || ''};
}

// The outcome: {ok, checks: [{name, ok, reason, ...}], keyLine, servedKey,
// keyChanged, pinnedSince, size, index}. Every check that can be made is made,
// so that the member sees each that failed.
export async function verifyInvoice(invoice) {
	const {sha, merkle, note} = await loadCrypto();
	const checks = [];
	const check = (name, ok, extra = {}) => {
		checks.push({name, ok, ...extra});
		return ok;
	};
	const {pin, servedKey, keyChanged} = await keyOfLog();
	check('key', !keyChanged);

	const checkpointText = await get('/api/v1/log/checkpoint', {as: 'text', auth: false});
	let checkpoint;
	let signed;
	try {
		checkpoint = await note.verifyCheckpoint(checkpointText, await note.parseVerifierKey(pin.line));
		signed = {ok: true};
	} catch (error) {
		signed = {ok: false, reason: error.message};
		// The other checks go on against the unsigned text, to say what else is wrong.
		checkpoint = note.parseCheckpoint(checkpointText.slice(0, checkpointText.indexOf('\n\n') + 1));
	}
	check('signature', signed.ok, {reason: signed.reason});
	const size = Number(checkpoint.size);
	const index = invoice.log_index;

	const entryText = await get(`/api/v1/log/entries/${index}`, {as: 'text', auth: false});
	const entry = parseEntry(entryText);
	check('entry', entry.type === 'invoice-issued' && entry.period === invoice.period &&
		entry.total_minor === String(invoice.total_minor));
	const documentHash = hex(await sha.sha256(utf8(invoice.document_text)));
	check('document', documentHash === entry.sha256, {computed: documentHash, logged: entry.sha256 || ''});

	const proof = await get(`/api/v1/log/proof/inclusion?index=${index}&size=${size}`, {auth: false});
	const leaf = await merkle.leafHash(utf8(entryText));
	let included;
	try {
		included = merkleResult(await merkle.verifyInclusion(index, size, leaf,
			proof.proof.map(note.base64Decode), checkpoint.root));
	} catch (error) {
		included = {ok: false, reason: error.message};
	}
	check('inclusion', included.ok, {reason: included.reason});

	// The last checkpoint this device saw must be a prefix of this one.
	const last = readJson(LAST_CHECKPOINT);
	let consistent = {ok: true};
	if (last && last.origin === checkpoint.origin && signed.ok) {
		const lastRoot = note.base64Decode(last.root);
		if (last.size > size) {
			consistent = {ok: false, reason: 'smaller', lastSize: last.size};
		} else if (last.size === size) {
			consistent = merkle.hashEqual(lastRoot, checkpoint.root) ? {ok: true}
				: {ok: false, reason: 'fork', lastSize: last.size};
		} else {
			const answer = await get(`/api/v1/log/proof/consistency?from=${last.size}&to=${size}`,
				{auth: false});
			try {
				consistent = merkleResult(await merkle.verifyConsistency(last.size, size, lastRoot,
					checkpoint.root, answer.proof.map(note.base64Decode)));
			} catch (error) {
				consistent = {ok: false, reason: error.message};
			}
		}
		consistent.lastSize = last.size;
	}
	check('consistency', consistent.ok, {reason: consistent.reason, lastSize: consistent.lastSize});
	if (signed.ok && consistent.ok) {
		localStorage.setItem(LAST_CHECKPOINT, JSON.stringify({origin: checkpoint.origin, size,
			root: checkpoint.rootBase64}));
	}
	return {ok: checks.every((c) => c.ok), checks, keyLine: pin.line, pinnedSince: pin.since,
		servedKey, keyChanged, size, index};
}

// Checking a tariff's price label: the SHA-256 of its canonical text is the
// one the server gives, its signature (over that text and a newline, as a
// tariff's) verifies with the pinned log key, and its log entry is its
// label-published entry. The outcome has the shape verifyInvoice's has.
export async function verifyLabel(label) {
	const {sha, note} = await loadCrypto();
	const checks = [];
	const check = (name, ok, extra = {}) => {
		checks.push({name, ok, ...extra});
		return ok;
	};
	const text = canonicalJson(label.document);
	const documentHash = hex(await sha.sha256(utf8(text)));
	check('document', documentHash === label.sha256, {computed: documentHash, logged: label.sha256});
	const {pin, servedKey, keyChanged} = await keyOfLog();
	check('key', !keyChanged);
	let signed;
	try {
		await note.openNote(`${text}\n\n${label.signature}\n`, pin.line);
		signed = {ok: true};
	} catch (error) {
		signed = {ok: false, reason: error.message};
	}
	check('signature', signed.ok, {reason: signed.reason});
	const entry = parseEntry(await get(`/api/v1/log/entries/${label.log_index}`,
		{as: 'text', auth: false}));
	check('entry', entry.type === 'label-published' && entry.tariff === String(label.tariff_id) &&
		entry.sha256 === label.sha256);
	return {ok: checks.every((c) => c.ok), checks, keyLine: pin.line, pinnedSince: pin.since,
		servedKey, keyChanged, index: label.log_index};
}
