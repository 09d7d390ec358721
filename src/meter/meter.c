/* The meter on the loop: every interval, one read of the kernel's counters
 * (on a worker thread, with a netlink handle of its own, so that the loop
 * goes on serving), then on the loop the accounting against the baselines,
 * and one transaction that writes usage, gaps and the new baselines together
 * — so a crash at any moment loses nothing and counts nothing twice. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "build-config.h"
#include "coopbill/config.h"
#include "coopbill/diag.h"
#include "coopbill/fnv.h"
#include "coopbill/meter.h"

/* Households are known when in the database, active or closed; a closed
 * household's counters still hold traffic until one last read. */
struct household_sets {
	int64_t *active;
	size_t n_active;
	int64_t *closed;
	size_t n_closed;
	int64_t *known;
	size_t n_known;
};

/* A read of the counters on a worker thread. */
struct poll_work {
	uv_work_t work;
	struct meter *meter;
	struct nft *reader;
	uint64_t t_start;
	uint64_t read_us;
	/* meter->household_changes when the read began. */
	uint64_t changes;
	struct nft_counter *counters;
	size_t n_counters;
	bool table_missing;
	bool offload;
	int result;
	int status; /* the worker's: negative when the read did not run */
};

struct meter {
	uv_loop_t *loop;
	uv_timer_t timer;
	bool timer_started;
	struct store *store;
	/* Logs the gaps of a poll in the transparency log (NULL: none). */
	meter_gaps_log_fn *gaps_log;
	void *gaps_log_context;
	const struct config *config;
	struct nft *nft;
	/* The worker thread's handle, in step with nft before each read. */
	struct nft *reader;
	/* What meter_baselines holds, sorted by household and direction;
	 * unsure after a commit whose outcome was not heard (PostgreSQL's
	 * connection broke at COMMIT): it may have landed, and the next poll
	 * reads them again before it counts. */
	struct store_baseline *baselines;
	size_t n_baselines;
	bool baselines_unsure;
	/* The households, refreshed after any change to them. */
	struct household_sets sets;
	bool sets_valid;
	/* Each household as last applied to the kernel, by id: a digest of
	 * what decides its counting here. Another gateway's daemon may change
	 * households (PostgreSQL): each poll compares, and applies what
	 * changed as the API would have. */
	struct household_digest *digests;
	size_t n_digests;
	/* store_household_changes() as read before the digests were last
	 * compared with the households listed (when changes_known): while it
	 * stays, nothing is listed again. */
	bool changes_known;
	int64_t changes;
	bool clock_sane;
	/* The monotonic time of the last committed poll, when the interval
	 * since then is known. */
	bool have_last_commit;
	uint64_t last_commit_mono_ms;
	uint64_t last_read_mono_ms;
	/* Counts the API's changes to households: a read on a worker thread
	 * is settled when none happened while it ran. */
	uint64_t household_changes;
	/* The read running on a worker thread, if any; closing waits for it. */
	struct poll_work *work;
	bool closing;
	/* A tick's start of a poll waits for the database (on a fiber). */
	bool ticking;
	/* A reload changed the uplinks: applied once no read is running. */
	bool uplinks_pending;
	struct meter_status status;
	void (*on_closed)(void *data);
	void *on_closed_data;
};

struct household_digest {
	int64_t id;
	uint64_t digest;
};

static const char *const state_names[] = {
	[METER_DISABLED] = "disabled",
	[METER_STARTING] = "starting",
	[METER_OK] = "ok",
	[METER_WAITING_FOR_CLOCK] = "waiting-for-clock",
	[METER_DEGRADED] = "degraded",
	[METER_FAILING] = "failing",
};

const char *meter_state_name(enum meter_state state)
{
	return state_names[state];
}

static uint64_t mono_ms(void)
{
	return uv_hrtime() / 1000000;
}

static int64_t wall_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

int meter_new(uv_loop_t *loop, struct store *store, meter_gaps_log_fn *gaps_log,
	      void *gaps_log_context, const struct config *config, struct meter **ret_meter)
{
	struct meter *meter = calloc(1, sizeof(*meter));

	if (!meter)
		return -ENOMEM;
	meter->loop = loop;
	meter->store = store;
	meter->gaps_log = gaps_log;
	meter->gaps_log_context = gaps_log_context;
	meter->config = config;
	meter->status.state = config->meter_enabled ? METER_STARTING : METER_DISABLED;
	uv_timer_init(loop, &meter->timer);
	meter->timer.data = meter;
	*ret_meter = meter;
	return 0;
}

