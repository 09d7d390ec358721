/* libmicrohttpd on the libuv loop: MHD runs in external-epoll mode, a uv_poll_t
 * watches its epoll fd, and a uv_timer_t re-armed after every MHD_run() from
 * MHD_get_timeout() makes MHD handle timeouts and pending writes. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "coopbill/config.h"
#include "coopbill/diag.h"
#include "coopbill/utf8.h"
#include "http-internal.h"

static void server_run(struct http_server *server);
static void sweep_arm(struct http_server *server);
static void conn_unwait(struct http_server *server, struct http_connection *conn);
static void request_free(struct http_request *request);

static void on_timer(uv_timer_t *timer)
{
	server_run(timer->data);
}

static void on_poll(uv_poll_t *poll, int status, int events)
{
	server_run(poll->data);
}

/* Runs MHD once, then re-arms the timer: without it, connections with work
 * pending but no new socket event would hang. MHD stops listening while its
 * connection table is full and listens again only at the start of a run:
 * when a run closed connections, the next one comes at once, or the last
 * connection closing would leave the server deaf, with no timeout pending
 * and no socket to wake it. */
static void server_run(struct http_server *server)
{
	MHD_UNSIGNED_LONG_LONG timeout_ms;

	if (!server->mhd)
		return;
	server->connections_closed = false;
	MHD_run(server->mhd);
	if (server->connections_closed)
		uv_timer_start(&server->timer, on_timer, 0, 0);
	else if (MHD_get_timeout(server->mhd, &timeout_ms) == MHD_YES)
		uv_timer_start(&server->timer, on_timer, timeout_ms, 0);
	else
		uv_timer_stop(&server->timer);
}

/* The connections waiting for a request's headers, oldest first: a request
 * must have its headers in within [server] header_timeout_s of the
 * connection opening or of its previous request's end, however slowly it
 * trickles them (MHD's idle timeout restarts with every byte). When the
 * table is full, the oldest waiting connection makes room for the new one,
 * so that clients that send their requests are served whatever others hold
 * open. A connection is ended by shutting its socket down: MHD sees the end
 * of the stream and closes it as it would any other. */
static void connection_end(struct http_server *server, struct http_connection *conn)
{
	conn_unwait(server, conn);
	shutdown(conn->fd, SHUT_RDWR);
}

const char *http_limit_name(enum http_limit limit)
{
	static const char *const names[] = {
		[HTTP_LIMIT_CONNECTIONS] = "connections",
		[HTTP_LIMIT_CONNECTIONS_PER_IP] = "connections_per_ip",
		[HTTP_LIMIT_HEADER_DEADLINE] = "header_deadline",
		[HTTP_LIMIT_BODY_SIZE] = "body_size",
		[HTTP_LIMIT_BODY_MEMORY] = "body_memory",
		[HTTP_LIMIT_REQUEST_HEAD] = "request_head",
		[HTTP_LIMIT_MALFORMED] = "malformed",
	};

	return names[limit];
}

/* A connection refused, or ended before its request: counted, and logged
 * with the limit (never the client's address). */
static void connection_refused(struct http_server *server, enum http_limit limit)
{
	server->refused[limit]++;
	diag_emit_limited(&server->refusals_log, LOG_INFO, "refused: connection limit=%s",
			  http_limit_name(limit));
}

static void on_sweep(uv_timer_t *timer)
{
	struct http_server *server = timer->data;
	uint64_t now = uv_now(server->loop);
	uint64_t limit = (uint64_t)server->config->header_timeout_s * 1000;

	while (server->waiting_head && now - server->waiting_head->waiting_since >= limit) {
		connection_refused(server, HTTP_LIMIT_HEADER_DEADLINE);
		connection_end(server, server->waiting_head);
	}
	sweep_arm(server);
}

static void sweep_arm(struct http_server *server)
{
	uint64_t limit = (uint64_t)server->config->header_timeout_s * 1000;
	uint64_t waited;

	if (!server->waiting_head) {
		uv_timer_stop(&server->sweep);
		return;
	}
	waited = uv_now(server->loop) - server->waiting_head->waiting_since;
	uv_timer_start(&server->sweep, on_sweep, waited < limit ? limit - waited : 0, 0);
}

static void conn_unwait(struct http_server *server, struct http_connection *conn)
{
	if (!conn || !conn->waiting)
		return;
	if (conn->prev)
		conn->prev->next = conn->next;
	else
		server->waiting_head = conn->next;
	if (conn->next)
		conn->next->prev = conn->prev;
	else
		server->waiting_tail = conn->prev;
	conn->prev = conn->next = NULL;
	conn->waiting = false;
	sweep_arm(server);
}

