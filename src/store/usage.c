/* Metering data: counter baselines, usage buckets with their hourly and
 * daily roll-up, and gap events. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <uv.h>

#include "coopbill/date.h"
#include "store-internal.h"

const char *store_direction_name(int direction)
{
	return direction == 0 ? "up" : "down";
}

static int direction_from_text(const char *text)
{
	return text && strcmp(text, "up") == 0 ? 0 : 1;
}

const char *store_scope_name(int scope)
{
	return scope == 1 ? "local" : "internet";
}

static int scope_from_text(const char *text)
{
	return text && strcmp(text, "local") == 0 ? 1 : 0;
}

/* One row, four counters (internet up and down, local up and down): the
 * columns of a counter not read yet are NULL. */
static int baseline_decode(struct store_stmt *stmt, struct store_rows *rows)
{
	for (int kind = 0; kind < 4; kind++) {
		int column = 1 + 2 * kind;
		struct store_baseline *baseline;

		if (store_column_kind(stmt, column) == STORE_NULL)
			continue;
		baseline = store_rows_add(rows);
		if (!baseline)
			return -ENOMEM;
		*baseline = (struct store_baseline){
			.household_id = store_column_int64(stmt, 0),
			.scope = kind / 2,
			.direction = kind % 2,
			.handle = (uint64_t)store_column_int64(stmt, column),
			.bytes = (uint64_t)store_column_int64(stmt, column + 1),
		};
	}
	return 0;
}

int store_baselines_load(struct store *store, struct store_baseline **ret_baselines,
			 size_t *ret_n_baselines)
{
	static const char sql[] = "SELECT household_id, up_handle, up_bytes, down_handle, "
				  "down_bytes, local_up_handle, local_up_bytes, local_down_handle, "
				  "local_down_bytes FROM meter_baselines ORDER BY household_id";
	struct store_rows rows = { .item_size = sizeof(struct store_baseline) };
	int r;

	r = store_collect(store, sql, NULL, 0, baseline_decode, &rows);
	if (r < 0)
		return r;
	*ret_baselines = rows.items;
	*ret_n_baselines = rows.n;
	return 0;
}

/* A baseline's handle and bytes, or two NULLs. */
static void baseline_values(const struct store_baseline *baseline, struct store_value *values)
{
	if (!baseline) {
		values[0] = values[1] = (struct store_value){ .kind = STORE_NULL };
		return;
	}
	values[0] = STORE_INT((int64_t)baseline->handle);
	values[1] = STORE_INT((int64_t)baseline->bytes);
}

/* Rows per statement on PostgreSQL, where each statement is a round trip
 * to the server: a column of the rows goes as one array (12 bytes a row),
 * the rows of a poll in a few statements. The statements make their rows r
 * with each array unnested in a SELECT's list, which PostgreSQL steps
 * through together: unnest(?1, ?2, ...) in a FROM list gives the same rows
 * but first copies each array's elements into a store of its own, and an
 * UPDATE of 10,000 rows took half as long again. */
#define ARRAY_ROWS 16384

/* An upsert on PostgreSQL, the rows as arrays r (?1 a column, ?2 the next):
 * an UPDATE of the rows that exist, and an INSERT of those that do not,
 * run only when the UPDATE missed some. Writers take turns (the write
 * lock), so no other can add a row in between. Two statements cost less
 * than one INSERT ... ON CONFLICT, which locks each row before it updates
 * it; the next poll mostly updates the same rows. */
struct array_upsert {
	const char *update;
	const char *insert;
	unsigned n_columns;
};

static int run_arrays(struct store *store, const struct array_upsert *upsert, const void *rows,
		      size_t first, size_t n_rows, store_row_values_fn row_values)
{
	struct store_pg_array columns[STORE_BATCH_COLUMNS_MAX] = { 0 };
	struct store_value values[STORE_BATCH_COLUMNS_MAX];
	unsigned n_columns = upsert->n_columns;
	int r = 0;

	if (n_columns > STORE_BATCH_COLUMNS_MAX)
		return -EINVAL;
	for (unsigned column = 0; r == 0 && column < n_columns; column++)
		r = store_pg_array_new(n_rows, &columns[column]);
	for (size_t i = 0; r == 0 && i < n_rows; i++) {
		r = row_values(rows, first + i, values);
		for (unsigned column = 0; r == 0 && column < n_columns; column++)
			store_pg_array_add(&columns[column], &values[column]);
	}
	for (unsigned column = 0; r == 0 && column < n_columns; column++)
		values[column] = STORE_BLOB(columns[column].bytes, columns[column].len);
	if (r == 0)
		r = store_exec(store, upsert->update, values, n_columns, NULL);
	if (r == 0 && (size_t)store_changes(store) < n_rows)
		r = store_exec(store, upsert->insert, values, n_columns, NULL);
	for (unsigned column = 0; column < n_columns; column++)
		store_pg_array_free(&columns[column]);
	return r;
}

/* On PostgreSQL, ARRAY_ROWS at a time as arrays; on SQLite, in batches. */
static int run_batched(struct store *store, struct store_batches *batches,
		       const struct array_upsert *arrays, const void *rows, size_t n_rows,
		       store_row_values_fn row_values)
{
	int r = 0;

	if (!store->pg)
		return store_batches_run(store, batches, rows, n_rows, row_values);
	for (size_t i = 0; r == 0 && i < n_rows; i += ARRAY_ROWS)
		r = run_arrays(store, arrays, rows, i,
			       n_rows - i < ARRAY_ROWS ? n_rows - i : ARRAY_ROWS, row_values);
	return r;
}

