/* Money: no operation wraps, one rounding rule for both signs, splits that
 * always add up to the cent, and amounts written as members read them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "coopbill/money.h"

static void test_add_sub_mul_overflow(void **state)
{
	int64_t result = 42;

	assert_int_equal(money_add(1240, -5, &result), 0);
	assert_int_equal(result, 1235);
	assert_int_equal(money_add(INT64_MAX, 1, &result), -ERANGE);
	assert_int_equal(money_add(INT64_MIN, -1, &result), -ERANGE);
	assert_int_equal(result, 1235); /* untouched on failure */
	assert_int_equal(money_add(INT64_MAX, INT64_MIN, &result), 0);
	assert_int_equal(result, -1);

	assert_int_equal(money_sub(100, 250, &result), 0);
	assert_int_equal(result, -150);
	assert_int_equal(money_sub(INT64_MIN, 1, &result), -ERANGE);
	assert_int_equal(money_sub(0, INT64_MIN, &result), -ERANGE);
	assert_int_equal(money_sub(-1, INT64_MIN, &result), 0);
	assert_int_equal(result, INT64_MAX);

	assert_int_equal(money_mul(-1500, 12, &result), 0);
	assert_int_equal(result, -18000);
	assert_int_equal(money_mul(INT64_MIN, -1, &result), -ERANGE);
	assert_int_equal(money_mul(INT64_C(3037000500), INT64_C(3037000500), &result), -ERANGE);
	assert_int_equal(money_mul(INT64_C(3037000499), INT64_C(3037000499), &result), 0);
	assert_int_equal(result, INT64_C(9223372030926249001));
}

static int64_t mul_div(int64_t a, int64_t num, int64_t den)
{
	int64_t result;

	assert_int_equal(money_mul_div(a, num, den, &result), 0);
	return result;
}

static void test_mul_div_rounds_half_up_on_the_absolute_value(void **state)
{
	int64_t result = 7;

	/* Halves go away from zero, whichever operand carries the sign. */
	assert_int_equal(mul_div(5, 1, 2), 3);
	assert_int_equal(mul_div(-5, 1, 2), -3);
	assert_int_equal(mul_div(5, -1, 2), -3);
	assert_int_equal(mul_div(5, 1, -2), -3);
	assert_int_equal(mul_div(-5, -1, -2), -3);
	assert_int_equal(mul_div(-5, -1, 2), 3);
	/* Below a half goes towards zero, at or above it away. */
	assert_int_equal(mul_div(14, 1, 10), 1);
	assert_int_equal(mul_div(-14, 1, 10), -1);
	assert_int_equal(mul_div(15, 1, 10), 2);
	assert_int_equal(mul_div(-15, 1, 10), -2);
	assert_int_equal(mul_div(16, 1, 10), 2);
	assert_int_equal(mul_div(-16, 1, 10), -2);
	assert_int_equal(mul_div(0, -7, 3), 0);
	/* 12.403 GB at 0.50/GB is 6.2015: 6.20. */
	assert_int_equal(mul_div(INT64_C(12403000000), 50, INT64_C(1000000000)), 620);
	/* 21% of 54.32 included in it: 9.4274 → 9.43. */
	assert_int_equal(mul_div(5432, 2100, 12100), 943);

	/* The product is exact in 128 bits: no overflow in the middle. */
	assert_int_equal(mul_div(INT64_MAX, INT64_MAX, INT64_MAX), INT64_MAX);
	assert_int_equal(mul_div(INT64_MIN, INT64_MIN, INT64_MIN), INT64_MIN);
	assert_int_equal(mul_div(INT64_MIN, 1, 1), INT64_MIN);
	assert_int_equal(mul_div(INT64_MAX, 3, 6), INT64_C(4611686018427387904));

	assert_int_equal(money_mul_div(INT64_MAX, 2, 1, &result), -ERANGE);
	assert_int_equal(money_mul_div(INT64_MIN, -1, 1, &result), -ERANGE);
	assert_int_equal(money_mul_div(INT64_MIN, 1, -1, &result), -ERANGE);
	/* Rounding itself can overflow: (2^64 - 1) / 2 is 2^63 - 0.5, which
	 * rounds to 2^63; its negative rounds to -2^63, which fits. */
	assert_int_equal(money_mul_div(INT64_C(4294967295), INT64_C(4294967297), 2, &result),
			 -ERANGE);
	assert_int_equal(money_mul_div(INT64_C(-4294967295), INT64_C(4294967297), 2, &result), 0);
	assert_int_equal(result, INT64_MIN);
	result = 7;
	assert_int_equal(money_mul_div(1, 1, 0, &result), -EINVAL);
	assert_int_equal(result, 7);
}