static bool uplinks_equal(const struct config *a, const struct config *b)
{
	if (a->n_meter_uplinks != b->n_meter_uplinks)
		return false;
	for (size_t i = 0; i < a->n_meter_uplinks; i++)
		if (strcmp(a->meter_uplinks[i], b->meter_uplinks[i]) != 0)
			return false;
	return true;
}

static int meter_reconcile(struct meter *meter);
static void apply_uplinks(struct meter *meter);

void meter_set_config(struct meter *meter, const struct config *config)
{
	unsigned old_interval_s = meter->config->meter_interval_s;
	bool uplinks_changed = !uplinks_equal(meter->config, config);

	meter->config = config;
	if (meter->timer_started && config->meter_interval_s != old_interval_s)
		uv_timer_set_repeat(&meter->timer, (uint64_t)config->meter_interval_s * 1000);
	if (meter->nft && uplinks_changed) {
		meter->uplinks_pending = true;
		if (!meter->work)
			apply_uplinks(meter);
	}
}

static void usage_notes(const struct config *config)
{
	char note[512];

	if (meter_uplinks_note(config, METER_ROUTE4_PATH, METER_ROUTE6_PATH, note, sizeof(note)))
		diag_notice("%s", note);
}

/* Without uplinks the local counters are gone: so are their baselines, so
 * that counters made again later start without a gap. */
static int forget_local_baselines(struct meter *meter)
{
	size_t n = 0;
	int r;

	if (meter->config->n_meter_uplinks > 0)
		return 0;
	for (size_t i = 0; i < meter->n_baselines; i++)
		if (meter->baselines[i].scope == 0)
			meter->baselines[n++] = meter->baselines[i];
	if (n == meter->n_baselines)
		return 0;
	meter->n_baselines = n;
	r = store_begin(meter->store);
	if (r < 0)
		return r;
	r = store_baselines_forget_local(meter->store);
	if (r == 0)
		r = store_commit(meter->store);
	if (r < 0)
		store_rollback(meter->store);
	return r;
}

/* Uplinks set or changed: the counters are committed as they are, then the
 * table gets the new rules (and local counters, or none). */
static void apply_uplinks(struct meter *meter)
{
	const struct config *config = meter->config;
	int r;

	meter->uplinks_pending = false;
	r = meter_poll(meter);
	if (r == 0)
		r = nft_set_uplinks(meter->nft, (const char *const *)config->meter_uplinks,
				    config->n_meter_uplinks);
	if (r == 0)
		r = meter_reconcile(meter);
	if (r == 0)
		r = forget_local_baselines(meter);
	if (r < 0) {
		diag_error("meter: cannot apply the new [meter] uplinks: %s; the next reload "
			   "tries again",
			   strerror(-r));
		return;
	}
	if (config->n_meter_uplinks > 0)
		diag_notice("meter: uplinks now %zu interface(s), the first %s: local traffic is "
			    "counted apart",
			    config->n_meter_uplinks, config->meter_uplinks[0]);
	else
		usage_notes(config);
}

/* Whether this gateway's kernel counts the household: active, and on the
 * gateway the daemon started with. */
static bool counted_here(const struct meter *meter, const struct household *household)
{
	return household->status == HOUSEHOLD_ACTIVE &&
	       strcmp(household->gateway, meter->config->meter_gateway) == 0;
}

/* FNV-1a over what decides whether and where a household is counted. */
static uint64_t household_digest(const struct household *household)
{
	uint64_t digest = fnv1a(FNV1A_INIT, &household->status, sizeof(household->status));

	digest = fnv1a(digest, household->gateway, strlen(household->gateway) + 1);
	for (size_t i = 0; i < household->n_addresses; i++) {
		const struct cidr *address = &household->addresses[i];

		digest = fnv1a(digest, &address->family, sizeof(address->family));
		digest = fnv1a(digest, address->addr, sizeof(address->addr));
		digest = fnv1a(digest, &address->prefix_len, sizeof(address->prefix_len));
	}
	return digest;
}

/* The digest last applied for a household, or NULL. */
static struct household_digest *digest_find(const struct meter *meter, int64_t id)
{
	size_t low = 0, high = meter->n_digests;

	while (low < high) {
		size_t mid = low + (high - low) / 2;

		if (meter->digests[mid].id == id)
			return &meter->digests[mid];
		if (meter->digests[mid].id < id)
			low = mid + 1;
		else
			high = mid;
	}
	return NULL;
}

/* Keeps the digests of households, sorted by id as the store lists them. */
static int digests_keep(struct meter *meter, const struct household *households, size_t n)
{
	struct household_digest *digests = malloc((n ? n : 1) * sizeof(*digests));

	if (!digests)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		digests[i] = (struct household_digest){ households[i].id,
							household_digest(&households[i]) };
	free(meter->digests);
	meter->digests = digests;
	meter->n_digests = n;
	return 0;
}

