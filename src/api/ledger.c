/* The households' ledger and the cooperative's expenses: the treasurer
 * records payments (each gets a receipt number), adjustments and reversals,
 * and expenses; every entry is logged, and nothing is ever changed or
 * deleted. A household's ledger shows each entry with the running balance. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api-internal.h"
#include "coopbill/config.h"
#include "coopbill/ledger.h"
#include "coopbill/store.h"
#include "coopbill/tariff.h"

#define MAX_METHOD_BYTES    50
#define MAX_REFERENCE_BYTES 200
#define MAX_REASON_BYTES    500

static const char payment_shape[] =
	"{\"household_id\": 7, \"amount_minor\": 1500, \"method\": \"cash\", "
	"\"reference\": \"optional\", \"received_on\": \"YYYY-MM-DD\"}";
static const char adjustment_shape[] =
	"{\"household_id\": 7, \"amount_minor\": -250, \"reason\": \"...\"} or "
	"{\"reverses\": 12, \"reason\": \"...\"}";
static const char expense_shape[] =
	"{\"period\": \"YYYY-MM\", \"category\": \"transit\", \"amount_minor\": 12000, "
	"\"description\": \"...\", \"document_ref\": \"optional\"}";

static const char *const ledger_columns[] = {
	"id",	      "household_id", "kind",	   "amount_minor", "balance_minor",
	"invoice_id", "method",	      "reference", "received_on",  "reason",
	"reverses",   "created_at",   "log_index",
};

/* Writes the entry and its log entry in one transaction; *ret_id is its id. */
static int ledger_record(struct api *api, struct store_ledger_entry *entry, const char *fields,
			 int64_t *ret_id)
{
	int r;

	r = store_begin(api->ledger.store);
	if (r < 0)
		return r;
	r = ledger_tlog_log(api->ledger.tlog, entry->kind, entry->household_id, fields,
			    &entry->log_index);
	if (r == 0)
		r = store_ledger_insert(api->ledger.store, entry, ret_id);
	if (r == 0)
		return store_commit(api->ledger.store);
	store_rollback(api->ledger.store);
	return r;
}

static void reply_entry(struct api *api, struct http_request *request, int64_t id,
			const char *receipt)
{
	char location[64];
	json_t *row;
	int r;

	r = store_ledger_get(api->ledger.store, id, &row);
	if (r < 0) {
		api_reply_store_error(request, r, "reading the ledger entry");
		return;
	}
	if (receipt)
		json_object_set_new(row, "receipt", json_string(receipt));
	snprintf(location, sizeof(location), "/api/v1/households/%" JSON_INTEGER_FORMAT "/ledger",
		 json_integer_value(json_object_get(row, "household_id")));
	http_reply_json(request, 201, row);
	http_reply_header(request, "Location", location);
}

