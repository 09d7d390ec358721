/* Labels: what a published tariff means for a household like yours. When a
 * tariff is published, three profiles of use (light, typical, heavy) are
 * priced under it as quotes: from the cooperative's last closed period when
 * it billed enough households to hide each one in a group, else from the
 * [label] section of the configuration. The label is signed with the log key
 * like the tariff, logged (label-published) and stored, never to change. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "coopbill/bill.h"
#include "coopbill/config.h"
#include "coopbill/currency.h"
#include "coopbill/date.h"
#include "coopbill/ledger.h"
#include "coopbill/money.h"
#include "coopbill/period.h"
#include "coopbill/rate.h"
#include "coopbill/store.h"
#include "coopbill/tariff.h"

#define HOUR_S 3600
/* A period is the profiles' source when it billed at least this many
 * households; no profile is made of fewer than LABEL_GROUP_MIN, so that no
 * household can be recognised in one. */
#define LABEL_PERIOD_MIN 10
#define LABEL_GROUP_MIN	 5

struct label_kind {
	const char *name;
	unsigned percentile;
};
static const struct label_kind label_kinds[] = {
	{ "light", 25 },
	{ "typical", 50 },
	{ "heavy", 90 },
};
#define LABEL_KINDS (sizeof(label_kinds) / sizeof(label_kinds[0]))

/* Where the profiles come from: a closed period's invoices (by internet
 * bytes, ascending), or the configuration; and the month they are priced
 * in. */
struct label_source {
	bool from_period;
	struct period period;
	char period_text[PERIOD_TEXT_MAX];
	int64_t start_s, end_s;
	struct store_usage_row *invoiced;
	size_t n_invoiced;
};

/* One profile: its hourly usage, what it adds up to, and how many
 * households it was averaged over (0: configured). */
struct label_profile {
	struct rate_slice *slices;
	size_t n_slices;
	struct rate_usage usage;
	size_t households;
};

static uint64_t internet_bytes(const struct store_usage_row *row)
{
	return row->bytes_up + row->bytes_down;
}

/* Lighter first; equal usage by household id, so that the order is one. */
static int invoiced_compare(const void *a, const void *b)
{
	const struct store_usage_row *x = a, *y = b;
	uint64_t bx = internet_bytes(x), by = internet_bytes(y);

	if (bx != by)
		return bx < by ? -1 : 1;
	return (x->household_id > y->household_id) - (x->household_id < y->household_id);
}

/* The last closed period when it billed enough households, else the
 * tariff's first month. */
static int source_load(struct ledger *ledger, const struct tariff *tariff,
		       struct label_source *source)
{
	char closed[PERIOD_TEXT_MAX];
	int r;

	r = store_period_last_closed(ledger->store, closed);
	if (r == 0)
		r = store_usage_invoiced(ledger->store, closed, &source->invoiced,
					 &source->n_invoiced);
	if (r < 0 && r != -ENOENT)
		return r;
	if (r == 0 && source->n_invoiced >= LABEL_PERIOD_MIN) {
		for (size_t i = 0; i < source->n_invoiced; i++)
			if (source->invoiced[i].bytes_up > INT64_MAX ||
			    source->invoiced[i].bytes_down > INT64_MAX)
				return -ERANGE;
		source->from_period = true;
		r = period_parse(closed, &source->period);
		if (r < 0)
			return -EIO;
		qsort(source->invoiced, source->n_invoiced, sizeof(*source->invoiced),
		      invoiced_compare);
	} else {
		source->period =
			(struct period){ tariff->valid_from.year, tariff->valid_from.month };
	}
	period_format(&source->period, source->period_text);
	return period_bounds(ledger->config->zone, &source->period, &source->start_s,
			     &source->end_s);
}

static void source_clear(struct label_source *source)
{
	free(source->invoiced);
}

