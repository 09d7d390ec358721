/* Calendar dates ("YYYY-MM-DD") as the cooperative writes them: membership
 * joins and leaves, and later billing periods. Pure: no clock. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DATE_TEXT_MAX 11
/* "YYYY-MM-DDTHH:MM:SSZ" and its NUL. */
#define DATE_TIME_TEXT_MAX 21

struct date {
	int year;
	int month; /* 1-12 */
	int day;   /* 1-31 */
};

/* The number written by exactly n decimal digits at text (n <= 9), or -1. */
int date_digits(const char *text, size_t n);
/* Accepts exactly "YYYY-MM-DD" naming a real day between 1970 and 9999. */
int date_parse(const char *text, struct date *ret_date);
void date_format(const struct date *date, char ret_text[DATE_TEXT_MAX]);
int date_compare(const struct date *a, const struct date *b);
int date_days_in_month(int year, int month);
/* Days from 1970-01-01 to the date, and back, in the proleptic Gregorian
 * calendar (Howard Hinnant's days_from_civil and civil_from_days). */
int64_t date_to_days(const struct date *date);
struct date date_from_days(int64_t days);

/* RFC 3339 date-times ("2026-11-01T00:00:00Z", "2026-11-01T01:00:00+01:00";
 * fractions of a second are refused) as Unix seconds. */
int date_time_parse(const char *text, int64_t *ret_unix_s);
/* Unix seconds (of the years 0 to 9999) as an RFC 3339 date-time in UTC,
 * "2026-11-01T00:00:00Z". */
void date_time_format(int64_t unix_s, char ret_text[DATE_TIME_TEXT_MAX]);
