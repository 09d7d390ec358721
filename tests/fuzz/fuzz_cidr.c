/* CIDR prefixes as households' addresses arrive in request bodies: what
 * cidr_parse() accepts prints in one normal form that parses back to the
 * same prefix, covers the range it says, and overlaps itself. */
#include <sys/socket.h>

#include "coopbill/cidr.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size), hint[CIDR_TEXT_MAX], printed[CIDR_TEXT_MAX];
	uint8_t first[16], last[16];
	struct cidr cidr, again, network;

	hint[0] = '\0';
	if (cidr_parse(text, &cidr, hint) < 0) {
		/* A hint names the network the text should have been. */
		if (hint[0]) {
			fuzz_check(cidr_parse(hint, &network, NULL) == 0);
			fuzz_check(strchr(text, '/') || network.prefix_len == 32 ||
				   network.prefix_len == 128);
		}
		free(text);
		return 0;
	}
	fuzz_check(cidr.family == AF_INET || cidr.family == AF_INET6);
	fuzz_check(cidr.prefix_len <= cidr_addr_len(&cidr) * 8);
	cidr_format(&cidr, printed);
	fuzz_check(cidr_parse(printed, &again, NULL) == 0);
	fuzz_check(again.family == cidr.family && again.prefix_len == cidr.prefix_len &&
		   memcmp(again.addr, cidr.addr, cidr_addr_len(&cidr)) == 0);
	cidr_range(&cidr, first, last);
	fuzz_check(memcmp(first, cidr.addr, cidr_addr_len(&cidr)) == 0);
	fuzz_check(memcmp(first, last, cidr_addr_len(&cidr)) <= 0);
	fuzz_check(cidr_overlaps(&cidr, &again));
	free(text);
	return 0;
}
