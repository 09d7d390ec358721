/* Transparency log core: stored hashes and roots against a naive RFC 6962
 * tree, proofs that verify and stop verifying when touched, the RFC 6962 test
 * vectors, signed notes (the C2SP and Go examples) and checkpoints. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "source-file.h"
#include "coopbill/tlog.h"

/* Property tests cover every tree up to this size. */
#define TREE_MAX 300
/* Trees up to this size are also compared with RFC 6962's recursive proof
 * definitions, and their proofs get every bit flipped. */
#define SMALL_TREE_MAX	  64
#define FLIP_ALL_TREE_MAX 12
/* Proofs get tampered with for every tree up to this size, and for a sample
 * of indexes and old sizes (the ends and every seventh) in larger trees. */
#define TAMPER_ALL_TREE_MAX 100

/* The storage a test log appends to: its hashes in storage order. */
struct memory_store {
	uint8_t (*hashes)[TLOG_HASH_SIZE];
	int64_t count;
	/* Reads past this index fail, so a proof for a smaller tree can only
	 * use what that tree had stored. */
	int64_t readable;
};

struct fixture {
	struct memory_store store;
	uint8_t leaves[TREE_MAX][TLOG_HASH_SIZE];
	uint8_t roots[TREE_MAX + 1][TLOG_HASH_SIZE];
};

static int memory_read(void *ctx, const int64_t *indexes, size_t n_indexes,
		       uint8_t (*ret_hashes)[TLOG_HASH_SIZE])
{
	const struct memory_store *store = ctx;

	for (size_t i = 0; i < n_indexes; i++)
		if (indexes[i] < 0 || indexes[i] >= store->readable)
			return -ENOENT;
	for (size_t i = 0; i < n_indexes; i++)
		memcpy(ret_hashes[i], store->hashes[indexes[i]], TLOG_HASH_SIZE);
	return 0;
}

static int failing_read(void *ctx, const int64_t *indexes, size_t n_indexes,
			uint8_t (*ret_hashes)[TLOG_HASH_SIZE])
{
	return -EIO;
}

static void empty_root(uint8_t ret_root[TLOG_HASH_SIZE])
{
	crypto_hash_sha256(ret_root, (const unsigned char *)"", 0);
}

static int64_t split_point(int64_t n)
{
	int64_t k = 1;

	while (k * 2 < n)
		k *= 2;
	return k;
}

/* RFC 6962 §2.1 MTH, straight from the definition. */
static void naive_root(const uint8_t (*leaves)[TLOG_HASH_SIZE], int64_t n,
		       uint8_t ret_root[TLOG_HASH_SIZE])
{
	uint8_t left[TLOG_HASH_SIZE], right[TLOG_HASH_SIZE];
	int64_t k;

	if (n == 0) {
		empty_root(ret_root);
		return;
	}
	if (n == 1) {
		memcpy(ret_root, leaves[0], TLOG_HASH_SIZE);
		return;
	}
	k = split_point(n);
	naive_root(leaves, k, left);
	naive_root(leaves + k, n - k, right);
	tlog_node_hash(left, right, ret_root);
}

/* RFC 6962 §2.1.1 PATH(m, D[n]). */
static void naive_path(const uint8_t (*leaves)[TLOG_HASH_SIZE], int64_t n, int64_t m,
		       uint8_t (*proof)[TLOG_HASH_SIZE], size_t *len)
{
	int64_t k;

	if (n <= 1)
		return;
	k = split_point(n);
	if (m < k) {
		naive_path(leaves, k, m, proof, len);
		naive_root(leaves + k, n - k, proof[(*len)++]);
	} else {
		naive_path(leaves + k, n - k, m - k, proof, len);
		naive_root(leaves, k, proof[(*len)++]);
	}
}

/* RFC 6962 §2.1.2 SUBPROOF(m, D[n], b). */
static void naive_subproof(const uint8_t (*leaves)[TLOG_HASH_SIZE], int64_t n, int64_t m,
			   bool complete, uint8_t (*proof)[TLOG_HASH_SIZE], size_t *len)
{
	int64_t k;

	if (m == n) {
		if (!complete)
			naive_root(leaves, n, proof[(*len)++]);
		return;
	}
	k = split_point(n);
	if (m <= k) {
		naive_subproof(leaves, k, m, complete, proof, len);
		naive_root(leaves + k, n - k, proof[(*len)++]);
	} else {
		naive_subproof(leaves + k, n - k, m - k, false, proof, len);
		naive_root(leaves, k, proof[(*len)++]);
	}
}

static int fixture_setup(void **state)
{
	struct fixture *fixture = calloc(1, sizeof(*fixture));

	if (!fixture)
		return -1;
	for (int i = 0; i < TREE_MAX; i++) {
		char entry[64];
		int len = snprintf(entry, sizeof(entry), "coopbill test record %d\n", i);

		tlog_record_hash(entry, (size_t)len, fixture->leaves[i]);
	}
	for (int n = 0; n <= TREE_MAX; n++)
		naive_root((const uint8_t(*)[TLOG_HASH_SIZE])fixture->leaves, n, fixture->roots[n]);
	*state = fixture;
	return 0;
}

static int fixture_teardown(void **state)
{
	struct fixture *fixture = *state;

	free(fixture->store.hashes);
	free(fixture);
	return 0;
}

/* Appends the fixture's records one by one, as the store will. */
static void fill_store(struct fixture *fixture)
{
	struct memory_store *store = &fixture->store;

	if (store->hashes)
		return;
	store->hashes = calloc((size_t)tlog_stored_hash_count(TREE_MAX), TLOG_HASH_SIZE);
	assert_non_null(store->hashes);
	for (int64_t n = 0; n < TREE_MAX; n++) {
		uint8_t hashes[TLOG_STORED_HASHES_MAX][TLOG_HASH_SIZE];
		size_t count;

		store->readable = store->count;
		assert_int_equal(tlog_stored_hashes_for_record_hash(
					 n, fixture->leaves[n], memory_read, store, hashes, &count),
				 0);
		memcpy(store->hashes[store->count], hashes, count * TLOG_HASH_SIZE);
		store->count += (int64_t)count;
	}
	store->readable = store->count;
}

static void test_stored_hash_index(void **state)
{
	/* The order Go's tlog stores them in: record 0's leaf; record 1's leaf
	 * and the pair's node; record 2's leaf; record 3's leaf, its pair's
	 * node and the node of the first four; record 4's leaf. */
	static const struct {
		int level;
		int64_t n, index;
	} known[] = { { 0, 0, 0 }, { 0, 1, 1 }, { 1, 0, 2 }, { 0, 2, 3 }, { 0, 3, 4 },
		      { 1, 1, 5 }, { 2, 0, 6 }, { 0, 4, 7 }, { 0, 5, 8 }, { 1, 2, 9 } };
	int64_t n;
	int level;

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		assert_int_equal(tlog_stored_hash_index(known[i].level, known[i].n),
				 known[i].index);
		assert_int_equal(tlog_split_stored_hash_index(known[i].index, &level, &n), 0);
		assert_int_equal(level, known[i].level);
		assert_int_equal(n, known[i].n);
	}

	/* Every index belongs to exactly one hash, and back. */
	for (int64_t index = 0; index < 20000; index++) {
		assert_int_equal(tlog_split_stored_hash_index(index, &level, &n), 0);
		assert_int_equal(tlog_stored_hash_index(level, n), index);
	}
	for (level = 0; level < 20; level++)
		for (int64_t i = 0; i < 300; i++) {
			int level2;
			int64_t n2;

			assert_int_equal(tlog_split_stored_hash_index(
						 tlog_stored_hash_index(level, i), &level2, &n2),
					 0);
			assert_int_equal(level2, level);
			assert_int_equal(n2, i);
		}

	/* The far end of the range still splits and joins exactly. */
	for (int64_t index = INT64_MAX; index > INT64_MAX - 1000; index--) {
		assert_int_equal(tlog_split_stored_hash_index(index, &level, &n), 0);
		assert_int_equal(tlog_stored_hash_index(level, n), index);
	}
	assert_true(tlog_stored_hash_count(TLOG_TREE_SIZE_MAX) > 0);
	assert_true(tlog_stored_hash_index(62, 0) > 0);
}

static void test_index_math_rejects_out_of_range(void **state)
{
	int level = 99;
	int64_t n = 99;

	assert_int_equal(tlog_stored_hash_index(-1, 0), -EINVAL);
	assert_int_equal(tlog_stored_hash_index(64, 0), -EINVAL);
	assert_int_equal(tlog_stored_hash_index(INT32_MAX, 0), -EINVAL);
	assert_int_equal(tlog_stored_hash_index(0, -1), -EINVAL);
	assert_int_equal(tlog_stored_hash_index(0, INT64_MIN), -EINVAL);
	assert_int_equal(tlog_stored_hash_index(0, INT64_MAX), -EINVAL);
	assert_int_equal(tlog_stored_hash_index(63, 1), -EINVAL);
	assert_int_equal(tlog_stored_hash_index(62, 1), -EINVAL);
	assert_int_equal(tlog_split_stored_hash_index(-1, &level, &n), -EINVAL);
	assert_int_equal(tlog_split_stored_hash_index(INT64_MIN, &level, &n), -EINVAL);
	assert_int_equal(level, 99);
	assert_int_equal(n, 99);
	assert_int_equal(tlog_stored_hash_count(-1), -EINVAL);
	assert_int_equal(tlog_stored_hash_count(INT64_MIN), -EINVAL);
	assert_int_equal(tlog_stored_hash_count(TLOG_TREE_SIZE_MAX + 1), -EINVAL);
	assert_int_equal(tlog_stored_hash_count(INT64_MAX), -EINVAL);
}

