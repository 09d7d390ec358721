// The log's Merkle tree (RFC 6962, RFC 9162 §2.1): leaf and node hashes,
// and the checks of inclusion and consistency proofs, step for step as
// tlog_check_record and tlog_check_tree on the gateway do them. Indexes and
// sizes are numbers (safe integers) or BigInts; hashes are Uint8Arrays of 32.

import { sha256 } from "./sha256.js";

// A proof longer than this is for a tree larger than 2^64 leaves.
const PROOF_MAX = 64;

const concat = (...parts) => {
	const bytes = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
	let at = 0;
	for (const part of parts) {
		bytes.set(part, at);
		at += part.length;
	}
	return bytes;
};

/** SHA-256(0x00 || entry): a Promise of the leaf hash; entry is bytes. */
export const leafHash = (entry) => sha256(concat(Uint8Array.of(0), entry));

/** SHA-256(0x01 || left || right): a Promise of the node hash. */
export const nodeHash = (left, right) => sha256(concat(Uint8Array.of(1), left, right));

export const hashEqual = (a, b) =>
	a instanceof Uint8Array && b instanceof Uint8Array && a.length === b.length &&
	a.every((byte, i) => byte === b[i]);

const isHash = (h) => h instanceof Uint8Array && h.length === 32;

// A count as a BigInt, or null when it is not a whole number from 0 to 2^63 - 1.
function count(n) {
	if (typeof n === "number" && Number.isSafeInteger(n) && n >= 0)
		return BigInt(n);
	if (typeof n === "bigint" && n >= 0n && n < 1n << 63n)
		return n;
	return null;
}

function checkProof(proof) {
	return Array.isArray(proof) && proof.length <= PROOF_MAX && proof.every(isHash);
}

const failed = (reason) => ({ ok: false, reason });

/** RFC 9162 §2.1.3.2: is the leaf with leafHash at index in the tree of
 * size whose root is root, by the audit path proof (leaf side first)?
 * A Promise of {ok: true} or {ok: false, reason}. */
export async function verifyInclusion(index, size, leaf, proof, root) {
	let fn = count(index);
	let sn = count(size);
	if (fn === null || sn === null || sn < 1n || fn >= sn)
		return failed("the index is not inside the tree");
	if (!isHash(leaf) || !isHash(root) || !checkProof(proof))
		return failed("the proof is malformed");
	// fn is the node's index on its level, sn the last index on that level.
	sn -= 1n;
	let hash = leaf;
	for (const sibling of proof) {
		if (sn === 0n)
			return failed("the proof is longer than the tree is high");
		if (fn & 1n || fn === sn) {
			hash = await nodeHash(sibling, hash);
			// A last node without a right sibling moves up unchanged.
			while (!(fn & 1n) && fn !== 0n) {
				fn >>= 1n;
				sn >>= 1n;
			}
		} else {
			hash = await nodeHash(hash, sibling);
		}
		fn >>= 1n;
		sn >>= 1n;
	}
	if (sn !== 0n)
		return failed("the proof is shorter than the tree is high");
	if (!hashEqual(hash, root))
		return failed("the proof does not lead to the signed root");
	return { ok: true };
}

/** RFC 9162 §2.1.4.2: is the tree of size1 with root1 a prefix of the tree
 * of size2 with root2, by the consistency proof? A Promise of {ok: true} or
 * {ok: false, reason}. */
export async function verifyConsistency(size1, size2, root1, root2, proof) {
	const n = count(size1);
	const t = count(size2);
	if (n === null || t === null || n < 1n || t < n)
		return failed("the sizes are not a tree and a larger one");
	if (!isHash(root1) || !isHash(root2) || !checkProof(proof))
		return failed("the proof is malformed");
	if (n === t) {
		if (proof.length !== 0)
			return failed("the proof between equal sizes is not empty");
		return hashEqual(root1, root2) ? { ok: true } : failed("the roots of equal sizes differ");
	}
	if (proof.length === 0)
		return failed("the proof is empty");

	// When the old tree is a complete subtree of the new one, the proof
	// leaves out its root, which the verifier already has: start from it.
	let i = 0;
	let first = root1;
	if ((n & (n - 1n)) !== 0n)
		first = proof[i++];
	let second = first;
	let fn = n - 1n;
	let sn = t - 1n;
	while (fn & 1n) {
		fn >>= 1n;
		sn >>= 1n;
	}
	for (; i < proof.length; i++) {
		if (sn === 0n)
			return failed("the proof is longer than the tree is high");
		if (fn & 1n || fn === sn) {
			first = await nodeHash(proof[i], first);
			second = await nodeHash(proof[i], second);
			while (!(fn & 1n) && fn !== 0n) {
				fn >>= 1n;
				sn >>= 1n;
			}
		} else {
			second = await nodeHash(second, proof[i]);
		}
		fn >>= 1n;
		sn >>= 1n;
	}
	if (sn !== 0n)
		return failed("the proof is shorter than the tree is high");
	if (!hashEqual(first, root1))
		return failed("the proof does not lead to the earlier root");
	if (!hashEqual(second, root2))
		return failed("the proof does not lead to the later root");
	return { ok: true };
}
