/* Households and their tokens: creating a household, changing or closing
 * it, and issuing its member tokens, each in one transaction that writes
 * the database, the audit trail and the tlog entry and gives the household's
 * address ranges to the kernel. Address ranges never overlap those of
 * another active household. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "coopbill/auth.h"
#include "coopbill/date.h"
#include "coopbill/diag.h"
#include "coopbill/ledger.h"
#include "coopbill/meter.h"
#include "coopbill/store.h"

#define MAX_NAME_BYTES 200

/* The household as it is after the action, in the audit trail. */
static int audit_household(struct ledger *ledger, const char *actor, const char *action,
			   const struct household *household)
{
	json_t *json = store_household_json(household);
	char *detail = json_dumps(json, JSON_COMPACT | JSON_SORT_KEYS);
	int r;

	json_decref(json);
	if (!detail)
		return -ENOMEM;
	r = store_audit_append(ledger->store, actor, action, household->id, detail);
	free(detail);
	return r;
}

static int date_require(const char *field, const char *text, struct date *ret_date,
			struct ledger_error *err)
{
	if (date_parse(text, ret_date) < 0)
		return ledger_refuse(
			err, LEDGER_INVALID, "invalid-household",
			"%s \"%s\" is not a date; write it as YYYY-MM-DD, e.g. 2026-11-01", field,
			text);
	return 0;
}

/* A household's ranges may not overlap each other. */
static int addresses_distinct(const struct cidr *addresses, size_t n_addresses,
			      struct ledger_error *err)
{
	char text[CIDR_TEXT_MAX];

	for (size_t i = 0; i < n_addresses; i++) {
		for (size_t j = 0; j < i; j++) {
			if (!cidr_overlaps(&addresses[i], &addresses[j]))
				continue;
			cidr_format(&addresses[i], text);
			return ledger_refuse(err, LEDGER_INVALID, "invalid-address",
					     "addresses[%zu] \"%s\" overlaps addresses[%zu]; list "
					     "each range once",
					     i, text, j);
		}
	}
	return 0;
}

/* Gives the household a copy of addresses in place of its own. */
static int addresses_set(struct household *household, const struct cidr *addresses,
			 size_t n_addresses)
{
	struct cidr *copy = calloc(n_addresses ? n_addresses : 1, sizeof(*copy));

	if (!copy)
		return -ENOMEM;
	for (size_t i = 0; i < n_addresses; i++)
		copy[i] = addresses[i];
	free(household->addresses);
	household->addresses = copy;
	household->n_addresses = n_addresses;
	return 0;
}

/* Refuses (address-conflict) when another active household on the same
 * gateway owns a range that overlaps one of the household's. Runs inside
 * the transaction. */
static int addresses_free(struct ledger *ledger, const struct household *household,
			  struct ledger_error *err)
{
	struct household *other = NULL;
	char ours[CIDR_TEXT_MAX], theirs[CIDR_TEXT_MAX];
	struct cidr their_range;
	int64_t other_id;
	int r;

	r = store_address_conflict(ledger->store, household->gateway, household->addresses,
				   household->n_addresses, household->id, &other_id, &their_range);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return ledger_storage_error(err, r, "checking addresses");
	cidr_format(&their_range, theirs);
	ours[0] = '\0';
	for (size_t i = 0; i < household->n_addresses; i++)
		if (cidr_overlaps(&household->addresses[i], &their_range))
			cidr_format(&household->addresses[i], ours);
	r = store_household_get(ledger->store, other_id, &other);
	r = ledger_refuse(err, LEDGER_CONFLICT, "address-conflict",
			  "%s overlaps %s of household %lld (\"%s\"); remove it there first or "
			  "choose another range",
			  ours, theirs, (long long)other_id, r == 0 ? other->name : "?");
	store_household_free(other);
	return r;
}

/* Gives the household's ranges to the kernel, inside the transaction that
 * changes it. */
static int kernel_apply(struct ledger *ledger, const struct household *household,
			struct ledger_error *err)
{
	int r = ledger->meter ? meter_household_apply(ledger->meter, household) : 0;

