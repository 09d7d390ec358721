/* The PostgreSQL backend: the statements SQLite runs, run through libpq.
 *
 * The store's SQL is written once, for both engines (sql/pg/ holds the
 * schema's PostgreSQL dialect). Here a statement's ?N parameters become $N,
 * it is prepared once per connection, and each run sends its values as
 * text (BLOBs as binary) and takes its rows in binary, which the column
 * readers decode by type: integers, booleans and numerics as integers,
 * bytea as BLOBs, the rest as text. A run's rows are all in hand when the
 * query returns; store_step() walks them.
 *
 * Write transactions serialise on one advisory lock (STORE_PG_WRITE_LOCK),
 * as SQLite's BEGIN IMMEDIATE serialises writers on its file: whatever
 * gateway writes, one write transaction runs at a time, and it sees every
 * commit before it. docs/architecture.md says why.
 *
 * A broken connection (the server restarted, a standby promoted) is made
 * again before the next statement outside a transaction, at most once per
 * STORE_PG_RETRY_MS: libpq tries the url's hosts in turn, and with
 * target_session_attrs=read-write finds the new primary. Inside a
 * transaction nothing is sent until the caller has rolled back: what it
 * wrote before the break is gone, and no later statement may run outside
 * it.
 *
 * The connection is non-blocking: a statement is sent, then its answer
 * awaited with fiber_wait_fd(), which on a fiber parks it and lets the
 * loop go on (see coopbill/fiber.h); a new connection is made on a worker
 * thread, where libpq may block on its hosts in turn. One fiber at a time
 * uses the connection, from its first statement to its end (pg_hold). */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "migrations.h"
#include "store-internal.h"

/* PostgreSQL's type oids (catalog/pg_type.h, stable across versions). */
enum {
	PG_BOOL = 16,
	PG_BYTEA = 17,
	PG_INT8 = 20,
	PG_INT2 = 21,
	PG_INT4 = 23,
	PG_NUMERIC = 1700,
};

/* The advisory lock every write transaction takes: "coopbill" in ASCII. */
#define STORE_PG_WRITE_LOCK "7165064401234750828"

/* How often a broken connection is tried again. */
#define STORE_PG_RETRY_MS 1000

/* How long a statement may wait for its answer before /healthz calls the
 * database slow. */
#define STORE_PG_SLOW_MS 1000

/* Maps a failed result's SQLSTATE to the negative errno SQLite's codes map
 * to, so callers see one set of errors whichever backend runs. */
static int map_sqlstate(const char *state)
{
	static const struct {
		const char *state;
		int error;
	} states[] = {
		{ "23505", -EEXIST }, /* unique_violation */
		{ "23503", -ENOENT }, /* foreign_key_violation: no such row */
		{ "23514", -EINVAL }, /* check_violation */
		{ "23502", -EINVAL }, /* not_null_violation */
		{ "23001", -EPERM },  /* restrict_violation: the append-only triggers */
		{ "40001", -EBUSY },  /* serialization_failure */
		{ "40P01", -EBUSY },  /* deadlock_detected */
		{ "55P03", -EBUSY },  /* lock_not_available */
		{ "53100", -ENOSPC }, /* disk_full */
		{ "53200", -ENOMEM }, /* out_of_memory */
	};

	if (!state)
		return -EIO;
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		if (strcmp(state, states[i].state) == 0)
			return states[i].error;
	/* Class 08: the connection is gone. */
	if (strncmp(state, "08", 2) == 0)
		return -ENOTCONN;
	return -EIO;
}

/* The errno for a result (NULL: libpq could not even make one). */
static int result_error(struct store *store, const PGresult *result)
{
	int r;

	if (PQstatus(store->pg) == CONNECTION_BAD)
		r = -ENOTCONN;
	else if (!result)
		r = -ENOMEM;
	else
		r = map_sqlstate(PQresultErrorField(result, PG_DIAG_SQLSTATE));
	if (r == -ENOSPC)
		store->write_error = r;
	return r;
}

