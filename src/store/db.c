/* The database connection: opening with the project's pragmas, the integrity
 * check, the embedded migrations, transactions, and the prepared-statement
 * cache the other store files share. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "migrations.h"
#include "store-internal.h"

/* A disk with less than this left, to an unprivileged writer, is full: a
 * write failed there for want of space, not for a fault of the medium. */
#define STORE_DISK_FULL_BYTES (1024 * 1024)

static void format_error(char *errbuf, size_t errbuf_len, const char *format, ...)
	__attribute__((format(printf, 3, 4)));

static void format_error(char *errbuf, size_t errbuf_len, const char *format, ...)
{
	va_list ap;

	if (!errbuf || errbuf_len == 0)
		return;
	va_start(ap, format);
	vsnprintf(errbuf, errbuf_len, format, ap);
	va_end(ap);
}

int store_map_error(int sqlite_code)
{
	switch (sqlite_code & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_CONSTRAINT:
		switch (sqlite_code) {
		case SQLITE_CONSTRAINT_CHECK:
		case SQLITE_CONSTRAINT_NOTNULL:
		case SQLITE_CONSTRAINT_DATATYPE:
			return -EINVAL;
		/* A reference to a row that does not exist, e.g. a token for an
		 * unknown household. */
		case SQLITE_CONSTRAINT_FOREIGNKEY:
			return -ENOENT;
		/* The append-only triggers refuse UPDATE and DELETE. */
		case SQLITE_CONSTRAINT_TRIGGER:
			return -EPERM;
		default:
			return -EEXIST;
		}
	default:
		return -EIO;
	}
}

int store_last_error(struct store *store)
{
	return store_map_error(sqlite3_extended_errcode(store->db));
}

/* The cached statement for sql, reset and with its bindings cleared. */
static int store_prepare(struct store *store, const char *sql, struct store_stmt **ret_stmt)
{
	struct store_stmt **statements, *stmt;
	size_t n_allocated;
	int rc;

	for (size_t i = 0; i < store->n_statements; i++) {
		stmt = store->statements[i];
		if (stmt->sql != sql)
			continue;
		store_release(stmt);
		*ret_stmt = stmt;
		return 0;
	}

	if (store->n_statements == store->n_statements_allocated) {
		n_allocated =
			store->n_statements_allocated ? store->n_statements_allocated * 2 : 16;
		statements = reallocarray(store->statements, n_allocated, sizeof(*statements));
		if (!statements)
			return -ENOMEM;
		store->statements = statements;
		store->n_statements_allocated = n_allocated;
	}
	stmt = calloc(1, sizeof(*stmt));
	if (!stmt)
		return -ENOMEM;
	stmt->sql = sql;
	/* PostgreSQL's statements are prepared at their first run (pg.c). */
	if (!store->pg) {
		rc = sqlite3_prepare_v3(store->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt->lite,
					NULL);
		/* Empty SQL prepares to no statement: a programming error. */
		if (rc != SQLITE_OK || !stmt->lite) {
			free(stmt);
			return rc != SQLITE_OK ? store_map_error(rc) : -EINVAL;
		}
	}
	store->statements[store->n_statements++] = stmt;
	*ret_stmt = stmt;
	return 0;
}

void store_release(struct store_stmt *stmt)
{
	if (!stmt)
		return;
	if (!stmt->lite) {
		store_pg_release(stmt);
		return;
	}
	sqlite3_reset(stmt->lite);
	sqlite3_clear_bindings(stmt->lite);
}

int store_step(struct store_stmt *stmt)
{
	int rc;

	if (!stmt->lite)
		return store_pg_step(stmt);
	rc = sqlite3_step(stmt->lite);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return store_map_error(rc);
}

enum store_kind store_column_kind(struct store_stmt *stmt, int column)
{
	if (!stmt->lite)
		return store_pg_column_kind(stmt, column);
	switch (sqlite3_column_type(stmt->lite, column)) {
	case SQLITE_NULL:
		return STORE_NULL;
	case SQLITE_INTEGER:
		return STORE_INT;
	case SQLITE_BLOB:
		return STORE_BLOB;
	default:
		return STORE_TEXT;
	}
}

int64_t store_column_int64(struct store_stmt *stmt, int column)
{
	if (!stmt->lite)
		return store_pg_column_int64(stmt, column);
	return sqlite3_column_int64(stmt->lite, column);
}

void store_columns_int64(struct store_stmt *stmt, int n_columns, int64_t *ret_values)
{
	if (!stmt->lite) {
		store_pg_columns_int64(stmt, n_columns, ret_values);
		return;
	}
	for (int column = 0; column < n_columns; column++)
		ret_values[column] = sqlite3_column_int64(stmt->lite, column);
}

