/* Billing from the database: a month of usage read from the buckets, from
 * the hourly roll-up, and from the roll-up where the buckets are pruned
 * gives the same invoices, and the shared costs add up to the expenses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "coopbill/bill.h"
#include "coopbill/store.h"
#include "coopbill/tz.h"

#include "ledger-fixture.h"

#define HOUSEHOLDS 5

struct fixture {
	char dir[64];
	struct store *store;
	struct tz_zone *zone; /* the cooperative's: UTC unless a test changes it */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char path[128], errbuf[256];
	int64_t id;

	assert_non_null(f);
	test_dir_make(f->dir, sizeof(f->dir), "bill");
	snprintf(path, sizeof(path), "%s/coopbill.db", f->dir);
	assert_int_equal(store_open(path, &f->store, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(tz_zone_load("UTC", &f->zone), 0);
	for (int i = 0; i < HOUSEHOLDS; i++) {
		struct household household = { .gateway = "main",
					       .name = (char *)"h",
					       .joined_at = "2026-01-01" };

		assert_int_equal(store_household_insert(f->store, &household, &id), 0);
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	store_free(f->store);
	tz_zone_free(f->zone);
	test_dir_remove(f->dir);
	free(f);
	return 0;
}

static int64_t publish_from(struct store *store, const char *valid_from, const char *document)
{
	return tariff_publish_from(store, "t", valid_from, document);
}

static void publish(struct store *store, const char *document)
{
	publish_from(store, "2026-10-01", document);
}

/* October 2026 in UTC: a pseudo-random 5-minute bucket now and then for
 * every household, and an expense to share. */
static void usage_load(struct store *store)
{
	assert_int_equal(store_begin(store), 0);
	usage_october_add(store, HOUSEHOLDS, 300 * 7);
	assert_int_equal(store_commit(store), 0);
}

/* Every member's invoice for October, as one JSON text. */
static char *invoices(const struct fixture *f)
{
	struct period october = { 2026, 10 };
	struct bill_run *run;
	json_t *all = json_array();
	char errbuf[256], *text;
	bool done = false;

	assert_int_equal(
		bill_run_new(f->store, f->zone, &october, INT64_MAX, &run, errbuf, sizeof(errbuf)),
		0);
	while (!done)
		assert_int_equal(bill_run_scan(run, 0, &done), 0);
	assert_int_equal(bill_run_count(run), HOUSEHOLDS);
	for (size_t i = 0; i < bill_run_count(run); i++) {
		struct bill_invoice invoice;

		assert_int_equal(bill_run_invoice(run, i, &invoice), 0);
		json_array_append_new(all, json_loads(invoice.document, 0, NULL));
		bill_invoice_clear(&invoice);
	}
	bill_run_free(run);
	text = json_dumps(all, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(all);
	return text;
}

static int64_t shares_sum(const char *text)
{
	json_t *all = json_loads(text, 0, NULL), *invoice, *line;
	int64_t sum = 0;
	size_t i, j;

	json_array_foreach(all, i, invoice) json_array_foreach(
		json_object_get(invoice, "lines"), j,
		line) if (strcmp(json_string_value(json_object_get(line, "kind")), "cost_share") ==
			  0) sum += json_integer_value(json_object_get(line, "amount_minor"));
	json_decref(all);
	return sum;
}

static void test_hourly_and_buckets_agree(void **state)
{
	struct fixture *f = *state;
	char *from_buckets, *from_hours, *after_prune;

	publish(f->store, october_tariff);
	usage_load(f->store);
	/* Nothing rolled up yet: all from the buckets. */
	from_buckets = invoices(f);
	assert_int_equal(shares_sum(from_buckets), 10001);

	/* Rolled up: the closed hours from the hourly totals. */
	assert_int_equal(store_usage_rollup(f->store, 1793491200), 0);
	from_hours = invoices(f);
	assert_string_equal(from_hours, from_buckets);

	/* Pruned: only the hourly totals are left. */
	assert_int_equal(store_usage_prune(f->store, 1793491200), 0);
	after_prune = invoices(f);
	assert_string_equal(after_prune, from_buckets);
	free(from_buckets);
	free(from_hours);
	free(after_prune);
}

/* Local traffic reaches the invoice from the buckets, the hourly totals and
 * what is left after pruning alike: a local charge bills it, and the cost
 * shares, weighed by internet traffic, do not move. */
static void test_local_traffic_billed(void **state)
{
	struct fixture *f = *state;
	char *document = strdup(october_tariff), *with_local, *without, *rolled, *pruned;
	const char *charges_end = "]}],\"cost_sharing\"";
	char *cut = strstr(document, charges_end);
	json_t *a, *b, *usage;
	char *tariff;

	/* The October tariff with a third charge: local traffic at 0.04 a GB. */
	assert_non_null(cut);
	*cut = '\0';
	assert_true(asprintf(&tariff,
			     "%s]},{\"name\":\"Neighbours\",\"direction\":\"both\","
			     "\"scope\":\"local\",\"tiers\":[{\"price_per_gb_minor\":4}]}%s",
			     document, cut + 2) > 0);
	publish(f->store, tariff);
	usage_load(f->store);
	without = invoices(f);

	/* Household 1 exchanges 10 GB with its neighbours, in two buckets
	 * that also hold internet traffic. */
	for (int64_t t = 1790812800 + 300 * 7 * 10; t < 1790812800 + 300 * 7 * 12; t += 300 * 7) {
		struct store_usage_row row = { t, 1, 0, 0, 2000000000, 3000000000 };

		assert_int_equal(store_usage_add_rows(f->store, 0, &row, 1), 0);
	}
	with_local = invoices(f);
	a = json_loads(without, 0, NULL);
	b = json_loads(with_local, 0, NULL);
	usage = json_object_get(json_array_get(b, 0), "usage");
	assert_int_equal(json_integer_value(json_object_get(usage, "local_up")), 4000000000);
	assert_int_equal(json_integer_value(json_object_get(usage, "local_down")), 6000000000);
	assert_int_equal(json_integer_value(json_object_get(
				 json_array_get(json_object_get(usage, "charges"), 2), "bytes")),
			 10000000000);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(b, 0), "total_minor")),
			 json_integer_value(json_object_get(json_array_get(a, 0), "total_minor")) +
				 40);
	/* The other households' invoices, cost shares included, are as they were. */
	for (size_t i = 1; i < HOUSEHOLDS; i++)
		assert_true(json_equal(json_array_get(a, i), json_array_get(b, i)));
	assert_int_equal(shares_sum(with_local), shares_sum(without));
	json_decref(a);
	json_decref(b);

	assert_int_equal(store_usage_rollup(f->store, 1793491200), 0);
	rolled = invoices(f);
	assert_string_equal(rolled, with_local);
	assert_int_equal(store_usage_prune(f->store, 1793491200), 0);
	pruned = invoices(f);
	assert_string_equal(pruned, with_local);
	free(rolled);
	free(pruned);
	free(with_local);
	free(without);
	free(tariff);
	free(document);
}

