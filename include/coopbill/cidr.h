/* Household address ranges: IPv4 and IPv6 CIDR prefixes, parsed strictly,
 * printed in one normal form, and compared for overlap. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128" and a NUL. */
#define CIDR_TEXT_MAX 52

struct cidr {
	int family;	  /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network address, big endian; IPv4 uses the first 4 bytes */
	unsigned prefix_len;
};

/* Parses "10.0.1.10", "10.0.1.0/24" or "2001:db8:1::/56". A missing prefix
 * length means a single address. Host bits set below the prefix are an error
 * (-EINVAL) and ret_hint, when given, then holds the network it should be. */
int cidr_parse(const char *text, struct cidr *ret_cidr, char ret_hint[CIDR_TEXT_MAX]);
void cidr_format(const struct cidr *cidr, char ret_text[CIDR_TEXT_MAX]);

/* The first and last address of the range, 16 bytes each (IPv4: the first 4). */
void cidr_range(const struct cidr *cidr, uint8_t ret_first[16], uint8_t ret_last[16]);
size_t cidr_addr_len(const struct cidr *cidr);
bool cidr_overlaps(const struct cidr *a, const struct cidr *b);
