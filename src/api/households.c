/* Households: the treasurer creates, lists and changes them and issues their
 * member tokens; a member reads their own. Address ranges never overlap those
 * of another active household. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api-internal.h"
#include "coopbill/config.h"
#include "coopbill/date.h"
#include "coopbill/ledger.h"
#include "coopbill/diag.h"
#include "coopbill/meter.h"
#include "coopbill/store.h"

/* A household's ranges: a few IPv4 addresses and delegated IPv6 prefixes. */
#define MAX_ADDRESSES  64
#define MAX_NAME_BYTES 200

static const char household_shape[] =
	"{\"name\": string, \"joined_at\": \"YYYY-MM-DD\", \"addresses\": [\"10.0.1.10/32\", "
	"\"2001:db8:1::/56\", ...]}";

static const char household_patch_shape[] =
	"any of {\"name\": string, \"addresses\": [CIDR, ...], \"status\": \"active\" | "
	"\"closed\", \"left_at\": \"YYYY-MM-DD\", \"tariff_id\": id or null}";

static json_t *household_json(const struct household *household)
{
	json_t *addresses = json_array();
	char text[CIDR_TEXT_MAX];

	for (size_t i = 0; i < household->n_addresses; i++) {
		cidr_format(&household->addresses[i], text);
		json_array_append_new(addresses, json_string(text));
	}
	return json_pack("{s:I, s:s, s:s, s:s, s:o, s:o, s:o}", "id", (json_int_t)household->id,
			 "name", household->name, "status",
			 household->status == HOUSEHOLD_ACTIVE ? "active" : "closed", "joined_at",
			 household->joined_at, "left_at",
			 household->left_at[0] ? json_string(household->left_at) : json_null(),
			 "addresses", addresses, "tariff_id",
			 household->tariff_id ? json_integer(household->tariff_id) : json_null());
}

static bool date_valid(struct http_request *request, const char *field, const char *text,
		       struct date *ret_date)
{
	if (date_parse(text, ret_date) < 0) {
		http_reply_problem(
			request, 400, "invalid-household",
			"%s \"%s\" is not a date; write it as YYYY-MM-DD, e.g. 2026-11-01", field,
			text);
		return false;
	}
	return true;
}

/* Parses the "addresses" array into ranges, refusing bad ones and ranges
 * that overlap within the list. */
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
		for (size_t j = 0; j < i; j++) {
			if (cidr_overlaps(&addresses[i], &addresses[j])) {
				http_reply_problem(request, 400, "invalid-address",
						   "addresses[%zu] \"%s\" overlaps addresses[%zu]; "
						   "list each range once",
						   i, text, j);
				free(addresses);
				return -EINVAL;
			}
		}
	}
	*ret_addresses = addresses;
	*ret_n = n;
	return 0;
}

/* Replies 409 and returns -EADDRINUSE when another active household owns an
 * overlapping range. Runs inside the caller's write transaction. */
static int addresses_check_free(struct api *api, struct http_request *request,
				const struct household *household)
{
	struct household *other = NULL;
	char ours[CIDR_TEXT_MAX], theirs[CIDR_TEXT_MAX];
	struct cidr their_range;
	int64_t other_id;
	int r;

	r = store_address_conflict(api->ledger.store, household->addresses, household->n_addresses,
				   household->id, &other_id, &their_range);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		api_reply_store_error(request, r, "checking addresses");
		return r;
	}
	cidr_format(&their_range, theirs);
	ours[0] = '\0';
	for (size_t i = 0; i < household->n_addresses; i++)
		if (cidr_overlaps(&household->addresses[i], &their_range))
			cidr_format(&household->addresses[i], ours);
	r = store_household_get(api->ledger.store, other_id, &other);
	http_reply_problem(request, 409, "address-conflict",
			   "%s overlaps %s of household %lld (\"%s\"); remove it there first or "
			   "choose another range",
			   ours, theirs, (long long)other_id, r == 0 ? other->name : "?");
	store_household_free(other);
	return -EADDRINUSE;
}

/* Gives the household's ranges to the kernel inside the caller's transaction;
 * replies and returns the error when the kernel refuses. */
static int apply_to_kernel(struct api *api, struct http_request *request,
			   const struct household *household)
{
	int r = meter_household_apply(api->ledger.meter, household);

	if (r < 0)
		http_reply_problem(request, 503, "meter",
				   "the kernel refused the household's address ranges (%s); "
				   "nothing was changed",
				   strerror(-r));
	return r;
}

/* The kernel took a change whose transaction then failed to commit: put the
 * kernel back in step with the database. */
