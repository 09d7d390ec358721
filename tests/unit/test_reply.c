/* Problem documents (RFC 9457), CSV fields as clients receive them, and the
 * UTF-8 check a request target must pass. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "coopbill/http.h"
#include "coopbill/utf8.h"
#include "http/http-internal.h"

static void test_problem_document(void **state)
{
	json_t *problem = http_problem_new(409, "address-conflict", "10.0.1.0/24 overlaps");

	assert_non_null(problem);
	assert_string_equal(json_string_value(json_object_get(problem, "type")),
			    "urn:coopbill:problem:address-conflict");
	assert_string_equal(json_string_value(json_object_get(problem, "title")), "Conflict");
	assert_int_equal(json_integer_value(json_object_get(problem, "status")), 409);
	assert_string_equal(json_string_value(json_object_get(problem, "detail")),
			    "10.0.1.0/24 overlaps");
	assert_int_equal(json_object_size(problem), 4);
	json_decref(problem);
}

static void test_status_phrases(void **state)
{
	assert_string_equal(http_status_phrase(404), "Not Found");
	assert_string_equal(http_status_phrase(413), "Content Too Large");
	assert_string_equal(http_status_phrase(401), "Unauthorized");
	assert_string_equal(http_status_phrase(599), "Error");
}

static char *csv_row(const char *const *fields, size_t n)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	for (size_t i = 0; i < n; i++)
		http_csv_field(out, fields[i], i + 1 == n);
	fclose(out);
	return text;
}

static void test_csv_fields(void **state)
{
	const char *plain[] = { "1", "Garcia", "active" };
	const char *quoted[] = { "Smith, John", "say \"hi\"", "two\nlines" };
	const char *formula[] = { "=HYPERLINK(\"x\")", "-1", "" };
	char *row;

	row = csv_row(plain, 3);
	assert_string_equal(row, "1,Garcia,active\r\n");
	free(row);
	row = csv_row(quoted, 3);
	assert_string_equal(row, "\"Smith, John\",\"say \"\"hi\"\"\",\"two\nlines\"\r\n");
	free(row);
	/* A spreadsheet must not run a member-chosen name as a formula. */
	row = csv_row(formula, 3);
	assert_string_equal(row, "\"'=HYPERLINK(\"\"x\"\")\",\"'-1\",\r\n");
	free(row);
}

static void test_utf8(void **state)
{
	assert_true(utf8_valid(""));
	assert_true(utf8_valid("/api/v1/tariffs/caf\xc3\xa9"));
	assert_true(utf8_valid("\xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"));
	/* A stray continuation byte, a lead byte cut short, an overlong '/', a
	 * surrogate, and beyond U+10FFFF. */
	assert_false(utf8_valid("/\xff"));
	assert_false(utf8_valid("\x80"));
	assert_false(utf8_valid("\xc3"));
	assert_false(utf8_valid("\xe2\x82"));
	assert_false(utf8_valid("\xc0\xaf"));
	assert_false(utf8_valid("\xe0\x80\xaf"));
	assert_false(utf8_valid("\xed\xa0\x80"));
	assert_false(utf8_valid("\xf4\x90\x80\x80"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_problem_document),
		cmocka_unit_test(test_status_phrases),
		cmocka_unit_test(test_csv_fields),
		cmocka_unit_test(test_utf8),
	};

	return cmocka_run_group_tests_name("reply", tests, NULL, NULL);
}
