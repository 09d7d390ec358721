/* Billing periods as local calendar months, and the table of UTC offsets the
 * rating engine uses for local time, all in the time zone the caller gives:
 * no assumption about when or by how much the clocks change. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "coopbill/period.h"
#include "coopbill/tz.h"

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

int period_day_start(const struct tz_zone *zone, const struct date *date, int64_t *ret_start_s)
{
	/* tz_mktime() checks the rest: 10000-01-01 ends 9999-12. */
	if (!zone || !date || date->year < 1970)
		return -EINVAL;
	return tz_mktime(zone, &(struct tz_time){ .date = *date }, ret_start_s);
}

int period_day_end(const struct tz_zone *zone, const struct date *date, int64_t *ret_end_s)
{
	struct date next;

	if (!date || date->year < 1970 || date->year > 9999)
		return -EINVAL;
	next = date_from_days(date_to_days(date) + 1);
	return period_day_start(zone, &next, ret_end_s);
}

int period_bounds(const struct tz_zone *zone, const struct period *period, int64_t *ret_start_s,
		  int64_t *ret_end_s)
{
	struct period next;
	int64_t start_s, end_s;
	int r;

	if (!period || period->year < 1970 || period->year > 9999 || period->month < 1 ||
	    period->month > 12)
		return -EINVAL;
	next = period_next(period);
	r = period_day_start(zone, &(struct date){ period->year, period->month, 1 }, &start_s);
	if (r < 0)
		return r;
	r = period_day_start(zone, &(struct date){ next.year, next.month, 1 }, &end_s);
	if (r < 0)
		return r;
	*ret_start_s = start_s;
	*ret_end_s = end_s;
	return 0;
}

int period_containing(const struct tz_zone *zone, int64_t t, struct period *ret_period)
{
	struct tz_time local;
	int r;

	r = tz_local(zone, t, &local, NULL);
	if (r < 0)
		return r;
	if (local.date.year < 1970 || local.date.year > 9999)
		return -ERANGE;
	*ret_period = (struct period){ .year = local.date.year, .month = local.date.month };
	return 0;
}

int period_zone(const struct tz_zone *zone, int64_t start_s, int64_t end_s,
		struct rate_zone *ret_zone)
{
	struct rate_zone table = { 0 };
	int64_t next_s;
	int32_t offset_s;

	if (start_s >= end_s)
		return -EINVAL;
	offset_s = tz_offset(zone, start_s, &next_s);
	table.spans[table.n++] = (struct rate_zone_span){ .from_s = start_s, .offset_s = offset_s };
	/* A transition may keep the offset (only the abbreviation or the
	 * daylight saving flag changes): no span for it. */
	while (next_s < end_s) {
		int64_t at_s = next_s;
		int32_t at_offset_s = tz_offset(zone, at_s, &next_s);

		if (at_offset_s == offset_s)
			continue;
		if (table.n == RATE_ZONE_SPANS_MAX)
			return -E2BIG;
		offset_s = at_offset_s;
		table.spans[table.n++] =
			(struct rate_zone_span){ .from_s = at_s, .offset_s = offset_s };
	}
	*ret_zone = table;
	return 0;
}
