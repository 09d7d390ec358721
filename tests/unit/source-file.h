/* For the unit tests: a file of the source tree (COOPBILL_SRCDIR), read
 * whole and NUL-terminated. Include after cmocka.h. */
#pragma once

#include <stdio.h>
#include <stdlib.h>

static char *read_source_file(const char *relative)
{
	const char *srcdir = getenv("COOPBILL_SRCDIR");
	char path[4096];
	char *text;
	long size;
	FILE *f;

	assert_non_null(srcdir);
	snprintf(path, sizeof(path), "%s/%s", srcdir, relative);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	assert_true(size >= 0);
	rewind(f);
	text = malloc((size_t)size + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
	text[size] = '\0';
	fclose(f);
	return text;
}
