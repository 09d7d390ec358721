/* The rating engine: usage slices into per-charge totals (one table lookup
 * per slice, direction and scope), totals into priced bands, then the fixed fee,
 * the cost share, minimum or cap and tax, each line with its arithmetic in
 * words. Pure and deterministic: same input, same invoice. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coopbill/money.h"
#include "coopbill/rate.h"

#define GB_TEXT_MAX   32
#define SLOTS_PER_DAY (86400 / TARIFF_SLOT_S)
/* Instants are refused beyond ±2^40 s (35,000 years), so that adding an
 * offset or subtracting two of them never overflows. */
#define TIME_BOUND_S (INT64_C(1) << 40)

void rate_zone_fixed(int32_t offset_s, struct rate_zone *ret_zone)
{
	*ret_zone =
		(struct rate_zone){ .n = 1,
				    .spans = { { .from_s = INT64_MIN, .offset_s = offset_s } } };
}

const char *rate_line_kind_name(enum rate_line_kind kind)
{
	switch (kind) {
	case RATE_LINE_FIXED:
		return "fixed";
	case RATE_LINE_USAGE:
		return "usage";
	case RATE_LINE_COST_SHARE:
		return "cost_share";
	case RATE_LINE_MINIMUM:
		return "minimum";
	case RATE_LINE_CAP:
		return "cap";
	case RATE_LINE_TAX:
		return "tax";
	}
	return "unknown";
}

int rate_usage_bytes(const struct rate_usage *usage, enum tariff_direction direction,
		     uint64_t *ret_bytes)
{
	uint64_t up = direction & TARIFF_DIRECTION_UP ? usage->bytes_up : 0;
	uint64_t down = direction & TARIFF_DIRECTION_DOWN ? usage->bytes_down : 0;

	return __builtin_add_overflow(up, down, ret_bytes) ? -ERANGE : 0;
}

int rate_cost_shares(int64_t pool_minor, int32_t equal_bp,
		     const struct rate_household_usage *households, size_t n,
		     struct rate_cost_share *ret_shares)
{
	int64_t equal_pool_minor, usage_pool_minor, *ids = NULL, *equal_parts = NULL,
						    *usage_parts = NULL;
	uint64_t total_usage_bytes = 0, *weights = NULL, *no_weights = NULL;
	int r;

	if (equal_bp < 0 || equal_bp > TARIFF_BP_MAX)
		return -EINVAL;
	if (n == 0)
		return pool_minor == 0 ? 0 : -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (__builtin_add_overflow(total_usage_bytes, households[i].usage_bytes,
					   &total_usage_bytes))
			return -ERANGE;
	r = money_mul_div(pool_minor, equal_bp, TARIFF_BP_MAX, &equal_pool_minor);
	if (r < 0)
		return r;
	r = money_sub(pool_minor, equal_pool_minor, &usage_pool_minor);
	if (r < 0)
		return r;

	ids = calloc(n, sizeof(*ids));
	weights = calloc(n, sizeof(*weights));
	no_weights = calloc(n, sizeof(*no_weights));
	equal_parts = calloc(n, sizeof(*equal_parts));
	usage_parts = calloc(n, sizeof(*usage_parts));
	if (!ids || !weights || !no_weights || !equal_parts || !usage_parts) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		ids[i] = households[i].id;
		weights[i] = households[i].usage_bytes;
	}
	/* All-zero weights: money_split() splits equally. */
	r = money_split(equal_pool_minor, no_weights, ids, n, equal_parts);
	if (r < 0)
		goto out;
	r = money_split(usage_pool_minor, weights, ids, n, usage_parts);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		int64_t amount_minor;

		/* Both parts carry the pool's sign and together are at most the
		 * pool: this cannot overflow, but it is checked all the same. */
		r = money_add(equal_parts[i], usage_parts[i], &amount_minor);
		if (r < 0)
			goto out;
		ret_shares[i] = (struct rate_cost_share){
			.amount_minor = amount_minor,
			.equal_minor = equal_parts[i],
			.usage_minor = usage_parts[i],
			.pool_minor = pool_minor,
			.equal_bp = equal_bp,
			.equal_pool_minor = equal_pool_minor,
			.usage_pool_minor = usage_pool_minor,
			.n_households = n,
			.usage_bytes = households[i].usage_bytes,
			.total_usage_bytes = total_usage_bytes,
		};
	}
out:
	free(ids);
	free(weights);
	free(no_weights);
	free(equal_parts);
	free(usage_parts);
	return r;
}

int rate_cost_share_estimate(int64_t pool_minor, int32_t equal_bp, size_t n_households,
			     uint64_t total_usage_bytes, uint64_t usage_bytes,
			     struct rate_cost_share *ret_share)
{
	struct rate_cost_share share = { .pool_minor = pool_minor,
					 .equal_bp = equal_bp,
					 .n_households = n_households,
					 .usage_bytes = usage_bytes,
					 .total_usage_bytes = total_usage_bytes };
	int r;

