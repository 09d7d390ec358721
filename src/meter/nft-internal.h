/* Private to the meter's nftables code (src/meter/nft*.c): the handle, the
 * netlink plumbing (requests, dumps, batches), and the model of the address
 * ranges the daemon last wrote into its table. */
#pragma once

#include <libmnl/libmnl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coopbill/nft.h"

/* libmnl 1.0.5 defines it; Debian 12's 1.0.4 does not. The kernel builds dump
 * messages of up to 32 KiB and truncates them for a smaller buffer. */
#ifndef MNL_SOCKET_DUMP_SIZE
#define MNL_SOCKET_DUMP_SIZE 32768
#endif

#define NFT_TABLE_PREFIX_MAX 64
/* "ldown_" and 19 digits of an int64 and the NUL. */
#define NFT_OBJ_NAME_MAX 32
/* Address ranges of one household, after merging. */
#define NFT_RANGES_MAX 1024

/* A household's counters: kind = 2 * scope + direction. Without uplinks
 * only the first two (internet up and down) exist. */
#define NFT_KINDS		   4
#define NFT_KIND(scope, direction) (2 * (unsigned)(scope) + (unsigned)(direction))

/* The maps: the internet ones first (the only ones without uplinks), then
 * the local ones, which hold the same ranges. */
enum nft_map {
	NFT_MAP_UP4,
	NFT_MAP_DOWN4,
	NFT_MAP_UP6,
	NFT_MAP_DOWN6,
	NFT_MAP_LUP4,
	NFT_MAP_LDOWN4,
	NFT_MAP_LUP6,
	NFT_MAP_LDOWN6,
	NFT_MAP_COUNT,
};
#define NFT_MAP_INTERNET_COUNT 4

/* The named set of the uplinks' interface names. */
#define NFT_UPLINKS_SET "uplinks"

/* One address range, inclusive, big endian; IPv4 uses the first 4 bytes. */
struct nft_range {
	int family;
	uint8_t first[16];
	uint8_t last[16];
	bool open_end;	    /* no interval-end element: runs to the top */
	uint8_t directions; /* in which maps: 1 << NFT_KIND(scope, direction) */
};

/* A household's ranges are in all its maps. */
#define NFT_BOTH_DIRECTIONS ((1 << NFT_KINDS) - 1)

/* A household as the daemon last wrote it: its merged, sorted ranges. */
struct nft_entry {
	int64_t id;
	struct nft_range *ranges;
	size_t n_ranges;
};

/* The households in the kernel table, sorted by id. Valid after a reconcile
 * or after loading it from the kernel; each committed batch keeps it so. */
struct nft_model {
	struct nft_entry *entries;
	size_t n_entries;
	size_t cap;
	bool valid;
};

struct nft {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	int rcvbuf_bytes;
	int sndbuf_bytes;
	uint8_t *rx;
	size_t rx_size;
	char table[NFT_TABLE_PREFIX_MAX + 1];
	struct nft_model model;
	/* The configured uplinks; with none, households have two counters. */
	char uplinks[NFT_UPLINKS_MAX][NFT_IFNAME_MAX + 1];
	size_t n_uplinks;
};

/* Counters per household: 4 with uplinks, else 2. */
static inline unsigned nft_kinds(const struct nft *nft)
{
	return nft->n_uplinks ? NFT_KINDS : 2;
}

/* Maps in use: 8 with uplinks, else the 4 internet ones. */
static inline int nft_maps(const struct nft *nft)
{
	return nft->n_uplinks ? NFT_MAP_COUNT : NFT_MAP_INTERNET_COUNT;
}

/* nft-netlink.c: one socket, sequence numbers, and three ways to talk. */
int nft_nl_open(struct nft *nft);
void nft_nl_close(struct nft *nft);
uint32_t nft_nl_next_seq(struct nft *nft, uint32_t count);
int nft_nl_ensure_rcvbuf(struct nft *nft, size_t bytes);

/* What a GET request or a dump asks for; unset fields are not sent. */
struct nft_query {
	uint16_t type; /* NFT_MSG_GET* */
	uint16_t family;
	const char *table;
	const char *name; /* the table, chain, set or object asked for */
	uint32_t obj_type;
};

struct nlmsghdr *nft_nl_put_query(char *buf, const struct nft_query *query, uint16_t flags,
				  uint32_t seq);
int nft_nl_get(struct nft *nft, const struct nft_query *query, mnl_cb_t cb, void *data);
int nft_nl_dump(struct nft *nft, const struct nft_query *query, mnl_cb_t cb, void *data,
		void (*restart)(void *data));

/* A batch: every message asks for an ACK, and the kernel applies all of it or
 * none of it. With genid, the kernel refuses the batch (-ERESTART) when the
 * ruleset changed since that generation was read. */
struct nft_batch;
int nft_batch_new(struct nft *nft, uint32_t genid, struct nft_batch **ret_batch);
void nft_batch_free(struct nft_batch *batch);
struct nlmsghdr *nft_batch_msg(struct nft_batch *batch, uint16_t type, uint16_t flags);
int nft_batch_msg_end(struct nft_batch *batch);
size_t nft_batch_msg_room(const struct nft_batch *batch, const struct nlmsghdr *nlh);
uint32_t nft_batch_set_id(struct nft_batch *batch);
int nft_batch_commit(struct nft *nft, struct nft_batch *batch);

/* nft-ruleset.c: the table, chain, maps and rules. */
extern const char *const nft_map_names[NFT_MAP_COUNT];

struct nft_names {
	char **names;
	size_t n;
};

