/* Usage: one household's series at 5-minute, hourly, daily or monthly steps
 * (days and months in the cooperative's time zone), with the gaps where
 * traffic is unknowable; every household's totals for the treasurer; and
 * the treasurer's import of usage metered elsewhere. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api-internal.h"
#include "coopbill/config.h"
#include "coopbill/date.h"
#include "coopbill/ledger.h"
#include "coopbill/store.h"

enum step {
	STEP_5M,
	STEP_HOUR,
	STEP_DAY,
	STEP_MONTH,
};

static const char *const step_names[] = {
	[STEP_5M] = "5m",
	[STEP_HOUR] = "hour",
	[STEP_DAY] = "day",
	[STEP_MONTH] = "month",
};

/* The start of the next point after t, whose local time is `local` (NULL
 * where unknown): days and months in the cooperative's zone. Where that
 * cannot be worked out (no such time in range), an hour on, so that loops
 * over points always end. */
static int64_t step_next(const struct tz_zone *zone, enum step step, int64_t t,
			 const struct tz_time *local)
{
	int64_t start_s, next_s;
	int r;

	if (step == STEP_5M)
		return t + 300;
	if (step == STEP_HOUR || !local)
		return t + 3600;
	if (step == STEP_DAY)
		r = period_day_end(zone, &local->date, &next_s);
	else
		r = period_bounds(zone, &(struct period){ local->date.year, local->date.month },
				  &start_s, &next_s);
	return r < 0 ? t + 3600 : next_s;
}

static bool step_aligned(const struct tz_zone *zone, enum step step, int64_t t)
{
	struct tz_time local;

	if (step == STEP_5M)
		return t % 300 == 0;
	if (step == STEP_HOUR)
		return t % 3600 == 0;
	if (tz_local(zone, t, &local, NULL) < 0)
		return false;
	return local.hour == 0 && local.minute == 0 && local.second == 0 &&
	       (step == STEP_DAY || local.date.day == 1);
}

/* Writes n digits of v (its last n, zero-padded) at text. */
static char *digits_put(char *text, unsigned v, int n)
{
	for (int i = n - 1; i >= 0; i--, v /= 10)
		text[i] = (char)('0' + v % 10);
	return text + n;
}

/* RFC 3339 in the cooperative's time zone, "Z" where that is UTC; written
 * digit by digit, as a series has thousands of them. */
static void local_format(const struct tz_time *local, int32_t offset_s, char ret_text[32])
{
	char *p = ret_text;

	p = digits_put(p, (unsigned)local->date.year % 10000u, 4);
	*p++ = '-';
	p = digits_put(p, (unsigned)local->date.month, 2);
	*p++ = '-';
	p = digits_put(p, (unsigned)local->date.day, 2);
	*p++ = 'T';
	p = digits_put(p, (unsigned)local->hour, 2);
	*p++ = ':';
	p = digits_put(p, (unsigned)local->minute, 2);
	*p++ = ':';
	p = digits_put(p, (unsigned)local->second, 2);
	if (offset_s == 0) {
		*p++ = 'Z';
	} else {
		*p++ = offset_s < 0 ? '-' : '+';
		p = digits_put(p, (unsigned)abs(offset_s) / 3600, 2);
		*p++ = ':';
		p = digits_put(p, (unsigned)abs(offset_s) / 60 % 60, 2);
	}
	*p = '\0';
}

static void time_format(const struct tz_zone *zone, int64_t t, char ret_text[32])
{
	struct tz_time local;
	int32_t offset_s;

	if (tz_local(zone, t, &local, &offset_s) < 0)
		snprintf(ret_text, 32, "%" PRId64, t);
	else
		local_format(&local, offset_s, ret_text);
}

static json_t *time_json(const struct tz_zone *zone, int64_t t)
{
	char text[32];

	time_format(zone, t, text);
	return json_string(text);
}

