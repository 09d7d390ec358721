/* Metering benchmark: in a fresh network namespace per size and layout, N
 * households are provisioned — two counters each (no uplinks: all traffic is
 * internet traffic), then four each ([meter] uplinks set: internet and local
 * counters) — then polls are timed — the netlink
 * read, the accounting and SQLite commit, and both together — side by side
 * with `nft -j list counters table inet coopbill`, run interleaved in the same
 * rounds. Every household has traffic in every round. Also in each round:
 * the kernel's own time for one dump of the counters, with the replies only
 * received, not parsed (the floor under any reader of one dump). And: the
 * time to provision N households, and the resident memory of coopbilld itself
 * with N households after its first poll.
 * With COOPBILL_BENCH_PG_URL set (a PostgreSQL cluster), a second meter on a
 * fresh database there commits the same readings in the same rounds, the two
 * taking turns to go first: the accounting and commit on each backend, and
 * their ratio.
 * usage: bench_meter COOPBILLD [N...]   (root; default N: 1000 10000 100000) */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <uv.h>

#include "coopbill/config.h"
#include "coopbill/diag.h"
#include "coopbill/meter.h"
#include "coopbill/nft.h"
#include "coopbill/store.h"

#include "probe.h"

#define ROUNDS	       7
#define DAEMON_PORT    8080
#define DAEMON_PROBE_S 5

/* The layout measured: without uplinks (two counters per household) or with
 * them (four). */
static bool with_uplinks;
/* The PostgreSQL cluster to commit to as well, or NULL. */
static const char *pg_url;
static char uplink_name[] = "eth0";
static char *uplink_names[] = { uplink_name };

static unsigned counters_per_household(void)
{
	return with_uplinks ? 4 : 2;
}

static const char *layout(void)
{
	return with_uplinks ? "4 counters" : "2 counters";
}

static double cpu_ms(void)
{
	struct rusage usage;

	getrusage(RUSAGE_SELF, &usage);
	return usage.ru_utime.tv_sec * 1e3 + usage.ru_utime.tv_usec / 1e3 +
	       usage.ru_stime.tv_sec * 1e3 + usage.ru_stime.tv_usec / 1e3;
}

static double median(double *values, size_t n)
{
	qsort(values, n, sizeof(*values), bench_compare_double);
	return values[n / 2];
}

/* "median ms (min–max)", the values sorted. */
static const char *spread(double *values, size_t n, char *buf, size_t size)
{
	double mid = median(values, n);

	snprintf(buf, size, "%.1f ms (%.1f–%.1f)", mid, values[0], values[n - 1]);
	return buf;
}

static long rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *status;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	status = fopen(path, "r");
	if (!status)
		return -1;
	while (fgets(line, sizeof(line), status))
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(status);
	return kib;
}

static void die(const char *what, int r)
{
	fprintf(stderr, "bench_meter: %s: %s\n", what, strerror(-r));
	exit(1);
}

static int count_message(const struct nlmsghdr *nlh, void *data)
{
	(*(size_t *)data)++;
	return MNL_CB_OK;
}

/* One NFT_MSG_GETOBJ dump of the table's counters on a socket of its own,
 * each reply datagram received and its messages counted, nothing more. */
static double kernel_dump_ms(size_t *ret_messages)
{
	/* The kernel builds dump datagrams of up to 32 KiB. */
	static uint8_t buf[32768];
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;
	uint32_t seq = 1, portid;
	size_t messages = 0;
	double t = bench_now_ms();
	ssize_t n;
	int r = MNL_CB_OK;

	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		die("netlink socket", -errno);
	portid = mnl_socket_get_portid(nl);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETOBJ;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = NFPROTO_INET;
	nfg->version = NFNETLINK_V0;
	mnl_attr_put_strz(nlh, NFTA_OBJ_TABLE, "coopbill");
	mnl_attr_put_u32(nlh, NFTA_OBJ_TYPE, htonl(NFT_OBJECT_COUNTER));
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		die("netlink send", -errno);
	while (r > MNL_CB_STOP && (n = mnl_socket_recvfrom(nl, buf, sizeof(buf))) > 0)
		r = mnl_cb_run(buf, (size_t)n, seq, portid, count_message, &messages);
	if (r < 0)
		die("kernel dump", -errno);
	t = bench_now_ms() - t;
	mnl_socket_close(nl);
	*ret_messages = messages;
	return t;
}

