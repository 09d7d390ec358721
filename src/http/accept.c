/* Content negotiation (RFC 9110, section 12.5.1): which of the media types a
 * resource is offered in the client's Accept header prefers, with q=0
 * meaning "not this", and a 406 that lists what is offered. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http-internal.h"

#define OWS " \t"

/* A qvalue ("0", "0.5", "1.000") in thousandths, or -1 when it is not one. */
static int qvalue_parse(const char *text, size_t len)
{
	int value = 0, scale = 1000;

	if (len == 0 || (text[0] != '0' && text[0] != '1') || (len > 1 && text[1] != '.') ||
	    len > 5)
		return -1;
	for (size_t i = 2; i < len; i++) {
		if (text[i] < '0' || text[i] > '9')
			return -1;
		scale /= 10;
		value += (text[i] - '0') * scale;
	}
	value += (text[0] - '0') * 1000;
	return value > 1000 ? -1 : value;
}

/* Whether a media range is "type/subtype", either of which may be a star. */
static bool range_valid(const char *range, size_t len)
{
	const char *slash = memchr(range, '/', len);

	return slash && slash != range && slash + 1 != range + len &&
	       !memchr(slash + 1, '/', len - (size_t)(slash + 1 - range));
}

/* How closely a valid media range matches type: 3 for the type itself, 2 for
 * its top-level type with any subtype ("text/" and a star), 1 for any type at
 * all, 0 when it does not match. */
static int range_specificity(const char *range, size_t len, const char *type)
{
	size_t major = (size_t)((const char *)memchr(range, '/', len) - range);

	if (len == 3 && memcmp(range, "*/*", 3) == 0)
		return 1;
	if (strncasecmp(range, type, major) != 0 || type[major] != '/')
		return 0;
	if (len == major + 2 && range[major + 1] == '*')
		return 2;
	return strlen(type) == len && strncasecmp(range, type, len) == 0 ? 3 : 0;
}

/* Skips a parameter value, a token or a quoted string (which may hold
 * commas and semicolons). */
static const char *value_skip(const char *p)
{
	if (*p != '"')
		return p + strcspn(p, ",;" OWS);
	for (p++; *p && *p != '"'; p++)
		if (*p == '\\' && p[1])
			p++;
	return *p ? p + 1 : p;
}

int http_accept_pick(const char *accept, const char *const *offered)
{
	int quality[HTTP_OFFERED_MAX], specificity[HTTP_OFFERED_MAX], best = -ENOENT;
	bool any_positive = false;
	size_t n = 0;

	while (offered[n] && n < HTTP_OFFERED_MAX) {
		quality[n] = 0;
		specificity[n] = 0;
		n++;
	}
	for (const char *p = accept ? accept : ""; *p;) {
		const char *range;
		size_t range_len;
		int q = 1000;

		p += strspn(p, OWS ",");
		range = p;
		range_len = strcspn(p, ",;" OWS);
		p += range_len;
		/* Parameters: q is the weight; the others (and accept-ext after
		 * q) do not change which type is meant. */
		while (*(p += strspn(p, OWS)) == ';') {
			const char *name = p + 1 + strspn(p + 1, OWS), *value;
			size_t name_len = strcspn(name, "=,;" OWS);

			p = name + name_len;
			if (*p != '=')
				continue;
			value = p + 1;
			p = value_skip(value);
			if (name_len == 1 && (name[0] == 'q' || name[0] == 'Q'))
				q = qvalue_parse(value, (size_t)(p - value));
		}
		/* Whatever this element holds past its parameters is malformed:
		 * skip to the next one. */
		p += strcspn(p, ",");
		if (!range_valid(range, range_len) || q < 0)
			continue;
		if (q > 0)
			any_positive = true;
		for (size_t i = 0; i < n; i++) {
			int s = range_specificity(range, range_len, offered[i]);

			/* The most specific range that matches a type gives its
			 * weight: "text/csv" over "text/" with a star. */
			if (s > specificity[i] ||
			    (s > 0 && s == specificity[i] && q > quality[i])) {
				specificity[i] = s;
				quality[i] = q;
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		/* A header that only refuses ("text/csv;q=0") leaves the rest
		 * acceptable, as if it had been absent. */
		if (specificity[i] == 0 && !any_positive)
			quality[i] = 1000;
		if (quality[i] == 0)
			continue;
		/* Of equal weights the type named more precisely wins, then the
		 * server's order. */
		if (best < 0 || quality[i] > quality[best] ||
		    (quality[i] == quality[best] && specificity[i] > specificity[best]))
			best = (int)i;
	}
	return best;
}

int http_request_negotiate(struct http_request *request, const char *const *offered)
{
	char list[256] = "";
	int i = http_accept_pick(http_request_header(request, "Accept"), offered);

	if (i >= 0) {
		request->media_type = offered[i];
		return 0;
	}
	for (size_t j = 0; offered[j]; j++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
			 j == 0		  ? ""
			 : offered[j + 1] ? ", "
					  : " or ",
			 offered[j]);
	http_reply_problem(request, 406, "not-acceptable",
			   "%s is answered in %s; the Accept header allows none of that",
			   request->path, list);
	return -ENOENT;
}

bool http_request_wants_csv(const struct http_request *request)
{
	return request->media_type && strcmp(request->media_type, "text/csv") == 0;
}
