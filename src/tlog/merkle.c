/* The log's Merkle tree: RFC 6962 hashing, the Go sumdb stored-hash index
 * layout, root hashes and proofs built from stored hashes, and proof checks
 * by the algorithms of RFC 9162. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <sodium.h>

#include "coopbill/tlog.h"

/* The stored hashes one proof reads: one per complete sibling subtree (at most
 * 63) plus the pieces of the one incomplete subtree a proof can contain (at
 * most 62). */
#define NEEDED_MAX 128
/* A proof walks at most 63 levels and may add the common subtree's hash. */
#define RANGES_MAX 64

struct needed {
	int64_t indexes[NEEDED_MAX];
	size_t len;
};

/* The half-open record range [lo, hi) of a subtree whose hash a proof needs. */
struct range {
	int64_t lo, hi;
};

void tlog_record_hash(const void *entry, size_t entry_len, uint8_t ret_hash[TLOG_HASH_SIZE])
{
	static const uint8_t leaf_prefix = 0x00;
	crypto_hash_sha256_state state;

	crypto_hash_sha256_init(&state);
	crypto_hash_sha256_update(&state, &leaf_prefix, 1);
	if (entry_len > 0)
		crypto_hash_sha256_update(&state, entry, entry_len);
	crypto_hash_sha256_final(&state, ret_hash);
}

void tlog_node_hash(const uint8_t left[TLOG_HASH_SIZE], const uint8_t right[TLOG_HASH_SIZE],
		    uint8_t ret_hash[TLOG_HASH_SIZE])
{
	static const uint8_t node_prefix = 0x01;
	crypto_hash_sha256_state state;

	crypto_hash_sha256_init(&state);
	crypto_hash_sha256_update(&state, &node_prefix, 1);
	crypto_hash_sha256_update(&state, left, TLOG_HASH_SIZE);
	crypto_hash_sha256_update(&state, right, TLOG_HASH_SIZE);
	crypto_hash_sha256_final(&state, ret_hash);
}

static int trailing_zeros(uint64_t x)
{
	return x == 0 ? 64 : __builtin_ctzll(x);
}

/* floor(log2(x)) for x > 0. */
static int log2_floor(uint64_t x)
{
	return 63 - __builtin_clzll(x);
}

/* RFC 6962's split point k of a tree of size n >= 2: the largest power of two
 * smaller than n. */
static int64_t split_point(int64_t n)
{
	return INT64_C(1) << log2_floor((uint64_t)(n - 1));
}

int64_t tlog_stored_hash_index(int level, int64_t n)
{
	uint64_t leaf_index, index = 0;

	if (level < 0 || level > 63 || n < 0 || n > (INT64_MAX >> level))
		return -EINVAL;
	/* Level L's hash n is stored right after level L-1's hash 2n+1, which
	 * completes it; so walk down to the last leaf under it. */
	leaf_index = ((uint64_t)n << level) | ((UINT64_C(1) << level) - 1);
	/* Leaf m is stored at m + m/2 + m/4 + ...: each earlier pair of
	 * siblings at each level stored one parent. */
	for (; leaf_index > 0; leaf_index >>= 1)
		index += leaf_index;
	index += (uint64_t)level;
	if (index > (uint64_t)INT64_MAX)
		return -EINVAL;
	return (int64_t)index;
}

int tlog_split_stored_hash_index(int64_t index, int *ret_level, int64_t *ret_n)
{
	int64_t record, record_index;
	int level;

	if (index < 0)
		return -EINVAL;
	/* tlog_stored_hash_index(0, m) < 2m, so the record that stored this
	 * hash is at least index / 2, and at most 63 records further. */
	record = index / 2;
	record_index = tlog_stored_hash_index(0, record);
	if (record_index < 0 || record_index > index)
		return -EPROTO;
	for (;;) {
		/* Record m stores 1 + ctz(m + 1) hashes. */
		uint64_t next =
			(uint64_t)record_index + 1 + (uint64_t)trailing_zeros((uint64_t)record + 1);

		if (next > (uint64_t)index)
			break;
		record++;
		record_index = (int64_t)next;
	}
	level = (int)(index - record_index);
	*ret_level = level;
	*ret_n = record >> level;
	return 0;
}