/* SQLite's parameters as PostgreSQL's, outside quoted text: ?N is $N, and
 * a bare ? is numbered as SQLite numbers it, one past the largest so far. */
static char *dollar_parameters(const char *sql)
{
	/* A bare ? (1 byte) becomes at most $65535 (6 bytes). */
	char *out = malloc(strlen(sql) * 6 + 1), *o = out;
	unsigned long largest = 0, number;
	char quote = '\0', *end;

	if (!out)
		return NULL;
	for (const char *p = sql; *p; p++) {
		if (quote) {
			if (*p == quote)
				quote = '\0';
		} else if (*p == '\'' || *p == '"') {
			quote = *p;
		} else if (*p == '?') {
			number = strtoul(p + 1, &end, 10);
			if (end == p + 1)
				number = largest + 1;
			else
				p = end - 1;
			if (number > largest)
				largest = number;
			o += sprintf(o, "$%lu", number);
			continue;
		}
		*o++ = *p;
	}
	*o = '\0';
	return out;
}

static uint64_t monotonic_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
}

/* What a new connection needs before its first statement. */
static int session_setup(struct store *store)
{
	/* Every statement's times are numbers the store computes; the
	 * session's zone is fixed anyway, so that nothing depends on the
	 * server's. A write waits for another gateway's write as long as
	 * SQLite waits for another connection's lock, then fails -EBUSY. */
	char sql[96];
	int r;

	snprintf(sql, sizeof(sql), "SET TIME ZONE 'UTC'; SET lock_timeout = %d",
		 STORE_BUSY_TIMEOUT_MS);
	r = store_pg_control(store, sql);

	if (r == 0 && store->pg_gateway)
		r = store_pg_gateway_lock(store, store->pg_gateway);
	return r;
}

/* A connection to url, made as PQconnectdbParams() makes it: blocking,
 * trying the url's hosts in turn. NULL without memory. */
static PGconn *connect_url(const char *url)
{
	/* How long the daemon may wait on a database that stopped answering
	 * over TCP, unless the url says otherwise (its settings come after,
	 * and win): a connection attempt 5 s; a connection the backhaul lost,
	 * noticed by keepalives within 10 + 3 x 5 s, or by unacknowledged
	 * data within 15 s. */
	static const char *const keywords[] = { "connect_timeout",
						"keepalives_idle",
						"keepalives_interval",
						"keepalives_count",
						"tcp_user_timeout",
						"dbname",
						NULL };
	const char *values[] = { "5", "10", "5", "3", "15000", url, NULL };
	PGconn *pg = PQconnectdbParams(keywords, values, 1);

	/* Statements are sent without blocking, their answers awaited. */
	if (pg && PQstatus(pg) == CONNECTION_OK && PQsetnonblocking(pg, 1) < 0) {
		PQfinish(pg);
		pg = NULL;
	}
	return pg;
}

struct reconnect {
	const char *url;
	PGconn *pg;
};

static void reconnect_on_worker(void *data)
{
	struct reconnect *reconnect = data;

	reconnect->pg = connect_url(reconnect->url);
}

/* 0 when statements may be sent; -ENOTCONN while the connection is broken
 * and cannot be made again yet, or a transaction it carried is not ended. */
static int connection_ready(struct store *store)
{
	struct reconnect reconnect = { .url = store->pg_url };
	uint64_t now;

	if (PQstatus(store->pg) == CONNECTION_OK)
		return 0;
	now = monotonic_ms();
	if (store->pg_in_transaction || now < store->pg_retry_ms)
		return -ENOTCONN;
	/* Made on a worker thread, the loop going on meanwhile. */
	fiber_work(reconnect_on_worker, &reconnect);
	store->pg_retry_ms = monotonic_ms() + STORE_PG_RETRY_MS;
	if (!reconnect.pg || PQstatus(reconnect.pg) != CONNECTION_OK) {
		PQfinish(reconnect.pg);
		return -ENOTCONN;
	}
	PQfinish(store->pg);
	store->pg = reconnect.pg;
	/* The server knows none of the statements prepared on the old one. */
	for (size_t i = 0; i < store->n_statements; i++)
		store->statements[i]->name[0] = '\0';
	return session_setup(store);
}

