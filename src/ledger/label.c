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
#include <uv.h>

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

/* An hour's bytes of a group, added up over its households. */
struct label_hour {
	bool seen;
	uint64_t bytes_up, bytes_down, local_up, local_down;
};

/* The households of a profile taken from a period (source.invoiced[first]
 * and the n - 1 after it), how many of them were read, and their hours
 * added up from the period's first whole hour. */
struct label_group {
	size_t first, n, read;
	struct label_hour *hours;
};

struct ledger_label {
	struct ledger *ledger;
	/* The last closed period when it was begun ("" for none): the label
	 * is made again when another has been closed since. */
	char closed[PERIOD_TEXT_MAX];
	struct label_source source;
	struct label_group groups[LABEL_KINDS];
	size_t n_hours, group; /* the group being read */
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

/* The households nearest the percentile's nearest rank in a list of n,
 * max(5, ceil(n / 20)) of them in a window kept inside the list. */
static void group_place(size_t n, unsigned percentile, struct label_group *group)
{
	size_t size = (n + 19) / 20, rank, first;

	if (size < LABEL_GROUP_MIN)
		size = LABEL_GROUP_MIN;
	/* The nearest rank: the smallest rank whose share of the list is at
	 * least the percentile, counted from 1. */
	rank = (percentile * n + 99) / 100;
	rank = rank < 1 ? 1 : rank;
	first = rank - 1 > size / 2 ? rank - 1 - size / 2 : 0;
	first = first + size > n ? n - size : first;
	group->first = first;
	group->n = size;
}

/* The last closed period as the profiles' source, when it billed enough
 * households; else the source stays the configuration. */
static int source_load(struct ledger_label *label)
{
	struct ledger *ledger = label->ledger;
	struct label_source *source = &label->source;
	int64_t hour0;
	int r;

	r = store_period_last_closed(ledger->store, label->closed);
	if (r == -ENOENT)
		return 0;
	if (r == 0)
		r = store_usage_invoiced(ledger->store, label->closed, &source->invoiced,
					 &source->n_invoiced);
	if (r < 0 || source->n_invoiced < LABEL_PERIOD_MIN)
		return r;
	for (size_t i = 0; i < source->n_invoiced; i++)
		if (source->invoiced[i].bytes_up > INT64_MAX ||
		    source->invoiced[i].bytes_down > INT64_MAX)
			return -ERANGE;
	source->from_period = true;
	if (period_parse(label->closed, &source->period) < 0)
		return -EIO;
	qsort(source->invoiced, source->n_invoiced, sizeof(*source->invoiced), invoiced_compare);
	period_format(&source->period, source->period_text);
	r = period_bounds(ledger->config->zone, &source->period, &source->start_s, &source->end_s);
	if (r < 0)
		return r;
	/* In a zone off the whole hour, the hour the period starts in counts
	 * from the period's start. */
	hour0 = source->start_s - source->start_s % HOUR_S;
	label->n_hours = (size_t)((source->end_s - hour0 + HOUR_S - 1) / HOUR_S);
	for (size_t k = 0; k < LABEL_KINDS; k++) {
		group_place(source->n_invoiced, label_kinds[k].percentile, &label->groups[k]);
		label->groups[k].hours = calloc(label->n_hours, sizeof(struct label_hour));
		if (!label->groups[k].hours)
			return -ENOMEM;
	}
	return 0;
}

/* The configuration as the profiles' source, priced in the tariff's first
 * month. */
static int source_configured(const struct ledger *ledger, const struct tariff *tariff,
			     struct label_source *source)
{
	source->period = (struct period){ tariff->valid_from.year, tariff->valid_from.month };
	period_format(&source->period, source->period_text);
	return period_bounds(ledger->config->zone, &source->period, &source->start_s,
			     &source->end_s);
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

/* Adds one household's hours of the period to its group's. */
static int group_read(struct ledger_label *label, struct label_group *group)
{
	const struct label_source *source = &label->source;
	int64_t hour0 = source->start_s - source->start_s % HOUR_S;
	struct store_usage_row *rows = NULL;
	size_t n_rows = 0;
	int r;

	r = store_usage_rows(label->ledger->store,
			     source->invoiced[group->first + group->read].household_id, hour0,
			     source->end_s, STORE_USAGE_HOURS, &rows, &n_rows);
	for (size_t i = 0; r == 0 && i < n_rows; i++) {
		struct label_hour *hour = &group->hours[(rows[i].start - hour0) / HOUR_S];

		hour->seen = true;
		if (__builtin_add_overflow(hour->bytes_up, rows[i].bytes_up, &hour->bytes_up) ||
		    __builtin_add_overflow(hour->bytes_down, rows[i].bytes_down,
					   &hour->bytes_down) ||
		    __builtin_add_overflow(hour->local_up, rows[i].local_up, &hour->local_up) ||
		    __builtin_add_overflow(hour->local_down, rows[i].local_down, &hour->local_down))
			r = -ERANGE;
	}
	free(rows);
	if (r == 0)
		group->read++;
	return r;
}

/* A profile from a period: its group's usage averaged hour by hour. */
static int profile_from_period(const struct ledger_label *label, const struct label_group *group,
			       struct label_profile *profile)
{
	const struct label_source *source = &label->source;
	int64_t hour0 = source->start_s - source->start_s % HOUR_S;
	int r = 0;

