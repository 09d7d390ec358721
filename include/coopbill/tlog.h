/* Transparency log core: the RFC 6962 / RFC 9162 Merkle tree in the Go sumdb
 * stored-hash layout, inclusion and consistency proofs, C2SP signed notes with
 * Ed25519 keys, and C2SP tlog-checkpoint bodies. Pure: no storage, no I/O. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * Merkle tree.
 *
 * Record n (from 0) has the leaf hash SHA-256(0x00 || entry); an inner node is
 * SHA-256(0x01 || left || right). The tree of the first n records is split as
 * in RFC 6962 §2.1: the left subtree holds the largest power of two below n.
 *
 * Storage keeps every complete subtree's hash exactly once, in the order Go's
 * golang.org/x/mod/sumdb/tlog writes them: appending record n stores its leaf
 * hash and then the hash of each subtree that record completes, so the store
 * only ever appends (about two hashes per record, never an update).
 */

#define TLOG_HASH_SIZE 32
/* A proof never needs more hashes than a tree of 2^63 records is deep, plus one. */
#define TLOG_PROOF_MAX 64
/* Appending record n stores 1 + ctz(n + 1) hashes: at most 64. */
#define TLOG_STORED_HASHES_MAX 64
/* The largest tree the stored-hash functions handle: 2^62 records, so that
 * every stored-hash index fits in an int64_t. Verification takes any size. */
#define TLOG_TREE_SIZE_MAX (INT64_C(1) << 62)

/* Reads the stored hashes at indexes[0..n_indexes) into ret_hashes[0..n_indexes),
 * in that order. Returns 0, or a negative errno (-ENOENT for an index the store
 * does not have) that the tlog function then returns unchanged. */
typedef int (*tlog_hash_reader)(void *ctx, const int64_t *indexes, size_t n_indexes,
				uint8_t (*ret_hashes)[TLOG_HASH_SIZE]);

void tlog_record_hash(const void *entry, size_t entry_len, uint8_t ret_hash[TLOG_HASH_SIZE]);
/* ret_hash may be left or right. */
void tlog_node_hash(const uint8_t left[TLOG_HASH_SIZE], const uint8_t right[TLOG_HASH_SIZE],
		    uint8_t ret_hash[TLOG_HASH_SIZE]);

/* The storage index of the hash at tree level `level` (0 = leaves) and position
 * n within that level, or -EINVAL when level is outside 0..63, n is negative,
 * or the index would not fit in an int64_t. */
int64_t tlog_stored_hash_index(int level, int64_t n);
/* The inverse of tlog_stored_hash_index(); -EINVAL for a negative index. */
int tlog_split_stored_hash_index(int64_t index, int *ret_level, int64_t *ret_n);
/* How many hashes a tree of n records has stored, or -EINVAL when n is
 * negative or above TLOG_TREE_SIZE_MAX. */
int64_t tlog_stored_hash_count(int64_t n);

/* The hashes to append to storage when adding record n (0 <= n <
 * TLOG_TREE_SIZE_MAX) with the given entry: ret_count (1 + ctz(n + 1)) hashes,
 * to be stored from index tlog_stored_hash_index(0, n) on. Reads up to 63
 * earlier hashes through reader. The _for_record_hash form takes the leaf
 * hash instead of the entry. */
int tlog_stored_hashes(int64_t n, const void *entry, size_t entry_len, tlog_hash_reader reader,
		       void *ctx, uint8_t ret_hashes[TLOG_STORED_HASHES_MAX][TLOG_HASH_SIZE],
		       size_t *ret_count);
int tlog_stored_hashes_for_record_hash(int64_t n, const uint8_t record_hash[TLOG_HASH_SIZE],
				       tlog_hash_reader reader, void *ctx,
				       uint8_t ret_hashes[TLOG_STORED_HASHES_MAX][TLOG_HASH_SIZE],
				       size_t *ret_count);

/* The root hash of the tree of the first n records (0 <= n <=
 * TLOG_TREE_SIZE_MAX), reading at most 63 stored hashes. The empty tree's root
 * is SHA-256 of the empty string (RFC 6962 §2.1). */
int tlog_tree_hash(int64_t n, tlog_hash_reader reader, void *ctx, uint8_t ret_root[TLOG_HASH_SIZE]);

/* The inclusion proof ("audit path", RFC 9162 §2.1.3) of record n in the tree
 * of size t, leaf side first. -EINVAL unless 0 <= n < t <= TLOG_TREE_SIZE_MAX. */
