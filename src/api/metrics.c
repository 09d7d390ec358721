/* GET /metrics: the daemon's counters in the Prometheus text format —
 * aggregates only, never one household's figures. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "api-internal.h"
#include "coopbill/meter.h"
#include "coopbill/store.h"

static void metric(FILE *out, const char *name, const char *type, const char *help, double value)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, value);
}

/* All households' traffic in the last whole UTC hour, internet and local
 * apart: one indexed read of that hour, however long the history. */
static void usage_metrics(FILE *out, const struct store_usage_row *hour)
{
	fprintf(out,
		"# HELP coopbill_usage_last_hour_bytes All households' traffic in the last whole "
		"hour, by scope (internet: through an uplink; local: through the gateway only) "
		"and direction.\n"
		"# TYPE coopbill_usage_last_hour_bytes gauge\n"
		"coopbill_usage_last_hour_bytes{scope=\"internet\",direction=\"up\"} %" PRIu64 "\n"
		"coopbill_usage_last_hour_bytes{scope=\"internet\",direction=\"down\"} %" PRIu64
		"\n"
		"coopbill_usage_last_hour_bytes{scope=\"local\",direction=\"up\"} %" PRIu64 "\n"
		"coopbill_usage_last_hour_bytes{scope=\"local\",direction=\"down\"} %" PRIu64 "\n",
		hour->bytes_up, hour->bytes_down, hour->local_up, hour->local_down);
}

void api_metrics_get(struct api *api, struct http_request *request, const struct api_call *call)
{
	struct store_usage_row last_hour;
	int64_t now = (int64_t)time(NULL);
	struct meter_status status;
	int64_t *active = NULL, *closed = NULL;
	size_t n_active = 0, n_closed = 0, len = 0;
	char *text = NULL;
	FILE *out;
	int r;

	r = store_household_ids(api->ledger.store, &active, &n_active, &closed, &n_closed);
	if (r < 0) {
		api_reply_store_error(request, r, "counting households");
		return;
	}
	free(active);
	free(closed);
	r = store_usage_hour_total(api->ledger.store, now - now % 3600 - 3600, &last_hour);
	if (r < 0) {
		api_reply_store_error(request, r, "adding up the last hour's usage");
		return;
	}
	meter_status_get(api->ledger.meter, &status);
	out = open_memstream(&text, &len);
	if (!out) {
		http_reply_problem(request, 503, "out-of-memory", "short of memory");
		return;
	}
	fprintf(out,
		"# HELP coopbill_households Households by status.\n"
		"# TYPE coopbill_households gauge\n"
		"coopbill_households{status=\"active\"} %zu\n"
		"coopbill_households{status=\"closed\"} %zu\n",
		n_active, n_closed);
	fprintf(out, "# HELP coopbill_meter_state The meter's state (1 for the current one).\n"
		     "# TYPE coopbill_meter_state gauge\n");
	for (int state = METER_DISABLED; state <= METER_FAILING; state++)
		fprintf(out, "coopbill_meter_state{state=\"%s\"} %d\n", meter_state_name(state),
			state == (int)status.state);
	usage_metrics(out, &last_hour);
	metric(out, "coopbill_meter_polls_total", "counter", "Polls committed.",
	       (double)status.polls_total);
	metric(out, "coopbill_meter_poll_failures_total", "counter", "Polls that failed.",
	       (double)status.poll_failures_total);
	metric(out, "coopbill_meter_gaps_total", "counter",
	       "Counter resets and recreations seen since start.", (double)status.gaps_total);
	metric(out, "coopbill_meter_counters", "gauge", "Counters read by the last poll.",
	       (double)status.counters_read);
	metric(out, "coopbill_meter_last_poll_timestamp_seconds", "gauge",
	       "Unix time of the last committed poll.", (double)status.last_poll_at);
	metric(out, "coopbill_meter_last_poll_duration_seconds", "gauge",
	       "Wall time of the last poll: read and commit.",
	       (double)status.last_poll_duration_us / 1e6);
	metric(out, "coopbill_meter_last_read_duration_seconds", "gauge",
	       "Wall time of the last netlink read.", (double)status.last_read_duration_us / 1e6);
	metric(out, "coopbill_meter_last_commit_duration_seconds", "gauge",
	       "Wall time of the last accounting and SQLite commit.",
	       (double)status.last_commit_duration_us / 1e6);
	fclose(out);
	http_reply_text(request, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}
