// Ed25519 signature verification (RFC 8032 §5.1.7) with the rules of
// libsodium's crypto_sign_verify_detached, which signs and checks the log on
// the gateway: S must be below L; the public key must be canonical and, like
// R, not a point of small order; and the check is cofactorless, encode([S]B -
// [k]A) == R byte for byte. WebCrypto's Ed25519 (Chromium's) accepts keys
// and R of small order, so the same checks run before it in a secure
// context and both paths accept the same signatures; on plain HTTP this file
// does the arithmetic, in BigInt.

// SHA-512 (FIPS 180-4), which Ed25519 is defined with; BigInt words are
// slow but the notes checked here are short.
const MASK64 = (1n << 64n) - 1n;
const K512 = `428a2f98d728ae22 7137449123ef65cd b5c0fbcfec4d3b2f e9b5dba58189dbbc
3956c25bf348b538 59f111f1b605d019 923f82a4af194f9b ab1c5ed5da6d8118 d807aa98a3030242
12835b0145706fbe 243185be4ee4b28c 550c7dc3d5ffb4e2 72be5d74f27b896f 80deb1fe3b1696b1
9bdc06a725c71235 c19bf174cf692694 e49b69c19ef14ad2 efbe4786384f25e3 0fc19dc68b8cd5b5
240ca1cc77ac9c65 2de92c6f592b0275 4a7484aa6ea6e483 5cb0a9dcbd41fbd4 76f988da831153b5
983e5152ee66dfab a831c66d2db43210 b00327c898fb213f bf597fc7beef0ee4 c6e00bf33da88fc2
d5a79147930aa725 06ca6351e003826f 142929670a0e6e70 27b70a8546d22ffc 2e1b21385c26c926
4d2c6dfc5ac42aed 53380d139d95b3df 650a73548baf63de 766a0abb3c77b2a8 81c2c92e47edaee6
92722c851482353b a2bfe8a14cf10364 a81a664bbc423001 c24b8b70d0f89791 c76c51a30654be30
d192e819d6ef5218 d69906245565a910 f40e35855771202a 106aa07032bbd1b8 19a4c116b8d2d0c8
1e376c085141ab53 2748774cdf8eeb99 34b0bcb5e19b48a8 391c0cb3c5c95a63 4ed8aa4ae3418acb
5b9cca4f7763e373 682e6ff3d6b2b8a3 748f82ee5defb2fc 78a5636f43172f60 84c87814a1f0ab72
8cc702081a6439ec 90befffa23631e28 a4506cebde82bde9 bef9a3f7b2c67915 c67178f2e372532b
ca273eceea26619c d186b8c721c0c207 eada7dd6cde0eb1e f57d4f7fee6ed178 06f067aa72176fba
0a637dc5a2c898a6 113f9804bef90dae 1b710b35131c471b 28db77f523047d84 32caab7b40c72493
3c9ebe0a15c9bebc 431d67c49c100d4c 4cc5d4becb3e42b6 597f299cfc657e2a 5fcb6fab3ad6faec
6c44198c4a475817`
	.split(/\s+/)
	.map((word) => BigInt("0x" + word));
const H512 = `6a09e667f3bcc908 bb67ae8584caa73b 3c6ef372fe94f82b a54ff53a5f1d36f1
510e527fade682d1 9b05688c2b3e6c1f 1f83d9abfb41bd6b 5be0cd19137e2179`
	.split(/\s+/)
	.map((word) => BigInt("0x" + word));

const rotr64 = (x, n) => ((x >> n) | (x << (64n - n))) & MASK64;

