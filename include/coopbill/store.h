/* Storage: the SQLite database — opening with the project's pragmas, integrity
 * check, embedded migrations, and one function per query on each entity.
 * Statements are prepared once and reused; values are always bound.
 *
 * The store's interface is this header: a second backend (PostgreSQL) would
 * implement these functions, with the same results and errors (-ENOENT for
 * no such row, -EEXIST for a duplicate, -EBUSY, -ENOSPC, -EIO), and nothing of
 * src/store/ beyond them. They come in groups, by what they store:
 *   - the connection: store_open, store_open_readonly, store_free,
 *     store_schema_version(_latest), store_ping, store_version_get and
 *     store_version_same, store_write_error,
 *     store_describe_write_error, store_integrity_check, store_copy,
 *     store_lock, the write
 *     transaction (store_begin, store_commit, store_rollback) every other
 *     write runs in, and read snapshots (store_read_begin, store_read_end);
 *   - households and their address ranges: store_household_*,
 *     store_households_free, store_address_conflict;
 *   - tokens (store_token_*, store_tokens_list) and the audit trail (store_audit_append);
 *   - metering: baselines (store_baselines_*), usage buckets and their hourly
 *     and daily roll-up (store_usage_add_rows, _rows, _slices, _totals,
 *     _hour_total, _rollup, _prune, _watermark, _pruned_to, and
 *     store_zone_set, _build for the days' zone), gaps (store_gap_insert,
 *     store_gaps_*);
 *   - the transparency log: store_tlog_*, store_household_salt_*;
 *   - billing: tariffs (store_tariff_*, store_tariffs_list), expenses
 *     (store_expense_*, store_expenses_list), invoices (store_invoice_*,
 *     store_invoices_list, store_invoice_totals), ledger entries
 *     (store_ledger_*, store_payments_list), periods and their close
 *     (store_period_*), imported usage (store_usage_import, _imports_list,
 *     _imported) and the labels of published tariffs (store_label_*).
 *
 * Most reads return typed structs. The billing reads that return a JSON row
 * (struct json_t, keyed by column name) are those whose row the API hands on
 * unchanged as its reply: store_tariff_get, store_tariffs_list,
 * store_expense_get, store_expenses_list, store_invoice_get,
 * store_invoices_list, store_ledger_get, store_ledger_list,
 * store_payments_list, store_period_close_get and store_usage_imports_list.
 * What the ledger decides on is read typed (store_tariff_load,
 * store_period_state, store_period_closing, store_expense_total, …). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coopbill/cidr.h"
#include "coopbill/config.h"
#include "coopbill/tz.h"

struct store;

/* Opens (creating if needed) the database, sets WAL, synchronous=FULL,
 * foreign_keys and busy_timeout, runs PRAGMA quick_check and applies pending
 * migrations, each in its own transaction. A database whose schema is newer
 * than this binary is refused with -EPROTONOSUPPORT. On failure errbuf says
 * what went wrong in a sentence fit for the operator. */
int store_open(const char *path, struct store **ret_store, char *errbuf, size_t errbuf_len);
/* Connects to a PostgreSQL database (url: libpq's connection string or URI)
 * and applies pending migrations from sql/pg/, each in a write transaction:
 * gateways that start together migrate once. -ENOTCONN when it cannot
 * connect. Such a store knows no version (store_version_get): nothing is
 * kept across requests. */
int store_open_url(const char *url, struct store **ret_store, char *errbuf, size_t errbuf_len);
/* The database config names: [database] url when set, else [database] path. */
int store_open_config(const struct config *config, struct store **ret_store, char *errbuf,
		      size_t errbuf_len);
/* Takes, for as long as the store is open, the lock that keeps a second
 * daemon of the same gateway off a PostgreSQL database: -EBUSY when another
 * holds it. SQLite's file has one daemon (store_lock): nothing to take. */
int store_gateway_lock(struct store *store, const char *gateway);
/* Claims the close of a period for this daemon until it releases the claim
 * or its connection ends (killed mid-close, it leaves the close to any other
 * gateway): -EBUSY while another daemon holds it. On SQLite, whose file has
 * one daemon, every claim succeeds. */
int store_close_claim(struct store *store, const char *period);
void store_close_release(struct store *store, const char *period);
/* Whether the store's calls wait on the network (PostgreSQL): then the
 * daemon makes them on fibers (coopbill/fiber.h), through store_work(). */
