/* The store: opening, migrations and refusals, households and their address
 * conflicts, tokens, the append-only audit trail, and rollback. Each test
 * runs on a fresh database file in its own temporary directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "source-file.h"
#include "coopbill/cidr.h"
#include "coopbill/period.h"
#include "coopbill/store.h"
#include "coopbill/tz.h"

struct fixture {
	char dir[32];
	char path[64];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/coopbill-store-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/coopbill.db", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	struct dirent *entry;
	char path[320];
	DIR *dir;

	dir = opendir(f->dir);
	if (dir) {
		while ((entry = readdir(dir))) {
			if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", f->dir, entry->d_name);
			unlink(path);
		}
		closedir(dir);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct store *open_store(const struct fixture *f)
{
	struct store *store = NULL;
	char errbuf[256];
	int r;

	r = store_open(f->path, &store, errbuf, sizeof(errbuf));
	if (r < 0)
		print_error("store_open: %s\n", errbuf);
	assert_int_equal(r, 0);
	assert_non_null(store);
	return store;
}

static sqlite3 *raw_open(const char *path)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	return db;
}

static int64_t raw_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *stmt;
	int64_t value;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	value = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return value;
}

static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = raw_open(path);

	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static struct cidr parse_cidr(const char *text)
{
	struct cidr cidr;

	assert_int_equal(cidr_parse(text, &cidr, NULL), 0);
	return cidr;
}

static void assert_cidr_equal(const struct cidr *cidr, const char *expected)
{
	char text[CIDR_TEXT_MAX];

	cidr_format(cidr, text);
	assert_string_equal(text, expected);
}

static int64_t insert_household(struct store *store, const char *name, enum household_status status,
				const char *const *addresses, size_t n_addresses)
{
	struct household household = {
		.name = (char *)name,
		.gateway = "main",
		.joined_at = "2024-03-01",
		.status = status,
		.n_addresses = n_addresses,
	};
	struct cidr cidrs[8];
	int64_t id = 0;

	assert_true(n_addresses <= 8);
	for (size_t i = 0; i < n_addresses; i++)
		cidrs[i] = parse_cidr(addresses[i]);
	household.addresses = cidrs;
	if (status == HOUSEHOLD_CLOSED)
		strcpy(household.left_at, "2024-09-30");
	assert_int_equal(store_household_insert(store, &household, &id), 0);
	assert_true(id > 0);
	return id;
}

/* 0 and the conflicting household's id and range, or the error. */
static int conflict(struct store *store, const char *address, int64_t except_household_id,
		    int64_t *ret_household_id, char ret_range[CIDR_TEXT_MAX])
{
	struct cidr cidr = parse_cidr(address), range;
	int64_t household_id;
	int r;

	r = store_address_conflict(store, "main", &cidr, 1, except_household_id, &household_id,
				   &range);
	if (r < 0)
		return r;
	*ret_household_id = household_id;
	cidr_format(&range, ret_range);
	return 0;
}

static void test_new_database(void **state)
{
	struct fixture *f = *state;
	struct store *store = open_store(f);
	unsigned version = 0;
	uint8_t hash[32] = { 1 };
	int64_t token_id;
	sqlite3 *db;
	char *mode;
	sqlite3_stmt *stmt;

	assert_true(store_schema_version_latest() >= 1);
	assert_int_equal(store_schema_version(store, &version), 0);
	assert_int_equal(version, store_schema_version_latest());
	assert_int_equal(store_ping(store, &version), 0);
	assert_int_equal(version, store_schema_version_latest());
	/* Foreign keys are enforced: a token for a household that does not exist. */
	assert_int_equal(store_token_insert(store, hash, "member", 999, "ghost", &token_id),
			 -ENOENT);
	store_free(store);

	db = raw_open(f->path);
	assert_int_equal(raw_int(db, "PRAGMA user_version"), store_schema_version_latest());
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	mode = strdup((const char *)sqlite3_column_text(stmt, 0));
	sqlite3_finalize(stmt);
	assert_string_equal(mode, "wal");
	free(mode);
	sqlite3_close(db);
}

static void test_reopen_keeps_data(void **state)
{
	struct fixture *f = *state;
	static const char *const addresses[] = { "10.0.1.0/24" };
	struct household *household = NULL;
	struct store *store = open_store(f);
	int64_t schema_cookie, id;
	unsigned version = 0;
	sqlite3 *db;

	id = insert_household(store, "Okafor", HOUSEHOLD_ACTIVE, addresses, 1);
	store_free(store);

	db = raw_open(f->path);
	schema_cookie = raw_int(db, "PRAGMA schema_version");
	sqlite3_close(db);

	store = open_store(f);
	assert_int_equal(store_schema_version(store, &version), 0);
	assert_int_equal(version, store_schema_version_latest());
	assert_int_equal(store_household_get(store, id, &household), 0);
	assert_string_equal(household->name, "Okafor");
	assert_int_equal(household->n_addresses, 1);
	assert_cidr_equal(&household->addresses[0], "10.0.1.0/24");
	store_household_free(household);
	store_free(store);

	/* No migration ran again: the schema is exactly as it was. */
	db = raw_open(f->path);
	assert_int_equal(raw_int(db, "PRAGMA schema_version"), schema_cookie);
	sqlite3_close(db);
}