/* Makes the kernel's tables match the households counted here. */
static int meter_reconcile(struct meter *meter)
{
	struct household *households = NULL;
	struct nft_household *wanted = NULL;
	size_t n = 0, n_wanted = 0, n_elsewhere = 0;
	int r;

	r = store_household_list(meter->store, &households, &n);
	if (r < 0)
		return r;
	wanted = calloc(n ? n : 1, sizeof(*wanted));
	if (!wanted) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (counted_here(meter, &households[i]))
			wanted[n_wanted++] = (struct nft_household){
				.id = households[i].id,
				.addresses = households[i].addresses,
				.n_addresses = households[i].n_addresses,
			};
		else if (households[i].status == HOUSEHOLD_ACTIVE)
			n_elsewhere++;
	}
	/* A gateway renamed in the configuration leaves its households on
	 * the old name: say what to do rather than meter nothing silently. */
	if (n_wanted == 0 && n_elsewhere > 0)
		diag_warning("meter: no active household is on gateway %s ([meter] gateway); %zu "
			     "are on other gateways, metered there: to meter one here, change its "
			     "\"gateway\" to %s",
			     meter->config->meter_gateway, n_elsewhere,
			     meter->config->meter_gateway);
	r = nft_reconcile(meter->nft, wanted, n_wanted);
	meter->sets_valid = false;
	if (r == 0)
		r = digests_keep(meter, households, n);
out:
	free(wanted);
	store_households_free(households, n);
	return r;
}

/* Applies the changes another gateway's daemon made to households since
 * the last poll: a household moved here or created here gets counters and
 * ranges, one moved away or closed loses its ranges now and its counters
 * once their last traffic is committed, as a change through this daemon's
 * API would. Only when the database cannot tell whether anything was
 * committed (PostgreSQL): SQLite's file has this daemon as its only
 * writer, whose changes are applied as they are made. The households are
 * listed only when their count of changes moved: read first, so that a
 * change committed meanwhile is in the list or moves it again. */
static int notice_changes(struct meter *meter)
{
	struct household *households = NULL;
	struct store_version version;
	int64_t changes;
	size_t n = 0;
	int r;

	store_version_get(meter->store, &version);
	if (version.known)
		return 0;
	r = store_household_changes(meter->store, &changes);
	if (r < 0 || (meter->changes_known && changes == meter->changes))
		return r;
	r = store_household_list(meter->store, &households, &n);
	for (size_t i = 0; r == 0 && i < n; i++) {
		const struct household_digest *known = digest_find(meter, households[i].id);

		if (known ? known->digest != household_digest(&households[i])
			  : counted_here(meter, &households[i]))
			r = meter_household_apply(meter, &households[i]);
	}
	if (r == 0)
		r = digests_keep(meter, households, n);
	if (r == 0) {
		meter->changes_known = true;
		meter->changes = changes;
	}
	store_households_free(households, n);
	return r;
}

