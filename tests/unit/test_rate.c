/* The rating engine and billing periods: the worked examples of
 * docs/tariffs.md to the cent, each feature alone (proration, windows, tiers,
 * allowance, minimum, cap, tax, cost sharing), a month with a daylight saving
 * change, and properties over random input: lines add up to the total, every
 * line recomputes from its quantity and unit price, shares add up to the
 * pool, and the same input gives byte-identical JSON. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "source-file.h"
#include "coopbill/money.h"
#include "coopbill/period.h"
#include "coopbill/rate.h"
#include "coopbill/tariff.h"
#include "coopbill/tz.h"

#define GB	     UINT64_C(1000000000)
#define ALL_DAYS     "[\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"]"
#define TARIFF_START "\"currency\": \"EUR\", \"valid_from\": \"2026-01-01\""

/* The cooperative's zone in the tests that follow: UTC until one is set. */
static struct tz_zone *zone;

static void set_zone(const char *name)
{
	tz_zone_free(zone);
	zone = NULL;
	assert_int_equal(tz_zone_load(name, &zone), 0);
}

static const struct tz_zone *the_zone(void)
{
	if (!zone)
		set_zone("UTC");
	return zone;
}

/* "2027-01-10 18:00" in the zone, as UTC seconds. */
static int64_t local(const char *text)
{
	struct tz_time local_time = { 0 };
	int64_t t;

	assert_int_equal(sscanf(text, "%d-%d-%d %d:%d", &local_time.date.year,
				&local_time.date.month, &local_time.date.day, &local_time.hour,
				&local_time.minute),
			 5);
	assert_int_equal(tz_mktime(the_zone(), &local_time, &t), 0);
	return t;
}

struct month {
	int64_t start_s, end_s;
	struct rate_zone zone;
};

static struct month month_of(const char *text)
{
	struct period period;
	struct month month;

	assert_int_equal(period_parse(text, &period), 0);
	assert_int_equal(period_bounds(the_zone(), &period, &month.start_s, &month.end_s), 0);
	assert_int_equal(period_zone(the_zone(), month.start_s, month.end_s, &month.zone), 0);
	return month;
}

/* The slices summed as the rating engine sums them. */
static struct rate_usage usage_of(const struct tariff *tariff, const struct month *month,
				  const struct rate_slice *slices, size_t n)
{
	struct rate_usage usage = { 0 };

	for (size_t i = 0; i < n; i++)
		assert_int_equal(rate_usage_add(&usage, tariff, &month->zone, month->start_s,
						month->end_s, &slices[i]),
				 0);
	return usage;
}

static struct tariff *tariff_of(const char *json)
{
	struct tariff *tariff = NULL;
	char err[512] = "";

	if (tariff_parse(json, strlen(json), &tariff, err, sizeof(err)) != 0)
		fail_msg("tariff refused: %s", err);
	return tariff;
}

/* What a member can check on any invoice: each line recomputes from its
 * quantity and unit price with the one rounding rule, the lines add up to
 * the total, and the tax is where the tariff says. */
static void assert_invoice_adds_up(const struct rate_invoice *invoice)
{
	int64_t sum = 0, before_tax = 0, amount;

	for (size_t i = 0; i < invoice->n_lines; i++) {
		const struct rate_line *line = &invoice->lines[i];

		assert_int_equal(money_mul_div(line->quantity, line->unit_price_minor,
					       line->unit_price_per, &amount),
				 0);
		assert_int_equal(amount, line->amount_minor);
		assert_int_equal(money_add(sum, line->amount_minor, &sum), 0);
		if (line->kind != RATE_LINE_TAX)
			before_tax += line->amount_minor;
		assert_non_null(line->explain);
		assert_non_null(line->description);
	}
	assert_int_equal(sum, invoice->total_minor);
	assert_int_equal(before_tax, invoice->subtotal_minor);
	if (invoice->has_tax && !invoice->tax_included)
		assert_int_equal(invoice->subtotal_minor + invoice->tax_minor,
				 invoice->total_minor);
	else
		assert_int_equal(invoice->subtotal_minor, invoice->total_minor);
}

static struct rate_invoice *rate(const struct tariff *tariff, const struct month *month,
				 int64_t member_from_s, int64_t member_to_s,
				 const struct rate_slice *slices, size_t n_slices,
				 const struct rate_cost_share *share)
{
	struct rate_input input = {
		.tariff = tariff,
		.zone = &month->zone,
		.period_start_s = month->start_s,
		.period_end_s = month->end_s,
		.member_from_s = member_from_s,
		.member_to_s = member_to_s,
		.slices = slices,
		.n_slices = n_slices,
		.cost_share = share,
	};
	struct rate_invoice *invoice = NULL;

	assert_int_equal(rate_invoice_new(&input, &invoice), 0);
	assert_invoice_adds_up(invoice);
	return invoice;
}

/* The invoice as docs/tariffs.md shows it: each line's explanation, the tax
 * a total includes, and the total. */
static char *invoice_text(const struct rate_invoice *invoice)
{
	char total[MONEY_TEXT_MAX], *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);

	assert_non_null(out);
	for (size_t i = 0; i < invoice->n_lines; i++)
		fprintf(out, "%s\n", invoice->lines[i].explain);
	if (invoice->has_tax && invoice->tax_included)
		fprintf(out, "%s\n", invoice->tax_explain);
	assert_int_equal(
		money_format(invoice->total_minor, invoice->exponent, total, sizeof(total)), 0);
	fprintf(out, "Total: %s %s", total, invoice->currency);
	fclose(out);
	return text;
}

/* The fenced blocks of one kind ("json" or "text") in docs/tariffs.md, in order. */
static size_t docs_blocks(const char *markdown, const char *kind, char **ret_blocks, size_t max)
{
	char fence[16];
	const char *cursor = markdown;
	size_t n = 0;

	snprintf(fence, sizeof(fence), "\n```%s\n", kind);
	while ((cursor = strstr(cursor, fence)) != NULL) {
		const char *start = cursor + strlen(fence), *end = strstr(start, "\n```\n");

		assert_non_null(end);
		assert_true(n < max);
		ret_blocks[n++] = strndup(start, (size_t)(end - start));
		cursor = end;
	}
	return n;
}

static void assert_text(const struct rate_invoice *invoice, const char *expected)
{
	char *text = invoice_text(invoice);

	if (strcmp(text, expected) != 0)
		fail_msg("the invoice\n%s\nis not the one in docs/tariffs.md\n%s", text, expected);
	free(text);
}

static void free_blocks(char **blocks, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(blocks[i]);
}

/* docs/tariffs.md, "A village tariff" and "Sharing costs": the three
 * households' shares and household 1's invoice. */
