/* Time zones from TZif files against glibc: every hour of 1970-2037, and
 * both sides of every change, in zones with odd offsets and odd changes,
 * gives the same local time and offset as localtime_r(); the footer's rules
 * (after the last transition, and in files that have nothing else) agree
 * with glibc's reading of the same TZ string; the start of a local day or
 * month is its first instant across clock changes; and broken files are
 * refused. Only this test sets TZ, to ask glibc. */
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

#include "coopbill/tz.h"

/* 1970-01-01 to 2038-01-01 (UTC). */
#define SWEEP_START_S 0
#define SWEEP_END_S   INT64_C(2145916800)
/* The footer's rules decide from 2038 in files of the "fat" kind. */
#define FOOTER_END_S INT64_C(4102444800) /* 2100-01-01 */

static const char *const zones[] = {
	"Europe/Madrid",       /* the cooperative's */
	"Asia/Kolkata",	       /* +05:30, from the footer since 1945 */
	"Australia/Lord_Howe", /* a 30-minute change */
	"Pacific/Chatham",     /* +12:45, changes at 2:45 local */
	"America/St_Johns",    /* -03:30, changes at 00:01 local until 2011 */
};

/* Under valgrind (scripts/test runs the unit suite so) the hourly sweep
 * takes every 7th hour, which still meets every hour of the day. */
static int64_t sweep_step_s(void)
{
	return getenv("COOPBILL_UNDER_VALGRIND") ? 7 * 3600 : 3600;
}

static void glibc_zone(const char *tz)
{
	assert_int_equal(setenv("TZ", tz, 1), 0);
	tzset();
}

/* tz_local() and localtime_r() agree at t. */
static void check_instant(const struct tz_zone *zone, const char *name, int64_t t)
{
	time_t when = (time_t)t;
	struct tz_time local;
	int32_t offset_s;
	struct tm tm;

	assert_non_null(localtime_r(&when, &tm));
	assert_int_equal(tz_local(zone, t, &local, &offset_s), 0);
	if (local.date.year != tm.tm_year + 1900 || local.date.month != tm.tm_mon + 1 ||
	    local.date.day != tm.tm_mday || local.hour != tm.tm_hour || local.minute != tm.tm_min ||
	    local.second != tm.tm_sec || offset_s != tm.tm_gmtoff)
		fail_msg("%s at %lld: %04d-%02d-%02d %02d:%02d:%02d %+d, glibc says "
			 "%04d-%02d-%02d %02d:%02d:%02d %+ld",
			 name, (long long)t, local.date.year, local.date.month, local.date.day,
			 local.hour, local.minute, local.second, offset_s, tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_gmtoff);
}

/* Every step in [start, end), and both sides of every change the zone
 * reports in it. */
static void sweep(const struct tz_zone *zone, const char *name, int64_t start_s, int64_t end_s,
		  int64_t step_s)
{
	int64_t next_s;

	for (int64_t t = start_s; t < end_s; t += step_s)
		check_instant(zone, name, t);
	for (int64_t t = start_s; t < end_s; t = next_s) {
		tz_offset(zone, t, &next_s);
		if (next_s >= end_s)
			break;
		check_instant(zone, name, next_s - 1);
		check_instant(zone, name, next_s);
	}
}

static void test_matches_glibc(void **state)
{
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		struct tz_zone *zone;

		assert_int_equal(tz_zone_load(zones[i], &zone), 0);
		glibc_zone(zones[i]);
		sweep(zone, zones[i], SWEEP_START_S, SWEEP_END_S, sweep_step_s());
		/* After the file's last transition only the footer speaks. */
		sweep(zone, zones[i], SWEEP_END_S, FOOTER_END_S, 5 * sweep_step_s());
		tz_zone_free(zone);
	}
}

/* A version 2 TZif file with one time type and, in its 64-bit data, only
 * the "big bang" transition that zic once wrote at -2^59: all the zone says
 * is in its footer. */
static size_t footer_only_file(const char *footer, int32_t offset_s, uint8_t *ret_file, size_t size)
{
	/* Magic, version, 15 unused bytes, then the counts isut, isstd, leap,
	 * time, type and char, each 32-bit big-endian. */
	uint8_t header[44] = { 'T', 'Z', 'i', 'f', '2' };
	uint64_t big_bang = (uint64_t) - (INT64_C(1) << 59);
	size_t n = 0;

	header[39] = 1; /* one time type */
	header[43] = 4; /* "XYZ" and its NUL */
	for (int block = 0; block < 2; block++) {
		assert_true(n + sizeof(header) + 19 <= size);
		header[35] = (uint8_t)block; /* transitions: none in version 1 */
		memcpy(ret_file + n, header, sizeof(header));
		n += sizeof(header);
		for (int shift = 56; block == 1 && shift >= 0; shift -= 8)
			ret_file[n++] = (uint8_t)(big_bang >> shift);
		if (block == 1)
			ret_file[n++] = 0; /* its time type */
		for (int shift = 24; shift >= 0; shift -= 8)
			ret_file[n++] = (uint8_t)((uint32_t)offset_s >> shift);
		ret_file[n++] = 0; /* isdst */
		ret_file[n++] = 0; /* abbreviation index */
		memcpy(ret_file + n, "XYZ", 4);
		n += 4;
	}
	n += (size_t)snprintf((char *)ret_file + n, size - n, "\n%s\n", footer);
	assert_true(n < size);
	return n;
}

