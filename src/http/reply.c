/* Replies: JSON, text and RFC 9457 problem documents, with the headers every
 * reply carries (content type, no caching of API data, CORS for configured
 * origins). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coopbill/diag.h"
#include "coopbill/utf8.h"
#include "http-internal.h"

static const struct {
	unsigned status;
	const char *phrase;
} status_phrases[] = {
	{ 200, "OK" },
	{ 201, "Created" },
	{ 204, "No Content" },
	{ 304, "Not Modified" },
	{ 400, "Bad Request" },
	{ 401, "Unauthorized" },
	{ 403, "Forbidden" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 406, "Not Acceptable" },
	{ 409, "Conflict" },
	{ 413, "Content Too Large" },
	{ 415, "Unsupported Media Type" },
	{ 422, "Unprocessable Content" },
	{ 500, "Internal Server Error" },
	{ 501, "Not Implemented" },
	{ 503, "Service Unavailable" },
};

_Static_assert(sizeof(status_phrases) / sizeof(status_phrases[0]) == HTTP_STATUSES,
	       "HTTP_STATUSES counts the statuses of status_phrases");

size_t http_status_index(unsigned status)
{
	size_t i = 0;

	while (i < HTTP_STATUSES && status_phrases[i].status != status)
		i++;
	return i;
}

unsigned http_status_at(size_t index)
{
	return status_phrases[index].status;
}

const char *http_status_phrase(unsigned status)
{
	size_t i = http_status_index(status);

	return i < HTTP_STATUSES ? status_phrases[i].phrase : "Error";
}

bool http_request_replied(const struct http_request *request)
{
	return request->status != 0;
}

unsigned http_request_status(const struct http_request *request)
{
	return request->status;
}

const char *http_request_problem(const struct http_request *request)
{
	return request->problem[0] ? request->problem : NULL;
}

/* The reply is response, with the headers every reply has; NULL (no
 * memory for it) leaves the request without one. */
static void reply_with(struct http_request *request, unsigned status, const char *content_type,
		       struct MHD_Response *response)
{
	if (!response)
		return;
	if (content_type)
		MHD_add_response_header(response, "Content-Type", content_type);
	MHD_add_response_header(response, "Cache-Control", "no-store");
	MHD_add_response_header(response, "X-Content-Type-Options", "nosniff");
	if (request->cors_origin) {
		MHD_add_response_header(response, "Access-Control-Allow-Origin",
					request->cors_origin);
		MHD_add_response_header(response, "Vary", "Origin");
	}
	request->response = response;
	request->status = status;
}

/* Takes ownership of body (malloc'd, or NULL when len is 0). */
static void reply(struct http_request *request, unsigned status, const char *content_type,
		  char *body, size_t len)
{
	struct MHD_Response *response;

	if (http_request_replied(request)) {
		free(body);
		return;
	}
	response = MHD_create_response_from_buffer(len, body ? body : (char *)"",
						   body ? MHD_RESPMEM_MUST_FREE
							: MHD_RESPMEM_PERSISTENT);
	if (!response)
		free(body);
	reply_with(request, status, content_type, response);
}

void http_reply_copy(struct http_request *request, unsigned status, const char *content_type,
		     const char *body, size_t len)
{
	struct MHD_Response *response;

	if (http_request_replied(request))
		return;
	response = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!response)
		http_reply_problem(request, 503, "out-of-memory",
				   "the server is short of memory; try again later");
	else
		reply_with(request, status, content_type, response);
}

void http_reply_header(struct http_request *request, const char *name, const char *value)
{
	if (request->response)
		MHD_add_response_header(request->response, name, value);
}

void http_reply_json(struct http_request *request, unsigned status, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII);

	json_decref(body);
	if (!text) {
		http_reply_problem(request, 503, "out-of-memory",
				   "the server is short of memory; try again later");
		return;
	}
	reply(request, status, "application/json", text, strlen(text));
}

void http_reply_csv(struct http_request *request, unsigned status, char *body, size_t len)
{
	reply(request, status, HTTP_CSV_CONTENT_TYPE, body, len);
}

void http_reply_text(struct http_request *request, unsigned status, const char *content_type,
		     char *body, size_t len)
{
	reply(request, status, content_type, body, len);
}

void http_reply_empty(struct http_request *request, unsigned status)
{
	reply(request, status, NULL, NULL, 0);
}

/* A detail may quote what the client sent, or be cut inside a character:
 * each byte that starts no UTF-8 character becomes '?', so that the
 * problem can be written as JSON. */
static void utf8_repair(char *text)
{
	size_t len;

	for (unsigned char *c = (unsigned char *)text; *c; c += len) {
		len = utf8_sequence(c);
		if (len == 0) {
			*c = '?';
			len = 1;
		}
	}
}

json_t *http_problem_new(unsigned status, const char *type_slug, const char *detail)
{
	char type[128];

	snprintf(type, sizeof(type), "urn:coopbill:problem:%s", type_slug);
	return json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title", http_status_phrase(status),
			 "status", (int)status, "detail", detail);
}

/* The path as a log line may show it: control characters and bytes past
 * ASCII become '?', and a long path is cut. */
static const char *log_safe_path(const char *path, char ret_path[256])
{
	size_t i;

	for (i = 0; path && path[i] && i < 255; i++)
		ret_path[i] = path[i] >= 0x20 && path[i] < 0x7f ? path[i] : '?';
	ret_path[i] = '\0';
	return ret_path;
}

void http_reply_problem(struct http_request *request, unsigned status, const char *type_slug,
			const char *detail_format, ...)
{
	char detail[1024], path[256];
	json_t *problem;
	char *text;
	va_list ap;

	va_start(ap, detail_format);
	vsnprintf(detail, sizeof(detail), detail_format, ap);
	va_end(ap);
	utf8_repair(detail);
	/* A server error's reply sends the operator here: say what failed. A
	 * refusal for load ("busy") is the client's doing: it is logged as a
	 * refused request, at most 20 lines a second, so that a flood of
	 * bodies cannot fill the disk. */
	if (status >= 500 && strcmp(type_slug, "busy") != 0 && !http_request_replied(request))
		diag_error("%s %s: %u %s: %s", request->method, log_safe_path(request->path, path),
			   status, type_slug, detail);
	if (!http_request_replied(request))
		snprintf(request->problem, sizeof(request->problem), "%s", type_slug);
	problem = http_problem_new(status, type_slug, detail);
	text = problem ? json_dumps(problem, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	json_decref(problem);
	reply(request, status, "application/problem+json", text, text ? strlen(text) : 0);
}
