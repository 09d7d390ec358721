/* The meter's polls whose read runs on a worker thread, against the real
 * kernel in a network namespace of the test's own (skipped when not root):
 * the loop goes on while the counters are read, a household closed during a
 * read keeps its counters until a read that follows the close is committed,
 * and closing the meter waits for a read in flight. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "coopbill/cidr.h"
#include "coopbill/config.h"
#include "coopbill/meter.h"
#include "coopbill/store.h"

struct fixture {
	char dir[64];
	uv_loop_t loop;
	struct config config;
	struct store *store;
	struct meter *meter;
	struct household *households[2];
};

static bool counters_in_kernel(int64_t household_id)
{
	char command[160];

	snprintf(command, sizeof(command),
		 "nft list counter inet coopbill up_%" PRId64 " >/dev/null 2>&1", household_id);
	return system(command) == 0;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char db[96], errbuf[256];

	/* The namespace is the test's own: this empties only its ruleset. */
	if (!f || system("nft flush ruleset") != 0)
		return -1;
	strcpy(f->dir, "/tmp/coopbill-poll.XXXXXX");
	if (!mkdtemp(f->dir) || uv_loop_init(&f->loop) < 0)
		return -1;
	snprintf(db, sizeof(db), "%s/coopbill.db", f->dir);
	if (store_open(db, &f->store, errbuf, sizeof(errbuf)) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		struct cidr address;
		struct household household = { .gateway = "main",
					       .name = (char *)"poll",
					       .joined_at = "2026-11-01",
					       .status = HOUSEHOLD_ACTIVE,
					       .addresses = &address,
					       .n_addresses = 1 };
		char text[32];
		int64_t id;

		snprintf(text, sizeof(text), "10.9.%d.1", i);
		if (cidr_parse(text, &address, NULL) < 0 ||
		    store_household_insert(f->store, &household, &id) < 0 ||
		    store_household_get(f->store, id, &f->households[i]) < 0)
			return -1;
	}
	/* The timer does not fire during a test: the tests start the polls. */
	f->config = (struct config){ .meter_enabled = true,
				     .meter_interval_s = 3600,
				     .meter_table = (char *)"coopbill",
				     .meter_gateway = (char *)"main",
				     .meter_bucket_s = 300,
				     .meter_wait_for_ntp = false,
				     .meter_keep_buckets_days = 62 };
	if (meter_new(&f->loop, f->store, NULL, NULL, &f->config, &f->meter) < 0 ||
	    meter_start(f->meter) < 0)
		return -1;
	*state = f;
	return 0;
}

static void on_closed(void *data)
{
	*(bool *)data = true;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char command[96];
	bool closed = false;

	if (f->meter)
		meter_close(f->meter, on_closed, &closed);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	uv_loop_close(&f->loop);
	for (int i = 0; i < 2; i++)
		store_household_free(f->households[i]);
	store_free(f->store);
	snprintf(command, sizeof(command), "rm -rf %s", f->dir);
	if (system(command) != 0 || (f->meter && !closed))
		return -1;
	free(f);
	return 0;
}

static uint64_t polls_total(const struct fixture *f)
{
	struct meter_status status;

	meter_status_get(f->meter, &status);
	return status.polls_total;
}

/* Runs the loop until the poll started last is committed. */
static void wait_for_commit(struct fixture *f, uint64_t polls_before)
{
	for (int i = 0; i < 100 && polls_total(f) == polls_before; i++)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_int_equal(polls_total(f), polls_before + 1);
}

/* What the API does to close a household: the database, then the kernel. */
static void close_household(struct fixture *f, struct household *household)
{
	household->status = HOUSEHOLD_CLOSED;
	strcpy(household->left_at, "2026-11-29");
	assert_int_equal(store_household_update(f->store, household), 0);
	assert_int_equal(meter_household_apply(f->meter, household), 0);
}

static void test_closed_during_read_keeps_counters(void **state)
{
	struct fixture *f = *state;
	struct household *closing = f->households[0];
	uint64_t before = polls_total(f);

	assert_true(counters_in_kernel(closing->id));
	assert_int_equal(meter_poll_start(f->meter), 0);
	/* The read's commit runs on the loop, which has not run yet: the
	 * household closes after its counters were read. */
	close_household(f, closing);
	wait_for_commit(f, before);
	/* Traffic counted after that read would go with the counters. */
	assert_true(counters_in_kernel(closing->id));
	/* The next read follows the close: its commit takes the counters away. */
	assert_int_equal(meter_poll(f->meter), 0);
	assert_false(counters_in_kernel(closing->id));
	assert_true(counters_in_kernel(f->households[1]->id));
}

static void test_closed_before_read_is_drained(void **state)
{
	struct fixture *f = *state;
	struct household *closing = f->households[1];
	uint64_t before = polls_total(f);

	close_household(f, closing);
	assert_int_equal(meter_poll_start(f->meter), 0);
	/* One read at a time: a second start while reading does nothing. */
	assert_int_equal(meter_poll_start(f->meter), 0);
	wait_for_commit(f, before);
	assert_false(counters_in_kernel(closing->id));
	assert_true(counters_in_kernel(f->households[0]->id));
}

static void test_close_waits_for_read(void **state)
{
	struct fixture *f = *state;
	bool closed = false;

	close_household(f, f->households[0]);
	assert_int_equal(meter_poll_start(f->meter), 0);
	meter_close(f->meter, on_closed, &closed);
	f->meter = NULL;
	/* The read finishes, then the last poll (which follows the close and
	 * so takes its counters away), then the meter goes. */
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(closed);
	assert_false(counters_in_kernel(f->households[0]->id));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_closed_during_read_keeps_counters, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_closed_before_read_is_drained, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_close_waits_for_read, setup, teardown),
	};

	/* Root, alone in a new network namespace: the host's ruleset is out of
	 * reach. Otherwise skip. */
	if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "SKIP: needs root and a new network namespace\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
