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

/* For the period's summary: per tariff with cost sharing, the pool, the
 * usage it was split by, the equal part per household and the price per GB
 * that resulted. */
json_t *bill_run_sharing_json(const struct bill_run *run);
