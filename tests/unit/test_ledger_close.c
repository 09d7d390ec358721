/* The period close through the ledger, without HTTP: the invoices of several
 * households add up as the tariff says, with their entries in the tlog; and a
 * close interrupted after every step and resumed leaves the same invoices
 * and the same tlog, byte for byte, as one that ran through. */
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

#include "coopbill/config.h"
#include "coopbill/ledger.h"
#include "coopbill/period.h"
#include "coopbill/store.h"
#include "coopbill/tlog.h"
#include "coopbill/tz.h"

#include "ledger-fixture.h"

#define HOUSEHOLDS 4
/* When the close runs, and what the tlog stamps its entries with: fixed, so
 * that two closes can be compared byte for byte. */
#define CLOSE_NOW_S 1800000000

static const struct period october = { 2026, 10 };

struct fixture {
	char dir[64];
	char db[96];
	struct config config;
	struct ledger ledger;
};

static int64_t fixed_clock_s(void)
{
	return CLOSE_NOW_S;
}

static void fixture_open(struct fixture *f)
{
	ledger_fixture_open(f->dir, f->db, sizeof(f->db), &f->config, &f->ledger);
	ledger_tlog_clock_set(f->ledger.tlog, fixed_clock_s);
}

/* Households with their tlog entries (and so their salts), the tariff, a
 * month of usage and the transit bill of October. */
static void cooperative_load(struct fixture *f)
{
	struct store *store = f->ledger.store;

	assert_int_equal(store_begin(store), 0);
	for (int i = 0; i < HOUSEHOLDS; i++) {
		struct household household = { .gateway = "main",
					       .name = (char *)"h",
					       .joined_at = "2026-01-01" };

		assert_int_equal(store_household_insert(store, &household, &household.id), 0);
		assert_int_equal(
			ledger_tlog_log_household(f->ledger.tlog, "household-created", &household),
			0);
	}
	tariff_publish_from(store, "Shared", "2026-10-01", october_tariff);
	usage_october_add(store, HOUSEHOLDS, 300 * 11);
	assert_int_equal(store_commit(store), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	test_dir_make(f->dir, sizeof(f->dir), "close");
	ledger_fixture_config(&f->config);
	strcpy(f->config.currency, "EUR");
	fixture_open(f);
	cooperative_load(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char copy[80];

	snprintf(copy, sizeof(copy), "%s.copy", f->dir);
	test_dir_remove(copy);
	return ledger_fixture_free(f, &f->ledger, &f->config, f->dir);
}

static struct ledger_close *close_begin(struct fixture *f, int64_t now_s,
					struct ledger_closed_period *ret_closed)
{
	struct ledger_close *close = NULL;
	struct ledger_error err;

	assert_int_equal(ledger_close_begin(&f->ledger,
					    &(struct ledger_close_request){ .period = &october,
									    .actor = "test",
									    .now_s = now_s },
					    &close, ret_closed, &err),
			 0);
	return close;
}

static size_t invoices_count(struct fixture *f)
{
	json_t *invoices;
	size_t n;

	assert_int_equal(store_invoices_list(f->ledger.store, 0, "2026-10", &invoices), 0);
	n = json_array_size(invoices);
	json_decref(invoices);
	return n;
}

/* Closes October in one go: one batch. */
static void close_through(struct fixture *f, struct ledger_closed_period *ret_closed)
{
	struct ledger_close *close = close_begin(f, CLOSE_NOW_S, ret_closed);
	struct ledger_error err;
	bool done = false;

	assert_non_null(close);
	while (!done)
		assert_int_equal(ledger_close_step(close, UINT64_MAX, &done, &err), 0);
	assert_int_equal(ledger_close_finish(close, ret_closed, &err), 0);
	ledger_close_free(close);
}

/* Closes October one invoice per step, and stops it after every step that
 * wrote, as a kill would, then begins it again; also after its beginning
 * and after its end. */
static void close_interrupted(struct fixture *f, struct ledger_closed_period *ret_closed)
{
	struct ledger_close *close = close_begin(f, CLOSE_NOW_S, ret_closed);
	struct ledger_closed_period again;
	struct ledger_error err;
	size_t issued = 0, restarts = 0;
	bool done = false;

	ledger_close_free(close);
	close = close_begin(f, CLOSE_NOW_S, ret_closed);
	while (!done) {
		assert_int_equal(ledger_close_step(close, 0, &done, &err), 0);
		if (invoices_count(f) != issued && !done) {
			issued = invoices_count(f);
			ledger_close_free(close);
			close = close_begin(f, CLOSE_NOW_S, ret_closed);
			assert_non_null(close);
			restarts++;
		}
	}
	assert_int_equal(restarts, HOUSEHOLDS - 1);
	assert_int_equal(ledger_close_finish(close, ret_closed, &err), 0);
	ledger_close_free(close);
	/* Closed: beginning again says how it was closed. */
	assert_null(close_begin(f, CLOSE_NOW_S, &again));
	assert_int_equal(again.total_minor, ret_closed->total_minor);
	assert_string_equal(again.summary, ret_closed->summary);
	ledger_closed_period_clear(&again);
}

/* Every household's stored invoice, one after the other. */
static char *invoice_documents(struct fixture *f)
{
	char *all = strdup("");

	for (int64_t h = 1; h <= HOUSEHOLDS; h++) {
		json_t *invoice;
		char *joined;

		assert_int_equal(store_invoice_get(f->ledger.store, h, "2026-10", &invoice), 0);
		assert_true(asprintf(&joined, "%s%s\n", all,
				     json_string_value(json_object_get(invoice, "document"))) > 0);
		json_decref(invoice);
		free(all);
		all = joined;
	}
	return all;
}

/* Every tlog entry, then the latest root in hex. */
static char *tlog_text(struct fixture *f)
{
	uint8_t root[TLOG_HASH_SIZE];
	char *all = strdup(""), *note, *joined;
	int64_t size;

	assert_int_equal(store_tlog_checkpoint_latest(f->ledger.store, &size, root, &note), 0);
	free(note);
	for (int64_t i = 0; i < size; i++) {
		char *entry;
		size_t len;

		assert_int_equal(store_tlog_entry_get(f->ledger.store, i, &entry, &len), 0);
		assert_true(asprintf(&joined, "%s%.*s\n", all, (int)len, entry) > 0);
		free(entry);
		free(all);
		all = joined;
	}
	assert_true(asprintf(&joined, "%ssize %lld root ", all, (long long)size) > 0);
	free(all);
	all = joined;
	for (size_t i = 0; i < TLOG_HASH_SIZE; i++) {
		assert_true(asprintf(&joined, "%s%02x", all, root[i]) > 0);
		free(all);
		all = joined;
	}
	return all;
}

static size_t occurrences(const char *text, const char *what)
{
	size_t n = 0;

	for (const char *p = strstr(text, what); p; p = strstr(p + 1, what))
		n++;
	return n;
}

/* The invoices add up as the tariff says: the full fixed fee each, the
 * transit bill shared to the cent, and totals that are the period's. */
static void test_close_of_several_households(void **state)
{
	struct fixture *f = *state;
	struct ledger_closed_period closed;
	struct ledger_error err;
	struct ledger_close *close = NULL;
	int64_t shares = 0, totals = 0;
	char *documents, *tlog;
	json_t *summary;

	/* Not before the period has ended. */
	assert_int_equal(ledger_close_begin(&f->ledger,
					    &(struct ledger_close_request){ .period = &october,
									    .actor = "test",
									    .now_s = 1793491199 },
					    &close, &closed, &err),
			 -EEXIST);
	assert_int_equal(err.kind, LEDGER_CONFLICT);
	assert_string_equal(err.slug, "period-open");
	assert_int_equal(invoices_count(f), 0);

	close_through(f, &closed);
	documents = invoice_documents(f);
	for (char *line = strtok(documents, "\n"); line; line = strtok(NULL, "\n")) {
		json_t *invoice = json_loads(line, 0, NULL), *item;
		size_t i;

		assert_non_null(invoice);
		json_array_foreach(json_object_get(invoice, "lines"), i, item)
		{
			const char *kind = json_string_value(json_object_get(item, "kind"));
			int64_t amount = json_integer_value(json_object_get(item, "amount_minor"));

			if (strcmp(kind, "fixed") == 0)
				assert_int_equal(amount, 1000);
			if (strcmp(kind, "cost_share") == 0)
				shares += amount;
		}
		totals += json_integer_value(json_object_get(invoice, "total_minor"));
		json_decref(invoice);
	}
	assert_int_equal(shares, 10001);
	assert_int_equal(closed.households, HOUSEHOLDS);
	assert_int_equal(closed.total_minor, totals);
	summary = json_loads(closed.summary, 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(summary, "revenue_minor")), totals);
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(summary, "revenue_by_kind_minor"), "cost_share")),
			 10001);
	assert_int_equal(json_integer_value(json_object_get(summary, "expenses_minor")), 10001);
	json_decref(summary);

	/* Each invoice and the close are in the tlog. */
	tlog = tlog_text(f);
	assert_int_equal(occurrences(tlog, "invoice-issued\n"), HOUSEHOLDS);
	assert_int_equal(occurrences(tlog, "period-closed\nperiod 2026-10\nhouseholds 4\n"), 1);
	free(tlog);
	free(documents);
	ledger_closed_period_clear(&closed);
}