static int profile_add(struct label_profile *profile, const struct rate_slice *slice)
{
	if (__builtin_add_overflow(profile->usage.bytes_up, slice->bytes_up,
				   &profile->usage.bytes_up) ||
	    __builtin_add_overflow(profile->usage.bytes_down, slice->bytes_down,
				   &profile->usage.bytes_down) ||
	    __builtin_add_overflow(profile->usage.local_up, slice->local_up,
				   &profile->usage.local_up) ||
	    __builtin_add_overflow(profile->usage.local_down, slice->local_down,
				   &profile->usage.local_down))
		return -ERANGE;
	profile->slices[profile->n_slices++] = *slice;
	return 0;
}

/* A configured profile: its GB a month each way, spread evenly over the
 * hours of the month (the first hours take the bytes left over). */
static int profile_configured(const struct label_source *source, unsigned down_gb, unsigned up_gb,
			      struct label_profile *profile)
{
	size_t hours = (size_t)((source->end_s - source->start_s) / HOUR_S);
	uint64_t down = (uint64_t)down_gb * TARIFF_BYTES_PER_GB;
	uint64_t up = (uint64_t)up_gb * TARIFF_BYTES_PER_GB;
	int r = 0;

	profile->slices = calloc(hours + 1, sizeof(*profile->slices));
	if (!profile->slices)
		return -ENOMEM;
	for (size_t h = 0; r == 0 && h < hours; h++) {
		const struct rate_slice slice = {
			.start_s = source->start_s + (int64_t)h * HOUR_S,
			.bytes_up = up / hours + (h < up % hours),
			.bytes_down = down / hours + (h < down % hours),
		};

		r = profile_add(profile, &slice);
	}
	return r;
}

/* An hour's bytes of a group, averaged over its households and rounded
 * half up by the one rule. */
static int average(uint64_t sum, size_t households, uint64_t *ret_average)
{
	int64_t quotient;
	int r;

	if (sum > INT64_MAX)
		return -ERANGE;
	r = money_mul_div((int64_t)sum, 1, (int64_t)households, &quotient);
	if (r == 0)
		*ret_average = (uint64_t)quotient;
	return r;
}

/* A profile from a period: the households nearest the percentile's
 * nearest rank, max(5, ceil(n / 20)) of them in a window kept inside the
 * list, and their hourly usage in the period averaged hour by hour. */
static int profile_from_period(struct ledger *ledger, const struct label_source *source,
			       unsigned percentile, struct label_profile *profile)
{
	size_t n = source->n_invoiced, group = (n + 19) / 20, rank, first;
	struct store_usage_row *rows = NULL;
	size_t n_rows = 0, pos = 0;
	char *ids = NULL;
	int r = 0;

	if (group < LABEL_GROUP_MIN)
		group = LABEL_GROUP_MIN;
	/* The nearest rank: the smallest rank whose share of the list is at
	 * least the percentile, counted from 1. */
	rank = (percentile * n + 99) / 100;
	rank = rank < 1 ? 1 : rank;
	first = rank - 1 > group / 2 ? rank - 1 - group / 2 : 0;
	first = first + group > n ? n - group : first;
	ids = malloc(group * 21 + 3);
	if (!ids)
		return -ENOMEM;
	ids[pos++] = '[';
	for (size_t i = first; i < first + group; i++)
		pos += (size_t)sprintf(ids + pos, "%s%" PRId64, i > first ? "," : "",
				       source->invoiced[i].household_id);
	strcpy(ids + pos, "]");
	/* In a zone off the whole hour, the hour the period starts in counts
	 * from the period's start. */
	r = store_usage_group_hours(ledger->store, ids, source->start_s - source->start_s % HOUR_S,
				    source->end_s, &rows, &n_rows);
	free(ids);
	if (r < 0)
		return r;
	profile->households = group;
	profile->slices = calloc(n_rows + 1, sizeof(*profile->slices));
	if (!profile->slices)
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < n_rows; i++) {
		struct rate_slice slice = { .start_s = rows[i].start < source->start_s
							       ? source->start_s
							       : rows[i].start };

		r = average(rows[i].bytes_up, group, &slice.bytes_up);
		if (r == 0)
			r = average(rows[i].bytes_down, group, &slice.bytes_down);
		if (r == 0)
			r = average(rows[i].local_up, group, &slice.local_up);
		if (r == 0)
			r = average(rows[i].local_down, group, &slice.local_down);
		if (r == 0)
			r = profile_add(profile, &slice);
	}
	free(rows);
	return r;
}