const char *store_column_text(struct store_stmt *stmt, int column)
{
	if (!stmt->lite)
		return store_pg_column_text(stmt, column);
	return (const char *)sqlite3_column_text(stmt->lite, column);
}

const void *store_column_blob(struct store_stmt *stmt, int column)
{
	if (!stmt->lite)
		return store_pg_column_blob(stmt, column);
	return sqlite3_column_blob(stmt->lite, column);
}

size_t store_column_bytes(struct store_stmt *stmt, int column)
{
	if (!stmt->lite)
		return store_pg_column_bytes(stmt, column);
	return (size_t)sqlite3_column_bytes(stmt->lite, column);
}

int store_column_count(struct store_stmt *stmt)
{
	if (!stmt->lite)
		return store_pg_column_count(stmt);
	return sqlite3_column_count(stmt->lite);
}

const char *store_column_name(struct store_stmt *stmt, int column)
{
	if (!stmt->lite)
		return store_pg_column_name(stmt, column);
	return sqlite3_column_name(stmt->lite, column);
}

int64_t store_changes(struct store *store)
{
	if (store->pg)
		return store->changes;
	return sqlite3_changes64(store->db);
}

/* Steps a statement that returns no rows, then releases it. */
static int store_run(struct store_stmt *stmt)
{
	int r = store_step(stmt);

	store_release(stmt);
	return r > 0 ? -EIO : r;
}

/* Runs transaction control: cached by SQLite, sent as it is to PostgreSQL,
 * which prepares none of it. */
static int run_cached(struct store *store, const char *sql)
{
	struct store_stmt *stmt = NULL;
	int r;

	if (store->pg)
		return store_pg_control(store, sql);
	r = store_prepare(store, sql, &stmt);
	if (r < 0)
		return r;
	return store_run(stmt);
}

/* Binds values to ?1, ?2, … of a prepared statement: the store's only way
 * to bind. -EMSGSIZE for a BLOB past SQLite's limit. */
static int bind_values(struct store *store, sqlite3_stmt *stmt, const struct store_value *values,
		       size_t n_values)
{
	for (size_t i = 0; i < n_values; i++) {
		int index = (int)i + 1, rc;

		switch (values[i].kind) {
		case STORE_INT:
			rc = sqlite3_bind_int64(stmt, index, values[i].integer);
			break;
		case STORE_TEXT:
			rc = sqlite3_bind_text(stmt, index, values[i].text, -1, SQLITE_STATIC);
			break;
		case STORE_BLOB:
			if (values[i].len > INT_MAX)
				return -EMSGSIZE;
			rc = sqlite3_bind_blob(stmt, index, values[i].blob, (int)values[i].len,
					       SQLITE_STATIC);
			break;
		default:
			rc = sqlite3_bind_null(stmt, index);
			break;
		}
		if (rc != SQLITE_OK)
			return store_last_error(store);
	}
	return 0;
}

int store_query(struct store *store, const char *sql, const struct store_value *values,
		size_t n_values, struct store_stmt **ret_stmt)
{
	struct store_stmt *stmt = NULL;
	int r;

	r = store_prepare(store, sql, &stmt);
	if (r < 0)
		return r;
	if (store->pg)
		r = store_pg_query(store, stmt, values, n_values);
	else
		r = bind_values(store, stmt->lite, values, n_values);
	if (r < 0) {
		store_release(stmt);
		return r;
	}
	*ret_stmt = stmt;
	return 0;
}

int store_exec(struct store *store, const char *sql, const struct store_value *values,
	       size_t n_values, int64_t *ret_id)
{
	struct store_stmt *stmt = NULL;
	int64_t id;
	int r;

	r = store_query(store, sql, values, n_values, &stmt);
	if (r < 0)
		return r;
	if (!ret_id)
		return store_run(stmt);
	/* An insert whose id is read returns it (RETURNING id): one row,
	 * read alike from every backend. */
	r = store_step(stmt);
	if (r <= 0) {
		store_release(stmt);
		return r < 0 ? r : -EIO;
	}
	id = store_column_int64(stmt, 0);
	r = store_run(stmt);
	if (r == 0)
		*ret_id = id;
	return r;
}

