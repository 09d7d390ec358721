/* Time zones from TZif files (RFC 8536): the version 2+ 64-bit transitions,
 * and after the last of them the footer's POSIX TZ rule, worked out for the
 * year at hand. Local time is UTC plus the offset in force; nothing reads the
 * process's time zone. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coopbill/fnv.h"
#include "coopbill/tz.h"

/* No real TZif file comes near this (America/Santiago is 2.5 KiB). */
#define TZ_FILE_MAX (256 * 1024)
/* RFC 8536 section 3.2: offsets SHOULD be within -89999 and 93599 s; no
 * offset is a day or more. */
#define TZ_OFFSET_MAX_S 93599
#define TZ_OFFSET_MIN_S (-89999)
/* Instants beyond ±2^40 s (35,000 years) are refused, so that adding an offset
 * or a rule's time never overflows. */
#define TZ_TIME_BOUND_S (INT64_C(1) << 40)
#define TZ_HEADER_SIZE	44
/* The last year tz_mktime() takes, well within TZ_TIME_BOUND_S. */
#define TZ_YEAR_MAX 30000

enum tz_rule_kind {
	TZ_RULE_JULIAN,	 /* Jn: day n of 1-365, 29 February never counted */
	TZ_RULE_DAY,	 /* n: day n of 0-365, 29 February counted */
	TZ_RULE_WEEKDAY, /* Mm.w.d: weekday d of week w (5: last) of month m */
};

struct tz_rule {
	enum tz_rule_kind kind;
	int day;
	int month;
	int week;
	int weekday;	/* 0 is Sunday */
	int32_t time_s; /* local time of the change, -167 h to 167 h */
};

/* The footer's TZ string: standard time, and daylight saving time between
 * two yearly rules. */
struct tz_footer {
	bool present;
	bool has_dst;
	int32_t std_offset_s;
	int32_t dst_offset_s;
	struct tz_rule start; /* to daylight saving time, in standard local time */
	struct tz_rule end;   /* back to standard time, in daylight saving local time */
};

struct tz_zone {
	size_t n_transitions;
	int64_t *transitions; /* strictly increasing */
	int32_t *offsets_s;   /* in force from transitions[i] */
	int32_t first_offset_s;
	struct tz_footer footer;
	uint64_t id; /* FNV-1a of the TZif bytes */
};

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b < 0);
}

static uint32_t read_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t read_i64(const uint8_t *p)
{
	return (int64_t)((uint64_t)read_u32(p) << 32 | read_u32(p + 4));
}

/* Reads two digits of minutes or seconds after a ':'. */
static const char *parse_sexagesimal(const char *p, int *ret_value)
{
	if (p[0] != ':' || p[1] < '0' || p[1] > '5' || p[2] < '0' || p[2] > '9')
		return NULL;
	*ret_value = (p[1] - '0') * 10 + (p[2] - '0');
	return p + 3;
}

/* Reads [+-]h[h[h]][:mm[:ss]] with hours up to max_hours. */
static const char *parse_hms(const char *p, int max_hours, int32_t *ret_s)
{
	int sign = 1, hours = 0, minutes = 0, seconds = 0, n = 0;

	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	while (*p >= '0' && *p <= '9' && n < 3) {
		hours = hours * 10 + (*p++ - '0');
		n++;
	}
	if (n == 0 || hours > max_hours)
		return NULL;
	if (*p == ':')
		p = parse_sexagesimal(p, &minutes);
	if (p && *p == ':')
		p = parse_sexagesimal(p, &seconds);
	if (p)
		*ret_s = sign * (hours * 3600 + minutes * 60 + seconds);
	return p;
}

static const char *parse_number(const char *p, int min, int max, int *ret_value)
{
	int value = 0, n = 0;

	while (*p >= '0' && *p <= '9' && n < 3) {
		value = value * 10 + (*p++ - '0');
		n++;
	}
	if (n == 0 || value < min || value > max)
		return NULL;
	*ret_value = value;
	return p;
}