bool store_waits(const struct store *store);
/* Runs fn(data) as the loop would. On PostgreSQL on a fiber, so that the
 * loop goes on while it waits for the database; with hold, the fiber
 * first takes the store, after the fibers that took it before, and holds
 * it to its end: those fibers run one at a time, each alone with the
 * store. On SQLite, or when no fiber can be made, here. 1 when it waits:
 * done(data), if given, then runs once fn has returned; else 0. */
int store_work(struct store *store, bool hold, void (*fn)(void *data), void (*done)(void *data),
	       void *data);
/* Opens a copy of the database to read it only (a backup being checked):
 * no pragmas, no migrations; -EPROTONOSUPPORT when its schema is not this
 * binary's. */
int store_open_readonly(const char *path, struct store **ret_store, char *errbuf,
			size_t errbuf_len);
void store_free(struct store *store);

/* The schema version this binary migrates to, and the one the file has. */
unsigned store_schema_version_latest(void);
int store_schema_version(struct store *store, unsigned *ret_version);

/* A cheap read that fails when the database is unusable, with the schema
 * version it reads; answered without a query while nothing was committed
 * since the last one that answered. On PostgreSQL, while another fiber
 * holds the store, answered from its connection without waiting for it:
 * -ETIMEDOUT when its statement has waited a second or more for the
 * server, -ENOTCONN when the connection is broken. */
int store_ping(struct store *store, unsigned *ret_schema_version);
/* What the database was at one moment: a copy of its wal-index header
 * (https://www.sqlite.org/walformat.html), the 48 bytes at the start of the
 * -shm file that every connection, in any process, rewrites when it commits.
 * Two versions that are the same tell, without a system call or a lock,
 * that nothing was committed between them: what was read from the database
 * at the first would read the same at the second. */
struct store_version {
	uint32_t header[12];
	bool known;
};
/* The database's version now: unknown without a wal-index, inside a
 * transaction (whose own changes the header does not show yet), and while
 * another connection is writing the header. */
void store_version_get(const struct store *store, struct store_version *ret_version);
/* Whether both versions are known and the same: nothing was committed
 * between them. */
bool store_version_same(const struct store_version *a, const struct store_version *b);
/* Whether writes fail: -ENOSPC or -EIO when the last transaction failed for
 * want of space or by an I/O error, until one commits again; else 0. */
int store_write_error(const struct store *store);
/* What the database takes on its disk, and how often a statement waited
 * for another connection's lock (each retry of SQLite's busy handler), for
 * /metrics. */
struct store_footprint {
	uint64_t database_bytes;
	uint64_t wal_bytes; /* the -wal file beside it; 0 when there is none */
	/* The file system holding the database: free to an unprivileged
	 * writer, and its size. */
	uint64_t filesystem_free_bytes;
	uint64_t filesystem_size_bytes;
	uint64_t busy_retries;
};
int store_footprint_get(struct store *store, struct store_footprint *ret_footprint);
/* Says why writes fail in a sentence for the operator ("the disk holding
 * /var/lib/coopbill is full"), given the error of a failed write or open. */
void store_describe_write_error(const char *path, int error, char *buf, size_t len);

/* PRAGMA integrity_check, the full one (store_open runs the quick one):
 * -EIO and the first problem in errbuf when the file is damaged. */
int store_integrity_check(struct store *store, const char *path, char *errbuf, size_t errbuf_len);

/* Copies the database at source_path into a new file dest_path (-EEXIST
 * when it exists) with SQLite's online backup: the snapshot of one moment,
 * taken in steps while other connections go on writing, the copy in
 * rollback-journal mode (one file). progress, when not NULL, is told the
 * pages copied so far after each step. On failure nothing is left at
 * dest_path and errbuf says why ("the disk holding … is full"). */
typedef void (*store_copy_progress)(int pages_done, int pages_total, void *ctx);
int store_copy(const char *source_path, const char *dest_path, store_copy_progress progress,
	       void *ctx, char *errbuf, size_t errbuf_len);

/* The lock that says a process owns the database (the daemon while it
 * runs, a restore while it replaces the file): an exclusive flock on
 * database_path + ".lock", held until *ret_fd is closed. -EBUSY when another
 * process holds it, with *ret_holder its process id (0 when unknown). */
int store_lock(const char *database_path, int *ret_fd, long *ret_holder);

