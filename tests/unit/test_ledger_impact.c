/* The impact of a tariff through the ledger, without HTTP: a cooperative of
 * six households billed for two months under one tariff, re-priced under a
 * proposed one, gives the distribution worked out by hand below; a member
 * sees their own household only; and re-pricing months under the tariff
 * they were billed with (cost sharing included) changes nobody's total. */
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
#include <uv.h>

#include "coopbill/config.h"
#include "coopbill/ledger.h"
#include "coopbill/period.h"
#include "coopbill/store.h"
#include "coopbill/tz.h"

#include "ledger-fixture.h"

#define HOUSEHOLDS 6
#define GB	   INT64_C(1000000000)
/* After the end of November 2026. */
#define NOW_S INT64_C(1800000000)

struct fixture {
	char dir[64];
	char db[96];
	struct config config;
	struct ledger ledger;
};

/* Billed: 10.00 a month and 0.10 a GB downloaded. Proposed: 5.00 a month
 * and 0.20 a GB, so that a household pays 0.10 a GB above 50 GB more and
 * below 50 GB less: difference = 10 x GB - 500 (minor units). */
static const char billed_tariff[] =
	"{\"name\":\"Billed\",\"currency\":\"EUR\",\"valid_from\":\"2026-10-01\","
	"\"fixed_fee\":{\"amount_minor\":1000,\"prorate\":false},"
	"\"usage_charges\":[{\"name\":\"Download\",\"direction\":\"down\","
	"\"tiers\":[{\"price_per_gb_minor\":10}]}]}";
static const char proposed_tariff[] =
	"{\"name\":\"Proposed\",\"currency\":\"EUR\",\"valid_from\":\"2030-01-01\","
	"\"fixed_fee\":{\"amount_minor\":500,\"prorate\":false},"
	"\"usage_charges\":[{\"name\":\"Download\",\"direction\":\"down\","
	"\"tiers\":[{\"price_per_gb_minor\":20}]}]}";

/* GB downloaded by households 1 to 6, in October and November. */
static const int64_t october_gb[HOUSEHOLDS] = { 0, 10, 50, 50, 100, 5 };
static const int64_t november_gb[HOUSEHOLDS] = { 20, 60, 50, 200, 0, 80 };

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	test_dir_make(f->dir, sizeof(f->dir), "impact");
	ledger_fixture_config(&f->config);
	strcpy(f->config.currency, "EUR");
	ledger_fixture_open(f->dir, f->db, sizeof(f->db), &f->config, &f->ledger);
	for (int h = 0; h < HOUSEHOLDS; h++)
		ledger_fixture_household(&f->ledger, "2026-01-01", "h", NULL, 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	return ledger_fixture_free(f, &f->ledger, &f->config, f->dir);
}

static void period_close(struct fixture *f, const struct period *period)
{
	struct ledger_closed_period closed;
	struct ledger_close *close = NULL;
	struct ledger_error err;
	bool done = false;

	assert_int_equal(ledger_close_begin(&f->ledger,
					    &(struct ledger_close_request){ .period = period,
									    .actor = "test",
									    .now_s = NOW_S },
					    &close, &closed, &err),
			 0);
	assert_non_null(close);
	while (!done)
		assert_int_equal(ledger_close_step(close, UINT64_MAX, &done, &err), 0);
	assert_int_equal(ledger_close_finish(close, &closed, &err), 0);
	ledger_closed_period_clear(&closed);
	ledger_close_free(close);
}

/* One bucket of each household's month, and the month's expenses. */
static void month_add(struct fixture *f, int64_t start_s, const int64_t *gb)
{
	for (int h = 0; h < HOUSEHOLDS; h++) {
		struct store_usage_row row = { start_s + 300 * h,      h + 1, 0,
					       (uint64_t)(gb[h] * GB), 0,     0 };

		assert_int_equal(store_usage_add_rows(f->ledger.store, 0, &row, 1), 0);
	}
}

