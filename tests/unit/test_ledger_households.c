/* Households and their tokens through the ledger, on a real database file
 * and without HTTP or a kernel: what is created, changed, closed and
 * issued is stored and logged; what is refused names why and changes
 * nothing. */
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

#include "coopbill/auth.h"
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
	/* 10.0.1.0/24 and 2001:db8:1::/56, then 10.0.1.10/32. */
	struct cidr ranges[3];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char hint[CIDR_TEXT_MAX];

	assert_non_null(f);
	test_dir_make(f->dir, sizeof(f->dir), "households");
	ledger_fixture_config(&f->config);
	ledger_fixture_open(f->dir, f->db, sizeof(f->db), &f->config, &f->ledger);
	assert_int_equal(cidr_parse("10.0.1.0/24", &f->ranges[0], hint), 0);
	assert_int_equal(cidr_parse("2001:db8:1::/56", &f->ranges[1], hint), 0);
	assert_int_equal(cidr_parse("10.0.1.10/32", &f->ranges[2], hint), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	return ledger_fixture_free(f, &f->ledger, &f->config, f->dir);
}

static int64_t tlog_size(struct fixture *f)
{
	return ledger_fixture_tlog_size(f->ledger.store);
}

/* Whether the newest tlog entry holds text. */
static bool last_entry_has(struct fixture *f, const char *text)
{
	char *entry;
	size_t len;
	bool found;

	assert_int_equal(store_tlog_entry_get(f->ledger.store, tlog_size(f) - 1, &entry, &len), 0);
	found = strstr(entry, text) != NULL;
	free(entry);
	return found;
}

static int64_t create(struct fixture *f, const char *name, const struct cidr *addresses,
		      size_t n_addresses)
{
	return ledger_fixture_household(&f->ledger, "2026-11-01", name, addresses, n_addresses);
}

static void test_create(void **state)
{
	struct fixture *f = *state;
	struct household *household;
	char text[CIDR_TEXT_MAX];
	int64_t id;

	id = create(f, "Flat 3", f->ranges, 2);
	assert_true(id > 0);
	assert_int_equal(store_household_get(f->ledger.store, id, &household), 0);
	assert_string_equal(household->name, "Flat 3");
	assert_string_equal(household->joined_at, "2026-11-01");
	assert_int_equal(household->status, HOUSEHOLD_ACTIVE);
	assert_int_equal(household->n_addresses, 2);
	cidr_format(&household->addresses[1], text);
	assert_string_equal(text, "2001:db8:1::/56");
	store_household_free(household);
	assert_int_equal(tlog_size(f), 1);
	assert_true(last_entry_has(f, "household-created\n"));
	assert_true(last_entry_has(f, "joined_at 2026-11-01\naddresses 2\ngateway main\n"));
}

/* Each household is counted by one gateway; two gateways may use the same
 * private ranges, one may not twice. A move is the treasurer's, and it is
 * in the log. */
static void test_gateways(void **state)
{
	struct fixture *f = *state;
	struct ledger_household_new in = {
		.name = "Village",
		.joined_at = "2026-11-01",
		.addresses = f->ranges,
		.n_addresses = 1,
		.gateway = "village",
		.actor = "test",
	};
	struct ledger_household_change change = { .actor = "test" };
	struct household *household = NULL;
	struct ledger_error err;
	int64_t here, there;

	here = create(f, "Here", f->ranges, 1);
	assert_int_equal(ledger_household_create(&f->ledger, &in, &household, &err), 0);
	there = household->id;
	assert_string_equal(household->gateway, "village");
	store_household_free(household);
	assert_true(last_entry_has(f, "addresses 1\ngateway village\n"));

	in.name = "Village too";
	assert_ledger_refused(ledger_household_create(&f->ledger, &in, &household, &err), &err,
			      LEDGER_CONFLICT, "address-conflict",
			      "10.0.1.0/24 overlaps 10.0.1.0/24 of household 2 (\"Village\")");
	in.gateway = "Village";
	assert_ledger_refused(ledger_household_create(&f->ledger, &in, &household, &err), &err,
			      LEDGER_INVALID, "invalid-household",
			      "gateway must be 1 to 32 lower-case letters");

	/* Moving "Here" to the village: its range is the village's already. */
	change.id = here;
	change.gateway = "village";
	assert_ledger_refused(ledger_household_change(&f->ledger, &change, &household, &err), &err,
			      LEDGER_CONFLICT, "address-conflict", "of household 2");
	change.id = there;
	change.gateway = "-village";
	assert_ledger_refused(ledger_household_change(&f->ledger, &change, &household, &err), &err,
			      LEDGER_INVALID, "invalid-household", "gateway must be");
	change.gateway = "main";
	change.by_member = true;
	assert_ledger_refused(ledger_household_change(&f->ledger, &change, &household, &err), &err,
			      LEDGER_FORBIDDEN, "forbidden", "gateway are the treasurer's");
	/* Back on main, the range is Here's. */
	change.by_member = false;
	assert_ledger_refused(ledger_household_change(&f->ledger, &change, &household, &err), &err,
			      LEDGER_CONFLICT, "address-conflict", "of household 1");
	change.has_addresses = true;
	change.addresses = &f->ranges[1];
	change.n_addresses = 1;
	assert_int_equal(ledger_household_change(&f->ledger, &change, &household, &err), 0);
	assert_string_equal(household->gateway, "main");
	store_household_free(household);
	assert_true(last_entry_has(f, "household-changed\n"));
	assert_true(last_entry_has(f, "gateway main\n"));
}