/* Write transactions: BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any failure. */
int store_begin(struct store *store);
int store_commit(struct store *store);
void store_rollback(struct store *store);

/* Reads from one snapshot: BEGIN (deferred) … the end. A reply made of
 * several queries then sees one state of the database and takes SQLite's
 * file locks once instead of once a query. store_read_end() never fails
 * (a read has nothing to commit). Not inside a write transaction. */
int store_read_begin(struct store *store);
void store_read_end(struct store *store);

enum household_status {
	HOUSEHOLD_ACTIVE,
	HOUSEHOLD_CLOSED,
};

struct household {
	int64_t id;
	char *name;
	char joined_at[11]; /* YYYY-MM-DD */
	char left_at[11];   /* YYYY-MM-DD, or "" while a member */
	enum household_status status;
	int64_t tariff_id; /* a published tariff of its own; 0: the cooperative's */
	struct cidr *addresses;
	size_t n_addresses;
	char gateway[CONFIG_GATEWAY_MAX + 1]; /* the gateway whose kernel counts it */
};

/* Frees the members and the struct itself; accepts NULL. */
void store_household_free(struct household *household);
void store_households_free(struct household *households, size_t n_households);
/* The household as the API shows it and the audit trail records it. */
struct json_t *store_household_json(const struct household *household);

/* Inserts the household and its addresses (household->id is ignored). */
int store_household_insert(struct store *store, const struct household *household, int64_t *ret_id);
/* Replaces name, status, left_at, tariff, gateway and the address list of
 * household->id. */
int store_household_update(struct store *store, const struct household *household);
/* 0 when the household is there, -ENOENT when not. */
int store_household_exists(struct store *store, int64_t id);
/* -ENOENT when there is no such household. */
int store_household_get(struct store *store, int64_t id, struct household **ret_household);
int store_household_list(struct store *store, struct household **ret_households,
			 size_t *ret_n_households);
/* A number that moves whenever a household is added or its status, gateway
 * or addresses change, through whichever daemon: the sum of the
 * households' counts of such changes, kept by the database's triggers. */
int store_household_changes(struct store *store, int64_t *ret_changes);

/* The ids of all households, each sorted: those active on gateway (NULL:
 * on any), and the others (closed, or on another gateway). */
int store_household_ids(struct store *store, const char *gateway, int64_t **ret_active,
			size_t *ret_n_active, int64_t **ret_closed, size_t *ret_n_closed);

/* Finds an active household on gateway other than except_household_id (0:
 * none) whose address ranges overlap any of addresses: gateways are apart,
 * and two may use the same private ranges. Returns 0 and that household's
 * id and range, or -ENOENT when nothing overlaps. */
int store_address_conflict(struct store *store, const char *gateway, const struct cidr *addresses,
			   size_t n_addresses, int64_t except_household_id,
			   int64_t *ret_household_id, struct cidr *ret_range);

struct store_token {
	int64_t id;
	char role[8];	       /* "admin" or "member" */
	int64_t household_id;  /* 0 for admin tokens */
	char name[256];	       /* at most 200 bytes, as issued */
	char created_at[21];   /* YYYY-MM-DDTHH:MM:SSZ */
	char last_used_at[21]; /* the same, or "" when never used */
	int64_t last_used_s;   /* last_used_at in Unix seconds; 0 when never used */
	bool revoked;
};

/* hash is the 32-byte BLAKE2b hash of the token; the token itself is never stored. */
int store_token_insert(struct store *store, const uint8_t hash[32], const char *role,
		       int64_t household_id, const char *name, int64_t *ret_id);
/* -ENOENT when no token has this hash (a revoked one is found, revoked). */
int store_token_find(struct store *store, const uint8_t hash[32], struct store_token *ret_token);
/* -ENOENT when there is no token with this id. */
int store_token_get(struct store *store, int64_t id, struct store_token *ret_token);
/* The tokens not revoked of one household (0: all, admin tokens too), by id;
 * the caller frees *ret_tokens. */
int store_tokens_list(struct store *store, int64_t household_id, struct store_token **ret_tokens,
		      size_t *ret_n_tokens);
/* Records that the token was used at now_s (Unix seconds); -EBUSY at once,
 * without waiting, while another connection writes. */