int tlog_prove_record(int64_t t, int64_t n, tlog_hash_reader reader, void *ctx,
		      uint8_t ret_proof[TLOG_PROOF_MAX][TLOG_HASH_SIZE], size_t *ret_len);
/* Checks that leaf_hash is record n of the tree of size t with root root_t,
 * by the algorithm of RFC 9162 §2.1.3.2. Returns 0 when the proof holds,
 * -EBADMSG when it does not, -EINVAL for impossible arguments (negative
 * sizes, n >= t, more than TLOG_PROOF_MAX hashes). */
int tlog_check_record(const uint8_t (*proof)[TLOG_HASH_SIZE], size_t proof_len, int64_t t,
		      const uint8_t root_t[TLOG_HASH_SIZE], int64_t n,
		      const uint8_t leaf_hash[TLOG_HASH_SIZE]);

/* The consistency proof (RFC 9162 §2.1.4) that the tree of size n is a prefix
 * of the tree of size t. -EINVAL unless 1 <= n <= t <= TLOG_TREE_SIZE_MAX. */
int tlog_prove_tree(int64_t t, int64_t n, tlog_hash_reader reader, void *ctx,
		    uint8_t ret_proof[TLOG_PROOF_MAX][TLOG_HASH_SIZE], size_t *ret_len);
/* Checks that the tree of size n with root root_n is a prefix of the tree of
 * size t with root root_t, by the algorithm of RFC 9162 §2.1.4.2 (equal sizes
 * need an empty proof and equal roots). Returns 0 when the proof holds,
 * -EBADMSG when it does not, -EINVAL for impossible arguments (n < 1: every
 * tree extends the empty one, so there is nothing to prove; n > t; more than
 * TLOG_PROOF_MAX hashes). */
int tlog_check_tree(const uint8_t (*proof)[TLOG_HASH_SIZE], size_t proof_len, int64_t t,
		    const uint8_t root_t[TLOG_HASH_SIZE], int64_t n,
		    const uint8_t root_n[TLOG_HASH_SIZE]);

/*
 * Signed notes (c2sp.org/signed-note) with Ed25519 keys.
 *
 *   text ending in a newline
 *   <blank line>
 *   — <key name> base64(key ID || signature)
 *
 * The key ID is the first four bytes, big endian, of
 * SHA-256(key name || 0x0A || 0x01 || 32-byte public key). Keys travel as the
 * strings of Go's golang.org/x/mod/sumdb/note:
 *   verifier: <name>+<8 lowercase hex key ID>+base64(0x01 || public key)
 *   signer:   PRIVATE+KEY+<name>+<8 lowercase hex key ID>+base64(0x01 || seed)
 */

/* Key names are non-empty UTF-8 without Unicode spaces or '+', and at most this long. */
#define TLOG_KEY_NAME_MAX    255
#define TLOG_PUBLIC_KEY_SIZE 32
#define TLOG_SECRET_KEY_SIZE 64
/* Key strings with their NUL: the name, "+", 8 hex digits, "+", 44 base64 characters. */
#define TLOG_VERIFIER_KEY_TEXT_MAX (TLOG_KEY_NAME_MAX + 55)
#define TLOG_SIGNER_KEY_TEXT_MAX   (TLOG_VERIFIER_KEY_TEXT_MAX + 12)

/* Limits on notes this module reads or writes. The signature limit is the
 * C2SP minimum of 16 with room to spare. A line fits the one-line canonical
 * JSON of a tariff or of its label (three profiles' invoices, line by line
 * with their explanations: over 8 KiB for a tariff with windows, tiers and
 * cost sharing). */
#define TLOG_NOTE_SIZE_MAX	 (256 * 1024)
#define TLOG_NOTE_LINE_MAX	 (64 * 1024)
#define TLOG_NOTE_SIGNATURES_MAX 100

struct tlog_verifier {
	char name[TLOG_KEY_NAME_MAX + 1];
	uint32_t key_id;
	uint8_t public_key[TLOG_PUBLIC_KEY_SIZE];
};

/* Holds secret key material: wipe it with tlog_signer_wipe() when done. */
struct tlog_signer {
	struct tlog_verifier verifier;		  /* the public half */
	uint8_t secret_key[TLOG_SECRET_KEY_SIZE]; /* libsodium's seed || public key */
};