static void test_create_refusals(void **state)
{
	struct fixture *f = *state;
	struct ledger_household_new in = {
		.name = "B", .joined_at = "2026-11-31", .addresses = f->ranges, .actor = "test"
	};
	struct household *household = NULL, *households;
	struct ledger_error err;
	size_t n;

	create(f, "A", &f->ranges[0], 1);
	in.name = "";
	assert_ledger_refused(ledger_household_create(&f->ledger, &in, &household, &err), &err,
			      LEDGER_INVALID, "invalid-household",
			      "name must be 1 to 200 bytes long");
	in.name = "B";
	assert_ledger_refused(ledger_household_create(&f->ledger, &in, &household, &err), &err,
			      LEDGER_INVALID, "invalid-household",
			      "joined_at \"2026-11-31\" is not a date");
	in.joined_at = "2026-11-01";
	/* 10.0.1.10/32 lies inside 10.0.1.0/24. */
	in.addresses = &f->ranges[1];
	in.n_addresses = 2;
	assert_ledger_refused(ledger_household_create(&f->ledger, &in, &household, &err), &err,
			      LEDGER_CONFLICT, "address-conflict",
			      "10.0.1.10/32 overlaps 10.0.1.0/24 of household 1 (\"A\")");
	in.addresses = f->ranges;
	in.n_addresses = 3;
	assert_ledger_refused(ledger_household_create(&f->ledger, &in, &household, &err), &err,
			      LEDGER_INVALID, "invalid-address",
			      "addresses[2] \"10.0.1.10/32\" overlaps addresses[0]");
	/* A member more would change how November, being closed, shares its costs. */
	assert_int_equal(store_period_close_begin(f->ledger.store, "2026-11"), 0);
	in.n_addresses = 0;
	assert_ledger_refused(ledger_household_create(&f->ledger, &in, &household, &err), &err,
			      LEDGER_CONFLICT, "close-in-progress",
			      "period 2026-11 is being closed");
	assert_null(household);
	assert_int_equal(store_household_list(f->ledger.store, &households, &n), 0);
	store_households_free(households, n);
	assert_int_equal(n, 1);
	assert_int_equal(tlog_size(f), 1);
	/* Joining after the period being closed changes nothing of it. */
	in.joined_at = "2026-12-01";
	assert_int_equal(ledger_household_create(&f->ledger, &in, &household, &err), 0);
	store_household_free(household);
}

static int64_t publish_tariff(struct fixture *f, bool publish)
{
	int64_t id;

	assert_int_equal(store_tariff_insert(f->ledger.store, "t", "2026-12-01", "{}",
					     "0000000000000000000000000000000000000000000000000000"
					     "000000000000",
					     &id),
			 0);
	if (publish)
		assert_int_equal(store_tariff_publish(f->ledger.store, id, "signature", 0), 0);
	return id;
}

static void test_change(void **state)
{
	struct fixture *f = *state;
	int64_t id = create(f, "A", f->ranges, 2), tariff = publish_tariff(f, true);
	struct ledger_household_change in = { .id = id,
					      .actor = "test",
					      .name = "A and B",
					      .has_addresses = true,
					      .addresses = &f->ranges[2],
					      .n_addresses = 1,
					      .has_tariff_id = true,
					      .tariff_id = tariff };
	struct household *household = NULL;
	struct ledger_error err;
	char text[CIDR_TEXT_MAX];

	assert_int_equal(ledger_household_change(&f->ledger, &in, &household, &err), 0);
	store_household_free(household);
	assert_int_equal(store_household_get(f->ledger.store, id, &household), 0);
	assert_string_equal(household->name, "A and B");
	assert_int_equal(household->tariff_id, tariff);
	assert_int_equal(household->n_addresses, 1);
	cidr_format(&household->addresses[0], text);
	assert_string_equal(text, "10.0.1.10/32");
	store_household_free(household);
	assert_int_equal(tlog_size(f), 2);
	assert_true(last_entry_has(f, "household-changed\n"));
	assert_true(last_entry_has(f, "addresses 1\n"));

	/* The ranges given up are free for another household. */
	create(f, "C", &f->ranges[1], 1);
	/* A change that names nothing else keeps the tariff; null removes it. */
	in = (struct ledger_household_change){ .id = id, .actor = "test", .has_tariff_id = true };
	assert_int_equal(ledger_household_change(&f->ledger, &in, &household, &err), 0);
	assert_int_equal(household->tariff_id, 0);
	assert_string_equal(household->name, "A and B");
	store_household_free(household);
}

