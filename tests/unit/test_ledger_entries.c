/* Payments, adjustments, reversals, expenses and usage imports as ledger
 * operations on a real database, without HTTP: what they change in a
 * household's balance and usage, what they append to the tlog, and what
 * they refuse (changing nothing). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "coopbill/config.h"
#include "coopbill/date.h"
#include "coopbill/ledger.h"
#include "coopbill/store.h"
#include "coopbill/tz.h"

#include "ledger-fixture.h"

struct fixture {
	char dir[64];
	char db[96];
	struct config config;
	struct ledger ledger;
	int64_t household;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct household household = { .gateway = "main",
				       .name = (char *)"Garcia",
				       .joined_at = "2026-01-01" };

	assert_non_null(f);
	test_dir_make(f->dir, sizeof(f->dir), "entries");
	ledger_fixture_config(&f->config);
	f->config.meter_bucket_s = 300;
	strcpy(f->config.currency, "EUR");
	ledger_fixture_open(f->dir, f->db, sizeof(f->db), &f->config, &f->ledger);
	assert_int_equal(store_household_insert(f->ledger.store, &household, &f->household), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	return ledger_fixture_free(f, &f->ledger, &f->config, f->dir);
}

static int64_t tlog_size(const struct fixture *f)
{
	return ledger_fixture_tlog_size(f->ledger.store);
}

static int64_t balance(const struct fixture *f)
{
	json_t *rows, *last;
	int64_t balance_minor = 0;

	assert_int_equal(store_ledger_list(f->ledger.store, f->household, &rows), 0);
	last = json_array_get(rows, json_array_size(rows) - 1);
	if (last)
		balance_minor = json_integer_value(json_object_get(last, "balance_minor"));
	json_decref(rows);
	return balance_minor;
}

/* The entry's field `key`, as an integer (0 for null). */
static int64_t entry_field(const struct fixture *f, int64_t id, const char *key)
{
	json_int_t value;
	json_t *row;

	assert_int_equal(store_ledger_get(f->ledger.store, id, &row), 0);
	value = json_integer_value(json_object_get(row, key));
	json_decref(row);
	return value;
}

/* Whether the tlog entry at index starts with type and holds text. */
static void assert_tlog_entry(const struct fixture *f, int64_t index, const char *type,
			      const char *text)
{
	char *entry;
	size_t len;

	assert_int_equal(store_tlog_entry_get(f->ledger.store, index, &entry, &len), 0);
	assert_memory_equal(entry, type, strlen(type));
	assert_non_null(strstr(entry, text));
	free(entry);
}

static void test_payment_and_adjustment(void **state)
{
	struct fixture *f = *state;
	char today[DATE_TEXT_MAX];
	struct ledger_error err;
	struct date date;
	int64_t size = tlog_size(f), payment, adjustment;

	ledger_today(&f->ledger, &date);
	date_format(&date, today);
	assert_int_equal(ledger_payment_record(&f->ledger,
					       &(struct ledger_payment_request){
						       .household_id = f->household,
						       .amount_minor = 1500,
						       .method = "cash",
						       .received_on = today,
						       .actor = "test",
					       },
					       &payment, &err),
			 0);
	assert_int_equal(balance(f), -1500);
	assert_int_equal(ledger_adjustment_record(&f->ledger,
						  &(struct ledger_adjustment_request){
							  f->household, 250, "late fee", "test" },
						  &adjustment, &err),
			 0);
	assert_int_equal(balance(f), -1250);
	assert_int_equal(tlog_size(f), size + 2);
	assert_tlog_entry(f, entry_field(f, payment, "log_index"), "payment\n",
			  "amount_minor 1500\ncurrency EUR\n");
	assert_tlog_entry(f, entry_field(f, adjustment, "log_index"), "adjustment\n",
			  "amount_minor 250\ncurrency EUR\nreason late fee\n");

	/* A payment received after today is refused and changes nothing. */
	assert_int_equal(ledger_payment_record(&f->ledger,
					       &(struct ledger_payment_request){
						       .household_id = f->household,
						       .amount_minor = 1500,
						       .method = "cash",
						       .received_on = "9999-12-31",
					       },
					       &payment, &err),
			 -EINVAL);
	assert_string_equal(err.slug, "invalid-payment");
	assert_int_equal(balance(f), -1250);
	assert_int_equal(tlog_size(f), size + 2);
}