static void assert_split(int64_t total, const uint64_t *weights, const int64_t *ids, size_t n,
			 const int64_t *expected)
{
	int64_t parts[16], sum = 0;

	assert_true(n <= 16);
	assert_int_equal(money_split(total, weights, ids, n, parts), 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(parts[i], expected[i]);
		sum += parts[i];
	}
	assert_int_equal(sum, total);
}

static void test_split_thirty_euros_seven_ways(void **state)
{
	const uint64_t equal[7] = { 1, 1, 1, 1, 1, 1, 1 };
	const int64_t ids[7] = { 10, 11, 12, 13, 14, 15, 16 };
	const int64_t shuffled_ids[7] = { 16, 12, 10, 15, 11, 14, 13 };
	/* 3000 / 7 = 428.57...: four cents are left over, for the four lowest ids. */
	const int64_t expected[7] = { 429, 429, 429, 429, 428, 428, 428 };
	const int64_t expected_shuffled[7] = { 428, 429, 429, 428, 429, 428, 429 };
	const int64_t expected_negative[7] = { -429, -429, -429, -429, -428, -428, -428 };

	assert_split(3000, equal, ids, 7, expected);
	assert_split(3000, equal, shuffled_ids, 7, expected_shuffled);
	assert_split(-3000, equal, ids, 7, expected_negative);
	/* Without ids the position breaks ties. */
	assert_split(3000, equal, NULL, 7, expected);
}

static void test_split_largest_remainder_then_lower_id(void **state)
{
	/* 100 by 70:20:10 is exact. 10.01 by 70:20:10 is 7.007, 2.002, 1.001:
	 * the cent left over goes to the largest remainder, 0.7 of a cent. */
	const uint64_t weights[3] = { 70, 20, 10 };
	const int64_t ids[3] = { 3, 2, 1 };
	const int64_t exact[3] = { 70, 20, 10 };
	const int64_t leftover[3] = { 701, 200, 100 };
	/* 1 cent by 1:1:2: 0.25, 0.25, 0.5: the largest remainder wins over ids. */
	const uint64_t quarter_weights[3] = { 1, 1, 2 };
	const int64_t quarter[3] = { 0, 0, 1 };
	/* 2 cents by 1:1:1:1: four remainders of 0.5, the two lowest ids win. */
	const uint64_t four[4] = { 5, 5, 5, 5 };
	const int64_t four_ids[4] = { 40, 7, 99, 8 };
	const int64_t halves[4] = { 0, 1, 0, 1 };

	assert_split(100, weights, ids, 3, exact);
	assert_split(1001, weights, ids, 3, leftover);
	assert_split(1, quarter_weights, ids, 3, quarter);
	assert_split(2, four, four_ids, 4, halves);
}

static void test_split_zero_and_degenerate(void **state)
{
	const uint64_t weights[3] = { 5, 0, 7 };
	const uint64_t zeros[3] = { 0, 0, 0 };
	const int64_t ids[3] = { 1, 2, 3 };
	const int64_t nothing[3] = { 0, 0, 0 };
	const int64_t by_weight[3] = { 5, 0, 7 };
	const int64_t equally[3] = { 34, 33, 33 };
	const int64_t all[1] = { INT64_MIN };
	const uint64_t one[1] = { 9 };
	int64_t parts[3] = { 1, 2, 3 };

	assert_split(0, weights, ids, 3, nothing);
	assert_split(0, zeros, ids, 3, nothing);
	assert_split(12, weights, ids, 3, by_weight);
	/* A household without weight gets nothing, unless nobody has any. */
	assert_split(100, zeros, ids, 3, equally);
	assert_split(INT64_MIN, one, ids, 1, all);
	/* Nobody to split among: only nothing can be split. */
	assert_int_equal(money_split(0, NULL, NULL, 0, parts), 0);
	assert_int_equal(money_split(5, NULL, NULL, 0, parts), -EINVAL);
}

