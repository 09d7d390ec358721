/* GET /metrics: the daemon's counters in the Prometheus text format —
 * aggregates only, never one household's figures. Floats are printed as
 * Prometheus prints them, integers as integers. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "api-internal.h"
#include "build-config.h"
#include "coopbill/meter.h"
#include "coopbill/store.h"

/* A float as Prometheus writes one (Go's strconv, 'g' and -1): the fewest
 * significant digits that read back as the same double, in an exponent
 * form only below 1e-4 and from 1e+06 on: 0.002484, not
 * 0.0024840000000000001; 10, not 1e+01. */
static const char *float_text(double value, char ret[32])
{
	int digits, exponent;

	if (isnan(value))
		return "NaN";
	if (isinf(value))
		return value > 0 ? "+Inf" : "-Inf";
	for (digits = 1; digits < 17; digits++) {
		snprintf(ret, 32, "%.*e", digits - 1, value);
		if (strtod(ret, NULL) == value)
			break;
	}
	snprintf(ret, 32, "%.*e", digits - 1, value);
	exponent = atoi(strchr(ret, 'e') + 1);
	if (exponent >= -4 && exponent < 6)
		snprintf(ret, 32, "%.*f", digits - 1 - exponent > 0 ? digits - 1 - exponent : 0,
			 value);
	return ret;
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void metric_float(FILE *out, const char *name, const char *type, const char *help,
			 double value)
{
	char text[32];

	family(out, name, type, help);
	fprintf(out, "%s %s\n", name, float_text(value, text));
}

static void metric_int(FILE *out, const char *name, const char *type, const char *help,
		       uint64_t value)
{
	family(out, name, type, help);
	fprintf(out, "%s %" PRIu64 "\n", name, value);
}

/* The requests of a route pattern, added up over the routes that share it
 * (GET and PATCH of /api/v1/households/{id}); false when an earlier slot
 * has the pattern, and so holds its requests already. */
static bool route_pattern_stats(const struct api *api, size_t slot,
				struct api_route_stats *ret_stats)
{
	const char *route = api_route_slot_name(slot);

	for (size_t i = 0; i < slot; i++)
		if (strcmp(api_route_slot_name(i), route) == 0)
			return false;
	*ret_stats = api->route_stats[slot];
	for (size_t i = slot + 1; i < api_route_slots(); i++) {
		const struct api_route_stats *other = &api->route_stats[i];

		if (strcmp(api_route_slot_name(i), route) != 0)
			continue;
		for (int method = 0; method < API_METHODS; method++)
			for (size_t code = 0; code <= HTTP_STATUSES; code++)
				ret_stats->requests[method][code] += other->requests[method][code];
		for (size_t bucket = 0; bucket <= API_DURATION_BUCKETS; bucket++)
			ret_stats->durations[bucket] += other->durations[bucket];
		ret_stats->duration_sum_ns += other->duration_sum_ns;
	}
	return true;
}

static void requests_counts(FILE *out, const struct api *api)
{
	struct api_route_stats sum, *stats = &sum;

	family(out, "coopbill_http_requests_total", "counter",
	       "HTTP requests answered, by route pattern (\"page\": the member page's files; "
	       "\"unmatched\": API paths without a route), method and status.");
	for (size_t slot = 0; slot < api_route_slots(); slot++) {
		if (!route_pattern_stats(api, slot, &sum))
			continue;
		for (int method = 0; method < API_METHODS; method++)
			for (size_t i = 0; i <= HTTP_STATUSES; i++) {
				char code[8] = "other";

				if (!stats->requests[method][i])
					continue;
				if (i < HTTP_STATUSES)
					snprintf(code, sizeof(code), "%u", http_status_at(i));
				fprintf(out,
					"coopbill_http_requests_total{route=\"%s\",method=\"%s\","
					"code=\"%s\"} %" PRIu64 "\n",
					api_route_slot_name(slot), api_method_name(method), code,
					stats->requests[method][i]);
			}
	}
}

static void requests_durations(FILE *out, const struct api *api)
{
	char text[32];

	family(out, "coopbill_http_request_duration_seconds", "histogram",
	       "Time from a request's first line to its reply's last byte, by route pattern.");
	for (size_t slot = 0; slot < api_route_slots(); slot++) {
		struct api_route_stats sum, *stats = &sum;
		const char *route = api_route_slot_name(slot);
		uint64_t count = 0;

		if (!route_pattern_stats(api, slot, &sum))
			continue;
		for (size_t i = 0; i <= API_DURATION_BUCKETS; i++)
			count += stats->durations[i];
		if (!count)
			continue;
		count = 0;
		for (size_t i = 0; i <= API_DURATION_BUCKETS; i++) {
			count += stats->durations[i];
			fprintf(out,
				"coopbill_http_request_duration_seconds_bucket{route=\"%s\",le=\"%"
				"s\"}"
				" %" PRIu64 "\n",
				route,
				i < API_DURATION_BUCKETS
					? float_text((double)api_duration_bounds_ns[i] / 1e9, text)
					: "+Inf",
				count);
		}
		fprintf(out,
			"coopbill_http_request_duration_seconds_sum{route=\"%s\"} %s\n"
			"coopbill_http_request_duration_seconds_count{route=\"%s\"} %" PRIu64 "\n",
			route, float_text((double)stats->duration_sum_ns / 1e9, text), route,
			count);
	}
}

static void http_metrics(FILE *out, const struct api *api, const struct http_stats *http)
{
	requests_counts(out, api);
	requests_durations(out, api);
	family(out, "coopbill_http_refused_total", "counter",
	       "Connections and requests refused for a limit of [server]: max_connections, "
	       "max_connections_per_ip, header_timeout_s, max_body_bytes, body_memory_bytes.");
	for (int limit = 0; limit < HTTP_LIMITS; limit++)
		fprintf(out, "coopbill_http_refused_total{limit=\"%s\"} %" PRIu64 "\n",
			http_limit_name(limit), http->refused[limit]);
	metric_int(out, "coopbill_http_connections", "gauge", "HTTP connections open.",
		   http->connections);
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

static void meter_metrics(FILE *out, const struct meter_status *status)
{
	family(out, "coopbill_meter_state", "gauge", "The meter's state (1 for the current one).");
	for (int state = METER_DISABLED; state <= METER_FAILING; state++)
		fprintf(out, "coopbill_meter_state{state=\"%s\"} %d\n", meter_state_name(state),
			state == (int)status->state);
	metric_int(out, "coopbill_meter_polls_total", "counter", "Polls committed.",
		   status->polls_total);
	metric_int(out, "coopbill_meter_poll_failures_total", "counter", "Polls that failed.",
		   status->poll_failures_total);
	metric_int(out, "coopbill_meter_gaps_total", "counter",
		   "Counter resets and recreations seen since start.", status->gaps_total);
	metric_int(out, "coopbill_meter_counters", "gauge", "Counters read by the last poll.",
		   status->counters_read);
	metric_int(out, "coopbill_meter_last_poll_timestamp_seconds", "gauge",
		   "Unix time of the last committed poll.", (uint64_t)status->last_poll_at);
	metric_float(out, "coopbill_meter_last_poll_duration_seconds", "gauge",
		     "Wall time of the last poll: read and commit.",
		     (double)status->last_poll_duration_us / 1e6);
	metric_float(out, "coopbill_meter_last_read_duration_seconds", "gauge",
		     "Wall time of the last netlink read.",
		     (double)status->last_read_duration_us / 1e6);
	metric_float(out, "coopbill_meter_last_commit_duration_seconds", "gauge",
		     "Wall time of the last accounting and SQLite commit.",
		     (double)status->last_commit_duration_us / 1e6);
}

/* The jobs running by kind, and the last close's duration once there was
 * one since the start. */
static void jobs_metrics(FILE *out, const struct api *api)
{
	family(out, "coopbill_billing_jobs", "gauge",
	       "Billing jobs running: period closes, estimates, summaries, re-pricings, "
	       "impacts and labels of tariffs being published.");
	for (int kind = 0; kind < API_JOB_KINDS; kind++)
		fprintf(out, "coopbill_billing_jobs{kind=\"%s\"} %u\n", api_job_kind_name(kind),
			api_jobs_running(api, kind));
	if (api->last_close_ns)
		metric_float(out, "coopbill_billing_last_close_duration_seconds", "gauge",
			     "Wall time of the last period close, from its request to its "
			     "reply.",
			     (double)api->last_close_ns / 1e9);
}

/* The transparency log's size and the size of its last signed checkpoint:
 * they differ when a checkpoint was not signed for the latest entries. */
static int tlog_metrics(FILE *out, struct store *store)
{
	int64_t size, checkpoint_size = 0;
	uint8_t root[32];
	char *note = NULL;
	int r;

	r = store_tlog_size(store, &size);
	if (r < 0)
		return r;
	r = store_tlog_checkpoint_latest(store, &checkpoint_size, root, &note);
	free(note);
	if (r < 0 && r != -ENOENT)
		return r;
	metric_int(out, "coopbill_tlog_entries", "gauge", "Entries in the transparency log.",
		   (uint64_t)size);
	metric_int(out, "coopbill_tlog_checkpoint_size", "gauge",
		   "Tree size of the last signed checkpoint.", (uint64_t)checkpoint_size);
	return 0;
}

static void database_metrics(FILE *out, const struct store_footprint *footprint)
{
	family(out, "coopbill_database_bytes", "gauge",
	       "Size of the database file and of its write-ahead log.");
	fprintf(out,
		"coopbill_database_bytes{file=\"main\"} %" PRIu64 "\n"
		"coopbill_database_bytes{file=\"wal\"} %" PRIu64 "\n",
		footprint->database_bytes, footprint->wal_bytes);
	metric_int(out, "coopbill_database_filesystem_free_bytes", "gauge",
		   "Space left to the daemon on the file system holding the database.",
		   footprint->filesystem_free_bytes);
	metric_int(out, "coopbill_database_filesystem_size_bytes", "gauge",
		   "Size of the file system holding the database.",
		   footprint->filesystem_size_bytes);
	metric_int(out, "coopbill_database_busy_retries_total", "counter",
		   "Waits for another connection's lock on the database (SQLite busy handler "
		   "retries).",
		   footprint->busy_retries);
}

/* The descriptors open, less the one reading the folder. */
static uint64_t open_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	uint64_t n = 0;

	if (!dir)
		return 0;
	while (readdir(dir))
		n++;
	closedir(dir);
	/* ".", ".." and the folder's own descriptor. */
	return n >= 3 ? n - 3 : 0;
}

/* The standard process metrics of Prometheus's client libraries. */
static void process_metrics(FILE *out)
{
	unsigned long long vm_pages = 0, resident_pages = 0;
	uint64_t page_bytes = (uint64_t)sysconf(_SC_PAGESIZE);
	struct rlimit files;
	struct rusage usage;
	FILE *statm = fopen("/proc/self/statm", "re");

	if (statm) {
		if (fscanf(statm, "%llu %llu", &vm_pages, &resident_pages) != 2)
			vm_pages = resident_pages = 0;
		fclose(statm);
	}
	getrusage(RUSAGE_SELF, &usage);
	metric_float(out, "process_cpu_seconds_total", "counter",
		     "User and system CPU time spent, in seconds.",
		     (double)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
			     (double)(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6);
	metric_int(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
		   resident_pages * page_bytes);
	metric_int(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
		   vm_pages * page_bytes);
	metric_int(out, "process_open_fds", "gauge", "Number of open file descriptors.",
		   open_fds());
	if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY)
		metric_int(out, "process_max_fds", "gauge",
			   "Maximum number of open file descriptors.", files.rlim_cur);
}

void api_metrics_get(struct api *api, struct http_request *request, const struct api_call *call)
{
	struct store *store = api->ledger.store;
	struct store_usage_row last_hour;
	struct store_footprint footprint;
	int64_t now = (int64_t)time(NULL);
	struct meter_status status;
	struct http_stats http;
	int64_t *active = NULL, *closed = NULL;
	size_t n_active = 0, n_closed = 0, len = 0;
	char *text = NULL;
	FILE *out;
	int r;

	r = store_household_ids(store, NULL, &active, &n_active, &closed, &n_closed);
	if (r < 0) {
		api_reply_store_error(request, r, "counting households");
		return;
	}
	free(active);
	free(closed);
	r = store_usage_hour_total(store, now - now % 3600 - 3600, &last_hour);
	if (r < 0) {
		api_reply_store_error(request, r, "adding up the last hour's usage");
		return;
	}
	r = store_footprint_get(store, &footprint);
	if (r < 0) {
		api_reply_store_error(request, r, "measuring the database's files");
		return;
	}
	meter_status_get(api->ledger.meter, &status);
	http_request_stats(request, &http);
	out = open_memstream(&text, &len);
	if (!out) {
		http_reply_problem(request, 503, "out-of-memory", "short of memory");
		return;
	}
	fprintf(out, "# HELP coopbill_build_info The version of coopbilld.\n"
		     "# TYPE coopbill_build_info gauge\n"
		     "coopbill_build_info{version=\"" COOPBILL_VERSION "\"} 1\n");
	fprintf(out,
		"# HELP coopbill_households Households by status.\n"
		"# TYPE coopbill_households gauge\n"
		"coopbill_households{status=\"active\"} %zu\n"
		"coopbill_households{status=\"closed\"} %zu\n",
		n_active, n_closed);
	meter_metrics(out, &status);
	usage_metrics(out, &last_hour);
	http_metrics(out, api, &http);
	jobs_metrics(out, api);
	r = tlog_metrics(out, store);
	database_metrics(out, &footprint);
	process_metrics(out);
	fclose(out);
	if (r < 0) {
		free(text);
		api_reply_store_error(request, r, "reading the transparency log's size");
		return;
	}
	http_reply_text(request, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}
