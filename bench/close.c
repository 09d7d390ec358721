/* Period-close benchmark: N households (default 10,000) with a month of usage,
 * the tariff of docs/examples/tariff.json (a peak window, an allowance, tiers
 * and cost sharing) and two expenses. The month is the last one that has
 * ended in Europe/Madrid. Its usage is either metered (5-minute buckets and
 * their hourly roll-up, loaded into the database) or imported (one row per
 * household and hour, through POST /api/v1/usage/import). The real coopbilld
 * closes the month while a prober asks /healthz every 10 ms. The figures: the
 * close's wall time beside the rating of the same month in process with no
 * writes (the baseline), and /healthz latency during the close beside that
 * on the idle daemon just before. Then a tariff is published, whose label
 * takes its profiles from the month just closed: the publish's wall time and
 * /healthz latency during it.
 * With metered usage and COOPBILL_BENCH_PG_URL set (a PostgreSQL cluster),
 * the same again with the daemon on a fresh database there, holding the
 * same households and the same hourly totals (the buckets, which the close
 * does not read, are left out of it), then the two closes' ratio. Imported
 * usage is measured on SQLite only.
 * usage: bench_close COOPBILLD metered|imported [N] */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "coopbill/bill.h"
#include "coopbill/period.h"
#include "coopbill/store.h"
#include "coopbill/tz.h"

#include "probe.h"

#define BUCKET_S 300
/* Rows per import request: what the API takes in one. */
#define IMPORT_ROWS 100000

#define ZONE "Europe/Madrid"

struct bench {
	struct tz_zone *zone;
	unsigned n;
	bool imported;
	struct period period;
	char period_text[PERIOD_TEXT_MAX];
	int64_t start_s, end_s;
	char db[256];
	/* PostgreSQL's database, or NULL: SQLite's file at db. */
	const char *url;
	unsigned port;
	char token[128];
};

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

/* The last month that has ended. */
static void period_pick(struct bench *bench)
{
	struct period now;

	if (period_containing(bench->zone, time(NULL), &now) < 0)
		die("period_containing");
	bench->period = now.month == 1 ? (struct period){ now.year - 1, 12 }
				       : (struct period){ now.year, now.month - 1 };
	period_format(&bench->period, bench->period_text);
	if (period_bounds(bench->zone, &bench->period, &bench->start_s, &bench->end_s) < 0)
		die("period_bounds");
}

/* Takes one row of usage: a bucket's, or with hourly set an hour's total. */
typedef void usage_row_fn(void *ctx, bool hourly, int64_t start, unsigned household, uint64_t up,
			  uint64_t down);

/* The month's usage, the same on every backend: buckets in key order
 * (bucket, household), each hour's totals after its last bucket. */
static void usage_generate(const struct bench *bench, usage_row_fn *row, void *ctx)
{
	unsigned n = bench->n;
	uint64_t *hour_up = calloc(n, sizeof(*hour_up)), *hour_down = calloc(n, sizeof(*hour_down));
	uint64_t state = 88172645463325252ULL;

	if (!hour_up || !hour_down)
		die("out of memory");
	for (int64_t bucket = bench->start_s; bucket < bench->end_s; bucket += BUCKET_S) {
		for (unsigned h = 0; h < n; h++) {
			/* Up to 4 MB down and 1 MB up per 5 minutes: about 50 GB a month. */
			uint64_t down = next_random(&state) % 4000000;
			uint64_t up = down / 4;

			row(ctx, false, bucket, h + 1, up, down);
			hour_up[h] += up;
			hour_down[h] += down;
		}
		if ((bucket + BUCKET_S) % 3600 != 0)
			continue;
		for (unsigned h = 0; h < n; h++) {
			row(ctx, true, bucket + BUCKET_S - 3600, h + 1, hour_up[h], hour_down[h]);
			hour_up[h] = hour_down[h] = 0;
		}
	}
	free(hour_up);
	free(hour_down);
}

struct sqlite_load {
	sqlite3 *db;
	sqlite3_stmt *bucket_stmt, *hour_stmt;
};