/* SQLite integers are signed 64-bit: a counter past 2^63 bytes is refused. */
static bool baseline_fits(const struct store_baseline *baseline)
{
	return !baseline || (baseline->bytes <= INT64_MAX && baseline->handle <= INT64_MAX);
}

static int baseline_update_values(const void *rows, size_t row, struct store_value *values)
{
	const struct store_baseline_update *update =
		(const struct store_baseline_update *)rows + row;

	if (!baseline_fits(update->up) || !baseline_fits(update->down) ||
	    !baseline_fits(update->local_up) || !baseline_fits(update->local_down))
		return -EOVERFLOW;
	values[0] = STORE_INT(update->household_id);
	baseline_values(update->up, values + 1);
	baseline_values(update->down, values + 3);
	baseline_values(update->local_up, values + 5);
	baseline_values(update->local_down, values + 7);
	return 0;
}

#define BASELINES_COLUMNS                                                               \
	"household_id, up_handle, up_bytes, down_handle, down_bytes, local_up_handle, " \
	"local_up_bytes, local_down_handle, local_down_bytes"
#define BASELINES_HEAD "INSERT INTO meter_baselines (" BASELINES_COLUMNS ")"
/* Each counter's handle and bytes from the row `from`, where it has them.
 * The existing row's columns are named with their table: PostgreSQL finds
 * a bare name ambiguous between the row and excluded. */
#define BASELINES_SET(from)                                                                       \
	"up_handle = coalesce(" from ".up_handle, meter_baselines.up_handle), "                   \
	"up_bytes = coalesce(" from ".up_bytes, meter_baselines.up_bytes), "                      \
	"down_handle = coalesce(" from ".down_handle, meter_baselines.down_handle), "             \
	"down_bytes = coalesce(" from ".down_bytes, meter_baselines.down_bytes), "                \
	"local_up_handle = coalesce(" from ".local_up_handle, meter_baselines.local_up_handle), " \
	"local_up_bytes = coalesce(" from ".local_up_bytes, meter_baselines.local_up_bytes), "    \
	"local_down_handle = coalesce(" from ".local_down_handle, "                               \
	"meter_baselines.local_down_handle), "                                                    \
	"local_down_bytes = coalesce(" from ".local_down_bytes, meter_baselines.local_down_bytes)"
#define BASELINES_TAIL "ON CONFLICT (household_id) DO UPDATE SET " BASELINES_SET("excluded")

/* PostgreSQL's rows r from nine arrays, ?1 to ?9 (see ARRAY_ROWS). */
#define BASELINES_ARRAYS                                         \
	"(SELECT unnest(CAST(?1 AS BIGINT[])) AS household_id, " \
	"unnest(CAST(?2 AS BIGINT[])) AS up_handle, "            \
	"unnest(CAST(?3 AS BIGINT[])) AS up_bytes, "             \
	"unnest(CAST(?4 AS BIGINT[])) AS down_handle, "          \
	"unnest(CAST(?5 AS BIGINT[])) AS down_bytes, "           \
	"unnest(CAST(?6 AS BIGINT[])) AS local_up_handle, "      \
	"unnest(CAST(?7 AS BIGINT[])) AS local_up_bytes, "       \
	"unnest(CAST(?8 AS BIGINT[])) AS local_down_handle, "    \
	"unnest(CAST(?9 AS BIGINT[])) AS local_down_bytes) AS r"
#define BASELINES_SET_ARRAYS BASELINES_SET("r")
#define BASELINES_UPDATE                                                             \
	"UPDATE meter_baselines SET " BASELINES_SET_ARRAYS " FROM " BASELINES_ARRAYS \
	" WHERE meter_baselines.household_id = r.household_id"
#define BASELINES_INSERT                                                        \
	BASELINES_HEAD " SELECT * FROM " BASELINES_ARRAYS " WHERE NOT EXISTS (" \
		       "SELECT 1 FROM meter_baselines AS b WHERE b.household_id = r.household_id)"

int store_baselines_put(struct store *store, const struct store_baseline_update *updates,
			size_t n_updates)
{
	static struct store_batches batches = { .head = BASELINES_HEAD,
						.tail = BASELINES_TAIL,
						.n_columns = 9 };
	static const struct array_upsert arrays = { BASELINES_UPDATE, BASELINES_INSERT, 9 };

	for (size_t i = 1; i < n_updates; i++)
		if (updates[i - 1].household_id >= updates[i].household_id)
			return -EINVAL;
	return run_batched(store, &batches, &arrays, updates, n_updates, baseline_update_values);
}

int store_baselines_delete(struct store *store, int64_t household_id)
{
	static const char sql[] = "DELETE FROM meter_baselines WHERE household_id = ?";
	const struct store_value values[] = { STORE_INT(household_id) };

	return store_exec(store, sql, values, 1, NULL);
}

int store_baselines_forget_local(struct store *store)
{
	static const char sql[] =
		"UPDATE meter_baselines SET local_up_handle = NULL, local_up_bytes = NULL, "
		"local_down_handle = NULL, local_down_bytes = NULL "
		"WHERE local_up_handle IS NOT NULL OR local_down_handle IS NOT NULL";

	return store_exec(store, sql, NULL, 0, NULL);
}

