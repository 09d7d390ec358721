/* Households' address ranges in the interval maps: normalising CIDR lists to
 * sorted, merged ranges, the model of what the daemon last wrote, the map
 * element messages (a start element naming the counter, and an interval-end
 * element after the range's last address), and rebuilding the model from
 * the kernel when the daemon has none. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "coopbill/cidr.h"
#include "nft-internal.h"

/* Room one element takes in a message, at most. */
#define NFT_ELEM_MAX_BYTES 128

static const struct {
	int family;
	unsigned kind; /* of the counters its elements name */
} map_roles[NFT_MAP_COUNT] = {
	[NFT_MAP_UP4] = { AF_INET, NFT_KIND(NFT_INTERNET, NFT_UP) },
	[NFT_MAP_DOWN4] = { AF_INET, NFT_KIND(NFT_INTERNET, NFT_DOWN) },
	[NFT_MAP_UP6] = { AF_INET6, NFT_KIND(NFT_INTERNET, NFT_UP) },
	[NFT_MAP_DOWN6] = { AF_INET6, NFT_KIND(NFT_INTERNET, NFT_DOWN) },
	[NFT_MAP_LUP4] = { AF_INET, NFT_KIND(NFT_LOCAL, NFT_UP) },
	[NFT_MAP_LDOWN4] = { AF_INET, NFT_KIND(NFT_LOCAL, NFT_DOWN) },
	[NFT_MAP_LUP6] = { AF_INET6, NFT_KIND(NFT_LOCAL, NFT_UP) },
	[NFT_MAP_LDOWN6] = { AF_INET6, NFT_KIND(NFT_LOCAL, NFT_DOWN) },
};

static size_t family_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

/* addr + 1; false when it wraps past the top of the address space. */
static bool addr_next(const uint8_t addr[16], size_t len, uint8_t ret_next[16])
{
	memcpy(ret_next, addr, 16);
	for (size_t i = len; i-- > 0;) {
		if (++ret_next[i] != 0)
			return true;
	}
	return false;
}

static void addr_prev(const uint8_t addr[16], size_t len, uint8_t ret_prev[16])
{
	memcpy(ret_prev, addr, 16);
	for (size_t i = len; i-- > 0;) {
		if (ret_prev[i]-- != 0)
			return;
	}
}

static int range_cmp(const void *a, const void *b)
{
	const struct nft_range *x = a, *y = b;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	return memcmp(x->first, y->first, 16);
}

int nft_ranges_normalise(const struct nft_household *household, struct nft_range **ret_ranges,
			 size_t *ret_n_ranges)
{
	struct nft_range *ranges;
	size_t n = 0;

	if (household->n_addresses > NFT_RANGES_MAX)
		return -E2BIG;
	if (household->n_addresses == 0) {
		*ret_ranges = NULL;
		*ret_n_ranges = 0;
		return 0;
	}
	if (!household->addresses)
		return -EINVAL;
	ranges = calloc(household->n_addresses, sizeof(*ranges));
	if (!ranges)
		return -ENOMEM;
	for (size_t i = 0; i < household->n_addresses; i++) {
		const struct cidr *cidr = &household->addresses[i];
		struct nft_range *range = &ranges[i];
		size_t len;

		if (cidr->family != AF_INET && cidr->family != AF_INET6) {
			free(ranges);
			return -EAFNOSUPPORT;
		}
		len = family_len(cidr->family);
		if (cidr->prefix_len > len * 8) {
			free(ranges);
			return -EINVAL;
		}
		range->family = cidr->family;
		range->directions = NFT_BOTH_DIRECTIONS;
		cidr_range(cidr, range->first, range->last);
		memset(range->first + len, 0, 16 - len);
		memset(range->last + len, 0, 16 - len);
	}
	if (household->n_addresses > 1)
		qsort(ranges, household->n_addresses, sizeof(*ranges), range_cmp);

	/* Overlapping ranges of one household count into the same counters:
	 * merge them, since the kernel refuses overlaps. Adjacent ones stay
	 * apart, as the operator wrote them. */
	for (size_t i = 0; i < household->n_addresses; i++) {
		struct nft_range *last = n > 0 ? &ranges[n - 1] : NULL;
		const struct nft_range *range = &ranges[i];

		if (last && last->family == range->family &&
		    memcmp(range->first, last->last, 16) <= 0) {
			if (memcmp(range->last, last->last, 16) > 0)
				memcpy(last->last, range->last, 16);
			continue;
		}
		ranges[n++] = *range;
	}
	/* A range up to the last address has no interval-end element, and the
	 * kernel cannot see it overlap the ranges after its start: refused. It
	 * would hold the broadcast or a multicast address anyway. */
	for (size_t i = 0; i < n; i++) {
		uint8_t after[16];

		if (!addr_next(ranges[i].last, family_len(ranges[i].family), after)) {
			free(ranges);
			return -ERANGE;
		}
	}
	*ret_ranges = ranges;
	*ret_n_ranges = n;
	return 0;
}