static void test_stored_hashes_give_rfc6962_roots(void **state)
{
	struct fixture *fixture = *state;
	struct memory_store store = { .count = 0 };
	uint8_t root[TLOG_HASH_SIZE];

	store.hashes = calloc((size_t)tlog_stored_hash_count(TREE_MAX), TLOG_HASH_SIZE);
	assert_non_null(store.hashes);
	assert_int_equal(tlog_stored_hash_count(0), 0);
	assert_int_equal(tlog_tree_hash(0, memory_read, &store, root), 0);
	assert_memory_equal(root, fixture->roots[0], TLOG_HASH_SIZE);

	for (int64_t n = 0; n < TREE_MAX; n++) {
		uint8_t hashes[TLOG_STORED_HASHES_MAX][TLOG_HASH_SIZE], leaf[TLOG_HASH_SIZE];
		char entry[64];
		int len = snprintf(entry, sizeof(entry), "coopbill test record %d\n", (int)n);
		size_t count;

		store.readable = store.count;
		assert_int_equal(tlog_stored_hashes(n, entry, (size_t)len, memory_read, &store,
						    hashes, &count),
				 0);
		/* 1 + ctz(n + 1) hashes, starting with the leaf, at the index
		 * the layout gives the leaf. */
		assert_int_equal(count, 1 + __builtin_ctzll((uint64_t)n + 1));
		tlog_record_hash(entry, (size_t)len, leaf);
		assert_memory_equal(hashes[0], leaf, TLOG_HASH_SIZE);
		assert_int_equal(tlog_stored_hash_index(0, n), store.count);
		memcpy(store.hashes[store.count], hashes, count * TLOG_HASH_SIZE);
		store.count += (int64_t)count;

		assert_int_equal(tlog_stored_hash_count(n + 1), store.count);
		store.readable = store.count;
		assert_int_equal(tlog_tree_hash(n + 1, memory_read, &store, root), 0);
		assert_memory_equal(root, fixture->roots[n + 1], TLOG_HASH_SIZE);
	}

	/* Older roots need only what their tree had stored. */
	for (int64_t n = 1; n <= TREE_MAX; n++) {
		store.readable = tlog_stored_hash_count(n);
		assert_int_equal(tlog_tree_hash(n, memory_read, &store, root), 0);
		assert_memory_equal(root, fixture->roots[n], TLOG_HASH_SIZE);
	}
	free(store.hashes);
}

