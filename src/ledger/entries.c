/* The households' ledger entries and the cooperative's expenses: payments,
 * adjustments and reversals of them, and expenses, each checked, then
 * recorded with its tlog entry in one transaction. Nothing recorded is ever
 * changed or deleted: a correction is a new entry. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "coopbill/config.h"
#include "coopbill/date.h"
#include "coopbill/ledger.h"
#include "coopbill/period.h"
#include "coopbill/store.h"
#include "coopbill/tariff.h"

#define MAX_METHOD_BYTES    50
#define MAX_REFERENCE_BYTES 200
#define MAX_REASON_BYTES    500

/* Writes the entry and its tlog entry (fields, in the entry kind's order)
 * in one transaction; *ret_id is the entry's id. */
static int entry_write(struct ledger *ledger, struct store_ledger_entry *entry, const char *fields,
		       int64_t *ret_id)
{
	int r;

	r = store_begin(ledger->store);
	if (r < 0)
		return r;
	r = ledger_tlog_log(ledger->tlog, entry->kind, entry->household_id, fields,
			    &entry->log_index);
	if (r == 0)
		r = store_ledger_insert(ledger->store, entry, ret_id);
	if (r == 0)
		return store_commit(ledger->store);
	store_rollback(ledger->store);
	return r;
}

int ledger_payment_record(struct ledger *ledger, const struct ledger_payment_request *in,
			  int64_t *ret_id, struct ledger_error *err)
{
	static const char slug[] = "invalid-payment";
	struct store_ledger_entry entry = {
		.household_id = in->household_id,
		.kind = "payment",
		.amount_minor = -in->amount_minor,
		.method = in->method,
		.reference = in->reference,
		.received_on = in->received_on,
		.actor = in->actor,
	};
	char fields[256], today_text[DATE_TEXT_MAX];
	struct date received, today;
	int r;

	if (in->amount_minor <= 0 || in->amount_minor > TARIFF_MINOR_MAX)
		return ledger_refuse(err, LEDGER_INVALID, slug,
				     "amount_minor must be a whole number of minor units from 1 to "
				     "%" PRId64 " (a refund is an adjustment)",
				     TARIFF_MINOR_MAX);
	ledger_today(ledger, &today);
	if (date_parse(in->received_on, &received) < 0 || date_compare(&received, &today) > 0) {
		date_format(&today, today_text);
		return ledger_refuse(err, LEDGER_INVALID, slug,
				     "received_on must be a date YYYY-MM-DD, not after today (%s)",
				     today_text);
	}
	r = ledger_text_require(slug, "method", in->method, MAX_METHOD_BYTES, err);
	if (r == 0 && in->reference)
		r = ledger_text_require(slug, "reference", in->reference, MAX_REFERENCE_BYTES, err);
	if (r == 0)
		r = ledger_household_require(ledger, in->household_id, err);
	if (r < 0)
		return r;
	snprintf(fields, sizeof(fields), "amount_minor %" PRId64 "\ncurrency %s\nreceived_on %s\n",
		 in->amount_minor, ledger->config->currency, in->received_on);
	r = entry_write(ledger, &entry, fields, ret_id);
	if (r < 0)
		return ledger_storage_error(err, r, "recording the payment");
	return 0;
}

/* Records an adjustment or a reversal, which log the same fields. */
static int correction_write(struct ledger *ledger, struct store_ledger_entry *entry,
			    int64_t *ret_id, struct ledger_error *err)
{
	char *fields, reversal[48] = "";
	int r;

	if (entry->reverses)
		snprintf(reversal, sizeof(reversal), "reverses %" PRId64 "\n", entry->reverses);
	if (asprintf(&fields, "amount_minor %" PRId64 "\ncurrency %s\n%sreason %s\n",
		     entry->amount_minor, ledger->config->currency, reversal, entry->reason) < 0)
		return ledger_storage_error(err, -ENOMEM, "recording the adjustment");
	r = entry_write(ledger, entry, fields, ret_id);
	free(fields);
	/* Entries are reversed once: the store keeps reverses unique. */
	if (r == -EEXIST)
		return ledger_refuse(err, LEDGER_CONFLICT, "not-reversible",
				     "entry %" PRId64 " has been reversed already",
				     entry->reverses);
	if (r < 0)
		return ledger_storage_error(err, r, "recording the adjustment");
	return 0;
}