static void test_reversal(void **state)
{
	struct fixture *f = *state;
	struct ledger_error err;
	int64_t credit, reversal, id, size;

	assert_int_equal(ledger_adjustment_record(&f->ledger,
						  &(struct ledger_adjustment_request){
							  f->household, -300, "credit", "test" },
						  &credit, &err),
			 0);
	assert_int_equal(ledger_reversal_record(&f->ledger,
						&(struct ledger_reversal_request){
							credit, "wrong household", "test" },
						&reversal, &err),
			 0);
	assert_int_equal(entry_field(f, reversal, "reverses"), credit);
	assert_int_equal(entry_field(f, reversal, "amount_minor"), 300);
	assert_int_equal(entry_field(f, credit, "reversed_by"), reversal);
	assert_int_equal(balance(f), 0);
	assert_tlog_entry(f, entry_field(f, reversal, "log_index"), "reversal\n",
			  "amount_minor 300\ncurrency EUR\nreverses ");

	size = tlog_size(f);
	assert_int_equal(
		ledger_reversal_record(&f->ledger,
				       &(struct ledger_reversal_request){ credit, "again", "test" },
				       &id, &err),
		-EEXIST);
	assert_int_equal(err.kind, LEDGER_CONFLICT);
	assert_string_equal(err.slug, "not-reversible");
	assert_non_null(strstr(err.detail, "reversed already"));
	assert_int_equal(
		ledger_reversal_record(&f->ledger,
				       &(struct ledger_reversal_request){ reversal, "x", "test" },
				       &id, &err),
		-EEXIST);
	assert_string_equal(err.slug, "not-reversible");
	assert_int_equal(ledger_reversal_record(
				 &f->ledger, &(struct ledger_reversal_request){ 999, "x", "test" },
				 &id, &err),
			 -ENOENT);
	assert_string_equal(err.slug, "not-found");
	assert_int_equal(balance(f), 0);
	assert_int_equal(tlog_size(f), size);
}

static int expense(struct fixture *f, const char *period, int64_t amount_minor,
		   struct ledger_error *err)
{
	int64_t id;

	return ledger_expense_record(&f->ledger,
				     &(struct ledger_expense_request){
					     .period = period,
					     .category = "transit",
					     .amount_minor = amount_minor,
					     .description = "upstream",
					     .actor = "test",
				     },
				     &id, err);
}

static void test_expense_periods(void **state)
{
	struct fixture *f = *state;
	struct ledger_error err;
	int64_t total, size;

	assert_int_equal(expense(f, "2026-10", 12000, &err), 0);
	size = tlog_size(f);
	assert_tlog_entry(f, size - 1, "expense\n", "period 2026-10\ncategory transit\n");

	assert_int_equal(store_period_close_begin(f->ledger.store, "2026-10"), 0);
	assert_int_equal(expense(f, "2026-10", 500, &err), -EEXIST);
	assert_int_equal(err.kind, LEDGER_CONFLICT);
	assert_string_equal(err.slug, "close-in-progress");
	assert_int_equal(store_period_close_insert(f->ledger.store, "2026-10", 1, 0, "{}", 0), 0);
	assert_int_equal(expense(f, "2026-10", 500, &err), -EEXIST);
	assert_string_equal(err.slug, "period-closed");
	assert_int_equal(expense(f, "2026-13", 500, &err), -EINVAL);
	assert_string_equal(err.slug, "invalid-period");

	assert_int_equal(store_expense_total(f->ledger.store, "2026-10", NULL, &total), 0);
	assert_int_equal(total, 12000);
	assert_int_equal(tlog_size(f), size);
}

/* Imports rows for the household in the buckets of the hour before the
 * last one that ended; bytes_up of row `bad` is one over the limit. */
static int import(struct fixture *f, size_t n, size_t bad, struct ledger_error *err)
{
	int64_t hour = time(NULL) / 3600 * 3600 - 2 * 3600;
	struct ledger_usage_row rows[12];
	char starts[12][32];
	int r;

	assert_true(n <= 12);
	for (size_t i = 0; i < n; i++) {
		struct tm tm;

		strftime(starts[i], sizeof(starts[i]), "%Y-%m-%dT%H:%M:%SZ",
			 gmtime_r(&(time_t){ hour + 300 * (int64_t)i }, &tm));
		rows[i] = (struct ledger_usage_row){ f->household, starts[i], 1000, 5000, 0, 0 };
		if (i == bad)
			rows[i].bytes_up = INT64_C(50000000000) * 300 + 1;
	}
	r = ledger_usage_import(
		&f->ledger, &(struct ledger_usage_import_request){ "old meter", rows, n, "test" },
		err);
	return r;
}

