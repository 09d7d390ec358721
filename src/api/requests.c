/* Each request as it ends: counted by route, method and status with its
 * duration, for /metrics, and logged in one line when the treasurer changed
 * something or the request was refused. A line says who by token (an admin
 * token's name; a member token by its id and household only, since its
 * name is often the member's), what by method, route and path ids, and why
 * by status and problem type: never a token, a name from the request or an
 * address. */
#include <stdio.h>
#include <string.h>

#include "api-internal.h"
#include "coopbill/store.h"

const uint64_t api_duration_bounds_ns[API_DURATION_BUCKETS] = {
	100000,	  250000,    500000,	1000000,   2500000,    5000000,	   10000000,   25000000,
	50000000, 100000000, 250000000, 500000000, 1000000000, 2500000000, 5000000000, 10000000000,
};

static const char *const method_names[API_METHODS] = {
	[API_GET] = "GET",	   [API_HEAD] = "HEAD",		 [API_POST] = "POST",
	[API_PUT] = "PUT",	   [API_PATCH] = "PATCH",	 [API_DELETE] = "DELETE",
	[API_OPTIONS] = "OPTIONS", [API_METHOD_OTHER] = "other",
};

const char *api_method_name(enum api_method method)
{
	return method_names[method];
}

static enum api_method method_of(const char *method)
{
	enum api_method m = API_GET;

	while (m < API_METHOD_OTHER && strcmp(method_names[m], method) != 0)
		m++;
	return m;
}

/* A value from the path as a log line may show it: an id or a period, or
 * '?' for each other byte. */
static void log_safe(const char *value, char *out, size_t out_size)
{
	size_t i;

	for (i = 0; value[i] && i + 1 < out_size; i++)
		out[i] =
			strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:",
			       value[i])
				? value[i]
				: '?';
	out[i] = '\0';
}

/* "token=3 role=admin name=\"treasurer\"", "token=9 role=member
 * household=7" or "token=none". */
static void describe_who(struct api *api, const struct auth_principal *who, char *out,
			 size_t out_size)
{
	struct store_token token;
	size_t len = 0;

	if (!who || who->role == AUTH_ROLE_NONE) {
		snprintf(out, out_size, "token=none");
		return;
	}
	if (who->role == AUTH_ROLE_MEMBER) {
		snprintf(out, out_size, "token=%lld role=member household=%lld",
			 (long long)who->token_id, (long long)who->household_id);
		return;
	}
	len = (size_t)snprintf(out, out_size, "token=%lld role=admin", (long long)who->token_id);
	if (store_token_get(api->ledger.store, who->token_id, &token) < 0 || len >= out_size)
		return;
	/* The treasurer names admin tokens; quotes and backslashes escaped. */
	len += (size_t)snprintf(out + len, out_size - len, " name=\"");
	for (const char *c = token.name; *c && len + 3 < out_size; c++) {
		if (*c == '"' || *c == '\\')
			out[len++] = '\\';
		out[len++] = *c;
	}
	snprintf(out + len, out_size - len, "\"");
}

/* "method=POST route=/api/v1/households/{id}/tokens id=7": the route's
 * pattern, then each of its parameters as the path gave it. */
static void describe_what(enum api_method method, const char *route,
			  const struct http_params *params, char *out, size_t out_size)
{
	const char *name = route;
	size_t len;

	len = (size_t)snprintf(out, out_size, "method=%s route=%s", method_names[method], route);
	for (size_t i = 0; params && i < params->n && len < out_size; i++) {
		char value[33];

		name = strchr(name, '{');
		if (!name)
			break;
		name++;
		log_safe(params->values[i], value, sizeof(value));
		len += (size_t)snprintf(out + len, out_size - len, " %.*s=%s",
					(int)strcspn(name, "}"), name, value);
	}
}

/* Refused: for want of a token or of the right one, for a body too large
 * or past the memory for bodies, or before routing (a malformed target or
 * framing). */
static bool refused(unsigned status, const char *problem, const struct api_call *call)
{
	return status == 401 || status == 403 || status == 413 ||
	       (status == 503 && problem && strcmp(problem, "busy") == 0) ||
	       (!call && status >= 400);
}

static void request_log(struct api *api, struct http_request *request, enum api_method method,
			size_t slot, const struct api_call *call)
{
	const struct auth_principal *who = call ? &call->principal : NULL;
	unsigned status = http_request_status(request);
	const char *problem = http_request_problem(request);
	bool admin_change = who && who->role == AUTH_ROLE_ADMIN && method != API_GET &&
			    method != API_HEAD && method != API_OPTIONS;
	char who_text[320], what[384], why[64];

	if (!admin_change && !refused(status, problem, call))
		return;
	describe_who(api, who, who_text, sizeof(who_text));
	describe_what(method, api_route_slot_name(slot), call ? &call->params : NULL, what,
		      sizeof(what));
	/* A request whose client left before its reply has no status. */
	snprintf(why, sizeof(why), "status=%u%s%s", status, problem ? " problem=" : "",
		 problem ? problem : "");
	if (admin_change)
		diag_notice("admin action: %s %s %s", who_text, what, why);
	else
		diag_emit_limited(&api->refusals_log, LOG_INFO, "refused: %s %s %s", who_text, what,
				  why);
}

void api_request_ended(struct api *api, struct http_request *request, size_t slot,
		       const struct api_call *call)
{
	struct api_route_stats *stats = &api->route_stats[slot];
	enum api_method method = method_of(http_request_method(request));
	unsigned status = http_request_status(request);
	uint64_t duration_ns = http_request_duration_ns(request);
	size_t bucket = 0;

	if (status) {
		stats->requests[method][http_status_index(status)]++;
		while (bucket < API_DURATION_BUCKETS &&
		       duration_ns > api_duration_bounds_ns[bucket])
			bucket++;
		stats->durations[bucket]++;
		stats->duration_sum_ns += duration_ns;
	}
	request_log(api, request, method, slot, call);
}
