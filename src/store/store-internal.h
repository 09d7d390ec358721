/* Private to src/store/: the connection and its statement cache, the mapping
 * of SQLite result codes to negative errnos, and the helpers every query in
 * the store's .c files uses. A store is SQLite's (db) or PostgreSQL's (pg,
 * pg.c): the helpers run the same SQL on either. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "coopbill/fiber.h"
#include "coopbill/store.h"

/* How long a statement waits for another connection's lock: long enough to
 * ride out a checkpoint or another process's short write. */
#define STORE_BUSY_TIMEOUT_MS 5000

/* A cached statement, and the rows of its current run. */
struct store_stmt {
	const char *sql;    /* the cache key: the caller's static string, by address */
	sqlite3_stmt *lite; /* NULL in a PostgreSQL store */
	/* PostgreSQL: the prepared statement's name, the run's rows, the
	 * current one, and an integer column read as text. */
	char name[24];
	PGresult *result;
	int row;
	char number[24];
};

/* The tokens the store found, by hash, as they were at one version of the
 * database: a request's token is then checked without a query. */
#define STORE_TOKENS_KEPT 32
struct store_token_kept {
	uint8_t hash[32];
	struct store_token token;
};

struct store {
	sqlite3 *db;
	char *path;
	/* A PostgreSQL store's connection and the rows its last statement
	 * changed; whether a transaction is open
	 * (begun and not yet committed or rolled back, also when the connection
	 * broke meanwhile); when the next reconnection may be tried; the
	 * gateway whose lock the connection holds (store_gateway_lock), to take
	 * it again on a new connection; the url it was made from, to make it
	 * again; the fiber using it (see store_work); when the statement now
	 * waiting for its answer was sent (monotonic ms, 0: none waits). */
	PGconn *pg;
	int64_t changes;
	bool pg_in_transaction;
	uint64_t pg_retry_ms;
	char *pg_gateway;
	char *pg_url;
	struct fiber_hold pg_hold;
	uint64_t pg_sent_ms;
	/* How long a statement waits for another connection's lock (0: it
	 * fails at once), and the waits so far, for /metrics. */
	unsigned busy_timeout_ms;
	uint64_t busy_retries;
	int write_error; /* the last failed write's -ENOSPC or -EIO; 0 once one succeeds */
	struct store_stmt **statements;
	size_t n_statements;
	size_t n_statements_allocated;
	/* SQLite's mapping of the wal-index, or NULL without one. */
	const volatile uint32_t *wal_index;
	/* The last ping that answered, and the schema version it read. */
	struct store_version ping_version;
	unsigned ping_schema_version;
	struct store_version tokens_version;
	struct store_token_kept tokens[STORE_TOKENS_KEPT];
	size_t n_tokens;
	size_t tokens_next; /* the slot the next token found goes to */
	/* The cooperative's time zone (the caller's, see store_zone_set), and
	 * whether usage_daily holds every hourly total by its days. */
	const struct tz_zone *zone;
	bool daily_ready;
};

/* Maps an SQLite result code (primary or extended) to a negative errno. */
int store_map_error(int sqlite_code);

/* The errno for SQLite's connection's last failure, e.g. after a failed bind. */
int store_last_error(struct store *store);

/* What a statement parameter or a column's value is. */
enum store_kind { STORE_NULL, STORE_INT, STORE_TEXT, STORE_BLOB };

/* A statement parameter: every value the store binds is one of these. Texts
 * and BLOBs are bound without a copy: they must outlive the statement's
 * use. */
struct store_value {
	enum store_kind kind;
	int64_t integer;
	const char *text;
	const void *blob;
	size_t len; /* of the BLOB */
};
#define STORE_INT(x)	 ((struct store_value){ .kind = STORE_INT, .integer = (x) })
#define STORE_TEXT(x)	 ((struct store_value){ .kind = (x) ? STORE_TEXT : STORE_NULL, .text = (x) })
#define STORE_BLOB(x, n) ((struct store_value){ .kind = STORE_BLOB, .blob = (x), .len = (n) })
/* A row id, NULL for 0 ("none"). */
#define STORE_ID(x) ((struct store_value){ .kind = (x) ? STORE_INT : STORE_NULL, .integer = (x) })