/* -EINVAL for a malformed key or a key ID that does not match the name and
 * key, -EOPNOTSUPP for a signature type other than Ed25519 (0x01). */
int tlog_verifier_parse(const char *text, struct tlog_verifier *ret_verifier);
int tlog_verifier_format(const struct tlog_verifier *verifier,
			 char ret_text[TLOG_VERIFIER_KEY_TEXT_MAX]);
int tlog_signer_parse(const char *text, struct tlog_signer *ret_signer);
/* The text holds the secret seed: the caller wipes it (sodium_memzero). */
int tlog_signer_format(const struct tlog_signer *signer, char ret_text[TLOG_SIGNER_KEY_TEXT_MAX]);
/* A fresh Ed25519 key pair from libsodium's random generator. */
int tlog_signer_generate(const char *name, struct tlog_signer *ret_signer);
void tlog_signer_wipe(struct tlog_signer *signer);

/* 0 when text can be a note's text: at most TLOG_NOTE_SIZE_MAX bytes, valid
 * UTF-8 without ASCII control characters other than newline, lines of at most
 * TLOG_NOTE_LINE_MAX bytes, ending in a newline. -EBADMSG otherwise. */
int tlog_note_check_text(const char *text, size_t text_len);

/* Signs text and returns the signed note, NUL-terminated, in a buffer the
 * caller frees with free(). -EBADMSG for a text tlog_note_check_text()
 * refuses, -EMSGSIZE when the signed note would exceed TLOG_NOTE_SIZE_MAX,
 * -EINVAL for a signer whose name, key ID and keys do not belong together. */
int tlog_note_sign(const char *text, size_t text_len, const struct tlog_signer *signer,
		   char **ret_note, size_t *ret_note_len);

/* Verifies a signed note against one verifier key and returns its text,
 * NUL-terminated, in a buffer the caller frees with free(). Signatures by
 * other keys (another name or key ID) are ignored, as C2SP requires.
 *   -EBADMSG       malformed note: over a limit, not UTF-8, a control
 *                  character, no blank line before the signatures, a
 *                  malformed signature line, more than TLOG_NOTE_SIGNATURES_MAX
 *   -EKEYREJECTED  a signature with the verifier's name and key ID is invalid
 *   -ENOKEY        no signature with the verifier's name and key ID */
int tlog_note_open(const char *note, size_t note_len, const struct tlog_verifier *verifier,
		   char **ret_text, size_t *ret_text_len);

/*
 * Checkpoints (c2sp.org/tlog-checkpoint): the note text
 *
 *   <origin>\n<decimal tree size>\n<base64 root hash>\n[extension lines]
 */

#define TLOG_ORIGIN_MAX 255
/* Extension lines are kept verbatim, each with its newline, up to this many bytes. */
#define TLOG_CHECKPOINT_EXTENSIONS_MAX 1024
/* The formatted body with its NUL: origin, 19 digits, 44 base64 characters,
 * three newlines and the extensions. */
#define TLOG_CHECKPOINT_TEXT_MAX \
	(TLOG_ORIGIN_MAX + 19 + 44 + 3 + TLOG_CHECKPOINT_EXTENSIONS_MAX + 1)

struct tlog_checkpoint {
	char origin[TLOG_ORIGIN_MAX + 1];
	int64_t size;
	uint8_t root[TLOG_HASH_SIZE];
	char extensions[TLOG_CHECKPOINT_EXTENSIONS_MAX + 1]; /* "" when there are none */
};

/* -EINVAL for an empty or over-long origin, a negative size, or extensions
 * that are not non-empty lines each ending in a newline. */
int tlog_checkpoint_format(const struct tlog_checkpoint *checkpoint,
			   char ret_text[TLOG_CHECKPOINT_TEXT_MAX], size_t *ret_text_len);
/* -EINVAL for a body that is not a checkpoint: fewer than three lines, an
 * empty line, a size that is not canonical decimal or exceeds INT64_MAX, a
 * root that is not canonical base64 of 32 bytes, no final newline, or
 * anything over the limits above. */
int tlog_checkpoint_parse(const char *text, size_t text_len,
			  struct tlog_checkpoint *ret_checkpoint);

/* Decodes padded standard base64 strictly: only the 64 digits, '=' only as
 * the final padding, unused bits zero; -EINVAL otherwise, or when the bytes
 * do not fit in max_len. */
int tlog_base64_decode(const char *text, size_t len, uint8_t *ret_bytes, size_t max_len,
		       size_t *ret_len);
