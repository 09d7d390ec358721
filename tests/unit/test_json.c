/* Strict unpacking of request bodies: what a client is told when a key is
 * unknown, missing or of the wrong type, and that nothing is filled then. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "coopbill/http.h"

struct payment {
	json_int_t household_id, amount_minor;
	const char *method, *reference;
	json_t *lines, *tariff;
};

/* Unpacks text into *payment; returns what http_json_unpack says and its
 * reason in reason. */
static int unpack(const char *text, struct payment *payment, char reason[128])
{
	json_t *object = json_loads(text, 0, NULL);
	const struct http_json_field fields[] = {
		{ "household_id", HTTP_JSON_INTEGER, false, &payment->household_id },
		{ "amount_minor", HTTP_JSON_INTEGER, false, &payment->amount_minor },
		{ "method", HTTP_JSON_STRING, false, &payment->method },
		{ "reference", HTTP_JSON_STRING, true, &payment->reference },
		{ "lines", HTTP_JSON_ARRAY, true, &payment->lines },
		{ "tariff_id", HTTP_JSON_INTEGER_OR_NULL, true, &payment->tariff },
	};
	int r;

	assert_non_null(object);
	reason[0] = '\0';
	r = http_json_unpack(object, fields, sizeof(fields) / sizeof(fields[0]), reason, 128);
	/* Past this point the tests read the integers, and of the borrowed
	 * pointers only whether they were set. */
	json_decref(object);
	return r;
}

static void test_fills_what_is_there(void **state)
{
	struct payment payment = { .reference = "unset" };
	char reason[128];

	assert_int_equal(unpack("{\"household_id\": 7, \"amount_minor\": 1500, \"method\": "
				"\"cash\", \"tariff_id\": null}",
				&payment, reason),
			 0);
	assert_int_equal(payment.household_id, 7);
	assert_int_equal(payment.amount_minor, 1500);
	assert_non_null(payment.method);
	assert_non_null(payment.tariff);
	/* Left out: the output keeps what it held. */
	assert_string_equal(payment.reference, "unset");
	assert_null(payment.lines);
}

static void assert_refused(const char *text, const char *expected)
{
	struct payment payment = { 0 };
	char reason[128];

	assert_int_equal(unpack(text, &payment, reason), -EINVAL);
	assert_string_equal(reason, expected);
	/* A refused object fills nothing. */
	assert_int_equal(payment.household_id, 0);
	assert_int_equal(payment.amount_minor, 0);
	assert_null(payment.method);
	assert_null(payment.tariff);
}

static void test_refusals_in_own_words(void **state)
{
	assert_refused("{\"household_id\": 7, \"amount_minor\": 1, \"method\": \"cash\", "
		       "\"colour\": \"blue\"}",
		       "unknown key colour");
	/* An unknown key is named before a missing one: it is often the
	 * missing one misspelt. */
	assert_refused("{\"household_id\": 7, \"amount\": 1, \"method\": \"cash\"}",
		       "unknown key amount");
	assert_refused("{\"household_id\": 7, \"method\": \"cash\"}", "amount_minor is missing");
	assert_refused("{}", "household_id is missing");
	assert_refused("{\"household_id\": \"7\", \"amount_minor\": 1, \"method\": \"cash\"}",
		       "household_id must be an integer");
	assert_refused("{\"household_id\": 7.0, \"amount_minor\": 1, \"method\": \"cash\"}",
		       "household_id must be an integer");
	assert_refused("{\"household_id\": 7, \"amount_minor\": 1, \"method\": null}",
		       "method must be a string");
	assert_refused("{\"household_id\": 7, \"amount_minor\": 1, \"method\": \"cash\", "
		       "\"lines\": {}}",
		       "lines must be an array");
	assert_refused("{\"household_id\": 7, \"amount_minor\": 1, \"method\": \"cash\", "
		       "\"tariff_id\": \"3\"}",
		       "tariff_id must be an integer or null");
	/* An optional field given as null is not left out. */
	assert_refused("{\"household_id\": 7, \"amount_minor\": 1, \"method\": \"cash\", "
		       "\"reference\": null}",
		       "reference must be a string");
	assert_refused("[1, 2]", "not a JSON object");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fills_what_is_there),
		cmocka_unit_test(test_refusals_in_own_words),
	};

	return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
