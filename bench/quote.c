/* Quote benchmark: a month of hourly usage (one point per hour, about 744)
 * priced under the tariff of docs/examples/tariff.json (a peak window, an
 * allowance, tiers, a cap and tax) by ledger_quote, alone and with its JSON
 * body parsed and unpacked as the API does, beside the running estimate of
 * the same usage stored for one household (ledger_reading_new, its steps
 * and ledger_estimate: the path GET /api/v1/households/{id}/estimate
 * takes), the baseline, in the same run. The month is the last one that has
 * ended in Europe/Madrid. Target: a quote under 2 ms.
 * usage: bench_quote [ITERATIONS]   (default 500) */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "coopbill/config.h"
#include "coopbill/date.h"
#include "coopbill/http.h"
#include "coopbill/ledger.h"
#include "coopbill/period.h"
#include "coopbill/store.h"
#include "coopbill/tz.h"

#define ZONE	  "Europe/Madrid"
#define HOURS_MAX 745

struct bench {
	struct config config;
	struct ledger ledger;
	struct period period;
	char period_text[PERIOD_TEXT_MAX];
	int64_t start_s, end_s;
	int64_t tariff_id;
	size_t n_points;
	char starts[HOURS_MAX][32];
	struct ledger_quote_point points[HOURS_MAX];
	char *body; /* the quote's request body */
};

