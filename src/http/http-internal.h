/* What the http module's files share: the request and server structs. */
#pragma once

#include <stdint.h>

#include <microhttpd.h>

#include "coopbill/diag.h"
#include "coopbill/http.h"

struct http_request {
	struct http_server *server;
	struct MHD_Connection *connection;
	struct http_connection *conn;
	/* Where the request target ends in MHD's buffer, and whether it holds
	 * %00 or white space, as the client sent it. */
	const char *target_end;
	bool target_nul;
	bool target_space;
	/* The headers are in and were checked (the handler's first call). */
	bool begun;
	const char *method;
	const char *path;
	char *body;
	size_t body_len;
	size_t body_cap;
	/* This body's share of [server] body_memory_bytes. */
	size_t body_reserved;
	/* The admit callback's, for dispatch. */
	void *data;
	/* When the request line came in (uv_hrtime). */
	uint64_t started_ns;
	unsigned status;
	/* The problem type of a problem reply, else "". */
	char problem[32];
	struct MHD_Response *response;
	/* What content negotiation chose, one of the offered media types. */
	const char *media_type;
	/* The Origin header when it is a configured CORS origin. */
	const char *cors_origin;
	/* Answered later: the connection is suspended until the reply; when
	 * admitting, the admission was. */
	bool deferred;
	bool admitting;
	http_request_gone_fn on_gone;
	void *on_gone_data;
};

/* One connection, from MHD's accepting it to its closing. */
struct http_connection {
	int fd;
	/* In the server's list of connections waiting for a request's headers,
	 * since waiting_since (the loop's clock, in ms). */
	bool waiting;
	uint64_t waiting_since;
	struct http_connection *prev;
	struct http_connection *next;
	/* The request being received or answered, until MHD completes it.
	 * libmicrohttpd 0.9.75 never completes one it refused itself once
	 * the headers were in (a malformed Cookie, for one): the connection's
	 * closing frees it then. */
	struct http_request *request;
};

struct http_server {
	uv_loop_t *loop;
	uv_poll_t poll;
	uv_timer_t timer;
	/* Ends the connections whose headers are late. */
	uv_timer_t sweep;
	struct MHD_Daemon *mhd;
	const struct config *config;
	http_dispatch_fn admit;
	http_dispatch_fn dispatch;
	http_dispatch_fn done;
	void *userdata;
	/* Refusals by limit, since the start; and the lines logging them. */
	uint64_t refused[HTTP_LIMITS];
	struct diag_limit refusals_log;
	size_t requests_in_flight;
	/* Bytes reserved by the request bodies being received. */
	size_t body_bytes;
	bool quiescing;
	/* The connections open, MHD's limit, and those waiting for headers,
	 * oldest first. */
	unsigned connections;
	unsigned max_connections;
	struct http_connection *waiting_head;
	struct http_connection *waiting_tail;
	/* A connection closed during this MHD_run(). */
	bool connections_closed;
	unsigned handles_open;
	http_server_cb on_drained;
	void *on_drained_data;
	http_server_cb on_closed;
	void *on_closed_data;
};
