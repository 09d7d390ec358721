/* C2SP tlog-checkpoint note bodies: origin, tree size and root hash, one per
 * line, and any extension lines kept verbatim. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "coopbill/tlog.h"

#define ROOT_BASE64_SIZE sodium_base64_ENCODED_LEN(TLOG_HASH_SIZE, sodium_base64_VARIANT_ORIGINAL)
/* INT64_MAX has 19 digits. */
#define SIZE_DIGITS_MAX 19

/* Extension lines: none, or non-empty lines each ending in a newline. */
static bool extensions_valid(const char *extensions, size_t len)
{
	if (len > TLOG_CHECKPOINT_EXTENSIONS_MAX)
		return false;
	if (len == 0)
		return true;
	if (extensions[len - 1] != '\n' || tlog_note_check_text(extensions, len) < 0)
		return false;
	if (extensions[0] == '\n' || memmem(extensions, len, "\n\n", 2))
		return false;
	return true;
}

static bool origin_valid(const char *origin, size_t len)
{
	char line[TLOG_ORIGIN_MAX + 1];

	if (len == 0 || len > TLOG_ORIGIN_MAX || memchr(origin, '\n', len))
		return false;
	/* The origin is a line of the note: check it as one. */
	memcpy(line, origin, len);
	line[len] = '\n';
	return tlog_note_check_text(line, len + 1) == 0;
}

int tlog_checkpoint_format(const struct tlog_checkpoint *checkpoint,
			   char ret_text[TLOG_CHECKPOINT_TEXT_MAX], size_t *ret_text_len)
{
	char root64[ROOT_BASE64_SIZE];
	size_t origin_len, extensions_len;
	int n;

	if (!checkpoint || checkpoint->size < 0)
		return -EINVAL;
	origin_len = strnlen(checkpoint->origin, sizeof(checkpoint->origin));
	extensions_len = strnlen(checkpoint->extensions, sizeof(checkpoint->extensions));
	if (!origin_valid(checkpoint->origin, origin_len) ||
	    !extensions_valid(checkpoint->extensions, extensions_len))
		return -EINVAL;
	sodium_bin2base64(root64, sizeof(root64), checkpoint->root, TLOG_HASH_SIZE,
			  sodium_base64_VARIANT_ORIGINAL);
	n = snprintf(ret_text, TLOG_CHECKPOINT_TEXT_MAX, "%s\n%" PRId64 "\n%s\n%s",
		     checkpoint->origin, checkpoint->size, root64, checkpoint->extensions);
	if (n < 0 || n >= TLOG_CHECKPOINT_TEXT_MAX)
		return -EPROTO;
	*ret_text_len = (size_t)n;
	return 0;
}

/* Canonical decimal: "0", or digits without a leading zero, up to INT64_MAX. */
static int parse_size(const char *digits, size_t len, int64_t *ret_size)
{
	int64_t size = 0;

	if (len == 0 || len > SIZE_DIGITS_MAX || (digits[0] == '0' && len > 1))
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		int digit = digits[i] - '0';

		if (digits[i] < '0' || digits[i] > '9')
			return -EINVAL;
		if (size > (INT64_MAX - digit) / 10)
			return -EINVAL;
		size = size * 10 + digit;
	}
	*ret_size = size;
	return 0;
}

/* The next line of text[*pos..len), without its newline; -EINVAL when no
 * newline ends it. */
static int next_line(const char *text, size_t len, size_t *pos, const char **ret_line,
		     size_t *ret_line_len)
{
	const char *line = text + *pos;
	const char *newline = memchr(line, '\n', len - *pos);

	if (!newline)
		return -EINVAL;
	*ret_line = line;
	*ret_line_len = (size_t)(newline - line);
	*pos += *ret_line_len + 1;
	return 0;
}

int tlog_checkpoint_parse(const char *text, size_t text_len, struct tlog_checkpoint *ret_checkpoint)
{
	struct tlog_checkpoint checkpoint = { .size = 0 };
	const char *origin, *size, *root64;
	size_t origin_len, size_len, root64_len, root_len, pos = 0;
	int r;

	if (!text || text_len >= TLOG_CHECKPOINT_TEXT_MAX ||
	    tlog_note_check_text(text, text_len) < 0)
		return -EINVAL;
	r = next_line(text, text_len, &pos, &origin, &origin_len);
	if (r < 0)
		return r;
	r = next_line(text, text_len, &pos, &size, &size_len);
	if (r < 0)
		return r;
	r = next_line(text, text_len, &pos, &root64, &root64_len);
	if (r < 0)
		return r;

	if (!origin_valid(origin, origin_len))
		return -EINVAL;
	memcpy(checkpoint.origin, origin, origin_len);
	checkpoint.origin[origin_len] = '\0';
	r = parse_size(size, size_len, &checkpoint.size);
	if (r < 0)
		return r;
	if (tlog_base64_decode(root64, root64_len, checkpoint.root, sizeof(checkpoint.root),
			       &root_len) < 0 ||
	    root_len != TLOG_HASH_SIZE)
		return -EINVAL;
	if (!extensions_valid(text + pos, text_len - pos))
		return -EINVAL;
	memcpy(checkpoint.extensions, text + pos, text_len - pos);
	checkpoint.extensions[text_len - pos] = '\0';

	*ret_checkpoint = checkpoint;
	return 0;
}