static void sqlite_row(void *ctx, bool hourly, int64_t start, unsigned household, uint64_t up,
		       uint64_t down)
{
	struct sqlite_load *load = ctx;
	sqlite3_stmt *stmt = hourly ? load->hour_stmt : load->bucket_stmt;

	sqlite3_bind_int64(stmt, 1, start);
	sqlite3_bind_int64(stmt, 2, household);
	sqlite3_bind_int64(stmt, 3, (int64_t)up);
	sqlite3_bind_int64(stmt, 4, (int64_t)down);
	if (sqlite3_step(stmt) != SQLITE_DONE)
		die(sqlite3_errmsg(load->db));
	sqlite3_reset(stmt);
}

static void usage_load(sqlite3 *db, const struct bench *bench)
{
	struct sqlite_load load = { .db = db };
	char sql[128];

	exec_sql(db, "DROP INDEX usage_buckets_by_household");
	exec_sql(db, "DROP INDEX usage_hourly_by_household");
	exec_sql(db, "BEGIN");
	sqlite3_prepare_v2(db,
			   "INSERT INTO usage_buckets (bucket_start, household_id, bytes_up, "
			   "bytes_down) VALUES (?, ?, ?, ?)",
			   -1, &load.bucket_stmt, NULL);
	sqlite3_prepare_v2(db,
			   "INSERT INTO usage_hourly (hour_start, household_id, bytes_up, "
			   "bytes_down) VALUES (?, ?, ?, ?)",
			   -1, &load.hour_stmt, NULL);
	usage_generate(bench, sqlite_row, &load);
	sqlite3_finalize(load.bucket_stmt);
	sqlite3_finalize(load.hour_stmt);
	snprintf(sql, sizeof(sql), "UPDATE meter_state SET rolled_up_to = %" PRId64, bench->end_s);
	exec_sql(db, sql);
	exec_sql(db, "COMMIT");
	exec_sql(db, "CREATE INDEX usage_buckets_by_household ON usage_buckets(household_id, "
		     "bucket_start)");
	exec_sql(db, "CREATE INDEX usage_hourly_by_household ON usage_hourly(household_id, "
		     "hour_start)");
}

/* The households, and with metered usage the month's buckets. */
static void database_build(const struct bench *bench)
{
	char errbuf[256], sql[128];
	struct store *store;
	sqlite3 *db;
	double t = bench_now_ms();

	/* The daemon's own schema, then a bulk load around it. */
	if (store_open(bench->db, &store, errbuf, sizeof(errbuf)) < 0)
		die(errbuf);
	store_free(store);
	if (sqlite3_open(bench->db, &db) != SQLITE_OK)
		die("sqlite3_open");
	exec_sql(db, "PRAGMA journal_mode = DELETE");
	exec_sql(db, "PRAGMA synchronous = OFF");
	exec_sql(db, "BEGIN");
	snprintf(sql, sizeof(sql),
		 "INSERT INTO households (name, joined_at) VALUES ('bench', '%s-01')",
		 bench->period_text);
	for (unsigned h = 0; h < bench->n; h++)
		exec_sql(db, sql);
	exec_sql(db, "COMMIT");
	if (!bench->imported)
		usage_load(db, bench);
	exec_sql(db, "PRAGMA journal_mode = WAL");
	sqlite3_close(db);
	if (!bench->imported)
		printf("%7u households: database with %" PRId64 " buckets each built in %.0f s\n",
		       bench->n, (bench->end_s - bench->start_s) / BUCKET_S,
		       (bench_now_ms() - t) / 1e3);
}

static void pg_sql(PGconn *conn, const char *sql)
{
	PGresult *result = PQexec(conn, sql);
	ExecStatusType status = PQresultStatus(result);

	PQclear(result);
	if (status != PGRES_COMMAND_OK && status != PGRES_COPY_IN) {
		fprintf(stderr, "bench_close: %s: %s", sql, PQerrorMessage(conn));
		exit(1);
	}
}