int ledger_adjustment_record(struct ledger *ledger, const struct ledger_adjustment_request *in,
			     int64_t *ret_id, struct ledger_error *err)
{
	static const char slug[] = "invalid-adjustment";
	struct store_ledger_entry entry = {
		.household_id = in->household_id,
		.kind = "adjustment",
		.amount_minor = in->amount_minor,
		.reason = in->reason,
		.actor = in->actor,
	};
	int r;

	r = ledger_text_require(slug, "reason", in->reason, MAX_REASON_BYTES, err);
	if (r < 0)
		return r;
	if (in->amount_minor == 0 || in->amount_minor > TARIFF_MINOR_MAX ||
	    in->amount_minor < -TARIFF_MINOR_MAX)
		return ledger_refuse(
			err, LEDGER_INVALID, slug,
			"amount_minor must be a non-zero whole number of minor units "
			"from -%" PRId64 " to %" PRId64
			" (positive: the household owes more); expected " LEDGER_ADJUSTMENT_SHAPE,
			TARIFF_MINOR_MAX, TARIFF_MINOR_MAX);
	r = ledger_household_require(ledger, in->household_id, err);
	if (r < 0)
		return r;
	return correction_write(ledger, &entry, ret_id, err);
}

int ledger_reversal_record(struct ledger *ledger, const struct ledger_reversal_request *in,
			   int64_t *ret_id, struct ledger_error *err)
{
	struct store_ledger_entry entry = {
		.kind = "reversal",
		.reverses = in->reverses,
		.reason = in->reason,
		.actor = in->actor,
	};
	json_t *original;
	bool reversal;
	int r;

	r = ledger_text_require("invalid-adjustment", "reason", in->reason, MAX_REASON_BYTES, err);
	if (r < 0)
		return r;
	r = store_ledger_get(ledger->store, in->reverses, &original);
	if (r == -ENOENT || r == -EINVAL)
		return ledger_refuse(err, LEDGER_NOT_FOUND, "not-found",
				     "there is no ledger entry %" PRId64, in->reverses);
	if (r < 0)
		return ledger_storage_error(err, r, "reading the ledger entry");
	reversal = !json_is_null(json_object_get(original, "reverses"));
	entry.household_id = json_integer_value(json_object_get(original, "household_id"));
	entry.amount_minor = -json_integer_value(json_object_get(original, "amount_minor"));
	json_decref(original);
	if (reversal)
		return ledger_refuse(err, LEDGER_CONFLICT, "not-reversible",
				     "entry %" PRId64 " is itself a reversal; record a new "
				     "adjustment instead",
				     in->reverses);
	return correction_write(ledger, &entry, ret_id, err);
}

/* Categories are named as tariffs name them in cost_sharing.categories. */
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

int ledger_expense_record(struct ledger *ledger, const struct ledger_expense_request *in,
			  int64_t *ret_id, struct ledger_error *err)
{
	static const char slug[] = "invalid-expense";
	int64_t log_index, total;
	struct period period;
	char fields[256];
	int r;

	r = ledger_period_parse(in->period, &period, err);
	if (r < 0)
		return r;
	if (!category_valid(in->category))
		return ledger_refuse(err, LEDGER_INVALID, slug,
				     "category must be 1 to %d of a-z, 0-9 and _, as tariffs name "
				     "them in cost_sharing.categories",
				     TARIFF_CATEGORY_MAX);
	if (in->amount_minor <= 0 || in->amount_minor > TARIFF_MINOR_MAX)
		return ledger_refuse(err, LEDGER_INVALID, slug,
				     "amount_minor must be a whole number of minor units from 1 to "
				     "%" PRId64,
				     TARIFF_MINOR_MAX);
	r = ledger_text_require(slug, "description", in->description, MAX_REASON_BYTES, err);
	if (r == 0 && in->document_ref)
		r = ledger_text_require(slug, "document_ref", in->document_ref, MAX_REFERENCE_BYTES,
					err);
	if (r == 0)
		r = ledger_period_open_require(ledger, "", in->period, "expense", err);
	if (r < 0)
		return r;
	/* A period's expenses add up within what one may be, so that no pool
	 * shared from them overflows when the period is billed. */
	r = store_expense_total(ledger->store, in->period, NULL, &total);
	if (r < 0)
		return ledger_storage_error(err, r, "reading the period's expenses");
	if (in->amount_minor > TARIFF_MINOR_MAX - total)
		return ledger_refuse(err, LEDGER_INVALID, slug,
				     "a period's expenses add up to at most %" PRId64
				     " minor units, and %s has %" PRId64 " already",
				     TARIFF_MINOR_MAX, in->period, total);
	snprintf(fields, sizeof(fields),
		 "period %s\ncategory %s\namount_minor %" PRId64 "\ncurrency %s\n", in->period,
		 in->category, in->amount_minor, ledger->config->currency);
	r = store_begin(ledger->store);
	if (r < 0)
		return ledger_storage_error(err, r, "recording the expense");
	r = ledger_tlog_log(ledger->tlog, "expense", 0, fields, &log_index);
	if (r == 0)
		r = store_expense_insert(ledger->store, in->period, in->category, in->amount_minor,
					 in->description, in->document_ref, in->actor, log_index,
					 ret_id);
	if (r == 0)
		r = store_commit(ledger->store);
	else
		store_rollback(ledger->store);
	if (r < 0)
		return ledger_storage_error(err, r, "recording the expense");
	return 0;
}
