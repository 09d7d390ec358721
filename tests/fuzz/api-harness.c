/* The daemon as coopbilld wires it, for the fuzz targets of the API; see
 * api-harness.h. Everything is written in a temporary folder, removed at
 * exit. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "api-harness.h"
#include "coopbill/api.h"
#include "coopbill/config.h"
#include "coopbill/diag.h"
#include "coopbill/ledger.h"
#include "coopbill/meter.h"
#include "coopbill/store.h"
#include "http/http-internal.h"

/* After this long without a reply the harness ends its side of the
 * connection: a request the server waits on is a slow input, not a hang. */
#define REPLY_TIMEOUT_MS 5000

static struct {
	char dir[64];
	uv_loop_t loop;
	struct config *config;
	struct store *store;
	struct ledger_tlog *tlog;
	struct meter *meter;
	struct api *api;
	struct http_server *http;
	char authorization[128];
} harness;

/* One connection: the client's end of the pair and what came back. */
struct exchange {
	uv_poll_t poll;
	uv_timer_t timer;
	int fd;
	char head[16];
	size_t head_len;
	bool done;
	unsigned open_handles;
};

static void remove_dir(void)
{
	char command[128];

	snprintf(command, sizeof(command), "rm -rf '%s'", harness.dir);
	if (system(command) != 0)
		fprintf(stderr, "api harness: cannot remove %s\n", harness.dir);
}

static void fail(const char *what, int r)
{
	fprintf(stderr, "api harness: %s: %s\n", what, strerror(-r));
	abort();
}

static void load_config(void)
{
	char path[128], *errors = NULL;
	FILE *file;
	int r;

	snprintf(path, sizeof(path), "%s/coopbill.conf", harness.dir);
	file = fopen(path, "we");
	if (!file)
		fail("writing the configuration", -errno);
	fprintf(file,
		"[server]\nlisten = 127.0.0.1:8080\nmetrics_public = false\n"
		"cors_origins = https://coop.example\nmax_body_bytes = 262144\n"
		"[cooperative]\nname = Fuzz cooperative\n"
		"[database]\npath = %s/coopbill.db\n"
		"[meter]\nenabled = false\n"
		"[log]\norigin = coop.example/log\n"
		"[billing]\ncurrency = EUR\ntimezone = Europe/Madrid\nnotice_days = 0\n",
		harness.dir);
	fclose(file);
	r = config_load(path, &harness.config, &errors);
	if (r < 0) {
		fprintf(stderr, "%s", errors ? errors : "");
		fail("loading the configuration", r);
	}
	/* The server listens on a port of the kernel's choosing, which nothing
	 * connects to: requests come over socket pairs. */
	((struct sockaddr_in *)&harness.config->listen_addr)->sin_port = 0;
}

static void issue_admin_token(void)
{
	struct ledger ledger = { .store = harness.store,
				 .tlog = harness.tlog,
				 .config = harness.config,
				 .meter = harness.meter };
	struct ledger_token_request in = { .role = AUTH_ROLE_ADMIN,
					   .name = "fuzz",
					   .actor = "command-line" };
	char token[AUTH_TOKEN_TEXT_MAX];
	struct ledger_error err;

	if (ledger_token_issue(&ledger, &in, token, &err) < 0)
		fail("issuing the admin token", -EIO);
	snprintf(harness.authorization, sizeof(harness.authorization), "Authorization: Bearer %s",
		 token);
}

/* A request with the admin token and a JSON body; aborts unless the reply
 * has the status expected. */
static void fixture_post(const char *method, const char *path, const char *body, unsigned expected)
{
	char request[4096];
	int len = snprintf(request, sizeof(request),
			   "%s %s HTTP/1.1\r\nHost: fuzz\r\n%s\r\nContent-Type: application/json"
			   "\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
			   method, path, harness.authorization, strlen(body), body);
	unsigned status = api_harness_send(request, (size_t)len);

	if (status != expected) {
		fprintf(stderr, "api harness: %s %s answered %u, not %u\n", method, path, status,
			expected);
		abort();
	}
}

/* The example tariff of docs/examples, from a period start after today
 * (whatever today is), so that it can be published. */
static const char fixture_tariff[] =
	"{\"name\": \"Village standard\", \"currency\": \"EUR\", \"valid_from\": \"%04d-%02d-01\","
	" \"fixed_fee\": {\"amount_minor\": 1500, \"prorate\": true},"
	" \"usage_charges\": [{\"name\": \"Peak download\", \"direction\": \"down\","
	" \"windows\": [{\"days\": [\"mon\", \"tue\"], \"from\": \"18:00\", \"to\": \"23:00\"}],"
	" \"allowance_gb\": 10, \"tiers\": [{\"up_to_gb\": 50, \"price_per_gb_minor\": 50},"
	" {\"price_per_gb_minor\": 30}]}, {\"name\": \"Off-peak download\", \"direction\": "
	"\"down\","
	" \"tiers\": [{\"price_per_gb_minor\": 10}]}],"
	" \"cost_sharing\": {\"categories\": [\"transit\", \"power\"], \"equal_bp\": 5000,"
	" \"direction\": \"down\"}, \"cap_minor\": 6000, \"tax\": {\"rate_bp\": 2100, "
	"\"included\": true}}";