/* A profile's estimated share of the source period's costs, had every
 * household billed then followed the tariff. */
static int share_estimate(struct ledger *ledger, const struct tariff *tariff,
			  const struct label_source *source, const struct label_profile *profile,
			  struct rate_cost_share *ret_share)
{
	enum tariff_direction direction = tariff->cost_sharing_direction;
	uint64_t total_bytes = 0, bytes;
	int64_t pool_minor = 0, category_minor;
	int r = 0;

	for (size_t c = 0; r == 0 && c < tariff->n_categories; c++) {
		r = store_expense_total(ledger->store, source->period_text, tariff->categories[c],
					&category_minor);
		if (r == 0)
			r = money_add(pool_minor, category_minor, &pool_minor);
	}
	for (size_t i = 0; r == 0 && i < source->n_invoiced; i++) {
		const struct rate_usage usage = { .bytes_up = source->invoiced[i].bytes_up,
						  .bytes_down = source->invoiced[i].bytes_down };

		r = rate_usage_bytes(&usage, direction, &bytes);
		if (r == 0 && __builtin_add_overflow(total_bytes, bytes, &total_bytes))
			r = -ERANGE;
	}
	if (r == 0)
		r = rate_usage_bytes(&profile->usage, direction, &bytes);
	if (r == 0)
		r = rate_cost_share_estimate(pool_minor, tariff->equal_bp, source->n_invoiced,
					     total_bytes, bytes, ret_share);
	return r;
}

/* The profile as the label shows it, with the invoice bill_quote() makes
 * of its usage for a member the whole month. */
static int profile_json(struct ledger *ledger, const struct store_tariff *stored,
			const struct tariff *tariff, const struct label_source *source,
			const struct label_kind *kind, const struct label_profile *profile,
			json_t **ret_json)
{
	struct rate_cost_share share;
	bool estimated = source->from_period && tariff->has_cost_sharing;
	char *invoice_text = NULL;
	json_t *json = NULL, *invoice;
	int r = 0;

	if (profile->usage.bytes_up > INT64_MAX || profile->usage.bytes_down > INT64_MAX ||
	    profile->usage.local_up > INT64_MAX || profile->usage.local_down > INT64_MAX)
		return -ERANGE;
	if (estimated)
		r = share_estimate(ledger, tariff, source, profile, &share);
	if (r == 0)
		r = bill_quote(
			&(struct bill_quote_request){
				.zone = ledger->config->zone,
				.period = &source->period,
				.tariff_id = stored->id,
				.tariff = tariff,
				.tariff_sha256 = stored->sha256,
				.member_from_s = source->start_s,
				.member_to_s = INT64_MAX,
				.slices = profile->slices,
				.n_slices = profile->n_slices,
				.cost_share = estimated ? &share : NULL,
			},
			&invoice_text);
	if (r < 0)
		return r;
	invoice = json_loads(invoice_text, JSON_REJECT_DUPLICATES, NULL);
	free(invoice_text);
	if (invoice)
		json = json_pack("{s:I, s:I, s:I, s:I, s:O, s:o}", "bytes_up",
				 (json_int_t)profile->usage.bytes_up, "bytes_down",
				 (json_int_t)profile->usage.bytes_down, "local_up",
				 (json_int_t)profile->usage.local_up, "local_down",
				 (json_int_t)profile->usage.local_down, "total_minor",
				 json_object_get(invoice, "total_minor"), "invoice", invoice);
	if (json && source->from_period &&
	    (json_object_set_new(json, "percentile", json_integer(kind->percentile)) < 0 ||
	     json_object_set_new(json, "households",
				 json_integer((json_int_t)profile->households)) < 0 ||
	     (estimated && json_object_set_new(json, "cost_share_estimated", json_true()) < 0))) {
		json_decref(json);
		json = NULL;
	}
	if (!json)
		return -ENOMEM;
	*ret_json = json;
	return 0;
}

