/* Billing periods: calendar months in the cooperative's time zone, which the
 * caller gives as a loaded zone (see tz.h). Pure: no clock, no files. */
#pragma once

#include <stdint.h>

#include "coopbill/date.h"
#include "coopbill/rate.h"

struct tz_zone;

#define PERIOD_TEXT_MAX 8

struct period {
	int year;
	int month; /* 1-12 */
};

/* Accepts exactly "YYYY-MM", from 1970-01 to 9999-12. */
int period_parse(const char *text, struct period *ret_period);
void period_format(const struct period *period, char ret_text[PERIOD_TEXT_MAX]);
struct period period_next(const struct period *period);
/* The first period start (the 1st of a month) on or after today plus
 * notice_days: the earliest valid_from a tariff published today may have. */
struct date period_start_after_notice(const struct date *today, unsigned notice_days);

/* The period's UTC bounds [start, end): the first instant of the 1st of the
 * month in local time, and that of the next month. A month with a daylight
 * saving change is an hour shorter or longer than its days. */
int period_bounds(const struct tz_zone *zone, const struct period *period, int64_t *ret_start_s,
		  int64_t *ret_end_s);

/* The first instant of a local calendar day (UTC): membership joins at the
 * start of its joining day. */
int period_day_start(const struct tz_zone *zone, const struct date *date, int64_t *ret_start_s);
/* The first instant after a local calendar day, that of the next day: a
 * membership ends there after its leaving day, 23 or 25 hours after the
 * leaving day's start when the clocks change on it. */
int period_day_end(const struct tz_zone *zone, const struct date *date, int64_t *ret_end_s);

/* The local month that contains the instant t (UTC). */
int period_containing(const struct tz_zone *zone, int64_t t, struct period *ret_period);

/* The zone's UTC offsets in force during [start_s, end_s) as the rating
 * engine's table: spans[0] at start_s, one more span per change. -E2BIG for
 * more than RATE_ZONE_SPANS_MAX offsets in the interval. */
int period_zone(const struct tz_zone *zone, int64_t start_s, int64_t end_s,
		struct rate_zone *ret_zone);