static void test_newer_schema_refused(void **state)
{
	struct fixture *f = *state;
	struct store *store = open_store(f);
	unsigned newer = store_schema_version_latest() + 6;
	char sql[96], errbuf[256], expected[64];
	char *before, *after;
	size_t before_len, after_len;
	int r;

	store_free(store);
	/* In rollback-tlog mode, as a restored backup may be: switching it to
	 * WAL would change the file. */
	snprintf(sql, sizeof(sql), "PRAGMA journal_mode = DELETE; PRAGMA user_version = %u", newer);
	raw_exec(f->path, sql);
	before = read_file(f->path, &before_len);

	store = NULL;
	r = store_open(f->path, &store, errbuf, sizeof(errbuf));
	assert_int_equal(r, -EPROTONOSUPPORT);
	assert_null(store);
	snprintf(expected, sizeof(expected), "schema version %u is newer", newer);
	assert_non_null(strstr(errbuf, expected));
	snprintf(expected, sizeof(expected), "supports (%u)", store_schema_version_latest());
	assert_non_null(strstr(errbuf, expected));

	after = read_file(f->path, &after_len);
	assert_int_equal(after_len, before_len);
	assert_memory_equal(after, before, before_len);
	free(before);
	free(after);
}

static void test_corrupt_database_refused(void **state)
{
	struct fixture *f = *state;
	static const char *const addresses[] = { "10.0.1.0/24", "2001:db8:1::/56" };
	struct store *store = open_store(f);
	char errbuf[256];
	int64_t page_size, file_size;
	uint8_t garbage[512];
	sqlite3 *db;
	FILE *file;
	int r;

	insert_household(store, "Okafor", HOUSEHOLD_ACTIVE, addresses, 2);
	store_free(store);
	db = raw_open(f->path);
	page_size = raw_int(db, "PRAGMA page_size");
	file_size = page_size * raw_int(db, "PRAGMA page_count");
	sqlite3_close(db);
	assert_true(file_size > page_size);

	/* Keep page 1 (header and schema), overwrite every table's pages. */
	for (size_t i = 0; i < sizeof(garbage); i++)
		garbage[i] = (uint8_t)(i * 37 + 11);
	file = fopen(f->path, "r+b");
	assert_non_null(file);
	assert_int_equal(fseek(file, (long)page_size, SEEK_SET), 0);
	for (int64_t offset = page_size; offset < file_size; offset += sizeof(garbage))
		assert_int_equal(fwrite(garbage, 1, sizeof(garbage), file), sizeof(garbage));
	fclose(file);

	store = NULL;
	r = store_open(f->path, &store, errbuf, sizeof(errbuf));
	assert_int_equal(r, -EIO);
	assert_null(store);
	assert_non_null(strstr(errbuf, "integrity check"));
	/* One problem, in one line fit for a log. */
	assert_null(strchr(errbuf, '\n'));
}

static void test_not_a_database_refused(void **state)
{
	struct fixture *f = *state;
	static const char text[] = "[coopbill]\nthis is a configuration file, not a database\n";
	struct store *store = NULL;
	char errbuf[256], *after;
	size_t after_len;
	FILE *file;
	int r;

	file = fopen(f->path, "wb");
	assert_non_null(file);
	for (int i = 0; i < 100; i++)
		assert_int_equal(fwrite(text, 1, strlen(text), file), strlen(text));
	fclose(file);

	r = store_open(f->path, &store, errbuf, sizeof(errbuf));
	assert_int_equal(r, -EIO);
	assert_null(store);
	assert_non_null(strstr(errbuf, "not a database"));

	after = read_file(f->path, &after_len);
	assert_int_equal(after_len, 100 * strlen(text));
	assert_memory_equal(after, text, strlen(text));
	free(after);
}

static void test_household_round_trip(void **state)
{
	struct fixture *f = *state;
	static const char *const addresses[] = { "10.0.1.0/24", "2001:db8:1::/56", "10.0.7.9" };
	struct store *store = open_store(f);
	struct household *household = NULL, *households = NULL;
	size_t n_households = 0;
	int64_t okafor, lindqvist;

	okafor = insert_household(store, "Okafor", HOUSEHOLD_ACTIVE, addresses, 3);
	lindqvist = insert_household(store, "Lindqvist", HOUSEHOLD_CLOSED, NULL, 0);
	assert_true(lindqvist > okafor);

	assert_int_equal(store_household_get(store, okafor, &household), 0);
	assert_int_equal(household->id, okafor);
	assert_string_equal(household->name, "Okafor");
	assert_string_equal(household->joined_at, "2024-03-01");
	assert_string_equal(household->left_at, "");
	assert_int_equal(household->status, HOUSEHOLD_ACTIVE);
	assert_int_equal(household->n_addresses, 3);
	assert_int_equal(household->addresses[0].family, AF_INET);
	assert_cidr_equal(&household->addresses[0], "10.0.1.0/24");
	assert_int_equal(household->addresses[1].family, AF_INET6);
	assert_cidr_equal(&household->addresses[1], "2001:db8:1::/56");
	assert_cidr_equal(&household->addresses[2], "10.0.7.9/32");
	store_household_free(household);

	assert_int_equal(store_household_list(store, &households, &n_households), 0);
	assert_int_equal(n_households, 2);
	assert_int_equal(households[0].id, okafor);
	assert_int_equal(households[0].n_addresses, 3);
	assert_cidr_equal(&households[0].addresses[1], "2001:db8:1::/56");
	assert_int_equal(households[1].id, lindqvist);
	assert_string_equal(households[1].name, "Lindqvist");
	assert_int_equal(households[1].status, HOUSEHOLD_CLOSED);
	assert_string_equal(households[1].left_at, "2024-09-30");
	assert_int_equal(households[1].n_addresses, 0);
	store_households_free(households, n_households);

	household = NULL;
	assert_int_equal(store_household_get(store, lindqvist + 1, &household), -ENOENT);
	assert_null(household);
	store_free(store);
}

