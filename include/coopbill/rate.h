/* The rating engine: one household's invoice for one billing period, from the
 * tariff, its usage, its share of the shared costs and its membership dates.
 * Every line carries its quantity, unit price, amount and a sentence with the
 * arithmetic, so that a member can recompute it. Pure: no clock, no time zone
 * database (local time comes from a zone table), no I/O. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "coopbill/tariff.h"

/* Traffic of one household in one bucket, attributed wholly to the bucket's
 * start (UTC): bytes_up and bytes_down through the uplinks (internet),
 * local_up and local_down through the gateway without crossing one. */
struct rate_slice {
	int64_t start_s;
	uint64_t bytes_up;
	uint64_t bytes_down;
	uint64_t local_up;
	uint64_t local_down;
};

/* The cooperative's UTC offsets during a period: spans[i].offset_s is in force
 * from spans[i].from_s (UTC) until the next span, and local time is
 * utc + offset. from_s strictly increases; spans[0] also covers anything
 * earlier. period_zone() builds it from a loaded time zone. */
#define RATE_ZONE_SPANS_MAX 8
struct rate_zone_span {
	int64_t from_s;
	int32_t offset_s;
};
struct rate_zone {
	size_t n;
	struct rate_zone_span spans[RATE_ZONE_SPANS_MAX];
};

/* A zone with one offset all the time (UTC is 0). */
void rate_zone_fixed(int32_t offset_s, struct rate_zone *ret_zone);

/* A household's share of the shared costs of a period, with what explains it. */
struct rate_household_usage {
	int64_t id;
	uint64_t usage_bytes; /* internet, in the tariff's cost_sharing direction */
};
struct rate_cost_share {
	int64_t amount_minor; /* equal_minor + usage_minor */
	int64_t equal_minor;
	int64_t usage_minor;
	int64_t pool_minor;	  /* the expenses shared */
	int32_t equal_bp;	  /* part of the pool split equally */
	int64_t equal_pool_minor; /* pool × equal_bp / 10000, rounded */
	int64_t usage_pool_minor; /* the rest of the pool */
	size_t n_households;
	uint64_t usage_bytes;
	uint64_t total_usage_bytes;
};

/* Splits pool_minor among n households: equal_bp / 10000 of it (rounded once)
 * equally, the rest in proportion to their usage bytes (equally when nobody
 * used any), both with money_split(): leftover minor units by largest
 * remainder, ties to the lower id. The shares always sum exactly to the pool.
 * ret_shares[i] belongs to households[i]. */
int rate_cost_shares(int64_t pool_minor, int32_t equal_bp,
		     const struct rate_household_usage *households, size_t n,
		     struct rate_cost_share *ret_shares);

/* An estimate, not a split: the share a household that used usage_bytes
 * would have had of pool_minor had it been one of n_households that used
 * total_usage_bytes together (as a tariff's label prices a profile against
 * a period): pool × equal_bp / 10000 (rounded once, as rate_cost_shares()
 * does) divided by n_households, plus the rest of the pool × usage_bytes /
 * total_usage_bytes (divided by n_households when nobody used any), each
 * rounded by the one rule. -EINVAL for no households or a bad equal_bp,
 * -ERANGE when an amount does not fit. */
int rate_cost_share_estimate(int64_t pool_minor, int32_t equal_bp, size_t n_households,
			     uint64_t total_usage_bytes, uint64_t usage_bytes,
			     struct rate_cost_share *ret_share);

/* Whether the tariff charges every byte of a direction and scope alike at
 * any time of the week (no windows that part it): then totals without their
 * times price as a series would. */
bool rate_tariff_timeless(const struct tariff *tariff);

/* A household's usage in a period as a tariff charges it: the bytes each
 * usage charge takes (a local charge local bytes, an internet one internet
 * bytes) and the totals, summed slice by slice in any order. Start from all
 * zeros. */
struct rate_usage {
	uint64_t bytes_up; /* internet */
	uint64_t bytes_down;
	uint64_t local_up;
	uint64_t local_down;
	uint64_t charge_bytes[TARIFF_CHARGES_MAX];
	size_t zone_span; /* where the last slice's offset was found: a hint */
};

/* A usage's internet bytes in a direction (what a cost share is weighed by:
 * local traffic costs the cooperative no transit); -ERANGE if they do not
 * fit in 64 bits. */
