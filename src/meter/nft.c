/* The kernel side of metering: makes the daemon's nftables table match the
 * households (reconcile, set, remove), each change one atomic netlink batch,
 * and reads the counters' absolute values. The pieces live beside it:
 * nft-netlink.c, nft-ruleset.c, nft-elements.c, nft-counters.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <unistd.h>

#include "coopbill/nft.h"
#include "nft-internal.h"

/* Reconcile reads, then writes in a batch bound to the generation it read;
 * a ruleset change in between makes it read again. */
#define NFT_RECONCILE_ATTEMPTS 4
/* From this many counters on, with two CPUs or more, a poll splits the read:
 * a dump from the start of the object list while it is cheap, and pipelined
 * GETs from the end on another CPU (nft_counters_split_read()). */
#define NFT_SPLIT_MIN_COUNTERS 4096

static bool prefix_valid(const char *prefix)
{
	size_t len = prefix ? strlen(prefix) : 0;

	if (len == 0 || len > NFT_TABLE_PREFIX_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = prefix[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

int nft_open(const char *table_prefix, struct nft **ret_nft)
{
	struct nft *nft;
	int r;

	if (!prefix_valid(table_prefix))
		return -EINVAL;
	nft = calloc(1, sizeof(*nft));
	if (!nft)
		return -ENOMEM;
	strcpy(nft->table, table_prefix);
	r = nft_nl_open(nft);
	if (r < 0)
		goto out;
	*ret_nft = nft;
	nft = NULL;
out:
	nft_free(nft);
	return r;
}

int nft_set_uplinks(struct nft *nft, const char *const *names, size_t n_names)
{
	if (n_names > NFT_UPLINKS_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n_names; i++) {
		size_t len = strlen(names[i]);

		if (len == 0 || len > NFT_IFNAME_MAX)
			return -EINVAL;
	}
	for (size_t i = 0; i < n_names; i++) {
		memset(nft->uplinks[i], 0, sizeof(nft->uplinks[i]));
		memcpy(nft->uplinks[i], names[i], strlen(names[i]));
	}
	nft->n_uplinks = n_names;
	return 0;
}

int nft_reader_sync(const struct nft *nft, struct nft **reader)
{
	size_t n = nft->model.n_entries;
	struct nft_model *model;
	int r;

	if (!*reader) {
		r = nft_open(nft->table, reader);
		if (r < 0)
			return r;
	}
	/* A read needs the ids only; the ranges stay with nft. */
	model = &(*reader)->model;
	if (model->cap < n + 1) {
		struct nft_entry *grown = realloc(model->entries, (n + 1) * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		model->entries = grown;
		model->cap = n + 1;
	}
	for (size_t i = 0; i < n; i++)
		model->entries[i] = (struct nft_entry){ .id = nft->model.entries[i].id };
	model->n_entries = n;
	model->valid = nft->model.valid;
	memcpy((*reader)->uplinks, nft->uplinks, sizeof(nft->uplinks));
	(*reader)->n_uplinks = nft->n_uplinks;
	return 0;
}

void nft_free(struct nft *nft)
{
	if (!nft)
		return;
	nft_nl_close(nft);
	nft_model_clear(&nft->model);
	free(nft);
}

static bool object_wanted(const struct nft_object *obj, const struct nft_model *want,
			  unsigned kinds)
{
	return obj->ours && obj->kind < kinds && nft_model_find(want, obj->id);
}

/* present[kinds * i + kind]: whether the counter of want's entry i exists. */
static void mark_present(bool *present, const struct nft_model *want, unsigned kinds, int64_t id,
			 unsigned kind)
{
	const struct nft_entry *entry = nft_model_find(want, id);

	if (entry && kind < kinds)
		present[kinds * (size_t)(entry - want->entries) + kind] = true;
}

/* The table's objects: the unwanted ones, to delete, and which wanted
 * counters exist. */
struct inventory {
	struct nft_object *unwanted;
	size_t n_unwanted;
	bool *present;
};

static void inventory_clear(struct inventory *inv)
{
	free(inv->unwanted);
	free(inv->present);
	*inv = (struct inventory){ 0 };
}

static int inventory_dump(struct nft *nft, const struct nft_model *want, struct inventory *inv)
{
	struct nft_object *objects = NULL;
	size_t n_objects = 0;
	int r;

	/* Every object in the table: whatever is not a wanted counter goes. */
	r = nft_objects_dump(nft, 0, &objects, &n_objects);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n_objects; i++) {
		if (object_wanted(&objects[i], want, nft_kinds(nft)))
			mark_present(inv->present, want, nft_kinds(nft), objects[i].id,
				     objects[i].kind);
		else
			objects[inv->n_unwanted++] = objects[i];
	}
	inv->unwanted = objects;
	return 0;
}

/* The object dump costs O(n^2) in the kernel (see NFT_DUMP_MAX_COUNTERS).
 * For a large table, ask for the wanted counters one by one instead: when
 * they are all the objects the kernel counts in the table (its use count,
 * less chains and named sets), nothing else is there and no dump is needed. */
static int inventory_take(struct nft *nft, const struct nft_plan *plan,
			  const struct nft_model *want, struct inventory *inv)
{
	uint32_t others = plan->n_chains + plan->n_sets;
	unsigned kinds = nft_kinds(nft);
	struct nft_counter *found = NULL;
	size_t n_found = 0;
	int r;

	inv->present = calloc(kinds * want->n_entries + 1, sizeof(*inv->present));
	if (!inv->present)
		return -ENOMEM;
	if (!plan->table_exists)
		return 0;
	if (plan->table_use < others || plan->table_use - others <= NFT_DUMP_MAX_COUNTERS)
		return inventory_dump(nft, want, inv);
	r = nft_counters_get(nft, want->entries, want->n_entries, &found, &n_found);
	if (r < 0)
		return r;
	if (n_found != plan->table_use - others) {
		free(found);
		memset(inv->present, 0, (kinds * want->n_entries + 1) * sizeof(*inv->present));
		return inventory_dump(nft, want, inv);
	}
	for (size_t i = 0; i < n_found; i++)
		mark_present(inv->present, want, kinds, found[i].household_id,
			     NFT_KIND(found[i].scope, found[i].direction));
	free(found);
	return 0;
}

static int put_counters(struct nft_batch *batch, const char *table, unsigned kinds,
			const struct inventory *inv, const struct nft_model *want)
{
	int r;

	for (size_t i = 0; i < inv->n_unwanted; i++) {
		r = nft_object_delete(batch, table, inv->unwanted[i].type, inv->unwanted[i].handle);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < want->n_entries; i++) {
		for (unsigned kind = 0; kind < kinds; kind++) {
			if (inv->present[kinds * i + kind])
				continue;
			r = nft_counter_add(batch, table, want->entries[i].id, kind);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* One attempt: read the kernel's state, then write one batch. */
static int reconcile_once(struct nft *nft, const struct nft_model *want)
{
	struct inventory inv = { 0 };
	struct nft_batch *batch = NULL;
	struct nft_plan plan = { 0 };
	uint32_t genid;
	int r;

	r = nft_ruleset_genid(nft, &genid);
	if (r < 0)
		goto out;
	r = nft_plan_read(nft, nft_maps(nft), &plan);
	if (r < 0)
		goto out;
	r = inventory_take(nft, &plan, want, &inv);
	if (r < 0)
		goto out;

	r = nft_batch_new(nft, genid, &batch);
	if (r < 0)
		goto out;
	r = nft_plan_put_tables(batch, nft->table, &plan);
	if (r < 0)
		goto out;
	r = nft_plan_put_removals(batch, nft->table, &plan);
	if (r < 0)
		goto out;
	/* Flushing and refilling the maps in one batch: a packet sees the old
	 * elements or the new ones, never an empty map. */
	for (int map = 0; map < plan.n_maps; map++) {
		if (!nft_plan_map_kept(&plan, (enum nft_map)map))
			continue;
		r = nft_elements_flush(batch, nft->table, (enum nft_map)map);
		if (r < 0)
			goto out;
	}
	r = put_counters(batch, nft->table, nft_kinds(nft), &inv, want);
	if (r < 0)
		goto out;
	r = nft_plan_put_creations(batch, nft->table, &plan);
	if (r < 0)
		goto out;
	for (int map = 0; map < plan.n_maps; map++) {
		r = nft_elements_add(batch, nft->table, (enum nft_map)map, plan.set_ids[map],
				     want->entries, want->n_entries);
		if (r < 0)
			goto out;
	}
	if (plan.uplinks_wanted) {
		r = nft_uplinks_put(batch, nft, nft_plan_uplinks_kept(&plan), plan.uplinks_set_id);
		if (r < 0)
			goto out;
	}
	r = nft_plan_put_rules(batch, nft->table, &plan);
	if (r < 0)
		goto out;
	r = nft_batch_commit(nft, batch);
out:
	nft_batch_free(batch);
	nft_plan_clear(&plan);
	inventory_clear(&inv);
	return r;
}

/* After a failed batch the kernel is as it was, and so is the model; only
 * lost ACKs leave it unknown. */
static int batch_failed(struct nft *nft, int r)
{
	if (r == -ENOBUFS)
		nft->model.valid = false;
	return r;
}

int nft_reconcile(struct nft *nft, const struct nft_household *households, size_t n_households)
{
	struct nft_model want = { 0 };
	int r;

	r = nft_model_build(households, n_households, &want);
	if (r < 0)
		return r;
	for (int attempt = 0; attempt < NFT_RECONCILE_ATTEMPTS; attempt++) {
		r = reconcile_once(nft, &want);
		if (r != -ERESTART)
			break;
	}
	if (r == -ERESTART)
		r = -EAGAIN;
	if (r < 0) {
		nft_model_clear(&want);
		return batch_failed(nft, r);
	}
	nft_model_clear(&nft->model);
	nft->model = want;
	return 0;
}

static int ensure_model(struct nft *nft)
{
	struct nft_model model;
	int r;

	if (nft->model.valid)
		return 0;
	r = nft_model_load(nft, &model);
	if (r < 0)
		return r;
	nft_model_clear(&nft->model);
	nft->model = model;
	return 0;
}

/* Whether to read the model from the kernel and try once more: the model
 * was not fresh, and the kernel lacks an element the model has (-ENOENT
 * while deleting them) or still uses a counter (-EBUSY), so something else
 * changed the table. */
static bool retry_with_fresh_model(struct nft *nft, int r, bool was_valid, bool known)
{
	if (!was_valid || !((r == -ENOENT && known) || r == -EBUSY))
		return false;
	nft->model.valid = false;
	return true;
}

static int household_set_once(struct nft *nft, const struct nft_household *household,
			      const struct nft_entry *wanted)
{
	const struct nft_entry *current = nft_model_find(&nft->model, household->id);
	struct nft_batch *batch = NULL;
	int r;

	r = nft_batch_new(nft, 0, &batch);
	if (r < 0)
		goto out;
	for (unsigned kind = 0; kind < nft_kinds(nft); kind++) {
		r = nft_counter_add(batch, nft->table, household->id, kind);
		if (r < 0)
			goto out;
	}
	for (int map = 0; map < nft_maps(nft); map++) {
		if (current) {
			r = nft_elements_delete(batch, nft->table, (enum nft_map)map, current);
			if (r < 0)
				goto out;
		}
		r = nft_elements_add(batch, nft->table, (enum nft_map)map, 0, wanted, 1);
		if (r < 0)
			goto out;
	}
	r = nft_batch_commit(nft, batch);
out:
	nft_batch_free(batch);
	return r;
}

int nft_household_set(struct nft *nft, const struct nft_household *household)
{
	struct nft_entry wanted = { 0 };
	bool was_valid = nft->model.valid, known;
	int r;

	if (!household || household->id < 0)
		return -EINVAL;
	wanted.id = household->id;
	r = nft_ranges_normalise(household, &wanted.ranges, &wanted.n_ranges);
	if (r < 0)
		return r;
	r = ensure_model(nft);
	if (r < 0)
		goto out;
	known = nft_model_find(&nft->model, household->id) != NULL;
	r = household_set_once(nft, household, &wanted);
	if (retry_with_fresh_model(nft, r, was_valid, known)) {
		r = ensure_model(nft);
		if (r < 0)
			goto out;
		r = household_set_once(nft, household, &wanted);
	}
	if (r < 0) {
		batch_failed(nft, r);
		goto out;
	}
	/* The kernel has it now; without memory for the model, read the model
	 * from the kernel next time. */
	if (nft_model_put(&nft->model, wanted.id, wanted.ranges, wanted.n_ranges) < 0)
		nft->model.valid = false;
	else
		wanted.ranges = NULL;
out:
	free(wanted.ranges);
	return r;
}

static int household_remove_once(struct nft *nft, int64_t household_id)
{
	const struct nft_entry *current = nft_model_find(&nft->model, household_id);
	struct nft_batch *batch = NULL;
	int r;

	r = nft_batch_new(nft, 0, &batch);
	if (r < 0)
		goto out;
	for (int map = 0; current && map < nft_maps(nft); map++) {
		r = nft_elements_delete(batch, nft->table, (enum nft_map)map, current);
		if (r < 0)
			goto out;
	}
	for (unsigned kind = 0; kind < nft_kinds(nft); kind++) {
		r = nft_counter_delete(batch, nft->table, household_id, kind);
		if (r < 0)
			goto out;
	}
	r = nft_batch_commit(nft, batch);
out:
	nft_batch_free(batch);
	return r;
}

int nft_household_remove(struct nft *nft, int64_t household_id)
{
	bool was_valid = nft->model.valid, known;
	int r;

	if (household_id < 0)
		return -EINVAL;
	r = ensure_model(nft);
	if (r < 0)
		return r;
	known = nft_model_find(&nft->model, household_id) != NULL;
	r = household_remove_once(nft, household_id);
	if (retry_with_fresh_model(nft, r, was_valid, known)) {
		r = ensure_model(nft);
		if (r < 0)
			return r;
		r = household_remove_once(nft, household_id);
	}
	if (r < 0)
		return batch_failed(nft, r);
	nft_model_drop(&nft->model, household_id);
	return 0;
}

static int counters_from_dump(struct nft *nft, struct nft_counter **ret_counters,
			      size_t *ret_n_counters)
{
	struct nft_object *objects = NULL;
	struct nft_counter *counters;
	size_t n_objects = 0, n = 0;
	int r;

	r = nft_objects_dump(nft, NFT_OBJECT_COUNTER, &objects, &n_objects);
	if (r < 0)
		return r;
	counters = calloc(n_objects ? n_objects : 1, sizeof(*counters));
	if (!counters) {
		free(objects);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n_objects; i++) {
		if (!objects[i].ours)
			continue;
		counters[n++] =
			(struct nft_counter){ .household_id = objects[i].id,
					      .scope = (enum nft_scope)(objects[i].kind / 2),
					      .direction =
						      (enum nft_direction)(objects[i].kind % 2),
					      .handle = objects[i].handle,
					      .bytes = objects[i].bytes,
					      .packets = objects[i].packets };
	}
	free(objects);
	*ret_counters = counters;
	*ret_n_counters = n;
	return 0;
}

int nft_read_counters(struct nft *nft, struct nft_counter **ret_counters, size_t *ret_n_counters,
		      bool *ret_table_missing)
{
	struct nft_counter *counters = NULL;
	size_t n = 0;
	bool exists;
	int r;

	/* An object dump of a missing table is just empty: ask first. */
	r = nft_table_exists(nft, &exists);
	if (r < 0)
		return r;
	if (!exists) {
		*ret_counters = NULL;
		*ret_n_counters = 0;
		*ret_table_missing = true;
		return 0;
	}
	/* Pipelined GETs ask for the counters the daemon made; the dump also
	 * finds ones it did not, which only matters before a reconcile. */
	if (nft->model.valid && nft_kinds(nft) * nft->model.n_entries >= NFT_SPLIT_MIN_COUNTERS &&
	    sysconf(_SC_NPROCESSORS_ONLN) >= 2)
		r = nft_counters_split_read(nft, &counters, &n);
	else if (nft->model.valid && nft_kinds(nft) * nft->model.n_entries > NFT_DUMP_MAX_COUNTERS)
		r = nft_counters_get(nft, nft->model.entries, nft->model.n_entries, &counters, &n);
	else
		r = counters_from_dump(nft, &counters, &n);
	if (r < 0)
		return r;
	*ret_counters = counters;
	*ret_n_counters = n;
	*ret_table_missing = false;
	return 0;
}

static int count_cb(const struct nlmsghdr *nlh, void *data)
{
	(*(size_t *)data)++;
	return MNL_CB_OK;
}

static void count_restart(void *data)
{
	*(size_t *)data = 0;
}

int nft_flowtable_present(struct nft *nft, bool *ret_present)
{
	struct nft_query query = { .type = NFT_MSG_GETFLOWTABLE, .family = NFPROTO_UNSPEC };
	size_t n = 0;
	int r;

	r = nft_nl_dump(nft, &query, count_cb, &n, count_restart);
	if (r < 0)
		return r;
	*ret_present = n > 0;
	return 0;
}
