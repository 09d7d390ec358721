/* Impact benchmark: N households (default 10,000) billed for the last three
 * months that have ended in Europe/Madrid, each month's usage in hourly
 * totals (rolled up, as a running gateway keeps it), under the tariff of
 * docs/examples/tariff.json (a peak window, an allowance, tiers and cost
 * sharing) with two expenses a month; the real coopbilld closes the three
 * months. Then a draft with another fee and cap is proposed to the members and its
 * impact asked for, while a prober asks /healthz every 10 ms. The figures:
 * the impact's wall time over N x 3 household-months, the same request
 * again (kept until the next close), and /healthz latency during the impact
 * beside that on the idle daemon just before.
 * usage: bench_impact COOPBILLD [N] */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "coopbill/period.h"
#include "coopbill/store.h"
#include "coopbill/tz.h"

#include "probe.h"

#define ZONE	  "Europe/Madrid"
#define MONTHS	  3
#define REPLY_MAX 65536

struct bench {
	struct tz_zone *zone;
	unsigned n;
	struct period periods[MONTHS]; /* oldest first */
	char db[256];
	unsigned port;
	char token[128];
	char member_token[128];
};

static void die(const char *what)
{
	fprintf(stderr, "bench_impact: %s\n", what);
	exit(1);
}

static void exec_sql(sqlite3 *db, const char *sql)
{
	char *error = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &error) != SQLITE_OK) {
		fprintf(stderr, "bench_impact: %s: %s\n", sql, error);
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

static struct period period_before(struct period period)
{
	return period.month == 1 ? (struct period){ period.year - 1, 12 }
				 : (struct period){ period.year, period.month - 1 };
}

/* The last three months that have ended, oldest first. */
static void periods_pick(struct bench *bench)
{
	struct period now;

	if (period_containing(bench->zone, time(NULL), &now) < 0)
		die("period_containing");
	bench->periods[MONTHS - 1] = period_before(now);
	for (int i = MONTHS - 2; i >= 0; i--)
		bench->periods[i] = period_before(bench->periods[i + 1]);
}

/* The households, and the three months' hourly totals in key order (hour,
 * household), rolled up to the end of the last month. */
static void database_build(const struct bench *bench)
{
	char errbuf[256], sql[160], first[PERIOD_TEXT_MAX];
	uint64_t state = 88172645463325252ULL;
	int64_t start_s, end_s, unused;
	sqlite3_stmt *stmt;
	struct store *store;
	sqlite3 *db;
	double t = bench_now_ms();

	/* The daemon's own schema, then a bulk load around it. */
	if (store_open(bench->db, &store, errbuf, sizeof(errbuf)) < 0)
		die(errbuf);
	store_free(store);
	if (period_bounds(bench->zone, &bench->periods[0], &start_s, &unused) < 0 ||
	    period_bounds(bench->zone, &bench->periods[MONTHS - 1], &unused, &end_s) < 0)
		die("period_bounds");
	period_format(&bench->periods[0], first);
	if (sqlite3_open(bench->db, &db) != SQLITE_OK)
		die("sqlite3_open");
	exec_sql(db, "PRAGMA journal_mode = DELETE");
	exec_sql(db, "PRAGMA synchronous = OFF");
	exec_sql(db, "DROP INDEX usage_hourly_by_household");
	exec_sql(db, "BEGIN");
	snprintf(sql, sizeof(sql),
		 "INSERT INTO households (name, joined_at) VALUES ('bench', '%s-01')", first);
	for (unsigned h = 0; h < bench->n; h++)
		exec_sql(db, sql);
	sqlite3_prepare_v2(db,
			   "INSERT INTO usage_hourly (hour_start, household_id, bytes_up, "
			   "bytes_down) VALUES (?, ?, ?, ?)",
			   -1, &stmt, NULL);
	for (int64_t hour = start_s; hour < end_s; hour += 3600) {
		for (unsigned h = 0; h < bench->n; h++) {
			/* Up to 48 MB down and 12 MB up an hour: about 50 GB a month. */
			uint64_t down = next_random(&state) % 48000000;

			sqlite3_bind_int64(stmt, 1, hour);
			sqlite3_bind_int64(stmt, 2, h + 1);
			sqlite3_bind_int64(stmt, 3, (int64_t)(down / 4));
			sqlite3_bind_int64(stmt, 4, (int64_t)down);
			if (sqlite3_step(stmt) != SQLITE_DONE)
				die(sqlite3_errmsg(db));
			sqlite3_reset(stmt);
		}
	}
	sqlite3_finalize(stmt);
	snprintf(sql, sizeof(sql), "UPDATE meter_state SET rolled_up_to = %" PRId64, end_s);
	exec_sql(db, sql);
	exec_sql(db, "COMMIT");
	exec_sql(db, "CREATE INDEX usage_hourly_by_household ON usage_hourly(household_id, "
		     "hour_start)");
	exec_sql(db, "PRAGMA journal_mode = WAL");
	sqlite3_close(db);
	printf("%7u households: database with %" PRId64 " hours each built in %.0f s\n", bench->n,
	       (end_s - start_s) / 3600, (bench_now_ms() - t) / 1e3);
}

/* The tariff of docs/examples/tariff.json from valid_from: as it is (an
 * emergency, which applies without notice), or proposed with another fixed
 * fee and cap and the notice members are owed. */
static char *tariff_text(const char *valid_from, bool proposed)
{
	json_error_t error;
	json_t *tariff = json_load_file(BENCH_TARIFF, 0, &error);
	char *text;

	if (!tariff)
		die(error.text);
	json_object_set_new(tariff, "valid_from", json_string(valid_from));
	if (proposed) {
		json_object_set_new(tariff, "name", json_string("Proposed"));
		json_object_del(tariff, "emergency");
		json_object_set_new(json_object_get(tariff, "fixed_fee"), "amount_minor",
				    json_integer(1200));
		json_object_set_new(tariff, "cap_minor", json_integer(7000));
	}
	text = json_dumps(tariff, JSON_COMPACT);
	json_decref(tariff);
	return text;
}

static void request(const struct bench *bench, const char *method, const char *path,
		    const char *token, const char *body, int expected, char *reply)
{
	if (bench_http(bench->port, method, path, token, body, reply, REPLY_MAX) != expected)
		die(reply);
}

/* The tariff in force from the first month, two expenses a month, the three
 * months closed, a member's token for household 1, and the proposal. */
static void billing_setup(struct bench *bench)
{
	char *reply = malloc(REPLY_MAX), text[PERIOD_TEXT_MAX], valid_from[DATE_TEXT_MAX], path[64],
	     *tariff;
	json_t *json;
	double t;

	if (!reply)
		die("out of memory");
	period_format(&bench->periods[0], text);
	snprintf(valid_from, sizeof(valid_from), "%s-01", text);
	tariff = tariff_text(valid_from, false);
	request(bench, "POST", "/api/v1/tariffs", bench->token, tariff, 201, reply);
	free(tariff);
	request(bench, "POST", "/api/v1/tariffs/1/publish", bench->token, NULL, 200, reply);
	for (int m = 0; m < MONTHS; m++) {
		char expense[256];
		int status;

		period_format(&bench->periods[m], text);
		snprintf(expense, sizeof(expense),
			 "{\"period\":\"%s\",\"category\":\"transit\",\"amount_minor\":1500000,"
			 "\"description\":\"bench\"}",
			 text);
		request(bench, "POST", "/api/v1/expenses", bench->token, expense, 201, reply);
		snprintf(expense, sizeof(expense),
			 "{\"period\":\"%s\",\"category\":\"power\",\"amount_minor\":250000,"
			 "\"description\":\"bench\"}",
			 text);
		request(bench, "POST", "/api/v1/expenses", bench->token, expense, 201, reply);
		t = bench_now_ms();
		snprintf(path, sizeof(path), "/api/v1/periods/%s/close", text);
		status =
			bench_http(bench->port, "POST", path, bench->token, NULL, reply, REPLY_MAX);
		/* Without an answer, ask again until the close is done. */
		while (status == -1 || (status == 409 && strstr(reply, "close-in-progress"))) {
			usleep(100000);
			status = bench_http(bench->port, "POST", path, bench->token, NULL, reply,
					    REPLY_MAX);
		}
		if (status != 200)
			die(reply);
		printf("%7u households: %s closed in %.1f s\n", bench->n, text,
		       (bench_now_ms() - t) / 1e3);
	}
	request(bench, "POST", "/api/v1/households/1/tokens", bench->token, "{\"name\":\"m\"}", 201,
		reply);
	json = json_loads(reply, 0, NULL);
	snprintf(bench->member_token, sizeof(bench->member_token), "%s",
		 json_string_value(json_object_get(json, "token")));
	json_decref(json);
	/* The proposal starts a year after the last month: notice is due. */
	period_format(&(struct period){ bench->periods[MONTHS - 1].year + 1,
					bench->periods[MONTHS - 1].month },
		      text);
	snprintf(valid_from, sizeof(valid_from), "%s-01", text);
	tariff = tariff_text(valid_from, true);
	request(bench, "POST", "/api/v1/tariffs", bench->token, tariff, 201, reply);
	free(tariff);
	request(bench, "POST", "/api/v1/tariffs/2/consult", bench->token, NULL, 200, reply);
	free(reply);
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/coopbill-bench.XXXXXX", config[256], command[1024];
	static struct bench_prober prober;
	struct bench bench = { .port = 20000 + (unsigned)getpid() % 20000 };
	char *reply = malloc(REPLY_MAX);
	double impact_s, again_ms, t;
	json_t *json;
	FILE *file;

	if (argc < 2 || !reply) {
		fprintf(stderr, "usage: bench_impact COOPBILLD [N]\n");
		return 2;
	}
	bench.n = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 10000;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (tz_zone_load(ZONE, &bench.zone) < 0)
		die("cannot load the time zone " ZONE);
	periods_pick(&bench);
	if (!mkdtemp(dir))
		die("mkdtemp");
	bench_at_exit(dir);
	snprintf(bench.db, sizeof(bench.db), "%s/coopbill.db", dir);
	snprintf(config, sizeof(config), "%s/coopbill.conf", dir);
	file = fopen(config, "w");
	fprintf(file,
		"[server]\nlisten = 127.0.0.1:%u\n[database]\npath = %s\n"
		"[meter]\n# The host's network namespace: no nftables here.\nenabled = false\n"
		"[billing]\ncurrency = EUR\ntimezone = " ZONE "\n",
		bench.port, bench.db);
	fclose(file);
	database_build(&bench);

	snprintf(command, sizeof(command), "%s --config %s token create --role admin --name bench",
		 argv[1], config);
	file = popen(command, "r");
	if (!file || !fgets(bench.token, sizeof(bench.token), file))
		die("token create");
	pclose(file);
	bench.token[strcspn(bench.token, "\n")] = '\0';
	bench_daemon_start(argv[1], config);
	if (!bench_wait_ready(bench.port, 300))
		die("the daemon did not answer /healthz within 300 s of its start");
	billing_setup(&bench);

	prober.port = bench.port;
	bench_probe_start(&prober);
	sleep(2);
	bench_probe_end(&prober);
	bench_probe_report("", "idle (baseline)", &prober);

	/* A member asks: the same computation as the treasurer's, a short reply. */
	bench_probe_start(&prober);
	t = bench_now_ms();
	request(&bench, "GET", "/api/v1/tariffs/2/impact", bench.member_token, NULL, 200, reply);
	impact_s = (bench_now_ms() - t) / 1e3;
	bench_probe_end(&prober);
	json = json_loads(reply, 0, NULL);
	if (!json)
		die(reply);
	printf("%7u households: impact over %" JSON_INTEGER_FORMAT
	       " household-months in %.2f s (%" JSON_INTEGER_FORMAT
	       " pay more, %" JSON_INTEGER_FORMAT " less, median difference %" JSON_INTEGER_FORMAT
	       " minor units)\n",
	       bench.n, json_integer_value(json_object_get(json, "invoices")), impact_s,
	       json_integer_value(json_object_get(json_object_get(json, "more"), "count")),
	       json_integer_value(json_object_get(json_object_get(json, "less"), "count")),
	       json_integer_value(json_object_get(
		       json_object_get(json, "difference_quantiles_minor"), "p50")));
	json_decref(json);
	bench_probe_report("", "during the impact", &prober);
	t = bench_now_ms();
	request(&bench, "GET", "/api/v1/tariffs/2/impact", bench.member_token, NULL, 200, reply);
	again_ms = bench_now_ms() - t;
	printf("%7u households: the same impact asked again (kept) in %.1f ms\n", bench.n,
	       again_ms);

	bench_finish();
	tz_zone_free(bench.zone);
	free(reply);
	return 0;
}