static const char *batch_sql(struct store_batch *batch)
{
	size_t len;

	if (batch->text[0])
		return batch->text;
	len = (size_t)snprintf(batch->text, sizeof(batch->text), "%s VALUES ", batch->head);
	for (unsigned row = 0; row < batch->rows; row++)
		for (unsigned column = 0; column < batch->n_columns; column++)
			len += (size_t)snprintf(batch->text + len, sizeof(batch->text) - len,
						"%s?%s",
						column > 0 ? ", "
						: row > 0  ? ", ("
							   : "(",
						column + 1 == batch->n_columns ? ")" : "");
	snprintf(batch->text + len, sizeof(batch->text) - len, " %s", batch->tail);
	return batch->text;
}

int store_batch_exec(struct store *store, struct store_batch *batch, const void *rows, size_t first,
		     store_row_values_fn row_values)
{
	struct store_value values[STORE_BATCH_ROWS * STORE_BATCH_COLUMNS_MAX];
	int r;

	if (batch->rows > STORE_BATCH_ROWS || batch->n_columns > STORE_BATCH_COLUMNS_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < batch->rows; i++) {
		r = row_values(rows, first + i, values + i * batch->n_columns);
		if (r < 0)
			return r;
	}
	return store_exec(store, batch_sql(batch), values, batch->rows * batch->n_columns, NULL);
}

int store_batches_run(struct store *store, struct store_batches *batches, const void *rows,
		      size_t n_rows, store_row_values_fn row_values)
{
	size_t i = 0;
	int r = 0;

	/* Largest first, the last of one row: as many of each as fit. */
	for (unsigned size = 0; size < STORE_BATCH_SIZES; size++) {
		struct store_batch *batch = &batches->sizes[size];

		if (!batch->head)
			*batch = (struct store_batch){ batches->head, batches->tail,
						       batches->n_columns, STORE_BATCH_ROWS >> size,
						       "" };
		for (; r == 0 && i + batch->rows <= n_rows; i += batch->rows)
			r = store_batch_exec(store, batch, rows, i, row_values);
	}
	return r;
}

int store_begin(struct store *store)
{
	static const char sql[] = "BEGIN IMMEDIATE";

	return run_cached(store, store->pg ? store_pg_begin_sql() : sql);
}

static bool in_transaction(const struct store *store)
{
	if (store->pg)
		return store_pg_in_transaction(store);
	return !sqlite3_get_autocommit(store->db);
}

/* Called when a transaction fails: remembers whether the disk refused it. */
static void note_write_failure(struct store *store)
{
	int code;

	/* PostgreSQL's failures are noted as they happen (pg.c). */
	if (store->pg)
		return;
	code = sqlite3_extended_errcode(store->db);
	if ((code & 0xff) == SQLITE_FULL || (code & 0xff) == SQLITE_IOERR)
		store->write_error = store_map_error(code);
}

int store_commit(struct store *store)
{
	static const char sql[] = "COMMIT";
	int r;

	r = run_cached(store, sql);
	if (r == 0)
		store->write_error = 0;
	else
		note_write_failure(store);
	/* A failed COMMIT (SQLITE_BUSY) leaves the transaction open; end it here
	 * so that a caller who only checks the result leaves nothing pending. */
	if (r < 0 && in_transaction(store))
		store_rollback(store);
	return r;
}

void store_rollback(struct store *store)
{
	static const char sql[] = "ROLLBACK";

	/* The statement that failed is still the connection's last error. */
	note_write_failure(store);
	/* Fails only when no transaction is open, which is what we want anyway. */
	(void)run_cached(store, sql);
}

int store_read_begin(struct store *store)
{
	static const char sql[] = "BEGIN DEFERRED";
	/* One snapshot for the whole transaction, as SQLite's read has. */
	static const char pg_sql[] = "BEGIN ISOLATION LEVEL REPEATABLE READ";

	return run_cached(store, store->pg ? pg_sql : sql);
}

void store_read_end(struct store *store)
{
	static const char sql[] = "COMMIT";

	static const char rollback_sql[] = "ROLLBACK";

	if (in_transaction(store) && run_cached(store, sql) < 0)
		(void)run_cached(store, rollback_sql);
}

int store_write_error(const struct store *store)
{
	return store->write_error;
}

/* The folder part of path: "." when it has none, "/" for a file in the root. */
static void path_folder(const char *path, char ret_folder[PATH_MAX])
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(ret_folder, PATH_MAX, ".");
	else
		snprintf(ret_folder, PATH_MAX, "%.*s", slash == path ? 1 : (int)(slash - path),
			 path);
}

/* When the file system holding path has less than STORE_DISK_FULL_BYTES
 * left, says so in buf and returns true. */
