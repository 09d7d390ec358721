/* Tariffs: the treasurer drafts one (a JSON document, validated strictly),
 * may read, replace or delete it while it is a draft, and publishes it, which
 * makes it immutable, signs it with the log key and logs it. Anyone may read
 * published tariffs, their hash, signature and log index, and the JSON Schema
 * of the document. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api-internal.h"
#include "coopbill/config.h"
#include "coopbill/ledger.h"
#include "coopbill/store.h"
#include "coopbill/tariff.h"

static bool is_published(json_t *row)
{
	return strcmp(json_string_value(json_object_get(row, "status")), "published") == 0;
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
	if (strcmp(status, "published") != 0 && strcmp(status, "draft") != 0) {
		http_reply_problem(request, 400, "invalid-status",
				   "status must be published (the default) or draft");
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
	 * yet. */
	if (!is_published(row) && call->principal.role != AUTH_ROLE_ADMIN) {
		json_decref(row);
		http_reply_problem(request, 404, "not-found",
				   "tariff %s is a draft; it is shown once published",
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

/* The tariff document of the request's body, validated as a draft: strictly,
 * and in the cooperative's currency. Replies 400 or 422 when it is not one. */
static int body_tariff(struct api *api, struct http_request *request, struct tariff **ret_tariff)
{
	struct tariff *tariff;
	const char *body;
	char err[256];
	size_t len;

	body = http_request_body(request, &len);
	if (tariff_parse(body ? body : "", len, &tariff, err, sizeof(err)) < 0) {
		http_reply_problem(request, 400, "invalid-tariff",
				   "%s; the format is in docs/tariffs.md and at "
				   "/api/v1/tariffs/schema",
				   err);
		return -EINVAL;
	}
	if (strcmp(tariff->currency, api->ledger.config->currency) != 0) {
		http_reply_problem(request, 422, "invalid-tariff",
				   "$.currency: the cooperative bills in %s ([billing] currency), "
				   "not %s",
				   api->ledger.config->currency, tariff->currency);
		tariff_free(tariff);
		return -EINVAL;
	}
	*ret_tariff = tariff;
	return 0;
}

void api_tariffs_create(struct api *api, struct http_request *request, const struct api_call *call)
{
	struct tariff *tariff;
	char sha256[65], valid_from[DATE_TEXT_MAX], location[64];
	json_t *row;
	int64_t id;
	int r;

	if (body_tariff(api, request, &tariff) < 0)
		return;
	date_format(&tariff->valid_from, valid_from);
	api_sha256_hex(tariff->canonical_json, sha256);
	r = store_tariff_insert(api->ledger.store, tariff->name, valid_from, tariff->canonical_json,
				sha256, &id);
	if (r == 0)
		r = store_tariff_get(api->ledger.store, id, &row);
	if (r < 0) {
		api_reply_store_error(request, r, "storing the tariff");
		goto out;
	}
	http_reply_json(request, 201, api_json_column(row, "document"));
	snprintf(location, sizeof(location), "/api/v1/tariffs/%lld", (long long)id);
	http_reply_header(request, "Location", location);
out:
	tariff_free(tariff);
}

/* Replies to a failed change of a draft: 409 for a published tariff, else
 * as to a failed read. */
static void reply_draft_error(struct http_request *request, int error, const char *id)
{
	if (error == -EALREADY)
		http_reply_problem(request, 409, "tariff-immutable",
				   "tariff %s is published, and a published tariff is immutable; "
				   "draft a new one with a later valid_from instead",
				   id);
	else
		api_reply_load_error(request, error, "tariff", id);
}

void api_tariff_replace(struct api *api, struct http_request *request, const struct api_call *call)
{
	const char *id_text = call->params.values[0];
	char sha256[65], valid_from[DATE_TEXT_MAX];
	struct tariff *tariff;
	json_t *row;
	int64_t id;
	int r;

	r = api_parse_id(id_text, &id);
	if (r < 0) {
		reply_draft_error(request, r, id_text);
		return;
	}
	if (body_tariff(api, request, &tariff) < 0)
		return;
	date_format(&tariff->valid_from, valid_from);
	api_sha256_hex(tariff->canonical_json, sha256);
	r = store_tariff_replace(api->ledger.store, id, tariff->name, valid_from,
				 tariff->canonical_json, sha256);
	tariff_free(tariff);
	if (r < 0) {
		reply_draft_error(request, r, id_text);
		return;
	}
	if (tariff_load(api, request, call, &row) == 0)
		http_reply_json(request, 200, api_json_column(row, "document"));
}

void api_tariff_delete(struct api *api, struct http_request *request, const struct api_call *call)
{
	const char *id_text = call->params.values[0];
	int64_t id;
	int r;

	r = api_parse_id(id_text, &id);
	if (r == 0)
		r = store_tariff_delete(api->ledger.store, id);
	if (r < 0) {
		reply_draft_error(request, r, id_text);
		return;
	}
	http_reply_empty(request, 204);
}

/* What publishing checks beyond the document itself: the notice period and
 * window edges on the meter's bucket boundaries. Replies 422 when one fails. */
static int publish_check(struct api *api, struct http_request *request, const struct tariff *tariff)
{
	unsigned bucket_min = api->ledger.config->meter_bucket_s / 60;
	struct date today, earliest;
	char text[DATE_TEXT_MAX];

	ledger_today(&api->ledger, &today);
	earliest = period_start_after_notice(&today, api->ledger.config->notice_days);
	if (!tariff->emergency_reason && date_compare(&tariff->valid_from, &earliest) < 0) {
		date_format(&earliest, text);
		http_reply_problem(
			request, 422, "notice-period",
			"members get %u days' notice ([billing] notice_days): the earliest "
			"valid_from of a tariff published today is %s, unless the tariff "
			"says \"emergency\": {\"reason\": …}",
			api->ledger.config->notice_days, text);
		return -EINVAL;
	}
	for (size_t c = 0; c < tariff->n_charges; c++) {
		const struct tariff_charge *charge = &tariff->charges[c];

		for (size_t w = 0; w < charge->n_windows; w++) {
			if (charge->windows[w].from_min % bucket_min == 0 &&
			    charge->windows[w].to_min % bucket_min == 0)
				continue;
			http_reply_problem(request, 422, "invalid-tariff",
					   "$.usage_charges[%zu].windows[%zu]: usage is metered in "
					   "%u-minute buckets ([meter] bucket_s), so window edges "
					   "must fall on multiples of %u minutes",
					   c, w, bucket_min, bucket_min);
			return -EINVAL;
		}
	}
	return 0;
}

/* Signs and logs the tariff, then marks it published: one transaction. */
static int publish(struct api *api, int64_t id, const struct tariff *tariff, const char *sha256)
{
	char *text = NULL, *signature = NULL, *fields = NULL, valid_from[DATE_TEXT_MAX];
	int64_t log_index;
	int r;

	date_format(&tariff->valid_from, valid_from);
	if (asprintf(&text, "%s\n", tariff->canonical_json) < 0 ||
	    asprintf(&fields, "tariff %lld\nsha256 %s\nvalid_from %s\n%s%s%s", (long long)id,
		     sha256, valid_from, tariff->emergency_reason ? "emergency " : "",
		     tariff->emergency_reason ? tariff->emergency_reason : "",
		     tariff->emergency_reason ? "\n" : "") < 0) {
		r = -ENOMEM;
		goto out;
	}
	r = ledger_tlog_sign(api->ledger.tlog, text, strlen(text), &signature);
	if (r < 0)
		goto out;
	r = store_begin(api->ledger.store);
	if (r < 0)
		goto out;
	r = ledger_tlog_log(api->ledger.tlog, "tariff-published", 0, fields, &log_index);
	if (r == 0)
		r = store_tariff_publish(api->ledger.store, id, signature, log_index);
	if (r == 0)
		r = store_commit(api->ledger.store);
	else
		store_rollback(api->ledger.store);
out:
	free(text);
	free(fields);
	free(signature);
	return r;
}

void api_tariff_publish(struct api *api, struct http_request *request, const struct api_call *call)
{
	struct tariff *tariff = NULL;
	const char *document;
	json_t *row;
	char err[256];
	int r;

	if (tariff_load(api, request, call, &row) < 0)
		return;
	if (is_published(row)) {
		http_reply_problem(request, 409, "already-published",
				   "tariff %s is published already and cannot change; publish a "
				   "new tariff instead",
				   call->params.values[0]);
		goto out;
	}
	document = json_string_value(json_object_get(row, "document"));
	r = tariff_parse(document, strlen(document), &tariff, err, sizeof(err));
	if (r < 0) {
		http_reply_problem(request, 500, "internal", "the stored draft does not parse: %s",
				   err);
		goto out;
	}
	if (publish_check(api, request, tariff) < 0 ||
	    api_no_close_from(api, request, &tariff->valid_from, "tariff that applies to it") < 0)
		goto out;
	r = publish(api, json_integer_value(json_object_get(row, "id")), tariff,
		    json_string_value(json_object_get(row, "sha256")));
	if (r == -EALREADY) {
		http_reply_problem(request, 409, "already-published",
				   "tariff %s is published already", call->params.values[0]);
		goto out;
	}
	if (r < 0) {
		api_reply_store_error(request, r, "publishing the tariff");
		goto out;
	}
	json_decref(row);
	row = NULL;
	if (tariff_load(api, request, call, &row) == 0)
		http_reply_json(request, 200, api_json_column(row, "document"));
	row = NULL;
out:
	json_decref(row);
	tariff_free(tariff);
}
