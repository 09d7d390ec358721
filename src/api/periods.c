/* Billing periods: closing one issues every active household's invoice (a
 * ledger debit and a log entry each); a member's running estimate of the open
 * period; and the cooperative's totals for a period, aggregates only.
 *
 * All three read a month of everyone's usage, which takes seconds for
 * thousands of households: they run as jobs in slices of at most
 * JOB_SLICE_NS on an idle handle, so that the loop serves requests and polls
 * the meter in between, and answer when done. A finished reading of the open
 * period is kept for OPEN_RUN_FRESH_NS and shared by the estimates and
 * summaries that follow. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api-internal.h"
#include "coopbill/bill.h"
#include "coopbill/config.h"
#include "coopbill/ledger.h"
#include "coopbill/money.h"
#include "coopbill/store.h"

/* Invoices written per transaction, and the time one slice may take. */
#define CLOSE_BATCH	  256
#define JOB_SLICE_NS	  (20 * 1000 * 1000)
#define OPEN_RUN_FRESH_NS (60ull * 1000 * 1000 * 1000)

/* A reading of a period's usage, shared by the jobs that use it. */
struct shared_run {
	struct bill_run *run;
	struct period period;
	unsigned refs;
	uint64_t done_ns; /* when its scan finished; 0 while scanning */
};

enum job_kind {
	JOB_CLOSE,
	JOB_ESTIMATE,
	JOB_SUMMARY,
};

/* What a period's invoices add up to. */
struct totals {
	json_t *revenue_by_kind;
	int64_t revenue_minor;
	int64_t bytes_up, bytes_down;
	int64_t households;
};

struct job {
	struct api *api;
	enum job_kind kind;
	struct http_request *request; /* NULL once the client is gone */
	struct shared_run *shared;
	char period[PERIOD_TEXT_MAX];
	char actor[32];
	int64_t household_id; /* the estimate's */
	size_t next;	      /* the next member to bill or add up */
	struct totals totals;
	uv_idle_t idle;
	struct job *next_job; /* in api->jobs */
};

static struct shared_run *shared_run_ref(struct shared_run *shared)
{
	shared->refs++;
	return shared;
}

static void shared_run_unref(struct shared_run *shared)
{
	if (!shared || --shared->refs > 0)
		return;
	bill_run_free(shared->run);
	free(shared);
}

static void on_job_closed(uv_handle_t *handle)
{
	struct job *job = handle->data;

	shared_run_unref(job->shared);
	json_decref(job->totals.revenue_by_kind);
	free(job);
}

static void job_finish(struct job *job)
{
	struct job **link = &job->api->jobs;

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
	api_reply_document(job->request, body);
	job_resume(job);
}

static void job_fail(struct job *job, int error, const char *what)
{
	if (!job->request)
		return;
	if (error == -ERANGE)
		http_reply_problem(job->request, 500, "overflow",
				   "an amount does not fit in 64 bits while %s", what);
	else
		api_reply_store_error(job->request, error, what);
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
			if (job->kind == JOB_CLOSE)
				http_reply_problem(job->request, 503, "stopping",
						   "the daemon is stopping; what was closed so far "
						   "is kept, and closing %s again finishes it",
						   job->period);
			else
				http_reply_problem(job->request, 503, "stopping",
						   "the daemon is stopping; ask again once it is "
						   "back");
			job_resume(job);
		}
		job_finish(job);
	}
}

/* Adds an invoice's line amounts by kind and its bytes to the totals. */
static int totals_add(struct totals *totals, const json_t *document)
{
	const json_t *usage = json_object_get(document, "usage");
	json_t *line;
	size_t i;
	int r;

	json_array_foreach(json_object_get(document, "lines"), i, line)
	{
		const char *kind = json_string_value(json_object_get(line, "kind"));
		int64_t sum = json_integer_value(json_object_get(totals->revenue_by_kind, kind));

		r = money_add(sum, json_integer_value(json_object_get(line, "amount_minor")), &sum);
		if (r < 0)
			return r;
		json_object_set_new(totals->revenue_by_kind, kind, json_integer(sum));
	}
	totals->households++;
	if ((r = money_add(totals->revenue_minor,
			   json_integer_value(json_object_get(document, "total_minor")),
			   &totals->revenue_minor)) < 0 ||
	    (r = money_add(totals->bytes_up, json_integer_value(json_object_get(usage, "bytes_up")),
			   &totals->bytes_up)) < 0)
		return r;
	return money_add(totals->bytes_down,
			 json_integer_value(json_object_get(usage, "bytes_down")),
			 &totals->bytes_down);
}

