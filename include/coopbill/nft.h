/* The kernel side of metering: the daemon's own nftables tables (named by the
 * configured prefix, "coopbill" by default), with one named counter per
 * household and direction (and, with uplinks configured, per scope: internet
 * and local traffic), and interval maps from address ranges to those
 * counters, in a forward-hook chain. Spoken over netlink (libmnl + libnftnl);
 * nothing outside the daemon's tables is ever changed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coopbill/cidr.h"

struct nft;

enum nft_direction {
	NFT_UP,	  /* from the household: source address in its ranges */
	NFT_DOWN, /* to the household: destination address in its ranges */
};

enum nft_scope {
	NFT_INTERNET, /* through an uplink; all traffic when none is configured */
	NFT_LOCAL,    /* through the gateway without crossing an uplink */
};

/* The most uplink names ([meter] uplinks). */
#define NFT_UPLINKS_MAX 32
/* An interface name's most bytes, without the NUL (IFNAMSIZ - 1). */
#define NFT_IFNAME_MAX 15

struct nft_household {
	int64_t id;
	const struct cidr *addresses;
	size_t n_addresses;
};

struct nft_counter {
	int64_t household_id;
	enum nft_direction direction;
	uint64_t handle; /* the kernel's object handle: a new one means a new counter */
	uint64_t bytes;
	uint64_t packets;
	enum nft_scope scope;
};

/* Opens a netlink socket (receive buffer at least 64 KiB) for the tables whose
 * name is table_prefix (and its shards, if any). */
int nft_open(const char *table_prefix, struct nft **ret_nft);
void nft_free(struct nft *nft);

/* The uplinks' interface names: none (the default) counts all forwarded
 * traffic as internet traffic with two counters per household; with some,
 * each household also has two local counters. Takes effect on the table at
 * the next nft_reconcile(), which the caller runs next. */
int nft_set_uplinks(struct nft *nft, const char *const *names, size_t n_names);

/* Makes *reader, a handle with sockets of its own on nft's table (opened
 * when *reader is NULL), know the households nft knows now: for reading the
 * counters on another thread while nft goes on changing the table. */
int nft_reader_sync(const struct nft *nft, struct nft **reader);

/* Makes the kernel state match the households given (the active ones): creates
 * the tables, maps, chain and rules when missing, adds missing counters,
 * replaces map elements, and deletes counters of households not given.
 * Existing counters keep their values. Running it twice changes nothing. */
int nft_reconcile(struct nft *nft, const struct nft_household *households, size_t n_households);

/* Sets one household's address ranges, creating its counters when missing,
 * in one netlink batch: either all of it applies or none. */
int nft_household_set(struct nft *nft, const struct nft_household *household);

/* Removes one household's counters and map elements in one batch. */
int nft_household_remove(struct nft *nft, int64_t household_id);

/* Reads the absolute values of all the daemon's counters (never resetting
 * them): one dump per table, retried whole when the ruleset changed during
 * the dump. The caller frees *ret_counters. A missing table is not an error:
 * the result is then empty and *ret_table_missing is true. */
int nft_read_counters(struct nft *nft, struct nft_counter **ret_counters, size_t *ret_n_counters,
		      bool *ret_table_missing);

/* Whether the ruleset has any flowtable: offloaded flows bypass the forward
 * hook, so the counters would miss their traffic. */
int nft_flowtable_present(struct nft *nft, bool *ret_present);
