/* Metering data: counter baselines, usage buckets with their hourly roll-up,
 * and gap events. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store-internal.h"

static const char *direction_text(int direction)
{
	return direction == 0 ? "up" : "down";
}

static int direction_from_text(const unsigned char *text)
{
	return text && strcmp((const char *)text, "up") == 0 ? 0 : 1;
}

/* One row, two counters: the columns of a direction not read yet are NULL. */
static int baseline_decode(sqlite3_stmt *stmt, struct store_rows *rows)
{
	for (int direction = 0; direction < 2; direction++) {
		int column = 1 + 2 * direction;
		struct store_baseline *baseline;

		if (sqlite3_column_type(stmt, column) == SQLITE_NULL)
			continue;
		baseline = store_rows_add(rows);
		if (!baseline)
			return -ENOMEM;
		*baseline = (struct store_baseline){
			.household_id = sqlite3_column_int64(stmt, 0),
			.direction = direction,
			.handle = (uint64_t)sqlite3_column_int64(stmt, column),
			.bytes = (uint64_t)sqlite3_column_int64(stmt, column + 1),
		};
	}
	return 0;
}

int store_baselines_load(struct store *store, struct store_baseline **ret_baselines,
			 size_t *ret_n_baselines)
{
	static const char sql[] = "SELECT household_id, up_handle, up_bytes, down_handle, "
				  "down_bytes FROM meter_baselines ORDER BY household_id";
	struct store_rows rows = { .item_size = sizeof(struct store_baseline) };
	int r;

	r = store_collect(store, sql, NULL, 0, baseline_decode, &rows);
	if (r < 0)
		return r;
	*ret_baselines = rows.items;
	*ret_n_baselines = rows.n;
	return 0;
}

/* Binds a baseline's handle and bytes, or two NULLs. */
static int bind_baseline(sqlite3_stmt *stmt, int index, const struct store_baseline *baseline)
{
	if (!baseline)
		return sqlite3_bind_null(stmt, index) | sqlite3_bind_null(stmt, index + 1);
	return sqlite3_bind_int64(stmt, index, (int64_t)baseline->handle) |
	       sqlite3_bind_int64(stmt, index + 1, (int64_t)baseline->bytes);
}

int store_baselines_put(struct store *store, int64_t household_id, const struct store_baseline *up,
			const struct store_baseline *down)
{
	static const char sql[] =
		"INSERT INTO meter_baselines (household_id, up_handle, up_bytes, down_handle, "
		"down_bytes) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (household_id) DO UPDATE SET "
		"up_handle = coalesce(excluded.up_handle, up_handle), "
		"up_bytes = coalesce(excluded.up_bytes, up_bytes), "
		"down_handle = coalesce(excluded.down_handle, down_handle), "
		"down_bytes = coalesce(excluded.down_bytes, down_bytes)";
	sqlite3_stmt *stmt;
	int r;

	/* SQLite integers are signed 64-bit: a counter past 2^63 bytes is refused. */
	if ((up && (up->bytes > INT64_MAX || up->handle > INT64_MAX)) ||
	    (down && (down->bytes > INT64_MAX || down->handle > INT64_MAX)))
		return -EOVERFLOW;
	r = store_prepare(store, sql, &stmt);
	if (r < 0)
		return r;
	if (sqlite3_bind_int64(stmt, 1, household_id) != SQLITE_OK ||
	    bind_baseline(stmt, 2, up) != SQLITE_OK || bind_baseline(stmt, 4, down) != SQLITE_OK) {
		r = store_last_error(store);
		store_release(stmt);
		return r;
	}
	return store_run(stmt);
}

int store_baselines_delete(struct store *store, int64_t household_id)
{
	static const char sql[] = "DELETE FROM meter_baselines WHERE household_id = ?";
	sqlite3_stmt *stmt;
	int r;

	r = store_prepare(store, sql, &stmt);
	if (r < 0)
		return r;
	if (sqlite3_bind_int64(stmt, 1, household_id) != SQLITE_OK) {
		r = store_last_error(store);
		store_release(stmt);
		return r;
	}
	return store_run(stmt);
}

