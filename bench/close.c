/* Period-close benchmark: N households (default 10,000), each with a month
 * (October 2026, Europe/Madrid: 745 hours) of 5-minute usage buckets and
 * their hourly roll-up, a published tariff with a peak window, an allowance,
 * tiers and cost sharing, and two expenses. The real coopbilld closes the
 * month while a prober asks /healthz every 10 ms; the figures are the close's
 * wall time and /healthz latency during it, beside /healthz latency on the
 * idle daemon measured just before (the baseline).
 * usage: bench_close COOPBILLD [N] */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "coopbill/store.h"

#include "probe.h"

/* 2026-10-01T00:00:00+02:00 and 2026-11-01T00:00:00+01:00. */
#define PERIOD_START_S 1790805600
#define PERIOD_END_S   1793487600
#define BUCKET_S       300

static const char tariff_json[] =
	"{\"name\":\"Bench\",\"currency\":\"EUR\",\"valid_from\":\"2026-10-01\","
	"\"emergency\":{\"reason\":\"benchmark\"},"
	"\"fixed_fee\":{\"amount_minor\":1500,\"prorate\":true},"
	"\"usage_charges\":[{\"name\":\"Peak download\",\"direction\":\"down\","
	"\"windows\":[{\"days\":[\"mon\",\"tue\",\"wed\",\"thu\",\"fri\"],\"from\":\"18:00\","
	"\"to\":\"23:00\"}],\"allowance_gb\":10,\"tiers\":[{\"up_to_gb\":50,"
	"\"price_per_gb_minor\":50},{\"price_per_gb_minor\":30}]},"
	"{\"name\":\"Off-peak\",\"direction\":\"both\",\"tiers\":[{\"price_per_gb_minor\":5}]}],"
	"\"cost_sharing\":{\"categories\":[\"transit\",\"power\"],\"equal_bp\":3000,"
	"\"direction\":\"down\"},\"cap_minor\":20000,\"tax\":{\"rate_bp\":2100,\"included\":true}}";

static void die(const char *what)
{
	fprintf(stderr, "bench_close: %s\n", what);
	exit(1);
}

static void exec_sql(sqlite3 *db, const char *sql)
{
	char *error = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &error) != SQLITE_OK) {
		fprintf(stderr, "bench_close: %s: %s\n", sql, error);
		exit(1);
	}
}

