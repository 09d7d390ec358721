/* Tariffs: the treasurer drafts one (a JSON document, validated strictly),
 * may read, replace or delete it while it is a draft, may propose it to the
 * members (logged; it can then only be published), and publishes it, which
 * makes it immutable, signs it with the log key and logs it. Anyone may read
 * proposed and published tariffs, their hash, signature and log index, the
 * labels of published ones, and the JSON Schema of the document. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api-internal.h"
#include "coopbill/config.h"
#include "coopbill/ledger.h"
#include "coopbill/store.h"
#include "coopbill/tariff.h"

/* Whether anyone may read the tariff: published, or proposed to the members. */
static bool is_shown(json_t *row)
{
	return strcmp(json_string_value(json_object_get(row, "status")), "draft") != 0;
}

/* Drafts are the treasurer's work in progress: others see what is
 * published. Replies 401 or 403 to anyone else. */
static bool drafts_visible(struct http_request *request, const struct api_call *call)
{
	if (call->principal.role == AUTH_ROLE_ADMIN)
		return true;
	if (call->principal.role == AUTH_ROLE_NONE)
		api_reply_unauthorized(request, "Bearer realm=\"coopbill\"",
				       "drafts are the treasurer's: send \"Authorization: Bearer "
				       "<admin token>\"");
	else
		http_reply_problem(request, 403, "forbidden",
				   "drafts are the treasurer's: only the admin token lists them");
	return false;
}

void api_tariffs_list(struct api *api, struct http_request *request, const struct api_call *call)
{
	const char *status = http_request_query(request, "status");
	json_t *rows, *row;
	size_t i;
	int r;

	if (!status)
		status = "published";
	if (strcmp(status, "published") != 0 && strcmp(status, "proposed") != 0 &&
	    strcmp(status, "draft") != 0) {
		http_reply_problem(request, 400, "invalid-status",
				   "status must be published (the default), proposed or draft");
		return;
	}
	if (strcmp(status, "draft") == 0 && !drafts_visible(request, call))
		return;
	r = store_tariffs_list(api->ledger.store, status, &rows);
	if (r < 0) {
		api_reply_store_error(request, r, "listing tariffs");
		return;
	}
	json_array_foreach(rows, i, row)
	{
		api_json_column(row, "document");
	}
	http_reply_json(request, 200, json_pack("{s:o}", "tariffs", rows));
}

/* Loads the tariff named by the path, or replies 404. */
static int tariff_load(struct api *api, struct http_request *request, const struct api_call *call,
		       json_t **ret_row)
{
	int64_t id;
	int r;

	r = api_parse_id(call->params.values[0], &id);
	if (r == 0)
		r = store_tariff_get(api->ledger.store, id, ret_row);
	return r < 0 ? api_reply_load_error(request, r, "tariff", call->params.values[0]) : 0;
}

void api_tariff_get(struct api *api, struct http_request *request, const struct api_call *call)
{
	json_t *row;

	if (tariff_load(api, request, call, &row) < 0)
		return;
	/* Only the treasurer reads a draft; to anyone else it does not exist
	 * until it is proposed to the members or published. */
	if (!is_shown(row) && call->principal.role != AUTH_ROLE_ADMIN) {
		json_decref(row);
		http_reply_problem(request, 404, "not-found",
				   "tariff %s is a draft; it is shown once proposed or published",
				   call->params.values[0]);
		return;
	}
	http_reply_json(request, 200, api_json_column(row, "document"));
}

void api_tariff_schema(struct api *api, struct http_request *request, const struct api_call *call)
{
	const char *schema = tariff_schema_json();
	char *body = strdup(schema);

	if (!body) {
		http_reply_problem(request, 503, "out-of-memory", "the server is short of memory");
		return;
	}
	http_reply_text(request, 200, "application/schema+json", body, strlen(body));
}

void api_reply_tariff(struct api *api, struct http_request *request, unsigned status, int64_t id)
{
	json_t *row;
	int r;

	r = store_tariff_get(api->ledger.store, id, &row);
	if (r < 0) {
		api_reply_store_error(request, r, "reading the tariff");
		return;
	}
	http_reply_json(request, status, api_json_column(row, "document"));
}

