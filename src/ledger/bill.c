/* Billing from the database for one period: who was a member, which
 * published tariff each follows (the household's own, else the one in force
 * for the cooperative), the expenses each cost-sharing tariff splits among
 * its households, and each household's invoice from the rating engine. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "coopbill/bill.h"
#include "coopbill/date.h"
#include "coopbill/money.h"
#include "coopbill/rate.h"
#include "coopbill/store.h"
#include "coopbill/tariff.h"

/* About how many rows one usage query reads (whole hours of every member's
 * usage, one hour at least), and the members whose imports one query reads.
 * Hours of many members a query, rather than an hour or a member, as on
 * PostgreSQL every query is a round trip. */
#define BILL_SCAN_ROWS	     65536
#define BILL_IMPORTS_MEMBERS 64

struct bill_tariff {
	int64_t id;
	char *sha256;
	struct tariff *tariff;
	int64_t pool_minor;
};

struct bill_member {
	int64_t id;
	int64_t member_from_s;
	int64_t member_to_s;
	size_t tariff; /* index into run->tariffs */
	struct rate_usage usage;
	bool has_share;
	struct rate_cost_share share;
	struct store_imported imported; /* the part of usage imported */
};

/* A member's usage summed under a re-pricing's tariff, and the share of that
 * tariff's costs it would have had. */
struct bill_reprice {
	struct rate_usage usage;
	bool has_share;
	struct rate_cost_share share;
};

struct bill_run {
	struct store *store;
	struct period period;
	char period_text[PERIOD_TEXT_MAX];
	int64_t start_s, end_s, usage_end_s;
	struct rate_zone zone;
	struct bill_tariff *tariffs;
	size_t n_tariffs;
	struct bill_member *members;
	size_t n_members;
	/* Household id → index into members + 1 (0: not a member). */
	uint32_t *member_by_id;
	int64_t max_id;
	/* Whether buckets must be read where hourly totals exist (a tariff with
	 * windows off the hour, or a zone off the hour). */
	bool fine;
	int64_t scan_s;	     /* the stretch of time one usage query reads */
	int64_t scanned_to;  /* usage before this is summed */
	size_t imports_next; /* the next member whose imports to read */
	bool scanned;
	/* A re-pricing: the usage of members [reprice_first, reprice_end)
	 * (one, or all) summed under another tariff too, each in
	 * reprices[index - reprice_first]. */
	bool repricing;
	size_t reprice_first, reprice_end;
	size_t reprice_tariff;
	struct bill_reprice *reprices;
};

static bool zone_whole_hours(const struct rate_zone *zone)
{
	for (size_t i = 0; i < zone->n; i++)
		if (zone->spans[i].offset_s % 3600 != 0)
			return false;
	return true;
}

static bool windows_whole_hours(const struct tariff *tariff)
{
	for (size_t c = 0; c < tariff->n_charges; c++)
		for (size_t w = 0; w < tariff->charges[c].n_windows; w++)
			if (tariff->charges[c].windows[w].from_min % 60 != 0 ||
			    tariff->charges[c].windows[w].to_min % 60 != 0)
				return false;
	return true;
}

/* The index of tariff id in the run, loading and parsing it on first use. */
static int tariff_index(struct bill_run *run, int64_t id, size_t *ret_index)
{
	struct bill_tariff *tariffs, *entry;
	const char *document;
	json_t *row;
	char err[256];
	int r;

	for (size_t i = 0; i < run->n_tariffs; i++) {
		if (run->tariffs[i].id == id) {
			*ret_index = i;
			return 0;
		}
	}
	r = store_tariff_get(run->store, id, &row);
	if (r < 0)
		return r;
	tariffs = realloc(run->tariffs, (run->n_tariffs + 1) * sizeof(*tariffs));
	if (!tariffs) {
		json_decref(row);
		return -ENOMEM;
	}
	run->tariffs = tariffs;
	entry = &tariffs[run->n_tariffs];
	*entry = (struct bill_tariff){ .id = id };
	document = json_string_value(json_object_get(row, "document"));
	r = tariff_parse(document, strlen(document), &entry->tariff, err, sizeof(err));
	if (r == 0) {
		entry->sha256 = strdup(json_string_value(json_object_get(row, "sha256")));
		if (!entry->sha256) {
			tariff_free(entry->tariff);
			r = -ENOMEM;
		}
	}
	json_decref(row);
	if (r < 0)
		return r;
	if (!windows_whole_hours(entry->tariff))
		run->fine = true;
	*ret_index = run->n_tariffs++;
	return 0;
}