/* Households with one IPv4 address each, 10.<hi>.<lo>.1 style, in one
 * transaction. */
static void households_create(struct store *store, unsigned n)
{
	struct cidr address = { .family = AF_INET, .prefix_len = 32 };
	struct household household = { .gateway = "main",
				       .name = (char *)"bench",
				       .joined_at = "2026-11-01",
				       .addresses = &address,
				       .n_addresses = 1 };
	int64_t id;
	int r;

	r = store_begin(store);
	for (unsigned i = 0; r == 0 && i < n; i++) {
		address.addr[0] = 10;
		address.addr[1] = (uint8_t)(i >> 16);
		address.addr[2] = (uint8_t)(i >> 8);
		address.addr[3] = (uint8_t)i;
		r = store_household_insert(store, &household, &id);
	}
	if (r == 0)
		r = store_commit(store);
	if (r < 0)
		die("creating households", r);
}

/* The real daemon on the same database and table, polling every second:
 * its resident memory after the first poll, /healthz latency while it polls
 * for a few seconds (the reads run on a worker thread; the loop still does
 * each poll's accounting and commit), and its resident memory after those. */
static void daemon_measure(const char *coopbilld, const char *dir, const char *db, unsigned n)
{
	static struct bench_prober prober;
	char config_path[256], log_path[256], line[512];
	char option[] = "--config";
	char *argv[] = { (char *)coopbilld, option, config_path, NULL };
	long kib = -1;
	FILE *file;
	pid_t pid;

	snprintf(config_path, sizeof(config_path), "%s/coopbill.conf", dir);
	snprintf(log_path, sizeof(log_path), "%s/daemon.log", dir);
	file = fopen(config_path, "w");
	fprintf(file,
		"[server]\nlisten = 127.0.0.1:%d\n[database]\npath = %s\n"
		"[meter]\ninterval_s = 1\nwait_for_ntp = false\nuplinks = %s\n",
		DAEMON_PORT, db, with_uplinks ? uplink_name : "");
	fclose(file);
	if (!freopen(log_path, "w", stderr))
		die("daemon log", -errno);
	if (posix_spawn(&pid, coopbilld, NULL, NULL, argv, environ) != 0)
		die("starting coopbilld", -errno);
	/* Listening is logged after the first poll. */
	for (int i = 0; i < 600 && kib < 0; i++) {
		usleep(100000);
		file = fopen(log_path, "r");
		while (file && fgets(line, sizeof(line), file))
			if (strstr(line, "listening"))
				kib = rss_kib(pid);
		if (file)
			fclose(file);
	}
	printf("%7u households, %s: coopbilld RSS after its first poll %ld KiB\n", n, layout(),
	       kib);
	prober.port = DAEMON_PORT;
	bench_probe_start(&prober);
	sleep(DAEMON_PROBE_S);
	bench_probe_end(&prober);
	snprintf(line, sizeof(line), "%7u households, %s:", n, layout());
	bench_probe_report(line, "while polling every second", &prober);
	printf("%7u households, %s: coopbilld RSS after polling every second for %d s %ld KiB\n", n,
	       layout(), DAEMON_PROBE_S, rss_kib(pid));
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

/* A meter on store, started: its first polls commit what the counters hold. */
static struct meter *meter_run(struct store *store, const struct config *config)
{
	struct meter *meter;
	int r;

	r = meter_new(uv_default_loop(), store, NULL, NULL, config, &meter);
	if (r == 0)
		r = meter_start(meter);
	if (r < 0)
		die("meter_start", r);
	return meter;
}

/* The same households on a fresh PostgreSQL database (ret_name), with the
 * same ids, and a meter on it. */
static struct meter *pg_meter_run(unsigned n, const struct config *config,
				  const struct household *households, size_t n_households,
				  char *ret_name, struct store **ret_store)
{
	struct household *pg_households;
	char url[1024], errbuf[256];
	size_t n_pg;
	int r;

	snprintf(ret_name, 64, "bench_meter_%u_%u", n, counters_per_household());
	if (bench_pg_create(pg_url, ret_name, url, sizeof(url)) < 0)
		exit(1);
	r = store_open_url(url, ret_store, errbuf, sizeof(errbuf));
	if (r < 0)
		die(errbuf, r);
	households_create(*ret_store, n);
	r = store_household_list(*ret_store, &pg_households, &n_pg);
	if (r < 0)
		die("listing households on PostgreSQL", r);
	for (size_t i = 0; i < n_pg; i++)
		if (n_pg != n_households || pg_households[i].id != households[i].id)
			die("households on PostgreSQL", -EPROTO);
	store_households_free(pg_households, n_pg);
	return meter_run(*ret_store, config);
}

/* The wall time of one accounting and commit of a reading. */
static double commit_ms(struct meter *meter, const struct nft_counter *counters, size_t n)
{
	double t = bench_now_ms();
	int r = meter_commit_reading(meter, counters, n);

	if (r < 0)
		die("committing to PostgreSQL", r);
	return bench_now_ms() - t;
}

static void bench_size(const char *coopbilld, unsigned n)
{
	double read_wall[ROUNDS], read_cpu[ROUNDS], commit_wall[ROUNDS], commit_cpu[ROUNDS],
		total_wall[ROUNDS], nft_wall[ROUNDS], kernel_wall[ROUNDS], pg_wall[ROUNDS],
		sqlite_wall[ROUNDS];
	char dir[] = "/tmp/coopbill-bench.XXXXXX", db[128], errbuf[256], cmd[160];
	struct household *households;
	struct nft_household *wanted;
	struct config config = { 0 };
	struct nft_counter *counters;
	struct meter *meter, *pg_meter = NULL;
	struct store *store, *pg_store = NULL;
	char pg_name[64], text[2][64];
	struct nft *nft;
	size_t n_households, n_counters, n_messages;
	bool missing;
	double t, c;
	int r;

	if (!mkdtemp(dir))
		die("mkdtemp", -errno);
	snprintf(db, sizeof(db), "%s/coopbill.db", dir);
	r = store_open(db, &store, errbuf, sizeof(errbuf));
	if (r < 0)
		die(errbuf, r);
	households_create(store, n);
	r = store_household_list(store, &households, &n_households);
	if (r < 0)
		die("listing households", r);
	wanted = calloc(n_households, sizeof(*wanted));
	for (size_t i = 0; i < n_households; i++)
		wanted[i] = (struct nft_household){ households[i].id, households[i].addresses,
						    households[i].n_addresses };
	r = nft_open("coopbill", &nft);
	if (r == 0 && with_uplinks)
		r = nft_set_uplinks(nft, (const char *const *)uplink_names, 1);
	if (r < 0)
		die("nft_open", r);
	t = bench_now_ms();
	r = nft_reconcile(nft, wanted, n_households);
	if (r < 0)
		die("provisioning", r);
	printf("%7u households, %s: provision %.1f ms (one batch)\n", n, layout(),
	       bench_now_ms() - t);
	nft_free(nft);

	config.meter_enabled = true;
	config.meter_interval_s = 3600;
	config.meter_table = (char *)"coopbill";
	config.meter_gateway = (char *)"main";
	config.meter_bucket_s = 300;
	config.meter_wait_for_ntp = false;
	config.meter_keep_buckets_days = 62;
	if (with_uplinks) {
		config.meter_uplinks = uplink_names;
		config.n_meter_uplinks = 1;
	}
	meter = meter_run(store, &config);
	if (pg_url)
		pg_meter = pg_meter_run(n, &config, households, n_households, pg_name, &pg_store);
	/* The meter's own reconcile at start tells the netlink module which
	 * households exist; this handle learns it the same way. */
	r = nft_open("coopbill", &nft);
	if (r == 0 && with_uplinks)
		r = nft_set_uplinks(nft, (const char *const *)uplink_names, 1);
	if (r == 0)
		r = nft_reconcile(nft, wanted, n_households);
	if (r < 0)
		die("nft_open", r);

	for (int round = 0; round < ROUNDS; round++) {
		t = bench_now_ms();
		c = cpu_ms();
		r = nft_read_counters(nft, &counters, &n_counters, &missing);
		if (r < 0 || n_counters != counters_per_household() * n)
			die("reading counters", r < 0 ? r : -EPROTO);
		read_wall[round] = bench_now_ms() - t;
		read_cpu[round] = cpu_ms() - c;
		/* Every household moved traffic since the last poll. */
		for (size_t i = 0; i < n_counters; i++)
			counters[i].bytes += (uint64_t)(round + 1) * 1000 + i;
		/* The two backends take turns to go first. */
		if (pg_meter && round % 2 == 1)
			pg_wall[round] = commit_ms(pg_meter, counters, n_counters);
		t = bench_now_ms();
		c = cpu_ms();
		r = meter_commit_reading(meter, counters, n_counters);
		if (r < 0)
			die("committing", r);
		commit_wall[round] = bench_now_ms() - t;
		commit_cpu[round] = cpu_ms() - c;
		total_wall[round] = read_wall[round] + commit_wall[round];
		sqlite_wall[round] = commit_wall[round];
		if (pg_meter && round % 2 == 0)
			pg_wall[round] = commit_ms(pg_meter, counters, n_counters);
		free(counters);

		t = bench_now_ms();
		if (bench_run("nft -j list counters table inet coopbill >/dev/null") != 0)
			die("nft -j list counters", -EIO);
		nft_wall[round] = bench_now_ms() - t;

		kernel_wall[round] = kernel_dump_ms(&n_messages);
		if (n_messages != counters_per_household() * n)
			die("kernel dump: counters missing", -EPROTO);
	}
	printf("%7u households, %s: poll %.1f ms wall (read %.2f ms wall / %.2f ms CPU, "
	       "account+commit %.1f ms wall / %.1f ms CPU); baseline nft -j list counters %.1f ms: "
	       "read %.0fx faster\n",
	       n, layout(), median(total_wall, ROUNDS), median(read_wall, ROUNDS),
	       median(read_cpu, ROUNDS), median(commit_wall, ROUNDS), median(commit_cpu, ROUNDS),
	       median(nft_wall, ROUNDS), median(nft_wall, ROUNDS) / median(read_wall, ROUNDS));
	printf("%7u households, %s: the kernel's own dump, replies received and not parsed, "
	       "%.2f ms: %.0fx faster than the baseline, a ceiling for any one-dump reader\n",
	       n, layout(), median(kernel_wall, ROUNDS),
	       median(nft_wall, ROUNDS) / median(kernel_wall, ROUNDS));
	if (pg_meter)
		printf("%7u households, %s: account+commit, median (range) of %d rounds: "
		       "SQLite %s, %s %s: PostgreSQL/SQLite %.2fx\n",
		       n, layout(), ROUNDS, spread(sqlite_wall, ROUNDS, text[0], sizeof(text[0])),
		       bench_pg_name(), spread(pg_wall, ROUNDS, text[1], sizeof(text[1])),
		       median(pg_wall, ROUNDS) / median(sqlite_wall, ROUNDS));
	fflush(stdout);

	nft_free(nft);
	meter_close(meter, NULL, NULL);
	if (pg_meter)
		meter_close(pg_meter, NULL, NULL);
	uv_run(uv_default_loop(), UV_RUN_DEFAULT);
	if (pg_meter) {
		store_free(pg_store);
		bench_pg_drop(pg_url, pg_name);
	}
	store_households_free(households, n_households);
	free(wanted);
	store_free(store);

	daemon_measure(coopbilld, dir, db, n);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	bench_run(cmd);
}

int main(int argc, char **argv)
{
	unsigned sizes[] = { 1000, 10000, 100000 };
	size_t n_sizes = sizeof(sizes) / sizeof(sizes[0]);

	if (argc < 2) {
		fprintf(stderr, "usage: bench_meter COOPBILLD [N...]\n");
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "bench_meter: needs root for a network namespace\n");
		return 77;
	}
	for (int i = 2; i < argc && i - 2 < 3; i++)
		sizes[i - 2] = (unsigned)strtoul(argv[i], NULL, 10);
	if (argc > 2)
		n_sizes = (size_t)(argc - 2) < n_sizes ? (size_t)(argc - 2) : n_sizes;
	setvbuf(stdout, NULL, _IOLBF, 0);
	pg_url = bench_pg_url();
	/* The synthetic traffic makes the last poll see every counter "reset". */
	diag_set_max_priority(LOG_ERR);

	for (size_t i = 0; i < 2 * n_sizes; i++) {
		pid_t pid = fork();
		int status;

		if (pid == 0) {
			with_uplinks = i % 2 == 1;
			/* A fresh namespace: its own empty ruleset, loopback up. */
			if (unshare(CLONE_NEWNET) < 0) {
				perror("unshare");
				_exit(77);
			}
			bench_run("ip link set lo up");
			bench_size(argv[1], sizes[i / 2]);
			_exit(0);
		}
		waitpid(pid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			return 1;
	}
	return 0;
}