/* Takes the connection for the running fiber (see store_work) and makes
 * it ready: 0, -EBUSY on the loop's stack while a fiber uses it, or
 * connection_ready()'s -ENOTCONN. */
static int connection_take(struct store *store)
{
	int r = fiber_hold_take(&store->pg_hold);

	return r < 0 ? r : connection_ready(store);
}

/* Awaits what a PQsend*() call (whether it succeeded: sent) queued: sent,
 * then answered. Returns the last result, or the first failed one; NULL
 * when libpq could not make any (its error message says why). */
static PGresult *await_result(struct store *store, int sent)
{
	PGresult *result, *kept = NULL;
	int r;

	if (!sent)
		return NULL;
	store->pg_sent_ms = monotonic_ms();
	while ((r = PQflush(store->pg)) == 1)
		if (fiber_wait_fd(PQsocket(store->pg), true, -1) < 0 || !PQconsumeInput(store->pg))
			break;
	while (r == 0 && PQisBusy(store->pg))
		if (fiber_wait_fd(PQsocket(store->pg), false, -1) < 0 || !PQconsumeInput(store->pg))
			break;
	store->pg_sent_ms = 0;
	/* A broken connection's results are its error, then none. */
	while ((result = PQgetResult(store->pg))) {
		if (kept && PQresultStatus(kept) == PGRES_FATAL_ERROR) {
			PQclear(result);
			continue;
		}
		PQclear(kept);
		kept = result;
	}
	return kept;
}

/* Prepares a statement on the connection, named by its address: unique
 * while the statement lives, which is as long as the store. */
static int prepare(struct store *store, struct store_stmt *stmt)
{
	PGresult *result;
	char *sql;
	int r = 0;

	sql = dollar_parameters(stmt->sql);
	if (!sql)
		return -ENOMEM;
	snprintf(stmt->name, sizeof(stmt->name), "s%" PRIxPTR, (uintptr_t)stmt);
	result = await_result(store, PQsendPrepare(store->pg, stmt->name, sql, 0, NULL));
	if (PQresultStatus(result) != PGRES_COMMAND_OK) {
		r = result_error(store, result);
		stmt->name[0] = '\0';
	}
	PQclear(result);
	free(sql);
	return r;
}

int store_pg_query(struct store *store, struct store_stmt *stmt, const struct store_value *values,
		   size_t n_values)
{
	const char **texts = NULL;
	int *lengths = NULL, *formats = NULL;
	char(*numbers)[24] = NULL;
	ExecStatusType status;
	int r = -ENOMEM;

	if (n_values > 65535)
		return -EMSGSIZE;
	r = connection_take(store);
	if (r == 0 && !stmt->name[0])
		r = prepare(store, stmt);
	if (r < 0)
		return r;
	r = -ENOMEM;
	if (n_values > 0) {
		texts = calloc(n_values, sizeof(*texts));
		lengths = calloc(n_values, sizeof(*lengths));
		formats = calloc(n_values, sizeof(*formats));
		numbers = calloc(n_values, sizeof(*numbers));
		if (!texts || !lengths || !formats || !numbers)
			goto out;
	}
	for (size_t i = 0; i < n_values; i++) {
		switch (values[i].kind) {
		case STORE_INT:
			snprintf(numbers[i], sizeof(numbers[i]), "%" PRId64, values[i].integer);
			texts[i] = numbers[i];
			break;
		case STORE_TEXT:
			texts[i] = values[i].text;
			break;
		case STORE_BLOB:
			if (values[i].len > INT32_MAX) {
				r = -EMSGSIZE;
				goto out;
			}
			/* libpq sends a zero length as NULL when the pointer is NULL. */
			texts[i] = values[i].blob ? values[i].blob : "";
			lengths[i] = (int)values[i].len;
			formats[i] = 1;
			break;
		case STORE_NULL:
			break;
		}
	}
	stmt->result = await_result(store, PQsendQueryPrepared(store->pg, stmt->name, (int)n_values,
							       texts, lengths, formats, 1));
	stmt->row = -1;
	status = PQresultStatus(stmt->result);
	if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
		store->changes = strtoll(PQcmdTuples(stmt->result), NULL, 10);
		r = 0;
	} else {
		r = result_error(store, stmt->result);
		PQclear(stmt->result);
		stmt->result = NULL;
	}
