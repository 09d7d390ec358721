/* Metering arithmetic: deltas against baselines, resets as gaps, bytes spread
 * over buckets, the clock check, and the hourly roll-up in the database. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coopbill/config.h"
#include "coopbill/meter.h"

static const int64_t known[] = { 1, 2, 3 };

static struct meter_accounting account(const struct nft_counter *counters, size_t n,
				       const struct store_baseline *baselines, size_t n_baselines)
{
	struct meter_accounting result;

	assert_int_equal(meter_account(counters, n, baselines, n_baselines, known, 3, &result), 0);
	return result;
}

static void test_normal_delta(void **state)
{
	const struct store_baseline before[] = { { 1, 0, 7, 1000, 0 }, { 1, 1, 8, 5000, 0 } };
	const struct nft_counter now[] = { { 1, NFT_DOWN, 8, 9000, 9, NFT_INTERNET },
					   { 1, NFT_UP, 7, 1500, 5, NFT_INTERNET } };
	struct meter_accounting a = account(now, 2, before, 2);

	assert_int_equal(a.n_deltas, 1);
	assert_int_equal(a.deltas[0].household_id, 1);
	assert_int_equal(a.deltas[0].bytes_up, 500);
	assert_int_equal(a.deltas[0].bytes_down, 4000);
	assert_int_equal(a.n_gaps, 0);
	assert_int_equal(a.n_baselines, 2);
	assert_int_equal(a.baselines[0].bytes, 1500);
	assert_int_equal(a.baselines[1].bytes, 9000);
	meter_accounting_clear(&a);
}

static void test_unchanged_gives_nothing(void **state)
{
	const struct store_baseline before[] = { { 2, 0, 7, 1000, 0 } };
	const struct nft_counter now[] = { { 2, NFT_UP, 7, 1000, 1, NFT_INTERNET } };
	struct meter_accounting a = account(now, 1, before, 1);

	assert_int_equal(a.n_deltas, 0);
	assert_int_equal(a.n_gaps, 0);
	assert_int_equal(a.n_baselines, 1);
	meter_accounting_clear(&a);
}

/* A value below the baseline is a reset, never a 64-bit wrap: the new value
 * is the traffic since the reset, and the unknown part is a gap. */
static void test_reset_is_not_a_wrap(void **state)
{
	const struct store_baseline before[] = { { 1, 1, 7, 1000000, 0 } };
	const struct nft_counter now[] = { { 1, NFT_DOWN, 7, 300, 1, NFT_INTERNET } };
	struct meter_accounting a = account(now, 1, before, 1);

	assert_int_equal(a.n_deltas, 1);
	assert_int_equal(a.deltas[0].bytes_down, 300);
	assert_int_equal(a.n_gaps, 1);
	assert_false(a.gaps[0].recreated);
	assert_int_equal(a.gaps[0].bytes_before, 1000000);
	assert_int_equal(a.gaps[0].bytes_after, 300);
	meter_accounting_clear(&a);
}

static void test_reset_to_zero(void **state)
{
	const struct store_baseline before[] = { { 1, 0, 7, 5000, 0 } };
	const struct nft_counter now[] = { { 1, NFT_UP, 7, 0, 0, NFT_INTERNET } };
	struct meter_accounting a = account(now, 1, before, 1);

	assert_int_equal(a.n_deltas, 0);
	assert_int_equal(a.n_gaps, 1);
	assert_int_equal(a.baselines[0].bytes, 0);
	meter_accounting_clear(&a);
}

/* A new handle is a new counter even when its value is higher. */
static void test_new_handle(void **state)
{
	const struct store_baseline before[] = { { 3, 0, 7, 100, 0 } };
	const struct nft_counter now[] = { { 3, NFT_UP, 99, 4000, 1, NFT_INTERNET } };
	struct meter_accounting a = account(now, 1, before, 1);

	assert_int_equal(a.deltas[0].bytes_up, 4000);
	assert_int_equal(a.n_gaps, 1);
	assert_true(a.gaps[0].recreated);
	assert_int_equal(a.baselines[0].handle, 99);
	meter_accounting_clear(&a);
}

static void test_first_sight(void **state)
{
	const struct nft_counter now[] = { { 2, NFT_UP, 5, 700, 1, NFT_INTERNET },
					   { 2, NFT_DOWN, 6, 0, 0, NFT_INTERNET } };
	struct meter_accounting a = account(now, 2, NULL, 0);

	assert_int_equal(a.n_deltas, 1);
	assert_int_equal(a.deltas[0].bytes_up, 700);
	assert_int_equal(a.n_gaps, 0);
	assert_int_equal(a.n_baselines, 2);
	meter_accounting_clear(&a);
}

