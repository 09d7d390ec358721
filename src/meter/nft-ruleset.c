/* The fixed part of the daemon's table: the table itself, the forward chain,
 * the interval maps and the rules that count through them: four of each
 * without uplinks; with uplinks, eight (internet and local) and the named set
 * of the uplinks' names that tells them apart. Reads
 * what the kernel has, and plans what to delete and create so that it is
 * exactly that; leftover shard tables of an earlier layout are deleted. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "nft-internal.h"

#define NFT_CHAIN_NAME "forward"
/* After the usual filter chains at this hook (iptables-nft and Docker at
 * priority filter = 0, firewalld at filter + 10, security marking at 50): a
 * packet one of them drops never reached the household or left the
 * network, so it is not billed. */
#define NFT_CHAIN_PRIORITY 100

/* nft's datatype numbers and its byte order for set user data. */
#define NFT_TYPE_IPADDR		 7
#define NFT_TYPE_IP6ADDR	 8
#define NFT_TYPE_IFNAME		 41
#define NFT_UDATA_BYTEORDER_HOST 1
#define NFT_UDATA_BYTEORDER_BIG	 2
/* IFNAMSIZ: the kernel's iifname and oifname are this long, NUL padded. */
#define NFT_IFNAME_LEN 16

const char *const nft_map_names[NFT_MAP_COUNT] = {
	[NFT_MAP_UP4] = "up4",	   [NFT_MAP_DOWN4] = "down4",	[NFT_MAP_UP6] = "up6",
	[NFT_MAP_DOWN6] = "down6", [NFT_MAP_LUP4] = "lup4",	[NFT_MAP_LDOWN4] = "ldown4",
	[NFT_MAP_LUP6] = "lup6",   [NFT_MAP_LDOWN6] = "ldown6",
};

struct map_spec {
	uint32_t key_type;
	uint32_t key_len;
	uint8_t nfproto;
	uint32_t offset; /* of the address in the network header */
	/* With uplinks: which interface tells the scope (oifname for traffic
	 * from the household, iifname for traffic to it), and whether the
	 * rule wants it not to be an uplink (local traffic). */
	uint32_t iface_key;
	bool local;
};

static const struct map_spec map_specs[NFT_MAP_COUNT] = {
	[NFT_MAP_UP4] = { NFT_TYPE_IPADDR, 4, NFPROTO_IPV4, 12, NFT_META_OIFNAME, false },
	[NFT_MAP_DOWN4] = { NFT_TYPE_IPADDR, 4, NFPROTO_IPV4, 16, NFT_META_IIFNAME, false },
	[NFT_MAP_UP6] = { NFT_TYPE_IP6ADDR, 16, NFPROTO_IPV6, 8, NFT_META_OIFNAME, false },
	[NFT_MAP_DOWN6] = { NFT_TYPE_IP6ADDR, 16, NFPROTO_IPV6, 24, NFT_META_IIFNAME, false },
	[NFT_MAP_LUP4] = { NFT_TYPE_IPADDR, 4, NFPROTO_IPV4, 12, NFT_META_OIFNAME, true },
	[NFT_MAP_LDOWN4] = { NFT_TYPE_IPADDR, 4, NFPROTO_IPV4, 16, NFT_META_IIFNAME, true },
	[NFT_MAP_LUP6] = { NFT_TYPE_IP6ADDR, 16, NFPROTO_IPV6, 8, NFT_META_OIFNAME, true },
	[NFT_MAP_LDOWN6] = { NFT_TYPE_IP6ADDR, 16, NFPROTO_IPV6, 24, NFT_META_IIFNAME, true },
};