	if (r < 0)
		return ledger_refuse(err, LEDGER_UNAVAILABLE, "meter",
				     "the kernel refused the household's address ranges (%s); "
				     "nothing was changed",
				     strerror(-r));
	return 0;
}

/* Commits a transaction that changed the kernel; when the commit fails, puts
 * the kernel back in step with the database. */
static int commit_with_kernel(struct ledger *ledger, const char *what, struct ledger_error *err)
{
	int r = store_commit(ledger->store);

	if (r == 0)
		return 0;
	store_rollback(ledger->store);
	if (ledger->meter) {
		int resynced = meter_resync(ledger->meter);

		if (resynced < 0)
			diag_error("meter: cannot put the kernel back in step with the database: "
				   "%s; restart coopbilld to reconcile",
				   strerror(-resynced));
	}
	return ledger_storage_error(err, r, what);
}

/* Writes the household (a new one when its id is 0), its audit record and
 * its tlog entry, and then, when kernel says so, its ranges to the kernel:
 * one transaction, rolled back on any refusal. */
static int household_write(struct ledger *ledger, struct household *household, const char *actor,
			   bool kernel, struct ledger_error *err)
{
	bool created = household->id == 0;
	const char *what = created ? "creating the household" : "changing the household";
	int r;

	r = store_begin(ledger->store);
	if (r < 0)
		return ledger_storage_error(err, r, what);
	if (household->status == HOUSEHOLD_ACTIVE) {
		r = addresses_free(ledger, household, err);
		if (r < 0)
			goto rollback;
	}
	r = created ? store_household_insert(ledger->store, household, &household->id)
		    : store_household_update(ledger->store, household);
	if (r == 0)
		r = audit_household(ledger, actor,
				    created ? "household.create" : "household.update", household);
	if (r == 0)
		r = ledger_tlog_log_household(ledger->tlog,
					      created ? "household-created" : "household-changed",
					      household);
	if (r < 0) {
		ledger_storage_error(err, r, what);
		goto rollback;
	}
	if (kernel) {
		r = kernel_apply(ledger, household, err);
		if (r < 0)
			goto rollback;
	}
	return commit_with_kernel(ledger, what, err);
rollback:
	store_rollback(ledger->store);
	return r;
}

/* Refuses (invalid-household) a gateway that is not a name. */
static int gateway_require(const char *gateway, struct ledger_error *err)
{
	if (!config_gateway_valid(gateway))
		return ledger_refuse(err, LEDGER_INVALID, "invalid-household",
				     "gateway must be " CONFIG_GATEWAY_RULE);
	return 0;
}

int ledger_household_create(struct ledger *ledger, const struct ledger_household_new *in,
			    struct household **ret_household, struct ledger_error *err)
{
	const char *gateway = in->gateway ? in->gateway : ledger->config->meter_gateway;
	struct household *household;
	struct date joined;
	int r;

	r = ledger_text_require("invalid-household", "name", in->name, MAX_NAME_BYTES, err);
	if (r < 0)
		return r;
	r = date_require("joined_at", in->joined_at, &joined, err);
	if (r < 0)
		return r;
	/* A member more would change how a period being closed shares its costs. */
	r = ledger_no_close_from(ledger, &joined, "new member", err);
	if (r < 0)
		return r;
	r = addresses_distinct(in->addresses, in->n_addresses, err);
	if (r == 0)
		r = gateway_require(gateway, err);
	if (r < 0)
		return r;

	household = calloc(1, sizeof(*household));
	if (!household)
		return ledger_storage_error(err, -ENOMEM, "creating the household");
	household->status = HOUSEHOLD_ACTIVE;
	household->name = strdup(in->name);
	if (!household->name || addresses_set(household, in->addresses, in->n_addresses) < 0) {
		store_household_free(household);
		return ledger_storage_error(err, -ENOMEM, "creating the household");
	}
	date_format(&joined, household->joined_at);
	strcpy(household->gateway, gateway);