static int id_compare(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static bool id_found(const int64_t *ids, size_t n, int64_t id)
{
	return n > 0 && bsearch(&id, ids, n, sizeof(*ids), id_compare) != NULL;
}

/* Spreads each delta over the buckets its interval covers, as rows sorted by
 * (bucket, household): the usage table's key order, which SQLite inserts
 * fastest. */
static int usage_rows_build(const struct meter_accounting *accounting, int64_t start_ms,
			    int64_t end_ms, unsigned bucket_s, struct store_usage_row **ret_rows,
			    size_t *ret_n_rows)
{
	struct meter_share up[METER_SPLIT_MAX], down[METER_SPLIT_MAX];
	struct meter_share local_up[METER_SPLIT_MAX], local_down[METER_SPLIT_MAX];
	/* Every delta spans the same buckets: as many as a split of nothing. */
	size_t n_buckets = meter_split(0, start_ms, end_ms, bucket_s, up, METER_SPLIT_MAX);
	struct store_usage_row *rows;
	size_t n = 0;

	rows = malloc((accounting->n_deltas * n_buckets + 1) * sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	for (size_t i = 0; i < accounting->n_deltas; i++) {
		const struct meter_delta *d = &accounting->deltas[i];
		size_t n_up =
			meter_split(d->bytes_up, start_ms, end_ms, bucket_s, up, METER_SPLIT_MAX);
		size_t n_down = meter_split(d->bytes_down, start_ms, end_ms, bucket_s, down,
					    METER_SPLIT_MAX);
		size_t n_local_up = meter_split(d->local_up, start_ms, end_ms, bucket_s, local_up,
						METER_SPLIT_MAX);
		size_t n_local_down = meter_split(d->local_down, start_ms, end_ms, bucket_s,
						  local_down, METER_SPLIT_MAX);

		/* All four splits cover the same buckets in the same order. */
		for (size_t j = 0; j < n_up && j < n_down && j < n_local_up && j < n_local_down;
		     j++) {
			if (up[j].bytes == 0 && down[j].bytes == 0 && local_up[j].bytes == 0 &&
			    local_down[j].bytes == 0)
				continue;
			rows[n++] = (struct store_usage_row){
				.start = up[j].bucket_start,
				.household_id = d->household_id,
				.bytes_up = up[j].bytes,
				.bytes_down = down[j].bytes,
				.local_up = local_up[j].bytes,
				.local_down = local_down[j].bytes,
			};
		}
	}
	qsort(rows, n, sizeof(*rows), store_usage_row_compare);
	*ret_rows = rows;
	*ret_n_rows = n;
	return 0;
}

static int baseline_compare(const struct store_baseline *a, const struct store_baseline *b)
{
	if (a->household_id != b->household_id)
		return a->household_id < b->household_id ? -1 : 1;
	if (a->scope != b->scope)
		return a->scope - b->scope;
	return a->direction - b->direction;
}

/* The baselines after a commit: those just read, and the earlier ones of
 * counters not read this time, except those of retired households. */
static int baselines_merge(const struct store_baseline *old, size_t n_old,
			   const struct store_baseline *read, size_t n_read, const int64_t *retired,
			   size_t n_retired, struct store_baseline **ret, size_t *ret_n)
{
	struct store_baseline *merged = malloc((n_old + n_read + 1) * sizeof(*merged));
	size_t i = 0, j = 0, n = 0;

	if (!merged)
		return -ENOMEM;
	while (i < n_old || j < n_read) {
		int order = i == n_old ? 1 : j == n_read ? -1 : baseline_compare(&old[i], &read[j]);

		if (order < 0) {
			if (!id_found(retired, n_retired, old[i].household_id))
				merged[n++] = old[i];
			i++;
		} else {
			merged[n++] = read[j++];
			i += order == 0;
		}
	}
	*ret = merged;
	*ret_n = n;
	return 0;
}

static const struct store_baseline *baseline_cached(const struct meter *meter,
						    const struct store_baseline *key)
{
	size_t low = 0, high = meter->n_baselines;

	while (low < high) {
		size_t mid = low + (high - low) / 2;
		int order = baseline_compare(&meter->baselines[mid], key);

		if (order == 0)
			return &meter->baselines[mid];
		if (order < 0)
			low = mid + 1;
		else
			high = mid;
	}
	return NULL;
}

static bool baseline_changed(const struct meter *meter, const struct store_baseline *now)
{
	const struct store_baseline *before = baseline_cached(meter, now);

	return !before || before->handle != now->handle || before->bytes != now->bytes;
}

/* One transaction: gaps, usage, changed baselines, retired baselines, the
 * hourly roll-up and the pruning of old buckets. */
static int poll_commit(struct meter *meter, const struct meter_accounting *accounting,
		       const int64_t *retired, size_t n_retired, int64_t start_ms, int64_t end_ms)
{
	const struct config *config = meter->config;
	int64_t now_s = end_ms / 1000, watermark;
	struct store_baseline_update *updates = NULL;
	struct store_gap *gaps = NULL;
	struct store_usage_row *rows = NULL;
	size_t n_rows = 0, n_updates = 0;
	bool logged = false;
	int r;

	r = usage_rows_build(accounting, start_ms, end_ms, config->meter_bucket_s, &rows, &n_rows);
	if (r < 0)
		return r;
	r = store_begin(meter->store);
	if (r < 0)
		goto out;
	r = store_usage_watermark(meter->store, &watermark);
	gaps = calloc(accounting->n_gaps + 1, sizeof(*gaps));
	if (!gaps)
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < accounting->n_gaps; i++) {
		const struct meter_gap *gap = &accounting->gaps[i];

		gaps[i] = (struct store_gap){
			.household_id = gap->household_id,
			.scope = (int)gap->scope,
			.direction = (int)gap->direction,
			.since = meter->status.last_poll_at,
			.at = now_s,
			.bytes_before = gap->bytes_before,
			.bytes_after = gap->bytes_after,
		};
		strcpy(gaps[i].reason, gap->recreated ? "counter-recreated" : "counter-reset");
	}
	/* Members see gaps in the transparency log too. A log that does not
	 * verify must not stop the metering: its gaps wait for the next start
	 * that finds the log sound, which logs them then. */
	if (r == 0 && accounting->n_gaps > 0 && meter->gaps_log) {
		r = meter->gaps_log(meter->gaps_log_context, gaps, accounting->n_gaps);
		logged = r == 1;
		r = r < 0 ? r : 0;
	}
	for (size_t i = 0; r == 0 && i < accounting->n_gaps; i++)
		r = store_gap_insert(meter->store, &gaps[i], logged);
	if (r == 0)
		r = store_usage_add_rows(meter->store, watermark, rows, n_rows);
	/* Baselines come sorted by household: one row per household. */
	updates = calloc(accounting->n_baselines + 1, sizeof(*updates));
	if (!updates && r == 0)
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < accounting->n_baselines;) {
		const struct store_baseline *now = &accounting->baselines[i];
		struct store_baseline_update update = { .household_id = now->household_id };
		bool changed = false;

		for (; i < accounting->n_baselines &&
		       accounting->baselines[i].household_id == update.household_id;
		     i++) {
			now = &accounting->baselines[i];
			if (!baseline_changed(meter, now))
				continue;
			changed = true;
			if (now->scope == 1)
				*(now->direction == 0 ? &update.local_up : &update.local_down) =
					now;
			else
				*(now->direction == 0 ? &update.up : &update.down) = now;
		}
		if (changed)
			updates[n_updates++] = update;
	}
	if (r == 0)
		r = store_baselines_put(meter->store, updates, n_updates);
	for (size_t i = 0; r == 0 && i < n_retired; i++)
		r = store_baselines_delete(meter->store, retired[i]);
	if (r == 0)
		r = store_usage_rollup(meter->store, now_s - now_s % 3600);
	if (r == 0)
		r = store_usage_prune(meter->store,
				      now_s - (int64_t)config->meter_keep_buckets_days * 86400);
	if (r == 0)
		r = store_commit(meter->store);
	if (r < 0)
		store_rollback(meter->store);
out:
	free(updates);
	free(gaps);
	free(rows);
	return r;
}