static void conn_wait(struct http_server *server, struct http_connection *conn)
{
	if (!conn || conn->waiting)
		return;
	conn->waiting = true;
	conn->waiting_since = uv_now(server->loop);
	conn->prev = server->waiting_tail;
	if (server->waiting_tail)
		server->waiting_tail->next = conn;
	else
		server->waiting_head = conn;
	server->waiting_tail = conn;
	if (!uv_is_active((uv_handle_t *)&server->sweep))
		sweep_arm(server);
}

static struct http_connection *conn_of(struct MHD_Connection *connection)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return info ? info->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct http_server *server = cls;
	struct http_connection *conn = *socket_context;
	const union MHD_ConnectionInfo *info;

	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		server->connections_closed = true;
		if (!conn)
			return;
		conn_unwait(server, conn);
		request_free(conn->request);
		server->connections--;
		free(conn);
		*socket_context = NULL;
		return;
	}
	info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
	conn = info ? calloc(1, sizeof(*conn)) : NULL;
	if (!conn)
		return;
	conn->fd = info->connect_fd;
	*socket_context = conn;
	server->connections++;
	if (server->connections >= server->max_connections && server->waiting_head) {
		connection_refused(server, HTTP_LIMIT_CONNECTIONS);
		connection_end(server, server->waiting_head);
	}
	conn_wait(server, conn);
}

/* MHD says so when it refuses a connection for its table or for one
 * address's share of it; it has no other way of telling. */
#define MHD_LIMIT_MESSAGE "Server reached connection limit"
/* And so, with the status as the first argument, when it answers a request
 * with its own page before the daemon sees it (docs/operations.md,
 * "Refusals libmicrohttpd sends itself"). */
#define MHD_REFUSAL_MESSAGE "Error processing request (HTTP response code is %u"

/* A request libmicrohttpd refused itself: counted, and logged like the
 * daemon's own refusals. Other statuses (its 500 when a handler fails) are
 * not refusals of the client's request. */
static void mhd_refused(struct http_server *server, unsigned status)
{
	enum http_limit limit =
		status == 414 || status == 431 ? HTTP_LIMIT_REQUEST_HEAD : HTTP_LIMIT_MALFORMED;

	if (status != 400 && status != 413 && status != 414 && status != 431 && status != 505)
		return;
	server->refused[limit]++;
	diag_emit_limited(&server->refusals_log, LOG_INFO,
			  "refused: request by libmicrohttpd limit=%s status=%u",
			  http_limit_name(limit), status);
}