/* A zone abbreviation: three or more letters, or <...> of letters, digits,
 * '+' and '-'. */
static const char *parse_name(const char *p)
{
	const char *start = p;

	if (*p == '<') {
		for (p++; (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			  (*p >= '0' && *p <= '9') || *p == '+' || *p == '-';
		     p++)
			;
		return *p == '>' && p - start >= 4 ? p + 1 : NULL;
	}
	while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
		p++;
	return p - start >= 3 ? p : NULL;
}

/* A POSIX offset is west of Greenwich: "CET-1" is UTC+1. */
static const char *parse_offset(const char *p, int32_t *ret_offset_s)
{
	int32_t west_s;

	p = parse_hms(p, 24, &west_s);
	if (p)
		*ret_offset_s = -west_s;
	return p;
}

/* ",Jn", ",n" or ",Mm.w.d", then "/time" (RFC 8536 allows -167 to 167 h). */
static const char *parse_rule(const char *p, struct tz_rule *ret_rule)
{
	struct tz_rule rule = { .time_s = 2 * 3600 };

	if (*p++ != ',')
		return NULL;
	if (*p == 'J') {
		rule.kind = TZ_RULE_JULIAN;
		p = parse_number(p + 1, 1, 365, &rule.day);
	} else if (*p == 'M') {
		rule.kind = TZ_RULE_WEEKDAY;
		p = parse_number(p + 1, 1, 12, &rule.month);
		if (p && *p++ == '.')
			p = parse_number(p, 1, 5, &rule.week);
		else
			p = NULL;
		if (p && *p++ == '.')
			p = parse_number(p, 0, 6, &rule.weekday);
		else
			p = NULL;
	} else {
		rule.kind = TZ_RULE_DAY;
		p = parse_number(p, 0, 365, &rule.day);
	}
	if (p && *p == '/')
		p = parse_hms(p + 1, 167, &rule.time_s);
	if (p)
		*ret_rule = rule;
	return p;
}

/* The footer: "std offset [dst [offset] ,rule,rule]", or empty. */
static int parse_footer(const char *text, struct tz_footer *ret_footer)
{
	struct tz_footer footer = { .present = true };
	const char *p = text;

	if (!*p) {
		*ret_footer = (struct tz_footer){ .present = false };
		return 0;
	}
	p = parse_name(p);
	if (p)
		p = parse_offset(p, &footer.std_offset_s);
	if (p && *p) {
		footer.has_dst = true;
		footer.dst_offset_s = footer.std_offset_s + 3600;
		p = parse_name(p);
		if (p && *p != ',')
			p = parse_offset(p, &footer.dst_offset_s);
		/* A TZif footer always states its rules; POSIX's implementation-
		 * defined default is not guessed. */
		if (p)
			p = parse_rule(p, &footer.start);
		if (p)
			p = parse_rule(p, &footer.end);
	}
	if (!p || *p)
		return -EBADMSG;
	*ret_footer = footer;
	return 0;
}

static bool offset_valid(int64_t offset_s)
{
	return offset_s >= TZ_OFFSET_MIN_S && offset_s <= TZ_OFFSET_MAX_S;
}

/* The counts of a TZif header, and the size of the data block they announce
 * with time_size bytes per transition time and leap second. */
struct tz_counts {
	uint32_t isut, isstd, leap, time, type, chars;
};

static size_t block_size(const struct tz_counts *c, size_t time_size)
{
	return (size_t)c->time * (time_size + 1) + (size_t)c->type * 6 + c->chars +
	       (size_t)c->leap * (time_size + 4) + c->isstd + c->isut;
}

static int read_header(const uint8_t *data, size_t size, struct tz_counts *ret_counts)
{
	struct tz_counts c;

	if (size < TZ_HEADER_SIZE || memcmp(data, "TZif", 4) != 0)
		return -ENOTSUP;
	/* Version 1 has neither 64-bit times nor a footer. */
	if (data[4] < '2')
		return -ENOTSUP;
	c = (struct tz_counts){ read_u32(data + 20), read_u32(data + 24), read_u32(data + 28),
				read_u32(data + 32), read_u32(data + 36), read_u32(data + 40) };
	/* Bounded so that block_size() cannot overflow. */
	if (c.type == 0 || c.type > 256 || c.chars == 0 || c.time > TZ_FILE_MAX ||
	    c.chars > TZ_FILE_MAX || c.leap > TZ_FILE_MAX || (c.isut != 0 && c.isut != c.type) ||
	    (c.isstd != 0 && c.isstd != c.type))
		return -EBADMSG;
	*ret_counts = c;
	return 0;
}

int tz_zone_parse(const uint8_t *data, size_t size, struct tz_zone **ret_zone)
{
	struct tz_counts c;
	struct tz_zone *zone = NULL;
	const uint8_t *times, *indices, *types, *end;
	char footer[128];
	const uint8_t *nl;
	size_t skip, footer_len;
	int r;

	if (!data || !ret_zone)
		return -EINVAL;
	r = read_header(data, size, &c);
	if (r < 0)
		return r;
	/* Skip the version 1 block to the version 2+ header. */
	skip = TZ_HEADER_SIZE + block_size(&c, 4);
	if (skip > size)
		return -EBADMSG;
	r = read_header(data + skip, size - skip, &c);
	if (r < 0)
		return r == -ENOTSUP ? -EBADMSG : r;
	/* Leap-second zones count TAI-like seconds, not Unix time. */
	if (c.leap > 0)
		return -ENOTSUP;
	times = data + skip + TZ_HEADER_SIZE;
	if (block_size(&c, 8) > size - skip - TZ_HEADER_SIZE)
		return -EBADMSG;
	indices = times + (size_t)c.time * 8;
	types = indices + c.time;
	end = times + block_size(&c, 8);
	/* The footer: a newline, the TZ string, a newline. */
	if (end == data + size || *end != '\n')
		return -EBADMSG;
	nl = memchr(end + 1, '\n', (size_t)(data + size - end - 1));
	footer_len = nl ? (size_t)(nl - end - 1) : sizeof(footer);
	if (footer_len >= sizeof(footer))
		return -EBADMSG;
	memcpy(footer, end + 1, footer_len);
	footer[footer_len] = '\0';

	zone = calloc(1, sizeof(*zone));
	if (!zone)
		return -ENOMEM;
	zone->transitions = calloc(c.time ? c.time : 1, sizeof(*zone->transitions));
	zone->offsets_s = calloc(c.time ? c.time : 1, sizeof(*zone->offsets_s));
	if (!zone->transitions || !zone->offsets_s) {
		r = -ENOMEM;
		goto fail;
	}
	for (uint32_t i = 0; i < c.type; i++) {
		int32_t offset_s = (int32_t)read_u32(types + 6 * i);

		/* isdst is 0 or 1; the abbreviation index is within the chars. */
		if (!offset_valid(offset_s) || types[6 * i + 4] > 1 ||
		    types[6 * i + 5] >= c.chars) {
			r = -EBADMSG;
			goto fail;
		}
	}
	/* Before the first transition, type 0 is in force (RFC 8536 3.2).
	 * Transitions beyond the instants this module takes (zic's "big bang"
	 * at -2^59) only set the offset in force from the earliest one on. */
	zone->first_offset_s = (int32_t)read_u32(types);
	for (uint32_t i = 0; i < c.time; i++) {
		int64_t t = read_i64(times + 8 * i);
		int32_t offset_s = (int32_t)read_u32(types + 6 * (indices[i] % c.type));

		if (indices[i] >= c.type || (i > 0 && t <= read_i64(times + 8 * (i - 1)))) {
			r = -EBADMSG;
			goto fail;
		}
		if (t < -TZ_TIME_BOUND_S) {
			zone->first_offset_s = offset_s;
		} else if (t <= TZ_TIME_BOUND_S) {
			zone->transitions[zone->n_transitions] = t;
			zone->offsets_s[zone->n_transitions++] = offset_s;
		}
	}
	/* It tells a changed file, not a forged one. */
	zone->id = fnv1a(FNV1A_INIT, data, size);
	r = parse_footer(footer, &zone->footer);
	if (r == 0 && (!offset_valid(zone->footer.std_offset_s) ||
		       (zone->footer.has_dst && !offset_valid(zone->footer.dst_offset_s))))
		r = -EBADMSG;
	if (r < 0)
		goto fail;
	*ret_zone = zone;
	return 0;
fail:
	tz_zone_free(zone);
	return r;
}

static bool name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len < 1 || len > TZ_NAME_MAX || name[0] == '/' || strstr(name, ".."))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((name[i] >= 'A' && name[i] <= 'Z') || (name[i] >= 'a' && name[i] <= 'z') ||
		      (name[i] >= '0' && name[i] <= '9') || strchr("_+-/", name[i])))
			return false;
	return true;
}

