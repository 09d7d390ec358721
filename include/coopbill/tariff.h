/* Tariffs: the JSON document a cooperative publishes to say how it bills,
 * parsed and validated strictly, its canonical text (what is hashed and
 * signed), and the JSON Schema that describes it. docs/tariffs.md explains the
 * format and how each part is charged. Pure: no I/O. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coopbill/date.h"

/* Limits on what a tariff document may hold; the error says which one. */
#define TARIFF_TEXT_MAX	      65536
#define TARIFF_NAME_MAX	      100 /* characters (Unicode code points) */
#define TARIFF_REASON_MAX     500
#define TARIFF_CHARGES_MAX    16
#define TARIFF_WINDOWS_MAX    16
#define TARIFF_TIERS_MAX      16
#define TARIFF_CATEGORIES_MAX 16
#define TARIFF_CATEGORY_MAX   32
/* Every money amount is at most 10^15 minor units and every size at most
 * 10^9 GB (10^18 bytes): below 2^53, so a JavaScript verifier reads them
 * exactly, and a size in bytes always fits in int64. */
#define TARIFF_MINOR_MAX INT64_C(1000000000000000)
#define TARIFF_GB_MAX	 INT64_C(1000000000)
#define TARIFF_BP_MAX	 10000
/* 1 GB is 10^9 bytes. */
#define TARIFF_BYTES_PER_GB INT64_C(1000000000)

/* Which traffic a usage charge or a cost share counts. */
enum tariff_direction {
	TARIFF_DIRECTION_DOWN = 1,
	TARIFF_DIRECTION_UP = 2,
	TARIFF_DIRECTION_BOTH = 3, /* DOWN | UP */
};

/* Which traffic a usage charge prices: what crossed an uplink (the
 * internet, what costs the cooperative transit) or what went through the
 * gateway without crossing one (local). */
enum tariff_scope {
	TARIFF_SCOPE_INTERNET = 0, /* the default: a charge without "scope" */
	TARIFF_SCOPE_LOCAL = 1,
};

/* A weekly time window in the cooperative's local time. */
struct tariff_window {
	uint8_t days;	  /* bit 0 Monday ... bit 6 Sunday */
	int32_t from_min; /* minutes after local midnight, a multiple of 5 */
	int32_t to_min;	  /* exclusive, up to 1440 (24:00), > from_min */
};

/* A band of a usage charge's period total: from the previous tier's
 * up_to_gb (or the allowance) up to up_to_gb; the last tier has no upper
 * bound. */
struct tariff_tier {
	bool has_up_to;
	int64_t up_to_gb;
	int64_t price_per_gb_minor;
};

struct tariff_charge {
	char *name;
	enum tariff_direction direction;
	enum tariff_scope scope;
	struct tariff_window *windows; /* n_windows == 0: any time */
	size_t n_windows;
	int64_t allowance_gb;
	struct tariff_tier *tiers; /* n_tiers >= 1, the last without up_to */
	size_t n_tiers;
};

/* The week in 5-minute slots, Monday 00:00 local first: the window edges all
 * fall on slot edges, so a slot decides for every instant inside it. */
#define TARIFF_SLOT_S	    300
#define TARIFF_WEEK_SLOTS   (7 * 24 * 3600 / TARIFF_SLOT_S)
#define TARIFF_SLOT_NOTHING 0xff

/* A parsed tariff, read-only once tariff_parse() returns it. */
struct tariff {
	char *name;
	char currency[4];
	unsigned exponent; /* of the currency */
	struct date valid_from;

	char *emergency_reason; /* NULL: published with the usual notice */

	bool has_tax;
	int32_t tax_rate_bp;
	bool tax_included;

	bool has_fixed_fee;
	int64_t fixed_fee_minor;
	bool fixed_fee_prorate;
	char *fixed_fee_description; /* NULL when the document gives none */

	struct tariff_charge *charges; /* in document order, which is precedence */
	size_t n_charges;

	bool has_minimum;
	int64_t minimum_minor;
	bool has_cap;
	int64_t cap_minor;

	bool has_cost_sharing;
	char **categories;
	size_t n_categories;
	int32_t equal_bp;
	enum tariff_direction cost_sharing_direction;

	/* Derived for the rating engine: for downloads [0] and uploads [1], the
	 * index of the first charge that takes the bytes of a bucket starting in
	 * each slot of the local week, or TARIFF_SLOT_NOTHING; internet traffic
	 * goes by charge_by_slot, local traffic by local_charge_by_slot. */
	uint8_t charge_by_slot[2][TARIFF_WEEK_SLOTS];
	uint8_t local_charge_by_slot[2][TARIFF_WEEK_SLOTS];

	/* What tariff_canonical_json() returns a copy of. */
	char *canonical_json;
};

/* Parses and validates a tariff document (at most TARIFF_TEXT_MAX bytes).
 * On failure returns -EINVAL (or -ENOMEM) and writes to err one line that
 * starts with the JSON path of the problem, e.g.
 * "$.usage_charges[1].tiers[0].price_per_gb_minor: must be an integer >= 0".
 * err may be NULL. */
int tariff_parse(const char *json_text, size_t len, struct tariff **ret_tariff, char *err,
		 size_t errsize);
void tariff_free(struct tariff *tariff);

/* The tariff as canonical JSON: the validated document with its keys sorted
 * and no whitespace, so that one tariff has exactly one text. This is what is
 * hashed and signed. The caller frees *ret_text. */
int tariff_canonical_json(const struct tariff *tariff, char **ret_text);

/* The JSON Schema (draft 2020-12) of a tariff document, docs/tariff.schema.json
 * as built in. The rules a schema cannot say (tiers increasing, "to" after
 * "from", cap >= minimum) are in its descriptions and in tariff_parse(). */
const char *tariff_schema_json(void);

/* "down", "up" or "both". */
const char *tariff_direction_name(enum tariff_direction direction);

/* "internet" or "local". */
const char *tariff_scope_name(enum tariff_scope scope);