static void die(const char *what, int r)
{
	fprintf(stderr, "bench_quote: %s failed: %d\n", what, r);
	exit(1);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static uint64_t next_random(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/* The tariff of docs/examples/tariff.json, in force from the month's start,
 * published. */
static void tariff_publish(struct bench *bench)
{
	char valid_from[DATE_TEXT_MAX], sha256[65];
	json_error_t error;
	json_t *tariff = json_load_file(BENCH_TARIFF, 0, &error);
	char *text;
	int r;

	if (!tariff)
		die(error.text, -EINVAL);
	snprintf(valid_from, sizeof(valid_from), "%s-01", bench->period_text);
	json_object_set_new(tariff, "valid_from", json_string(valid_from));
	text = json_dumps(tariff, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(tariff);
	ledger_sha256_hex(text, sha256);
	r = store_tariff_insert(bench->ledger.store, "bench", valid_from, text, sha256,
				&bench->tariff_id);
	if (r == 0)
		r = store_tariff_publish(bench->ledger.store, bench->tariff_id, "signature", 0);
	if (r < 0)
		die("publishing the tariff", r);
	free(text);
}

/* An instant as RFC 3339 in UTC. */
static void time_format(int64_t t, char ret_text[32])
{
	struct date date = date_from_days(t / 86400);
	char day[DATE_TEXT_MAX];

	date_format(&date, day);
	snprintf(ret_text, 32, "%sT%02d:00:00Z", day, (int)(t % 86400 / 3600));
}

/* One household, a member all month, with traffic in every hour: stored for
 * the estimate, and as a quote's points and body. */
static void usage_make(struct bench *bench)
{
	struct household household = { .gateway = "main",
				       .name = (char *)"bench",
				       .joined_at = "2025-01-01" };
	uint64_t state = 88172645463325252ULL;
	size_t len = 0, size = 160 * HOURS_MAX + 256;
	int64_t id;
	int r;

	r = store_begin(bench->ledger.store);
	if (r == 0)
		r = store_household_insert(bench->ledger.store, &household, &id);
	bench->body = malloc(size);
	if (!bench->body)
		die("malloc", -ENOMEM);
	len += (size_t)snprintf(bench->body, size,
				"{\"period\":\"%s\",\"joined_at\":\"2025-01-01\",\"series\":[",
				bench->period_text);
	for (int64_t t = bench->start_s; r == 0 && t < bench->end_s; t += 3600) {
		size_t i = bench->n_points++;
		/* Up to 48 MB down and 12 MB up an hour: about 50 GB a month. */
		uint64_t down = next_random(&state) % 48000000;
		struct store_usage_row row = { t, id, down / 4, down, down / 50, 0 };

		r = store_usage_add_rows(bench->ledger.store, 0, &row, 1);
		time_format(t, bench->starts[i]);
		bench->points[i] =
			(struct ledger_quote_point){ bench->starts[i], (int64_t)row.bytes_up,
						     (int64_t)row.bytes_down, (int64_t)row.local_up,
						     0 };
		len += (size_t)snprintf(
			bench->body + len, size - len,
			"%s{\"start\":\"%s\",\"bytes_up\":%" PRIu64 ",\"bytes_down\":%" PRIu64
			",\"local_up\":%" PRIu64 ",\"local_down\":0}",
			i ? "," : "", bench->starts[i], row.bytes_up, row.bytes_down, row.local_up);
	}
	snprintf(bench->body + len, size - len, "]}");
	if (r == 0)
		r = store_commit(bench->ledger.store);
	if (r < 0)
		die("storing usage", r);
}

static char *quote(struct bench *bench, const struct ledger_quote_point *points, size_t n)
{
	struct ledger_error err;
	char *document;

	if (ledger_quote(&bench->ledger,
			 &(struct ledger_quote_request){ .tariff_id = bench->tariff_id,
							 .period = bench->period_text,
							 .joined_at = "2025-01-01",
							 .points = points,
							 .n_points = n },
			 &document, &err) < 0) {
		fprintf(stderr, "bench_quote: %s\n", err.detail);
		exit(1);
	}
	return document;
}

/* The quote as the API makes it from its body: parsed, unpacked strictly,
 * then quoted. */
static char *quote_body(struct bench *bench)
{
	static struct ledger_quote_point points[HOURS_MAX];
	json_t *body = json_loads(bench->body, JSON_REJECT_DUPLICATES, NULL), *series = NULL, *item;
	const char *period = NULL, *joined_at = NULL;
	char reason[256], *document;
	size_t i;
	const struct http_json_field fields[] = {
		{ "period", HTTP_JSON_STRING, false, &period },
		{ "joined_at", HTTP_JSON_STRING, false, &joined_at },
		{ "series", HTTP_JSON_ARRAY, true, &series },
	};

	if (!body || http_json_unpack(body, fields, 3, reason, sizeof(reason)) < 0)
		die("parsing the body", -EINVAL);
	json_array_foreach(series, i, item)
	{
		json_int_t up = 0, down = 0, local_up = 0, local_down = 0;
		const char *start = NULL;
		const struct http_json_field point_fields[] = {
			{ "bytes_up", HTTP_JSON_INTEGER, false, &up },
			{ "bytes_down", HTTP_JSON_INTEGER, false, &down },
			{ "local_up", HTTP_JSON_INTEGER, true, &local_up },
			{ "local_down", HTTP_JSON_INTEGER, true, &local_down },
			{ "start", HTTP_JSON_STRING, false, &start },
		};

		if (http_json_unpack(item, point_fields, 5, reason, sizeof(reason)) < 0)
			die("unpacking a point", -EINVAL);
		points[i] = (struct ledger_quote_point){ start, up, down, local_up, local_down };
	}
	document = quote(bench, points, json_array_size(series));
	json_decref(body);
	return document;
}

static char *estimate(struct bench *bench)
{
	struct ledger_reading *reading;
	struct ledger_error err;
	char *document;
	bool done = false;
	int r;

	r = ledger_reading_new(&bench->ledger, &bench->period, bench->end_s, &reading, &err);
	while (r == 0 && !done)
		r = ledger_reading_step(reading, UINT64_MAX, &done, &err);
	if (r == 0)
		r = ledger_estimate(reading, 1, &document, &err);
	if (r < 0) {
		fprintf(stderr, "bench_quote: %s\n", err.detail);
		exit(1);
	}
	ledger_reading_free(reading);
	return document;
}

/* Times what over n runs; prints its median, 99th percentile and mean. */
static void measure(struct bench *bench, const char *label, char *(*what)(struct bench *), int n,
		    double *ret_median_ms)
{
	double *ms = calloc((size_t)n, sizeof(*ms)), sum = 0;

	if (!ms)
		die("calloc", -ENOMEM);
	for (int i = 0; i < n; i++) {
		double t = now_ms();

		free(what(bench));
		ms[i] = now_ms() - t;
		sum += ms[i];
	}
	qsort(ms, (size_t)n, sizeof(*ms), compare_double);
	printf("%-46s median %7.3f ms, p99 %7.3f ms, mean %7.3f ms (%d runs)\n", label, ms[n / 2],
	       ms[n * 99 / 100], sum / n, n);
	*ret_median_ms = ms[n / 2];
	free(ms);
}

static char *quote_points(struct bench *bench)
{
	return quote(bench, bench->points, bench->n_points);
}

/* The lines of a quote are the estimate's, but for the share of costs that
 * a quote leaves out. */
static void check_same_lines(struct bench *bench)
{
	char *quoted = quote_points(bench), *estimated = estimate(bench);
	json_t *a = json_loads(quoted, 0, NULL), *b = json_loads(estimated, 0, NULL);
	json_t *lines = json_array(), *line;
	size_t i;

	json_array_foreach(json_object_get(b, "lines"), i, line)
	{
		if (strcmp(json_string_value(json_object_get(line, "kind")), "cost_share") != 0)
			json_array_append(lines, line);
	}
	if (!json_equal(json_object_get(a, "lines"), lines))
		die("comparing the quote's lines with the estimate's", -EPROTO);
	printf("%zu lines, total %" JSON_INTEGER_FORMAT " minor units, as the estimate's\n",
	       json_array_size(lines), json_integer_value(json_object_get(a, "total_minor")));
	json_decref(lines);
	json_decref(a);
	json_decref(b);
	free(quoted);
	free(estimated);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 500;
	char dir[] = "/var/tmp/coopbill-bench-quote.XXXXXX", db[128], errbuf[256], cmd[160];
	static struct bench bench;
	double quote_ms, body_ms, estimate_ms;
	struct period now;
	int r;

	if (n < 1 || !mkdtemp(dir))
		die("setting up", -EINVAL);
	snprintf(db, sizeof(db), "%s/coopbill.db", dir);
	bench.config.database_path = db;
	bench.config.log_origin = (char *)"bench.example/log";
	bench.config.log_key_file = (char *)"";
	strcpy(bench.config.currency, "EUR");
	r = tz_zone_load(ZONE, &bench.config.zone);
	if (r == 0)
		r = store_open(db, &bench.ledger.store, errbuf, sizeof(errbuf));
	if (r == 0)
		r = ledger_tlog_open(bench.ledger.store, &bench.config, &bench.ledger.tlog, errbuf,
				     sizeof(errbuf));
	if (r < 0)
		die(errbuf, r);
	bench.ledger.config = &bench.config;
	/* The last month that has ended. */
	if (period_containing(bench.config.zone, time(NULL), &now) < 0)
		die("period_containing", -EINVAL);
	bench.period = now.month == 1 ? (struct period){ now.year - 1, 12 }
				      : (struct period){ now.year, now.month - 1 };
	period_format(&bench.period, bench.period_text);
	if (period_bounds(bench.config.zone, &bench.period, &bench.start_s, &bench.end_s) < 0)
		die("period_bounds", -EINVAL);
	tariff_publish(&bench);
	usage_make(&bench);
	printf("%s in %s: %zu hourly points (a body of %zu bytes)\n", bench.period_text, ZONE,
	       bench.n_points, strlen(bench.body));
	check_same_lines(&bench);
	measure(&bench, "baseline: running estimate of the same usage", estimate, n, &estimate_ms);
	measure(&bench, "quote (typed points)", quote_points, n, &quote_ms);
	measure(&bench, "quote (JSON body parsed and unpacked)", quote_body, n, &body_ms);
	printf("quote: %.3f ms with its body against a target of 2 ms (%s); %.1fx faster than the "
	       "estimate\n",
	       body_ms, body_ms < 2.0 ? "met" : "MISSED", estimate_ms / body_ms);

	ledger_tlog_free(bench.ledger.tlog);
	store_free(bench.ledger.store);
	tz_zone_free(bench.config.zone);
	free(bench.body);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : 1;
}