static int usage_values(const struct store_usage_row *usage, int64_t start,
			struct store_value *values)
{
	if (usage->bytes_up > INT64_MAX || usage->bytes_down > INT64_MAX ||
	    usage->local_up > INT64_MAX || usage->local_down > INT64_MAX)
		return -EOVERFLOW;
	values[0] = STORE_INT(start);
	values[1] = STORE_INT(usage->household_id);
	values[2] = STORE_INT((int64_t)usage->bytes_up);
	values[3] = STORE_INT((int64_t)usage->bytes_down);
	values[4] = STORE_INT((int64_t)usage->local_up);
	values[5] = STORE_INT((int64_t)usage->local_down);
	return 0;
}

static int bucket_row_values(const void *rows, size_t row, struct store_value *values)
{
	const struct store_usage_row *usage = (const struct store_usage_row *)rows + row;

	return usage_values(usage, usage->start, values);
}

static int hour_row_values(const void *rows, size_t row, struct store_value *values)
{
	const struct store_usage_row *usage = (const struct store_usage_row *)rows + row;

	return usage_values(usage, usage->start - usage->start % 3600, values);
}

/* The traffic columns of usage_buckets and usage_hourly, their sums (cast:
 * PostgreSQL's sum() of bigints is numeric, SQLite's an integer), and an
 * upsert that adds to them, naming the existing row with its table (a bare
 * name is ambiguous to PostgreSQL). */
#define USAGE_COLUMNS "bytes_up, bytes_down, local_up, local_down"
#define USAGE_NONZERO                                                       \
	"NULLIF(bytes_up, 0), NULLIF(bytes_down, 0), NULLIF(local_up, 0), " \
	"NULLIF(local_down, 0)"
#define USAGE_SUMS                                                         \
	"CAST(sum(bytes_up) AS BIGINT), CAST(sum(bytes_down) AS BIGINT), " \
	"CAST(sum(local_up) AS BIGINT), CAST(sum(local_down) AS BIGINT)"
#define USAGE_SUM(table, from)                                      \
	"bytes_up = " table ".bytes_up + " from ".bytes_up, "       \
	"bytes_down = " table ".bytes_down + " from ".bytes_down, " \
	"local_up = " table ".local_up + " from ".local_up, "       \
	"local_down = " table ".local_down + " from ".local_down"
#define USAGE_ADD(table) "DO UPDATE SET " USAGE_SUM(table, "excluded")
#define BUCKETS_COLUMNS	 "bucket_start, household_id, " USAGE_COLUMNS
#define BUCKETS_HEAD	 "INSERT INTO usage_buckets (" BUCKETS_COLUMNS ")"
/* PostgreSQL's rows r from six arrays, ?1 to ?6 (see ARRAY_ROWS). */
#define BUCKETS_ARRAYS                                           \
	"(SELECT unnest(CAST(?1 AS BIGINT[])) AS bucket_start, " \
	"unnest(CAST(?2 AS BIGINT[])) AS household_id, "         \
	"unnest(CAST(?3 AS BIGINT[])) AS bytes_up, "             \
	"unnest(CAST(?4 AS BIGINT[])) AS bytes_down, "           \
	"unnest(CAST(?5 AS BIGINT[])) AS local_up, "             \
	"unnest(CAST(?6 AS BIGINT[])) AS local_down) AS r"
#define BUCKETS_TAIL	   "ON CONFLICT (bucket_start, household_id) " USAGE_ADD("usage_buckets")
#define HOURLY_HEAD	   "INSERT INTO usage_hourly (hour_start, household_id, " USAGE_COLUMNS ")"
#define HOURLY_TAIL	   "ON CONFLICT (hour_start, household_id) " USAGE_ADD("usage_hourly")
#define BUCKETS_SET_ARRAYS USAGE_SUM("usage_buckets", "r")
#define BUCKETS_UPDATE                                                         \
	"UPDATE usage_buckets SET " BUCKETS_SET_ARRAYS " FROM " BUCKETS_ARRAYS \
	" WHERE usage_buckets.bucket_start = r.bucket_start "                  \
	"AND usage_buckets.household_id = r.household_id"
#define BUCKETS_INSERT                                                                    \
	BUCKETS_HEAD " SELECT * FROM " BUCKETS_ARRAYS " WHERE NOT EXISTS (SELECT 1 FROM " \
		     "usage_buckets AS b WHERE b.bucket_start = r.bucket_start "          \
		     "AND b.household_id = r.household_id)"

#define DAILY_HEAD "INSERT INTO usage_daily (household_id, day_start, " USAGE_COLUMNS ")"
#define DAILY_TAIL "ON CONFLICT (household_id, day_start) " USAGE_ADD("usage_daily")

/* Without a zone the days are unknown: the daily totals are marked, in the
 * same transaction as the usage written, to be made again by the next
 * store_zone_set(). */
static int daily_forget(struct store *store)
{
	store->daily_ready = false;
	return store_exec(store, "UPDATE meter_state SET daily_zone = NULL, daily_to = 0", NULL, 0,
			  NULL);
}

/* The start of the cooperative's local day that holds t, and of the day
 * after it. The days are worked out here, with the zone the store was
 * given, not by SQL: no backend knows the zone the daemon loaded. */
static int day_start(const struct tz_zone *zone, int64_t t, int64_t *ret_start)
{
	struct tz_time local;

	if (tz_local(zone, t, &local, NULL) < 0)
		return -ERANGE;
	return tz_mktime(zone, &(struct tz_time){ .date = local.date }, ret_start);
}

