/* For the unit tests of the ledger and of billing: a database in a fresh
 * temporary folder, opened with its tlog as the daemon opens it and removed
 * after the test, and a published tariff and a month of usage to bill.
 * Include after cmocka.h. */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coopbill/config.h"
#include "coopbill/ledger.h"
#include "coopbill/store.h"
#include "coopbill/tz.h"

/* A fresh folder /tmp/coopbill-NAME.XXXXXX, its path written to dir. */
static inline void test_dir_make(char *dir, size_t size, const char *name)
{
	snprintf(dir, size, "/tmp/coopbill-%s.XXXXXX", name);
	assert_non_null(mkdtemp(dir));
}

static inline void test_dir_remove(const char *dir)
{
	char command[160];

	snprintf(command, sizeof(command), "rm -rf %s", dir);
	assert_int_equal(system(command), 0);
}

/* A cooperative in UTC whose tlog key is made beside its database; the
 * database itself is named by ledger_fixture_open(). */
/* A ledger call refused r < 0 with this kind, slug and words in its detail. */
static inline void assert_ledger_refused(int r, const struct ledger_error *err,
					 enum ledger_refusal kind, const char *slug,
					 const char *detail)
{
	assert_true(r < 0);
	assert_int_equal(err->kind, kind);
	assert_string_equal(err->slug, slug);
	assert_non_null(strstr(err->detail, detail));
}

/* Creates a household of the given ranges that joined on joined_at. */
static inline int64_t ledger_fixture_household(struct ledger *ledger, const char *joined_at,
					       const char *name, const struct cidr *addresses,
					       size_t n_addresses)
{
	struct ledger_household_new in = { .name = name,
					   .joined_at = joined_at,
					   .addresses = addresses,
					   .n_addresses = n_addresses,
					   .actor = "test" };
	struct household *household = NULL;
	struct ledger_error err;
	int64_t id;

	assert_int_equal(ledger_household_create(ledger, &in, &household, &err), 0);
	id = household->id;
	store_household_free(household);
	return id;
}

static inline void ledger_fixture_config(struct config *config)
{
	config->log_origin = (char *)"coop.example/log";
	config->log_key_file = (char *)"";
	config->meter_gateway = (char *)"main";
	assert_int_equal(tz_zone_load("UTC", &config->zone), 0);
}

/* Opens the database dir/coopbill.db (its path written to db) and its tlog
 * into ledger, as configured by config. */
static inline void ledger_fixture_open(const char *dir, char *db, size_t db_size,
				       struct config *config, struct ledger *ledger)
{
	char errbuf[256];

	snprintf(db, db_size, "%s/coopbill.db", dir);
	config->database_path = db;
	ledger->config = config;
	assert_int_equal(store_open(db, &ledger->store, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(
		ledger_tlog_open(ledger->store, config, &ledger->tlog, errbuf, sizeof(errbuf)), 0);
}

static inline void ledger_fixture_close(struct ledger *ledger)
{
	ledger_tlog_free(ledger->tlog);
	store_free(ledger->store);
	ledger->tlog = NULL;
	ledger->store = NULL;
}

/* Closes ledger, frees what ledger_fixture_config() loaded, removes dir and
 * last frees fixture, the test's own struct that holds them. Returns 0, as
 * a cmocka teardown does. */
static inline int ledger_fixture_free(void *fixture, struct ledger *ledger, struct config *config,
				      const char *dir)
{
	ledger_fixture_close(ledger);
	tz_zone_free(config->zone);
	test_dir_remove(dir);
	free(fixture);
	return 0;
}

/* How many entries the tlog holds. */
static inline int64_t ledger_fixture_tlog_size(struct store *store)
{
	int64_t size;

	assert_int_equal(store_tlog_size(store, &size), 0);
	return size;
}

/* A tariff for October 2026: a fixed fee, two usage charges (the peak
 * 18:00-23:00 on weekdays, in whole hours, so that hourly totals serve it)
 * and the transit costs shared, a quarter equally and the rest by download. */
static const char october_tariff[] =
	"{\"name\":\"Shared\",\"currency\":\"EUR\",\"valid_from\":\"2026-10-01\","
	"\"fixed_fee\":{\"amount_minor\":1000,\"prorate\":true},"
	"\"usage_charges\":[{\"name\":\"Peak\",\"direction\":\"down\",\"windows\":[{\"days\":"
	"[\"mon\",\"tue\",\"wed\",\"thu\",\"fri\"],\"from\":\"18:00\",\"to\":\"23:00\"}],"
	"\"tiers\":[{\"price_per_gb_minor\":70}]},{\"name\":\"Rest\",\"direction\":\"both\","
	"\"tiers\":[{\"price_per_gb_minor\":9}]}],"
	"\"cost_sharing\":{\"categories\":[\"transit\"],\"equal_bp\":2500,\"direction\":\"down\"}}";

/* Inserts document as a tariff valid from valid_from and publishes it. */
static inline int64_t tariff_publish_from(struct store *store, const char *name,
					  const char *valid_from, const char *document)
{
	int64_t id;

	assert_int_equal(store_tariff_insert(store, name, valid_from, document,
					     "0000000000000000000000000000000000000000000000000000"
					     "000000000000",
					     &id),
			 0);
	assert_int_equal(store_tariff_publish(store, id, "signature", 0), 0);
	return id;
}

/* October 2026 in UTC, inside the caller's transaction: a pseudo-random
 * 5-minute bucket every step_s seconds for households 1 to n_households,
 * and 100.01 of transit to share. */
static inline void usage_october_add(struct store *store, int64_t n_households, int64_t step_s)
{
	uint64_t state = 12345;

	for (int64_t t = 1790812800; t < 1793491200; t += step_s) {
		for (int64_t h = 1; h <= n_households; h++) {
			state = state * 6364136223846793005ULL + 1442695040888963407ULL;
			struct store_usage_row row = {
				t, h, (state >> 40) % 90000000, (state >> 20) % 400000000, 0, 0
			};

			assert_int_equal(store_usage_add_rows(store, 0, &row, 1), 0);
		}
	}
	assert_int_equal(store_expense_insert(store, "2026-10", "transit", 10001, "upstream", NULL,
					      "test", 0, NULL),
			 0);
}