/* COPY's text rows, sent a MiB at a time. */
struct pg_load {
	PGconn *conn;
	char buf[1 << 20];
	size_t len;
};

static void pg_flush(struct pg_load *load)
{
	if (PQputCopyData(load->conn, load->buf, (int)load->len) != 1)
		die(PQerrorMessage(load->conn));
	load->len = 0;
}

/* Hourly totals only: the close reads them, not the buckets. */
static void pg_row(void *ctx, bool hourly, int64_t start, unsigned household, uint64_t up,
		   uint64_t down)
{
	struct pg_load *load = ctx;

	if (!hourly)
		return;
	if (load->len > sizeof(load->buf) - 128)
		pg_flush(load);
	load->len += (size_t)snprintf(load->buf + load->len, sizeof(load->buf) - load->len,
				      "%" PRId64 "\t%u\t%" PRIu64 "\t%" PRIu64 "\n", start,
				      household, up, down);
}

/* The households and the month's hourly totals on PostgreSQL, loaded with
 * COPY; then VACUUM ANALYZE, as autovacuum would leave a database that has
 * been in use. */
static void pg_database_build(const struct bench *bench)
{
	static struct pg_load load;
	char errbuf[256], sql[256];
	struct store *store;
	PGresult *result;
	double t = bench_now_ms();

	/* The daemon's own schema, then a bulk load around it. */
	if (store_open_url(bench->url, &store, errbuf, sizeof(errbuf)) < 0)
		die(errbuf);
	store_free(store);
	load.conn = PQconnectdb(bench->url);
	if (PQstatus(load.conn) != CONNECTION_OK)
		die(PQerrorMessage(load.conn));
	pg_sql(load.conn, "DROP INDEX usage_hourly_by_household");
	pg_sql(load.conn, "BEGIN");
	snprintf(sql, sizeof(sql),
		 "INSERT INTO households (name, joined_at) SELECT 'bench', '%s-01' "
		 "FROM generate_series(1, %u)",
		 bench->period_text, bench->n);
	pg_sql(load.conn, sql);
	pg_sql(load.conn, "COPY usage_hourly (hour_start, household_id, bytes_up, bytes_down) "
			  "FROM STDIN");
	usage_generate(bench, pg_row, &load);
	pg_flush(&load);
	if (PQputCopyEnd(load.conn, NULL) != 1)
		die(PQerrorMessage(load.conn));
	result = PQgetResult(load.conn);
	if (PQresultStatus(result) != PGRES_COMMAND_OK)
		die(PQerrorMessage(load.conn));
	PQclear(result);
	PQclear(PQgetResult(load.conn));
	snprintf(sql, sizeof(sql), "UPDATE meter_state SET rolled_up_to = %" PRId64, bench->end_s);
	pg_sql(load.conn, sql);
	pg_sql(load.conn, "COMMIT");
	pg_sql(load.conn, "CREATE INDEX usage_hourly_by_household ON usage_hourly(household_id, "
			  "hour_start)");
	pg_sql(load.conn, "VACUUM ANALYZE");
	PQfinish(load.conn);
	printf("%7u households: PostgreSQL database with %" PRId64
	       " hourly totals each (no buckets) built in %.0f s\n",
	       bench->n, (bench->end_s - bench->start_s) / 3600, (bench_now_ms() - t) / 1e3);
}

/* One row per household and hour of the month, sent in requests of up to
 * IMPORT_ROWS rows, each household's hours together. */