/* Reads from= and to= (RFC 3339), aligned to the step; replies 400 if not. */
static int range_parse(const struct tz_zone *zone, struct http_request *request, enum step step,
		       int64_t *ret_from, int64_t *ret_to)
{
	const char *names[] = { "from", "to" };
	int64_t values[2];

	for (size_t i = 0; i < 2; i++) {
		const char *query = http_request_query(request, names[i]);
		char text[40] = "";

		/* A "+" in a query string arrives as a space: curl users write
		 * from=2026-11-01T00:00:00+01:00 without escaping it. */
		if (query && strlen(query) < sizeof(text)) {
			strcpy(text, query);
			if (strlen(text) == 25 && text[19] == ' ')
				text[19] = '+';
		}
		if (date_time_parse(text, &values[i]) < 0) {
			http_reply_problem(request, 400, "invalid-range",
					   "%s must be an RFC 3339 time, like "
					   "2026-11-01T00:00:00Z or 2026-11-01T00:00:00+01:00",
					   names[i]);
			return -EINVAL;
		}
		if (!step_aligned(zone, step, values[i])) {
			http_reply_problem(
				request, 400, "invalid-range", "%s must fall on a %s boundary%s",
				names[i], step_names[step],
				step >= STEP_DAY ? " in the cooperative's time zone" : "");
			return -EINVAL;
		}
	}
	if (values[1] <= values[0]) {
		http_reply_problem(request, 400, "invalid-range", "to must be later than from");
		return -EINVAL;
	}
	*ret_from = values[0];
	*ret_to = values[1];
	return 0;
}

static int step_parse(struct http_request *request, const struct config *config,
		      enum step *ret_step)
{
	const char *text = http_request_query(request, "step");

	for (size_t i = 0; text && i < sizeof(step_names) / sizeof(step_names[0]); i++) {
		if (strcmp(text, step_names[i]) == 0) {
			if (i == STEP_5M && config->meter_bucket_s > 300) {
				http_reply_problem(request, 400, "invalid-step",
						   "step=5m needs buckets of at most 300 s; this "
						   "cooperative keeps %u s buckets: use step=hour",
						   config->meter_bucket_s);
				return -EINVAL;
			}
			*ret_step = (enum step)i;
			return 0;
		}
	}
	http_reply_problem(request, 400, "invalid-step",
			   "step must be one of 5m, hour, day, month");
	return -EINVAL;
}

static json_t *gap_json(const struct tz_zone *zone, const struct store_gap *gap)
{
	return json_pack("{s:o, s:o, s:s, s:s, s:s, s:I, s:I, s:s}", "at", time_json(zone, gap->at),
			 "since", gap->since ? time_json(zone, gap->since) : json_null(),
			 "direction", store_direction_name(gap->direction), "scope",
			 store_scope_name(gap->scope), "reason", gap->reason, "bytes_before",
			 (json_int_t)gap->bytes_before, "bytes_after", (json_int_t)gap->bytes_after,
			 "detail",
			 "the traffic counted between since and at is unknown; what the counter "
			 "showed after the reset is billed");
}

/* Adds a row's traffic, internet and local, to a sum; -ERANGE past what a
 * JSON integer here holds (2^63 - 1). */
static int usage_add(struct store_usage_row *sum, const struct store_usage_row *row)
{
	if (__builtin_add_overflow(sum->bytes_up, row->bytes_up, &sum->bytes_up) ||
	    __builtin_add_overflow(sum->bytes_down, row->bytes_down, &sum->bytes_down) ||
	    __builtin_add_overflow(sum->local_up, row->local_up, &sum->local_up) ||
	    __builtin_add_overflow(sum->local_down, row->local_down, &sum->local_down) ||
	    sum->bytes_up > INT64_MAX || sum->bytes_down > INT64_MAX || sum->local_up > INT64_MAX ||
	    sum->local_down > INT64_MAX)
		return -ERANGE;
	return 0;
}

/* A point or total as JSON: internet traffic as bytes_up and bytes_down (as
 * before local traffic was counted), local traffic beside it. */
static json_t *traffic_json(json_t *object, const struct store_usage_row *traffic)
{
	if (object && (json_object_set_new(object, "bytes_up",
					   json_integer((json_int_t)traffic->bytes_up)) < 0 ||
		       json_object_set_new(object, "bytes_down",
					   json_integer((json_int_t)traffic->bytes_down)) < 0 ||
		       json_object_set_new(object, "local_up",
					   json_integer((json_int_t)traffic->local_up)) < 0 ||
		       json_object_set_new(object, "local_down",
					   json_integer((json_int_t)traffic->local_down)) < 0)) {
		json_decref(object);
		return NULL;
	}
	return object;
}

/* A bound between points: its time, and that time as the cooperative's
 * clock shows it, in RFC 3339 ("" where unknown). */
struct bound {
	int64_t t;
	char text[32];
};

/* The points' bounds from `from` to `to` at the step: point i covers
 * [bounds[i].t, bounds[i + 1].t). Each time's local time is worked out
 * once, for the next bound and its text. Replies 400 past max points. */
