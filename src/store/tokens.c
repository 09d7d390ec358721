/* API tokens: only their BLAKE2b hash is stored, with a role and, for member
 * tokens, the household they speak for. */
#include <errno.h>
#include <string.h>

#include "store-internal.h"

int store_token_insert(struct store *store, const uint8_t hash[32], const char *role,
		       int64_t household_id, const char *name, int64_t *ret_id)
{
	static const char sql[] = "INSERT INTO tokens (hash, role, household_id, name) "
				  "VALUES (?, ?, ?, ?)";
	sqlite3_stmt *stmt;
	int r;

	if (!hash || !role || !name)
		return -EINVAL;

	r = store_prepare(store, sql, &stmt);
	if (r < 0)
		return r;
	if (sqlite3_bind_blob(stmt, 1, hash, 32, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(stmt, 2, role, -1, SQLITE_STATIC) != SQLITE_OK ||
	    store_bind_id(stmt, 3, household_id) != SQLITE_OK ||
	    sqlite3_bind_text(stmt, 4, name, -1, SQLITE_STATIC) != SQLITE_OK) {
		r = store_last_error(store);
		store_release(stmt);
		return r;
	}
	r = store_run(stmt);
	if (r < 0)
		return r;
	*ret_id = sqlite3_last_insert_rowid(store->db);
	return 0;
}

int store_token_find(struct store *store, const uint8_t hash[32], struct store_token *ret_token)
{
	static const char sql[] = "SELECT id, role, household_id FROM tokens WHERE hash = ?";
	struct store_token token = { 0 };
	const unsigned char *role;
	sqlite3_stmt *stmt;
	int rc, r;

	if (!hash)
		return -EINVAL;

	r = store_prepare(store, sql, &stmt);
	if (r < 0)
		return r;
	if (sqlite3_bind_blob(stmt, 1, hash, 32, SQLITE_STATIC) != SQLITE_OK) {
		r = store_last_error(store);
		goto out;
	}
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? -ENOENT : store_map_error(rc);
		goto out;
	}
	token.id = sqlite3_column_int64(stmt, 0);
	role = sqlite3_column_text(stmt, 1);
	if (!role || (size_t)sqlite3_column_bytes(stmt, 1) >= sizeof(token.role)) {
		r = -EIO;
		goto out;
	}
	memcpy(token.role, role, (size_t)sqlite3_column_bytes(stmt, 1) + 1);
	token.household_id = sqlite3_column_int64(stmt, 2);
	*ret_token = token;
	r = 0;
out:
	store_release(stmt);
	return r;
}