static int names_add(struct nft_names *names, const char *name)
{
	char **grown;

	grown = realloc(names->names, (names->n + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	names->names = grown;
	names->names[names->n] = strdup(name);
	if (!names->names[names->n])
		return -ENOMEM;
	names->n++;
	return 0;
}

static void names_clear(struct nft_names *names)
{
	for (size_t i = 0; i < names->n; i++)
		free(names->names[i]);
	free(names->names);
	names->names = NULL;
	names->n = 0;
}

void nft_plan_clear(struct nft_plan *plan)
{
	names_clear(&plan->shards);
	names_clear(&plan->stray_chains);
	names_clear(&plan->stray_sets);
	*plan = (struct nft_plan){ 0 };
}

/* "<prefix>_<n>": a shard table of the daemon's. */
static bool is_shard(const char *prefix, const char *name)
{
	size_t len = strlen(prefix);

	if (strncmp(name, prefix, len) != 0 || name[len] != '_' || name[len + 1] == '\0')
		return false;
	for (const char *p = name + len + 1; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

struct read_ctx {
	struct nft *nft;
	struct nft_plan *plan;
	int error;
	size_t n_rules;
};

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
	struct read_ctx *ctx = data;
	struct nftnl_table *table = nftnl_table_alloc();
	const char *name;
	int r = MNL_CB_ERROR;

	if (!table) {
		errno = ENOMEM;
		return MNL_CB_ERROR;
	}
	if (nftnl_table_nlmsg_parse(nlh, table) < 0) {
		errno = EPROTO;
		goto out;
	}
	name = nftnl_table_get_str(table, NFTNL_TABLE_NAME);
	if (name && strcmp(name, ctx->nft->table) == 0) {
		ctx->plan->table_exists = true;
		ctx->plan->table_flags = nftnl_table_get_u32(table, NFTNL_TABLE_FLAGS);
		ctx->plan->table_use = nftnl_table_get_u32(table, NFTNL_TABLE_USE);
	} else if (name && is_shard(ctx->nft->table, name)) {
		ctx->error = names_add(&ctx->plan->shards, name);
		if (ctx->error < 0) {
			errno = -ctx->error;
			goto out;
		}
	}
	r = MNL_CB_OK;
out:
	nftnl_table_free(table);
	return r;
}

static bool chain_matches(const struct nftnl_chain *chain)
{
	const char *type = nftnl_chain_get_str(chain, NFTNL_CHAIN_TYPE);

	return nftnl_chain_is_set(chain, NFTNL_CHAIN_HOOKNUM) &&
	       nftnl_chain_get_u32(chain, NFTNL_CHAIN_HOOKNUM) == NF_INET_FORWARD &&
	       nftnl_chain_get_s32(chain, NFTNL_CHAIN_PRIO) == NFT_CHAIN_PRIORITY && type &&
	       strcmp(type, "filter") == 0 &&
	       nftnl_chain_get_u32(chain, NFTNL_CHAIN_POLICY) == NF_ACCEPT &&
	       !nftnl_chain_is_set(chain, NFTNL_CHAIN_DEV) &&
	       !nftnl_chain_is_set(chain, NFTNL_CHAIN_DEVICES) &&
	       (nftnl_chain_get_u32(chain, NFTNL_CHAIN_FLAGS) & ~(uint32_t)NFT_CHAIN_BASE) == 0;
}

static int chain_cb(const struct nlmsghdr *nlh, void *data)
{
	struct read_ctx *ctx = data;
	struct nftnl_chain *chain = nftnl_chain_alloc();
	const char *table, *name;
	int r = MNL_CB_ERROR;

	if (!chain) {
		errno = ENOMEM;
		return MNL_CB_ERROR;
	}
	if (nftnl_chain_nlmsg_parse(nlh, chain) < 0) {
		errno = EPROTO;
		goto out;
	}
	table = nftnl_chain_get_str(chain, NFTNL_CHAIN_TABLE);
	name = nftnl_chain_get_str(chain, NFTNL_CHAIN_NAME);
	if (!table || !name || strcmp(table, ctx->nft->table) != 0) {
		r = MNL_CB_OK;
		goto out;
	}
	if (!(nftnl_chain_get_u32(chain, NFTNL_CHAIN_FLAGS) & NFT_CHAIN_BINDING))
		ctx->plan->n_chains++;
	if (strcmp(name, NFT_CHAIN_NAME) == 0) {
		ctx->plan->chain_exists = true;
		ctx->plan->chain_stale = !chain_matches(chain);
	} else if (!(nftnl_chain_get_u32(chain, NFTNL_CHAIN_FLAGS) & NFT_CHAIN_BINDING)) {
		/* Bound chains go with the rule that holds them. */
		ctx->error = names_add(&ctx->plan->stray_chains, name);
		if (ctx->error < 0) {
			errno = -ctx->error;
			goto out;
		}
	}
	r = MNL_CB_OK;
out:
	nftnl_chain_free(chain);
	return r;
}

static bool expr_is(const struct nftnl_expr *expr, const char *name)
{
	const char *expr_name = expr ? nftnl_expr_get_str(expr, NFTNL_EXPR_NAME) : NULL;

	return expr_name && strcmp(expr_name, name) == 0;
}

/* With uplinks, the interface check: meta iifname or oifname, and a lookup
 * in the uplinks set (inverted for local traffic). */
static bool iface_matches(struct nftnl_expr_iter *iter, const struct map_spec *spec)
{
	struct nftnl_expr *expr = nftnl_expr_iter_next(iter);
	const char *set_name;
	uint32_t flags;

	if (!expr_is(expr, "meta") ||
	    nftnl_expr_get_u32(expr, NFTNL_EXPR_META_KEY) != spec->iface_key ||
	    nftnl_expr_get_u32(expr, NFTNL_EXPR_META_DREG) != NFT_REG_1 ||
	    nftnl_expr_is_set(expr, NFTNL_EXPR_META_SREG))
		return false;
	expr = nftnl_expr_iter_next(iter);
	if (!expr_is(expr, "lookup"))
		return false;
	set_name = nftnl_expr_get_str(expr, NFTNL_EXPR_LOOKUP_SET);
	flags = nftnl_expr_is_set(expr, NFTNL_EXPR_LOOKUP_FLAGS)
			? nftnl_expr_get_u32(expr, NFTNL_EXPR_LOOKUP_FLAGS)
			: 0;
	return set_name && strcmp(set_name, NFT_UPLINKS_SET) == 0 &&
	       nftnl_expr_get_u32(expr, NFTNL_EXPR_LOOKUP_SREG) == NFT_REG_1 &&
	       !nftnl_expr_is_set(expr, NFTNL_EXPR_LOOKUP_DREG) &&
	       flags == (spec->local ? NFT_LOOKUP_F_INV : 0);
}

/* The rule for a map, as nft generates it for "counter name ip saddr map @up4":
 * meta nfproto, cmp, (with uplinks: meta oifname, lookup @uplinks,) payload
 * load, objref map lookup. */
static bool rule_matches(struct nftnl_rule *rule, enum nft_map map, bool uplinks)
{
	const struct map_spec *spec = &map_specs[map];
	struct nftnl_expr_iter *iter = nftnl_expr_iter_create(rule);
	struct nftnl_expr *expr;
	const void *cmp_data;
	const char *set_name;
	uint32_t cmp_len = 0;
	bool ok = false;

	if (!iter)
		return false;
	expr = nftnl_expr_iter_next(iter);
	if (!expr_is(expr, "meta") ||
	    nftnl_expr_get_u32(expr, NFTNL_EXPR_META_KEY) != NFT_META_NFPROTO ||
	    nftnl_expr_get_u32(expr, NFTNL_EXPR_META_DREG) != NFT_REG_1 ||
	    nftnl_expr_is_set(expr, NFTNL_EXPR_META_SREG))
		goto out;
	expr = nftnl_expr_iter_next(iter);
	if (!expr_is(expr, "cmp") || nftnl_expr_get_u32(expr, NFTNL_EXPR_CMP_SREG) != NFT_REG_1 ||
	    nftnl_expr_get_u32(expr, NFTNL_EXPR_CMP_OP) != NFT_CMP_EQ)
		goto out;
	cmp_data = nftnl_expr_get(expr, NFTNL_EXPR_CMP_DATA, &cmp_len);
	if (!cmp_data || cmp_len != 1 || *(const uint8_t *)cmp_data != spec->nfproto)
		goto out;
	if (uplinks && !iface_matches(iter, spec))
		goto out;
	expr = nftnl_expr_iter_next(iter);
	if (!expr_is(expr, "payload") ||
	    nftnl_expr_get_u32(expr, NFTNL_EXPR_PAYLOAD_BASE) != NFT_PAYLOAD_NETWORK_HEADER ||
	    nftnl_expr_get_u32(expr, NFTNL_EXPR_PAYLOAD_OFFSET) != spec->offset ||
	    nftnl_expr_get_u32(expr, NFTNL_EXPR_PAYLOAD_LEN) != spec->key_len ||
	    nftnl_expr_get_u32(expr, NFTNL_EXPR_PAYLOAD_DREG) != NFT_REG_1 ||
	    nftnl_expr_is_set(expr, NFTNL_EXPR_PAYLOAD_SREG))
		goto out;
	expr = nftnl_expr_iter_next(iter);
	set_name = expr_is(expr, "objref") ? nftnl_expr_get_str(expr, NFTNL_EXPR_OBJREF_SET_NAME)
					   : NULL;
	if (!set_name || strcmp(set_name, nft_map_names[map]) != 0 ||
	    nftnl_expr_get_u32(expr, NFTNL_EXPR_OBJREF_SET_SREG) != NFT_REG_1)
		goto out;
	ok = nftnl_expr_iter_next(iter) == NULL;
out:
	nftnl_expr_iter_destroy(iter);
	return ok;
}

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct read_ctx *ctx = data;
	struct nftnl_rule *rule = nftnl_rule_alloc();
	int r = MNL_CB_ERROR;

	if (!rule) {
		errno = ENOMEM;
		return MNL_CB_ERROR;
	}
	if (nftnl_rule_nlmsg_parse(nlh, rule) < 0) {
		errno = EPROTO;
		goto out;
	}
	if (ctx->n_rules >= (size_t)ctx->plan->n_maps ||
	    !rule_matches(rule, (enum nft_map)ctx->n_rules, ctx->plan->uplinks_wanted))
		ctx->plan->rules_ok = false;
	ctx->n_rules++;
	r = MNL_CB_OK;
out:
	nftnl_rule_free(rule);
	return r;
}

static bool set_matches(const struct nftnl_set *set, enum nft_map map)
{
	const struct map_spec *spec = &map_specs[map];

	return nftnl_set_get_u32(set, NFTNL_SET_FLAGS) == (NFT_SET_INTERVAL | NFT_SET_OBJECT) &&
	       nftnl_set_get_u32(set, NFTNL_SET_KEY_TYPE) == spec->key_type &&
	       nftnl_set_get_u32(set, NFTNL_SET_KEY_LEN) == spec->key_len &&
	       nftnl_set_get_u32(set, NFTNL_SET_OBJ_TYPE) == NFT_OBJECT_COUNTER &&
	       !nftnl_set_is_set(set, NFTNL_SET_TIMEOUT) &&
	       !nftnl_set_is_set(set, NFTNL_SET_EXPR) &&
	       !nftnl_set_is_set(set, NFTNL_SET_EXPRESSIONS);
}

static bool uplinks_set_matches(const struct nftnl_set *set)
{
	return nftnl_set_get_u32(set, NFTNL_SET_FLAGS) == 0 &&
	       nftnl_set_get_u32(set, NFTNL_SET_KEY_TYPE) == NFT_TYPE_IFNAME &&
	       nftnl_set_get_u32(set, NFTNL_SET_KEY_LEN) == NFT_IFNAME_LEN &&
	       !nftnl_set_is_set(set, NFTNL_SET_DATA_TYPE) &&
	       !nftnl_set_is_set(set, NFTNL_SET_TIMEOUT) &&
	       !nftnl_set_is_set(set, NFTNL_SET_EXPR) &&
	       !nftnl_set_is_set(set, NFTNL_SET_EXPRESSIONS);
}

static int set_cb(const struct nlmsghdr *nlh, void *data)
{
	struct read_ctx *ctx = data;
	struct nftnl_set *set = nftnl_set_alloc();
	const char *name;
	int r = MNL_CB_ERROR;

	if (!set) {
		errno = ENOMEM;
		return MNL_CB_ERROR;
	}
	if (nftnl_set_nlmsg_parse(nlh, set) < 0) {
		errno = EPROTO;
		goto out;
	}
	name = nftnl_set_get_str(set, NFTNL_SET_NAME);
	r = MNL_CB_OK;
	/* Anonymous sets belong to the rule that uses them. */
	if (!name || (nftnl_set_get_u32(set, NFTNL_SET_FLAGS) & NFT_SET_ANONYMOUS))
		goto out;
	ctx->plan->n_sets++;
	if (strcmp(name, NFT_UPLINKS_SET) == 0) {
		ctx->plan->uplinks_exists = true;
		ctx->plan->uplinks_stale = !uplinks_set_matches(set);
		goto out;
	}
	for (int map = 0; map < NFT_MAP_COUNT; map++) {
		if (strcmp(name, nft_map_names[map]) != 0)
			continue;
		ctx->plan->map_exists[map] = true;
		ctx->plan->map_stale[map] = !set_matches(set, (enum nft_map)map);
		goto out;
	}
	ctx->error = names_add(&ctx->plan->stray_sets, name);
	if (ctx->error < 0) {
		errno = -ctx->error;
		r = MNL_CB_ERROR;
	}
out:
	nftnl_set_free(set);
	return r;
}

static void restart_tables(void *data)
{
	struct read_ctx *ctx = data;

	names_clear(&ctx->plan->shards);
	ctx->plan->table_exists = false;
}

static void restart_chains(void *data)
{
	struct read_ctx *ctx = data;

	names_clear(&ctx->plan->stray_chains);
	ctx->plan->chain_exists = false;
	ctx->plan->n_chains = 0;
}

static void restart_rules(void *data)
{
	struct read_ctx *ctx = data;

	ctx->n_rules = 0;
	ctx->plan->rules_ok = true;
}

static void restart_sets(void *data)
{
	struct read_ctx *ctx = data;

	names_clear(&ctx->plan->stray_sets);
	memset(ctx->plan->map_exists, 0, sizeof(ctx->plan->map_exists));
	ctx->plan->uplinks_exists = false;
	ctx->plan->n_sets = 0;
}

int nft_plan_read(struct nft *nft, int n_maps, struct nft_plan *ret_plan)
{
	struct nft_plan plan = { .n_maps = n_maps,
				 .uplinks_wanted = n_maps > NFT_MAP_INTERNET_COUNT };
	struct read_ctx ctx = { .nft = nft, .plan = &plan };
	struct nft_query query = { .family = NFPROTO_INET, .table = nft->table };
	int r;

	query.type = NFT_MSG_GETTABLE;
	r = nft_nl_dump(nft, &query, table_cb, &ctx, restart_tables);
	if (r < 0 || !plan.table_exists)
		goto out;

	query.type = NFT_MSG_GETCHAIN;
	r = nft_nl_dump(nft, &query, chain_cb, &ctx, restart_chains);
	if (r < 0)
		goto out;

	plan.rules_ok = plan.chain_exists && !plan.chain_stale;
	if (plan.rules_ok) {
		query.type = NFT_MSG_GETRULE;
		query.name = NFT_CHAIN_NAME;
		r = nft_nl_dump(nft, &query, rule_cb, &ctx, restart_rules);
		query.name = NULL;
		if (r < 0)
			goto out;
		if (ctx.n_rules != (size_t)plan.n_maps)
			plan.rules_ok = false;
	}

	query.type = NFT_MSG_GETSET;
	r = nft_nl_dump(nft, &query, set_cb, &ctx, restart_sets);
	if (r < 0)
		goto out;
	for (int map = 0; map < plan.n_maps; map++)
		if (!plan.map_exists[map] || plan.map_stale[map])
			plan.rules_ok = false;
	if (plan.uplinks_wanted && (!plan.uplinks_exists || plan.uplinks_stale))
		plan.rules_ok = false;
out:
	if (r < 0) {
		nft_plan_clear(&plan);
		return r;
	}
	*ret_plan = plan;
	return 0;
}

static int put_table(struct nft_batch *batch, const char *name, uint16_t type, uint16_t flags)
{
	struct nftnl_table *table = nftnl_table_alloc();
	struct nlmsghdr *nlh;
	int r = -ENOMEM;

	if (!table)
		return -ENOMEM;
	if (nftnl_table_set_str(table, NFTNL_TABLE_NAME, name) < 0)
		goto out;
	/* No owner flag: the counters go on counting while the daemon is down. */
	if (type == NFT_MSG_NEWTABLE)
		nftnl_table_set_u32(table, NFTNL_TABLE_FLAGS, 0);
	nlh = nft_batch_msg(batch, type, flags);
	nftnl_table_nlmsg_build_payload(nlh, table);
	r = nft_batch_msg_end(batch);
out:
	nftnl_table_free(table);
	return r;
}

int nft_plan_put_tables(struct nft_batch *batch, const char *table, const struct nft_plan *plan)
{
	int r;

	for (size_t i = 0; i < plan->shards.n; i++) {
		r = put_table(batch, plan->shards.names[i], NFT_MSG_DELTABLE, 0);
		if (r < 0)
			return r;
	}
	if (!plan->table_exists || plan->table_flags != 0) {
		/* An update with flags 0 also wakes a dormant table. */
		r = put_table(batch, table, NFT_MSG_NEWTABLE, NLM_F_CREATE);
		if (r < 0)
			return r;
	}
	return 0;
}

static int put_chain(struct nft_batch *batch, const char *table, const char *name, uint16_t type)
{
	struct nftnl_chain *chain = nftnl_chain_alloc();
	struct nlmsghdr *nlh;
	int r = -ENOMEM;

	if (!chain)
		return -ENOMEM;
	if (nftnl_chain_set_str(chain, NFTNL_CHAIN_TABLE, table) < 0 ||
	    nftnl_chain_set_str(chain, NFTNL_CHAIN_NAME, name) < 0)
		goto out;
	if (type == NFT_MSG_NEWCHAIN) {
		if (nftnl_chain_set_str(chain, NFTNL_CHAIN_TYPE, "filter") < 0)
			goto out;
		nftnl_chain_set_u32(chain, NFTNL_CHAIN_HOOKNUM, NF_INET_FORWARD);
		nftnl_chain_set_s32(chain, NFTNL_CHAIN_PRIO, NFT_CHAIN_PRIORITY);
		nftnl_chain_set_u32(chain, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	}
	nlh = nft_batch_msg(batch, type, type == NFT_MSG_NEWCHAIN ? NLM_F_CREATE : 0);
	nftnl_chain_nlmsg_build_payload(nlh, chain);
	r = nft_batch_msg_end(batch);
out:
	nftnl_chain_free(chain);
	return r;
}

/* A DELRULE naming only the chain deletes all its rules. */
static int put_flush_chain(struct nft_batch *batch, const char *table, const char *chain)
{
	struct nlmsghdr *nlh = nft_batch_msg(batch, NFT_MSG_DELRULE, 0);

	mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, table);
	mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, chain);
	return nft_batch_msg_end(batch);
}

/* What a set is made with, as nft itself makes it, so that "nft list"
 * prints it as it would its own. */
struct set_desc {
	uint32_t flags;
	uint32_t key_type;
	uint32_t key_len;
	uint32_t obj_type;	/* NFT_OBJECT_UNSPEC: a set of keys only */
	uint32_t key_byteorder; /* NFT_UDATA_BYTEORDER_* */
	bool data_interval;
};

/* The uplinks set: interface names, as "type ifname" makes it. */
static const struct set_desc uplinks_set_desc = {
	.flags = 0,
	.key_type = NFT_TYPE_IFNAME,
	.key_len = NFT_IFNAME_LEN,
	.obj_type = NFT_OBJECT_UNSPEC,
	.key_byteorder = NFT_UDATA_BYTEORDER_HOST,
	.data_interval = false,
};

/* An address map: address ranges to counters. */
static struct set_desc map_set_desc(int map)
{
	return (struct set_desc){
		.flags = NFT_SET_INTERVAL | NFT_SET_OBJECT,
		.key_type = map_specs[map].key_type,
		.key_len = map_specs[map].key_len,
		.obj_type = NFT_OBJECT_COUNTER,
		.key_byteorder = NFT_UDATA_BYTEORDER_BIG,
		.data_interval = true,
	};
}

/* NFT_MSG_NEWSET makes the set as desc says; NFT_MSG_DELSET deletes it by
 * name (desc may be NULL). */
static int put_set(struct nft_batch *batch, const char *table, const char *name,
		   const struct set_desc *desc, uint16_t type, uint32_t set_id)
{
	struct nftnl_udata_buf *udata = NULL;
	struct nftnl_set *set = nftnl_set_alloc();
	struct nlmsghdr *nlh;
	int r = -ENOMEM;

	if (!set)
		return -ENOMEM;
	if (nftnl_set_set_str(set, NFTNL_SET_TABLE, table) < 0 ||
	    nftnl_set_set_str(set, NFTNL_SET_NAME, name) < 0)
		goto out;
	if (type == NFT_MSG_NEWSET) {
		nftnl_set_set_u32(set, NFTNL_SET_FLAGS, desc->flags);
		nftnl_set_set_u32(set, NFTNL_SET_KEY_TYPE, desc->key_type);
		nftnl_set_set_u32(set, NFTNL_SET_KEY_LEN, desc->key_len);
		if (desc->obj_type != NFT_OBJECT_UNSPEC)
			nftnl_set_set_u32(set, NFTNL_SET_OBJ_TYPE, desc->obj_type);
		nftnl_set_set_u32(set, NFTNL_SET_ID, set_id);
		udata = nftnl_udata_buf_alloc(64);
		if (!udata ||
		    !nftnl_udata_put_u32(udata, NFTNL_UDATA_SET_KEYBYTEORDER,
					 desc->key_byteorder) ||
		    (desc->data_interval &&
		     !nftnl_udata_put_u32(udata, NFTNL_UDATA_SET_DATA_INTERVAL, 0)) ||
		    nftnl_set_set_data(set, NFTNL_SET_USERDATA, nftnl_udata_buf_data(udata),
				       nftnl_udata_buf_len(udata)) < 0)
			goto out;
	}
	nlh = nft_batch_msg(batch, type, type == NFT_MSG_NEWSET ? NLM_F_CREATE : 0);
	nftnl_set_nlmsg_build_payload(nlh, set);
	r = nft_batch_msg_end(batch);
out:
	if (udata)
		nftnl_udata_buf_free(udata);
	nftnl_set_free(set);
	return r;
}

/* Rules first, then chains, then sets: the kernel refuses to delete what a
 * rule still uses. */
int nft_plan_put_removals(struct nft_batch *batch, const char *table, const struct nft_plan *plan)
{
	int r;

	if (!plan->table_exists)
		return 0;
	for (size_t i = 0; i < plan->stray_chains.n; i++) {
		r = put_flush_chain(batch, table, plan->stray_chains.names[i]);
		if (r < 0)
			return r;
	}
	if (plan->chain_exists && !plan->rules_ok) {
		r = put_flush_chain(batch, table, NFT_CHAIN_NAME);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < plan->stray_chains.n; i++) {
		r = put_chain(batch, table, plan->stray_chains.names[i], NFT_MSG_DELCHAIN);
		if (r < 0)
			return r;
	}
	if (plan->chain_exists && plan->chain_stale) {
		r = put_chain(batch, table, NFT_CHAIN_NAME, NFT_MSG_DELCHAIN);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < plan->stray_sets.n; i++) {
		r = put_set(batch, table, plan->stray_sets.names[i], NULL, NFT_MSG_DELSET, 0);
		if (r < 0)
			return r;
	}
	/* Stale maps, and the local ones when no uplink is configured: their
	 * elements first, which frees the counters they name. */
	for (int map = 0; map < NFT_MAP_COUNT; map++) {
		if (!plan->map_exists[map] || (!plan->map_stale[map] && map < plan->n_maps))
			continue;
		if (!plan->map_stale[map]) {
			r = nft_elements_flush(batch, table, (enum nft_map)map);
			if (r < 0)
				return r;
		}
		r = put_set(batch, table, nft_map_names[map], NULL, NFT_MSG_DELSET, 0);
		if (r < 0)
			return r;
	}
	if (plan->uplinks_exists && (plan->uplinks_stale || !plan->uplinks_wanted)) {
		r = put_set(batch, table, NFT_UPLINKS_SET, NULL, NFT_MSG_DELSET, 0);
		if (r < 0)
			return r;
	}
	return 0;
}

bool nft_plan_map_kept(const struct nft_plan *plan, enum nft_map map)
{
	return plan->table_exists && (int)map < plan->n_maps && plan->map_exists[map] &&
	       !plan->map_stale[map];
}

bool nft_plan_uplinks_kept(const struct nft_plan *plan)
{
	return plan->table_exists && plan->uplinks_wanted && plan->uplinks_exists &&
	       !plan->uplinks_stale;
}

int nft_plan_put_creations(struct nft_batch *batch, const char *table, struct nft_plan *plan)
{
	int r;

	if (!plan->chain_exists || plan->chain_stale) {
		r = put_chain(batch, table, NFT_CHAIN_NAME, NFT_MSG_NEWCHAIN);
		if (r < 0)
			return r;
	}
	for (int map = 0; map < plan->n_maps; map++) {
		const struct set_desc desc = map_set_desc(map);

		if (nft_plan_map_kept(plan, (enum nft_map)map))
			continue;
		plan->set_ids[map] = nft_batch_set_id(batch);
		r = put_set(batch, table, nft_map_names[map], &desc, NFT_MSG_NEWSET,
			    plan->set_ids[map]);
		if (r < 0)
			return r;
	}
	if (plan->uplinks_wanted && !nft_plan_uplinks_kept(plan)) {
		plan->uplinks_set_id = nft_batch_set_id(batch);
		r = put_set(batch, table, NFT_UPLINKS_SET, &uplinks_set_desc, NFT_MSG_NEWSET,
			    plan->uplinks_set_id);
		if (r < 0)
			return r;
	}
	return 0;
}

static int add_expr(struct nftnl_rule *rule, struct nftnl_expr *expr)
{
	if (!expr)
		return -ENOMEM;
	nftnl_rule_add_expr(rule, expr);
	return 0;
}

static int build_rule(struct nftnl_rule *rule, const char *table, enum nft_map map, uint32_t set_id,
		      bool uplinks, uint32_t uplinks_set_id)
{
	const struct map_spec *spec = &map_specs[map];
	struct nftnl_expr *expr;
	int r;

	if (nftnl_rule_set_str(rule, NFTNL_RULE_TABLE, table) < 0 ||
	    nftnl_rule_set_str(rule, NFTNL_RULE_CHAIN, NFT_CHAIN_NAME) < 0)
		return -ENOMEM;

	/* In an inet table the address loads need the family checked first. */
	expr = nftnl_expr_alloc("meta");
	r = add_expr(rule, expr);
	if (r < 0)
		return r;
	nftnl_expr_set_u32(expr, NFTNL_EXPR_META_KEY, NFT_META_NFPROTO);
	nftnl_expr_set_u32(expr, NFTNL_EXPR_META_DREG, NFT_REG_1);

	expr = nftnl_expr_alloc("cmp");
	r = add_expr(rule, expr);
	if (r < 0)
		return r;
	nftnl_expr_set_u32(expr, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(expr, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
	nftnl_expr_set_u8(expr, NFTNL_EXPR_CMP_DATA, spec->nfproto);

	/* "oifname @uplinks" for internet traffic from the household,
	 * "oifname != @uplinks" for local; iifname for traffic to it. */
	if (uplinks) {
		expr = nftnl_expr_alloc("meta");
		r = add_expr(rule, expr);
		if (r < 0)
			return r;
		nftnl_expr_set_u32(expr, NFTNL_EXPR_META_KEY, spec->iface_key);
		nftnl_expr_set_u32(expr, NFTNL_EXPR_META_DREG, NFT_REG_1);

		expr = nftnl_expr_alloc("lookup");
		r = add_expr(rule, expr);
		if (r < 0)
			return r;
		nftnl_expr_set_u32(expr, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
		if (nftnl_expr_set_str(expr, NFTNL_EXPR_LOOKUP_SET, NFT_UPLINKS_SET) < 0)
			return -ENOMEM;
		if (uplinks_set_id)
			nftnl_expr_set_u32(expr, NFTNL_EXPR_LOOKUP_SET_ID, uplinks_set_id);
		if (spec->local)
			nftnl_expr_set_u32(expr, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
	}

	expr = nftnl_expr_alloc("payload");
	r = add_expr(rule, expr);
	if (r < 0)
		return r;
	nftnl_expr_set_u32(expr, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_NETWORK_HEADER);
	nftnl_expr_set_u32(expr, NFTNL_EXPR_PAYLOAD_OFFSET, spec->offset);
	nftnl_expr_set_u32(expr, NFTNL_EXPR_PAYLOAD_LEN, spec->key_len);
	nftnl_expr_set_u32(expr, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);

	/* The counter named by the element the address falls in. */
	expr = nftnl_expr_alloc("objref");
	r = add_expr(rule, expr);
	if (r < 0)
		return r;
	nftnl_expr_set_u32(expr, NFTNL_EXPR_OBJREF_SET_SREG, NFT_REG_1);
	if (nftnl_expr_set_str(expr, NFTNL_EXPR_OBJREF_SET_NAME, nft_map_names[map]) < 0)
		return -ENOMEM;
	if (set_id)
		nftnl_expr_set_u32(expr, NFTNL_EXPR_OBJREF_SET_ID, set_id);
	return 0;
}

int nft_plan_put_rules(struct nft_batch *batch, const char *table, const struct nft_plan *plan)
{
	if (plan->rules_ok)
		return 0;
	for (int map = 0; map < plan->n_maps; map++) {
		struct nftnl_rule *rule = nftnl_rule_alloc();
		struct nlmsghdr *nlh;
		int r;

		if (!rule)
			return -ENOMEM;
		r = build_rule(rule, table, (enum nft_map)map, plan->set_ids[map],
			       plan->uplinks_wanted, plan->uplinks_set_id);
		if (r == 0) {
			nlh = nft_batch_msg(batch, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
			nftnl_rule_nlmsg_build_payload(nlh, rule);
			r = nft_batch_msg_end(batch);
		}
		nftnl_rule_free(rule);
		if (r < 0)
			return r;
	}
	return 0;
}

static int gen_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nlattr *attr;

	mnl_attr_for_each(attr, nlh, sizeof(struct nfgenmsg))
	{
		if (mnl_attr_get_type(attr) == NFTA_GEN_ID &&
		    mnl_attr_validate(attr, MNL_TYPE_U32) == 0) {
			*(uint32_t *)data = ntohl(mnl_attr_get_u32(attr));
			return MNL_CB_OK;
		}
	}
	errno = EPROTO;
	return MNL_CB_ERROR;
}

int nft_ruleset_genid(struct nft *nft, uint32_t *ret_genid)
{
	struct nft_query query = { .type = NFT_MSG_GETGEN, .family = NFPROTO_UNSPEC };
	uint32_t genid = 0;
	int r;

	r = nft_nl_get(nft, &query, gen_cb, &genid);
	if (r < 0)
		return r;
	*ret_genid = genid;
	return 0;
}

static int ignore_cb(const struct nlmsghdr *nlh, void *data)
{
	return MNL_CB_OK;
}

int nft_table_exists(struct nft *nft, bool *ret_exists)
{
	struct nft_query query = { .type = NFT_MSG_GETTABLE,
				   .family = NFPROTO_INET,
				   .name = nft->table };
	int r;

	r = nft_nl_get(nft, &query, ignore_cb, NULL);
	if (r < 0 && r != -ENOENT)
		return r;
	*ret_exists = r == 0;
	return 0;
}
