/* Logging on stderr, every line prefixed with the syslog priority in angle
 * brackets ("<3>"), which journald turns into the line's priority; a message
 * of several lines carries the prefix on each. */
#pragma once

#include <syslog.h>

void log_set_max_priority(int priority);
void log_emit(int priority, const char *format, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...)	 log_emit(LOG_ERR, __VA_ARGS__)
#define log_warning(...) log_emit(LOG_WARNING, __VA_ARGS__)
#define log_notice(...)	 log_emit(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)	 log_emit(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	 log_emit(LOG_DEBUG, __VA_ARGS__)
