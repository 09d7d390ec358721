/* Billing periods over HTTP: closing one, a member's running estimate of the
 * open period, the cooperative's totals for a period, a household's closed
 * period re-priced under another tariff, the impact of a tariff on the last
 * closed periods, and publishing a tariff, whose label is priced on profiles
 * of the last closed period; each the ledger's work (src/ledger/close.c,
 * src/ledger/impact.c, src/ledger/label.c).
 *
 * All six read months of everyone's usage, which takes seconds for
 * thousands of households: they run as jobs in slices of at most
 * JOB_SLICE_NS on an idle handle, so that the loop serves requests and polls
 * the meter in between, and answer when done. A finished reading of the open
 * period is kept for OPEN_RUN_FRESH_NS and shared by the estimates and
 * summaries that follow. A tariff's impact is computed once for all who ask
 * meanwhile, and kept until the next close finishes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api-internal.h"
#include "coopbill/config.h"
#include "coopbill/ledger.h"

/* The time one slice may take, and how long a reading of the open period
 * serves. */
#define JOB_SLICE_NS	  (20 * 1000 * 1000)
#define OPEN_RUN_FRESH_NS (60ull * 1000 * 1000 * 1000)

/* A reading of a period's usage, shared by the jobs that use it. */
struct shared_run {
	struct ledger_reading *reading;
	struct period period;
	unsigned refs;
	uint64_t done_ns; /* when its scan finished; 0 while scanning */
};

/* A tariff's impact: computed by one job at a time (stepper) for every
 * request that waits for it, and kept in api->impacts once begun. */
struct shared_impact {
	struct ledger_impact *impact;
	int64_t tariff_id;
	unsigned refs;
	bool done;
	struct job *stepper;
	struct shared_impact *next; /* in api->impacts */
};

struct job {
	struct api *api;
	enum api_job_kind kind;
	struct http_request *request; /* NULL once the client is gone */
	struct ledger_close *close;   /* the close's */
	struct shared_run *shared;    /* the estimate's, the summary's and the re-pricing's */
	struct ledger_summary *summary;
	int64_t household_id; /* the estimate's */
	struct shared_impact *impact;
	struct ledger_impact_request impact_request;
	struct ledger_label *label; /* the publish's */
	int64_t tariff_id;
	uv_idle_t idle;
	uint64_t started_ns;
	struct job *next_job; /* in api->jobs */
};

const char *api_job_kind_name(enum api_job_kind kind)
{
	static const char *const names[] = {
		[API_JOB_CLOSE] = "close",     [API_JOB_ESTIMATE] = "estimate",
		[API_JOB_SUMMARY] = "summary", [API_JOB_REPRICE] = "reprice",
		[API_JOB_IMPACT] = "impact",   [API_JOB_PUBLISH] = "publish",
	};

	return names[kind];
}

unsigned api_jobs_running(const struct api *api, enum api_job_kind kind)
{
	unsigned n = 0;

	for (const struct job *job = api->jobs; job; job = job->next_job)
		n += job->kind == kind;
	return n;
}

static struct shared_run *shared_run_ref(struct shared_run *shared)
{
	shared->refs++;
	return shared;
}

static void shared_run_unref(struct shared_run *shared)
{
	if (!shared || --shared->refs > 0)
		return;
	ledger_reading_free(shared->reading);
	free(shared);
}

static struct shared_impact *shared_impact_ref(struct shared_impact *shared)
{
	shared->refs++;
	return shared;
}

static void shared_impact_unref(struct shared_impact *shared)
{
	if (!shared || --shared->refs > 0)
		return;
	ledger_impact_free(shared->impact);
	free(shared);
}

/* Forgets the impacts computed or begun: a close changes what they are
 * worked out from. The jobs computing one finish it for their requests. */
static void impacts_forget(struct api *api)
{
	while (api->impacts) {
		struct shared_impact *shared = api->impacts;

		api->impacts = shared->next;
		shared->next = NULL;
		shared_impact_unref(shared);
	}
}

static void on_job_closed(uv_handle_t *handle)
{
	struct job *job = handle->data;

	ledger_close_free(job->close);
	ledger_summary_free(job->summary);
	shared_run_unref(job->shared);
	shared_impact_unref(job->impact);
	ledger_label_free(job->label);
	free(job);
}

