/* A household's bills: the running estimate of the open period, its issued
 * invoices, and one invoice with the tariff it used and the proof that it is
 * in the transparency log. Also the treasurer's import of usage metered
 * elsewhere, for periods not yet closed. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api-internal.h"
#include "coopbill/config.h"
#include "coopbill/ledger.h"
#include "coopbill/store.h"
#include "coopbill/tariff.h"

/* Rows in one import request; larger histories come in several. */
#define IMPORT_ROWS_MAX 100000
/* What a 400 Gbit/s link carries in a second: more than any cooperative's
 * gateway, so usage beyond it was never metered anywhere. Keeping every
 * bucket and hour under it keeps every sum of a period's usage far from
 * 64-bit overflow. */
#define LINK_BYTES_PER_S INT64_C(50000000000)

static const char import_shape[] =
	"{\"reason\": \"...\", \"rows\": [{\"household_id\": 7, \"bucket_start\": "
	"\"2026-11-03T18:00:00Z\", \"bytes_up\": 1000, \"bytes_down\": 5000}, ...]}";

/* A list of invoices (a household's, or a period's) under body's fields. */
static void reply_invoices(struct api *api, struct http_request *request, int64_t household_id,
			   const char *period, json_t *body)
{
	static const char *const columns[] = { "id",	    "household_id", "period",
					       "tariff_id", "total_minor",  "created_at",
					       "log_index" };
	json_t *rows;
	int r;

	r = store_invoices_list(api->ledger.store, household_id, period, &rows);
	if (r < 0) {
		json_decref(body);
		api_reply_store_error(request, r, "listing invoices");
		return;
	}
	json_object_set_new(body, "currency", json_string(api->ledger.config->currency));
	api_reply_rows(request, body, "invoices", rows, columns,
		       sizeof(columns) / sizeof(columns[0]));
}

void api_household_invoices(struct api *api, struct http_request *request,
			    const struct api_call *call)
{
	int64_t id;

	if (api_path_household(api, request, call, &id) < 0)
		return;
	reply_invoices(api, request, id, NULL, json_pack("{s:I}", "household_id", (json_int_t)id));
}

void api_period_invoices(struct api *api, struct http_request *request, const struct api_call *call)
{
	const char *text = call->params.values[0];
	struct period period;

	if (api_parse_period(request, text, &period) < 0)
		return;
	reply_invoices(api, request, 0, text, json_pack("{s:s}", "period", text));
}

/* An invoice for a spreadsheet: its lines, one per row. */
static void reply_invoice_lines(struct http_request *request, json_t *row)
{
	static const char *const columns[] = { "kind",	       "description",	   "quantity",
					       "unit",	       "unit_price_minor", "unit_price_per",
					       "amount_minor", "explain" };
	json_t *document = json_loads(json_string_value(json_object_get(row, "document")), 0, NULL);

	api_reply_rows(request, NULL, "lines", json_incref(json_object_get(document, "lines")),
		       columns, sizeof(columns) / sizeof(columns[0]));
	json_decref(document);
}

void api_household_invoice(struct api *api, struct http_request *request,
			   const struct api_call *call)
{
	const char *text = call->params.values[1];
	json_t *row = NULL, *tariff = NULL, *proof = NULL, *document;
	struct period period;
	int64_t id;
	int r;

	if (api_path_household(api, request, call, &id) < 0 ||
	    api_parse_period(request, text, &period) < 0)
		return;
	r = store_invoice_get(api->ledger.store, id, text, &row);
	if (r == -ENOENT) {
		http_reply_problem(request, 404, "not-found",
				   "household %lld has no invoice for %s (is the period closed?)",
				   (long long)id, text);
		return;
	}
	if (r == 0 && http_request_wants_csv(request)) {
		reply_invoice_lines(request, row);
		goto out;
	}
	if (r == 0)
		r = store_tariff_get(api->ledger.store,
				     json_integer_value(json_object_get(row, "tariff_id")),
				     &tariff);
	if (r == 0)
		r = api_tlog_inclusion_proof(
			api, json_integer_value(json_object_get(row, "log_index")), &proof);
	if (r < 0) {
		api_reply_store_error(request, r, "reading the invoice");
		goto out;
	}
	/* The document exactly as stored: its SHA-256 is in the log entry. */
	api_json_column(tariff, "document");
	document = json_loads(json_string_value(json_object_get(row, "document")), 0, NULL);
	json_object_set_new(row, "invoice", document ? document : json_null());
	json_object_set(row, "document_text", json_object_get(row, "document"));
	json_object_del(row, "document");
	json_object_set_new(row, "tariff", tariff);
	json_object_set_new(row, "log_proof", proof);
	tariff = proof = NULL;
	http_reply_json(request, 200, row);
	row = NULL;
out:
	json_decref(row);
	json_decref(tariff);
	json_decref(proof);
}