/* The impact for in, stepped in short slices as the daemon steps it. */
static json_t *impact_of(struct fixture *f, const struct ledger_impact_request *in)
{
	struct ledger_impact *impact = NULL;
	struct ledger_error err;
	char *document = NULL;
	bool done = false;
	json_t *json;
	int steps = 0;

	assert_int_equal(ledger_impact_check(&f->ledger, in, &err), 0);
	assert_int_equal(ledger_impact_new(&f->ledger, in->tariff_id, &impact, &err), 0);
	while (!done) {
		assert_int_equal(ledger_impact_step(impact, uv_hrtime() + 100000, &done, &err), 0);
		assert_true(++steps < 100000);
	}
	assert_int_equal(ledger_impact_document(impact, in, &document, &err), 0);
	ledger_impact_free(impact);
	json = json_loads(document, 0, NULL);
	free(document);
	assert_non_null(json);
	return json;
}

static void assert_json_int(json_t *json, const char *path, int64_t expected)
{
	json_t *value = json;
	char key[64];
	const char *at = path;

	/* path: keys separated by dots, array indexes as numbers. */
	while (*at) {
		size_t len = strcspn(at, ".");

		snprintf(key, sizeof(key), "%.*s", (int)len, at);
		value = json_is_array(value) ? json_array_get(value, strtoul(key, NULL, 10))
					     : json_object_get(value, key);
		at += len + (at[len] == '.');
	}
	if (!json_is_integer(value) || json_integer_value(value) != expected) {
		print_error("%s: expected %lld, got %s %lld\n", path, (long long)expected,
			    json_is_integer(value) ? "" : "no integer",
			    (long long)json_integer_value(value));
		fail();
	}
}

/*
 * The cooperative by hand. Invoice = 1000 + 10 x GB; re-priced = 500 + 20 x
 * GB; difference = 10 x GB - 500.
 *
 *   household  October: GB invoice repriced diff  November: GB invoice repriced diff
 *   1                    0   1000      500   -500            20   1200      900   -300
 *   2                   10   1100      700   -400            60   1600     1700   +100
 *   3                   50   1500     1500      0            50   1500     1500      0
 *   4                   50   1500     1500      0           200   3000     4500  +1500
 *   5                  100   2000     2500   +500             0   1000      500   -500
 *   6                    5   1050      600   -450            80   1800     2100   +300
 *   sum                      8150     7300                       10100    11200
 *
 * More: October 1 (+500), November 3 (+100 +1500 +300 = +1900): 4, +2400.
 * Less: October 3 (-500 -400 -450 = -1350), November 2 (-300 -500 = -800):
 * 5, -2150. Same: October 2, November 1: 3. Revenue 8150 + 10100 = 18250;
 * re-priced 7300 + 11200 = 18500 (= 18250 + 2400 - 2150). Expenses: October
 * 50.00, November 30.00 + 10.00: 90.00.
 *
 * The 12 differences sorted: -500 -500 -450 -400 -300 0 0 0 100 300 500
 * 1500. Nearest rank ceil(p x 12 / 100): p10 rank 2 (-500), p25 rank 3
 * (-450), p50 rank 6 (0), p75 rank 9 (100), p90 rank 11 (500); min -500,
 * max 1500.
 */
static void cooperative_load(struct fixture *f, int64_t *ret_proposed_id, int64_t *ret_draft_id)
{
	struct store *store = f->ledger.store;
	struct ledger_tariff_draft_result draft;
	struct ledger_error err;
	int64_t log_index;

	assert_int_equal(store_begin(store), 0);
	tariff_publish_from(store, "Billed", "2026-10-01", billed_tariff);
	month_add(f, 1790812800, october_gb);  /* 2026-10-01T00:00:00Z */
	month_add(f, 1793491200, november_gb); /* 2026-11-01T00:00:00Z */
	assert_int_equal(store_expense_insert(store, "2026-10", "transit", 5000, "upstream", NULL,
					      "test", 0, NULL),
			 0);
	assert_int_equal(store_expense_insert(store, "2026-11", "transit", 3000, "upstream", NULL,
					      "test", 0, NULL),
			 0);
	assert_int_equal(store_expense_insert(store, "2026-11", "power", 1000, "power", NULL,
					      "test", 0, NULL),
			 0);
	assert_int_equal(store_commit(store), 0);
	period_close(f, &(struct period){ 2026, 10 });
	period_close(f, &(struct period){ 2026, 11 });

	assert_int_equal(ledger_tariff_create(&f->ledger,
					      &(struct ledger_tariff_draft_request){
						      .document = proposed_tariff,
						      .len = strlen(proposed_tariff) },
					      &draft, &err),
			 0);
	assert_int_equal(ledger_tariff_consult(&f->ledger, draft.id, &log_index, &err), 0);
	*ret_proposed_id = draft.id;
	assert_int_equal(ledger_tariff_create(&f->ledger,
					      &(struct ledger_tariff_draft_request){
						      .document = proposed_tariff,
						      .len = strlen(proposed_tariff) },
					      &draft, &err),
			 0);
	*ret_draft_id = draft.id;
}

