/* Households and their address ranges: one row per household, one per range
 * (family, first and last address as big-endian BLOBs, prefix length), and
 * the overlap query that keeps two active households off the same address. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <jansson.h>

#include "store-internal.h"

/* The columns households_read() expects, in this order. */
#define HOUSEHOLD_COLUMNS                                                                   \
	"h.id, h.name, h.joined_at, h.left_at, h.status, a.family, a.first, a.prefix_len, " \
	"coalesce(h.tariff_id, 0), h.gateway FROM households AS h "                         \
	"LEFT JOIN household_addresses AS a ON a.household_id = h.id "
#define COLUMN_ADDRESS 5

static const char *status_text(enum household_status status)
{
	switch (status) {
	case HOUSEHOLD_ACTIVE:
		return "active";
	case HOUSEHOLD_CLOSED:
		return "closed";
	}
	return NULL;
}

static int status_parse(const char *text, enum household_status *ret_status)
{
	if (strcmp(text, "active") == 0)
		*ret_status = HOUSEHOLD_ACTIVE;
	else if (strcmp(text, "closed") == 0)
		*ret_status = HOUSEHOLD_CLOSED;
	else
		return -EIO;
	return 0;
}

/* The family as stored (4 or 6), or -EINVAL for an address we cannot store. */
static int address_family_number(const struct cidr *address)
{
	switch (address->family) {
	case AF_INET:
		return address->prefix_len <= 32 ? 4 : -EINVAL;
	case AF_INET6:
		return address->prefix_len <= 128 ? 6 : -EINVAL;
	default:
		return -EINVAL;
	}
}

static int addresses_check(const struct cidr *addresses, size_t n_addresses)
{
	if (n_addresses > 0 && !addresses)
		return -EINVAL;
	for (size_t i = 0; i < n_addresses; i++)
		if (address_family_number(&addresses[i]) < 0)
			return -EINVAL;
	return 0;
}

/* Rebuilds a range from the columns family, first and prefix_len. */
static int address_from_row(struct store_stmt *stmt, int column, struct cidr *ret_address)
{
	struct cidr address = { 0 };
	int family = (int)store_column_int64(stmt, column);
	const void *first = store_column_blob(stmt, column + 1);
	size_t first_len = store_column_bytes(stmt, column + 1);
	int64_t prefix_len = store_column_int64(stmt, column + 2);

	if (family == 4 && first_len == 4 && prefix_len >= 0 && prefix_len <= 32)
		address.family = AF_INET;
	else if (family == 6 && first_len == 16 && prefix_len >= 0 && prefix_len <= 128)
		address.family = AF_INET6;
	else
		return -EIO;
	memcpy(address.addr, first, first_len);
	address.prefix_len = (unsigned)prefix_len;
	*ret_address = address;
	return 0;
}

static int date_from_column(struct store_stmt *stmt, int column, char ret_date[11])
{
	const char *text = store_column_text(stmt, column);

	if (!text) {
		ret_date[0] = '\0';
		return 0;
	}
	if (store_column_bytes(stmt, column) != 10)
		return -EIO;
	memcpy(ret_date, text, 10);
	ret_date[10] = '\0';
	return 0;
}

static int household_from_row(struct store_stmt *stmt, struct household *ret_household)
{
	struct household household = { 0 };
	const char *name, *status, *gateway;
	int r;

	household.id = store_column_int64(stmt, 0);
	household.tariff_id = store_column_int64(stmt, 8);
	r = date_from_column(stmt, 2, household.joined_at);
	if (r < 0)
		return r;
	r = date_from_column(stmt, 3, household.left_at);
	if (r < 0)
		return r;
	gateway = store_column_text(stmt, 9);
	if (!gateway || strlen(gateway) >= sizeof(household.gateway))
		return -EIO;
	strcpy(household.gateway, gateway);
	status = store_column_text(stmt, 4);
	if (!status)
		return -EIO;
	r = status_parse(status, &household.status);
	if (r < 0)
		return r;
	name = store_column_text(stmt, 1);
	if (!name)
		return -EIO;
	household.name = strdup(name);
	if (!household.name)
		return -ENOMEM;
	*ret_household = household;
	return 0;
}