/* The tariff a household follows in the run's period. */
static int member_tariff(struct bill_run *run, int64_t own_id, int64_t default_id,
			 size_t *ret_index)
{
	const struct date period_start = { run->period.year, run->period.month, 1 };
	size_t index;
	int r;

	if (own_id) {
		r = tariff_index(run, own_id, &index);
		if (r < 0)
			return r;
		/* A household's own tariff applies from its valid_from on. */
		if (date_compare(&run->tariffs[index].tariff->valid_from, &period_start) <= 0) {
			*ret_index = index;
			return 0;
		}
	}
	return tariff_index(run, default_id, ret_index);
}

/* A membership runs from the start of its joining day to the end of its
 * leaving day, local days both. */
static int64_t membership_edge(const struct tz_zone *zone, const char *date_text, bool end)
{
	struct date date;
	int64_t edge_s;

	if (date_parse(date_text, &date) < 0 || (end ? period_day_end(zone, &date, &edge_s)
						     : period_day_start(zone, &date, &edge_s)) < 0)
		return 0;
	return edge_s;
}

static int members_load(struct bill_run *run, const struct tz_zone *zone, int64_t default_id)
{
	struct household *households;
	size_t n;
	int r;

	r = store_household_list(run->store, &households, &n);
	if (r < 0)
		return r;
	run->members = calloc(n ? n : 1, sizeof(*run->members));
	if (!run->members) {
		store_households_free(households, n);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct bill_member member = { .id = households[i].id,
					      .member_from_s = membership_edge(
						      zone, households[i].joined_at, false),
					      .member_to_s = INT64_MAX };

		if (households[i].left_at[0])
			member.member_to_s = membership_edge(zone, households[i].left_at, true);
		if (member.member_from_s >= run->end_s || member.member_to_s <= run->start_s)
			continue;
		r = member_tariff(run, households[i].tariff_id, default_id, &member.tariff);
		if (r < 0)
			break;
		run->members[run->n_members++] = member;
		run->max_id = member.id;
	}
	store_households_free(households, n);
	if (r < 0)
		return r;
	/* Ids are row ids, normally dense enough for a direct index; sparse ones
	 * are searched. */
	if (run->max_id > 4 * (int64_t)run->n_members + 65536)
		return 0;
	run->member_by_id = calloc((size_t)run->max_id + 1, sizeof(*run->member_by_id));
	if (!run->member_by_id)
		return -ENOMEM;
	for (size_t i = 0; i < run->n_members; i++)
		run->member_by_id[run->members[i].id] = (uint32_t)i + 1;
	return 0;
}

/* The share of the re-pricing tariff's costs each member re-priced would
 * have had: its own when it followed that tariff; otherwise the one it
 * would have had if every member of the period had followed it, as when
 * the cooperative changes its tariff. usage and shares hold a member each. */
static int reprice_shares_compute(struct bill_run *run, struct rate_household_usage *usage,
				  struct rate_cost_share *shares)
{
	const struct tariff *tariff = run->tariffs[run->reprice_tariff].tariff;
	int64_t pool_minor = 0, total;
	int r = 0;

	if (!tariff->has_cost_sharing)
		return 0;
	for (size_t c = 0; r == 0 && c < tariff->n_categories; c++) {
		r = store_expense_total(run->store, run->period_text, tariff->categories[c],
					&total);
		if (r == 0)
			r = money_add(pool_minor, total, &pool_minor);
	}
	for (size_t m = 0; r == 0 && m < run->n_members; m++) {
		usage[m].id = run->members[m].id;
		r = rate_usage_bytes(&run->members[m].usage, tariff->cost_sharing_direction,
				     &usage[m].usage_bytes);
	}
	if (r == 0)
		r = rate_cost_shares(pool_minor, tariff->equal_bp, usage, run->n_members, shares);
	if (r < 0)
		return r;
	for (size_t m = run->reprice_first; m < run->reprice_end; m++) {
		const struct bill_member *member = &run->members[m];
		struct bill_reprice *reprice = &run->reprices[m - run->reprice_first];

		if (member->tariff == run->reprice_tariff) {
			reprice->share = member->share;
			reprice->has_share = member->has_share;
		} else {
			reprice->share = shares[m];
			reprice->has_share = true;
		}
	}
	return 0;
}

