// The checks of the page's cryptography, run in the browser by crypto.py:
// it passes the vectors and the daemon's real log answers to
// window.cryptoChecks and reads back one result per check.
import { sha256, sha256Backend, sha256Sync } from "./js/crypto/sha256.js";
import { ed25519Backend, ed25519Verify, ed25519VerifySync, sha512Sync } from "./js/crypto/ed25519.js";
import { hashEqual, leafHash, verifyConsistency, verifyInclusion } from "./js/crypto/merkle.js";
import {
	base64Decode,
	openNote,
	parseVerifierKey,
	verifyCheckpoint,
} from "./js/crypto/note.js";

const unhex = (text) => Uint8Array.from(text.match(/../g) ?? [], (byte) => parseInt(byte, 16));
const hex = (bytes) => Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
const encoder = new TextEncoder();

function flipped(bytes, at) {
	const copy = bytes.slice();
	copy[at] ^= 0x01;
	return copy;
}

// Whether a promise of a note check throws, and with what message.
async function refusal(promise) {
	try {
		await promise;
		return null;
	} catch (error) {
		return error.message || String(error);
	}
}

async function run(input) {
	const results = [];
	const check = (name, ok, detail = "") => results.push({ name, ok: Boolean(ok), detail });
	const started = performance.now();

	// SHA-256: both implementations against the expected digests.
	let bad = [];
	for (const [message, digest] of input.sha256) {
		if (hex(sha256Sync(unhex(message))) !== digest)
			bad.push("sync " + message.slice(0, 16) + "… (" + message.length / 2 + " bytes)");
		if (hex(await sha256(unhex(message))) !== digest)
			bad.push("async " + message.slice(0, 16) + "… (" + message.length / 2 + " bytes)");
	}
	check(`SHA-256: ${input.sha256.length} vectors (NIST, empty, every length to 200 bytes)`,
		bad.length === 0, bad.join(", "));
	const million = new Uint8Array(input.sha256Million.length).fill(input.sha256Million.byte);
	check("SHA-256 of one million 'a' (FIPS 180-2)",
		hex(sha256Sync(million)) === input.sha256Million.digest &&
		hex(await sha256(million)) === input.sha256Million.digest);

	bad = input.sha512.filter(([message, digest]) => hex(sha512Sync(unhex(message))) !== digest);
	check(`SHA-512: ${input.sha512.length} vectors`, bad.length === 0,
		bad.map(([message]) => message.length / 2 + " bytes").join(", "));

	// Ed25519: RFC 8032 §7.1, on the path this context uses and on the JS one.
	for (const vector of input.ed25519) {
		const key = unhex(vector.public_key);
		const message = unhex(vector.message);
		const signature = unhex(vector.signature);
		const longer = new Uint8Array([...message, 0]);
		const wrong = [];
		for (const [what, verify] of [["", ed25519Verify], ["JS ", ed25519VerifySync]]) {
			if (!(await verify(key, message, signature)))
				wrong.push(what + "valid signature refused");
			if (message.length > 0 && (await verify(key, flipped(message, 0), signature)))
				wrong.push(what + "flipped message bit accepted");
			if (await verify(key, longer, signature))
				wrong.push(what + "longer message accepted");
			for (const at of [0, 31, 32, 63])
				if (await verify(key, message, flipped(signature, at)))
					wrong.push(what + `flipped signature byte ${at} accepted`);
			for (const at of [0, 31])
				if (await verify(flipped(key, at), message, signature))
					wrong.push(what + `flipped key byte ${at} accepted`);
		}
		check(`Ed25519 RFC 8032 ${vector.name} (${message.length} bytes): verifies, ` +
			"and not after a bit flipped in message, signature or key",
			wrong.length === 0, wrong.join(", "));
	}

	// Edge cases, expected as libsodium decides them.
	bad = [];
	for (const vector of input.ed25519Edge) {
		const args = [unhex(vector.public_key), unhex(vector.message), unhex(vector.signature)];
		const answers = [await ed25519Verify(...args), ed25519VerifySync(...args)];
		if (answers.some((answer) => answer !== vector.expect))
			bad.push(`${vector.name}: ${answers} (want ${vector.expect})`);
	}
	check(`Ed25519 edge cases as libsodium decides them: ${input.ed25519Edge.map((v) => v.name)
		.join("; ")}`, bad.length === 0, bad.join(", "));

	// RFC 6962 inclusion and consistency vectors.
	const counts = { inclusion: 0, consistency: 0, accepted: 0 };
	bad = [];
	// As in tests/unit/test_tlog.c: a root of another length than 32 bytes
	// stands for a hash that is none of the tree's ("don't care"), and an
	// empty proof is null.
	const root = (text) => {
		const bytes = base64Decode(text ?? "");
		return bytes && bytes.length !== 32
			? sha256Sync(new Uint8Array([...encoder.encode("placeholder"), ...bytes]))
			: bytes;
	};
	const hashes = (list) => (list === null ? [] : Array.isArray(list) ? list.map(base64Decode) : list);
	for (const { path, vector } of input.merkle) {
		let verdict;
		if (path.includes("/inclusion/")) {
			counts.inclusion++;
			verdict = await verifyInclusion(vector.leafIdx, vector.treeSize,
				base64Decode(vector.leafHash ?? ""), hashes(vector.proof),
				root(vector.root));
		} else {
			counts.consistency++;
			verdict = await verifyConsistency(vector.size1, vector.size2,
				root(vector.root1), root(vector.root2),
				hashes(vector.proof));
		}
		if (verdict.ok)
			counts.accepted++;
		if (verdict.ok === vector.wantErr)
			bad.push(`${path}: ${verdict.ok ? "accepted" : verdict.reason}`);
	}
	check(`RFC 6962 vectors: ${counts.inclusion} inclusion and ${counts.consistency} consistency,` +
		` ${counts.accepted} to accept and the others refused`, bad.length === 0, bad.join("\n"));

	// The C2SP signed-note example.
	const note = input.note;
	const opened = await refusal(openNote(note.note, note.key));
	check("C2SP signed-note example verifies", opened === null, opened ?? "");
	check("the signed note's text is its message", (await openNote(note.note, note.key)) === note.message);
	const noteChanges = [
		["message", note.note.replace("example message", "example massage")],
		["key name", note.note.replace("\u2014 example.com/foo ", "\u2014 example.com/bar ")],
		["signature", note.note.replace(/([A-Za-z0-9+/]{20})([A-Za-z0-9+/])/, (m, a, c) =>
			a + (c === "A" ? "B" : "A"))],
	];
	bad = [];
	for (const [what, changed] of noteChanges)
		if ((await refusal(openNote(changed, note.key))) === null)
			bad.push(what);
	const keyChanges = [note.key.replace("+530d903a+", "+530d903b+"), note.key.replace("foo+", "bar+")];
	for (const changed of keyChanges)
		if ((await refusal(parseVerifierKey(changed))) === null)
			bad.push("key " + changed);
	check("the signed note is refused after a change to its message, key name, key id or signature",
		bad.length === 0, bad.join(", "));

	// The daemon's log: its key, two checkpoints, inclusion and consistency.
	const log = input.log;
	const key = await parseVerifierKey(log.key);
	let newer, older;
	const error = await refusal((async () => {
		older = await verifyCheckpoint(log.checkpoints[0], key);
		newer = await verifyCheckpoint(log.checkpoints[1], log.key);
	})());
	check(`the daemon's checkpoints verify with its key (${key.name})`, error === null, error ?? "");
	check("the checkpoints' sizes and roots are read", older?.size === log.sizes[0] &&
		newer?.size === log.sizes[1] && older.rootBase64 === log.roots[0] &&
		newer.rootBase64 === log.roots[1], JSON.stringify([older, newer]));
	bad = [];
	for (let i = 0; i < log.entries.length; i++) {
		const proof = log.inclusion[i];
		const leaf = await leafHash(encoder.encode(log.entries[i]));
		if (!hashEqual(leaf, base64Decode(proof.leaf_hash)))
			bad.push(`entry ${i}: leaf hash differs from the daemon's`);
		const verdict = await verifyInclusion(proof.index, proof.size, leaf,
			proof.proof.map(base64Decode), newer.root);
		if (!verdict.ok)
			bad.push(`entry ${i}: ${verdict.reason}`);
	}
	check(`every one of the ${log.entries.length} entries is in the signed tree (inclusion proofs)`,
		bad.length === 0, bad.join(", "));
	const entry = log.inclusion[1];
	const tampered = entry.proof.map(base64Decode);
	tampered[0] = flipped(tampered[0], 5);
	let verdict = await verifyInclusion(entry.index, entry.size, base64Decode(entry.leaf_hash),
		tampered, newer.root);
	check("a tampered inclusion proof is refused, saying why",
		!verdict.ok && verdict.reason === "the proof does not lead to the signed root", verdict.reason);
	const changedEntry = await leafHash(encoder.encode(log.entries[1].replace("active", "closed")));
	verdict = await verifyInclusion(entry.index, entry.size, changedEntry,
		entry.proof.map(base64Decode), newer.root);
	check("a changed entry is not in the signed tree", !verdict.ok, verdict.reason ?? "");
	const consistency = log.consistency;
	verdict = await verifyConsistency(consistency.from, consistency.to, older.root, newer.root,
		consistency.proof.map(base64Decode));
	check(`the log of ${consistency.to} extends the log of ${consistency.from} (consistency proof)`,
		verdict.ok, verdict.reason ?? "");
	verdict = await verifyConsistency(consistency.from, consistency.to,
		flipped(older.root, 0), newer.root, consistency.proof.map(base64Decode));
	check("a different earlier root is refused", !verdict.ok, verdict.reason ?? "");

	const wrongKey = await refusal(verifyCheckpoint(log.checkpoints[1], note.key));
	check("the checkpoint is refused with another key", wrongKey !== null &&
		wrongKey.includes("no signature by the key example.com/foo+530d903a"), wrongKey ?? "");
	const forged = log.checkpoints[1].replace(/\n[0-9]+\n/, `\n${log.sizes[1] + 1}\n`);
	const forgery = await refusal(verifyCheckpoint(forged, log.key));
	check("a checkpoint whose size was changed is refused", forgery !== null &&
		forgery.includes("does not verify"), forgery ?? "");

	// Shown on the page too, for the screenshot.
	document.getElementById("results").textContent =
		`isSecureContext ${globalThis.isSecureContext}, SHA-256 ${sha256Backend()}, ` +
		`Ed25519 ${await ed25519Backend()}\n` +
		results.map((result) => `${result.ok ? "ok" : "FAILED"} ${result.name}`).join("\n");
	return {
		secure: globalThis.isSecureContext,
		sha256Backend: sha256Backend(),
		ed25519Backend: await ed25519Backend(),
		ms: Math.round(performance.now() - started),
		merkleCounts: counts,
		results,
	};
}

window.cryptoChecks = run;
document.getElementById("results").textContent = "ready";
document.documentElement.dataset.ready = "yes";
