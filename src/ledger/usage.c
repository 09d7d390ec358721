/* The treasurer's import of usage metered elsewhere (an old meter, a
 * gateway that was down): each row checked against the meter's grid, the
 * link's limits and the periods that take it, then all rows added to the
 * households' usage with their tlog entries in one transaction. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coopbill/config.h"
#include "coopbill/date.h"
#include "coopbill/ledger.h"
#include "coopbill/period.h"
#include "coopbill/store.h"

#define IMPORT_ROWS_MAX 100000
/* What a 400 Gbit/s link carries in a second: more than any cooperative's
 * gateway, so usage beyond it was never metered anywhere. Keeping every
 * bucket and hour under it keeps every sum of a period's usage far from
 * 64-bit overflow. */
#define LINK_BYTES_PER_S INT64_C(50000000000)

/* The household and period the last row was checked against: rows usually
 * come grouped, and each is looked up once per group. */
struct import_checked {
	int64_t household_id;
	char period[PERIOD_TEXT_MAX];
};

/* Refuses a pair of byte counts of row i (named as "x and y") when either is
 * more than a 400 Gbit/s link carries in a bucket. */
static int link_bound_check(size_t i, const char *pair, int64_t up, int64_t down, unsigned bucket_s,
			    struct ledger_error *err)
{
	if (up <= LINK_BYTES_PER_S * bucket_s && down <= LINK_BYTES_PER_S * bucket_s)
		return 0;
	return ledger_refuse(err, LEDGER_INVALID, "invalid-import",
			     "rows[%zu]: %s are each at most %" PRId64
			     ", what a 400 Gbit/s link carries in a %u-second bucket",
			     i, pair, LINK_BYTES_PER_S * bucket_s, bucket_s);
}

/* Checks row i: a known household, a closed bucket on the meter's grid, in
 * a period that takes imports. */
static int import_row_check(struct ledger *ledger, size_t i, const struct ledger_usage_row *row,
			    struct import_checked *checked, struct store_usage_row *ret_row,
			    struct ledger_error *err)
{
	unsigned bucket_s = ledger->config->meter_bucket_s;
	char period_text[PERIOD_TEXT_MAX], prefix[32];
	struct period period;
	int64_t start;
	int r;

	/* Ids start at 1; the row grouping takes 0 for "none yet". */
	if (row->household_id < 1)
		return ledger_refuse(err, LEDGER_INVALID, "invalid-import",
				     "rows[%zu]: household_id %" PRId64
				     " is not a household's id; ids start at 1",
				     i, row->household_id);
	/* A time before the first period (1970) is on no meter's grid. */
	if (date_time_parse(row->bucket_start, &start) < 0 || start % bucket_s != 0 ||
	    row->bytes_up < 0 || row->bytes_down < 0 || row->local_up < 0 || row->local_down < 0 ||
	    period_containing(ledger->config->zone, start, &period) < 0)
		return ledger_refuse(err, LEDGER_INVALID, "invalid-import",
				     "rows[%zu]: bucket_start must be an RFC 3339 time on a "
				     "%u-second bucket boundary ([meter] bucket_s) and the bytes "
				     "non-negative",
				     i, bucket_s);
	r = link_bound_check(i, "bytes_up and bytes_down", row->bytes_up, row->bytes_down, bucket_s,
			     err);
	if (r == 0)
		r = link_bound_check(i, "local_up and local_down", row->local_up, row->local_down,
				     bucket_s, err);
	if (r < 0)
		return r;
	if (start + bucket_s > (int64_t)time(NULL))
		return ledger_refuse(err, LEDGER_CONFLICT, "open-bucket",
				     "rows[%zu]: the bucket at %s has not ended; only closed "
				     "buckets can be imported",
				     i, row->bucket_start);
	period_format(&period, period_text);
	if (strcmp(period_text, checked->period) != 0) {
		snprintf(prefix, sizeof(prefix), "rows[%zu]: ", i);
		r = ledger_period_open_require(ledger, prefix, period_text, "imported usage", err);
		if (r < 0)
			return r;
		memcpy(checked->period, period_text, sizeof(period_text));
	}
	if (row->household_id != checked->household_id) {
		r = ledger_household_require(ledger, row->household_id, err);
		if (r < 0)
			return r;
		checked->household_id = row->household_id;
	}
	*ret_row = (struct store_usage_row){ .start = start,
					     .household_id = row->household_id,
					     .bytes_up = (uint64_t)row->bytes_up,
					     .bytes_down = (uint64_t)row->bytes_down,
					     .local_up = (uint64_t)row->local_up,
					     .local_down = (uint64_t)row->local_down };
	return 0;
}

static int row_start_compare(const void *a, const void *b)
{
	const struct store_usage_row *x = a, *y = b;

	return (x->start > y->start) - (x->start < y->start);
}

/* Refuses an import that would make the cooperative's usage of an hour, all
 * households together, more than a 400 Gbit/s link carries in it: in each
 * direction, internet and local traffic together, as both cross the
 * gateway. */
