/* The route table and dispatch: find the route, answer CORS preflights,
 * authenticate the bearer token and check the route's access rule, then call
 * the handler. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api-internal.h"
#include "coopbill/config.h"
#include "coopbill/ledger.h"
#include "coopbill/store.h"

enum api_access {
	/* Anyone, without a token. */
	ACCESS_PUBLIC,
	/* Anyone; a token, when one is sent, must be valid and tells the
	 * handler who calls (the treasurer sees drafts). */
	ACCESS_ANYONE,
	/* Any valid token. */
	ACCESS_TOKEN,
	/* The treasurer. */
	ACCESS_ADMIN,
	/* The treasurer, or the member whose household is the path's {id}
	 * while that household is active. */
	ACCESS_HOUSEHOLD,
	/* The same, and the member also after the household closed: its
	 * bills, and the salt that finds them in the log, stay its own to
	 * read. */
	ACCESS_HOUSEHOLD_BILLS,
	/* Anyone when [server] metrics_public is true, else the treasurer. */
	ACCESS_METRICS,
};

/* The media types of a route's replies, its default first (content
 * negotiation picks one from the Accept header). */
static const char *const as_json[] = { "application/json", NULL };
static const char *const as_json_or_csv[] = { "application/json", "text/csv", NULL };
static const char *const as_text[] = { "text/plain", NULL };
static const char *const as_schema[] = { "application/schema+json", NULL };

struct api_route {
	const char *method;
	const char *pattern;
	enum api_access access;
	api_handler_fn handler;
	const char *const *formats;
};