/* Each cost-sharing tariff splits the period's expenses in its categories
 * among the households that follow it. */
static int shares_compute(struct bill_run *run)
{
	struct rate_household_usage *usage;
	struct rate_cost_share *shares;
	size_t *who;
	int r = 0;

	usage = calloc(run->n_members + 1, sizeof(*usage));
	shares = calloc(run->n_members + 1, sizeof(*shares));
	who = calloc(run->n_members + 1, sizeof(*who));
	if (!usage || !shares || !who) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t t = 0; r == 0 && t < run->n_tariffs; t++) {
		struct bill_tariff *bt = &run->tariffs[t];
		const struct tariff *tariff = bt->tariff;
		size_t n = 0;

		if (!tariff->has_cost_sharing)
			continue;
		for (size_t m = 0; m < run->n_members; m++) {
			const struct bill_member *member = &run->members[m];
			uint64_t bytes = 0;

			if (member->tariff != t)
				continue;
			if (rate_usage_bytes(&member->usage, tariff->cost_sharing_direction,
					     &bytes) < 0)
				r = -ERANGE;
			usage[n] = (struct rate_household_usage){ member->id, bytes };
			who[n++] = m;
		}
		/* A tariff nobody follows this period (a household's own tariff
		 * that starts later) shares nothing. */
		if (n == 0)
			continue;
		for (size_t c = 0; r == 0 && c < tariff->n_categories; c++) {
			int64_t total;

			r = store_expense_total(run->store, run->period_text, tariff->categories[c],
						&total);
			if (r == 0)
				r = money_add(bt->pool_minor, total, &bt->pool_minor);
		}
		if (r == 0)
			r = rate_cost_shares(bt->pool_minor, tariff->equal_bp, usage, n, shares);
		for (size_t i = 0; r == 0 && i < n; i++) {
			run->members[who[i]].share = shares[i];
			run->members[who[i]].has_share = true;
		}
	}
	if (r == 0 && run->repricing)
		r = reprice_shares_compute(run, usage, shares);
out:
	free(usage);
	free(shares);
	free(who);
	return r;
}

