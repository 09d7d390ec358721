/* API tokens: only their BLAKE2b hash is stored, with a role and, for member
 * tokens, the household they speak for. */
#include <errno.h>
#include <string.h>

#include "store-internal.h"

int store_token_insert(struct store *store, const uint8_t hash[32], const char *role,
		       int64_t household_id, const char *name, int64_t *ret_id)
{
	static const char sql[] = "INSERT INTO tokens (hash, role, household_id, name) "
				  "VALUES (?1, ?2, ?3, ?4)";
	const struct store_value values[] = { STORE_BLOB(hash, 32), STORE_TEXT(role),
					      STORE_ID(household_id), STORE_TEXT(name) };

	if (!hash || !role || !name)
		return -EINVAL;
	return store_exec(store, sql, values, 4, ret_id);
}

static int token_decode(sqlite3_stmt *stmt, void *data)
{
	struct store_token *token = data;
	const unsigned char *role = sqlite3_column_text(stmt, 1);
	size_t role_len = (size_t)sqlite3_column_bytes(stmt, 1);

	if (!role || role_len >= sizeof(token->role))
		return -EIO;
	token->id = sqlite3_column_int64(stmt, 0);
	memcpy(token->role, role, role_len + 1);
	token->household_id = sqlite3_column_int64(stmt, 2);
	return 0;
}

int store_token_find(struct store *store, const uint8_t hash[32], struct store_token *ret_token)
{
	static const char sql[] = "SELECT id, role, household_id FROM tokens WHERE hash = ?1";
	const struct store_value values[] = { STORE_BLOB(hash, 32) };
	struct store_token token = { 0 };
	int r;

	if (!hash)
		return -EINVAL;
	r = store_query_one(store, sql, values, 1, token_decode, &token);
	if (r == 0)
		*ret_token = token;
	return r;
}