	r = household_write(ledger, household, in->actor, true, err);
	if (r < 0) {
		store_household_free(household);
		return r;
	}
	*ret_household = household;
	return 0;
}

/* A published tariff may be given to a household of its own. */
static int tariff_require(struct ledger *ledger, int64_t tariff_id, struct ledger_error *err)
{
	json_t *row;
	int r;

	r = store_tariff_get(ledger->store, tariff_id, &row);
	if (r == -ENOENT)
		return ledger_refuse(err, LEDGER_NOT_FOUND, "not-found", "there is no tariff %lld",
				     (long long)tariff_id);
	if (r < 0)
		return ledger_storage_error(err, r, "reading the tariff");
	if (strcmp(json_string_value(json_object_get(row, "status")), "published") != 0)
		r = ledger_refuse(err, LEDGER_CONFLICT, "tariff-draft",
				  "tariff %lld is a draft; publish it first", (long long)tariff_id);
	json_decref(row);
	return r;
}

/* Applies a change's status and left_at to the household: reopening it,
 * closing it (on left_at, else today) or moving the day it left. */
static int status_apply(struct ledger *ledger, const struct ledger_household_change *in,
			struct household *household, struct ledger_error *err)
{
	struct date joined, left;
	int r;

	if (in->has_status && in->status == HOUSEHOLD_ACTIVE) {
		if (in->left_at)
			return ledger_refuse(err, LEDGER_INVALID, "invalid-household",
					     "an active household has no left_at; leave it out");
		household->status = HOUSEHOLD_ACTIVE;
		household->left_at[0] = '\0';
		return 0;
	}
	if (!in->has_status && household->status == HOUSEHOLD_ACTIVE) {
		if (in->left_at)
			return ledger_refuse(err, LEDGER_INVALID, "invalid-household",
					     "left_at applies to a closed household; send "
					     "\"status\": \"closed\" with it");
		return 0;
	}
	if (!in->left_at && household->status == HOUSEHOLD_CLOSED)
		return 0;
	if (in->left_at) {
		r = date_require("left_at", in->left_at, &left, err);
		if (r < 0)
			return r;
	} else {
		ledger_today(ledger, &left);
	}
	if (date_parse(household->joined_at, &joined) == 0 && date_compare(&left, &joined) < 0) {
		char text[DATE_TEXT_MAX];

		date_format(&left, text);
		return ledger_refuse(err, LEDGER_INVALID, "invalid-household",
				     "left_at %s is before joined_at %s", text,
				     household->joined_at);
	}
	household->status = HOUSEHOLD_CLOSED;
	date_format(&left, household->left_at);
	return 0;
}

/* Checks who may make the change and whether it may be made now. */
static int change_allowed(struct ledger *ledger, const struct ledger_household_change *in,
			  struct ledger_error *err)
{
	int r;

	if (in->by_member && (in->has_addresses || in->has_status || in->left_at ||
			      in->has_tariff_id || in->gateway))
		return ledger_refuse(err, LEDGER_FORBIDDEN, "forbidden",
				     "a member may change the household's name only; addresses, "
				     "status, tariff and gateway are the treasurer's");
	if (in->gateway) {
		r = gateway_require(in->gateway, err);
		if (r < 0)
			return r;
	}
	if (in->has_tariff_id && in->tariff_id) {
		r = tariff_require(ledger, in->tariff_id, err);
		if (r < 0)
			return r;
	}
	/* A household's tariff and membership decide what every period not
	 * closed bills it, and how that period shares its costs. */
	if (in->has_status || in->left_at || in->has_tariff_id) {
		r = ledger_no_close_from(ledger, NULL,
					 "change of a household's tariff or membership", err);
		if (r < 0)
			return r;
	}
	if (in->name)
		return ledger_text_require("invalid-household", "name", in->name, MAX_NAME_BYTES,
					   err);
	return 0;
}

/* Applies what the change names to the household. */
static int change_apply(struct ledger *ledger, const struct ledger_household_change *in,
			struct household *household, struct ledger_error *err)
{
	int r;