/* One line for all the gaps of a poll: a recreated table resets every
 * counter at once. */
static void log_gaps(const struct meter_accounting *accounting)
{
	const struct meter_gap *first = &accounting->gaps[0];
	size_t recreated = 0;

	for (size_t i = 0; i < accounting->n_gaps; i++)
		recreated += accounting->gaps[i].recreated;
	diag_warning("meter: %zu counters were reset and %zu recreated (the first: household %lld "
		     "%s %s, %llu bytes before, %llu now); the traffic since the last read on them "
		     "is unknown and recorded as gaps",
		     accounting->n_gaps - recreated, recreated, (long long)first->household_id,
		     first->scope == NFT_LOCAL ? "local" : "internet",
		     first->direction == NFT_UP ? "upload" : "download",
		     (unsigned long long)first->bytes_before,
		     (unsigned long long)first->bytes_after);
}

static void household_sets_clear(struct household_sets *sets)
{
	free(sets->active);
	free(sets->closed);
	free(sets->known);
	*sets = (struct household_sets){ 0 };
}

/* The households counted here, and the others: closed, or moved to another
 * gateway, whose counters are drained and removed. */
static int household_sets_load(struct store *store, const char *gateway, struct household_sets *ret)
{
	struct household_sets sets = { 0 };
	int r;

	r = store_household_ids(store, gateway, &sets.active, &sets.n_active, &sets.closed,
				&sets.n_closed);
	if (r < 0)
		return r;
	sets.known = malloc((sets.n_active + sets.n_closed + 1) * sizeof(int64_t));
	if (!sets.known) {
		household_sets_clear(&sets);
		return -ENOMEM;
	}
	if (sets.n_active)
		memcpy(sets.known, sets.active, sets.n_active * sizeof(int64_t));
	if (sets.n_closed)
		memcpy(sets.known + sets.n_active, sets.closed, sets.n_closed * sizeof(int64_t));
	sets.n_known = sets.n_active + sets.n_closed;
	qsort(sets.known, sets.n_known, sizeof(int64_t), id_compare);
	*ret = sets;
	return 0;
}

static bool counter_read_for(const struct meter_accounting *accounting, int64_t household_id)
{
	size_t low = 0, high = accounting->n_baselines;

	/* The baselines of what was read are sorted by household. */
	while (low < high) {
		size_t mid = low + (high - low) / 2;

		if (accounting->baselines[mid].household_id == household_id)
			return true;
		if (accounting->baselines[mid].household_id < household_id)
			low = mid + 1;
		else
			high = mid;
	}
	return false;
}

