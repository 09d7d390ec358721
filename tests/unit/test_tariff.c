/* Tariff documents: what a treasurer writes is read as meant, every mistake
 * is refused with the JSON path of the problem, one tariff has one canonical
 * text, and the published JSON Schema says what the validator enforces. */
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
#include "coopbill/currency.h"
#include "coopbill/tariff.h"

#define ALL_DAYS "[\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"]"

/* Every key the format has, each at least once: the schema checks walk it. */
static const char full_tariff[] =
	"{\n"
	"  \"name\": \"Village standard 2027\",\n"
	"  \"currency\": \"EUR\",\n"
	"  \"valid_from\": \"2027-01-01\",\n"
	"  \"emergency\": {\"reason\": \"The transit provider doubled its price\"},\n"
	"  \"tax\": {\"rate_bp\": 2100, \"included\": true},\n"
	"  \"fixed_fee\": {\"amount_minor\": 1500, \"prorate\": true,\n"
	"                \"description\": \"Membership and access\"},\n"
	"  \"usage_charges\": [\n"
	"    {\"name\": \"Peak download\", \"direction\": \"down\",\n"
	"     \"windows\": [{\"days\": " ALL_DAYS ", \"from\": \"18:00\", \"to\": \"23:00\"}],\n"
	"     \"allowance_gb\": 10,\n"
	"     \"tiers\": [{\"up_to_gb\": 50, \"price_per_gb_minor\": 50},\n"
	"               {\"price_per_gb_minor\": 30}]},\n"
	"    {\"name\": \"Off-peak download\", \"direction\": \"down\",\n"
	"     \"tiers\": [{\"price_per_gb_minor\": 5}]},\n"
	"    {\"name\": \"Weekend upload\", \"direction\": \"up\",\n"
	"     \"windows\": [{\"days\": [\"sat\"], \"from\": \"00:00\", \"to\": \"24:00\"},\n"
	"                 {\"days\": [\"sun\"], \"from\": \"08:30\", \"to\": \"12:15\"}],\n"
	"     \"tiers\": [{\"price_per_gb_minor\": 1}]},\n"
	"    {\"name\": \"Neighbours\", \"direction\": \"both\", \"scope\": \"local\",\n"
	"     \"tiers\": [{\"price_per_gb_minor\": 2}]}\n"
	"  ],\n"
	"  \"minimum_minor\": 500,\n"
	"  \"cap_minor\": 8000,\n"
	"  \"cost_sharing\": {\"categories\": [\"transit\", \"power\"], \"equal_bp\": 3000,\n"
	"                   \"direction\": \"both\"}\n"
	"}\n";

static const char minimal_tariff[] =
	"{\"name\": \"Free\", \"currency\": \"JPY\", \"valid_from\": \"2026-11-01\"}";

static const char flat_tariff[] =
	"{\"name\": \"Flat 2027\", \"currency\": \"EUR\", \"valid_from\": \"2027-01-01\",\n"
	" \"tax\": {\"rate_bp\": 2100, \"included\": false},\n"
	" \"usage_charges\": [{\"name\": \"Traffic\", \"direction\": \"both\",\n"
	"                    \"tiers\": [{\"price_per_gb_minor\": 20}]}],\n"
	" \"minimum_minor\": 500, \"cap_minor\": 3000}";

/* A name of 100 characters in 300 bytes of UTF-8 is within the limit. */
static const char long_name_tariff[] =
	"{\"name\": \""
	"€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€"
	"€"
	"€€€€€€€€€\", \"currency\": \"KWD\", \"valid_from\": \"1970-01-01\", "
	"\"usage_charges\": []}";

static struct tariff *parse_ok(const char *text)
{
	struct tariff *tariff = NULL;
	char err[512] = "";
	int r;

	r = tariff_parse(text, strlen(text), &tariff, err, sizeof(err));
	if (r != 0)
		fail_msg("tariff refused: %s\n%s", err, text);
	assert_non_null(tariff);
	return tariff;
}

/* The fenced ```json blocks of docs/tariffs.md, in order: its tariffs. */
static size_t docs_json_blocks(char *markdown, char **ret_blocks, size_t max)
{
	size_t n = 0;
	char *cursor = markdown;

	while ((cursor = strstr(cursor, "\n```json\n")) != NULL) {
		char *start = cursor + strlen("\n```json\n");
		char *end = strstr(start, "\n```\n");

		assert_non_null(end);
		assert_true(n < max);
		*end = '\0';
		ret_blocks[n++] = start;
		cursor = end + 1;
	}
	return n;
}