static uint64_t next_random(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/* Buckets in key order (bucket, household), hours summed on the way. */
static void usage_load(sqlite3 *db, unsigned n)
{
	sqlite3_stmt *bucket_stmt, *hour_stmt;
	uint64_t *hour_up = calloc(n, sizeof(*hour_up)), *hour_down = calloc(n, sizeof(*hour_down));
	uint64_t state = 88172645463325252ULL;

	if (!hour_up || !hour_down)
		die("out of memory");
	exec_sql(db, "DROP INDEX usage_buckets_by_household");
	exec_sql(db, "DROP INDEX usage_hourly_by_household");
	exec_sql(db, "BEGIN");
	sqlite3_prepare_v2(db,
			   "INSERT INTO usage_buckets (bucket_start, household_id, bytes_up, "
			   "bytes_down) VALUES (?, ?, ?, ?)",
			   -1, &bucket_stmt, NULL);
	sqlite3_prepare_v2(db,
			   "INSERT INTO usage_hourly (hour_start, household_id, bytes_up, "
			   "bytes_down) VALUES (?, ?, ?, ?)",
			   -1, &hour_stmt, NULL);
	for (int64_t bucket = PERIOD_START_S; bucket < PERIOD_END_S; bucket += BUCKET_S) {
		for (unsigned h = 0; h < n; h++) {
			/* Up to 4 MB down and 1 MB up per 5 minutes: about 50 GB a month. */
			uint64_t down = next_random(&state) % 4000000;
			uint64_t up = down / 4;

			sqlite3_bind_int64(bucket_stmt, 1, bucket);
			sqlite3_bind_int64(bucket_stmt, 2, h + 1);
			sqlite3_bind_int64(bucket_stmt, 3, (int64_t)up);
			sqlite3_bind_int64(bucket_stmt, 4, (int64_t)down);
			if (sqlite3_step(bucket_stmt) != SQLITE_DONE)
				die(sqlite3_errmsg(db));
			sqlite3_reset(bucket_stmt);
			hour_up[h] += up;
			hour_down[h] += down;
		}
		if ((bucket + BUCKET_S) % 3600 != 0)
			continue;
		for (unsigned h = 0; h < n; h++) {
			sqlite3_bind_int64(hour_stmt, 1, bucket + BUCKET_S - 3600);
			sqlite3_bind_int64(hour_stmt, 2, h + 1);
			sqlite3_bind_int64(hour_stmt, 3, (int64_t)hour_up[h]);
			sqlite3_bind_int64(hour_stmt, 4, (int64_t)hour_down[h]);
			if (sqlite3_step(hour_stmt) != SQLITE_DONE)
				die(sqlite3_errmsg(db));
			sqlite3_reset(hour_stmt);
			hour_up[h] = hour_down[h] = 0;
		}
	}
	sqlite3_finalize(bucket_stmt);
	sqlite3_finalize(hour_stmt);
	exec_sql(db, "UPDATE meter_state SET rolled_up_to = 1793487600");
	exec_sql(db, "COMMIT");
	exec_sql(db, "CREATE INDEX usage_buckets_by_household ON usage_buckets(household_id, "
		     "bucket_start)");
	exec_sql(db, "CREATE INDEX usage_hourly_by_household ON usage_hourly(household_id, "
		     "hour_start)");
	free(hour_up);
	free(hour_down);
}

static void database_build(const char *path, unsigned n)
{
	char errbuf[256];
	struct store *store;
	sqlite3 *db;
	double t = bench_now_ms();

	/* The daemon's own schema, then a bulk load around it. */
	if (store_open(path, &store, errbuf, sizeof(errbuf)) < 0)
		die(errbuf);
	store_free(store);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		die("sqlite3_open");
	exec_sql(db, "PRAGMA journal_mode = DELETE");
	exec_sql(db, "PRAGMA synchronous = OFF");
	exec_sql(db, "BEGIN");
	for (unsigned h = 0; h < n; h++)
		exec_sql(db, "INSERT INTO households (name, joined_at) VALUES ('bench', "
			     "'2026-01-01')");
	exec_sql(db, "COMMIT");
	usage_load(db, n);
	exec_sql(db, "PRAGMA journal_mode = WAL");
	sqlite3_close(db);
	printf("%7u households: database with %u buckets each built in %.0f s\n", n,
	       (PERIOD_END_S - PERIOD_START_S) / BUCKET_S, (bench_now_ms() - t) / 1e3);
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/coopbill-bench.XXXXXX", config[256], db[256], command[1024], token[128],
	     path[64], body[65536];
	static struct bench_prober prober;
	unsigned n = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 10000;
	unsigned port = 20000 + (unsigned)getpid() % 20000;
	FILE *file;
	pid_t pid;
	int status;
	double t;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_close COOPBILLD [N]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!mkdtemp(dir))
		die("mkdtemp");
	snprintf(db, sizeof(db), "%s/coopbill.db", dir);
	snprintf(config, sizeof(config), "%s/coopbill.conf", dir);
	file = fopen(config, "w");
	fprintf(file,
		"[server]\nlisten = 127.0.0.1:%u\n[database]\npath = %s\n"
		"[meter]\n# The host's network namespace: no nftables here.\nenabled = false\n"
		"[billing]\ncurrency = EUR\ntimezone = Europe/Madrid\n",
		port, db);
	fclose(file);
	database_build(db, n);

	snprintf(command, sizeof(command), "%s --config %s token create --role admin --name bench",
		 argv[1], config);
	file = popen(command, "r");
	if (!file || !fgets(token, sizeof(token), file))
		die("token create");
	pclose(file);
	token[strcspn(token, "\n")] = '\0';
	pid = fork();
	if (pid == 0) {
		execl(argv[1], argv[1], "--config", config, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 300 && bench_http(port, "GET", "/healthz", NULL, NULL, NULL, 0) != 200;
	     i++)
		usleep(100000);

	if (bench_http(port, "POST", "/api/v1/tariffs", token, tariff_json, body, sizeof(body)) !=
	    201)
		die(body);
	if (bench_http(port, "POST", "/api/v1/tariffs/1/publish", token, NULL, body,
		       sizeof(body)) != 200)
		die(body);
	if (bench_http(port, "POST", "/api/v1/expenses", token,
		       "{\"period\":\"2026-10\",\"category\":\"transit\",\"amount_minor\":1500000,"
		       "\"description\":\"upstream\"}",
		       body, sizeof(body)) != 201 ||
	    bench_http(port, "POST", "/api/v1/expenses", token,
		       "{\"period\":\"2026-10\",\"category\":\"power\",\"amount_minor\":250000,"
		       "\"description\":\"electricity\"}",
		       body, sizeof(body)) != 201)
		die(body);

	prober.port = port;
	bench_probe_start(&prober);
	sleep(2);
	bench_probe_end(&prober);
	bench_probe_report("", "idle (baseline)", &prober);

	bench_probe_start(&prober);
	t = bench_now_ms();
	status = bench_http(port, "POST", "/api/v1/periods/2026-10/close", token, NULL, body,
			    sizeof(body));
	t = bench_now_ms() - t;
	bench_probe_end(&prober);
	if (status != 200)
		die(body);
	printf("%7u households: close of 2026-10 in %.2f s: %s\n", n, t / 1e3, body);
	bench_probe_report("", "during the close", &prober);
	snprintf(path, sizeof(path), "/api/v1/households/%u/invoices/2026-10", n);
	if (bench_http(port, "GET", path, token, NULL, body, sizeof(body)) != 200)
		die(body);

	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	snprintf(command, sizeof(command), "rm -rf %s", dir);
	bench_run(command);
	return 0;
}
