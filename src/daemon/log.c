/* Logging to stderr with "<N>" priority prefixes for journald. */
#include <stdarg.h>
#include <stdio.h>

#include "coopbill/log.h"

static int max_priority = LOG_INFO;

void log_set_max_priority(int priority)
{
	max_priority = priority;
}

void log_emit(int priority, const char *format, ...)
{
	char line[2048];
	va_list ap;

	if (priority > max_priority)
		return;
	va_start(ap, format);
	vsnprintf(line, sizeof(line), format, ap);
	va_end(ap);
	/* One fprintf per line keeps concurrent writers from interleaving. */
	fprintf(stderr, "<%d>%s\n", priority, line);
}