/* The draft request of the path's id (0: none) and the body. */
static struct ledger_tariff_draft_request draft_request(struct http_request *request, int64_t id)
{
	struct ledger_tariff_draft_request in = { .id = id };

	in.document = http_request_body(request, &in.len);
	return in;
}

void api_tariffs_create(struct api *api, struct http_request *request, const struct api_call *call)
{
	struct ledger_tariff_draft_request in = draft_request(request, 0);
	struct ledger_tariff_draft_result out;
	struct ledger_error err;
	char location[64];

	if (ledger_tariff_create(&api->ledger, &in, &out, &err) < 0) {
		api_reply_ledger_error(request, &err);
		return;
	}
	api_reply_tariff(api, request, 201, out.id);
	snprintf(location, sizeof(location), "/api/v1/tariffs/%lld", (long long)out.id);
	http_reply_header(request, "Location", location);
}

/* The draft named by the path, or a 404 reply. */
static int path_draft(struct http_request *request, const struct api_call *call, int64_t *ret_id)
{
	if (api_parse_id(call->params.values[0], ret_id) < 0)
		return api_reply_load_error(request, -EINVAL, "tariff", call->params.values[0]);
	return 0;
}

void api_tariff_replace(struct api *api, struct http_request *request, const struct api_call *call)
{
	struct ledger_tariff_draft_request in;
	struct ledger_tariff_draft_result out;
	struct ledger_error err;
	int64_t id;

	if (path_draft(request, call, &id) < 0)
		return;
	in = draft_request(request, id);
	if (ledger_tariff_replace(&api->ledger, &in, &out, &err) < 0) {
		api_reply_ledger_error(request, &err);
		return;
	}
	api_reply_tariff(api, request, 200, out.id);
}

void api_tariff_delete(struct api *api, struct http_request *request, const struct api_call *call)
{
	struct ledger_error err;
	int64_t id;

	if (path_draft(request, call, &id) < 0)
		return;
	if (ledger_tariff_delete(&api->ledger, id, &err) < 0) {
		api_reply_ledger_error(request, &err);
		return;
	}
	http_reply_empty(request, 204);
}

/* A published tariff's label: public, as the tariff is; a draft has none
 * yet. */
void api_tariff_label(struct api *api, struct http_request *request, const struct api_call *call)
{
	struct ledger_error err;
	char *document = NULL;
	json_t *reply;
	int64_t id;

	if (api_parse_id(call->params.values[0], &id) < 0) {
		api_reply_load_error(request, -EINVAL, "tariff", call->params.values[0]);
		return;
	}
	if (ledger_label_get(&api->ledger, id, &document, &err) < 0) {
		api_reply_ledger_error(request, &err);
		return;
	}
	reply = json_loads(document, 0, NULL);
	free(document);
	if (!reply) {
		http_reply_problem(request, 503, "out-of-memory", "the server is short of memory");
		return;
	}
	http_reply_json(request, 200, reply);
}

void api_tariff_consult(struct api *api, struct http_request *request, const struct api_call *call)
{
	struct ledger_error err;
	int64_t id, log_index;

	if (path_draft(request, call, &id) < 0)
		return;
	if (ledger_tariff_consult(&api->ledger, id, &log_index, &err) < 0) {
		api_reply_ledger_error(request, &err);
		return;
	}
	api_reply_tariff(api, request, 200, id);
}

/* A quote's body is a month of hourly points at most: some 750 of about
 * 150 bytes each fit in this many bytes, with room to spare. */
#define QUOTE_BODY_MAX (256 * 1024)

static const char quote_shape[] =
	"{\"period\": \"2026-11\", \"joined_at\": \"2025-03-01\", \"left_at\": \"2026-11-20\" "
	"(optional), and either \"series\": [{\"start\": \"2026-11-01T00:00:00Z\", \"bytes_up\": "
	"1000, \"bytes_down\": 5000, \"local_up\": 0, \"local_down\": 0}, ...] (an hourly point "
	"each, local_up and local_down optional) or \"totals\": {\"bytes_up\": 1000, "
	"\"bytes_down\": 5000, \"local_up\": 0, \"local_down\": 0}}";