	if (equal_bp < 0 || equal_bp > TARIFF_BP_MAX || n_households == 0 ||
	    n_households > INT64_MAX)
		return -EINVAL;
	if (total_usage_bytes > INT64_MAX || usage_bytes > INT64_MAX)
		return -ERANGE;
	r = money_mul_div(pool_minor, equal_bp, TARIFF_BP_MAX, &share.equal_pool_minor);
	if (r == 0)
		r = money_sub(pool_minor, share.equal_pool_minor, &share.usage_pool_minor);
	if (r == 0)
		r = money_mul_div(share.equal_pool_minor, 1, (int64_t)n_households,
				  &share.equal_minor);
	/* Nobody used any: the usage part is split equally too. */
	if (r == 0 && total_usage_bytes == 0)
		r = money_mul_div(share.usage_pool_minor, 1, (int64_t)n_households,
				  &share.usage_minor);
	else if (r == 0)
		r = money_mul_div(share.usage_pool_minor, (int64_t)usage_bytes,
				  (int64_t)total_usage_bytes, &share.usage_minor);
	if (r == 0)
		r = money_add(share.equal_minor, share.usage_minor, &share.amount_minor);
	if (r < 0)
		return r;
	*ret_share = share;
	return 0;
}

/* Bytes as GB of 10^9 bytes, exactly: 12403000000 → "12.403". */
static void format_gb(uint64_t bytes, char ret_text[GB_TEXT_MAX])
{
	uint64_t whole = bytes / (uint64_t)TARIFF_BYTES_PER_GB;
	uint64_t fraction = bytes % (uint64_t)TARIFF_BYTES_PER_GB;
	int digits = 9;

	if (fraction == 0) {
		snprintf(ret_text, GB_TEXT_MAX, "%llu", (unsigned long long)whole);
		return;
	}
	while (fraction % 10 == 0) {
		fraction /= 10;
		digits--;
	}
	snprintf(ret_text, GB_TEXT_MAX, "%llu.%0*llu", (unsigned long long)whole, digits,
		 (unsigned long long)fraction);
}

/* Basis points as a percentage, exactly: 2100 → "21%", 550 → "5.5%". */
static void format_percent(int32_t bp, char ret_text[16])
{
	if (bp % 100 == 0)
		snprintf(ret_text, 16, "%d%%", bp / 100);
	else if (bp % 10 == 0)
		snprintf(ret_text, 16, "%d.%d%%", bp / 100, (bp % 100) / 10);
	else
		snprintf(ret_text, 16, "%d.%02d%%", bp / 100, bp % 100);
}

struct builder {
	const struct tariff *tariff;
	struct rate_invoice *invoice;
	size_t lines_allocated;
};

/* Money as "12.40 EUR": formatting a count of minor units cannot fail with
 * this buffer and a known currency's exponent. */
static const char *money_text(const struct builder *b, int64_t minor, char buf[MONEY_TEXT_MAX + 8])
{
	char number[MONEY_TEXT_MAX];

	if (money_format(minor, b->tariff->exponent, number, sizeof(number)) < 0)
		snprintf(number, sizeof(number), "%lld", (long long)minor);
	snprintf(buf, MONEY_TEXT_MAX + 8, "%s %s", number, b->tariff->currency);
	return buf;
}

/* Appends a line; it takes explain, which is NULL when formatting it ran out
 * of memory. */
static int add_line(struct builder *b, enum rate_line_kind kind, const char *description,
		    int64_t quantity, const char *unit, int64_t unit_price_minor,
		    int64_t unit_price_per, int64_t amount_minor, char *explain)
{
	struct rate_invoice *invoice = b->invoice;
	struct rate_line *line;
	char *description_copy;

	if (!explain)
		return -ENOMEM;
	/* The array was sized for every line a tariff can produce. */
	if (invoice->n_lines == b->lines_allocated) {
		free(explain);
		return -EPROTO;
	}
	description_copy = strdup(description);
	if (!description_copy) {
		free(explain);
		return -ENOMEM;
	}
	line = &invoice->lines[invoice->n_lines++];
	*line = (struct rate_line){
		.kind = kind,
		.description = description_copy,
		.quantity = quantity,
		.unit = unit,
		.unit_price_minor = unit_price_minor,
		.unit_price_per = unit_price_per,
		.amount_minor = amount_minor,
		.explain = explain,
	};
	return 0;
}

/* Formats a sentence for a line; NULL when out of memory (add_line() says so). */
static char *sentence(const char *format, ...) __attribute__((format(printf, 1, 2)));

static char *sentence(const char *format, ...)
{
	va_list args;
	char *text;
	int n;

	va_start(args, format);
	n = vasprintf(&text, format, args);
	va_end(args);
	return n < 0 ? NULL : text;
}