int rate_usage_bytes(const struct rate_usage *usage, enum tariff_direction direction,
		     uint64_t *ret_bytes);

/* Adds a slice to the charge the tariff's slot table gives for its local
 * start. -EINVAL for a slice outside [period_start_s, period_end_s) or a bad
 * zone, -ERANGE when a sum overflows. */
int rate_usage_add(struct rate_usage *usage, const struct tariff *tariff,
		   const struct rate_zone *zone, int64_t period_start_s, int64_t period_end_s,
		   const struct rate_slice *slice);

struct rate_input {
	const struct tariff *tariff;
	const struct rate_zone *zone;
	int64_t period_start_s; /* UTC bounds of the local calendar month */
	int64_t period_end_s;	/* excluded */
	int64_t member_from_s;	/* membership; clamped to the period */
	int64_t member_to_s;	/* excluded; INT64_MAX for a current member */
	/* The usage: either summed already (usage), or slices to sum, each
	 * starting inside the period. */
	const struct rate_usage *usage;
	const struct rate_slice *slices;
	size_t n_slices;
	/* The household's cost share, or NULL when nothing is shared this period;
	 * only for a tariff with cost_sharing. */
	const struct rate_cost_share *cost_share;
	/* A quote or a re-pricing: the tariff prices the period as if it were
	 * in force then, whatever its valid_from. */
	bool any_valid_from;
};

enum rate_line_kind {
	RATE_LINE_FIXED,
	RATE_LINE_USAGE,
	RATE_LINE_COST_SHARE,
	RATE_LINE_MINIMUM,
	RATE_LINE_CAP,
	RATE_LINE_TAX,
};

/* One invoice line. For every line, amount_minor is quantity ×
 * unit_price_minor / unit_price_per rounded once (half up on the absolute
 * value), with quantity and unit_price_per counted in unit: "second", "byte",
 * "household", "invoice" or (for tax, whose base is the subtotal)
 * "minor_unit". */
struct rate_line {
	enum rate_line_kind kind;
	char *description;
	int64_t quantity;
	const char *unit;
	int64_t unit_price_minor;
	int64_t unit_price_per;
	int64_t amount_minor;
	char *explain;
};

/* The bytes a usage charge took in the period, allowance included. */
struct rate_charge_total {
	char *name;
	enum tariff_direction direction;
	enum tariff_scope scope;
	uint64_t bytes;
};

struct rate_invoice {
	char *tariff_name;
	char currency[4];
	unsigned exponent;
	int64_t period_start_s, period_end_s;
	int64_t member_from_s, member_to_s; /* clamped to the period */

	struct rate_line *lines;
	size_t n_lines;

	struct rate_charge_total *charges; /* one per usage charge, in tariff order */
	size_t n_charges;
	uint64_t bytes_up, bytes_down; /* internet */
	uint64_t local_up, local_down;
	uint64_t uncharged_bytes;	/* internet bytes no usage charge took: free */
	uint64_t local_uncharged_bytes; /* local bytes no usage charge took: free */

	/* The lines before tax: charges plus any minimum top-up or cap. */
	int64_t subtotal_minor;
	bool has_tax;
	int32_t tax_rate_bp;
	bool tax_included;
	/* Excluded: the tax line's amount. Included: the tax the total contains,
	 * total × rate_bp / (10000 + rate_bp) rounded; no line adds it. */
	int64_t tax_minor;
	char *tax_explain;   /* NULL without tax */
	int64_t total_minor; /* the sum of all line amounts */
};

/* Rates one household for one period. -EINVAL for inconsistent input (a
 * slice outside the period, no membership in the period, a tariff not yet
 * valid in the period, a cost share for a tariff without cost sharing),
 * -ERANGE when an amount overflows, -ENOMEM. The same input always gives the
 * same invoice. No allocation or clock per slice. */
int rate_invoice_new(const struct rate_input *input, struct rate_invoice **ret_invoice);
void rate_invoice_free(struct rate_invoice *invoice);

/* The invoice as JSON: deterministic, integers for every amount and count.
 * -ERANGE for a count above 2^63 - 1 (JSON integers are signed 64-bit here). */
int rate_invoice_to_json(const struct rate_invoice *invoice, json_t **ret_json);

/* "fixed", "usage", "cost_share", "minimum", "cap" or "tax". */
const char *rate_line_kind_name(enum rate_line_kind kind);
