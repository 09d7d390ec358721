/* Metering: turns the kernel's absolute counter values into per-household
 * usage — deltas against the stored baselines, resets recorded as gaps, bytes
 * spread over time buckets — and runs the poll: the timer's reads on a
 * worker thread, the accounting and the commit on the daemon's loop. The
 * accounting functions are pure; meter_* runtime functions own the timer, the
 * netlink sockets and the poll's transaction. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "coopbill/nft.h"
#include "coopbill/store.h"

struct config;
struct meter;

/* --- Accounting (pure) --- */

/* bytes_up and bytes_down: internet traffic; local_up and local_down: local
 * traffic (see enum nft_scope). */
struct meter_delta {
	int64_t household_id;
	uint64_t bytes_up;
	uint64_t bytes_down;
	uint64_t local_up;
	uint64_t local_down;
};

struct meter_gap {
	int64_t household_id;
	enum nft_scope scope;
	enum nft_direction direction;
	bool recreated; /* a new counter handle; else the value went down (a reset) */
	uint64_t bytes_before;
	uint64_t bytes_after;
};

struct meter_accounting {
	struct meter_delta *deltas; /* households with traffic, by id */
	size_t n_deltas;
	struct store_baseline *baselines; /* the new baseline of every counter read */
	size_t n_baselines;
	struct meter_gap *gaps;
	size_t n_gaps;
};

/* Compares the counters read with the baselines (sorted by household, then
 * scope, then direction). Same handle and a value not lower: the difference. A lower
 * value or a new handle: a reset, the new value is the traffic since, and a
 * gap is recorded. No baseline: a counter the daemon created, all its value
 * is new traffic. A decrease is never taken for a wrap. Counters of
 * households not in known_ids (sorted) are ignored. */
int meter_account(const struct nft_counter *counters, size_t n_counters,
		  const struct store_baseline *baselines, size_t n_baselines,
		  const int64_t *known_ids, size_t n_known_ids, struct meter_accounting *ret);
void meter_accounting_clear(struct meter_accounting *accounting);

/* Most buckets one interval is spread over. */
#define METER_SPLIT_MAX 64

struct meter_share {
	int64_t bucket_start; /* Unix seconds */
	uint64_t bytes;
};

/* Spreads bytes over the buckets of bucket_s seconds that [start_ms, end_ms)
 * overlaps, in proportion to the overlap; the leftover bytes of integer
 * division go by largest remainder (ties to the earlier bucket), so the
 * shares sum exactly to bytes. An empty interval puts everything in the
 * bucket of end_ms. Writes at most max_shares (a longer interval is cut to
 * its last max_shares buckets) and returns how many. */
size_t meter_split(uint64_t bytes, int64_t start_ms, int64_t end_ms, unsigned bucket_s,
		   struct meter_share *ret_shares, size_t max_shares);

/* Whether traffic may be assigned to wall-clock buckets yet. */
bool meter_clock_sane(int64_t now_s, int64_t build_time_s, bool wait_for_ntp,
		      bool ntp_synchronised);

/* Whether the kernel's clock is NTP-synchronised: adjtimex(2) read-only, or
 * where a sandbox forbids that, systemd-timedated's NTPSynchronized. */
bool meter_clock_ntp_synchronised(void);

/* --- Uplinks --- */

/* An interface name with its NUL (IFNAMSIZ). */
#define METER_IFNAME_SIZE 16
/* The procfs route tables meter_uplinks_note() reads. */
#define METER_ROUTE4_PATH "/proc/net/route"
#define METER_ROUTE6_PATH "/proc/net/ipv6_route"

/* The interface of the default route with the lowest metric, from a file in
 * the format of /proc/net/route, or when that has none, of
 * /proc/net/ipv6_route (either path may be NULL); -ENOENT when neither has
 * one. */
int meter_default_route_ifname(const char *route4_path, const char *route6_path,
			       char ret_ifname[METER_IFNAME_SIZE]);

/* With the meter enabled and no uplink configured, writes the note that
 * says so (all traffic is internet traffic) and names the interface of the
 * default route as the likely uplink, and returns true; else false. */
bool meter_uplinks_note(const struct config *config, const char *route4_path,
			const char *route6_path, char *ret_note, size_t size);

/* --- Runtime --- */

enum meter_state {
	METER_DISABLED,
	METER_STARTING,
	METER_OK,
	METER_WAITING_FOR_CLOCK,
	METER_DEGRADED, /* flow offload bypasses the counters */
	METER_FAILING,	/* the last poll failed */
};

struct meter_status {
	enum meter_state state;
	int64_t last_poll_at; /* Unix seconds of the last successful poll, 0 if none */
	uint64_t last_poll_duration_us;
	uint64_t last_read_duration_us;
	uint64_t last_commit_duration_us;
	size_t counters_read;
	uint64_t polls_total;
	uint64_t poll_failures_total;
	uint64_t gaps_total;
	int last_error;
};

const char *meter_state_name(enum meter_state state);

/* Logs a poll's gaps in the transparency log, inside the poll's
 * transaction: returns 1 when it logged them, 0 when the log is not sound
 * now (the gaps then wait in the database, unlogged), or an error, which
 * fails the poll. */
typedef int meter_gaps_log_fn(void *context, const struct store_gap *gaps, size_t n_gaps);

/* Gaps go into the transparency log through gaps_log, called with
 * gaps_log_context (NULL: they wait, unlogged). */
int meter_new(uv_loop_t *loop, struct store *store, meter_gaps_log_fn *gaps_log,
	      void *gaps_log_context, const struct config *config, struct meter **ret_meter);
/* Opens netlink, reconciles the kernel with the active households, polls once
 * and starts the timer. */
int meter_start(struct meter *meter);
void meter_set_config(struct meter *meter, const struct config *config);
/* One poll now: read, account, commit. */
int meter_poll(struct meter *meter);
/* Starts a poll whose read runs on a worker thread (the timer's polls are
 * these); the accounting and the commit follow on the loop. Does nothing
 * while the last one is still reading. */
int meter_poll_start(struct meter *meter);
/* The accounting and commit half of a poll, given the counters read. */
int meter_commit_reading(struct meter *meter, const struct nft_counter *counters,
			 size_t n_counters);
/* Polls a last time, stops the timer; on_closed runs when the meter is freed. */
void meter_close(struct meter *meter, void (*on_closed)(void *data), void *data);

/* Gives a household's new state to the kernel in one batch: its ranges, or
 * none when closed. Its counters stay: the next poll commits what they
 * counted, and removes the counters of closed households only after that.
 * Call it inside the write transaction that changes the household, and roll
 * that back when this fails. */
int meter_household_apply(struct meter *meter, const struct household *household);

/* Makes the kernel's tables match the database again. */
int meter_resync(struct meter *meter);

void meter_status_get(const struct meter *meter, struct meter_status *ret_status);
/* Whether the meter is alive for the watchdog: disabled, or polled lately. */
bool meter_alive(const struct meter *meter);