void api_payments_create(struct api *api, struct http_request *request, const struct api_call *call)
{
	const char *method = NULL, *reference = NULL, *received_on = NULL;
	struct store_ledger_entry entry = { .kind = "payment", .actor = call->actor };
	char fields[256], receipt[32], today_text[DATE_TEXT_MAX];
	json_int_t household_id = 0, amount = 0;
	struct date received, today;
	json_t *body;
	int64_t id;
	int r;
	const struct http_json_field keys[] = {
		{ "household_id", HTTP_JSON_INTEGER, false, &household_id },
		{ "amount_minor", HTTP_JSON_INTEGER, false, &amount },
		{ "method", HTTP_JSON_STRING, false, &method },
		{ "reference", HTTP_JSON_STRING, true, &reference },
		{ "received_on", HTTP_JSON_STRING, false, &received_on },
	};

	if (http_request_json(request, &body) < 0)
		return;
	if (!api_body_unpack(request, body, "invalid-payment", payment_shape, keys,
			     sizeof(keys) / sizeof(keys[0])))
		goto out;
	ledger_today(&api->ledger, &today);
	date_format(&today, today_text);
	if (amount <= 0 || amount > TARIFF_MINOR_MAX) {
		http_reply_problem(request, 400, "invalid-payment",
				   "amount_minor must be a whole number of minor units from 1 to "
				   "%" PRId64 " (a refund is an adjustment)",
				   TARIFF_MINOR_MAX);
		goto out;
	}
	if (date_parse(received_on, &received) < 0 || date_compare(&received, &today) > 0) {
		http_reply_problem(request, 400, "invalid-payment",
				   "received_on must be a date YYYY-MM-DD, not after today (%s)",
				   today_text);
		goto out;
	}
	if (!api_text_valid(request, "invalid-payment", "method", method, MAX_METHOD_BYTES) ||
	    (reference && !api_text_valid(request, "invalid-payment", "reference", reference,
					  MAX_REFERENCE_BYTES)))
		goto out;
	if (api_household_require(api, request, household_id) < 0)
		goto out;
	entry.household_id = household_id;
	entry.amount_minor = -amount;
	entry.method = method;
	entry.reference = reference;
	entry.received_on = received_on;
	snprintf(fields, sizeof(fields), "amount_minor %lld\ncurrency %s\nreceived_on %s\n",
		 (long long)amount, api->ledger.config->currency, received_on);
	r = ledger_record(api, &entry, fields, &id);
	if (r < 0) {
		api_reply_store_error(request, r, "recording the payment");
		goto out;
	}
	snprintf(receipt, sizeof(receipt), "R-%06lld", (long long)id);
	reply_entry(api, request, id, receipt);
out:
	json_decref(body);
}

/* Fills a reversal of entry `reverses` into *entry, or replies. */
static int reversal_prepare(struct api *api, struct http_request *request, json_int_t reverses,
			    struct store_ledger_entry *entry)
{
	json_t *original;
	char id[24];
	int r;

	snprintf(id, sizeof(id), "%lld", (long long)reverses);
	r = store_ledger_get(api->ledger.store, reverses, &original);
	if (r < 0)
		return api_reply_load_error(request, r, "ledger entry", id);
	if (!json_is_null(json_object_get(original, "reverses"))) {
		http_reply_problem(request, 409, "not-reversible",
				   "entry %lld is itself a reversal; record a new adjustment "
				   "instead",
				   (long long)reverses);
		json_decref(original);
		return -EINVAL;
	}
	entry->kind = "reversal";
	entry->reverses = reverses;
	entry->household_id = json_integer_value(json_object_get(original, "household_id"));
	entry->amount_minor = -json_integer_value(json_object_get(original, "amount_minor"));
	json_decref(original);
	return 0;
}

void api_adjustments_create(struct api *api, struct http_request *request,
			    const struct api_call *call)
{
	struct store_ledger_entry entry = { .kind = "adjustment", .actor = call->actor };
	json_int_t household_id = 0, amount = 0, reverses = 0;
	char *fields = NULL, reversal[48] = "";
	bool by_reversal, by_amount;
	const char *reason = NULL;
	json_t *body;
	int64_t id;
	int r;
	const struct http_json_field keys[] = {
		{ "household_id", HTTP_JSON_INTEGER, true, &household_id },
		{ "amount_minor", HTTP_JSON_INTEGER, true, &amount },
		{ "reverses", HTTP_JSON_INTEGER, true, &reverses },
		{ "reason", HTTP_JSON_STRING, false, &reason },
	};

	if (http_request_json(request, &body) < 0)
		return;
	if (!api_body_unpack(request, body, "invalid-adjustment", adjustment_shape, keys,
			     sizeof(keys) / sizeof(keys[0])))
		goto out;
	by_reversal = json_object_get(body, "reverses") != NULL;
	by_amount = json_object_get(body, "household_id") && json_object_get(body, "amount_minor");
	if (by_reversal ? json_object_size(body) != 2 : !by_amount) {
		http_reply_problem(request, 400, "invalid-adjustment",
				   "give household_id and amount_minor, or reverses; expected %s",
				   adjustment_shape);
		goto out;
	}
	if (!api_text_valid(request, "invalid-adjustment", "reason", reason, MAX_REASON_BYTES))
		goto out;
	entry.reason = reason;
	if (by_reversal) {
		if (reversal_prepare(api, request, reverses, &entry) < 0)
			goto out;
		snprintf(reversal, sizeof(reversal), "reverses %lld\n", (long long)reverses);
	} else {
		if (amount == 0 || amount > TARIFF_MINOR_MAX || amount < -TARIFF_MINOR_MAX) {
			http_reply_problem(request, 400, "invalid-adjustment",
					   "amount_minor must be a non-zero whole number of minor "
					   "units from -%" PRId64 " to %" PRId64
					   " (positive: the household owes more); expected %s",
					   TARIFF_MINOR_MAX, TARIFF_MINOR_MAX, adjustment_shape);
			goto out;
		}
		if (api_household_require(api, request, household_id) < 0)
			goto out;
		entry.household_id = household_id;
		entry.amount_minor = amount;
	}
	if (asprintf(&fields, "amount_minor %lld\ncurrency %s\n%sreason %s\n",
		     (long long)entry.amount_minor, api->ledger.config->currency, reversal,
		     reason) < 0) {
		fields = NULL;
		http_reply_problem(request, 503, "out-of-memory", "the server is short of memory");
		goto out;
	}
	r = ledger_record(api, &entry, fields, &id);
	if (r == -EEXIST) {
		http_reply_problem(request, 409, "not-reversible",
				   "entry %lld has been reversed already", (long long)reverses);
		goto out;
	}
	if (r < 0) {
		api_reply_store_error(request, r, "recording the adjustment");
		goto out;
	}
	reply_entry(api, request, id, NULL);
out:
	free(fields);
	json_decref(body);
}