/* Runs an additive upsert of (start, household, up, down). */
static int upsert_add(struct store *store, const char *sql, int64_t start, int64_t household_id,
		      uint64_t bytes_up, uint64_t bytes_down)
{
	sqlite3_stmt *stmt;
	int r;

	if (bytes_up > INT64_MAX || bytes_down > INT64_MAX)
		return -EOVERFLOW;
	r = store_prepare(store, sql, &stmt);
	if (r < 0)
		return r;
	if (sqlite3_bind_int64(stmt, 1, start) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 2, household_id) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 3, (int64_t)bytes_up) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 4, (int64_t)bytes_down) != SQLITE_OK) {
		r = store_last_error(store);
		store_release(stmt);
		return r;
	}
	return store_run(stmt);
}

int store_usage_add(struct store *store, int64_t watermark, int64_t bucket_start,
		    int64_t household_id, uint64_t bytes_up, uint64_t bytes_down)
{
	static const char bucket_sql[] =
		"INSERT INTO usage_buckets (bucket_start, household_id, bytes_up, bytes_down) "
		"VALUES (?1, ?2, ?3, ?4) ON CONFLICT (bucket_start, household_id) DO UPDATE SET "
		"bytes_up = bytes_up + excluded.bytes_up, "
		"bytes_down = bytes_down + excluded.bytes_down";
	static const char hourly_sql[] =
		"INSERT INTO usage_hourly (hour_start, household_id, bytes_up, bytes_down) "
		"VALUES (?1 - ?1 % 3600, ?2, ?3, ?4) ON CONFLICT (hour_start, household_id) "
		"DO UPDATE SET bytes_up = bytes_up + excluded.bytes_up, "
		"bytes_down = bytes_down + excluded.bytes_down";
	int r;

	r = upsert_add(store, bucket_sql, bucket_start, household_id, bytes_up, bytes_down);
	if (r < 0 || bucket_start >= watermark)
		return r;
	return upsert_add(store, hourly_sql, bucket_start, household_id, bytes_up, bytes_down);
}

int store_gap_insert(struct store *store, const struct store_gap *gap)
{
	static const char sql[] = "INSERT INTO meter_gaps (household_id, direction, reason, since, "
				  "at, bytes_before, bytes_after) VALUES (?, ?, ?, ?, ?, ?, ?)";
	sqlite3_stmt *stmt;
	int r;

	if (gap->bytes_before > INT64_MAX || gap->bytes_after > INT64_MAX)
		return -EOVERFLOW;
	r = store_prepare(store, sql, &stmt);
	if (r < 0)
		return r;
	if (sqlite3_bind_int64(stmt, 1, gap->household_id) != SQLITE_OK ||
	    sqlite3_bind_text(stmt, 2, direction_text(gap->direction), -1, SQLITE_STATIC) !=
		    SQLITE_OK ||
	    sqlite3_bind_text(stmt, 3, gap->reason, -1, SQLITE_STATIC) != SQLITE_OK ||
	    store_bind_id(stmt, 4, gap->since) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 5, gap->at) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 6, (int64_t)gap->bytes_before) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 7, (int64_t)gap->bytes_after) != SQLITE_OK) {
		r = store_last_error(store);
		store_release(stmt);
		return r;
	}
	return store_run(stmt);
}

static int gap_decode(sqlite3_stmt *stmt, struct store_rows *rows)
{
	const unsigned char *reason = sqlite3_column_text(stmt, 2);
	struct store_gap *gap = store_rows_add(rows);

	if (!gap)
		return -ENOMEM;
	*gap = (struct store_gap){
		.household_id = sqlite3_column_int64(stmt, 0),
		.direction = direction_from_text(sqlite3_column_text(stmt, 1)),
		.since = sqlite3_column_int64(stmt, 3),
		.at = sqlite3_column_int64(stmt, 4),
		.bytes_before = (uint64_t)sqlite3_column_int64(stmt, 5),
		.bytes_after = (uint64_t)sqlite3_column_int64(stmt, 6),
	};
	snprintf(gap->reason, sizeof(gap->reason), "%s", reason ? (const char *)reason : "");
	return 0;
}