/** SHA-512 of bytes (a Uint8Array), computed here: a Uint8Array of 64. */
export function sha512Sync(bytes) {
	const blocks = Math.ceil((bytes.length + 17) / 128);
	const padded = new Uint8Array(blocks * 128);
	const view = new DataView(padded.buffer);
	padded.set(bytes);
	padded[bytes.length] = 0x80;
	view.setBigUint64(padded.length - 8, BigInt(bytes.length) * 8n);
	const h = H512.slice();
	const w = new Array(80);
	for (let block = 0; block < padded.length; block += 128) {
		for (let i = 0; i < 16; i++)
			w[i] = view.getBigUint64(block + 8 * i);
		for (let i = 16; i < 80; i++) {
			const s0 = rotr64(w[i - 15], 1n) ^ rotr64(w[i - 15], 8n) ^ (w[i - 15] >> 7n);
			const s1 = rotr64(w[i - 2], 19n) ^ rotr64(w[i - 2], 61n) ^ (w[i - 2] >> 6n);
			w[i] = (w[i - 16] + s0 + w[i - 7] + s1) & MASK64;
		}
		let [a, b, c, d, e, f, g, hh] = h;
		for (let i = 0; i < 80; i++) {
			const s1 = rotr64(e, 14n) ^ rotr64(e, 18n) ^ rotr64(e, 41n);
			const ch = (e & f) ^ (~e & MASK64 & g);
			const t1 = (hh + s1 + ch + K512[i] + w[i]) & MASK64;
			const s0 = rotr64(a, 28n) ^ rotr64(a, 34n) ^ rotr64(a, 39n);
			const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) & MASK64;
			[hh, g, f, e, d, c, b, a] = [g, f, e, (d + t1) & MASK64, c, b, a, (t1 + t2) & MASK64];
		}
		[a, b, c, d, e, f, g, hh].forEach((word, i) => (h[i] = (h[i] + word) & MASK64));
	}
	const digest = new Uint8Array(64);
	const out = new DataView(digest.buffer);
	h.forEach((word, i) => out.setBigUint64(8 * i, word));
	return digest;
}

// The curve: -x^2 + y^2 = 1 + d x^2 y^2 over GF(p), p = 2^255 - 19, with a
// base point B of prime order L (RFC 8032 §5.1).
const P = (1n << 255n) - 19n;
const L = (1n << 252n) + 27742317777372353535851937790883648493n;
const mod = (a, m = P) => ((a % m) + m) % m;

function pow(base, exponent) {
	let result = 1n;
	for (base = mod(base); exponent > 0n; exponent >>= 1n) {
		if (exponent & 1n)
			result = (result * base) % P;
		base = (base * base) % P;
	}
	return result;
}

const inverse = (a) => pow(a, P - 2n);
const D = mod(-121665n * inverse(121666n));
const SQRT_M1 = pow(2n, (P - 1n) / 4n);

// The y coordinates of the points of small order (1, 2, 4 and 8), as
// libsodium lists them: 0, 1, p - 1 and the two of order 8; also p and
// p + 1, the other spellings of 0 and 1 in 255 bits.
const Y8 = 0x05fc536d880238b13933c6d305acdfd5f098eff289f4c345b027b2c28f95e826n;
const SMALL_ORDER_Y = [0n, 1n, P - 1n, Y8, P - Y8, P, P + 1n];

// Points in extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z, xy = T/Z
// (RFC 8032 §5.1.4).
const IDENTITY = [0n, 1n, 1n, 0n];

function add([x1, y1, z1, t1], [x2, y2, z2, t2]) {
	const a = mod((y1 - x1) * (y2 - x2));
	const b = mod((y1 + x1) * (y2 + x2));
	const c = mod(2n * t1 * t2 * D);
	const d = mod(2n * z1 * z2);
	const e = b - a,
		f = d - c,
		g = d + c,
		h = b + a;
	return [mod(e * f), mod(g * h), mod(f * g), mod(e * h)];
}

function multiply(point, scalar) {
	let result = IDENTITY;
	for (; scalar > 0n; scalar >>= 1n) {
		if (scalar & 1n)
			result = add(result, point);
		point = add(point, point);
	}
	return result;
}

const littleEndian = (bytes) =>
	bytes.reduceRight((value, byte) => (value << 8n) | BigInt(byte), 0n);

function encode([x, y, z]) {
	const zInverse = inverse(z);
	let value = mod(y * zInverse) | ((mod(x * zInverse) & 1n) << 255n);
	const bytes = new Uint8Array(32);
	for (let i = 0; i < 32; i++, value >>= 8n)
		bytes[i] = Number(value & 0xffn);
	return bytes;
}