/* Local counters beside the internet ones: each against its own baseline,
 * into local_up and local_down, a reset on one a gap in its scope only. */
static void test_local_scope(void **state)
{
	const struct store_baseline before[] = {
		{ 1, 0, 7, 1000, 0 },
		{ 1, 1, 8, 5000, 0 },
		{ 1, 0, 9, 300, 1 },
		{ 1, 1, 10, 9000, 1 },
	};
	const struct nft_counter now[] = {
		{ 1, NFT_DOWN, 10, 20, 1, NFT_LOCAL },
		{ 1, NFT_UP, 9, 800, 4, NFT_LOCAL },
		{ 1, NFT_DOWN, 8, 5100, 3, NFT_INTERNET },
		{ 1, NFT_UP, 7, 1000, 2, NFT_INTERNET },
	};
	struct meter_accounting a = account(now, 4, before, 4);

	assert_int_equal(a.n_deltas, 1);
	assert_int_equal(a.deltas[0].bytes_up, 0);
	assert_int_equal(a.deltas[0].bytes_down, 100);
	assert_int_equal(a.deltas[0].local_up, 500);
	assert_int_equal(a.deltas[0].local_down, 20);
	assert_int_equal(a.n_gaps, 1);
	assert_int_equal(a.gaps[0].scope, NFT_LOCAL);
	assert_int_equal(a.gaps[0].direction, NFT_DOWN);
	assert_false(a.gaps[0].recreated);
	assert_int_equal(a.n_baselines, 4);
	assert_int_equal(a.baselines[2].scope, 1);
	assert_int_equal(a.baselines[2].direction, 0);
	assert_int_equal(a.baselines[2].bytes, 800);
	meter_accounting_clear(&a);
}

static void test_unknown_household_ignored(void **state)
{
	const struct nft_counter now[] = { { 42, NFT_UP, 5, 700, 1, NFT_INTERNET } };
	struct meter_accounting a = account(now, 1, NULL, 0);

	assert_int_equal(a.n_deltas, 0);
	assert_int_equal(a.n_baselines, 0);
	meter_accounting_clear(&a);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* The likely uplink: the default route with the lowest metric in the IPv4
 * table, else in the IPv6 table (its unreachable defaults on lo left out). */
static void test_default_route_ifname(void **state)
{
	char dir[] = "/tmp/coopbill-route.XXXXXX", route4[64], route6[64], ifname[16], note[512];
	struct config config = { .meter_enabled = true };
	char eth0[] = "eth0", *uplinks[] = { eth0 };

	assert_non_null(mkdtemp(dir));
	snprintf(route4, sizeof(route4), "%s/route", dir);
	snprintf(route6, sizeof(route6), "%s/ipv6_route", dir);
	write_file(route4, "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\t"
			   "Window\tIRTT\n"
			   "br-lan\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
			   "wg0\t00000000\t00000000\t0001\t0\t0\t200\t00000000\t0\t0\t0\n"
			   "pppoe-wan\t00000000\t0100000A\t0003\t0\t0\t10\t00000000\t0\t0\t0\n");
	write_file(route6,
		   "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
		   "00000000000000000000000000000000 ffffffff 00000001 00000000 00200200 "
		   "      lo\n"
		   "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 "
		   "00000000000000000000000000000000 00000100 00000001 00000000 00000001 "
		   "    eth1\n"
		   "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
		   "fe800000000000000000000000000001 00000400 00000003 00000000 00000003 "
		   "    eth0\n");
	assert_int_equal(meter_default_route_ifname(route4, route6, ifname), 0);
	assert_string_equal(ifname, "pppoe-wan");
	assert_true(meter_uplinks_note(&config, route4, route6, note, sizeof(note)));
	assert_non_null(strstr(note, "uplinks is not set"));
	assert_non_null(strstr(note, "all forwarded traffic is counted as internet traffic"));
	assert_non_null(strstr(note, "\"uplinks = pppoe-wan\""));

	/* No IPv4 default: the IPv6 one. */
	write_file(route4, "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\t"
			   "MTU\tWindow\tIRTT\n");
	assert_int_equal(meter_default_route_ifname(route4, route6, ifname), 0);
	assert_string_equal(ifname, "eth0");

	/* None at all, or the files missing: no interface, and the note says so. */
	write_file(route6, "");
	assert_int_equal(meter_default_route_ifname(route4, route6, ifname), -ENOENT);
	assert_true(meter_uplinks_note(&config, route4, route6, note, sizeof(note)));
	assert_non_null(strstr(note, "no default route"));
	assert_int_equal(meter_default_route_ifname("/nonexistent/route", NULL, ifname), -ENOENT);

	/* With uplinks, or without metering, nothing to say. */
	config.meter_uplinks = uplinks;
	config.n_meter_uplinks = 1;
	assert_false(meter_uplinks_note(&config, route4, route6, note, sizeof(note)));
	config.n_meter_uplinks = 0;
	config.meter_enabled = false;
	assert_false(meter_uplinks_note(&config, route4, route6, note, sizeof(note)));

	unlink(route4);
	unlink(route6);
	rmdir(dir);
}

static uint64_t shares_sum(const struct meter_share *shares, size_t n)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += shares[i].bytes;
	return sum;
}