static void test_footer_rules(void **state)
{
	/* Each as glibc reads it from TZ, and as a footer. */
	static const struct {
		const char *footer;
		int32_t offset_s;
	} cases[] = {
		{ "CET-1CEST,M3.5.0,M10.5.0/3", 3600 },
		{ "<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45", 45900 },
		{ "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", 37800 },
		{ "NST3:30NDT,M3.2.0/0:01,M11.1.0/0:01", -12600 },
		{ "IST-5:30", 19800 },
		/* Julian days without and with 29 February, and a change at 24:00. */
		{ "AAA3BBB,J60/1:30,300/24", -10800 },
		/* Negative and past-midnight rule times (RFC 8536 3.3.1). */
		{ "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1", -10800 },
		{ "XXX-2YYY,M3.5.4/26,M10.5.5/25", 7200 },
	};
	uint8_t file[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tz_zone *zone;
		size_t n = footer_only_file(cases[i].footer, cases[i].offset_s, file, sizeof(file));

		if (tz_zone_parse(file, n, &zone) < 0)
			fail_msg("footer %s is refused", cases[i].footer);
		glibc_zone(cases[i].footer);
		sweep(zone, cases[i].footer, SWEEP_START_S, FOOTER_END_S,
		      getenv("COOPBILL_UNDER_VALGRIND") ? 97 * 3600 : 7 * 3600);
		tz_zone_free(zone);
	}
}

/* RFC 8536's example of daylight saving time all year: it starts on 1
 * January at 00:00 where the year before ended it. (glibc works the rules
 * out for the UTC year of the instant, and so has 5 hours of standard time
 * each new year's eve.) */
static void test_footer_dst_all_year(void **state)
{
	struct tz_zone *zone;
	uint8_t file[256];
	size_t n = footer_only_file("EST5EDT,0/0,J365/25", -18000, file, sizeof(file));
	int64_t next_s;

	assert_int_equal(tz_zone_parse(file, n, &zone), 0);
	for (int64_t t = SWEEP_START_S; t < FOOTER_END_S; t += 3607)
		assert_int_equal(tz_offset(zone, t, &next_s), -14400);
	tz_zone_free(zone);
}

static int64_t start_of(const struct tz_zone *zone, int year, int month, int day, int hour,
			int minute)
{
	struct tz_time local = { { year, month, day }, hour, minute, 0 };
	int64_t t;

	assert_int_equal(tz_mktime(zone, &local, &t), 0);
	return t;
}

/* The first instant of every local day and month of 1970-2037 is on that
 * day, and the instant before it is not (glibc says which day each is). */
static void test_day_and_month_starts(void **state)
{
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		struct tz_zone *zone;

		assert_int_equal(tz_zone_load(zones[i], &zone), 0);
		glibc_zone(zones[i]);
		for (int64_t days = 0; days < SWEEP_END_S / 86400; days++) {
			struct date date = date_from_days(days);
			int64_t t = start_of(zone, date.year, date.month, date.day, 0, 0);
			time_t when = (time_t)t, before = (time_t)(t - 1);
			struct tm at, prev;

			assert_non_null(localtime_r(&when, &at));
			assert_non_null(localtime_r(&before, &prev));
			assert_int_equal(at.tm_mday, date.day);
			assert_int_equal(at.tm_mon + 1, date.month);
			assert_true(prev.tm_mday != date.day);
		}
		tz_zone_free(zone);
	}
}