static void check_village(const char *tariff_json, const char *expected)
{
	struct tariff *tariff = tariff_of(tariff_json);
	struct month month = month_of("2027-01");
	struct rate_slice slices[8];
	struct rate_household_usage households[3] = { { 1, 0 }, { 2, 60 * GB }, { 3, 40 * GB } };
	struct rate_cost_share shares[3];
	struct rate_invoice *invoice;
	struct rate_usage summed;
	char day[32];

	for (int i = 0; i < 6; i++) {
		snprintf(day, sizeof(day), "2027-01-%02d 18:00", 10 + i);
		slices[i] = (struct rate_slice){ .start_s = local(day), .bytes_down = 10 * GB };
	}
	slices[6] = (struct rate_slice){ .start_s = local("2027-01-20 09:00"),
					 .bytes_down = 30500000000,
					 .bytes_up = 9500000000 };
	summed = usage_of(tariff, &month, slices, 7);
	assert_int_equal(rate_usage_bytes(&summed, tariff->cost_sharing_direction,
					  &households[0].usage_bytes),
			 0);
	assert_int_equal(households[0].usage_bytes, 100 * GB);

	assert_int_equal(rate_cost_shares(5001, tariff->equal_bp, households, 3, shares), 0);
	assert_int_equal(shares[0].equal_minor, 500);
	assert_int_equal(shares[0].usage_minor, 1751);
	assert_int_equal(shares[0].amount_minor, 2251);
	assert_int_equal(shares[1].amount_minor, 1550);
	assert_int_equal(shares[2].amount_minor, 1200);

	invoice = rate(tariff, &month, local("2027-01-10 00:00"), INT64_MAX, slices, 7, &shares[0]);
	assert_text(invoice, expected);
	assert_int_equal(invoice->tax_minor, 1001);
	assert_int_equal(invoice->charges[0].bytes, 60 * GB);
	assert_int_equal(invoice->charges[1].bytes, 30500000000);
	assert_int_equal(invoice->uncharged_bytes, 9500000000);
	rate_invoice_free(invoice);
	tariff_free(tariff);
}

static void check_flat(const char *tariff_json, const char *expected_minimum,
		       const char *expected_cap)
{
	struct tariff *tariff = tariff_of(tariff_json);
	struct month month = month_of("2027-01");
	struct rate_slice small = { .start_s = local("2027-01-05 12:00"),
				    .bytes_down = 10 * GB,
				    .bytes_up = 2500000000 };
	struct rate_slice large = { .start_s = local("2027-01-31 23:55"), .bytes_down = 200 * GB };
	struct rate_invoice *invoice;

	invoice = rate(tariff, &month, 0, INT64_MAX, &small, 1, NULL);
	assert_text(invoice, expected_minimum);
	assert_int_equal(invoice->lines[1].kind, RATE_LINE_MINIMUM);
	rate_invoice_free(invoice);
	invoice = rate(tariff, &month, 0, INT64_MAX, &large, 1, NULL);
	assert_text(invoice, expected_cap);
	assert_int_equal(invoice->lines[1].kind, RATE_LINE_CAP);
	assert_int_equal(invoice->lines[1].amount_minor, -1000);
	rate_invoice_free(invoice);
	tariff_free(tariff);
}

static void check_evening(const char *tariff_json, const char *expected)
{
	struct tariff *tariff = tariff_of(tariff_json);
	struct month month = month_of("2026-10");
	/* 16:00 UTC is 18:00 local before the change and 17:00 after it. */
	const struct rate_slice slices[] = {
		{ .start_s = 1792512000 /* 2026-10-20T16:00:00Z */, .bytes_down = GB },
		{ .start_s = 1793376000 /* 2026-10-30T16:00:00Z */, .bytes_down = GB },
		{ .start_s = 1793379600 /* 2026-10-30T17:00:00Z */, .bytes_down = GB },
		{ .start_s = 1793397600 /* 2026-10-30T22:00:00Z */, .bytes_down = GB },
	};
	struct rate_invoice *invoice;

	assert_int_equal(month.end_s - month.start_s, 31 * 86400 + 3600);
	invoice = rate(tariff, &month, local("2026-10-20 00:00"), INT64_MAX, slices, 4, NULL);
	assert_int_equal(invoice->member_from_s, 1792447200 /* 2026-10-19T22:00:00Z */);
	assert_text(invoice, expected);
	rate_invoice_free(invoice);
	tariff_free(tariff);
}

/* docs/tariffs.md, "Pricing local traffic": the local charge prices local
 * traffic beyond its allowance, and "Flat 2027", without one, leaves it
 * free. */
static void check_local(const char *tariff_json, const char *flat_json, const char *expected)
{
	struct tariff *tariff = tariff_of(tariff_json), *flat = tariff_of(flat_json);
	struct month month = month_of("2027-01");
	const struct rate_slice slice = { .start_s = local("2027-01-12 20:00"),
					  .bytes_down = 10 * GB,
					  .bytes_up = 2500000000,
					  .local_down = 60 * GB,
					  .local_up = 20 * GB };
	struct rate_invoice *invoice;

	invoice = rate(tariff, &month, 0, INT64_MAX, &slice, 1, NULL);
	assert_text(invoice, expected);
	assert_int_equal(invoice->total_minor, 280);
	assert_int_equal(invoice->charges[0].bytes, 12500000000);
	assert_int_equal(invoice->charges[1].scope, TARIFF_SCOPE_LOCAL);
	assert_int_equal(invoice->charges[1].bytes, 80 * GB);
	assert_int_equal(invoice->local_up, 20 * GB);
	assert_int_equal(invoice->local_down, 60 * GB);
	assert_int_equal(invoice->uncharged_bytes, 0);
	assert_int_equal(invoice->local_uncharged_bytes, 0);
	rate_invoice_free(invoice);

	invoice = rate(flat, &month, 0, INT64_MAX, &slice, 1, NULL);
	assert_int_equal(invoice->total_minor, 605);
	assert_int_equal(invoice->charges[0].bytes, 12500000000);
	assert_int_equal(invoice->local_uncharged_bytes, 80 * GB);
	rate_invoice_free(invoice);
	tariff_free(tariff);
	tariff_free(flat);
}

static void test_docs_worked_examples(void **state)
{
	char *markdown = read_source_file("docs/tariffs.md", NULL), *tariffs[8], *invoices[8];
	size_t n_tariffs = docs_blocks(markdown, "json", tariffs, 8);
	size_t n_invoices = docs_blocks(markdown, "text", invoices, 8);

	set_zone("Europe/Madrid");
	/* A new example in the docs needs its check here. */
	assert_int_equal(n_tariffs, 5);
	assert_int_equal(n_invoices, 5);
	check_village(tariffs[1], invoices[0]);
	check_flat(tariffs[2], invoices[1], invoices[2]);
	check_evening(tariffs[3], invoices[3]);
	check_local(tariffs[4], tariffs[2], invoices[4]);
	free_blocks(tariffs, n_tariffs);
	free_blocks(invoices, n_invoices);
	free(markdown);
}