static void entry_clear(struct nft_entry *entry)
{
	free(entry->ranges);
	entry->ranges = NULL;
	entry->n_ranges = 0;
}

void nft_model_clear(struct nft_model *model)
{
	for (size_t i = 0; i < model->n_entries; i++)
		entry_clear(&model->entries[i]);
	free(model->entries);
	*model = (struct nft_model){ 0 };
}

/* The index of household id in the model's sorted entries, or where it
 * would go. */
static size_t nft_model_search(const struct nft_model *model, int64_t id)
{
	size_t lo = 0, hi = model->n_entries;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (model->entries[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct nft_entry *nft_model_find(const struct nft_model *model, int64_t id)
{
	size_t i = nft_model_search(model, id);

	return i < model->n_entries && model->entries[i].id == id ? &model->entries[i] : NULL;
}

int nft_model_put(struct nft_model *model, int64_t id, struct nft_range *ranges, size_t n_ranges)
{
	size_t i = nft_model_search(model, id);

	if (i < model->n_entries && model->entries[i].id == id) {
		entry_clear(&model->entries[i]);
	} else {
		if (model->n_entries == model->cap) {
			size_t cap = model->cap ? 2 * model->cap : 64;
			struct nft_entry *grown = realloc(model->entries, cap * sizeof(*grown));

			if (!grown)
				return -ENOMEM;
			model->entries = grown;
			model->cap = cap;
		}
		memmove(&model->entries[i + 1], &model->entries[i],
			(model->n_entries - i) * sizeof(*model->entries));
		model->n_entries++;
	}
	model->entries[i] = (struct nft_entry){ .id = id, .ranges = ranges, .n_ranges = n_ranges };
	return 0;
}

void nft_model_drop(struct nft_model *model, int64_t id)
{
	size_t i = nft_model_search(model, id);

	if (i >= model->n_entries || model->entries[i].id != id)
		return;
	entry_clear(&model->entries[i]);
	memmove(&model->entries[i], &model->entries[i + 1],
		(model->n_entries - i - 1) * sizeof(*model->entries));
	model->n_entries--;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct nft_entry *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

int nft_model_build(const struct nft_household *households, size_t n_households,
		    struct nft_model *ret_model)
{
	struct nft_model model = { 0 };
	int r = 0;

	if (n_households > 0) {
		if (!households)
			return -EINVAL;
		model.entries = calloc(n_households, sizeof(*model.entries));
		if (!model.entries)
			return -ENOMEM;
		model.cap = n_households;
	}
	for (size_t i = 0; i < n_households; i++) {
		struct nft_entry *entry = &model.entries[i];

		if (households[i].id < 0) {
			r = -EINVAL;
			goto out;
		}
		entry->id = households[i].id;
		model.n_entries++;
		r = nft_ranges_normalise(&households[i], &entry->ranges, &entry->n_ranges);
		if (r < 0)
			goto out;
	}
	if (model.n_entries > 1)
		qsort(model.entries, model.n_entries, sizeof(*model.entries), entry_cmp);
	for (size_t i = 1; i < model.n_entries; i++) {
		if (model.entries[i].id == model.entries[i - 1].id) {
			r = -EINVAL;
			goto out;
		}
	}
	model.valid = true;
	*ret_model = model;
	model = (struct nft_model){ 0 };
out:
	nft_model_clear(&model);
	return r;
}

/* Writes elements into as many messages as they need. */
struct elem_writer {
	struct nft_batch *batch;
	uint16_t type;
	uint16_t flags;
	const char *table;
	const char *set;
	uint32_t set_id;
	struct nlmsghdr *nlh;
	struct nlattr *list;
};

static void writer_start(struct elem_writer *w)
{
	w->nlh = nft_batch_msg(w->batch, w->type, w->flags);
	mnl_attr_put_strz(w->nlh, NFTA_SET_ELEM_LIST_TABLE, w->table);
	mnl_attr_put_strz(w->nlh, NFTA_SET_ELEM_LIST_SET, w->set);
	if (w->set_id)
		mnl_attr_put_u32(w->nlh, NFTA_SET_ELEM_LIST_SET_ID, htonl(w->set_id));
}

static int writer_finish(struct elem_writer *w)
{
	if (!w->nlh)
		return 0;
	if (w->list)
		mnl_attr_nest_end(w->nlh, w->list);
	w->nlh = NULL;
	w->list = NULL;
	return nft_batch_msg_end(w->batch);
}

static int writer_put(struct elem_writer *w, const uint8_t *key, size_t len, bool interval_end,
		      const char *objref)
{
	struct nlattr *elem, *nest;
	int r;

	if (w->nlh && nft_batch_msg_room(w->batch, w->nlh) < NFT_ELEM_MAX_BYTES) {
		r = writer_finish(w);
		if (r < 0)
			return r;
	}
	if (!w->nlh) {
		writer_start(w);
		w->list = mnl_attr_nest_start(w->nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
	}
	elem = mnl_attr_nest_start(w->nlh, NFTA_LIST_ELEM);
	if (interval_end)
		mnl_attr_put_u32(w->nlh, NFTA_SET_ELEM_FLAGS, htonl(NFT_SET_ELEM_INTERVAL_END));
	nest = mnl_attr_nest_start(w->nlh, NFTA_SET_ELEM_KEY);
	mnl_attr_put(w->nlh, NFTA_DATA_VALUE, len, key);
	mnl_attr_nest_end(w->nlh, nest);
	if (objref)
		mnl_attr_put_strz(w->nlh, NFTA_SET_ELEM_OBJREF, objref);
	mnl_attr_nest_end(w->nlh, elem);
	return 0;
}

/* A range is its start element, naming the counter, and an interval-end
 * element on the address after its last (none when the range runs to the
 * top of the address space). */
static int writer_put_range(struct elem_writer *w, const struct nft_range *range,
			    const char *objref)
{
	size_t len = family_len(range->family);
	uint8_t after[16];
	int r;

	r = writer_put(w, range->first, len, false, objref);
	if (r < 0 || range->open_end)
		return r;
	addr_next(range->last, len, after);
	return writer_put(w, after, len, true, NULL);
}

static bool range_in_map(const struct nft_range *range, enum nft_map map)
{
	return range->family == map_roles[map].family &&
	       (range->directions & (1 << map_roles[map].kind));
}

int nft_elements_flush(struct nft_batch *batch, const char *table, enum nft_map map)
{
	struct elem_writer w = { .batch = batch,
				 .type = NFT_MSG_DELSETELEM,
				 .table = table,
				 .set = nft_map_names[map] };

	/* Without an element list, DELSETELEM empties the set. */
	writer_start(&w);
	return writer_finish(&w);
}

int nft_elements_add(struct nft_batch *batch, const char *table, enum nft_map map, uint32_t set_id,
		     const struct nft_entry *entries, size_t n_entries)
{
	/* NLM_F_EXCL: an element already there is an error, not a no-op. */
	struct elem_writer w = { .batch = batch,
				 .type = NFT_MSG_NEWSETELEM,
				 .flags = NLM_F_CREATE | NLM_F_EXCL,
				 .table = table,
				 .set = nft_map_names[map],
				 .set_id = set_id };
	int r;

	for (size_t i = 0; i < n_entries; i++) {
		char name[NFT_OBJ_NAME_MAX];

		nft_counter_name(entries[i].id, map_roles[map].kind, name);
		for (size_t j = 0; j < entries[i].n_ranges; j++) {
			if (!range_in_map(&entries[i].ranges[j], map))
				continue;
			r = writer_put_range(&w, &entries[i].ranges[j], name);
			if (r < 0)
				return r;
		}
	}
	return writer_finish(&w);
}

int nft_elements_delete(struct nft_batch *batch, const char *table, enum nft_map map,
			const struct nft_entry *entry)
{
	struct elem_writer w = { .batch = batch,
				 .type = NFT_MSG_DELSETELEM,
				 .table = table,
				 .set = nft_map_names[map] };
	int r;

	for (size_t j = 0; j < entry->n_ranges; j++) {
		if (!range_in_map(&entry->ranges[j], map))
			continue;
		r = writer_put_range(&w, &entry->ranges[j], NULL);
		if (r < 0)
			return r;
	}
	return writer_finish(&w);
}

/* An element of an upload map, as the kernel lists it. */
struct loaded_elem {
	int family;
	uint8_t key[16];
	bool interval_end;
	bool ours;
	int64_t id;
};

struct load_ctx {
	int family;
	unsigned kind;
	struct loaded_elem *elems;
	size_t n;
	size_t cap;
};

static int parse_elem(const struct nlattr *nest, struct load_ctx *ctx)
{
	struct loaded_elem elem = { .family = ctx->family };
	const struct nlattr *attr;
	bool have_key = false;

	mnl_attr_for_each_nested(attr, nest)
	{
		switch (mnl_attr_get_type(attr)) {
		case NFTA_SET_ELEM_FLAGS:
			if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0)
				return -EPROTO;
			elem.interval_end =
				ntohl(mnl_attr_get_u32(attr)) & NFT_SET_ELEM_INTERVAL_END;
			break;
		case NFTA_SET_ELEM_KEY: {
			const struct nlattr *value = mnl_attr_get_payload(attr);

			if (mnl_attr_get_payload_len(attr) < sizeof(*value) ||
			    mnl_attr_get_type(value) != NFTA_DATA_VALUE ||
			    mnl_attr_get_payload_len(value) != family_len(ctx->family))
				return -EPROTO;
			memcpy(elem.key, mnl_attr_get_payload(value), family_len(ctx->family));
			have_key = true;
			break;
		}
		case NFTA_SET_ELEM_OBJREF: {
			unsigned kind;

			if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
				return -EPROTO;
			elem.ours =
				nft_counter_name_parse(mnl_attr_get_str(attr), &elem.id, &kind) &&
				kind == ctx->kind;
			break;
		}
		default:
			break;
		}
	}
	if (!have_key)
		return -EPROTO;
	if (ctx->n == ctx->cap) {
		size_t cap = ctx->cap ? 2 * ctx->cap : 256;
		struct loaded_elem *grown = realloc(ctx->elems, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		ctx->elems = grown;
		ctx->cap = cap;
	}
	ctx->elems[ctx->n++] = elem;
	return 0;
}

static int elems_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *attr, *elem;

	mnl_attr_for_each(attr, nlh, sizeof(struct nfgenmsg))
	{
		if (mnl_attr_get_type(attr) != NFTA_SET_ELEM_LIST_ELEMENTS)
			continue;
		mnl_attr_for_each_nested(elem, attr)
		{
			int r = parse_elem(elem, data);

			if (r < 0) {
				errno = -r;
				return MNL_CB_ERROR;
			}
		}
	}
	return MNL_CB_OK;
}

static void elems_restart(void *data)
{
	((struct load_ctx *)data)->n = 0;
}

/* Interval ends sort before starts on the same address: an end closes the
 * range below it. */
static int elem_cmp(const void *a, const void *b)
{
	const struct loaded_elem *x = a, *y = b;
	int r = memcmp(x->key, y->key, 16);

	if (r != 0)
		return r;
	return (int)y->interval_end - (int)x->interval_end;
}

struct owned_range {
	int64_t id;
	struct nft_range range;
};

static int owned_cmp(const void *a, const void *b)
{
	const struct owned_range *x = a, *y = b;

	int r;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	r = range_cmp(&x->range, &y->range);
	if (r != 0)
		return r;
	r = memcmp(x->range.last, y->range.last, 16);
	if (r != 0)
		return r;
	return (int)x->range.open_end - (int)y->range.open_end;
}

/* Pairs each start element with the end that follows it. */
static int elems_to_ranges(struct load_ctx *ctx, struct owned_range **ranges, size_t *n_ranges,
			   size_t *cap)
{
	size_t len = family_len(ctx->family);

	if (ctx->n > 1)
		qsort(ctx->elems, ctx->n, sizeof(*ctx->elems), elem_cmp);
	for (size_t i = 0; i < ctx->n; i++) {
		const struct loaded_elem *start = &ctx->elems[i];
		const struct loaded_elem *next = i + 1 < ctx->n ? &ctx->elems[i + 1] : NULL;
		struct owned_range *owned;

		if (start->interval_end || !start->ours)
			continue;
		if (*n_ranges == *cap) {
			size_t grown_cap = *cap ? 2 * *cap : 256;
			struct owned_range *grown = realloc(*ranges, grown_cap * sizeof(*grown));

			if (!grown)
				return -ENOMEM;
			*ranges = grown;
			*cap = grown_cap;
		}
		owned = &(*ranges)[(*n_ranges)++];
		*owned = (struct owned_range){ .id = start->id };
		owned->range.family = ctx->family;
		owned->range.directions = (uint8_t)(1 << ctx->kind);
		memcpy(owned->range.first, start->key, 16);
		if (next) {
			addr_prev(next->key, len, owned->range.last);
			owned->range.open_end = !next->interval_end;
		} else {
			memset(owned->range.last, 0xff, len);
			owned->range.open_end = true;
		}
	}
	return 0;
}

static int model_add_ranges(struct nft_model *model, const struct owned_range *ranges,
			    size_t n_ranges)
{
	for (size_t i = 0; i < n_ranges;) {
		struct nft_range *copy;
		size_t j = i, n = 0;
		int r;

		while (j < n_ranges && ranges[j].id == ranges[i].id)
			j++;
		copy = calloc(j - i, sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		/* A range in several maps is one range. */
		for (size_t k = i; k < j; k++) {
			if (n > 0 && owned_cmp(&ranges[k], &ranges[k - 1]) == 0)
				copy[n - 1].directions |= ranges[k].range.directions;
			else
				copy[n++] = ranges[k].range;
		}
		r = nft_model_put(model, ranges[i].id, copy, n);
		if (r < 0) {
			free(copy);
			return r;
		}
		i = j;
	}
	return 0;
}

static int load_ranges(struct nft *nft, struct nft_model *model)
{
	struct owned_range *ranges = NULL;
	size_t n_ranges = 0, cap = 0;
	struct load_ctx ctx = { 0 };
	int r = 0;

	/* Each map as it is: the download maps should mirror the upload maps,
	 * but elements deleted behind the daemon's back must not be deleted
	 * again. */
	for (int map = 0; map < NFT_MAP_COUNT; map++) {
		struct nft_query query = { .type = NFT_MSG_GETSETELEM,
					   .family = NFPROTO_INET,
					   .table = nft->table,
					   .name = nft_map_names[map] };

		ctx.family = map_roles[map].family;
		ctx.kind = map_roles[map].kind;
		ctx.n = 0;
		r = nft_nl_dump(nft, &query, elems_cb, &ctx, elems_restart);
		if (r == -ENOENT) {
			r = 0;
			continue;
		}
		if (r < 0)
			goto out;
		r = elems_to_ranges(&ctx, &ranges, &n_ranges, &cap);
		if (r < 0)
			goto out;
	}
	if (n_ranges > 0)
		qsort(ranges, n_ranges, sizeof(*ranges), owned_cmp);
	r = model_add_ranges(model, ranges, n_ranges);
out:
	free(ranges);
	free(ctx.elems);
	return r;
}

/* Households with counters but no addresses. */
static int load_counters(struct nft *nft, struct nft_model *model)
{
	struct nft_object *objects = NULL;
	size_t n_objects = 0;
	int r;

	r = nft_objects_dump(nft, NFT_OBJECT_COUNTER, &objects, &n_objects);
	for (size_t i = 0; r == 0 && i < n_objects; i++) {
		if (objects[i].ours && !nft_model_find(model, objects[i].id))
			r = nft_model_put(model, objects[i].id, NULL, 0);
	}
	free(objects);
	return r;
}

int nft_model_load(struct nft *nft, struct nft_model *ret_model)
{
	struct nft_model model = { 0 };
	bool exists;
	int r;

	r = nft_table_exists(nft, &exists);
	if (r < 0)
		goto out;
	if (exists) {
		r = load_ranges(nft, &model);
		if (r < 0)
			goto out;
		r = load_counters(nft, &model);
		if (r < 0)
			goto out;
	}
	model.valid = true;
	*ret_model = model;
	model = (struct nft_model){ 0 };
out:
	nft_model_clear(&model);
	return r;
}

int nft_uplinks_put(struct nft_batch *batch, const struct nft *nft, bool flush, uint32_t set_id)
{
	struct elem_writer w = { .batch = batch,
				 .type = NFT_MSG_DELSETELEM,
				 .table = nft->table,
				 .set = NFT_UPLINKS_SET };
	int r;

	/* Emptied and refilled in the batch, as the maps are. */
	if (flush) {
		writer_start(&w);
		r = writer_finish(&w);
		if (r < 0)
			return r;
	}
	w.type = NFT_MSG_NEWSETELEM;
	w.flags = NLM_F_CREATE;
	w.set_id = set_id;
	for (size_t i = 0; i < nft->n_uplinks; i++) {
		/* The kernel compares the whole IFNAMSIZ bytes, NUL padded. */
		r = writer_put(&w, (const uint8_t *)nft->uplinks[i], NFT_IFNAME_MAX + 1, false,
			       NULL);
		if (r < 0)
			return r;
	}
	return writer_finish(&w);
}
