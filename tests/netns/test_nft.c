/* The meter's nftables table, against the real kernel: in a fresh network
 * namespace of its own (skipped when not root), checked through the module's
 * own reads and through the nft command line. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "coopbill/cidr.h"
#include "coopbill/nft.h"

#define MAX_ADDRESSES 4

struct test_household {
	int64_t id;
	const char *addresses[MAX_ADDRESSES];
};

struct households {
	struct nft_household *list;
	struct cidr *cidrs;
	size_t n;
};

static void sh(const char *format, ...)
{
	char command[512];
	va_list args;

	va_start(args, format);
	vsnprintf(command, sizeof(command), format, args);
	va_end(args);
	if (system(command) != 0)
		fail_msg("command failed: %s", command);
}

/* "nft -j <args>", parsed. */
static json_t *nft_json(const char *args)
{
	char command[256], *text = NULL;
	size_t size = 0, len = 0;
	json_error_t error;
	json_t *json;
	FILE *pipe;

	snprintf(command, sizeof(command), "nft -j %s", args);
	pipe = popen(command, "r");
	assert_non_null(pipe);
	for (;;) {
		size_t n;

		if (len + 65536 > size) {
			size = size ? 2 * size : 1 << 20;
			text = realloc(text, size);
			assert_non_null(text);
		}
		n = fread(text + len, 1, size - len - 1, pipe);
		if (n == 0)
			break;
		len += n;
	}
	assert_int_equal(pclose(pipe), 0);
	text[len] = '\0';
	json = json_loads(text, 0, &error);
	if (!json)
		fail_msg("nft -j %s: %s", args, error.text);
	free(text);
	return json;
}

/* The object of that kind ("counter", "map", "chain", "table") and name. */
static json_t *json_find(json_t *json, const char *kind, const char *name)
{
	json_t *item;
	size_t i;

	json_array_foreach(json_object_get(json, "nftables"), i, item)
	{
		json_t *obj = json_object_get(item, kind);
		const char *obj_name = json_string_value(json_object_get(obj, "name"));

		if (obj && (!name || (obj_name && strcmp(obj_name, name) == 0)))
			return obj;
	}
	return NULL;
}

static size_t json_count(json_t *json, const char *kind)
{
	size_t i, n = 0;
	json_t *item;

	json_array_foreach(json_object_get(json, "nftables"), i, item)
	{
		if (json_object_get(item, kind))
			n++;
	}
	return n;
}

/* The counter a map element names for address/len ("10.0.1.0", 24), or NULL. */
static const char *map_owner(json_t *json, const char *map, const char *addr, int len)
{
	json_t *elems = json_object_get(json_find(json, "map", map), "elem");
	json_t *elem;
	size_t i;

	json_array_foreach(elems, i, elem)
	{
		json_t *key = json_array_get(elem, 0);
		json_t *prefix = json_object_get(key, "prefix");
		const char *key_addr;
		int key_len;

		if (prefix) {
			key_addr = json_string_value(json_object_get(prefix, "addr"));
			key_len = (int)json_integer_value(json_object_get(prefix, "len"));
		} else {
			key_addr = json_string_value(key);
			key_len = strchr(addr, ':') ? 128 : 32;
		}
		if (key_addr && strcmp(key_addr, addr) == 0 && key_len == len)
			return json_string_value(json_array_get(elem, 1));
	}
	return NULL;
}

static size_t map_size(json_t *json, const char *map)
{
	return json_array_size(json_object_get(json_find(json, "map", map), "elem"));
}

static json_t *list_table(void)
{
	return nft_json("list table inet coopbill");
}

