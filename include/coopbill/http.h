/* HTTP: libmicrohttpd driven by the libuv loop (external epoll), request
 * bodies read under limits, path matching, and JSON, CSV and RFC 9457 problem
 * replies. What to do with a request is decided by the dispatch callback. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <uv.h>

struct config;
struct http_request;
struct http_server;

typedef void (*http_dispatch_fn)(struct http_request *request, void *userdata);
typedef void (*http_server_cb)(void *data);

/* Each request meets admit once its headers are in, before its body is read:
 * a reply made there (401, 403, 404...) is sent without reading the body.
 * When admit does not reply, the body is read (within the limits) and
 * dispatch replies. done meets every request whose headers came in, once it
 * has ended (its reply sent, or the client gone): the place to count and
 * log it, on the loop thread. Starts listening on config's address with its
 * limits. The config must stay valid until http_server_set_config()
 * replaces it or the server closes. */
int http_server_new(uv_loop_t *loop, const struct config *config, http_dispatch_fn admit,
		    http_dispatch_fn dispatch, http_dispatch_fn done, void *userdata,
		    struct http_server **ret_server);
void http_server_set_config(struct http_server *server, const struct config *config);
/* Stops accepting connections; on_drained runs once no request is in flight. */
void http_server_quiesce(struct http_server *server, http_server_cb on_drained, void *data);
/* Closes every connection and the libuv handles; on_closed runs when the
 * server is freed. */
void http_server_close(struct http_server *server, http_server_cb on_closed, void *data);

/* What the server refuses for a limit of [server]: a connection when
 * max_connections are open (or one waiting for its request's headers ended
 * to make room) and past max_connections_per_ip; one whose request's
 * headers are not in within header_timeout_s; a body over max_body_bytes;
 * a body past body_memory_bytes of all bodies being received. And what
 * libmicrohttpd refuses itself before the daemon sees the request: a
 * request line or header block past connection_memory_bytes (414, 431),
 * and a request it cannot read (400, 413, 505). */
enum http_limit {
	HTTP_LIMIT_CONNECTIONS,
	HTTP_LIMIT_CONNECTIONS_PER_IP,
	HTTP_LIMIT_HEADER_DEADLINE,
	HTTP_LIMIT_BODY_SIZE,
	HTTP_LIMIT_BODY_MEMORY,
	HTTP_LIMIT_REQUEST_HEAD,
	HTTP_LIMIT_MALFORMED,
	HTTP_LIMITS,
};
/* "connections", "connections_per_ip", "header_deadline", "body_size",
 * "body_memory", "request_head", "malformed". */
const char *http_limit_name(enum http_limit limit);
/* The server's counters: refusals since the start, by limit, and the
 * connections open. */
struct http_stats {
	uint64_t refused[HTTP_LIMITS];
	unsigned connections;
};
/* The counters of the server a request came through. */
void http_request_stats(const struct http_request *request, struct http_stats *ret_stats);

/* The statuses the server replies with, for tables indexed by status:
 * http_status_index() is below HTTP_STATUSES for each of them, and
 * HTTP_STATUSES for any other; http_status_at() is its inverse. */
#define HTTP_STATUSES 17
size_t http_status_index(unsigned status);
unsigned http_status_at(size_t index);

/* Request accessors, valid during dispatch (and done). */
const char *http_request_method(const struct http_request *request);
const char *http_request_path(const struct http_request *request);
const char *http_request_header(const struct http_request *request, const char *name);
const char *http_request_query(const struct http_request *request, const char *name);
const char *http_request_body(const struct http_request *request, size_t *ret_len);
/* Content negotiation. offered lists the media types a resource comes in
 * ("application/json", "text/csv"), the server's favourite first, ending
 * with NULL; at most HTTP_OFFERED_MAX count. http_accept_pick returns the
 * index of the one an Accept header value prefers (highest q, then the type
 * named most precisely, then the server's order; no header, or one that only
 * refuses types with q=0, accepts the rest), or -ENOENT when it accepts
 * none. http_request_negotiate picks for the request, or replies 406 listing
 * what is offered and returns -ENOENT. */
#define HTTP_OFFERED_MAX 4
int http_accept_pick(const char *accept, const char *const *offered);
int http_request_negotiate(struct http_request *request, const char *const *offered);
/* What admit keeps for dispatch: malloc'd memory, freed with free() when the
 * request ends. */
void http_request_set_data(struct http_request *request, void *data);
void *http_request_data(const struct http_request *request);
/* True when negotiation chose text/csv. */
bool http_request_wants_csv(const struct http_request *request);

/* Path patterns: "/api/v1/households/{id}" matches "/api/v1/households/7",
 * capturing "7". At most HTTP_MAX_PARAMS captures of HTTP_PARAM_MAX-1 bytes. */
#define HTTP_MAX_PARAMS 4
#define HTTP_PARAM_MAX	64
struct http_params {
	size_t n;
	char values[HTTP_MAX_PARAMS][HTTP_PARAM_MAX];
};
bool http_path_match(const char *pattern, const char *path, struct http_params *ret_params);