/* What the kernel has of the fixed part, and so what to change. */
struct nft_plan {
	bool table_exists;
	uint32_t table_flags;
	/* The kernel's count of the table's chains, named sets and objects. */
	uint32_t table_use;
	uint32_t n_chains;
	uint32_t n_sets;
	struct nft_names shards; /* "<prefix>_<n>" tables, deleted */
	struct nft_names stray_chains;
	struct nft_names stray_sets;
	bool chain_exists;
	bool chain_stale; /* exists but differs: rebuilt */
	bool rules_ok;	  /* exactly the rules wanted (one per map in use), in order */
	bool map_exists[NFT_MAP_COUNT];
	bool map_stale[NFT_MAP_COUNT];
	uint32_t set_ids[NFT_MAP_COUNT]; /* of maps created in the batch */
	/* What the plan is for: maps in use (nft_maps()), and whether with an
	 * uplinks set. */
	int n_maps;
	bool uplinks_wanted;
	bool uplinks_exists;
	bool uplinks_stale;
	uint32_t uplinks_set_id; /* created in the batch */
};

/* n_maps: the maps in use, nft_maps(nft). */
int nft_plan_read(struct nft *nft, int n_maps, struct nft_plan *ret_plan);
void nft_plan_clear(struct nft_plan *plan);
bool nft_plan_map_kept(const struct nft_plan *plan, enum nft_map map);
/* Whether the uplinks set is there to keep (its elements are replaced). */
bool nft_plan_uplinks_kept(const struct nft_plan *plan);
int nft_plan_put_tables(struct nft_batch *batch, const char *table, const struct nft_plan *plan);
int nft_plan_put_removals(struct nft_batch *batch, const char *table, const struct nft_plan *plan);
int nft_plan_put_creations(struct nft_batch *batch, const char *table, struct nft_plan *plan);
int nft_plan_put_rules(struct nft_batch *batch, const char *table, const struct nft_plan *plan);
int nft_ruleset_genid(struct nft *nft, uint32_t *ret_genid);
int nft_table_exists(struct nft *nft, bool *ret_exists);

/* nft-elements.c: ranges, the model, and map elements. */
int nft_ranges_normalise(const struct nft_household *household, struct nft_range **ret_ranges,
			 size_t *ret_n_ranges);
void nft_model_clear(struct nft_model *model);
struct nft_entry *nft_model_find(const struct nft_model *model, int64_t id);
int nft_model_put(struct nft_model *model, int64_t id, struct nft_range *ranges, size_t n_ranges);
void nft_model_drop(struct nft_model *model, int64_t id);
int nft_model_build(const struct nft_household *households, size_t n_households,
		    struct nft_model *ret_model);
int nft_model_load(struct nft *nft, struct nft_model *ret_model);
int nft_elements_flush(struct nft_batch *batch, const char *table, enum nft_map map);
int nft_elements_add(struct nft_batch *batch, const char *table, enum nft_map map, uint32_t set_id,
		     const struct nft_entry *entries, size_t n_entries);
int nft_elements_delete(struct nft_batch *batch, const char *table, enum nft_map map,
			const struct nft_entry *entry);
/* Empties the uplinks set and fills it with nft's uplinks. */
int nft_uplinks_put(struct nft_batch *batch, const struct nft *nft, bool flush, uint32_t set_id);

/* nft-counters.c: counter names, creating and deleting counters, reading them. */
/* "up_<id>", "down_<id>" (internet), "lup_<id>", "ldown_<id>" (local). */
void nft_counter_name(int64_t id, unsigned kind, char ret_name[NFT_OBJ_NAME_MAX]);
bool nft_counter_name_parse(const char *name, int64_t *ret_id, unsigned *ret_kind);
int nft_counter_add(struct nft_batch *batch, const char *table, int64_t id, unsigned kind);
int nft_counter_delete(struct nft_batch *batch, const char *table, int64_t id, unsigned kind);
int nft_object_delete(struct nft_batch *batch, const char *table, uint32_t obj_type,
		      uint64_t handle);

/* A counter or other object in the table, as a dump shows it. */
struct nft_object {
	uint32_t type;
	uint64_t handle;
	bool ours; /* a counter named like ours; id and kind then hold */
	int64_t id;
	unsigned kind;
	uint64_t bytes;
	uint64_t packets;
};

int nft_objects_dump(struct nft *nft, uint32_t obj_type, struct nft_object **ret_objects,
		     size_t *ret_n_objects);
int nft_counters_get(struct nft *nft, const struct nft_entry *entries, size_t n_entries,
		     struct nft_counter **ret_counters, size_t *ret_n_counters);
/* Up to this many counters, reading them is one object dump. The kernel
 * walks the family's object list from its start for every dump message
 * (about 300 objects each), so a dump costs O(n^2): measured on Linux 6.18,
 * 20 ms for 20,000 counters, 300 ms for 100,000 and 3 s for 200,000.
 * Spreading them over tables does not help: the walk counts the objects of
 * every inet table, whichever table the dump asks for. Above it, counters
 * are read with pipelined GET requests, about 2 us each on one CPU and
 * spread over the CPUs: 430 ms for 200,000 on one, 230 ms on two. */
#define NFT_DUMP_MAX_COUNTERS 32768
/* Reads the counters of the model's households on two CPUs at once: a dump
 * from the start of the kernel's list (for at most NFT_DUMP_MAX_COUNTERS)
 * and pipelined GETs from the end; a counter that does not exist is left
 * out. */
int nft_counters_split_read(struct nft *nft, struct nft_counter **ret_counters,
			    size_t *ret_n_counters);
