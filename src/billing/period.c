/* Billing periods as local calendar months, and the table of UTC offsets the
 * rating engine uses for local time. Everything local comes from
 * localtime_r() in the process's time zone, found by bisection: no
 * assumption about when or by how much the clocks change. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "coopbill/period.h"

/* Local offsets on Earth are within ±26 hours of UTC. */
#define OFFSET_BOUND_S (2 * 86400)
/* Offsets are sampled this often when looking for changes: no zone has
 * changed its clocks twice within 6 hours. */
#define ZONE_STEP_S (6 * 3600)

int period_parse(const char *text, struct period *ret_period)
{
	struct period period;

	if (!text || strlen(text) != 7 || text[4] != '-')
		return -EINVAL;
	period.year = date_digits(text, 4);
	period.month = date_digits(text + 5, 2);
	if (period.year < 1970 || period.month < 1 || period.month > 12)
		return -EINVAL;
	*ret_period = period;
	return 0;
}

void period_format(const struct period *period, char ret_text[PERIOD_TEXT_MAX])
{
	snprintf(ret_text, PERIOD_TEXT_MAX, "%04u-%02u", (unsigned)period->year % 10000u,
		 (unsigned)period->month % 100u);
}

struct period period_next(const struct period *period)
{
	if (period->month == 12)
		return (struct period){ .year = period->year + 1, .month = 1 };
	return (struct period){ .year = period->year, .month = period->month + 1 };
}

struct date period_start_after_notice(const struct date *today, unsigned notice_days)
{
	struct date earliest = date_from_days(date_to_days(today) + notice_days);
	struct period next;

	if (earliest.day == 1)
		return earliest;
	next = period_next(&(struct period){ .year = earliest.year, .month = earliest.month });
	return (struct date){ .year = next.year, .month = next.month, .day = 1 };
}

static int local_time(int64_t t, struct tm *ret_tm)
{
	time_t time = (time_t)t;

	if ((int64_t)time != t || !localtime_r(&time, ret_tm))
		return -ERANGE;
	return 0;
}

/* The first instant whose local date is on or after the date. Bisection
 * rather than mktime(): it also finds the start of a day whose local midnight
 * does not exist (clocks that skip from 00:00 to 01:00). */
static int day_start(const struct date *date, int64_t *ret_start_s)
{
	int64_t utc_midnight = date_to_days(date) * 86400;
	int64_t lo = utc_midnight - OFFSET_BOUND_S, hi = utc_midnight + OFFSET_BOUND_S;
	struct tm tm;
	int r;

	/* Invariant: the local date at lo is before the date, at hi it is not. */
	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;

		r = local_time(mid, &tm);
		if (r < 0)
			return r;
		if (date_compare(&(struct date){ tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday },
				 date) < 0)
			lo = mid;
		else
			hi = mid;
	}
	*ret_start_s = hi;
	return 0;
}

int period_day_start(const struct date *date, int64_t *ret_start_s)
{
	if (!date || date->year < 1970 || date->year > 9999 || date->month < 1 ||
	    date->month > 12 || date->day < 1 ||
	    date->day > date_days_in_month(date->year, date->month))
		return -EINVAL;
	tzset();
	return day_start(date, ret_start_s);
}

int period_bounds(const struct period *period, int64_t *ret_start_s, int64_t *ret_end_s)
{
	struct period next;
	int64_t start_s, end_s;
	int r;

	if (!period || period->year < 1970 || period->year > 9999 || period->month < 1 ||
	    period->month > 12)
		return -EINVAL;
	tzset();
	next = period_next(period);
	r = day_start(&(struct date){ .year = period->year, .month = period->month, .day = 1 },
		      &start_s);
	if (r < 0)
		return r;
	/* 9999-12 ends in 10000-01, which day_start() handles like any other month. */
	r = day_start(&(struct date){ .year = next.year, .month = next.month, .day = 1 }, &end_s);
	if (r < 0)
		return r;
	*ret_start_s = start_s;
	*ret_end_s = end_s;
	return 0;
}

int period_containing(int64_t t, struct period *ret_period)
{
	struct tm tm;
	int r;

	tzset();
	r = local_time(t, &tm);
	if (r < 0)
		return r;
	if (tm.tm_year + 1900 < 1970 || tm.tm_year + 1900 > 9999)
		return -ERANGE;
	*ret_period = (struct period){ .year = tm.tm_year + 1900, .month = tm.tm_mon + 1 };
	return 0;
}

static int offset_at(int64_t t, int32_t *ret_offset_s)
{
	struct tm tm;
	int r;

	r = local_time(t, &tm);
	if (r < 0)
		return r;
	*ret_offset_s = (int32_t)tm.tm_gmtoff;
	return 0;
}

int period_zone(int64_t start_s, int64_t end_s, struct rate_zone *ret_zone)
{
	struct rate_zone zone = { 0 };
	int32_t offset_s;
	int r;

	if (start_s >= end_s)
		return -EINVAL;
	tzset();
	r = offset_at(start_s, &offset_s);
	if (r < 0)
		return r;
	zone.spans[zone.n++] = (struct rate_zone_span){ .from_s = start_s, .offset_s = offset_s };
	for (int64_t lo = start_s; lo < end_s - 1;) {
		int64_t hi = lo + ZONE_STEP_S < end_s - 1 ? lo + ZONE_STEP_S : end_s - 1;
		int32_t hi_offset_s;

		r = offset_at(hi, &hi_offset_s);
		if (r < 0)
			return r;
		if (hi_offset_s == offset_s) {
			lo = hi;
			continue;
		}
		/* The offset changes in (lo, hi]: find the first second of the new one. */
		while (hi - lo > 1) {
			int64_t mid = lo + (hi - lo) / 2;
			int32_t mid_offset_s;

			r = offset_at(mid, &mid_offset_s);
			if (r < 0)
				return r;
			if (mid_offset_s == offset_s)
				lo = mid;
			else
				hi = mid;
		}
		r = offset_at(hi, &offset_s);
		if (r < 0)
			return r;
		if (zone.n == RATE_ZONE_SPANS_MAX)
			return -E2BIG;
		zone.spans[zone.n++] =
			(struct rate_zone_span){ .from_s = hi, .offset_s = offset_s };
		lo = hi;
	}
	*ret_zone = zone;
	return 0;
}
