/* UTF-8 as RFC 3629 defines it: no overlong forms, no surrogates, nothing
 * past U+10FFFF. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The length of the UTF-8 sequence that starts at text, 0 when none does. */
size_t utf8_sequence(const unsigned char *text);

/* Whether the NUL-terminated text is UTF-8 throughout. */
bool utf8_valid(const char *text);