static int profiles_json(struct ledger *ledger, const struct store_tariff *stored,
			 const struct tariff *tariff, const struct label_source *source,
			 json_t **ret_json)
{
	const struct config *config = ledger->config;
	const unsigned configured[LABEL_KINDS][2] = {
		{ config->label_light_down_gb, config->label_light_up_gb },
		{ config->label_typical_down_gb, config->label_typical_up_gb },
		{ config->label_heavy_down_gb, config->label_heavy_up_gb },
	};
	json_t *json, *profile_doc;
	int r = 0;

	json = json_pack("{s:s, s:s}", "source", source->from_period ? "period" : "configuration",
			 "period", source->period_text);
	if (!json)
		return -ENOMEM;
	if (source->from_period &&
	    json_object_set_new(json, "households", json_integer((json_int_t)source->n_invoiced)) <
		    0)
		r = -ENOMEM;
	for (size_t k = 0; r == 0 && k < LABEL_KINDS; k++) {
		struct label_profile profile = { 0 };

		if (source->from_period)
			r = profile_from_period(ledger, source, label_kinds[k].percentile,
						&profile);
		else
			r = profile_configured(source, configured[k][0], configured[k][1],
					       &profile);
		if (r == 0)
			r = profile_json(ledger, stored, tariff, source, &label_kinds[k], &profile,
					 &profile_doc);
		if (r == 0 && json_object_set_new(json, label_kinds[k].name, profile_doc) < 0)
			r = -ENOMEM;
		free(profile.slices);
	}
	if (r < 0) {
		json_decref(json);
		return r;
	}
	*ret_json = json;
	return 0;
}

/* The label's document: the tariff it describes, its terms, the notice
 * members are owed and the three profiles, as canonical JSON. */
static int label_document(struct ledger *ledger, const struct store_tariff *stored,
			  const struct tariff *tariff, const struct label_source *source,
			  char **ret_document)
{
	char valid_from[DATE_TEXT_MAX];
	unsigned exponent;
	json_t *doc = NULL, *terms, *profiles = NULL;
	char *text = NULL;
	int r;

	if (currency_exponent(tariff->currency, &exponent) < 0)
		return -EINVAL;
	date_format(&tariff->valid_from, valid_from);
	terms = json_loads(tariff->canonical_json, JSON_REJECT_DUPLICATES, NULL);
	if (!terms)
		return -ENOMEM;
	r = profiles_json(ledger, stored, tariff, source, &profiles);
	if (r < 0) {
		json_decref(terms);
		return r;
	}
	doc = json_pack("{s:{s:I, s:s, s:s, s:s}, s:s, s:i, s:i, s:o, s:o}", "tariff", "id",
			(json_int_t)stored->id, "name", tariff->name, "sha256", stored->sha256,
			"valid_from", valid_from, "currency", tariff->currency, "exponent",
			(int)exponent, "notice_days", (int)ledger->config->notice_days, "terms",
			terms, "profiles", profiles);
	if (doc && tariff->emergency_reason &&
	    json_object_set_new(doc, "emergency_reason", json_string(tariff->emergency_reason)) <
		    0) {
		json_decref(doc);
		doc = NULL;
	}
	if (doc)
		text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(doc);
	if (!text)
		return -ENOMEM;
	*ret_document = text;
	return 0;
}