void api_household_ledger(struct api *api, struct http_request *request,
			  const struct api_call *call)
{
	json_t *rows, *last;
	int64_t id;
	int r;

	if (api_path_household(api, request, call, &id) < 0)
		return;
	r = store_ledger_list(api->ledger.store, id, &rows);
	if (r < 0) {
		api_reply_store_error(request, r, "reading the ledger");
		return;
	}
	last = json_array_get(rows, json_array_size(rows) - 1);
	api_reply_rows(
		request,
		json_pack("{s:I, s:s, s:I}", "household_id", (json_int_t)id, "currency",
			  api->ledger.config->currency, "balance_minor",
			  last ? json_integer_value(json_object_get(last, "balance_minor")) : 0),
		"entries", rows, ledger_columns,
		sizeof(ledger_columns) / sizeof(ledger_columns[0]));
}

void api_payments_list(struct api *api, struct http_request *request, const struct api_call *call)
{
	json_t *rows;
	int r;

	r = store_payments_list(api->ledger.store, &rows);
	if (r < 0) {
		api_reply_store_error(request, r, "listing payments");
		return;
	}
	/* A payment lowers what is owed; the treasurer's list shows it received. */
	for (size_t i = 0; i < json_array_size(rows); i++) {
		json_t *row = json_array_get(rows, i);
		json_int_t amount = json_integer_value(json_object_get(row, "amount_minor"));
		char receipt[32];

		snprintf(receipt, sizeof(receipt), "R-%06" JSON_INTEGER_FORMAT,
			 json_integer_value(json_object_get(row, "id")));
		json_object_set_new(row, "amount_minor", json_integer(-amount));
		json_object_set_new(row, "receipt", json_string(receipt));
	}
	static const char *const columns[] = { "receipt",      "id",	     "household_id",
					       "amount_minor", "method",     "reference",
					       "received_on",  "created_at", "log_index",
					       "reversed_by" };
	api_reply_rows(request, json_pack("{s:s}", "currency", api->ledger.config->currency),
		       "payments", rows, columns, sizeof(columns) / sizeof(columns[0]));
}