/* A window edge off the hour needs the buckets; where they are pruned the
 * hours are still counted, attributed by their start. */
static void test_off_hour_window_uses_buckets(void **state)
{
	struct fixture *f = *state;
	char *document = strdup(october_tariff), *edge, *before, *after;

	edge = strstr(document, "18:00");
	memcpy(edge, "18:05", 5);
	publish(f->store, document);
	usage_load(f->store);
	assert_int_equal(store_usage_rollup(f->store, 1793491200), 0);
	before = invoices(f);
	assert_non_null(strstr(before, "\"name\":\"Peak\""));
	assert_int_equal(store_usage_prune(f->store, 1793491200), 0);
	after = invoices(f);
	/* Every byte is still billed: the totals agree, the peak split may not. */
	{
		json_t *a = json_loads(before, 0, NULL), *b = json_loads(after, 0, NULL);

		for (size_t i = 0; i < HOUSEHOLDS; i++) {
			json_t *ua = json_object_get(json_array_get(a, i), "usage");
			json_t *ub = json_object_get(json_array_get(b, i), "usage");

			assert_int_equal(json_integer_value(json_object_get(ua, "bytes_down")),
					 json_integer_value(json_object_get(ub, "bytes_down")));
			assert_true(json_integer_value(json_object_get(ua, "bytes_down")) > 0);
		}
		json_decref(a);
		json_decref(b);
	}
	free(before);
	free(after);
	free(document);
}

/* An import into an hour older than the kept buckets must not hide the
 * hours whose buckets were pruned since: each of them is still billed from
 * its hourly total. */
