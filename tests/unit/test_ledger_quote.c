/* Quotes and re-pricing through the ledger, without HTTP. The property:
 * for random cooperatives (many seeds, each the same every run), a quote of
 * a household's usage under its tariff is the invoice the close issued it,
 * line for line, and re-pricing the closed period under the tariff it was
 * billed with gives the issued invoice's amounts exactly. And the
 * refusals: drafts for members, an open period, totals for a tariff with
 * windows, bad series. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "coopbill/config.h"
#include "coopbill/date.h"
#include "coopbill/ledger.h"
#include "coopbill/period.h"
#include "coopbill/store.h"
#include "coopbill/tz.h"

#include "ledger-fixture.h"

#define SEEDS	   12
#define HOUSEHOLDS 6
#define TARIFFS	   3
/* October 2026 in UTC, and when its close runs. */
#define OCTOBER_START_S 1790812800
#define OCTOBER_END_S	1793491200
#define CLOSE_NOW_S	1800000000
#define HOURS		((OCTOBER_END_S - OCTOBER_START_S) / 3600)

static const struct period october = { 2026, 10 };

struct fixture {
	char dir[64];
	char db[96];
	struct config config;
	struct ledger ledger;
};

static uint64_t next_random(uint64_t *state)
{
	*state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
	return *state >> 17;
}

/* An instant as RFC 3339 in UTC. */
static void time_format(int64_t t, char ret_text[32])
{
	struct date date = date_from_days(t / 86400);
	char day[DATE_TEXT_MAX];

	date_format(&date, day);
	snprintf(ret_text, 32, "%sT%02d:00:00Z", day, (int)(t % 86400 / 3600));
}

static struct fixture *fixture_new(void)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	test_dir_make(f->dir, sizeof(f->dir), "quote");
	ledger_fixture_config(&f->config);
	strcpy(f->config.currency, "EUR");
	ledger_fixture_open(f->dir, f->db, sizeof(f->db), &f->config, &f->ledger);
	return f;
}

static void fixture_free(struct fixture *f)
{
	ledger_fixture_free(f, &f->ledger, &f->config, f->dir);
}

/* A random tariff valid from October: a fee, prorated or not, one to three
 * charges (internet or local, some with an evening window in whole hours),
 * each with an allowance or tiers, and maybe a minimum, a cap, tax and (when
 * sharing) cost sharing. */
static char *tariff_random(uint64_t *state, int index, bool sharing)
{
	static const char *const directions[] = { "down", "up", "both" };
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	unsigned n_charges = 1 + (unsigned)(next_random(state) % 3);

	assert_non_null(out);
	fprintf(out,
		"{\"name\":\"Random %d\",\"currency\":\"EUR\",\"valid_from\":\"2026-10-01\","
		"\"fixed_fee\":{\"amount_minor\":%u,\"prorate\":%s},\"usage_charges\":[",
		index, (unsigned)(next_random(state) % 3000),
		next_random(state) % 2 ? "true" : "false");
	for (unsigned c = 0; c < n_charges; c++) {
		bool windowed = next_random(state) % 2;
		unsigned allowance = (unsigned)(next_random(state) % 3);

		fprintf(out, "%s{\"name\":\"Charge %u\",\"direction\":\"%s\"%s", c ? "," : "", c,
			directions[next_random(state) % 3], c == 2 ? ",\"scope\":\"local\"" : "");
		if (windowed && c < 2)
			fprintf(out,
				",\"windows\":[{\"days\":[\"mon\",\"tue\",\"wed\",\"thu\","
				"\"fri\"],\"from\":\"%02u:00\",\"to\":\"23:00\"}]",
				17 + (unsigned)(next_random(state) % 4));
		if (allowance)
			fprintf(out, ",\"allowance_gb\":%u", allowance);
		fprintf(out,
			",\"tiers\":[{\"up_to_gb\":%u,\"price_per_gb_minor\":%u},"
			"{\"price_per_gb_minor\":%u}]}",
			allowance + 5 + (unsigned)(next_random(state) % 20),
			(unsigned)(next_random(state) % 97), (unsigned)(next_random(state) % 53));
	}
	fputs("]", out);
	if (next_random(state) % 3 == 0)
		fprintf(out, ",\"minimum_minor\":%u", 1000 + (unsigned)(next_random(state) % 2000));
	else if (next_random(state) % 2 == 0)
		fprintf(out, ",\"cap_minor\":%u", 3000 + (unsigned)(next_random(state) % 3000));
	if (next_random(state) % 2)
		fprintf(out, ",\"tax\":{\"rate_bp\":%u,\"included\":%s}",
			(unsigned)(next_random(state) % 2500),
			next_random(state) % 2 ? "true" : "false");
	if (sharing)
		fputs(",\"cost_sharing\":{\"categories\":[\"transit\"],\"equal_bp\":3000,"
		      "\"direction\":\"down\"}",
		      out);
	fputs("}", out);
	assert_int_equal(fclose(out), 0);
	return text;
}