static void test_fixed_fee_proration(void **state)
{
	struct tariff *prorated = tariff_of("{\"name\": \"F\", " TARIFF_START ", \"fixed_fee\": "
					    "{\"amount_minor\": 3100, \"prorate\": true}}");
	struct tariff *whole = tariff_of("{\"name\": \"F\", " TARIFF_START ", \"fixed_fee\": "
					 "{\"amount_minor\": 3100, \"prorate\": false}}");
	struct month month;
	struct rate_invoice *invoice;

	set_zone("UTC");
	month = month_of("2026-01");
	/* A whole month, a join on the 11th, a leave after the 20th, both. */
	invoice = rate(prorated, &month, 0, INT64_MAX, NULL, 0, NULL);
	assert_int_equal(invoice->total_minor, 3100);
	assert_int_equal(invoice->lines[0].quantity, 31 * 86400);
	assert_string_equal(invoice->lines[0].unit, "second");
	assert_string_equal(invoice->lines[0].description, "Fixed fee");
	rate_invoice_free(invoice);
	invoice = rate(prorated, &month, local("2026-01-11 00:00"), INT64_MAX, NULL, 0, NULL);
	assert_int_equal(invoice->total_minor, 2100);
	assert_int_equal(invoice->member_to_s, month.end_s);
	assert_string_equal(invoice->lines[0].explain,
			    "Fixed fee: 31.00 EUR × 1814400 s as a member / 2678400 s in the "
			    "period = 21.00 EUR");
	rate_invoice_free(invoice);
	invoice = rate(prorated, &month, 0, local("2026-01-21 00:00"), NULL, 0, NULL);
	assert_int_equal(invoice->total_minor, 2000);
	assert_int_equal(invoice->member_from_s, month.start_s);
	rate_invoice_free(invoice);
	invoice = rate(prorated, &month, local("2026-01-11 00:00"), local("2026-01-21 00:00"), NULL,
		       0, NULL);
	assert_int_equal(invoice->total_minor, 1000);
	rate_invoice_free(invoice);
	/* A member for one hour: 31.00 / 744 = 0.041666… */
	invoice = rate(prorated, &month, local("2026-01-11 10:00"), local("2026-01-11 11:00"), NULL,
		       0, NULL);
	assert_int_equal(invoice->total_minor, 4);
	rate_invoice_free(invoice);
	/* Not prorated: the whole fee, however short the membership. */
	invoice = rate(whole, &month, local("2026-01-31 00:00"), INT64_MAX, NULL, 0, NULL);
	assert_int_equal(invoice->total_minor, 3100);
	assert_string_equal(invoice->lines[0].explain,
			    "Fixed fee: 31.00 EUR per period, not prorated = 31.00 EUR");
	rate_invoice_free(invoice);
	tariff_free(prorated);
	tariff_free(whole);
}

static const char peak_tariff[] =
	"{\"name\": \"Peak\", " TARIFF_START ", \"usage_charges\": ["
	"{\"name\": \"Peak\", \"direction\": \"down\", \"windows\": [{\"days\": [\"mon\", "
	"\"tue\", \"wed\", \"thu\", \"fri\"], \"from\": \"18:00\", \"to\": \"23:00\"}], "
	"\"tiers\": [{\"up_to_gb\": 5, \"price_per_gb_minor\": 100}, {\"price_per_gb_minor\": "
	"50}]}, "
	"{\"name\": \"Off-peak\", \"direction\": \"down\", \"allowance_gb\": 1, "
	"\"tiers\": [{\"price_per_gb_minor\": 10}]}]}";

/* Which charge a bucket's bytes go to, by the local time it starts. */
static int charge_of(const struct tariff *tariff, const struct month *month, const char *when)
{
	struct rate_slice slice = { .start_s = local(when), .bytes_down = 123 };
	struct rate_invoice *invoice = rate(tariff, month, 0, INT64_MAX, &slice, 1, NULL);
	int charge = -1;

	for (size_t i = 0; i < invoice->n_charges; i++)
		if (invoice->charges[i].bytes == 123)
			charge = (int)i;
	rate_invoice_free(invoice);
	return charge;
}

static void test_window_edges(void **state)
{
	struct tariff *tariff = tariff_of(peak_tariff);
	struct month month;

	set_zone("Europe/Madrid");
	month = month_of("2026-06");
	/* Monday 1 June 2026. */
	assert_int_equal(charge_of(tariff, &month, "2026-06-01 17:55"), 1);
	assert_int_equal(charge_of(tariff, &month, "2026-06-01 18:00"), 0);
	assert_int_equal(charge_of(tariff, &month, "2026-06-01 22:55"), 0);
	assert_int_equal(charge_of(tariff, &month, "2026-06-01 23:00"), 1);
	/* Friday yes, Saturday and Sunday no. */
	assert_int_equal(charge_of(tariff, &month, "2026-06-05 20:00"), 0);
	assert_int_equal(charge_of(tariff, &month, "2026-06-06 20:00"), 1);
	assert_int_equal(charge_of(tariff, &month, "2026-06-07 20:00"), 1);
	/* A bucket that starts a second before 18:00 is not peak. */
	{
		struct rate_slice slice = { .start_s = local("2026-06-01 18:00") - 1,
					    .bytes_down = GB };
		struct rate_invoice *invoice = rate(tariff, &month, 0, INT64_MAX, &slice, 1, NULL);

		assert_int_equal(invoice->charges[0].bytes, 0);
		assert_int_equal(invoice->charges[1].bytes, GB);
		rate_invoice_free(invoice);
	}
	tariff_free(tariff);
}

static void test_tiers_cross_inside_window(void **state)
{
	struct tariff *tariff = tariff_of(peak_tariff);
	struct rate_slice slices[3];
	struct rate_invoice *invoice;
	struct month month;

	set_zone("Europe/Madrid");
	month = month_of("2026-06");
	/* 2.5 GB in each of three peak buckets: the 5 GB edge is crossed in
	 * the middle of the third. */
	slices[0] = (struct rate_slice){ .start_s = local("2026-06-02 18:00"),
					 .bytes_down = 2500000000 };
	slices[1] = (struct rate_slice){ .start_s = local("2026-06-02 18:05"),
					 .bytes_down = 2500000000 };
	slices[2] = (struct rate_slice){ .start_s = local("2026-06-03 22:55"),
					 .bytes_down = 2500000000 };
	invoice = rate(tariff, &month, 0, INT64_MAX, slices, 3, NULL);
	assert_int_equal(invoice->n_lines, 2);
	assert_int_equal(invoice->lines[0].quantity, 5 * GB);
	assert_int_equal(invoice->lines[0].amount_minor, 500);
	assert_string_equal(invoice->lines[0].description, "Peak (up to 5 GB)");
	assert_string_equal(invoice->lines[0].explain,
			    "5 GB of Peak up to 5 GB × 1.00 EUR/GB = 5.00 EUR");
	assert_int_equal(invoice->lines[1].quantity, 2500000000);
	assert_int_equal(invoice->lines[1].amount_minor, 125);
	assert_string_equal(invoice->lines[1].description, "Peak (beyond 5 GB)");
	assert_string_equal(invoice->lines[1].explain,
			    "2.5 GB of Peak beyond 5 GB × 0.50 EUR/GB = 1.25 EUR");
	assert_int_equal(invoice->total_minor, 625);
	rate_invoice_free(invoice);
	tariff_free(tariff);
}

