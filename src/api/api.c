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
#include "coopbill/journal.h"
#include "coopbill/store.h"

enum api_access {
	/* Anyone, without a token. */
	ACCESS_PUBLIC,
	/* Any valid token. */
	ACCESS_TOKEN,
	/* The treasurer. */
	ACCESS_ADMIN,
	/* The treasurer, or the member whose household is the path's {id}. */
	ACCESS_HOUSEHOLD,
	/* Anyone when [server] metrics_public is true, else the treasurer. */
	ACCESS_METRICS,
};

struct api_route {
	const char *method;
	const char *pattern;
	enum api_access access;
	api_handler_fn handler;
};

static const struct api_route routes[] = {
	{ "GET", "/healthz", ACCESS_PUBLIC, api_health_get },
	{ "GET", "/api/v1/me", ACCESS_TOKEN, api_me_get },
	{ "GET", "/api/v1/households", ACCESS_ADMIN, api_households_list },
	{ "POST", "/api/v1/households", ACCESS_ADMIN, api_households_create },
	{ "GET", "/api/v1/households/{id}", ACCESS_HOUSEHOLD, api_household_get },
	{ "PATCH", "/api/v1/households/{id}", ACCESS_HOUSEHOLD, api_household_patch },
	{ "POST", "/api/v1/households/{id}/tokens", ACCESS_ADMIN, api_household_token_create },
	{ "GET", "/api/v1/households/{id}/usage", ACCESS_HOUSEHOLD, api_household_usage },
	{ "GET", "/api/v1/usage/summary", ACCESS_ADMIN, api_usage_summary },
	{ "GET", "/api/v1/households/{id}/log-salt", ACCESS_HOUSEHOLD, api_household_log_salt },
	{ "GET", "/metrics", ACCESS_METRICS, api_metrics_get },
	{ "GET", "/api/v1/log/checkpoint", ACCESS_PUBLIC, api_log_checkpoint },
	{ "GET", "/api/v1/log/key", ACCESS_PUBLIC, api_log_key },
	{ "GET", "/api/v1/log/entries/{index}", ACCESS_PUBLIC, api_log_entry },
	{ "GET", "/api/v1/log/proof/inclusion", ACCESS_PUBLIC, api_log_inclusion },
	{ "GET", "/api/v1/log/proof/consistency", ACCESS_PUBLIC, api_log_consistency },
};

#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

size_t api_route_count(void)
{
	return N_ROUTES;
}

void api_route_describe(size_t index, const char **ret_method, const char **ret_pattern)
{
	*ret_method = routes[index].method;
	*ret_pattern = routes[index].pattern;
}

int api_new(struct store *store, struct meter *meter, struct journal *journal,
	    const struct config *config, struct api **ret_api)
{
	struct api *api = calloc(1, sizeof(*api));

	if (!api)
		return -ENOMEM;
	api->store = store;
	api->meter = meter;
	api->journal = journal;
	api->config = config;
	*ret_api = api;
	return 0;
}

void api_free(struct api *api)
{
	free(api);
}

void api_set_config(struct api *api, const struct config *config)
{
	api->config = config;
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

void api_today(char ret_date[11])
{
	time_t now = time(NULL);
	struct tm local;

	/* The daemon runs with TZ set to the cooperative's zone (see main.c). */
	localtime_r(&now, &local);
	strftime(ret_date, 11, "%Y-%m-%d", &local);
}

void api_reply_store_error(struct http_request *request, int error, const char *what)
{
	if (error == -EBUSY) {
		http_reply_problem(request, 503, "busy",
				   "the database is busy while %s; try again in a moment", what);
		return;
	}
	http_reply_problem(request, 503, "storage",
			   "the database failed while %s (%s); the operator should check the "
			   "daemon's log",
			   what, strerror(-error));
}

/* The methods allowed on a path, as an "Allow" header value. */
static bool route_allowed_methods(const char *path, char *allow, size_t allow_len)
{
	struct http_params params;
	bool found = false;

	allow[0] = '\0';
	for (size_t i = 0; i < N_ROUTES; i++) {
		if (!http_path_match(routes[i].pattern, path, &params))
			continue;
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

	if (origin && !config_cors_allows(api->config, origin)) {
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

static void reply_unauthorized(struct http_request *request, const char *challenge,
			       const char *detail)
{
	http_reply_problem(request, 401, "unauthorized", "%s", detail);
	http_reply_header(request, "WWW-Authenticate", challenge);
}

static bool call_authenticate(struct api *api, struct http_request *request, struct api_call *call)
{
	int r = auth_authenticate(api->store, http_request_header(request, "Authorization"),
				  &call->principal);

	if (r == -EINVAL) {
		reply_unauthorized(request, "Bearer realm=\"coopbill\", error=\"invalid_request\"",
				   "the Authorization header must be \"Bearer <token>\"");
		return false;
	}
	if (r == -EACCES) {
		reply_unauthorized(request, "Bearer realm=\"coopbill\", error=\"invalid_token\"",
				   "this token is not known; ask the treasurer for a new one");
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

static bool call_permitted(struct http_request *request, enum api_access access,
			   const struct api_call *call)
{
	const struct auth_principal *who = &call->principal;
	int64_t household_id;

	if (who->role == AUTH_ROLE_NONE) {
		reply_unauthorized(request, "Bearer realm=\"coopbill\"",
				   "this needs a token: send \"Authorization: Bearer <token>\"");
		return false;
	}
	if (access == ACCESS_TOKEN || who->role == AUTH_ROLE_ADMIN)
		return true;
	if (access == ACCESS_HOUSEHOLD &&
	    api_parse_id(call->params.values[0], &household_id) == 0 &&
	    household_id == who->household_id)
		return true;
	http_reply_problem(request, 403, "forbidden",
			   access == ACCESS_ADMIN
				   ? "only the treasurer's (admin) token may do this"
				   : "a member token may only read its own household");
	return false;
}

void api_dispatch(struct http_request *request, void *userdata)
{
	struct api *api = userdata;
	const char *method = http_request_method(request);
	const char *path = http_request_path(request);
	const struct api_route *route;
	struct api_call call = { 0 };
	enum api_access access;
	char allow[128];

	if (!route_allowed_methods(path, allow, sizeof(allow))) {
		http_reply_problem(request, 404, "not-found",
				   "there is no resource at %s; see docs/openapi.yaml for the API",
				   path);
		return;
	}
	if (strcmp(method, "OPTIONS") == 0) {
		reply_preflight(api, request, allow);
		return;
	}
	route = route_find(method, path, &call.params);
	/* A log that does not verify means the database was edited: nothing it
	 * holds can be vouched for. Only /healthz answers, to say so. */
	if (route && route->handler != api_health_get && journal_problem(api->journal)) {
		http_reply_problem(request, 503, "log-broken",
				   "the transparency log does not verify (%s); the operator must "
				   "restore the database from a backup",
				   journal_problem(api->journal));
		return;
	}
	if (!route) {
		http_reply_problem(request, 405, "method-not-allowed",
				   "%s is not allowed on %s; allowed: %s", method, path, allow);
		http_reply_header(request, "Allow", allow);
		return;
	}
	access = route->access;
	if (access == ACCESS_METRICS)
		access = api->config->metrics_public ? ACCESS_PUBLIC : ACCESS_ADMIN;
	if (access != ACCESS_PUBLIC &&
	    (!call_authenticate(api, request, &call) || !call_permitted(request, access, &call)))
		return;
	route->handler(api, request, &call);
}
