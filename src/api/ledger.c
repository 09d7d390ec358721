/* The households' ledger and the cooperative's expenses over HTTP: the
 * treasurer records payments (each gets a receipt number), adjustments and
 * reversals, and expenses, which ledger/ checks and records; a household's
 * ledger shows each entry with the running balance. */
#include <stdio.h>

#include "api-internal.h"
#include "coopbill/config.h"
#include "coopbill/ledger.h"
#include "coopbill/store.h"

static const char payment_shape[] =
	"{\"household_id\": 7, \"amount_minor\": 1500, \"method\": \"cash\", "
	"\"reference\": \"optional\", \"received_on\": \"YYYY-MM-DD\"}";
static const char expense_shape[] =
	"{\"period\": \"YYYY-MM\", \"category\": \"transit\", \"amount_minor\": 12000, "
	"\"description\": \"...\", \"document_ref\": \"optional\"}";

static const char *const ledger_columns[] = {
	"id",	      "household_id", "kind",	   "amount_minor", "balance_minor",
	"invoice_id", "method",	      "reference", "received_on",  "reason",
	"reverses",   "created_at",   "log_index",
};

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
	struct ledger_payment_request payment = { .actor = call->actor };
	json_int_t household_id = 0, amount = 0;
	struct ledger_error err;
	char receipt[32];
	json_t *body;
	int64_t id;
	const struct http_json_field keys[] = {
		{ "household_id", HTTP_JSON_INTEGER, false, &household_id },
		{ "amount_minor", HTTP_JSON_INTEGER, false, &amount },
		{ "method", HTTP_JSON_STRING, false, &payment.method },
		{ "reference", HTTP_JSON_STRING, true, &payment.reference },
		{ "received_on", HTTP_JSON_STRING, false, &payment.received_on },
	};

	if (http_request_json(request, &body) < 0)
		return;
	if (!api_body_unpack(request, body, "invalid-payment", payment_shape, keys,
			     sizeof(keys) / sizeof(keys[0])))
		goto out;
	payment.household_id = household_id;
	payment.amount_minor = amount;
	if (ledger_payment_record(&api->ledger, &payment, &id, &err) < 0) {
		api_reply_ledger_error(request, &err);
		goto out;
	}
	snprintf(receipt, sizeof(receipt), "R-%06lld", (long long)id);
	reply_entry(api, request, id, receipt);
out:
	json_decref(body);
}

void api_adjustments_create(struct api *api, struct http_request *request,
			    const struct api_call *call)
{
	json_int_t household_id = 0, amount = 0, reverses = 0;
	bool by_reversal, by_amount;
	const char *reason = NULL;
	struct ledger_error err;
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
	if (!api_body_unpack(request, body, "invalid-adjustment", LEDGER_ADJUSTMENT_SHAPE, keys,
			     sizeof(keys) / sizeof(keys[0])))
		goto out;
	by_reversal = json_object_get(body, "reverses") != NULL;
	by_amount = json_object_get(body, "household_id") && json_object_get(body, "amount_minor");
	if (by_reversal ? json_object_size(body) != 2 : !by_amount) {
		http_reply_problem(request, 400, "invalid-adjustment",
				   "give household_id and amount_minor, or reverses; expected %s",
				   LEDGER_ADJUSTMENT_SHAPE);
		goto out;
	}
	if (by_reversal)
		r = ledger_reversal_record(
			&api->ledger,
			&(struct ledger_reversal_request){ reverses, reason, call->actor }, &id,
			&err);
	else
		r = ledger_adjustment_record(&api->ledger,
					     &(struct ledger_adjustment_request){
						     household_id, amount, reason, call->actor },
					     &id, &err);
	if (r < 0)
		api_reply_ledger_error(request, &err);
	else
		reply_entry(api, request, id, NULL);
out:
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
	http_reply_rows(
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
	http_reply_rows(request, json_pack("{s:s}", "currency", api->ledger.config->currency),
			"payments", rows, columns, sizeof(columns) / sizeof(columns[0]));
}

void api_expenses_create(struct api *api, struct http_request *request, const struct api_call *call)
{
	struct ledger_expense_request expense = { .actor = call->actor };
	json_int_t amount = 0;
	struct ledger_error err;
	char location[64];
	json_t *body, *row;
	int64_t id;
	int r;
	const struct http_json_field keys[] = {
		{ "period", HTTP_JSON_STRING, false, &expense.period },
		{ "category", HTTP_JSON_STRING, false, &expense.category },
		{ "amount_minor", HTTP_JSON_INTEGER, false, &amount },
		{ "description", HTTP_JSON_STRING, false, &expense.description },
		{ "document_ref", HTTP_JSON_STRING, true, &expense.document_ref },
	};

	if (http_request_json(request, &body) < 0)
		return;
	if (!api_body_unpack(request, body, "invalid-expense", expense_shape, keys,
			     sizeof(keys) / sizeof(keys[0])))
		goto out;
	expense.amount_minor = amount;
	if (ledger_expense_record(&api->ledger, &expense, &id, &err) < 0) {
		api_reply_ledger_error(request, &err);
		goto out;
	}
	r = store_expense_get(api->ledger.store, id, &row);
	if (r < 0) {
		api_reply_store_error(request, r, "reading the expense");
		goto out;
	}
	http_reply_json(request, 201, row);
	snprintf(location, sizeof(location), "/api/v1/expenses?period=%s", expense.period);
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
	http_reply_rows(request, json_pack("{s:s}", "currency", api->ledger.config->currency),
			"expenses", rows, columns, sizeof(columns) / sizeof(columns[0]));
}