/* The household and period the last row was checked against: rows usually
 * come grouped, and each is looked up once per group. */
struct import_checked {
	int64_t household_id;
	char period[PERIOD_TEXT_MAX];
};

/* Checks one row: a known household, a closed bucket on the meter's grid, in
 * a period that takes imports. Replies 400/404/409 naming the row. */
static int import_row_parse(struct api *api, struct http_request *request, size_t i, json_t *item,
			    struct import_checked *checked, struct store_usage_row *ret_row)
{
	unsigned bucket_s = api->ledger.config->meter_bucket_s;
	json_int_t household_id = 0, up = 0, down = 0;
	char period_text[PERIOD_TEXT_MAX], reason[256], prefix[32];
	const char *start = NULL;
	struct period period;
	int r;
	const struct http_json_field fields[] = {
		{ "household_id", HTTP_JSON_INTEGER, false, &household_id },
		{ "bucket_start", HTTP_JSON_STRING, false, &start },
		{ "bytes_up", HTTP_JSON_INTEGER, false, &up },
		{ "bytes_down", HTTP_JSON_INTEGER, false, &down },
	};

	if (http_json_unpack(item, fields, sizeof(fields) / sizeof(fields[0]), reason,
			     sizeof(reason)) < 0) {
		http_reply_problem(request, 400, "invalid-import", "rows[%zu]: %s; expected %s", i,
				   reason, import_shape);
		return -EINVAL;
	}
	/* Ids start at 1; the row grouping below takes 0 for "none yet". */
	if (household_id < 1) {
		http_reply_problem(request, 400, "invalid-import",
				   "rows[%zu]: household_id %lld is not a household's id; ids "
				   "start at 1",
				   i, (long long)household_id);
		return -EINVAL;
	}
	if (date_time_parse(start, &ret_row->start) < 0 || ret_row->start % bucket_s != 0 ||
	    up < 0 || down < 0) {
		http_reply_problem(
			request, 400, "invalid-import",
			"rows[%zu]: bucket_start must be an RFC 3339 time on a %u-second "
			"bucket boundary ([meter] bucket_s) and the bytes non-negative",
			i, bucket_s);
		return -EINVAL;
	}
	if (up > LINK_BYTES_PER_S * bucket_s || down > LINK_BYTES_PER_S * bucket_s) {
		http_reply_problem(request, 400, "invalid-import",
				   "rows[%zu]: bytes_up and bytes_down are each at most %" PRId64
				   ", what a 400 Gbit/s link carries in a %u-second bucket",
				   i, LINK_BYTES_PER_S * bucket_s, bucket_s);
		return -EINVAL;
	}
	if (ret_row->start + bucket_s > (int64_t)time(NULL)) {
		http_reply_problem(request, 409, "open-bucket",
				   "rows[%zu]: the bucket at %s has not ended; only closed buckets "
				   "can be imported",
				   i, start);
		return -EINVAL;
	}
	r = period_containing(api->ledger.config->zone, ret_row->start, &period);
	if (r < 0)
		return r;
	period_format(&period, period_text);
	if (strcmp(period_text, checked->period) != 0) {
		snprintf(prefix, sizeof(prefix), "rows[%zu]: ", i);
		r = api_period_open_require(api, request, prefix, period_text, "imported usage");
		if (r < 0)
			return r;
		memcpy(checked->period, period_text, sizeof(period_text));
	}
	if (household_id != checked->household_id) {
		r = api_household_require(api, request, household_id);
		if (r < 0)
			return r;
		checked->household_id = household_id;
	}
	*ret_row = (struct store_usage_row){ ret_row->start, household_id, (uint64_t)up,
					     (uint64_t)down };
	return 0;
}

/* Records the rows and adds them to the usage, in one transaction. */
static int import_commit(struct api *api, const struct store_usage_row *rows, size_t n,
			 const char *reason, const char *actor)
{
	int64_t watermark, log_index = 0, last_household = 0;
	char fields[700];
	int r;

	r = store_usage_watermark(api->ledger.store, &watermark);
	if (r == 0)
		r = store_begin(api->ledger.store);
	for (size_t i = 0; r == 0 && i < n; i++) {
		/* One log entry per household and request, on its first row. */
		if (rows[i].household_id != last_household) {
			snprintf(fields, sizeof(fields), "reason %s\n", reason);
			r = ledger_tlog_log(api->ledger.tlog, "usage-imported",
					    rows[i].household_id, fields, &log_index);
			last_household = rows[i].household_id;
		}
		if (r == 0)
			r = store_usage_import(api->ledger.store, &rows[i], reason, actor,
					       log_index);
	}
	if (r == 0)
		r = store_usage_add_rows(api->ledger.store, watermark, rows, n);
	if (r == 0)
		return store_commit(api->ledger.store);
	store_rollback(api->ledger.store);
	return r;
}

