/* What every ledger operation shares: its refusals, the checks of what a
 * request names, and the rule that a period takes no change to what it
 * bills once its close has begun. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "coopbill/config.h"
#include "coopbill/date.h"
#include "coopbill/ledger.h"
#include "coopbill/period.h"
#include "coopbill/store.h"
#include "coopbill/tz.h"

int ledger_refuse(struct ledger_error *err, enum ledger_refusal kind, const char *slug,
		  const char *detail_format, ...)
{
	va_list ap;

	err->kind = kind;
	err->slug = slug;
	err->error = 0;
	va_start(ap, detail_format);
	vsnprintf(err->detail, sizeof(err->detail), detail_format, ap);
	va_end(ap);
	switch (kind) {
	case LEDGER_NOT_FOUND:
		return -ENOENT;
	case LEDGER_FORBIDDEN:
		return -EACCES;
	case LEDGER_CONFLICT:
		return -EEXIST;
	case LEDGER_BROKEN:
	case LEDGER_UNAVAILABLE:
		return -EIO;
	default:
		return -EINVAL;
	}
}

int ledger_storage_error(struct ledger_error *err, int error, const char *what)
{
	err->kind = LEDGER_STORAGE;
	err->slug = NULL;
	err->error = error;
	snprintf(err->detail, sizeof(err->detail), "%s", what);
	return error;
}

static int refuse_close_in_progress(struct ledger_error *err, const char *prefix,
				    const char *period, const char *what)
{
	return ledger_refuse(err, LEDGER_CONFLICT, "close-in-progress",
			     "%speriod %s is being closed and takes no %s until it is closed; if "
			     "its close was interrupted, POST /api/v1/periods/%s/close finishes it",
			     prefix, period, what, period);
}

int ledger_period_open_require(struct ledger *ledger, const char *prefix, const char *period,
			       const char *what, struct ledger_error *err)
{
	enum store_period_state state;
	int r;

	r = store_period_state(ledger->store, period, &state);
	if (r < 0)
		return ledger_storage_error(err, r, "reading the period");
	if (state == STORE_PERIOD_CLOSED)
		return ledger_refuse(err, LEDGER_CONFLICT, "period-closed",
				     "%speriod %s is closed and its invoices are issued; it takes "
				     "no more %s",
				     prefix, period, what);
	if (state == STORE_PERIOD_CLOSING)
		return refuse_close_in_progress(err, prefix, period, what);
	return 0;
}

int ledger_no_close_from(struct ledger *ledger, const struct date *from, const char *what,
			 struct ledger_error *err)
{
	char from_text[PERIOD_TEXT_MAX], period[PERIOD_TEXT_MAX];
	int r;

	if (from)
		period_format(&(struct period){ from->year, from->month }, from_text);
	r = store_period_closing(ledger->store, from ? from_text : NULL, period);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return ledger_storage_error(err, r, "reading the periods being closed");
	return refuse_close_in_progress(err, "", period, what);
}

int ledger_household_get(struct ledger *ledger, int64_t id, struct household **ret_household,
			 struct ledger_error *err)
{
	int r;

	r = store_household_get(ledger->store, id, ret_household);
	if (r == -ENOENT)
		return ledger_refuse(err, LEDGER_NOT_FOUND, "not-found",
				     "there is no household %lld", (long long)id);
	if (r < 0)
		return ledger_storage_error(err, r, "reading the household");
	return 0;
}

int ledger_household_require(struct ledger *ledger, int64_t id, struct ledger_error *err)
{
	struct household *household;
	int r;

	r = ledger_household_get(ledger, id, &household, err);
	if (r == 0)
		store_household_free(household);
	return r;
}

int ledger_text_require(const char *slug, const char *field, const char *text, size_t max_bytes,
			struct ledger_error *err)
{
	size_t len = strlen(text);

	if (len == 0 || len > max_bytes)
		return ledger_refuse(err, LEDGER_INVALID, slug, "%s must be 1 to %zu bytes long",
				     field, max_bytes);
	for (const char *c = text; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return ledger_refuse(err, LEDGER_INVALID, slug,
					     "%s must not contain control characters", field);
	return 0;
}

int ledger_period_parse(const char *text, struct period *ret_period, struct ledger_error *err)
{
	if (period_parse(text, ret_period) < 0)
		return ledger_refuse(
			err, LEDGER_INVALID, "invalid-period",
			"%s is not a billing period; write it as YYYY-MM, e.g. 2026-11", text);
	return 0;
}

void ledger_today(const struct ledger *ledger, struct date *ret_today)
{
	struct tz_time local = { .date = { 1970, 1, 1 } };

	tz_local(ledger->config->zone, (int64_t)time(NULL), &local, NULL);
	*ret_today = local.date;
}