static int add_fixed_fee(struct builder *b, int64_t period_s, int64_t member_s)
{
	const struct tariff *tariff = b->tariff;
	const char *description =
		tariff->fixed_fee_description ? tariff->fixed_fee_description : "Fixed fee";
	char fee[MONEY_TEXT_MAX + 8], amount[MONEY_TEXT_MAX + 8];
	int64_t amount_minor;
	int r;

	if (!tariff->fixed_fee_prorate)
		return add_line(b, RATE_LINE_FIXED, description, period_s, "second",
				tariff->fixed_fee_minor, period_s, tariff->fixed_fee_minor,
				sentence("%s: %s per period, not prorated = %s", description,
					 money_text(b, tariff->fixed_fee_minor, fee),
					 money_text(b, tariff->fixed_fee_minor, amount)));
	r = money_mul_div(tariff->fixed_fee_minor, member_s, period_s, &amount_minor);
	if (r < 0)
		return r;
	return add_line(b, RATE_LINE_FIXED, description, member_s, "second",
			tariff->fixed_fee_minor, period_s, amount_minor,
			sentence("%s: %s × %lld s as a member / %lld s in the period = %s",
				 description, money_text(b, tariff->fixed_fee_minor, fee),
				 (long long)member_s, (long long)period_s,
				 money_text(b, amount_minor, amount)));
}

/* One line per band of a charge's period total that holds any bytes: the
 * allowance (free), then each tier between its lower and upper edge. A local
 * charge's explanations say that they price local traffic; an internet
 * charge's read as they did before local traffic was counted. */
static int add_usage(struct builder *b, const struct tariff_charge *charge, uint64_t total)
{
	int64_t allowance_bytes = charge->allowance_gb * TARIFF_BYTES_PER_GB, lower;
	char quantity_gb[GB_TEXT_MAX], lower_gb[GB_TEXT_MAX], upper_gb[GB_TEXT_MAX];
	char price[MONEY_TEXT_MAX + 8], amount[MONEY_TEXT_MAX + 8];
	const char *traffic = charge->scope == TARIFF_SCOPE_LOCAL ? " (local traffic)" : "";
	int r;

	/* A total is billed as a count of bytes, an int64 on the invoice. */
	if (total > INT64_MAX)
		return -ERANGE;
	if (allowance_bytes > 0 && total > 0) {
		int64_t quantity =
			(int64_t)total < allowance_bytes ? (int64_t)total : allowance_bytes;
		char *description;

		format_gb((uint64_t)quantity, quantity_gb);
		format_gb((uint64_t)allowance_bytes, upper_gb);
		if (asprintf(&description, "%s (allowance)", charge->name) < 0)
			return -ENOMEM;
		r = add_line(b, RATE_LINE_USAGE, description, quantity, "byte", 0,
			     TARIFF_BYTES_PER_GB, 0,
			     sentence("%s GB of %s%s within the %s GB allowance, free = %s",
				      quantity_gb, charge->name, traffic, upper_gb,
				      money_text(b, 0, amount)));
		free(description);
		if (r < 0)
			return r;
	}
	lower = allowance_bytes;
	for (size_t i = 0; i < charge->n_tiers; i++) {
		const struct tariff_tier *tier = &charge->tiers[i];
		int64_t upper = tier->has_up_to ? tier->up_to_gb * TARIFF_BYTES_PER_GB : INT64_MAX;
		int64_t quantity, amount_minor;
		char *description, range[128];

		if ((int64_t)total <= lower)
			break;
		quantity = ((int64_t)total < upper ? (int64_t)total : upper) - lower;
		r = money_mul_div(quantity, tier->price_per_gb_minor, TARIFF_BYTES_PER_GB,
				  &amount_minor);
		if (r < 0)
			return r;
		format_gb((uint64_t)quantity, quantity_gb);
		format_gb((uint64_t)lower, lower_gb);
		format_gb(tier->has_up_to ? (uint64_t)upper : 0, upper_gb);
		if (i == 0 && lower > 0)
			snprintf(range, sizeof(range), " beyond the %s GB allowance%s%s%s",
				 lower_gb, tier->has_up_to ? ", up to " : "",
				 tier->has_up_to ? upper_gb : "", tier->has_up_to ? " GB" : "");
		else if (lower > 0)
			snprintf(range, sizeof(range), " beyond %s GB%s%s%s", lower_gb,
				 tier->has_up_to ? ", up to " : "", tier->has_up_to ? upper_gb : "",
				 tier->has_up_to ? " GB" : "");
		else if (tier->has_up_to)
			snprintf(range, sizeof(range), " up to %s GB", upper_gb);
		else
			range[0] = '\0';

		if (lower > 0 && tier->has_up_to)
			r = asprintf(&description, "%s (%s to %s GB)", charge->name, lower_gb,
				     upper_gb);
		else if (lower > 0)
			r = asprintf(&description, "%s (beyond %s GB)", charge->name, lower_gb);
		else if (tier->has_up_to)
			r = asprintf(&description, "%s (up to %s GB)", charge->name, upper_gb);
		else
			r = asprintf(&description, "%s", charge->name);
		if (r < 0)
			return -ENOMEM;
		r = add_line(b, RATE_LINE_USAGE, description, quantity, "byte",
			     tier->price_per_gb_minor, TARIFF_BYTES_PER_GB, amount_minor,
			     sentence("%s GB of %s%s%s × %s/GB = %s", quantity_gb, charge->name,
				      traffic, range,
				      money_text(b, tier->price_per_gb_minor, price),
				      money_text(b, amount_minor, amount)));
		free(description);
		if (r < 0)
			return r;
		lower = upper;
	}
	return 0;
}