static int next_day_start(const struct tz_zone *zone, int64_t t, int64_t *ret_start)
{
	struct tz_time local;

	if (tz_local(zone, t, &local, NULL) < 0)
		return -ERANGE;
	return tz_mktime(zone,
			 &(struct tz_time){ .date = date_from_days(date_to_days(&local.date) + 1) },
			 ret_start);
}

/* Adds one bucket's usage to the totals of the day its hour starts in, if
 * they are made that far (with a zone set). */
static int daily_add(struct store *store, const struct store_usage_row *row)
{
	/* ?1 the day, ?2 the household, ?3 to ?6 the bytes, ?7 the hour. */
	static const char sql[] =
		DAILY_HEAD " SELECT ?2, ?1, ?3, ?4, ?5, ?6 "
			   "WHERE ?7 < (SELECT daily_to FROM meter_state) " DAILY_TAIL;
	int64_t hour = row->start - row->start % 3600, day;
	struct store_value values[7];
	int r;

	if (day_start(store->zone, hour, &day) < 0)
		return -ERANGE;
	r = usage_values(row, day, values);
	if (r < 0)
		return r;
	values[6] = STORE_INT(hour);
	return store_exec(store, sql, values, 7, NULL);
}

int store_usage_row_compare(const void *a, const void *b)
{
	const struct store_usage_row *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->household_id < y->household_id ? -1 : x->household_id > y->household_id;
}

static bool rows_in_key_order(const struct store_usage_row *rows, size_t n_rows)
{
	for (size_t i = 1; i < n_rows; i++)
		if (store_usage_row_compare(&rows[i - 1], &rows[i]) >= 0)
			return false;
	return true;
}

/* Adds row's bytes to sum's: -EOVERFLOW past 64 bits. */
static int row_add(struct store_usage_row *sum, const struct store_usage_row *row)
{
	if (__builtin_add_overflow(sum->bytes_up, row->bytes_up, &sum->bytes_up) ||
	    __builtin_add_overflow(sum->bytes_down, row->bytes_down, &sum->bytes_down) ||
	    __builtin_add_overflow(sum->local_up, row->local_up, &sum->local_up) ||
	    __builtin_add_overflow(sum->local_down, row->local_down, &sum->local_down))
		return -EOVERFLOW;
	return 0;
}

/* For PostgreSQL's UPDATE, which adds at most one row to each bucket: NULL
 * when the rows are in key order, each bucket and household once (the
 * meter's); else a sorted copy, the rows of a bucket and household added
 * into one (an import may hold one twice, whose bytes SQLite's upserts
 * add). */
static int rows_merged(const struct store_usage_row *rows, size_t n_rows,
		       struct store_usage_row **ret_merged, size_t *ret_n_merged)
{
	struct store_usage_row *merged;
	size_t n = 0;
	int r = 0;

	*ret_merged = NULL;
	if (rows_in_key_order(rows, n_rows))
		return 0;
	merged = malloc(n_rows * sizeof(*merged));
	if (!merged)
		return -ENOMEM;
	memcpy(merged, rows, n_rows * sizeof(*merged));
	qsort(merged, n_rows, sizeof(*merged), store_usage_row_compare);
	for (size_t i = 0; r == 0 && i < n_rows; i++) {
		if (n > 0 && store_usage_row_compare(&merged[n - 1], &merged[i]) == 0)
			r = row_add(&merged[n - 1], &merged[i]);
		else
			merged[n++] = merged[i];
	}
	if (r < 0) {
		free(merged);
		return r;
	}
	*ret_merged = merged;
	*ret_n_merged = n;
	return 0;
}

int store_usage_add_rows(struct store *store, int64_t watermark, const struct store_usage_row *rows,
			 size_t n_rows)
{
	static struct store_batches batches = { .head = BUCKETS_HEAD,
						.tail = BUCKETS_TAIL,
						.n_columns = 6 };
	static struct store_batch hourly = { HOURLY_HEAD, HOURLY_TAIL, 6, 1, "" };
	static const struct array_upsert arrays = { BUCKETS_UPDATE, BUCKETS_INSERT, 6 };
	struct store_usage_row *merged = NULL;
	size_t n_merged = n_rows;
	bool rolled_up = false;
	int r = 0;

	if (store->pg)
		r = rows_merged(rows, n_rows, &merged, &n_merged);
	if (r == 0)
		r = run_batched(store, &batches, &arrays, merged ? merged : rows, n_merged,
				bucket_row_values);
	free(merged);
	/* Buckets before the watermark (a clock stepped back, an import) are in
	 * the hourly and daily totals already: add to those too. */
	for (size_t i = 0; r == 0 && i < n_rows; i++)
		if (rows[i].start < watermark) {
			rolled_up = true;
			r = store_batch_exec(store, &hourly, rows, i, hour_row_values);
			if (r == 0 && store->zone)
				r = daily_add(store, &rows[i]);
		}
	if (r == 0 && rolled_up && !store->zone)
		r = daily_forget(store);
	return r;
}