/* The period's summary: its invoices' totals, its expenses, and the cost
 * sharing figures. Aggregates only. */
static int summary_json(struct job *job, bool closed, json_t **ret_summary)
{
	struct api *api = job->api;
	json_t *expenses, *by_category = json_object(), *row;
	int64_t expense_total = 0;
	size_t i;
	int r;

	r = store_expenses_list(api->ledger.store, job->period, &expenses);
	if (r < 0) {
		json_decref(by_category);
		return r;
	}
	json_array_foreach(expenses, i, row)
	{
		const char *category = json_string_value(json_object_get(row, "category"));
		int64_t amount = json_integer_value(json_object_get(row, "amount_minor"));
		int64_t sum = json_integer_value(json_object_get(by_category, category));

		if (r == 0)
			r = money_add(sum, amount, &sum);
		if (r == 0)
			r = money_add(expense_total, amount, &expense_total);
		json_object_set_new(by_category, category, json_integer(sum));
	}
	json_decref(expenses);
	if (r < 0) {
		json_decref(by_category);
		return r;
	}
	*ret_summary = json_pack(
		"{s:s, s:s, s:s, s:I, s:I, s:I, s:O, s:I, s:o, s:I, s:o}", "period", job->period,
		"status", closed ? "closed" : "open", "currency", api->ledger.config->currency,
		"households_billed", (json_int_t)job->totals.households, "bytes_up",
		(json_int_t)job->totals.bytes_up, "bytes_down", (json_int_t)job->totals.bytes_down,
		"revenue_by_kind_minor", job->totals.revenue_by_kind, "revenue_minor",
		(json_int_t)job->totals.revenue_minor, "expenses_by_category_minor", by_category,
		"expenses_minor", (json_int_t)expense_total, "cost_sharing",
		bill_run_sharing_json(job->shared->run));
	return *ret_summary ? 0 : -ENOMEM;
}

static void invoice_fields(const struct bill_invoice *invoice, const char *currency, char *fields,
			   size_t size)
{
	char hex[65];

	ledger_sha256_hex(invoice->document, hex);
	snprintf(fields, size,
		 "period %s\ntotal_minor %" PRId64 "\ncurrency %s\ntariff %" PRId64 "\nsha256 %s\n",
		 json_string_value(json_object_get(invoice->json, "period")), invoice->total_minor,
		 currency, invoice->tariff_id, hex);
}

/* Writes one batch: the invoices, their log entries and their ledger debits,
 * in one transaction. */
static int batch_commit(struct job *job, struct bill_invoice *invoices,
			const int64_t *household_ids, size_t n)
{
	struct api *api = job->api;
	char *entries[CLOSE_BATCH] = { 0 }, fields[512];
	int64_t first_index, invoice_id;
	int r;

	r = store_begin(api->ledger.store);
	for (size_t i = 0; r == 0 && i < n; i++) {
		invoice_fields(&invoices[i], api->ledger.config->currency, fields, sizeof(fields));
		r = ledger_tlog_entry_new(api->ledger.tlog, "invoice-issued", household_ids[i],
					  fields, &entries[i]);
	}
	if (r == 0)
		r = ledger_tlog_append(api->ledger.tlog, (const char *const *)entries, n,
				       &first_index);
	for (size_t i = 0; r == 0 && i < n; i++) {
		struct store_ledger_entry debit = {
			.household_id = household_ids[i],
			.kind = "invoice",
			.amount_minor = invoices[i].total_minor,
			.actor = job->actor,
			.log_index = first_index + (int64_t)i,
		};

		r = store_invoice_insert(api->ledger.store, household_ids[i], job->period,
					 invoices[i].tariff_id, invoices[i].total_minor,
					 invoices[i].document, debit.log_index, &invoice_id);
		debit.invoice_id = invoice_id;
		/* A zero invoice owes nothing: the ledger has no zero entries. */
		if (r == 0 && debit.amount_minor != 0)
			r = store_ledger_insert(api->ledger.store, &debit, NULL);
	}
	if (r == 0)
		r = store_commit(api->ledger.store);
	else
		store_rollback(api->ledger.store);
	for (size_t i = 0; i < n; i++)
		free(entries[i]);
	return r;
}

