/* Issued invoices: a household's, a period's, and one invoice with the
 * tariff it used and the proof that it is in the transparency log (as JSON,
 * or its lines as CSV). */
#include <errno.h>
#include <stdio.h>

#include "api-internal.h"
#include "coopbill/config.h"
#include "coopbill/store.h"

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
	http_reply_rows(request, body, "invoices", rows, columns,
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

	http_reply_rows(request, NULL, "lines", json_incref(json_object_get(document, "lines")),
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