/* A household's usage of October as the quote takes it: an hourly series,
 * summed from the 5-minute buckets the meter wrote. */
struct usage_hours {
	int64_t up[HOURS], down[HOURS], local_up[HOURS], local_down[HOURS];
	bool used[HOURS];
};

/* A cooperative of HOUSEHOLDS households, some joined during October, each
 * following one of TARIFFS random tariffs (the last shares costs), with
 * random buckets of usage in random hours. */
static void cooperative_random(struct fixture *f, uint64_t *state, struct usage_hours *hours,
			       int64_t *tariff_ids)
{
	struct store *store = f->ledger.store;

	assert_int_equal(store_begin(store), 0);
	for (int t = 0; t < TARIFFS; t++) {
		char *document = tariff_random(state, t, t == TARIFFS - 1);
		char name[16];

		snprintf(name, sizeof(name), "Random %d", t);
		tariff_ids[t] = tariff_publish_from(store, name, "2026-10-01", document);
		free(document);
	}
	for (int h = 0; h < HOUSEHOLDS; h++) {
		struct household household = { .gateway = "main",
					       .name = (char *)"h",
					       .tariff_id = tariff_ids[h % TARIFFS] };

		if (next_random(state) % 3 == 0)
			snprintf(household.joined_at, sizeof(household.joined_at), "2026-10-%02u",
				 2 + (unsigned)(next_random(state) % 27));
		else
			strcpy(household.joined_at, "2026-01-01");
		assert_int_equal(store_household_insert(store, &household, &household.id), 0);
		/* A household's own tariff is a change after it joined. */
		assert_int_equal(store_household_update(store, &household), 0);
		assert_int_equal(
			ledger_tlog_log_household(f->ledger.tlog, "household-created", &household),
			0);
	}
	for (int64_t hour = 0; hour < HOURS; hour++) {
		for (int h = 0; h < HOUSEHOLDS; h++) {
			struct usage_hours *u = &hours[h];
			unsigned buckets = (unsigned)(next_random(state) % 4);

			for (unsigned b = 0; b < buckets; b++) {
				struct store_usage_row row = {
					OCTOBER_START_S + hour * 3600 +
						300 * (int64_t)(next_random(state) % 12),
					h + 1,
					next_random(state) % 90000000,
					next_random(state) % 400000000,
					next_random(state) % 4 ? 0 : next_random(state) % 50000000,
					next_random(state) % 4 ? 0 : next_random(state) % 50000000,
				};

				assert_int_equal(store_usage_add_rows(store, 0, &row, 1), 0);
				u->up[hour] += (int64_t)row.bytes_up;
				u->down[hour] += (int64_t)row.bytes_down;
				u->local_up[hour] += (int64_t)row.local_up;
				u->local_down[hour] += (int64_t)row.local_down;
				u->used[hour] = true;
			}
		}
	}
	assert_int_equal(store_expense_insert(store, "2026-10", "transit", 10001, "upstream", NULL,
					      "test", 0, NULL),
			 0);
	assert_int_equal(store_commit(store), 0);
}