/* The store's SQL is one text for SQLite and PostgreSQL (whose backend
 * reads ?N as $N), so it keeps to what both read alike:
 * - a parameter whose type nothing else gives first is cast where it first
 *   stands (CAST(?1 AS TEXT) IS NULL; CAST(?1 AS BIGINT) = 0, as a bare
 *   parameter against a literal is a 32-bit integer to PostgreSQL);
 * - sum() of integers is cast to BIGINT where it is read (PostgreSQL's is
 *   numeric), and truth values are read as CASE WHEN … THEN 1 ELSE 0 END;
 * - an upsert names the existing row's columns with their table;
 * - two-argument min() and max(), SQLite's only, are written as CASE;
 * - no engine's own date or JSON functions (strftime(), unixepoch(),
 *   json_extract()): the store formats and reads times and documents in C;
 * - a subquery in FROM has an alias, and every column read beside an
 *   aggregate is grouped by. */

/* Starts a cached query with values bound to ?1, ?2, …: its rows come from
 * store_step(), and store_release() ends it. The cache is keyed by the
 * address of sql, so callers pass a `static const char sql[]`. Statements
 * live until store_free(). */
int store_query(struct store *store, const char *sql, const struct store_value *values,
		size_t n_values, struct store_stmt **ret_stmt);

/* Moves to the query's next row: 1 when there is one, 0 after the last. */
int store_step(struct store_stmt *stmt);

/* Ends a query's run, which ends its read of the database and drops
 * pointers to the caller's bound buffers. Accepts NULL. */
void store_release(struct store_stmt *stmt);

/* The current row's columns, numbered from 0. A NULL column is 0, NULL
 * text or BLOB, and 0 bytes long; a text is NUL-terminated. */
enum store_kind store_column_kind(struct store_stmt *stmt, int column);
int64_t store_column_int64(struct store_stmt *stmt, int column);
/* The current row's first n_columns columns, each as store_column_int64()
 * reads it, in one call: for the millions of rows a usage scan reads. */
void store_columns_int64(struct store_stmt *stmt, int n_columns, int64_t *ret_values);
const char *store_column_text(struct store_stmt *stmt, int column);
const void *store_column_blob(struct store_stmt *stmt, int column);
size_t store_column_bytes(struct store_stmt *stmt, int column);
int store_column_count(struct store_stmt *stmt);
const char *store_column_name(struct store_stmt *stmt, int column);

/* How many rows the last statement that wrote inserted, changed or deleted. */
int64_t store_changes(struct store *store);

/* Runs a cached query with values bound to ?1, ?2, … and hands its first
 * row to decode, whose result it returns; -ENOENT when there is no row. */
int store_query_one(struct store *store, const char *sql, const struct store_value *values,
		    size_t n_values, int (*decode)(struct store_stmt *stmt, void *data),
		    void *data);

/* The first column of a cached query's first row, an integer, with values
 * bound to ?1, ?2, …; -ENOENT when there is no row. */
int store_query_int64(struct store *store, const char *sql, const struct store_value *values,
		      size_t n_values, int64_t *ret_value);

/* A growing array that query rows are decoded into. */
struct store_rows {
	void *items;
	size_t n;
	size_t allocated;
	size_t item_size;
};

/* Appends a zeroed item and returns it, or NULL when out of memory. */
void *store_rows_add(struct store_rows *rows);

/* Runs a cached query with values bound to ?1, ?2, … and hands each row to
 * decode, which appends what it makes of it to rows. On failure rows->items
 * is freed. */
int store_collect(struct store *store, const char *sql, const struct store_value *params,
		  size_t n_params, int (*decode)(struct store_stmt *stmt, struct store_rows *rows),
		  struct store_rows *rows);

/* Runs a cached statement with values bound to ?1, ?2, …. Without ret_id
 * it returns no rows (a row is -EIO); with ret_id it is an INSERT …
 * RETURNING id, whose one row's id *ret_id is. */
int store_exec(struct store *store, const char *sql, const struct store_value *values,
	       size_t n_values, int64_t *ret_id);

/* Rows per multi-row statement (one statement for many rows is about three
 * times faster on SQLite than one per row for the thousands of rows of a
 * poll, and on PostgreSQL a round trip for many rows instead of one each),
 * and the most columns such a row has. */
#define STORE_BATCH_ROWS	32
#define STORE_BATCH_COLUMNS_MAX 9

/* "<head> VALUES (?, ...), ... <tail>" for `rows` rows of n_columns, built
 * on first use by store_batch_exec(); the buffer's address keys the
 * statement cache, so a batch is static. */