static int bounds_make(const struct tz_zone *zone, struct http_request *request, enum step step,
		       int64_t from, int64_t to, unsigned max, struct bound **ret_bounds,
		       size_t *ret_n_points)
{
	struct bound *bounds = NULL, *grown;
	size_t n = 0, allocated = 0;
	struct tz_time local;
	int32_t offset_s;

	for (int64_t t = from;;) {
		bool known = tz_local(zone, t, &local, &offset_s) == 0;

		if (n == allocated) {
			allocated = allocated ? 2 * allocated : 64;
			grown = realloc(bounds, allocated * sizeof(*bounds));
			if (!grown) {
				free(bounds);
				http_reply_problem(request, 503, "out-of-memory",
						   "short of memory");
				return -ENOMEM;
			}
			bounds = grown;
		}
		bounds[n].t = t;
		if (known)
			local_format(&local, offset_s, bounds[n].text);
		else
			snprintf(bounds[n].text, sizeof(bounds[n].text), "%" PRId64, t);
		n++;
		if (t >= to)
			break;
		if (n > max) {
			free(bounds);
			http_reply_problem(request, 400, "range-too-long",
					   "the range has more than %u points at step=%s; ask for "
					   "a shorter range or a longer step",
					   max, step_names[step]);
			return -E2BIG;
		}
		t = step_next(zone, step, t, known ? &local : NULL);
	}
	*ret_bounds = bounds;
	*ret_n_points = n - 1;
	return 0;
}

/* A number as decimal text at p, for the series written by hand; returns
 * the end. */
static char *number_put(char *p, uint64_t value)
{
	char text[20], *digits = text + sizeof(text);

	do
		*--digits = (char)('0' + value % 10);
	while (value /= 10);
	memcpy(p, digits, (size_t)(text + sizeof(text) - digits));
	return p + (text + sizeof(text) - digits);
}

static char *text_put(char *p, const char *text)
{
	size_t len = strlen(text);

	memcpy(p, text, len);
	return p + len;
}

/* "bytes_up":N,… for the four traffic figures at p; returns the end (at
 * most 4 × 34 bytes on). */
static char *traffic_put(char *p, const struct store_usage_row *traffic)
{
	p = number_put(text_put(p, "\"bytes_up\":"), traffic->bytes_up);
	p = number_put(text_put(p, ",\"bytes_down\":"), traffic->bytes_down);
	p = number_put(text_put(p, ",\"local_up\":"), traffic->local_up);
	return number_put(text_put(p, ",\"local_down\":"), traffic->local_down);
}

/* The series as CSV, or as the JSON document of the reply: written by hand,
 * a point at a time, as jansson spends most of a month's reply on its
 * thousands of small allocations; the rare gaps with jansson. */
struct series {
	int64_t household_id;
	enum step step;
	const struct bound *bounds;
	const struct store_usage_row *points;
	const bool *imported;
	size_t n_points;
	struct store_usage_row total;
	json_t *gaps;
};

static void series_write(FILE *out, const struct series *series, bool csv)
{
	/* A point: its start (32), four figures with their names, "imported". */
	char text[256], *p;

	if (csv)
		fputs("start,bytes_up,bytes_down,imported,local_up,local_down\r\n", out);
	else
		fprintf(out,
			"{\"household_id\":%" PRId64 ",\"step\":\"%s\",\"from\":\"%s\","
			"\"to\":\"%s\",\"series\":[",
			series->household_id, step_names[series->step], series->bounds[0].text,
			series->bounds[series->n_points].text);
	for (size_t i = 0; i < series->n_points; i++) {
		const struct store_usage_row *point = &series->points[i];
		const char *imported = series->imported[i] ? "true" : "false";

		if (csv) {
			fprintf(out, "%s,%" PRIu64 ",%" PRIu64 ",%s,%" PRIu64 ",%" PRIu64 "\r\n",
				series->bounds[i].text, point->bytes_up, point->bytes_down,
				imported, point->local_up, point->local_down);
			continue;
		}
		p = text_put(text, i > 0 ? ",{\"start\":\"" : "{\"start\":\"");
		p = text_put(p, series->bounds[i].text);
		p = traffic_put(text_put(p, "\","), point);
		p = text_put(text_put(p, ",\"imported\":"), imported);
		*p++ = '}';
		fwrite(text, 1, (size_t)(p - text), out);
	}
	if (csv)
		return;
	p = traffic_put(text_put(text, "],\"total\":{"), &series->total);
	p = text_put(p, "},\"gaps\":");
	fwrite(text, 1, (size_t)(p - text), out);
	json_dumpf(series->gaps, out, JSON_COMPACT | JSON_ENSURE_ASCII);
	fputc('}', out);
}