int store_gap_insert(struct store *store, const struct store_gap *gap, bool logged)
{
	static const char sql[] =
		"INSERT INTO meter_gaps (household_id, direction, reason, since, "
		"at, bytes_before, bytes_after, scope) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
		"RETURNING id";
	const struct store_value values[] = {
		STORE_INT(gap->household_id),
		STORE_TEXT(store_direction_name(gap->direction)),
		STORE_TEXT(gap->reason),
		STORE_ID(gap->since),
		STORE_INT(gap->at),
		STORE_INT((int64_t)gap->bytes_before),
		STORE_INT((int64_t)gap->bytes_after),
		STORE_TEXT(store_scope_name(gap->scope)),
	};
	int64_t id;
	int r;

	if (gap->bytes_before > INT64_MAX || gap->bytes_after > INT64_MAX)
		return -EOVERFLOW;
	r = store_exec(store, sql, values, sizeof(values) / sizeof(values[0]), &id);
	if (r < 0 || logged)
		return r;
	return store_exec(store, "INSERT INTO meter_gaps_unlogged (gap_id) VALUES (?1)",
			  &STORE_INT(id), 1, NULL);
}

static int gap_decode(struct store_stmt *stmt, struct store_rows *rows)
{
	const char *reason = store_column_text(stmt, 2);
	struct store_gap *gap = store_rows_add(rows);

	if (!gap)
		return -ENOMEM;
	*gap = (struct store_gap){
		.household_id = store_column_int64(stmt, 0),
		.direction = direction_from_text(store_column_text(stmt, 1)),
		.since = store_column_int64(stmt, 3),
		.at = store_column_int64(stmt, 4),
		.bytes_before = (uint64_t)store_column_int64(stmt, 5),
		.bytes_after = (uint64_t)store_column_int64(stmt, 6),
		.scope = scope_from_text(store_column_text(stmt, 7)),
	};
	snprintf(gap->reason, sizeof(gap->reason), "%s", reason ? reason : "");
	return 0;
}

/* The columns gap_decode() reads, from meter_gaps. */
#define GAP_COLUMNS                                                        \
	"SELECT household_id, direction, reason, coalesce(since, 0), at, " \
	"bytes_before, bytes_after, scope FROM meter_gaps "

static int gaps_collect(struct store *store, const char *sql, const struct store_value *params,
			size_t n_params, struct store_gap **ret_gaps, size_t *ret_n_gaps)
{
	struct store_rows rows = { .item_size = sizeof(struct store_gap) };
	int r;

	r = store_collect(store, sql, params, n_params, gap_decode, &rows);
	if (r < 0)
		return r;
	*ret_gaps = rows.items;
	*ret_n_gaps = rows.n;
	return 0;
}

int store_gaps_list(struct store *store, int64_t household_id, int64_t from, int64_t to,
		    struct store_gap **ret_gaps, size_t *ret_n_gaps)
{
	static const char sql[] = GAP_COLUMNS
		"WHERE (CAST(?1 AS BIGINT) = 0 OR household_id = ?1) AND at >= ?2 AND at < ?3 "
		"ORDER BY at, id";
	const struct store_value params[] = { STORE_INT(household_id), STORE_INT(from),
					      STORE_INT(to) };

	return gaps_collect(store, sql, params, 3, ret_gaps, ret_n_gaps);
}

int store_gaps_unlogged(struct store *store, struct store_gap **ret_gaps, size_t *ret_n_gaps)
{
	static const char sql[] =
		GAP_COLUMNS "WHERE id IN (SELECT gap_id FROM meter_gaps_unlogged) ORDER BY id";

	return gaps_collect(store, sql, NULL, 0, ret_gaps, ret_n_gaps);
}

int store_gaps_unlogged_clear(struct store *store)
{
	return store_exec(store, "DELETE FROM meter_gaps_unlogged", NULL, 0, NULL);
}

static int usage_row_decode(struct store_stmt *stmt, struct store_rows *rows)
{
	struct store_usage_row *row = store_rows_add(rows);
	int64_t columns[6];

	if (!row)
		return -ENOMEM;
	store_columns_int64(stmt, 6, columns);
	*row = (struct store_usage_row){
		.start = columns[0],
		.household_id = columns[1],
		.bytes_up = (uint64_t)columns[2],
		.bytes_down = (uint64_t)columns[3],
		.local_up = (uint64_t)columns[4],
		.local_down = (uint64_t)columns[5],
	};
	return 0;
}

/* Collects (start, household, up, down, local up, local down) rows. */
static int usage_query(struct store *store, const char *sql, const struct store_value *params,
		       size_t n_params, struct store_usage_row **ret_rows, size_t *ret_n_rows)
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

/* The later of ?2 and the watermark, and the earlier of ?3 and the
 * watermark: CASE, as two-argument max() and min() are SQLite's only. */
#define FROM_OR_WATERMARK \
	"(SELECT CASE WHEN ?2 > rolled_up_to THEN ?2 ELSE rolled_up_to END FROM meter_state)"
#define TO_OR_WATERMARK \
	"(SELECT CASE WHEN ?3 < rolled_up_to THEN ?3 ELSE rolled_up_to END FROM meter_state)"

/* A household's buckets not rolled up yet, by the hour. */
#define BUCKET_HOURS_SQL                                                           \
	"SELECT bucket_start - bucket_start % 3600, household_id, " USAGE_SUMS " " \
	"FROM usage_buckets "                                                      \
	"WHERE household_id = ?1 "                                                 \
	"AND bucket_start >= " FROM_OR_WATERMARK " "                               \
	"AND bucket_start < ?3 "                                                   \
	"GROUP BY 1, 2 ORDER BY 1"