/* settled: no household changed while the counters were read. */
static int commit_reading(struct meter *meter, const struct nft_counter *counters,
			  size_t n_counters, bool settled)
{
	struct meter_accounting accounting = { 0 };
	struct household_sets *sets = &meter->sets;
	struct store_baseline *merged = NULL;
	int64_t *retired = NULL, *drained = NULL;
	size_t n_retired = 0, n_drained = 0, n_merged;
	uint64_t t_start = uv_hrtime(), now_mono = mono_ms();
	int64_t end_ms, start_ms;
	int r;

	if (meter->baselines_unsure) {
		r = store_baselines_load(meter->store, &merged, &n_merged);
		if (r < 0)
			goto out;
		free(meter->baselines);
		meter->baselines = merged;
		meter->n_baselines = n_merged;
		merged = NULL;
		meter->baselines_unsure = false;
	}
	if (!meter->sets_valid) {
		household_sets_clear(sets);
		r = household_sets_load(meter->store, meter->config->meter_gateway, sets);
		if (r < 0)
			goto out;
		meter->sets_valid = true;
	}
	r = meter_account(counters, n_counters, meter->baselines, meter->n_baselines, sets->known,
			  sets->n_known, &accounting);
	if (r < 0)
		goto out;
	retired = calloc(sets->n_closed + 1, sizeof(*retired));
	drained = calloc(sets->n_closed + 1, sizeof(*drained));
	if (!retired || !drained) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < sets->n_closed; i++) {
		bool cached = false;

		for (int kind = 0; kind < 4 && !cached; kind++) {
			struct store_baseline key = { .household_id = sets->closed[i],
						      .scope = kind / 2,
						      .direction = kind % 2 };

			cached = baseline_cached(meter, &key) != NULL;
		}

		/* A household that changed during an unsettled read may have
		 * closed after its counters were read: they stay until a read
		 * that follows the change is committed. */
		if (counter_read_for(&accounting, sets->closed[i])) {
			if (settled)
				drained[n_drained++] = sets->closed[i];
		} else if (cached)
			retired[n_retired++] = sets->closed[i];
	}

	end_ms = wall_ms();
	start_ms = meter->have_last_commit
			   ? end_ms - (int64_t)(now_mono - meter->last_commit_mono_ms)
			   : end_ms;
	r = poll_commit(meter, &accounting, retired, n_retired, start_ms, end_ms);
	meter->baselines_unsure = r == -ENOTCONN;
	if (r < 0)
		goto out;
	r = baselines_merge(meter->baselines, meter->n_baselines, accounting.baselines,
			    accounting.n_baselines, retired, n_retired, &merged, &n_merged);
	if (r < 0)
		goto out;
	free(meter->baselines);
	meter->baselines = merged;
	meter->n_baselines = n_merged;
	/* Closed households' counters go once their last traffic is committed;
	 * their baselines follow on the next poll that no longer reads them. */
	for (size_t i = 0; i < n_drained; i++)
		if (nft_household_remove(meter->nft, drained[i]) < 0)
			diag_warning("meter: cannot remove the counters of closed household %lld; "
				     "will retry",
				     (long long)drained[i]);

	meter->have_last_commit = true;
	meter->last_commit_mono_ms = now_mono;
	meter->status.last_poll_at = end_ms / 1000;
	meter->status.last_commit_duration_us = (uv_hrtime() - t_start) / 1000;
	meter->status.counters_read = n_counters;
	meter->status.polls_total++;
	meter->status.gaps_total += accounting.n_gaps;
	if (accounting.n_gaps > 0)
		log_gaps(&accounting);
out:
	meter_accounting_clear(&accounting);
	free(retired);
	free(drained);
	return r;
}

int meter_commit_reading(struct meter *meter, const struct nft_counter *counters, size_t n_counters)
{
	return commit_reading(meter, counters, n_counters, true);
}

/* Reads the counters, recreating the table when it is gone. */
static int poll_read(struct meter *meter, struct nft_counter **ret_counters, size_t *ret_n)
{
	bool missing = false;
	int r;

	r = nft_read_counters(meter->nft, ret_counters, ret_n, &missing);
	if (r < 0 || !missing)
		return r;
	free(*ret_counters);
	diag_warning("meter: table %s is missing; recreating it (traffic since the last read is "
		     "recorded as a gap)",
		     meter->config->meter_table);
	r = meter_reconcile(meter);
	if (r < 0)
		return r;
	return nft_read_counters(meter->nft, ret_counters, ret_n, &missing);
}

/* The loop's half of a poll, given the counters read (freed here): the
 * clock, then the accounting and the commit. */
