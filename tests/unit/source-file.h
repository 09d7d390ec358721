/* For the unit tests: a whole file read into memory, NUL-terminated, by
 * path or from the source tree (COOPBILL_SRCDIR). Include after cmocka.h. */
#pragma once

#include <stdio.h>
#include <stdlib.h>

/* *ret_len (may be NULL) is its length, NUL not counted. */
static inline char *read_file(const char *path, size_t *ret_len)
{
	FILE *file = fopen(path, "rb");
	char *text;
	long len;

	assert_non_null(file);
	assert_int_equal(fseek(file, 0, SEEK_END), 0);
	len = ftell(file);
	assert_true(len >= 0);
	rewind(file);
	text = malloc((size_t)len + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)len, file), (size_t)len);
	text[len] = '\0';
	fclose(file);
	if (ret_len)
		*ret_len = (size_t)len;
	return text;
}

static inline char *read_source_file(const char *relative, size_t *ret_len)
{
	const char *srcdir = getenv("COOPBILL_SRCDIR");
	char path[4096];

	assert_non_null(srcdir);
	snprintf(path, sizeof(path), "%s/%s", srcdir, relative);
	return read_file(path, ret_len);
}