static void add_fixtures(void)
{
	time_t now = time(NULL);
	char tariff[1024];
	struct tm next;

	gmtime_r(&now, &next);
	next.tm_mon += 2;
	next.tm_mday = 1;
	timegm(&next);
	snprintf(tariff, sizeof(tariff), fixture_tariff, next.tm_year + 1900, next.tm_mon + 1);
	fixture_post("POST", "/api/v1/households",
		     "{\"name\": \"Garcia\", \"joined_at\": \"2026-01-01\","
		     " \"addresses\": [\"10.0.1.0/24\", \"2001:db8:1::/56\"]}",
		     201);
	fixture_post("POST", "/api/v1/tariffs", tariff, 201);
	fixture_post("POST", "/api/v1/tariffs", tariff, 201);
	fixture_post("POST", "/api/v1/tariffs/2/publish", "", 200);
}

void api_harness_start(void)
{
	char errbuf[512];
	int r;

	if (harness.api)
		return;
	/* A line per refused request would bury what matters: warnings and
	 * errors are still written. */
	diag_set_max_priority(LOG_WARNING);
	snprintf(harness.dir, sizeof(harness.dir), "/tmp/coopbill-fuzz-api.XXXXXX");
	if (!mkdtemp(harness.dir))
		fail("making the temporary folder", -errno);
	atexit(remove_dir);
	load_config();
	r = uv_loop_init(&harness.loop);
	if (r < 0)
		fail("the loop", r);
	r = store_open(harness.config->database_path, &harness.store, errbuf, sizeof(errbuf));
	if (r < 0)
		fail(errbuf, r);
	r = ledger_tlog_open(harness.store, harness.config, &harness.tlog, errbuf, sizeof(errbuf));
	if (r < 0)
		fail(errbuf, r);
	r = meter_new(&harness.loop, harness.store, ledger_tlog_meter_gaps, harness.tlog,
		      harness.config, &harness.meter);
	if (r < 0 || (r = meter_start(harness.meter)) < 0)
		fail("the meter", r);
	r = api_new(&harness.loop, harness.store, harness.meter, harness.tlog, harness.config,
		    &harness.api);
	if (r < 0)
		fail("the API", r);
	r = http_server_new(&harness.loop, harness.config, api_admit, api_dispatch, api_done,
			    harness.api, &harness.http);
	if (r < 0)
		fail("the HTTP server", r);
	issue_admin_token();
	add_fixtures();
}

const char *api_harness_authorization(void)
{
	return harness.authorization;
}

static void on_exchange_closed(uv_handle_t *handle)
{
	struct exchange *exchange = handle->data;

	exchange->open_handles--;
}

static void exchange_end(struct exchange *exchange)
{
	if (exchange->done)
		return;
	exchange->done = true;
	uv_poll_stop(&exchange->poll);
	uv_timer_stop(&exchange->timer);
}

static void on_readable(uv_poll_t *poll, int status, int events)
{
	struct exchange *exchange = poll->data;
	char buf[65536];
	ssize_t n;

	for (;;) {
		n = recv(exchange->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0) {
			size_t keep = sizeof(exchange->head) - 1 - exchange->head_len;

			if (keep > (size_t)n)
				keep = (size_t)n;
			memcpy(exchange->head + exchange->head_len, buf, keep);
			exchange->head_len += keep;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		/* The end of the reply, or a reset: the server closed. */
		exchange_end(exchange);
		return;
	}
}

static void on_timeout(uv_timer_t *timer)
{
	struct exchange *exchange = timer->data;

	shutdown(exchange->fd, SHUT_WR);
}

unsigned api_harness_send(const char *request, size_t len)
{
	struct sockaddr_in peer = { .sin_family = AF_INET,
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				    .sin_port = htons(40000) };
	struct exchange exchange = { .fd = -1 };
	unsigned status = 0;
	int fds[2];
	size_t sent = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
		fail("socketpair", -errno);
	/* A request of a fuzz input fits the socket's buffer: sent at once, so
	 * that the server sees it whole, as from a client that sends fast. */
	while (sent < len) {
		ssize_t n = send(fds[0], request + sent, len - sent, MSG_NOSIGNAL);

		if (n < 0)
			fail("sending the request", -errno);
		sent += (size_t)n;
	}
	if (MHD_add_connection(harness.http->mhd, fds[1], (struct sockaddr *)&peer, sizeof(peer)) !=
	    MHD_YES)
		fail("handing the connection to libmicrohttpd", -EIO);
	exchange.fd = fds[0];
	uv_poll_init(&harness.loop, &exchange.poll, exchange.fd);
	uv_timer_init(&harness.loop, &exchange.timer);
	exchange.poll.data = exchange.timer.data = &exchange;
	exchange.open_handles = 2;
	uv_poll_start(&exchange.poll, UV_READABLE | UV_DISCONNECT, on_readable);
	uv_timer_start(&exchange.timer, on_timeout, REPLY_TIMEOUT_MS, 0);
	while (!exchange.done)
		uv_run(&harness.loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&exchange.poll, on_exchange_closed);
	uv_close((uv_handle_t *)&exchange.timer, on_exchange_closed);
	while (exchange.open_handles > 0)
		uv_run(&harness.loop, UV_RUN_ONCE);
	close(exchange.fd);
	exchange.head[exchange.head_len] = '\0';
	if (sscanf(exchange.head, "HTTP/1.1 %u", &status) != 1)
		status = 0;
	return status;
}