static const char *direction_words(enum tariff_direction direction)
{
	switch (direction) {
	case TARIFF_DIRECTION_DOWN:
		return "download";
	case TARIFF_DIRECTION_UP:
		return "upload";
	case TARIFF_DIRECTION_BOTH:
		return "traffic";
	}
	return "traffic";
}

static int add_cost_share(struct builder *b, const struct rate_cost_share *share)
{
	const struct tariff *tariff = b->tariff;
	char categories[TARIFF_CATEGORIES_MAX * (TARIFF_CATEGORY_MAX + 2) + 1] = "";
	char pool[MONEY_TEXT_MAX + 8], equal_pool[MONEY_TEXT_MAX + 8], equal[MONEY_TEXT_MAX + 8];
	char usage_pool[MONEY_TEXT_MAX + 8], usage[MONEY_TEXT_MAX + 8];
	char amount[MONEY_TEXT_MAX + 8], percent[16], usage_gb[GB_TEXT_MAX], total_gb[GB_TEXT_MAX],
		usage_rule[160];
	int64_t sum_minor;

	/* A share handed in must add up, or the explanation would not. */
	if (money_add(share->equal_minor, share->usage_minor, &sum_minor) < 0 ||
	    sum_minor != share->amount_minor || share->n_households == 0)
		return -EINVAL;
	for (size_t i = 0; i < tariff->n_categories; i++) {
		if (i > 0)
			strcat(categories, ", ");
		strcat(categories, tariff->categories[i]);
	}
	format_percent(share->equal_bp, percent);
	format_gb(share->usage_bytes, usage_gb);
	format_gb(share->total_usage_bytes, total_gb);
	if (share->total_usage_bytes > 0)
		snprintf(usage_rule, sizeof(usage_rule), "by %s, %s GB of %s GB",
			 direction_words(tariff->cost_sharing_direction), usage_gb, total_gb);
	else
		snprintf(usage_rule, sizeof(usage_rule), "equally, as nobody had any %s",
			 direction_words(tariff->cost_sharing_direction));
	return add_line(
		b, RATE_LINE_COST_SHARE, "Shared costs", 1, "household", share->amount_minor, 1,
		share->amount_minor,
		sentence("Shared costs (%s): %s of %s = %s split equally among %zu households "
			 "= %s, plus the other %s split %s = %s; %s + %s = %s",
			 categories, percent, money_text(b, share->pool_minor, pool),
			 money_text(b, share->equal_pool_minor, equal_pool), share->n_households,
			 money_text(b, share->equal_minor, equal),
			 money_text(b, share->usage_pool_minor, usage_pool), usage_rule,
			 money_text(b, share->usage_minor, usage),
			 money_text(b, share->equal_minor, equal),
			 money_text(b, share->usage_minor, usage),
			 money_text(b, share->amount_minor, amount)));
}

/* The minimum and the cap bound the sum of the charge lines before tax. */
static int add_minimum_or_cap(struct builder *b, int64_t charges_minor)
{
	const struct tariff *tariff = b->tariff;
	char charges[MONEY_TEXT_MAX + 8], bound[MONEY_TEXT_MAX + 8], amount[MONEY_TEXT_MAX + 8];
	enum rate_line_kind kind;
	const char *label, *where;
	int64_t bound_minor, difference_minor;
	int r;

	if (tariff->has_minimum && charges_minor < tariff->minimum_minor) {
		kind = RATE_LINE_MINIMUM;
		label = "Minimum charge";
		where = "below the minimum";
		bound_minor = tariff->minimum_minor;
	} else if (tariff->has_cap && charges_minor > tariff->cap_minor) {
		kind = RATE_LINE_CAP;
		label = "Cap";
		where = "above the cap";
		bound_minor = tariff->cap_minor;
	} else {
		return 0;
	}
	r = money_sub(bound_minor, charges_minor, &difference_minor);
	if (r < 0)
		return r;
	return add_line(b, kind, label, 1, "invoice", difference_minor, 1, difference_minor,
			sentence("Charges of %s are %s of %s: %s - %s = %s",
				 money_text(b, charges_minor, charges), where,
				 money_text(b, bound_minor, bound), bound, charges,
				 money_text(b, difference_minor, amount)));
}