int64_t tlog_stored_hash_count(int64_t n)
{
	int64_t count;

	if (n < 0 || n > TLOG_TREE_SIZE_MAX)
		return -EINVAL;
	if (n == 0)
		return 0;
	/* Everything up to the last leaf, then the subtrees that leaf completes. */
	count = tlog_stored_hash_index(0, n - 1) + 1;
	if (count <= 0)
		return -EPROTO;
	return count + trailing_zeros((uint64_t)n);
}

static int needed_add(struct needed *needed, int64_t index)
{
	/* The bounds above make both of these impossible; fail rather than
	 * overrun if they were ever wrong. */
	if (index < 0 || needed->len >= NEEDED_MAX)
		return -EPROTO;
	needed->indexes[needed->len++] = index;
	return 0;
}

/* The stored hashes that make up subtree [lo, hi): its complete subtrees of
 * decreasing size from the left, which tlog stores directly. */
static int needed_for_subtree(struct needed *needed, int64_t lo, int64_t hi)
{
	int r;

	while (lo < hi) {
		int level = log2_floor((uint64_t)(hi - lo));
		int64_t size = INT64_C(1) << level;

		if (lo & (size - 1))
			return -EPROTO;
		r = needed_add(needed, tlog_stored_hash_index(level, lo >> level));
		if (r < 0)
			return r;
		lo += size;
	}
	return 0;
}

/* Folds the stored hashes of subtree [lo, hi), as listed by
 * needed_for_subtree(), into its hash, consuming them from *pos. */
static int subtree_hash(int64_t lo, int64_t hi, const uint8_t (*hashes)[TLOG_HASH_SIZE],
			size_t n_hashes, size_t *pos, uint8_t ret_hash[TLOG_HASH_SIZE])
{
	uint8_t hash[TLOG_HASH_SIZE];
	size_t parts = 0, i;

	while (lo < hi) {
		lo += INT64_C(1) << log2_floor((uint64_t)(hi - lo));
		parts++;
	}
	if (parts == 0 || n_hashes - *pos < parts)
		return -EPROTO;
	i = *pos + parts - 1;
	memcpy(hash, hashes[i], TLOG_HASH_SIZE);
	while (i-- > *pos)
		tlog_node_hash(hashes[i], hash, hash);
	*pos += parts;
	memcpy(ret_hash, hash, TLOG_HASH_SIZE);
	return 0;
}

static int read_hashes(tlog_hash_reader reader, void *ctx, const struct needed *needed,
		       uint8_t (*ret_hashes)[TLOG_HASH_SIZE])
{
	int r;

	if (needed->len == 0)
		return 0;
	if (!reader)
		return -EINVAL;
	r = reader(ctx, needed->indexes, needed->len, ret_hashes);
	return r < 0 ? r : 0;
}

int tlog_stored_hashes_for_record_hash(int64_t n, const uint8_t record_hash[TLOG_HASH_SIZE],
				       tlog_hash_reader reader, void *ctx,
				       uint8_t ret_hashes[TLOG_STORED_HASHES_MAX][TLOG_HASH_SIZE],
				       size_t *ret_count)
{
	uint8_t old[TLOG_STORED_HASHES_MAX][TLOG_HASH_SIZE];
	uint8_t hashes[TLOG_STORED_HASHES_MAX][TLOG_HASH_SIZE];
	struct needed needed = { .len = 0 };
	int completed, i, r;

	if (n < 0 || n >= TLOG_TREE_SIZE_MAX || !record_hash)
		return -EINVAL;
	/* Each trailing 1 bit of n completes a subtree, whose left sibling is
	 * already stored; read those siblings, largest (leftmost) first. */
	completed = trailing_zeros((uint64_t)n + 1);
	for (i = completed - 1; i >= 0; i--) {
		r = needed_add(&needed, tlog_stored_hash_index(i, (n >> i) - 1));
		if (r < 0)
			return r;
	}
	r = read_hashes(reader, ctx, &needed, old);
	if (r < 0)
		return r;

	memcpy(hashes[0], record_hash, TLOG_HASH_SIZE);
	for (i = 0; i < completed; i++)
		tlog_node_hash(old[completed - 1 - i], hashes[i], hashes[i + 1]);

	memcpy(ret_hashes, hashes, (size_t)(completed + 1) * TLOG_HASH_SIZE);
	*ret_count = (size_t)completed + 1;
	return 0;
}