static void period_close(struct fixture *f)
{
	struct ledger_closed_period closed;
	struct ledger_close *close = NULL;
	struct ledger_error err;
	bool done = false;

	assert_int_equal(ledger_close_begin(&f->ledger,
					    &(struct ledger_close_request){ .period = &october,
									    .actor = "test",
									    .now_s = CLOSE_NOW_S },
					    &close, &closed, &err),
			 0);
	assert_non_null(close);
	while (!done)
		assert_int_equal(ledger_close_step(close, UINT64_MAX, &done, &err), 0);
	assert_int_equal(ledger_close_finish(close, &closed, &err), 0);
	ledger_closed_period_clear(&closed);
	ledger_close_free(close);
}

/* The invoice household_id was issued for October. */
static json_t *issued_document(struct fixture *f, int64_t household_id)
{
	json_t *row, *document;

	assert_int_equal(store_invoice_get(f->ledger.store, household_id, "2026-10", &row), 0);
	document = json_loads(json_string_value(json_object_get(row, "document")), 0, NULL);
	assert_non_null(document);
	json_decref(row);
	return document;
}

/* The household's usage as a quote's series: its hours with usage, in a
 * random order (a series need not be sorted). */
static json_t *quote_of(struct fixture *f, uint64_t *state, const struct usage_hours *u,
			int64_t tariff_id, const char *joined_at)
{
	struct ledger_quote_point *points = calloc(HOURS, sizeof(*points));
	char(*starts)[32] = calloc(HOURS, sizeof(*starts));
	struct ledger_error err;
	char *document = NULL;
	size_t n = 0;
	json_t *quote;
	int r;

	assert_non_null(points);
	assert_non_null(starts);
	for (int64_t hour = 0; hour < HOURS; hour++) {
		if (!u->used[hour])
			continue;
		time_format(OCTOBER_START_S + hour * 3600, starts[n]);
		points[n] = (struct ledger_quote_point){ starts[n], u->up[hour], u->down[hour],
							 u->local_up[hour], u->local_down[hour] };
		n++;
	}
	for (size_t i = n; i > 1; i--) {
		size_t j = next_random(state) % i;
		struct ledger_quote_point swap = points[i - 1];

		points[i - 1] = points[j];
		points[j] = swap;
	}
	r = ledger_quote(&f->ledger,
			 &(struct ledger_quote_request){ .tariff_id = tariff_id,
							 .period = "2026-10",
							 .joined_at = joined_at,
							 .points = points,
							 .n_points = n },
			 &document, &err);
	if (r < 0)
		fail_msg("%s", err.detail);
	quote = json_loads(document, 0, NULL);
	assert_non_null(quote);
	free(document);
	free(points);
	free(starts);
	return quote;
}

static json_t *reprice_of(struct fixture *f, int64_t household_id, int64_t tariff_id)
{
	struct ledger_reading *reading;
	struct ledger_error err;
	char *document;
	bool done = false;
	json_t *reply;

	assert_int_equal(ledger_reprice_new(&f->ledger,
					    &(struct ledger_reprice_request){
						    .household_id = household_id,
						    .period = "2026-10",
						    .tariff_id = tariff_id,
					    },
					    &reading, &err),
			 0);
	while (!done)
		assert_int_equal(ledger_reading_step(reading, UINT64_MAX, &done, &err), 0);
	assert_int_equal(ledger_reprice(reading, &document, &err), 0);
	ledger_reading_free(reading);
	reply = json_loads(document, 0, NULL);
	assert_non_null(reply);
	free(document);
	return reply;
}