static int poll_finish(struct meter *meter, struct nft_counter *counters, size_t n_counters,
		       bool offload, uint64_t t_start, uint64_t read_us, bool settled)
{
	int r;

	meter->last_read_mono_ms = mono_ms();
	if (!meter->clock_sane) {
		bool wait = meter->config->meter_wait_for_ntp;

		/* Once sane, the clock stays trusted: a box that lost NTP keeps
		 * a clock that was right. */
		meter->clock_sane = meter_clock_sane(time(NULL), COOPBILL_BUILD_TIME, wait,
						     wait && meter_clock_ntp_synchronised());
	}
	if (!meter->clock_sane) {
		/* The kernel's counters hold the traffic until then. */
		meter->have_last_commit = false;
		meter->status.state = METER_WAITING_FOR_CLOCK;
		meter->status.counters_read = n_counters;
		free(counters);
		return 0;
	}
	r = commit_reading(meter, counters, n_counters, settled);
	free(counters);
	if (r < 0)
		return r;
	meter->status.state = offload ? METER_DEGRADED : METER_OK;
	meter->status.last_read_duration_us = read_us;
	meter->status.last_poll_duration_us = (uv_hrtime() - t_start) / 1000;
	return 0;
}

/* A whole poll on the loop. */
static int poll_once(struct meter *meter)
{
	struct nft_counter *counters = NULL;
	uint64_t t_start = uv_hrtime(), read_us;
	bool offload = false;
	size_t n_counters = 0;
	int r;

	r = poll_read(meter, &counters, &n_counters);
	if (r < 0)
		return r;
	read_us = (uv_hrtime() - t_start) / 1000;
	if (nft_flowtable_present(meter->nft, &offload) < 0)
		offload = false;
	return poll_finish(meter, counters, n_counters, offload, t_start, read_us, true);
}

/* Counts a failed poll in the status; returns r. */
static int poll_result(struct meter *meter, int r)
{
	if (r < 0) {
		meter->status.state = METER_FAILING;
		meter->status.poll_failures_total++;
		meter->status.last_error = r;
	}
	return r;
}

int meter_poll(struct meter *meter)
{
	return meter->nft ? poll_result(meter, poll_once(meter)) : 0;
}

static void log_poll_failure(int r)
{
	diag_error("meter: poll failed: %s; the kernel keeps counting, the next poll catches up",
		   strerror(-r));
}

static void poll_work_free(struct poll_work *work)
{
	free(work->counters);
	free(work);
}

/* On a worker thread: touches nothing but the work and its reader. */
static void read_on_worker(uv_work_t *req)
{
	struct poll_work *work = req->data;

	work->result = nft_read_counters(work->reader, &work->counters, &work->n_counters,
					 &work->table_missing);
	work->read_us = (uv_hrtime() - work->t_start) / 1000;
	if (work->result == 0 && nft_flowtable_present(work->reader, &work->offload) < 0)
		work->offload = false;
}

static void close_now(struct meter *meter);

static void read_finish(void *data)
{
	struct poll_work *work = data;
	struct meter *meter = work->meter;
	int r = work->status < 0 ? work->status : work->result;

	meter->work = NULL;
	if (meter->closing) {
		/* The last poll reads afresh. */
		poll_work_free(work);
		close_now(meter);
		return;
	}
	if (r == 0 && work->table_missing) {
		/* Recreating the table is the loop's work, and so is this poll. */
		r = poll_once(meter);
	} else if (r == 0) {
		r = poll_finish(meter, work->counters, work->n_counters, work->offload,
				work->t_start, work->read_us,
				meter->household_changes == work->changes);
		work->counters = NULL;
	}
	poll_work_free(work);
	if (poll_result(meter, r) < 0)
		log_poll_failure(r);
	if (meter->uplinks_pending)
		apply_uplinks(meter);
}

static void read_done(uv_work_t *req, int status)
{
	struct poll_work *work = req->data;

	work->status = status;
	/* Until it has ended, meter->work keeps the next tick from starting
	 * another poll. */
	store_work(work->meter->store, true, read_finish, NULL, work);
}

/* Starts a poll whose read runs on a worker thread, with the meter's reader
 * brought in step with the households of now. */
static int poll_start(struct meter *meter)
{
	struct poll_work *work = calloc(1, sizeof(*work));
	int r;

	if (!work)
		return -ENOMEM;
	work->meter = meter;
	work->work.data = work;
	work->t_start = uv_hrtime();
	r = notice_changes(meter);
	work->changes = meter->household_changes;
	if (r == 0)
		r = nft_reader_sync(meter->nft, &meter->reader);
	work->reader = meter->reader;
	if (r == 0)
		r = uv_queue_work(meter->loop, &work->work, read_on_worker, read_done);
	if (r < 0) {
		poll_work_free(work);
		return r;
	}
	meter->work = work;
	return 0;
}