int tz_zone_load(const char *name, struct tz_zone **ret_zone)
{
	char path[sizeof(TZ_ZONEINFO_DIR) + 1 + TZ_NAME_MAX];
	uint8_t *data = NULL;
	struct stat st;
	ssize_t n;
	int fd, r;

	if (!name || !ret_zone || !name_valid(name))
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/%s", TZ_ZONEINFO_DIR, name);
	/* O_NONBLOCK so that a FIFO planted in the tree cannot hang the daemon. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOTDIR ? -ENOENT : -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -ENOENT;
		goto out;
	}
	if (st.st_size > TZ_FILE_MAX) {
		r = -EBADMSG;
		goto out;
	}
	data = malloc((size_t)st.st_size + 1);
	if (!data) {
		r = -ENOMEM;
		goto out;
	}
	n = read(fd, data, (size_t)st.st_size + 1);
	if (n < 0) {
		r = -errno;
		goto out;
	}
	r = tz_zone_parse(data, (size_t)n, ret_zone);
out:
	free(data);
	close(fd);
	return r;
}

uint64_t tz_zone_id(const struct tz_zone *zone)
{
	return zone->id;
}

void tz_zone_free(struct tz_zone *zone)
{
	if (!zone)
		return;
	free(zone->transitions);
	free(zone->offsets_s);
	free(zone);
}

/* The local midnight, counted in seconds as if local time were UTC, of the
 * day a rule names in the year. */
static int64_t rule_day_s(const struct tz_rule *rule, int year)
{
	int64_t jan1 = date_to_days(&(struct date){ year, 1, 1 });
	bool leap = date_days_in_month(year, 2) == 29;
	int64_t day;

	switch (rule->kind) {
	case TZ_RULE_JULIAN:
		day = jan1 + rule->day - 1 + (leap && rule->day >= 60);
		break;
	case TZ_RULE_DAY:
		day = jan1 + rule->day;
		break;
	default: {
		int64_t first = date_to_days(&(struct date){ year, rule->month, 1 });
		/* 1970-01-01 was a Thursday (4). */
		int64_t weekday = ((first + 4) % 7 + 7) % 7;
		int64_t mday = 1 + (rule->weekday - weekday + 7) % 7 + 7 * (rule->week - 1);

		while (mday > date_days_in_month(year, rule->month))
			mday -= 7;
		day = first + mday - 1;
		break;
	}
	}
	return day * 86400;
}

/* The footer's changes in one year, in UTC: to daylight saving time at
 * [0], back at [1]. */
static void footer_changes(const struct tz_footer *footer, int year, int64_t ret_changes[2])
{
	ret_changes[0] =
		rule_day_s(&footer->start, year) + footer->start.time_s - footer->std_offset_s;
	ret_changes[1] = rule_day_s(&footer->end, year) + footer->end.time_s - footer->dst_offset_s;
}

/* The footer's offset at t and its next change. The changes of the years
 * around t's are enough: a rule's change is at most a week off its year. */
static int32_t footer_offset(const struct tz_footer *footer, int64_t t, int64_t *ret_next_s)
{
	int64_t bounded = t < -TZ_TIME_BOUND_S	? -TZ_TIME_BOUND_S
			  : t > TZ_TIME_BOUND_S ? TZ_TIME_BOUND_S
						: t;
	int year = date_from_days(floor_div(bounded + footer->std_offset_s, 86400)).year;
	int64_t latest = INT64_MIN, next = INT64_MAX;
	int32_t offset_s = footer->std_offset_s;

	if (!footer->has_dst) {
		*ret_next_s = INT64_MAX;
		return footer->std_offset_s;
	}
	for (int y = year - 2; y <= year + 1; y++) {
		int64_t changes[2];

		footer_changes(footer, y, changes);
		/* Where one year's end meets the next one's start (daylight
		 * saving time all year), the start wins: it comes later. */
		for (int i = 1; i >= 0; i--) {
			if (changes[i] <= t && changes[i] >= latest) {
				latest = changes[i];
				offset_s = i == 0 ? footer->dst_offset_s : footer->std_offset_s;
			} else if (changes[i] > t && changes[i] < next) {
				next = changes[i];
			}
		}
	}
	*ret_next_s = next;
	return offset_s;
}

int32_t tz_offset(const struct tz_zone *zone, int64_t t, int64_t *ret_next_s)
{
	size_t lo = 0, hi = zone->n_transitions;

	if (hi == 0 || t >= zone->transitions[hi - 1]) {
		if (zone->footer.present)
			return footer_offset(&zone->footer, t, ret_next_s);
		*ret_next_s = INT64_MAX;
		return hi == 0 ? zone->first_offset_s : zone->offsets_s[hi - 1];
	}
	if (t < zone->transitions[0]) {
		*ret_next_s = zone->transitions[0];
		return zone->first_offset_s;
	}
	/* Invariant: transitions[lo] <= t < transitions[hi]. */
	hi--;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (zone->transitions[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	*ret_next_s = zone->transitions[hi];
	return zone->offsets_s[lo];
}

int tz_local(const struct tz_zone *zone, int64_t t, struct tz_time *ret_local,
	     int32_t *ret_offset_s)
{
	int64_t next_s, local_s, days, second_of_day;
	int32_t offset_s;

	if (t < -TZ_TIME_BOUND_S || t > TZ_TIME_BOUND_S)
		return -ERANGE;
	offset_s = tz_offset(zone, t, &next_s);
	local_s = t + offset_s;
	days = floor_div(local_s, 86400);
	second_of_day = local_s - days * 86400;
	*ret_local = (struct tz_time){ .date = date_from_days(days),
				       .hour = (int)(second_of_day / 3600),
				       .minute = (int)(second_of_day / 60 % 60),
				       .second = (int)(second_of_day % 60) };
	if (ret_offset_s)
		*ret_offset_s = offset_s;
	return 0;
}

int tz_mktime(const struct tz_zone *zone, const struct tz_time *local, int64_t *ret_t)
{
	const struct date *date = &local->date;
	int64_t local_s, t;

	if (date->year < 1 || date->year > TZ_YEAR_MAX || date->month < 1 || date->month > 12 ||
	    date->day < 1 || date->day > date_days_in_month(date->year, date->month) ||
	    local->hour < 0 || local->hour > 23 || local->minute < 0 || local->minute > 59 ||
	    local->second < 0 || local->second > 59)
		return -EINVAL;
	local_s = date_to_days(date) * 86400 + local->hour * 3600 + local->minute * 60 +
		  local->second;
	/* Walk the stretches of one offset from the earliest instant that can
	 * show this local time: in each, the clock passes local_s at
	 * local_s - offset, unless the stretch is over by then. */
	t = local_s - TZ_OFFSET_MAX_S;
	for (;;) {
		int64_t next_s;
		int32_t offset_s = tz_offset(zone, t, &next_s);
		int64_t candidate = local_s - offset_s > t ? local_s - offset_s : t;

		if (candidate < next_s) {
			*ret_t = candidate;
			return 0;
		}
		t = next_s;
	}
}