/* The parts of an invoice that say what it costs and why. */
static void assert_same_invoice(json_t *a, json_t *b)
{
	static const char *const keys[] = { "lines",	    "usage",	     "subtotal_minor",
					    "tax",	    "total_minor",   "period_start_s",
					    "period_end_s", "member_from_s", "member_to_s",
					    "currency",	    "exponent",	     "period" };

	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		if (!json_equal(json_object_get(a, keys[k]), json_object_get(b, keys[k]))) {
			char *x = json_dumps(json_object_get(a, keys[k]), JSON_ENCODE_ANY);
			char *y = json_dumps(json_object_get(b, keys[k]), JSON_ENCODE_ANY);

			fail_msg("%s differs:\n%s\n%s", keys[k], x, y);
		}
	}
	assert_true(json_equal(json_object_get(json_object_get(a, "tariff"), "id"),
			       json_object_get(json_object_get(b, "tariff"), "id")));
}

static void test_quote_is_the_issued_invoice(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= SEEDS; seed++) {
		struct usage_hours *hours = calloc(HOUSEHOLDS, sizeof(*hours));
		uint64_t random = seed * 7919;
		int64_t tariff_ids[TARIFFS];
		struct fixture *f = fixture_new();

		assert_non_null(hours);
		cooperative_random(f, &random, hours, tariff_ids);
		period_close(f);
		for (int h = 0; h < HOUSEHOLDS; h++) {
			struct household *household;
			json_t *issued = issued_document(f, h + 1), *quote, *reply;

			assert_int_equal(store_household_get(f->ledger.store, h + 1, &household),
					 0);
			/* The tariff with cost sharing: the quote leaves the share
			 * out and says so; the others quote the invoice. */
			quote = quote_of(f, &random, &hours[h], household->tariff_id,
					 household->joined_at);
			assert_true(json_is_true(json_object_get(quote, "quote")));
			assert_null(json_object_get(quote, "household_id"));
			if (household->tariff_id != tariff_ids[TARIFFS - 1]) {
				assert_null(json_object_get(quote, "cost_share_excluded"));
				assert_same_invoice(quote, issued);
			} else {
				assert_true(json_is_true(
					json_object_get(quote, "cost_share_excluded")));
			}
			/* Re-priced under the tariff it was billed with: the
			 * issued invoice, share and all. */
			reply = reprice_of(f, h + 1, household->tariff_id);
			assert_same_invoice(json_object_get(reply, "repriced"), issued);
			assert_true(json_equal(json_object_get(reply, "invoice"), issued));
			assert_int_equal(
				json_integer_value(json_object_get(reply, "difference_minor")), 0);
			json_decref(reply);
			json_decref(quote);
			json_decref(issued);
			store_household_free(household);
		}
		free(hours);
		fixture_free(f);
	}
}

/* Under another tariff, the difference is the two totals' and the
 * repriced document names that tariff. */
static void test_reprice_other_tariff(void **state)
{
	struct usage_hours *hours = calloc(HOUSEHOLDS, sizeof(*hours));
	uint64_t random = 4242;
	int64_t tariff_ids[TARIFFS];
	struct fixture *f = fixture_new();
	json_t *reply, *issued, *repriced;

	(void)state;
	assert_non_null(hours);
	cooperative_random(f, &random, hours, tariff_ids);
	period_close(f);
	reply = reprice_of(f, 1, tariff_ids[1]);
	issued = json_object_get(reply, "invoice");
	repriced = json_object_get(reply, "repriced");
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(repriced, "tariff"), "id")),
		tariff_ids[1]);
	assert_int_equal(json_integer_value(json_object_get(reply, "difference_minor")),
			 json_integer_value(json_object_get(repriced, "total_minor")) -
				 json_integer_value(json_object_get(issued, "total_minor")));
	assert_true(json_is_true(json_object_get(repriced, "repriced")));
	assert_int_equal(json_integer_value(json_object_get(repriced, "household_id")), 1);
	json_decref(reply);
	free(hours);
	fixture_free(f);
}

