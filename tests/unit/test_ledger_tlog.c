/* The transparency log on a real database file: signed checkpoints that
 * verify, proofs for every entry, commitments a member can recompute, and a
 * database edited behind the daemon's back caught at open. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>
#include <sqlite3.h>

#include "coopbill/config.h"
#include "coopbill/ledger.h"
#include "coopbill/meter.h"
#include "coopbill/nft.h"
#include "coopbill/store.h"
#include "coopbill/tlog.h"

struct fixture {
	char dir[64];
	char db[96];
	struct config config;
	struct store *store;
	struct ledger_tlog *tlog;
};

static void fixture_open(struct fixture *f)
{
	char errbuf[256];

	assert_int_equal(store_open(f->db, &f->store, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(ledger_tlog_open(f->store, &f->config, &f->tlog, errbuf, sizeof(errbuf)),
			 0);
}

static void fixture_close(struct fixture *f)
{
	ledger_tlog_free(f->tlog);
	store_free(f->store);
	f->tlog = NULL;
	f->store = NULL;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/coopbill-tlog.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof(f->db), "%s/coopbill.db", f->dir);
	f->config.database_path = f->db;
	f->config.log_origin = (char *)"coop.example/log";
	f->config.log_key_file = (char *)"";
	fixture_open(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	fixture_close(f);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void append(struct fixture *f, const char *entry)
{
	assert_int_equal(store_begin(f->store), 0);
	assert_int_equal(ledger_tlog_append(f->tlog, &entry, 1, NULL), 0);
	assert_int_equal(store_commit(f->store), 0);
}

/* Runs SQL on the file as an intruder with sqlite3 would. */
static void tamper(struct fixture *f, const char *sql)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void test_key_and_empty_checkpoint(void **state)
{
	struct fixture *f = *state;
	struct tlog_verifier verifier;
	uint8_t root[TLOG_HASH_SIZE], empty[TLOG_HASH_SIZE];
	char path[128], *note;
	struct stat st;
	int64_t size;

	snprintf(path, sizeof(path), "%s/log.key", f->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(tlog_verifier_parse(ledger_tlog_verifier_key(f->tlog), &verifier), 0);
	assert_string_equal(verifier.name, "coop.example/log");
	assert_null(ledger_tlog_problem(f->tlog));

	/* The log is live from the first start: the empty tree, signed. */
	assert_int_equal(store_tlog_checkpoint_latest(f->store, &size, root, &note), 0);
	assert_int_equal(size, 0);
	crypto_hash_sha256(empty, NULL, 0);
	assert_memory_equal(root, empty, TLOG_HASH_SIZE);
	free(note);
}

static void test_append_sign_prove(void **state)
{
	struct fixture *f = *state;
	const char *entries[] = { "household-created\nhousehold aa\n", "token-issued\nrole admin\n",
				  "meter-gap\nhousehold bb\nat 5\n" };
	uint8_t root[TLOG_HASH_SIZE], proof[TLOG_PROOF_MAX][TLOG_HASH_SIZE], leaf[TLOG_HASH_SIZE];
	struct tlog_verifier verifier;
	struct tlog_checkpoint checkpoint;
	char *note, *text;
	size_t text_len, len;
	int64_t size, first;

	assert_int_equal(store_begin(f->store), 0);
	assert_int_equal(ledger_tlog_append(f->tlog, entries, 3, &first), 0);
	assert_int_equal(store_commit(f->store), 0);
	assert_int_equal(first, 0);

	assert_int_equal(store_tlog_checkpoint_latest(f->store, &size, root, &note), 0);
	assert_int_equal(size, 3);
	assert_int_equal(tlog_verifier_parse(ledger_tlog_verifier_key(f->tlog), &verifier), 0);
	assert_int_equal(tlog_note_open(note, strlen(note), &verifier, &text, &text_len), 0);
	assert_int_equal(tlog_checkpoint_parse(text, text_len, &checkpoint), 0);
	assert_int_equal(checkpoint.size, 3);
	assert_memory_equal(checkpoint.root, root, TLOG_HASH_SIZE);
	free(text);
	free(note);

	for (int64_t i = 0; i < 3; i++) {
		tlog_record_hash(entries[i], strlen(entries[i]), leaf);
		assert_int_equal(
			tlog_prove_record(3, i, store_tlog_hashes_read, f->store, proof, &len), 0);
		assert_int_equal(tlog_check_record((const uint8_t(*)[TLOG_HASH_SIZE])proof, len, 3,
						   root, i, leaf),
				 0);
	}
	/* Two different roots are never signed for one size. */
	assert_int_equal(store_tlog_checkpoint_put(f->store, 3, leaf, "x"), -EEXIST);

	/* Reopening verifies everything again. */
	fixture_close(f);
	fixture_open(f);
	assert_null(ledger_tlog_problem(f->tlog));
}

static void test_commitment(void **state)
{
	struct fixture *f = *state;
	char commitment[65], again[65], salt_hex[65], expected_hex[65];
	uint8_t salt[32], expected[32];
	size_t salt_len;

	assert_int_equal(store_begin(f->store), 0);
	/* Salts belong to households: make household 1. */
	struct household household = { .gateway = "main",
				       .name = (char *)"A",
				       .joined_at = "2026-11-01" };
	int64_t id;
	assert_int_equal(store_household_insert(f->store, &household, &id), 0);
	assert_int_equal(ledger_tlog_household_commitment(f->tlog, id, commitment, salt_hex), 0);
	assert_int_equal(ledger_tlog_household_commitment(f->tlog, id, again, NULL), 0);
	assert_int_equal(store_commit(f->store), 0);
	assert_string_equal(commitment, again);

	/* What a member recomputes from the salt: keyed BLAKE2b of the decimal id. */
	assert_int_equal(sodium_hex2bin(salt, sizeof(salt), salt_hex, 64, NULL, &salt_len, NULL),
			 0);
	crypto_generichash(expected, sizeof(expected), (const uint8_t *)"1", 1, salt, sizeof(salt));
	sodium_bin2hex(expected_hex, sizeof(expected_hex), expected, sizeof(expected));
	assert_string_equal(commitment, expected_hex);
}

static void test_edited_entry_is_caught(void **state)
{
	struct fixture *f = *state;

	append(f, "token-issued\nrole admin\n");
	append(f, "token-issued\nrole member\n");
	append(f, "token-issued\nrole admin\n");
	fixture_close(f);
	tamper(f, "DROP TRIGGER log_entries_append_only_update;"
		  "UPDATE log_entries SET entry = 'token-issued\nrole admin\n' WHERE idx = 1");
	fixture_open(f);
	assert_non_null(ledger_tlog_problem(f->tlog));
	assert_non_null(strstr(ledger_tlog_problem(f->tlog), "entry 1 "));
	/* Nothing more is appended to a log that does not verify. */
	const char *entry = "token-issued\nrole admin\n";
	assert_int_equal(store_begin(f->store), 0);
	assert_int_equal(ledger_tlog_append(f->tlog, &entry, 1, NULL), -EBADMSG);
	store_rollback(f->store);
}

static void test_edited_hash_is_caught(void **state)
{
	struct fixture *f = *state;

	for (int i = 0; i < 5; i++)
		append(f, "token-issued\nrole admin\n");
	fixture_close(f);
	/* Stored hash 3 is the inner node completed by entry 1. */
	tamper(f, "DROP TRIGGER log_hashes_append_only_update;"
		  "UPDATE log_hashes SET hash = zeroblob(32) WHERE idx = 2");
	fixture_open(f);
	assert_non_null(ledger_tlog_problem(f->tlog));
}

static void test_deleted_entries_are_caught(void **state)
{
	struct fixture *f = *state;

	for (int i = 0; i < 4; i++)
		append(f, "token-issued\nrole admin\n");
	fixture_close(f);
	tamper(f, "DROP TRIGGER log_entries_append_only_delete;"
		  "DELETE FROM log_entries WHERE idx = 3");
	fixture_open(f);
	assert_non_null(ledger_tlog_problem(f->tlog));
	assert_non_null(strstr(ledger_tlog_problem(f->tlog), "3 entries"));
}

/* A row missing in the middle leaves the size as it was. */
static void test_missing_middle_entry_is_caught(void **state)
{
	struct fixture *f = *state;

	for (int i = 0; i < 4; i++)
		append(f, "token-issued\nrole admin\n");
	fixture_close(f);
	tamper(f, "DROP TRIGGER log_entries_append_only_delete;"
		  "DELETE FROM log_entries WHERE idx = 1");
	fixture_open(f);
	assert_non_null(ledger_tlog_problem(f->tlog));
	assert_non_null(strstr(ledger_tlog_problem(f->tlog), "entry 1 "));
}

/* An append whose transaction the caller rolls back leaves no trace: the
 * next appends build on what was committed. */
static void test_rolled_back_append(void **state)
{
	struct fixture *f = *state;
	const char *lost[] = { "token-issued\nrole lost\n", "token-issued\nrole lost\n",
			       "token-issued\nrole lost\n" };
	int64_t size;

	append(f, "token-issued\nrole admin\n");
	assert_int_equal(store_begin(f->store), 0);
	assert_int_equal(ledger_tlog_append(f->tlog, lost, 3, NULL), 0);
	store_rollback(f->store);
	for (int i = 0; i < 6; i++)
		append(f, "token-issued\nrole member\n");
	assert_int_equal(store_tlog_size(f->store, &size), 0);
	assert_int_equal(size, 7);
	fixture_close(f);
	fixture_open(f);
	assert_null(ledger_tlog_problem(f->tlog));
}

/* Two gateways' daemons append to one log, each through its own connection
 * and its own hash cache, as on PostgreSQL. One's append is rolled back and
 * the other writes other entries at those indexes: the first must not build
 * on the hashes it cached for what never happened. */
static void test_two_writers(void **state)
{
	struct fixture *f = *state;
	const char *lost[] = { "token-issued\nrole lost\n", "token-issued\nrole lost\n" };
	struct store *other_store;
	struct ledger_tlog *other;
	char errbuf[256];
	int64_t size;

	assert_int_equal(store_open(f->db, &other_store, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(ledger_tlog_open(other_store, &f->config, &other, errbuf, sizeof(errbuf)),
			 0);
	append(f, "token-issued\nrole admin\n");
	assert_int_equal(store_begin(f->store), 0);
	assert_int_equal(ledger_tlog_append(f->tlog, lost, 2, NULL), 0);
	store_rollback(f->store);
	/* The other writes entries 1 and 2, so that entry 3's hashes build on
	 * the subtree of entries 0 and 1. */
	for (int i = 0; i < 3; i++) {
		const char *entries[] = { "token-issued\nrole member\n",
					  "token-issued\nrole member\n" };

		assert_int_equal(store_begin(other_store), 0);
		assert_int_equal(ledger_tlog_append(other, entries, 2, NULL), 0);
		assert_int_equal(store_commit(other_store), 0);
		append(f, "token-issued\nrole treasurer\n");
	}
	assert_int_equal(store_tlog_size(f->store, &size), 0);
	assert_int_equal(size, 10);
	ledger_tlog_free(other);
	store_free(other_store);
	fixture_close(f);
	fixture_open(f);
	assert_null(ledger_tlog_problem(f->tlog));
}

/* Publishes the latest checkpoint as the API does; its size. */
static int64_t publish(struct fixture *f)
{
	int64_t size;
	char *note;

	assert_int_equal(ledger_tlog_checkpoint_latest(f->tlog, &size, &note), 0);
	free(note);
	return size;
}

/* A backup taken at 3 entries, restored after 5 were published: the log
 * signs nothing until the loss is recorded, and then only past 5. A
 * checkpoint signed but never published is no obstacle. */
static void test_restored_log_never_signs_a_published_size(void **state)
{
	struct fixture *f = *state;
	const char *entry = "token-issued\nrole member\n";
	char backup[128], cmd[512], published[128];
	int64_t size, restored, resumed;
	uint8_t root[32];
	char *note;

	for (int i = 0; i < 3; i++)
		append(f, entry);
	assert_int_equal(publish(f), 3);
	fixture_close(f);
	snprintf(backup, sizeof(backup), "%s/backup.db", f->dir);
	snprintf(cmd, sizeof(cmd), "cp %s %s", f->db, backup);
	assert_int_equal(system(cmd), 0);
	fixture_open(f);
	append(f, entry);
	append(f, entry);
	assert_int_equal(publish(f), 5);
	/* Signed, not served: a restore may sign this size again. */
	append(f, entry);
	fixture_close(f);

	snprintf(cmd, sizeof(cmd), "cp %s %s && rm -f %s-wal %s-shm", backup, f->db, f->db, f->db);
	assert_int_equal(system(cmd), 0);
	fixture_open(f);
	assert_non_null(strstr(ledger_tlog_problem(f->tlog),
			       "the log has 3 entries, but this box already published a "
			       "checkpoint of 5"));
	assert_int_equal(store_begin(f->store), 0);
	assert_int_equal(ledger_tlog_append(f->tlog, &entry, 1, NULL), -EBADMSG);
	store_rollback(f->store);
	assert_int_equal(store_tlog_checkpoint_latest(f->store, &size, root, &note), 0);
	free(note);
	assert_int_equal(size, 3);

	assert_int_equal(ledger_tlog_record_loss(f->tlog, &restored, &resumed), 0);
	assert_int_equal(restored, 3);
	assert_int_equal(resumed, 6);
	assert_null(ledger_tlog_problem(f->tlog));
	assert_int_equal(ledger_tlog_record_loss(f->tlog, &restored, &resumed), -EALREADY);
	append(f, entry);
	assert_int_equal(publish(f), 7);
	fixture_close(f);
	fixture_open(f);
	assert_null(ledger_tlog_problem(f->tlog));

	/* A record of what was published that the key did not sign stops the log. */
	fixture_close(f);
	assert_int_equal(ledger_tlog_published_path(&f->config, published, sizeof(published)), 0);
	snprintf(cmd, sizeof(cmd), "sed -i 2s/7/9/ %s", published);
	assert_int_equal(system(cmd), 0);
	fixture_open(f);
	assert_non_null(strstr(ledger_tlog_problem(f->tlog), "is not a checkpoint signed by the "
							     "log key"));
	assert_int_equal(ledger_tlog_record_loss(f->tlog, &restored, &resumed), -EALREADY);
}

/* A database holding another log than the one published (a backup of
 * another box with the same key), longer than it: refused as well, and the
 * loss recorded with one entry past its end. */
static void test_another_log_than_published_is_refused(void **state)
{
	struct fixture *f = *state;
	const char *entry = "token-issued\nrole member\n";
	const char *other = "token-issued\nrole admin\n";
	char published[128], cmd[1024];
	int64_t restored, resumed;

	for (int i = 0; i < 3; i++)
		append(f, entry);
	assert_int_equal(publish(f), 3);
	fixture_close(f);
	assert_int_equal(ledger_tlog_published_path(&f->config, published, sizeof(published)), 0);
	snprintf(cmd, sizeof(cmd), "mv %s %s.saved && rm %s %s-wal %s-shm; true", published,
		 published, f->db, f->db, f->db);
	assert_int_equal(system(cmd), 0);
	fixture_open(f);
	for (int i = 0; i < 4; i++)
		append(f, other);
	fixture_close(f);
	snprintf(cmd, sizeof(cmd), "mv %s.saved %s", published, published);
	assert_int_equal(system(cmd), 0);

	fixture_open(f);
	assert_non_null(strstr(ledger_tlog_problem(f->tlog),
			       "the log's first 3 entries differ from the checkpoint"));
	assert_int_equal(ledger_tlog_record_loss(f->tlog, &restored, &resumed), 0);
	assert_int_equal(restored, 4);
	assert_int_equal(resumed, 5);
	fixture_close(f);
	fixture_open(f);
	assert_null(ledger_tlog_problem(f->tlog));
}

static void test_append_only(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db;

	append(f, "token-issued\nrole admin\n");
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_not_equal(
		sqlite3_exec(db, "UPDATE log_entries SET entry = 'x'", NULL, NULL, NULL),
		SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "DELETE FROM log_checkpoints", NULL, NULL, NULL),
			     SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "DELETE FROM log_hashes", NULL, NULL, NULL),
			     SQLITE_OK);
	sqlite3_close(db);
}

static void test_key_of_another_origin(void **state)
{
	struct fixture *f = *state;
	struct ledger_tlog *tlog;
	char errbuf[256];

	f->config.log_origin = (char *)"other.example/log";
	assert_int_equal(ledger_tlog_open(f->store, &f->config, &tlog, errbuf, sizeof(errbuf)),
			 -EINVAL);
	assert_non_null(strstr(errbuf, "origin"));
	f->config.log_origin = (char *)"coop.example/log";
}

/* Two polls of a household's upload counter through a meter that logs its
 * gaps in f's log: 1,000,000 bytes, then 300 (a reset, so a gap). */
static void poll_a_reset(struct fixture *f, int64_t household_id)
{
	struct nft_counter counter = {
		.household_id = household_id, .direction = NFT_UP, .handle = 1, .bytes = 1000000
	};
	struct meter *meter;
	uv_loop_t loop;

	f->config.meter_bucket_s = 300;
	f->config.meter_keep_buckets_days = 62;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(
		meter_new(&loop, f->store, ledger_tlog_meter_gaps, f->tlog, &f->config, &meter), 0);
	assert_int_equal(meter_commit_reading(meter, &counter, 1), 0);
	counter.bytes = 300;
	assert_int_equal(meter_commit_reading(meter, &counter, 1), 0);
	meter_close(meter, NULL, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* While the log verifies, a poll's gaps are logged with the poll, and none
 * is left waiting. */
static void test_gaps_logged_with_their_poll(void **state)
{
	struct fixture *f = *state;
	struct household household = { .gateway = "main",
				       .name = (char *)"A",
				       .joined_at = "2026-11-01" };
	struct store_gap *gaps;
	int64_t size, household_id;
	size_t n_gaps, len;
	char *entry;

	assert_int_equal(store_household_insert(f->store, &household, &household_id), 0);
	poll_a_reset(f, household_id);
	assert_int_equal(store_tlog_size(f->store, &size), 0);
	assert_int_equal(size, 1);
	assert_int_equal(store_tlog_entry_get(f->store, 0, &entry, &len), 0);
	assert_non_null(strstr(entry, "meter-gap\n"));
	assert_non_null(strstr(entry, "bytes_before 1000000\nbytes_after 300\n"));
	free(entry);
	assert_int_equal(store_gaps_unlogged(f->store, &gaps, &n_gaps), 0);
	assert_int_equal(n_gaps, 0);
	free(gaps);
}

/* A log that does not verify (here: another key of the same name in the key
 * file) keeps the metering going; the meter gaps found meanwhile are logged
 * at the first start that finds the log sound again, once. */
static void test_gaps_wait_for_a_sound_log(void **state)
{
	struct fixture *f = *state;
	struct household household = { .gateway = "main",
				       .name = (char *)"A",
				       .joined_at = "2026-11-01" };
	char path[128], saved[128], text[TLOG_SIGNER_KEY_TEXT_MAX], *entry;
	int64_t size, household_id;
	struct tlog_signer other;
	size_t len;
	FILE *file;

	assert_int_equal(store_household_insert(f->store, &household, &household_id), 0);
	fixture_close(f);
	snprintf(path, sizeof(path), "%s/log.key", f->dir);
	snprintf(saved, sizeof(saved), "%s/log.key.saved", f->dir);
	assert_int_equal(rename(path, saved), 0);
	assert_int_equal(tlog_signer_generate("coop.example/log", &other), 0);
	assert_int_equal(tlog_signer_format(&other, text), 0);
	assert_non_null(file = fopen(path, "w"));
	fprintf(file, "%s\n", text);
	fclose(file);
	fixture_open(f);
	assert_non_null(ledger_tlog_problem(f->tlog));

	poll_a_reset(f, household_id);
	assert_int_equal(store_tlog_size(f->store, &size), 0);
	assert_int_equal(size, 0);

	fixture_close(f);
	assert_int_equal(rename(saved, path), 0);
	fixture_open(f);
	assert_null(ledger_tlog_problem(f->tlog));
	assert_int_equal(store_tlog_size(f->store, &size), 0);
	assert_int_equal(size, 1);
	assert_int_equal(store_tlog_entry_get(f->store, 0, &entry, &len), 0);
	assert_non_null(strstr(entry, "meter-gap\n"));
	assert_non_null(strstr(entry, "bytes_before 1000000\n"));
	free(entry);
	fixture_close(f);
	fixture_open(f);
	assert_null(ledger_tlog_problem(f->tlog));
	assert_int_equal(store_tlog_size(f->store, &size), 0);
	assert_int_equal(size, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_key_and_empty_checkpoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_sign_prove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commitment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edited_entry_is_caught, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edited_hash_is_caught, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deleted_entries_are_caught, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_middle_entry_is_caught, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rolled_back_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_writers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restored_log_never_signs_a_published_size,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_another_log_than_published_is_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_append_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_of_another_origin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gaps_logged_with_their_poll, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gaps_wait_for_a_sound_log, setup, teardown),
	};

	return cmocka_run_group_tests_name("tlog", tests, NULL, NULL);
}
