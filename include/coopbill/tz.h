/* Time zones as values: a zone read once from the system's TZif file
 * (RFC 8536) and the local time it gives an instant, with no process-wide
 * state (no TZ, no tzset(), no localtime_r()). A loaded zone never changes,
 * so threads may share it. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "coopbill/date.h"

#define TZ_ZONEINFO_DIR "/usr/share/zoneinfo"
#define TZ_NAME_MAX	255

struct tz_zone;

/* A local time of day on a local calendar date. */
struct tz_time {
	struct date date;
	int hour;   /* 0-23 */
	int minute; /* 0-59 */
	int second; /* 0-59 */
};

/* Reads TZ_ZONEINFO_DIR/name, an IANA name such as "Europe/Madrid": -EINVAL
 * for a name that is not one (absolute, "..", odd characters), -ENOENT when
 * there is no such zone, -ENOTSUP for a file that is not TZif version 2 or
 * later or that counts leap seconds ("right/" zones), -EBADMSG for a corrupt
 * one. */
int tz_zone_load(const char *name, struct tz_zone **ret_zone);
/* The same from the bytes of a TZif file. */
int tz_zone_parse(const uint8_t *data, size_t size, struct tz_zone **ret_zone);
void tz_zone_free(struct tz_zone *zone);
/* What tells two versions of a zone apart: the same number for the same
 * TZif bytes, another (but for a one in 2^64 chance) once tzdata changes
 * the file. */
uint64_t tz_zone_id(const struct tz_zone *zone);

/* The UTC offset (local = UTC + offset) in force at the instant t (Unix
 * seconds); *ret_next_s is the next instant after t at which it may change
 * (INT64_MAX for never). */
int32_t tz_offset(const struct tz_zone *zone, int64_t t, int64_t *ret_next_s);

/* The local time at the instant t, and the offset in force. -ERANGE beyond
 * ±2^40 s (about 35,000 years). */
int tz_local(const struct tz_zone *zone, int64_t t, struct tz_time *ret_local,
	     int32_t *ret_offset_s);

/* The first instant whose local time is the given one or later: the instant
 * itself when the clock shows it once, the earlier one when a clock change
 * shows it twice, and the instant the clocks skip to when they skip it (the
 * start of a day whose midnight does not exist). -EINVAL for fields out of
 * range or a year outside 1 to 30000. */
int tz_mktime(const struct tz_zone *zone, const struct tz_time *local, int64_t *ret_t);