static void test_household_invalid_refused(void **state)
{
	struct fixture *f = *state;
	struct store *store = open_store(f);
	struct cidr address = parse_cidr("10.0.1.0/24");
	struct household household = {
		.name = (char *)"Okafor",
		.gateway = "main",
		.joined_at = "1.3.2024",
		.status = HOUSEHOLD_ACTIVE,
		.addresses = &address,
		.n_addresses = 1,
	};
	struct household *households = NULL;
	size_t n_households = 1;
	int64_t id = 0;

	assert_int_equal(store_household_insert(store, &household, &id), -EINVAL);
	strcpy(household.joined_at, "2024-03-01");
	household.name = (char *)"";
	assert_int_equal(store_household_insert(store, &household, &id), -EINVAL);
	household.name = (char *)"Okafor";
	strcpy(household.gateway, "Main");
	assert_int_equal(store_household_insert(store, &household, &id), -EINVAL);
	strcpy(household.gateway, "main");
	address.prefix_len = 33;
	assert_int_equal(store_household_insert(store, &household, &id), -EINVAL);
	assert_int_equal(id, 0);

	assert_int_equal(store_household_list(store, &households, &n_households), 0);
	assert_int_equal(n_households, 0);
	store_households_free(households, n_households);
	store_free(store);
}

/* What decides where a household is counted changing moves
 * store_household_changes(), whoever changed it; nothing else, and no
 * change rolled back, does. */
static void test_household_changes_counted(void **state)
{
	struct fixture *f = *state;
	static const char *const addresses[] = { "10.0.1.0/24" };
	struct store *store = open_store(f);
	struct cidr new_address = parse_cidr("10.0.9.0/28");
	struct household update;
	int64_t id, before, after;

	assert_int_equal(store_household_changes(store, &before), 0);
	id = insert_household(store, "Okafor", HOUSEHOLD_ACTIVE, addresses, 1);
	assert_int_equal(store_household_changes(store, &after), 0);
	assert_true(after > before);

	/* Moved to another gateway, with another address. */
	update = (struct household){ .id = id,
				     .name = (char *)"Okafor",
				     .gateway = "north",
				     .status = HOUSEHOLD_ACTIVE,
				     .addresses = &new_address,
				     .n_addresses = 1 };
	before = after;
	assert_int_equal(store_household_update(store, &update), 0);
	assert_int_equal(store_household_changes(store, &after), 0);
	assert_true(after > before);

	before = after;
	assert_int_equal(store_baselines_put(store,
					     &(struct store_baseline_update){
						     id, &(struct store_baseline){ id, 0, 1, 5, 0 },
						     NULL, NULL, NULL },
					     1),
			 0);
	assert_int_equal(store_household_changes(store, &after), 0);
	assert_int_equal(after, before);

	update.status = HOUSEHOLD_CLOSED;
	strcpy(update.left_at, "2024-09-30");
	assert_int_equal(store_begin(store), 0);
	assert_int_equal(store_household_update(store, &update), 0);
	store_rollback(store);
	assert_int_equal(store_household_changes(store, &after), 0);
	assert_int_equal(after, before);
	assert_int_equal(store_household_update(store, &update), 0);
	assert_int_equal(store_household_changes(store, &after), 0);
	assert_true(after > before);
	store_free(store);
}

static void test_household_update_replaces_addresses(void **state)
{
	struct fixture *f = *state;
	static const char *const addresses[] = { "10.0.1.0/24", "2001:db8:1::/56" };
	struct store *store = open_store(f);
	struct household *household = NULL;
	struct cidr new_address = parse_cidr("10.0.9.0/28");
	struct household update = { 0 };
	char range[CIDR_TEXT_MAX];
	int64_t id, conflicting = 0;

	id = insert_household(store, "Okafor", HOUSEHOLD_ACTIVE, addresses, 2);

	update.id = id;
	update.name = (char *)"Okafor-Lindqvist";
	strcpy(update.gateway, "main");
	update.status = HOUSEHOLD_ACTIVE;
	update.addresses = &new_address;
	update.n_addresses = 1;
	assert_int_equal(store_household_update(store, &update), 0);

	assert_int_equal(store_household_get(store, id, &household), 0);
	assert_string_equal(household->name, "Okafor-Lindqvist");
	assert_string_equal(household->joined_at, "2024-03-01");
	assert_int_equal(household->n_addresses, 1);
	assert_cidr_equal(&household->addresses[0], "10.0.9.0/28");
	store_household_free(household);

	/* The old ranges are free again; the new one is taken. */
	assert_int_equal(conflict(store, "10.0.1.5", 0, &conflicting, range), -ENOENT);
	assert_int_equal(conflict(store, "2001:db8:1::/64", 0, &conflicting, range), -ENOENT);
	assert_int_equal(conflict(store, "10.0.9.3", 0, &conflicting, range), 0);
	assert_int_equal(conflicting, id);
	assert_string_equal(range, "10.0.9.0/28");

	/* Leaving: closed with a date, and no addresses. */
	update.status = HOUSEHOLD_CLOSED;
	strcpy(update.left_at, "2024-09-30");
	update.n_addresses = 0;
	assert_int_equal(store_household_update(store, &update), 0);
	assert_int_equal(store_household_get(store, id, &household), 0);
	assert_int_equal(household->status, HOUSEHOLD_CLOSED);
	assert_string_equal(household->left_at, "2024-09-30");
	assert_int_equal(household->n_addresses, 0);
	store_household_free(household);

	/* A bad date changes nothing, addresses included. */
	update.status = HOUSEHOLD_ACTIVE;
	strcpy(update.left_at, "30.9.2024");
	update.n_addresses = 1;
	assert_int_equal(store_household_update(store, &update), -EINVAL);
	assert_int_equal(store_household_get(store, id, &household), 0);
	assert_int_equal(household->status, HOUSEHOLD_CLOSED);
	assert_int_equal(household->n_addresses, 0);
	store_household_free(household);

	update.id = id + 1;
	strcpy(update.left_at, "");
	assert_int_equal(store_household_update(store, &update), -ENOENT);
	store_free(store);
}

