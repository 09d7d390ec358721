/* GET /healthz: whether the database answers and takes writes and how the
 * meter is doing, for monitoring. 503 when the database is unusable or its
 * writes fail (a full disk); "degraded" in the body when the meter is (flow
 * offload, a waiting clock, failing polls), and, with 503, when PostgreSQL
 * is out of reach ("database": "unreachable") or has kept a statement
 * waiting a second or more ("database": "slow"). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api-internal.h"
#include "build-config.h"
#include "coopbill/ledger.h"
#include "coopbill/meter.h"
#include "coopbill/store.h"

static json_t *meter_json(const struct meter_status *status)
{
	char last_poll[32] = "";
	time_t when = (time_t)status->last_poll_at;
	struct tm utc;

	if (status->last_poll_at) {
		gmtime_r(&when, &utc);
		strftime(last_poll, sizeof(last_poll), "%Y-%m-%dT%H:%M:%SZ", &utc);
	}
	return json_pack(
		"{s:s, s:o, s:I, s:I, s:I, s:I, s:I}", "state", meter_state_name(status->state),
		"last_poll", last_poll[0] ? json_string(last_poll) : json_null(),
		"last_poll_duration_us", (json_int_t)status->last_poll_duration_us, "counters_read",
		(json_int_t)status->counters_read, "polls", (json_int_t)status->polls_total,
		"poll_failures", (json_int_t)status->poll_failures_total, "gaps_recorded",
		(json_int_t)status->gaps_total);
}

static bool meter_status_same(const struct meter_status *a, const struct meter_status *b)
{
	return a->state == b->state && a->last_poll_at == b->last_poll_at &&
	       a->last_poll_duration_us == b->last_poll_duration_us &&
	       a->counters_read == b->counters_read && a->polls_total == b->polls_total &&
	       a->poll_failures_total == b->poll_failures_total && a->gaps_total == b->gaps_total;
}

static json_t *health_json(const char *status, const char *database, unsigned schema_version,
			   const struct meter_status *meter, const char *log_problem)
{
	return json_pack("{s:s, s:s, s:s, s:i, s:o, s:s}", "status", status, "database", database,
			 "version", COOPBILL_VERSION, "schema_version", (int)schema_version,
			 "meter", meter_json(meter), "log", log_problem ? log_problem : "ok");
}

/* A healthy reply's text serves again while what it says is the same: a
 * monitor polling hard would otherwise spend a fifth of each request
 * writing the same JSON. */
static void reply_healthy(struct api *api, struct http_request *request, const char *status,
			  unsigned schema_version, const struct meter_status *meter)
{
	struct api_health *last = &api->health;
	char *text;

	if (!last->text || last->status != status || last->schema_version != schema_version ||
	    !meter_status_same(&last->meter, meter)) {
		json_t *body = health_json(status, "ok", schema_version, meter, NULL);

		text = body ? json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
		json_decref(body);
		if (!text) {
			http_reply_problem(request, 503, "out-of-memory",
					   "the server is short of memory; try again later");
			return;
		}
		free(last->text);
		*last = (struct api_health){ .status = status,
					     .schema_version = schema_version,
					     .meter = *meter,
					     .text = text,
					     .len = strlen(text) };
	}
	http_reply_copy(request, 200, "application/json", last->text, last->len);
}

void api_health_get(struct api *api, struct http_request *request, const struct api_call *call)
{
	struct meter_status meter;
	unsigned schema_version = 0;
	const char *status, *database = "ok", *log_problem;
	int r;

	r = store_ping(api->ledger.store, &schema_version);
	/* PostgreSQL out of reach: the kernel goes on counting and the meter
	 * holds what it read until the database answers again. */
	if (r == -ENOTCONN)
		database = "unreachable";
	else if (r == -ETIMEDOUT)
		database = "slow";
	else if (r < 0)
		database = "error";
	/* Reads answer on a full disk; what the database is for does not. */
	if (r == 0 && store_write_error(api->ledger.store) < 0) {
		database = "failing";
		r = -EIO;
	}
	meter_status_get(api->ledger.meter, &meter);
	log_problem = ledger_tlog_problem(api->ledger.tlog);
	if (r == 0 && log_problem)
		r = -EBADMSG;
	if (r == -ENOTCONN || r == -ETIMEDOUT)
		status = "degraded";
	else if (r < 0)
		status = "unavailable";
	else if (meter.state == METER_OK || meter.state == METER_DISABLED)
		status = "ok";
	else
		status = "degraded";
	if (r == 0) {
		reply_healthy(api, request, status, schema_version, &meter);
		return;
	}
	http_reply_json(request, 503,
			health_json(status, database, schema_version, &meter, log_problem));
}