static bool describe_disk_full(const char *path, char *buf, size_t len)
{
	char dir[PATH_MAX];
	struct statvfs fs;
	unsigned long long free_bytes;

	path_folder(path, dir);
	if (statvfs(dir, &fs) < 0)
		return false;
	free_bytes = (unsigned long long)fs.f_bavail * fs.f_frsize;
	if (free_bytes >= STORE_DISK_FULL_BYTES)
		return false;
	snprintf(buf, len, "the disk holding %s is full (%llu KiB free)", dir, free_bytes / 1024);
	return true;
}

int store_footprint_get(struct store *store, struct store_footprint *ret_footprint)
{
	struct store_footprint footprint = { .busy_retries = store->busy_retries };
	char folder[PATH_MAX], wal[PATH_MAX];
	struct statvfs fs;
	struct stat st;
	int64_t bytes;
	int r;

	/* PostgreSQL's files are the server's: the size is all it tells. */
	if (store->pg) {
		r = store_pg_footprint(store, &bytes);
		if (r < 0)
			return r;
		footprint.database_bytes = (uint64_t)bytes;
		*ret_footprint = footprint;
		return 0;
	}
	if (stat(store->path, &st) < 0)
		return -errno;
	footprint.database_bytes = (uint64_t)st.st_size;
	snprintf(wal, sizeof(wal), "%s-wal", store->path);
	if (stat(wal, &st) == 0)
		footprint.wal_bytes = (uint64_t)st.st_size;
	path_folder(store->path, folder);
	if (statvfs(folder, &fs) < 0)
		return -errno;
	footprint.filesystem_free_bytes = (uint64_t)fs.f_bavail * fs.f_frsize;
	footprint.filesystem_size_bytes = (uint64_t)fs.f_blocks * fs.f_frsize;
	*ret_footprint = footprint;
	return 0;
}

void store_describe_write_error(const char *path, int error, char *buf, size_t len)
{
	if (!describe_disk_full(path, buf, len))
		snprintf(buf, len, "writes to %s fail: %s", path, strerror(-error));
}

int store_atomic_enter(struct store *store, bool *ret_own_transaction)
{
	static const char savepoint_sql[] = "SAVEPOINT store_atomic";
	int r;

	if (!in_transaction(store)) {
		r = store_begin(store);
		if (r < 0)
			return r;
		*ret_own_transaction = true;
		return 0;
	}
	r = run_cached(store, savepoint_sql);
	if (r < 0)
		return r;
	*ret_own_transaction = false;
	return 0;
}

int store_atomic_leave(struct store *store, bool own_transaction, int r)
{
	static const char rollback_to_sql[] = "ROLLBACK TO store_atomic";
	static const char release_sql[] = "RELEASE store_atomic";
	int release_r;

	if (own_transaction) {
		if (r < 0) {
			store_rollback(store);
			return r;
		}
		return store_commit(store);
	}
	/* Some errors (SQLITE_FULL, SQLITE_NOMEM) end the whole transaction and
	 * the savepoint with it; then these fail harmlessly. */
	if (r < 0)
		(void)run_cached(store, rollback_to_sql);
	release_r = run_cached(store, release_sql);
	return r < 0 ? r : release_r;
}

unsigned store_schema_version_latest(void)
{
	unsigned latest = 0;

	for (size_t i = 0; i < store_n_migrations; i++)
		if (store_migrations[i].version > latest)
			latest = store_migrations[i].version;
	return latest;
}

int store_query_one(struct store *store, const char *sql, const struct store_value *values,
		    size_t n_values, int (*decode)(struct store_stmt *stmt, void *data), void *data)
{
	struct store_stmt *stmt = NULL;
	int r;

	r = store_query(store, sql, values, n_values, &stmt);
	if (r < 0)
		return r;
	r = store_step(stmt);
	r = r > 0 ? decode(stmt, data) : r == 0 ? -ENOENT : r;
	store_release(stmt);
	return r;
}

static int int64_decode(struct store_stmt *stmt, void *data)
{
	*(int64_t *)data = store_column_int64(stmt, 0);
	return 0;
}

int store_query_int64(struct store *store, const char *sql, const struct store_value *values,
		      size_t n_values, int64_t *ret_value)
{
	int64_t value;
	int r;

	r = store_query_one(store, sql, values, n_values, int64_decode, &value);
	if (r == 0)
		*ret_value = value;
	return r;
}

void *store_rows_add(struct store_rows *rows)
{
	void *item;

	if (rows->n == rows->allocated) {
		size_t count = rows->allocated ? rows->allocated * 2 : 64;
		void *grown = realloc(rows->items, count * rows->item_size);

		if (!grown)
			return NULL;
		rows->items = grown;
		rows->allocated = count;
	}
	item = (char *)rows->items + rows->n++ * rows->item_size;
	memset(item, 0, rows->item_size);
	return item;
}

