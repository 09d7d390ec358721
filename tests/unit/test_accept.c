/* Content negotiation: which representation an Accept header gets, q=0
 * honoured, and nothing when it accepts nothing offered. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>

#include "coopbill/http.h"

static const char *const json_or_csv[] = { "application/json", "text/csv", NULL };
static const char *const json_only[] = { "application/json", NULL };
static const char *const text_only[] = { "text/plain", NULL };

enum { JSON, CSV };

static void test_no_preference(void **state)
{
	assert_int_equal(http_accept_pick(NULL, json_or_csv), JSON);
	assert_int_equal(http_accept_pick("", json_or_csv), JSON);
	assert_int_equal(http_accept_pick("*/*", json_or_csv), JSON);
	/* A browser's header. */
	assert_int_equal(
		http_accept_pick("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
				 json_or_csv),
		JSON);
	/* Prometheus asks for OpenMetrics first and takes text/plain. */
	assert_int_equal(http_accept_pick("application/openmetrics-text;version=1.0.0,"
					  "text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
					  text_only),
			 0);
}

static void test_named_type_wins(void **state)
{
	assert_int_equal(http_accept_pick("text/csv", json_or_csv), CSV);
	assert_int_equal(http_accept_pick("TEXT/CSV", json_or_csv), CSV);
	assert_int_equal(http_accept_pick("text/csv; charset=utf-8", json_or_csv), CSV);
	assert_int_equal(http_accept_pick("text/*", json_or_csv), CSV);
	assert_int_equal(http_accept_pick("application/json", json_or_csv), JSON);
	/* Named over matched by a wildcard at the same weight. */
	assert_int_equal(http_accept_pick("text/csv, */*", json_or_csv), CSV);
	/* Same weight, both named: the server's order. */
	assert_int_equal(http_accept_pick("text/csv, application/json", json_or_csv), JSON);
	/* Weights decide. */
	assert_int_equal(http_accept_pick("application/json;q=0.5, text/csv", json_or_csv), CSV);
	assert_int_equal(http_accept_pick("application/json;q=0.9, text/csv;q=0.95", json_or_csv),
			 CSV);
	assert_int_equal(
		http_accept_pick("application/json;q=1.000, text/csv;q=0.999", json_or_csv), JSON);
	/* The most specific range gives a type its weight. */
	assert_int_equal(
		http_accept_pick("text/*;q=0.1, text/csv, application/json;q=0.5", json_or_csv),
		CSV);
	assert_int_equal(
		http_accept_pick("text/csv;q=0.1, text/*, application/json;q=0.5", json_or_csv),
		JSON);
	/* A quoted parameter may hold commas and semicolons. */
	assert_int_equal(
		http_accept_pick("text/csv;x=\"a,b;q=0\";q=1, application/json;q=0.5", json_or_csv),
		CSV);
}

static void test_q_zero_refuses(void **state)
{
	assert_int_equal(http_accept_pick("application/json;q=0, text/csv", json_or_csv), CSV);
	assert_int_equal(http_accept_pick("application/json; q=0.0, */*", json_or_csv), CSV);
	/* A header that only refuses leaves the rest. */
	assert_int_equal(http_accept_pick("text/csv;q=0", json_or_csv), JSON);
	assert_int_equal(http_accept_pick("text/csv;q=0", json_only), JSON);
	assert_int_equal(http_accept_pick("*/*;q=0", json_or_csv), -ENOENT);
	assert_int_equal(http_accept_pick("text/csv;q=0, */*;q=0", json_or_csv), -ENOENT);
	assert_int_equal(http_accept_pick("application/json;q=0, text/csv;q=0", json_or_csv),
			 -ENOENT);
	assert_int_equal(http_accept_pick("*/*, application/json;q=0", json_only), -ENOENT);
}

static void test_nothing_offered_accepted(void **state)
{
	assert_int_equal(http_accept_pick("text/csv", json_only), -ENOENT);
	assert_int_equal(http_accept_pick("text/html", json_or_csv), -ENOENT);
	assert_int_equal(http_accept_pick("application/xml, text/*;q=0", json_or_csv), -ENOENT);
	assert_int_equal(http_accept_pick("application/json", text_only), -ENOENT);
}

static void test_malformed_elements_are_skipped(void **state)
{
	/* A bad weight drops its element, not the header. */
	assert_int_equal(http_accept_pick("text/csv;q=2, application/json", json_or_csv), JSON);
	assert_int_equal(http_accept_pick("text/csv;q=0.1234, application/json", json_or_csv),
			 JSON);
	assert_int_equal(http_accept_pick("text/csv;q=x", json_or_csv), JSON);
	assert_int_equal(http_accept_pick("text, /csv, text/, ,,;;", json_or_csv), JSON);
	assert_int_equal(http_accept_pick("text/csv;q=\"unterminated", json_or_csv), JSON);
	assert_int_equal(http_accept_pick(";q=0", json_or_csv), JSON);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_preference),
		cmocka_unit_test(test_named_type_wins),
		cmocka_unit_test(test_q_zero_refuses),
		cmocka_unit_test(test_nothing_offered_accepted),
		cmocka_unit_test(test_malformed_elements_are_skipped),
	};

	return cmocka_run_group_tests_name("accept", tests, NULL, NULL);
}