static void job_finish(struct job *job)
{
	struct job **link = &job->api->jobs;

	/* Another request waiting for the impact takes its computation on. */
	if (job->impact && job->impact->stepper == job)
		job->impact->stepper = NULL;
	if (job->api->closing == job)
		job->api->closing = NULL;
	while (*link && *link != job)
		link = &(*link)->next_job;
	if (*link)
		*link = job->next_job;
	uv_idle_stop(&job->idle);
	uv_close((uv_handle_t *)&job->idle, on_job_closed);
}

/* Lets the connection go on with the reply given; the job has no request
 * any more. */
static void job_resume(struct job *job)
{
	http_request_resume(job->request);
	job->request = NULL;
}

/* Replies (taking body) and lets the connection go on. */
static void job_reply(struct job *job, json_t *body)
{
	if (!job->request) {
		json_decref(body);
		return;
	}
	http_reply_document(job->request, body);
	job_resume(job);
}

/* Replies with a document the ledger made. */
static void job_reply_text(struct job *job, char *document)
{
	json_t *body = json_loads(document, 0, NULL);

	free(document);
	if (!body) {
		if (job->request) {
			http_reply_problem(job->request, 503, "out-of-memory",
					   "the server is short of memory");
			job_resume(job);
		}
		return;
	}
	job_reply(job, body);
}

static void job_fail(struct job *job, const struct ledger_error *err)
{
	if (!job->request)
		return;
	if (err->kind == LEDGER_STORAGE && err->error == -ERANGE)
		http_reply_problem(job->request, 500, "overflow",
				   "an amount does not fit in 64 bits while %s", err->detail);
	else
		api_reply_ledger_error(job->request, err);
	job_resume(job);
}

static void on_request_gone(void *data)
{
	((struct job *)data)->request = NULL;
}

/* A connection left suspended would stop the HTTP server from closing:
 * every job answers now. */
void api_jobs_stop(struct api *api)
{
	while (api->jobs) {
		struct job *job = api->jobs;

		if (job->request) {
			if (job->kind == API_JOB_CLOSE)
				http_reply_problem(job->request, 503, "stopping",
						   "the daemon is stopping; what was closed so far "
						   "is kept, and closing %s again finishes it",
						   ledger_close_period(job->close));
			else
				http_reply_problem(job->request, 503, "stopping",
						   "the daemon is stopping; ask again once it is "
						   "back");
			job_resume(job);
		}
		job_finish(job);
	}
}

/* A closed period as the close answers it: the summary as an object. */
static json_t *close_json(const struct ledger_closed_period *closed, bool already_closed)
{
	json_t *summary = json_loads(closed->summary, 0, NULL);

	return json_pack("{s:s, s:I, s:I, s:s, s:I, s:o, s:b}", "period", closed->period,
			 "households", (json_int_t)closed->households, "total_minor",
			 (json_int_t)closed->total_minor, "closed_at", closed->closed_at,
			 "log_index", (json_int_t)closed->log_index, "summary",
			 summary ? summary : json_null(), "already_closed", already_closed);
}

/* One slice of a close: read usage, or issue a batch of invoices, and at the
 * end record the period. It goes on without its client. */
static int close_slice(struct job *job, uint64_t deadline_ns, bool *ret_done,
		       struct ledger_error *err)
{
	struct ledger_closed_period closed;
	int r;

	r = ledger_close_step(job->close, deadline_ns, ret_done, err);
	if (r < 0 || !*ret_done)
		return r;
	r = ledger_close_finish(job->close, &closed, err);
	if (r < 0)
		return r;
	impacts_forget(job->api);
	job->api->last_close_ns = uv_hrtime() - job->started_ns;
	job_reply(job, close_json(&closed, false));
	ledger_closed_period_clear(&closed);
	return 0;
}

/* One slice of an estimate or a summary: read usage until done, then the
 * job's own work. */
static int reading_slice(struct job *job, uint64_t deadline_ns, bool *ret_done,
			 struct ledger_error *err)
{
	struct api *api = job->api;
	char *document;
	int r;