int store_collect(struct store *store, const char *sql, const struct store_value *params,
		  size_t n_params, int (*decode)(struct store_stmt *stmt, struct store_rows *rows),
		  struct store_rows *rows)
{
	struct store_stmt *stmt = NULL;
	int r;

	r = store_query(store, sql, params, n_params, &stmt);
	if (r < 0)
		return r;
	while ((r = store_step(stmt)) > 0) {
		r = decode(stmt, rows);
		if (r < 0)
			break;
	}
	store_release(stmt);
	if (r < 0) {
		free(rows->items);
		rows->items = NULL;
		rows->n = 0;
	}
	return r;
}

/* SQLite's own mapping of the wal-index's first region (32 KiB, the size
 * SQLite maps it in), once the connection has read in WAL mode. */
static void map_wal_index(struct store *store)
{
	sqlite3_file *file = NULL;
	void volatile *region = NULL;

	if (sqlite3_file_control(store->db, "main", SQLITE_FCNTL_FILE_POINTER, &file) !=
		    SQLITE_OK ||
	    !file || !file->pMethods || file->pMethods->iVersion < 2 || !file->pMethods->xShmMap)
		return;
	if (file->pMethods->xShmMap(file, 0, 32 * 1024, 0, &region) == SQLITE_OK)
		store->wal_index = region;
}

void store_version_get(const struct store *store, struct store_version *ret_version)
{
	struct store_version version = { 0 };
	uint32_t second[12];

	if (!store->wal_index || !sqlite3_get_autocommit(store->db)) {
		*ret_version = version;
		return;
	}
	/* A writer writes the second copy, then the first: read in the other
	 * order, two copies that agree are one whole header. */
	for (size_t i = 0; i < 12; i++)
		version.header[i] = store->wal_index[i];
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	for (size_t i = 0; i < 12; i++)
		second[i] = store->wal_index[12 + i];
	/* Byte 12 (isInit) is 0 until a connection has built the index. */
	version.known = memcmp(version.header, second, sizeof(second)) == 0 &&
			((const uint8_t *)version.header)[12] != 0;
	*ret_version = version;
}

bool store_version_same(const struct store_version *a, const struct store_version *b)
{
	return a->known && b->known && memcmp(a->header, b->header, sizeof(a->header)) == 0;
}

int store_schema_version(struct store *store, unsigned *ret_version)
{
	static const char sql[] = "PRAGMA user_version";
	int64_t version;
	int r;

	if (store->pg)
		return store_pg_schema_version(store, ret_version);
	r = store_query_int64(store, sql, NULL, 0, &version);
	if (r < 0)
		return r;
	/* user_version is a signed 32-bit field; a negative one is not ours. */
	if (version < 0)
		return -EIO;
	*ret_version = (unsigned)version;
	return 0;
}

int store_ping(struct store *store, unsigned *ret_schema_version)
{
	static const char sql[] = "SELECT count(*) FROM sqlite_master";
	struct store_version version;
	unsigned schema_version;
	int64_t count;
	int r;

	/* Another fiber's statement says how PostgreSQL fares, without this
	 * one waiting behind it. */
	if (store->pg && store_pg_answered_meanwhile(store, &r)) {
		*ret_schema_version = store->ping_schema_version;
		return r;
	}
	/* Nothing committed since the last ping that answered: the database
	 * would answer from the same pages again. A monitor polling hard then
	 * costs no query. */
	store_version_get(store, &version);
	if (store_version_same(&version, &store->ping_version)) {
		*ret_schema_version = store->ping_schema_version;
		return 0;
	}
	store->ping_version.known = false;
	/* SQLite reads its schema to count it; PostgreSQL's schema version is
	 * a query of its own. */
	r = store->pg ? 0 : store_query_int64(store, sql, NULL, 0, &count);
	if (r == 0)
		r = store_schema_version(store, &schema_version);
	if (r < 0)
		return r;
	store->ping_version = version;
	store->ping_schema_version = schema_version;
	*ret_schema_version = schema_version;
	return 0;
}

/* Runs a one-off statement at open and copies the first column of its first
 * row into ret_text (truncated to fit). Not cached: it runs once. */
