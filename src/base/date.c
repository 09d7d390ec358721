/* Calendar dates, validated strictly: a date that does not exist is an error. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "coopbill/date.h"

int date_days_in_month(int year, int month)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

int date_digits(const char *text, size_t n)
{
	int value = 0;

	for (size_t i = 0; i < n; i++) {
		if (text[i] < '0' || text[i] > '9')
			return -1;
		value = value * 10 + (text[i] - '0');
	}
	return value;
}

int date_parse(const char *text, struct date *ret_date)
{
	struct date date;

	if (!text || strlen(text) != 10 || text[4] != '-' || text[7] != '-')
		return -EINVAL;
	/* A field that is not all digits is -1, below every range. */
	date.year = date_digits(text, 4);
	date.month = date_digits(text + 5, 2);
	date.day = date_digits(text + 8, 2);
	if (date.year < 1970 || date.month < 1 || date.month > 12 || date.day < 1 ||
	    date.day > date_days_in_month(date.year, date.month))
		return -EINVAL;
	*ret_date = date;
	return 0;
}

void date_format(const struct date *date, char ret_text[DATE_TEXT_MAX])
{
	snprintf(ret_text, DATE_TEXT_MAX, "%04u-%02u-%02u", (unsigned)date->year % 10000u,
		 (unsigned)date->month % 100u, (unsigned)date->day % 100u);
}

int date_compare(const struct date *a, const struct date *b)
{
	if (a->year != b->year)
		return a->year < b->year ? -1 : 1;
	if (a->month != b->month)
		return a->month < b->month ? -1 : 1;
	if (a->day != b->day)
		return a->day < b->day ? -1 : 1;
	return 0;
}

static bool digits(const char *text, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (text[i] < '0' || text[i] > '9')
			return false;
	return true;
}

static int two_digits(const char *text)
{
	return (text[0] - '0') * 10 + (text[1] - '0');
}

int64_t date_to_days(const struct date *date)
{
	int year = date->year, month = date->month, day = date->day;
	int64_t y = month <= 2 ? year - 1 : year;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

struct date date_from_days(int64_t days)
{
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t month = mp < 10 ? mp + 3 : mp - 9;

	return (struct date){ .year = (int)(yoe + era * 400 + (month <= 2)),
			      .month = (int)month,
			      .day = (int)(doy - (153 * mp + 2) / 5 + 1) };
}

int date_time_parse(const char *text, int64_t *ret_unix_s)
{
	char day_text[DATE_TEXT_MAX];
	struct date date;
	int hour, minute, second, offset_s = 0;
	const char *zone;

	if (!text || strlen(text) < 20 || (text[10] != 'T' && text[10] != 't'))
		return -EINVAL;
	memcpy(day_text, text, 10);
	day_text[10] = '\0';
	if (date_parse(day_text, &date) < 0)
		return -EINVAL;
	if (!digits(text + 11, 2) || text[13] != ':' || !digits(text + 14, 2) || text[16] != ':' ||
	    !digits(text + 17, 2))
		return -EINVAL;
	hour = two_digits(text + 11);
	minute = two_digits(text + 14);
	second = two_digits(text + 17);
	if (hour > 23 || minute > 59 || second > 59)
		return -EINVAL;
	zone = text + 19;
	if (strcmp(zone, "Z") == 0 || strcmp(zone, "z") == 0) {
		offset_s = 0;
	} else if ((zone[0] == '+' || zone[0] == '-') && strlen(zone) == 6 && digits(zone + 1, 2) &&
		   zone[3] == ':' && digits(zone + 4, 2) && two_digits(zone + 1) <= 23 &&
		   two_digits(zone + 4) <= 59) {
		offset_s = two_digits(zone + 1) * 3600 + two_digits(zone + 4) * 60;
		if (zone[0] == '-')
			offset_s = -offset_s;
	} else {
		return -EINVAL;
	}
	*ret_unix_s = date_to_days(&date) * 86400 + hour * 3600 + minute * 60 + second - offset_s;
	return 0;
}

void date_time_format(int64_t unix_s, char ret_text[DATE_TIME_TEXT_MAX])
{
	int64_t days = unix_s / 86400, second = unix_s % 86400;
	struct date date;

	if (second < 0) {
		second += 86400;
		days--;
	}
	date = date_from_days(days);
	snprintf(ret_text, DATE_TIME_TEXT_MAX, "%04d-%02d-%02dT%02d:%02d:%02dZ", date.year,
		 date.month, date.day, (int)(second / 3600), (int)(second / 60 % 60),
		 (int)(second % 60));
}