int store_token_used(struct store *store, int64_t id, int64_t now_s);
/* Revokes a token now; -ENOENT when there is no such token not revoked. */
int store_token_revoke(struct store *store, int64_t id);

/* Appends to the append-only audit_events table: who (actor, e.g. "token:3" or
 * "cli"), what (action, e.g. "household.create"), about which household (0:
 * none), and a JSON detail. */
int store_audit_append(struct store *store, const char *actor, const char *action,
		       int64_t household_id, const char *detail_json);

/* Metering. direction is 0 for upload, 1 for download; scope is 0 for the
 * internet (through an uplink), 1 for local traffic. */
/* A counter's direction and scope as the database, the API and the log
 * name them: "up" or "down", "internet" or "local". */
const char *store_direction_name(int direction);
const char *store_scope_name(int scope);

struct store_baseline {
	int64_t household_id;
	int direction;
	uint64_t handle;
	uint64_t bytes;
	int scope;
};

/* Sorted by household, then scope (internet first), then direction (upload
 * first). */
int store_baselines_load(struct store *store, struct store_baseline **ret_baselines,
			 size_t *ret_n_baselines);
/* A household's new baselines: internet up and down, local up and down
 * (any may be NULL: kept). store_baselines_put() takes one per household,
 * in the order of their ids (-EINVAL otherwise). */
struct store_baseline_update {
	int64_t household_id;
	const struct store_baseline *up;
	const struct store_baseline *down;
	const struct store_baseline *local_up;
	const struct store_baseline *local_down;
};
int store_baselines_put(struct store *store, const struct store_baseline_update *updates,
			size_t n_updates);
int store_baselines_delete(struct store *store, int64_t household_id);
/* Forgets every household's local baselines (their counters are gone). */
int store_baselines_forget_local(struct store *store);

struct store_usage_row;
/* Adds each row's bytes to its household's bucket (start is the bucket's),
 * fastest in key order (store_usage_row_compare()); two rows of the same
 * bucket and household add up. A bucket before the roll-up watermark (the
 * caller's copy of store_usage_watermark(); a wall clock stepped back) is
 * added to the hourly totals too. */
int store_usage_add_rows(struct store *store, int64_t watermark, const struct store_usage_row *rows,
			 size_t n_rows);

struct store_gap {
	int64_t household_id;
	int scope; /* 0: internet, 1: local */
	int direction;
	char reason[24]; /* "counter-reset" or "counter-recreated" */
	int64_t since;	 /* the last read before, Unix seconds; 0 if unknown */
	int64_t at;
	uint64_t bytes_before;
	uint64_t bytes_after;
};

/* logged: whether the caller puts it in the transparency log in the same
 * transaction; if not, it waits for store_gaps_unlogged(). */
int store_gap_insert(struct store *store, const struct store_gap *gap, bool logged);
/* The gaps recorded without their log entry, oldest first, and forgetting
 * them once they are logged (in the same transaction). */
int store_gaps_unlogged(struct store *store, struct store_gap **ret_gaps, size_t *ret_n_gaps);
int store_gaps_unlogged_clear(struct store *store);
/* Gaps of one household (0: all) detected in [from, to). */
int store_gaps_list(struct store *store, int64_t household_id, int64_t from, int64_t to,
		    struct store_gap **ret_gaps, size_t *ret_n_gaps);

/* A household's traffic: bytes_up and bytes_down through the uplinks (the
 * internet), local_up and local_down through the gateway without crossing
 * one (all traffic is internet when no uplink is configured). */
struct store_usage_row {
	int64_t start;
	int64_t household_id;
	uint64_t bytes_up;
	uint64_t bytes_down;
	uint64_t local_up;
	uint64_t local_down;
};

/* Orders usage rows by bucket, then household (qsort()'s comparator): the
 * usage table's key order. */
int store_usage_row_compare(const void *a, const void *b);

/* How finely store_usage_rows() reads: per bucket (while buckets are kept),
 * per hour, or per day of the cooperative's time zone where the daily
 * totals hold the hours (per hour elsewhere). */
enum store_usage_grain {
	STORE_USAGE_BUCKETS,
	STORE_USAGE_HOURS,
	STORE_USAGE_DAYS,
};

/* One household's usage in [from, to), ordered by time, each row starting
 * at its bucket, hour or day; for STORE_USAGE_DAYS, from and to are the
 * starts of days. */
