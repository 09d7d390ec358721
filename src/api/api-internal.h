/* What the api module's files share: the api struct, the call context each
 * handler gets, and the handlers themselves. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "coopbill/api.h"
#include "coopbill/auth.h"
#include "coopbill/date.h"
#include "coopbill/diag.h"
#include "coopbill/http.h"
#include "coopbill/ledger.h"
#include "coopbill/meter.h"
#include "coopbill/period.h"
#include "coopbill/store.h"
#include "coopbill/tz.h"

struct api_call;
struct job;
struct shared_impact;
struct shared_run;

/* The kinds of long work that run as jobs (src/api/periods.c). */
enum api_job_kind {
	API_JOB_CLOSE,
	API_JOB_ESTIMATE,
	API_JOB_SUMMARY,
	API_JOB_REPRICE,
	API_JOB_IMPACT,
	API_JOB_PUBLISH,
	API_JOB_KINDS,
};

/* Requests are counted by route (slot), method and status. A route slot is
 * API_SLOT_UNMATCHED for an API path no route has, API_SLOT_PAGE for the
 * member page's files, or API_SLOT_ROUTES plus the index of a route whose
 * pattern the path matches (/metrics adds up the routes of one pattern): a
 * client cannot add to the series. */
enum {
	API_SLOT_UNMATCHED,
	API_SLOT_PAGE,
	API_SLOT_ROUTES,
};
enum api_method {
	API_GET,
	API_HEAD,
	API_POST,
	API_PUT,
	API_PATCH,
	API_DELETE,
	API_OPTIONS,
	API_METHOD_OTHER,
	API_METHODS,
};
/* The upper bounds of the request duration histogram's buckets. */
#define API_DURATION_BUCKETS 16
extern const uint64_t api_duration_bounds_ns[API_DURATION_BUCKETS];
struct api_route_stats {
	uint64_t requests[API_METHODS][HTTP_STATUSES + 1];
	/* Requests by the first bucket that holds their duration (the last:
	 * longer than every bound), and the durations' sum. */
	uint64_t durations[API_DURATION_BUCKETS + 1];
	uint64_t duration_sum_ns;
};
/* The number of route slots, and each one's label: the route's pattern,
 * "page" or "unmatched". */
size_t api_route_slots(void);
const char *api_route_slot_name(size_t slot);
/* "GET", ..., "OPTIONS", "other". */
const char *api_method_name(enum api_method method);
/* A request ended (src/api/requests.c): counted in its route slot, and
 * logged when the treasurer changed something or it was refused. call is
 * NULL for a request refused before admit. */
void api_request_ended(struct api *api, struct http_request *request, size_t slot,
		       const struct api_call *call);

/* The last healthy reply of /healthz, its JSON text with what it said
 * (src/api/health.c). */
struct api_health {
	const char *status;
	unsigned schema_version;
	struct meter_status meter;
	char *text;
	size_t len;
};

/* A household's usage series as replied, kept while nothing is committed
 * to the database (src/api/usage.c): the same question, asked again by the
 * member page opened again or on another of the household's devices, or
 * by a client in a loop, is then answered without reading the database or
 * working out the points.
 * A series is a function of the database, the question and the
 * configuration: a commit, by any process, or a reload forgets them all. */
#define API_USAGE_KEPT	       16
#define API_USAGE_KEPT_MAX_LEN (64 * 1024)
struct api_usage_kept {
	int64_t household_id, from, to;
	int step;
	bool csv;
	char *text;
	size_t len;
};

struct api {
	uv_loop_t *loop;
	/* The database, log, configuration and meter the handlers work with. */
	struct ledger ledger;
	/* Jobs in progress, and the period being closed (one at a time). */
	struct job *jobs;
	struct job *closing;
	/* How long the last close that finished took, from its request; 0
	 * before the first. */
	uint64_t last_close_ns;
	/* The latest reading of the open period's usage, for estimates. */
	struct shared_run *open_run;
	/* The impacts of tariffs computed, or being computed, since the last
	 * close finished. */
	struct shared_impact *impacts;
	/* Requests since the start, by route slot; and the lines logging the
	 * refused ones. */
	struct api_route_stats *route_stats;
	struct diag_limit refusals_log;
	struct api_health health;
	/* The series kept, and the version of the database they were read at. */
	struct store_version usage_version;
	struct api_usage_kept usage_kept[API_USAGE_KEPT];
	size_t n_usage_kept;
	size_t usage_kept_next; /* the slot the next series kept goes to */
};

