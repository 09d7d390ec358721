#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "probe.h"

#define PROBE_MS 10

static pid_t started_pid;
static char work_dir[256];
static char pg_name[64] = "PostgreSQL";

double bench_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int bench_run(const char *command)
{
	char shell[] = "/bin/sh", flag[] = "-c";
	char *argv[] = { shell, flag, (char *)command, NULL };
	int status;
	pid_t pid;

	if (posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ) != 0)
		return -1;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int bench_compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Writes all of text; false when the connection failed. */
static bool write_all(int fd, const char *text, size_t len)
{
	while (len > 0) {
		ssize_t written = write(fd, text, len);

		if (written <= 0)
			return false;
		text += written;
		len -= (size_t)written;
	}
	return true;
}

int bench_http(unsigned port, const char *method, const char *path, const char *token,
	       const char *body, char *ret_body, size_t body_size)
{
	struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons(port) };
	char head[1024], response[65536];
	size_t len = 0, body_len = body ? strlen(body) : 0;
	ssize_t got;
	int fd, status = -1;

	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof(address)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	snprintf(head, sizeof(head),
		 "%s %s HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n%s%s%s"
		 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
		 method, path, token ? "Authorization: Bearer " : "", token ? token : "",
		 token ? "\r\n" : "", body_len);
	if (!write_all(fd, head, strlen(head)) || !write_all(fd, body ? body : "", body_len)) {
		close(fd);
		return -1;
	}
	while (len < sizeof(response) - 1 &&
	       (got = read(fd, response + len, sizeof(response) - 1 - len)) > 0)
		len += (size_t)got;
	response[len] = '\0';
	close(fd);
	sscanf(response, "HTTP/1.1 %d", &status);
	if (ret_body) {
		const char *start = strstr(response, "\r\n\r\n");

		snprintf(ret_body, body_size, "%s", start ? start + 4 : "");
	}
	return status;
}

void bench_daemon_stop(void)
{
	if (started_pid > 0) {
		kill(started_pid, SIGTERM);
		waitpid(started_pid, NULL, 0);
		started_pid = 0;
	}
}

void bench_finish(void)
{
	char command[300];

	bench_daemon_stop();
	if (work_dir[0]) {
		snprintf(command, sizeof(command), "rm -rf %s", work_dir);
		bench_run(command);
		work_dir[0] = '\0';
	}
}

void bench_at_exit(const char *dir)
{
	snprintf(work_dir, sizeof(work_dir), "%s", dir);
	atexit(bench_finish);
}

pid_t bench_daemon_start(const char *coopbilld, const char *config)
{
	started_pid = fork();
	if (started_pid == 0) {
		execl(coopbilld, coopbilld, "--config", config, (char *)NULL);
		_exit(127);
	}
	return started_pid;
}

bool bench_wait_ready(unsigned port, unsigned max_s)
{
	double until = bench_now_ms() + max_s * 1e3;

	while (bench_http(port, "GET", "/healthz", NULL, NULL, NULL, 0) != 200) {
		if (bench_now_ms() > until)
			return false;
		usleep(100000);
	}
	return true;
}

static void *probe_run(void *data)
{
	struct bench_prober *prober = data;

	while (!atomic_load(&prober->stop) && prober->n < BENCH_PROBES_MAX) {
		double t = bench_now_ms();
		int status = bench_http(prober->port, "GET", "/healthz", NULL, NULL, NULL, 0);

		if (status != 200)
			prober->failures++;
		prober->latencies_ms[prober->n++] = bench_now_ms() - t;
		usleep(PROBE_MS * 1000);
	}
	return NULL;
}

void bench_probe_start(struct bench_prober *prober)
{
	prober->n = prober->failures = 0;
	atomic_store(&prober->stop, false);
	pthread_create(&prober->thread, NULL, probe_run, prober);
}