static void test_allowance_exhausted_mid_bucket(void **state)
{
	struct tariff *tariff = tariff_of(peak_tariff);
	struct rate_slice slices[2];
	struct rate_invoice *invoice;
	struct month month;

	set_zone("Europe/Madrid");
	month = month_of("2026-06");
	/* Off-peak has 1 GB free: 0.4 GB, then a bucket of 0.8 GB that uses up
	 * the remaining 0.6 GB and is charged for 0.2 GB. */
	slices[0] = (struct rate_slice){ .start_s = local("2026-06-02 10:00"),
					 .bytes_down = 400000000 };
	slices[1] = (struct rate_slice){ .start_s = local("2026-06-02 10:05"),
					 .bytes_down = 800000000 };
	invoice = rate(tariff, &month, 0, INT64_MAX, slices, 2, NULL);
	assert_int_equal(invoice->n_lines, 2);
	assert_int_equal(invoice->lines[0].quantity, GB);
	assert_int_equal(invoice->lines[0].amount_minor, 0);
	assert_string_equal(invoice->lines[0].description, "Off-peak (allowance)");
	assert_string_equal(invoice->lines[0].explain,
			    "1 GB of Off-peak within the 1 GB allowance, free = 0.00 EUR");
	assert_int_equal(invoice->lines[1].quantity, 200000000);
	assert_string_equal(invoice->lines[1].description, "Off-peak (beyond 1 GB)");
	assert_string_equal(
		invoice->lines[1].explain,
		"0.2 GB of Off-peak beyond the 1 GB allowance × 0.10 EUR/GB = 0.02 EUR");
	rate_invoice_free(invoice);

	/* Within the allowance: one free line; no traffic at all: no line. */
	invoice = rate(tariff, &month, 0, INT64_MAX, slices, 1, NULL);
	assert_int_equal(invoice->n_lines, 1);
	assert_string_equal(invoice->lines[0].explain,
			    "0.4 GB of Off-peak within the 1 GB allowance, free = 0.00 EUR");
	rate_invoice_free(invoice);
	invoice = rate(tariff, &month, 0, INT64_MAX, NULL, 0, NULL);
	assert_int_equal(invoice->n_lines, 0);
	assert_int_equal(invoice->total_minor, 0);
	rate_invoice_free(invoice);
	tariff_free(tariff);
}

static void test_directions(void **state)
{
	struct tariff *tariff = tariff_of(
		"{\"name\": \"D\", " TARIFF_START ", \"usage_charges\": ["
		"{\"name\": \"Up\", \"direction\": \"up\", \"windows\": [{\"days\": " ALL_DAYS
		", \"from\": \"00:00\", \"to\": \"12:00\"}], \"tiers\": [{\"price_per_gb_minor\": "
		"7}]}, "
		"{\"name\": \"Any\", \"direction\": \"both\", \"windows\": [{\"days\": " ALL_DAYS
		", \"from\": \"06:00\", \"to\": \"18:00\"}], \"tiers\": [{\"price_per_gb_minor\": "
		"3}]}]}");
	struct rate_slice slices[3];
	struct rate_invoice *invoice;
	struct month month;

	set_zone("UTC");
	month = month_of("2026-03");
	/* 08:00: up goes to "Up" (first), down to "Any". 14:00: both to "Any".
	 * 20:00: nothing takes either. */
	slices[0] = (struct rate_slice){ .start_s = local("2026-03-02 08:00"),
					 .bytes_up = 1 * GB,
					 .bytes_down = 2 * GB };
	slices[1] = (struct rate_slice){ .start_s = local("2026-03-02 14:00"),
					 .bytes_up = 4 * GB,
					 .bytes_down = 8 * GB };
	slices[2] = (struct rate_slice){ .start_s = local("2026-03-02 20:00"),
					 .bytes_up = 16 * GB,
					 .bytes_down = 32 * GB };
	invoice = rate(tariff, &month, 0, INT64_MAX, slices, 3, NULL);
	assert_int_equal(invoice->charges[0].bytes, 1 * GB);
	assert_int_equal(invoice->charges[1].bytes, 14 * GB);
	assert_int_equal(invoice->uncharged_bytes, 48 * GB);
	assert_int_equal(invoice->bytes_up, 21 * GB);
	assert_int_equal(invoice->bytes_down, 42 * GB);
	assert_int_equal(invoice->total_minor, 7 + 14 * 3);
	rate_invoice_free(invoice);
	/* A fixed zone of UTC is the same as the UTC zone table. Six hours
	 * west, the buckets start at 02:00, 08:00 and 14:00 local. */
	rate_zone_fixed(0, &month.zone);
	invoice = rate(tariff, &month, 0, INT64_MAX, slices, 3, NULL);
	assert_int_equal(invoice->total_minor, 7 + 14 * 3);
	rate_invoice_free(invoice);
	rate_zone_fixed(-6 * 3600, &month.zone);
	invoice = rate(tariff, &month, 0, INT64_MAX, slices, 3, NULL);
	/* Up 1 GB and 4 GB to "Up"; down 8 GB, up 16 GB and down 32 GB to
	 * "Any"; the 2 GB down at 02:00 to nothing. */
	assert_int_equal(invoice->charges[0].bytes, 5 * GB);
	assert_int_equal(invoice->charges[1].bytes, 56 * GB);
	assert_int_equal(invoice->uncharged_bytes, 2 * GB);
	rate_invoice_free(invoice);
	tariff_free(tariff);
}

/* Local traffic goes only to local charges, internet traffic only to
 * internet ones, each scope by its own precedence; cost sharing weighs
 * internet traffic only. */