static const char flat_tariff[] =
	"{\"name\":\"Flat\",\"currency\":\"EUR\",\"valid_from\":\"2026-10-01\","
	"\"fixed_fee\":{\"amount_minor\":1000,\"prorate\":true},"
	"\"usage_charges\":[{\"name\":\"Download\",\"direction\":\"down\",\"allowance_gb\":1,"
	"\"tiers\":[{\"price_per_gb_minor\":50}]}],\"tax\":{\"rate_bp\":2100,\"included\":false}}";

/* Totals for a tariff without windows, worked out by hand: a member from
 * 16 October (16 of 31 days) with 3.5 GB down. */
static void test_quote_totals(void **state)
{
	struct fixture *f = fixture_new();
	struct ledger_error err;
	char *document;
	json_t *quote, *lines;
	int64_t id;

	(void)state;
	assert_int_equal(store_begin(f->ledger.store), 0);
	id = tariff_publish_from(f->ledger.store, "Flat", "2026-10-01", flat_tariff);
	assert_int_equal(store_commit(f->ledger.store), 0);
	assert_int_equal(ledger_quote(&f->ledger,
				      &(struct ledger_quote_request){
					      .tariff_id = id,
					      .period = "2026-10",
					      .joined_at = "2026-10-16",
					      .has_totals = true,
					      .totals = { .bytes_up = 7, .bytes_down = 3500000000 },
				      },
				      &document, &err),
			 0);
	quote = json_loads(document, 0, NULL);
	free(document);
	lines = json_object_get(quote, "lines");
	/* 10.00 × 16/31 = 5.16; 1 GB free; 2.5 GB × 0.50 = 1.25; 21% of 6.41. */
	assert_int_equal(json_array_size(lines), 4);
	assert_int_equal(
		json_integer_value(json_object_get(json_array_get(lines, 0), "amount_minor")), 516);
	assert_int_equal(
		json_integer_value(json_object_get(json_array_get(lines, 1), "amount_minor")), 0);
	assert_int_equal(
		json_integer_value(json_object_get(json_array_get(lines, 2), "amount_minor")), 125);
	assert_int_equal(
		json_integer_value(json_object_get(json_array_get(lines, 3), "amount_minor")), 135);
	assert_int_equal(json_integer_value(json_object_get(quote, "total_minor")), 776);
	json_decref(quote);
	fixture_free(f);
}