int store_gaps_list(struct store *store, int64_t household_id, int64_t from, int64_t to,
		    struct store_gap **ret_gaps, size_t *ret_n_gaps)
{
	static const char sql[] = "SELECT household_id, direction, reason, coalesce(since, 0), at, "
				  "bytes_before, bytes_after FROM meter_gaps "
				  "WHERE (?1 = 0 OR household_id = ?1) AND at >= ?2 AND at < ?3 "
				  "ORDER BY at, id";
	const int64_t params[] = { household_id, from, to };
	struct store_rows rows = { .item_size = sizeof(struct store_gap) };
	int r;

	r = store_collect(store, sql, params, 3, gap_decode, &rows);
	if (r < 0)
		return r;
	*ret_gaps = rows.items;
	*ret_n_gaps = rows.n;
	return 0;
}

static int usage_row_decode(sqlite3_stmt *stmt, struct store_rows *rows)
{
	struct store_usage_row *row = store_rows_add(rows);

	if (!row)
		return -ENOMEM;
	*row = (struct store_usage_row){
		.start = sqlite3_column_int64(stmt, 0),
		.household_id = sqlite3_column_int64(stmt, 1),
		.bytes_up = (uint64_t)sqlite3_column_int64(stmt, 2),
		.bytes_down = (uint64_t)sqlite3_column_int64(stmt, 3),
	};
	return 0;
}

/* Collects (start, household, up, down) rows. */
static int usage_query(struct store *store, const char *sql, const int64_t *params, size_t n_params,
		       struct store_usage_row **ret_rows, size_t *ret_n_rows)
{
	struct store_rows rows = { .item_size = sizeof(struct store_usage_row) };
	int r;

	r = store_collect(store, sql, params, n_params, usage_row_decode, &rows);
	if (r < 0)
		return r;
	*ret_rows = rows.items;
	*ret_n_rows = rows.n;
	return 0;
}

int store_usage_rows(struct store *store, int64_t household_id, int64_t from, int64_t to, bool fine,
		     struct store_usage_row **ret_rows, size_t *ret_n_rows)
{
	static const char fine_sql[] =
		"SELECT bucket_start, household_id, bytes_up, bytes_down FROM usage_buckets "
		"WHERE household_id = ?1 AND bucket_start >= ?2 AND bucket_start < ?3 "
		"ORDER BY bucket_start";
	/* Hours before the watermark come from the roll-up, later ones from the
	 * buckets not rolled up yet. */
	static const char hourly_sql[] =
		"SELECT hour_start, household_id, bytes_up, bytes_down FROM usage_hourly "
		"WHERE household_id = ?1 AND hour_start >= ?2 AND hour_start < ?3 "
		"AND hour_start < (SELECT rolled_up_to FROM meter_state) "
		"UNION ALL "
		"SELECT bucket_start - bucket_start % 3600, household_id, sum(bytes_up), "
		"sum(bytes_down) FROM usage_buckets "
		"WHERE household_id = ?1 AND bucket_start >= ?2 AND bucket_start < ?3 "
		"AND bucket_start >= (SELECT rolled_up_to FROM meter_state) "
		"GROUP BY 1 ORDER BY 1";
	const int64_t params[] = { household_id, from, to };

	return usage_query(store, fine ? fine_sql : hourly_sql, params, 3, ret_rows, ret_n_rows);
}

