/* API tokens: only their BLAKE2b hash is stored, with a role and, for member
 * tokens, the household they speak for; when each was last used, and
 * whether it was revoked. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "coopbill/date.h"
#include "store-internal.h"

int store_token_insert(struct store *store, const uint8_t hash[32], const char *role,
		       int64_t household_id, const char *name, int64_t *ret_id)
{
	static const char sql[] = "INSERT INTO tokens (hash, role, household_id, name) "
				  "VALUES (?1, ?2, ?3, ?4) RETURNING id";
	const struct store_value values[] = { STORE_BLOB(hash, 32), STORE_TEXT(role),
					      STORE_ID(household_id), STORE_TEXT(name) };

	if (!hash || !role || !name)
		return -EINVAL;
	return store_exec(store, sql, values, 4, ret_id);
}

/* Copies a text column into a buffer of size bytes, "" for NULL; -EIO when
 * it does not fit (a database edited by hand). */
static int column_text(struct store_stmt *stmt, int column, char *buf, size_t size)
{
	const char *text = store_column_text(stmt, column);
	size_t len = store_column_bytes(stmt, column);

	if (!text) {
		buf[0] = '\0';
		return 0;
	}
	if (len >= size)
		return -EIO;
	memcpy(buf, text, len + 1);
	return 0;
}

/* The columns token_decode() reads, from tokens. */
#define TOKEN_COLUMNS                                                                  \
	"SELECT id, role, coalesce(household_id, 0), name, created_at, last_used_at, " \
	"CASE WHEN revoked_at IS NOT NULL THEN 1 ELSE 0 END FROM tokens "

static int token_decode(struct store_stmt *stmt, void *data)
{
	struct store_token *token = data;
	int r;

	token->id = store_column_int64(stmt, 0);
	r = column_text(stmt, 1, token->role, sizeof(token->role));
	if (r == 0)
		r = column_text(stmt, 3, token->name, sizeof(token->name));
	if (r == 0)
		r = column_text(stmt, 4, token->created_at, sizeof(token->created_at));
	if (r == 0)
		r = column_text(stmt, 5, token->last_used_at, sizeof(token->last_used_at));
	if (r < 0)
		return r;
	token->household_id = store_column_int64(stmt, 2);
	/* Read here rather than by SQL, whose date functions differ by
	 * backend: 0 when never used (or not a time). */
	if (date_time_parse(token->last_used_at, &token->last_used_s) < 0)
		token->last_used_s = 0;
	token->revoked = (int)store_column_int64(stmt, 6) != 0;
	return 0;
}

/* Each request's token is looked up here: while nothing was committed to
 * the database, by this process or another, a token found is found again
 * without a query. A commit anywhere (a token revoked on the box, the time
 * of use written) forgets them all. Unknown hashes are always queried. */
static const struct store_token *token_kept(struct store *store, const uint8_t hash[32],
					    const struct store_version *version)
{
	if (!store_version_same(version, &store->tokens_version)) {
		store->n_tokens = 0;
		store->tokens_next = 0;
		store->tokens_version = *version;
		return NULL;
	}
	for (size_t i = 0; i < store->n_tokens; i++)
		if (memcmp(store->tokens[i].hash, hash, 32) == 0)
			return &store->tokens[i].token;
	return NULL;
}

static void token_keep(struct store *store, const uint8_t hash[32], const struct store_token *token)
{
	struct store_token_kept *kept = &store->tokens[store->tokens_next];

	memcpy(kept->hash, hash, 32);
	kept->token = *token;
	store->tokens_next = (store->tokens_next + 1) % STORE_TOKENS_KEPT;
	if (store->n_tokens < STORE_TOKENS_KEPT)
		store->n_tokens++;
}

int store_token_find(struct store *store, const uint8_t hash[32], struct store_token *ret_token)
{
	static const char sql[] = TOKEN_COLUMNS "WHERE hash = ?1";
	const struct store_value values[] = { STORE_BLOB(hash, 32) };
	struct store_token token = { 0 };
	const struct store_token *kept;
	struct store_version version;
	int r;

	if (!hash)
		return -EINVAL;
	/* The version is taken before the query: a commit in between makes
	 * the next lookup query again. */
	store_version_get(store, &version);
	kept = token_kept(store, hash, &version);
	if (kept) {
		*ret_token = *kept;
		return 0;
	}
	r = store_query_one(store, sql, values, 1, token_decode, &token);
	if (r == 0 && version.known)
		token_keep(store, hash, &token);
	if (r == 0)
		*ret_token = token;
	return r;
}

int store_token_get(struct store *store, int64_t id, struct store_token *ret_token)
{
	static const char sql[] = TOKEN_COLUMNS "WHERE id = ?1";
	const struct store_value values[] = { STORE_INT(id) };
	struct store_token token = { 0 };
	int r;

	r = store_query_one(store, sql, values, 1, token_decode, &token);
	if (r == 0)
		*ret_token = token;
	return r;
}

static int token_row_decode(struct store_stmt *stmt, struct store_rows *rows)
{
	struct store_token *token = store_rows_add(rows);

	if (!token)
		return -ENOMEM;
	return token_decode(stmt, token);
}

int store_tokens_list(struct store *store, int64_t household_id, struct store_token **ret_tokens,
		      size_t *ret_n_tokens)
{
	static const char sql[] = TOKEN_COLUMNS
		"WHERE revoked_at IS NULL AND (CAST(?1 AS BIGINT) = 0 OR household_id = ?1) "
		"ORDER BY id";
	const struct store_value params[] = { STORE_INT(household_id) };
	struct store_rows rows = { .item_size = sizeof(struct store_token) };
	int r;

	r = store_collect(store, sql, params, 1, token_row_decode, &rows);
	if (r < 0)
		return r;
	*ret_tokens = rows.items;
	*ret_n_tokens = rows.n;
	return 0;
}

int store_token_used(struct store *store, int64_t id, int64_t now_s)
{
	static const char sql[] = "UPDATE tokens SET last_used_at = ?2 WHERE id = ?1";
	char now[DATE_TIME_TEXT_MAX];
	const struct store_value values[] = { STORE_INT(id), { .kind = STORE_TEXT, .text = now } };
	int r;

	date_time_format(now_s, now);
	/* A time kept to the minute is not worth making a request wait behind
	 * another process's write: while the database is locked it stays as
	 * it was (-EBUSY at once). */
	store->busy_timeout_ms = 0;
	r = store_exec(store, sql, values, 2, NULL);
	store->busy_timeout_ms = STORE_BUSY_TIMEOUT_MS;
	return r;
}

int store_token_revoke(struct store *store, int64_t id)
{
	static const char sql[] =
		"UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL";
	char now[DATE_TIME_TEXT_MAX];
	const struct store_value values[] = { STORE_INT(id), { .kind = STORE_TEXT, .text = now } };
	int r;

	date_time_format((int64_t)time(NULL), now);
	r = store_exec(store, sql, values, 2, NULL);
	if (r == 0 && store_changes(store) == 0)
		return -ENOENT;
	return r;
}