static int household_add_address(struct household *household, struct store_stmt *stmt)
{
	struct cidr *addresses;
	int r;

	addresses =
		reallocarray(household->addresses, household->n_addresses + 1, sizeof(*addresses));
	if (!addresses)
		return -ENOMEM;
	household->addresses = addresses;
	r = address_from_row(stmt, COLUMN_ADDRESS, &addresses[household->n_addresses]);
	if (r < 0)
		return r;
	household->n_addresses++;
	return 0;
}

/* Collects the rows of a HOUSEHOLD_COLUMNS query ordered by household, one
 * row per address (or one with NULL address columns), into households. */
static int households_read(struct store *store, const char *sql, const struct store_value *values,
			   size_t n_values, struct household **ret_households,
			   size_t *ret_n_households)
{
	struct household *households = NULL, *grown, *current = NULL;
	size_t n_households = 0, n_allocated = 0;
	struct store_stmt *stmt = NULL;
	int r;

	r = store_query(store, sql, values, n_values, &stmt);
	if (r < 0)
		return r;
	while ((r = store_step(stmt)) > 0) {
		if (!current || current->id != store_column_int64(stmt, 0)) {
			if (n_households == n_allocated) {
				n_allocated = n_allocated ? n_allocated * 2 : 8;
				grown = reallocarray(households, n_allocated, sizeof(*households));
				if (!grown) {
					r = -ENOMEM;
					goto out;
				}
				households = grown;
			}
			current = &households[n_households];
			r = household_from_row(stmt, current);
			if (r < 0)
				goto out;
			n_households++;
		}
		if (store_column_kind(stmt, COLUMN_ADDRESS) == STORE_NULL)
			continue;
		r = household_add_address(current, stmt);
		if (r < 0)
			goto out;
	}
	if (r < 0)
		goto out;

	*ret_households = households;
	*ret_n_households = n_households;
	households = NULL;
	n_households = 0;
	r = 0;
out:
	store_households_free(households, n_households);
	store_release(stmt);
	return r;
}

/* A date column's value: NULL for "" (none). */
static struct store_value date_value(const char date[11])
{
	return STORE_TEXT(date[0] ? date : NULL);
}