	if (!job->shared->done_ns) {
		*ret_done = false;
		r = ledger_reading_step(job->shared->reading, deadline_ns, ret_done, err);
		if (r < 0 || !*ret_done)
			return r;
		job->shared->done_ns = uv_hrtime();
		/* Later estimates and summaries of the period use it too; a
		 * re-pricing's reading is its own. */
		if (job->kind != API_JOB_REPRICE) {
			shared_run_unref(api->open_run);
			api->open_run = shared_run_ref(job->shared);
		}
		*ret_done = false;
		return 0;
	}
	if (job->kind == API_JOB_REPRICE) {
		r = ledger_reprice(job->shared->reading, &document, err);
		if (r < 0)
			return r;
		*ret_done = true;
		job_reply_text(job, document);
		return 0;
	}
	if (job->kind == API_JOB_ESTIMATE) {
		r = ledger_estimate(job->shared->reading, job->household_id, &document, err);
		if (r < 0)
			return r;
		*ret_done = true;
		job_reply_text(job, document);
		return 0;
	}
	if (!job->summary &&
	    ledger_summary_new(&api->ledger, job->shared->reading, &job->summary) < 0)
		return ledger_storage_error(err, -ENOMEM, "reading usage");
	r = ledger_summary_step(job->summary, deadline_ns, ret_done, err);
	if (r == 0 && *ret_done)
		r = ledger_summary_finish(job->summary, &document, err);
	if (r == 0 && *ret_done)
		job_reply_text(job, document);
	return r;
}

/* One slice of an impact: computed by one of the jobs that wait for it,
 * then each replies with what its token may see. */
static int impact_slice(struct job *job, uint64_t deadline_ns, bool *ret_done,
			struct ledger_error *err)
{
	struct shared_impact *shared = job->impact;
	char *document;
	int r;

	*ret_done = false;
	if (!shared->done) {
		if (shared->stepper && shared->stepper != job)
			return 0;
		shared->stepper = job;
		r = ledger_impact_step(shared->impact, deadline_ns, &shared->done, err);
		if (r == 0 && shared->done)
			shared->stepper = NULL;
		/* The replies are made in the slices that follow. */
		return r;
	}
	r = ledger_impact_document(shared->impact, &job->impact_request, &document, err);
	if (r < 0)
		return r;
	*ret_done = true;
	job_reply_text(job, document);
	return 0;
}

/* One slice of a publish: read the label's profiles, then publish the
 * tariff with its label at once. */
static int publish_slice(struct job *job, uint64_t deadline_ns, bool *ret_done,
			 struct ledger_error *err)
{
	struct ledger_tariff_publish_request in = { .id = job->tariff_id, .label = job->label };
	struct ledger_tariff_publish_result out;
	int r;

	r = ledger_label_step(job->label, deadline_ns, ret_done, err);
	if (r < 0 || !*ret_done)
		return r;
	ledger_today(&job->api->ledger, &in.today);
	r = ledger_tariff_publish(&job->api->ledger, &in, &out, err);
	if (r < 0)
		return r;
	api_reply_tariff(job->api, job->request, 200, job->tariff_id);
	job_resume(job);
	return 0;
}

/* One slice of a job. A close goes on without its client; the others stop
 * when theirs is gone. */
static void job_slice(void *data)
{
	struct job *job = data;
	uint64_t deadline_ns = uv_hrtime() + JOB_SLICE_NS;
	struct ledger_error err;
	bool done = false;
	int r;

	if (!job->request && job->kind != API_JOB_CLOSE) {
		job_finish(job);
		return;
	}
	if (job->kind == API_JOB_CLOSE)
		r = close_slice(job, deadline_ns, &done, &err);
	else if (job->kind == API_JOB_IMPACT)
		r = impact_slice(job, deadline_ns, &done, &err);
	else if (job->kind == API_JOB_PUBLISH)
		r = publish_slice(job, deadline_ns, &done, &err);
	else
		r = reading_slice(job, deadline_ns, &done, &err);
	if (r < 0)
		job_fail(job, &err);
	if (r < 0 || done)
		job_finish(job);
}

static void on_job_idle(uv_idle_t *idle);

/* The next slice, unless the job finished (its handle closing frees it). */
static void job_slice_done(void *data)
{
	struct job *job = data;

	if (!uv_is_closing((uv_handle_t *)&job->idle))
		uv_idle_start(&job->idle, on_job_idle);
}

/* On PostgreSQL a slice runs on a fiber (see store_work), and the loop
 * serves others while it waits for the database; the next waits for it. */
static void on_job_idle(uv_idle_t *idle)
{
	struct job *job = idle->data;

	uv_idle_stop(idle);
	if (!store_work(job->api->ledger.store, true, job_slice, job_slice_done, job))
		job_slice_done(job);
}

/* Starts a job that has what it works on; the request waits for its reply. */
static struct job *job_start(struct api *api, struct http_request *request, enum api_job_kind kind)
{
	struct job *job;