static void test_split_one_bucket(void **state)
{
	struct meter_share shares[METER_SPLIT_MAX];
	/* 2026-11-29T10:01:00Z to 10:02:00Z, inside the 10:00 bucket. */
	int64_t start = 1795946460LL * 1000, end = start + 60000;
	size_t n = meter_split(12345, start, end, 300, shares, METER_SPLIT_MAX);

	assert_int_equal(n, 1);
	assert_int_equal(shares[0].bucket_start, 1795946400);
	assert_int_equal(shares[0].bytes, 12345);
}

static void test_split_across_boundary(void **state)
{
	struct meter_share shares[METER_SPLIT_MAX];
	/* 10:04:00 to 10:06:00: half in the 10:00 bucket, half in 10:05. */
	int64_t start = (1795946400LL + 240) * 1000, end = start + 120000;
	size_t n = meter_split(1001, start, end, 300, shares, METER_SPLIT_MAX);

	assert_int_equal(n, 2);
	assert_int_equal(shares[0].bucket_start, 1795946400);
	assert_int_equal(shares[1].bucket_start, 1795946700);
	assert_int_equal(shares[0].bytes + shares[1].bytes, 1001);
	/* 500.5 each: the leftover byte goes to the earlier bucket on a tie. */
	assert_int_equal(shares[0].bytes, 501);
}

static void test_split_across_midnight(void **state)
{
	struct meter_share shares[METER_SPLIT_MAX];
	/* 23:59:00 to 00:01:00 UTC, hourly buckets: one minute each side. */
	int64_t midnight = 1795996800LL;
	size_t n = meter_split(600, (midnight - 60) * 1000, (midnight + 60) * 1000, 3600, shares,
			       METER_SPLIT_MAX);

	assert_int_equal(n, 2);
	assert_int_equal(shares[0].bucket_start, midnight - 3600);
	assert_int_equal(shares[1].bucket_start, midnight);
	assert_int_equal(shares[0].bytes, 300);
	assert_int_equal(shares[1].bytes, 300);
}

static void test_split_empty_interval(void **state)
{
	struct meter_share shares[METER_SPLIT_MAX];
	int64_t end = (1795946400LL + 299) * 1000 + 999;
	size_t n = meter_split(77, end, end, 300, shares, METER_SPLIT_MAX);

	assert_int_equal(n, 1);
	assert_int_equal(shares[0].bucket_start, 1795946400);
	assert_int_equal(shares[0].bytes, 77);
}

/* Whatever the bytes and the interval, the shares sum exactly. */
static void test_split_always_sums(void **state)
{
	struct meter_share shares[METER_SPLIT_MAX];

	srand(7);
	for (int i = 0; i < 20000; i++) {
		uint64_t bytes = ((uint64_t)rand() << 31 | (uint64_t)rand()) >> (rand() % 60);
		int64_t start = 1795946400LL * 1000 + rand() % 10000000;
		int64_t end = start + rand() % 4000000;
		size_t n = meter_split(bytes, start, end, 300, shares, METER_SPLIT_MAX);

		assert_true(n >= 1);
		assert_int_equal(shares_sum(shares, n), bytes);
		for (size_t j = 1; j < n; j++)
			assert_int_equal(shares[j].bucket_start, shares[j - 1].bucket_start + 300);
	}
	/* Near the top of the range the arithmetic must not overflow. */
	size_t n = meter_split(UINT64_MAX / 2, 0, 3600000, 300, shares, METER_SPLIT_MAX);
	assert_int_equal(n, 12);
	assert_int_equal(shares_sum(shares, n), UINT64_MAX / 2);
}

static void test_split_cut_to_max(void **state)
{
	struct meter_share shares[4];
	size_t n = meter_split(1000, 0, 3000 * 1000, 300, shares, 4);

	/* Only the last 4 buckets, which then get everything. */
	assert_int_equal(n, 4);
	assert_int_equal(shares[0].bucket_start, 1800);
	assert_int_equal(shares_sum(shares, n), 1000);
}

