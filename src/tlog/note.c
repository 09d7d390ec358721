/* C2SP signed notes with Ed25519: the key strings of Go's sumdb note package,
 * signing a text, and verifying a note against one trusted key. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "coopbill/tlog.h"

#define SIGNATURE_TYPE_ED25519 0x01
/* U+2014 EM DASH and a space start every signature line. */
#define SIGNATURE_PREFIX      "\xe2\x80\x94 "
#define SIGNATURE_PREFIX_LEN  4
#define SIGNER_KEY_PREFIX     "PRIVATE+KEY+"
#define SIGNER_KEY_PREFIX_LEN 12
#define KEY_ID_HEX_LEN	      8
/* Key ID and signature: the payload of an Ed25519 signature line. */
#define SIGNATURE_SIZE (4 + crypto_sign_BYTES)
/* The most bytes a signature line's base64 can decode to. */
/* A signature line's signature, decoded: room for a post-quantum one. */
#define SIGNATURE_DECODED_MAX (8192 / 4 * 3)
/* base64 of the signature type byte and a 32-byte key: 44 characters. */
#define KEY_BASE64_SIZE sodium_base64_ENCODED_LEN(1 + 32, sodium_base64_VARIANT_ORIGINAL)

/* Decodes the UTF-8 sequence at the start of s, rejecting overlong forms,
 * surrogates and code points past U+10FFFF. Returns its length, or 0. */