static bool category_valid(const char *category)
{
	size_t len = strlen(category);

	if (len == 0 || len > TARIFF_CATEGORY_MAX)
		return false;
	for (const char *c = category; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
			return false;
	return true;
}

void api_expenses_create(struct api *api, struct http_request *request, const struct api_call *call)
{
	const char *period = NULL, *category = NULL, *description = NULL, *document_ref = NULL;
	char fields[256], location[64];
	json_t *body, *row;
	json_int_t amount = 0;
	struct period start;
	int64_t id, log_index, total;
	int r;
	const struct http_json_field keys[] = {
		{ "period", HTTP_JSON_STRING, false, &period },
		{ "category", HTTP_JSON_STRING, false, &category },
		{ "amount_minor", HTTP_JSON_INTEGER, false, &amount },
		{ "description", HTTP_JSON_STRING, false, &description },
		{ "document_ref", HTTP_JSON_STRING, true, &document_ref },
	};

	if (http_request_json(request, &body) < 0)
		return;
	if (!api_body_unpack(request, body, "invalid-expense", expense_shape, keys,
			     sizeof(keys) / sizeof(keys[0])))
		goto out;
	if (api_parse_period(request, period, &start) < 0)
		goto out;
	if (!category_valid(category)) {
		http_reply_problem(request, 400, "invalid-expense",
				   "category must be 1 to %d of a-z, 0-9 and _, as tariffs name "
				   "them in cost_sharing.categories",
				   TARIFF_CATEGORY_MAX);
		goto out;
	}
	if (amount <= 0 || amount > TARIFF_MINOR_MAX) {
		http_reply_problem(request, 400, "invalid-expense",
				   "amount_minor must be a whole number of minor units from 1 to "
				   "%" PRId64,
				   TARIFF_MINOR_MAX);
		goto out;
	}
	if (!api_text_valid(request, "invalid-expense", "description", description,
			    MAX_REASON_BYTES) ||
	    (document_ref && !api_text_valid(request, "invalid-expense", "document_ref",
					     document_ref, MAX_REFERENCE_BYTES)))
		goto out;
	if (api_period_open_require(api, request, "", period, "expense") < 0)
		goto out;
	/* A period's expenses add up within what one may be, so that no pool
	 * shared from them overflows when the period is billed. */
	r = store_expense_total(api->ledger.store, period, NULL, &total);
	if (r < 0) {
		api_reply_store_error(request, r, "reading the period's expenses");
		goto out;
	}
	if (amount > TARIFF_MINOR_MAX - total) {
		http_reply_problem(request, 400, "invalid-expense",
				   "a period's expenses add up to at most %" PRId64
				   " minor units, and %s has %" PRId64 " already",
				   TARIFF_MINOR_MAX, period, total);
		goto out;
	}
	snprintf(fields, sizeof(fields), "period %s\ncategory %s\namount_minor %lld\ncurrency %s\n",
		 period, category, (long long)amount, api->ledger.config->currency);
	r = store_begin(api->ledger.store);
	if (r == 0) {
		r = ledger_tlog_log(api->ledger.tlog, "expense", 0, fields, &log_index);
		if (r == 0)
			r = store_expense_insert(api->ledger.store, period, category, amount,
						 description, document_ref, call->actor, log_index,
						 &id);
		if (r == 0)
			r = store_commit(api->ledger.store);
		else
			store_rollback(api->ledger.store);
	}
	if (r < 0) {
		api_reply_store_error(request, r, "recording the expense");
		goto out;
	}
	r = store_expense_get(api->ledger.store, id, &row);
	if (r < 0) {
		api_reply_store_error(request, r, "reading the expense");
		goto out;
	}
	http_reply_json(request, 201, row);
	snprintf(location, sizeof(location), "/api/v1/expenses?period=%s", period);
	http_reply_header(request, "Location", location);
out:
	json_decref(body);
}

void api_expenses_list(struct api *api, struct http_request *request, const struct api_call *call)
{
	static const char *const columns[] = { "id",	       "period",      "category",
					       "amount_minor", "description", "document_ref",
					       "created_at",   "log_index" };
	const char *period = http_request_query(request, "period");
	struct period start;
	json_t *rows;
	int r;

	if (period && api_parse_period(request, period, &start) < 0)
		return;
	r = store_expenses_list(api->ledger.store, period, &rows);
	if (r < 0) {
		api_reply_store_error(request, r, "listing expenses");
		return;
	}
	api_reply_rows(request, json_pack("{s:s}", "currency", api->ledger.config->currency),
		       "expenses", rows, columns, sizeof(columns) / sizeof(columns[0]));
}