static void households_make(struct households *hh, const struct test_household *spec, size_t n)
{
	hh->list = calloc(n, sizeof(*hh->list));
	hh->cidrs = calloc(n * MAX_ADDRESSES, sizeof(*hh->cidrs));
	hh->n = n;
	assert_true(hh->list && hh->cidrs);
	for (size_t i = 0; i < n; i++) {
		struct cidr *cidrs = &hh->cidrs[i * MAX_ADDRESSES];
		size_t k = 0;

		while (k < MAX_ADDRESSES && spec[i].addresses[k]) {
			assert_int_equal(cidr_parse(spec[i].addresses[k], &cidrs[k], NULL), 0);
			k++;
		}
		hh->list[i] = (struct nft_household){ .id = spec[i].id,
						      .addresses = cidrs,
						      .n_addresses = k };
	}
}

static void households_free(struct households *hh)
{
	free(hh->list);
	free(hh->cidrs);
}

static void reconcile(struct nft *nft, const struct test_household *spec, size_t n)
{
	struct households hh;

	households_make(&hh, spec, n);
	assert_int_equal(nft_reconcile(nft, hh.list, hh.n), 0);
	households_free(&hh);
}

static int household_set(struct nft *nft, const struct test_household *spec)
{
	struct households hh;
	int r;

	households_make(&hh, spec, 1);
	r = nft_household_set(nft, hh.list);
	households_free(&hh);
	return r;
}

struct reading {
	struct nft_counter *counters;
	size_t n;
	bool table_missing;
};

static void read_counters(struct nft *nft, struct reading *reading)
{
	*reading = (struct reading){ 0 };
	assert_int_equal(
		nft_read_counters(nft, &reading->counters, &reading->n, &reading->table_missing),
		0);
}

static const struct nft_counter *find_counter(const struct reading *reading, int64_t id,
					      enum nft_direction direction)
{
	for (size_t i = 0; i < reading->n; i++) {
		if (reading->counters[i].household_id == id &&
		    reading->counters[i].direction == direction)
			return &reading->counters[i];
	}
	return NULL;
}

static uint64_t handle_of(const struct reading *reading, int64_t id, enum nft_direction direction)
{
	const struct nft_counter *counter = find_counter(reading, id, direction);

	if (!counter)
		fail_msg("no counter for household %" PRId64, id);
	return counter ? counter->handle : 0;
}

static int setup(void **state)
{
	struct nft *nft;

	/* The namespace is the test's own: this empties only its ruleset. */
	if (system("nft flush ruleset") != 0)
		return -1;
	if (nft_open("coopbill", &nft) < 0)
		return -1;
	*state = nft;
	return 0;
}

static int teardown(void **state)
{
	nft_free(*state);
	return 0;
}

static const struct test_household three[] = {
	{ 1, { "10.0.1.0/24", "2001:db8:1::/56" } },
	{ 2, { "10.0.2.0/24", "10.0.3.7" } },
	{ 3, { NULL } },
};

static void test_reconcile_creates_everything(void **state)
{
	struct nft *nft = *state;
	struct reading reading;
	json_t *json, *chain;

	reconcile(nft, three, 3);

	read_counters(nft, &reading);
	assert_false(reading.table_missing);
	assert_int_equal(reading.n, 6);
	for (int64_t id = 1; id <= 3; id++) {
		assert_non_null(find_counter(&reading, id, NFT_UP));
		assert_non_null(find_counter(&reading, id, NFT_DOWN));
	}
	free(reading.counters);

	json = list_table();
	assert_int_equal(json_count(json, "counter"), 6);
	assert_non_null(json_find(json, "counter", "up_3"));
	assert_non_null(json_find(json, "counter", "down_3"));
	assert_string_equal(map_owner(json, "up4", "10.0.1.0", 24), "up_1");
	assert_string_equal(map_owner(json, "down4", "10.0.1.0", 24), "down_1");
	assert_string_equal(map_owner(json, "up4", "10.0.2.0", 24), "up_2");
	assert_string_equal(map_owner(json, "down4", "10.0.3.7", 32), "down_2");
	assert_string_equal(map_owner(json, "up6", "2001:db8:1::", 56), "up_1");
	assert_string_equal(map_owner(json, "down6", "2001:db8:1::", 56), "down_1");
	assert_int_equal(map_size(json, "up4"), 3);
	assert_int_equal(map_size(json, "up6"), 1);
	chain = json_find(json, "chain", "forward");
	assert_non_null(chain);
	assert_string_equal(json_string_value(json_object_get(chain, "hook")), "forward");
	assert_int_equal(json_integer_value(json_object_get(chain, "prio")), 100);
	assert_string_equal(json_string_value(json_object_get(chain, "policy")), "accept");
	assert_int_equal(json_count(json, "rule"), 4);
	json_decref(json);

	/* What an operator sees. */
	assert_int_equal(system("nft list table inet coopbill | grep -q "
				"'counter name ip saddr map @up4'"),
			 0);
	assert_int_equal(system("nft list table inet coopbill | grep -q "
				"'counter name ip6 daddr map @down6'"),
			 0);
}

