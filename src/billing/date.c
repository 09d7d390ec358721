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

int date_parse(const char *text, struct date *ret_date)
{
	struct date date;

	if (!text || strlen(text) != 10 || text[4] != '-' || text[7] != '-')
		return -EINVAL;
	for (size_t i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (text[i] < '0' || text[i] > '9'))
			return -EINVAL;
	date.year = (text[0] - '0') * 1000 + (text[1] - '0') * 100 + (text[2] - '0') * 10 +
		    (text[3] - '0');
	date.month = (text[5] - '0') * 10 + (text[6] - '0');
	date.day = (text[8] - '0') * 10 + (text[9] - '0');
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
