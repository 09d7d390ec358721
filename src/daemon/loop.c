/* The daemon's lifecycle: everything runs on one libuv loop — the HTTP
 * server, signals, and the watchdog timer. READY=1 is sent once the database
 * is open, migrated and checked and the server listens; STOPPING=1 when a stop
 * begins. A stop waits for requests in flight, at most STOP_DEADLINE_MS, and
 * on PostgreSQL for the fibers waiting on the database to end (each does
 * within the connection's timeouts). */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <uv.h>

#include "coopbill/api.h"
#include "coopbill/config.h"
#include "coopbill/daemon.h"
#include "coopbill/http.h"
#include "coopbill/ledger.h"
#include "coopbill/diag.h"
#include "coopbill/fiber.h"
#include "coopbill/meter.h"
#include "coopbill/store.h"

#define STOP_DEADLINE_MS 4000
/* How often a stop looks again whether the fibers have ended. */
#define STOP_FIBER_WAIT_MS 10

struct daemon {
	uv_loop_t loop;
	uv_signal_t sigterm;
	uv_signal_t sigint;
	uv_signal_t sighup;
	uv_timer_t watchdog;
	uv_timer_t stop_timer;
	uv_timer_t daily_timer; /* makes the daily usage totals, while it runs */
	bool daily_busy;	/* a slice of them waits for the database */
	bool reloading;		/* a reload waits its turn for the database */
	struct config *config;
	struct store *store;
	struct ledger_tlog *tlog;
	struct meter *meter;
	struct api *api;
	struct http_server *http;
	int lock_fd; /* the database's lock, held while the daemon runs */
	bool stopping;
	bool drained;
};

static void on_handle_closed(uv_handle_t *handle)
{
}

static void daemon_close_handles(struct daemon *daemon)
{
	uv_handle_t *handles[] = {
		(uv_handle_t *)&daemon->sigterm,    (uv_handle_t *)&daemon->sigint,
		(uv_handle_t *)&daemon->sighup,	    (uv_handle_t *)&daemon->watchdog,
		(uv_handle_t *)&daemon->stop_timer, (uv_handle_t *)&daemon->daily_timer,
	};

	for (size_t i = 0; i < sizeof(handles) / sizeof(handles[0]); i++)
		if (!uv_is_closing(handles[i]))
			uv_close(handles[i], on_handle_closed);
}

static void on_stop_timer(uv_timer_t *timer)
{
	struct daemon *daemon = timer->data;

	/* A fiber's request is suspended, which the server must not be
	 * when it closes, and its work holds what is freed below. */
	if (fiber_count() > 0) {
		uv_timer_start(&daemon->stop_timer, on_stop_timer, STOP_FIBER_WAIT_MS, 0);
		return;
	}
	if (!daemon->drained)
		diag_warning("stopping with requests still in flight after %d ms",
			     STOP_DEADLINE_MS);
	/* A period close still running answers 503 before the server goes. */
	if (daemon->api)
		api_close(daemon->api);
	if (daemon->http) {
		/* Closing the server also closes idle keep-alive connections. */
		http_server_close(daemon->http, NULL, NULL);
		daemon->http = NULL;
	}
	if (daemon->meter) {
		/* A last poll commits what the counters hold now. */
		meter_close(daemon->meter, NULL, NULL);
		daemon->meter = NULL;
	}
	daemon_close_handles(daemon);
}

/* Called from inside MHD's processing: the server is closed from the next
 * loop iteration, not here. */
static void on_drained(void *data)
{
	struct daemon *daemon = data;

	daemon->drained = true;
	uv_timer_start(&daemon->stop_timer, on_stop_timer, 0, 0);
}

static void daemon_stop(struct daemon *daemon, const char *why)
{
	if (daemon->stopping)
		return;
	daemon->stopping = true;
	diag_notice("%s: stopping", why);
	sd_notify(0, "STOPPING=1");
	uv_timer_start(&daemon->stop_timer, on_stop_timer, STOP_DEADLINE_MS, 0);
	http_server_quiesce(daemon->http, on_drained, daemon);
}

