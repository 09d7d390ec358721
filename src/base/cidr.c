/* CIDR prefixes for household address ranges: strict parsing, one normal form
 * for printing, and range arithmetic for overlap checks. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coopbill/cidr.h"

size_t cidr_addr_len(const struct cidr *cidr)
{
	return cidr->family == AF_INET ? 4 : 16;
}

static void mask_host_bits(uint8_t addr[16], size_t len, unsigned prefix_len, uint8_t fill)
{
	for (size_t i = 0; i < len; i++) {
		unsigned bit = (unsigned)i * 8;
		uint8_t host_mask;

		if (bit + 8 <= prefix_len)
			continue;
		host_mask = bit >= prefix_len ? 0xff : (uint8_t)(0xff >> (prefix_len - bit));
		addr[i] = fill ? (uint8_t)(addr[i] | host_mask) : (uint8_t)(addr[i] & ~host_mask);
	}
}

int cidr_parse(const char *text, struct cidr *ret_cidr, char ret_hint[CIDR_TEXT_MAX])
{
	char buf[INET6_ADDRSTRLEN + 5];
	struct cidr cidr = { 0 };
	const char *slash;
	unsigned max_len;
	uint8_t network[16];
	size_t len;

	if (!text || strlen(text) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, text);
	slash = strchr(buf, '/');
	if (slash)
		buf[slash - buf] = '\0';
	if (inet_pton(AF_INET, buf, cidr.addr) == 1) {
		cidr.family = AF_INET;
		max_len = 32;
	} else if (inet_pton(AF_INET6, buf, cidr.addr) == 1) {
		cidr.family = AF_INET6;
		max_len = 128;
	} else {
		return -EINVAL;
	}

	cidr.prefix_len = max_len;
	if (slash) {
		const char *digits = text + (slash - buf) + 1;
		char *end;
		unsigned long n;

		if (*digits < '0' || *digits > '9' || (digits[0] == '0' && digits[1] != '\0'))
			return -EINVAL;
		errno = 0;
		n = strtoul(digits, &end, 10);
		if (errno || *end != '\0' || n > max_len)
			return -EINVAL;
		cidr.prefix_len = (unsigned)n;
	}

	len = cidr_addr_len(&cidr);
	memcpy(network, cidr.addr, sizeof(network));
	mask_host_bits(network, len, cidr.prefix_len, 0);
	if (memcmp(network, cidr.addr, len) != 0) {
		if (ret_hint) {
			struct cidr hint = cidr;

			memcpy(hint.addr, network, sizeof(network));
			cidr_format(&hint, ret_hint);
		}
		return -EINVAL;
	}
	*ret_cidr = cidr;
	return 0;
}

void cidr_format(const struct cidr *cidr, char ret_text[CIDR_TEXT_MAX])
{
	char addr[INET6_ADDRSTRLEN];

	inet_ntop(cidr->family, cidr->addr, addr, sizeof(addr));
	snprintf(ret_text, CIDR_TEXT_MAX, "%s/%u", addr, cidr->prefix_len);
}

void cidr_range(const struct cidr *cidr, uint8_t ret_first[16], uint8_t ret_last[16])
{
	size_t len = cidr_addr_len(cidr);

	memcpy(ret_first, cidr->addr, 16);
	memcpy(ret_last, cidr->addr, 16);
	mask_host_bits(ret_first, len, cidr->prefix_len, 0);
	mask_host_bits(ret_last, len, cidr->prefix_len, 1);
}

bool cidr_overlaps(const struct cidr *a, const struct cidr *b)
{
	uint8_t a_first[16], a_last[16], b_first[16], b_last[16];
	size_t len = cidr_addr_len(a);

	if (a->family != b->family)
		return false;
	cidr_range(a, a_first, a_last);
	cidr_range(b, b_first, b_last);
	return memcmp(a_first, b_last, len) <= 0 && memcmp(b_first, a_last, len) <= 0;
}