void api_usage_forget(struct api *api)
{
	for (size_t i = 0; i < api->n_usage_kept; i++)
		free(api->usage_kept[i].text);
	api->n_usage_kept = 0;
	api->usage_kept_next = 0;
	api->usage_version.known = false;
}

/* The series kept for the same question at this version of the database,
 * or NULL. Once the database has changed, forgets them all. */
static const struct api_usage_kept *usage_kept_find(struct api *api,
						    const struct store_version *version,
						    const struct api_usage_kept *question)
{
	if (!store_version_same(version, &api->usage_version)) {
		api_usage_forget(api);
		api->usage_version = *version;
		return NULL;
	}
	for (size_t i = 0; i < api->n_usage_kept; i++) {
		const struct api_usage_kept *kept = &api->usage_kept[i];

		if (kept->household_id == question->household_id && kept->from == question->from &&
		    kept->to == question->to && kept->step == question->step &&
		    kept->csv == question->csv)
			return kept;
	}
	return NULL;
}

/* Keeps a copy of the series read at the version usage_kept_find() saw, in
 * place of the oldest one kept; not when that version is unknown (nothing
 * would tell when the copy is out of date) or the series long. */
static void usage_keep(struct api *api, const struct api_usage_kept *question, const char *text,
		       size_t len)
{
	struct api_usage_kept *slot = &api->usage_kept[api->usage_kept_next];
	char *copy;

	if (!api->usage_version.known || len > API_USAGE_KEPT_MAX_LEN)
		return;
	copy = malloc(len);
	if (!copy)
		return;
	memcpy(copy, text, len);
	if (api->n_usage_kept == API_USAGE_KEPT)
		free(slot->text);
	else
		api->n_usage_kept++;
	*slot = *question;
	slot->text = copy;
	slot->len = len;
	api->usage_kept_next = (api->usage_kept_next + 1) % API_USAGE_KEPT;
}