static void usage_total(const struct fixture *f, uint64_t *ret_up, uint64_t *ret_down)
{
	int64_t now = time(NULL);
	struct store_usage_row *rows;
	size_t n;

	*ret_up = *ret_down = 0;
	assert_int_equal(store_usage_rows(f->ledger.store, f->household, now - 86400, now,
					  STORE_USAGE_BUCKETS, &rows, &n),
			 0);
	for (size_t i = 0; i < n; i++) {
		*ret_up += rows[i].bytes_up;
		*ret_down += rows[i].bytes_down;
	}
	free(rows);
}

static void test_import(void **state)
{
	struct fixture *f = *state;
	struct ledger_error err;
	uint64_t up, down;
	int64_t size = tlog_size(f);

	assert_int_equal(import(f, 3, 1, &err), -EINVAL);
	assert_int_equal(err.kind, LEDGER_INVALID);
	assert_string_equal(err.slug, "invalid-import");
	assert_memory_equal(err.detail, "rows[1]: bytes_up and bytes_down are each at most", 49);
	usage_total(f, &up, &down);
	assert_int_equal(up, 0);
	assert_int_equal(tlog_size(f), size);

	assert_int_equal(import(f, 12, SIZE_MAX, &err), 0);
	usage_total(f, &up, &down);
	assert_int_equal(up, 12 * 1000);
	assert_int_equal(down, 12 * 5000);
	/* One tlog entry for the household's rows. */
	assert_int_equal(tlog_size(f), size + 1);
	assert_tlog_entry(f, size, "usage-imported\n", "reason old meter\n");
}

/* Local traffic is imported beside internet traffic, with the same bound. */
static void test_import_local(void **state)
{
	struct fixture *f = *state;
	int64_t hour = time(NULL) / 3600 * 3600 - 2 * 3600, now = time(NULL);
	struct ledger_usage_row row = { f->household, NULL, 1000, 5000, 300, 700 };
	struct store_usage_row *rows;
	struct ledger_error err;
	char start[32];
	struct tm tm;
	size_t n;

	strftime(start, sizeof(start), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&(time_t){ hour }, &tm));
	row.bucket_start = start;
	row.local_down = INT64_C(50000000000) * 300 + 1;
	assert_int_equal(ledger_usage_import(&f->ledger,
					     &(struct ledger_usage_import_request){
						     "old meter", &row, 1, "test" },
					     &err),
			 -EINVAL);
	assert_string_equal(err.detail, "rows[0]: local_up and local_down are each at most "
					"15000000000000, what a 400 Gbit/s link carries in a "
					"300-second bucket");
	row.local_down = 700;
	assert_int_equal(ledger_usage_import(&f->ledger,
					     &(struct ledger_usage_import_request){
						     "old meter", &row, 1, "test" },
					     &err),
			 0);
	assert_int_equal(store_usage_rows(f->ledger.store, f->household, now - 86400, now,
					  STORE_USAGE_BUCKETS, &rows, &n),
			 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].bytes_up, 1000);
	assert_int_equal(rows[0].bytes_down, 5000);
	assert_int_equal(rows[0].local_up, 300);
	assert_int_equal(rows[0].local_down, 700);
	free(rows);
}

/* A bucket before 1970 in UTC belongs to no period: refused, not a failure. */
static void test_import_before_1970(void **state)
{
	struct fixture *f = *state;
	struct ledger_usage_row row = { f->household, "1970-01-01T00:00:00+01:00", 1, 2, 0, 0 };
	struct ledger_error err;

	assert_int_equal(ledger_usage_import(&f->ledger,
					     &(struct ledger_usage_import_request){
						     "old meter", &row, 1, "test" },
					     &err),
			 -EINVAL);
	assert_string_equal(err.slug, "invalid-import");
	assert_memory_equal(err.detail, "rows[0]: bucket_start must be", 29);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_payment_and_adjustment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reversal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expense_periods, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_local, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_before_1970, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