/* Forgets the usage series kept (src/api/usage.c). */
void api_usage_forget(struct api *api);

struct api_call {
	struct auth_principal principal;
	struct http_params params;
	/* "token:<id>", for the audit trail. */
	char actor[32];
};

typedef void (*api_handler_fn)(struct api *api, struct http_request *request,
			       const struct api_call *call);

/* Parses a non-negative decimal number, and a positive id, from a path
 * segment or query parameter. */
int api_parse_count(const char *text, int64_t *ret_value);
int api_parse_id(const char *text, int64_t *ret_id);
/* Replaces the JSON text stored in row[key] with its parsed value (null
 * when it does not parse); returns row. */
json_t *api_json_column(json_t *row, const char *key);
/* Parses a billing period "YYYY-MM"; replies 400 and returns -EINVAL when it
 * is not one. */
int api_parse_period(struct http_request *request, const char *text, struct period *ret_period);
/* An entry's inclusion proof against the latest checkpoint, with the entry
 * and the signed checkpoint, as members check it. */
int api_tlog_inclusion_proof(struct api *api, int64_t index, json_t **ret_proof);
/* Stops the jobs in progress, each answering 503 (the daemon is stopping):
 * a period being closed keeps what it wrote. */
void api_jobs_stop(struct api *api);
/* The name of a kind of job ("close"), and how many of that kind run. */
const char *api_job_kind_name(enum api_job_kind kind);
unsigned api_jobs_running(const struct api *api, enum api_job_kind kind);
/* Drops the kept reading of the open period and the impacts kept (jobs
 * using them keep theirs). */
void api_periods_free(struct api *api);
/* Checks a free-text field: 1 to max_bytes bytes, no control characters.
 * Replies 400 with problem type_slug and returns false when it is not. */
bool api_text_valid(struct http_request *request, const char *type_slug, const char *field,
		    const char *text, size_t max_bytes);
/* Unpacks a request body strictly (see http_json_unpack); replies 400 with
 * problem type_slug, the reason and the expected shape, and returns false,
 * when it does not fit. */
bool api_body_unpack(struct http_request *request, json_t *body, const char *type_slug,
		     const char *shape, const struct http_json_field *fields, size_t n_fields);
/* Checks that a household exists; replies 404 (or 503) and returns an error
 * when there is none. */
int api_household_require(struct api *api, struct http_request *request, int64_t id);
/* The household id the path's {id} names, or a 404 reply. */
int api_path_household_id(struct http_request *request, const struct api_call *call,
			  int64_t *ret_id);
/* The household named by the path's {id}, which must exist; replies
 * otherwise. */
int api_path_household(struct api *api, struct http_request *request, const struct api_call *call,
		       int64_t *ret_id);
/* Checks that a period takes changes to what it bills: replies 409
 * (period-closed, or close-in-progress from the moment its close begins
 * until it is closed) and returns an error otherwise. prefix starts the
 * detail ("" or "rows[3]: "); what names what is refused ("expense"). */
int api_period_open_require(struct api *api, struct http_request *request, const char *prefix,
			    const char *period, const char *what);
/* Replies 409 close-in-progress and returns an error when a period is
 * being closed that ends after `from` (NULL: any). */
int api_no_close_from(struct api *api, struct http_request *request, const struct date *from,
		      const char *what);
/* Replies to a refused or failed ledger operation: 400, 403, 404, 409, 422,
 * 500 or 503 (unavailable) with its problem type, or 503 for storage (logged)
 * or want of memory. */
void api_reply_ledger_error(struct http_request *request, const struct ledger_error *err);
/* Replies 401 with a WWW-Authenticate challenge. */
void api_reply_unauthorized(struct http_request *request, const char *challenge,
			    const char *detail);
/* Replies 503 for a storage failure, naming what failed. */
void api_reply_store_error(struct http_request *request, int error, const char *what);
/* Replies to a failed read of one thing by its id (a path's text): 404 when
 * there is no such thing or the id is not one (-EINVAL, -ENOENT), 503
 * otherwise. Returns -ENOENT or error. */