	r = status_apply(ledger, in, household, err);
	if (r < 0)
		return r;
	if (in->has_tariff_id)
		household->tariff_id = in->tariff_id;
	if (in->gateway)
		strcpy(household->gateway, in->gateway);
	if (in->name) {
		char *name = strdup(in->name);

		if (!name)
			return ledger_storage_error(err, -ENOMEM, "changing the household");
		free(household->name);
		household->name = name;
	}
	if (in->has_addresses) {
		r = addresses_distinct(in->addresses, in->n_addresses, err);
		if (r < 0)
			return r;
		if (addresses_set(household, in->addresses, in->n_addresses) < 0)
			return ledger_storage_error(err, -ENOMEM, "changing the household");
	}
	return 0;
}

int ledger_household_change(struct ledger *ledger, const struct ledger_household_change *in,
			    struct household **ret_household, struct ledger_error *err)
{
	struct household *household = NULL;
	int r;

	r = change_allowed(ledger, in, err);
	if (r < 0)
		return r;
	r = ledger_household_get(ledger, in->id, &household, err);
	if (r < 0)
		return r;
	/* Leaving the cooperative ends a member's say in it; the bills stay theirs to read. */
	if (in->by_member && household->status == HOUSEHOLD_CLOSED)
		r = ledger_refuse(err, LEDGER_FORBIDDEN, "forbidden",
				  "household %lld is closed: its member token may read its "
				  "invoices, ledger and log salt, nothing else",
				  (long long)household->id);
	if (r == 0)
		r = change_apply(ledger, in, household, err);
	if (r == 0)
		r = household_write(ledger, household, in->actor,
				    in->has_addresses || in->has_status || in->gateway, err);
	if (r < 0) {
		store_household_free(household);
		return r;
	}
	*ret_household = household;
	return 0;
}

int ledger_household_commitment(struct ledger *ledger, int64_t household_id,
				char ret_commitment[65], char ret_salt[65],
				struct ledger_error *err)
{
	struct household *household = NULL;
	int r;

	r = ledger_household_get(ledger, household_id, &household, err);
	store_household_free(household);
	if (r < 0)
		return r;
	/* The salt is made on first use, in a write transaction of its own. */
	r = store_begin(ledger->store);
	if (r == 0)
		r = ledger_tlog_household_commitment(ledger->tlog, household_id, ret_commitment,
						     ret_salt);
	if (r == 0)
		r = store_commit(ledger->store);
	if (r < 0) {
		store_rollback(ledger->store);
		return ledger_storage_error(err, r, "reading the household's salt");
	}
	return 0;
}

int ledger_token_issue(struct ledger *ledger, const struct ledger_token_request *in,
		       char ret_token[AUTH_TOKEN_TEXT_MAX], struct ledger_error *err)
{
	char default_name[64];
	const char *name = in->name;
	int r;

	if (name) {
		r = ledger_text_require("invalid-household", "name", name, MAX_NAME_BYTES, err);
		if (r < 0)
			return r;
	}
	if (in->household_id) {
		struct household *household = NULL;

		r = ledger_household_get(ledger, in->household_id, &household, err);
		if (r == 0 && household->status != HOUSEHOLD_ACTIVE)
			r = ledger_refuse(err, LEDGER_CONFLICT, "household-closed",
					  "household %lld is closed; reopen it before issuing "
					  "tokens",
					  (long long)household->id);
		store_household_free(household);
		if (r < 0)
			return r;
	}
	if (!name) {
		snprintf(default_name, sizeof(default_name), "household %lld",
			 (long long)in->household_id);
		name = default_name;
	}
	r = store_begin(ledger->store);
	if (r == 0)
		r = auth_token_issue(ledger->store, in->role, in->household_id, name, in->actor,
				     ret_token);
	if (r == 0)
		r = ledger_tlog_log_token(ledger->tlog, auth_role_name(in->role), in->household_id);
	if (r == 0)
		r = store_commit(ledger->store);
	if (r < 0) {
		store_rollback(ledger->store);
		return ledger_storage_error(err, r, "issuing the token");
	}
	return 0;
}