static int import_hours_check(struct ledger *ledger, const struct store_usage_row *rows, size_t n,
			      struct ledger_error *err)
{
	const uint64_t limit = (uint64_t)LINK_BYTES_PER_S * 3600;
	struct store_usage_row *by_start, stored;
	int r = 0;

	by_start = malloc(n * sizeof(*by_start));
	if (!by_start)
		return ledger_storage_error(err, -ENOMEM, "importing usage");
	memcpy(by_start, rows, n * sizeof(*by_start));
	qsort(by_start, n, sizeof(*by_start), row_start_compare);
	for (size_t i = 0; r == 0 && i < n;) {
		int64_t hour = by_start[i].start - by_start[i].start % 3600;
		uint64_t up, down;
		char when[32];
		struct tm tm;

		r = store_usage_hour_total(ledger->store, hour, &stored);
		if (r < 0) {
			r = ledger_storage_error(err, r, "reading usage");
			break;
		}
		up = stored.bytes_up;
		down = stored.bytes_down;
		if (__builtin_add_overflow(up, stored.local_up, &up) ||
		    __builtin_add_overflow(down, stored.local_down, &down))
			up = down = UINT64_MAX;
		/* Each row is below the limit: a sum past 64 bits is over it too. */
		for (; i < n && by_start[i].start - by_start[i].start % 3600 == hour; i++)
			if (__builtin_add_overflow(up, by_start[i].bytes_up, &up) ||
			    __builtin_add_overflow(down, by_start[i].bytes_down, &down) ||
			    __builtin_add_overflow(up, by_start[i].local_up, &up) ||
			    __builtin_add_overflow(down, by_start[i].local_down, &down))
				up = down = UINT64_MAX;
		if (up <= limit && down <= limit)
			continue;
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ",
			 gmtime_r(&(time_t){ hour }, &tm));
		r = ledger_refuse(err, LEDGER_INVALID, "invalid-import",
				  "the hour from %s would hold more than %" PRIu64
				  " bytes in a direction (internet and local together) over all "
				  "households, what a 400 Gbit/s link carries in an hour",
				  when, limit);
	}
	free(by_start);
	return r;
}

static int import_row_compare(const void *a, const void *b)
{
	const struct store_usage_row *x = a, *y = b;

	if (x->household_id != y->household_id)
		return x->household_id < y->household_id ? -1 : 1;
	return row_start_compare(a, b);
}

/* Records the rows (sorted by household) and adds them to the usage, in one
 * transaction. */
static int import_write(struct ledger *ledger, const struct store_usage_row *rows, size_t n,
			const char *reason, const char *actor)
{
	int64_t watermark, log_index = 0, last_household = 0;
	char fields[700];
	int r;

	r = store_usage_watermark(ledger->store, &watermark);
	if (r == 0)
		r = store_begin(ledger->store);
	if (r < 0)
		return r;
	snprintf(fields, sizeof(fields), "reason %s\n", reason);
	for (size_t i = 0; r == 0 && i < n; i++) {
		/* One tlog entry per household and import, on its first row. */
		if (rows[i].household_id != last_household) {
			r = ledger_tlog_log(ledger->tlog, "usage-imported", rows[i].household_id,
					    fields, &log_index);
			last_household = rows[i].household_id;
		}
		if (r == 0)
			r = store_usage_import(ledger->store, &rows[i], reason, actor, log_index);
	}
	if (r == 0)
		r = store_usage_add_rows(ledger->store, watermark, rows, n);
	if (r == 0)
		return store_commit(ledger->store);
	store_rollback(ledger->store);
	return r;
}

int ledger_usage_import(struct ledger *ledger, const struct ledger_usage_import_request *in,
			struct ledger_error *err)
{
	struct import_checked checked = { 0 };
	struct store_usage_row *rows;
	size_t n = in->n_rows;
	int r;

	if (n == 0 || n > IMPORT_ROWS_MAX)
		return ledger_refuse(err, LEDGER_INVALID, "invalid-import",
				     "an import has 1 to %d rows; send more in several requests",
				     IMPORT_ROWS_MAX);
	r = ledger_text_require("invalid-import", "reason", in->reason, 500, err);
	if (r < 0)
		return r;
	rows = calloc(n, sizeof(*rows));
	if (!rows)
		return ledger_storage_error(err, -ENOMEM, "importing usage");
	for (size_t i = 0; r == 0 && i < n; i++)
		r = import_row_check(ledger, i, &in->rows[i], &checked, &rows[i], err);
	if (r == 0)
		r = import_hours_check(ledger, rows, n, err);
	if (r == 0) {
		qsort(rows, n, sizeof(*rows), import_row_compare);
		r = import_write(ledger, rows, n, in->reason, in->actor);
		if (r < 0)
			r = ledger_storage_error(err, r, "importing usage");
	}
	free(rows);
	return r;
}