static const struct api_route routes[] = {
	{ "GET", "/healthz", ACCESS_PUBLIC, api_health_get, as_json },
	{ "GET", "/api/v1/me", ACCESS_TOKEN, api_me_get, as_json },
	{ "GET", "/api/v1/cooperative", ACCESS_PUBLIC, api_cooperative_get, as_json },
	{ "GET", "/api/v1/households", ACCESS_ADMIN, api_households_list, as_json_or_csv },
	{ "POST", "/api/v1/households", ACCESS_ADMIN, api_households_create, as_json },
	{ "GET", "/api/v1/households/{id}", ACCESS_HOUSEHOLD, api_household_get, as_json },
	{ "PATCH", "/api/v1/households/{id}", ACCESS_HOUSEHOLD, api_household_patch, as_json },
	{ "POST", "/api/v1/households/{id}/tokens", ACCESS_ADMIN, api_household_token_create,
	  as_json },
	{ "GET", "/api/v1/households/{id}/tokens", ACCESS_HOUSEHOLD, api_household_tokens_list,
	  as_json },
	{ "DELETE", "/api/v1/households/{id}/tokens", ACCESS_HOUSEHOLD, api_household_tokens_revoke,
	  as_json },
	{ "DELETE", "/api/v1/households/{id}/tokens/{token_id}", ACCESS_HOUSEHOLD,
	  api_household_token_revoke, as_json },
	{ "GET", "/api/v1/tokens", ACCESS_ADMIN, api_tokens_list, as_json },
	{ "DELETE", "/api/v1/tokens/{token_id}", ACCESS_ADMIN, api_token_revoke, as_json },
	{ "GET", "/api/v1/households/{id}/usage", ACCESS_HOUSEHOLD, api_household_usage,
	  as_json_or_csv },
	{ "GET", "/api/v1/usage/summary", ACCESS_ADMIN, api_usage_summary, as_json_or_csv },
	{ "GET", "/api/v1/households/{id}/log-salt", ACCESS_HOUSEHOLD_BILLS,
	  api_household_tlog_salt, as_json },
	{ "GET", "/metrics", ACCESS_METRICS, api_metrics_get, as_text },
	{ "GET", "/api/v1/log/checkpoint", ACCESS_PUBLIC, api_tlog_checkpoint, as_text },
	{ "GET", "/api/v1/log/key", ACCESS_PUBLIC, api_tlog_key, as_text },
	{ "GET", "/api/v1/log/entries/{index}", ACCESS_PUBLIC, api_tlog_entry, as_json },
	{ "GET", "/api/v1/log/proof/inclusion", ACCESS_PUBLIC, api_tlog_inclusion, as_json },
	{ "GET", "/api/v1/log/proof/consistency", ACCESS_PUBLIC, api_tlog_consistency, as_json },
	{ "GET", "/api/v1/tariffs", ACCESS_ANYONE, api_tariffs_list, as_json },
	{ "POST", "/api/v1/tariffs", ACCESS_ADMIN, api_tariffs_create, as_json },
	{ "GET", "/api/v1/tariffs/schema", ACCESS_PUBLIC, api_tariff_schema, as_schema },
	{ "GET", "/api/v1/tariffs/{id}", ACCESS_ANYONE, api_tariff_get, as_json },
	{ "PUT", "/api/v1/tariffs/{id}", ACCESS_ADMIN, api_tariff_replace, as_json },
	{ "DELETE", "/api/v1/tariffs/{id}", ACCESS_ADMIN, api_tariff_delete, as_json },
	{ "POST", "/api/v1/tariffs/{id}/publish", ACCESS_ADMIN, api_tariff_publish, as_json },
	{ "POST", "/api/v1/tariffs/{id}/consult", ACCESS_ADMIN, api_tariff_consult, as_json },
	{ "POST", "/api/v1/tariffs/{id}/quote", ACCESS_ANYONE, api_tariff_quote, as_json },
	{ "GET", "/api/v1/tariffs/{id}/impact", ACCESS_TOKEN, api_tariff_impact, as_json },
	{ "GET", "/api/v1/tariffs/{id}/label", ACCESS_PUBLIC, api_tariff_label, as_json },
	{ "GET", "/api/v1/households/{id}/estimate", ACCESS_HOUSEHOLD, api_household_estimate,
	  as_json },
	{ "GET", "/api/v1/households/{id}/reprice", ACCESS_HOUSEHOLD_BILLS, api_household_reprice,
	  as_json },
	{ "GET", "/api/v1/households/{id}/invoices", ACCESS_HOUSEHOLD_BILLS, api_household_invoices,
	  as_json_or_csv },
	{ "GET", "/api/v1/households/{id}/invoices/{period}", ACCESS_HOUSEHOLD_BILLS,
	  api_household_invoice, as_json_or_csv },
	{ "GET", "/api/v1/households/{id}/ledger", ACCESS_HOUSEHOLD_BILLS, api_household_ledger,
	  as_json_or_csv },
	{ "POST", "/api/v1/payments", ACCESS_ADMIN, api_payments_create, as_json },
	{ "GET", "/api/v1/payments", ACCESS_ADMIN, api_payments_list, as_json_or_csv },
	{ "POST", "/api/v1/adjustments", ACCESS_ADMIN, api_adjustments_create, as_json },
	{ "POST", "/api/v1/expenses", ACCESS_ADMIN, api_expenses_create, as_json },
	{ "GET", "/api/v1/expenses", ACCESS_TOKEN, api_expenses_list, as_json_or_csv },
	{ "POST", "/api/v1/periods/{period}/close", ACCESS_ADMIN, api_period_close, as_json },
	{ "GET", "/api/v1/periods/{period}/summary", ACCESS_TOKEN, api_period_summary,
	  as_json_or_csv },
	{ "GET", "/api/v1/periods/{period}/invoices", ACCESS_ADMIN, api_period_invoices,
	  as_json_or_csv },
	{ "POST", "/api/v1/usage/import", ACCESS_ADMIN, api_usage_import, as_json },
};

#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

size_t api_route_slots(void)
{
	return API_SLOT_ROUTES + N_ROUTES;
}

const char *api_route_slot_name(size_t slot)
{
	if (slot == API_SLOT_UNMATCHED)
		return "unmatched";
	if (slot == API_SLOT_PAGE)
		return "page";
	return routes[slot - API_SLOT_ROUTES].pattern;
}