/* xorshift64*: a fixed seed, so that a failure reproduces. */
static uint64_t next_random(uint64_t *prng)
{
	*prng ^= *prng >> 12;
	*prng ^= *prng << 25;
	*prng ^= *prng >> 27;
	return *prng * UINT64_C(2685821657736338717);
}

static void test_split_property(void **state)
{
	uint64_t prng = UINT64_C(0x9e3779b97f4a7c15);

	for (int round = 0; round < 20000; round++) {
		uint64_t weights[40];
		int64_t ids[40], parts[40], total, sum = 0;
		size_t n = 1 + next_random(&prng) % 40;
		unsigned __int128 weight_sum = 0;
		uint64_t shape = next_random(&prng) % 4;

		/* Totals from small to extreme, both signs; weights small, huge or zero. */
		switch (next_random(&prng) % 3) {
		case 0:
			total = (int64_t)(next_random(&prng) % 100000) - 50000;
			break;
		case 1:
			total = (int64_t)next_random(&prng);
			break;
		default:
			total = next_random(&prng) % 2 ? INT64_MIN : INT64_MAX;
			break;
		}
		for (size_t i = 0; i < n; i++) {
			uint64_t r = next_random(&prng);

			weights[i] = shape == 0	  ? r % 10
				     : shape == 1 ? r
				     : shape == 2 ? 0
						  : (r % 3 == 0 ? 0 : r % 1000000007);
			ids[i] = (int64_t)(next_random(&prng) % 20);
			weight_sum += weights[i];
		}
		assert_int_equal(money_split(total, weights, ids, n, parts), 0);
		for (size_t i = 0; i < n; i++) {
			unsigned __int128 abs_total =
				total < 0 ? (unsigned __int128)(-(uint64_t)total) : (uint64_t)total;
			unsigned __int128 floor_share =
				weight_sum == 0 ? abs_total / n
						: abs_total * weights[i] / weight_sum;
			unsigned __int128 abs_part =
				parts[i] < 0 ? -(uint64_t)parts[i] : (uint64_t)parts[i];

			/* Each part is its exact share rounded down or up, with the
			 * total's sign. */
			assert_true(parts[i] == 0 || (parts[i] < 0) == (total < 0));
			assert_true(abs_part == floor_share || abs_part == floor_share + 1);
			/* Summed in unsigned arithmetic: the partial sums may pass INT64_MAX. */
			sum = (int64_t)((uint64_t)sum + (uint64_t)parts[i]);
		}
		assert_int_equal(sum, total);
	}
}

static void assert_format(int64_t minor, unsigned exponent, const char *expected)
{
	char text[MONEY_TEXT_MAX];

	assert_int_equal(money_format(minor, exponent, text, sizeof(text)), 0);
	assert_string_equal(text, expected);
}

static void test_format(void **state)
{
	char small[6];

	assert_format(1240, 2, "12.40");
	assert_format(-5, 2, "-0.05");
	assert_format(0, 2, "0.00");
	assert_format(123456789, 2, "1234567.89");
	assert_format(1234, 0, "1234");
	assert_format(-1234, 0, "-1234");
	assert_format(1234, 3, "1.234");
	assert_format(7, 3, "0.007");
	assert_format(INT64_MIN, 2, "-92233720368547758.08");
	assert_format(INT64_MAX, 0, "9223372036854775807");
	assert_format(INT64_MIN, 18, "-9.223372036854775808");
	assert_format(1, 18, "0.000000000000000001");

	assert_int_equal(money_format(1240, 2, small, sizeof(small)), 0);
	assert_string_equal(small, "12.40");
	assert_int_equal(money_format(-1240, 2, small, sizeof(small)), -ENOBUFS);
	assert_int_equal(money_format(1, 19, small, sizeof(small)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_sub_mul_overflow),
		cmocka_unit_test(test_mul_div_rounds_half_up_on_the_absolute_value),
		cmocka_unit_test(test_split_thirty_euros_seven_ways),
		cmocka_unit_test(test_split_largest_remainder_then_lower_id),
		cmocka_unit_test(test_split_zero_and_degenerate),
		cmocka_unit_test(test_split_property),
		cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests_name("money", tests, NULL, NULL);
}