static void test_parse_full(void **state)
{
	struct tariff *tariff = parse_ok(full_tariff);
	const struct tariff_charge *peak = &tariff->charges[0];
	const struct tariff_charge *weekend = &tariff->charges[2];
	const struct tariff_charge *neighbours = &tariff->charges[3];

	assert_string_equal(tariff->name, "Village standard 2027");
	assert_string_equal(tariff->currency, "EUR");
	assert_int_equal(tariff->exponent, 2);
	assert_int_equal(tariff->valid_from.year, 2027);
	assert_int_equal(tariff->valid_from.month, 1);
	assert_string_equal(tariff->emergency_reason, "The transit provider doubled its price");
	assert_true(tariff->has_tax && tariff->tax_included);
	assert_int_equal(tariff->tax_rate_bp, 2100);
	assert_true(tariff->has_fixed_fee && tariff->fixed_fee_prorate);
	assert_int_equal(tariff->fixed_fee_minor, 1500);
	assert_string_equal(tariff->fixed_fee_description, "Membership and access");
	assert_int_equal(tariff->n_charges, 4);
	assert_string_equal(peak->name, "Peak download");
	assert_int_equal(peak->direction, TARIFF_DIRECTION_DOWN);
	/* Without scope a charge prices internet traffic, as before. */
	assert_int_equal(peak->scope, TARIFF_SCOPE_INTERNET);
	assert_int_equal(neighbours->scope, TARIFF_SCOPE_LOCAL);
	assert_int_equal(neighbours->direction, TARIFF_DIRECTION_BOTH);
	assert_string_equal(tariff_scope_name(neighbours->scope), "local");
	assert_string_equal(tariff_scope_name(peak->scope), "internet");
	assert_int_equal(peak->n_windows, 1);
	assert_int_equal(peak->windows[0].days, 0x7f);
	assert_int_equal(peak->windows[0].from_min, 18 * 60);
	assert_int_equal(peak->windows[0].to_min, 23 * 60);
	assert_int_equal(peak->allowance_gb, 10);
	assert_int_equal(peak->n_tiers, 2);
	assert_true(peak->tiers[0].has_up_to);
	assert_int_equal(peak->tiers[0].up_to_gb, 50);
	assert_int_equal(peak->tiers[0].price_per_gb_minor, 50);
	assert_false(peak->tiers[1].has_up_to);
	assert_int_equal(peak->tiers[1].price_per_gb_minor, 30);
	assert_int_equal(tariff->charges[1].n_windows, 0);
	assert_int_equal(tariff->charges[1].allowance_gb, 0);
	assert_int_equal(weekend->windows[0].days, 1u << 5);
	assert_int_equal(weekend->windows[0].to_min, 24 * 60);
	assert_int_equal(weekend->windows[1].days, 1u << 6);
	assert_int_equal(weekend->windows[1].from_min, 8 * 60 + 30);
	assert_int_equal(weekend->windows[1].to_min, 12 * 60 + 15);
	assert_true(tariff->has_minimum && tariff->has_cap);
	assert_int_equal(tariff->minimum_minor, 500);
	assert_int_equal(tariff->cap_minor, 8000);
	assert_true(tariff->has_cost_sharing);
	assert_int_equal(tariff->n_categories, 2);
	assert_string_equal(tariff->categories[0], "transit");
	assert_string_equal(tariff->categories[1], "power");
	assert_int_equal(tariff->equal_bp, 3000);
	assert_int_equal(tariff->cost_sharing_direction, TARIFF_DIRECTION_BOTH);
	tariff_free(tariff);
}

static size_t slot(int weekday, int hour, int minute)
{
	return (size_t)(weekday * 24 * 60 + hour * 60 + minute) * 60 / TARIFF_SLOT_S;
}

/* The slot table the rating engine reads: document order is precedence, and
 * a window covers [from, to). */
static void test_slots_follow_document_order(void **state)
{
	struct tariff *tariff = parse_ok(full_tariff);
	const uint8_t *down = tariff->charge_by_slot[0], *up = tariff->charge_by_slot[1];

	assert_int_equal(down[slot(0, 17, 55)], 1);
	assert_int_equal(down[slot(0, 18, 0)], 0);
	assert_int_equal(down[slot(0, 22, 55)], 0);
	assert_int_equal(down[slot(0, 23, 0)], 1);
	assert_int_equal(down[slot(6, 20, 0)], 0);
	/* Uploads: only the weekend charge, Saturday all day and Sunday morning. */
	assert_int_equal(up[slot(4, 23, 55)], TARIFF_SLOT_NOTHING);
	assert_int_equal(up[slot(5, 0, 0)], 2);
	assert_int_equal(up[slot(5, 23, 55)], 2);
	assert_int_equal(up[slot(6, 8, 25)], TARIFF_SLOT_NOTHING);
	assert_int_equal(up[slot(6, 8, 30)], 2);
	assert_int_equal(up[slot(6, 12, 10)], 2);
	assert_int_equal(up[slot(6, 12, 15)], TARIFF_SLOT_NOTHING);
	/* Local traffic has its own table: only the local charge takes it,
	 * whatever the internet charges' windows, and it takes no internet
	 * traffic. */
	for (size_t s = 0; s < TARIFF_WEEK_SLOTS; s++) {
		assert_int_equal(tariff->local_charge_by_slot[0][s], 3);
		assert_int_equal(tariff->local_charge_by_slot[1][s], 3);
		assert_int_not_equal(down[s], 3);
		assert_int_not_equal(up[s], 3);
	}
	tariff_free(tariff);

	/* Without a local charge, local traffic goes to no charge. */
	tariff = parse_ok(flat_tariff);
	assert_int_equal(tariff->local_charge_by_slot[0][100], TARIFF_SLOT_NOTHING);
	assert_int_equal(tariff->local_charge_by_slot[1][100], TARIFF_SLOT_NOTHING);
	tariff_free(tariff);

	/* Precedence holds within a scope: a local evening charge first, then a
	 * local one at any time; the internet charge between them is not in
	 * the way. */
	tariff = parse_ok("{\"name\": \"T\", \"currency\": \"EUR\", \"valid_from\": "
			  "\"2027-01-01\", \"usage_charges\": ["
			  "{\"name\": \"L1\", \"direction\": \"down\", \"scope\": \"local\", "
			  "\"windows\": [{\"days\": " ALL_DAYS ", \"from\": \"18:00\", \"to\": "
			  "\"23:00\"}], \"tiers\": [{\"price_per_gb_minor\": 3}]}, "
			  "{\"name\": \"I\", \"direction\": \"both\", \"scope\": \"internet\", "
			  "\"tiers\": [{\"price_per_gb_minor\": 9}]}, "
			  "{\"name\": \"L2\", \"direction\": \"down\", \"scope\": \"local\", "
			  "\"tiers\": [{\"price_per_gb_minor\": 1}]}]}");
	assert_int_equal(tariff->local_charge_by_slot[0][slot(2, 18, 0)], 0);
	assert_int_equal(tariff->local_charge_by_slot[0][slot(2, 23, 0)], 2);
	assert_int_equal(tariff->local_charge_by_slot[1][slot(2, 18, 0)], TARIFF_SLOT_NOTHING);
	assert_int_equal(tariff->charge_by_slot[0][slot(2, 18, 0)], 1);
	assert_int_equal(tariff->charge_by_slot[1][slot(2, 18, 0)], 1);
	tariff_free(tariff);
}

