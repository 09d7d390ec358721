// C2SP signed notes and tlog checkpoints, as the gateway writes them
// (src/tlog/note.c, checkpoint.c) and coopbill-verify checks them: the
// verifier key line "name+keyid+base64(0x01 || key)", a note's signature
// lines, and the checkpoint in a note (origin, size, root hash). Every
// function throws a NoteError whose message says what is wrong.

import { ed25519Verify } from "./ed25519.js";
import { sha256 } from "./sha256.js";

export class NoteError extends Error {}

const NAME_MAX = 255;
const NOTE_SIZE_MAX = 256 * 1024;
const NOTE_LINE_MAX = 64 * 1024;
const SIGNATURES_MAX = 100;
const TYPE_ED25519 = 0x01;
const encoder = new TextEncoder();
const bytesOf = (text) => (typeof text === "string" ? encoder.encode(text) : text);

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Strict standard base64 (RFC 4648 §4, padded, unused bits zero), so that
 * one key or hash has one spelling: a Uint8Array, or null. */
export function base64Decode(text) {
	if (typeof text !== "string" || text.length % 4 !== 0)
		return null;
	const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
	const digits = text.length - padding;
	const bytes = new Uint8Array((text.length / 4) * 3 - padding);
	let bits = 0,
		value = 0,
		at = 0;
	for (let i = 0; i < digits; i++) {
		const digit = BASE64.indexOf(text[i]);
		if (digit < 0)
			return null;
		value = (value << 6) | digit;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			bytes[at++] = (value >> bits) & 0xff;
		}
	}
	// The bits past the last byte must be zero: "AB==" and "AA==" are not both 0x00.
	return value & ((1 << bits) - 1) ? null : bytes;
}

// What the gateway's decoder refuses: invalid UTF-8 (overlong forms,
// surrogates), control characters other than newline, lines over 8 KiB.
function checkNoteBytes(bytes) {
	if (bytes.length > NOTE_SIZE_MAX)
		throw new NoteError("the note is larger than 256 KiB");
	let text;
	try {
		text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
	} catch (e) {
		throw new NoteError("the note is not valid UTF-8");
	}
	if (/[\u0000-\u0009\u000b-\u001f]/.test(text))
		throw new NoteError("the note has a control character");
	let lineLength = 0;
	for (const byte of bytes) {
		lineLength = byte === 0x0a ? 0 : lineLength + 1;
		if (lineLength > NOTE_LINE_MAX)
			throw new NoteError("the note has a line longer than 65536 bytes");
	}
	return text;
}

// Key names: non-empty UTF-8 without white space, '+' or control characters.
const keyNameValid = (name) =>
	name.length > 0 && encoder.encode(name).length <= NAME_MAX &&
	!/[\s+\u0000-\u001f\u0085]/u.test(name);

async function keyId(name, publicKey) {
	const hashed = new Uint8Array([...encoder.encode(name), 0x0a, TYPE_ED25519, ...publicKey]);
	const hash = await sha256(hashed);
	return ((hash[0] << 24) | (hash[1] << 16) | (hash[2] << 8) | hash[3]) >>> 0;
}

/** Parses a verifier key line (as GET /api/v1/log/key serves it, with or
 * without its newline): a Promise of {name, keyId, publicKey, text}. */
export async function parseVerifierKey(line) {
	const text = String(line).replace(/\n$/, "");
	const fields = /^([^+]*)\+([^+]*)\+(.*)$/s.exec(text);
	if (!fields)
		throw new NoteError("a key is name+keyid+key");
	const [, name, idHex, key64] = fields;
	if (!keyNameValid(name))
		throw new NoteError("the key's name is empty or has spaces, '+' or control characters");
	if (!/^[0-9a-f]{8}$/.test(idHex))
		throw new NoteError("the key's id is not 8 lowercase hex digits");
	const decoded = base64Decode(key64);
	if (!decoded || decoded.length === 0)
		throw new NoteError("the key is not base64");
	if (decoded[0] !== TYPE_ED25519)
		throw new NoteError("the key is not an Ed25519 key");
	if (decoded.length !== 33)
		throw new NoteError("the key is not 32 bytes");
	const publicKey = decoded.subarray(1);
	const id = parseInt(idHex, 16);
	if ((await keyId(name, publicKey)) !== id)
		throw new NoteError("the key's id does not match its name and key");
	return { name, keyId: id, publicKey, text };
}