static void test_reader_errors_pass_through(void **state)
{
	uint8_t hashes[TLOG_STORED_HASHES_MAX][TLOG_HASH_SIZE],
		proof[TLOG_PROOF_MAX][TLOG_HASH_SIZE];
	uint8_t root[TLOG_HASH_SIZE] = { 7 }, untouched[TLOG_HASH_SIZE] = { 7 };
	size_t count = 12345, len = 12345;

	assert_int_equal(tlog_stored_hashes(3, "x", 1, failing_read, NULL, hashes, &count), -EIO);
	assert_int_equal(tlog_tree_hash(5, failing_read, NULL, root), -EIO);
	assert_int_equal(tlog_prove_record(5, 1, failing_read, NULL, proof, &len), -EIO);
	assert_int_equal(tlog_prove_tree(5, 3, failing_read, NULL, proof, &len), -EIO);
	assert_int_equal(count, 12345);
	assert_int_equal(len, 12345);
	assert_memory_equal(root, untouched, TLOG_HASH_SIZE);
	/* Record 0 and record 2 complete no subtree and read nothing. */
	assert_int_equal(tlog_stored_hashes(0, "x", 1, failing_read, NULL, hashes, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(tlog_stored_hashes(2, "", 0, failing_read, NULL, hashes, &count), 0);
	assert_int_equal(count, 1);
}

static void flip_bit(uint8_t *bytes, size_t bit)
{
	bytes[bit / 8] ^= (uint8_t)(1u << (bit % 8));
}

/* tlog_check_record() and tlog_check_tree() take the same arguments: a proof,
 * the tree of size t with its root, and what it proves about n (a leaf hash
 * or the root of the tree of size n). */
typedef int (*proof_check_fn)(const uint8_t (*proof)[TLOG_HASH_SIZE], size_t proof_len, int64_t t,
			      const uint8_t root_t[TLOG_HASH_SIZE], int64_t n,
			      const uint8_t other[TLOG_HASH_SIZE]);

/* Bits to flip: every bit, or one picked from (t, n) with the given mixers;
 * and the hash appended to an empty proof to lengthen it. */
struct bit_choice {
	bool every_bit;
	unsigned t_mix, n_mix, hash_mix;
	bool pad_with_root;
};

/* Every way to touch a proof, its root or what it proves that must make the
 * check fail; the untouched proof must still pass. */
static void assert_proof_tamper_fails(proof_check_fn check, uint8_t (*proof)[TLOG_HASH_SIZE],
				      size_t len, int64_t t, uint8_t root[TLOG_HASH_SIZE],
				      int64_t n, uint8_t other[TLOG_HASH_SIZE],
				      const struct bit_choice *choice)
{
	const uint8_t(*cproof)[TLOG_HASH_SIZE] = (const uint8_t(*)[TLOG_HASH_SIZE])proof;
	size_t bits = choice->every_bit ? TLOG_HASH_SIZE * 8 : 1;

	for (size_t b = 0; b < bits; b++) {
		size_t bit = choice->every_bit ? b
					       : (size_t)(t * choice->t_mix + n * choice->n_mix) %
							 (TLOG_HASH_SIZE * 8);

		for (size_t i = 0; i < len; i++) {
			size_t bit_i = choice->every_bit ? bit
							 : (bit + i * choice->hash_mix) %
								   (TLOG_HASH_SIZE * 8);

			flip_bit(proof[i], bit_i);
			assert_int_equal(check(cproof, len, t, root, n, other), -EBADMSG);
			flip_bit(proof[i], bit_i);
		}
		flip_bit(root, bit);
		assert_int_equal(check(cproof, len, t, root, n, other), -EBADMSG);
		flip_bit(root, bit);
		flip_bit(other, bit);
		assert_int_equal(check(cproof, len, t, root, n, other), -EBADMSG);
		flip_bit(other, bit);
	}
	if (len > 0) {
		assert_int_equal(check(cproof, len - 1, t, root, n, other), -EBADMSG);
		assert_int_equal(check(cproof + 1, len - 1, t, root, n, other), -EBADMSG);
	}
	if (len < TLOG_PROOF_MAX) {
		memcpy(proof[len],
		       len > 0		       ? proof[0]
		       : choice->pad_with_root ? root
					       : other,
		       TLOG_HASH_SIZE);
		assert_int_equal(check(cproof, len + 1, t, root, n, other), -EBADMSG);
	}
	assert_int_equal(check(cproof, len, t, root, n, other), 0);
}

static void assert_record_proof_tamper_fails(uint8_t (*proof)[TLOG_HASH_SIZE], size_t len,
					     int64_t t, uint8_t root[TLOG_HASH_SIZE], int64_t n,
					     uint8_t leaf[TLOG_HASH_SIZE], bool every_bit)
{
	const struct bit_choice choice = { every_bit, 31, 7, 37, true };

	assert_proof_tamper_fails(tlog_check_record, proof, len, t, root, n, leaf, &choice);
	/* The same proof does not place the leaf at its neighbour's index. */
	if ((n ^ 1) < t)
		assert_int_equal(tlog_check_record((const uint8_t(*)[TLOG_HASH_SIZE])proof, len, t,
						   root, n ^ 1, leaf),
				 -EBADMSG);
}

static void test_inclusion_proofs(void **state)
{
	struct fixture *fixture = *state;
	struct memory_store *store = &fixture->store;

	fill_store(fixture);
	for (int64_t t = 1; t <= TREE_MAX; t++) {
		store->readable = tlog_stored_hash_count(t);
		for (int64_t n = 0; n < t; n++) {
			uint8_t proof[TLOG_PROOF_MAX + 1][TLOG_HASH_SIZE];
			uint8_t root[TLOG_HASH_SIZE], leaf[TLOG_HASH_SIZE];
			size_t len;

			assert_int_equal(tlog_prove_record(t, n, memory_read, store, proof, &len),
					 0);
			memcpy(root, fixture->roots[t], TLOG_HASH_SIZE);
			memcpy(leaf, fixture->leaves[n], TLOG_HASH_SIZE);
			assert_int_equal(tlog_check_record((const uint8_t(*)[TLOG_HASH_SIZE])proof,
							   len, t, root, n, leaf),
					 0);
			if (t <= SMALL_TREE_MAX) {
				uint8_t expected[TLOG_PROOF_MAX][TLOG_HASH_SIZE];
				size_t expected_len = 0;

				naive_path((const uint8_t(*)[TLOG_HASH_SIZE])fixture->leaves, t, n,
					   expected, &expected_len);
				assert_int_equal(len, expected_len);
				assert_memory_equal(proof, expected, len * TLOG_HASH_SIZE);
			}
			if (t <= TAMPER_ALL_TREE_MAX || n % 7 == 0 || n < 4 || t - n < 4)
				assert_record_proof_tamper_fails(proof, len, t, root, n, leaf,
								 t <= FLIP_ALL_TREE_MAX);
		}
	}
	store->readable = store->count;
}

static void assert_tree_proof_tamper_fails(uint8_t (*proof)[TLOG_HASH_SIZE], size_t len, int64_t t,
					   uint8_t root_t[TLOG_HASH_SIZE], int64_t n,
					   uint8_t root_n[TLOG_HASH_SIZE], bool every_bit)
{
	const struct bit_choice choice = { every_bit, 29, 11, 41, false };

	assert_proof_tamper_fails(tlog_check_tree, proof, len, t, root_t, n, root_n, &choice);
}

static void test_consistency_proofs(void **state)
{
	struct fixture *fixture = *state;
	struct memory_store *store = &fixture->store;

	fill_store(fixture);
	for (int64_t t = 1; t <= TREE_MAX; t++) {
		store->readable = tlog_stored_hash_count(t);
		for (int64_t n = 1; n <= t; n++) {
			uint8_t proof[TLOG_PROOF_MAX + 1][TLOG_HASH_SIZE];
			uint8_t root_t[TLOG_HASH_SIZE], root_n[TLOG_HASH_SIZE];
			size_t len;

			assert_int_equal(tlog_prove_tree(t, n, memory_read, store, proof, &len), 0);
			memcpy(root_t, fixture->roots[t], TLOG_HASH_SIZE);
			memcpy(root_n, fixture->roots[n], TLOG_HASH_SIZE);
			assert_int_equal(tlog_check_tree((const uint8_t(*)[TLOG_HASH_SIZE])proof,
							 len, t, root_t, n, root_n),
					 0);
			if (t <= SMALL_TREE_MAX) {
				uint8_t expected[TLOG_PROOF_MAX][TLOG_HASH_SIZE];
				size_t expected_len = 0;

				naive_subproof((const uint8_t(*)[TLOG_HASH_SIZE])fixture->leaves, t,
					       n, true, expected, &expected_len);
				assert_int_equal(len, expected_len);
				assert_memory_equal(proof, expected, len * TLOG_HASH_SIZE);
			}
			if (t <= TAMPER_ALL_TREE_MAX || n % 7 == 0 || n < 4 || t - n < 4)
				assert_tree_proof_tamper_fails(proof, len, t, root_t, n, root_n,
							       t <= FLIP_ALL_TREE_MAX);
		}
	}
	store->readable = store->count;
}

/* Stands in for a log of 2^62 records: any hash it is asked for, as long as
 * the tree of size `size` has stored it. */
struct huge_store {
	int64_t size;
	size_t reads;
};

static int huge_read(void *ctx, const int64_t *indexes, size_t n_indexes,
		     uint8_t (*ret_hashes)[TLOG_HASH_SIZE])
{
	struct huge_store *store = ctx;
	int64_t count = tlog_stored_hash_count(store->size);

	for (size_t i = 0; i < n_indexes; i++) {
		int level;
		int64_t n;

		if (indexes[i] < 0 || indexes[i] >= count ||
		    tlog_split_stored_hash_index(indexes[i], &level, &n) < 0 ||
		    ((n + 1) << level) > store->size)
			return -ENOENT;
		crypto_hash_sha256(ret_hashes[i], (const uint8_t *)&indexes[i], sizeof(indexes[i]));
	}
	store->reads += n_indexes;
	return 0;
}

static void test_huge_trees(void **state)
{
	static const int64_t sizes[] = { TLOG_TREE_SIZE_MAX, TLOG_TREE_SIZE_MAX - 1,
					 (INT64_C(1) << 61) + 12345, INT64_C(0x2aaaaaaaaaaaaaaa),
					 INT64_C(0x3fffffffffffffff) - 64 };
	uint8_t proof[TLOG_PROOF_MAX][TLOG_HASH_SIZE], root[TLOG_HASH_SIZE];
	size_t len;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct huge_store store = { .size = sizes[i] };
		int64_t t = sizes[i];
		const int64_t others[] = { 1, 2, 3, t / 3, t / 2, t - 2, t - 1, t };

		assert_int_equal(tlog_tree_hash(t, huge_read, &store, root), 0);
		for (size_t j = 0; j < sizeof(others) / sizeof(others[0]); j++) {
			int64_t n = others[j];

			assert_int_equal(tlog_prove_tree(t, n, huge_read, &store, proof, &len), 0);
			assert_true(len <= 64);
			if (n < t) {
				assert_int_equal(
					tlog_prove_record(t, n, huge_read, &store, proof, &len), 0);
				assert_true(len >= 1 && len <= 62);
			}
		}
		if (t < TLOG_TREE_SIZE_MAX) {
			uint8_t hashes[TLOG_STORED_HASHES_MAX][TLOG_HASH_SIZE];
			size_t count;

			assert_int_equal(
				tlog_stored_hashes(t, "x", 1, huge_read, &store, hashes, &count),
				0);
			assert_int_equal(count, 1 + __builtin_ctzll((uint64_t)t + 1));
		}
	}
}

static void test_hostile_arguments(void **state)
{
	uint8_t proof[TLOG_PROOF_MAX + 1][TLOG_HASH_SIZE] = { { 0 } };
	const uint8_t(*cproof)[TLOG_HASH_SIZE] = (const uint8_t(*)[TLOG_HASH_SIZE])proof;
	uint8_t hash[TLOG_HASH_SIZE] = { 0 }, root[TLOG_HASH_SIZE] = { 0 };
	struct memory_store store = { .count = 0 };
	size_t len = 999;

	/* Generation: sizes and indexes out of range. */
	assert_int_equal(tlog_prove_record(0, 0, memory_read, &store, proof, &len), -EINVAL);
	assert_int_equal(tlog_prove_record(5, 5, memory_read, &store, proof, &len), -EINVAL);
	assert_int_equal(tlog_prove_record(5, -1, memory_read, &store, proof, &len), -EINVAL);
	assert_int_equal(tlog_prove_record(-5, 1, memory_read, &store, proof, &len), -EINVAL);
	assert_int_equal(tlog_prove_record(INT64_MAX, 1, memory_read, &store, proof, &len),
			 -EINVAL);
	assert_int_equal(tlog_prove_tree(5, 0, memory_read, &store, proof, &len), -EINVAL);
	assert_int_equal(tlog_prove_tree(5, 6, memory_read, &store, proof, &len), -EINVAL);
	assert_int_equal(tlog_prove_tree(-1, -2, memory_read, &store, proof, &len), -EINVAL);
	assert_int_equal(tlog_prove_tree(INT64_MAX, 3, memory_read, &store, proof, &len), -EINVAL);
	assert_int_equal(len, 999);
	assert_int_equal(tlog_tree_hash(-1, memory_read, &store, root), -EINVAL);
	assert_int_equal(tlog_tree_hash(INT64_MAX, memory_read, &store, root), -EINVAL);
	assert_int_equal(tlog_stored_hashes(-1, "x", 1, memory_read, &store, proof, &len), -EINVAL);
	assert_int_equal(
		tlog_stored_hashes(TLOG_TREE_SIZE_MAX, "x", 1, memory_read, &store, proof, &len),
		-EINVAL);
	assert_int_equal(tlog_stored_hashes(0, NULL, 1, memory_read, &store, proof, &len), -EINVAL);
	/* A store that lacks what the tree needs. */
	assert_int_equal(tlog_tree_hash(3, memory_read, &store, root), -ENOENT);
	assert_int_equal(tlog_prove_record(3, 1, memory_read, &store, proof, &len), -ENOENT);

	/* Verification: never a crash, never a success. */
	assert_int_equal(tlog_check_record(cproof, TLOG_PROOF_MAX + 1, 10, root, 3, hash), -EINVAL);
	assert_int_equal(tlog_check_record(cproof, SIZE_MAX, 10, root, 3, hash), -EINVAL);
	assert_int_equal(tlog_check_record(NULL, 1, 10, root, 3, hash), -EINVAL);
	assert_int_equal(tlog_check_record(cproof, 1, 10, NULL, 3, hash), -EINVAL);
	assert_int_equal(tlog_check_record(cproof, 1, 10, root, 3, NULL), -EINVAL);
	assert_int_equal(tlog_check_record(cproof, 0, 0, root, 0, hash), -EINVAL);
	assert_int_equal(tlog_check_record(cproof, 0, -1, root, 0, hash), -EINVAL);
	assert_int_equal(tlog_check_record(cproof, 0, 1, root, -1, hash), -EINVAL);
	assert_int_equal(tlog_check_record(cproof, 0, 1, root, 1, hash), -EINVAL);
	assert_int_equal(tlog_check_record(cproof, 4, INT64_MIN, root, INT64_MIN, hash), -EINVAL);
	assert_int_equal(tlog_check_record(cproof, 4, 4, root, INT64_MAX, hash), -EINVAL);
	for (size_t l = 0; l <= TLOG_PROOF_MAX; l++) {
		assert_int_equal(tlog_check_record(cproof, l, INT64_MAX, root, INT64_MAX - 1, hash),
				 -EBADMSG);
		assert_int_equal(tlog_check_record(cproof, l, INT64_MAX, root, 0, hash), -EBADMSG);
		assert_int_equal(tlog_check_tree(cproof, l, INT64_MAX, root, INT64_MAX - 1, hash),
				 -EBADMSG);
		assert_int_equal(tlog_check_tree(cproof, l, INT64_MAX, root, 1, hash), -EBADMSG);
	}
	assert_int_equal(tlog_check_tree(cproof, TLOG_PROOF_MAX + 1, 10, root, 3, hash), -EINVAL);
	assert_int_equal(tlog_check_tree(NULL, 2, 10, root, 3, hash), -EINVAL);
	assert_int_equal(tlog_check_tree(cproof, 1, 10, NULL, 3, hash), -EINVAL);
	assert_int_equal(tlog_check_tree(cproof, 0, 10, root, 0, hash), -EINVAL);
	assert_int_equal(tlog_check_tree(cproof, 0, 0, root, 0, root), -EINVAL);
	assert_int_equal(tlog_check_tree(cproof, 0, 3, root, 4, hash), -EINVAL);
	assert_int_equal(tlog_check_tree(cproof, 0, -3, root, -4, hash), -EINVAL);
	assert_int_equal(tlog_check_tree(cproof, 0, INT64_MIN, root, INT64_MIN, hash), -EINVAL);
	/* Equal sizes: equal roots and nothing else. */
	assert_int_equal(tlog_check_tree(cproof, 0, 7, root, 7, root), 0);
	assert_int_equal(tlog_check_tree(cproof, 1, 7, root, 7, root), -EBADMSG);
	hash[0] = 1;
	assert_int_equal(tlog_check_tree(cproof, 0, 7, root, 7, hash), -EBADMSG);
}

/* RFC 6962 vectors. */

struct vector_counts {
	int inclusion, consistency, accepted, rejected, malformed, failures;
};

static struct vector_counts *vector_counts;

/* Proof hashes and leaf hashes must be 32 bytes: anything else is malformed,
 * and a client rejects it while decoding. Roots in a few vectors are
 * placeholders of other lengths that the checks only compare for equality:
 * those map to SHA-256("placeholder" || bytes), which keeps equal placeholders
 * equal and never equals a real hash. */
static bool decode_hash(const json_t *value, bool placeholder_ok, uint8_t ret_hash[TLOG_HASH_SIZE])
{
	uint8_t bytes[256];
	size_t len;
	const char *text = json_string_value(value);

	if (!text || sodium_base642bin(bytes, sizeof(bytes), text, strlen(text), NULL, &len, NULL,
				       sodium_base64_VARIANT_ORIGINAL) != 0)
		return false;
	if (len == TLOG_HASH_SIZE) {
		memcpy(ret_hash, bytes, TLOG_HASH_SIZE);
		return true;
	}
	if (!placeholder_ok)
		return false;
	crypto_hash_sha256_state sha;
	crypto_hash_sha256_init(&sha);
	crypto_hash_sha256_update(&sha, (const uint8_t *)"placeholder", 11);
	crypto_hash_sha256_update(&sha, bytes, len);
	crypto_hash_sha256_final(&sha, ret_hash);
	return true;
}

static bool decode_proof(const json_t *value, uint8_t (*ret_proof)[TLOG_HASH_SIZE], size_t *ret_len)
{
	size_t i;
	json_t *item;

	if (json_is_null(value)) {
		*ret_len = 0;
		return true;
	}
	if (!json_is_array(value) || json_array_size(value) > TLOG_PROOF_MAX)
		return false;
	json_array_foreach(value, i,
			   item) if (!decode_hash(item, false, ret_proof[i])) return false;
	*ret_len = json_array_size(value);
	return true;
}

/* Vectors are read with integers as doubles, because some hold 2^64 - 1,
 * which jansson's integers cannot; the sizes in use are far below 2^53, so
 * they convert exactly. A size outside int64_t is one no tree can have: the
 * API cannot even be asked, and the vector counts as rejected. */
static bool get_size(const json_t *object, const char *key, int64_t *ret_size, bool *ret_in_range)
{
	const json_t *value = json_object_get(object, key);
	double number;

	if (!json_is_number(value))
		return false;
	number = json_number_value(value);
	*ret_in_range = number >= -9223372036854775808.0 && number < 9223372036854775808.0;
	if (*ret_in_range) {
		*ret_size = (int64_t)number;
		if ((double)*ret_size != number)
			return false;
	}
	return true;
}

/* Returns the verifier's answer to one vector, or VECTOR_MALFORMED. */
/* A vector the client cannot even decode into the API's types. */
#define VECTOR_MALFORMED 1

static int check_vector(const char *path, const json_t *vector)
{
	uint8_t proof[TLOG_PROOF_MAX][TLOG_HASH_SIZE], a[TLOG_HASH_SIZE], b[TLOG_HASH_SIZE];
	const uint8_t(*cproof)[TLOG_HASH_SIZE] = (const uint8_t(*)[TLOG_HASH_SIZE])proof;
	bool inclusion = strstr(path, "/inclusion/") != NULL;
	bool in_range_a = false, in_range_b = false;
	int64_t size_a = 0, size_b = 0;
	size_t len;

	if (inclusion)
		vector_counts->inclusion++;
	else if (strstr(path, "/consistency/"))
		vector_counts->consistency++;
	else
		fail_msg("%s: neither an inclusion nor a consistency vector", path);
	if (!get_size(vector, inclusion ? "leafIdx" : "size1", &size_a, &in_range_a) ||
	    !get_size(vector, inclusion ? "treeSize" : "size2", &size_b, &in_range_b))
		fail_msg("%s: sizes missing", path);

	if (!in_range_a || !in_range_b)
		return VECTOR_MALFORMED;
	if (!decode_proof(json_object_get(vector, "proof"), proof, &len))
		return VECTOR_MALFORMED;
	if (inclusion) {
		if (!decode_hash(json_object_get(vector, "root"), true, a) ||
		    !decode_hash(json_object_get(vector, "leafHash"), false, b))
			return VECTOR_MALFORMED;
		return tlog_check_record(cproof, len, size_b, a, size_a, b);
	}
	if (!decode_hash(json_object_get(vector, "root1"), true, a) ||
	    !decode_hash(json_object_get(vector, "root2"), true, b))
		return VECTOR_MALFORMED;
	return tlog_check_tree(cproof, len, size_b, b, size_a, a);
}

static int visit_vector(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	size_t path_len = strlen(path);
	json_error_t error;
	json_t *vector;
	const json_t *want_error;
	int r;

	if (type != FTW_F || path_len < 5 || strcmp(path + path_len - 5, ".json") != 0)
		return 0;
	vector = json_load_file(path, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &error);
	if (!vector)
		fail_msg("%s: %s", path, error.text);
	want_error = json_object_get(vector, "wantErr");
	if (!json_is_boolean(want_error))
		fail_msg("%s: no wantErr", path);

	r = check_vector(path, vector);
	if (r == 0)
		vector_counts->accepted++;
	else if (r == VECTOR_MALFORMED)
		vector_counts->malformed++;
	else
		vector_counts->rejected++;
	if (json_is_true(want_error) ? r == 0 : r != 0) {
		print_error("%s: %s, want %s\n", path,
			    r == 0		    ? "accepted"
			    : r == VECTOR_MALFORMED ? "malformed"
						    : strerror(-r),
			    json_is_true(want_error) ? "rejection" : "acceptance");
		vector_counts->failures++;
	}
	json_decref(vector);
	return 0;
}

static void test_rfc6962_vectors(void **state)
{
	const char *srcdir = getenv("COOPBILL_SRCDIR");
	struct vector_counts counts = { 0 };
	char path[4096];

	if (!srcdir)
		skip();
	snprintf(path, sizeof(path), "%s/tests/data/rfc6962", srcdir);
	vector_counts = &counts;
	assert_int_equal(nftw(path, visit_vector, 16, FTW_PHYS), 0);
	vector_counts = NULL;
	assert_int_equal(counts.failures, 0);
	/* The directory holds 98 of each; losing some would go unnoticed otherwise. */
	assert_int_equal(counts.inclusion, 98);
	assert_int_equal(counts.consistency, 98);
	assert_int_equal(counts.accepted, 12);
	/* Of the 184 to reject, 31 carry hashes of the wrong length or an index
	 * of 2^64 - 1, and the checks themselves refuse the other 153. */
	assert_int_equal(counts.malformed, 31);
	assert_int_equal(counts.rejected, 153);
}

/* Signed notes. */

static bool note_opens(const char *note, size_t note_len, const struct tlog_verifier *verifier)
{
	char *text = NULL;
	size_t text_len;
	int r = tlog_note_open(note, note_len, verifier, &text, &text_len);

	if (r == 0) {
		free(text);
		return true;
	}
	assert_true(r == -EBADMSG || r == -EKEYREJECTED || r == -ENOKEY);
	assert_null(text);
	return false;
}

static void test_c2sp_example_verifies(void **state)
{
	struct tlog_verifier verifier;
	char *key, *note, *message, *text, formatted[TLOG_VERIFIER_KEY_TEXT_MAX];
	size_t key_len, note_len, message_len, text_len;

	if (!getenv("COOPBILL_SRCDIR"))
		skip();
	key = read_source_file("tests/data/signed-note/verifier-key.txt", &key_len);
	note = read_source_file("tests/data/signed-note/note.txt", &note_len);
	message = read_source_file("tests/data/signed-note/message.txt", &message_len);
	key[strcspn(key, "\n")] = '\0';

	assert_int_equal(tlog_verifier_parse(key, &verifier), 0);
	assert_string_equal(verifier.name, "example.com/foo");
	assert_int_equal(verifier.key_id, 0x530d903a);
	assert_int_equal(tlog_verifier_format(&verifier, formatted), 0);
	assert_string_equal(formatted, key);

	assert_int_equal(tlog_note_open(note, note_len, &verifier, &text, &text_len), 0);
	assert_int_equal(text_len, message_len);
	assert_string_equal(text, message);
	free(text);

	/* Any single flipped bit anywhere in the note: message, blank line,
	 * em dash, key name, key ID or signature. */
	for (size_t i = 0; i < note_len; i++)
		for (int bit = 0; bit < 8; bit++) {
			note[i] ^= (char)(1 << bit);
			if (note_opens(note, note_len, &verifier))
				fail_msg("note with byte %zu bit %d flipped verifies", i, bit);
			note[i] ^= (char)(1 << bit);
		}
	/* Any single flipped bit in the verifier key, name and ID included,
	 * either spoils the key or makes it another key. */
	for (size_t i = 0; i < strlen(key); i++)
		for (int bit = 0; bit < 7; bit++) {
			struct tlog_verifier other;

			key[i] ^= (char)(1 << bit);
			if (tlog_verifier_parse(key, &other) == 0 &&
			    note_opens(note, note_len, &other))
				fail_msg("key with byte %zu bit %d flipped verifies", i, bit);
			key[i] ^= (char)(1 << bit);
		}
	/* Truncations never verify. */
	for (size_t len = 0; len < note_len; len++)
		assert_false(note_opens(note, len, &verifier));
	assert_true(note_opens(note, note_len, &verifier));

	free(key);
	free(note);
	free(message);
}

/* The example from Go's golang.org/x/mod/sumdb/note documentation. */
#define GO_SIGNER_KEY \
	"PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
#define GO_VERIFIER_KEY "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
#define GO_TEXT                                                      \
	"If you think cryptography is the answer to your problem,\n" \
	"then you don't know what your problem is.\n"
#define GO_NOTE                                                                       \
	GO_TEXT "\n"                                                                  \
		"\xe2\x80\x94 PeterNeumann "                                          \
		"x08go/ZJkuBS9UG/"                                                    \
		"SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6R" \
		"yyBwJnAM=\n"

static void test_go_example_signs_byte_for_byte(void **state)
{
	struct tlog_signer signer;
	struct tlog_verifier verifier;
	char text[TLOG_SIGNER_KEY_TEXT_MAX], *note, *opened;
	size_t note_len, opened_len;

	assert_int_equal(tlog_signer_parse(GO_SIGNER_KEY, &signer), 0);
	assert_int_equal(tlog_signer_format(&signer, text), 0);
	assert_string_equal(text, GO_SIGNER_KEY);
	assert_int_equal(tlog_verifier_format(&signer.verifier, text), 0);
	assert_string_equal(text, GO_VERIFIER_KEY);
	assert_int_equal(tlog_verifier_parse(GO_VERIFIER_KEY, &verifier), 0);
	assert_memory_equal(&verifier, &signer.verifier, sizeof(verifier));

	assert_int_equal(tlog_note_sign(GO_TEXT, strlen(GO_TEXT), &signer, &note, &note_len), 0);
	assert_int_equal(note_len, strlen(GO_NOTE));
	assert_string_equal(note, GO_NOTE);
	assert_int_equal(tlog_note_open(note, note_len, &verifier, &opened, &opened_len), 0);
	assert_string_equal(opened, GO_TEXT);
	assert_int_equal(opened_len, strlen(GO_TEXT));
	free(opened);
	free(note);
	tlog_signer_wipe(&signer);
}

static void test_keys_round_trip(void **state)
{
	static const uint8_t separator[2] = { '\n', 0x01 };
	struct tlog_signer signer, parsed;
	struct tlog_verifier verifier;
	char signer_text[TLOG_SIGNER_KEY_TEXT_MAX], verifier_text[TLOG_VERIFIER_KEY_TEXT_MAX];
	crypto_hash_sha256_state sha;
	uint8_t hash[crypto_hash_sha256_BYTES];
	const char *name = "coop.example/log";

	assert_int_equal(tlog_signer_generate(name, &signer), 0);
	assert_string_equal(signer.verifier.name, name);
	/* The key ID is SHA-256(name || "\n" || 0x01 || public key)[:4]. */
	crypto_hash_sha256_init(&sha);
	crypto_hash_sha256_update(&sha, (const uint8_t *)name, strlen(name));
	crypto_hash_sha256_update(&sha, separator, sizeof(separator));
	crypto_hash_sha256_update(&sha, signer.verifier.public_key, TLOG_PUBLIC_KEY_SIZE);
	crypto_hash_sha256_final(&sha, hash);
	assert_int_equal(signer.verifier.key_id, (uint32_t)hash[0] << 24 | (uint32_t)hash[1] << 16 |
							 (uint32_t)hash[2] << 8 | hash[3]);

	assert_int_equal(tlog_signer_format(&signer, signer_text), 0);
	assert_int_equal(strncmp(signer_text, "PRIVATE+KEY+coop.example/log+", 29), 0);
	assert_int_equal(strlen(signer_text), 29 + 8 + 1 + 44);
	assert_int_equal(tlog_signer_parse(signer_text, &parsed), 0);
	assert_memory_equal(&parsed, &signer, sizeof(parsed));

	assert_int_equal(tlog_verifier_format(&signer.verifier, verifier_text), 0);
	assert_int_equal(strncmp(verifier_text, "coop.example/log+", 17), 0);
	assert_int_equal(strlen(verifier_text), 17 + 8 + 1 + 44);
	assert_int_equal(tlog_verifier_parse(verifier_text, &verifier), 0);
	assert_memory_equal(&verifier, &signer.verifier, sizeof(verifier));

	/* A signer key is not a verifier key, nor the other way round. */
	assert_int_equal(tlog_verifier_parse(signer_text, &verifier), -EINVAL);
	assert_int_equal(tlog_signer_parse(verifier_text, &parsed), -EINVAL);

	/* Two keys never come out the same. */
	assert_int_equal(tlog_signer_generate(name, &parsed), 0);
	assert_memory_not_equal(parsed.secret_key, signer.secret_key, TLOG_SECRET_KEY_SIZE);

	tlog_signer_wipe(&signer);
	tlog_signer_wipe(&parsed);
	tlog_signer_wipe(NULL);
	for (size_t i = 0; i < sizeof(signer); i++)
		assert_int_equal(((const uint8_t *)&signer)[i], 0);
}

static void test_keys_rejected(void **state)
{
	static const char *const bad_verifiers[] = {
		"",
		"PeterNeumann",
		"PeterNeumann+c74f20a3",
		"PeterNeumann+c74f20a3+",
		"+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"PeterNeumann+c74f20a33+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"PeterNeumann+0xc74f20+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"PeterNeumanm+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TX",
		"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW=",
		"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10",
		"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW ",
		"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWAA==",
		"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
		/* Go's table: a wrong-length key with a matching key hash. */
		"PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
	};
	struct tlog_verifier verifier;
	struct tlog_signer signer;
	char name[TLOG_KEY_NAME_MAX + 2];

	for (size_t i = 0; i < sizeof(bad_verifiers) / sizeof(bad_verifiers[0]); i++)
		if (tlog_verifier_parse(bad_verifiers[i], &verifier) != -EINVAL)
			fail_msg("verifier key %s accepted", bad_verifiers[i]);
	/* Go's table: an unknown signature type with a matching key hash. */
	assert_int_equal(tlog_verifier_parse("PeterNeumann+173116ae+"
					     "ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
					     &verifier),
			 -EOPNOTSUPP);
	assert_int_equal(tlog_verifier_parse(NULL, &verifier), -EINVAL);

	/* Every strict substring of Go's signer key is rejected, as in Go's tests. */
	for (size_t i = 0; i < strlen(GO_SIGNER_KEY); i++)
		for (size_t j = i + 1; j <= strlen(GO_SIGNER_KEY); j++) {
			char part[sizeof(GO_SIGNER_KEY)];

			if (i == 0 && j == strlen(GO_SIGNER_KEY))
				continue;
			memcpy(part, &GO_SIGNER_KEY[i], j - i);
			part[j - i] = '\0';
			if (tlog_signer_parse(part, &signer) == 0)
				fail_msg("signer key %s accepted", part);
		}
	assert_int_equal(tlog_signer_parse("PRIVATE+KEY+PeterNeumann+c74f20a3+"
					   "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFy",
					   &signer),
			 -EINVAL);
	assert_int_equal(tlog_signer_parse("private+key+PeterNeumann+c74f20a3+"
					   "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
					   &signer),
			 -EINVAL);

	/* Names: not empty, no spaces of any kind, no '+', UTF-8, bounded. */
	assert_int_equal(tlog_signer_generate("", &signer), -EINVAL);
	assert_int_equal(tlog_signer_generate("a b", &signer), -EINVAL);
	assert_int_equal(tlog_signer_generate("a+b", &signer), -EINVAL);
	assert_int_equal(tlog_signer_generate("a\tb", &signer), -EINVAL);
	assert_int_equal(tlog_signer_generate("a\xc2\xa0"
					      "b",
					      &signer),
			 -EINVAL);
	assert_int_equal(tlog_signer_generate("a\xe3\x80\x80"
					      "b",
					      &signer),
			 -EINVAL);
	assert_int_equal(tlog_signer_generate("a\xe2\x80\xa8"
					      "b",
					      &signer),
			 -EINVAL);
	assert_int_equal(tlog_signer_generate("a\xff"
					      "b",
					      &signer),
			 -EINVAL);
	assert_int_equal(tlog_signer_generate("a\xc0\xae"
					      "b",
					      &signer),
			 -EINVAL);
	assert_int_equal(tlog_signer_generate("a\xed\xa0\x80"
					      "b",
					      &signer),
			 -EINVAL);
	assert_int_equal(tlog_signer_generate(NULL, &signer), -EINVAL);
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(tlog_signer_generate(name, &signer), -EINVAL);
	name[TLOG_KEY_NAME_MAX] = '\0';
	assert_int_equal(tlog_signer_generate(name, &signer), 0);
	assert_int_equal(tlog_signer_generate("caf\xc3\xa9.example/\xe2\x82\xac", &signer), 0);
	tlog_signer_wipe(&signer);
}

static void sign(const char *text, const struct tlog_signer *signer, char **ret_note,
		 size_t *ret_len)
{
	assert_int_equal(tlog_note_sign(text, strlen(text), signer, ret_note, ret_len), 0);
}

static int open_text(const char *note, const struct tlog_verifier *verifier)
{
	char *text = NULL;
	size_t text_len;
	int r = tlog_note_open(note, strlen(note), verifier, &text, &text_len);

	free(text);
	return r;
}

static void test_sign_and_open(void **state)
{
	struct tlog_signer alice, alice2, bob;
	char *note, *note_b, *both, *text;
	size_t len, len_b, text_len;

	assert_int_equal(tlog_signer_generate("coop.example/log", &alice), 0);
	assert_int_equal(tlog_signer_generate("coop.example/log", &alice2), 0);
	assert_int_equal(tlog_signer_generate("witness.example", &bob), 0);

	sign("hello\n", &alice, &note, &len);
	assert_int_equal(tlog_note_open(note, len, &alice.verifier, &text, &text_len), 0);
	assert_string_equal(text, "hello\n");
	assert_int_equal(text_len, 6);
	free(text);
	/* Another key, or another key under the same name, finds no signature. */
	assert_int_equal(open_text(note, &bob.verifier), -ENOKEY);
	assert_int_equal(open_text(note, &alice2.verifier), -ENOKEY);

	/* A note that lends alice's name and key ID to a signature by another
	 * key is rejected outright, even beside alice's own signature. */
	{
		struct tlog_signer impostor = alice2;
		char *forged;
		size_t forged_len;

		impostor.verifier.key_id = alice.verifier.key_id;
		assert_int_equal(tlog_note_sign("hello\n", 6, &impostor, &forged, &forged_len),
				 -EINVAL);
		/* Build it by hand: alice2's signature with alice's key ID. */
		sign("hello\n", &alice2, &note_b, &len_b);
		forged = strdup(note_b);
		assert_non_null(forged);
		{
			char *sig64 = strrchr(forged, ' ') + 1;
			uint8_t sig[68];
			size_t sig_len;

			assert_int_equal(sodium_base642bin(sig, sizeof(sig), sig64,
							   strlen(sig64) - 1, NULL, &sig_len, NULL,
							   sodium_base64_VARIANT_ORIGINAL),
					 0);
			sig[0] = (uint8_t)(alice.verifier.key_id >> 24);
			sig[1] = (uint8_t)(alice.verifier.key_id >> 16);
			sig[2] = (uint8_t)(alice.verifier.key_id >> 8);
			sig[3] = (uint8_t)alice.verifier.key_id;
			sodium_bin2base64(sig64, 93, sig, sizeof(sig),
					  sodium_base64_VARIANT_ORIGINAL);
			strcat(forged, "\n");
		}
		assert_int_equal(open_text(forged, &alice.verifier), -EKEYREJECTED);
		assert_int_equal(open_text(forged, &alice2.verifier), -ENOKEY);
		both = malloc(strlen(note) + strlen(forged));
		assert_non_null(both);
		strcpy(both, note);
		strcat(both, strstr(forged, "\n\n") + 2);
		assert_int_equal(open_text(both, &alice.verifier), -EKEYREJECTED);
		free(both);
		free(forged);
		free(note_b);
		tlog_signer_wipe(&impostor);
	}

	/* Cosigned: each key finds its own signature among the others'. */
	sign("hello\n", &bob, &note_b, &len_b);
	both = malloc(len + len_b);
	assert_non_null(both);
	memcpy(both, note, len);
	memcpy(both + len, strstr(note_b, "\n\n") + 2, len_b - 7);
	both[len + len_b - 7] = '\0';
	assert_int_equal(open_text(both, &alice.verifier), 0);
	assert_int_equal(open_text(both, &bob.verifier), 0);
	assert_int_equal(open_text(both, &alice2.verifier), -ENOKEY);
	free(both);
	free(note_b);
	free(note);

	/* Texts may hold blank lines, the last one included. */
	sign("a\n\nb\n", &alice, &note, &len);
	assert_int_equal(tlog_note_open(note, len, &alice.verifier, &text, &text_len), 0);
	assert_string_equal(text, "a\n\nb\n");
	free(text);
	free(note);
	sign("a\n\n", &alice, &note, &len);
	assert_int_equal(tlog_note_open(note, len, &alice.verifier, &text, &text_len), 0);
	assert_string_equal(text, "a\n\n");
	free(text);
	free(note);

	tlog_signer_wipe(&alice);
	tlog_signer_wipe(&alice2);
	tlog_signer_wipe(&bob);
}

static void test_malformed_notes(void **state)
{
	struct tlog_signer signer, other;
	struct tlog_verifier verifier;
	char *note, *big, *text = (char *)"untouched";
	size_t len, text_len = 4242, big_size;

	assert_int_equal(tlog_signer_parse(GO_SIGNER_KEY, &signer), 0);
	verifier = signer.verifier;

	/* Texts that cannot be signed. */
	static const char *const bad_texts[] = {
		"",	      "no newline",	"tab\there\n",	      "cr\r\n",	    "\xff\n",
		"\xc0\xaf\n", "\xed\xa0\x80\n", "\xf4\x90\x80\x80\n", "\xe2\x80\n", "esc\x1b\n",
	};
	for (size_t i = 0; i < sizeof(bad_texts) / sizeof(bad_texts[0]); i++) {
		assert_int_equal(
			tlog_note_sign(bad_texts[i], strlen(bad_texts[i]), &signer, &note, &len),
			-EBADMSG);
		assert_int_equal(tlog_note_check_text(bad_texts[i], strlen(bad_texts[i])),
				 -EBADMSG);
	}
	assert_int_equal(tlog_note_sign("nul\0x\n", 6, &signer, &note, &len), -EBADMSG);
	assert_int_equal(tlog_note_check_text("\xf4\x8f\xbf\xbf \x7f ok\n", 10), 0);

	/* Notes that cannot be opened. */
	static const char *const bad_notes[] = {
		"",
		"\n",
		"\n\n",
		GO_TEXT,
		GO_TEXT "\n",
		/* No blank line. */
		GO_TEXT "\xe2\x80\x94 PeterNeumann "
			"x08go/ZJkuBS9UG/"
			"SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6Ryy"
			"BwJnAM=\n",
		/* Signatures not ending in a newline. */
		GO_TEXT "\n\xe2\x80\x94 PeterNeumann "
			"x08go/ZJkuBS9UG/"
			"SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6Ryy"
			"BwJnAM=",
		/* A blank line after the signature. */
		GO_NOTE "\n",
		/* A hyphen for the em dash; no space; two spaces; no name. */
		GO_TEXT "\n- PeterNeumann "
			"x08go/ZJkuBS9UG/"
			"SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6Ryy"
			"BwJnAM=\n",
		GO_TEXT "\n\xe2\x80\x94PeterNeumann "
			"x08go/ZJkuBS9UG/"
			"SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6Ryy"
			"BwJnAM=\n",
		GO_TEXT "\n\xe2\x80\x94 PeterNeumann  "
			"x08go/ZJkuBS9UG/"
			"SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6Ryy"
			"BwJnAM=\n",
		GO_TEXT "\n\xe2\x80\x94  "
			"x08go/ZJkuBS9UG/"
			"SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6Ryy"
			"BwJnAM=\n",
		/* No signature, or one too short to hold a key ID and a byte. */
		GO_TEXT "\n\xe2\x80\x94 PeterNeumann\n",
		GO_TEXT "\n\xe2\x80\x94 PeterNeumann \n",
		GO_TEXT "\n\xe2\x80\x94 PeterNeumann x08gow==\n",
		/* Not canonical base64. */
		GO_TEXT "\n\xe2\x80\x94 PeterNeumann "
			"x08go/ZJkuBS9UG/"
			"SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6Ryy"
			"BwJnAN=\n",
		GO_TEXT "\n\xe2\x80\x94 PeterNeumann "
			"x08go/ZJkuBS9UG/"
			"SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6Ryy"
			"BwJnAM\n",
		/* A malformed foreign signature spoils the note too. */
		GO_NOTE "\xe2\x80\x94 other.example !!!!\n",
		GO_NOTE "\xe2\x80\x94 other+example AAAAAAAAAAAAAAAA\n",
		/* Control characters and broken UTF-8 anywhere. */
		"If you think\r cryptography is the answer to your problem,\n"
		"then you don't know what your problem is.\n\n\xe2\x80\x94 PeterNeumann "
		"x08go/ZJkuBS9UG/"
		"SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6Ryy"
		"BwJnAM=\n",
		GO_NOTE "\xe2\x80\x94 other.example AAAAAAAAAAAAAAAA\xff\n",
	};
	for (size_t i = 0; i < sizeof(bad_notes) / sizeof(bad_notes[0]); i++)
		if (tlog_note_open(bad_notes[i], strlen(bad_notes[i]), &verifier, &text,
				   &text_len) != -EBADMSG)
			fail_msg("bad note %zu not rejected as malformed", i);
	assert_string_equal(text, "untouched");
	assert_int_equal(text_len, 4242);
	assert_int_equal(tlog_note_open(GO_NOTE, strlen(GO_NOTE), &verifier, &text, &text_len), 0);
	free(text);
	/* A NUL inside. */
	{
		static const char with_nul[] = "a\0b\n\n\xe2\x80\x94 PeterNeumann AAAAAAAA\n";

		assert_int_equal(
			tlog_note_open(with_nul, sizeof(with_nul) - 1, &verifier, &text, &text_len),
			-EBADMSG);
	}

	/* Lines up to the limit are fine, longer ones are not. */
	big_size = TLOG_NOTE_LINE_MAX + 2;
	big = malloc(big_size + 1);
	assert_non_null(big);
	memset(big, 'x', big_size);
	big[TLOG_NOTE_LINE_MAX] = '\n';
	big[TLOG_NOTE_LINE_MAX + 1] = '\0';
	sign(big, &signer, &note, &len);
	assert_int_equal(open_text(note, &verifier), 0);
	free(note);
	big[TLOG_NOTE_LINE_MAX] = 'x';
	big[TLOG_NOTE_LINE_MAX + 1] = '\n';
	big[TLOG_NOTE_LINE_MAX + 2] = '\0';
	assert_int_equal(tlog_note_sign(big, strlen(big), &signer, &note, &len), -EBADMSG);
	/* The same line in a note someone else signed. */
	{
		char *long_note = malloc(strlen(big) + strlen(GO_NOTE) - strlen(GO_TEXT) + 1);

		assert_non_null(long_note);
		strcpy(long_note, big);
		strcat(long_note, &GO_NOTE[strlen(GO_TEXT)]);
		assert_int_equal(open_text(long_note, &verifier), -EBADMSG);
		free(long_note);
	}
	free(big);

	/* Notes over the size limit. */
	big_size = TLOG_NOTE_SIZE_MAX + 1;
	big = malloc(big_size + 1);
	assert_non_null(big);
	for (size_t i = 0; i < big_size; i++)
		big[i] = i % 100 == 99 ? '\n' : 'x';
	big[big_size - 1] = '\n';
	big[big_size] = '\0';
	assert_int_equal(tlog_note_sign(big, big_size, &signer, &note, &len), -EBADMSG);
	/* Text within the limit, but not once signed. */
	big[TLOG_NOTE_SIZE_MAX - 51] = '\n';
	assert_int_equal(tlog_note_sign(big, TLOG_NOTE_SIZE_MAX - 50, &signer, &note, &len),
			 -EMSGSIZE);
	free(big);

	/* The C2SP minimum of 16 signatures opens; more than the limit does not. */
	assert_int_equal(tlog_signer_generate("other.example", &other), 0);
	{
		char *other_note, *many;
		const char *other_line;
		size_t line_len;

		sign(GO_TEXT, &other, &other_note, &len);
		other_line = strstr(other_note, "\n\n") + 2;
		line_len = strlen(other_line);
		many = malloc(strlen(GO_NOTE) + (TLOG_NOTE_SIGNATURES_MAX + 1) * line_len + 1);

		assert_non_null(many);
		strcpy(many, GO_NOTE);
		for (int i = 0; i < 15; i++)
			strcat(many, other_line);
		assert_int_equal(open_text(many, &verifier), 0);
		assert_int_equal(open_text(many, &other.verifier), 0);
		for (int i = 15; i < TLOG_NOTE_SIGNATURES_MAX - 1; i++)
			strcat(many, other_line);
		assert_int_equal(open_text(many, &verifier), 0);
		strcat(many, other_line);
		assert_int_equal(open_text(many, &verifier), -EBADMSG);
		free(many);
		free(other_note);
	}

	/* A verifier or signer that is not one. */
	verifier.name[0] = '\0';
	assert_int_equal(open_text(GO_NOTE, &verifier), -EINVAL);
	assert_int_equal(tlog_note_open(GO_NOTE, strlen(GO_NOTE), NULL, &text, &text_len), -EINVAL);
	signer.verifier.public_key[0] ^= 1;
	assert_int_equal(tlog_note_sign(GO_TEXT, strlen(GO_TEXT), &signer, &note, &len), -EINVAL);
	tlog_signer_wipe(&signer);
	tlog_signer_wipe(&other);
}

/* Checkpoints. */

static void assert_checkpoint_equal(const struct tlog_checkpoint *a,
				    const struct tlog_checkpoint *b)
{
	assert_string_equal(a->origin, b->origin);
	assert_int_equal(a->size, b->size);
	assert_memory_equal(a->root, b->root, TLOG_HASH_SIZE);
	assert_string_equal(a->extensions, b->extensions);
}

static void test_checkpoint_round_trip(void **state)
{
	struct tlog_checkpoint checkpoint = { .size = 20852163 }, parsed;
	struct tlog_signer signer;
	char text[TLOG_CHECKPOINT_TEXT_MAX], *note, *opened;
	size_t len, note_len, opened_len;

	/* The C2SP tlog-checkpoint example. */
	strcpy(checkpoint.origin, "example.com/behind-the-sofa");
	assert_int_equal(sodium_base642bin(checkpoint.root, sizeof(checkpoint.root),
					   "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=", 44, NULL,
					   &len, NULL, sodium_base64_VARIANT_ORIGINAL),
			 0);
	assert_int_equal(tlog_checkpoint_format(&checkpoint, text, &len), 0);
	assert_string_equal(text, "example.com/behind-the-sofa\n"
				  "20852163\n"
				  "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n");
	assert_int_equal(len, strlen(text));
	assert_int_equal(tlog_checkpoint_parse(text, len, &parsed), 0);
	assert_checkpoint_equal(&parsed, &checkpoint);

	/* Extension lines come back verbatim. */
	strcpy(checkpoint.extensions, "\xe2\x80\x94 not a signature\nsecond\n");
	assert_int_equal(tlog_checkpoint_format(&checkpoint, text, &len), 0);
	assert_int_equal(tlog_checkpoint_parse(text, len, &parsed), 0);
	assert_string_equal(parsed.extensions, checkpoint.extensions);
	assert_int_equal(parsed.size, checkpoint.size);

	/* The ends of the size range. */
	checkpoint.extensions[0] = '\0';
	checkpoint.size = 0;
	assert_int_equal(tlog_checkpoint_format(&checkpoint, text, &len), 0);
	assert_non_null(strstr(text, "\n0\n"));
	assert_int_equal(tlog_checkpoint_parse(text, len, &parsed), 0);
	assert_int_equal(parsed.size, 0);
	checkpoint.size = INT64_MAX;
	assert_int_equal(tlog_checkpoint_format(&checkpoint, text, &len), 0);
	assert_non_null(strstr(text, "\n9223372036854775807\n"));
	assert_int_equal(tlog_checkpoint_parse(text, len, &parsed), 0);
	assert_int_equal(parsed.size, INT64_MAX);

	/* Signed, opened and parsed again. */
	checkpoint.size = 12;
	assert_int_equal(tlog_signer_generate("example.com/behind-the-sofa", &signer), 0);
	assert_int_equal(tlog_checkpoint_format(&checkpoint, text, &len), 0);
	assert_int_equal(tlog_note_sign(text, len, &signer, &note, &note_len), 0);
	assert_int_equal(tlog_note_open(note, note_len, &signer.verifier, &opened, &opened_len), 0);
	assert_int_equal(tlog_checkpoint_parse(opened, opened_len, &parsed), 0);
	assert_checkpoint_equal(&parsed, &checkpoint);
	free(opened);
	free(note);
	tlog_signer_wipe(&signer);
}

static void test_checkpoint_rejects(void **state)
{
#define ROOT "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
	static const char *const bad[] = {
		"",
		"\n",
		"log\n",
		"log\n12\n",
		"log\n12\n" ROOT,
		"log\n12\n" ROOT "\n\n",
		"log\n12\n" ROOT "\n\nextension\n",
		"log\n12\n" ROOT "\nextension",
		"\n12\n" ROOT "\n",
		"log\n\n" ROOT "\n",
		"log\n012\n" ROOT "\n",
		"log\n00\n" ROOT "\n",
		"log\n-1\n" ROOT "\n",
		"log\n+1\n" ROOT "\n",
		"log\n 1\n" ROOT "\n",
		"log\n1 \n" ROOT "\n",
		"log\n12a\n" ROOT "\n",
		"log\n0x12\n" ROOT "\n",
		"log\n1e3\n" ROOT "\n",
		"log\n9223372036854775808\n" ROOT "\n",
		"log\n99999999999999999999\n" ROOT "\n",
		"log\n12\n\n",
		"log\n12\n!!!!\n",
		"log\n12\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n",
		"log\n12\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n",
		"log\n12\nCsUYapGGPo4dkMgIAUqom_Xajj7h2fB2MPA3j2jxq2I=\n",
		"log\n12\n CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
		"log\n12\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxqw==\n",
		"log\n12\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2IA\n",
		"log\n12\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2IAAA==\n",
		"log\r\n12\n" ROOT "\n",
		"log\n12\r\n" ROOT "\n",
		"log\n12\n" ROOT "\r\n",
		"l\xffg\n12\n" ROOT "\n",
	};
	struct tlog_checkpoint checkpoint, untouched;
	char text[TLOG_CHECKPOINT_TEXT_MAX + 64], out[TLOG_CHECKPOINT_TEXT_MAX];
	size_t len;

	memset(&checkpoint, 0x5a, sizeof(checkpoint));
	untouched = checkpoint;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (tlog_checkpoint_parse(bad[i], strlen(bad[i]), &checkpoint) != -EINVAL)
			fail_msg("checkpoint %zu \"%s\" accepted", i, bad[i]);
	assert_int_equal(tlog_checkpoint_parse(NULL, 0, &checkpoint), -EINVAL);
	assert_int_equal(tlog_checkpoint_parse("log\n1\0\n" ROOT "\n", 52, &checkpoint), -EINVAL);
	assert_memory_equal(&checkpoint, &untouched, sizeof(checkpoint));
	assert_int_equal(tlog_checkpoint_parse("log\n12\n" ROOT "\n", 52, &checkpoint), 0);

	/* Origins and extensions over their limits. */
	memset(text, 'o', TLOG_ORIGIN_MAX + 1);
	strcpy(text + TLOG_ORIGIN_MAX + 1, "\n1\n" ROOT "\n");
	assert_int_equal(tlog_checkpoint_parse(text, strlen(text), &checkpoint), -EINVAL);
	assert_int_equal(tlog_checkpoint_parse(text + 1, strlen(text + 1), &checkpoint), 0);
	strcpy(text, "log\n1\n" ROOT "\n");
	len = strlen(text);
	for (int i = 0; i < TLOG_CHECKPOINT_EXTENSIONS_MAX / 8; i++)
		strcat(text, "extensi\n");
	assert_int_equal(tlog_checkpoint_parse(text, strlen(text), &checkpoint), 0);
	assert_int_equal(strlen(checkpoint.extensions), TLOG_CHECKPOINT_EXTENSIONS_MAX);
	assert_int_equal(tlog_checkpoint_format(&checkpoint, out, &len), 0);
	assert_string_equal(out, text);
	strcat(text, "x\n");
	assert_int_equal(tlog_checkpoint_parse(text, strlen(text), &checkpoint), -EINVAL);

	/* What format refuses to write. */
	checkpoint = (struct tlog_checkpoint){ .origin = "log", .size = 1 };
	assert_int_equal(tlog_checkpoint_format(&checkpoint, out, &len), 0);
	checkpoint.size = -1;
	assert_int_equal(tlog_checkpoint_format(&checkpoint, out, &len), -EINVAL);
	checkpoint.size = 1;
	strcpy(checkpoint.origin, "");
	assert_int_equal(tlog_checkpoint_format(&checkpoint, out, &len), -EINVAL);
	strcpy(checkpoint.origin, "two\nlines");
	assert_int_equal(tlog_checkpoint_format(&checkpoint, out, &len), -EINVAL);
	strcpy(checkpoint.origin, "log");
	strcpy(checkpoint.extensions, "no newline");
	assert_int_equal(tlog_checkpoint_format(&checkpoint, out, &len), -EINVAL);
	strcpy(checkpoint.extensions, "a\n\nb\n");
	assert_int_equal(tlog_checkpoint_format(&checkpoint, out, &len), -EINVAL);
	strcpy(checkpoint.extensions, "\n");
	assert_int_equal(tlog_checkpoint_format(&checkpoint, out, &len), -EINVAL);
	strcpy(checkpoint.extensions, "tab\t\n");
	assert_int_equal(tlog_checkpoint_format(&checkpoint, out, &len), -EINVAL);
	memset(checkpoint.origin, 'o', sizeof(checkpoint.origin));
	checkpoint.extensions[0] = '\0';
	assert_int_equal(tlog_checkpoint_format(&checkpoint, out, &len), -EINVAL);
#undef ROOT
}

/* Counts the copies of text, with one of its base64 characters (from
 * text + start to the next newline or the end) replaced by one byte of 0x80
 * or more, that parse. */
static size_t high_byte_copies_accepted(const char *text, size_t start,
					bool (*parses)(const char *text, size_t len))
{
	size_t len = strlen(text), end = start + strcspn(text + start, "\n"), accepted = 0;
	char copy[1024];

	assert_true(len < sizeof(copy));
	assert_true(parses(text, len));
	for (size_t i = start; i < end; i++) {
		for (unsigned c = 0x80; c <= 0xff; c++) {
			memcpy(copy, text, len + 1);
			copy[i] = (char)c;
			accepted += parses(copy, len);
		}
	}
	return accepted;
}

static bool verifier_parses(const char *text, size_t len)
{
	struct tlog_verifier verifier;

	return tlog_verifier_parse(text, &verifier) == 0;
}

static bool signer_parses(const char *text, size_t len)
{
	struct tlog_signer signer;
	bool parses = tlog_signer_parse(text, &signer) == 0;

	tlog_signer_wipe(&signer);
	return parses;
}

static bool go_note_opens(const char *text, size_t len)
{
	struct tlog_verifier verifier;

	assert_int_equal(tlog_verifier_parse(GO_VERIFIER_KEY, &verifier), 0);
	return note_opens(text, len, &verifier);
}

static bool checkpoint_parses(const char *text, size_t len)
{
	struct tlog_checkpoint checkpoint;

	return tlog_checkpoint_parse(text, len, &checkpoint) == 0;
}

/* libsodium 1.0.18 decodes bytes of 0x80 or more as base64 digits: a key, a
 * signature or a root hash must not have several spellings. */
static void test_base64_is_strict(void **state)
{
	static const char checkpoint[] = "example.com/behind-the-sofa\n20852163\n"
					 "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
	static const char signature_line[] = "\xe2\x80\x94 PeterNeumann ";
	uint8_t bytes[8];
	size_t len;

	assert_int_equal(high_byte_copies_accepted(GO_VERIFIER_KEY,
						   strlen("PeterNeumann+c74f20a3+"),
						   verifier_parses),
			 0);
	assert_int_equal(high_byte_copies_accepted(GO_SIGNER_KEY,
						   strlen("PRIVATE+KEY+PeterNeumann+c74f20a3+"),
						   signer_parses),
			 0);
	assert_int_equal(
		high_byte_copies_accepted(GO_NOTE,
					  (size_t)(strstr(GO_NOTE, signature_line) - GO_NOTE) +
						  strlen(signature_line),
					  go_note_opens),
		0);
	assert_int_equal(
		high_byte_copies_accepted(checkpoint, strlen(checkpoint) - 45, checkpoint_parses),
		0);

	assert_int_equal(tlog_base64_decode("AQID", 4, bytes, sizeof(bytes), &len), 0);
	assert_int_equal(len, 3);
	assert_int_equal(tlog_base64_decode("AQ==", 4, bytes, sizeof(bytes), &len), 0);
	assert_int_equal(len, 1);
	/* Padding only at the end, at most two; no missing padding, no spaces,
	 * no unused bits set, no URL-safe digits. */
	assert_int_equal(tlog_base64_decode("A===", 4, bytes, sizeof(bytes), &len), -EINVAL);
	assert_int_equal(tlog_base64_decode("A=QI", 4, bytes, sizeof(bytes), &len), -EINVAL);
	assert_int_equal(tlog_base64_decode("AQ", 2, bytes, sizeof(bytes), &len), -EINVAL);
	assert_int_equal(tlog_base64_decode("AQ I", 4, bytes, sizeof(bytes), &len), -EINVAL);
	assert_int_equal(tlog_base64_decode("AR==", 4, bytes, sizeof(bytes), &len), -EINVAL);
	assert_int_equal(tlog_base64_decode("A-_B", 4, bytes, sizeof(bytes), &len), -EINVAL);
	assert_int_equal(tlog_base64_decode("AQIDBA==", 8, bytes, 3, &len), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stored_hash_index),
		cmocka_unit_test(test_index_math_rejects_out_of_range),
		cmocka_unit_test(test_stored_hashes_give_rfc6962_roots),
		cmocka_unit_test(test_reader_errors_pass_through),
		cmocka_unit_test(test_inclusion_proofs),
		cmocka_unit_test(test_consistency_proofs),
		cmocka_unit_test(test_huge_trees),
		cmocka_unit_test(test_hostile_arguments),
		cmocka_unit_test(test_rfc6962_vectors),
		cmocka_unit_test(test_c2sp_example_verifies),
		cmocka_unit_test(test_go_example_signs_byte_for_byte),
		cmocka_unit_test(test_keys_round_trip),
		cmocka_unit_test(test_keys_rejected),
		cmocka_unit_test(test_sign_and_open),
		cmocka_unit_test(test_malformed_notes),
		cmocka_unit_test(test_checkpoint_round_trip),
		cmocka_unit_test(test_checkpoint_rejects),
		cmocka_unit_test(test_base64_is_strict),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("tlog", tests, fixture_setup, fixture_teardown);
}
