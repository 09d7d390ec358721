/* Path matching, and the route table held against docs/openapi.yaml in both
 * directions: every route is documented and every documented operation exists. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coopbill/api.h"
#include "coopbill/http.h"

static void test_path_match(void **state)
{
	struct http_params params;

	assert_true(http_path_match("/healthz", "/healthz", &params));
	assert_int_equal(params.n, 0);
	assert_false(http_path_match("/healthz", "/healthz/", &params));
	assert_false(http_path_match("/healthz", "/health", &params));
	assert_false(http_path_match("/health", "/healthz", &params));
	assert_true(http_path_match("/api/v1/households/{id}", "/api/v1/households/42", &params));
	assert_int_equal(params.n, 1);
	assert_string_equal(params.values[0], "42");
	assert_false(http_path_match("/api/v1/households/{id}", "/api/v1/households/", &params));
	assert_false(http_path_match("/api/v1/households/{id}", "/api/v1/households", &params));
	assert_false(
		http_path_match("/api/v1/households/{id}", "/api/v1/households/4/tokens", &params));
	assert_true(http_path_match("/api/v1/households/{id}/tokens", "/api/v1/households/4/tokens",
				    &params));
	assert_string_equal(params.values[0], "4");
	assert_true(http_path_match("/a/{x}/b/{y}", "/a/1/b/2", &params));
	assert_int_equal(params.n, 2);
	assert_string_equal(params.values[1], "2");
}

static void test_path_match_limits(void **state)
{
	char path[200] = "/api/v1/households/";
	struct http_params params;

	memset(path + strlen(path), '7', HTTP_PARAM_MAX);
	assert_false(http_path_match("/api/v1/households/{id}", path, &params));
	assert_false(http_path_match("/x/{a}", "/x//", &params));
}

struct operation {
	char method[8];
	char path[128];
};

/* Reads "  /path:" and "    get:" lines of the paths section. */
static size_t spec_operations(struct operation *ops, size_t max)
{
	const char *srcdir = getenv("COOPBILL_SRCDIR");
	char file[512], line[512], path[128] = "";
	bool in_paths = false;
	size_t n = 0;
	FILE *spec;

	assert_non_null(srcdir);
	snprintf(file, sizeof(file), "%s/docs/openapi.yaml", srcdir);
	spec = fopen(file, "r");
	assert_non_null(spec);
	while (fgets(line, sizeof(line), spec)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] != ' ' && line[0] != '\0' && line[0] != '#') {
			in_paths = strcmp(line, "paths:") == 0;
			continue;
		}
		if (!in_paths)
			continue;
		if (strncmp(line, "  /", 3) == 0 && line[strlen(line) - 1] == ':') {
			snprintf(path, sizeof(path), "%.*s", (int)strlen(line) - 3, line + 2);
		} else if (strncmp(line, "    ", 4) == 0 && line[4] != ' ' && path[0]) {
			static const char *methods[] = { "get", "post", "patch", "put", "delete" };

			for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
				size_t len = strlen(methods[i]);

				if (strncmp(line + 4, methods[i], len) == 0 &&
				    strcmp(line + 4 + len, ":") == 0) {
					assert_true(n < max);
					for (size_t j = 0; j <= len; j++)
						ops[n].method[j] =
							(char)toupper((unsigned char)methods[i][j]);
					snprintf(ops[n].path, sizeof(ops[n].path), "%s", path);
					n++;
				}
			}
		}
	}
	fclose(spec);
	return n;
}

static void test_routes_match_openapi(void **state)
{
	struct operation ops[128];
	size_t n_ops = spec_operations(ops, 128);
	size_t n_routes = api_route_count();

	assert_true(n_ops > 0);
	for (size_t i = 0; i < n_routes; i++) {
		const char *method, *pattern;
		bool found = false;

		api_route_describe(i, &method, &pattern);
		for (size_t j = 0; j < n_ops; j++)
			found |= strcmp(ops[j].method, method) == 0 &&
				 strcmp(ops[j].path, pattern) == 0;
		if (!found)
			fail_msg("route %s %s is not in docs/openapi.yaml", method, pattern);
	}
	for (size_t j = 0; j < n_ops; j++) {
		bool found = false;

		for (size_t i = 0; i < n_routes; i++) {
			const char *method, *pattern;

			api_route_describe(i, &method, &pattern);
			found |= strcmp(ops[j].method, method) == 0 &&
				 strcmp(ops[j].path, pattern) == 0;
		}
		if (!found)
			fail_msg(
				"docs/openapi.yaml documents %s %s, which the router does not have",
				ops[j].method, ops[j].path);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_match),
		cmocka_unit_test(test_path_match_limits),
		cmocka_unit_test(test_routes_match_openapi),
	};

	return cmocka_run_group_tests_name("router", tests, NULL, NULL);
}