static void on_mhd_log(void *cls, const char *format, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void on_mhd_log(void *cls, const char *format, va_list ap)
{
	struct http_server *server = cls;
	char line[512];
	size_t len;

	if (strncmp(format, MHD_LIMIT_MESSAGE, strlen(MHD_LIMIT_MESSAGE)) == 0) {
		connection_refused(server, server->connections >= server->max_connections
						   ? HTTP_LIMIT_CONNECTIONS
						   : HTTP_LIMIT_CONNECTIONS_PER_IP);
		return;
	}

	if (strncmp(format, MHD_REFUSAL_MESSAGE, strlen(MHD_REFUSAL_MESSAGE)) == 0) {
		va_list status_ap;

		va_copy(status_ap, ap);
		mhd_refused(server, va_arg(status_ap, unsigned));
		va_end(status_ap);
	}
	vsnprintf(line, sizeof(line), format, ap);
	len = strlen(line);
	while (len > 0 && line[len - 1] == '\n')
		line[--len] = '\0';
	diag_debug("http: %s", line);
}

static bool content_length_parse(const char *text, size_t *ret_len)
{
	char *end;
	unsigned long long n;

	if (!text || *text < '0' || *text > '9')
		return false;
	errno = 0;
	n = strtoull(text, &end, 10);
	if (errno || *end != '\0' || n > SIZE_MAX)
		return false;
	*ret_len = (size_t)n;
	return true;
}

static void request_cors(struct http_request *request)
{
	const char *origin = http_request_header(request, "Origin");

	if (origin && config_cors_allows(request->server->config, origin))
		request->cors_origin = origin;
}

/* MHD hands over the request target as the client sent it, before decoding:
 * the request begins here. MHD cut the request line into strings in place,
 * so the target ends right before the version unless a raw NUL byte ended
 * it earlier. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *connection)
{
	struct http_server *server = cls;
	struct http_request *request = calloc(1, sizeof(*request));
	struct http_connection *conn = conn_of(connection);

	if (!request)
		return NULL;
	request->server = server;
	request->connection = connection;
	request->started_ns = uv_hrtime();
	request->target_end = uri + strlen(uri);
	request->target_nul = strstr(uri, "%00") != NULL;
	request->target_space = strpbrk(uri, " \t") != NULL;
	if (conn) {
		request_free(conn->request);
		conn->request = request;
		request->conn = conn;
	}
	return request;
}

static enum MHD_Result check_query_utf8(void *cls, enum MHD_ValueKind kind, const char *key,
					const char *value)
{
	bool *valid = cls;

	*valid = utf8_valid(key) && (!value || utf8_valid(value));
	return *valid ? MHD_YES : MHD_NO;
}

/* A NUL would cut the path or a query value short once decoded, white
 * space makes the request line read two ways, and bytes that are not UTF-8
 * cannot be named in a JSON reply. */
static bool request_check_target(struct http_request *request, const char *version)
{
	bool valid = utf8_valid(request->path);

	if (request->target_nul || request->target_end + 1 != version) {
		http_reply_problem(request, 400, "bad-target",
				   "the request target holds a NUL byte (raw or as %%00); no path "
				   "or query of this API has one");
		return false;
	}
	if (request->target_space) {
		http_reply_problem(request, 400, "bad-target",
				   "the request target holds white space; write a space in a path "
				   "or query as %%20");
		return false;
	}
	if (valid)
		MHD_get_connection_values(request->connection, MHD_GET_ARGUMENT_KIND,
					  check_query_utf8, &valid);
	if (!valid) {
		http_reply_problem(request, 400, "bad-target",
				   "the request target is not valid UTF-8 once its %%-escapes are "
				   "decoded");
		return false;
	}
	return true;
}

struct header_census {
	unsigned content_length;
	unsigned transfer_encoding;
	unsigned host;
	const char *malformed;
};

static bool header_name_is_token(const char *name)
{
	if (!*name)
		return false;
	for (const unsigned char *c = (const unsigned char *)name; *c; c++)
		if (!(isalnum(*c) && *c < 0x80) && !strchr("!#$%&'*+-.^_`|~", *c))
			return false;
	return true;
}

static bool header_name_extends(const char *name, const char *framing)
{
	size_t len = strlen(framing);

	return strncasecmp(name, framing, len) == 0 && name[len] != '\0';
}

/* MHD joins a folded line (obs-fold) onto the name of the header before it:
 * a framing header folded so becomes a longer name, and any other a name
 * that is not a token as soon as the folded text holds a space or colon. */
static enum MHD_Result header_count(void *cls, enum MHD_ValueKind kind, const char *name,
				    const char *value)
{
	struct header_census *census = cls;

	if (!header_name_is_token(name) || header_name_extends(name, "Content-Length") ||
	    header_name_extends(name, "Transfer-Encoding")) {
		census->malformed = name;
		return MHD_NO;
	}
	census->content_length += strcasecmp(name, "Content-Length") == 0;
	census->transfer_encoding += strcasecmp(name, "Transfer-Encoding") == 0;
	census->host += strcasecmp(name, "Host") == 0;
	return MHD_YES;
}

/* Framing problems are answered on the first call: MHD then sends the reply
 * without reading the body and closes the connection, which is what a client
 * sending an oversized or ambiguous body should get. */
static bool request_check_framing(struct http_request *request, const char *version)
{
	const char *content_length = http_request_header(request, "Content-Length");
	const char *transfer_encoding = http_request_header(request, "Transfer-Encoding");
	size_t max = request->server->config->max_body_bytes;
	struct header_census census = { 0 };
	size_t len;

	MHD_get_connection_values(request->connection, MHD_HEADER_KIND, header_count, &census);
	if (census.malformed) {
		http_reply_problem(request, 400, "bad-header",
				   "the header \"%s\" is malformed: a name must be a token, and a "
				   "header must not be folded onto a second line",
				   census.malformed);
		return false;
	}
	/* RFC 9112, 3.2: an HTTP/1.1 request names its host once. MHD checks
	 * it only in strict mode, whose refusal 0.9.75 sends with its header
	 * block twice. */
	if (census.host > 1 || (census.host == 0 && strcmp(version, "HTTP/1.0") != 0)) {
		http_reply_problem(request, 400, "bad-header",
				   "the request has %u Host headers; an HTTP/1.1 request must "
				   "have exactly one",
				   census.host);
		return false;
	}
	if (census.content_length > 1 || census.transfer_encoding > 1) {
		http_reply_problem(request, 400, "bad-framing",
				   "the request has %u Content-Length and %u Transfer-Encoding "
				   "headers; send at most one of one of them",
				   census.content_length, census.transfer_encoding);
		return false;
	}
	if (content_length && transfer_encoding) {
		http_reply_problem(request, 400, "bad-framing",
				   "the request has both Content-Length and Transfer-Encoding; "
				   "send only one of them");
		return false;
	}
	if (transfer_encoding && strcasecmp(transfer_encoding, "chunked") != 0) {
		http_reply_problem(request, 501, "transfer-coding",
				   "the transfer coding \"%s\" is not supported; send the body "
				   "with Content-Length or Transfer-Encoding: chunked",
				   transfer_encoding);
		return false;
	}
	if (content_length && content_length_parse(content_length, &len) && len > max) {
		request->server->refused[HTTP_LIMIT_BODY_SIZE]++;
		http_reply_problem(request, 413, "body-too-large",
				   "the request body is %zu bytes; the limit is %zu bytes", len,
				   max);
		return false;
	}
	return true;
}

static bool request_has_body(const struct http_request *request)
{
	const char *content_length = http_request_header(request, "Content-Length");

	return http_request_header(request, "Transfer-Encoding") ||
	       (content_length && strcmp(content_length, "0") != 0);
}

/* The bodies being received share [server] body_memory_bytes; one body
 * alone may always have max_body_bytes. Replies 503 past it. */
static bool request_reserve(struct http_request *request, size_t len)
{
	struct http_server *server = request->server;
	size_t budget = server->config->body_memory_bytes;
	size_t others = server->body_bytes - request->body_reserved;

	if (len <= request->body_reserved)
		return true;
	if (others > 0 && (others > budget || len > budget - others)) {
		server->refused[HTTP_LIMIT_BODY_MEMORY]++;
		http_reply_problem(request, 503, "busy",
				   "the server is receiving %zu bytes of other request bodies and "
				   "holds at most %zu at once; try again in a moment",
				   others, budget);
		http_reply_header(request, "Retry-After", "1");
		return false;
	}
	server->body_bytes += len - request->body_reserved;
	request->body_reserved = len;
	return true;
}

/* Past a limit the rest of the body is read and dropped: MHD sends a reply
 * only before the body (the first call) or after it. */
static void request_append(struct http_request *request, const char *data, size_t len)
{
	size_t max = request->server->config->max_body_bytes;

	if (len > max - request->body_len) {
		request->server->refused[HTTP_LIMIT_BODY_SIZE]++;
		http_reply_problem(request, 413, "body-too-large",
				   "the request body exceeds the limit of %zu bytes", max);
		return;
	}
	if (!request_reserve(request, request->body_len + len))
		return;
	if (request->body_len + len + 1 > request->body_cap) {
		size_t cap = request->body_cap ? request->body_cap : 4096;
		char *body;

		while (cap < request->body_len + len + 1)
			cap *= 2;
		body = realloc(request->body, cap);
		if (!body) {
			http_reply_problem(request, 503, "out-of-memory",
					   "the server is short of memory; try again later");
			return;
		}
		request->body = body;
		request->body_cap = cap;
	}
	memcpy(request->body + request->body_len, data, len);
	request->body_len += len;
	request->body[request->body_len] = '\0';
}

static enum MHD_Result queue_reply(struct http_request *request)
{
	enum MHD_Result result;

	if (!request->response)
		http_reply_problem(request, 500, "internal",
				   "the server produced no reply; this is a bug in coopbilld");
	if (!request->response)
		return MHD_NO;
	result = MHD_queue_response(request->connection, request->status, request->response);
	MHD_destroy_response(request->response);
	request->response = NULL;
	return result;
}

/* What follows the admission: the body is budgeted, or a reply made
 * without it is sent at once. */
static enum MHD_Result request_admitted(struct http_request *request)
{
	size_t len;

	if (!http_request_replied(request) &&
	    content_length_parse(http_request_header(request, "Content-Length"), &len))
		request_reserve(request, len);
	if (http_request_replied(request) && request_has_body(request))
		return queue_reply(request);
	return MHD_YES;
}

/* The first call, once the headers are in: the target and the framing are
 * checked, then the caller's admit. A reply made now is sent at once when a
 * body is coming, so that it is never read; without one, it waits for the
 * second call, which keeps the connection open for the next request. */
static enum MHD_Result request_begin(struct http_request *request, const char *url,
				     const char *method, const char *version)
{
	struct http_server *server = request->server;

	/* A request is in flight, to be answered before the server stops, once
	 * its headers are in. */
	request->begun = true;
	server->requests_in_flight++;
	conn_unwait(server, conn_of(request->connection));
	request->method = method;
	request->path = url;
	request_cors(request);
	if (!request_check_target(request, version) || !request_check_framing(request, version))
		return queue_reply(request);
	server->admit(request, server->userdata);
	/* Admitted later: libmicrohttpd calls again once resumed. */
	if (request->deferred && !request->response) {
		request->admitting = true;
		MHD_suspend_connection(request->connection);
		return MHD_YES;
	}
	return request_admitted(request);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **request_slot)
{
	struct http_server *server = cls;
	struct http_request *request = *request_slot;

	if (!request)
		return MHD_NO;
	if (!request->begun)
		return request_begin(request, url, method, version);
	if (request->admitting) {
		request->admitting = false;
		return request_admitted(request);
	}

	if (*upload_data_size > 0) {
		if (!http_request_replied(request))
			request_append(request, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}

	if (!http_request_replied(request))
		server->dispatch(request, server->userdata);
	if (request->deferred && !request->response) {
		MHD_suspend_connection(connection);
		return MHD_YES;
	}
	return queue_reply(request);
}

void http_request_defer(struct http_request *request, http_request_gone_fn on_gone, void *data)
{
	request->deferred = true;
	request->on_gone = on_gone;
	request->on_gone_data = data;
}

void http_request_undefer(struct http_request *request)
{
	request->deferred = false;
	request->on_gone = NULL;
}

bool http_request_deferred_for(const struct http_request *request, const void *data)
{
	return request->deferred && request->on_gone_data == data;
}

void http_request_resume(struct http_request *request)
{
	request->deferred = false;
	request->on_gone = NULL;
	MHD_resume_connection(request->connection);
	/* MHD runs from the loop's next turn: the reply may have been made on
	 * a fiber, whose stack MHD must not run on (it could park there). */
	uv_timer_start(&request->server->timer, on_timer, 0, 0);
}

static void request_free(struct http_request *request)
{
	struct http_server *server;

	if (!request)
		return;
	server = request->server;
	if (request->conn)
		request->conn->request = NULL;
	if (request->deferred && request->on_gone)
		request->on_gone(request->on_gone_data);
	if (request->response)
		MHD_destroy_response(request->response);
	server->body_bytes -= request->body_reserved;
	if (request->begun)
		server->requests_in_flight--;
	free(request->body);
	free(request->data);
	free(request);
	if (server->quiescing && server->requests_in_flight == 0 && server->on_drained) {
		http_server_cb on_drained = server->on_drained;

		server->on_drained = NULL;
		on_drained(server->on_drained_data);
	}
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **request_slot,
			 enum MHD_RequestTerminationCode code)
{
	struct http_server *server = cls;
	struct http_request *request = *request_slot;

	/* Kept open, the connection waits for its next request's headers. */
	if (code == MHD_REQUEST_TERMINATED_COMPLETED_OK)
		conn_wait(server, conn_of(connection));
	/* Only here, not when the connection closes: by then MHD has freed
	 * the strings (path, headers) that the request points into. */
	if (request && request->begun)
		server->done(request, server->userdata);
	request_free(request);
	*request_slot = NULL;
}

int http_server_new(uv_loop_t *loop, const struct config *config, http_dispatch_fn admit,
		    http_dispatch_fn dispatch, http_dispatch_fn done, void *userdata,
		    struct http_server **ret_server)
{
	struct http_server *server;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	int r;

	server = calloc(1, sizeof(*server));
	if (!server)
		return -ENOMEM;
	server->loop = loop;
	server->config = config;
	server->admit = admit;
	server->max_connections = config->max_connections;
	server->dispatch = dispatch;
	server->done = done;
	server->userdata = userdata;
	if (config->listen_addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;

	/* Not MHD's strict mode: libmicrohttpd 0.9.75 sends its refusal of a
	 * missing Host with the header block twice, and closes a connection
	 * whose target holds a space without a word; request_check_target
	 * and request_check_framing refuse both with a problem document. */
	server->mhd = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, server,
		/* First, so that libmicrohttpd logs nothing elsewhere while it
		 * reads the options after it. */
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, server, MHD_OPTION_SOCK_ADDR,
		(const struct sockaddr *)&config->listen_addr, MHD_OPTION_CONNECTION_LIMIT,
		config->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		config->max_connections_per_ip, MHD_OPTION_CONNECTION_TIMEOUT,
		config->connection_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		config->connection_memory_bytes, MHD_OPTION_NOTIFY_COMPLETED, on_completed, server,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, server, MHD_OPTION_URI_LOG_CALLBACK,
		on_uri, server, MHD_OPTION_STRICT_FOR_CLIENT, 0, MHD_OPTION_END);
	if (!server->mhd) {
		r = -EADDRNOTAVAIL;
		goto out;
	}
	info = MHD_get_daemon_info(server->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info) {
		r = -EIO;
		goto out;
	}
	r = uv_poll_init(loop, &server->poll, info->epoll_fd);
	if (r < 0)
		goto out;
	server->poll.data = server;
	uv_timer_init(loop, &server->timer);
	server->timer.data = server;
	uv_timer_init(loop, &server->sweep);
	server->sweep.data = server;
	server->handles_open = 3;
	r = uv_poll_start(&server->poll, UV_READABLE, on_poll);
	if (r < 0)
		goto out;
	server_run(server);
	*ret_server = server;
	return 0;
out:
	if (server->handles_open) {
		/* The handles are closed on the loop; the server is freed there. */
		http_server_close(server, NULL, NULL);
		return r;
	}
	if (server->mhd)
		MHD_stop_daemon(server->mhd);
	free(server);
	return r;
}

void http_server_set_config(struct http_server *server, const struct config *config)
{
	server->config = config;
}

void http_server_quiesce(struct http_server *server, http_server_cb on_drained, void *data)
{
	MHD_socket listen_fd;

	server->quiescing = true;
	listen_fd = MHD_quiesce_daemon(server->mhd);
	if (listen_fd != MHD_INVALID_SOCKET)
		close(listen_fd);
	if (server->requests_in_flight == 0) {
		on_drained(data);
		return;
	}
	server->on_drained = on_drained;
	server->on_drained_data = data;
}

static void on_handle_closed(uv_handle_t *handle)
{
	struct http_server *server = handle->data;

	if (--server->handles_open > 0)
		return;
	if (server->on_closed)
		server->on_closed(server->on_closed_data);
	free(server);
}

void http_server_close(struct http_server *server, http_server_cb on_closed, void *data)
{
	server->on_closed = on_closed;
	server->on_closed_data = data;
	server->on_drained = NULL;
	uv_poll_stop(&server->poll);
	uv_timer_stop(&server->timer);
	uv_timer_stop(&server->sweep);
	/* MHD closes its epoll fd; libuv must have stopped polling it first. */
	if (server->mhd) {
		MHD_stop_daemon(server->mhd);
		server->mhd = NULL;
	}
	uv_close((uv_handle_t *)&server->poll, on_handle_closed);
	uv_close((uv_handle_t *)&server->timer, on_handle_closed);
	uv_close((uv_handle_t *)&server->sweep, on_handle_closed);
}

void http_request_stats(const struct http_request *request, struct http_stats *ret_stats)
{
	const struct http_server *server = request->server;

	*ret_stats = (struct http_stats){ .connections = server->connections };
	memcpy(ret_stats->refused, server->refused, sizeof(server->refused));
}

uint64_t http_request_duration_ns(const struct http_request *request)
{
	return uv_hrtime() - request->started_ns;
}

const char *http_request_method(const struct http_request *request)
{
	return request->method;
}

const char *http_request_path(const struct http_request *request)
{
	return request->path;
}

const char *http_request_header(const struct http_request *request, const char *name)
{
	return MHD_lookup_connection_value(request->connection, MHD_HEADER_KIND, name);
}

const char *http_request_query(const struct http_request *request, const char *name)
{
	return MHD_lookup_connection_value(request->connection, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_request_body(const struct http_request *request, size_t *ret_len)
{
	*ret_len = request->body_len;
	return request->body ? request->body : "";
}

void http_request_set_data(struct http_request *request, void *data)
{
	free(request->data);
	request->data = data;
}

void *http_request_data(const struct http_request *request)
{
	return request->data;
}