static void test_change_refusals(void **state)
{
	struct fixture *f = *state;
	int64_t id = create(f, "A", &f->ranges[0], 1), draft = publish_tariff(f, false);
	struct ledger_household_change in = { .id = id + 5, .actor = "test", .name = "X" };
	struct household *household = NULL;
	struct ledger_error err;
	int64_t size;

	create(f, "B", &f->ranges[1], 1);
	size = tlog_size(f);
	assert_ledger_refused(ledger_household_change(&f->ledger, &in, &household, &err), &err,
			      LEDGER_NOT_FOUND, "not-found", "there is no household");
	in = (struct ledger_household_change){
		.id = id, .actor = "test", .has_tariff_id = true, .tariff_id = draft
	};
	assert_ledger_refused(ledger_household_change(&f->ledger, &in, &household, &err), &err,
			      LEDGER_CONFLICT, "tariff-draft", "is a draft; publish it first");
	in.tariff_id = draft + 1;
	assert_ledger_refused(ledger_household_change(&f->ledger, &in, &household, &err), &err,
			      LEDGER_NOT_FOUND, "not-found", "there is no tariff");
	in = (struct ledger_household_change){
		.id = id, .actor = "test", .has_addresses = true, .addresses = f->ranges
	};
	in.n_addresses = 2;
	assert_ledger_refused(ledger_household_change(&f->ledger, &in, &household, &err), &err,
			      LEDGER_CONFLICT, "address-conflict", "overlaps 2001:db8:1::/56");
	in.by_member = true;
	assert_ledger_refused(ledger_household_change(&f->ledger, &in, &household, &err), &err,
			      LEDGER_FORBIDDEN, "forbidden",
			      "a member may change the household's name");
	in = (struct ledger_household_change){ .id = id, .actor = "test", .left_at = "2026-12-01" };
	assert_ledger_refused(ledger_household_change(&f->ledger, &in, &household, &err), &err,
			      LEDGER_INVALID, "invalid-household",
			      "left_at applies to a closed household");
	in.has_status = true;
	in.status = HOUSEHOLD_CLOSED;
	in.left_at = "2026-10-31";
	assert_ledger_refused(ledger_household_change(&f->ledger, &in, &household, &err), &err,
			      LEDGER_INVALID, "invalid-household",
			      "left_at 2026-10-31 is before joined_at 2026-11-01");
	assert_int_equal(store_period_close_begin(f->ledger.store, "2026-11"), 0);
	in.left_at = "2026-12-01";
	assert_ledger_refused(ledger_household_change(&f->ledger, &in, &household, &err), &err,
			      LEDGER_CONFLICT, "close-in-progress",
			      "period 2026-11 is being closed");
	assert_null(household);
	assert_int_equal(tlog_size(f), size);
	/* Renaming does not change what a period bills. */
	in = (struct ledger_household_change){ .id = id, .actor = "test", .name = "A2" };
	assert_int_equal(ledger_household_change(&f->ledger, &in, &household, &err), 0);
	store_household_free(household);
}