void api_household_usage(struct api *api, struct http_request *request, const struct api_call *call)
{
	const struct config *config = api->ledger.config;
	struct store_usage_row *rows = NULL, *points = NULL;
	struct store_gap *gaps = NULL;
	size_t n_rows = 0, n_gaps = 0, len = 0;
	struct series series = { 0 };
	bool csv = http_request_wants_csv(request);
	const struct api_usage_kept *kept;
	struct store_version version;
	struct bound *bounds = NULL;
	int64_t from, to;
	json_t *imports = NULL, *import;
	bool *imported = NULL;
	char *text = NULL;
	FILE *out;
	int r;

	if (api_parse_id(call->params.values[0], &series.household_id) < 0) {
		http_reply_problem(request, 404, "not-found", "there is no household %s",
				   call->params.values[0]);
		return;
	}
	if (step_parse(request, config, &series.step) < 0 ||
	    range_parse(config->zone, request, series.step, &from, &to) < 0)
		return;
	if (series.step == STEP_5M &&
	    from < (int64_t)time(NULL) - (int64_t)config->meter_keep_buckets_days * 86400) {
		http_reply_problem(request, 400, "invalid-range",
				   "5-minute usage is kept for %u days; use step=hour for older "
				   "ranges",
				   config->meter_keep_buckets_days);
		return;
	}
	const struct api_usage_kept question = { .household_id = series.household_id,
						 .from = from,
						 .to = to,
						 .step = (int)series.step,
						 .csv = csv };
	/* The version is taken before the database is read: a commit in
	 * between makes the next request read again. */
	store_version_get(api->ledger.store, &version);
	kept = usage_kept_find(api, &version, &question);
	if (kept) {
		http_reply_copy(request, 200, csv ? HTTP_CSV_CONTENT_TYPE : "application/json",
				kept->text, kept->len);
		return;
	}
	if (bounds_make(config->zone, request, series.step, from, to, config->max_series_points,
			&bounds, &series.n_points) < 0)
		return;

	/* One snapshot: the household, its usage, gaps and imports as they
	 * were at one moment. Usage is only there for a household that is. */
	r = store_read_begin(api->ledger.store);
	if (r == 0) {
		r = store_usage_rows(api->ledger.store, series.household_id, from, to,
				     series.step == STEP_5M	? STORE_USAGE_BUCKETS
				     : series.step == STEP_HOUR ? STORE_USAGE_HOURS
								: STORE_USAGE_DAYS,
				     &rows, &n_rows);
		if (r == 0 && n_rows == 0)
			r = store_household_exists(api->ledger.store, series.household_id);
		if (r == 0)
			r = store_gaps_list(api->ledger.store, series.household_id, from, to, &gaps,
					    &n_gaps);
		if (r == 0)
			r = store_usage_imports_list(api->ledger.store, series.household_id, from,
						     to, &imports);
		store_read_end(api->ledger.store);
	}
	if (r == -ENOENT) {
		http_reply_problem(request, 404, "not-found", "there is no household %s",
				   call->params.values[0]);
		goto out;
	}
	if (r < 0) {
		api_reply_store_error(request, r, "reading usage");
		goto out;
	}
	points = calloc(series.n_points, sizeof(*points));
	imported = calloc(series.n_points, sizeof(*imported));
	series.gaps = json_array();
	if (!points || !imported || !series.gaps) {
		http_reply_problem(request, 503, "out-of-memory", "short of memory");
		goto out;
	}
	/* Rows and imports are in time order: each falls in the point whose
	 * range holds it. */
	size_t row = 0, k = 0;
	for (size_t i = 0; r == 0 && i < series.n_points; i++) {
		int64_t next = bounds[i + 1].t;

		for (; r == 0 && row < n_rows && rows[row].start < next; row++)
			r = usage_add(&points[i], &rows[row]);
		for (; (import = json_array_get(imports, k)) &&
		       json_integer_value(json_object_get(import, "bucket_start")) < next;
		     k++)
			imported[i] = true;
		if (r == 0)
			r = usage_add(&series.total, &points[i]);
	}
	if (r < 0) {
		api_reply_store_error(request, r, "adding up usage");
		goto out;
	}
	for (size_t i = 0; i < n_gaps; i++)
		json_array_append_new(series.gaps, gap_json(config->zone, &gaps[i]));
	series.bounds = bounds;
	series.points = points;
	series.imported = imported;

	out = open_memstream(&text, &len);
	if (!out) {
		http_reply_problem(request, 503, "out-of-memory", "short of memory");
		goto out;
	}
	/* The stream is this function's alone: no lock around each write. */
	__fsetlocking(out, FSETLOCKING_BYCALLER);
	series_write(out, &series, csv);
	if (fclose(out) != 0) {
		free(text);
		http_reply_problem(request, 503, "out-of-memory", "short of memory");
		goto out;
	}
	usage_keep(api, &question, text, len);
	if (csv)
		http_reply_csv(request, 200, text, len);
	else
		http_reply_text(request, 200, "application/json", text, len);
out:
	free(rows);
	free(points);
	free(bounds);
	free(imported);
	json_decref(imports);
	json_decref(series.gaps);
	free(gaps);
}

void api_usage_summary(struct api *api, struct http_request *request, const struct api_call *call)
{
	struct store_usage_row *rows = NULL, total = { 0 };
	struct household *households = NULL;
	size_t n_rows = 0, n_households = 0;
	int64_t from, to;
	json_t *list;
	int r;

	if (range_parse(api->ledger.config->zone, request, STEP_HOUR, &from, &to) < 0)
		return;
	r = store_usage_totals(api->ledger.store, from, to, &rows, &n_rows);
	if (r == 0)
		r = store_household_list(api->ledger.store, &households, &n_households);
	if (r < 0) {
		api_reply_store_error(request, r, "reading usage");
		goto out;
	}

	/* Both lists are ordered by household id. */
	FILE *csv_out = NULL;
	char *csv = NULL;
	size_t csv_len = 0, row = 0;

	if (http_request_wants_csv(request)) {
		csv_out = open_memstream(&csv, &csv_len);
		if (!csv_out) {
			http_reply_problem(request, 503, "out-of-memory", "short of memory");
			goto out;
		}
		fputs("household_id,name,bytes_up,bytes_down,local_up,local_down\r\n", csv_out);
	}
	list = json_array();
	for (size_t i = 0; r == 0 && i < n_households; i++) {
		struct store_usage_row used = { 0 };
		char id[24];

		while (row < n_rows && rows[row].household_id < households[i].id)
			row++;
		if (row < n_rows && rows[row].household_id == households[i].id)
			r = usage_add(&used, &rows[row]);
		if (r == 0)
			r = usage_add(&total, &used);
		if (csv_out) {
			snprintf(id, sizeof(id), "%" PRId64, households[i].id);
			http_csv_field(csv_out, id, false);
			http_csv_field(csv_out, households[i].name, false);
			fprintf(csv_out, "%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\r\n",
				used.bytes_up, used.bytes_down, used.local_up, used.local_down);
		}
		json_array_append_new(list, traffic_json(json_pack("{s:I, s:s}", "household_id",
								   (json_int_t)households[i].id,
								   "name", households[i].name),
							 &used));
	}
	if (r < 0) {
		json_decref(list);
		if (csv_out) {
			fclose(csv_out);
			free(csv);
		}
		api_reply_store_error(request, r, "adding up usage");
		goto out;
	}
	if (csv_out) {
		json_decref(list);
		fclose(csv_out);
		http_reply_csv(request, 200, csv, csv_len);
		goto out;
	}
	http_reply_json(request, 200,
			json_pack("{s:o, s:o, s:o, s:o}", "from",
				  time_json(api->ledger.config->zone, from), "to",
				  time_json(api->ledger.config->zone, to), "households", list,
				  "total", traffic_json(json_object(), &total)));
out:
	free(rows);
	store_households_free(households, n_households);
}

