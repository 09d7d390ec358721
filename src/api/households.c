/* Households: the treasurer creates, lists and changes them and issues their
 * member tokens; a member reads their own. The rules and the writes are the
 * ledger's (ledger/households.c); here the requests are parsed and
 * answered. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api-internal.h"
#include "coopbill/config.h"
#include "coopbill/ledger.h"
#include "coopbill/store.h"

/* A household's ranges: a few IPv4 addresses and delegated IPv6 prefixes. */
#define MAX_ADDRESSES 64

static const char household_shape[] =
	"{\"name\": string, \"joined_at\": \"YYYY-MM-DD\", \"addresses\": [\"10.0.1.10/32\", "
	"\"2001:db8:1::/56\", ...], \"gateway\": \"main\"} (addresses and gateway optional)";

static const char household_patch_shape[] =
	"any of {\"name\": string, \"addresses\": [CIDR, ...], \"status\": \"active\" | "
	"\"closed\", \"left_at\": \"YYYY-MM-DD\", \"tariff_id\": id or null, \"gateway\": "
	"\"main\"}";

/* Parses the "addresses" array into ranges, refusing what is not one. */
static int addresses_parse(struct http_request *request, json_t *array, struct cidr **ret_addresses,
			   size_t *ret_n)
{
	struct cidr *addresses;
	size_t n = json_array_size(array);

	if (!json_is_array(array) || n > MAX_ADDRESSES) {
		http_reply_problem(request, 400, "invalid-household",
				   "addresses must be an array of at most %d CIDR strings, like "
				   "[\"10.0.1.10/32\", \"2001:db8:1::/56\"]",
				   MAX_ADDRESSES);
		return -EINVAL;
	}
	addresses = calloc(n ? n : 1, sizeof(*addresses));
	if (!addresses) {
		http_reply_problem(request, 503, "out-of-memory", "the server is short of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const char *text = json_string_value(json_array_get(array, i));
		char hint[CIDR_TEXT_MAX] = "";

		if (!text || cidr_parse(text, &addresses[i], hint) < 0) {
			if (hint[0])
				http_reply_problem(request, 400, "invalid-address",
						   "addresses[%zu] \"%s\" has host bits set; the "
						   "network is %s",
						   i, text, hint);
			else
				http_reply_problem(
					request, 400, "invalid-address",
					"addresses[%zu] is not an IPv4 or IPv6 address or "
					"CIDR prefix, like 10.0.1.10/32 or 2001:db8:1::/56",
					i);
			free(addresses);
			return -EINVAL;
		}
	}
	*ret_addresses = addresses;
	*ret_n = n;
	return 0;
}

void api_households_list(struct api *api, struct http_request *request, const struct api_call *call)
{
	struct household *households;
	size_t n;
	int r;

	r = store_household_list(api->ledger.store, &households, &n);
	if (r < 0) {
		api_reply_store_error(request, r, "listing households");
		return;
	}
	if (http_request_wants_csv(request)) {
		char *csv = NULL, text[CIDR_TEXT_MAX], id[24];
		size_t len = 0;
		FILE *out = open_memstream(&csv, &len);

		if (!out) {
			store_households_free(households, n);
			http_reply_problem(request, 503, "out-of-memory", "short of memory");
			return;
		}
		fputs("id,name,status,joined_at,left_at,addresses,gateway\r\n", out);
		for (size_t i = 0; i < n; i++) {
			snprintf(id, sizeof(id), "%lld", (long long)households[i].id);
			http_csv_field(out, id, false);
			http_csv_field(out, households[i].name, false);
			http_csv_field(
				out, households[i].status == HOUSEHOLD_ACTIVE ? "active" : "closed",
				false);
			http_csv_field(out, households[i].joined_at, false);
			http_csv_field(out, households[i].left_at, false);
			fputc('"', out);
			for (size_t j = 0; j < households[i].n_addresses; j++) {
				cidr_format(&households[i].addresses[j], text);
				fprintf(out, "%s%s", j ? " " : "", text);
			}
			fputs("\",", out);
			http_csv_field(out, households[i].gateway, true);
		}
		fclose(out);
		store_households_free(households, n);
		http_reply_csv(request, 200, csv, len);
		return;
	}

	json_t *list = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, store_household_json(&households[i]));
	store_households_free(households, n);
	http_reply_json(request, 200, json_pack("{s:o}", "households", list));
}

void api_households_create(struct api *api, struct http_request *request,
			   const struct api_call *call)
{
	struct ledger_household_new household = { .actor = call->actor };
	struct household *created = NULL;
	struct cidr *addresses = NULL;
	json_t *body, *addresses_json = NULL;
	struct ledger_error err;
	char location[64];
	const struct http_json_field fields[] = {
		{ "name", HTTP_JSON_STRING, false, &household.name },
		{ "joined_at", HTTP_JSON_STRING, false, &household.joined_at },
		{ "addresses", HTTP_JSON_ARRAY, true, &addresses_json },
		{ "gateway", HTTP_JSON_STRING, true, &household.gateway },
	};

	if (http_request_json(request, &body) < 0)
		return;
	if (!api_body_unpack(request, body, "invalid-household", household_shape, fields,
			     sizeof(fields) / sizeof(fields[0])))
		goto out;
	if (addresses_json &&
	    addresses_parse(request, addresses_json, &addresses, &household.n_addresses) < 0)
		goto out;
	household.addresses = addresses;
	if (ledger_household_create(&api->ledger, &household, &created, &err) < 0) {
		api_reply_ledger_error(request, &err);
		goto out;
	}
	http_reply_json(request, 201, store_household_json(created));
	snprintf(location, sizeof(location), "/api/v1/households/%lld", (long long)created->id);
	http_reply_header(request, "Location", location);
out:
	store_household_free(created);
	free(addresses);
	json_decref(body);
}