static int sum_lines(const struct rate_invoice *invoice, int64_t *ret_sum)
{
	int64_t sum = 0;
	int r;

	for (size_t i = 0; i < invoice->n_lines; i++) {
		r = money_add(sum, invoice->lines[i].amount_minor, &sum);
		if (r < 0)
			return r;
	}
	*ret_sum = sum;
	return 0;
}

static int add_tax(struct builder *b)
{
	const struct tariff *tariff = b->tariff;
	struct rate_invoice *invoice = b->invoice;
	char base[MONEY_TEXT_MAX + 8], amount[MONEY_TEXT_MAX + 8], percent[16];
	int64_t tax_minor;
	int r;

	invoice->has_tax = true;
	invoice->tax_rate_bp = tariff->tax_rate_bp;
	invoice->tax_included = tariff->tax_included;
	format_percent(tariff->tax_rate_bp, percent);
	if (tariff->tax_included) {
		r = money_mul_div(invoice->subtotal_minor, tariff->tax_rate_bp,
				  TARIFF_BP_MAX + tariff->tax_rate_bp, &tax_minor);
		if (r < 0)
			return r;
		invoice->tax_minor = tax_minor;
		invoice->total_minor = invoice->subtotal_minor;
		invoice->tax_explain =
			sentence("The total of %s includes %s tax: %s × %d / %d = %s",
				 money_text(b, invoice->subtotal_minor, base), percent, base,
				 (int)tariff->tax_rate_bp, TARIFF_BP_MAX + (int)tariff->tax_rate_bp,
				 money_text(b, tax_minor, amount));
		return invoice->tax_explain ? 0 : -ENOMEM;
	}
	r = money_mul_div(invoice->subtotal_minor, tariff->tax_rate_bp, TARIFF_BP_MAX, &tax_minor);
	if (r < 0)
		return r;
	invoice->tax_minor = tax_minor;
	r = money_add(invoice->subtotal_minor, tax_minor, &invoice->total_minor);
	if (r < 0)
		return r;
	invoice->tax_explain =
		sentence("%s tax on %s: %s × %d / %d = %s", percent,
			 money_text(b, invoice->subtotal_minor, base), base,
			 (int)tariff->tax_rate_bp, TARIFF_BP_MAX, money_text(b, tax_minor, amount));
	if (!invoice->tax_explain)
		return -ENOMEM;
	return add_line(b, RATE_LINE_TAX, "Tax", invoice->subtotal_minor, "minor_unit",
			tariff->tax_rate_bp, TARIFF_BP_MAX, tax_minor,
			strdup(invoice->tax_explain));
}

static int check_zone(const struct rate_zone *zone)
{
	if (zone->n < 1 || zone->n > RATE_ZONE_SPANS_MAX)
		return -EINVAL;
	for (size_t i = 0; i < zone->n; i++) {
		if (zone->spans[i].offset_s <= -86400 || zone->spans[i].offset_s >= 86400)
			return -EINVAL;
		if (i > 0 && zone->spans[i].from_s <= zone->spans[i - 1].from_s)
			return -EINVAL;
	}
	return 0;
}

/* The offset in force at t. Slices mostly come in time order, so the span
 * of the previous slice is the first guess. */
static int32_t zone_offset(const struct rate_zone *zone, int64_t t, size_t *span)
{
	size_t i = *span;

	while (i + 1 < zone->n && t >= zone->spans[i + 1].from_s)
		i++;
	while (i > 0 && t < zone->spans[i].from_s)
		i--;
	*span = i;
	return zone->spans[i].offset_s;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b < 0);
}

/* The week slot (Monday 00:00 local is 0) of the local time. */
static size_t week_slot(int64_t local_s)
{
	int64_t day = floor_div(local_s, 86400);
	int64_t second_of_day = local_s - day * 86400;
	/* 1970-01-01 was a Thursday, day 3 of a week that starts on Monday. */
	int64_t weekday = ((day + 3) % 7 + 7) % 7;

	return (size_t)(weekday * SLOTS_PER_DAY + second_of_day / TARIFF_SLOT_S);
}

bool rate_tariff_timeless(const struct tariff *tariff)
{
	const uint8_t(*tables[])[TARIFF_WEEK_SLOTS] = { tariff->charge_by_slot,
							tariff->local_charge_by_slot };

	for (size_t t = 0; t < 2; t++)
		for (size_t direction = 0; direction < 2; direction++)
			for (size_t slot = 1; slot < TARIFF_WEEK_SLOTS; slot++)
				if (tables[t][direction][slot] != tables[t][direction][0])
					return false;
	return true;
}