static void test_address_conflicts(void **state)
{
	struct fixture *f = *state;
	static const char *const okafor_addresses[] = { "10.0.1.0/24", "2001:db8:1::/56" };
	static const char *const lindqvist_addresses[] = { "192.168.5.0/24" };
	struct store *store = open_store(f);
	struct cidr both[2], range;
	char text[CIDR_TEXT_MAX];
	int64_t okafor, conflicting = 0;

	okafor = insert_household(store, "Okafor", HOUSEHOLD_ACTIVE, okafor_addresses, 2);
	insert_household(store, "Lindqvist", HOUSEHOLD_CLOSED, lindqvist_addresses, 1);

	/* A single address inside an IPv4 /24, including its first and last. */
	assert_int_equal(conflict(store, "10.0.1.10", 0, &conflicting, text), 0);
	assert_int_equal(conflicting, okafor);
	assert_string_equal(text, "10.0.1.0/24");
	assert_int_equal(conflict(store, "10.0.1.0", 0, &conflicting, text), 0);
	assert_int_equal(conflict(store, "10.0.1.255", 0, &conflicting, text), 0);
	/* A larger range around it. */
	assert_int_equal(conflict(store, "10.0.0.0/16", 0, &conflicting, text), 0);
	assert_string_equal(text, "10.0.1.0/24");

	/* An IPv6 /64 inside the /56, and the /56's last /64. */
	assert_int_equal(conflict(store, "2001:db8:1:42::/64", 0, &conflicting, text), 0);
	assert_int_equal(conflicting, okafor);
	assert_string_equal(text, "2001:db8:1::/56");
	assert_int_equal(conflict(store, "2001:db8:1:ff::/64", 0, &conflicting, text), 0);

	/* Adjacent ranges do not overlap. */
	assert_int_equal(conflict(store, "10.0.0.255", 0, &conflicting, text), -ENOENT);
	assert_int_equal(conflict(store, "10.0.2.0/24", 0, &conflicting, text), -ENOENT);
	assert_int_equal(conflict(store, "10.0.0.0/24", 0, &conflicting, text), -ENOENT);
	assert_int_equal(conflict(store, "2001:db8:1:100::/56", 0, &conflicting, text), -ENOENT);
	assert_int_equal(conflict(store, "2001:db8:0:ff00::/56", 0, &conflicting, text), -ENOENT);

	/* IPv6 never conflicts with IPv4, even where the bytes would. */
	assert_int_equal(conflict(store, "a00:100::/32", 0, &conflicting, text), -ENOENT);
	assert_int_equal(conflict(store, "::/0", 0, &conflicting, text), 0);
	assert_string_equal(text, "2001:db8:1::/56");
	assert_int_equal(conflict(store, "0.0.0.0/0", 0, &conflicting, text), 0);
	assert_string_equal(text, "10.0.1.0/24");

	/* A closed household's ranges are free. */
	assert_int_equal(conflict(store, "192.168.5.7", 0, &conflicting, text), -ENOENT);

	/* A household does not conflict with itself when it is updated. */
	assert_int_equal(conflict(store, "10.0.1.10", okafor, &conflicting, text), -ENOENT);
	assert_int_equal(conflict(store, "2001:db8:1::/64", okafor, &conflicting, text), -ENOENT);

	/* Any of several addresses. */
	both[0] = parse_cidr("172.16.0.0/12");
	both[1] = parse_cidr("2001:db8:1:7::/64");
	assert_int_equal(store_address_conflict(store, "main", both, 2, 0, &conflicting, &range),
			 0);
	assert_int_equal(conflicting, okafor);
	assert_cidr_equal(&range, "2001:db8:1::/56");

	/* Gateways are apart: another may use the same private range. */
	assert_int_equal(store_address_conflict(store, "village", both, 2, 0, &conflicting, &range),
			 -ENOENT);
	store_free(store);
}

/* The meter's households are those active on its gateway; the rest are
 * drained, whether closed or counted elsewhere. */
static void test_household_ids_by_gateway(void **state)
{
	struct fixture *f = *state;
	static const char *const addresses[] = { "10.0.1.0/24" };
	struct store *store = open_store(f);
	struct household *household = NULL;
	int64_t *active = NULL, *others = NULL;
	size_t n_active = 0, n_others = 0;
	int64_t here, there, closed;

	here = insert_household(store, "Here", HOUSEHOLD_ACTIVE, addresses, 1);
	there = insert_household(store, "There", HOUSEHOLD_ACTIVE, addresses, 1);
	closed = insert_household(store, "Closed", HOUSEHOLD_CLOSED, addresses, 1);
	assert_int_equal(store_household_get(store, there, &household), 0);
	strcpy(household->gateway, "village-2");
	assert_int_equal(store_household_update(store, household), 0);
	store_household_free(household);
	assert_int_equal(store_household_get(store, there, &household), 0);
	assert_string_equal(household->gateway, "village-2");
	store_household_free(household);

	assert_int_equal(store_household_ids(store, "main", &active, &n_active, &others, &n_others),
			 0);
	assert_int_equal(n_active, 1);
	assert_int_equal(active[0], here);
	assert_int_equal(n_others, 2);
	assert_int_equal(others[0], there);
	assert_int_equal(others[1], closed);
	free(active);
	free(others);

	/* Any gateway: every active household. */
	assert_int_equal(store_household_ids(store, NULL, &active, &n_active, &others, &n_others),
			 0);
	assert_int_equal(n_active, 2);
	assert_int_equal(n_others, 1);
	free(active);
	free(others);
	store_free(store);
}