/* Unpacks a point of usage (where names it: "series[3]", "totals"); replies
 * 400 when it does not fit. */
static int quote_point_unpack(struct http_request *request, const char *where, json_t *item,
			      bool has_start, struct ledger_quote_point *ret_point)
{
	json_int_t up = 0, down = 0, local_up = 0, local_down = 0;
	const char *start = NULL;
	char reason[256];
	const struct http_json_field fields[] = {
		{ "bytes_up", HTTP_JSON_INTEGER, false, &up },
		{ "bytes_down", HTTP_JSON_INTEGER, false, &down },
		/* As in the usage series, local traffic may be left out. */
		{ "local_up", HTTP_JSON_INTEGER, true, &local_up },
		{ "local_down", HTTP_JSON_INTEGER, true, &local_down },
		{ "start", HTTP_JSON_STRING, false, &start },
	};
	size_t n_fields = sizeof(fields) / sizeof(fields[0]) - (has_start ? 0 : 1);

	if (!json_is_object(item) ||
	    http_json_unpack(item, fields, n_fields, reason, sizeof(reason)) < 0) {
		http_reply_problem(request, 400, "invalid-quote", "%s: %s; expected %s", where,
				   json_is_object(item) ? reason : "must be an object",
				   quote_shape);
		return -EINVAL;
	}
	*ret_point = (struct ledger_quote_point){ start, up, down, local_up, local_down };
	return 0;
}

void api_tariff_quote(struct api *api, struct http_request *request, const struct api_call *call)
{
	struct ledger_quote_request in = { .drafts = call->principal.role == AUTH_ROLE_ADMIN };
	struct ledger_quote_point *points = NULL;
	json_t *body = NULL, *series = NULL, *totals = NULL, *item, *reply;
	struct ledger_error err;
	char *document = NULL, where[32];
	size_t len, i;
	const struct http_json_field fields[] = {
		{ "period", HTTP_JSON_STRING, false, &in.period },
		{ "joined_at", HTTP_JSON_STRING, false, &in.joined_at },
		{ "left_at", HTTP_JSON_STRING, true, &in.left_at },
		{ "series", HTTP_JSON_ARRAY, true, &series },
		{ "totals", HTTP_JSON_OBJECT, true, &totals },
	};

	if (path_draft(request, call, &in.tariff_id) < 0)
		return;
	(void)http_request_body(request, &len);
	if (len > QUOTE_BODY_MAX) {
		http_reply_problem(request, 413, "body-too-large",
				   "a quote's body is at most %d bytes: a month of hourly points "
				   "fits",
				   QUOTE_BODY_MAX);
		return;
	}
	if (http_request_json(request, &body) < 0)
		return;
	if (!api_body_unpack(request, body, "invalid-quote", quote_shape, fields,
			     sizeof(fields) / sizeof(fields[0])))
		goto out;
	if (series) {
		points = calloc(json_array_size(series) + 1, sizeof(*points));
		if (!points) {
			http_reply_problem(request, 503, "out-of-memory",
					   "the server is short of memory");
			goto out;
		}
		json_array_foreach(series, i, item)
		{
			snprintf(where, sizeof(where), "series[%zu]", i);
			if (quote_point_unpack(request, where, item, true, &points[i]) < 0)
				goto out;
		}
		in.points = points;
		in.n_points = json_array_size(series);
	}
	if (totals) {
		if (quote_point_unpack(request, "totals", totals, false, &in.totals) < 0)
			goto out;
		in.has_totals = true;
	}
	if (ledger_quote(&api->ledger, &in, &document, &err) < 0) {
		api_reply_ledger_error(request, &err);
		goto out;
	}
	reply = json_loads(document, 0, NULL);
	if (!reply) {
		http_reply_problem(request, 503, "out-of-memory", "the server is short of memory");
		goto out;
	}
	http_reply_json(request, 200, reply);
out:
	free(document);
	free(points);
	json_decref(body);
}