static void test_import_before_pruned_hours(void **state)
{
	struct fixture *f = *state;
	char *document = strdup(october_tariff), *text;
	const int64_t pruned = 1792497600; /* 2026-10-20T12:00:00Z */
	struct store_usage_row late = { pruned, 1, 0, 1000000000, 0, 0 },
			       early = { pruned - 86400, 1, 0, 1000000000, 0, 0 };
	int64_t watermark;
	json_t *all;

	memcpy(strstr(document, "18:00"), "18:05", 5);
	publish(f->store, document);
	assert_int_equal(store_usage_add_rows(f->store, 0, &late, 1), 0);
	assert_int_equal(store_usage_rollup(f->store, 1793491200), 0);
	assert_int_equal(store_usage_prune(f->store, pruned + 3600), 0);
	assert_int_equal(store_usage_watermark(f->store, &watermark), 0);
	assert_int_equal(store_usage_add_rows(f->store, watermark, &early, 1), 0);

	text = invoices(f);
	all = json_loads(text, 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(json_array_get(all, 0), "usage"), "bytes_down")),
			 2000000000);
	json_decref(all);
	free(text);
	free(document);
}

/* Usage past 2^63 bytes (metered, as no import takes it) fails that
 * household's invoice with -ERANGE, and frees what it had made. */
static void test_usage_past_64_bits_fails_cleanly(void **state)
{
	struct fixture *f = *state;
	struct store_usage_row rows[] = { { 1790812800, 1, UINT64_C(1) << 62, 0, 0, 0 },
					  { 1790813100, 1, UINT64_C(1) << 62, 0, 0, 0 } };
	struct period october = { 2026, 10 };
	struct bill_invoice invoice;
	struct bill_run *run;
	char errbuf[256];
	bool done = false;

	publish(f->store, october_tariff);
	assert_int_equal(store_usage_add_rows(f->store, 0, rows, 2), 0);
	assert_int_equal(
		bill_run_new(f->store, f->zone, &october, INT64_MAX, &run, errbuf, sizeof(errbuf)),
		0);
	while (!done)
		assert_int_equal(bill_run_scan(run, 0, &done), 0);
	assert_int_equal(bill_run_invoice(run, 0, &invoice), -ERANGE);
	assert_int_equal(bill_run_invoice(run, 1, &invoice), 0);
	bill_invoice_clear(&invoice);
	bill_run_free(run);
}

/* Once a period's close begins, it is being closed until its row is
 * written, and it shares the expenses recorded before: an expense that slips
 * in later (the API refuses them) changes no pool, so a close resumed after
 * an interruption shares what the first invoices shared. */
static void test_close_shares_what_it_began_with(void **state)
{
	struct fixture *f = *state;
	enum store_period_state period_state;
	char *before, *after, closing[8];

	publish(f->store, october_tariff);
	usage_load(f->store);
	assert_int_equal(store_period_state(f->store, "2026-10", &period_state), 0);
	assert_int_equal(period_state, STORE_PERIOD_OPEN);
	assert_int_equal(store_period_closing(f->store, NULL, closing), -ENOENT);

	assert_int_equal(store_period_close_begin(f->store, "2026-10"), 0);
	before = invoices(f);
	assert_int_equal(store_expense_insert(f->store, "2026-10", "transit", 50000, "late", NULL,
					      "test", 0, NULL),
			 0);
	/* Beginning again (a resumed close) keeps the first figures. */
	assert_int_equal(store_period_close_begin(f->store, "2026-10"), 0);
	after = invoices(f);
	assert_string_equal(after, before);
	assert_int_equal(shares_sum(after), 10001);
	assert_int_equal(store_period_state(f->store, "2026-10", &period_state), 0);
	assert_int_equal(period_state, STORE_PERIOD_CLOSING);
	assert_int_equal(store_period_closing(f->store, "2026-09", closing), 0);
	assert_string_equal(closing, "2026-10");
	assert_int_equal(store_period_closing(f->store, "2026-11", closing), -ENOENT);

	assert_int_equal(store_period_close_insert(f->store, "2026-10", HOUSEHOLDS, 0, "{}", 0), 0);
	assert_int_equal(store_period_state(f->store, "2026-10", &period_state), 0);
	assert_int_equal(period_state, STORE_PERIOD_CLOSED);
	assert_int_equal(store_period_closing(f->store, NULL, closing), -ENOENT);
	free(before);
	free(after);
}

/* A household may be moved to a tariff that starts in a later period: until
 * then it follows the cooperative's, and the later tariff, with no members in
 * the period, shares nothing (it used to make the whole month fail). */