int store_usage_slices(struct store *store, bool hourly, int64_t from, int64_t to,
		       struct store_usage_row **ret_rows, size_t *ret_n_rows)
{
	static const char hourly_sql[] =
		"SELECT hour_start, household_id, bytes_up, bytes_down FROM usage_hourly "
		"WHERE hour_start >= ?1 AND hour_start < ?2 ORDER BY hour_start, household_id";
	static const char buckets_sql[] =
		"SELECT bucket_start, household_id, bytes_up, bytes_down FROM usage_buckets "
		"WHERE bucket_start >= ?1 AND bucket_start < ?2 ORDER BY bucket_start, "
		"household_id";
	const int64_t params[] = { from, to };

	return usage_query(store, hourly ? hourly_sql : buckets_sql, params, 2, ret_rows,
			   ret_n_rows);
}

int store_usage_totals(struct store *store, int64_t from, int64_t to,
		       struct store_usage_row **ret_rows, size_t *ret_n_rows)
{
	static const char sql[] = "SELECT ?1, household_id, sum(bytes_up), sum(bytes_down) FROM ("
				  "SELECT household_id, bytes_up, bytes_down FROM usage_hourly "
				  "WHERE hour_start >= ?1 AND hour_start < ?2 "
				  "AND hour_start < (SELECT rolled_up_to FROM meter_state) "
				  "UNION ALL "
				  "SELECT household_id, bytes_up, bytes_down FROM usage_buckets "
				  "WHERE bucket_start >= ?1 AND bucket_start < ?2 "
				  "AND bucket_start >= (SELECT rolled_up_to FROM meter_state)) "
				  "GROUP BY household_id ORDER BY household_id";
	const int64_t params[] = { from, to };

	return usage_query(store, sql, params, 2, ret_rows, ret_n_rows);
}

int store_usage_watermark(struct store *store, int64_t *ret_watermark)
{
	static const char sql[] = "SELECT rolled_up_to FROM meter_state";

	return store_query_int64(store, sql, ret_watermark);
}

/* Runs a statement that returns no rows, with integer parameters. */
static int run_with_params(struct store *store, const char *sql, const int64_t *params,
			   size_t n_params)
{
	sqlite3_stmt *stmt;
	int r;

	r = store_prepare(store, sql, &stmt);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n_params; i++) {
		if (sqlite3_bind_int64(stmt, (int)i + 1, params[i]) != SQLITE_OK) {
			r = store_last_error(store);
			store_release(stmt);
			return r;
		}
	}
	return store_run(stmt);
}

int store_usage_rollup(struct store *store, int64_t up_to)
{
	static const char rollup_sql[] =
		"INSERT INTO usage_hourly (hour_start, household_id, bytes_up, bytes_down) "
		"SELECT bucket_start - bucket_start % 3600, household_id, sum(bytes_up), "
		"sum(bytes_down) FROM usage_buckets "
		"WHERE bucket_start >= ?1 AND bucket_start < ?2 GROUP BY 1, 2 "
		"ON CONFLICT (hour_start, household_id) DO UPDATE SET "
		"bytes_up = bytes_up + excluded.bytes_up, "
		"bytes_down = bytes_down + excluded.bytes_down";
	static const char watermark_sql[] = "UPDATE meter_state SET rolled_up_to = ?2 "
					    "WHERE rolled_up_to = ?1";
	int64_t watermark;
	bool own_transaction;
	int r;

	if (up_to % 3600 != 0)
		return -EINVAL;
	r = store_usage_watermark(store, &watermark);
	if (r < 0 || up_to <= watermark)
		return r;
	r = store_atomic_enter(store, &own_transaction);
	if (r < 0)
		return r;
	const int64_t params[] = { watermark, up_to };

	r = run_with_params(store, rollup_sql, params, 2);
	if (r == 0)
		r = run_with_params(store, watermark_sql, params, 2);
	return store_atomic_leave(store, own_transaction, r);
}

int store_usage_prune(struct store *store, int64_t before)
{
	static const char sql[] = "DELETE FROM usage_buckets WHERE bucket_start < ?1 "
				  "AND bucket_start < (SELECT rolled_up_to FROM meter_state)";

	return run_with_params(store, sql, &before, 1);
}