static void test_local_traffic(void **state)
{
	struct tariff *tariff = tariff_of(
		"{\"name\": \"L\", " TARIFF_START ", \"usage_charges\": ["
		"{\"name\": \"Evening local\", \"direction\": \"down\", \"scope\": \"local\", "
		"\"windows\": [{\"days\": " ALL_DAYS ", \"from\": \"18:00\", \"to\": \"23:00\"}], "
		"\"tiers\": [{\"price_per_gb_minor\": 10}]}, "
		"{\"name\": \"Internet\", \"direction\": \"both\", \"tiers\": "
		"[{\"price_per_gb_minor\": 100}]}, "
		"{\"name\": \"Local\", \"direction\": \"both\", \"scope\": \"local\", "
		"\"tiers\": [{\"up_to_gb\": 5, \"price_per_gb_minor\": 2}, "
		"{\"price_per_gb_minor\": 1}]}], "
		"\"cost_sharing\": {\"categories\": [\"transit\"], \"equal_bp\": 0, "
		"\"direction\": \"both\"}}");
	struct tariff *internet_only = tariff_of(
		"{\"name\": \"I\", " TARIFF_START ", \"usage_charges\": [{\"name\": \"Traffic\", "
		"\"direction\": \"both\", \"tiers\": [{\"price_per_gb_minor\": 100}]}]}");
	struct rate_slice slices[3];
	struct rate_invoice *invoice;
	struct rate_usage summed;
	struct month month;
	uint64_t sharing_bytes;
	json_t *json, *usage;

	set_zone("UTC");
	month = month_of("2026-03");
	/* 20:00: local down to "Evening local", local up to "Local". 10:00:
	 * all local to "Local". Internet always to "Internet". */
	slices[0] = (struct rate_slice){ .start_s = local("2026-03-02 20:00"),
					 .bytes_up = 1 * GB,
					 .bytes_down = 2 * GB,
					 .local_up = 3 * GB,
					 .local_down = 4 * GB };
	slices[1] = (struct rate_slice){ .start_s = local("2026-03-03 10:00"),
					 .local_up = 500000000,
					 .local_down = 2 * GB };
	slices[2] =
		(struct rate_slice){ .start_s = local("2026-03-04 10:00"), .bytes_down = 1 * GB };
	invoice = rate(tariff, &month, 0, INT64_MAX, slices, 3, NULL);
	assert_int_equal(invoice->charges[0].bytes, 4 * GB);
	assert_int_equal(invoice->charges[1].bytes, 4 * GB);
	assert_int_equal(invoice->charges[2].bytes, 5500000000);
	assert_int_equal(invoice->bytes_up, 1 * GB);
	assert_int_equal(invoice->bytes_down, 3 * GB);
	assert_int_equal(invoice->local_up, 3500000000);
	assert_int_equal(invoice->local_down, 6 * GB);
	assert_int_equal(invoice->uncharged_bytes, 0);
	assert_int_equal(invoice->local_uncharged_bytes, 0);
	/* 0.40 + 4.00 + 0.10 + 0.01: 0.5 GB × 0.01 is 0.005, rounded half up. */
	assert_int_equal(invoice->n_lines, 4);
	assert_string_equal(invoice->lines[0].explain,
			    "4 GB of Evening local (local traffic) × 0.10 EUR/GB = 0.40 EUR");
	assert_string_equal(invoice->lines[1].explain, "4 GB of Internet × 1.00 EUR/GB = 4.00 EUR");
	assert_string_equal(invoice->lines[2].explain,
			    "5 GB of Local (local traffic) up to 5 GB × 0.02 EUR/GB = 0.10 EUR");
	assert_string_equal(invoice->lines[3].explain, "0.5 GB of Local (local traffic) beyond "
						       "5 GB × 0.01 EUR/GB = 0.01 EUR");
	assert_int_equal(invoice->total_minor, 40 + 400 + 10 + 1);
	/* The invoice's JSON carries both scopes. */
	assert_int_equal(rate_invoice_to_json(invoice, &json), 0);
	usage = json_object_get(json, "usage");
	assert_int_equal(json_integer_value(json_object_get(usage, "bytes_up")), 1 * GB);
	assert_int_equal(json_integer_value(json_object_get(usage, "bytes_down")), 3 * GB);
	assert_int_equal(json_integer_value(json_object_get(usage, "local_up")), 3500000000);
	assert_int_equal(json_integer_value(json_object_get(usage, "local_down")), 6 * GB);
	assert_int_equal(json_integer_value(json_object_get(usage, "local_uncharged_bytes")), 0);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(usage, "charges"), 0), "scope")),
			    "local");
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(usage, "charges"), 1), "scope")),
			    "internet");
	json_decref(json);
	rate_invoice_free(invoice);

	/* Cost sharing is weighed by internet traffic alone. */
	summed = usage_of(tariff, &month, slices, 3);
	assert_int_equal(rate_usage_bytes(&summed, TARIFF_DIRECTION_BOTH, &sharing_bytes), 0);
	assert_int_equal(sharing_bytes, 4 * GB);

	/* A tariff without a local charge bills the internet traffic as
	 * before and leaves the local traffic free. */
	invoice = rate(internet_only, &month, 0, INT64_MAX, slices, 3, NULL);
	assert_int_equal(invoice->charges[0].bytes, 4 * GB);
	assert_int_equal(invoice->total_minor, 400);
	assert_int_equal(invoice->uncharged_bytes, 0);
	assert_int_equal(invoice->local_uncharged_bytes, 9500000000);
	assert_string_equal(invoice->lines[0].explain, "4 GB of Traffic × 1.00 EUR/GB = 4.00 EUR");
	rate_invoice_free(invoice);

	/* Local counts beyond 64 bits are refused, not wrapped. */
	{
		struct rate_slice huge[2] = { { month.start_s, 0, 0, UINT64_MAX, 0 },
					      { month.start_s, 0, 0, 1, 0 } };
		struct rate_input input = { .tariff = internet_only,
					    .zone = &month.zone,
					    .period_start_s = month.start_s,
					    .period_end_s = month.end_s,
					    .member_to_s = INT64_MAX,
					    .slices = huge,
					    .n_slices = 2 };

		invoice = NULL;
		assert_int_equal(rate_invoice_new(&input, &invoice), -ERANGE);
		assert_null(invoice);
	}
	tariff_free(tariff);
	tariff_free(internet_only);
}

static void test_minimum_cap_and_tax(void **state)
{
	struct tariff *tariff = tariff_of(
		"{\"name\": \"M\", " TARIFF_START ", \"tax\": {\"rate_bp\": 1000, \"included\": "
		"false}, \"fixed_fee\": {\"amount_minor\": 105, \"prorate\": false}, "
		"\"minimum_minor\": 300, \"cap_minor\": 300}");
	struct tariff *included = tariff_of(
		"{\"name\": \"I\", " TARIFF_START ", \"tax\": {\"rate_bp\": 550, \"included\": "
		"true}, \"fixed_fee\": {\"amount_minor\": 1055, \"prorate\": false}, "
		"\"cap_minor\": 1000}");
	struct rate_invoice *invoice;
	struct month month;

	set_zone("UTC");
	month = month_of("2026-02");
	/* Minimum equal to the cap: always exactly 3.00 before tax. */
	invoice = rate(tariff, &month, 0, INT64_MAX, NULL, 0, NULL);
	assert_int_equal(invoice->n_lines, 3);
	assert_int_equal(invoice->lines[1].kind, RATE_LINE_MINIMUM);
	assert_int_equal(invoice->lines[1].amount_minor, 195);
	assert_string_equal(invoice->lines[1].unit, "invoice");
	assert_int_equal(invoice->subtotal_minor, 300);
	assert_int_equal(invoice->lines[2].kind, RATE_LINE_TAX);
	assert_int_equal(invoice->lines[2].quantity, 300);
	assert_string_equal(invoice->lines[2].unit, "minor_unit");
	assert_int_equal(invoice->lines[2].amount_minor, 30);
	assert_int_equal(invoice->total_minor, 330);
	rate_invoice_free(invoice);

	/* Included: capped to 10.00, of which 5.5/105.5 is tax: 0.5213… → 0.52. */
	invoice = rate(included, &month, 0, INT64_MAX, NULL, 0, NULL);
	assert_int_equal(invoice->n_lines, 2);
	assert_int_equal(invoice->lines[1].kind, RATE_LINE_CAP);
	assert_int_equal(invoice->lines[1].amount_minor, -55);
	assert_string_equal(invoice->lines[1].explain, "Charges of 10.55 EUR are above the cap "
						       "of 10.00 EUR: 10.00 EUR - 10.55 EUR = "
						       "-0.55 EUR");
	assert_int_equal(invoice->total_minor, 1000);
	assert_int_equal(invoice->tax_minor, 52);
	assert_string_equal(invoice->tax_explain,
			    "The total of 10.00 EUR includes 5.5% tax: 10.00 EUR × 550 / 10550 = "
			    "0.52 EUR");
	rate_invoice_free(invoice);
	tariff_free(tariff);
	tariff_free(included);
}