static int query_text(struct store *store, const char *sql, char *ret_text, size_t ret_text_len)
{
	sqlite3_stmt *stmt = NULL;
	const unsigned char *text;
	int rc, r;

	rc = sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK) {
		r = store_map_error(rc);
		goto out;
	}
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? -EIO : store_map_error(rc);
		goto out;
	}
	text = sqlite3_column_text(stmt, 0);
	snprintf(ret_text, ret_text_len, "%s", text ? (const char *)text : "");
	r = 0;
out:
	/* Finalizing keeps the statement's error message on the connection. */
	sqlite3_finalize(stmt);
	return r;
}

/* quick_check reports problems as lines after a "*** in database main ***"
 * heading; the operator gets the first one. */
static const char *first_problem(char *report)
{
	static const char heading[] = "*** in database main ***\n";
	char *problem = report, *newline;

	if (strncmp(problem, heading, strlen(heading)) == 0)
		problem += strlen(heading);
	newline = strchr(problem, '\n');
	if (newline)
		*newline = '\0';
	return problem;
}

/* Runs quick_check or integrity_check; errbuf names the first problem. */
static int check_integrity(struct store *store, const char *sql, const char *path, char *errbuf,
			   size_t errbuf_len)
{
	char text[256];
	int r;

	r = query_text(store, sql, text, sizeof(text));
	if (r < 0) {
		format_error(errbuf, errbuf_len,
			     "database %s failed its integrity check: %s; restore a backup", path,
			     sqlite3_errmsg(store->db));
		return r;
	}
	if (strcmp(text, "ok") != 0) {
		format_error(errbuf, errbuf_len,
			     "database %s failed its integrity check: %s; restore a backup", path,
			     first_problem(text));
		return -EIO;
	}
	return 0;
}

int store_integrity_check(struct store *store, const char *path, char *errbuf, size_t errbuf_len)
{
	return check_integrity(store, "PRAGMA integrity_check", path, errbuf, errbuf_len);
}

static int apply_migration(struct store *store, const struct store_migration *migration,
			   char *errbuf, size_t errbuf_len)
{
	char set_version_sql[64];
	unsigned version;
	int rc, r;

	r = store_begin(store);
	if (r < 0) {
		format_error(errbuf, errbuf_len, "cannot start migration %03u_%s: %s",
			     migration->version, migration->name, sqlite3_errmsg(store->db));
		return r;
	}

	/* Another process may have migrated the file since we looked. */
	r = store_schema_version(store, &version);
	if (r < 0) {
		format_error(errbuf, errbuf_len, "migration %03u_%s failed: %s", migration->version,
			     migration->name, sqlite3_errmsg(store->db));
		goto out;
	}
	if (version >= migration->version) {
		store_rollback(store);
		return 0;
	}

	rc = sqlite3_exec(store->db, migration->sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		r = store_map_error(rc);
		format_error(errbuf, errbuf_len, "migration %03u_%s failed: %s", migration->version,
			     migration->name, sqlite3_errmsg(store->db));
		goto out;
	}

	/* PRAGMA takes no bound parameters; the number comes from the build. */
	snprintf(set_version_sql, sizeof(set_version_sql), "PRAGMA user_version = %u",
		 migration->version);
	rc = sqlite3_exec(store->db, set_version_sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		r = store_map_error(rc);
		format_error(errbuf, errbuf_len, "migration %03u_%s failed: %s", migration->version,
			     migration->name, sqlite3_errmsg(store->db));
		goto out;
	}

	r = store_commit(store);
	if (r < 0)
		format_error(errbuf, errbuf_len, "migration %03u_%s failed to commit: %s",
			     migration->version, migration->name, sqlite3_errmsg(store->db));
out:
	if (r < 0)
		store_rollback(store);
	return r;
}

/* The ledger is private even without systemd's StateDirectory= and UMask=:
 * a missing folder is made 0700 and a missing file 0600, whose mode SQLite
 * gives its -wal and -shm files too. */
static int create_private(const char *path)
{
	char folder[PATH_MAX];
	int fd;

	path_folder(path, folder);
	if (mkdir(folder, 0700) < 0 && errno != EEXIST)
		return -errno;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno == EEXIST ? 0 : -errno;
	close(fd);
	return 0;
}

/* SQLite's own busy_timeout handler, counting: waits a little longer each
 * time, up to store->busy_timeout_ms in all. */