	job = calloc(1, sizeof(*job));
	if (!job) {
		http_reply_problem(request, 503, "out-of-memory", "the server is short of memory");
		return NULL;
	}
	job->api = api;
	job->kind = kind;
	job->request = request;
	job->started_ns = uv_hrtime();
	uv_idle_init(api->loop, &job->idle);
	job->idle.data = job;
	job->next_job = api->jobs;
	api->jobs = job;
	http_request_defer(request, on_request_gone, job);
	uv_idle_start(&job->idle, on_job_idle);
	return job;
}

/* Starts an estimate or a summary of a period's usage up to now, on a
 * recent reading of it if there is one; replies itself when it cannot. */
static struct job *reading_job_start(struct api *api, struct http_request *request,
				     enum api_job_kind kind, const struct period *period)
{
	struct shared_run *shared = NULL;
	struct ledger_error err;
	struct job *job;
	int r;

	if (api->open_run && memcmp(&api->open_run->period, period, sizeof(*period)) == 0 &&
	    uv_hrtime() - api->open_run->done_ns < OPEN_RUN_FRESH_NS)
		shared = shared_run_ref(api->open_run);
	if (!shared) {
		shared = calloc(1, sizeof(*shared));
		if (!shared) {
			http_reply_problem(request, 503, "out-of-memory",
					   "the server is short of memory");
			return NULL;
		}
		r = ledger_reading_new(&api->ledger, period, time(NULL), &shared->reading, &err);
		if (r < 0) {
			free(shared);
			api_reply_ledger_error(request, &err);
			return NULL;
		}
		shared->period = *period;
		shared->refs = 1;
	}
	job = job_start(api, request, kind);
	if (!job) {
		shared_run_unref(shared);
		return NULL;
	}
	job->shared = shared;
	return job;
}

void api_period_close(struct api *api, struct http_request *request, const struct api_call *call)
{
	struct ledger_closed_period closed;
	struct ledger_close *close;
	struct ledger_error err;
	struct period period;
	struct job *job;
	int r;

	if (api_parse_period(request, call->params.values[0], &period) < 0)
		return;
	r = ledger_close_begin(
		&api->ledger,
		&(struct ledger_close_request){
			.period = &period,
			.actor = call->actor,
			.now_s = (int64_t)time(NULL),
			.running = api->closing ? ledger_close_period(api->closing->close) : NULL,
		},
		&close, &closed, &err);
	if (r < 0) {
		api_reply_ledger_error(request, &err);
		return;
	}
	if (!close) {
		http_reply_json(request, 200, close_json(&closed, true));
		ledger_closed_period_clear(&closed);
		return;
	}
	job = job_start(api, request, API_JOB_CLOSE);
	if (!job) {
		ledger_close_free(close);
		return;
	}
	job->close = close;
	api->closing = job;
}

void api_period_summary(struct api *api, struct http_request *request, const struct api_call *call)
{
	const char *text = call->params.values[0];
	struct ledger_closed_period closed;
	struct ledger_error err;
	struct period period;
	json_t *summary;
	int r;

	if (api_parse_period(request, text, &period) < 0)
		return;
	r = ledger_period_closed(&api->ledger, text, &closed, &err);
	if (r == 0) {
		summary = json_loads(closed.summary, 0, NULL);
		ledger_closed_period_clear(&closed);
		if (!summary) {
			http_reply_problem(request, 500, "internal",
					   "the stored summary of %s does not parse", text);
			return;
		}
		http_reply_document(request, summary);
		return;
	}
	if (r != -ENOENT) {
		api_reply_ledger_error(request, &err);
		return;
	}
	reading_job_start(api, request, API_JOB_SUMMARY, &period);
}

void api_household_estimate(struct api *api, struct http_request *request,
			    const struct api_call *call)
{
	struct period period;
	struct job *job;
	int64_t id;

	if (api_path_household(api, request, call, &id) < 0)
		return;
	if (period_containing(api->ledger.config->zone, time(NULL), &period) < 0) {
		http_reply_problem(request, 500, "internal",
				   "the current period cannot be worked out from the clock");
		return;
	}
	job = reading_job_start(api, request, API_JOB_ESTIMATE, &period);
	if (job)
		job->household_id = id;
}