static size_t utf8_decode(const uint8_t *s, size_t len, uint32_t *ret_code_point)
{
	uint8_t lead = s[0], lo = 0x80, hi = 0xbf;
	uint32_t code_point;
	size_t n;

	if (lead < 0x80) {
		*ret_code_point = lead;
		return 1;
	}
	if (lead >= 0xc2 && lead <= 0xdf) {
		n = 2;
		code_point = lead & 0x1f;
	} else if (lead >= 0xe0 && lead <= 0xef) {
		n = 3;
		code_point = lead & 0x0f;
		if (lead == 0xe0)
			lo = 0xa0;
		else if (lead == 0xed)
			hi = 0x9f;
	} else if (lead >= 0xf0 && lead <= 0xf4) {
		n = 4;
		code_point = lead & 0x07;
		if (lead == 0xf0)
			lo = 0x90;
		else if (lead == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		code_point = (code_point << 6) | (s[i] & 0x3f);
	}
	*ret_code_point = code_point;
	return n;
}

/* Unicode White_Space, as Go's unicode.IsSpace sees it. */
static bool is_unicode_space(uint32_t c)
{
	return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
	       (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
	       c == 0x205f || c == 0x3000;
}

/* Key names: non-empty UTF-8 without spaces, '+' or control characters. */
static bool key_name_valid(const char *name, size_t len)
{
	const uint8_t *bytes = (const uint8_t *)name;

	if (len == 0 || len > TLOG_KEY_NAME_MAX)
		return false;
	for (size_t i = 0; i < len;) {
		uint32_t c;
		size_t n = utf8_decode(bytes + i, len - i, &c);

		if (n == 0 || c < 0x20 || c == '+' || is_unicode_space(c))
			return false;
		i += n;
	}
	return true;
}

/* The rules for a whole note, text and signatures alike. */
static int check_note_bytes(const char *note, size_t len)
{
	const uint8_t *bytes = (const uint8_t *)note;
	size_t line_len = 0;

	if (len > TLOG_NOTE_SIZE_MAX)
		return -EBADMSG;
	for (size_t i = 0; i < len;) {
		uint32_t c;
		size_t n = utf8_decode(bytes + i, len - i, &c);

		if (n == 0)
			return -EBADMSG;
		if (c == '\n') {
			line_len = 0;
		} else {
			if (c < 0x20)
				return -EBADMSG;
			line_len += n;
			if (line_len > TLOG_NOTE_LINE_MAX)
				return -EBADMSG;
		}
		i += n;
	}
	return 0;
}

static uint32_t key_id(const char *name, size_t name_len,
		       const uint8_t public_key[TLOG_PUBLIC_KEY_SIZE])
{
	static const uint8_t separator[2] = { '\n', SIGNATURE_TYPE_ED25519 };
	crypto_hash_sha256_state state;
	uint8_t hash[crypto_hash_sha256_BYTES];

	crypto_hash_sha256_init(&state);
	crypto_hash_sha256_update(&state, (const uint8_t *)name, name_len);
	crypto_hash_sha256_update(&state, separator, sizeof(separator));
	crypto_hash_sha256_update(&state, public_key, TLOG_PUBLIC_KEY_SIZE);
	crypto_hash_sha256_final(&state, hash);
	return (uint32_t)hash[0] << 24 | (uint32_t)hash[1] << 16 | (uint32_t)hash[2] << 8 |
	       (uint32_t)hash[3];
}

static int parse_key_id(const char *hex, size_t len, uint32_t *ret_key_id)
{
	uint32_t id = 0;

	/* Exactly 8 lowercase digits, as written by Go's "%08x": one spelling per ID. */
	if (len != KEY_ID_HEX_LEN)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		char c = hex[i];

		if (c >= '0' && c <= '9')
			id = id << 4 | (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			id = id << 4 | (uint32_t)(c - 'a' + 10);
		else
			return -EINVAL;
	}
	*ret_key_id = id;
	return 0;
}

/* Splits "<name>+<key id>+<base64(type || key)>" and checks the name, the ID
 * and the type; ret_key receives the 32 key bytes. */
static int parse_key_fields(const char *text, size_t len, char ret_name[TLOG_KEY_NAME_MAX + 1],
			    uint32_t *ret_key_id, uint8_t ret_key[32])
{
	/* A key string is short; this holds whatever its base64 decodes to. */
	uint8_t decoded[TLOG_SIGNER_KEY_TEXT_MAX];
	const char *plus, *id_hex, *key64;
	size_t name_len, decoded_len;
	uint32_t id;
	int r;

	plus = memchr(text, '+', len);
	if (!plus)
		return -EINVAL;
	name_len = (size_t)(plus - text);
	id_hex = plus + 1;
	/* The base64 may itself contain '+': split at the first two only. */
	plus = memchr(id_hex, '+', len - (size_t)(id_hex - text));
	if (!plus)
		return -EINVAL;
	key64 = plus + 1;
	if (!key_name_valid(text, name_len))
		return -EINVAL;
	r = parse_key_id(id_hex, (size_t)(plus - id_hex), &id);
	if (r < 0)
		return r;
	if (tlog_base64_decode(key64, len - (size_t)(key64 - text), decoded, sizeof(decoded),
			       &decoded_len) < 0 ||
	    decoded_len == 0) {
		r = -EINVAL;
		goto out;
	}
	if (decoded[0] != SIGNATURE_TYPE_ED25519) {
		r = -EOPNOTSUPP;
		goto out;
	}
	if (decoded_len != 1 + 32) {
		r = -EINVAL;
		goto out;
	}
	memcpy(ret_name, text, name_len);
	ret_name[name_len] = '\0';
	*ret_key_id = id;
	memcpy(ret_key, decoded + 1, 32);
	r = 0;
out:
	sodium_memzero(decoded, sizeof(decoded));
	return r;
}

int tlog_verifier_parse(const char *text, struct tlog_verifier *ret_verifier)
{
	/* Zeroed, so that equal keys are equal structs. */
	struct tlog_verifier verifier = { .key_id = 0 };
	size_t len;
	int r;

	if (!text)
		return -EINVAL;
	len = strnlen(text, TLOG_VERIFIER_KEY_TEXT_MAX);
	if (len == TLOG_VERIFIER_KEY_TEXT_MAX)
		return -EINVAL;
	r = parse_key_fields(text, len, verifier.name, &verifier.key_id, verifier.public_key);
	if (r < 0)
		return r;
	if (verifier.key_id != key_id(verifier.name, strlen(verifier.name), verifier.public_key))
		return -EINVAL;
	*ret_verifier = verifier;
	return 0;
}

static int format_key(const char *prefix, const char *name, uint32_t id, const uint8_t key[32],
		      char *ret_text, size_t text_size)
{
	uint8_t typed_key[1 + 32];
	char key64[KEY_BASE64_SIZE];
	size_t name_len = strnlen(name, TLOG_KEY_NAME_MAX + 1);
	int n;

	if (!key_name_valid(name, name_len))
		return -EINVAL;
	typed_key[0] = SIGNATURE_TYPE_ED25519;
	memcpy(typed_key + 1, key, 32);
	sodium_bin2base64(key64, sizeof(key64), typed_key, sizeof(typed_key),
			  sodium_base64_VARIANT_ORIGINAL);
	n = snprintf(ret_text, text_size, "%s%s+%08" PRIx32 "+%s", prefix, name, id, key64);
	sodium_memzero(typed_key, sizeof(typed_key));
	sodium_memzero(key64, sizeof(key64));
	return n > 0 && (size_t)n < text_size ? 0 : -EPROTO;
}

int tlog_verifier_format(const struct tlog_verifier *verifier,
			 char ret_text[TLOG_VERIFIER_KEY_TEXT_MAX])
{
	if (!verifier)
		return -EINVAL;
	return format_key("", verifier->name, verifier->key_id, verifier->public_key, ret_text,
			  TLOG_VERIFIER_KEY_TEXT_MAX);
}

int tlog_signer_parse(const char *text, struct tlog_signer *ret_signer)
{
	struct tlog_signer signer = { .verifier.key_id = 0 };
	uint8_t seed[crypto_sign_SEEDBYTES];
	uint32_t id;
	size_t len;
	int r;

	if (!text)
		return -EINVAL;
	len = strnlen(text, TLOG_SIGNER_KEY_TEXT_MAX);
	if (len == TLOG_SIGNER_KEY_TEXT_MAX || len < SIGNER_KEY_PREFIX_LEN ||
	    memcmp(text, SIGNER_KEY_PREFIX, SIGNER_KEY_PREFIX_LEN) != 0)
		return -EINVAL;
	if (sodium_init() < 0)
		return -EIO;
	r = parse_key_fields(text + SIGNER_KEY_PREFIX_LEN, len - SIGNER_KEY_PREFIX_LEN,
			     signer.verifier.name, &id, seed);
	if (r < 0)
		goto out;
	crypto_sign_seed_keypair(signer.verifier.public_key, signer.secret_key, seed);
	signer.verifier.key_id = key_id(signer.verifier.name, strlen(signer.verifier.name),
					signer.verifier.public_key);
	if (id != signer.verifier.key_id) {
		r = -EINVAL;
		goto out;
	}
	*ret_signer = signer;
	r = 0;
out:
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(&signer, sizeof(signer));
	return r;
}

int tlog_signer_format(const struct tlog_signer *signer, char ret_text[TLOG_SIGNER_KEY_TEXT_MAX])
{
	uint8_t seed[crypto_sign_SEEDBYTES];
	int r;

	if (!signer)
		return -EINVAL;
	crypto_sign_ed25519_sk_to_seed(seed, signer->secret_key);
	r = format_key(SIGNER_KEY_PREFIX, signer->verifier.name, signer->verifier.key_id, seed,
		       ret_text, TLOG_SIGNER_KEY_TEXT_MAX);
	sodium_memzero(seed, sizeof(seed));
	return r;
}

int tlog_signer_generate(const char *name, struct tlog_signer *ret_signer)
{
	struct tlog_signer signer = { .verifier.key_id = 0 };
	size_t name_len;

	if (!name)
		return -EINVAL;
	name_len = strnlen(name, TLOG_KEY_NAME_MAX + 1);
	if (!key_name_valid(name, name_len))
		return -EINVAL;
	if (sodium_init() < 0)
		return -EIO;
	memcpy(signer.verifier.name, name, name_len + 1);
	crypto_sign_keypair(signer.verifier.public_key, signer.secret_key);
	signer.verifier.key_id = key_id(name, name_len, signer.verifier.public_key);
	*ret_signer = signer;
	sodium_memzero(&signer, sizeof(signer));
	return 0;
}

void tlog_signer_wipe(struct tlog_signer *signer)
{
	if (signer)
		sodium_memzero(signer, sizeof(*signer));
}

int tlog_note_check_text(const char *text, size_t text_len)
{
	if (!text || text_len == 0 || text[text_len - 1] != '\n')
		return -EBADMSG;
	return check_note_bytes(text, text_len);
}

int tlog_note_sign(const char *text, size_t text_len, const struct tlog_signer *signer,
		   char **ret_note, size_t *ret_note_len)
{
	uint8_t signature[SIGNATURE_SIZE];
	char signature64[sodium_base64_ENCODED_LEN(SIGNATURE_SIZE, sodium_base64_VARIANT_ORIGINAL)];
	const struct tlog_verifier *verifier;
	size_t name_len, signature64_len, note_len;
	char *note, *p;
	int r;

	if (!signer)
		return -EINVAL;
	verifier = &signer->verifier;
	name_len = strnlen(verifier->name, TLOG_KEY_NAME_MAX + 1);
	if (!key_name_valid(verifier->name, name_len))
		return -EINVAL;
	r = tlog_note_check_text(text, text_len);
	if (r < 0)
		return r;
	if (sodium_init() < 0)
		return -EIO;
	/* A signer whose halves disagree would publish signatures nobody can check. */
	if (memcmp(signer->secret_key + crypto_sign_SEEDBYTES, verifier->public_key,
		   TLOG_PUBLIC_KEY_SIZE) != 0 ||
	    verifier->key_id != key_id(verifier->name, name_len, verifier->public_key))
		return -EINVAL;

	signature[0] = (uint8_t)(verifier->key_id >> 24);
	signature[1] = (uint8_t)(verifier->key_id >> 16);
	signature[2] = (uint8_t)(verifier->key_id >> 8);
	signature[3] = (uint8_t)verifier->key_id;
	crypto_sign_detached(signature + 4, NULL, (const uint8_t *)text, text_len,
			     signer->secret_key);
	sodium_bin2base64(signature64, sizeof(signature64), signature, sizeof(signature),
			  sodium_base64_VARIANT_ORIGINAL);
	signature64_len = strlen(signature64);

	note_len = text_len + 1 + SIGNATURE_PREFIX_LEN + name_len + 1 + signature64_len + 1;
	if (note_len > TLOG_NOTE_SIZE_MAX)
		return -EMSGSIZE;
	note = malloc(note_len + 1);
	if (!note)
		return -ENOMEM;
	p = note;
	memcpy(p, text, text_len);
	p += text_len;
	*p++ = '\n';
	memcpy(p, SIGNATURE_PREFIX, SIGNATURE_PREFIX_LEN);
	p += SIGNATURE_PREFIX_LEN;
	memcpy(p, verifier->name, name_len);
	p += name_len;
	*p++ = ' ';
	memcpy(p, signature64, signature64_len);
	p += signature64_len;
	*p++ = '\n';
	*p = '\0';

	*ret_note = note;
	*ret_note_len = note_len;
	return 0;
}

/* What one signature line says about the verifier's key. */
enum signature_verdict {
	SIGNATURE_OTHER_KEY,
	SIGNATURE_VALID,
	SIGNATURE_INVALID,
};

static int check_signature_line(const char *line, size_t line_len, const char *text,
				size_t text_len, const struct tlog_verifier *verifier,
				enum signature_verdict *ret_verdict)
{
	uint8_t signature[SIGNATURE_DECODED_MAX];
	const char *name, *space, *signature64;
	size_t name_len, signature_len;
	uint32_t id;

	if (line_len < SIGNATURE_PREFIX_LEN ||
	    memcmp(line, SIGNATURE_PREFIX, SIGNATURE_PREFIX_LEN) != 0)
		return -EBADMSG;
	name = line + SIGNATURE_PREFIX_LEN;
	space = memchr(name, ' ', line_len - SIGNATURE_PREFIX_LEN);
	if (!space)
		return -EBADMSG;
	name_len = (size_t)(space - name);
	signature64 = space + 1;
	if (!key_name_valid(name, name_len) || signature64 == line + line_len)
		return -EBADMSG;
	if (tlog_base64_decode(signature64, (size_t)(line + line_len - signature64), signature,
			       sizeof(signature), &signature_len) < 0 ||
	    signature_len < 5)
		return -EBADMSG;
	id = (uint32_t)signature[0] << 24 | (uint32_t)signature[1] << 16 |
	     (uint32_t)signature[2] << 8 | (uint32_t)signature[3];

	/* C2SP: a key is its name and ID together; ignore signatures matching
	 * only one of them. */
	if (name_len != strlen(verifier->name) || memcmp(name, verifier->name, name_len) != 0 ||
	    id != verifier->key_id)
		*ret_verdict = SIGNATURE_OTHER_KEY;
	else if (signature_len == SIGNATURE_SIZE &&
		 crypto_sign_verify_detached(signature + 4, (const uint8_t *)text, text_len,
					     verifier->public_key) == 0)
		*ret_verdict = SIGNATURE_VALID;
	else
		*ret_verdict = SIGNATURE_INVALID;
	return 0;
}

int tlog_note_open(const char *note, size_t note_len, const struct tlog_verifier *verifier,
		   char **ret_text, size_t *ret_text_len)
{
	bool valid = false, invalid = false;
	size_t text_len, n_signatures = 0;
	const char *blank = NULL, *line, *end;
	char *text;
	int r;

	if (!note || !verifier ||
	    !key_name_valid(verifier->name, strnlen(verifier->name, TLOG_KEY_NAME_MAX + 1)))
		return -EINVAL;
	r = check_note_bytes(note, note_len);
	if (r < 0)
		return r;

	/* The signatures follow the last blank line: the text may hold blank
	 * lines of its own, but a signature line is never empty. */
	for (size_t i = note_len; i >= 2 && !blank; i--)
		if (note[i - 2] == '\n' && note[i - 1] == '\n')
			blank = note + i - 1;
	if (!blank)
		return -EBADMSG;
	/* The text keeps its final newline; the blank line belongs to neither part. */
	text_len = (size_t)(blank - note);
	line = blank + 1;
	end = note + note_len;
	if (line == end || end[-1] != '\n')
		return -EBADMSG;

	if (sodium_init() < 0)
		return -EIO;
	while (line < end) {
		const char *newline = memchr(line, '\n', (size_t)(end - line));
		enum signature_verdict verdict;

		if (++n_signatures > TLOG_NOTE_SIGNATURES_MAX)
			return -EBADMSG;
		r = check_signature_line(line, (size_t)(newline - line), note, text_len, verifier,
					 &verdict);
		if (r < 0)
			return r;
		if (verdict == SIGNATURE_VALID)
			valid = true;
		else if (verdict == SIGNATURE_INVALID)
			invalid = true;
		line = newline + 1;
	}
	/* One bad signature from the trusted key spoils the note, even beside a good one. */
	if (invalid)
		return -EKEYREJECTED;
	if (!valid)
		return -ENOKEY;

	text = malloc(text_len + 1);
	if (!text)
		return -ENOMEM;
	memcpy(text, note, text_len);
	text[text_len] = '\0';
	*ret_text = text;
	*ret_text_len = text_len;
	return 0;
}