/* Two copies of one database: one closed in one go, one interrupted after
 * every step and resumed. Their invoices and tlogs are identical. */
static void test_interrupted_close_is_identical(void **state)
{
	struct fixture *f = *state;
	struct fixture copy = *f;
	struct ledger_closed_period through, interrupted;
	char cmd[160], *through_invoices, *through_tlog, *resumed_invoices, *resumed_tlog;

	ledger_fixture_close(&f->ledger);
	snprintf(copy.dir, sizeof(copy.dir), "%.40s.copy", f->dir);
	snprintf(cmd, sizeof(cmd), "cp -a %s %s", f->dir, copy.dir);
	assert_int_equal(system(cmd), 0);
	fixture_open(f);
	fixture_open(&copy);

	close_through(f, &through);
	through_invoices = invoice_documents(f);
	through_tlog = tlog_text(f);

	close_interrupted(&copy, &interrupted);
	resumed_invoices = invoice_documents(&copy);
	resumed_tlog = tlog_text(&copy);
	ledger_fixture_close(&copy.ledger);

	assert_string_equal(resumed_invoices, through_invoices);
	assert_string_equal(resumed_tlog, through_tlog);
	assert_int_equal(interrupted.total_minor, through.total_minor);
	assert_int_equal(interrupted.log_index, through.log_index);
	assert_string_equal(interrupted.summary, through.summary);
	free(through_invoices);
	free(through_tlog);
	free(resumed_invoices);
	free(resumed_tlog);
	ledger_closed_period_clear(&through);
	ledger_closed_period_clear(&interrupted);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_close_of_several_households, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interrupted_close_is_identical, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