int api_reply_load_error(struct http_request *request, int error, const char *noun, const char *id);

void api_health_get(struct api *api, struct http_request *request, const struct api_call *call);
void api_me_get(struct api *api, struct http_request *request, const struct api_call *call);
void api_cooperative_get(struct api *api, struct http_request *request,
			 const struct api_call *call);
void api_households_list(struct api *api, struct http_request *request,
			 const struct api_call *call);
void api_households_create(struct api *api, struct http_request *request,
			   const struct api_call *call);
void api_household_get(struct api *api, struct http_request *request, const struct api_call *call);
void api_household_patch(struct api *api, struct http_request *request,
			 const struct api_call *call);
void api_household_usage(struct api *api, struct http_request *request,
			 const struct api_call *call);
void api_usage_summary(struct api *api, struct http_request *request, const struct api_call *call);
void api_metrics_get(struct api *api, struct http_request *request, const struct api_call *call);
void api_household_tlog_salt(struct api *api, struct http_request *request,
			     const struct api_call *call);
void api_tlog_checkpoint(struct api *api, struct http_request *request,
			 const struct api_call *call);
void api_tlog_key(struct api *api, struct http_request *request, const struct api_call *call);
void api_tlog_entry(struct api *api, struct http_request *request, const struct api_call *call);
void api_tlog_inclusion(struct api *api, struct http_request *request, const struct api_call *call);
void api_tlog_consistency(struct api *api, struct http_request *request,
			  const struct api_call *call);
void api_household_token_create(struct api *api, struct http_request *request,
				const struct api_call *call);
void api_household_tokens_list(struct api *api, struct http_request *request,
			       const struct api_call *call);
void api_household_token_revoke(struct api *api, struct http_request *request,
				const struct api_call *call);
void api_household_tokens_revoke(struct api *api, struct http_request *request,
				 const struct api_call *call);
void api_tokens_list(struct api *api, struct http_request *request, const struct api_call *call);
void api_token_revoke(struct api *api, struct http_request *request, const struct api_call *call);
void api_tariffs_list(struct api *api, struct http_request *request, const struct api_call *call);
void api_tariffs_create(struct api *api, struct http_request *request, const struct api_call *call);
void api_tariff_get(struct api *api, struct http_request *request, const struct api_call *call);
void api_tariff_schema(struct api *api, struct http_request *request, const struct api_call *call);
void api_tariff_publish(struct api *api, struct http_request *request, const struct api_call *call);
/* Replies with the tariff's row after a change. */
void api_reply_tariff(struct api *api, struct http_request *request, unsigned status, int64_t id);
void api_tariff_consult(struct api *api, struct http_request *request, const struct api_call *call);
void api_tariff_replace(struct api *api, struct http_request *request, const struct api_call *call);
void api_tariff_delete(struct api *api, struct http_request *request, const struct api_call *call);
void api_payments_create(struct api *api, struct http_request *request,
			 const struct api_call *call);
void api_payments_list(struct api *api, struct http_request *request, const struct api_call *call);
void api_adjustments_create(struct api *api, struct http_request *request,
			    const struct api_call *call);
void api_household_ledger(struct api *api, struct http_request *request,
			  const struct api_call *call);
void api_expenses_create(struct api *api, struct http_request *request,
			 const struct api_call *call);
void api_expenses_list(struct api *api, struct http_request *request, const struct api_call *call);
void api_period_close(struct api *api, struct http_request *request, const struct api_call *call);
void api_period_summary(struct api *api, struct http_request *request, const struct api_call *call);
void api_period_invoices(struct api *api, struct http_request *request,
			 const struct api_call *call);
void api_household_estimate(struct api *api, struct http_request *request,
			    const struct api_call *call);
void api_household_reprice(struct api *api, struct http_request *request,
			   const struct api_call *call);
void api_tariff_quote(struct api *api, struct http_request *request, const struct api_call *call);
void api_tariff_impact(struct api *api, struct http_request *request, const struct api_call *call);
void api_tariff_label(struct api *api, struct http_request *request, const struct api_call *call);
void api_household_invoices(struct api *api, struct http_request *request,
			    const struct api_call *call);
void api_household_invoice(struct api *api, struct http_request *request,
			   const struct api_call *call);
void api_usage_import(struct api *api, struct http_request *request, const struct api_call *call);