/* What a quote or a re-pricing refuses, in the words a client reads. */
static void test_refusals(void **state)
{
	struct fixture *f = fixture_new();
	struct ledger_quote_point point = { "2026-10-03T18:30:00Z", 1, 1, 0, 0 };
	struct ledger_reading *reading;
	struct ledger_error err;
	char *document;
	int64_t flat, windowed, draft;
	int r;

	(void)state;
	assert_int_equal(store_begin(f->ledger.store), 0);
	flat = tariff_publish_from(f->ledger.store, "Flat", "2026-10-01", flat_tariff);
	windowed = tariff_publish_from(f->ledger.store, "Shared", "2026-10-01", october_tariff);
	assert_int_equal(store_tariff_insert(
				 f->ledger.store, "Draft", "2026-10-01", flat_tariff,
				 "0000000000000000000000000000000000000000000000000000000000000000",
				 &draft),
			 0);
	assert_int_equal(store_household_insert(f->ledger.store,
						&(struct household){ .gateway = "main",
								     .name = (char *)"h",
								     .joined_at = "2026-01-01" },
						&(int64_t){ 0 }),
			 0);
	assert_int_equal(store_commit(f->ledger.store), 0);

	struct ledger_quote_request in = { .tariff_id = draft,
					   .period = "2026-10",
					   .joined_at = "2026-01-01",
					   .has_totals = true };
	r = ledger_quote(&f->ledger, &in, &document, &err);
	assert_ledger_refused(r, &err, LEDGER_NOT_FOUND, "not-found", "is a draft");
	in.drafts = true;
	assert_int_equal(ledger_quote(&f->ledger, &in, &document, &err), 0);
	free(document);
	in.tariff_id = 999;
	r = ledger_quote(&f->ledger, &in, &document, &err);
	assert_ledger_refused(r, &err, LEDGER_NOT_FOUND, "not-found", "no tariff 999");
	in.tariff_id = windowed;
	r = ledger_quote(&f->ledger, &in, &document, &err);
	assert_ledger_refused(r, &err, LEDGER_INVALID, "invalid-quote", "send usage as series");
	in = (struct ledger_quote_request){ .tariff_id = flat,
					    .period = "2026-10",
					    .joined_at = "2026-01-01",
					    .points = &point,
					    .n_points = 1 };
	r = ledger_quote(&f->ledger, &in, &document, &err);
	assert_ledger_refused(r, &err, LEDGER_INVALID, "invalid-quote",
			      "on the hour inside 2026-10");
	point.start = "2026-11-01T00:00:00Z";
	r = ledger_quote(&f->ledger, &in, &document, &err);
	assert_ledger_refused(r, &err, LEDGER_INVALID, "invalid-quote",
			      "on the hour inside 2026-10");
	point.start = "2026-10-03T18:00:00Z";
	point.bytes_down = -1;
	r = ledger_quote(&f->ledger, &in, &document, &err);
	assert_ledger_refused(r, &err, LEDGER_INVALID, "invalid-quote", "series[0].bytes_down");
	point.bytes_down = 1;
	in.joined_at = "2026-11-02";
	r = ledger_quote(&f->ledger, &in, &document, &err);
	assert_ledger_refused(r, &err, LEDGER_INVALID, "invalid-quote", "does not overlap");
	in.joined_at = "1 October";
	r = ledger_quote(&f->ledger, &in, &document, &err);
	assert_ledger_refused(r, &err, LEDGER_INVALID, "invalid-quote", "YYYY-MM-DD");
	in.joined_at = "2026-01-01";
	in.period = "2026-13";
	r = ledger_quote(&f->ledger, &in, &document, &err);
	assert_ledger_refused(r, &err, LEDGER_INVALID, "invalid-period", "");

	/* October is not closed: nothing to set a re-pricing beside. */
	r = ledger_reprice_new(&f->ledger,
			       &(struct ledger_reprice_request){
				       .household_id = 1, .period = "2026-10", .tariff_id = flat },
			       &reading, &err);
	assert_ledger_refused(r, &err, LEDGER_CONFLICT, "period-open", "not closed");
	period_close(f);
	r = ledger_reprice_new(&f->ledger,
			       &(struct ledger_reprice_request){
				       .household_id = 1, .period = "2026-10", .tariff_id = draft },
			       &reading, &err);
	assert_ledger_refused(r, &err, LEDGER_NOT_FOUND, "not-found", "is a draft");
	r = ledger_reprice_new(&f->ledger,
			       &(struct ledger_reprice_request){
				       .household_id = 1, .period = "2026-10", .tariff_id = 77 },
			       &reading, &err);
	assert_ledger_refused(r, &err, LEDGER_NOT_FOUND, "not-found", "no tariff 77");
	r = ledger_reprice_new(&f->ledger,
			       &(struct ledger_reprice_request){
				       .household_id = 2, .period = "2026-10", .tariff_id = flat },
			       &reading, &err);
	assert_ledger_refused(r, &err, LEDGER_NOT_FOUND, "not-found", "household 2");
	r = ledger_reprice_new(&f->ledger,
			       &(struct ledger_reprice_request){
				       .household_id = 1, .period = "2026-09", .tariff_id = flat },
			       &reading, &err);
	assert_ledger_refused(r, &err, LEDGER_CONFLICT, "period-open", "not closed");
	fixture_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quote_is_the_issued_invoice),
		cmocka_unit_test(test_reprice_other_tariff),
		cmocka_unit_test(test_quote_totals),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