static void test_daylight_saving_months(void **state)
{
	struct month october, march, november;

	set_zone("Europe/Madrid");
	october = month_of("2026-10");
	assert_int_equal(october.start_s, 1790805600 /* 2026-09-30T22:00:00Z */);
	assert_int_equal(october.end_s - october.start_s, 31 * 86400 + 3600);
	assert_int_equal(october.zone.n, 2);
	assert_int_equal(october.zone.spans[0].from_s, october.start_s);
	assert_int_equal(october.zone.spans[0].offset_s, 7200);
	assert_int_equal(october.zone.spans[1].from_s, 1792890000 /* 2026-10-25T01:00:00Z */);
	assert_int_equal(october.zone.spans[1].offset_s, 3600);
	march = month_of("2027-03");
	assert_int_equal(march.end_s - march.start_s, 31 * 86400 - 3600);
	assert_int_equal(march.zone.n, 2);
	assert_int_equal(march.zone.spans[1].from_s, 1806195600 /* 2027-03-28T01:00:00Z */);
	assert_int_equal(march.zone.spans[1].offset_s, 7200);
	november = month_of("2026-11");
	assert_int_equal(november.start_s, october.end_s);
	assert_int_equal(november.end_s - november.start_s, 30 * 86400);
	assert_int_equal(november.zone.n, 1);
}

static void test_period_helpers(void **state)
{
	struct period period;
	char text[PERIOD_TEXT_MAX];
	int64_t start_s, end_s;
	struct date date;
	struct tz_time day;

	assert_int_equal(period_parse("2026-11", &period), 0);
	assert_int_equal(period.year, 2026);
	assert_int_equal(period.month, 11);
	period_format(&period, text);
	assert_string_equal(text, "2026-11");
	period = period_next(&(struct period){ 2026, 12 });
	period_format(&period, text);
	assert_string_equal(text, "2027-01");
	assert_int_equal(period_parse("2026-13", &period), -EINVAL);
	assert_int_equal(period_parse("2026-1", &period), -EINVAL);
	assert_int_equal(period_parse("1969-12", &period), -EINVAL);
	assert_int_equal(period_parse("2026-11-01", &period), -EINVAL);

	set_zone("UTC");
	assert_int_equal(period_bounds(zone, &(struct period){ 2026, 11 }, &start_s, &end_s), 0);
	assert_int_equal(start_s, 1793491200 /* 2026-11-01T00:00:00Z */);
	assert_int_equal(end_s - start_s, 30 * 86400);
	assert_int_equal(period_containing(zone, 1793491199, &period), 0);
	assert_int_equal(period.month, 10);
	assert_int_equal(period_containing(zone, 1793491200, &period), 0);
	assert_int_equal(period.month, 11);
	set_zone("Europe/Madrid");
	/* 23:30 UTC on 31 October is already November in Madrid. */
	assert_int_equal(period_containing(zone, 1793489400, &period), 0);
	assert_int_equal(period.month, 11);

	/* Santiago skips from 00:00 to 01:00 when summer time starts: the day
	 * starts at 01:00 local. */
	set_zone("America/Santiago");
	assert_int_equal(date_parse("2026-09-06", &date), 0);
	assert_int_equal(period_day_start(zone, &date, &start_s), 0);
	assert_int_equal(tz_local(zone, start_s, &day, NULL), 0);
	assert_int_equal(day.date.day, 6);
	assert_int_equal(day.hour, 1);
	assert_int_equal(day.minute, 0);
	assert_int_equal(tz_local(zone, start_s - 1, &day, NULL), 0);
	assert_int_equal(day.date.day, 5);
	/* Samoa skipped 30 December 2011: the first instant on or after it is
	 * the start of the 31st. */
	set_zone("Pacific/Apia");
	assert_int_equal(date_parse("2011-12-30", &date), 0);
	assert_int_equal(period_day_start(zone, &date, &start_s), 0);
	assert_int_equal(tz_local(zone, start_s, &day, NULL), 0);
	assert_int_equal(day.date.day, 31);
	assert_int_equal(day.hour, 0);
	assert_int_equal(period_bounds(zone, &(struct period){ 2011, 12 }, &start_s, &end_s), 0);
	assert_int_equal(end_s - start_s, 30 * 86400);
}

/* The earliest valid_from a tariff published on a day may have: the 1st of
 * the month on or after the day plus the notice. */
static void test_notice_start(void **state)
{
	static const struct {
		const char *today;
		unsigned notice_days;
		const char *earliest;
	} cases[] = {
		{ "2026-12-05", 30, "2027-02-01" }, /* 2027-01-04: the next month's 1st */
		{ "2026-12-02", 30, "2027-01-01" }, /* exactly a 1st, across the year */
		{ "2027-01-31", 30, "2027-04-01" }, /* a month end: 2027-03-02 */
		{ "2027-01-31", 28, "2027-03-01" }, /* 28 February in a common year */
		{ "2028-01-31", 29, "2028-03-01" }, /* 29 February */
		{ "2028-01-31", 30, "2028-03-01" }, /* 1 March after a leap day */
		{ "2028-02-29", 0, "2028-03-01" },  /* no notice, on 29 February */
		{ "2028-02-01", 0, "2028-02-01" },  /* no notice, on a 1st */
		{ "2027-12-31", 366, "2029-01-01" },
	};
	struct date today, earliest;
	char text[DATE_TEXT_MAX];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(date_parse(cases[i].today, &today), 0);
		earliest = period_start_after_notice(&today, cases[i].notice_days);
		date_format(&earliest, text);
		assert_string_equal(text, cases[i].earliest);
	}
}

static void test_cost_shares(void **state)
{
	struct rate_household_usage households[4] = {
		{ 30, 0 },
		{ 10, 0 },
		{ 40, 0 },
		{ 20, 0 },
	};
	struct rate_cost_share shares[4];

	/* Nobody used anything: equal split, leftover to the lower ids. */
	assert_int_equal(rate_cost_shares(1003, 5000, households, 4, shares), 0);
	assert_int_equal(shares[0].amount_minor, 250);
	assert_int_equal(shares[1].amount_minor, 252);
	assert_int_equal(shares[2].amount_minor, 250);
	assert_int_equal(shares[3].amount_minor, 251);
	/* A refund is shared the same way. */
	assert_int_equal(rate_cost_shares(-1003, 5000, households, 4, shares), 0);
	assert_int_equal(shares[1].amount_minor, -252);
	assert_int_equal(shares[0].amount_minor + shares[1].amount_minor + shares[2].amount_minor +
				 shares[3].amount_minor,
			 -1003);
	/* All by usage. */
	households[2].usage_bytes = 3 * GB;
	households[3].usage_bytes = 1 * GB;
	assert_int_equal(rate_cost_shares(1000, 0, households, 4, shares), 0);
	assert_int_equal(shares[2].amount_minor, 750);
	assert_int_equal(shares[3].amount_minor, 250);
	assert_int_equal(shares[0].amount_minor, 0);
	assert_int_equal(shares[3].total_usage_bytes, 4 * GB);
	assert_int_equal(rate_cost_shares(1000, 10001, households, 4, shares), -EINVAL);
	assert_int_equal(rate_cost_shares(0, 0, NULL, 0, shares), 0);
	assert_int_equal(rate_cost_shares(1, 0, NULL, 0, shares), -EINVAL);
}