static void test_clock_change_edges(void **state)
{
	struct tz_zone *madrid, *santiago, *lord_howe;
	struct tz_time local;

	assert_int_equal(tz_zone_load("Europe/Madrid", &madrid), 0);
	/* 2027-03-28: 02:00 CET becomes 03:00 CEST at 01:00Z; the day has 23 h. */
	assert_int_equal(start_of(madrid, 2027, 3, 28, 0, 0), 1806188400 /* 03-27T23:00Z */);
	assert_int_equal(start_of(madrid, 2027, 3, 29, 0, 0), 1806271200 /* 03-28T22:00Z */);
	/* 02:30 is skipped: the first instant at or after it is 03:00 CEST. */
	assert_int_equal(start_of(madrid, 2027, 3, 28, 2, 30), 1806195600 /* 01:00Z */);
	assert_int_equal(start_of(madrid, 2027, 3, 28, 3, 0), 1806195600);
	/* 2027-10-31: 03:00 CEST becomes 02:00 CET at 01:00Z; the day has 25 h
	 * and 02:30 happens twice: the first is meant. */
	assert_int_equal(start_of(madrid, 2027, 10, 31, 0, 0), 1824933600 /* 10-30T22:00Z */);
	assert_int_equal(start_of(madrid, 2027, 11, 1, 0, 0), 1825023600 /* 10-31T23:00Z */);
	assert_int_equal(start_of(madrid, 2027, 10, 31, 2, 30), 1824942600 /* 00:30Z */);
	assert_int_equal(tz_local(madrid, 1824942600 + 3600, &local, NULL), 0);
	assert_int_equal(local.hour, 2);
	assert_int_equal(local.minute, 30);
	/* The months around them. */
	assert_int_equal(start_of(madrid, 2027, 4, 1, 0, 0) - start_of(madrid, 2027, 3, 1, 0, 0),
			 31 * 86400 - 3600);
	assert_int_equal(start_of(madrid, 2027, 11, 1, 0, 0) - start_of(madrid, 2027, 10, 1, 0, 0),
			 31 * 86400 + 3600);

	/* Santiago skips midnight: 2026-09-06 starts at 01:00 local (04:00Z). */
	assert_int_equal(tz_zone_load("America/Santiago", &santiago), 0);
	assert_int_equal(start_of(santiago, 2026, 9, 6, 0, 0), 1788667200);
	assert_int_equal(tz_local(santiago, 1788667200, &local, NULL), 0);
	assert_int_equal(local.hour, 1);

	/* Lord Howe's clocks go back 30 minutes at 02:00 local on 2027-04-04:
	 * that day has 24.5 h, the one of 2027-10-03 23.5 h. */
	assert_int_equal(tz_zone_load("Australia/Lord_Howe", &lord_howe), 0);
	assert_int_equal(start_of(lord_howe, 2027, 4, 5, 0, 0) -
				 start_of(lord_howe, 2027, 4, 4, 0, 0),
			 86400 + 1800);
	assert_int_equal(start_of(lord_howe, 2027, 10, 4, 0, 0) -
				 start_of(lord_howe, 2027, 10, 3, 0, 0),
			 86400 - 1800);

	tz_zone_free(madrid);
	tz_zone_free(santiago);
	tz_zone_free(lord_howe);
}

static void test_refuses(void **state)
{
	struct tz_zone *zone = NULL;
	uint8_t *file;
	size_t size;
	FILE *in;

	assert_int_equal(tz_zone_load("", &zone), -EINVAL);
	assert_int_equal(tz_zone_load("/etc/passwd", &zone), -EINVAL);
	assert_int_equal(tz_zone_load("Europe/../../../etc/passwd", &zone), -EINVAL);
	assert_int_equal(tz_zone_load("Europe/Mad rid", &zone), -EINVAL);
	assert_int_equal(tz_zone_load("Nowhere/Atlantis", &zone), -ENOENT);
	assert_int_equal(tz_zone_load("Europe", &zone), -ENOENT);
	assert_int_equal(tz_zone_load("right/UTC", &zone), -ENOTSUP);
	assert_int_equal(tz_zone_load("leapseconds", &zone), -ENOTSUP);
	assert_int_equal(
		tz_mktime(NULL, &(struct tz_time){ { 2027, 2, 29 }, 0, 0, 0 }, &(int64_t){ 0 }),
		-EINVAL);

	/* Every truncation of a real file is refused, and so is version 1. */
	in = fopen(TZ_ZONEINFO_DIR "/Europe/Madrid", "rb");
	assert_non_null(in);
	file = malloc(8192);
	assert_non_null(file);
	size = fread(file, 1, 8192, in);
	fclose(in);
	assert_int_equal(tz_zone_parse(file, size, &zone), 0);
	tz_zone_free(zone);
	for (size_t n = 0; n < size; n++) {
		int r = tz_zone_parse(file, n, &zone);

		assert_true(r == -EBADMSG || r == -ENOTSUP);
	}
	file[4] = 0;
	assert_int_equal(tz_zone_parse(file, size, &zone), -ENOTSUP);
	free(file);
	tz_zone_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches_glibc),
		cmocka_unit_test(test_footer_rules),
		cmocka_unit_test(test_footer_dst_all_year),
		cmocka_unit_test(test_day_and_month_starts),
		cmocka_unit_test(test_clock_change_edges),
		cmocka_unit_test(test_refuses),
	};

	return cmocka_run_group_tests_name("tz", tests, NULL, NULL);
}