void api_household_get(struct api *api, struct http_request *request, const struct api_call *call)
{
	struct household *household;
	int64_t id;
	int r;

	if (api_path_household_id(request, call, &id) < 0)
		return;
	r = store_household_get(api->ledger.store, id, &household);
	if (r < 0) {
		api_reply_load_error(request, r, "household", call->params.values[0]);
		return;
	}
	http_reply_json(request, 200, store_household_json(household));
	store_household_free(household);
}

/* A PATCH body's status: "active" or "closed"; replies 400 otherwise. */
static int status_parse(struct http_request *request, const char *text,
			enum household_status *ret_status)
{
	if (strcmp(text, "active") == 0)
		*ret_status = HOUSEHOLD_ACTIVE;
	else if (strcmp(text, "closed") == 0)
		*ret_status = HOUSEHOLD_CLOSED;
	else {
		http_reply_problem(request, 400, "invalid-household",
				   "status \"%s\" is not one of \"active\", \"closed\"", text);
		return -EINVAL;
	}
	return 0;
}

void api_household_patch(struct api *api, struct http_request *request, const struct api_call *call)
{
	struct ledger_household_change change = {
		.by_member = call->principal.role != AUTH_ROLE_ADMIN,
		.actor = call->actor,
	};
	json_t *body = NULL, *addresses_json = NULL, *tariff = NULL;
	struct household *household = NULL;
	struct cidr *addresses = NULL;
	const char *status = NULL;
	struct ledger_error err;
	const struct http_json_field fields[] = {
		{ "name", HTTP_JSON_STRING, true, &change.name },
		{ "addresses", HTTP_JSON_ARRAY, true, &addresses_json },
		{ "status", HTTP_JSON_STRING, true, &status },
		{ "left_at", HTTP_JSON_STRING, true, &change.left_at },
		{ "tariff_id", HTTP_JSON_INTEGER_OR_NULL, true, &tariff },
		{ "gateway", HTTP_JSON_STRING, true, &change.gateway },
	};

	if (api_path_household_id(request, call, &change.id) < 0)
		return;
	if (http_request_json(request, &body) < 0)
		return;
	if (!api_body_unpack(request, body, "invalid-household", household_patch_shape, fields,
			     sizeof(fields) / sizeof(fields[0])))
		goto out;
	change.has_status = status != NULL;
	if (status && status_parse(request, status, &change.status) < 0)
		goto out;
	change.has_tariff_id = tariff != NULL;
	change.tariff_id = json_integer_value(tariff);
	/* null is no tariff of its own; no id is 0 or below. */
	if (json_is_integer(tariff) && change.tariff_id <= 0) {
		char id[24];

		snprintf(id, sizeof(id), "%lld", (long long)change.tariff_id);
		api_reply_load_error(request, -ENOENT, "tariff", id);
		goto out;
	}
	change.has_addresses = addresses_json != NULL;
	if (addresses_json &&
	    addresses_parse(request, addresses_json, &addresses, &change.n_addresses) < 0)
		goto out;
	change.addresses = addresses;
	if (ledger_household_change(&api->ledger, &change, &household, &err) < 0) {
		api_reply_ledger_error(request, &err);
		goto out;
	}
	http_reply_json(request, 200, store_household_json(household));
out:
	store_household_free(household);
	free(addresses);
	json_decref(body);
}

void api_household_token_create(struct api *api, struct http_request *request,
				const struct api_call *call)
{
	struct ledger_token_request token_request = { .role = AUTH_ROLE_MEMBER,
						      .actor = call->actor };
	char token[AUTH_TOKEN_TEXT_MAX], *signin_url = NULL;
	struct ledger_error err;
	json_t *body = NULL;
	size_t len;
	const struct http_json_field fields[] = {
		{ "name", HTTP_JSON_STRING, true, &token_request.name },
	};

	if (api_path_household_id(request, call, &token_request.household_id) < 0)
		return;
	http_request_body(request, &len);
	if (len > 0) {
		if (http_request_json(request, &body) < 0)
			return;
		if (!api_body_unpack(request, body, "invalid-token-request",
				     "{\"name\": string} or no body", fields,
				     sizeof(fields) / sizeof(fields[0])))
			goto out;
	}
	if (ledger_token_issue(&api->ledger, &token_request, token, &err) < 0) {
		api_reply_ledger_error(request, &err);
		goto out;
	}
	if (auth_signin_url(api->ledger.config->public_url, token, &signin_url) < 0) {
		http_reply_problem(request, 503, "out-of-memory",
				   "the server is short of memory; the token was issued, but is "
				   "not shown: revoke it and issue another");
		goto out;
	}
	http_reply_json(request, 201,
			json_pack("{s:s, s:s, s:I, s:s}", "token", token, "role", "member",
				  "household_id", (json_int_t)token_request.household_id,
				  "signin_url", signin_url));
out:
	free(signin_url);
	json_decref(body);
}

void api_household_tlog_salt(struct api *api, struct http_request *request,
			     const struct api_call *call)
{
	char commitment[65], salt[65];
	struct ledger_error err;
	int64_t id;

	if (api_path_household_id(request, call, &id) < 0)
		return;
	if (ledger_household_commitment(&api->ledger, id, commitment, salt, &err) < 0) {
		api_reply_ledger_error(request, &err);
		return;
	}
	http_reply_json(request, 200,
			json_pack("{s:I, s:s, s:s}", "household_id", (json_int_t)id, "salt", salt,
				  "commitment", commitment));
}