static void usage_import(const struct bench *bench)
{
	int64_t hours = (bench->end_s - bench->start_s) / 3600;
	unsigned per_request = (unsigned)(IMPORT_ROWS / hours);
	/* {"household_id":…,"bucket_start":"…","bytes_up":…,"bytes_down":…}, */
	size_t row_max = 128, size = (size_t)per_request * (size_t)hours * row_max + 64;
	char *body = malloc(size), reply[4096];
	uint64_t state = 88172645463325252ULL;
	double t = bench_now_ms();

	if (!body)
		die("out of memory");
	for (unsigned first = 1; first <= bench->n; first += per_request) {
		size_t len = (size_t)snprintf(body, size, "{\"reason\":\"bench\",\"rows\":[");
		const char *separator = "";

		for (unsigned h = first; h < first + per_request && h <= bench->n; h++) {
			for (int64_t hour = bench->start_s; hour < bench->end_s; hour += 3600) {
				/* Up to 48 MB down and 12 MB up an hour: about 50 GB a month. */
				uint64_t down = next_random(&state) % 48000000;
				time_t at = (time_t)hour;
				struct tm tm;
				char when[32];

				gmtime_r(&at, &tm);
				strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
				len += (size_t)snprintf(body + len, size - len,
							"%s{\"household_id\":%u,\"bucket_start\":"
							"\"%s\",\"bytes_up\":%" PRIu64
							",\"bytes_down\":%" PRIu64 "}",
							separator, h, when, down / 4, down);
				separator = ",";
			}
		}
		snprintf(body + len, size - len, "]}");
		if (bench_http(bench->port, "POST", "/api/v1/usage/import", bench->token, body,
			       reply, sizeof(reply)) != 201)
			die(reply);
	}
	free(body);
	printf("%7u households: %" PRId64 " hourly rows each imported through the API in %.0f s\n",
	       bench->n, hours, (bench_now_ms() - t) / 1e3);
}

/* The tariff of docs/examples/tariff.json, in force from the start of the
 * month (the emergency it declares lets it apply without notice). */
static char *tariff_text(const struct period *period, const char *path)
{
	char valid_from[DATE_TEXT_MAX], period_text[PERIOD_TEXT_MAX];
	json_error_t error;
	json_t *tariff = json_load_file(path, 0, &error);
	char *text;

	if (!tariff)
		die(error.text);
	period_format(period, period_text);
	snprintf(valid_from, sizeof(valid_from), "%s-01", period_text);
	json_object_set_new(tariff, "valid_from", json_string(valid_from));
	text = json_dumps(tariff, JSON_COMPACT);
	json_decref(tariff);
	return text;
}

static void billing_setup(const struct bench *bench, const char *tariff_path)
{
	char body[65536], *tariff = tariff_text(&bench->period, tariff_path);
	static const struct {
		const char *category;
		int64_t amount_minor;
	} expenses[] = { { "transit", 1500000 }, { "power", 250000 } };

	if (bench_http(bench->port, "POST", "/api/v1/tariffs", bench->token, tariff, body,
		       sizeof(body)) != 201)
		die(body);
	free(tariff);
	if (bench_http(bench->port, "POST", "/api/v1/tariffs/1/publish", bench->token, NULL, body,
		       sizeof(body)) != 200)
		die(body);
	for (size_t i = 0; i < sizeof(expenses) / sizeof(expenses[0]); i++) {
		char expense[256];

		snprintf(expense, sizeof(expense),
			 "{\"period\":\"%s\",\"category\":\"%s\",\"amount_minor\":%" PRId64
			 ",\"description\":\"bench\"}",
			 bench->period_text, expenses[i].category, expenses[i].amount_minor);
		if (bench_http(bench->port, "POST", "/api/v1/expenses", bench->token, expense, body,
			       sizeof(body)) != 201)
			die(body);
	}
}

/* Publishes the same tariff again from the month after the one closed: its
 * label takes its profiles from the closed month's households. */
