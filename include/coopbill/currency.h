/* ISO 4217 currencies the cooperative may bill in, with their minor-unit exponents. */
#pragma once

/* Returns 0 and the number of minor-unit digits (EUR 2, JPY 0, KWD 3) for a
 * known three-letter code, or -ENOENT. */
int currency_exponent(const char *code, unsigned *ret_exponent);