/* Adds bytes to the charge a slot table gives, if any. */
static int charge_add(struct rate_usage *usage, uint8_t charge, uint64_t bytes)
{
	if (charge != TARIFF_SLOT_NOTHING &&
	    __builtin_add_overflow(usage->charge_bytes[charge], bytes,
				   &usage->charge_bytes[charge]))
		return -ERANGE;
	return 0;
}

/* The hot loop: a zone lookup, table lookups and a few additions. */
int rate_usage_add(struct rate_usage *usage, const struct tariff *tariff,
		   const struct rate_zone *zone, int64_t period_start_s, int64_t period_end_s,
		   const struct rate_slice *slice)
{
	size_t slot;

	if (slice->start_s < period_start_s || slice->start_s >= period_end_s || zone->n < 1 ||
	    usage->zone_span >= zone->n)
		return -EINVAL;
	slot = week_slot(slice->start_s + zone_offset(zone, slice->start_s, &usage->zone_span));
	if (__builtin_add_overflow(usage->bytes_down, slice->bytes_down, &usage->bytes_down) ||
	    __builtin_add_overflow(usage->bytes_up, slice->bytes_up, &usage->bytes_up) ||
	    __builtin_add_overflow(usage->local_down, slice->local_down, &usage->local_down) ||
	    __builtin_add_overflow(usage->local_up, slice->local_up, &usage->local_up))
		return -ERANGE;
	if (charge_add(usage, tariff->charge_by_slot[0][slot], slice->bytes_down) < 0 ||
	    charge_add(usage, tariff->charge_by_slot[1][slot], slice->bytes_up) < 0 ||
	    charge_add(usage, tariff->local_charge_by_slot[0][slot], slice->local_down) < 0 ||
	    charge_add(usage, tariff->local_charge_by_slot[1][slot], slice->local_up) < 0)
		return -ERANGE;
	return 0;
}

/* The input's usage into the invoice: given summed, or summed here. */
static int sum_usage(const struct rate_input *input, struct rate_invoice *invoice)
{
	struct rate_usage summed = { 0 };
	const struct rate_usage *usage = input->usage;
	int r;

	if (!usage) {
		for (size_t i = 0; i < input->n_slices; i++) {
			r = rate_usage_add(&summed, input->tariff, input->zone,
					   input->period_start_s, input->period_end_s,
					   &input->slices[i]);
			if (r < 0)
				return r;
		}
		usage = &summed;
	}
	invoice->bytes_up = usage->bytes_up;
	invoice->bytes_down = usage->bytes_down;
	invoice->local_up = usage->local_up;
	invoice->local_down = usage->local_down;
	for (size_t i = 0; i < invoice->n_charges; i++)
		invoice->charges[i].bytes = usage->charge_bytes[i];
	return 0;
}

static int check_input(const struct rate_input *input)
{
	const struct tariff *tariff = input->tariff;
	struct date period_date;
	int64_t local_start_s;
	size_t span = 0;
	int r;

	if (!tariff || !input->zone || (input->n_slices > 0 && !input->slices) ||
	    (input->usage && input->n_slices > 0))
		return -EINVAL;
	if (input->period_start_s >= input->period_end_s || input->period_start_s < -TIME_BOUND_S ||
	    input->period_end_s > TIME_BOUND_S)
		return -EINVAL;
	r = check_zone(input->zone);
	if (r < 0)
		return r;
	if (input->cost_share && !tariff->has_cost_sharing)
		return -EINVAL;
	/* The tariff must be in force on the period's first local day. */
	local_start_s =
		input->period_start_s + zone_offset(input->zone, input->period_start_s, &span);
	period_date = date_from_days(floor_div(local_start_s, 86400));
	if (!input->any_valid_from && date_compare(&period_date, &tariff->valid_from) < 0)
		return -EINVAL;
	return 0;
}