static void test_later_own_tariff_follows_cooperative(void **state)
{
	struct fixture *f = *state;
	char *document = strdup(october_tariff), *text;
	struct household *household;
	json_t *all;
	int64_t later_id;

	publish(f->store, october_tariff);
	memcpy(strstr(document, "2026-10-01"), "2026-12-01", 10);
	later_id = publish_from(f->store, "2026-12-01", document);
	assert_int_equal(store_household_get(f->store, 1, &household), 0);
	household->tariff_id = later_id;
	assert_int_equal(store_household_update(f->store, household), 0);
	store_household_free(household);
	usage_load(f->store);

	text = invoices(f);
	assert_int_equal(shares_sum(text), 10001);
	all = json_loads(text, 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(json_array_get(all, 0), "tariff"), "id")),
			 1);
	json_decref(all);
	free(text);
	free(document);
}

/* A member of an invoice document. */
static json_t *document_member(const char *document, const char *key)
{
	json_t *json = json_loads(document, 0, NULL);
	json_t *member = json_incref(json_object_get(json, key));

	json_decref(json);
	return member;
}

/* CPU time of making every member's October invoice, repeated to be
 * measurable, in ms; *ret_imported is household 1's "imported". */
static double invoices_cpu_ms(const struct fixture *f, json_t **ret_imported)
{
	struct period october = { 2026, 10 };
	struct bill_run *run;
	struct timespec start, end;
	char errbuf[256];
	bool done = false;

	assert_int_equal(
		bill_run_new(f->store, f->zone, &october, INT64_MAX, &run, errbuf, sizeof(errbuf)),
		0);
	while (!done)
		assert_int_equal(bill_run_scan(run, 0, &done), 0);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &start);
	for (int round = 0; round < 40; round++) {
		for (size_t i = 0; i < bill_run_count(run); i++) {
			struct bill_invoice invoice;

			assert_int_equal(bill_run_invoice(run, i, &invoice), 0);
			if (round == 0 && i == 0)
				*ret_imported = document_member(invoice.document, "imported");
			bill_invoice_clear(&invoice);
		}
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &end);
	bill_run_free(run);
	return (double)(end.tv_sec - start.tv_sec) * 1e3 +
	       (double)(end.tv_nsec - start.tv_nsec) / 1e6;
}

static double invoices_cpu_ms_least(const struct fixture *f, json_t **ret_imported)
{
	double least = INFINITY;

	for (int i = 0; i < 3; i++) {
		json_t *imported = NULL;
		double ms = invoices_cpu_ms(f, &imported);

		least = ms < least ? ms : least;
		json_decref(*ret_imported);
		*ret_imported = imported;
	}
	return least;
}