size_t api_route_count(void)
{
	return N_ROUTES;
}

void api_route_describe(size_t index, const char **ret_method, const char **ret_pattern)
{
	*ret_method = routes[index].method;
	*ret_pattern = routes[index].pattern;
}

int api_new(uv_loop_t *loop, struct store *store, struct meter *meter, struct ledger_tlog *tlog,
	    const struct config *config, struct api **ret_api)
{
	struct api *api = calloc(1, sizeof(*api));

	if (!api)
		return -ENOMEM;
	api->route_stats = calloc(api_route_slots(), sizeof(*api->route_stats));
	if (!api->route_stats) {
		free(api);
		return -ENOMEM;
	}
	api->loop = loop;
	api->ledger = (struct ledger){
		.store = store,
		.tlog = tlog,
		.config = config,
		.meter = meter,
	};
	*ret_api = api;
	return 0;
}

void api_close(struct api *api)
{
	api_jobs_stop(api);
}

void api_free(struct api *api)
{
	if (api) {
		api_periods_free(api);
		free(api->route_stats);
		free(api->health.text);
		api_usage_forget(api);
	}
	free(api);
}

void api_set_config(struct api *api, const struct config *config)
{
	api->ledger.config = config;
	/* A series kept was worked out in the zone, and with the limits, of
	 * the configuration before. */
	api_usage_forget(api);
}

int api_parse_count(const char *text, int64_t *ret_value)
{
	char *end;
	long long value;

	/* Canonical decimal only: no sign, no spaces, no leading zeros. */
	if (!text || *text < '0' || *text > '9' || (text[0] == '0' && text[1]))
		return -EINVAL;
	errno = 0;
	value = strtoll(text, &end, 10);
	if (errno || *end != '\0')
		return -EINVAL;
	*ret_value = value;
	return 0;
}

int api_parse_id(const char *text, int64_t *ret_id)
{
	int64_t id;
	int r;

	r = api_parse_count(text, &id);
	if (r < 0 || id == 0)
		return -EINVAL;
	*ret_id = id;
	return 0;
}

json_t *api_json_column(json_t *row, const char *key)
{
	json_t *value = json_loads(json_string_value(json_object_get(row, key)), 0, NULL);

	json_object_set_new(row, key, value ? value : json_null());
	return row;
}

int api_parse_period(struct http_request *request, const char *text, struct period *ret_period)
{
	struct ledger_error err;
	int r;

	r = ledger_period_parse(text, ret_period, &err);
	if (r < 0)
		api_reply_ledger_error(request, &err);
	return r;
}

bool api_text_valid(struct http_request *request, const char *type_slug, const char *field,
		    const char *text, size_t max_bytes)
{
	struct ledger_error err;

	if (ledger_text_require(type_slug, field, text, max_bytes, &err) == 0)
		return true;
	api_reply_ledger_error(request, &err);
	return false;
}

bool api_body_unpack(struct http_request *request, json_t *body, const char *type_slug,
		     const char *shape, const struct http_json_field *fields, size_t n_fields)
{
	char reason[256];

	if (http_json_unpack(body, fields, n_fields, reason, sizeof(reason)) < 0) {
		http_reply_problem(request, 400, type_slug, "%s; expected %s", reason, shape);
		return false;
	}
	return true;
}

int api_household_require(struct api *api, struct http_request *request, int64_t id)
{
	struct ledger_error err;
	int r;

	r = ledger_household_require(&api->ledger, id, &err);
	if (r < 0)
		api_reply_ledger_error(request, &err);
	return r;
}

int api_period_open_require(struct api *api, struct http_request *request, const char *prefix,
			    const char *period, const char *what)
{
	struct ledger_error err;
	int r;

	r = ledger_period_open_require(&api->ledger, prefix, period, what, &err);
	if (r < 0)
		api_reply_ledger_error(request, &err);
	return r;
}