static void test_close(void **state)
{
	struct fixture *f = *state;
	/* It joined long before any day the test may run on. */
	int64_t id = ledger_fixture_household(&f->ledger, "2000-01-01", "A", f->ranges, 2);
	struct ledger_household_change in = {
		.id = id, .actor = "test", .has_status = true, .status = HOUSEHOLD_CLOSED
	};
	struct household *household = NULL;
	struct ledger_error err;
	struct tm now_utc;
	char today[DATE_TEXT_MAX];
	time_t now = time(NULL);

	/* Closing without a left_at closes it today (in UTC, the zone here). */
	assert_int_equal(ledger_household_change(&f->ledger, &in, &household, &err), 0);
	gmtime_r(&now, &now_utc);
	strftime(today, sizeof(today), "%Y-%m-%d", &now_utc);
	assert_int_equal(household->status, HOUSEHOLD_CLOSED);
	assert_string_equal(household->left_at, today);
	store_household_free(household);
	assert_true(last_entry_has(f, "status closed\n"));

	/* A closed household's ranges are free. */
	create(f, "B", &f->ranges[0], 1);
	/* Its member may no longer change it. */
	in = (struct ledger_household_change){
		.id = id, .by_member = true, .actor = "test", .name = "A2"
	};
	assert_ledger_refused(ledger_household_change(&f->ledger, &in, &household, &err), &err,
			      LEDGER_FORBIDDEN, "forbidden",
			      "is closed: its member token may read");
	/* The treasurer moves the day it left, and reopening clears it; its
	 * ranges are taken meanwhile. */
	in = (struct ledger_household_change){ .id = id, .actor = "test", .left_at = "2026-11-30" };
	assert_int_equal(ledger_household_change(&f->ledger, &in, &household, &err), 0);
	assert_string_equal(household->left_at, "2026-11-30");
	store_household_free(household);
	in = (struct ledger_household_change){
		.id = id, .actor = "test", .has_status = true, .status = HOUSEHOLD_ACTIVE
	};
	assert_ledger_refused(ledger_household_change(&f->ledger, &in, &household, &err), &err,
			      LEDGER_CONFLICT, "address-conflict", "of household 2 (\"B\")");
	in.has_addresses = true;
	in.addresses = &f->ranges[1];
	in.n_addresses = 1;
	assert_int_equal(ledger_household_change(&f->ledger, &in, &household, &err), 0);
	assert_int_equal(household->status, HOUSEHOLD_ACTIVE);
	assert_string_equal(household->left_at, "");
	store_household_free(household);
	assert_true(last_entry_has(f, "status active\n"));
}

static void test_token_issue(void **state)
{
	struct fixture *f = *state;
	int64_t id = create(f, "A", NULL, 0);
	struct ledger_token_request in = { .role = AUTH_ROLE_MEMBER,
					   .household_id = id,
					   .actor = "test" };
	struct ledger_household_change close = {
		.id = id, .actor = "test", .has_status = true, .status = HOUSEHOLD_CLOSED
	};
	char token[AUTH_TOKEN_TEXT_MAX], header[64];
	struct auth_principal principal;
	struct household *household;
	struct ledger_error err;

	assert_int_equal(ledger_token_issue(&f->ledger, &in, token, &err), 0);
	snprintf(header, sizeof(header), "Bearer %s", token);
	assert_int_equal(auth_authenticate(f->ledger.store, header, time(NULL), &principal), 0);
	assert_int_equal(principal.role, AUTH_ROLE_MEMBER);
	assert_int_equal(principal.household_id, id);
	assert_int_equal(tlog_size(f), 2);
	assert_true(last_entry_has(f, "token-issued\nrole member\n"));

	in = (struct ledger_token_request){ .role = AUTH_ROLE_ADMIN,
					    .name = "treasurer",
					    .actor = "cli" };
	assert_int_equal(ledger_token_issue(&f->ledger, &in, token, &err), 0);
	assert_true(last_entry_has(f, "token-issued\nrole admin\n"));

	in = (struct ledger_token_request){ .role = AUTH_ROLE_MEMBER,
					    .household_id = id + 1,
					    .actor = "test" };
	assert_ledger_refused(ledger_token_issue(&f->ledger, &in, token, &err), &err,
			      LEDGER_NOT_FOUND, "not-found", "there is no household 2");
	assert_int_equal(ledger_household_change(&f->ledger, &close, &household, &err), 0);
	store_household_free(household);
	in.household_id = id;
	assert_ledger_refused(ledger_token_issue(&f->ledger, &in, token, &err), &err,
			      LEDGER_CONFLICT, "household-closed",
			      "reopen it before issuing tokens");
	assert_int_equal(tlog_size(f), 4);
}

static void test_commitment(void **state)
{
	struct fixture *f = *state;
	int64_t id = create(f, "A", NULL, 0);
	char commitment[65], salt[65], again[65];
	struct ledger_error err;

	assert_int_equal(ledger_household_commitment(&f->ledger, id, commitment, salt, &err), 0);
	assert_int_equal(strlen(salt), 64);
	/* The entry that created the household carries the same commitment. */
	assert_true(last_entry_has(f, commitment));
	assert_int_equal(ledger_household_commitment(&f->ledger, id, again, salt, &err), 0);
	assert_string_equal(again, commitment);
	assert_ledger_refused(
		ledger_household_commitment(&f->ledger, id + 1, commitment, salt, &err), &err,
		LEDGER_NOT_FOUND, "not-found", "there is no household 2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gateways, setup, teardown),
		cmocka_unit_test_setup_teardown(test_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_change_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_issue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commitment, setup, teardown),
	};

	return cmocka_run_group_tests_name("ledger_households", tests, NULL, NULL);
}
