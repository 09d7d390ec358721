/* Request bodies: the first byte of the input picks one of the routes that
 * take a body (POST, PUT and PATCH of the route table, so that a route added
 * later is fuzzed too), the rest is the body, sent by the treasurer to the
 * daemon's own HTTP server and API over a real database (api-harness.h). The
 * daemon replies to anything, and never with a 500. */
#include "api-harness.h"
#include "coopbill/api.h"
#include "fuzz.h"

#define BODY_ROUTES_MAX 32

static const char *methods[BODY_ROUTES_MAX];
static char paths[BODY_ROUTES_MAX][128];
static size_t n_routes;

/* The route's path with ids the harness's fixtures have: household and
 * tariff 1, and a month before any tariff applies. */
static void route_path(const char *pattern, char ret_path[128])
{
	size_t len = 0;

	while (*pattern && len < 100) {
		if (*pattern == '{') {
			const char *value = strncmp(pattern, "{period}", 8) == 0 ? "2026-10" : "1";

			len += (size_t)snprintf(ret_path + len, 128 - len, "%s", value);
			pattern = strchr(pattern, '}') + 1;
			continue;
		}
		ret_path[len++] = *pattern++;
	}
	ret_path[len] = '\0';
}

static void routes_find(void)
{
	const char *method, *pattern;

	for (size_t i = 0; i < api_route_count(); i++) {
		api_route_describe(i, &method, &pattern);
		if (strcmp(method, "POST") != 0 && strcmp(method, "PUT") != 0 &&
		    strcmp(method, "PATCH") != 0)
			continue;
		fuzz_check(n_routes < BODY_ROUTES_MAX);
		methods[n_routes] = method;
		route_path(pattern, paths[n_routes]);
		n_routes++;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *request;
	size_t route, body_len;
	int head_len;
	unsigned status;

	api_harness_start();
	if (!n_routes)
		routes_find();
	if (size == 0)
		return 0;
	route = data[0] % n_routes;
	body_len = size - 1;
	request = malloc(body_len + 512);
	if (!request)
		abort();
	head_len =
		snprintf(request, 512,
			 "%s %s HTTP/1.1\r\nHost: fuzz\r\n%s\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			 methods[route], paths[route], api_harness_authorization(), body_len);
	memcpy(request + head_len, data + 1, body_len);
	status = api_harness_send(request, (size_t)head_len + body_len);
	fuzz_check(status >= 200 && status < 500);
	free(request);
	return 0;
}