static void test_rejects_inconsistent_input(void **state)
{
	struct tariff *tariff = tariff_of(peak_tariff);
	struct tariff *later = tariff_of("{\"name\": \"L\", \"currency\": \"EUR\", \"valid_from\": "
					 "\"2026-07-01\"}");
	struct rate_cost_share share = { .amount_minor = 1, .equal_minor = 1, .n_households = 1 };
	struct rate_invoice *invoice = NULL;
	struct rate_slice slice;
	struct rate_zone bad_zone = { .n = 0 };
	struct month month;
	struct rate_input input;

	set_zone("Europe/Madrid");
	month = month_of("2026-06");
	input = (struct rate_input){ .tariff = tariff,
				     .zone = &month.zone,
				     .period_start_s = month.start_s,
				     .period_end_s = month.end_s,
				     .member_from_s = 0,
				     .member_to_s = INT64_MAX };
	slice = (struct rate_slice){ .start_s = month.end_s, .bytes_down = 1 };
	input.slices = &slice;
	input.n_slices = 1;
	assert_int_equal(rate_invoice_new(&input, &invoice), -EINVAL);
	slice.start_s = month.start_s - 1;
	assert_int_equal(rate_invoice_new(&input, &invoice), -EINVAL);
	slice.start_s = month.start_s;
	assert_int_equal(rate_invoice_new(&input, &invoice), 0);
	rate_invoice_free(invoice);
	invoice = NULL;
	/* No membership in the period. */
	input.member_from_s = month.end_s;
	assert_int_equal(rate_invoice_new(&input, &invoice), -EINVAL);
	input.member_from_s = 0;
	input.member_to_s = month.start_s;
	assert_int_equal(rate_invoice_new(&input, &invoice), -EINVAL);
	input.member_to_s = INT64_MAX;
	/* A cost share for a tariff that shares nothing. */
	input.cost_share = &share;
	assert_int_equal(rate_invoice_new(&input, &invoice), -EINVAL);
	input.cost_share = NULL;
	/* A tariff that is not valid yet in June. */
	input.tariff = later;
	assert_int_equal(rate_invoice_new(&input, &invoice), -EINVAL);
	/* Unless a quote or a re-pricing asks what it would have cost. */
	input.any_valid_from = true;
	assert_int_equal(rate_invoice_new(&input, &invoice), 0);
	rate_invoice_free(invoice);
	invoice = NULL;
	input.any_valid_from = false;
	input.tariff = tariff;
	input.zone = &bad_zone;
	assert_int_equal(rate_invoice_new(&input, &invoice), -EINVAL);
	/* A count beyond 64 bits is refused, not wrapped. */
	{
		struct rate_slice huge[2] = { { month.start_s, UINT64_MAX, 0, 0, 0 },
					      { month.start_s, 1, 0, 0, 0 } };

		input.zone = &month.zone;
		input.slices = huge;
		input.n_slices = 2;
		assert_int_equal(rate_invoice_new(&input, &invoice), -ERANGE);
	}
	assert_null(invoice);
	rate_invoice_free(NULL);
	tariff_free(tariff);
	tariff_free(later);
}

/* Totals price as a series does only where no window parts the week. */
static void test_tariff_timeless(void **state)
{
	struct tariff *peak = tariff_of(peak_tariff);
	struct tariff *flat = tariff_of(
		"{\"name\": \"F\", \"currency\": \"EUR\", \"valid_from\": \"2026-01-01\", "
		"\"usage_charges\": [{\"name\": \"Down\", \"direction\": \"down\", \"tiers\": "
		"[{\"price_per_gb_minor\": 5}]}, {\"name\": \"Local\", \"direction\": \"both\", "
		"\"scope\": \"local\", \"tiers\": [{\"price_per_gb_minor\": 1}]}]}");
	struct tariff *whole_week = tariff_of(
		"{\"name\": \"W\", \"currency\": \"EUR\", \"valid_from\": \"2026-01-01\", "
		"\"usage_charges\": [{\"name\": \"Evening\", \"direction\": \"up\", "
		"\"windows\": [{\"days\": [\"sat\"], \"from\": \"18:00\", \"to\": \"23:00\"}], "
		"\"tiers\": [{\"price_per_gb_minor\": 5}]}]}");

	(void)state;
	assert_false(rate_tariff_timeless(peak));
	assert_true(rate_tariff_timeless(flat));
	assert_false(rate_tariff_timeless(whole_week));
	tariff_free(peak);
	tariff_free(flat);
	tariff_free(whole_week);
}

static void test_invoice_json(void **state)
{
	struct tariff *tariff = tariff_of(peak_tariff);
	struct rate_slice slice;
	struct rate_invoice *invoice;
	struct month month;
	json_t *json, *line;

	set_zone("Europe/Madrid");
	month = month_of("2026-06");
	slice = (struct rate_slice){ .start_s = local("2026-06-01 18:00"), .bytes_down = 6 * GB };
	invoice = rate(tariff, &month, 0, INT64_MAX, &slice, 1, NULL);
	assert_int_equal(rate_invoice_to_json(invoice, &json), 0);
	assert_string_equal(json_string_value(json_object_get(json, "currency")), "EUR");
	assert_int_equal(json_integer_value(json_object_get(json, "total_minor")), 550);
	assert_true(json_is_null(json_object_get(json, "tax")));
	line = json_array_get(json_object_get(json, "lines"), 1);
	assert_string_equal(json_string_value(json_object_get(line, "kind")), "usage");
	assert_string_equal(json_string_value(json_object_get(line, "unit")), "byte");
	assert_int_equal(json_integer_value(json_object_get(line, "quantity")), GB);
	assert_int_equal(json_integer_value(json_object_get(line, "unit_price_minor")), 50);
	assert_int_equal(json_integer_value(json_object_get(line, "unit_price_per")), GB);
	assert_int_equal(json_integer_value(json_object_get(line, "amount_minor")), 50);
	assert_int_equal(
		json_integer_value(json_object_get(
			json_array_get(json_object_get(json_object_get(json, "usage"), "charges"),
				       0),
			"bytes")),
		6 * GB);
	json_decref(json);
	rate_invoice_free(invoice);
	tariff_free(tariff);
}

/* xorshift64*: a fixed seed, so that a failure reproduces. */
static uint64_t next_random(uint64_t *prng)
{
	*prng ^= *prng >> 12;
	*prng ^= *prng << 25;
	*prng ^= *prng >> 27;
	return *prng * UINT64_C(2685821657736338717);
}

static char *invoice_json_text(const struct rate_invoice *invoice)
{
	json_t *json;
	char *text;

	assert_int_equal(rate_invoice_to_json(invoice, &json), 0);
	text = json_dumps(json, JSON_COMPACT);
	json_decref(json);
	assert_non_null(text);
	return text;
}

/* Random households on a tariff with every feature, in a month with a
 * daylight saving change: shares add up to the pool, every invoice adds up
 * and recomputes line by line, and rating twice gives the same bytes. */