out:
	free(texts);
	free(lengths);
	free(formats);
	free(numbers);
	return r;
}

int store_pg_step(struct store_stmt *stmt)
{
	if (!stmt->result || stmt->row + 1 >= PQntuples(stmt->result))
		return 0;
	stmt->row++;
	return 1;
}

void store_pg_release(struct store_stmt *stmt)
{
	PQclear(stmt->result);
	stmt->result = NULL;
}

static bool column_null(const struct store_stmt *stmt, int column)
{
	return !stmt->result || stmt->row < 0 || column >= PQnfields(stmt->result) ||
	       PQgetisnull(stmt->result, stmt->row, column);
}

enum store_kind store_pg_column_kind(struct store_stmt *stmt, int column)
{
	if (column_null(stmt, column))
		return STORE_NULL;
	switch (PQftype(stmt->result, column)) {
	case PG_BOOL:
	case PG_INT2:
	case PG_INT4:
	case PG_INT8:
	case PG_NUMERIC:
		return STORE_INT;
	case PG_BYTEA:
		return STORE_BLOB;
	default:
		return STORE_TEXT;
	}
}

/* A binary numeric's integer part (its digits are base 10000, the first
 * worth 10000^weight); 0 when it does not fit. */
static int64_t numeric_integer(const uint8_t *value, int len)
{
	uint16_t header[4];
	int64_t integer = 0;
	int n_digits, weight;

	if (len < 8)
		return 0;
	memcpy(header, value, sizeof(header));
	n_digits = be16toh(header[0]);
	weight = (int16_t)be16toh(header[1]);
	if (len < 8 + 2 * n_digits || weight > 4)
		return 0;
	for (int i = 0; i <= weight; i++) {
		uint16_t digit = 0;

		if (i < n_digits) {
			memcpy(&digit, value + 8 + 2 * i, 2);
			digit = be16toh(digit);
		}
		integer = integer * 10000 + digit;
	}
	/* The sign word: 0x4000 is negative. */
	return be16toh(header[2]) == 0x4000 ? -integer : integer;
}

int64_t store_pg_column_int64(struct store_stmt *stmt, int column)
{
	const uint8_t *value;
	uint64_t u64;
	uint32_t u32;
	uint16_t u16;
	int len;

	if (column_null(stmt, column))
		return 0;
	value = (const uint8_t *)PQgetvalue(stmt->result, stmt->row, column);
	len = PQgetlength(stmt->result, stmt->row, column);
	switch (PQftype(stmt->result, column)) {
	case PG_INT8:
		if (len != 8)
			return 0;
		memcpy(&u64, value, 8);
		return (int64_t)be64toh(u64);
	case PG_INT4:
		if (len != 4)
			return 0;
		memcpy(&u32, value, 4);
		return (int32_t)be32toh(u32);
	case PG_INT2:
		if (len != 2)
			return 0;
		memcpy(&u16, value, 2);
		return (int16_t)be16toh(u16);
	case PG_BOOL:
		return len == 1 && value[0] != 0;
	case PG_NUMERIC:
		return numeric_integer(value, len);
	case PG_BYTEA:
		return 0;
	default:
		/* Text, as SQLite reads a number from text. */
		return strtoll((const char *)value, NULL, 10);
	}
}