static int on_busy(void *data, int count)
{
	static const int delays_ms[] = { 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100 };
	const int n_delays = (int)(sizeof(delays_ms) / sizeof(delays_ms[0]));
	struct store *store = data;
	int waited_ms = 0, delay_ms;

	for (int i = 0; i < count && i < n_delays; i++)
		waited_ms += delays_ms[i];
	if (count >= n_delays)
		waited_ms += (count - n_delays) * delays_ms[n_delays - 1];
	delay_ms = delays_ms[count < n_delays ? count : n_delays - 1];
	if (waited_ms >= (int)store->busy_timeout_ms)
		return 0;
	if (waited_ms + delay_ms > (int)store->busy_timeout_ms)
		delay_ms = (int)store->busy_timeout_ms - waited_ms;
	store->busy_retries++;
	sqlite3_sleep(delay_ms);
	return 1;
}

/* Opens the connection with flags and reads the schema version, before
 * anything writes to the file. */
static int connection_open(struct store *store, const char *path, int flags, unsigned *ret_version,
			   char *errbuf, size_t errbuf_len)
{
	int rc, r;

	/* One connection per struct store, used from one thread: no mutex. */
	rc = sqlite3_open_v2(path, &store->db, flags | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
			     NULL);
	if (rc != SQLITE_OK) {
		r = store_map_error(rc);
		format_error(errbuf, errbuf_len, "cannot open database %s: %s", path,
			     store->db ? sqlite3_errmsg(store->db) : sqlite3_errstr(rc));
		return r;
	}
	store->busy_timeout_ms = STORE_BUSY_TIMEOUT_MS;
	sqlite3_busy_handler(store->db, on_busy, store);
	r = store_schema_version(store, ret_version);
	if (r < 0)
		format_error(errbuf, errbuf_len, "cannot read database %s: %s", path,
			     sqlite3_errmsg(store->db));
	return r;
}

int store_open_readonly(const char *path, struct store **ret_store, char *errbuf, size_t errbuf_len)
{
	struct store *store;
	unsigned version;
	int r;

	format_error(errbuf, errbuf_len, "%s", "");
	store = calloc(1, sizeof(*store));
	if (!store)
		return -ENOMEM;
	r = connection_open(store, path, SQLITE_OPEN_READONLY, &version, errbuf, errbuf_len);
	if (r < 0)
		goto out;
	if (version != store_schema_version_latest()) {
		r = -EPROTONOSUPPORT;
		format_error(errbuf, errbuf_len,
			     "database %s has schema version %u, not this coopbilld's %u", path,
			     version, store_schema_version_latest());
		goto out;
	}
	*ret_store = store;
	store = NULL;
out:
	store_free(store);
	return r;
}

int store_open(const char *path, struct store **ret_store, char *errbuf, size_t errbuf_len)
{
	struct store *store;
	char text[256];
	unsigned version, latest = store_schema_version_latest();
	int rc, r;

	format_error(errbuf, errbuf_len, "%s", "");

	store = calloc(1, sizeof(*store));
	if (!store) {
		format_error(errbuf, errbuf_len, "out of memory opening database %s", path);
		return -ENOMEM;
	}

	store->path = strdup(path);
	if (!store->path) {
		r = -ENOMEM;
		format_error(errbuf, errbuf_len, "out of memory opening database %s", path);
		goto out;
	}
	r = create_private(path);
	if (r < 0) {
		format_error(errbuf, errbuf_len, "cannot create database %s: %s", path,
			     strerror(-r));
		goto out;
	}
	/* Read the version before anything writes to the file, so that a
	 * database from a newer coopbilld is left exactly as it was. */
	r = connection_open(store, path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &version,
			    errbuf, errbuf_len);
	if (r < 0)
		goto out;
	if (version > latest) {
		r = -EPROTONOSUPPORT;
		format_error(errbuf, errbuf_len,
			     "database schema version %u is newer than this coopbilld supports "
			     "(%u); install a newer coopbilld or restore a backup",
			     version, latest);
		goto out;
	}

	r = check_integrity(store, "PRAGMA quick_check", path, errbuf, errbuf_len);
	if (r < 0)
		goto out;

	/* The pragma answers with the mode in force, which stays the old one
	 * when WAL is impossible (an in-memory database, some file systems). */
	r = query_text(store, "PRAGMA journal_mode = WAL", text, sizeof(text));
	if (r < 0) {
		format_error(errbuf, errbuf_len, "cannot switch database %s to WAL mode: %s", path,
			     sqlite3_errmsg(store->db));
		goto out;
	}
	if (strcasecmp(text, "wal") != 0) {
		r = -EIO;
		format_error(errbuf, errbuf_len,
			     "cannot switch database %s to WAL mode: journal_mode stays %s", path,
			     text);
		goto out;
	}

	rc = sqlite3_exec(store->db, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON", NULL,
			  NULL, NULL);
	if (rc != SQLITE_OK) {
		r = store_map_error(rc);
		format_error(errbuf, errbuf_len, "cannot configure database %s: %s", path,
			     sqlite3_errmsg(store->db));
		goto out;
	}
	/* An SQLite built without foreign keys accepts the pragma silently. */
	r = query_text(store, "PRAGMA foreign_keys", text, sizeof(text));
	if (r < 0 || strcmp(text, "1") != 0) {
		r = r < 0 ? r : -EIO;
		format_error(errbuf, errbuf_len,
			     "cannot enable foreign keys on database %s: this SQLite lacks them",
			     path);
		goto out;
	}

	for (size_t i = 0; i < store_n_migrations; i++) {
		if (store_migrations[i].version <= version)
			continue;
		r = apply_migration(store, &store_migrations[i], errbuf, errbuf_len);
		if (r < 0)
			goto out;
	}

	map_wal_index(store);
	*ret_store = store;
	store = NULL;
	r = 0;
out:
	/* A full disk fails the open in many ways (the -shm file cannot grow,
	 * a migration cannot commit): say so rather than "disk I/O error". */
	if ((r == -EIO || r == -ENOSPC) && describe_disk_full(path, errbuf, errbuf_len))
		r = -ENOSPC;
	store_free(store);
	return r;
}