static void test_parse_small_tariffs(void **state)
{
	struct tariff *tariff;

	tariff = parse_ok(minimal_tariff);
	assert_int_equal(tariff->exponent, 0);
	assert_int_equal(tariff->n_charges, 0);
	assert_false(tariff->has_tax || tariff->has_fixed_fee || tariff->has_minimum ||
		     tariff->has_cap || tariff->has_cost_sharing);
	assert_null(tariff->emergency_reason);
	assert_int_equal(tariff->charge_by_slot[0][0], TARIFF_SLOT_NOTHING);
	tariff_free(tariff);

	tariff = parse_ok(flat_tariff);
	assert_int_equal(tariff->charges[0].direction, TARIFF_DIRECTION_BOTH);
	assert_int_equal(tariff->charge_by_slot[0][100], 0);
	assert_int_equal(tariff->charge_by_slot[1][100], 0);
	assert_false(tariff->tax_included);
	tariff_free(tariff);

	tariff = parse_ok(long_name_tariff);
	assert_int_equal(strlen(tariff->name), 300);
	assert_int_equal(tariff->exponent, 3);
	tariff_free(tariff);

	tariff_free(NULL);
}

struct rejection {
	const char *json;
	const char *message;
};

#define TARIFF_HEAD "\"name\": \"T\", \"currency\": \"EUR\", \"valid_from\": \"2027-01-01\""
#define CHARGE_HEAD "\"name\": \"C\", \"direction\": \"down\""
#define ONE_TIER    "\"tiers\": [{\"price_per_gb_minor\": 5}]"
#define WINDOW(body)                                                                  \
	"{" TARIFF_HEAD ", \"usage_charges\": [{" CHARGE_HEAD ", \"windows\": [" body \
	"], " ONE_TIER "}]}"
#define TIERS(allowance, body)                                                                 \
	"{" TARIFF_HEAD ", \"usage_charges\": [{" CHARGE_HEAD ", \"allowance_gb\": " allowance \
	", \"tiers\": [" body "]}]}"