static int addresses_insert(struct store *store, int64_t household_id, const struct cidr *addresses,
			    size_t n_addresses)
{
	static const char sql[] = "INSERT INTO household_addresses "
				  "(household_id, family, first, last, prefix_len) "
				  "VALUES (?1, ?2, ?3, ?4, ?5)";
	uint8_t first[16], last[16];
	int r;

	for (size_t i = 0; i < n_addresses; i++) {
		size_t len = cidr_addr_len(&addresses[i]);
		const struct store_value values[] = {
			STORE_INT(household_id),
			STORE_INT(address_family_number(&addresses[i])),
			STORE_BLOB(first, len),
			STORE_BLOB(last, len),
			STORE_INT(addresses[i].prefix_len),
		};

		cidr_range(&addresses[i], first, last);
		r = store_exec(store, sql, values, 5, NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

void store_household_free(struct household *household)
{
	if (!household)
		return;
	free(household->name);
	free(household->addresses);
	free(household);
}

void store_households_free(struct household *households, size_t n_households)
{
	if (!households)
		return;
	for (size_t i = 0; i < n_households; i++) {
		free(households[i].name);
		free(households[i].addresses);
	}
	free(households);
}

int store_household_insert(struct store *store, const struct household *household, int64_t *ret_id)
{
	static const char sql[] =
		"INSERT INTO households (name, joined_at, left_at, status, gateway) "
		"VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id";
	const char *status = status_text(household->status);
	const struct store_value values[] = { STORE_TEXT(household->name),
					      date_value(household->joined_at),
					      date_value(household->left_at), STORE_TEXT(status),
					      STORE_TEXT(household->gateway) };
	bool own_transaction = false;
	int64_t id = 0;
	int r;

	if (!household->name || !status || !config_gateway_valid(household->gateway))
		return -EINVAL;
	r = addresses_check(household->addresses, household->n_addresses);
	if (r < 0)
		return r;

	r = store_atomic_enter(store, &own_transaction);
	if (r < 0)
		return r;
	r = store_exec(store, sql, values, 5, &id);
	if (r < 0)
		goto out;
	r = addresses_insert(store, id, household->addresses, household->n_addresses);
out:
	r = store_atomic_leave(store, own_transaction, r);
	if (r < 0)
		return r;
	*ret_id = id;
	return 0;
}

int store_household_update(struct store *store, const struct household *household)
{
	static const char update_sql[] = "UPDATE households SET name = ?1, status = ?2, "
					 "left_at = ?3, tariff_id = ?4, gateway = ?6 WHERE id = ?5";
	static const char delete_sql[] = "DELETE FROM household_addresses WHERE household_id = ?1";
	const char *status = status_text(household->status);
	const struct store_value values[] = {
		STORE_TEXT(household->name),	STORE_TEXT(status),
		date_value(household->left_at), STORE_ID(household->tariff_id),
		STORE_INT(household->id),	STORE_TEXT(household->gateway),
	};
	bool own_transaction = false;
	int r;

	if (!household->name || !status || !config_gateway_valid(household->gateway))
		return -EINVAL;
	r = addresses_check(household->addresses, household->n_addresses);
	if (r < 0)
		return r;

	r = store_atomic_enter(store, &own_transaction);
	if (r < 0)
		return r;
	r = store_exec(store, update_sql, values, 6, NULL);
	if (r < 0)
		goto out;
	if (store_changes(store) == 0) {
		r = -ENOENT;
		goto out;
	}
	r = store_exec(store, delete_sql, &values[4], 1, NULL);
	if (r < 0)
		goto out;
	r = addresses_insert(store, household->id, household->addresses, household->n_addresses);
out:
	return store_atomic_leave(store, own_transaction, r);
}

int store_household_exists(struct store *store, int64_t id)
{
	static const char sql[] = "SELECT id FROM households WHERE id = ?1";
	int64_t found;

	return store_query_int64(store, sql, &STORE_INT(id), 1, &found);
}

int store_household_get(struct store *store, int64_t id, struct household **ret_household)
{
	static const char sql[] = "SELECT " HOUSEHOLD_COLUMNS "WHERE h.id = ?1 ORDER BY a.id";
	const struct store_value values[] = { STORE_INT(id) };
	struct household *households;
	size_t n_households;
	int r;

	r = households_read(store, sql, values, 1, &households, &n_households);
	if (r < 0)
		return r;
	if (n_households == 0) {
		store_households_free(households, n_households);
		return -ENOENT;
	}
	/* One household in an array of one: store_household_free() frees it. */
	*ret_household = households;
	return 0;
}

int store_household_list(struct store *store, struct household **ret_households,
			 size_t *ret_n_households)
{
	/* One query, so the list is one consistent snapshot and costs one
	 * statement however many households there are. */
	static const char sql[] = "SELECT " HOUSEHOLD_COLUMNS "ORDER BY h.id, a.id";

	return households_read(store, sql, NULL, 0, ret_households, ret_n_households);
}

int store_household_changes(struct store *store, int64_t *ret_changes)
{
	static const char sql[] =
		"SELECT CAST(coalesce(sum(changes), 0) AS BIGINT) FROM households";

	return store_query_int64(store, sql, NULL, 0, ret_changes);
}

/* The household and range conflict_find() found. */
struct conflict {
	int64_t household_id;
	struct cidr range;
};

static int conflict_decode(struct store_stmt *stmt, void *data)
{
	struct conflict *conflict = data;

	conflict->household_id = store_column_int64(stmt, 0);
	return address_from_row(stmt, 1, &conflict->range);
}

/* Finds the first active household other than except_household_id with a
 * range overlapping address: 0 and its id and range, or -ENOENT. */
static int conflict_find(struct store *store, const char *gateway, const struct cidr *address,
			 int64_t except_household_id, int64_t *ret_household_id,
			 struct cidr *ret_range)
{
	/* Ranges of one family have BLOBs of one length, so BLOB order (memcmp)
	 * is address order and two ranges overlap when each starts before the
	 * other ends. */
	static const char sql[] =
		"SELECT a.household_id, a.family, a.first, a.prefix_len "
		"FROM household_addresses AS a "
		"JOIN households AS h ON h.id = a.household_id "
		"WHERE a.family = ?1 AND a.first <= ?2 AND a.last >= ?3 "
		"AND h.status = 'active' AND a.household_id != ?4 AND h.gateway = ?5 "
		"ORDER BY a.household_id, a.id LIMIT 1";
	uint8_t first[16], last[16];
	size_t len = cidr_addr_len(address);
	const struct store_value values[] = {
		STORE_INT(address_family_number(address)),
		STORE_BLOB(last, len),
		STORE_BLOB(first, len),
		STORE_INT(except_household_id),
		STORE_TEXT(gateway),
	};
	struct conflict conflict;
	int r;

	cidr_range(address, first, last);
	r = store_query_one(store, sql, values, 5, conflict_decode, &conflict);
	if (r < 0)
		return r;
	*ret_household_id = conflict.household_id;
	*ret_range = conflict.range;
	return 0;
}

int store_address_conflict(struct store *store, const char *gateway, const struct cidr *addresses,
			   size_t n_addresses, int64_t except_household_id,
			   int64_t *ret_household_id, struct cidr *ret_range)
{
	struct cidr range = { 0 };
	int64_t household_id = 0;
	int r;

	r = addresses_check(addresses, n_addresses);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n_addresses; i++) {
		r = conflict_find(store, gateway, &addresses[i], except_household_id, &household_id,
				  &range);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			return r;
		*ret_household_id = household_id;
		*ret_range = range;
		return 0;
	}
	return -ENOENT;
}

int store_household_ids(struct store *store, const char *gateway, int64_t **ret_active,
			size_t *ret_n_active, int64_t **ret_closed, size_t *ret_n_closed)
{
	static const char sql[] =
		"SELECT id, CASE WHEN status = 'active' "
		"AND (CAST(?1 AS TEXT) IS NULL OR gateway = ?1) THEN 1 ELSE 0 END "
		"FROM households ORDER BY id";
	const struct store_value values[] = { STORE_TEXT(gateway) };
	int64_t *lists[2] = { NULL, NULL };
	size_t counts[2] = { 0, 0 }, allocated[2] = { 0, 0 };
	struct store_stmt *stmt = NULL;
	int r;

	r = store_query(store, sql, values, 1, &stmt);
	if (r < 0)
		return r;
	while ((r = store_step(stmt)) > 0) {
		int which = (int)store_column_int64(stmt, 1) ? 0 : 1;

		if (counts[which] == allocated[which]) {
			size_t count = allocated[which] ? allocated[which] * 2 : 256;
			int64_t *grown = realloc(lists[which], count * sizeof(int64_t));

			if (!grown) {
				r = -ENOMEM;
				goto out;
			}
			lists[which] = grown;
			allocated[which] = count;
		}
		lists[which][counts[which]++] = store_column_int64(stmt, 0);
	}
out:
	store_release(stmt);
	if (r < 0) {
		free(lists[0]);
		free(lists[1]);
		return r;
	}
	*ret_active = lists[0];
	*ret_n_active = counts[0];
	*ret_closed = lists[1];
	*ret_n_closed = counts[1];
	return 0;
}

json_t *store_household_json(const struct household *household)
{
	json_t *addresses = json_array();
	char text[CIDR_TEXT_MAX];

	for (size_t i = 0; i < household->n_addresses; i++) {
		cidr_format(&household->addresses[i], text);
		json_array_append_new(addresses, json_string(text));
	}
	return json_pack("{s:I, s:s, s:s, s:s, s:o, s:o, s:o, s:s}", "id",
			 (json_int_t)household->id, "name", household->name, "status",
			 household->status == HOUSEHOLD_ACTIVE ? "active" : "closed", "joined_at",
			 household->joined_at, "left_at",
			 household->left_at[0] ? json_string(household->left_at) : json_null(),
			 "addresses", addresses, "tariff_id",
			 household->tariff_id ? json_integer(household->tariff_id) : json_null(),
			 "gateway", household->gateway);
}