static void kernel_resync(struct api *api)
{
	int r = meter_resync(api->ledger.meter);

	if (r < 0)
		diag_error("meter: cannot put the kernel back in step with the database: %s; "
			   "restart coopbilld to reconcile",
			   strerror(-r));
}

static int audit_household(struct api *api, const struct api_call *call, const char *action,
			   const struct household *household)
{
	json_t *json = household_json(household);
	char *detail = json_dumps(json, JSON_COMPACT | JSON_SORT_KEYS);
	int r;

	json_decref(json);
	if (!detail)
		return -ENOMEM;
	r = store_audit_append(api->ledger.store, call->actor, action, household->id, detail);
	free(detail);
	return r;
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
		fputs("id,name,status,joined_at,left_at,addresses\r\n", out);
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
			fputs("\"\r\n", out);
		}
		fclose(out);
		store_households_free(households, n);
		http_reply_csv(request, 200, csv, len);
		return;
	}

	json_t *list = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, household_json(&households[i]));
	store_households_free(households, n);
	http_reply_json(request, 200, json_pack("{s:o}", "households", list));
}

void api_households_create(struct api *api, struct http_request *request,
			   const struct api_call *call)
{
	struct household household = { .status = HOUSEHOLD_ACTIVE };
	const char *name = NULL, *joined_at = NULL;
	json_t *body, *addresses = NULL;
	struct date joined;
	char location[64];
	int r;
	const struct http_json_field fields[] = {
		{ "name", HTTP_JSON_STRING, false, &name },
		{ "joined_at", HTTP_JSON_STRING, false, &joined_at },
		{ "addresses", HTTP_JSON_ARRAY, true, &addresses },
	};

	if (http_request_json(request, &body) < 0)
		return;
	if (!api_body_unpack(request, body, "invalid-household", household_shape, fields,
			     sizeof(fields) / sizeof(fields[0])))
		goto out;
	if (!api_text_valid(request, "invalid-household", "name", name, MAX_NAME_BYTES) ||
	    !date_valid(request, "joined_at", joined_at, &joined))
		goto out;
	/* A member more would change how a period being closed shares its costs. */
	if (api_no_close_from(api, request, &joined, "new member") < 0)
		goto out;
	if (addresses &&
	    addresses_parse(request, addresses, &household.addresses, &household.n_addresses) < 0)
		goto out;
	household.name = (char *)name;
	date_format(&joined, household.joined_at);

	r = store_begin(api->ledger.store);
	if (r < 0) {
		api_reply_store_error(request, r, "creating the household");
		goto out;
	}
	if (addresses_check_free(api, request, &household) < 0)
		goto rollback;
	r = store_household_insert(api->ledger.store, &household, &household.id);
	if (r == 0)
		r = audit_household(api, call, "household.create", &household);
	if (r == 0)
		r = ledger_tlog_log_household(api->ledger.tlog, "household-created", &household);
	if (r < 0) {
		api_reply_store_error(request, r, "creating the household");
		goto rollback;
	}
	if (apply_to_kernel(api, request, &household) < 0)
		goto rollback;
	r = store_commit(api->ledger.store);
	if (r < 0) {
		api_reply_store_error(request, r, "creating the household");
		store_rollback(api->ledger.store);
		kernel_resync(api);
		goto out;
	}
	http_reply_json(request, 201, household_json(&household));
	snprintf(location, sizeof(location), "/api/v1/households/%lld", (long long)household.id);
	http_reply_header(request, "Location", location);
	goto out;
rollback:
	store_rollback(api->ledger.store);
out:
	free(household.addresses);
	json_decref(body);
}

/* Loads the household named by the path, or replies 404. */
static int household_load(struct api *api, struct http_request *request,
			  const struct api_call *call, struct household **ret_household)
{
	int64_t id;
	int r;

	r = api_parse_id(call->params.values[0], &id);
	if (r == 0)
		r = store_household_get(api->ledger.store, id, ret_household);
	return r < 0 ? api_reply_load_error(request, r, "household", call->params.values[0]) : 0;
}

void api_household_get(struct api *api, struct http_request *request, const struct api_call *call)
{
	struct household *household;

	if (household_load(api, request, call, &household) < 0)
		return;
	http_reply_json(request, 200, household_json(household));
	store_household_free(household);
}

/* Applies a PATCH body's status and left_at to the household. */
static int patch_status(const struct ledger *ledger, struct http_request *request,
			struct household *household, const char *status, const char *left_at)
{
	struct date joined, left;
	char today[DATE_TEXT_MAX];