int tlog_stored_hashes(int64_t n, const void *entry, size_t entry_len, tlog_hash_reader reader,
		       void *ctx, uint8_t ret_hashes[TLOG_STORED_HASHES_MAX][TLOG_HASH_SIZE],
		       size_t *ret_count)
{
	uint8_t record_hash[TLOG_HASH_SIZE];

	if (!entry && entry_len > 0)
		return -EINVAL;
	tlog_record_hash(entry, entry_len, record_hash);
	return tlog_stored_hashes_for_record_hash(n, record_hash, reader, ctx, ret_hashes,
						  ret_count);
}

int tlog_tree_hash(int64_t n, tlog_hash_reader reader, void *ctx, uint8_t ret_root[TLOG_HASH_SIZE])
{
	uint8_t hashes[NEEDED_MAX][TLOG_HASH_SIZE], root[TLOG_HASH_SIZE];
	struct needed needed = { .len = 0 };
	size_t pos = 0;
	int r;

	if (n < 0 || n > TLOG_TREE_SIZE_MAX)
		return -EINVAL;
	if (n == 0) {
		crypto_hash_sha256(ret_root, (const unsigned char *)"", 0);
		return 0;
	}
	r = needed_for_subtree(&needed, 0, n);
	if (r < 0)
		return r;
	r = read_hashes(reader, ctx, &needed, hashes);
	if (r < 0)
		return r;
	r = subtree_hash(0, n, (const uint8_t(*)[TLOG_HASH_SIZE])hashes, needed.len, &pos, root);
	if (r < 0)
		return r;
	memcpy(ret_root, root, TLOG_HASH_SIZE);
	return 0;
}

/* Reads the stored hashes of the given subtrees, listed root side first, and
 * returns their hashes in proof order (leaf side first). */
static int prove_ranges(const struct range *ranges, size_t n_ranges, tlog_hash_reader reader,
			void *ctx, uint8_t ret_proof[TLOG_PROOF_MAX][TLOG_HASH_SIZE],
			size_t *ret_len)
{
	uint8_t hashes[NEEDED_MAX][TLOG_HASH_SIZE], proof[TLOG_PROOF_MAX][TLOG_HASH_SIZE];
	struct needed needed = { .len = 0 };
	size_t pos = 0, i;
	int r;

	if (n_ranges > TLOG_PROOF_MAX)
		return -EPROTO;
	for (i = n_ranges; i-- > 0;) {
		r = needed_for_subtree(&needed, ranges[i].lo, ranges[i].hi);
		if (r < 0)
			return r;
	}
	r = read_hashes(reader, ctx, &needed, hashes);
	if (r < 0)
		return r;
	for (i = 0; i < n_ranges; i++) {
		const struct range *range = &ranges[n_ranges - 1 - i];

		r = subtree_hash(range->lo, range->hi, (const uint8_t(*)[TLOG_HASH_SIZE])hashes,
				 needed.len, &pos, proof[i]);
		if (r < 0)
			return r;
	}
	if (pos != needed.len)
		return -EPROTO;
	memcpy(ret_proof, proof, n_ranges * TLOG_HASH_SIZE);
	*ret_len = n_ranges;
	return 0;
}

int tlog_prove_record(int64_t t, int64_t n, tlog_hash_reader reader, void *ctx,
		      uint8_t ret_proof[TLOG_PROOF_MAX][TLOG_HASH_SIZE], size_t *ret_len)
{
	struct range ranges[RANGES_MAX];
	size_t n_ranges = 0;
	int64_t lo = 0, hi = t;

	if (t < 1 || t > TLOG_TREE_SIZE_MAX || n < 0 || n >= t)
		return -EINVAL;
	/* Walk from the root down to the leaf, noting the subtree beside the
	 * path at each level: the verifier needs exactly those hashes. */
	while (hi - lo > 1) {
		int64_t k = split_point(hi - lo);

		if (n_ranges >= RANGES_MAX)
			return -EPROTO;
		if (n < lo + k) {
			ranges[n_ranges++] = (struct range){ lo + k, hi };
			hi = lo + k;
		} else {
			ranges[n_ranges++] = (struct range){ lo, lo + k };
			lo += k;
		}
	}
	return prove_ranges(ranges, n_ranges, reader, ctx, ret_proof, ret_len);
}