int api_no_close_from(struct api *api, struct http_request *request, const struct date *from,
		      const char *what)
{
	struct ledger_error err;
	int r;

	r = ledger_no_close_from(&api->ledger, from, what, &err);
	if (r < 0)
		api_reply_ledger_error(request, &err);
	return r;
}

void api_reply_ledger_error(struct http_request *request, const struct ledger_error *err)
{
	static const unsigned status[] = {
		[LEDGER_INVALID] = 400,	    [LEDGER_NOT_FOUND] = 404, [LEDGER_FORBIDDEN] = 403,
		[LEDGER_CONFLICT] = 409,    [LEDGER_POLICY] = 422,    [LEDGER_BROKEN] = 500,
		[LEDGER_UNAVAILABLE] = 503,
	};

	if (err->kind == LEDGER_STORAGE && err->error == -ENOMEM) {
		http_reply_problem(request, 503, "out-of-memory", "the server is short of memory");
		return;
	}
	if (err->kind == LEDGER_STORAGE) {
		api_reply_store_error(request, err->error, err->detail);
		return;
	}
	http_reply_problem(request, status[err->kind], err->slug, "%s", err->detail);
}

int api_reply_load_error(struct http_request *request, int error, const char *noun, const char *id)
{
	char what[64];

	if (error == -EINVAL || error == -ENOENT) {
		http_reply_problem(request, 404, "not-found", "there is no %s %s", noun, id);
		return -ENOENT;
	}
	snprintf(what, sizeof(what), "reading the %s", noun);
	api_reply_store_error(request, error, what);
	return error;
}

int api_path_household_id(struct http_request *request, const struct api_call *call,
			  int64_t *ret_id)
{
	if (api_parse_id(call->params.values[0], ret_id) < 0)
		return api_reply_load_error(request, -EINVAL, "household", call->params.values[0]);
	return 0;
}

int api_path_household(struct api *api, struct http_request *request, const struct api_call *call,
		       int64_t *ret_id)
{
	int r = api_path_household_id(request, call, ret_id);

	return r < 0 ? r : api_household_require(api, request, *ret_id);
}

void api_reply_store_error(struct http_request *request, int error, const char *what)
{
	if (error == -EBUSY) {
		http_reply_problem(request, 503, "busy",
				   "the database is busy while %s; try again in a moment", what);
		return;
	}
	/* PostgreSQL out of reach: the daemon connects again by itself. */
	if (error == -ENOTCONN) {
		http_reply_problem(request, 503, "unreachable",
				   "the database cannot be reached while %s; try again in a moment",
				   what);
		return;
	}
	http_reply_problem(request, 503, "storage",
			   "the database failed while %s (%s); the operator should check the "
			   "daemon's log",
			   what, strerror(-error));
}

/* Whether method is one of the comma-separated methods in allow. */
static bool allow_lists(const char *allow, const char *method)
{
	size_t len = strlen(method);

	for (const char *p = allow; *p; p += strspn(p, ", ")) {
		if (strncmp(p, method, len) == 0 && (p[len] == ',' || p[len] == '\0'))
			return true;
		p += strcspn(p, ",");
	}
	return false;
}

/* The methods allowed on a path, as an "Allow" header value, and the
 * index of the first route whose pattern matches it. */
static bool route_allowed_methods(const char *path, char *allow, size_t allow_len,
				  size_t *ret_first)
{
	struct http_params params;
	bool found = false;

	allow[0] = '\0';
	for (size_t i = 0; i < N_ROUTES; i++) {
		/* A path two patterns match (/tariffs/schema, /tariffs/{id})
		 * names each method once. */
		if (!http_path_match(routes[i].pattern, path, &params) ||
		    allow_lists(allow, routes[i].method))
			continue;
		if (!found)
			*ret_first = i;
		if (found)
			strncat(allow, ", ", allow_len - strlen(allow) - 1);
		strncat(allow, routes[i].method, allow_len - strlen(allow) - 1);
		if (strcmp(routes[i].method, "GET") == 0)
			strncat(allow, ", HEAD", allow_len - strlen(allow) - 1);
		found = true;
	}
	if (found)
		strncat(allow, ", OPTIONS", allow_len - strlen(allow) - 1);
	return found;
}