struct store_batch {
	const char *head;
	const char *tail;
	unsigned n_columns;
	unsigned rows;
	char text[4096];
};

/* Fills one row's values (n_columns of them): 0, or a negative errno
 * (-EOVERFLOW for a number past int64). */
typedef int (*store_row_values_fn)(const void *rows, size_t row, struct store_value *values);

/* Runs batch's statement on the rows from first on, batch->rows of them. */
int store_batch_exec(struct store *store, struct store_batch *batch, const void *rows, size_t first,
		     store_row_values_fn row_values);

/* A write of any number of rows in a few statements: STORE_BATCH_ROWS rows
 * each, then the rest in batches of each power of two below that. Declared
 * static with its head, tail and columns; its batches are made on first
 * use. */
#define STORE_BATCH_SIZES 6
struct store_batches {
	const char *head;
	const char *tail;
	unsigned n_columns;
	struct store_batch sizes[STORE_BATCH_SIZES];
};
int store_batches_run(struct store *store, struct store_batches *batches, const void *rows,
		      size_t n_rows, store_row_values_fn row_values);

/* Makes a group of statements atomic: a transaction of its own when the
 * caller has none, else a savepoint inside the caller's transaction.
 * store_atomic_leave() commits or releases when r >= 0, rolls back otherwise,
 * and returns r or the commit's error. */
int store_atomic_enter(struct store *store, bool *ret_own_transaction);
int store_atomic_leave(struct store *store, bool own_transaction, int r);

/* The PostgreSQL backend (pg.c), which the helpers above call for a store
 * whose pg is set; each does what its SQLite counterpart in db.c does. */
int store_pg_open(struct store *store, const char *url, char *errbuf, size_t errbuf_len);
int store_pg_query(struct store *store, struct store_stmt *stmt, const struct store_value *values,
		   size_t n_values);
int store_pg_step(struct store_stmt *stmt);
void store_pg_release(struct store_stmt *stmt);
enum store_kind store_pg_column_kind(struct store_stmt *stmt, int column);
int64_t store_pg_column_int64(struct store_stmt *stmt, int column);
void store_pg_columns_int64(struct store_stmt *stmt, int n_columns, int64_t *ret_values);
const char *store_pg_column_text(struct store_stmt *stmt, int column);
const void *store_pg_column_blob(struct store_stmt *stmt, int column);
size_t store_pg_column_bytes(struct store_stmt *stmt, int column);
int store_pg_column_count(struct store_stmt *stmt);
const char *store_pg_column_name(struct store_stmt *stmt, int column);
/* Runs transaction control (or a migration): one or more statements. */
int store_pg_control(struct store *store, const char *sql);
/* Takes the gateway's session lock (see store_gateway_lock). */
int store_pg_gateway_lock(struct store *store, const char *gateway);
/* A session advisory lock on a name, in one of the store's spaces of
 * them: -EBUSY when another session holds it. */
#define STORE_PG_GATEWAY_LOCKS 1668247408 /* "coop" */
#define STORE_PG_CLOSE_LOCKS   1668050803 /* "clos" */
int store_pg_session_lock(struct store *store, int space, const char *name);
void store_pg_session_unlock(struct store *store, int space, const char *name);
/* What starts a write transaction: BEGIN, then the write lock. */
const char *store_pg_begin_sql(void);
bool store_pg_in_transaction(const struct store *store);
int store_pg_schema_version(struct store *store, unsigned *ret_version);
int store_pg_footprint(struct store *store, int64_t *ret_bytes);
/* Whether another fiber holds the connection; then *ret_error says how it
 * fares (see store_ping). */
bool store_pg_answered_meanwhile(const struct store *store, int *ret_error);
/* A bigint[] parameter in PostgreSQL's binary form, made for at most n_max
 * elements and filled one at a time with integers or NULLs: sent as
 * STORE_BLOB(bytes, len) to a parameter cast to BIGINT[], it lets one
 * statement take a column of many rows. */
struct store_pg_array {
	uint8_t *bytes;
	size_t len;
	uint32_t n;
};
int store_pg_array_new(size_t n_max, struct store_pg_array *ret_array);
void store_pg_array_add(struct store_pg_array *array, const struct store_value *value);
void store_pg_array_free(struct store_pg_array *array);
