/* Accounting, pure: counter values against baselines, bytes over buckets,
 * and whether the wall clock can be trusted yet. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "coopbill/meter.h"

static int counter_compare(const void *a, const void *b)
{
	const struct nft_counter *x = a, *y = b;

	if (x->household_id != y->household_id)
		return x->household_id < y->household_id ? -1 : 1;
	if (x->scope != y->scope)
		return (int)x->scope - (int)y->scope;
	return (int)x->direction - (int)y->direction;
}

/* A baseline against a counter, in the same order. */
static int baseline_order(const struct store_baseline *b, const struct nft_counter *c)
{
	if (b->household_id != c->household_id)
		return b->household_id < c->household_id ? -1 : 1;
	if (b->scope != (int)c->scope)
		return b->scope - (int)c->scope;
	return b->direction - (int)c->direction;
}

/* Both the counters and the baselines are in (household, scope, direction) order:
 * a cursor that only moves forward finds each counter's baseline. */
static const struct store_baseline *baseline_next(const struct store_baseline *baselines,
						  size_t n_baselines, size_t *cursor,
						  const struct nft_counter *c)
{
	while (*cursor < n_baselines) {
		const struct store_baseline *b = &baselines[*cursor];
		int order = baseline_order(b, c);

		if (order > 0)
			return NULL;
		(*cursor)++;
		if (order == 0)
			return b;
	}
	return NULL;
}

/* The same for the sorted known ids. */
static bool id_next(const int64_t *ids, size_t n_ids, size_t *cursor, int64_t id)
{
	while (*cursor < n_ids && ids[*cursor] < id)
		(*cursor)++;
	return *cursor < n_ids && ids[*cursor] == id;
}

static bool counters_sorted(const struct nft_counter *counters, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (counter_compare(&counters[i - 1], &counters[i]) > 0)
			return false;
	return true;
}

void meter_accounting_clear(struct meter_accounting *accounting)
{
	free(accounting->deltas);
	free(accounting->baselines);
	free(accounting->gaps);
	*accounting = (struct meter_accounting){ 0 };
}

