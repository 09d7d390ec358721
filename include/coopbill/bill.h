/* Billing from the database: for one period, the households active in it,
 * the published tariff each follows, the shared costs split among them, and
 * each household's invoice made by the rating engine from its metered (and
 * imported) usage, as the canonical JSON document that is stored, logged and
 * shown to the member. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "coopbill/period.h"

struct bill_run;
struct rate_invoice;
struct rate_slice;
struct tariff;
struct store;

/* Prepares a period: its members and their tariffs, its bounds and
 * membership dates in the zone (used only here: the run keeps what it
 * worked out, not the zone). Usage from its start up to min(usage_until_s,
 * its end) counts. -ENOENT when no published tariff is
 * in force for the period; errbuf then says so in a sentence. */
int bill_run_new(struct store *store, const struct tz_zone *zone, const struct period *period,
		 int64_t usage_until_s, struct bill_run **ret_run, char *errbuf, size_t errbuf_len);
void bill_run_free(struct bill_run *run);

/* Reads the period's usage, one stretch of time after another in the order
 * the database keeps it, until done or deadline_ns (uv_hrtime()) passes: call
 * again until *ret_done. Then the cost shares are worked out and the run can
 * rate its members. */
int bill_run_scan(struct bill_run *run, uint64_t deadline_ns, bool *ret_done);

/* The households active in the period, by id. */
size_t bill_run_count(const struct bill_run *run);
int64_t bill_run_household_id(const struct bill_run *run, size_t index);
/* -ENOENT when the household was not a member during the period. */
int bill_run_find(const struct bill_run *run, int64_t household_id, size_t *ret_index);

/* Rates one household of the run: the rating engine's invoice alone. */
int bill_run_rate(struct bill_run *run, size_t index, struct rate_invoice **ret_rated);

struct bill_invoice {
	char *document; /* canonical JSON: sorted keys, no spaces */
	/* What the rating engine made of it: its lines, bytes and total. */
	struct rate_invoice *rated;
	int64_t tariff_id;
};
/* Rates one household of the run and makes its invoice document. */
int bill_run_invoice(struct bill_run *run, size_t index, struct bill_invoice *ret_invoice);
/* The same invoice as a running estimate: with "estimate": true and the
 * instant its usage runs to ("usage_until_s"), keys in the order they are
 * made. The caller frees *ret_document. */
int bill_run_estimate(struct bill_run *run, size_t index, char **ret_document);
void bill_invoice_clear(struct bill_invoice *invoice);

/* Re-pricing: before the scan, asks the run to sum household_id's usage
 * (0: every member's) under tariff_id (any tariff, a draft too) as well.
 * -ENOENT when the household was not a member in the period or there is no
 * such tariff. */
int bill_run_reprice_add(struct bill_run *run, int64_t household_id, int64_t tariff_id);
/* After the scan: the invoice of the member at index (one asked for) under
 * that tariff, whatever its valid_from, as the document an invoice is (with
 * "repriced": true; ret_json NULL: none made), and its total. Under a tariff
 * with cost sharing, the member's share is its own if it followed that
 * tariff, else the one it would have had if every member of the period had
 * followed it. */
int bill_run_reprice(struct bill_run *run, size_t index, json_t **ret_json,
		     int64_t *ret_total_minor);

/* A membership from the start of joined_at's local day to the end of
 * left_at's (NULL: a current member, INT64_MAX); -EINVAL when a date is not
 * one or left_at comes before joined_at. */
int bill_membership(const struct tz_zone *zone, const char *joined_at, const char *left_at,
		    int64_t *ret_from_s, int64_t *ret_to_s);

/* A quote: the invoice a tariff would give usage in a period, made as the
 * close makes an invoice but from usage given, for nobody, with nothing
 * stored. */
struct bill_quote_request {
	const struct tz_zone *zone;
	const struct period *period;
	int64_t tariff_id;
	const struct tariff *tariff;
	const char *tariff_sha256;
	int64_t member_from_s, member_to_s; /* see bill_membership() */
	const struct rate_slice *slices;    /* each starting inside the period */
	size_t n_slices;
	/* For a tariff with cost sharing, an estimated share to price (a
	 * label's, see rate_cost_share_estimate()); NULL: none. */
	const struct rate_cost_share *cost_share;
};
/* The quote's document: an invoice's without household_id and imported,
 * with "quote": true and, for a tariff with cost sharing (whose share only
 * the close can work out, and which the quote leaves out unless it is given
 * an estimate), "cost_share_excluded": true. Sorted keys. -EINVAL for input
 * the rating engine refuses. The caller frees *ret_document. */
int bill_quote(const struct bill_quote_request *in, char **ret_document);

/* For the period's summary: per tariff with cost sharing, the pool, the
 * usage it was split by, the equal part per household and the price per GB
 * that resulted. */
json_t *bill_run_sharing_json(const struct bill_run *run);