static const struct rejection rejections[] = {
	{ "{" TARIFF_HEAD ", \"usage_charges\": [{" CHARGE_HEAD ", " ONE_TIER "}, {" CHARGE_HEAD
	  ", \"tiers\": [{\"price_per_gb_minor\": -1}]}]}",
	  "$.usage_charges[1].tiers[0].price_per_gb_minor: must be an integer >= 0" },
	{ "{" TARIFF_HEAD ", \"colour\": \"green\"}", "$.colour: unknown key" },
	{ "{" TARIFF_HEAD ", \"tax\": {\"rate\": 2100, \"included\": true}}",
	  "$.tax.rate: unknown key" },
	{ "{" TARIFF_HEAD ", \"a\\\"b\": 1}", "$[\"a\\\"b\"]: unknown key" },
	{ "{\"currency\": \"EUR\", \"valid_from\": \"2027-01-01\"}", "$.name: is required" },
	{ "{\"name\": \"\", \"currency\": \"EUR\", \"valid_from\": \"2027-01-01\"}",
	  "$.name: must be a string of 1 to 100 characters" },
	{ "{\"name\": 7, \"currency\": \"EUR\", \"valid_from\": \"2027-01-01\"}",
	  "$.name: must be a string of 1 to 100 characters" },
	{ "{\"name\": \"a\\nb\", \"currency\": \"EUR\", \"valid_from\": \"2027-01-01\"}",
	  "$.name: must not contain control characters" },
	{ "{\"name\": \"T\", \"currency\": \"XYZ\", \"valid_from\": \"2027-01-01\"}",
	  "$.currency: must be a known ISO 4217 currency code, like \"EUR\"" },
	{ "{\"name\": \"T\", \"currency\": \"eur\", \"valid_from\": \"2027-01-01\"}",
	  "$.currency: must be a known ISO 4217 currency code, like \"EUR\"" },
	{ "{\"name\": \"T\", \"currency\": \"EUR\", \"valid_from\": \"2027-01-02\"}",
	  "$.valid_from: must be the first day of a month from 1970 on, like \"2027-01-01\"" },
	{ "{\"name\": \"T\", \"currency\": \"EUR\", \"valid_from\": \"2027-13-01\"}",
	  "$.valid_from: must be the first day of a month from 1970 on, like \"2027-01-01\"" },
	{ "{" TARIFF_HEAD ", \"emergency\": {\"reason\": \"\"}}",
	  "$.emergency.reason: must be a string of 1 to 500 characters" },
	{ "{" TARIFF_HEAD ", \"emergency\": {}}", "$.emergency.reason: is required" },
	{ "{" TARIFF_HEAD ", \"emergency\": true}", "$.emergency: must be an object" },
	{ "{" TARIFF_HEAD ", \"tax\": {\"rate_bp\": 10001, \"included\": true}}",
	  "$.tax.rate_bp: must be an integer <= 10000" },
	{ "{" TARIFF_HEAD ", \"tax\": {\"rate_bp\": 2100, \"included\": \"yes\"}}",
	  "$.tax.included: must be true or false" },
	{ "{" TARIFF_HEAD ", \"fixed_fee\": {\"amount_minor\": 1.5, \"prorate\": true}}",
	  "$.fixed_fee.amount_minor: must be an integer >= 0" },
	{ "{" TARIFF_HEAD
	  ", \"fixed_fee\": {\"amount_minor\": 1000000000000001, \"prorate\": true}}",
	  "$.fixed_fee.amount_minor: must be an integer <= 1000000000000000" },
	{ "{" TARIFF_HEAD ", \"fixed_fee\": {\"amount_minor\": 100}}",
	  "$.fixed_fee.prorate: is required" },
	{ "{" TARIFF_HEAD ", \"usage_charges\": {}}",
	  "$.usage_charges: must be an array of at most 16 usage charges" },
	{ "{" TARIFF_HEAD
	  ", \"usage_charges\": [{\"name\": \"C\", \"direction\": \"sideways\", " ONE_TIER "}]}",
	  "$.usage_charges[0].direction: must be \"down\", \"up\" or \"both\"" },
	{ "{" TARIFF_HEAD ", \"usage_charges\": [{" CHARGE_HEAD "}]}",
	  "$.usage_charges[0].tiers: is required" },
	{ "{" TARIFF_HEAD ", \"usage_charges\": [{" CHARGE_HEAD ", \"scope\": \"lan\", " ONE_TIER
	  "}]}",
	  "$.usage_charges[0].scope: must be \"internet\" or \"local\"" },
	{ "{" TARIFF_HEAD ", \"usage_charges\": [{" CHARGE_HEAD ", \"scope\": \"Local\", " ONE_TIER
	  "}]}",
	  "$.usage_charges[0].scope: must be \"internet\" or \"local\"" },
	{ "{" TARIFF_HEAD ", \"usage_charges\": [{" CHARGE_HEAD ", \"scope\": null, " ONE_TIER
	  "}]}",
	  "$.usage_charges[0].scope: must be \"internet\" or \"local\"" },
	{ "{" TARIFF_HEAD ", \"usage_charges\": [{" CHARGE_HEAD
	  ", \"scope\": [\"local\"], " ONE_TIER "}]}",
	  "$.usage_charges[0].scope: must be \"internet\" or \"local\"" },
	{ WINDOW(""), "$.usage_charges[0].windows: must be an array of 1 to 16 windows" },
	{ WINDOW("{\"days\": [\"mon\", \"mon\"], \"from\": \"18:00\", \"to\": \"23:00\"}"),
	  "$.usage_charges[0].windows[0].days[1]: \"mon\" is listed twice" },
	{ WINDOW("{\"days\": [\"monday\"], \"from\": \"18:00\", \"to\": \"23:00\"}"),
	  "$.usage_charges[0].windows[0].days[0]: must be one of \"mon\", \"tue\", \"wed\", "
	  "\"thu\", \"fri\", \"sat\", \"sun\"" },
	{ WINDOW("{\"days\": [], \"from\": \"18:00\", \"to\": \"23:00\"}"),
	  "$.usage_charges[0].windows[0].days: must be an array of 1 to 7 days" },
	{ WINDOW("{\"days\": [\"mon\"], \"from\": \"18:03\", \"to\": \"23:00\"}"),
	  "$.usage_charges[0].windows[0].from: must be a time \"HH:MM\" on a 5-minute "
	  "boundary, from 00:00 to 23:55" },
	{ WINDOW("{\"days\": [\"mon\"], \"from\": \"24:00\", \"to\": \"24:00\"}"),
	  "$.usage_charges[0].windows[0].from: must be a time \"HH:MM\" on a 5-minute "
	  "boundary, from 00:00 to 23:55" },
	{ WINDOW("{\"days\": [\"mon\"], \"from\": \"6:00\", \"to\": \"23:00\"}"),
	  "$.usage_charges[0].windows[0].from: must be a time \"HH:MM\" on a 5-minute "
	  "boundary, from 00:00 to 23:55" },
	{ WINDOW("{\"days\": [\"mon\"], \"from\": \"18:00\", \"to\": \"24:05\"}"),
	  "$.usage_charges[0].windows[0].to: must be a time \"HH:MM\" on a 5-minute "
	  "boundary, from 00:00 to 24:00" },
	{ WINDOW("{\"days\": [\"mon\"], \"from\": \"18:00\", \"to\": \"17:00\"}"),
	  "$.usage_charges[0].windows[0].to: must be later than from (18:00)" },
	{ WINDOW("{\"days\": [\"mon\"], \"from\": \"18:00\", \"to\": \"18:00\"}"),
	  "$.usage_charges[0].windows[0].to: must be later than from (18:00)" },
	{ WINDOW("{\"days\": [\"mon\"], \"from\": \"18:00\"}"),
	  "$.usage_charges[0].windows[0].to: is required" },
	{ TIERS("0", ""), "$.usage_charges[0].tiers: must be an array of 1 to 16 tiers" },
	{ TIERS("0", "{\"up_to_gb\": 50, \"price_per_gb_minor\": 50}, {\"up_to_gb\": 50, "
		     "\"price_per_gb_minor\": 40}, {\"price_per_gb_minor\": 30}"),
	  "$.usage_charges[0].tiers[1].up_to_gb: must be greater than the previous tier's "
	  "up_to_gb (50)" },
	{ TIERS("10", "{\"up_to_gb\": 10, \"price_per_gb_minor\": 50}, "
		      "{\"price_per_gb_minor\": 30}"),
	  "$.usage_charges[0].tiers[0].up_to_gb: must be greater than allowance_gb (10)" },
	{ TIERS("0", "{\"up_to_gb\": 50, \"price_per_gb_minor\": 50}, {\"up_to_gb\": 80, "
		     "\"price_per_gb_minor\": 30}"),
	  "$.usage_charges[0].tiers[1].up_to_gb: the last tier must not have up_to_gb: it "
	  "prices everything above the tier before it" },
	{ TIERS("0", "{\"price_per_gb_minor\": 50}, {\"price_per_gb_minor\": 30}"),
	  "$.usage_charges[0].tiers[0]: up_to_gb is required in every tier but the last" },
	{ TIERS("-1", "{\"price_per_gb_minor\": 50}"),
	  "$.usage_charges[0].allowance_gb: must be an integer >= 0" },
	{ TIERS("1000000001", "{\"price_per_gb_minor\": 50}"),
	  "$.usage_charges[0].allowance_gb: must be an integer <= 1000000000" },
	{ TIERS("0", "{\"price_per_gb_minor\": 50, \"currency\": \"EUR\"}"),
	  "$.usage_charges[0].tiers[0].currency: unknown key" },
	{ "{" TARIFF_HEAD ", \"minimum_minor\": 500, \"cap_minor\": 400}",
	  "$.cap_minor: must be >= minimum_minor (500)" },
	{ "{" TARIFF_HEAD ", \"minimum_minor\": null}",
	  "$.minimum_minor: must be an integer >= 0" },
	{ "{" TARIFF_HEAD ", \"cost_sharing\": {\"categories\": [\"Transit\"], \"equal_bp\": 0, "
	  "\"direction\": \"both\"}}",
	  "$.cost_sharing.categories[0]: must be a category name of 1 to 32 characters a-z, 0-9 "
	  "and _" },
	{ "{" TARIFF_HEAD ", \"cost_sharing\": {\"categories\": [\"power\", \"power\"], "
	  "\"equal_bp\": 0, \"direction\": \"both\"}}",
	  "$.cost_sharing.categories[1]: \"power\" is listed twice" },
	{ "{" TARIFF_HEAD ", \"cost_sharing\": {\"categories\": [\"power\"], \"direction\": "
	  "\"both\"}}",
	  "$.cost_sharing.equal_bp: is required" },
	{ "{" TARIFF_HEAD ", \"cost_sharing\": {\"categories\": [], \"equal_bp\": 0, "
	  "\"direction\": \"up\"}}",
	  "$.cost_sharing.categories: must be an array of 1 to 16 categories" },
	{ "[]", "$: must be an object" },
	{ "{\"name\": \"T\", \"name\": \"U\"}",
	  "$: not valid JSON at line 1, column 20: duplicate object key near '\"name\"'" },
	{ "{\"name\": ", "$: not valid JSON at line 1, column 9: unexpected token near end "
			 "of file" },
};

