/* What the benchmarks share: a monotonic clock in milliseconds, a shell
 * command run to its end, one HTTP request per connection on loopback, a
 * prober that asks /healthz every 10 ms on a thread of its own and reports
 * the latencies' percentiles, and fresh databases on the PostgreSQL cluster
 * that the figures for PostgreSQL are taken on. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define BENCH_PROBES_MAX 100000

double bench_now_ms(void);
/* Runs command with /bin/sh; its exit status, or -1. */
int bench_run(const char *command);
/* For qsort() of doubles. */
int bench_compare_double(const void *a, const void *b);

/* One HTTP/1.1 request on a fresh connection to 127.0.0.1:port; returns the
 * status code (-1 when there was no answer) and the body in ret_body (may be
 * NULL). */
int bench_http(unsigned port, const char *method, const char *path, const char *token,
	       const char *body, char *ret_body, size_t body_size);
/* The folder a benchmark works in: removed at exit, with the daemon that
 * bench_daemon_start() started stopped first, also when the benchmark
 * stops early. */
void bench_at_exit(const char *dir);
/* Starts COOPBILLD --config config in the background. */
pid_t bench_daemon_start(const char *coopbilld, const char *config);
/* Stops the daemon that bench_daemon_start() started, if it runs (SIGTERM,
 * then waits for it). */
void bench_daemon_stop(void);
/* Stops the daemon and removes the folder. */
void bench_finish(void);
/* Waits for the daemon on port to answer /healthz with 200: true, or false
 * after max_s seconds. A daemon opening a large database on a busy machine
 * takes tens of seconds. */
bool bench_wait_ready(unsigned port, unsigned max_s);

struct bench_prober {
	unsigned port;
	atomic_bool stop;
	pthread_t thread;
	double latencies_ms[BENCH_PROBES_MAX];
	size_t n;
	size_t failures;
};

void bench_probe_start(struct bench_prober *prober);
void bench_probe_end(struct bench_prober *prober);
/* "<prefix> /healthz <what>: N probes, p50 …, p99 …, max …, K not 200",
 * the prefix right-aligned in 7 columns. */
void bench_probe_report(const char *prefix, const char *what, struct bench_prober *prober);

/* The PostgreSQL cluster to measure beside SQLite: the libpq URI in
 * COOPBILL_BENCH_PG_URL (scripts/bench starts a throwaway cluster and sets
 * it). NULL without it, after printing that the PostgreSQL figures are left
 * out and why. */
const char *bench_pg_url(void);
/* "PostgreSQL (fsync on)" or "(fsync off)", as the cluster says after
 * bench_pg_url(): its figures are named with it. */
const char *bench_pg_name(void);
/* Makes an empty database named name on the cluster that url reaches, and
 * writes the URI of it into ret_url: 0, or -1 after saying why on stderr. */
int bench_pg_create(const char *url, const char *name, char *ret_url, size_t url_size);
/* Drops the database named name (nothing may be connected to it). */
void bench_pg_drop(const char *url, const char *name);
