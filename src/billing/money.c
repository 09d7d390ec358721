/* Money arithmetic on int64 minor units: checked operations, the one rounding
 * rule (half up on the absolute value) and the largest-remainder split. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "coopbill/money.h"

int money_add(int64_t a, int64_t b, int64_t *ret_sum)
{
	int64_t sum;

	if (__builtin_add_overflow(a, b, &sum))
		return -ERANGE;
	*ret_sum = sum;
	return 0;
}

int money_sub(int64_t a, int64_t b, int64_t *ret_difference)
{
	int64_t difference;

	if (__builtin_sub_overflow(a, b, &difference))
		return -ERANGE;
	*ret_difference = difference;
	return 0;
}

int money_mul(int64_t a, int64_t b, int64_t *ret_product)
{
	int64_t product;

	if (__builtin_mul_overflow(a, b, &product))
		return -ERANGE;
	*ret_product = product;
	return 0;
}

static unsigned __int128 magnitude(int64_t x)
{
	/* Negating in unsigned arithmetic is defined for INT64_MIN too. */
	return x < 0 ? (unsigned __int128)(-(uint64_t)x) : (unsigned __int128)x;
}

/* Gives a magnitude its sign back, or -ERANGE when it does not fit in int64. */
static int signed_result(unsigned __int128 abs_value, bool negative, int64_t *ret_value)
{
	if (negative) {
		if (abs_value > (unsigned __int128)INT64_MAX + 1)
			return -ERANGE;
		*ret_value = abs_value == (unsigned __int128)INT64_MAX + 1 ? INT64_MIN
									   : -(int64_t)abs_value;
	} else {
		if (abs_value > INT64_MAX)
			return -ERANGE;
		*ret_value = (int64_t)abs_value;
	}
	return 0;
}

int money_mul_div(int64_t a, int64_t num, int64_t den, int64_t *ret_quotient)
{
	unsigned __int128 product, divisor, quotient, remainder;
	bool negative;

	if (den == 0)
		return -EINVAL;
	/* |a × num| <= 2^126, so the product is exact in 128 bits. */
	product = magnitude(a) * magnitude(num);
	divisor = magnitude(den);
	negative = product != 0 && ((a < 0) != (num < 0)) != (den < 0);
	quotient = product / divisor;
	remainder = product % divisor;
	/* Half up on the absolute value: a remainder of at least half the divisor
	 * rounds away from zero. 2 × remainder < 2^64 cannot overflow. */
	if (2 * remainder >= divisor)
		quotient++;
	return signed_result(quotient, negative, ret_quotient);
}

struct split_entry {
	unsigned __int128 remainder;
	uint64_t part; /* magnitude: at most |total| <= 2^63 */
	int64_t id;
	size_t position;
};

/* Largest remainder first; equal remainders to the lower id, then position. */
static int split_entry_compare(const void *x, const void *y)
{
	const struct split_entry *a = x, *b = y;

	if (a->remainder != b->remainder)
		return a->remainder > b->remainder ? -1 : 1;
	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	if (a->position != b->position)
		return a->position < b->position ? -1 : 1;
	return 0;
}

int money_split(int64_t total, const uint64_t *weights, const int64_t *ids, size_t n,
		int64_t *ret_parts)
{
	unsigned __int128 abs_total = magnitude(total), weight_sum = 0, handed_out = 0;
	struct split_entry *entries;
	size_t leftover;
	bool equal = true;

	if (n == 0)
		return total == 0 ? 0 : -EINVAL;
	/* n weights below 2^64 each sum to less than 2^128: no overflow. */
	for (size_t i = 0; i < n; i++) {
		weight_sum += weights[i];
		if (weights[i] != 0)
			equal = false;
	}
	if (equal)
		weight_sum = n;

	entries = calloc(n, sizeof(*entries));
	if (!entries)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		/* |total| <= 2^63 and a weight < 2^64: the product fits in 128 bits. */
		unsigned __int128 share = abs_total * (equal ? 1 : weights[i]);

		entries[i].remainder = share % weight_sum;
		entries[i].part = (uint64_t)(share / weight_sum);
		entries[i].id = ids ? ids[i] : (int64_t)i;
		entries[i].position = i;
		handed_out += share / weight_sum;
	}
	/* Each remainder is below weight_sum, so fewer than n units are left over. */
	leftover = (size_t)(abs_total - handed_out);
	qsort(entries, n, sizeof(*entries), split_entry_compare);
	for (size_t i = 0; i < leftover; i++)
		entries[i].part++;
	/* No part exceeds |total|, so each one fits with total's sign. */
	for (size_t i = 0; i < n; i++)
		(void)signed_result(entries[i].part, total < 0, &ret_parts[entries[i].position]);
	free(entries);
	return 0;
}

int money_format(int64_t minor, unsigned exponent, char *buf, size_t size)
{
	char digits[MONEY_TEXT_MAX];
	uint64_t abs_value = minor < 0 ? -(uint64_t)minor : (uint64_t)minor;
	size_t n_digits = 0, len = 0, integer_digits;

	if (exponent > MONEY_EXPONENT_MAX)
		return -EINVAL;
	/* Digits in reverse, at least exponent + 1 of them ("0.05", not ".05"). */
	do {
		digits[n_digits++] = (char)('0' + abs_value % 10);
		abs_value /= 10;
	} while (abs_value != 0 || n_digits <= exponent);
	integer_digits = n_digits - exponent;

	if (size < (minor < 0) + n_digits + (exponent > 0) + 1)
		return -ENOBUFS;
	if (minor < 0)
		buf[len++] = '-';
	for (size_t i = 0; i < n_digits; i++) {
		if (i == integer_digits)
			buf[len++] = '.';
		buf[len++] = digits[n_digits - 1 - i];
	}
	buf[len] = '\0';
	return 0;
}