static void label_publish(const struct bench *bench, struct bench_prober *prober)
{
	struct period next =
		bench->period.month == 12
			? (struct period){ bench->period.year + 1, 1 }
			: (struct period){ bench->period.year, bench->period.month + 1 };
	char body[65536], path[64], *tariff = tariff_text(&next, BENCH_TARIFF);
	json_t *reply, *profiles;
	double t;

	if (bench_http(bench->port, "POST", "/api/v1/tariffs", bench->token, tariff, body,
		       sizeof(body)) != 201)
		die(body);
	free(tariff);
	reply = json_loads(body, 0, NULL);
	snprintf(path, sizeof(path), "/api/v1/tariffs/%" JSON_INTEGER_FORMAT "/publish",
		 json_integer_value(json_object_get(reply, "id")));
	json_decref(reply);
	bench_probe_start(prober);
	/* A few probes before, so that the publish falls among them. */
	usleep(50000);
	t = bench_now_ms();
	if (bench_http(bench->port, "POST", path, bench->token, NULL, body, sizeof(body)) != 200)
		die(body);
	t = bench_now_ms() - t;
	usleep(50000);
	bench_probe_end(prober);
	snprintf(path + strlen(path) - strlen("publish"), 8, "label");
	if (bench_http(bench->port, "GET", path, NULL, NULL, body, sizeof(body)) != 200)
		die(body);
	reply = json_loads(body, 0, NULL);
	profiles = json_object_get(json_object_get(reply, "document"), "profiles");
	if (strcmp(json_string_value(json_object_get(profiles, "source")), "period") != 0)
		die("the label's profiles do not come from the closed month");
	printf("%7u households: publish with its label (profiles of %" JSON_INTEGER_FORMAT
	       " households each) in %.0f ms\n",
	       bench->n,
	       json_integer_value(
		       json_object_get(json_object_get(profiles, "typical"), "households")),
	       t);
	json_decref(reply);
	bench_probe_report("", "during the publish", prober);
}

/* The baseline: the close's reading and rating of the month, in this
 * process, without writing invoices or log entries. */
static double rate_in_process(const struct bench *bench)
{
	char errbuf[256];
	struct store *store;
	struct bill_run *run;
	bool done;
	double t;

	/* Opening checks the whole file (PRAGMA quick_check): not timed. */
	if ((bench->url ? store_open_url(bench->url, &store, errbuf, sizeof(errbuf))
			: store_open(bench->db, &store, errbuf, sizeof(errbuf))) < 0)
		die(errbuf);
	t = bench_now_ms();
	if (bill_run_new(store, bench->zone, &bench->period, INT64_MAX, &run, errbuf,
			 sizeof(errbuf)) < 0)
		die(errbuf);
	if (bill_run_scan(run, UINT64_MAX, &done) < 0 || !done)
		die("bill_run_scan");
	for (size_t i = 0; i < bill_run_count(run); i++) {
		struct bill_invoice invoice;

		if (bill_run_invoice(run, i, &invoice) < 0)
			die("bill_run_invoice");
		bill_invoice_clear(&invoice);
	}
	bill_run_free(run);
	store_free(store);
	return (bench_now_ms() - t) / 1e3;
}

/* Builds the database of one backend (bench->url set: PostgreSQL's), runs
 * the daemon on it and closes the month: the close's wall time in seconds. */