static void test_rejections_name_the_path(void **state)
{
	for (size_t i = 0; i < sizeof(rejections) / sizeof(rejections[0]); i++) {
		struct tariff *tariff = NULL;
		char err[512] = "";
		int r;

		r = tariff_parse(rejections[i].json, strlen(rejections[i].json), &tariff, err,
				 sizeof(err));
		if (r != -EINVAL || strcmp(err, rejections[i].message) != 0)
			fail_msg("case %zu: %d \"%s\", expected \"%s\"", i, r, err,
				 rejections[i].message);
		assert_null(tariff);
	}
}

static void test_limits(void **state)
{
	char *text = malloc(TARIFF_TEXT_MAX + 2), err[256] = "";
	struct tariff *tariff = NULL;
	json_t *root, *charges;
	char *json;
	int n;

	/* A document above the size limit is refused before it is parsed. */
	assert_non_null(text);
	n = snprintf(text, TARIFF_TEXT_MAX + 2, "{" TARIFF_HEAD ", \"x\": \"");
	memset(text + n, 'a', TARIFF_TEXT_MAX + 2 - (size_t)n);
	assert_int_equal(tariff_parse(text, TARIFF_TEXT_MAX + 1, &tariff, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "$: the tariff is larger than 65536 bytes");
	free(text);

	/* 16 usage charges are allowed, 17 are not. */
	root = json_loads("{" TARIFF_HEAD ", \"usage_charges\": []}", 0, NULL);
	charges = json_object_get(root, "usage_charges");
	for (int i = 0; i < 17; i++) {
		json_array_append_new(charges,
				      json_pack("{s:s, s:s, s:[{s:i}]}", "name", "C", "direction",
						"up", "tiers", "price_per_gb_minor", i));
		json = json_dumps(root, 0);
		assert_int_equal(tariff_parse(json, strlen(json), &tariff, err, sizeof(err)),
				 i < 16 ? 0 : -EINVAL);
		tariff_free(tariff);
		tariff = NULL;
		free(json);
	}
	assert_string_equal(err, "$.usage_charges: must be an array of at most 16 usage charges");
	json_decref(root);

	/* A NULL error buffer is fine. */
	assert_int_equal(tariff_parse("[]", 2, &tariff, NULL, 0), -EINVAL);
}

static char *canonical(const char *text)
{
	struct tariff *tariff = parse_ok(text);
	char *json = NULL;

	assert_int_equal(tariff_canonical_json(tariff, &json), 0);
	tariff_free(tariff);
	return json;
}

static void test_canonical_json(void **state)
{
	char *a, *b, *again;

	/* Keys sorted, no whitespace, text as UTF-8. */
	a = canonical("{ \"valid_from\" : \"2026-11-01\",\n\t\"currency\": \"EUR\", "
		      "\"name\": \"Caf\\u00e9 \\\"tarif\\\"\", \"tax\": {\"included\": false, "
		      "\"rate_bp\": 0}}");
	assert_string_equal(a, "{\"currency\":\"EUR\",\"name\":\"Café \\\"tarif\\\"\","
			       "\"tax\":{\"included\":false,\"rate_bp\":0},"
			       "\"valid_from\":\"2026-11-01\"}");
	free(a);

	/* The same tariff written two ways has one canonical text, and the
	 * canonical text is its own canonical form. */
	a = canonical(full_tariff);
	b = canonical(
		"{\"cost_sharing\": {\"direction\": \"both\", \"equal_bp\": 3000, \"categories\": "
		"[\"transit\", \"power\"]}, \"cap_minor\": 8000, \"minimum_minor\": 500, "
		"\"usage_charges\": [{\"tiers\": [{\"price_per_gb_minor\": 50, \"up_to_gb\": 50}, "
		"{\"price_per_gb_minor\": 30}], \"allowance_gb\": 10, \"windows\": [{\"to\": "
		"\"23:00\", \"from\": \"18:00\", \"days\": " ALL_DAYS "}], \"direction\": "
		"\"down\", \"name\": \"Peak download\"}, {\"tiers\": [{\"price_per_gb_minor\": "
		"5}], \"direction\": \"down\", \"name\": \"Off-peak download\"}, {\"name\": "
		"\"Weekend upload\", \"direction\": \"up\", \"windows\": [{\"days\": [\"sat\"], "
		"\"from\": \"00:00\", \"to\": \"24:00\"}, {\"days\": [\"sun\"], \"from\": "
		"\"08:30\", \"to\": \"12:15\"}], \"tiers\": [{\"price_per_gb_minor\": 1}]}, "
		"{\"scope\": \"local\", \"tiers\": [{\"price_per_gb_minor\": 2}], \"name\": "
		"\"Neighbours\", \"direction\": \"both\"}], "
		"\"fixed_fee\": {\"description\": \"Membership and access\", \"prorate\": true, "
		"\"amount_minor\": 1500}, \"tax\": {\"included\": true, \"rate_bp\": 2100}, "
		"\"emergency\": {\"reason\": \"The transit provider doubled its price\"}, "
		"\"valid_from\": \"2027-01-01\", \"currency\": \"EUR\", \"name\": \"Village "
		"standard 2027\"}");
	assert_string_equal(a, b);
	assert_null(strstr(a, "\": "));
	assert_null(strstr(a, ", \""));
	assert_null(strchr(a, '\n'));
	again = canonical(a);
	assert_string_equal(again, a);
	free(a);
	free(b);
	free(again);

	/* A tariff published before charges had a scope keeps its canonical
	 * text, and so its hash in the transparency log: no default is added. */
	a = canonical("{" TARIFF_HEAD ", \"usage_charges\": [{" CHARGE_HEAD ", " ONE_TIER "}]}");
	assert_string_equal(a, "{\"currency\":\"EUR\",\"name\":\"T\",\"usage_charges\":[{"
			       "\"direction\":\"down\",\"name\":\"C\",\"tiers\":[{"
			       "\"price_per_gb_minor\":5}]}],\"valid_from\":\"2027-01-01\"}");
	free(a);
	/* A scope written out stays in the text: the document says it. */
	a = canonical("{" TARIFF_HEAD ", \"usage_charges\": [{" CHARGE_HEAD
		      ", \"scope\": \"internet\", " ONE_TIER "}]}");
	assert_non_null(strstr(a, "\"scope\":\"internet\""));
	free(a);
}

/* Resolves "#/$defs/name" references of the schema. */
static json_t *schema_resolve(json_t *schema, json_t *node)
{
	const char *ref = json_string_value(json_object_get(node, "$ref"));

	if (!ref)
		return node;
	assert_int_equal(strncmp(ref, "#/$defs/", 8), 0);
	node = json_object_get(json_object_get(schema, "$defs"), ref + 8);
	assert_non_null(node);
	return node;
}

static bool schema_requires(json_t *node, const char *key)
{
	size_t i;
	json_t *item;

	json_array_foreach(json_object_get(node, "required"), i,
			   item) if (strcmp(json_string_value(item), key) == 0) return true;
	return false;
}

struct walk {
	json_t *schema;
	json_t *holder; /* {"$": the full example}, mutated and restored in place */
	json_t *seen;	/* for each schema "properties" object, the keys met */
	size_t mutations;
};

/* Parses the mutated document and expects a refusal at or under path. */
static void expect_refused(struct walk *walk, const char *path, const char *what)
{
	struct tariff *tariff = NULL;
	char *text = json_dumps(json_object_get(walk->holder, "$"), JSON_ENCODE_ANY), err[512] = "";
	size_t len = strlen(path);

	if (tariff_parse(text, strlen(text), &tariff, err, sizeof(err)) != -EINVAL ||
	    strncmp(err, path, len) != 0 || (err[len] != ':' && err[len] != '[' && err[len] != '.'))
		fail_msg("%s at %s: the validator answered \"%s\"", what, path, err);
	free(text);
	walk->mutations++;
}

static void expect_accepted(struct walk *walk, const char *what)
{
	char *text = json_dumps(json_object_get(walk->holder, "$"), 0);
	struct tariff *tariff = parse_ok(text);

	(void)what;
	tariff_free(tariff);
	free(text);
	walk->mutations++;
}

/* Replaces parent[key] (or parent[index]) with replacement, checks, restores. */
static void mutate(struct walk *walk, json_t *parent, const char *key, size_t index,
		   json_t *replacement, const char *path, const char *what)
{
	json_t *original = key ? json_object_get(parent, key) : json_array_get(parent, index);

	json_incref(original);
	if (key)
		json_object_set_new(parent, key, replacement);
	else
		json_array_set_new(parent, index, replacement);
	expect_refused(walk, path, what);
	if (key)
		json_object_set(parent, key, original);
	else
		json_array_set(parent, index, original);
	json_decref(original);
}

static json_t *string_of(size_t chars)
{
	char *text = malloc(chars + 1);
	json_t *value;

	memset(text, 'x', chars);
	text[chars] = '\0';
	value = json_string(text);
	free(text);
	return value;
}

static void walk_value(struct walk *walk, json_t *node, json_t *parent, const char *key,
		       size_t index, const char *path);

/* Every constraint of the schema at this value, broken one at a time, must be
 * refused by the validator at this value's path. */
static void break_constraints(struct walk *walk, json_t *node, json_t *parent, const char *key,
			      size_t index, json_t *value, const char *path)
{
	const char *type = json_string_value(json_object_get(node, "type"));
	json_t *limit;

	if (type && strcmp(type, "integer") == 0) {
		mutate(walk, parent, key, index, json_string("1"), path, "a string for an integer");
		mutate(walk, parent, key, index, json_real(1.5), path, "a fraction");
	}
	if (type && strcmp(type, "string") == 0)
		mutate(walk, parent, key, index, json_integer(1), path, "a number for a string");
	if (type && strcmp(type, "boolean") == 0)
		mutate(walk, parent, key, index, json_string("true"), path, "a string for a bool");
	if (type && strcmp(type, "object") == 0)
		mutate(walk, parent, key, index, json_array(), path, "an array for an object");
	if (type && strcmp(type, "array") == 0)
		mutate(walk, parent, key, index, json_object(), path, "an object for an array");
	if (json_object_get(node, "enum"))
		mutate(walk, parent, key, index, json_string("zzz"), path, "a value not in enum");
	if ((limit = json_object_get(node, "minimum")))
		mutate(walk, parent, key, index, json_integer(json_integer_value(limit) - 1), path,
		       "below minimum");
	if ((limit = json_object_get(node, "maximum")))
		mutate(walk, parent, key, index, json_integer(json_integer_value(limit) + 1), path,
		       "above maximum");
	if ((limit = json_object_get(node, "minLength")))
		mutate(walk, parent, key, index, string_of((size_t)json_integer_value(limit) - 1),
		       path, "below minLength");
	if ((limit = json_object_get(node, "maxLength")))
		mutate(walk, parent, key, index, string_of((size_t)json_integer_value(limit) + 1),
		       path, "above maxLength");
	if (json_object_get(node, "pattern") && json_is_string(value))
		mutate(walk, parent, key, index, json_string("\x7f"), path, "a pattern mismatch");
	if ((limit = json_object_get(node, "minItems")) && json_integer_value(limit) > 0)
		mutate(walk, parent, key, index, json_array(), path, "below minItems");
	if ((limit = json_object_get(node, "maxItems"))) {
		json_t *longer = json_array();

		for (json_int_t i = 0; i <= json_integer_value(limit); i++)
			json_array_append(longer, json_array_get(value, 0));
		mutate(walk, parent, key, index, longer, path, "above maxItems");
	}
	if (json_is_true(json_object_get(node, "uniqueItems"))) {
		json_t *repeated = json_deep_copy(value);

		json_array_append(repeated, json_array_get(value, 0));
		mutate(walk, parent, key, index, repeated, path, "a repeated item");
	}
}

static void walk_object(struct walk *walk, json_t *node, json_t *value, const char *path)
{
	json_t *properties = json_object_get(node, "properties"), *property, *seen;
	const char *property_key;
	char child[512];

	snprintf(child, sizeof(child), "%p", (void *)properties);
	seen = json_object_get(walk->seen, child);
	if (!seen) {
		seen = json_pack("{s:O, s:{}}", "properties", properties, "keys");
		json_object_set_new(walk->seen, child, seen);
	}
	json_object_foreach(value, property_key, property)
		json_object_set_new(json_object_get(seen, "keys"), property_key, json_true());

	assert_false(json_is_true(json_object_get(node, "additionalProperties")));
	assert_non_null(json_object_get(node, "additionalProperties"));
	/* Every key in the example is in the schema. */
	json_object_foreach(value, property_key, property)
		assert_non_null(json_object_get(properties, property_key));
	/* An unknown key is refused where it is. */
	snprintf(child, sizeof(child), "%s.x_unknown", path);
	json_object_set_new(value, "x_unknown", json_integer(1));
	expect_refused(walk, child, "an unknown key");
	json_object_del(value, "x_unknown");

	json_object_foreach(properties, property_key, property)
	{
		json_t *member = json_object_get(value, property_key);

		snprintf(child, sizeof(child), "%s.%s", path, property_key);
		if (!member)
			continue;
		/* A required key may not be left out; an optional one may, except
		 * up_to_gb, which the tiers' own rule requires in all but the last. */
		json_incref(member);
		json_object_del(value, property_key);
		if (schema_requires(node, property_key))
			expect_refused(walk, child, "a required key left out");
		else if (strcmp(property_key, "up_to_gb") != 0)
			expect_accepted(walk, "an optional key left out");
		json_object_set_new(value, property_key, member);
		walk_value(walk, property, value, property_key, 0, child);
	}
}

static void walk_value(struct walk *walk, json_t *node, json_t *parent, const char *key,
		       size_t index, const char *path)
{
	json_t *value = key ? json_object_get(parent, key) : json_array_get(parent, index);
	json_t *items;
	size_t i;
	json_t *item;
	char child[512];

	node = schema_resolve(walk->schema, node);
	break_constraints(walk, node, parent, key, index, value, path);
	if (json_is_object(value))
		walk_object(walk, node, value, path);
	items = json_object_get(node, "items");
	if (json_is_array(value) && items)
		json_array_foreach(value, i, item)
		{
			snprintf(child, sizeof(child), "%s[%zu]", path, i);
			walk_value(walk, items, value, NULL, i, child);
		}
}

/* The schema and the validator agree: every key of the schema is in the full
 * example and every key of the example is in the schema; each constraint the
 * schema states, broken, is refused by the validator at the same path. */
static void test_schema_matches_validator(void **state)
{
	struct walk walk = { 0 };
	json_t *root, *entry;
	const char *key;
	json_error_t error;
	char *file;

	walk.schema = json_loads(tariff_schema_json(), JSON_REJECT_DUPLICATES, &error);
	if (!walk.schema)
		fail_msg("the schema is not JSON: %s (line %d)", error.text, error.line);
	assert_string_equal(json_string_value(json_object_get(walk.schema, "$schema")),
			    "https://json-schema.org/draft/2020-12/schema");
	/* The built-in text is docs/tariff.schema.json. */
	file = read_source_file("docs/tariff.schema.json", NULL);
	assert_string_equal(file, tariff_schema_json());
	free(file);

	root = json_loads(full_tariff, 0, NULL);
	walk.holder = json_pack("{s:o}", "$", root);
	walk.seen = json_object();
	walk_value(&walk, walk.schema, walk.holder, "$", 0, "$");
	assert_true(walk.mutations > 150);

	/* The full example used every key of every object in the schema, the
	 * top-level ones included. */
	json_object_foreach(walk.seen, key, entry)
	{
		const char *property_key;
		json_t *property;

		json_object_foreach(json_object_get(entry, "properties"), property_key,
				    property) if (!json_object_get(json_object_get(entry, "keys"),
								   property_key))
			fail_msg("the schema's key %s is in no example", property_key);
	}
	json_object_foreach(json_object_get(walk.schema, "properties"), key, entry)
		assert_non_null(json_object_get(root, key));
	json_decref(walk.seen);
	json_decref(walk.holder);
	json_decref(walk.schema);
}

/* The schema's currency list is exactly the codes currency_exponent() knows. */
static void test_schema_currencies(void **state)
{
	json_t *schema = json_loads(tariff_schema_json(), 0, NULL);
	json_t *codes = json_object_get(
		json_object_get(json_object_get(schema, "properties"), "currency"), "enum");
	size_t known = 0;

	for (char a = 'A'; a <= 'Z'; a++)
		for (char b = 'A'; b <= 'Z'; b++)
			for (char c = 'A'; c <= 'Z'; c++) {
				char code[4] = { a, b, c, '\0' };
				bool in_schema = false;
				unsigned exponent;
				size_t i;
				json_t *item;

				json_array_foreach(codes, i, item) in_schema |=
					strcmp(json_string_value(item), code) == 0;
				if (in_schema != (currency_exponent(code, &exponent) == 0))
					fail_msg("%s: schema %d, currency_exponent() disagrees",
						 code, in_schema);
				known += in_schema;
			}
	assert_int_equal(known, json_array_size(codes));
	json_decref(schema);
}

/* Every tariff in the tests and in docs/tariffs.md is valid. */
static void test_examples_validate(void **state)
{
	const char *examples[] = { full_tariff, minimal_tariff, flat_tariff, long_name_tariff };
	char *markdown = read_source_file("docs/tariffs.md", NULL), *blocks[16];
	size_t n = docs_json_blocks(markdown, blocks, 16);

	for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++)
		tariff_free(parse_ok(examples[i]));
	assert_true(n >= 4);
	for (size_t i = 0; i < n; i++)
		tariff_free(parse_ok(blocks[i]));
	free(markdown);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_full),
		cmocka_unit_test(test_slots_follow_document_order),
		cmocka_unit_test(test_parse_small_tariffs),
		cmocka_unit_test(test_rejections_name_the_path),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_canonical_json),
		cmocka_unit_test(test_schema_matches_validator),
		cmocka_unit_test(test_schema_currencies),
		cmocka_unit_test(test_examples_validate),
	};

	return cmocka_run_group_tests_name("tariff", tests, NULL, NULL);
}