static const char import_shape[] =
	"{\"reason\": \"...\", \"rows\": [{\"household_id\": 7, \"bucket_start\": "
	"\"2026-11-03T18:00:00Z\", \"bytes_up\": 1000, \"bytes_down\": 5000, \"local_up\": 0, "
	"\"local_down\": 0}, ...]} (local_up and local_down optional)";

/* Unpacks row i of an import; replies 400 naming it when it does not fit. */
static int import_row_unpack(struct http_request *request, size_t i, json_t *item,
			     struct ledger_usage_row *ret_row)
{
	json_int_t household_id = 0, up = 0, down = 0, local_up = 0, local_down = 0;
	const char *start = NULL;
	char reason[256];
	const struct http_json_field fields[] = {
		{ "household_id", HTTP_JSON_INTEGER, false, &household_id },
		{ "bucket_start", HTTP_JSON_STRING, false, &start },
		{ "bytes_up", HTTP_JSON_INTEGER, false, &up },
		{ "bytes_down", HTTP_JSON_INTEGER, false, &down },
		/* Local traffic is optional: an import from a meter that did not
		 * tell it apart is all internet traffic. */
		{ "local_up", HTTP_JSON_INTEGER, true, &local_up },
		{ "local_down", HTTP_JSON_INTEGER, true, &local_down },
	};

	if (http_json_unpack(item, fields, sizeof(fields) / sizeof(fields[0]), reason,
			     sizeof(reason)) < 0) {
		http_reply_problem(request, 400, "invalid-import", "rows[%zu]: %s; expected %s", i,
				   reason, import_shape);
		return -EINVAL;
	}
	*ret_row = (struct ledger_usage_row){ household_id, start, up, down, local_up, local_down };
	return 0;
}

void api_usage_import(struct api *api, struct http_request *request, const struct api_call *call)
{
	struct ledger_usage_import_request import = { .actor = call->actor };
	struct ledger_usage_row *rows = NULL;
	json_t *body, *items = NULL, *item;
	struct ledger_error err;
	size_t i;
	const struct http_json_field fields[] = {
		{ "reason", HTTP_JSON_STRING, false, &import.reason },
		{ "rows", HTTP_JSON_ARRAY, false, &items },
	};

	if (http_request_json(request, &body) < 0)
		return;
	if (!api_body_unpack(request, body, "invalid-import", import_shape, fields,
			     sizeof(fields) / sizeof(fields[0])))
		goto out;
	import.n_rows = json_array_size(items);
	rows = calloc(import.n_rows + 1, sizeof(*rows));
	if (!rows) {
		http_reply_problem(request, 503, "out-of-memory", "the server is short of memory");
		goto out;
	}
	json_array_foreach(items, i, item)
	{
		if (import_row_unpack(request, i, item, &rows[i]) < 0)
			goto out;
	}
	import.rows = rows;
	if (ledger_usage_import(&api->ledger, &import, &err) < 0) {
		api_reply_ledger_error(request, &err);
		goto out;
	}
	http_reply_json(request, 201, json_pack("{s:I}", "imported", (json_int_t)import.n_rows));
out:
	free(rows);
	json_decref(body);
}