void store_pg_columns_int64(struct store_stmt *stmt, int n_columns, int64_t *ret_values)
{
	uint64_t u64;

	for (int column = 0; column < n_columns; column++) {
		/* A bigint: 8 bytes, as long as there is a row and the column
		 * is not NULL (whose length libpq says is 0). */
		if (stmt->result && stmt->row >= 0 &&
		    PQgetlength(stmt->result, stmt->row, column) == 8 &&
		    PQftype(stmt->result, column) == PG_INT8) {
			memcpy(&u64, PQgetvalue(stmt->result, stmt->row, column), 8);
			ret_values[column] = (int64_t)be64toh(u64);
		} else {
			ret_values[column] = store_pg_column_int64(stmt, column);
		}
	}
}

const char *store_pg_column_text(struct store_stmt *stmt, int column)
{
	switch (store_pg_column_kind(stmt, column)) {
	case STORE_NULL:
		return NULL;
	case STORE_INT:
		snprintf(stmt->number, sizeof(stmt->number), "%" PRId64,
			 store_pg_column_int64(stmt, column));
		return stmt->number;
	default:
		/* libpq ends every value with a zero byte, binary ones too. */
		return PQgetvalue(stmt->result, stmt->row, column);
	}
}

const void *store_pg_column_blob(struct store_stmt *stmt, int column)
{
	if (column_null(stmt, column))
		return NULL;
	return PQgetvalue(stmt->result, stmt->row, column);
}

size_t store_pg_column_bytes(struct store_stmt *stmt, int column)
{
	const char *text;

	switch (store_pg_column_kind(stmt, column)) {
	case STORE_NULL:
		return 0;
	case STORE_INT:
		text = store_pg_column_text(stmt, column);
		return strlen(text);
	default:
		return (size_t)PQgetlength(stmt->result, stmt->row, column);
	}
}

int store_pg_column_count(struct store_stmt *stmt)
{
	return stmt->result ? PQnfields(stmt->result) : 0;
}

const char *store_pg_column_name(struct store_stmt *stmt, int column)
{
	return PQfname(stmt->result, column);
}

int store_pg_control(struct store *store, const char *sql)
{
	bool ends = strcmp(sql, "COMMIT") == 0 || strcmp(sql, "ROLLBACK") == 0;
	ExecStatusType status;
	PGresult *result;
	int r;

	/* A transaction on a broken connection is over: its end is sent
	 * nowhere, and a COMMIT fails. */
	if (ends && store->pg_in_transaction && PQstatus(store->pg) != CONNECTION_OK) {
		store->pg_in_transaction = false;
		return strcmp(sql, "COMMIT") == 0 ? -ENOTCONN : 0;
	}
	r = connection_take(store);
	if (r < 0)
		return r;
	result = await_result(store, PQsendQuery(store->pg, sql));
	status = PQresultStatus(result);
	if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
		r = result_error(store, result);
	PQclear(result);
	if (strncmp(sql, "BEGIN", 5) == 0)
		store->pg_in_transaction = r == 0;
	/* A failed COMMIT ends the transaction too (PostgreSQL rolls it back). */
	if (ends)
		store->pg_in_transaction = false;
	return r;
}

/* Runs a session lock's function on (space, hashtext(name)): whether it
 * answered true. */
static int session_lock_call(struct store *store, const char *function, int space, const char *name)
{
	const char *values[] = { name };
	char sql[96];
	PGresult *result;
	int r = 0;

	snprintf(sql, sizeof(sql), "SELECT %s(%d, hashtext($1))", function, space);
	result = await_result(store,
			      PQsendQueryParams(store->pg, sql, 1, NULL, values, NULL, NULL, 0));
	if (PQresultStatus(result) != PGRES_TUPLES_OK || PQntuples(result) != 1)
		r = result_error(store, result);
	else if (strcmp(PQgetvalue(result, 0, 0), "t") != 0)
		r = -EBUSY;
	PQclear(result);
	return r;
}

