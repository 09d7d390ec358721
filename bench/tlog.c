/* Transparency log benchmark on a real SQLite file with synchronous=FULL:
 * append rate in transactions of 1 and of 1,000 entries (each transaction
 * also signs a checkpoint), inclusion-proof latency at 1,000,000 entries, and
 * the database bytes per entry beyond the entry itself.
 * usage: bench_tlog [ENTRIES]   (default 1000000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "coopbill/config.h"
#include "coopbill/ledger.h"
#include "coopbill/store.h"
#include "coopbill/tlog.h"

#define BATCH	1000
#define SINGLES 500
#define PROOFS	2000

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void die(const char *what, int r)
{
	fprintf(stderr, "bench_tlog: %s failed: %d\n", what, r);
	exit(1);
}

/* An entry shaped like the daemon's: about 150 bytes of text. */
static void entry_make(char *buf, size_t len, long i)
{
	snprintf(buf, len,
		 "household-created\nhousehold %064lx\nstatus active\njoined_at 2026-11-01\n"
		 "addresses 1\ntime %ld\n",
		 (unsigned long)i * 2654435761UL, 1795900000L + i);
}

static long sql_long(const char *db, const char *sql)
{
	char cmd[512];
	long value = -1;
	FILE *out;

	snprintf(cmd, sizeof(cmd), "sqlite3 %s \"%s\"", db, sql);
	out = popen(cmd, "r");
	if (out && fscanf(out, "%ld", &value) != 1)
		value = -1;
	if (out)
		pclose(out);
	return value;
}

/* The baselines the log is built from, measured in the same run: SHA-256 of
 * 64 bytes, Ed25519 signatures, and plain SQLite inserts of 32-byte blobs in
 * 10,000-row transactions with synchronous=FULL. */
static void baselines(const char *dir)
{
	uint8_t block[64] = { 0 }, hash[32], pk[32], sk[64], sig[64];
	char path[128];
	sqlite3_stmt *stmt;
	sqlite3 *db;
	double t;
	int n;

	t = now_s();
	for (n = 0; n < 1000000; n++) {
		block[0] = (uint8_t)n;
		crypto_hash_sha256(hash, block, sizeof(block));
	}
	printf("baseline: SHA-256 of 64 bytes:        %9.0f hashes/s\n", n / (now_s() - t));
	crypto_sign_keypair(pk, sk);
	t = now_s();
	for (n = 0; n < 20000; n++)
		crypto_sign_detached(sig, NULL, block, sizeof(block), sk);
	printf("baseline: Ed25519 signatures:         %9.0f signatures/s\n", n / (now_s() - t));

	snprintf(path, sizeof(path), "%s/baseline.db", dir);
	sqlite3_open(path, &db);
	sqlite3_exec(db,
		     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
		     "CREATE TABLE t (idx INTEGER PRIMARY KEY, hash BLOB NOT NULL)",
		     NULL, NULL, NULL);
	sqlite3_prepare_v2(db, "INSERT INTO t (idx, hash) VALUES (?, ?)", -1, &stmt, NULL);
	t = now_s();
	for (n = 0; n < 500000;) {
		sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		for (int i = 0; i < 10000; i++, n++) {
			sqlite3_bind_int64(stmt, 1, n);
			sqlite3_bind_blob(stmt, 2, hash, 32, SQLITE_STATIC);
			sqlite3_step(stmt);
			sqlite3_reset(stmt);
		}
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	}
	printf("baseline: SQLite inserts, 10,000 per transaction: %9.0f rows/s\n",
	       n / (now_s() - t));
	sqlite3_finalize(stmt);
	sqlite3_close(db);
}

int main(int argc, char **argv)
{
	long total = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
	char dir[] = "/var/tmp/coopbill-bench-tlog.XXXXXX", db[128], errbuf[256], cmd[160];
	static char texts[BATCH][256];
	const char *entries[BATCH];
	struct config config = { 0 };
	struct ledger_tlog *tlog;
	struct store *store;
	double t, proof_us[PROOFS];
	long appended = 0;
	int r;

	if (!mkdtemp(dir))
		die("mkdtemp", -1);
	snprintf(db, sizeof(db), "%s/coopbill.db", dir);
	config.database_path = db;
	config.log_origin = (char *)"bench.example/log";
	config.log_key_file = (char *)"";
	r = store_open(db, &store, errbuf, sizeof(errbuf));
	if (r == 0)
		r = ledger_tlog_open(store, &config, &tlog, errbuf, sizeof(errbuf));
	if (r < 0)
		die(errbuf, r);
	for (int i = 0; i < BATCH; i++)
		entries[i] = texts[i];
	baselines(dir);

	/* One entry per transaction: one fsync and one signature each. */
	t = now_s();
	for (int i = 0; i < SINGLES; i++, appended++) {
		entry_make(texts[0], sizeof(texts[0]), appended);
		r = store_begin(store);
		if (r == 0)
			r = ledger_tlog_append(tlog, entries, 1, NULL);
		if (r == 0)
			r = store_commit(store);
		if (r < 0)
			die("append", r);
	}
	printf("append, 1 entry per transaction:     %9.0f entries/s (synchronous=FULL)\n",
	       SINGLES / (now_s() - t));

	t = now_s();
	long batched = 0;
	while (appended < total) {
		int n = total - appended < BATCH ? (int)(total - appended) : BATCH;

		for (int i = 0; i < n; i++)
			entry_make(texts[i], sizeof(texts[i]), appended + i);
		r = store_begin(store);
		if (r == 0)
			r = ledger_tlog_append(tlog, entries, (size_t)n, NULL);
		if (r == 0)
			r = store_commit(store);
		if (r < 0)
			die("append", r);
		appended += n;
		batched += n;
	}
	printf("append, 1,000 entries per transaction: %9.0f entries/s (synchronous=FULL)\n",
	       batched / (now_s() - t));

	srand(1);
	for (int i = 0; i < PROOFS; i++) {
		uint8_t proof[TLOG_PROOF_MAX][TLOG_HASH_SIZE];
		int64_t index = (int64_t)(((long)rand() << 16 ^ rand()) % appended);
		size_t len;

		t = now_s();
		r = tlog_prove_record(appended, index, store_tlog_hashes_read, store, proof, &len);
		proof_us[i] = (now_s() - t) * 1e6;
		if (r < 0)
			die("prove", r);
	}
	qsort(proof_us, PROOFS, sizeof(double), compare_double);
	printf("inclusion proof at %ld entries:   median %.1f us, p99 %.1f us\n", appended,
	       proof_us[PROOFS / 2], proof_us[PROOFS * 99 / 100]);

	/* At start the daemon recomputes every stored hash and the root. */
	ledger_tlog_free(tlog);
	t = now_s();
	r = ledger_tlog_open(store, &config, &tlog, errbuf, sizeof(errbuf));
	if (r < 0 || ledger_tlog_problem(tlog))
		die("verifying the log at open", r);
	printf("verification at start of %ld entries: %.2f s\n", appended, now_s() - t);
	ledger_tlog_free(tlog);
	store_free(store);
	long pages = sql_long(db, "PRAGMA page_count");
	long page_size = sql_long(db, "PRAGMA page_size");
	long entry_bytes = sql_long(db, "SELECT sum(length(entry)) FROM log_entries");
	printf("database: %.1f bytes per entry beyond the entry itself (%ld entries, %.1f MB)\n",
	       (double)(pages * page_size - entry_bytes) / (double)appended, appended,
	       (double)(pages * page_size) / 1e6);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : 1;
}