int ledger_label_publish(struct ledger *ledger, const struct store_tariff *stored,
			 const struct tariff *tariff, struct ledger_error *err)
{
	struct label_source source = { 0 };
	struct store_label label = { .tariff_id = stored->id };
	char *text = NULL, *fields = NULL;
	int r;

	r = source_load(ledger, tariff, &source);
	if (r == 0)
		r = label_document(ledger, stored, tariff, &source, &label.document);
	if (r == -ERANGE || r == -EINVAL) {
		r = ledger_refuse(err, LEDGER_POLICY, "invalid-tariff",
				  "the tariff's label cannot be made: what it charges the profiles "
				  "of %s (see docs/tariffs.md, \"Label\") does not fit in 64 bits; "
				  "check its prices and cap",
				  source.period_text);
		goto out;
	}
	if (r < 0) {
		r = ledger_storage_error(err, r, "making the tariff's label");
		goto out;
	}
	ledger_sha256_hex(label.document, label.sha256);
	if (asprintf(&text, "%s\n", label.document) < 0 ||
	    asprintf(&fields, "tariff %" PRId64 "\nsha256 %s\nprofiles %s\nperiod %s\n", stored->id,
		     label.sha256, source.from_period ? "period" : "configuration",
		     source.period_text) < 0) {
		r = ledger_storage_error(err, -ENOMEM, "making the tariff's label");
		goto out;
	}
	r = ledger_tlog_sign(ledger->tlog, text, strlen(text), &label.signature);
	if (r == 0)
		r = ledger_tlog_log(ledger->tlog, "label-published", 0, fields, &label.log_index);
	if (r == 0)
		r = store_label_insert(ledger->store, &label);
	if (r < 0)
		r = ledger_storage_error(err, r, "storing the tariff's label");
out:
	free(text);
	free(fields);
	free(label.document);
	free(label.signature);
	source_clear(&source);
	return r;
}

int ledger_label_get(struct ledger *ledger, int64_t tariff_id, char **ret_reply,
		     struct ledger_error *err)
{
	struct store_tariff stored = { 0 };
	struct store_label label = { 0 };
	json_t *reply = NULL, *document;
	char *text = NULL;
	int r;

	r = store_tariff_load(ledger->store, tariff_id, &stored);
	free(stored.document);
	if (r == -ENOENT)
		return ledger_refuse(err, LEDGER_NOT_FOUND, "not-found",
				     "there is no tariff %" PRId64, tariff_id);
	if (r < 0)
		return ledger_storage_error(err, r, "reading the tariff");
	if (!stored.published)
		return ledger_refuse(err, LEDGER_NOT_FOUND, "not-found",
				     "tariff %" PRId64 " is not published yet; its label is made "
				     "when it is published",
				     tariff_id);
	r = store_label_get(ledger->store, tariff_id, &label);
	if (r == -ENOENT)
		return ledger_refuse(err, LEDGER_NOT_FOUND, "not-found",
				     "tariff %" PRId64
				     " was published before coopbill made labels, "
				     "so it has none; a tariff published from now on has one",
				     tariff_id);
	if (r < 0)
		return ledger_storage_error(err, r, "reading the tariff's label");
	document = json_loads(label.document, JSON_REJECT_DUPLICATES, NULL);
	if (!document) {
		store_label_clear(&label);
		return ledger_refuse(err, LEDGER_BROKEN, "broken-label",
				     "the stored label of tariff %" PRId64 " does not parse",
				     tariff_id);
	}
	reply = json_pack("{s:I, s:s, s:s, s:I, s:s, s:o}", "tariff_id", (json_int_t)tariff_id,
			  "sha256", label.sha256, "signature", label.signature, "log_index",
			  (json_int_t)label.log_index, "published_at", label.published_at,
			  "document", document);
	store_label_clear(&label);
	if (reply)
		text = json_dumps(reply, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(reply);
	if (!text)
		return ledger_storage_error(err, -ENOMEM, "reading the tariff's label");
	*ret_reply = text;
	return 0;
}