/* Where members find their page, or why they will not. */
static void daemon_notice_page(const struct config *config)
{
	char index[PATH_MAX];

	snprintf(index, sizeof(index), "%s/index.html", config->www_dir);
	if (access(index, R_OK) == 0)
		diag_notice("member page at %s/ from %s", config->public_url, config->www_dir);
	else
		diag_warning("[server] www: %s has no readable index.html; GET / answers 404 "
			     "until it has",
			     config->www_dir);
}

static void on_stop_signal(uv_signal_t *signal, int signum)
{
	daemon_stop(signal->data, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

#define DAILY_SLICE_NS (20 * 1000 * 1000)

static void daily_failed(const struct config *config, int error)
{
	char errbuf[256];

	store_describe_write_error(config->database_path, error, errbuf, sizeof(errbuf));
	diag_warning("cannot make the daily usage totals in time zone %s (usage by day is read "
		     "by the hour meanwhile; a reload tries again): %s",
		     config->timezone, errbuf);
}

/* A few days of the daily usage totals, 20 ms at a time between requests. */
static void daily_slice(void *data)
{
	struct daemon *daemon = data;
	int r;

	r = store_zone_build(daemon->store, uv_hrtime() + DAILY_SLICE_NS);
	if (r == 1)
		return;
	uv_timer_stop(&daemon->daily_timer);
	if (r < 0)
		daily_failed(daemon->config, r);
	else
		diag_notice("daily usage totals made in time zone %s", daemon->config->timezone);
}

static void daily_slice_done(void *data)
{
	((struct daemon *)data)->daily_busy = false;
}

static void on_daily_timer(uv_timer_t *timer)
{
	struct daemon *daemon = timer->data;

	/* A slice still waiting for the database goes on first. */
	if (!daemon->daily_busy)
		daemon->daily_busy =
			store_work(daemon->store, true, daily_slice, daily_slice_done, daemon);
}

/* The cooperative's days for the daily usage totals, made again from the
 * hourly ones when the zone changed (name or tzdata). Until they are made,
 * usage by day is read by the hour, slower; metering goes on. */
static void daemon_zone_set(struct daemon *daemon, const struct config *config)
{
	int r;

	uv_timer_stop(&daemon->daily_timer);
	r = store_zone_set(daemon->store, config->zone, config->timezone);
	if (r < 0) {
		daily_failed(config, r);
	} else if (r == 1) {
		diag_notice("making the daily usage totals in time zone %s from the hourly ones",
			    config->timezone);
		uv_timer_start(&daemon->daily_timer, on_daily_timer, 0, 1);
	}
}

/* SIGHUP: the new file is validated completely and swapped in only if valid;
 * otherwise the old configuration stays and the log says why. */
static void daemon_reload(struct daemon *daemon)
{
	struct config *config, *old = daemon->config;
	char *errors = NULL;
	int r;

	r = config_load(old->path, &config, &errors);
	if (r < 0) {
		diag_error("reload refused, keeping the running configuration:\n%s",
			   errors ? errors : strerror(-r));
		free(errors);
		return;
	}
	if (strcmp(config->listen, old->listen) != 0)
		diag_warning("reload: [server] listen changed to %s; it takes effect on restart",
			     config->listen);
	if (strcmp(config->database_path, old->database_path) != 0 ||
	    strcmp(config->database_url, old->database_url) != 0)
		diag_warning("reload: [database] path and url take effect on restart");
	if (strcmp(config->meter_table, old->meter_table) != 0 ||
	    config->meter_enabled != old->meter_enabled)
		diag_warning("reload: [meter] table and enabled take effect on restart");
	/* The kernel holds the households of the gateway the daemon started
	 * with: new households go there too until a restart. */
	if (strcmp(config->meter_gateway, old->meter_gateway) != 0) {
		char *running = strdup(old->meter_gateway);

		if (!running) {
			diag_error("reload refused, keeping the running configuration: %s",
				   strerror(ENOMEM));
			config_free(config);
			return;
		}
		diag_warning("reload: [meter] gateway changed to %s; it takes effect on restart",
			     config->meter_gateway);
		free(config->meter_gateway);
		config->meter_gateway = running;
	}
	/* The store reads the new zone before the old one is freed; days
	 * in a zone it cannot make stay read by the hour. */
	daemon_zone_set(daemon, config);
	meter_set_config(daemon->meter, config);
	api_set_config(daemon->api, config);
	http_server_set_config(daemon->http, config);
	daemon->config = config;
	config_free(old);
	diag_notice("configuration reloaded from %s", config->path);
	daemon_notice_page(config);
}

static void reload_run(void *data)
{
	daemon_reload(data);
}

static void reload_done(void *data)
{
	struct daemon *daemon = data;

	daemon->reloading = false;
	sd_notify(0, "READY=1");
}

static void on_sighup(uv_signal_t *signal, int signum)
{
	struct daemon *daemon = signal->data;

	if (daemon->reloading)
		return;
	sd_notify(0, "RELOADING=1");
	/* A reload holds the store: no request's work, which reads the
	 * configuration, runs meanwhile. */
	daemon->reloading = true;
	if (!store_work(daemon->store, true, reload_run, reload_done, daemon))
		reload_done(daemon);
}

/* The watchdog is fed only while the meter really polls: a meter stuck for
 * three intervals gets the daemon restarted. */
static void on_watchdog(uv_timer_t *timer)
{
	struct daemon *daemon = timer->data;

	if (meter_alive(daemon->meter))
		sd_notify(0, "WATCHDOG=1");
}

static int daemon_start(struct daemon *daemon, const char *config_path)
{
	uint64_t watchdog_usec = 0;
	char *errors = NULL, errbuf[512];
	long holder = 0;
	int r;

	r = config_load(config_path, &daemon->config, &errors);
	if (r < 0) {
		diag_error("configuration is not valid:\n%s", errors ? errors : strerror(-r));
		free(errors);
		return r;
	}

	/* A restore must not replace the database under a running daemon,
	 * nor may two daemons share it. PostgreSQL's is shared by gateways,
	 * one daemon each (store_gateway_lock below). */
	r = daemon->config->database_url[0]
		    ? 0
		    : store_lock(daemon->config->database_path, &daemon->lock_fd, &holder);
	if (r == -EBUSY) {
		diag_error("database %s is in use by another coopbilld (process %ld): a daemon "
			   "or a restore; stop it first",
			   daemon->config->database_path, holder);
		return r;
	}
	if (r < 0) {
		diag_error("cannot lock the database %s: %s", daemon->config->database_path,
			   strerror(-r));
		return r;
	}
	r = store_open_config(daemon->config, &daemon->store, errbuf, sizeof(errbuf));
	if (r < 0) {
		diag_error("database %s: %s", config_database_name(daemon->config), errbuf);
		return r;
	}
	r = store_gateway_lock(daemon->store, daemon->config->meter_gateway);
	if (r == -EBUSY) {
		diag_error("another coopbilld meters gateway %s on this database: each gateway "
			   "runs one; set [meter] gateway to this gateway's own name",
			   daemon->config->meter_gateway);
		return r;
	}
	if (r < 0) {
		diag_error("cannot lock gateway %s in the database: %s",
			   daemon->config->meter_gateway, strerror(-r));
		return r;
	}
	r = ledger_tlog_open(daemon->store, daemon->config, &daemon->tlog, errbuf, sizeof(errbuf));
	if (r < 0) {
		diag_error("%s", errbuf);
		return r;
	}
	if (ledger_tlog_problem(daemon->tlog))
		diag_error("transparency log: %s. Refusing to serve the API meanwhile; metering "
			   "goes on",
			   ledger_tlog_problem(daemon->tlog));
	r = meter_new(&daemon->loop, daemon->store, ledger_tlog_meter_gaps, daemon->tlog,
		      daemon->config, &daemon->meter);
	if (r < 0)
		return r;
	r = meter_start(daemon->meter);
	if (r < 0 && store_write_error(daemon->store) < 0) {
		store_describe_write_error(daemon->config->database_path,
					   store_write_error(daemon->store), errbuf,
					   sizeof(errbuf));
		diag_error("meter: cannot store the first reading: %s", errbuf);
		return r;
	}
	if (r < 0) {
		diag_error("meter: cannot start on table inet %s: %s (the daemon needs "
			   "CAP_NET_ADMIN; set [meter] enabled = false on a machine that does not "
			   "meter)",
			   daemon->config->meter_table, strerror(-r));
		return r;
	}
	r = api_new(&daemon->loop, daemon->store, daemon->meter, daemon->tlog, daemon->config,
		    &daemon->api);
	if (r < 0)
		return r;
	r = http_server_new(&daemon->loop, daemon->config, api_admit, api_dispatch, api_done,
			    daemon->api, &daemon->http);
	if (r < 0) {
		diag_error("cannot listen on %s: %s", daemon->config->listen, strerror(-r));
		return r;
	}

	uv_signal_init(&daemon->loop, &daemon->sigterm);
	uv_signal_init(&daemon->loop, &daemon->sigint);
	uv_signal_init(&daemon->loop, &daemon->sighup);
	uv_timer_init(&daemon->loop, &daemon->watchdog);
	uv_timer_init(&daemon->loop, &daemon->stop_timer);
	uv_timer_init(&daemon->loop, &daemon->daily_timer);
	daemon->sigterm.data = daemon->sigint.data = daemon->sighup.data = daemon;
	daemon->watchdog.data = daemon->stop_timer.data = daemon->daily_timer.data = daemon;
	daemon_zone_set(daemon, daemon->config);
	uv_signal_start(&daemon->sigterm, on_stop_signal, SIGTERM);
	uv_signal_start(&daemon->sigint, on_stop_signal, SIGINT);
	uv_signal_start(&daemon->sighup, on_sighup, SIGHUP);
	if (sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec >= 2000) {
		uint64_t half_ms = watchdog_usec / 2000;

		uv_timer_start(&daemon->watchdog, on_watchdog, half_ms, half_ms);
	}

	diag_notice("coopbilld listening on %s, database %s", daemon->config->listen,
		    config_database_name(daemon->config));
	daemon_notice_page(daemon->config);
	sd_notify(0, "READY=1");
	return 0;
}

int daemon_run(const char *config_path)
{
	struct daemon daemon = { .lock_fd = -1 };
	int r;

	/* One malloc arena for every thread: what the meter's readers free on
	 * worker threads then serves the loop too, instead of staying with arenas
	 * of their own (3.5 MiB at 10,000 households, 38 MiB at 100,000). */
	mallopt(M_ARENA_MAX, 1);
	r = uv_loop_init(&daemon.loop);
	if (r < 0) {
		diag_error("cannot create the event loop: %s", uv_strerror(r));
		return 1;
	}
	fiber_init(&daemon.loop);
	r = daemon_start(&daemon, config_path);
	if (r < 0 && daemon.meter)
		meter_close(daemon.meter, NULL, NULL);
	/* On failure this only lets handles already closing finish. */
	uv_run(&daemon.loop, UV_RUN_DEFAULT);
	/* The handles fibers waited with, the last poll's among them. */
	fiber_shutdown();
	uv_run(&daemon.loop, UV_RUN_DEFAULT);
	uv_loop_close(&daemon.loop);
	api_free(daemon.api);
	ledger_tlog_free(daemon.tlog);
	store_free(daemon.store);
	config_free(daemon.config);
	if (daemon.lock_fd >= 0)
		close(daemon.lock_fd);
	if (r == 0)
		diag_notice("stopped");
	return r < 0 ? 1 : 0;
}