static void test_clock_sanity(void **state)
{
	int64_t build = 1790000000;

	/* A box without a real-time clock boots in 1970. */
	assert_false(meter_clock_sane(60, build, false, true));
	assert_false(meter_clock_sane(build, build, false, true));
	/* A plausible clock still waits for NTP when told to. */
	assert_false(meter_clock_sane(build + 100, build, true, false));
	assert_true(meter_clock_sane(build + 100, build, true, true));
	assert_true(meter_clock_sane(build + 100, build, false, false));
}

/* The database side: additive buckets, the roll-up to hours, pruning only
 * what is rolled up, and a bucket behind the watermark counted hourly too. */
static void test_rollup_and_prune(void **state)
{
	char dir[] = "/tmp/coopbill-meter.XXXXXX", path[64], errbuf[256], cmd[96];
	struct household household = { .gateway = "main",
				       .name = (char *)"A",
				       .joined_at = "2026-11-01" };
	struct store_usage_row *rows;
	struct store *store;
	int64_t id, watermark, hour = 1795946400LL - 1795946400LL % 3600;
	size_t n;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/db", dir);
	assert_int_equal(store_open(path, &store, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(store_household_insert(store, &household, &id), 0);
	assert_int_equal(store_usage_watermark(store, &watermark), 0);

	assert_int_equal(store_usage_add_rows(store, watermark,
					      &(struct store_usage_row){ hour, id, 10, 100, 3, 30 },
					      1),
			 0);
	assert_int_equal(store_usage_add_rows(store, watermark,
					      &(struct store_usage_row){ hour, id, 5, 50, 2, 20 },
					      1),
			 0);
	assert_int_equal(
		store_usage_add_rows(store, watermark,
				     &(struct store_usage_row){ hour + 300, id, 1, 1, 1, 4 }, 1),
		0);
	assert_int_equal(
		store_usage_add_rows(store, watermark,
				     &(struct store_usage_row){ hour + 3600, id, 7, 7, 0, 9 }, 1),
		0);

	/* Before the roll-up, hourly rows come from the buckets. */
	assert_int_equal(
		store_usage_rows(store, id, hour, hour + 7200, STORE_USAGE_HOURS, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(rows[0].bytes_up, 16);
	assert_int_equal(rows[0].bytes_down, 151);
	assert_int_equal(rows[0].local_up, 6);
	assert_int_equal(rows[0].local_down, 54);
	free(rows);

	assert_int_equal(store_usage_rollup(store, hour + 3600), 0);
	assert_int_equal(store_usage_watermark(store, &watermark), 0);
	assert_int_equal(watermark, hour + 3600);
	assert_int_equal(store_usage_rollup(store, hour + 1800), -EINVAL);

	/* Pruning keeps what is not rolled up yet. */
	assert_int_equal(store_usage_prune(store, hour + 7200), 0);
	assert_int_equal(
		store_usage_rows(store, id, hour, hour + 7200, STORE_USAGE_BUCKETS, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].start, hour + 3600);
	free(rows);

	/* A wall clock stepped back writes behind the watermark: counted hourly. */
	assert_int_equal(store_usage_add_rows(
				 store, watermark,
				 &(struct store_usage_row){ hour + 600, id, 1000, 0, 500, 0 }, 1),
			 0);
	assert_int_equal(
		store_usage_rows(store, id, hour, hour + 7200, STORE_USAGE_HOURS, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(rows[0].bytes_up, 1016);
	assert_int_equal(rows[0].local_up, 506);
	assert_int_equal(rows[0].local_down, 54);
	assert_int_equal(rows[1].bytes_up, 7);
	assert_int_equal(rows[1].local_down, 9);
	free(rows);

	assert_int_equal(store_usage_totals(store, hour, hour + 7200, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].bytes_up, 1023);
	assert_int_equal(rows[0].local_up, 506);
	assert_int_equal(rows[0].local_down, 63);
	free(rows);

	store_free(store);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normal_delta),
		cmocka_unit_test(test_unchanged_gives_nothing),
		cmocka_unit_test(test_reset_is_not_a_wrap),
		cmocka_unit_test(test_reset_to_zero),
		cmocka_unit_test(test_new_handle),
		cmocka_unit_test(test_first_sight),
		cmocka_unit_test(test_local_scope),
		cmocka_unit_test(test_default_route_ifname),
		cmocka_unit_test(test_unknown_household_ignored),
		cmocka_unit_test(test_split_one_bucket),
		cmocka_unit_test(test_split_across_boundary),
		cmocka_unit_test(test_split_across_midnight),
		cmocka_unit_test(test_split_empty_interval),
		cmocka_unit_test(test_split_always_sums),
		cmocka_unit_test(test_split_cut_to_max),
		cmocka_unit_test(test_clock_sanity),
		cmocka_unit_test(test_rollup_and_prune),
	};

	return cmocka_run_group_tests_name("meter", tests, NULL, NULL);
}