int store_usage_rows(struct store *store, int64_t household_id, int64_t from, int64_t to,
		     enum store_usage_grain grain, struct store_usage_row **ret_rows,
		     size_t *ret_n_rows);
/* Every household's rows starting in [from, to), in the order they are kept
 * (time, then household): the hourly totals when hourly, else the buckets. */
int store_usage_slices(struct store *store, bool hourly, int64_t from, int64_t to,
		       struct store_usage_row **ret_rows, size_t *ret_n_rows);
/* Every household's total in [from, to) (whole hours), ordered by household. */
int store_usage_totals(struct store *store, int64_t from, int64_t to,
		       struct store_usage_row **ret_rows, size_t *ret_n_rows);

/* The usage each invoice of a period ("YYYY-MM") was made from, by
 * household (start is 0). */
int store_usage_invoiced(struct store *store, const char *period, struct store_usage_row **ret_rows,
			 size_t *ret_n_rows);

/* Every household's usage in one hour (a whole hour) added up, in
 * ret_total's bytes; its household_id is 0. */
int store_usage_hour_total(struct store *store, int64_t hour, struct store_usage_row *ret_total);

/* Adds the buckets in [watermark, up_to) to the hourly totals (and daily
 * ones) and moves the watermark to up_to (a whole hour). */
int store_usage_rollup(struct store *store, int64_t up_to);

/* The cooperative's time zone, whose days the daily totals are in; zone is
 * the caller's and must outlive its use (set it again before freeing it).
 * 0 when the daily totals are those of the zone (name and TZif file) and
 * whole; 1 when they are to be made, by store_zone_build() (at first, and
 * after a change of zone, they are emptied). Until then usage by day is
 * read by the hour. Without a zone the store keeps no daily totals, and
 * marks them to be made again. */
int store_zone_set(struct store *store, const struct tz_zone *zone, const char *name);
/* Makes the daily totals a day at a time, at least one, until deadline_ns
 * (uv_hrtime()), in one transaction: 1 while days are left, 0 once they
 * are whole. */
int store_zone_build(struct store *store, uint64_t deadline_ns);
/* Deletes buckets before `before` that are already in the hourly totals,
 * and records the hours that lost buckets. */
int store_usage_prune(struct store *store, int64_t before);
int store_usage_watermark(struct store *store, int64_t *ret_watermark);
/* Hours before this whole hour may have lost buckets to pruning (an import
 * there adds a bucket again): only their hourly totals are whole. Never
 * after the roll-up watermark. */
int store_usage_pruned_to(struct store *store, int64_t *ret_pruned_to);

/* The transparency log's storage. Entries and stored hashes are appended in
 * the caller's transaction; index order is append order. */
int store_tlog_size(struct store *store, int64_t *ret_size);
/* Entries (texts) at consecutive indexes from first_index, in a few
 * statements. */
int store_tlog_entries_put(struct store *store, int64_t first_index, const char *const *entries,
			   size_t n_entries);
/* -ENOENT when there is no such entry. The caller frees *ret_entry. */
int store_tlog_entry_get(struct store *store, int64_t index, char **ret_entry, size_t *ret_len);
/* Stored hashes at consecutive indexes from first_index, in a few
 * statements. */
int store_tlog_hashes_put(struct store *store, int64_t first_index, const uint8_t (*hashes)[32],
			  size_t n_hashes);
/* A tlog_hash_reader over the stored hashes; ctx is the struct store. */
int store_tlog_hashes_read(void *ctx, const int64_t *indexes, size_t n_indexes,
			   uint8_t (*ret_hashes)[32]);
/* -EEXIST when a checkpoint of that size exists already. */
int store_tlog_checkpoint_put(struct store *store, int64_t size, const uint8_t root[32],
			      const char *note);
/* The checkpoint of the largest size; -ENOENT when there is none. The caller
 * frees *ret_note. */
int store_tlog_checkpoint_latest(struct store *store, int64_t *ret_size, uint8_t ret_root[32],
				 char **ret_note);
/* Visits every entry in index order; stops at the first callback error. */
int store_tlog_entries_each(struct store *store,
			    int (*visit)(int64_t index, const void *entry, size_t len, void *data),
			    void *data);
/* Households' secret salts: those of the households from first_id to
 * last_id that have one, by household, in one query (the caller frees
 * *ret_salts); and new ones, in a few statements. */