static void test_reconcile_twice_changes_nothing(void **state)
{
	struct nft *nft = *state;
	struct reading first, second;
	json_t *before, *after;

	reconcile(nft, three, 3);
	read_counters(nft, &first);
	before = list_table();

	reconcile(nft, three, 3);
	read_counters(nft, &second);
	after = list_table();

	assert_int_equal(first.n, second.n);
	for (size_t i = 0; i < first.n; i++) {
		const struct nft_counter *c = &first.counters[i];

		assert_int_equal(handle_of(&second, c->household_id, c->direction), c->handle);
	}
	/* Same table, chain, maps, rules, elements and handles. */
	assert_true(json_equal(before, after));
	free(first.counters);
	free(second.counters);
	json_decref(before);
	json_decref(after);
}

static void test_household_set_replaces_elements(void **state)
{
	struct nft *nft = *state;
	const struct test_household moved = { 1, { "10.0.5.0/24", "2001:db8:5::/64" } };
	/* Adjacent addresses stay apart; overlapping ranges merge. */
	const struct test_household added = {
		4, { "10.0.4.10", "10.0.4.11", "10.0.6.0/24", "10.0.6.128/25" }
	};
	struct reading before, after;
	json_t *json;

	reconcile(nft, three, 3);
	read_counters(nft, &before);

	assert_int_equal(household_set(nft, &moved), 0);
	assert_int_equal(household_set(nft, &added), 0);
	read_counters(nft, &after);
	assert_int_equal(after.n, 8);
	assert_int_equal(handle_of(&after, 1, NFT_UP), handle_of(&before, 1, NFT_UP));
	assert_int_equal(handle_of(&after, 1, NFT_DOWN), handle_of(&before, 1, NFT_DOWN));
	assert_non_null(find_counter(&after, 4, NFT_UP));

	json = list_table();
	assert_null(map_owner(json, "up4", "10.0.1.0", 24));
	assert_null(map_owner(json, "up6", "2001:db8:1::", 56));
	assert_string_equal(map_owner(json, "up4", "10.0.5.0", 24), "up_1");
	assert_string_equal(map_owner(json, "down6", "2001:db8:5::", 64), "down_1");
	assert_string_equal(map_owner(json, "up4", "10.0.4.10", 32), "up_4");
	assert_string_equal(map_owner(json, "down4", "10.0.4.11", 32), "down_4");
	assert_string_equal(map_owner(json, "up4", "10.0.6.0", 24), "up_4");
	assert_null(map_owner(json, "up4", "10.0.6.128", 25));
	assert_string_equal(map_owner(json, "up4", "10.0.2.0", 24), "up_2");
	json_decref(json);
	free(before.counters);
	free(after.counters);
}