int store_usage_rows(struct store *store, int64_t household_id, int64_t from, int64_t to,
		     enum store_usage_grain grain, struct store_usage_row **ret_rows,
		     size_t *ret_n_rows)
{
	static const char fine_sql[] =
		"SELECT bucket_start, household_id, " USAGE_COLUMNS " FROM usage_buckets "
		"WHERE household_id = ?1 AND bucket_start >= ?2 AND bucket_start < ?3 "
		"ORDER BY bucket_start";
	/* Hours before the watermark come from the roll-up, later ones from the
	 * buckets not rolled up yet. The watermark bounds each index range
	 * itself, so that a month rolled up long ago reads none of its
	 * buckets. */
	static const char hourly_sql[] =
		"SELECT hour_start, household_id, " USAGE_COLUMNS " FROM usage_hourly "
		"WHERE household_id = ?1 AND hour_start >= ?2 "
		"AND hour_start < " TO_OR_WATERMARK " "
		"UNION ALL " BUCKET_HOURS_SQL;
	/* Days before the watermark from the daily totals (the day that holds
	 * it, the hours up to it), the rest from the buckets by hour. */
	static const char daily_sql[] =
		"SELECT day_start, household_id, " USAGE_COLUMNS " FROM usage_daily "
		"WHERE household_id = ?1 AND day_start >= ?2 AND day_start < ?3 "
		"UNION ALL " BUCKET_HOURS_SQL;
	const struct store_value params[] = { STORE_INT(household_id), STORE_INT(from),
					      STORE_INT(to) };
	const char *sql = grain == STORE_USAGE_BUCKETS			    ? fine_sql
			  : grain == STORE_USAGE_DAYS && store->daily_ready ? daily_sql
									    : hourly_sql;

	return usage_query(store, sql, params, 3, ret_rows, ret_n_rows);
}

int store_usage_slices(struct store *store, bool hourly, int64_t from, int64_t to,
		       struct store_usage_row **ret_rows, size_t *ret_n_rows)
{
	/* A zero is read as NULL (store_column_int64() reads that as 0), which
	 * PostgreSQL sends as a length alone instead of encoding a value: a
	 * household's local traffic is mostly none, and these are millions of
	 * rows a month. */
	static const char hourly_sql[] =
		"SELECT hour_start, household_id, " USAGE_NONZERO " FROM usage_hourly "
		"WHERE hour_start >= ?1 AND hour_start < ?2 ORDER BY hour_start, household_id";
	static const char buckets_sql[] =
		"SELECT bucket_start, household_id, " USAGE_NONZERO " FROM usage_buckets "
		"WHERE bucket_start >= ?1 AND bucket_start < ?2 ORDER BY bucket_start, "
		"household_id";
	const struct store_value params[] = { STORE_INT(from), STORE_INT(to) };

	return usage_query(store, hourly ? hourly_sql : buckets_sql, params, 2, ret_rows,
			   ret_n_rows);
}

int store_usage_totals(struct store *store, int64_t from, int64_t to,
		       struct store_usage_row **ret_rows, size_t *ret_n_rows)
{
	static const char sql[] =
		"SELECT CAST(?1 AS BIGINT), household_id, " USAGE_SUMS " FROM ("
		"SELECT household_id, " USAGE_COLUMNS " FROM usage_hourly "
		"WHERE hour_start >= ?1 AND hour_start < ?2 "
		"AND hour_start < (SELECT rolled_up_to FROM meter_state) "
		"UNION ALL "
		"SELECT household_id, " USAGE_COLUMNS " FROM usage_buckets "
		"WHERE bucket_start >= ?1 AND bucket_start < ?2 "
		"AND bucket_start >= (SELECT rolled_up_to FROM meter_state)) AS u "
		"GROUP BY household_id ORDER BY household_id";
	const struct store_value params[] = { STORE_INT(from), STORE_INT(to) };

	return usage_query(store, sql, params, 2, ret_rows, ret_n_rows);
}

int store_usage_hour_total(struct store *store, int64_t hour, struct store_usage_row *ret_total)
{
	static const char sql[] =
		"SELECT CAST(?1 AS BIGINT), 0, CAST(coalesce(sum(bytes_up), 0) AS BIGINT), "
		"CAST(coalesce(sum(bytes_down), 0) AS BIGINT), "
		"CAST(coalesce(sum(local_up), 0) AS BIGINT), "
		"CAST(coalesce(sum(local_down), 0) AS BIGINT) FROM ("
		"SELECT " USAGE_COLUMNS " FROM usage_hourly WHERE hour_start = ?1 "
		"AND hour_start < (SELECT rolled_up_to FROM meter_state) "
		"UNION ALL "
		"SELECT " USAGE_COLUMNS " FROM usage_buckets "
		"WHERE bucket_start >= ?1 AND bucket_start < ?1 + 3600 "
		"AND bucket_start >= (SELECT rolled_up_to FROM meter_state)) AS u";
	const struct store_value params[] = { STORE_INT(hour) };
	struct store_usage_row *rows;
	size_t n;
	int r;

	r = usage_query(store, sql, params, 1, &rows, &n);
	if (r < 0)
		return r;
	*ret_total = rows[0];
	free(rows);
	return 0;
}

int store_usage_pruned_to(struct store *store, int64_t *ret_pruned_to)
{
	static const char sql[] = "SELECT pruned_to FROM meter_state";

	return store_query_int64(store, sql, NULL, 0, ret_pruned_to);
}