int store_pg_session_lock(struct store *store, int space, const char *name)
{
	int r = connection_take(store);

	return r < 0 ? r : session_lock_call(store, "pg_try_advisory_lock", space, name);
}

void store_pg_session_unlock(struct store *store, int space, const char *name)
{
	/* Fails only when the connection, and the lock with it, is gone. */
	if (fiber_hold_take(&store->pg_hold) == 0)
		(void)session_lock_call(store, "pg_advisory_unlock", space, name);
}

int store_pg_gateway_lock(struct store *store, const char *gateway)
{
	int r = session_lock_call(store, "pg_try_advisory_lock", STORE_PG_GATEWAY_LOCKS, gateway);

	if (r == 0 && store->pg_gateway != gateway) {
		free(store->pg_gateway);
		store->pg_gateway = strdup(gateway);
		if (!store->pg_gateway)
			r = -ENOMEM;
	}
	return r;
}

const char *store_pg_begin_sql(void)
{
	return "BEGIN; SELECT pg_advisory_xact_lock(" STORE_PG_WRITE_LOCK ")";
}

bool store_pg_in_transaction(const struct store *store)
{
	return store->pg_in_transaction;
}

/* The first column of a one-off query's one row, as text, into buf. */
static int query_text(struct store *store, const char *sql, char *buf, size_t size)
{
	PGresult *result;
	int r;

	r = connection_take(store);
	if (r < 0)
		return r;
	result = await_result(store, PQsendQuery(store->pg, sql));
	if (PQresultStatus(result) != PGRES_TUPLES_OK || PQntuples(result) != 1)
		r = result_error(store, result);
	else
		snprintf(buf, size, "%s", PQgetvalue(result, 0, 0));
	PQclear(result);
	return r;
}

/* The schema version, 0 before the first migration made its table. */
static int schema_version(struct store *store, unsigned *ret_version)
{
	char text[32];
	int r;

	r = query_text(store, "SELECT to_regclass('schema_version') IS NOT NULL", text,
		       sizeof(text));
	if (r == 0 && strcmp(text, "t") == 0)
		r = query_text(store, "SELECT version FROM schema_version", text, sizeof(text));
	else if (r == 0)
		snprintf(text, sizeof(text), "0");
	if (r == 0)
		*ret_version = (unsigned)strtoul(text, NULL, 10);
	return r;
}

int store_pg_schema_version(struct store *store, unsigned *ret_version)
{
	return schema_version(store, ret_version);
}

/* Applies the migrations past the database's version, one transaction
 * each, under the write lock: gateways that start together migrate once. */
static int migrate(struct store *store, char *errbuf, size_t errbuf_len)
{
	unsigned version;
	int r;

	for (size_t i = 0; i < store_pg_n_migrations; i++) {
		const struct store_migration *migration = &store_pg_migrations[i];

		r = store_pg_control(store, store_pg_begin_sql());
		if (r == 0)
			r = schema_version(store, &version);
		if (r == 0 && version < migration->version)
			r = store_pg_control(store, migration->sql);
		if (r == 0)
			r = store_pg_control(store, "COMMIT");
		if (r < 0) {
			snprintf(errbuf, errbuf_len, "migration %03u_%s failed: %s",
				 migration->version, migration->name, PQerrorMessage(store->pg));
			(void)store_pg_control(store, "ROLLBACK");
			return r;
		}
	}
	return 0;
}