/* Replies: each request gets exactly one. The reply functions take ownership
 * of what they are given. */
void http_reply_header(struct http_request *request, const char *name, const char *value);
void http_reply_json(struct http_request *request, unsigned status, json_t *body);
void http_reply_csv(struct http_request *request, unsigned status, char *body, size_t len);
void http_reply_text(struct http_request *request, unsigned status, const char *content_type,
		     char *body, size_t len);
/* A reply of text the caller keeps (a reply served again), copied. */
void http_reply_copy(struct http_request *request, unsigned status, const char *content_type,
		     const char *body, size_t len);
#define HTTP_CSV_CONTENT_TYPE "text/csv; charset=utf-8"
void http_reply_empty(struct http_request *request, unsigned status);
/* An RFC 9457 problem: type "urn:coopbill:problem:<type_slug>", the status's
 * reason phrase as title, and a detail that tells the client what to fix. */
void http_reply_problem(struct http_request *request, unsigned status, const char *type_slug,
			const char *detail_format, ...) __attribute__((format(printf, 4, 5)));
bool http_request_replied(const struct http_request *request);
/* The reply's status, 0 while there is none; its problem type ("forbidden")
 * when it is a problem, else NULL; and the time since the request line came
 * in. */
unsigned http_request_status(const struct http_request *request);
const char *http_request_problem(const struct http_request *request);
uint64_t http_request_duration_ns(const struct http_request *request);

/* Answers GET or HEAD of the request's path with a file from the folder root
 * ("/" is index.html), or 404; see src/http/files.c for what is served. */
void http_reply_file(struct http_request *request, const char *root);

/* Long work: the handler defers its reply and returns; the connection waits
 * (the loop keeps serving others) until the reply is made and
 * http_request_resume() is called. If the connection ends first (a client
 * gone, the server closing), on_gone runs and the request must not be used
 * again. Admit may defer too: the body is read, or the reply made then
 * sent, once it is resumed. A second deferral replaces the first's
 * on_gone. */
typedef void (*http_request_gone_fn)(void *data);
void http_request_defer(struct http_request *request, http_request_gone_fn on_gone, void *data);
void http_request_resume(struct http_request *request);
/* Takes a deferral back before the handler has returned: its reply is
 * sent as if it had not deferred. */
void http_request_undefer(struct http_request *request);
/* Whether the request waits, deferred with on_gone's data. */
bool http_request_deferred_for(const struct http_request *request, const void *data);

/* The body as a JSON value: an object with no duplicate keys. Replies 400 and
 * returns -EINVAL when the body is not that. */
int http_request_json(struct http_request *request, json_t **ret_body);

/* What a request's JSON object may or must carry: a key, the type of its
 * value and where the value goes. A field left out keeps what its output
 * held, so initialise every output before unpacking. */
enum http_json_type {
	/* ret is a const char **, borrowed from the object. */
	HTTP_JSON_STRING,
	/* ret is a json_int_t *. */
	HTTP_JSON_INTEGER,
	/* ret is a json_t **, borrowed from the object. */
	HTTP_JSON_ARRAY,
	/* ret is a json_t **: an integer, or JSON null. */
	HTTP_JSON_INTEGER_OR_NULL,
	/* ret is a json_t **, borrowed from the object. */
	HTTP_JSON_OBJECT,
};
struct http_json_field {
	const char *key;
	enum http_json_type type;
	bool optional;
	void *ret;
};
/* Unpacks object strictly: no key but those of fields, every field that is
 * not optional present, each value of its type. On success fills the
 * outputs of the fields present; otherwise fills none, writes why in the
 * project's words ("unknown key colour", "reason is missing", "reason must be
 * a string") and returns -EINVAL. */
int http_json_unpack(json_t *object, const struct http_json_field *fields, size_t n_fields,
		     char *ret_reason, size_t reason_size);

/* The reason phrase of a status code ("Not Found"). */
const char *http_status_phrase(unsigned status);

/* A problem document as JSON, for replies and tests alike. */
json_t *http_problem_new(unsigned status, const char *type_slug, const char *detail);

/* Writes one CSV field (RFC 4180 quoting when needed), then a comma or, for
 * the last field of a row, CRLF. */
void http_csv_field(FILE *out, const char *text, bool last);
/* Replies with a list of flat rows: body (NULL: a new object) with rows
 * under key as JSON, or, when the client asks for text/csv, one CSV line per
 * row with the given columns (integers in decimal, null as an empty field).
 * Takes body and rows. */
void http_reply_rows(struct http_request *request, json_t *body, const char *key, json_t *rows,
		     const char *const *columns, size_t n_columns);
/* Replies with one document: JSON, or, when the client asks for text/csv,
 * one "field,value" row per number or text in it, named by its path
 * ("revenue_by_kind_minor.usage", "cost_sharing[0].pool_minor"). Takes
 * document. */
void http_reply_document(struct http_request *request, json_t *document);
