/* The transparency log's rows: entries, stored hashes, signed checkpoints and
 * the households' salts. Every table is append-only (triggers). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store-internal.h"

int store_tlog_size(struct store *store, int64_t *ret_size)
{
	static const char sql[] = "SELECT coalesce(max(idx) + 1, 0) FROM log_entries";

	return store_query_int64(store, sql, NULL, 0, ret_size);
}

/* Inserts (index, blob) with a cached statement. */
static int put_blob(struct store *store, const char *sql, int64_t index, const void *blob,
		    size_t len)
{
	sqlite3_stmt *stmt;
	int r;

	if (len > INT32_MAX)
		return -EMSGSIZE;
	r = store_prepare(store, sql, &stmt);
	if (r < 0)
		return r;
	if (sqlite3_bind_int64(stmt, 1, index) != SQLITE_OK ||
	    sqlite3_bind_blob(stmt, 2, blob, (int)len, SQLITE_STATIC) != SQLITE_OK) {
		r = store_last_error(store);
		store_release(stmt);
		return r;
	}
	return store_run(stmt);
}

int store_tlog_entry_put(struct store *store, int64_t index, const void *entry, size_t len)
{
	static const char sql[] = "INSERT INTO log_entries (idx, entry) VALUES (?, ?)";

	return put_blob(store, sql, index, entry, len);
}

int store_tlog_hash_put(struct store *store, int64_t index, const uint8_t hash[32])
{
	static const char sql[] = "INSERT INTO log_hashes (idx, hash) VALUES (?, ?)";

	return put_blob(store, sql, index, hash, 32);
}

int store_household_salt_put(struct store *store, int64_t household_id, const uint8_t salt[32])
{
	static const char sql[] = "INSERT INTO household_salts (household_id, salt) VALUES (?, ?)";

	return put_blob(store, sql, household_id, salt, 32);
}

/* Reads the blob of the row with the given key into a malloc'd buffer, or
 * exactly `expected` bytes into *fixed when expected is not 0. */
static int get_blob(struct store *store, const char *sql, int64_t key, size_t expected,
		    uint8_t *fixed, char **ret_blob, size_t *ret_len)
{
	sqlite3_stmt *stmt;
	const void *blob;
	size_t len;
	int rc, r;

	r = store_prepare(store, sql, &stmt);
	if (r < 0)
		return r;
	if (sqlite3_bind_int64(stmt, 1, key) != SQLITE_OK) {
		r = store_last_error(store);
		goto out;
	}
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? -ENOENT : store_map_error(rc);
		goto out;
	}
	blob = sqlite3_column_blob(stmt, 0);
	len = (size_t)sqlite3_column_bytes(stmt, 0);
	if (expected) {
		if (len != expected) {
			r = -EIO;
			goto out;
		}
		memcpy(fixed, blob, len);
	} else {
		char *copy = malloc(len + 1);

		if (!copy) {
			r = -ENOMEM;
			goto out;
		}
		if (len)
			memcpy(copy, blob, len);
		copy[len] = '\0';
		*ret_blob = copy;
		*ret_len = len;
	}
	r = 0;
out:
	store_release(stmt);
	return r;
}

int store_tlog_entry_get(struct store *store, int64_t index, char **ret_entry, size_t *ret_len)
{
	static const char sql[] = "SELECT entry FROM log_entries WHERE idx = ?";

	return get_blob(store, sql, index, 0, NULL, ret_entry, ret_len);
}

int store_household_salt_get(struct store *store, int64_t household_id, uint8_t ret_salt[32])
{
	static const char sql[] = "SELECT salt FROM household_salts WHERE household_id = ?";

	return get_blob(store, sql, household_id, 32, ret_salt, NULL, NULL);
}

int store_tlog_hashes_read(void *ctx, const int64_t *indexes, size_t n_indexes,
			   uint8_t (*ret_hashes)[32])
{
	static const char sql[] = "SELECT hash FROM log_hashes WHERE idx = ?";
	struct store *store = ctx;
	int r;

	for (size_t i = 0; i < n_indexes; i++) {
		r = get_blob(store, sql, indexes[i], 32, ret_hashes[i], NULL, NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

int store_tlog_checkpoint_put(struct store *store, int64_t size, const uint8_t root[32],
			      const char *note)
{
	static const char sql[] = "INSERT INTO log_checkpoints (size, root, note) VALUES (?, ?, ?)";
	sqlite3_stmt *stmt;
	int r;

	r = store_prepare(store, sql, &stmt);
	if (r < 0)
		return r;
	if (sqlite3_bind_int64(stmt, 1, size) != SQLITE_OK ||
	    sqlite3_bind_blob(stmt, 2, root, 32, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(stmt, 3, note, -1, SQLITE_STATIC) != SQLITE_OK) {
		r = store_last_error(store);
		store_release(stmt);
		return r;
	}
	return store_run(stmt);
}

int store_tlog_checkpoint_latest(struct store *store, int64_t *ret_size, uint8_t ret_root[32],
				 char **ret_note)
{
	static const char sql[] = "SELECT size, root, note FROM log_checkpoints "
				  "ORDER BY size DESC LIMIT 1";
	sqlite3_stmt *stmt;
	const unsigned char *note;
	char *copy;
	int rc, r;

	r = store_prepare(store, sql, &stmt);
	if (r < 0)
		return r;
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? -ENOENT : store_map_error(rc);
		goto out;
	}
	note = sqlite3_column_text(stmt, 2);
	if (sqlite3_column_bytes(stmt, 1) != 32 || !note) {
		r = -EIO;
		goto out;
	}
	copy = strdup((const char *)note);
	if (!copy) {
		r = -ENOMEM;
		goto out;
	}
	*ret_size = sqlite3_column_int64(stmt, 0);
	memcpy(ret_root, sqlite3_column_blob(stmt, 1), 32);
	*ret_note = copy;
	r = 0;
out:
	store_release(stmt);
	return r;
}

int store_tlog_entries_each(struct store *store,
			    int (*visit)(int64_t index, const void *entry, size_t len, void *data),
			    void *data)
{
	static const char sql[] = "SELECT idx, entry FROM log_entries ORDER BY idx";
	sqlite3_stmt *stmt;
	int rc, r;

	r = store_prepare(store, sql, &stmt);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		r = visit(sqlite3_column_int64(stmt, 0), sqlite3_column_blob(stmt, 1),
			  (size_t)sqlite3_column_bytes(stmt, 1), data);
		if (r < 0)
			goto out;
	}
	r = rc == SQLITE_DONE ? 0 : store_map_error(rc);
out:
	store_release(stmt);
	return r;
}