// RFC 8032 §5.1.3: y and the sign of x; null when no point has them.
function decode(bytes) {
	const sign = BigInt(bytes[31] >> 7);
	const y = littleEndian(bytes) & ((1n << 255n) - 1n);
	if (y >= P)
		return null;
	const u = mod(y * y - 1n);
	const v = mod(D * y * y + 1n);
	let x = mod(u * pow(v, 3n) * pow(u * pow(v, 7n), (P - 5n) / 8n));
	const vx2 = mod(v * x * x);
	if (vx2 === mod(-u))
		x = mod(x * SQRT_M1);
	else if (vx2 !== u)
		return null;
	if (x === 0n && sign === 1n)
		return null;
	if ((x & 1n) !== sign)
		x = P - x;
	return [x, y, 1n, mod(x * y)];
}

const smallOrder = (bytes) => SMALL_ORDER_Y.includes(littleEndian(bytes) & ((1n << 255n) - 1n));

// libsodium's checks on the encodings, before any arithmetic.
function acceptable(publicKey, signature) {
	const y = littleEndian(publicKey) & ((1n << 255n) - 1n);
	return littleEndian(signature.subarray(32)) < L && y < P && !smallOrder(publicKey) &&
		!smallOrder(signature.subarray(0, 32));
}

// The base point: y = 4/5 and x even (RFC 8032 §5.1).
const B_Y = mod(4n * inverse(5n));
const B_ENCODED = new Uint8Array(32).map((_, i) => Number((B_Y >> BigInt(8 * i)) & 0xffn));
const B = decode(B_ENCODED);

/** Verifies the signature here, in BigInt: true or false. */
export function ed25519VerifySync(publicKey, message, signature) {
	if (publicKey.length !== 32 || signature.length !== 64 || !acceptable(publicKey, signature))
		return false;
	const a = decode(publicKey);
	if (!a)
		return false;
	const hashed = new Uint8Array(64 + message.length);
	hashed.set(signature.subarray(0, 32));
	hashed.set(publicKey, 32);
	hashed.set(message, 64);
	const k = mod(littleEndian(sha512Sync(hashed)), L);
	const s = littleEndian(signature.subarray(32));
	// [S]B - [k]A, with -A = (-x, y).
	const [x, y, z, t] = multiply(a, k);
	const r = encode(add(multiply(B, s), [mod(-x), y, z, mod(-t)]));
	return r.every((byte, i) => byte === signature[i]);
}

let webcryptoWorks = null;

/** "webcrypto" when the browser's Ed25519 is used, else "js": WebCrypto
 * needs a secure context, and not every browser has Ed25519 in it. */
export async function ed25519Backend() {
	if (webcryptoWorks === null) {
		webcryptoWorks = false;
		if (globalThis.isSecureContext && globalThis.crypto && crypto.subtle) {
			try {
				const key = await crypto.subtle.importKey("raw", B_ENCODED, "Ed25519", false, [
					"verify",
				]);
				webcryptoWorks = key.algorithm.name === "Ed25519";
			} catch (e) {
				webcryptoWorks = false;
			}
		}
	}
	return webcryptoWorks ? "webcrypto" : "js";
}

/** Verifies an Ed25519 signature (Uint8Arrays of 32 and 64 bytes) over
 * message: a Promise of true or false, never a rejection. */
export async function ed25519Verify(publicKey, message, signature) {
	if ((await ed25519Backend()) === "js")
		return ed25519VerifySync(publicKey, message, signature);
	if (publicKey.length !== 32 || signature.length !== 64 || !acceptable(publicKey, signature))
		return false;
	try {
		const key = await crypto.subtle.importKey("raw", publicKey, "Ed25519", false, ["verify"]);
		return await crypto.subtle.verify("Ed25519", key, signature, message);
	} catch (e) {
		// A key WebCrypto cannot decode is no key.
		return false;
	}
}
