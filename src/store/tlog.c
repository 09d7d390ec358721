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

/* Entries, or hashes, at consecutive indexes from first. */
struct entry_rows {
	int64_t first;
	const char *const *entries;
};

struct hash_rows {
	int64_t first;
	const uint8_t (*hashes)[32];
};

static int entry_values(const void *rows, size_t row, struct store_value *values)
{
	const struct entry_rows *entries = rows;

	values[0] = STORE_INT(entries->first + (int64_t)row);
	values[1] = STORE_BLOB(entries->entries[row], strlen(entries->entries[row]));
	return 0;
}

int store_tlog_entries_put(struct store *store, int64_t first_index, const char *const *entries,
			   size_t n_entries)
{
	static struct store_batches batches = { .head = "INSERT INTO log_entries (idx, entry)",
						.tail = "",
						.n_columns = 2 };
	const struct entry_rows rows = { first_index, entries };

	return store_batches_run(store, &batches, &rows, n_entries, entry_values);
}

static int hash_values(const void *rows, size_t row, struct store_value *values)
{
	const struct hash_rows *hashes = rows;

	values[0] = STORE_INT(hashes->first + (int64_t)row);
	values[1] = STORE_BLOB(hashes->hashes[row], 32);
	return 0;
}

int store_tlog_hashes_put(struct store *store, int64_t first_index, const uint8_t (*hashes)[32],
			  size_t n_hashes)
{
	static struct store_batches batches = { .head = "INSERT INTO log_hashes (idx, hash)",
						.tail = "",
						.n_columns = 2 };
	const struct hash_rows rows = { first_index, hashes };

	return store_batches_run(store, &batches, &rows, n_hashes, hash_values);
}

static int salt_values(const void *rows, size_t row, struct store_value *values)
{
	const struct store_household_salt *salt = (const struct store_household_salt *)rows + row;

	values[0] = STORE_INT(salt->household_id);
	values[1] = STORE_BLOB(salt->salt, sizeof(salt->salt));
	return 0;
}

int store_household_salts_put(struct store *store, const struct store_household_salt *salts,
			      size_t n_salts)
{
	static struct store_batches batches = {
		.head = "INSERT INTO household_salts (household_id, salt)",
		.tail = "",
		.n_columns = 2
	};

	return store_batches_run(store, &batches, salts, n_salts, salt_values);
}

static int salt_decode(struct store_stmt *stmt, struct store_rows *rows)
{
	struct store_household_salt *salt;

	if (store_column_bytes(stmt, 1) != sizeof(salt->salt))
		return -EIO;
	salt = store_rows_add(rows);
	if (!salt)
		return -ENOMEM;
	salt->household_id = store_column_int64(stmt, 0);
	memcpy(salt->salt, store_column_blob(stmt, 1), sizeof(salt->salt));
	return 0;
}

int store_household_salts_get(struct store *store, int64_t first_id, int64_t last_id,
			      struct store_household_salt **ret_salts, size_t *ret_n_salts)
{
	static const char sql[] = "SELECT household_id, salt FROM household_salts "
				  "WHERE household_id >= ?1 AND household_id <= ?2 "
				  "ORDER BY household_id";
	const struct store_value values[] = { STORE_INT(first_id), STORE_INT(last_id) };
	struct store_rows rows = { .item_size = sizeof(struct store_household_salt) };
	int r;

	r = store_collect(store, sql, values, 2, salt_decode, &rows);
	if (r < 0)
		return r;
	*ret_salts = rows.items;
	*ret_n_salts = rows.n;
	return 0;
}

/* Where get_blob() puts the blob it reads. */
struct blob_read {
	size_t expected; /* exactly so many bytes into fixed; 0: any, a malloc'd copy */
	uint8_t *fixed;
	char *copy;
	size_t len;
};

static int blob_decode(struct store_stmt *stmt, void *data)
{
	struct blob_read *read = data;
	const void *blob = store_column_blob(stmt, 0);
	size_t len = store_column_bytes(stmt, 0);

	if (read->expected) {
		if (len != read->expected)
			return -EIO;
		memcpy(read->fixed, blob, len);
		return 0;
	}
	read->copy = malloc(len + 1);
	if (!read->copy)
		return -ENOMEM;
	if (len)
		memcpy(read->copy, blob, len);
	read->copy[len] = '\0';
	read->len = len;
	return 0;
}

/* Reads the blob of the row with the given key into a malloc'd buffer, or
 * exactly `expected` bytes into *fixed when expected is not 0. */
static int get_blob(struct store *store, const char *sql, int64_t key, size_t expected,
		    uint8_t *fixed, char **ret_blob, size_t *ret_len)
{
	const struct store_value values[] = { STORE_INT(key) };
	struct blob_read read = { .expected = expected, .fixed = fixed };
	int r;

	r = store_query_one(store, sql, values, 1, blob_decode, &read);
	if (r < 0 || expected)
		return r;
	*ret_blob = read.copy;
	*ret_len = read.len;
	return 0;
}

int store_tlog_entry_get(struct store *store, int64_t index, char **ret_entry, size_t *ret_len)
{
	static const char sql[] = "SELECT entry FROM log_entries WHERE idx = ?";

	return get_blob(store, sql, index, 0, NULL, ret_entry, ret_len);
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
	static const char sql[] =
		"INSERT INTO log_checkpoints (size, root, note) VALUES (?1, ?2, ?3)";
	const struct store_value values[] = { STORE_INT(size), STORE_BLOB(root, 32),
					      STORE_TEXT(note) };

	return store_exec(store, sql, values, 3, NULL);
}

/* The latest checkpoint as store_tlog_checkpoint_latest() returns it. */
struct checkpoint_read {
	int64_t size;
	uint8_t root[32];
	char *note;
};

static int checkpoint_decode(struct store_stmt *stmt, void *data)
{
	struct checkpoint_read *checkpoint = data;
	const char *note = store_column_text(stmt, 2);

	if (store_column_bytes(stmt, 1) != 32 || !note)
		return -EIO;
	checkpoint->note = strdup(note);
	if (!checkpoint->note)
		return -ENOMEM;
	checkpoint->size = store_column_int64(stmt, 0);
	memcpy(checkpoint->root, store_column_blob(stmt, 1), 32);
	return 0;
}

int store_tlog_checkpoint_latest(struct store *store, int64_t *ret_size, uint8_t ret_root[32],
				 char **ret_note)
{
	static const char sql[] = "SELECT size, root, note FROM log_checkpoints "
				  "ORDER BY size DESC LIMIT 1";
	struct checkpoint_read checkpoint;
	int r;

	r = store_query_one(store, sql, NULL, 0, checkpoint_decode, &checkpoint);
	if (r < 0)
		return r;
	*ret_size = checkpoint.size;
	memcpy(ret_root, checkpoint.root, 32);
	*ret_note = checkpoint.note;
	return 0;
}

int store_tlog_entries_each(struct store *store,
			    int (*visit)(int64_t index, const void *entry, size_t len, void *data),
			    void *data)
{
	static const char sql[] = "SELECT idx, entry FROM log_entries ORDER BY idx";
	struct store_stmt *stmt = NULL;
	int r;

	r = store_query(store, sql, NULL, 0, &stmt);
	if (r < 0)
		return r;
	while ((r = store_step(stmt)) > 0) {
		r = visit(store_column_int64(stmt, 0), store_column_blob(stmt, 1),
			  store_column_bytes(stmt, 1), data);
		if (r < 0)
			break;
	}
	store_release(stmt);
	return r;
}