void bench_probe_end(struct bench_prober *prober)
{
	atomic_store(&prober->stop, true);
	pthread_join(prober->thread, NULL);
}

void bench_probe_report(const char *prefix, const char *what, struct bench_prober *prober)
{
	qsort(prober->latencies_ms, prober->n, sizeof(double), bench_compare_double);
	if (prober->n == 0)
		return;
	printf("%7s /healthz %s: %zu probes, p50 %.2f ms, p99 %.2f ms, max %.2f ms, %zu not 200\n",
	       prefix, what, prober->n, prober->latencies_ms[prober->n / 2],
	       prober->latencies_ms[prober->n * 99 / 100], prober->latencies_ms[prober->n - 1],
	       prober->failures);
}

const char *bench_pg_url(void)
{
	const char *url = getenv("COOPBILL_BENCH_PG_URL");
	PGconn *conn;
	PGresult *result;

	if (!url || !url[0]) {
		printf("PostgreSQL: no figures (COOPBILL_BENCH_PG_URL is not set; scripts/bench "
		       "sets it when it can start a throwaway cluster)\n");
		return NULL;
	}
	conn = PQconnectdb(url);
	result = PQexec(conn, "SHOW fsync");
	if (PQresultStatus(result) != PGRES_TUPLES_OK) {
		printf("PostgreSQL: no figures (cannot ask the cluster of COOPBILL_BENCH_PG_URL: "
		       "%s)\n",
		       PQerrorMessage(conn));
		url = NULL;
	} else {
		snprintf(pg_name, sizeof(pg_name), "PostgreSQL (fsync %s)",
			 PQgetvalue(result, 0, 0));
	}
	PQclear(result);
	PQfinish(conn);
	return url;
}

const char *bench_pg_name(void)
{
	return pg_name;
}

/* Runs one statement on the database that url names: 0, or -1 after saying
 * why on stderr. */
static int pg_exec(const char *url, const char *sql)
{
	PGconn *conn = PQconnectdb(url);
	PGresult *result = NULL;
	int r = -1;

	if (PQstatus(conn) == CONNECTION_OK) {
		result = PQexec(conn, sql);
		r = PQresultStatus(result) == PGRES_COMMAND_OK ? 0 : -1;
	}
	if (r < 0)
		fprintf(stderr, "PostgreSQL: %s: %s", sql, PQerrorMessage(conn));
	PQclear(result);
	PQfinish(conn);
	return r;
}

int bench_pg_create(const char *url, const char *name, char *ret_url, size_t url_size)
{
	char sql[128];
	PQconninfoOption *options = PQconninfoParse(url, NULL);
	size_t len;

	if (!options) {
		fprintf(stderr, "PostgreSQL: COOPBILL_BENCH_PG_URL is not a libpq URI\n");
		return -1;
	}
	/* The same connection options, with the database named name;
	 * values percent-encoded as a URI's query wants them. */
	len = (size_t)snprintf(ret_url, url_size, "postgresql:///%s", name);
	for (PQconninfoOption *option = options; option->keyword; option++) {
		if (!option->val || strcmp(option->keyword, "dbname") == 0)
			continue;
		len += (size_t)snprintf(ret_url + len, url_size - len,
					"%s%s=", strchr(ret_url, '?') ? "&" : "?", option->keyword);
		for (const char *c = option->val; *c && len < url_size; c++)
			len += (size_t)snprintf(
				ret_url + len, url_size - len,
				strchr("-._~/", *c) || isalnum((unsigned char)*c) ? "%c" : "%%%02X",
				(unsigned char)*c);
	}
	PQconninfoFree(options);
	if (len >= url_size) {
		fprintf(stderr, "PostgreSQL: COOPBILL_BENCH_PG_URL is too long\n");
		return -1;
	}
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
	return pg_exec(url, sql);
}

void bench_pg_drop(const char *url, const char *name)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "DROP DATABASE %s", name);
	pg_exec(url, sql);
}