static int import_row_compare(const void *a, const void *b)
{
	const struct store_usage_row *x = a, *y = b;

	if (x->household_id != y->household_id)
		return x->household_id < y->household_id ? -1 : 1;
	return (x->start > y->start) - (x->start < y->start);
}

static int row_start_compare(const void *a, const void *b)
{
	const struct store_usage_row *x = a, *y = b;

	return (x->start > y->start) - (x->start < y->start);
}

/* Refuses (400) an import that would make the cooperative's usage of an hour,
 * all households together, more than a 400 Gbit/s link carries in it.
 * Replies when it fails. */
static int import_hours_check(struct api *api, struct http_request *request,
			      const struct store_usage_row *rows, size_t n)
{
	const uint64_t limit = (uint64_t)LINK_BYTES_PER_S * 3600;
	struct store_usage_row *by_start, stored;
	int r = 0;

	by_start = malloc(n * sizeof(*by_start));
	if (!by_start) {
		http_reply_problem(request, 503, "out-of-memory", "the server is short of memory");
		return -ENOMEM;
	}
	memcpy(by_start, rows, n * sizeof(*by_start));
	qsort(by_start, n, sizeof(*by_start), row_start_compare);
	for (size_t i = 0; r == 0 && i < n;) {
		int64_t hour = by_start[i].start - by_start[i].start % 3600;
		uint64_t up, down;
		char when[32];
		struct tm tm;

		r = store_usage_hour_total(api->ledger.store, hour, &stored);
		if (r < 0) {
			api_reply_store_error(request, r, "reading usage");
			break;
		}
		up = stored.bytes_up;
		down = stored.bytes_down;
		/* Each row is below the limit: a sum past 64 bits is over it too. */
		for (; i < n && by_start[i].start - by_start[i].start % 3600 == hour; i++)
			if (__builtin_add_overflow(up, by_start[i].bytes_up, &up) ||
			    __builtin_add_overflow(down, by_start[i].bytes_down, &down))
				up = down = UINT64_MAX;
		if (up <= limit && down <= limit)
			continue;
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ",
			 gmtime_r(&(time_t){ hour }, &tm));
		http_reply_problem(request, 400, "invalid-import",
				   "the hour from %s would hold more than %" PRIu64
				   " bytes in a direction over all households, what a 400 Gbit/s "
				   "link carries in an hour",
				   when, limit);
		r = -EINVAL;
	}
	free(by_start);
	return r;
}

void api_usage_import(struct api *api, struct http_request *request, const struct api_call *call)
{
	struct import_checked checked = { 0 };
	struct store_usage_row *rows = NULL;
	json_t *body, *items = NULL, *item;
	const char *reason = NULL;
	size_t i, n;
	int r;
	const struct http_json_field fields[] = {
		{ "reason", HTTP_JSON_STRING, false, &reason },
		{ "rows", HTTP_JSON_ARRAY, false, &items },
	};

	if (http_request_json(request, &body) < 0)
		return;
	if (!api_body_unpack(request, body, "invalid-import", import_shape, fields,
			     sizeof(fields) / sizeof(fields[0])))
		goto out;
	n = json_array_size(items);
	if (n == 0 || n > IMPORT_ROWS_MAX) {
		http_reply_problem(request, 400, "invalid-import",
				   "an import has 1 to %d rows; send more in several requests",
				   IMPORT_ROWS_MAX);
		goto out;
	}
	if (!api_text_valid(request, "invalid-import", "reason", reason, 500))
		goto out;
	rows = calloc(n, sizeof(*rows));
	if (!rows) {
		http_reply_problem(request, 503, "out-of-memory", "the server is short of memory");
		goto out;
	}
	json_array_foreach(items, i, item)
	{
		if (import_row_parse(api, request, i, item, &checked, &rows[i]) < 0)
			goto out;
	}
	if (import_hours_check(api, request, rows, n) < 0)
		goto out;
	qsort(rows, n, sizeof(*rows), import_row_compare);
	r = import_commit(api, rows, n, reason, call->actor);
	if (r < 0) {
		api_reply_store_error(request, r, "importing usage");
		goto out;
	}
	http_reply_json(request, 201, json_pack("{s:I}", "imported", (json_int_t)n));
out:
	free(rows);
	json_decref(body);
}