/* The last step of a close: the period's row and its log entry. */
static int close_commit(struct job *job, json_t **ret_row)
{
	struct api *api = job->api;
	json_t *summary = NULL;
	char fields[256], *summary_text = NULL;
	int64_t log_index;
	int r;

	snprintf(fields, sizeof(fields),
		 "period %s\nhouseholds %" PRId64 "\ntotal_minor %" PRId64 "\ncurrency %s\n",
		 job->period, job->totals.households, job->totals.revenue_minor,
		 api->ledger.config->currency);
	r = summary_json(job, true, &summary);
	if (r == 0) {
		summary_text = json_dumps(summary, JSON_COMPACT | JSON_SORT_KEYS);
		r = summary_text ? store_begin(api->ledger.store) : -ENOMEM;
	}
	if (r == 0) {
		r = ledger_tlog_log(api->ledger.tlog, "period-closed", 0, fields, &log_index);
		if (r == 0)
			r = store_period_close_insert(
				api->ledger.store, job->period, job->totals.households,
				job->totals.revenue_minor, summary_text, log_index);
		if (r == 0)
			r = store_commit(api->ledger.store);
		else
			store_rollback(api->ledger.store);
	}
	json_decref(summary);
	free(summary_text);
	if (r == 0)
		r = store_period_close_get(api->ledger.store, job->period, ret_row);
	return r;
}

/* Issues the invoices of the next members, until the slice's deadline. A
 * close that stopped half-way resumes where it was: the invoices issued then
 * are counted, not issued again. */
static int close_step(struct job *job, uint64_t deadline_ns, bool *ret_done)
{
	struct bill_run *run = job->shared->run;
	struct bill_invoice invoices[CLOSE_BATCH];
	int64_t household_ids[CLOSE_BATCH];
	size_t n = 0, count = bill_run_count(run);
	int r = 0;

	while (job->next < count && n < CLOSE_BATCH && uv_hrtime() < deadline_ns) {
		int64_t id = bill_run_household_id(run, job->next);
		json_t *existing, *document;

		r = store_invoice_get(job->api->ledger.store, id, job->period, &existing);
		if (r == 0) {
			document = json_loads(
				json_string_value(json_object_get(existing, "document")), 0, NULL);
			r = document ? totals_add(&job->totals, document) : -EIO;
			json_decref(document);
			json_decref(existing);
			if (r < 0)
				break;
			job->next++;
			continue;
		}
		if (r != -ENOENT)
			break;
		r = bill_run_invoice(run, job->next, &invoices[n]);
		if (r < 0)
			break;
		r = totals_add(&job->totals, invoices[n].json);
		if (r < 0) {
			bill_invoice_clear(&invoices[n]);
			break;
		}
		household_ids[n++] = id;
		job->next++;
	}
	if (r == 0 && n > 0)
		r = batch_commit(job, invoices, household_ids, n);
	for (size_t i = 0; i < n; i++)
		bill_invoice_clear(&invoices[i]);
	*ret_done = r == 0 && job->next >= count;
	return r;
}