static void import_rows(struct store *store, const struct store_usage_row *rows, size_t n)
{
	assert_int_equal(store_begin(store), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(store_usage_import(store, &rows[i], "other meter", "test", 0), 0);
	assert_int_equal(store_usage_add_rows(store, 0, rows, n), 0);
	assert_int_equal(store_commit(store), 0);
}

/* An invoice counts its household's imports of the period, and takes as long
 * to make whatever other months and households imported: a close grows with
 * the households, not with their square. */
static void test_invoice_imports_cost_stays_flat(void **state)
{
	struct fixture *f = *state;
	const struct store_usage_row october[] = { { 1790812800, 1, 1000, 5000, 0, 0 },
						   { 1790816400, 1, 24, 76, 0, 0 } };
	struct store_usage_row *september = calloc(40000, sizeof(*september));
	json_t *imported = NULL;
	double before_ms, after_ms;

	publish(f->store, october_tariff);
	import_rows(f->store, october, 2);
	before_ms = invoices_cpu_ms_least(f, &imported);
	assert_int_equal(json_integer_value(json_object_get(imported, "rows")), 2);
	assert_int_equal(json_integer_value(json_object_get(imported, "bytes_up")), 1024);
	assert_int_equal(json_integer_value(json_object_get(imported, "bytes_down")), 5076);

	/* September 2026, bucket by bucket, for every household. */
	assert_non_null(september);
	for (size_t i = 0; i < 40000; i++)
		september[i] =
			(struct store_usage_row){ 1788220800 + (int64_t)(i / HOUSEHOLDS) * 300,
						  1 + (int64_t)(i % HOUSEHOLDS),
						  1,
						  1,
						  0,
						  0 };
	import_rows(f->store, september, 40000);
	after_ms = invoices_cpu_ms_least(f, &imported);
	assert_int_equal(json_integer_value(json_object_get(imported, "rows")), 2);
	print_message("invoices: %.1f ms, with 40,000 imports of another month %.1f ms\n",
		      before_ms, after_ms);
	assert_true(after_ms < 3 * before_ms);
	json_decref(imported);
	free(september);
}

/* One household's invoice for a period in the fixture's zone. */
static json_t *invoice_of(const struct fixture *f, const struct period *period,
			  int64_t household_id)
{
	struct bill_invoice invoice;
	struct bill_run *run;
	char errbuf[256];
	bool done = false;
	size_t index;
	json_t *json;

	assert_int_equal(
		bill_run_new(f->store, f->zone, period, INT64_MAX, &run, errbuf, sizeof(errbuf)),
		0);
	while (!done)
		assert_int_equal(bill_run_scan(run, 0, &done), 0);
	assert_int_equal(bill_run_find(run, household_id, &index), 0);
	assert_int_equal(bill_run_invoice(run, index, &invoice), 0);
	json = json_loads(invoice.document, 0, NULL);
	bill_invoice_clear(&invoice);
	bill_run_free(run);
	return json;
}

static json_t *fixed_fee_line(json_t *invoice)
{
	json_t *line;
	size_t i;

	json_array_foreach(json_object_get(invoice, "lines"), i,
			   line) if (strcmp(json_string_value(json_object_get(line, "kind")),
					    "fixed") == 0) return line;
	fail_msg("the invoice has no fixed fee line");
	return NULL;
}

/* A membership ends at the start of the local day after the leaving day,
 * which is 23 or 25 hours after the leaving day's start when the clocks
 * change on it (Europe/Madrid: 2027-03-28 and 2027-10-31). */
static void test_membership_ends_with_local_day(void **state)
{
	struct fixture *f = *state;
	struct household spring = { .gateway = "main",
				    .name = (char *)"spring",
				    .joined_at = "2026-01-01",
				    .left_at = "2027-03-28",
				    .status = HOUSEHOLD_CLOSED };
	struct household autumn = { .gateway = "main",
				    .name = (char *)"autumn",
				    .joined_at = "2026-01-01",
				    .left_at = "2027-10-31",
				    .status = HOUSEHOLD_CLOSED };
	int64_t spring_id, autumn_id;
	json_t *invoice, *line;

	/* The process's zone is another one: nothing may read it. */
	setenv("TZ", "Pacific/Chatham", 1);
	tzset();
	tz_zone_free(f->zone);
	f->zone = NULL;
	assert_int_equal(tz_zone_load("Europe/Madrid", &f->zone), 0);
	publish(f->store, october_tariff);
	assert_int_equal(store_household_insert(f->store, &spring, &spring_id), 0);
	assert_int_equal(store_household_insert(f->store, &autumn, &autumn_id), 0);

	/* 2027-03-29T00:00:00+02:00; March 2027 starts 2027-03-01T00:00:00+01:00. */
	invoice = invoice_of(f, &(struct period){ 2027, 3 }, spring_id);
	assert_int_equal(json_integer_value(json_object_get(invoice, "member_to_s")), 1806271200);
	line = fixed_fee_line(invoice);
	assert_int_equal(json_integer_value(json_object_get(line, "quantity")), 28 * 86400 - 3600);
	/* 1000 × 2,415,600 / 2,674,800 s = 903.09 */
	assert_int_equal(json_integer_value(json_object_get(line, "amount_minor")), 903);
	json_decref(invoice);

	/* Leaving on the last day of October, a 25-hour day, is the whole
	 * month: the whole fee, not an hour less. */
	invoice = invoice_of(f, &(struct period){ 2027, 10 }, autumn_id);
	assert_int_equal(json_integer_value(json_object_get(invoice, "member_to_s")),
			 json_integer_value(json_object_get(invoice, "period_end_s")));
	line = fixed_fee_line(invoice);
	assert_int_equal(json_integer_value(json_object_get(line, "quantity")), 31 * 86400 + 3600);
	assert_int_equal(json_integer_value(json_object_get(line, "amount_minor")), 1000);
	json_decref(invoice);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hourly_and_buckets_agree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_off_hour_window_uses_buckets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_local_traffic_billed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_before_pruned_hours, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage_past_64_bits_fails_cleanly, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_close_shares_what_it_began_with, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_later_own_tariff_follows_cooperative, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_invoice_imports_cost_stays_flat, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_membership_ends_with_local_day, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