static void test_tokens(void **state)
{
	struct fixture *f = *state;
	struct store *store = open_store(f);
	uint8_t admin_hash[32], member_hash[32], unknown_hash[32];
	struct store_token token = { 0 };
	int64_t household, admin_id = 0, member_id = 0, id;

	memset(admin_hash, 0xad, sizeof(admin_hash));
	memset(member_hash, 0x3e, sizeof(member_hash));
	memset(unknown_hash, 0x99, sizeof(unknown_hash));
	household = insert_household(store, "Okafor", HOUSEHOLD_ACTIVE, NULL, 0);

	assert_int_equal(store_token_insert(store, admin_hash, "admin", 0, "treasurer", &admin_id),
			 0);
	assert_int_equal(
		store_token_insert(store, member_hash, "member", household, "okafor", &member_id),
		0);
	assert_int_not_equal(admin_id, member_id);

	assert_int_equal(store_token_find(store, admin_hash, &token), 0);
	assert_int_equal(token.id, admin_id);
	assert_string_equal(token.role, "admin");
	assert_int_equal(token.household_id, 0);
	assert_int_equal(store_token_find(store, member_hash, &token), 0);
	assert_int_equal(token.id, member_id);
	assert_string_equal(token.role, "member");
	assert_int_equal(token.household_id, household);

	assert_int_equal(store_token_find(store, unknown_hash, &token), -ENOENT);
	assert_int_equal(token.id, member_id);

	/* The same hash twice, a role without a household, an unknown role. */
	assert_int_equal(store_token_insert(store, admin_hash, "admin", 0, "again", &id), -EEXIST);
	assert_int_equal(store_token_insert(store, unknown_hash, "member", 0, "nobody", &id),
			 -EINVAL);
	assert_int_equal(store_token_insert(store, unknown_hash, "root", 0, "root", &id), -EINVAL);
	assert_int_equal(store_token_find(store, unknown_hash, &token), -ENOENT);
	store_free(store);
}

/* A token found once is found again without a query while nothing changes;
 * a revocation committed by another connection (token revoke on the box,
 * in another process) is seen by the very next lookup, and so is a revoked
 * token's removal by hand. */
static void test_token_found_again_sees_other_connections(void **state)
{
	struct fixture *f = *state;
	struct store *daemon_store = open_store(f), *box_store = open_store(f);
	struct store_token token = { 0 };
	uint8_t hash[32], other_hash[32];
	unsigned version;
	int64_t id, other_id;
	sqlite3 *db;

	memset(hash, 0x51, sizeof(hash));
	memset(other_hash, 0x52, sizeof(other_hash));
	assert_int_equal(store_token_insert(box_store, hash, "admin", 0, "treasurer", &id), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(store_token_find(daemon_store, hash, &token), 0);
		assert_int_equal(token.id, id);
		assert_false(token.revoked);
	}
	assert_int_equal(store_token_find(daemon_store, other_hash, &token), -ENOENT);

	assert_int_equal(store_token_revoke(box_store, id), 0);
	assert_int_equal(store_token_find(daemon_store, hash, &token), 0);
	assert_true(token.revoked);
	/* A token issued on the box is found at once too. */
	assert_int_equal(store_token_insert(box_store, other_hash, "admin", 0, "deputy", &other_id),
			 0);
	assert_int_equal(store_token_find(daemon_store, other_hash, &token), 0);
	assert_int_equal(token.id, other_id);
	assert_int_equal(store_token_find(daemon_store, hash, &token), 0);

	db = raw_open(f->path);
	assert_int_equal(sqlite3_exec(db, "DELETE FROM tokens WHERE revoked_at IS NOT NULL", NULL,
				      NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_token_find(daemon_store, hash, &token), -ENOENT);
	assert_int_equal(store_ping(daemon_store, &version), 0);
	assert_int_equal(version, store_schema_version_latest());
	store_free(box_store);
	store_free(daemon_store);
}

static void assert_refused_append_only(sqlite3 *db, const char *sql)
{
	assert_int_not_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_non_null(strstr(sqlite3_errmsg(db), "append-only"));
}

static void test_audit_append_only(void **state)
{
	struct fixture *f = *state;
	struct store *store = open_store(f);
	int64_t household;
	sqlite3 *db;

	household = insert_household(store, "Okafor", HOUSEHOLD_ACTIVE, NULL, 0);
	assert_int_equal(
		store_audit_append(store, "cli", "token.create", 0, "{\"role\":\"admin\"}"), 0);
	assert_int_equal(store_audit_append(store, "token:1", "household.create", household,
					    "{\"name\":\"Okafor\"}"),
			 0);
	assert_int_equal(
		store_audit_append(store, "token:1", "household.close", household + 1, "{}"),
		-ENOENT);

	/* Through a second connection on the same file, as an intruder would. */
	db = raw_open(f->path);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM audit_events"), 2);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM audit_events "
				     "WHERE action = 'token.create' AND household_id IS NULL"),
			 1);
	assert_refused_append_only(db, "UPDATE audit_events SET actor = 'someone else'");
	assert_refused_append_only(db, "DELETE FROM audit_events WHERE id = 1");
	assert_refused_append_only(db, "DELETE FROM audit_events");
	assert_int_equal(raw_int(db, "SELECT count(*) FROM audit_events WHERE actor = 'cli'"), 1);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM audit_events"), 2);
	sqlite3_close(db);
	store_free(store);
}

/* A draft may be replaced and deleted; a published tariff may not, through
 * the store or around it. */