/* Every byte of each scope went to one charge of that scope or to none. */
static void assert_charges_add_up(const struct rate_invoice *invoice)
{
	uint64_t internet = invoice->uncharged_bytes, local = invoice->local_uncharged_bytes;

	for (size_t i = 0; i < invoice->n_charges; i++) {
		if (invoice->charges[i].scope == TARIFF_SCOPE_LOCAL)
			local += invoice->charges[i].bytes;
		else
			internet += invoice->charges[i].bytes;
	}
	assert_int_equal(internet, invoice->bytes_up + invoice->bytes_down);
	assert_int_equal(local, invoice->local_up + invoice->local_down);
}

static void test_properties(void **state)
{
	static const char *const tariffs[] = {
		"{\"name\": \"All\", " TARIFF_START ", \"tax\": {\"rate_bp\": 2100, \"included\": "
		"false}, \"fixed_fee\": {\"amount_minor\": 1999, \"prorate\": true}, "
		"\"usage_charges\": [{\"name\": \"Peak\", \"direction\": \"down\", \"windows\": "
		"[{\"days\": [\"mon\", \"fri\"], \"from\": \"18:00\", \"to\": \"23:05\"}, "
		"{\"days\": [\"sat\"], \"from\": \"00:00\", \"to\": \"24:00\"}], \"allowance_gb\": "
		"2, \"tiers\": [{\"up_to_gb\": 3, \"price_per_gb_minor\": 333}, {\"up_to_gb\": 7, "
		"\"price_per_gb_minor\": 77}, {\"price_per_gb_minor\": 1}]}, {\"name\": "
		"\"Rest\", \"direction\": \"both\", \"allowance_gb\": 1, \"tiers\": "
		"[{\"price_per_gb_minor\": 13}]}], \"minimum_minor\": 700, \"cap_minor\": 9000, "
		"\"cost_sharing\": {\"categories\": [\"transit\"], \"equal_bp\": 3333, "
		"\"direction\": \"down\"}}",
		"{\"name\": \"Included\", " TARIFF_START ", \"tax\": {\"rate_bp\": 1999, "
		"\"included\": true}, \"usage_charges\": [{\"name\": \"Up\", \"direction\": "
		"\"up\", "
		"\"tiers\": [{\"price_per_gb_minor\": 37}]}], \"cost_sharing\": {\"categories\": "
		"[\"power\"], \"equal_bp\": 10000, \"direction\": \"both\"}}",
		"{\"name\": \"Local\", " TARIFF_START ", \"usage_charges\": [{\"name\": "
		"\"Night local\", \"direction\": \"up\", \"scope\": \"local\", \"windows\": "
		"[{\"days\": " ALL_DAYS ", \"from\": \"00:00\", \"to\": \"06:35\"}], "
		"\"allowance_gb\": 1, \"tiers\": [{\"price_per_gb_minor\": 7}]}, {\"name\": "
		"\"Internet\", \"direction\": \"down\", \"tiers\": [{\"price_per_gb_minor\": "
		"41}]}, {\"name\": \"Local\", \"direction\": \"both\", \"scope\": \"local\", "
		"\"tiers\": [{\"up_to_gb\": 2, \"price_per_gb_minor\": 3}, "
		"{\"price_per_gb_minor\": 1}]}], \"cost_sharing\": {\"categories\": "
		"[\"transit\"], \"equal_bp\": 5000, \"direction\": \"both\"}}",
	};
	enum { HOUSEHOLDS = 40, SLICES = 300 };
	uint64_t prng = UINT64_C(20261025);
	struct month month;

	set_zone("Europe/Madrid");
	month = month_of("2026-10");
	for (size_t t = 0; t < sizeof(tariffs) / sizeof(tariffs[0]); t++) {
		struct tariff *tariff = tariff_of(tariffs[t]);

		for (int round = 0; round < 5; round++) {
			static struct rate_slice slices[HOUSEHOLDS][SLICES];
			struct rate_household_usage usage[HOUSEHOLDS];
			struct rate_cost_share shares[HOUSEHOLDS];
			int64_t pool = (int64_t)(next_random(&prng) % 2000000) - 100000, sum = 0;

			for (size_t h = 0; h < HOUSEHOLDS; h++) {
				for (size_t i = 0; i < SLICES; i++) {
					uint64_t size = next_random(&prng) % 4 == 0 ? GB : 1000;

					slices[h][i] = (struct rate_slice){
						.start_s = month.start_s +
							   (int64_t)(next_random(&prng) %
								     (uint64_t)(month.end_s -
										month.start_s)),
						.bytes_up = next_random(&prng) % (size * 3),
						.bytes_down = next_random(&prng) % (size * 7),
						.local_up = next_random(&prng) % (size * 2),
						.local_down = next_random(&prng) % (size * 5),
					};
				}
				usage[h].id = (int64_t)(next_random(&prng) % 1000);
				struct rate_usage summed =
					usage_of(tariff, &month, slices[h], SLICES);

				assert_int_equal(rate_usage_bytes(&summed,
								  tariff->cost_sharing_direction,
								  &usage[h].usage_bytes),
						 0);
			}
			assert_int_equal(
				rate_cost_shares(pool, tariff->equal_bp, usage, HOUSEHOLDS, shares),
				0);
			for (size_t h = 0; h < HOUSEHOLDS; h++) {
				int64_t from = month.start_s +
					       (int64_t)(next_random(&prng) % 2) *
						       (int64_t)(next_random(&prng) % 2000000);
				struct rate_invoice *first, *second;
				char *a, *b;

				sum += shares[h].amount_minor;
				assert_int_equal(shares[h].amount_minor,
						 shares[h].equal_minor + shares[h].usage_minor);
				first = rate(tariff, &month, from, INT64_MAX, slices[h], SLICES,
					     &shares[h]);
				second = rate(tariff, &month, from, INT64_MAX, slices[h], SLICES,
					      &shares[h]);
				assert_charges_add_up(first);
				a = invoice_json_text(first);
				b = invoice_json_text(second);
				assert_string_equal(a, b);
				free(a);
				free(b);
				rate_invoice_free(first);
				rate_invoice_free(second);
			}
			assert_int_equal(sum, pool);
		}
		tariff_free(tariff);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_docs_worked_examples),
		cmocka_unit_test(test_fixed_fee_proration),
		cmocka_unit_test(test_window_edges),
		cmocka_unit_test(test_tiers_cross_inside_window),
		cmocka_unit_test(test_allowance_exhausted_mid_bucket),
		cmocka_unit_test(test_directions),
		cmocka_unit_test(test_local_traffic),
		cmocka_unit_test(test_minimum_cap_and_tax),
		cmocka_unit_test(test_daylight_saving_months),
		cmocka_unit_test(test_period_helpers),
		cmocka_unit_test(test_notice_start),
		cmocka_unit_test(test_cost_shares),
		cmocka_unit_test(test_rejects_inconsistent_input),
		cmocka_unit_test(test_tariff_timeless),
		cmocka_unit_test(test_invoice_json),
		cmocka_unit_test(test_properties),
	};

	int failed;

	/* The process's time zone is none of the tests' zones: nothing may
	 * read it. */
	setenv("TZ", "Pacific/Chatham", 1);
	failed = cmocka_run_group_tests_name("rate", tests, NULL, NULL);

	tz_zone_free(zone);
	return failed;
}