int store_open_url(const char *url, struct store **ret_store, char *errbuf, size_t errbuf_len)
{
	struct store *store;
	int r;

	format_error(errbuf, errbuf_len, "%s", "");
	store = calloc(1, sizeof(*store));
	if (!store) {
		format_error(errbuf, errbuf_len, "%s", "out of memory opening the database");
		return -ENOMEM;
	}
	r = store_pg_open(store, url, errbuf, errbuf_len);
	if (r < 0) {
		store_free(store);
		return r;
	}
	*ret_store = store;
	return 0;
}

int store_open_config(const struct config *config, struct store **ret_store, char *errbuf,
		      size_t errbuf_len)
{
	if (config->database_url[0])
		return store_open_url(config->database_url, ret_store, errbuf, errbuf_len);
	return store_open(config->database_path, ret_store, errbuf, errbuf_len);
}

int store_gateway_lock(struct store *store, const char *gateway)
{
	return store->pg ? store_pg_gateway_lock(store, gateway) : 0;
}

bool store_waits(const struct store *store)
{
	return store->pg != NULL;
}

int store_work(struct store *store, bool hold, void (*fn)(void *data), void (*done)(void *data),
	       void *data)
{
	int r = store->pg ? fiber_run(hold ? &store->pg_hold : NULL, fn, done, data) : -ENOENT;

	if (r < 0)
		fn(data);
	return r == 1;
}

int store_close_claim(struct store *store, const char *period)
{
	return store->pg ? store_pg_session_lock(store, STORE_PG_CLOSE_LOCKS, period) : 0;
}

void store_close_release(struct store *store, const char *period)
{
	if (store->pg)
		store_pg_session_unlock(store, STORE_PG_CLOSE_LOCKS, period);
}

void store_free(struct store *store)
{
	if (!store)
		return;
	for (size_t i = 0; i < store->n_statements; i++) {
		store_release(store->statements[i]);
		sqlite3_finalize(store->statements[i]->lite);
		free(store->statements[i]);
	}
	free(store->statements);
	sqlite3_close_v2(store->db);
	PQfinish(store->pg);
	free(store->pg_gateway);
	free(store->pg_url);
	free(store->path);
	free(store);
}

/* The lock the daemon holds on its database while it runs, which the
 * commands that replace the database take too. */
int store_lock(const char *database_path, int *ret_fd, long *ret_holder)
{
	char path[PATH_MAX], pid[24];
	ssize_t len;
	int fd, r;

	if (snprintf(path, sizeof(path), "%s.lock", database_path) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	/* The lock is taken before the database is opened: its folder may
	 * not exist yet. */
	r = create_private(path);
	if (r < 0)
		return r;
	fd = open(path, O_RDWR | O_CLOEXEC);
	/* Made by root (a restore on a new SD card), it is only read by the
	 * daemon's user, which a read-only descriptor is enough to lock. */
	if (fd < 0 && errno == EACCES)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (geteuid() == 0)
		fchmod(fd, 0644);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		len = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[len > 0 ? len : 0] = '\0';
		*ret_holder = strtol(pid, NULL, 10);
		close(fd);
		return r;
	}
	/* Who holds it, for the message of whoever finds it held. */
	len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if ((fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR &&
	    (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len)) {
		close(fd);
		return -EIO;
	}
	*ret_fd = fd;
	return 0;
}