const toVerifier = async (key) => (typeof key === "string" ? parseVerifierKey(key) : key);

/** Checks a signed note (text or bytes) against one key (a key line or
 * what parseVerifierKey gives): a Promise of the note's text, ending in a
 * newline. Signatures by other keys are ignored; one that claims to be by
 * this key and does not verify spoils the note, as on the gateway. */
export async function openNote(note, key) {
	const verifier = await toVerifier(key);
	const bytes = bytesOf(note);
	checkNoteBytes(bytes);
	// The signatures follow the last blank line; the text keeps its newline.
	let blank = -1;
	for (let i = bytes.length; i >= 2 && blank < 0; i--)
		if (bytes[i - 2] === 0x0a && bytes[i - 1] === 0x0a)
			blank = i - 1;
	if (blank < 0 || blank + 1 === bytes.length || bytes[bytes.length - 1] !== 0x0a)
		throw new NoteError("the note has no signature lines after a blank line");
	const text = bytes.subarray(0, blank);
	const lines = new TextDecoder().decode(bytes.subarray(blank + 1, bytes.length - 1)).split("\n");
	if (lines.length > SIGNATURES_MAX)
		throw new NoteError("the note has more than 100 signatures");

	let valid = false,
		invalid = false;
	for (const line of lines) {
		const fields = /^\u2014 ([^ ]*) (.+)$/s.exec(line);
		if (!fields || !keyNameValid(fields[1]))
			throw new NoteError("a signature line is not \u201c\u2014 name base64\u201d");
		const signature = base64Decode(fields[2]);
		if (!signature || signature.length < 5)
			throw new NoteError("a signature is not base64 of a key id and a signature");
		const id = ((signature[0] << 24) | (signature[1] << 16) | (signature[2] << 8) |
			signature[3]) >>> 0;
		// C2SP: a key is its name and id together; ignore lines matching one only.
		if (fields[1] !== verifier.name || id !== verifier.keyId)
			continue;
		if (signature.length === 68 &&
		    (await ed25519Verify(verifier.publicKey, text, signature.subarray(4))))
			valid = true;
		else
			invalid = true;
	}
	if (invalid)
		throw new NoteError(`the note has a signature by ${verifier.name} that does not ` +
			"verify: it was altered or not signed by the cooperative's key");
	if (!valid)
		throw new NoteError(`the note has no signature by the key ${verifier.name}+` +
			verifier.keyId.toString(16).padStart(8, "0"));
	return new TextDecoder().decode(text);
}

const EMPTY_TREE_ROOT = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

/** Parses a checkpoint's text (origin, size and base64 root lines, then any
 * extension lines): {origin, size, root, rootBase64, extensions}. size is a
 * number. */
export function parseCheckpoint(text) {
	const lines = /^([^\n]+)\n(0|[1-9][0-9]{0,18})\n([^\n]*)\n((?:[^\n]+\n)*)$/s.exec(text);
	if (!lines)
		throw new NoteError("the text is not a checkpoint: origin, size, root and extension lines");
	const [, origin, sizeText, rootBase64, extensions] = lines;
	const size = Number(sizeText);
	if (!Number.isSafeInteger(size))
		throw new NoteError("the checkpoint's size is beyond what this page counts");
	const root = base64Decode(rootBase64);
	if (!root || root.length !== 32)
		throw new NoteError("the checkpoint's root is not a base64 SHA-256 hash");
	if (encoder.encode(origin).length > NAME_MAX || extensions.length > 1024)
		throw new NoteError("the checkpoint's origin or extensions are too long");
	// RFC 6962 §2.1: the empty tree has one root; a signed other one is a lie.
	if (size === 0 && rootBase64 !== EMPTY_TREE_ROOT)
		throw new NoteError("the checkpoint has size 0 but not the empty tree's root");
	return { origin, size, root, rootBase64, extensions };
}

/** Verifies a signed checkpoint (as GET /api/v1/log/checkpoint serves it)
 * with a key: a Promise of parseCheckpoint's result. The checkpoint must be
 * for the log the key is named after, as coopbill-verify checks. */
export async function verifyCheckpoint(note, key) {
	const verifier = await toVerifier(key);
	const checkpoint = parseCheckpoint(await openNote(note, verifier));
	if (checkpoint.origin !== verifier.name)
		throw new NoteError(`the checkpoint is for the log "${checkpoint.origin}", ` +
			`not "${verifier.name}"`);
	return checkpoint;
}
