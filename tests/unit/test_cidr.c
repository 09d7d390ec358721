/* Household address ranges: parsing, normal form and overlap. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "coopbill/cidr.h"

static void assert_normalises(const char *input, const char *expected)
{
	char text[CIDR_TEXT_MAX];
	struct cidr cidr;

	assert_int_equal(cidr_parse(input, &cidr, NULL), 0);
	cidr_format(&cidr, text);
	assert_string_equal(text, expected);
}

static void test_parse_normal_form(void **state)
{
	assert_normalises("10.0.1.10", "10.0.1.10/32");
	assert_normalises("10.0.1.10/32", "10.0.1.10/32");
	assert_normalises("10.0.1.0/24", "10.0.1.0/24");
	assert_normalises("0.0.0.0/0", "0.0.0.0/0");
	assert_normalises("2001:DB8:1::/56", "2001:db8:1::/56");
	assert_normalises("2001:0db8:0001:0000::/64", "2001:db8:1::/64");
	assert_normalises("2001:db8::1", "2001:db8::1/128");
}

static void test_parse_rejects(void **state)
{
	const char *bad[] = { "",
			      "10.0.1",
			      "10.0.1.256",
			      "10.0.1.1/33",
			      "10.0.1.1/",
			      "10.0.1.1/-1",
			      "10.0.1.1/3x",
			      "10.0.1.1/032",
			      "2001:db8::/129",
			      "host.example",
			      "10.0.1.1 /32",
			      "::ffff::1",
			      "10.0.1.0/24/1" };
	struct cidr cidr;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cidr_parse(bad[i], &cidr, NULL), -EINVAL);
}

static void test_host_bits_hint(void **state)
{
	char hint[CIDR_TEXT_MAX] = "";
	struct cidr cidr;

	assert_int_equal(cidr_parse("10.0.1.10/24", &cidr, hint), -EINVAL);
	assert_string_equal(hint, "10.0.1.0/24");
	assert_int_equal(cidr_parse("2001:db8:1:2::/56", &cidr, hint), -EINVAL);
	assert_string_equal(hint, "2001:db8:1::/56");
}

static void test_range(void **state)
{
	uint8_t first[16], last[16], expected[4];
	struct cidr cidr;

	assert_int_equal(cidr_parse("10.0.2.0/23", &cidr, NULL), 0);
	cidr_range(&cidr, first, last);
	inet_pton(AF_INET, "10.0.2.0", expected);
	assert_memory_equal(first, expected, 4);
	inet_pton(AF_INET, "10.0.3.255", expected);
	assert_memory_equal(last, expected, 4);
	assert_int_equal(cidr_addr_len(&cidr), 4);
}

static bool overlap(const char *a, const char *b)
{
	struct cidr x, y;

	assert_int_equal(cidr_parse(a, &x, NULL), 0);
	assert_int_equal(cidr_parse(b, &y, NULL), 0);
	assert_true(cidr_overlaps(&x, &y) == cidr_overlaps(&y, &x));
	return cidr_overlaps(&x, &y);
}

static void test_overlap(void **state)
{
	assert_true(overlap("10.0.1.0/24", "10.0.1.10/32"));
	assert_true(overlap("10.0.1.10", "10.0.1.10/32"));
	assert_true(overlap("10.0.0.0/8", "10.255.255.255"));
	assert_false(overlap("10.0.1.0/24", "10.0.2.0/24"));
	assert_false(overlap("10.0.1.0/25", "10.0.1.128/25"));
	assert_true(overlap("2001:db8:1::/56", "2001:db8:1:ff::/64"));
	assert_false(overlap("2001:db8:1::/56", "2001:db8:1:100::/64"));
	assert_false(overlap("0.0.0.0/0", "::/0"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_normal_form), cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_host_bits_hint),	  cmocka_unit_test(test_range),
		cmocka_unit_test(test_overlap),
	};

	return cmocka_run_group_tests_name("cidr", tests, NULL, NULL);
}