struct store_household_salt {
	int64_t household_id;
	uint8_t salt[32];
};
int store_household_salts_get(struct store *store, int64_t first_id, int64_t last_id,
			      struct store_household_salt **ret_salts, size_t *ret_n_salts);
int store_household_salts_put(struct store *store, const struct store_household_salt *salts,
			      size_t n_salts);

/* Billing: tariffs, expenses, invoices, the ledger, closed periods and
 * imported usage. Rows are read as JSON objects keyed by column name
 * (integers, texts and nulls), which is how the API hands them on. */
struct json_t;

int store_tariff_insert(struct store *store, const char *name, const char *valid_from,
			const char *document, const char *sha256, int64_t *ret_id);
/* Publishes a draft; -ENOENT when there is no such tariff, -EALREADY when it
 * is published already. */
int store_tariff_publish(struct store *store, int64_t id, const char *signature, int64_t log_index);
/* Proposes a draft to the members (log_index: its tariff-proposed entry);
 * -ENOENT when there is no such tariff, -EALREADY when it is published,
 * -EPERM when it is proposed already. */
int store_tariff_propose(struct store *store, int64_t id, int64_t log_index);
/* Replaces a draft's document, or deletes a draft; -ENOENT when there is no
 * such tariff, -EALREADY when it is published (and so immutable), -EPERM
 * when it is proposed (and so kept as the members saw it). */
int store_tariff_replace(struct store *store, int64_t id, const char *name, const char *valid_from,
			 const char *document, const char *sha256);
int store_tariff_delete(struct store *store, int64_t id);
/* A tariff as the ledger works with it. */
struct store_tariff {
	int64_t id;
	bool published;
	bool proposed;	 /* a draft proposed to the members */
	char sha256[65]; /* of the document, lowercase hex */
	char *document;	 /* the canonical JSON text; the caller frees it */
};
/* -ENOENT when there is no such tariff. */
int store_tariff_load(struct store *store, int64_t id, struct store_tariff *ret_tariff);
/* -ENOENT when there is no such tariff. */
int store_tariff_get(struct store *store, int64_t id, struct json_t **ret_tariff);
/* The tariffs with status ("draft", "proposed" or "published"), ordered
 * by id. */
int store_tariffs_list(struct store *store, const char *status, struct json_t **ret_tariffs);
/* The published tariff in force on a period's first day (YYYY-MM-01): the one
 * with the latest valid_from not after it. -ENOENT when there is none. */
int store_tariff_in_force(struct store *store, const char *period_start, int64_t *ret_id);

int store_expense_insert(struct store *store, const char *period, const char *category,
			 int64_t amount_minor, const char *description, const char *document_ref,
			 const char *actor, int64_t log_index, int64_t *ret_id);
/* -ENOENT when there is no such expense. */
int store_expense_get(struct store *store, int64_t id, struct json_t **ret_expense);
/* Expenses of one period (NULL: all), oldest first. */
int store_expenses_list(struct store *store, const char *period, struct json_t **ret_expenses);
/* The sum of a period's expenses in one category (NULL: in all). */
int store_expense_total(struct store *store, const char *period, const char *category,
			int64_t *ret_total_minor);

/* A period's invoices, in a few statements. */
struct store_invoice_new {
	int64_t household_id;
	const char *period;
	int64_t tariff_id;
	int64_t total_minor;
	const char *document;
	int64_t log_index;
};
int store_invoices_insert(struct store *store, const struct store_invoice_new *invoices,
			  size_t n_invoices);
/* The ledger's debits of a period's invoices whose log entries are at
 * first_log_index to end_log_index - 1, in log order, in one statement:
 * each the invoice's total, logged at the invoice's entry, by actor. A zero
 * invoice owes nothing, and has none. */
int store_invoice_debits_insert(struct store *store, const char *period, int64_t first_log_index,
				int64_t end_log_index, const char *actor);
/* -ENOENT when the household has no invoice for the period. */
int store_invoice_get(struct store *store, int64_t household_id, const char *period,
		      struct json_t **ret_invoice);
/* Invoices of one household (0: all) and one period (NULL: all), without
 * their documents. */
int store_invoices_list(struct store *store, int64_t household_id, const char *period,
			struct json_t **ret_invoices);

/* What each household was invoiced for a period, by household, in one
 * query; the caller frees *ret_totals. */
