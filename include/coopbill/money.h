/* Money: signed 64-bit counts of a currency's minor unit (cents for EUR), with
 * the currency's exponent (currency_exponent()) kept beside them. Every operation
 * is overflow-checked and fails with -ERANGE instead of wrapping; there is one
 * rounding rule and one way of splitting a sum into parts. Pure: no I/O. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* "-9223372036854775808" with a decimal point and a terminating NUL fits. */
#define MONEY_TEXT_MAX 32
/* Formatting takes exponents up to this (no currency has more than 4). */
#define MONEY_EXPONENT_MAX 18

int money_add(int64_t a, int64_t b, int64_t *ret_sum);
int money_sub(int64_t a, int64_t b, int64_t *ret_difference);
int money_mul(int64_t a, int64_t b, int64_t *ret_product);

/* a × num / den, computed exactly in 128 bits and rounded once by the one
 * rounding rule of coopbill: half up on the absolute value, so 2.5 → 3 and
 * -2.5 → -3 (the sign never changes which way a half goes). -EINVAL when den
 * is 0, -ERANGE when the rounded result does not fit in int64. */
int money_mul_div(int64_t a, int64_t num, int64_t den, int64_t *ret_quotient);

/* Splits total into n parts proportional to weights[0..n), so that the parts
 * always sum exactly to total. Each part is the exact share rounded towards
 * zero, and the minor units left over go one each to the parts with the
 * largest remainders; equal remainders go to the lower id (ids may be NULL:
 * then the lower position). When every weight is 0 the total is split equally
 * by the same rule. A negative total is split as the mirror image of the
 * positive one. Every part is therefore within one minor unit of its exact
 * share. n == 0 is allowed only for a zero total (-EINVAL otherwise); -ENOMEM
 * when the working array cannot be allocated. */
int money_split(int64_t total, const uint64_t *weights, const int64_t *ids, size_t n,
		int64_t *ret_parts);

/* Writes minor units as a plain decimal with exactly `exponent` digits after
 * the point: 1240 (2) → "12.40", -5 (2) → "-0.05", 1234 (0) → "1234",
 * 1234 (3) → "1.234". No thousands separator, no currency. -EINVAL for an
 * exponent above MONEY_EXPONENT_MAX, -ENOBUFS when size is too small (a
 * buffer of MONEY_TEXT_MAX always suffices). */
int money_format(int64_t minor, unsigned exponent, char *buf, size_t size);