static const struct api_route *route_find(const char *method, const char *path,
					  struct http_params *ret_params)
{
	/* HEAD is GET without the body, which MHD drops. */
	if (strcmp(method, "HEAD") == 0)
		method = "GET";
	for (size_t i = 0; i < N_ROUTES; i++)
		if (strcmp(routes[i].method, method) == 0 &&
		    http_path_match(routes[i].pattern, path, ret_params))
			return &routes[i];
	return NULL;
}

static void reply_preflight(struct api *api, struct http_request *request, const char *allow)
{
	const char *origin = http_request_header(request, "Origin");

	if (origin && !config_cors_allows(api->ledger.config, origin)) {
		http_reply_problem(request, 403, "cors-origin",
				   "the origin %s is not allowed; the operator can add it to "
				   "[server] cors_origins",
				   origin);
		return;
	}
	http_reply_empty(request, 204);
	http_reply_header(request, "Allow", allow);
	if (origin) {
		http_reply_header(request, "Access-Control-Allow-Methods", allow);
		http_reply_header(request, "Access-Control-Allow-Headers",
				  "Authorization, Content-Type");
		http_reply_header(request, "Access-Control-Max-Age", "600");
	}
}

void api_reply_unauthorized(struct http_request *request, const char *challenge, const char *detail)
{
	http_reply_problem(request, 401, "unauthorized", "%s", detail);
	http_reply_header(request, "WWW-Authenticate", challenge);
}

static bool call_authenticate(struct api *api, struct http_request *request, struct api_call *call)
{
	int r = auth_authenticate(api->ledger.store, http_request_header(request, "Authorization"),
				  (int64_t)time(NULL), &call->principal);

	if (r == -EINVAL) {
		api_reply_unauthorized(request,
				       "Bearer realm=\"coopbill\", error=\"invalid_request\"",
				       "the Authorization header must be \"Bearer <token>\"");
		return false;
	}
	if (r == -EACCES) {
		api_reply_unauthorized(request,
				       "Bearer realm=\"coopbill\", error=\"invalid_token\"",
				       "this token is not known; ask the treasurer for a new one");
		return false;
	}
	if (r == -EKEYREVOKED) {
		api_reply_unauthorized(request,
				       "Bearer realm=\"coopbill\", error=\"invalid_token\"",
				       "this token was revoked; ask the treasurer for a new one");
		return false;
	}
	if (r < 0) {
		api_reply_store_error(request, r, "checking the token");
		return false;
	}
	snprintf(call->actor, sizeof(call->actor), "token:%lld",
		 (long long)call->principal.token_id);
	return true;
}

/* Leaving the cooperative ends a member's say in it and its view of the
 * household: its member token reads the household's invoices, ledger and
 * log salt only. */
static bool member_household_active(struct api *api, struct http_request *request,
				    enum api_access access, const struct api_call *call)
{
	int64_t household_id = call->principal.household_id;
	struct household *household;
	bool active;
	int r;

	if (access == ACCESS_HOUSEHOLD_BILLS)
		return true;
	r = store_household_get(api->ledger.store, household_id, &household);
	if (r < 0) {
		api_reply_load_error(request, r, "household", call->params.values[0]);
		return false;
	}
	active = household->status == HOUSEHOLD_ACTIVE;
	store_household_free(household);
	if (!active)
		http_reply_problem(
			request, 403, "forbidden",
			"household %lld is closed: its member token may read its invoices, "
			"ledger and log salt, nothing else",
			(long long)household_id);
	return active;
}

