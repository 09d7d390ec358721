/* Strict standard base64 (RFC 4648 §4, padded) for keys, signatures and
 * hashes: libsodium 1.0.18's decoder takes any byte of 0x80 or more as a
 * digit, so that many texts would decode to one key or hash. */
#include <errno.h>
#include <stdbool.h>

#include <sodium.h>

#include "coopbill/tlog.h"

static bool base64_digit(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

int tlog_base64_decode(const char *text, size_t len, uint8_t *ret_bytes, size_t max_len,
		       size_t *ret_len)
{
	size_t digits = len;

	if (len % 4 != 0)
		return -EINVAL;
	/* At most two '=', only at the end. */
	while (digits > 0 && len - digits < 2 && text[digits - 1] == '=')
		digits--;
	for (size_t i = 0; i < digits; i++)
		if (!base64_digit((unsigned char)text[i]))
			return -EINVAL;
	/* libsodium checks the rest: the padding and that unused bits are zero. */
	if (sodium_base642bin(ret_bytes, max_len, text, len, NULL, ret_len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0)
		return -EINVAL;
	return 0;
}