/* Rates the next members of an open period for its summary. */
static int summary_step(struct job *job, uint64_t deadline_ns, bool *ret_done)
{
	struct bill_run *run = job->shared->run;
	int r = 0;

	while (r == 0 && job->next < bill_run_count(run) && uv_hrtime() < deadline_ns) {
		struct bill_invoice invoice;

		r = bill_run_invoice(run, job->next++, &invoice);
		if (r == 0) {
			r = totals_add(&job->totals, invoice.json);
			bill_invoice_clear(&invoice);
		}
	}
	*ret_done = r == 0 && job->next >= bill_run_count(run);
	return r;
}

static void estimate_reply(struct job *job)
{
	struct bill_invoice invoice = { 0 };
	size_t index;
	int r;

	if (bill_run_find(job->shared->run, job->household_id, &index) < 0) {
		if (job->request) {
			http_reply_problem(job->request, 409, "not-a-member",
					   "household %" PRId64 " is not a member during %s",
					   job->household_id, job->period);
			job_resume(job);
		}
		return;
	}
	r = bill_run_invoice(job->shared->run, index, &invoice);
	if (r < 0) {
		job_fail(job, r, "making the estimate");
		return;
	}
	/* The usage so far, billed as if the period ended with it. */
	json_object_set_new(invoice.json, "estimate", json_true());
	json_object_set_new(invoice.json, "usage_until_s",
			    json_integer(bill_run_usage_end(job->shared->run)));
	job_reply(job, json_incref(invoice.json));
	bill_invoice_clear(&invoice);
}

/* A period_closes row as the close answers it: the summary as an object. */
static json_t *close_json(json_t *row, bool already_closed)
{
	json_object_set_new(api_json_column(row, "summary"), "already_closed",
			    json_boolean(already_closed));
	return row;
}

/* One slice of a job: read usage until done, then the job's own work. A
 * close goes on without its client; the others stop when theirs is gone. */
static void on_job_idle(uv_idle_t *idle)
{
	struct job *job = idle->data;
	struct api *api = job->api;
	uint64_t deadline_ns = uv_hrtime() + JOB_SLICE_NS;
	json_t *row = NULL;
	bool done = false;
	int r = 0;

	if (!job->request && job->kind != JOB_CLOSE) {
		job_finish(job);
		return;
	}
	if (!job->shared->done_ns) {
		r = bill_run_scan(job->shared->run, deadline_ns, &done);
		if (r == 0 && done) {
			job->shared->done_ns = uv_hrtime();
			/* Later estimates and summaries of the period use it too. */
			if (job->kind != JOB_CLOSE) {
				shared_run_unref(api->open_run);
				api->open_run = shared_run_ref(job->shared);
			}
		}
		done = false;
	} else {
		switch (job->kind) {
		case JOB_ESTIMATE:
			estimate_reply(job);
			done = true;
			break;
		case JOB_SUMMARY:
			r = summary_step(job, deadline_ns, &done);
			if (r == 0 && done)
				r = summary_json(job, false, &row);
			if (r == 0 && done)
				job_reply(job, row);
			break;
		case JOB_CLOSE:
			r = close_step(job, deadline_ns, &done);
			if (r == 0 && done)
				r = close_commit(job, &row);
			if (r == 0 && done)
				job_reply(job, close_json(row, false));
			break;
		}
	}
	if (r < 0)
		job_fail(job, r, job->kind == JOB_CLOSE ? "closing the period" : "reading usage");
	if (r < 0 || done)
		job_finish(job);
}