int rate_invoice_new(const struct rate_input *input, struct rate_invoice **ret_invoice)
{
	const struct tariff *tariff;
	struct rate_invoice *invoice;
	struct builder b;
	int64_t period_s, member_s, charges_minor;
	uint64_t all_bytes, all_local_bytes, charged = 0, local_charged = 0;
	int r;

	if (!input)
		return -EINVAL;
	r = check_input(input);
	if (r < 0)
		return r;
	tariff = input->tariff;

	invoice = calloc(1, sizeof(*invoice));
	if (!invoice)
		return -ENOMEM;
	b = (struct builder){ .tariff = tariff, .invoice = invoice };
	memcpy(invoice->currency, tariff->currency, sizeof(invoice->currency));
	invoice->exponent = tariff->exponent;
	invoice->period_start_s = input->period_start_s;
	invoice->period_end_s = input->period_end_s;
	invoice->member_from_s = input->member_from_s > input->period_start_s
					 ? input->member_from_s
					 : input->period_start_s;
	invoice->member_to_s =
		input->member_to_s < input->period_end_s ? input->member_to_s : input->period_end_s;
	if (invoice->member_from_s >= invoice->member_to_s) {
		r = -EINVAL;
		goto out;
	}
	period_s = input->period_end_s - input->period_start_s;
	member_s = invoice->member_to_s - invoice->member_from_s;

	/* The most lines a tariff gives: fixed, every band of every charge, cost
	 * share, minimum or cap, tax. */
	b.lines_allocated = 4;
	for (size_t i = 0; i < tariff->n_charges; i++)
		b.lines_allocated += 1 + tariff->charges[i].n_tiers;
	invoice->lines = calloc(b.lines_allocated, sizeof(*invoice->lines));
	invoice->tariff_name = strdup(tariff->name);
	if (!invoice->lines || !invoice->tariff_name) {
		r = -ENOMEM;
		goto out;
	}
	if (tariff->n_charges > 0) {
		invoice->charges = calloc(tariff->n_charges, sizeof(*invoice->charges));
		if (!invoice->charges) {
			r = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < tariff->n_charges; i++) {
			invoice->charges[i].name = strdup(tariff->charges[i].name);
			if (!invoice->charges[i].name) {
				r = -ENOMEM;
				goto out;
			}
			invoice->charges[i].direction = tariff->charges[i].direction;
			invoice->charges[i].scope = tariff->charges[i].scope;
			invoice->n_charges++;
		}
	}

	r = sum_usage(input, invoice);
	if (r < 0)
		goto out;
	if (__builtin_add_overflow(invoice->bytes_up, invoice->bytes_down, &all_bytes) ||
	    __builtin_add_overflow(invoice->local_up, invoice->local_down, &all_local_bytes)) {
		r = -ERANGE;
		goto out;
	}
	/* Each byte went to at most one charge of its scope: the charges of a
	 * scope add up to at most its bytes, so neither the sum nor the
	 * difference wraps. */
	for (size_t i = 0; i < invoice->n_charges; i++) {
		if (invoice->charges[i].scope == TARIFF_SCOPE_LOCAL)
			local_charged += invoice->charges[i].bytes;
		else
			charged += invoice->charges[i].bytes;
	}
	invoice->uncharged_bytes = all_bytes - charged;
	invoice->local_uncharged_bytes = all_local_bytes - local_charged;

	if (tariff->has_fixed_fee && (r = add_fixed_fee(&b, period_s, member_s)) < 0)
		goto out;
	for (size_t i = 0; i < tariff->n_charges; i++) {
		r = add_usage(&b, &tariff->charges[i], invoice->charges[i].bytes);
		if (r < 0)
			goto out;
	}
	if (input->cost_share && (r = add_cost_share(&b, input->cost_share)) < 0)
		goto out;
	r = sum_lines(invoice, &charges_minor);
	if (r < 0)
		goto out;
	r = add_minimum_or_cap(&b, charges_minor);
	if (r < 0)
		goto out;
	r = sum_lines(invoice, &invoice->subtotal_minor);
	if (r < 0)
		goto out;
	invoice->total_minor = invoice->subtotal_minor;
	if (tariff->has_tax && (r = add_tax(&b)) < 0)
		goto out;
	/* What a member checks first: the lines add up to the total. */
	r = sum_lines(invoice, &charges_minor);
	if (r < 0)
		goto out;
	if (charges_minor != invoice->total_minor) {
		r = -EPROTO;
		goto out;
	}

	*ret_invoice = invoice;
	invoice = NULL;
out:
	rate_invoice_free(invoice);
	return r;
}

void rate_invoice_free(struct rate_invoice *invoice)
{
	if (!invoice)
		return;
	for (size_t i = 0; i < invoice->n_lines; i++) {
		free(invoice->lines[i].description);
		free(invoice->lines[i].explain);
	}
	free(invoice->lines);
	for (size_t i = 0; i < invoice->n_charges; i++)
		free(invoice->charges[i].name);
	free(invoice->charges);
	free(invoice->tariff_name);
	free(invoice->tax_explain);
	free(invoice);
}

/* json_object_set_new() takes the value even when it fails, and a NULL
 * value is what a failed json_*() constructor returns: both are -ENOMEM. */
static int set(json_t *object, const char *key, json_t *value)
{
	if (!value || json_object_set_new(object, key, value) < 0)
		return -ENOMEM;
	return 0;
}

/* JSON integers are signed 64-bit here: a larger count is refused, not wrapped. */
static int set_count(json_t *object, const char *key, uint64_t count)
{
	if (count > INT64_MAX)
		return -ERANGE;
	return set(object, key, json_integer((json_int_t)count));
}