static void test_tariff_drafts(void **state)
{
	static const char sha[] = "00000000000000000000000000000000"
				  "00000000000000000000000000000000";
	struct fixture *f = *state;
	struct store *store = open_store(f);
	int64_t draft, published;
	json_t *rows;
	sqlite3 *db;

	assert_int_equal(store_tariff_insert(store, "a", "2027-01-01", "{}", sha, &draft), 0);
	assert_int_equal(store_tariff_insert(store, "b", "2027-01-01", "{}", sha, &published), 0);
	assert_int_equal(store_tariff_publish(store, published, "signature", 0), 0);

	assert_int_equal(store_tariff_replace(store, draft, "c", "2027-02-01", "{\"x\":1}", sha),
			 0);
	assert_int_equal(store_tariffs_list(store, "draft", &rows), 0);
	assert_int_equal(json_array_size(rows), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "name")),
			    "c");
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(rows, 0), "valid_from")),
		"2027-02-01");
	json_decref(rows);
	assert_int_equal(store_tariff_replace(store, published, "c", "2027-02-01", "{}", sha),
			 -EALREADY);
	assert_int_equal(store_tariff_delete(store, published), -EALREADY);
	assert_int_equal(store_tariff_delete(store, draft), 0);
	assert_int_equal(store_tariff_delete(store, draft), -ENOENT);
	assert_int_equal(store_tariff_replace(store, draft, "c", "2027-02-01", "{}", sha), -ENOENT);
	assert_int_equal(store_tariffs_list(store, "draft", &rows), 0);
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);
	assert_int_equal(store_tariffs_list(store, "published", &rows), 0);
	assert_int_equal(json_array_size(rows), 1);
	json_decref(rows);

	db = raw_open(f->path);
	assert_int_not_equal(sqlite3_exec(db, "UPDATE tariffs SET name = 'x'", NULL, NULL, NULL),
			     SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "DELETE FROM tariffs", NULL, NULL, NULL), SQLITE_OK);
	assert_non_null(strstr(sqlite3_errmsg(db), "immutable"));
	assert_int_equal(raw_int(db, "SELECT count(*) FROM tariffs WHERE name = 'b'"), 1);
	sqlite3_close(db);
	store_free(store);
}

static void test_rollback_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	static const char *const addresses[] = { "10.0.1.0/24" };
	struct store *store = open_store(f);
	struct household *households = NULL;
	size_t n_households = 1;
	struct store_token token;
	uint8_t hash[32];
	char range[CIDR_TEXT_MAX];
	int64_t household, token_id, conflicting;
	sqlite3 *db;

	memset(hash, 0x42, sizeof(hash));
	assert_int_equal(store_token_insert(store, hash, "admin", 0, "treasurer", &token_id), 0);

	/* A household, its audit event, then a token that fails: roll back. */
	assert_int_equal(store_begin(store), 0);
	household = insert_household(store, "Okafor", HOUSEHOLD_ACTIVE, addresses, 1);
	assert_int_equal(store_audit_append(store, "cli", "household.create", household, "{}"), 0);
	assert_int_equal(store_token_insert(store, hash, "member", household, "okafor", &token_id),
			 -EEXIST);
	store_rollback(store);

	assert_int_equal(store_household_list(store, &households, &n_households), 0);
	assert_int_equal(n_households, 0);
	store_households_free(households, n_households);
	assert_int_equal(store_household_get(store, household, &households), -ENOENT);
	assert_int_equal(conflict(store, "10.0.1.1", 0, &conflicting, range), -ENOENT);
	assert_int_equal(store_token_find(store, hash, &token), 0);
	assert_string_equal(token.role, "admin");

	/* A committed transaction, by contrast, stays. */
	assert_int_equal(store_begin(store), 0);
	household = insert_household(store, "Lindqvist", HOUSEHOLD_ACTIVE, addresses, 1);
	assert_int_equal(store_audit_append(store, "cli", "household.create", household, "{}"), 0);
	assert_int_equal(store_commit(store), 0);
	store_free(store);

	db = raw_open(f->path);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM households"), 1);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM household_addresses"), 1);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM audit_events"), 1);
	sqlite3_close(db);
}

/* SQLite integers are signed 64-bit: a counter or a usage past 2^63 bytes is
 * refused whole (one row alone or in a batch of many), and one just below it
 * is kept exactly. */
static void test_counts_past_int64_refused(void **state)
{
	struct fixture *f = *state;
	struct store *store = open_store(f);
	struct store_baseline top = { 1, 1, INT64_MAX, INT64_MAX, 0 }, past = top, *baselines;
	struct store_usage_row rows[40], *stored;
	size_t n_baselines, n_stored;
	int64_t household;

	household = insert_household(store, "Okafor", HOUSEHOLD_ACTIVE, NULL, 0);
	past.bytes = (uint64_t)INT64_MAX + 1;
	assert_int_equal(store_baselines_put(store,
					     &(struct store_baseline_update){ household, NULL,
									      &past, NULL, NULL },
					     1),
			 -EOVERFLOW);
	assert_int_equal(store_baselines_put(store,
					     &(struct store_baseline_update){ household, NULL, &top,
									      NULL, NULL },
					     1),
			 0);
	assert_int_equal(store_baselines_load(store, &baselines, &n_baselines), 0);
	assert_int_equal(n_baselines, 1);
	assert_int_equal(baselines[0].handle, INT64_MAX);
	assert_int_equal(baselines[0].bytes, INT64_MAX);
	free(baselines);

	for (size_t i = 0; i < 40; i++)
		rows[i] =
			(struct store_usage_row){ 3600 + 300 * (int64_t)i, household, 1, 2, 0, 0 };
	rows[20].bytes_down = (uint64_t)INT64_MAX + 1;
	assert_int_equal(store_begin(store), 0);
	assert_int_equal(store_usage_add_rows(store, 0, rows, 40), -EOVERFLOW);
	store_rollback(store);
	rows[20].bytes_down = INT64_MAX;
	assert_int_equal(store_usage_add_rows(store, 0, rows, 40), 0);
	assert_int_equal(store_usage_rows(store, household, 0, 86400, STORE_USAGE_BUCKETS, &stored,
					  &n_stored),
			 0);
	assert_int_equal(n_stored, 40);
	assert_int_equal(stored[20].bytes_down, INT64_MAX);
	assert_int_equal(stored[39].bytes_up, 1);
	free(stored);
	store_free(store);
}

/* A database from before local traffic was counted apart keeps its usage as
 * internet traffic: the migration adds local traffic as zero, and buckets,
 * hourly totals and imports read back as they were. */
/* A household's four baselines in one row, loaded back in (household, scope,
 * direction) order; gaps keep their scope; forgetting the local baselines
 * keeps the internet ones. */