int store_usage_watermark(struct store *store, int64_t *ret_watermark)
{
	static const char sql[] = "SELECT rolled_up_to FROM meter_state";

	return store_query_int64(store, sql, NULL, 0, ret_watermark);
}

/* Adds the buckets of [from, to) (whole hours) to the daily totals made so
 * far, a local day at a time: each bucket to the day its hour starts in. */
static int daily_rollup(struct store *store, int64_t from, int64_t to)
{
	static const char next_sql[] = "SELECT coalesce(min(bucket_start), -1) FROM usage_buckets "
				       "WHERE bucket_start >= ?1 AND bucket_start < ?2";
	static const char day_sql[] = DAILY_HEAD
		" SELECT household_id, ?3, " USAGE_SUMS " FROM usage_buckets "
		"WHERE bucket_start >= ?1 AND bucket_start < ?2 "
		"AND bucket_start - bucket_start % 3600 < (SELECT daily_to FROM meter_state) "
		"GROUP BY household_id " DAILY_TAIL;
	int64_t next = 0, day, end;
	int r = 0;

	/* From the first bucket on, a day at a time: days without buckets are
	 * skipped (the first roll-up is from 0). */
	while (r == 0 && from < to) {
		const struct store_value range[] = { STORE_INT(from), STORE_INT(to) };

		r = store_query_int64(store, next_sql, range, 2, &next);
		if (r < 0 || next < 0)
			break;
		if (day_start(store->zone, next - next % 3600, &day) < 0 ||
		    next_day_start(store->zone, day, &end) < 0)
			return -ERANGE;
		/* The buckets whose hours start in that day: up to the first
		 * whole hour at or after its end (a day may start on the half
		 * hour). */
		end = end % 3600 == 0 ? end : end - end % 3600 + 3600;
		if (end > to)
			end = to;
		const struct store_value values[] = { STORE_INT(from), STORE_INT(end),
						      STORE_INT(day) };

		r = store_exec(store, day_sql, values, 3, NULL);
		from = end;
	}
	return r;
}

int store_usage_rollup(struct store *store, int64_t up_to)
{
	static const char rollup_sql[] =
		HOURLY_HEAD " SELECT bucket_start - bucket_start % 3600, household_id, " USAGE_SUMS
			    " FROM usage_buckets WHERE bucket_start >= ?1 AND bucket_start < ?2 "
			    "GROUP BY 1, 2 " HOURLY_TAIL;
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
	const struct store_value values[] = { STORE_INT(watermark), STORE_INT(up_to) };

	r = store_exec(store, rollup_sql, values, 2, NULL);
	if (r == 0)
		r = store->zone ? daily_rollup(store, watermark, up_to) : daily_forget(store);
	if (r == 0)
		r = store_exec(store, watermark_sql, values, 2, NULL);
	return store_atomic_leave(store, own_transaction, r);
}

/* The zone the daily totals are in, into a buffer of TZ_NAME_MAX + 24, and
 * how far they are made. */
struct daily_state {
	char zone[TZ_NAME_MAX + 24];
	int64_t to;
};

static int daily_state_decode(struct store_stmt *stmt, void *data)
{
	struct daily_state *state = data;

	snprintf(state->zone, sizeof(state->zone), "%s", store_column_text(stmt, 0));
	state->to = store_column_int64(stmt, 1);
	return 0;
}

static int daily_state_get(struct store *store, struct daily_state *ret_state)
{
	static const char sql[] = "SELECT coalesce(daily_zone, ''), daily_to FROM meter_state";

	return store_query_one(store, sql, NULL, 0, daily_state_decode, ret_state);
}

int store_zone_set(struct store *store, const struct tz_zone *zone, const char *name)
{
	static const char mark_sql[] = "UPDATE meter_state SET daily_zone = ?1, daily_to = 0";
	char key[TZ_NAME_MAX + 24];
	struct daily_state state;
	bool own_transaction;
	int r;

	store->daily_ready = false;
	store->zone = zone;
	if (!zone)
		return daily_forget(store);
	snprintf(key, sizeof(key), "%s %016" PRIx64, name, tz_zone_id(zone));
	r = daily_state_get(store, &state);
	if (r < 0)
		return r;
	if (strcmp(state.zone, key) == 0) {
		store->daily_ready = state.to == INT64_MAX;
		return store->daily_ready ? 0 : 1;
	}
	r = store_atomic_enter(store, &own_transaction);
	if (r < 0)
		return r;
	r = store_exec(store, "DELETE FROM usage_daily", NULL, 0, NULL);
	if (r == 0)
		r = store_exec(store, mark_sql,
			       &(struct store_value){ .kind = STORE_TEXT, .text = key }, 1, NULL);
	r = store_atomic_leave(store, own_transaction, r);
	return r < 0 ? r : 1;
}

/* Makes the daily totals of the day from `from` (a day start) and moves
 * daily_to to the next day that has hourly totals (all of them: INT64_MAX). */