static void test_overlap_is_refused(void **state)
{
	struct nft *nft = *state;
	const struct test_household overlaps[] = {
		{ 2, { "10.0.1.128/25" } },	 /* inside household 1's range */
		{ 2, { "10.0.1.0/24" } },	 /* the same range */
		{ 2, { "10.0.0.0/16" } },	 /* around it */
		{ 2, { "10.0.0.0/23" } },	 /* across its start */
		{ 2, { "2001:db8:1:80::/64" } }, /* inside its IPv6 prefix */
		{ 5, { "10.0.1.7" } },		 /* a new household */
	};
	json_t *before, *after;

	reconcile(nft, three, 3);
	before = list_table();
	for (size_t i = 0; i < sizeof(overlaps) / sizeof(overlaps[0]); i++) {
		int r = household_set(nft, &overlaps[i]);

		if (r >= 0)
			fail_msg("overlap %s was accepted", overlaps[i].addresses[0]);
		after = list_table();
		assert_true(json_equal(before, after));
		json_decref(after);
	}
	json_decref(before);

	/* A range up to the last address could not be checked by the kernel. */
	const struct test_household everything = { 2, { "0.0.0.0/0" } };
	const struct test_household top = { 2, { "ff00::/8" } };
	assert_int_equal(household_set(nft, &everything), -ERANGE);
	assert_int_equal(household_set(nft, &top), -ERANGE);

	/* Adjacent is not overlapping. */
	const struct test_household adjacent = { 2, { "10.0.0.0/24", "10.0.2.0/24" } };
	assert_int_equal(household_set(nft, &adjacent), 0);
	after = list_table();
	assert_string_equal(map_owner(after, "up4", "10.0.0.0", 24), "up_2");
	assert_string_equal(map_owner(after, "up4", "10.0.1.0", 24), "up_1");
	json_decref(after);
}

static void test_remove_deletes_counters_and_elements(void **state)
{
	struct nft *nft = *state;
	struct reading reading;
	json_t *json;

	reconcile(nft, three, 3);
	assert_int_equal(nft_household_remove(nft, 1), 0);
	assert_int_equal(nft_household_remove(nft, 3), 0);
	assert_int_equal(nft_household_remove(nft, 3), -ENOENT);

	read_counters(nft, &reading);
	assert_int_equal(reading.n, 2);
	assert_null(find_counter(&reading, 1, NFT_UP));
	assert_null(find_counter(&reading, 3, NFT_DOWN));
	free(reading.counters);

	json = list_table();
	assert_null(json_find(json, "counter", "up_1"));
	assert_null(json_find(json, "counter", "down_1"));
	assert_null(map_owner(json, "up4", "10.0.1.0", 24));
	assert_int_equal(map_size(json, "up6"), 0);
	assert_string_equal(map_owner(json, "up4", "10.0.2.0", 24), "up_2");
	json_decref(json);
}

static void test_other_tables_untouched(void **state)
{
	struct nft *nft = *state;
	json_t *before, *after;

	sh("nft add table inet other && nft add counter inet other c1");
	sh("nft add table inet coopbill_x && nft add counter inet coopbill_x c2");
	sh("nft add table ip coopbill && nft add counter ip coopbill up_1");
	/* A shard of the daemon's own (an earlier layout): removed. */
	sh("nft add table inet coopbill_3 && nft add counter inet coopbill_3 up_1");
	before = nft_json("list ruleset");

	reconcile(nft, three, 3);
	reconcile(nft, three, 3);

	after = nft_json("list table inet other");
	assert_true(
		json_equal(json_find(before, "counter", "c1"), json_find(after, "counter", "c1")));
	json_decref(after);
	assert_int_equal(system("nft list counter inet coopbill_x c2 >/dev/null"), 0);
	assert_int_equal(system("nft list counter ip coopbill up_1 >/dev/null"), 0);
	assert_int_not_equal(system("nft list table inet coopbill_3 >/dev/null 2>&1"), 0);
	json_decref(before);
}