int meter_poll_start(struct meter *meter)
{
	/* A read that outlasts the interval: nothing more to start. */
	if (!meter->nft || meter->work || meter->closing)
		return 0;
	return poll_result(meter, poll_start(meter));
}

static void tick(void *data)
{
	struct meter *meter = data;

	if (meter_poll_start(meter) < 0)
		log_poll_failure(meter->status.last_error);
}

static void tick_done(void *data)
{
	((struct meter *)data)->ticking = false;
}

static void on_timer(uv_timer_t *timer)
{
	struct meter *meter = timer->data;

	/* A tick still waiting for the database starts the poll. */
	if (!meter->ticking)
		meter->ticking = store_work(meter->store, true, tick, tick_done, meter);
}

int meter_start(struct meter *meter)
{
	const struct config *config = meter->config;
	bool missing;
	struct nft_counter *counters;
	size_t n;
	int r;

	if (!config->meter_enabled)
		return 0;
	r = nft_open(config->meter_table, &meter->nft);
	if (r < 0)
		return r;
	r = nft_set_uplinks(meter->nft, (const char *const *)config->meter_uplinks,
			    config->n_meter_uplinks);
	if (r < 0)
		return r;
	usage_notes(config);
	r = store_baselines_load(meter->store, &meter->baselines, &meter->n_baselines);
	if (r < 0)
		return r;
	/* Commit what the counters hold before reconciling, which removes the
	 * counters of households closed while the daemon was down. */
	r = nft_read_counters(meter->nft, &counters, &n, &missing);
	if (r < 0)
		return r;
	free(counters);
	if (!missing) {
		r = meter_poll(meter);
		if (r < 0)
			return r;
	}
	r = meter_reconcile(meter);
	if (r < 0)
		return r;
	r = forget_local_baselines(meter);
	if (r < 0)
		return r;
	r = meter_poll(meter);
	if (r < 0)
		return r;
	uv_timer_start(&meter->timer, on_timer, (uint64_t)config->meter_interval_s * 1000,
		       (uint64_t)config->meter_interval_s * 1000);
	meter->timer_started = true;
	return 0;
}

int meter_household_apply(struct meter *meter, const struct household *household)
{
	struct nft_household wanted = { .id = household->id };
	struct household_digest *known = digest_find(meter, household->id);

	if (!meter->nft)
		return 0;
	/* Applied: the next poll finds nothing to do for it. One that is new
	 * since the last poll is applied once more then, which changes
	 * nothing. */
	if (known)
		known->digest = household_digest(household);
	meter->sets_valid = false;
	meter->household_changes++;
	if (counted_here(meter, household)) {
		wanted.addresses = household->addresses;
		wanted.n_addresses = household->n_addresses;
	}
	return nft_household_set(meter->nft, &wanted);
}

int meter_resync(struct meter *meter)
{
	if (!meter->nft)
		return 0;
	meter->household_changes++;
	return meter_reconcile(meter);
}

void meter_status_get(const struct meter *meter, struct meter_status *ret_status)
{
	*ret_status = meter->status;
}

bool meter_alive(const struct meter *meter)
{
	uint64_t interval_ms = (uint64_t)meter->config->meter_interval_s * 1000;

	if (!meter->nft)
		return true;
	return mono_ms() - meter->last_read_mono_ms <= 3 * interval_ms;
}

static void on_timer_closed(uv_handle_t *handle)
{
	struct meter *meter = handle->data;

	if (meter->on_closed)
		meter->on_closed(meter->on_closed_data);
	nft_free(meter->nft);
	nft_free(meter->reader);
	free(meter->baselines);
	free(meter->digests);
	household_sets_clear(&meter->sets);
	free(meter);
}

static void close_now(struct meter *meter)
{
	if (meter->nft && meter_poll(meter) < 0)
		diag_error("meter: the last poll failed: %s; the kernel keeps the counts for "
			   "the next start",
			   strerror(-meter->status.last_error));
	uv_close((uv_handle_t *)&meter->timer, on_timer_closed);
}

void meter_close(struct meter *meter, void (*on_closed)(void *data), void *data)
{
	meter->on_closed = on_closed;
	meter->on_closed_data = data;
	uv_timer_stop(&meter->timer);
	/* A read still running on a worker thread finishes first. */
	if (meter->work) {
		meter->closing = true;
		return;
	}
	close_now(meter);
}
