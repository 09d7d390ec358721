/* Logging to stderr with "<N>" priority prefixes for journald. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "coopbill/diag.h"

static int max_priority = LOG_INFO;

void diag_set_max_priority(int priority)
{
	max_priority = priority;
}

/* A message of several lines (a refused configuration lists one error per
 * line) gets the prefix on every line, so that journald files each at the
 * message's priority; empty lines are left out. */
void diag_emit(int priority, const char *format, ...)
{
	/* Worst case: lines of one character each, "x\n" becoming "<N>x\n". */
	char message[4096], out[sizeof(message) * 3];
	size_t pos = 0;
	va_list ap;

	if (priority > max_priority)
		return;
	va_start(ap, format);
	vsnprintf(message, sizeof(message), format, ap);
	va_end(ap);
	for (const char *line = message; *line && pos < sizeof(out);) {
		size_t len = strcspn(line, "\n");

		if (len > 0)
			pos += (size_t)snprintf(out + pos, sizeof(out) - pos, "<%d>%.*s\n",
						priority, (int)len, line);
		line += len + (line[len] == '\n');
	}
	if (pos >= sizeof(out))
		pos = sizeof(out) - 1;
	if (pos == 0)
		pos = (size_t)snprintf(out, sizeof(out), "<%d>\n", priority);
	/* One write per message keeps concurrent writers from interleaving. */
	fwrite(out, 1, pos, stderr);
}

void diag_emit_limited(struct diag_limit *limit, int priority, const char *format, ...)
{
	char message[1024];
	struct timespec now;
	va_list ap;

	if (priority > max_priority)
		return;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	if ((uint64_t)now.tv_sec != limit->second) {
		limit->second = (uint64_t)now.tv_sec;
		limit->lines = 0;
	}
	if (limit->lines == DIAG_LIMIT_PER_S) {
		limit->left_out++;
		return;
	}
	limit->lines++;
	va_start(ap, format);
	vsnprintf(message, sizeof(message), format, ap);
	va_end(ap);
	if (limit->left_out)
		diag_emit(priority, "%s (%llu such lines left out before this one)", message,
			  (unsigned long long)limit->left_out);
	else
		diag_emit(priority, "%s", message);
	limit->left_out = 0;
}