static bool call_permitted(struct api *api, struct http_request *request, enum api_access access,
			   const struct api_call *call)
{
	const struct auth_principal *who = &call->principal;
	int64_t household_id;

	if (who->role == AUTH_ROLE_NONE) {
		api_reply_unauthorized(
			request, "Bearer realm=\"coopbill\"",
			"this needs a token: send \"Authorization: Bearer <token>\"");
		return false;
	}
	if (access == ACCESS_TOKEN || who->role == AUTH_ROLE_ADMIN)
		return true;
	if ((access == ACCESS_HOUSEHOLD || access == ACCESS_HOUSEHOLD_BILLS) &&
	    api_parse_id(call->params.values[0], &household_id) == 0 &&
	    household_id == who->household_id)
		return member_household_active(api, request, access, call);
	http_reply_problem(request, 403, "forbidden",
			   access == ACCESS_ADMIN
				   ? "only the treasurer's (admin) token may do this"
				   : "a member token may only read its own household");
	return false;
}

/* What api_admit() found, for api_dispatch() and api_done(). */
struct api_admission {
	const struct api_route *route;
	struct api_call call;
	size_t slot;
};

/* Paths outside the API are the member page's files. */
static bool page_path(const char *path)
{
	return strcmp(path, "/api") != 0 && strncmp(path, "/api/", 5) != 0;
}

/* The route slot of a path (see api-internal.h), and the methods allowed
 * on it, as an "Allow" header value; false when no route has the path. */
static bool path_slot(const char *path, char *allow, size_t allow_len, size_t *ret_slot)
{
	size_t first;

	if (route_allowed_methods(path, allow, allow_len, &first)) {
		*ret_slot = API_SLOT_ROUTES + first;
		return true;
	}
	*ret_slot = page_path(path) ? API_SLOT_PAGE : API_SLOT_UNMATCHED;
	return false;
}

static void reply_page(struct api *api, struct http_request *request, const char *method)
{
	if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) {
		http_reply_file(request, api->ledger.config->www_dir);
		return;
	}
	http_reply_problem(request, 405, "method-not-allowed",
			   "%s is not allowed on the member page's files; allowed: GET, HEAD",
			   method);
	http_reply_header(request, "Allow", "GET, HEAD");
}

/* A request's work on PostgreSQL: on a fiber, so that the loop serves
 * others while it waits for the database; the connection waits, deferred,
 * meanwhile. A step that holds the store runs after the fibers that took
 * it before, alone with it to its end, as it would on the loop. */
struct api_step {
	struct api *api;
	struct http_request *request;
	void (*fn)(struct api *api, struct http_request *request);
	bool gone;
};

static void step_run(void *data)
{
	struct api_step *step = data;

	step->fn(step->api, step->request);
}

static void step_gone(void *data)
{
	((struct api_step *)data)->gone = true;
}

/* The step ended: the connection goes on, unless a job took the request
 * on (periods.c), which resumes it itself. */
static void step_done(void *data)
{
	struct api_step *step = data;

	if (!step->gone && http_request_deferred_for(step->request, step))
		http_request_resume(step->request);
	free(step);
}

static void api_step(struct api *api, struct http_request *request,
		     void (*fn)(struct api *api, struct http_request *request), bool hold)
{
	struct api_step *step;

	step = store_waits(api->ledger.store) ? calloc(1, sizeof(*step)) : NULL;
	if (!step) {
		fn(api, request);
		return;
	}
	*step = (struct api_step){ .api = api, .request = request, .fn = fn };
	/* Deferred before it runs: a job it starts defers it again. */
	http_request_defer(request, step_gone, step);
	if (store_work(api->ledger.store, hold, step_run, step_done, step))
		return;
	/* It ended without waiting: the reply goes as if it had not deferred. */
	if (http_request_deferred_for(request, step))
		http_request_undefer(request);
	free(step);
}

/* Who may call a route: /metrics is public when configured so. */
static enum api_access route_access(const struct api *api, const struct api_route *route)
{
	if (route->access == ACCESS_METRICS)
		return api->ledger.config->metrics_public ? ACCESS_PUBLIC : ACCESS_ADMIN;
	return route->access;
}

/* The part of the admission that reads the database: who asks, and may
 * they. */