int tlog_prove_tree(int64_t t, int64_t n, tlog_hash_reader reader, void *ctx,
		    uint8_t ret_proof[TLOG_PROOF_MAX][TLOG_HASH_SIZE], size_t *ret_len)
{
	struct range ranges[RANGES_MAX];
	size_t n_ranges = 0;
	int64_t lo = 0, hi = t;

	if (t < 1 || t > TLOG_TREE_SIZE_MAX || n < 1 || n > t)
		return -EINVAL;
	/* RFC 9162 §2.1.4.1: walk down until a subtree ends exactly where the
	 * old tree ends, noting the subtrees beside the path. */
	while (n != hi) {
		int64_t k = split_point(hi - lo);

		if (n_ranges >= RANGES_MAX)
			return -EPROTO;
		if (n <= lo + k) {
			ranges[n_ranges++] = (struct range){ lo + k, hi };
			hi = lo + k;
		} else {
			ranges[n_ranges++] = (struct range){ lo, lo + k };
			lo += k;
		}
	}
	/* That common subtree is the whole old tree when lo is 0, and the
	 * verifier knows its root; otherwise the proof starts with its hash. */
	if (lo != 0) {
		if (n_ranges >= RANGES_MAX)
			return -EPROTO;
		ranges[n_ranges++] = (struct range){ lo, hi };
	}
	return prove_ranges(ranges, n_ranges, reader, ctx, ret_proof, ret_len);
}

static bool hash_equal(const uint8_t a[TLOG_HASH_SIZE], const uint8_t b[TLOG_HASH_SIZE])
{
	return memcmp(a, b, TLOG_HASH_SIZE) == 0;
}

int tlog_check_record(const uint8_t (*proof)[TLOG_HASH_SIZE], size_t proof_len, int64_t t,
		      const uint8_t root_t[TLOG_HASH_SIZE], int64_t n,
		      const uint8_t leaf_hash[TLOG_HASH_SIZE])
{
	uint8_t hash[TLOG_HASH_SIZE];
	uint64_t fn, sn;

	if ((!proof && proof_len > 0) || proof_len > TLOG_PROOF_MAX || !root_t || !leaf_hash)
		return -EINVAL;
	if (t < 1 || n < 0 || n >= t)
		return -EINVAL;

	/* fn is the node's index on its level, sn the last index on that level. */
	fn = (uint64_t)n;
	sn = (uint64_t)t - 1;
	memcpy(hash, leaf_hash, TLOG_HASH_SIZE);
	for (size_t i = 0; i < proof_len; i++) {
		if (sn == 0)
			return -EBADMSG;
		if ((fn & 1) || fn == sn) {
			tlog_node_hash(proof[i], hash, hash);
			/* A last node without a right sibling moves up unchanged. */
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			tlog_node_hash(hash, proof[i], hash);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || !hash_equal(hash, root_t))
		return -EBADMSG;
	return 0;
}

int tlog_check_tree(const uint8_t (*proof)[TLOG_HASH_SIZE], size_t proof_len, int64_t t,
		    const uint8_t root_t[TLOG_HASH_SIZE], int64_t n,
		    const uint8_t root_n[TLOG_HASH_SIZE])
{
	uint8_t first[TLOG_HASH_SIZE], second[TLOG_HASH_SIZE];
	uint64_t fn, sn;
	size_t i = 0;

	if ((!proof && proof_len > 0) || proof_len > TLOG_PROOF_MAX || !root_t || !root_n)
		return -EINVAL;
	if (n < 1 || t < n)
		return -EINVAL;
	if (n == t)
		return proof_len == 0 && hash_equal(root_n, root_t) ? 0 : -EBADMSG;
	if (proof_len == 0)
		return -EBADMSG;

	/* When the old tree is a complete subtree of the new one, the proof
	 * leaves out its root, which the verifier already has: start from it. */
	if ((n & (n - 1)) == 0) {
		memcpy(first, root_n, TLOG_HASH_SIZE);
	} else {
		memcpy(first, proof[0], TLOG_HASH_SIZE);
		i = 1;
	}
	memcpy(second, first, TLOG_HASH_SIZE);
	fn = (uint64_t)n - 1;
	sn = (uint64_t)t - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	for (; i < proof_len; i++) {
		if (sn == 0)
			return -EBADMSG;
		if ((fn & 1) || fn == sn) {
			tlog_node_hash(proof[i], first, first);
			tlog_node_hash(proof[i], second, second);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			tlog_node_hash(second, proof[i], second);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || !hash_equal(first, root_n) || !hash_equal(second, root_t))
		return -EBADMSG;
	return 0;
}