static void test_local_baselines_and_gaps(void **state)
{
	struct fixture *f = *state;
	struct store *store = open_store(f);
	struct store_baseline up = { 0, 0, 11, 100, 0 }, down = { 0, 1, 12, 200, 0 };
	struct store_baseline lup = { 0, 0, 13, 300, 1 }, ldown = { 0, 1, 14, 400, 1 };
	struct store_baseline *baselines;
	struct store_gap gap = {
		.scope = 1, .direction = 1, .reason = "counter-reset", .at = 7200
	};
	struct store_gap *gaps;
	size_t n_baselines, n_gaps;
	int64_t household;

	household = insert_household(store, "Mwangi", HOUSEHOLD_ACTIVE, NULL, 0);
	assert_int_equal(store_baselines_put(store,
					     &(struct store_baseline_update){ household, &up, NULL,
									      NULL, &ldown },
					     1),
			 0);
	assert_int_equal(store_baselines_put(store,
					     &(struct store_baseline_update){ household, NULL,
									      &down, &lup, NULL },
					     1),
			 0);
	assert_int_equal(store_baselines_load(store, &baselines, &n_baselines), 0);
	assert_int_equal(n_baselines, 4);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(baselines[i].household_id, household);
		assert_int_equal(baselines[i].scope, (int)i / 2);
		assert_int_equal(baselines[i].direction, (int)i % 2);
		assert_int_equal(baselines[i].handle, 11 + i);
		assert_int_equal(baselines[i].bytes, 100 * (i + 1));
	}
	free(baselines);

	assert_int_equal(store_baselines_forget_local(store), 0);
	assert_int_equal(store_baselines_load(store, &baselines, &n_baselines), 0);
	assert_int_equal(n_baselines, 2);
	assert_int_equal(baselines[0].scope, 0);
	assert_int_equal(baselines[1].scope, 0);
	free(baselines);

	gap.household_id = household;
	assert_int_equal(store_gap_insert(store, &gap, true), 0);
	gap.scope = 0;
	assert_int_equal(store_gap_insert(store, &gap, true), 0);
	assert_int_equal(store_gaps_list(store, household, 0, 86400, &gaps, &n_gaps), 0);
	assert_int_equal(n_gaps, 2);
	assert_int_equal(gaps[0].scope, 1);
	assert_int_equal(gaps[1].scope, 0);
	free(gaps);
	store_free(store);
}

