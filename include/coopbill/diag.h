/* Logging on stderr, every line prefixed with the syslog priority in angle
 * brackets ("<3>"), which journald turns into the line's priority; a message
 * of several lines carries the prefix on each. */
#pragma once

#include <stdint.h>
#include <syslog.h>

void diag_set_max_priority(int priority);
void diag_emit(int priority, const char *format, ...) __attribute__((format(printf, 2, 3)));

#define diag_error(...)	  diag_emit(LOG_ERR, __VA_ARGS__)
#define diag_warning(...) diag_emit(LOG_WARNING, __VA_ARGS__)
#define diag_notice(...)  diag_emit(LOG_NOTICE, __VA_ARGS__)
#define diag_info(...)	  diag_emit(LOG_INFO, __VA_ARGS__)
#define diag_debug(...)	  diag_emit(LOG_DEBUG, __VA_ARGS__)

/* Lines a client can cause (one per refused request) are limited to
 * DIAG_LIMIT_PER_S a second for each struct diag_limit, so that a flood
 * cannot fill the journal; the first line let through after some were left
 * out says how many. Zero-initialise the struct. */
#define DIAG_LIMIT_PER_S 20
struct diag_limit {
	uint64_t second;
	unsigned lines;
	uint64_t left_out;
};
void diag_emit_limited(struct diag_limit *limit, int priority, const char *format, ...)
	__attribute__((format(printf, 3, 4)));