/* Starts a job on a period; replies itself when it cannot. */
static struct job *job_start(struct api *api, struct http_request *request, enum job_kind kind,
			     const struct period *period, int64_t usage_until_s)
{
	struct shared_run *shared = NULL;
	struct job *job;
	char errbuf[256];
	int r;

	job = calloc(1, sizeof(*job));
	if (job)
		job->totals.revenue_by_kind = json_object();
	if (!job || !job->totals.revenue_by_kind) {
		free(job);
		http_reply_problem(request, 503, "out-of-memory", "the server is short of memory");
		return NULL;
	}
	period_format(period, job->period);
	/* A close always reads afresh; the others may share a recent reading. */
	if (kind != JOB_CLOSE && api->open_run &&
	    memcmp(&api->open_run->period, period, sizeof(*period)) == 0 &&
	    uv_hrtime() - api->open_run->done_ns < OPEN_RUN_FRESH_NS)
		shared = shared_run_ref(api->open_run);
	if (!shared) {
		shared = calloc(1, sizeof(*shared));
		r = shared ? bill_run_new(api->ledger.store, api->ledger.config->zone, period,
					  usage_until_s, &shared->run, errbuf, sizeof(errbuf))
			   : -ENOMEM;
		if (r < 0) {
			free(shared);
			json_decref(job->totals.revenue_by_kind);
			free(job);
			http_reply_problem(request, r == -ENOENT ? 409 : 503,
					   r == -ENOENT ? "no-tariff" : "storage", "%s",
					   r == -ENOMEM ? "the server is short of memory" : errbuf);
			return NULL;
		}
		shared->period = *period;
		shared->refs = 1;
	}
	job->api = api;
	job->kind = kind;
	job->request = request;
	job->shared = shared;
	uv_idle_init(api->loop, &job->idle);
	job->idle.data = job;
	job->next_job = api->jobs;
	api->jobs = job;
	http_request_defer(request, on_request_gone, job);
	uv_idle_start(&job->idle, on_job_idle);
	return job;
}

/* A period can be closed once it has ended in the cooperative's time zone. */
static bool period_ended(const struct tz_zone *zone, struct http_request *request,
			 const struct period *period, const char *text)
{
	int64_t start_s, end_s;

	if (period_bounds(zone, period, &start_s, &end_s) < 0 || end_s > (int64_t)time(NULL)) {
		http_reply_problem(request, 409, "period-open",
				   "period %s has not ended yet; close it once its last day is "
				   "over",
				   text);
		return false;
	}
	return true;
}

void api_period_close(struct api *api, struct http_request *request, const struct api_call *call)
{
	const char *text = call->params.values[0];
	struct period period;
	struct job *job;
	json_t *row;
	int r;

	if (api_parse_period(request, text, &period) < 0 ||
	    !period_ended(api->ledger.config->zone, request, &period, text))
		return;
	r = store_period_close_get(api->ledger.store, text, &row);
	if (r == 0) {
		http_reply_json(request, 200, close_json(row, true));
		return;
	}
	if (r != -ENOENT) {
		api_reply_store_error(request, r, "reading the period");
		return;
	}
	if (api->closing) {
		http_reply_problem(request, 409, "close-in-progress",
				   "period %s is being closed; try again when that is done",
				   api->closing->period);
		return;
	}
	job = job_start(api, request, JOB_CLOSE, &period, INT64_MAX);
	if (!job)
		return;
	/* From here on the period takes no change to what it bills, and its
	 * shared costs are those recorded so far, also if the close is
	 * interrupted and closed again later. */
	r = store_period_close_begin(api->ledger.store, text);
	if (r < 0) {
		job_fail(job, r, "beginning the close");
		job_finish(job);
		return;
	}
	snprintf(job->actor, sizeof(job->actor), "%s", call->actor);
	api->closing = job;
}

void api_period_summary(struct api *api, struct http_request *request, const struct api_call *call)
{
	const char *text = call->params.values[0];
	struct period period;
	json_t *row, *summary;
	int r;

	if (api_parse_period(request, text, &period) < 0)
		return;
	r = store_period_close_get(api->ledger.store, text, &row);
	if (r == 0) {
		summary = json_loads(json_string_value(json_object_get(row, "summary")), 0, NULL);
		json_decref(row);
		if (!summary) {
			http_reply_problem(request, 500, "internal",
					   "the stored summary of %s does not parse", text);
			return;
		}
		api_reply_document(request, summary);
		return;
	}
	if (r != -ENOENT) {
		api_reply_store_error(request, r, "reading the period");
		return;
	}
	job_start(api, request, JOB_SUMMARY, &period, time(NULL));
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
	job = job_start(api, request, JOB_ESTIMATE, &period, time(NULL));
	if (job)
		job->household_id = id;
}

void api_periods_free(struct api *api)
{
	shared_run_unref(api->open_run);
	api->open_run = NULL;
}