/* What the next members imported in the period, read in one query. */
static int imports_load(struct bill_run *run)
{
	size_t first = run->imports_next, end = first + BILL_IMPORTS_MEMBERS;
	struct store_imported *imported;
	size_t n, index;
	int r;

	end = end < run->n_members ? end : run->n_members;
	r = store_usage_imported(run->store, run->members[first].id, run->members[end - 1].id + 1,
				 run->start_s, run->usage_end_s, &imported, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if (bill_run_find(run, imported[i].household_id, &index) == 0)
			run->members[index].imported = imported[i];
	free(imported);
	run->imports_next = end;
	return 0;
}

/* Rows of one stretch of time, in key order. Hours before the roll-up
 * watermark come from the hourly totals unless buckets are needed; later
 * ones, and all of them then, from the buckets. */
static int scan_rows(struct bill_run *run, bool hourly, int64_t from, int64_t to)
{
	struct store_usage_row *rows;
	size_t n;
	int r;

	if (from >= to)
		return 0;
	r = store_usage_slices(run->store, hourly, from, to, &rows, &n);
	for (size_t i = 0; r == 0 && i < n; i++) {
		int64_t id = rows[i].household_id;
		struct bill_member *member;
		struct rate_slice slice = { rows[i].start, rows[i].bytes_up, rows[i].bytes_down,
					    rows[i].local_up, rows[i].local_down };
		size_t index;

		/* Usage of households that were not members this period is not
		 * billed here. */
		if (bill_run_find(run, id, &index) < 0)
			continue;
		member = &run->members[index];
		r = rate_usage_add(&member->usage, run->tariffs[member->tariff].tariff, &run->zone,
				   run->start_s, run->end_s, &slice);
		if (r == 0 && run->repricing && index >= run->reprice_first &&
		    index < run->reprice_end)
			r = rate_usage_add(&run->reprices[index - run->reprice_first].usage,
					   run->tariffs[run->reprice_tariff].tariff, &run->zone,
					   run->start_s, run->end_s, &slice);
	}
	free(rows);
	return r;
}

int bill_run_scan(struct bill_run *run, uint64_t deadline_ns, bool *ret_done)
{
	int64_t watermark, pruned_to;
	int r;

	/* Hourly totals serve up to the roll-up watermark; with a tariff that
	 * needs buckets, only where buckets were pruned (which attributes those
	 * hours by their start). */
	r = store_usage_watermark(run->store, &watermark);
	if (r == 0)
		r = store_usage_pruned_to(run->store, &pruned_to);
	while (r == 0 && run->scanned_to < run->usage_end_s) {
		int64_t from = run->scanned_to;
		int64_t to = from + run->scan_s < run->usage_end_s ? from + run->scan_s
								   : run->usage_end_s;
		int64_t split = run->fine ? pruned_to : watermark;

		split = split < from ? from : split > to ? to : split;
		r = scan_rows(run, true, from, split);
		if (r == 0)
			r = scan_rows(run, false, split, to);
		if (r == 0)
			run->scanned_to = to;
		if (uv_hrtime() >= deadline_ns)
			break;
	}
	/* Then what each member imported, a few members at a time. */
	while (r == 0 && run->scanned_to >= run->usage_end_s &&
	       run->imports_next < run->n_members) {
		r = imports_load(run);
		if (uv_hrtime() >= deadline_ns)
			break;
	}
	if (r == 0 && run->scanned_to >= run->usage_end_s && run->imports_next >= run->n_members &&
	    !run->scanned) {
		r = shares_compute(run);
		run->scanned = r == 0;
	}
	if (r < 0)
		return r;
	*ret_done = run->scanned;
	return 0;
}

int bill_run_new(struct store *store, const struct tz_zone *zone, const struct period *period,
		 int64_t usage_until_s, struct bill_run **ret_run, char *errbuf, size_t errbuf_len)
{
	char period_start[DATE_TEXT_MAX];
	struct bill_run *run;
	int64_t default_id, hour_rows;
	int r;

	run = calloc(1, sizeof(*run));
	if (!run)
		return -ENOMEM;
	run->store = store;
	run->period = *period;
	period_format(period, run->period_text);
	r = period_bounds(zone, period, &run->start_s, &run->end_s);
	if (r == 0)
		r = period_zone(zone, run->start_s, run->end_s, &run->zone);
	if (r < 0) {
		snprintf(errbuf, errbuf_len, "cannot work out the bounds of %s in the time zone",
			 run->period_text);
		goto fail;
	}
	/* Hourly totals serve only where the zone's offsets are whole hours. */
	run->fine = !zone_whole_hours(&run->zone);
	run->usage_end_s = usage_until_s < run->end_s ? usage_until_s : run->end_s;
	run->scanned_to = run->start_s;
	snprintf(period_start, sizeof(period_start), "%s-01", run->period_text);
	r = store_tariff_in_force(store, period_start, &default_id);
	if (r == -ENOENT) {
		snprintf(errbuf, errbuf_len,
			 "no published tariff is in force for %s: publish one whose "
			 "valid_from is on or before %s",
			 run->period_text, period_start);
		goto fail;
	}
	if (r == 0)
		r = members_load(run, zone, default_id);
	if (r < 0) {
		snprintf(errbuf, errbuf_len, "cannot read what %s is billed from: %s",
			 run->period_text, strerror(-r));
		goto fail;
	}
	/* Buckets are 12 rows an hour, hourly totals one: what is read is
	 * mostly buckets where buckets are needed (run->fine, as the members'
	 * tariffs may say), else mostly hourly totals. */
	hour_rows = (int64_t)(run->n_members > 0 ? run->n_members : 1) * (run->fine ? 12 : 1);
	run->scan_s = 3600 * (BILL_SCAN_ROWS > hour_rows ? BILL_SCAN_ROWS / hour_rows : 1);
	*ret_run = run;
	return 0;
fail:
	bill_run_free(run);
	return r;
}

void bill_run_free(struct bill_run *run)
{
	if (!run)
		return;
	for (size_t i = 0; i < run->n_tariffs; i++) {
		tariff_free(run->tariffs[i].tariff);
		free(run->tariffs[i].sha256);
	}
	free(run->tariffs);
	free(run->members);
	free(run->member_by_id);
	free(run->reprices);
	free(run);
}

size_t bill_run_count(const struct bill_run *run)
{
	return run->n_members;
}

int64_t bill_run_household_id(const struct bill_run *run, size_t index)
{
	return run->members[index].id;
}

static int member_compare(const void *key, const void *member)
{
	int64_t id = *(const int64_t *)key, other = ((const struct bill_member *)member)->id;

	return (id > other) - (id < other);
}

int bill_run_find(const struct bill_run *run, int64_t household_id, size_t *ret_index)
{
	const struct bill_member *found;

	if (run->member_by_id) {
		if (household_id < 0 || household_id > run->max_id ||
		    run->member_by_id[household_id] == 0)
			return -ENOENT;
		*ret_index = run->member_by_id[household_id] - 1;
		return 0;
	}
	/* Members are in id order. */
	found = bsearch(&household_id, run->members, run->n_members, sizeof(*run->members),
			member_compare);
	if (!found)
		return -ENOENT;
	*ret_index = (size_t)(found - run->members);
	return 0;
}

/* Rates a member of the run under a tariff of the run with the usage and
 * cost share given (NULL: none): its own, or a re-pricing's. */
static int member_rate(const struct bill_run *run, const struct bill_member *member, size_t tariff,
		       const struct rate_usage *usage, const struct rate_cost_share *share,
		       struct rate_invoice **ret_rated)
{
	struct rate_input input = {
		.tariff = run->tariffs[tariff].tariff,
		.zone = &run->zone,
		.period_start_s = run->start_s,
		.period_end_s = run->end_s,
		.member_from_s = member->member_from_s,
		.member_to_s = member->member_to_s,
		.usage = usage,
		.cost_share = share,
		/* Only a re-pricing rates under a tariff the member did not
		 * follow, which may come into force later. */
		.any_valid_from = tariff != member->tariff,
	};

	if (!run->scanned)
		return -EINVAL;
	return rate_invoice_new(&input, ret_rated);
}

int bill_run_rate(struct bill_run *run, size_t index, struct rate_invoice **ret_rated)
{
	const struct bill_member *member = &run->members[index];

	return member_rate(run, member, member->tariff, &member->usage,
			   member->has_share ? &member->share : NULL, ret_rated);
}

/* An invoice document: the rating engine's invoice with the period, the
 * tariff it was rated with and, for a member's, the household and how much
 * of its usage was imported. A quote has no member. */
static int document_json(const struct bill_tariff *bt, const char *period_text,
			 const struct bill_member *member, const struct rate_invoice *rated,
			 json_t **ret_json)
{
	json_t *json = NULL;
	int r;

	r = rate_invoice_to_json(rated, &json);
	if (r < 0)
		return r;
	if (json_object_set_new(json, "period", json_string(period_text)) < 0 ||
	    json_object_set_new(json, "tariff",
				json_pack("{s:I, s:s, s:s}", "id", (json_int_t)bt->id, "name",
					  bt->tariff->name, "sha256", bt->sha256)) < 0)
		goto fail;
	/* What a member sees of imported usage: how much of the invoice's usage
	 * came from another meter. */
	if (member &&
	    (json_object_set_new(json, "household_id", json_integer(member->id)) < 0 ||
	     json_object_set_new(json, "imported",
				 json_pack("{s:I, s:I, s:I, s:I, s:I}", "rows",
					   (json_int_t)member->imported.rows, "bytes_up",
					   (json_int_t)member->imported.bytes_up, "bytes_down",
					   (json_int_t)member->imported.bytes_down, "local_up",
					   (json_int_t)member->imported.local_up, "local_down",
					   (json_int_t)member->imported.local_down)) < 0))
		goto fail;
	*ret_json = json;
	return 0;
fail:
	json_decref(json);
	return -ENOMEM;
}

/* A member's invoice as JSON, and the rating engine's invoice it shows. */
static int invoice_json(struct bill_run *run, size_t index, json_t **ret_json,
			struct rate_invoice **ret_rated)
{
	const struct bill_member *member = &run->members[index];
	struct rate_invoice *rated = NULL;
	json_t *json;
	int r;

	r = bill_run_rate(run, index, &rated);
	if (r == 0)
		r = document_json(&run->tariffs[member->tariff], run->period_text, member, rated,
				  &json);
	if (r < 0) {
		rate_invoice_free(rated);
		return r;
	}
	*ret_json = json;
	*ret_rated = rated;
	return 0;
}

int bill_membership(const struct tz_zone *zone, const char *joined_at, const char *left_at,
		    int64_t *ret_from_s, int64_t *ret_to_s)
{
	struct date date;
	int64_t from_s, to_s = INT64_MAX;

	if (date_parse(joined_at, &date) < 0 || (left_at && date_parse(left_at, &date) < 0))
		return -EINVAL;
	from_s = membership_edge(zone, joined_at, false);
	if (left_at)
		to_s = membership_edge(zone, left_at, true);
	if (from_s == 0 || to_s == 0 || to_s <= from_s)
		return -EINVAL;
	*ret_from_s = from_s;
	*ret_to_s = to_s;
	return 0;
}

int bill_quote(const struct bill_quote_request *in, char **ret_document)
{
	const struct bill_tariff bt = { .id = in->tariff_id,
					.sha256 = (char *)in->tariff_sha256,
					.tariff = (struct tariff *)in->tariff };
	struct rate_invoice *rated = NULL;
	char period_text[PERIOD_TEXT_MAX], *document = NULL;
	struct rate_zone zone;
	int64_t start_s, end_s;
	json_t *json = NULL;
	int r;

	period_format(in->period, period_text);
	r = period_bounds(in->zone, in->period, &start_s, &end_s);
	if (r == 0)
		r = period_zone(in->zone, start_s, end_s, &zone);
	if (r < 0)
		return r;
	struct rate_input input = {
		.tariff = in->tariff,
		.zone = &zone,
		.period_start_s = start_s,
		.period_end_s = end_s,
		.member_from_s = in->member_from_s,
		.member_to_s = in->member_to_s,
		.slices = in->slices,
		.n_slices = in->n_slices,
		.cost_share = in->cost_share,
		.any_valid_from = true,
	};
	r = rate_invoice_new(&input, &rated);
	if (r == 0)
		r = document_json(&bt, period_text, NULL, rated, &json);
	rate_invoice_free(rated);
	if (r < 0)
		return r;
	/* A quote says that it is one, and when it leaves out a share of costs
	 * that only the period's close can work out. */
	if (json_object_set_new(json, "quote", json_true()) == 0 &&
	    (!in->tariff->has_cost_sharing || in->cost_share ||
	     json_object_set_new(json, "cost_share_excluded", json_true()) == 0))
		document = json_dumps(json, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(json);
	if (!document)
		return -ENOMEM;
	*ret_document = document;
	return 0;
}

int bill_run_reprice_add(struct bill_run *run, int64_t household_id, int64_t tariff_id)
{
	size_t member = 0, tariff;
	int r = 0;

	if (run->scanned_to > run->start_s || run->repricing)
		return -EINVAL;
	if (household_id != 0)
		r = bill_run_find(run, household_id, &member);
	if (r == 0)
		r = tariff_index(run, tariff_id, &tariff);
	if (r < 0)
		return r;
	run->reprice_first = member;
	run->reprice_end = household_id != 0 ? member + 1 : run->n_members;
	run->reprices = calloc(run->reprice_end - run->reprice_first + 1, sizeof(*run->reprices));
	if (!run->reprices)
		return -ENOMEM;
	run->repricing = true;
	run->reprice_tariff = tariff;
	return 0;
}

int bill_run_reprice(struct bill_run *run, size_t index, json_t **ret_json,
		     int64_t *ret_total_minor)
{
	const struct bill_member *member = &run->members[index];
	const struct bill_reprice *reprice;
	struct rate_invoice *rated = NULL;
	json_t *json = NULL;
	int r;

	if (!run->repricing || index < run->reprice_first || index >= run->reprice_end)
		return -EINVAL;
	reprice = &run->reprices[index - run->reprice_first];
	r = member_rate(run, member, run->reprice_tariff, &reprice->usage,
			reprice->has_share ? &reprice->share : NULL, &rated);
	if (r == 0 && ret_json)
		r = document_json(&run->tariffs[run->reprice_tariff], run->period_text, member,
				  rated, &json);
	if (r == 0 && json && json_object_set_new(json, "repriced", json_true()) < 0) {
		json_decref(json);
		r = -ENOMEM;
	}
	if (r == 0)
		*ret_total_minor = rated->total_minor;
	rate_invoice_free(rated);
	if (r < 0)
		return r;
	if (ret_json)
		*ret_json = json;
	return 0;
}

int bill_run_invoice(struct bill_run *run, size_t index, struct bill_invoice *ret_invoice)
{
	struct rate_invoice *rated;
	char *document;
	json_t *json;
	int r;

	r = invoice_json(run, index, &json, &rated);
	if (r < 0)
		return r;
	document = json_dumps(json, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(json);
	if (!document) {
		rate_invoice_free(rated);
		return -ENOMEM;
	}
	*ret_invoice =
		(struct bill_invoice){ .document = document,
				       .rated = rated,
				       .tariff_id = run->tariffs[run->members[index].tariff].id };
	return 0;
}

int bill_run_estimate(struct bill_run *run, size_t index, char **ret_document)
{
	struct rate_invoice *rated;
	char *document = NULL;
	json_t *json;
	int r;

	r = invoice_json(run, index, &json, &rated);
	if (r < 0)
		return r;
	rate_invoice_free(rated);
	/* The usage so far, billed as if the period ended with it. */
	if (json_object_set_new(json, "estimate", json_true()) == 0 &&
	    json_object_set_new(json, "usage_until_s", json_integer(run->usage_end_s)) == 0)
		document = json_dumps(json, JSON_COMPACT);
	json_decref(json);
	if (!document)
		return -ENOMEM;
	*ret_document = document;
	return 0;
}

void bill_invoice_clear(struct bill_invoice *invoice)
{
	free(invoice->document);
	rate_invoice_free(invoice->rated);
	*invoice = (struct bill_invoice){ 0 };
}

json_t *bill_run_sharing_json(const struct bill_run *run)
{
	json_t *list = json_array();

	for (size_t t = 0; t < run->n_tariffs; t++) {
		const struct bill_tariff *bt = &run->tariffs[t];
		const struct rate_cost_share *share = NULL;
		json_t *categories;
		int64_t price_per_gb = 0;

		if (!bt->tariff->has_cost_sharing)
			continue;
		categories = json_array();
		for (size_t m = 0; m < run->n_members; m++)
			if (run->members[m].tariff == t && run->members[m].has_share)
				share = &run->members[m].share;
		for (size_t c = 0; c < bt->tariff->n_categories; c++)
			json_array_append_new(categories, json_string(bt->tariff->categories[c]));
		/* The usage part's pool over the GB it was split by. */
		if (share && share->total_usage_bytes > 0 && share->total_usage_bytes <= INT64_MAX)
			(void)money_mul_div(share->usage_pool_minor, TARIFF_BYTES_PER_GB,
					    (int64_t)share->total_usage_bytes, &price_per_gb);
		json_array_append_new(
			list,
			json_pack("{s:I, s:o, s:s, s:I, s:i, s:I, s:I, s:I, s:I, s:I, s:I}",
				  "tariff_id", (json_int_t)bt->id, "categories", categories,
				  "direction",
				  tariff_direction_name(bt->tariff->cost_sharing_direction),
				  "pool_minor", (json_int_t)bt->pool_minor, "equal_bp",
				  (int)bt->tariff->equal_bp, "households",
				  (json_int_t)(share ? share->n_households : 0), "equal_pool_minor",
				  (json_int_t)(share ? share->equal_pool_minor : 0),
				  "usage_pool_minor",
				  (json_int_t)(share ? share->usage_pool_minor : 0),
				  "equal_part_per_household_minor",
				  (json_int_t)(share && share->n_households
						       ? share->equal_pool_minor /
								 (int64_t)share->n_households
						       : 0),
				  "total_usage_bytes",
				  (json_int_t)(share ? (int64_t)share->total_usage_bytes : 0),
				  "price_per_gb_minor", (json_int_t)price_per_gb));
	}
	return list;
}