struct store_invoice_total {
	int64_t household_id;
	int64_t total_minor;
};
int store_invoice_totals(struct store *store, const char *period,
			 struct store_invoice_total **ret_totals, size_t *ret_n_totals);

struct store_ledger_entry {
	int64_t household_id;
	const char *kind; /* "invoice", "payment", "adjustment" or "reversal" */
	int64_t amount_minor;
	int64_t invoice_id; /* invoice: the invoice */
	const char *method; /* payment */
	const char *reference;
	const char *received_on;
	const char *reason; /* adjustment, reversal */
	int64_t reverses;   /* reversal: the entry reversed */
	const char *actor;
	int64_t log_index;
};
int store_ledger_insert(struct store *store, const struct store_ledger_entry *entry,
			int64_t *ret_id);
/* -ENOENT when there is no such entry. */
int store_ledger_get(struct store *store, int64_t id, struct json_t **ret_entry);
/* A household's entries, oldest first, each with the running balance. */
int store_ledger_list(struct store *store, int64_t household_id, struct json_t **ret_entries);
/* Every payment received, oldest first. */
int store_payments_list(struct store *store, struct json_t **ret_payments);

/* -ENOENT while the period is not closed. */
int store_period_close_get(struct store *store, const char *period, struct json_t **ret_close);
/* A period is open, then being closed from the moment its close begins
 * until it is closed, also while no close runs (the daemon stopped during
 * one, or one failed): closing it again finishes it. */
enum store_period_state {
	STORE_PERIOD_OPEN,
	STORE_PERIOD_CLOSING,
	STORE_PERIOD_CLOSED,
};
int store_period_state(struct store *store, const char *period, enum store_period_state *ret_state);
/* The earliest period being closed from `from` ("YYYY-MM"; NULL: any) on;
 * -ENOENT when there is none. */
int store_period_closing(struct store *store, const char *from, char ret_period[8]);
/* The last max closed periods ("YYYY-MM"), oldest first; none when no
 * period is closed. The caller frees *ret_periods. */
int store_periods_closed_last(struct store *store, size_t max, char (**ret_periods)[8],
			      size_t *ret_n_periods);
/* Records that a period's close begins, with the expenses it shares: those
 * recorded so far (store_expense_total() counts no later one for it).
 * Nothing when it began already. */
int store_period_close_begin(struct store *store, const char *period);
int store_period_close_insert(struct store *store, const char *period, int64_t households,
			      int64_t total_minor, const char *summary, int64_t log_index);
/* The latest closed period ("YYYY-MM"); -ENOENT when none is closed. */
int store_period_last_closed(struct store *store, char ret_period[8]);

/* Records one row of imported usage, inside the caller's transaction; the
 * usage itself goes in with store_usage_add_rows(). */
int store_usage_import(struct store *store, const struct store_usage_row *row, const char *reason,
		       const char *actor, int64_t log_index);
/* One household's imports with buckets in [from, to), in time order. */
int store_usage_imports_list(struct store *store, int64_t household_id, int64_t from, int64_t to,
			     struct json_t **ret_imports);

/* How much of a household's usage came from imports. */
struct store_imported {
	int64_t household_id;
	int64_t rows;
	uint64_t bytes_up;
	uint64_t bytes_down;
	uint64_t local_up;
	uint64_t local_down;
};

/* The imports with buckets in [from, to) of each household whose id is in
 * [first_household_id, end_household_id), added up, ordered by household
 * (households without any are left out); -ERANGE when a sum does not fit in
 * 64 bits. */
int store_usage_imported(struct store *store, int64_t first_household_id, int64_t end_household_id,
			 int64_t from, int64_t to, struct store_imported **ret_imported,
			 size_t *ret_n_imported);

/* A published tariff's label: its canonical JSON document, that text's
 * SHA-256, the log key's signature over it and its label-published entry. */
struct store_label {
	int64_t tariff_id;
	char *document;
	char sha256[65];
	char *signature;
	int64_t log_index;
	char published_at[21]; /* YYYY-MM-DDTHH:MM:SSZ; set by the store */
};
/* -EEXIST when the tariff has a label already (a label never changes). */
int store_label_insert(struct store *store, const struct store_label *label);
/* -ENOENT when the tariff has no label. Free with store_label_clear(). */
int store_label_get(struct store *store, int64_t tariff_id, struct store_label *ret_label);
void store_label_clear(struct store_label *label);