static double close_run(struct bench *bench, const char *coopbilld, const char *dir)
{
	char config[256], command[1024], path[128], body[65536], url_line[1100] = "";
	static struct bench_prober prober;
	const char *kind = bench->imported ? "imported" : "metered",
		   *on = bench->url ? " on PostgreSQL" : "";
	FILE *file;
	double rating_s, close_s, t;
	int status;

	snprintf(config, sizeof(config), "%s/coopbill%s.conf", dir, bench->url ? "-pg" : "");
	/* With url, path only says where the log key lives. */
	if (bench->url)
		snprintf(url_line, sizeof(url_line), "url = %s\n", bench->url);
	file = fopen(config, "w");
	fprintf(file,
		"[server]\nlisten = 127.0.0.1:%u\n# Imports of %d rows.\n"
		"max_body_bytes = 67108864\n[database]\npath = %s\n%s"
		"[meter]\n# The host's network namespace: no nftables here.\nenabled = false\n"
		"[billing]\ncurrency = EUR\ntimezone = " ZONE "\n",
		bench->port, IMPORT_ROWS, bench->db, url_line);
	fclose(file);
	if (bench->url)
		pg_database_build(bench);
	else
		database_build(bench);

	snprintf(command, sizeof(command), "%s --config %s token create --role admin --name bench",
		 coopbilld, config);
	file = popen(command, "r");
	if (!file || !fgets(bench->token, sizeof(bench->token), file))
		die("token create");
	pclose(file);
	bench->token[strcspn(bench->token, "\n")] = '\0';
	bench_daemon_start(coopbilld, config);
	if (!bench_wait_ready(bench->port, 300))
		die("the daemon did not answer /healthz within 300 s of its start");
	billing_setup(bench, BENCH_TARIFF);
	if (bench->imported)
		usage_import(bench);

	rating_s = rate_in_process(bench);
	prober.port = bench->port;
	bench_probe_start(&prober);
	sleep(2);
	bench_probe_end(&prober);
	bench_probe_report("", "idle (baseline)", &prober);

	bench_probe_start(&prober);
	t = bench_now_ms();
	snprintf(path, sizeof(path), "/api/v1/periods/%s/close", bench->period_text);
	status = bench_http(bench->port, "POST", path, bench->token, NULL, body, sizeof(body));
	/* Without an answer (the connection dropped), ask again until the
	 * close is done: 409 while it runs, 200 once it is. */
	while (status == -1 || (status == 409 && strstr(body, "close-in-progress"))) {
		usleep(100000);
		status = bench_http(bench->port, "POST", path, bench->token, NULL, body,
				    sizeof(body));
	}
	close_s = (bench_now_ms() - t) / 1e3;
	bench_probe_end(&prober);
	if (status != 200)
		die(body);
	printf("%7u households, %s usage%s: close of %s in %.2f s, rating alone %.2f s\n", bench->n,
	       kind, on, bench->period_text, close_s, rating_s);
	bench_probe_report("", "during the close", &prober);
	snprintf(path, sizeof(path), "/api/v1/households/%u/invoices/%s", bench->n,
		 bench->period_text);
	if (bench_http(bench->port, "GET", path, bench->token, NULL, body, sizeof(body)) != 200)
		die(body);
	label_publish(bench, &prober);
	bench_daemon_stop();
	return close_s;
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/coopbill-bench.XXXXXX", url[1024], name[64];
	struct bench bench = { .port = 20000 + (unsigned)getpid() % 20000 };
	const char *pg_url = NULL;
	double sqlite_s, pg_s;

	if (argc < 3 || (strcmp(argv[2], "metered") != 0 && strcmp(argv[2], "imported") != 0)) {
		fprintf(stderr, "usage: bench_close COOPBILLD metered|imported [N]\n");
		return 2;
	}
	bench.imported = strcmp(argv[2], "imported") == 0;
	bench.n = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 10000;
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* The daemon's zone, for the period's bounds here too. */
	if (tz_zone_load(ZONE, &bench.zone) < 0)
		die("cannot load the time zone " ZONE);
	period_pick(&bench);
	if (!mkdtemp(dir))
		die("mkdtemp");
	bench_at_exit(dir);
	snprintf(bench.db, sizeof(bench.db), "%s/coopbill.db", dir);
	if (!bench.imported)
		pg_url = bench_pg_url();
	sqlite_s = close_run(&bench, argv[1], dir);
	if (pg_url) {
		/* Its own log key, beside a path that holds no database. */
		snprintf(bench.db, sizeof(bench.db), "%s/pg.db", dir);
		snprintf(name, sizeof(name), "bench_close_%u", bench.n);
		if (bench_pg_create(pg_url, name, url, sizeof(url)) < 0)
			return 1;
		bench.url = url;
		pg_s = close_run(&bench, argv[1], dir);
		bench_pg_drop(pg_url, name);
		printf("%7u households, metered usage: close on SQLite %.2f s, on %s %.2f s: "
		       "PostgreSQL/SQLite %.2fx\n",
		       bench.n, sqlite_s, bench_pg_name(), pg_s, pg_s / sqlite_s);
	}

	bench_finish();
	tz_zone_free(bench.zone);
	return 0;
}