static void test_distribution_by_hand(void **state)
{
	struct fixture *f = *state;
	int64_t proposed_id, draft_id;
	json_t *json, *rows;

	cooperative_load(f, &proposed_id, &draft_id);
	json = impact_of(
		f, &(struct ledger_impact_request){ .tariff_id = proposed_id, .drafts = true });
	assert_string_equal(json_string_value(json_object_get(json, "status")), "proposed");
	assert_string_equal(json_string_value(json_array_get(json_object_get(json, "periods"), 0)),
			    "2026-10");
	assert_string_equal(json_string_value(json_array_get(json_object_get(json, "periods"), 1)),
			    "2026-11");
	assert_json_int(json, "invoices", 12);
	assert_json_int(json, "more.count", 4);
	assert_json_int(json, "more.total_minor", 2400);
	assert_json_int(json, "less.count", 5);
	assert_json_int(json, "less.total_minor", -2150);
	assert_json_int(json, "same.count", 3);
	assert_json_int(json, "revenue_minor", 18250);
	assert_json_int(json, "repriced_revenue_minor", 18500);
	assert_json_int(json, "expenses_minor", 9000);
	assert_json_int(json, "difference_quantiles_minor.min", -500);
	assert_json_int(json, "difference_quantiles_minor.p10", -500);
	assert_json_int(json, "difference_quantiles_minor.p25", -450);
	assert_json_int(json, "difference_quantiles_minor.p50", 0);
	assert_json_int(json, "difference_quantiles_minor.p75", 100);
	assert_json_int(json, "difference_quantiles_minor.p90", 500);
	assert_json_int(json, "difference_quantiles_minor.max", 1500);
	assert_json_int(json, "by_period.0.invoices", 6);
	assert_json_int(json, "by_period.0.more.count", 1);
	assert_json_int(json, "by_period.0.more.total_minor", 500);
	assert_json_int(json, "by_period.0.less.count", 3);
	assert_json_int(json, "by_period.0.less.total_minor", -1350);
	assert_json_int(json, "by_period.0.same.count", 2);
	assert_json_int(json, "by_period.0.revenue_minor", 8150);
	assert_json_int(json, "by_period.0.repriced_revenue_minor", 7300);
	assert_json_int(json, "by_period.0.expenses_minor", 5000);
	assert_json_int(json, "by_period.1.more.total_minor", 1900);
	assert_json_int(json, "by_period.1.less.total_minor", -800);
	assert_json_int(json, "by_period.1.same.count", 1);
	assert_json_int(json, "by_period.1.revenue_minor", 10100);
	assert_json_int(json, "by_period.1.repriced_revenue_minor", 11200);
	assert_json_int(json, "by_period.1.expenses_minor", 4000);
	/* The treasurer sees every household-period: household 4 in November. */
	rows = json_object_get(json, "households");
	assert_int_equal(json_array_size(rows), 12);
	assert_null(json_object_get(json, "mine"));
	assert_json_int(rows, "9.household_id", 4);
	assert_json_int(rows, "9.invoice_minor", 3000);
	assert_json_int(rows, "9.repriced_minor", 4500);
	assert_json_int(rows, "9.difference_minor", 1500);
	json_decref(json);
}