static int line_to_json(const struct rate_line *line, json_t *lines)
{
	json_t *object = json_object();
	int r;

	if (!object || json_array_append_new(lines, object) < 0)
		return -ENOMEM;
	if ((r = set(object, "kind", json_string(rate_line_kind_name(line->kind)))) < 0 ||
	    (r = set(object, "description", json_string(line->description))) < 0 ||
	    (r = set(object, "quantity", json_integer(line->quantity))) < 0 ||
	    (r = set(object, "unit", json_string(line->unit))) < 0 ||
	    (r = set(object, "unit_price_minor", json_integer(line->unit_price_minor))) < 0 ||
	    (r = set(object, "unit_price_per", json_integer(line->unit_price_per))) < 0 ||
	    (r = set(object, "amount_minor", json_integer(line->amount_minor))) < 0 ||
	    (r = set(object, "explain", json_string(line->explain))) < 0)
		return r;
	return 0;
}

static int charge_to_json(const struct rate_charge_total *total, json_t *charges)
{
	json_t *object = json_object();
	int r;

	if (!object || json_array_append_new(charges, object) < 0)
		return -ENOMEM;
	if ((r = set(object, "name", json_string(total->name))) < 0 ||
	    (r = set(object, "direction", json_string(tariff_direction_name(total->direction)))) <
		    0 ||
	    (r = set(object, "scope", json_string(tariff_scope_name(total->scope)))) < 0 ||
	    (r = set_count(object, "bytes", total->bytes)) < 0)
		return r;
	return 0;
}

static int usage_to_json(const struct rate_invoice *invoice, json_t *object)
{
	json_t *usage = json_object(), *charges = json_array();
	int r;

	/* Owned by object from here on, so that every return frees them. */
	if ((r = set(object, "usage", usage)) < 0)
		return r;
	if ((r = set(usage, "charges", charges)) < 0)
		return r;
	for (size_t i = 0; i < invoice->n_charges; i++)
		if ((r = charge_to_json(&invoice->charges[i], charges)) < 0)
			return r;
	if ((r = set_count(usage, "bytes_up", invoice->bytes_up)) < 0 ||
	    (r = set_count(usage, "bytes_down", invoice->bytes_down)) < 0 ||
	    (r = set_count(usage, "local_up", invoice->local_up)) < 0 ||
	    (r = set_count(usage, "local_down", invoice->local_down)) < 0 ||
	    (r = set_count(usage, "uncharged_bytes", invoice->uncharged_bytes)) < 0 ||
	    (r = set_count(usage, "local_uncharged_bytes", invoice->local_uncharged_bytes)) < 0)
		return r;
	return 0;
}

static int tax_to_json(const struct rate_invoice *invoice, json_t *object)
{
	json_t *tax;
	int r;

	if (!invoice->has_tax)
		return set(object, "tax", json_null());
	tax = json_object();
	if ((r = set(object, "tax", tax)) < 0)
		return r;
	if ((r = set(tax, "rate_bp", json_integer(invoice->tax_rate_bp))) < 0 ||
	    (r = set(tax, "included", json_boolean(invoice->tax_included))) < 0 ||
	    (r = set(tax, "amount_minor", json_integer(invoice->tax_minor))) < 0 ||
	    (r = set(tax, "explain", json_string(invoice->tax_explain))) < 0)
		return r;
	return 0;
}

int rate_invoice_to_json(const struct rate_invoice *invoice, json_t **ret_json)
{
	json_t *object, *lines;
	int r;

	if (!invoice)
		return -EINVAL;
	object = json_object();
	if (!object)
		return -ENOMEM;
	lines = json_array();
	if ((r = set(object, "tariff", json_string(invoice->tariff_name))) < 0 ||
	    (r = set(object, "currency", json_string(invoice->currency))) < 0 ||
	    (r = set(object, "exponent", json_integer(invoice->exponent))) < 0 ||
	    (r = set(object, "period_start_s", json_integer(invoice->period_start_s))) < 0 ||
	    (r = set(object, "period_end_s", json_integer(invoice->period_end_s))) < 0 ||
	    (r = set(object, "member_from_s", json_integer(invoice->member_from_s))) < 0 ||
	    (r = set(object, "member_to_s", json_integer(invoice->member_to_s))) < 0 ||
	    (r = set(object, "lines", lines)) < 0)
		goto out;
	for (size_t i = 0; i < invoice->n_lines; i++)
		if ((r = line_to_json(&invoice->lines[i], lines)) < 0)
			goto out;
	if ((r = usage_to_json(invoice, object)) < 0 ||
	    (r = set(object, "subtotal_minor", json_integer(invoice->subtotal_minor))) < 0 ||
	    (r = tax_to_json(invoice, object)) < 0 ||
	    (r = set(object, "total_minor", json_integer(invoice->total_minor))) < 0)
		goto out;
	*ret_json = object;
	object = NULL;
out:
	json_decref(object);
	return r;
}
