/* GET /healthz: whether the database answers and takes writes and how the
 * meter is doing, for monitoring. 503 when the database is unusable or its
 * writes fail (a full disk); "degraded" in the body when the meter is (flow
 * offload, a waiting clock, failing polls). */
#include <errno.h>
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

void api_health_get(struct api *api, struct http_request *request, const struct api_call *call)
{
	struct meter_status meter;
	unsigned schema_version = 0;
	const char *status, *database = "ok", *log_problem;
	int r;

	r = store_ping(api->ledger.store, &schema_version);
	if (r < 0)
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
	if (r < 0)
		status = "unavailable";
	else if (meter.state == METER_OK || meter.state == METER_DISABLED)
		status = "ok";
	else
		status = "degraded";
	http_reply_json(request, r == 0 ? 200 : 503,
			json_pack("{s:s, s:s, s:s, s:i, s:o, s:s}", "status", status, "database",
				  database, "version", COOPBILL_VERSION, "schema_version",
				  (int)schema_version, "meter", meter_json(&meter), "log",
				  log_problem ? log_problem : "ok"));
}