static void test_edits_are_repaired(void **state)
{
	struct nft *nft = *state;
	struct reading before, after;
	json_t *json;

	reconcile(nft, three, 3);
	read_counters(nft, &before);
	sh("nft add rule inet coopbill forward counter");
	sh("nft add counter inet coopbill stray");
	sh("nft add counter inet coopbill up_77");
	sh("nft add quota inet coopbill q { over 1 mbytes }");
	sh("nft add set inet coopbill s { type ipv4_addr\\; }");
	sh("nft add chain inet coopbill extra");
	sh("nft add rule inet coopbill extra ip saddr @s counter name stray");
	sh("nft add element inet coopbill up4 { 192.168.0.0/16 : \"up_77\" }");

	reconcile(nft, three, 3);
	read_counters(nft, &after);
	assert_int_equal(after.n, 6);
	for (size_t i = 0; i < before.n; i++) {
		const struct nft_counter *c = &before.counters[i];

		assert_int_equal(handle_of(&after, c->household_id, c->direction), c->handle);
	}
	json = list_table();
	assert_int_equal(json_count(json, "counter"), 6);
	assert_int_equal(json_count(json, "rule"), 4);
	assert_int_equal(json_count(json, "chain"), 1);
	assert_int_equal(json_count(json, "set"), 0);
	assert_int_equal(json_count(json, "quota"), 0);
	assert_null(map_owner(json, "up4", "192.168.0.0", 16));
	json_decref(json);

	/* A chain at another priority is rebuilt. */
	sh("nft flush chain inet coopbill forward && nft delete chain inet coopbill forward");
	sh("nft add chain inet coopbill forward '{ type filter hook forward priority 0; }'");
	reconcile(nft, three, 3);
	json = list_table();
	assert_int_equal(
		json_integer_value(json_object_get(json_find(json, "chain", "forward"), "prio")),
		100);
	assert_int_equal(json_count(json, "rule"), 4);
	json_decref(json);
	free(before.counters);
	free(after.counters);
}

static void test_missing_table(void **state)
{
	struct nft *nft = *state;
	struct reading reading;

	read_counters(nft, &reading);
	assert_true(reading.table_missing);
	assert_int_equal(reading.n, 0);
	free(reading.counters);
}

static void test_values_match_nft(void **state)
{
	struct nft *nft = *state;
	struct reading reading;
	json_t *json, *item;
	size_t i, n = 0;

	reconcile(nft, three, 3);
	read_counters(nft, &reading);
	json = nft_json("list counters table inet coopbill");
	json_array_foreach(json_object_get(json, "nftables"), i, item)
	{
		json_t *counter = json_object_get(item, "counter");
		const char *name = json_string_value(json_object_get(counter, "name"));
		enum nft_direction direction;
		const struct nft_counter *ours;
		int64_t id;

		if (!counter)
			continue;
		direction = strncmp(name, "up_", 3) == 0 ? NFT_UP : NFT_DOWN;
		id = strtoll(strchr(name, '_') + 1, NULL, 10);
		ours = find_counter(&reading, id, direction);
		if (!ours) {
			fail_msg("nft lists %s, the module does not", name);
			continue;
		}
		assert_int_equal(ours->handle,
				 json_integer_value(json_object_get(counter, "handle")));
		assert_int_equal(ours->bytes,
				 json_integer_value(json_object_get(counter, "bytes")));
		assert_int_equal(ours->packets,
				 json_integer_value(json_object_get(counter, "packets")));
		n++;
	}
	assert_int_equal(n, reading.n);
	json_decref(json);
	free(reading.counters);
}

static void test_recreated_counter_has_new_handle(void **state)
{
	struct nft *nft = *state;
	struct reading before, after;

	reconcile(nft, three, 3);
	read_counters(nft, &before);
	/* Household 3 has no addresses, so no element holds its counter. */
	sh("nft delete counter inet coopbill up_3 && nft add counter inet coopbill up_3");
	read_counters(nft, &after);
	assert_int_not_equal(handle_of(&after, 3, NFT_UP), handle_of(&before, 3, NFT_UP));
	assert_int_equal(handle_of(&after, 3, NFT_DOWN), handle_of(&before, 3, NFT_DOWN));
	free(before.counters);
	free(after.counters);
}