int meter_account(const struct nft_counter *counters, size_t n_counters,
		  const struct store_baseline *baselines, size_t n_baselines,
		  const int64_t *known_ids, size_t n_known_ids, struct meter_accounting *ret)
{
	struct meter_accounting out = { 0 };
	struct nft_counter *sorted;
	int r = 0;

	sorted = malloc((n_counters ? n_counters : 1) * sizeof(*sorted));
	out.deltas = calloc(n_counters ? n_counters : 1, sizeof(*out.deltas));
	out.baselines = calloc(n_counters ? n_counters : 1, sizeof(*out.baselines));
	out.gaps = calloc(n_counters ? n_counters : 1, sizeof(*out.gaps));
	if (!sorted || !out.deltas || !out.baselines || !out.gaps) {
		r = -ENOMEM;
		goto out;
	}
	if (n_counters)
		memcpy(sorted, counters, n_counters * sizeof(*sorted));
	/* A split read gives them in order already. */
	if (!counters_sorted(sorted, n_counters))
		qsort(sorted, n_counters, sizeof(*sorted), counter_compare);

	for (size_t i = 0, known = 0, baseline = 0; i < n_counters; i++) {
		const struct nft_counter *c = &sorted[i];
		const struct store_baseline *before;
		uint64_t delta;

		if (!id_next(known_ids, n_known_ids, &known, c->household_id))
			continue;
		if (i > 0 && counter_compare(c, &sorted[i - 1]) == 0) {
			/* Two counters for one household, scope and direction: the
			 * kernel state is not what the daemon made. */
			r = -EPROTO;
			goto out;
		}
		before = baseline_next(baselines, n_baselines, &baseline, c);
		if (!before) {
			delta = c->bytes;
		} else if (before->handle == c->handle && c->bytes >= before->bytes) {
			delta = c->bytes - before->bytes;
		} else {
			delta = c->bytes;
			out.gaps[out.n_gaps++] = (struct meter_gap){
				.household_id = c->household_id,
				.scope = c->scope,
				.direction = c->direction,
				.recreated = before->handle != c->handle,
				.bytes_before = before->bytes,
				.bytes_after = c->bytes,
			};
		}

		out.baselines[out.n_baselines++] = (struct store_baseline){
			.household_id = c->household_id,
			.scope = (int)c->scope,
			.direction = (int)c->direction,
			.handle = c->handle,
			.bytes = c->bytes,
		};
		if (delta == 0)
			continue;
		if (out.n_deltas == 0 ||
		    out.deltas[out.n_deltas - 1].household_id != c->household_id)
			out.deltas[out.n_deltas++].household_id = c->household_id;
		if (c->scope == NFT_LOCAL && c->direction == NFT_UP)
			out.deltas[out.n_deltas - 1].local_up = delta;
		else if (c->scope == NFT_LOCAL)
			out.deltas[out.n_deltas - 1].local_down = delta;
		else if (c->direction == NFT_UP)
			out.deltas[out.n_deltas - 1].bytes_up = delta;
		else
			out.deltas[out.n_deltas - 1].bytes_down = delta;
	}
out:
	free(sorted);
	if (r < 0) {
		meter_accounting_clear(&out);
		return r;
	}
	*ret = out;
	return 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

size_t meter_split(uint64_t bytes, int64_t start_ms, int64_t end_ms, unsigned bucket_s,
		   struct meter_share *ret_shares, size_t max_shares)
{
	int64_t bucket_ms = (int64_t)bucket_s * 1000;
	uint64_t remainders[METER_SPLIT_MAX];
	uint64_t duration, assigned = 0;
	int64_t first, last;
	size_t n = 0;

	if (max_shares > METER_SPLIT_MAX)
		max_shares = METER_SPLIT_MAX;
	if (max_shares == 0)
		return 0;
	last = floor_div(end_ms, bucket_ms);
	if (end_ms <= start_ms) {
		ret_shares[0] = (struct meter_share){ .bucket_start = last * (int64_t)bucket_s,
						      .bytes = bytes };
		return 1;
	}
	/* The last instant of [start, end) lies in the bucket of end - 1. */
	last = floor_div(end_ms - 1, bucket_ms);
	first = floor_div(start_ms, bucket_ms);
	if (last - first + 1 > (int64_t)max_shares) {
		first = last - (int64_t)max_shares + 1;
		start_ms = first * bucket_ms;
	}
	duration = (uint64_t)(end_ms - start_ms);

	for (int64_t b = first; b <= last; b++) {
		int64_t lo = b * bucket_ms > start_ms ? b * bucket_ms : start_ms;
		int64_t hi = (b + 1) * bucket_ms < end_ms ? (b + 1) * bucket_ms : end_ms;
		unsigned __int128 product = (unsigned __int128)bytes * (uint64_t)(hi - lo);

		ret_shares[n] = (struct meter_share){ .bucket_start = b * (int64_t)bucket_s,
						      .bytes = (uint64_t)(product / duration) };
		remainders[n] = (uint64_t)(product % duration);
		assigned += ret_shares[n].bytes;
		n++;
	}
	/* Largest remainder: the leftover, fewer than n bytes, one each. */
	for (uint64_t left = bytes - assigned; left > 0; left--) {
		size_t best = 0;

		for (size_t i = 1; i < n; i++)
			if (remainders[i] > remainders[best])
				best = i;
		ret_shares[best].bytes++;
		remainders[best] = 0;
	}
	return n;
}

bool meter_clock_sane(int64_t now_s, int64_t build_time_s, bool wait_for_ntp, bool ntp_synchronised)
{
	return now_s > build_time_s && (!wait_for_ntp || ntp_synchronised);
}