static int daily_make_day(struct store *store, int64_t from, int64_t *ret_to)
{
	static const char day_sql[] = DAILY_HEAD " SELECT household_id, ?1, " USAGE_SUMS " "
						 "FROM usage_hourly WHERE hour_start >= ?1 "
						 "AND hour_start < ?2 GROUP BY household_id";
	static const char next_sql[] =
		"SELECT coalesce(min(hour_start), -1) FROM usage_hourly WHERE hour_start >= ?1";
	static const char to_sql[] = "UPDATE meter_state SET daily_to = ?1";
	int64_t end, next;
	int r;

	if (next_day_start(store->zone, from, &end) < 0)
		return -ERANGE;
	const struct store_value values[] = { STORE_INT(from), STORE_INT(end) };

	r = store_exec(store, day_sql, values, 2, NULL);
	if (r == 0)
		r = store_query_int64(store, next_sql, &values[1], 1, &next);
	if (r < 0)
		return r;
	if (next < 0)
		*ret_to = INT64_MAX;
	else if (day_start(store->zone, next, ret_to) < 0)
		return -ERANGE;
	return store_exec(store, to_sql, &STORE_INT(*ret_to), 1, NULL);
}

int store_zone_build(struct store *store, uint64_t deadline_ns)
{
	static const char first_sql[] = "SELECT coalesce(min(hour_start), -1) FROM usage_hourly";
	static const char all_sql[] = "UPDATE meter_state SET daily_to = 9223372036854775807";
	struct daily_state state;
	bool own_transaction;
	int64_t first;
	int r;

	if (!store->zone)
		return -EINVAL;
	if (store->daily_ready)
		return 0;
	r = store_atomic_enter(store, &own_transaction);
	if (r < 0)
		return r;
	r = daily_state_get(store, &state);
	/* From the first day with hourly totals; with none, whole at once. */
	if (r == 0 && state.to == 0) {
		r = store_query_int64(store, first_sql, NULL, 0, &first);
		if (r == 0 && first < 0) {
			state.to = INT64_MAX;
			r = store_exec(store, all_sql, NULL, 0, NULL);
		} else if (r == 0 && day_start(store->zone, first, &state.to) < 0) {
			r = -ERANGE;
		}
	}
	/* A day at least, then until the deadline. */
	do {
		if (r == 0 && state.to != INT64_MAX)
			r = daily_make_day(store, state.to, &state.to);
	} while (r == 0 && state.to != INT64_MAX && uv_hrtime() < deadline_ns);
	r = store_atomic_leave(store, own_transaction, r);
	if (r < 0)
		return r;
	store->daily_ready = state.to == INT64_MAX;
	return store->daily_ready ? 0 : 1;
}

/* The hour after the last bucket that pruning before ?1 deletes (never
 * after the watermark, which is never negative): that bucket's hour is
 * incomplete too, so round up. */
#define PRUNED_HOUR                                                                   \
	"(CASE WHEN ?1 < rolled_up_to THEN CASE WHEN ?1 > 0 THEN ?1 ELSE 0 END ELSE " \
	"rolled_up_to END + 3599) / 3600 * 3600"

int store_usage_prune(struct store *store, int64_t before)
{
	static const char delete_sql[] =
		"DELETE FROM usage_buckets WHERE bucket_start < ?1 "
		"AND bucket_start < (SELECT rolled_up_to FROM meter_state)";
	/* pruned_to only grows. CASE, as two-argument max() and min() are
	 * SQLite's only. */
	static const char mark_sql[] =
		"UPDATE meter_state SET pruned_to = CASE WHEN pruned_to > " PRUNED_HOUR
		" THEN pruned_to ELSE " PRUNED_HOUR " END";
	const struct store_value values[] = { STORE_INT(before) };
	bool own_transaction;
	int r;

	r = store_atomic_enter(store, &own_transaction);
	if (r < 0)
		return r;
	r = store_exec(store, delete_sql, values, 1, NULL);
	if (r == 0)
		r = store_exec(store, mark_sql, values, 1, NULL);
	return store_atomic_leave(store, own_transaction, r);
}

/* A household's invoice, its usage read from the document here (the
 * backends' JSON functions differ): a count it lacks is 0. */
static int invoiced_decode(struct store_stmt *stmt, struct store_rows *rows)
{
	const char *document = store_column_text(stmt, 1);
	struct store_usage_row *row;
	json_t *invoice, *usage;

	invoice = document ? json_loadb(document, store_column_bytes(stmt, 1), 0, NULL) : NULL;
	if (!invoice)
		return -EIO;
	row = store_rows_add(rows);
	if (!row) {
		json_decref(invoice);
		return -ENOMEM;
	}
	usage = json_object_get(invoice, "usage");
	*row = (struct store_usage_row){
		.household_id = store_column_int64(stmt, 0),
		.bytes_up = (uint64_t)json_integer_value(json_object_get(usage, "bytes_up")),
		.bytes_down = (uint64_t)json_integer_value(json_object_get(usage, "bytes_down")),
		.local_up = (uint64_t)json_integer_value(json_object_get(usage, "local_up")),
		.local_down = (uint64_t)json_integer_value(json_object_get(usage, "local_down")),
	};
	json_decref(invoice);
	return 0;
}

int store_usage_invoiced(struct store *store, const char *period, struct store_usage_row **ret_rows,
			 size_t *ret_n_rows)
{
	static const char sql[] = "SELECT household_id, document FROM invoices WHERE period = ?1 "
				  "ORDER BY household_id";
	const struct store_value params[] = { STORE_TEXT(period) };
	struct store_rows rows = { .item_size = sizeof(struct store_usage_row) };
	int r;

	r = store_collect(store, sql, params, 1, invoiced_decode, &rows);
	if (r < 0)
		return r;
	*ret_rows = rows.items;
	*ret_n_rows = rows.n;
	return 0;
}