static void test_fresh_handle_finds_the_table(void **state)
{
	struct nft *nft = *state, *fresh;
	const struct test_household moved = { 2, { "10.0.9.0/24" } };
	json_t *json;

	reconcile(nft, three, 3);
	/* A restarted daemon sets a household before any reconcile: it learns
	 * the elements from the kernel. */
	assert_int_equal(nft_open("coopbill", &fresh), 0);
	assert_int_equal(household_set(fresh, &moved), 0);
	assert_int_equal(nft_household_remove(fresh, 1), 0);
	json = list_table();
	assert_null(map_owner(json, "up4", "10.0.2.0", 24));
	assert_null(map_owner(json, "up4", "10.0.3.7", 32));
	assert_string_equal(map_owner(json, "up4", "10.0.9.0", 24), "up_2");
	assert_null(map_owner(json, "up4", "10.0.1.0", 24));
	assert_int_equal(map_size(json, "up6"), 0);
	json_decref(json);
	nft_free(fresh);
}

static void test_changes_behind_the_daemon(void **state)
{
	struct nft *nft = *state;
	const struct test_household moved = { 2, { "10.0.8.0/24" } };
	struct reading reading;
	json_t *json;

	reconcile(nft, three, 3);
	/* An element the daemon made is gone, another one it did not make
	 * holds household 3's counter: set and remove still do their job. */
	sh("nft delete element inet coopbill up4 '{ 10.0.2.0/24 }'");
	sh("nft add element inet coopbill up4 '{ 192.168.7.0/24 : \"up_3\" }'");
	assert_int_equal(household_set(nft, &moved), 0);
	assert_int_equal(nft_household_remove(nft, 3), 0);

	json = list_table();
	assert_string_equal(map_owner(json, "up4", "10.0.8.0", 24), "up_2");
	assert_string_equal(map_owner(json, "down4", "10.0.8.0", 24), "down_2");
	assert_null(map_owner(json, "down4", "10.0.2.0", 24));
	assert_null(map_owner(json, "up4", "192.168.7.0", 24));
	assert_null(json_find(json, "counter", "up_3"));
	json_decref(json);
	read_counters(nft, &reading);
	assert_int_equal(reading.n, 4);
	free(reading.counters);
}

static void test_flowtable_detected(void **state)
{
	struct nft *nft = *state;
	bool present = true;

	assert_int_equal(nft_flowtable_present(nft, &present), 0);
	assert_false(present);
	sh("nft add table inet ft");
	if (system("nft add flowtable inet ft f '{ hook ingress priority 0; devices = { lo }; }' "
		   "2>/dev/null") != 0) {
		print_message("this kernel has no flowtables (CONFIG_NF_FLOW_TABLE)\n");
		skip();
	}
	assert_int_equal(nft_flowtable_present(nft, &present), 0);
	assert_true(present);
}