	if (status && strcmp(status, "active") == 0) {
		if (left_at) {
			http_reply_problem(request, 400, "invalid-household",
					   "an active household has no left_at; leave it out");
			return -EINVAL;
		}
		household->status = HOUSEHOLD_ACTIVE;
		household->left_at[0] = '\0';
		return 0;
	}
	if (status && strcmp(status, "closed") != 0) {
		http_reply_problem(request, 400, "invalid-household",
				   "status \"%s\" is not one of \"active\", \"closed\"", status);
		return -EINVAL;
	}
	if (!status && household->status == HOUSEHOLD_ACTIVE) {
		if (left_at)
			http_reply_problem(request, 400, "invalid-household",
					   "left_at applies to a closed household; send "
					   "\"status\": \"closed\" with it");
		return left_at ? -EINVAL : 0;
	}
	if (!left_at && household->status == HOUSEHOLD_CLOSED)
		return 0;
	if (!left_at) {
		ledger_today(ledger, &left);
		date_format(&left, today);
		left_at = today;
	}
	if (!date_valid(request, "left_at", left_at, &left))
		return -EINVAL;
	if (date_parse(household->joined_at, &joined) == 0 && date_compare(&left, &joined) < 0) {
		http_reply_problem(request, 400, "invalid-household",
				   "left_at %s is before joined_at %s", left_at,
				   household->joined_at);
		return -EINVAL;
	}
	household->status = HOUSEHOLD_CLOSED;
	date_format(&left, household->left_at);
	return 0;
}

/* A household may be given a published tariff of its own. */
static int tariff_check(struct api *api, struct http_request *request, json_t *tariff)
{
	char id[24];
	json_t *row;
	int r;

	snprintf(id, sizeof(id), "%" JSON_INTEGER_FORMAT, json_integer_value(tariff));
	r = store_tariff_get(api->ledger.store, json_integer_value(tariff), &row);
	if (r < 0)
		return api_reply_load_error(request, r, "tariff", id);
	if (strcmp(json_string_value(json_object_get(row, "status")), "published") != 0) {
		http_reply_problem(request, 409, "tariff-draft",
				   "tariff %" JSON_INTEGER_FORMAT " is a draft; publish it first",
				   json_integer_value(tariff));
		r = -EINVAL;
	}
	json_decref(row);
	return r;
}

void api_household_patch(struct api *api, struct http_request *request, const struct api_call *call)
{
	const char *name = NULL, *status = NULL, *left_at = NULL;
	struct household *household = NULL;
	struct cidr *old_addresses = NULL;
	size_t old_n_addresses = 0;
	json_t *body = NULL, *addresses = NULL, *tariff = NULL;
	char *old_name = NULL;
	int r;
	const struct http_json_field fields[] = {
		{ "name", HTTP_JSON_STRING, true, &name },
		{ "addresses", HTTP_JSON_ARRAY, true, &addresses },
		{ "status", HTTP_JSON_STRING, true, &status },
		{ "left_at", HTTP_JSON_STRING, true, &left_at },
		{ "tariff_id", HTTP_JSON_INTEGER_OR_NULL, true, &tariff },
	};

	if (http_request_json(request, &body) < 0)
		return;
	if (!api_body_unpack(request, body, "invalid-household", household_patch_shape, fields,
			     sizeof(fields) / sizeof(fields[0])))
		goto out;
	if (call->principal.role != AUTH_ROLE_ADMIN && (addresses || status || left_at || tariff)) {
		http_reply_problem(request, 403, "forbidden",
				   "a member may change the household's name only; addresses, "
				   "status and tariff are the treasurer's");
		goto out;
	}
	if (tariff && json_is_integer(tariff) && tariff_check(api, request, tariff) < 0)
		goto out;
	/* A household's tariff and membership decide what every period not
	 * closed bills it, and how that period shares its costs. */
	if ((status || left_at || tariff) &&
	    api_no_close_from(api, request, NULL, "change of a household's tariff or membership") <
		    0)
		goto out;
	if (name && !api_text_valid(request, "invalid-household", "name", name, MAX_NAME_BYTES))
		goto out;
	if (household_load(api, request, call, &household) < 0)
		goto out;
	/* Leaving the cooperative ends a member's say in it; the bills stay theirs to read. */
	if (call->principal.role != AUTH_ROLE_ADMIN && household->status == HOUSEHOLD_CLOSED) {
		http_reply_problem(request, 403, "forbidden",
				   "household %lld is closed: its member token may read the "
				   "household and its bills, not change them",
				   (long long)household->id);
		goto out;
	}
	if (patch_status(&api->ledger, request, household, status, left_at) < 0)
		goto out;
	if (tariff)
		household->tariff_id = json_integer_value(tariff);
	if (name) {
		old_name = household->name;
		household->name = (char *)name;
	}
	if (addresses) {
		old_addresses = household->addresses;
		old_n_addresses = household->n_addresses;
		household->addresses = NULL;
		if (addresses_parse(request, addresses, &household->addresses,
				    &household->n_addresses) < 0)
			goto out;
	}

	r = store_begin(api->ledger.store);
	if (r < 0) {
		api_reply_store_error(request, r, "changing the household");
		goto out;
	}
	if (household->status == HOUSEHOLD_ACTIVE &&
	    addresses_check_free(api, request, household) < 0) {
		store_rollback(api->ledger.store);
		goto out;
	}
	r = store_household_update(api->ledger.store, household);
	if (r == 0)
		r = audit_household(api, call, "household.update", household);
	if (r == 0)
		r = ledger_tlog_log_household(api->ledger.tlog, "household-changed", household);
	if (r < 0) {
		store_rollback(api->ledger.store);
		api_reply_store_error(request, r, "changing the household");
		goto out;
	}
	if ((addresses || status) && apply_to_kernel(api, request, household) < 0) {
		store_rollback(api->ledger.store);
		goto out;
	}
	r = store_commit(api->ledger.store);
	if (r < 0) {
		store_rollback(api->ledger.store);
		api_reply_store_error(request, r, "changing the household");
		kernel_resync(api);
		goto out;
	}
	http_reply_json(request, 200, household_json(household));
out:
	if (old_name)
		household->name = old_name;
	if (old_addresses) {
		free(household->addresses);
		household->addresses = old_addresses;
		household->n_addresses = old_n_addresses;
	}
	store_household_free(household);
	json_decref(body);
}