/* A member sees the same aggregates and their own household only. */
static void test_member_sees_own_household(void **state)
{
	struct fixture *f = *state;
	struct ledger_error err;
	int64_t proposed_id, draft_id;
	json_t *json, *mine;

	cooperative_load(f, &proposed_id, &draft_id);
	json = impact_of(
		f, &(struct ledger_impact_request){ .tariff_id = proposed_id, .household_id = 4 });
	assert_null(json_object_get(json, "households"));
	mine = json_object_get(json, "mine");
	assert_int_equal(json_array_size(mine), 2);
	assert_null(json_object_get(json_array_get(mine, 0), "household_id"));
	assert_string_equal(json_string_value(json_object_get(json_array_get(mine, 0), "period")),
			    "2026-10");
	assert_json_int(mine, "0.invoice_minor", 1500);
	assert_json_int(mine, "0.difference_minor", 0);
	assert_json_int(mine, "1.invoice_minor", 3000);
	assert_json_int(mine, "1.repriced_minor", 4500);
	assert_json_int(mine, "1.difference_minor", 1500);
	assert_json_int(json, "more.count", 4);
	assert_json_int(json, "difference_quantiles_minor.p50", 0);
	json_decref(json);

	/* A draft not proposed is the treasurer's. */
	assert_ledger_refused(
		ledger_impact_check(
			&f->ledger,
			&(struct ledger_impact_request){ .tariff_id = draft_id, .household_id = 4 },
			&err),
		&err, LEDGER_NOT_FOUND, "not-found", "is a draft");
	assert_int_equal(ledger_impact_check(&f->ledger,
					     &(struct ledger_impact_request){ .tariff_id = draft_id,
									      .drafts = true },
					     &err),
			 0);
}

/* Before any period is closed there is nothing to compare with. */
static void test_no_closed_period(void **state)
{
	struct fixture *f = *state;
	struct ledger_impact *impact = NULL;
	struct ledger_error err;
	int64_t id;

	assert_int_equal(store_begin(f->ledger.store), 0);
	id = tariff_publish_from(f->ledger.store, "Billed", "2026-10-01", billed_tariff);
	assert_int_equal(store_commit(f->ledger.store), 0);
	assert_ledger_refused(ledger_impact_new(&f->ledger, id, &impact, &err), &err,
			      LEDGER_CONFLICT, "no-closed-period", "no period is closed");
	assert_null(impact);
}

/* Property: months re-priced under the tariff they were billed with, a
 * tariff with cost sharing, on pseudo-random usage, change nobody's
 * total. */
static void test_same_tariff_changes_nothing(void **state)
{
	struct fixture *f = *state;
	json_t *json, *rows, *row;
	int64_t id;
	size_t i;

	assert_int_equal(store_begin(f->ledger.store), 0);
	id = tariff_publish_from(f->ledger.store, "Shared", "2026-10-01", october_tariff);
	usage_october_add(f->ledger.store, HOUSEHOLDS, 300 * 37);
	assert_int_equal(store_commit(f->ledger.store), 0);
	period_close(f, &(struct period){ 2026, 10 });
	json = impact_of(f, &(struct ledger_impact_request){ .tariff_id = id, .drafts = true });
	assert_json_int(json, "invoices", HOUSEHOLDS);
	assert_json_int(json, "same.count", HOUSEHOLDS);
	assert_json_int(json, "difference_quantiles_minor.min", 0);
	assert_json_int(json, "difference_quantiles_minor.max", 0);
	rows = json_object_get(json, "households");
	json_array_foreach(rows, i, row)
	{
		assert_json_int(row, "difference_minor", 0);
		assert_true(json_integer_value(json_object_get(row, "invoice_minor")) > 0);
	}
	assert_int_equal(json_integer_value(json_object_get(json, "revenue_minor")),
			 json_integer_value(json_object_get(json, "repriced_revenue_minor")));
	json_decref(json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_distribution_by_hand, setup, teardown),
		cmocka_unit_test_setup_teardown(test_member_sees_own_household, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_closed_period, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_tariff_changes_nothing, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
