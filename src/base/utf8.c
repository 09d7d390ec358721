/* UTF-8 sequences and validity (RFC 3629). */
#include "coopbill/utf8.h"

size_t utf8_sequence(const unsigned char *text)
{
	unsigned code, min;
	size_t len;

	if (text[0] < 0x80)
		return 1;
	if ((text[0] & 0xe0) == 0xc0) {
		len = 2, code = text[0] & 0x1f, min = 0x80;
	} else if ((text[0] & 0xf0) == 0xe0) {
		len = 3, code = text[0] & 0x0f, min = 0x800;
	} else if ((text[0] & 0xf8) == 0xf0) {
		len = 4, code = text[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	for (size_t i = 1; i < len; i++) {
		if ((text[i] & 0xc0) != 0x80)
			return 0;
		code = code << 6 | (text[i] & 0x3f);
	}
	if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))
		return 0;
	return len;
}

bool utf8_valid(const char *text)
{
	size_t len;

	for (const unsigned char *c = (const unsigned char *)text; *c; c += len) {
		len = utf8_sequence(c);
		if (len == 0)
			return false;
	}
	return true;
}