static void admit_caller(struct api *api, struct http_request *request)
{
	struct api_admission *admission = http_request_data(request);
	enum api_access access = route_access(api, admission->route);

	if (!call_authenticate(api, request, &admission->call) ||
	    (access != ACCESS_ANYONE && !call_permitted(api, request, access, &admission->call)))
		return;
	/* Replies 406 when the Accept header allows none of the route's forms. */
	http_request_negotiate(request, admission->route->formats);
}

void api_admit(struct http_request *request, void *userdata)
{
	struct api *api = userdata;
	const char *method = http_request_method(request);
	const char *path = http_request_path(request);
	struct api_admission *admission;
	char allow[128];

	admission = calloc(1, sizeof(*admission));
	if (!admission) {
		http_reply_problem(request, 503, "out-of-memory",
				   "the server is short of memory; try again later");
		return;
	}
	http_request_set_data(request, admission);
	/* The path's allowed methods are worked out only for the replies that
	 * name them (OPTIONS, 404, 405): a request for a route finds it alone,
	 * and is counted in its slot. */
	if (strcmp(method, "OPTIONS") != 0)
		admission->route = route_find(method, path, &admission->call.params);
	if (admission->route) {
		admission->slot = API_SLOT_ROUTES + (size_t)(admission->route - routes);
	} else if (!path_slot(path, allow, sizeof(allow), &admission->slot)) {
		if (page_path(path)) {
			reply_page(api, request, method);
			return;
		}
		http_reply_problem(request, 404, "not-found",
				   "there is no resource at %s; see docs/openapi.yaml for the API",
				   path);
		return;
	} else {
		if (strcmp(method, "OPTIONS") == 0) {
			reply_preflight(api, request, allow);
			return;
		}
		http_reply_problem(request, 405, "method-not-allowed",
				   "%s is not allowed on %s; allowed: %s", method, path, allow);
		http_reply_header(request, "Allow", allow);
		return;
	}
	/* A log that does not verify means the database was edited, and one
	 * restored to before what was published cannot sign: nothing it holds
	 * can be vouched for. Only /healthz answers, to say so. */
	if (admission->route->handler != api_health_get && ledger_tlog_problem(api->ledger.tlog)) {
		http_reply_problem(request, 503, "log-broken",
				   "the transparency log cannot be served: %s",
				   ledger_tlog_problem(api->ledger.tlog));
		return;
	}
	/* Public routes read no token: admitted at once, whatever the
	 * database is doing. */
	if (route_access(api, admission->route) == ACCESS_PUBLIC)
		http_request_negotiate(request, admission->route->formats);
	else
		api_step(api, request, admit_caller, true);
}

static void dispatch_handler(struct api *api, struct http_request *request)
{
	const struct api_admission *admission = http_request_data(request);

	admission->route->handler(api, request, &admission->call);
	/* Whatever a write changed, the kept reading of the open period may no
	 * longer show it. */
	if (strcmp(admission->route->method, "GET") != 0)
		api_periods_free(api);
}

void api_dispatch(struct http_request *request, void *userdata)
{
	struct api *api = userdata;
	const struct api_admission *admission = http_request_data(request);

	api_handler_fn handler = admission->route->handler;

	/* What answers from memory alone answers at once; /healthz does not
	 * wait its turn behind a fiber that waits for the database:
	 * store_ping() says how that fiber fares. */
	if (handler == api_cooperative_get || handler == api_tlog_key ||
	    handler == api_tariff_schema)
		dispatch_handler(api, request);
	else
		api_step(api, request, dispatch_handler, handler != api_health_get);
}

void api_done(struct http_request *request, void *userdata)
{
	const struct api_admission *admission = http_request_data(request);
	char allow[128];
	size_t slot;

	/* Refused before admit: found the way admit would have. */
	if (admission)
		slot = admission->slot;
	else
		path_slot(http_request_path(request), allow, sizeof(allow), &slot);
	api_request_ended(userdata, request, slot, admission ? &admission->call : NULL);
}