	profile->households = group->n;
	profile->slices = calloc(label->n_hours + 1, sizeof(*profile->slices));
	if (!profile->slices)
		return -ENOMEM;
	for (size_t h = 0; r == 0 && h < label->n_hours; h++) {
		const struct label_hour *hour = &group->hours[h];
		int64_t start = hour0 + (int64_t)h * HOUR_S;
		struct rate_slice slice = { .start_s = start < source->start_s ? source->start_s
									       : start };

		if (!hour->seen)
			continue;
		r = average(hour->bytes_up, group->n, &slice.bytes_up);
		if (r == 0)
			r = average(hour->bytes_down, group->n, &slice.bytes_down);
		if (r == 0)
			r = average(hour->local_up, group->n, &slice.local_up);
		if (r == 0)
			r = average(hour->local_down, group->n, &slice.local_down);
		if (r == 0)
			r = profile_add(profile, &slice);
	}
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
			 const struct tariff *tariff, const struct ledger_label *label,
			 json_t **ret_json)
{
	const struct label_source *source = &label->source;
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
			r = profile_from_period(label, &label->groups[k], &profile);
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
			  const struct tariff *tariff, const struct ledger_label *label,
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
	r = profiles_json(ledger, stored, tariff, label, &profiles);
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

void ledger_label_free(struct ledger_label *label)
{
	if (!label)
		return;
	free(label->source.invoiced);
	for (size_t k = 0; k < LABEL_KINDS; k++)
		free(label->groups[k].hours);
	free(label);
}

static int label_begin(struct ledger *ledger, struct ledger_label **ret_label)
{
	struct ledger_label *label;
	int r;

	label = calloc(1, sizeof(*label));
	if (!label)
		return -ENOMEM;
	label->ledger = ledger;
	r = source_load(label);
	if (r < 0) {
		ledger_label_free(label);
		return r;
	}
	/* Profiles from the configuration need no reading. */
	if (!label->source.from_period)
		label->group = LABEL_KINDS;
	*ret_label = label;
	return 0;
}

/* Reads households of the groups, one at a time, until the deadline. */
static int label_read(struct ledger_label *label, uint64_t deadline_ns, bool *ret_done)
{
	int r;

	while (label->group < LABEL_KINDS) {
		struct label_group *group = &label->groups[label->group];

		if (group->read == group->n) {
			label->group++;
			continue;
		}
		r = group_read(label, group);
		if (r < 0)
			return r;
		if (uv_hrtime() >= deadline_ns)
			break;
	}
	*ret_done = label->group == LABEL_KINDS;
	return 0;
}

int ledger_label_new(struct ledger *ledger, struct ledger_label **ret_label,
		     struct ledger_error *err)
{
	int r;

	r = label_begin(ledger, ret_label);
	return r < 0 ? ledger_storage_error(err, r, "reading the last closed period for a label")
		     : 0;
}

int ledger_label_step(struct ledger_label *label, uint64_t deadline_ns, bool *ret_done,
		      struct ledger_error *err)
{
	int r;

	r = label_read(label, deadline_ns, ret_done);
	return r < 0 ? ledger_storage_error(err, r, "reading usage for a label") : 0;
}

/* The label read whole: for a publish that was not given one, and for one
 * whose period is no longer the last closed. */
static int label_make(struct ledger *ledger, struct ledger_label **ret_label)
{
	struct ledger_label *label;
	bool done;
	int r;

	r = label_begin(ledger, &label);
	if (r < 0)
		return r;
	r = label_read(label, UINT64_MAX, &done);
	if (r < 0) {
		ledger_label_free(label);
		return r;
	}
	*ret_label = label;
	return 0;
}

int ledger_label_publish(struct ledger *ledger, const struct store_tariff *stored,
			 const struct tariff *tariff, struct ledger_label *label,
			 struct ledger_error *err)
{
	struct ledger_label *made = NULL;
	struct store_label stored_label = { .tariff_id = stored->id };
	char closed[PERIOD_TEXT_MAX] = "";
	char *text = NULL, *fields = NULL;
	int r;

	/* A period closed since the label was begun is its source now. */
	r = store_period_last_closed(ledger->store, closed);
	if (r == -ENOENT)
		r = 0;
	if (r == 0 && (!label || strcmp(closed, label->closed) != 0)) {
		r = label_make(ledger, &made);
		label = made;
	}
	if (r < 0)
		return ledger_storage_error(err, r, "reading usage for the tariff's label");
	if (!label->source.from_period)
		r = source_configured(ledger, tariff, &label->source);
	if (r == 0)
		r = label_document(ledger, stored, tariff, label, &stored_label.document);
	if (r == -ERANGE || r == -EINVAL) {
		r = ledger_refuse(err, LEDGER_POLICY, "invalid-tariff",
				  "the tariff's label cannot be made: what it charges the profiles "
				  "of %s (see docs/tariffs.md, \"Label\") does not fit in 64 bits; "
				  "check its prices and cap",
				  label->source.period_text);
		goto out;
	}
	if (r < 0) {
		r = ledger_storage_error(err, r, "making the tariff's label");
		goto out;
	}
	ledger_sha256_hex(stored_label.document, stored_label.sha256);
	if (asprintf(&text, "%s\n", stored_label.document) < 0 ||
	    asprintf(&fields, "tariff %" PRId64 "\nsha256 %s\nprofiles %s\nperiod %s\n", stored->id,
		     stored_label.sha256, label->source.from_period ? "period" : "configuration",
		     label->source.period_text) < 0) {
		r = ledger_storage_error(err, -ENOMEM, "making the tariff's label");
		goto out;
	}
	r = ledger_tlog_sign(ledger->tlog, text, strlen(text), &stored_label.signature);
	if (r == 0)
		r = ledger_tlog_log(ledger->tlog, "label-published", 0, fields,
				    &stored_label.log_index);
	if (r == 0)
		r = store_label_insert(ledger->store, &stored_label);
	if (r < 0)
		r = ledger_storage_error(err, r, "storing the tariff's label");
out:
	free(text);
	free(fields);
	free(stored_label.document);
	free(stored_label.signature);
	ledger_label_free(made);
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