int store_pg_open(struct store *store, const char *url, char *errbuf, size_t errbuf_len)
{
	unsigned version = 0, latest = store_schema_version_latest();
	int r;

	store->pg_url = strdup(url);
	store->pg = connect_url(url);
	if (!store->pg || !store->pg_url)
		return -ENOMEM;
	if (PQstatus(store->pg) != CONNECTION_OK) {
		snprintf(errbuf, errbuf_len, "cannot connect to the database: %s",
			 PQerrorMessage(store->pg));
		return -ENOTCONN;
	}
	r = session_setup(store);
	if (r == 0)
		r = schema_version(store, &version);
	if (r < 0) {
		snprintf(errbuf, errbuf_len, "cannot read the database: %s",
			 PQerrorMessage(store->pg));
		return r;
	}
	if (version > latest) {
		snprintf(errbuf, errbuf_len,
			 "database schema version %u is newer than this coopbilld supports (%u); "
			 "install a newer coopbilld",
			 version, latest);
		return -EPROTONOSUPPORT;
	}
	r = migrate(store, errbuf, errbuf_len);
	if (r == 0)
		store->ping_schema_version = latest;
	return r;
}

int store_pg_footprint(struct store *store, int64_t *ret_bytes)
{
	char text[32];
	int r;

	r = query_text(store, "SELECT pg_database_size(current_database())", text, sizeof(text));
	if (r == 0)
		*ret_bytes = strtoll(text, NULL, 10);
	return r;
}

bool store_pg_answered_meanwhile(const struct store *store, int *ret_error)
{
	if (!fiber_hold_elsewhere(&store->pg_hold))
		return false;
	if (PQstatus(store->pg) != CONNECTION_OK)
		*ret_error = -ENOTCONN;
	else if (store->pg_sent_ms && monotonic_ms() - store->pg_sent_ms >= STORE_PG_SLOW_MS)
		*ret_error = -ETIMEDOUT;
	else
		*ret_error = 0;
	return true;
}

/* A bigint[] in PostgreSQL's binary form (what array_recv reads): five
 * 32-bit words (one dimension, whether any element is NULL, the element
 * type, the dimension's length, its lower bound 1), then each element's
 * length (-1: NULL) and its 8 bytes, all big-endian. */
enum { ARRAY_FLAGS = 1, ARRAY_LENGTH = 3, ARRAY_HEADER_WORDS = 5, ARRAY_ELEMENT_BYTES = 12 };

static void put_be32(uint8_t *at, uint32_t word)
{
	word = htobe32(word);
	memcpy(at, &word, sizeof(word));
}

int store_pg_array_new(size_t n_max, struct store_pg_array *ret_array)
{
	const uint32_t header[ARRAY_HEADER_WORDS] = { 1, 0, PG_INT8, 0, 1 };
	uint8_t *bytes;

	if (n_max > (INT32_MAX - 4 * ARRAY_HEADER_WORDS) / ARRAY_ELEMENT_BYTES)
		return -EMSGSIZE;
	bytes = malloc(4 * ARRAY_HEADER_WORDS + n_max * ARRAY_ELEMENT_BYTES);
	if (!bytes)
		return -ENOMEM;
	for (size_t i = 0; i < ARRAY_HEADER_WORDS; i++)
		put_be32(bytes + 4 * i, header[i]);
	*ret_array = (struct store_pg_array){ .bytes = bytes, .len = 4 * ARRAY_HEADER_WORDS };
	return 0;
}

void store_pg_array_add(struct store_pg_array *array, const struct store_value *value)
{
	uint64_t integer = htobe64((uint64_t)value->integer);

	if (value->kind == STORE_NULL) {
		put_be32(array->bytes + array->len, UINT32_MAX);
		put_be32(array->bytes + 4 * ARRAY_FLAGS, 1);
		array->len += 4;
	} else {
		put_be32(array->bytes + array->len, sizeof(integer));
		memcpy(array->bytes + array->len + 4, &integer, sizeof(integer));
		array->len += 4 + sizeof(integer);
	}
	array->n++;
	put_be32(array->bytes + 4 * ARRAY_LENGTH, array->n);
}

void store_pg_array_free(struct store_pg_array *array)
{
	free(array->bytes);
	*array = (struct store_pg_array){ 0 };
}