static double elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) * 1e3 +
	       (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

#define MANY 20000

static void check_many(const struct reading *reading)
{
	bool *seen = calloc(2 * MANY, sizeof(*seen));

	assert_non_null(seen);
	assert_int_equal(reading->n, 2 * MANY);
	for (size_t i = 0; i < reading->n; i++) {
		const struct nft_counter *c = &reading->counters[i];
		size_t slot = 2 * (size_t)(c->household_id - 1) + c->direction;

		assert_in_range(c->household_id, 1, MANY);
		assert_false(seen[slot]);
		seen[slot] = true;
	}
	free(seen);
}

static void test_many_households(void **state)
{
	struct nft *nft = *state, *fresh;
	struct nft_household *list = calloc(MANY, sizeof(*list));
	struct cidr *cidrs = calloc(2 * MANY, sizeof(*cidrs));
	struct reading reading, dumped;
	struct timespec start;
	json_t *json;

	assert_true(list && cidrs);
	for (int i = 0; i < MANY; i++) {
		char v4[32], v6[48];

		snprintf(v4, sizeof(v4), "10.%d.%d.%d", (i + 1) >> 16, ((i + 1) >> 8) & 255,
			 (i + 1) & 255);
		snprintf(v6, sizeof(v6), "2001:db8:%x::/64", i + 1);
		assert_int_equal(cidr_parse(v4, &cidrs[2 * i], NULL), 0);
		assert_int_equal(cidr_parse(v6, &cidrs[2 * i + 1], NULL), 0);
		list[i] = (struct nft_household){ .id = i + 1,
						  .addresses = &cidrs[2 * i],
						  .n_addresses = 2 };
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	assert_int_equal(nft_reconcile(nft, list, MANY), 0);
	print_message("reconcile of %d households: %.1f ms\n", MANY, elapsed_ms(&start));
	/* Strays in a large table are found too (without an object dump when
	 * there are none). */
	sh("nft add counter inet coopbill up_99999 && nft add quota inet coopbill q '{ over 1 "
	   "mbytes }'");
	clock_gettime(CLOCK_MONOTONIC, &start);
	assert_int_equal(nft_reconcile(nft, list, MANY), 0);
	print_message("reconcile again, with strays: %.1f ms\n", elapsed_ms(&start));
	assert_int_not_equal(system("nft list counter inet coopbill up_99999 >/dev/null 2>&1"), 0);
	assert_int_not_equal(system("nft list quota inet coopbill q >/dev/null 2>&1"), 0);
	clock_gettime(CLOCK_MONOTONIC, &start);
	assert_int_equal(nft_reconcile(nft, list, MANY), 0);
	print_message("reconcile again: %.1f ms\n", elapsed_ms(&start));

	clock_gettime(CLOCK_MONOTONIC, &start);
	read_counters(nft, &reading);
	print_message("read of %d counters (split: dump and pipelined GETs): %.1f ms\n", 2 * MANY,
		      elapsed_ms(&start));
	check_many(&reading);

	/* A reader (a handle for another thread) knows the same households and
	 * reads the same counters, on sockets of its own. */
	fresh = NULL;
	assert_int_equal(nft_reader_sync(nft, &fresh), 0);
	read_counters(fresh, &dumped);
	check_many(&dumped);
	nft_free(fresh);
	free(dumped.counters);

	/* A handle without a model reads by dump: the same counters. */
	assert_int_equal(nft_open("coopbill", &fresh), 0);
	clock_gettime(CLOCK_MONOTONIC, &start);
	read_counters(fresh, &dumped);
	print_message("read of %d counters (dump): %.1f ms\n", 2 * MANY, elapsed_ms(&start));
	check_many(&dumped);
	for (size_t i = 0; i < dumped.n; i++) {
		const struct nft_counter *c = &dumped.counters[i];

		assert_int_equal(handle_of(&reading, c->household_id, c->direction), c->handle);
	}
	nft_free(fresh);

	json = list_table();
	assert_int_equal(json_count(json, "counter"), 2 * MANY);
	assert_int_equal(map_size(json, "up4"), MANY);
	assert_int_equal(map_size(json, "down6"), MANY);
	assert_string_equal(map_owner(json, "up4", "10.0.39.16", 32), "up_10000");
	assert_string_equal(map_owner(json, "down6", "2001:db8:2710::", 64), "down_10000");
	json_decref(json);

	free(reading.counters);
	free(dumped.counters);
	free(list);
	free(cidrs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reconcile_creates_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconcile_twice_changes_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_household_set_replaces_elements, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_overlap_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_deletes_counters_and_elements, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_other_tables_untouched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edits_are_repaired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_values_match_nft, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recreated_counter_has_new_handle, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fresh_handle_finds_the_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changes_behind_the_daemon, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flowtable_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_households, setup, teardown),
	};

	/* Root, alone in a new network namespace: the host's ruleset is out of
	 * reach. Otherwise skip. */
	if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "SKIP: needs root and a new network namespace\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