static void test_usage_before_local_traffic_is_internet(void **state)
{
	static const char *const before[] = {
		"sql/001_init.sql",	    "sql/002_metering.sql", "sql/003_log.sql",
		"sql/004_billing.sql",	    "sql/005_pruned.sql",   "sql/006_gaps_unlogged.sql",
		"sql/007_close_starts.sql",
	};
	struct fixture *f = *state;
	struct store_usage_row *rows;
	struct store_imported *imported;
	struct store *store;
	char errbuf[256];
	sqlite3 *db;
	size_t n;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	for (size_t i = 0; i < sizeof(before) / sizeof(before[0]); i++) {
		char *sql = read_source_file(before[i], NULL);

		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
		free(sql);
	}
	assert_int_equal(
		sqlite3_exec(db,
			     "PRAGMA user_version = 7;"
			     "INSERT INTO households (id, name, joined_at) VALUES (1, 'A', "
			     "'2026-10-01');"
			     "INSERT INTO usage_buckets VALUES (1790812800, 1, 1000, 2000);"
			     "INSERT INTO usage_hourly VALUES (1790809200, 1, 30, 40);"
			     "UPDATE meter_state SET rolled_up_to = 1790812800;"
			     "INSERT INTO usage_imports (household_id, bucket_start, bytes_up, "
			     "bytes_down, reason, actor, log_index) VALUES (1, 1790809200, 30, 40, "
			     "'old meter', 'admin', 0);",
			     NULL, NULL, NULL),
		SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(store_open(f->path, &store, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(
		store_usage_rows(store, 1, 1790809200, 1790816400, STORE_USAGE_HOURS, &rows, &n),
		0);
	assert_int_equal(n, 2);
	assert_int_equal(rows[0].bytes_up, 30);
	assert_int_equal(rows[0].bytes_down, 40);
	assert_int_equal(rows[1].bytes_up, 1000);
	assert_int_equal(rows[1].bytes_down, 2000);
	for (size_t i = 0; i < n; i++)
		assert_true(rows[i].local_up == 0 && rows[i].local_down == 0);
	free(rows);
	assert_int_equal(store_usage_imported(store, 1, 2, 1790809200, 1790816400, &imported, &n),
			 0);
	assert_int_equal(n, 1);
	assert_int_equal(imported[0].bytes_up, 30);
	assert_int_equal(imported[0].local_up + imported[0].local_down, 0);
	free(imported);
	store_free(store);
}

/* Checks the daily totals of n_days local days from first against the
 * hourly totals: each day's row starts at the day's first instant and holds
 * the hours that start in the day. Returns the hours of the day at index
 * `hours_of`. */
static size_t check_days(struct store *store, int64_t household, const struct tz_zone *zone,
			 struct date first, size_t n_days, size_t hours_of)
{
	struct store_usage_row *hours, *days;
	size_t n_hours, n_days_read, hour = 0, counted = 0;
	int64_t from, to, start, end;

	assert_int_equal(period_day_start(zone, &first, &from), 0);
	struct date last = date_from_days(date_to_days(&first) + (int64_t)n_days);
	assert_int_equal(period_day_start(zone, &last, &to), 0);
	assert_int_equal(
		store_usage_rows(store, household, from, to, STORE_USAGE_HOURS, &hours, &n_hours),
		0);
	assert_int_equal(
		store_usage_rows(store, household, from, to, STORE_USAGE_DAYS, &days, &n_days_read),
		0);
	assert_int_equal(n_days_read, n_days);
	for (size_t i = 0; i < n_days; i++) {
		struct date day = date_from_days(date_to_days(&first) + (int64_t)i),
			    next = date_from_days(date_to_days(&day) + 1);
		struct store_usage_row sum = { 0 };
		size_t n = 0;

		assert_int_equal(period_day_start(zone, &day, &start), 0);
		assert_int_equal(period_day_start(zone, &next, &end), 0);
		for (; hour < n_hours && hours[hour].start < end; hour++, n++) {
			sum.bytes_up += hours[hour].bytes_up;
			sum.bytes_down += hours[hour].bytes_down;
		}
		assert_int_equal(days[i].start, start);
		assert_int_equal(days[i].bytes_up, sum.bytes_up);
		assert_int_equal(days[i].bytes_down, sum.bytes_down);
		if (i == hours_of)
			counted = n;
	}
	assert_int_equal(hour, n_hours);
	free(hours);
	free(days);
	return counted;
}

/* Sets the zone and makes its daily totals a day a step; returns the steps
 * it took. */
static int zone_set_made(struct store *store, const struct tz_zone *zone, const char *name)
{
	int r, steps = 0;

	r = store_zone_set(store, zone, name);
	assert_true(r == 0 || r == 1);
	while (r == 1) {
		r = store_zone_build(store, 0);
		assert_true(r == 0 || r == 1);
		steps++;
	}
	return steps;
}

/* Usage by day comes from daily totals in the cooperative's zone: an hour
 * counts in the day it starts in (Kolkata's days start at half past), a day
 * of a clock change has 25 hours, usage added before the watermark reaches
 * them, and another zone, or usage rolled up while no zone was set, makes
 * them again. */
static void test_daily_totals(void **state)
{
	struct fixture *f = *state;
	struct store *store = open_store(f);
	struct tz_zone *kolkata, *madrid;
	/* 2026-10-23T00:00:00Z, four days on: Madrid goes back to UTC+1 on
	 * 25 October 2026 at 01:00 UTC. */
	const int64_t t0 = 1792713600;
	struct store_usage_row rows[96], late, *read;
	int64_t household, from;
	size_t n_read;

	assert_int_equal(tz_zone_load("Asia/Kolkata", &kolkata), 0);
	assert_int_equal(tz_zone_load("Europe/Madrid", &madrid), 0);
	household = insert_household(store, "Okafor", HOUSEHOLD_ACTIVE, NULL, 0);
	/* No hourly totals yet: whole at once. */
	assert_int_equal(zone_set_made(store, kolkata, "Asia/Kolkata"), 1);
	for (size_t i = 0; i < 96; i++)
		rows[i] =
			(struct store_usage_row){ t0 + 3600 * (int64_t)i + 300 * (int64_t)(i % 12),
						  household,
						  1,
						  1000 + i,
						  0,
						  0 };
	assert_int_equal(store_usage_add_rows(store, 0, rows, 96), 0);
	assert_int_equal(store_usage_rollup(store, t0 + 96 * 3600), 0);
	/* 2026-10-23 in Kolkata starts at 18:30 UTC on the 22nd: its first
	 * hour (18:00 UTC) is before t0, and the 24th has all 24 hours. */
	assert_int_equal(check_days(store, household, kolkata, (struct date){ 2026, 10, 23 }, 3, 1),
			 24);

	/* An import before the watermark reaches the day it falls in. */
	late = (struct store_usage_row){ t0 + 30 * 3600, household, 7, 70000, 0, 0 };
	assert_int_equal(store_usage_add_rows(store, t0 + 96 * 3600, &late, 1), 0);
	check_days(store, household, kolkata, (struct date){ 2026, 10, 23 }, 3, 0);

	/* The same zone again: nothing to make. Another: made again, a day a
	 * step (23 to 27 October), in Madrid's days, the 25th 25 hours long;
	 * until made, days are read by the hour. */
	assert_int_equal(zone_set_made(store, kolkata, "Asia/Kolkata"), 0);
	assert_int_equal(store_zone_set(store, madrid, "Europe/Madrid"), 1);
	assert_int_equal(period_day_start(madrid, &(struct date){ 2026, 10, 24 }, &from), 0);
	assert_int_equal(store_usage_rows(store, household, from, from + 86400, STORE_USAGE_DAYS,
					  &read, &n_read),
			 0);
	assert_int_equal(n_read, 24);
	free(read);
	assert_int_equal(store_zone_build(store, 0), 1);
	assert_int_equal(zone_set_made(store, madrid, "Europe/Madrid"), 4);
	assert_int_equal(check_days(store, household, madrid, (struct date){ 2026, 10, 24 }, 3, 1),
			 25);

	/* Rolled up with no zone, then the same zone again: made again. */
	assert_int_equal(store_zone_set(store, NULL, NULL), 0);
	for (size_t i = 0; i < 24; i++)
		rows[i] = (struct store_usage_row){
			t0 + 3600 * (int64_t)(96 + i), household, 2, 5, 0, 0
		};
	assert_int_equal(store_usage_add_rows(store, 0, rows, 24), 0);
	assert_int_equal(store_usage_rollup(store, t0 + 120 * 3600), 0);
	assert_int_equal(zone_set_made(store, madrid, "Europe/Madrid"), 6);
	check_days(store, household, madrid, (struct date){ 2026, 10, 24 }, 4, 0);

	store_free(store);
	tz_zone_free(kolkata);
	tz_zone_free(madrid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_new_database, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_keeps_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_database_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_database_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_household_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_household_invalid_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_household_changes_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_household_update_replaces_addresses, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_address_conflicts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_household_ids_by_gateway, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_found_again_sees_other_connections,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_append_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_leaves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tariff_drafts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counts_past_int64_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_local_baselines_and_gaps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_daily_totals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage_before_local_traffic_is_internet, setup,
						teardown),
	};

	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