void api_household_token_create(struct api *api, struct http_request *request,
				const struct api_call *call)
{
	struct household *household = NULL;
	char token[AUTH_TOKEN_TEXT_MAX], default_name[64];
	const char *name = NULL;
	json_t *body = NULL;
	size_t len;
	int r;
	const struct http_json_field fields[] = {
		{ "name", HTTP_JSON_STRING, true, &name },
	};

	http_request_body(request, &len);
	if (len > 0) {
		if (http_request_json(request, &body) < 0)
			return;
		if (!api_body_unpack(request, body, "invalid-token-request",
				     "{\"name\": string} or no body", fields,
				     sizeof(fields) / sizeof(fields[0])))
			goto out;
		if (name &&
		    !api_text_valid(request, "invalid-household", "name", name, MAX_NAME_BYTES))
			goto out;
	}
	if (household_load(api, request, call, &household) < 0)
		goto out;
	if (household->status != HOUSEHOLD_ACTIVE) {
		http_reply_problem(request, 409, "household-closed",
				   "household %lld is closed; reopen it before issuing tokens",
				   (long long)household->id);
		goto out;
	}
	if (!name) {
		snprintf(default_name, sizeof(default_name), "household %lld",
			 (long long)household->id);
		name = default_name;
	}

	r = store_begin(api->ledger.store);
	if (r == 0)
		r = auth_token_issue(api->ledger.store, AUTH_ROLE_MEMBER, household->id, name,
				     call->actor, token);
	if (r == 0)
		r = ledger_tlog_log_token(api->ledger.tlog, "member", household->id);
	if (r == 0)
		r = store_commit(api->ledger.store);
	if (r < 0) {
		store_rollback(api->ledger.store);
		api_reply_store_error(request, r, "issuing the token");
		goto out;
	}
	http_reply_json(request, 201,
			json_pack("{s:s, s:s, s:I}", "token", token, "role", "member",
				  "household_id", (json_int_t)household->id));
out:
	store_household_free(household);
	json_decref(body);
}

void api_household_tlog_salt(struct api *api, struct http_request *request,
			     const struct api_call *call)
{
	struct household *household = NULL;
	char commitment[65], salt[65];
	int r;

	if (household_load(api, request, call, &household) < 0)
		return;
	/* The salt is made on first use, in a write transaction of its own. */
	r = store_begin(api->ledger.store);
	if (r == 0)
		r = ledger_tlog_household_commitment(api->ledger.tlog, household->id, commitment,
						     salt);
	if (r == 0)
		r = store_commit(api->ledger.store);
	if (r < 0) {
		store_rollback(api->ledger.store);
		api_reply_store_error(request, r, "reading the household's salt");
		goto out;
	}
	http_reply_json(request, 200,
			json_pack("{s:I, s:s, s:s}", "household_id", (json_int_t)household->id,
				  "salt", salt, "commitment", commitment));
out:
	store_household_free(household);
}