void api_household_reprice(struct api *api, struct http_request *request,
			   const struct api_call *call)
{
	struct ledger_reprice_request in = {
		.period = http_request_query(request, "period"),
		.drafts = call->principal.role == AUTH_ROLE_ADMIN,
	};
	const char *tariff_text = http_request_query(request, "tariff_id");
	struct shared_run *shared;
	struct ledger_error err;
	struct job *job;

	if (api_parse_id(call->params.values[0], &in.household_id) < 0) {
		api_reply_load_error(request, -EINVAL, "household", call->params.values[0]);
		return;
	}
	if (!in.period || !tariff_text || api_parse_id(tariff_text, &in.tariff_id) < 0) {
		http_reply_problem(request, 400, "invalid-reprice",
				   "name the closed period and the tariff: "
				   "?period=YYYY-MM&tariff_id=N (a tariff's id)");
		return;
	}
	shared = calloc(1, sizeof(*shared));
	if (!shared) {
		http_reply_problem(request, 503, "out-of-memory", "the server is short of memory");
		return;
	}
	if (ledger_reprice_new(&api->ledger, &in, &shared->reading, &err) < 0) {
		free(shared);
		api_reply_ledger_error(request, &err);
		return;
	}
	shared->refs = 1;
	job = job_start(api, request, API_JOB_REPRICE);
	if (!job) {
		shared_run_unref(shared);
		return;
	}
	job->shared = shared;
}

/* The impact of the tariff the path names: at once when it is known, else
 * from a job that computes it, or waits for the one that does. */
void api_tariff_impact(struct api *api, struct http_request *request, const struct api_call *call)
{
	struct ledger_impact_request in = {
		.drafts = call->principal.role == AUTH_ROLE_ADMIN,
		.household_id =
			call->principal.role == AUTH_ROLE_ADMIN ? 0 : call->principal.household_id,
	};
	struct shared_impact *shared;
	struct ledger_error err;
	char *document;
	json_t *body;
	struct job *job;

	if (api_parse_id(call->params.values[0], &in.tariff_id) < 0) {
		api_reply_load_error(request, -EINVAL, "tariff", call->params.values[0]);
		return;
	}
	if (ledger_impact_check(&api->ledger, &in, &err) < 0) {
		api_reply_ledger_error(request, &err);
		return;
	}
	for (shared = api->impacts; shared && shared->tariff_id != in.tariff_id;
	     shared = shared->next)
		;
	if (shared && shared->done) {
		if (ledger_impact_document(shared->impact, &in, &document, &err) < 0) {
			api_reply_ledger_error(request, &err);
			return;
		}
		body = json_loads(document, 0, NULL);
		free(document);
		if (!body)
			http_reply_problem(request, 503, "out-of-memory",
					   "the server is short of memory");
		else
			http_reply_json(request, 200, body);
		return;
	}
	if (!shared) {
		shared = calloc(1, sizeof(*shared));
		if (!shared) {
			http_reply_problem(request, 503, "out-of-memory",
					   "the server is short of memory");
			return;
		}
		if (ledger_impact_new(&api->ledger, in.tariff_id, &shared->impact, &err) < 0) {
			free(shared);
			api_reply_ledger_error(request, &err);
			return;
		}
		shared->tariff_id = in.tariff_id;
		shared->refs = 1;
		shared->next = api->impacts;
		api->impacts = shared;
	}
	job = job_start(api, request, API_JOB_IMPACT);
	if (!job)
		return;
	job->impact = shared_impact_ref(shared);
	job->impact_request = in;
}

/* Publishes the draft the path names, once its label's profiles are read;
 * what the publish refuses is refused first. */
void api_tariff_publish(struct api *api, struct http_request *request, const struct api_call *call)
{
	struct ledger_tariff_publish_request in = { 0 };
	struct ledger_label *label;
	struct ledger_error err;
	struct job *job;

	if (api_parse_id(call->params.values[0], &in.id) < 0) {
		api_reply_load_error(request, -EINVAL, "tariff", call->params.values[0]);
		return;
	}
	ledger_today(&api->ledger, &in.today);
	if (ledger_tariff_publish_check(&api->ledger, &in, &err) < 0 ||
	    ledger_label_new(&api->ledger, &label, &err) < 0) {
		api_reply_ledger_error(request, &err);
		return;
	}
	job = job_start(api, request, API_JOB_PUBLISH);
	if (!job) {
		ledger_label_free(label);
		return;
	}
	job->label = label;
	job->tariff_id = in.id;
}

void api_periods_free(struct api *api)
{
	shared_run_unref(api->open_run);
	api->open_run = NULL;
	impacts_forget(api);
}
