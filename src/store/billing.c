/* Billing rows: tariffs, expenses, invoices, ledger entries, closed periods
 * and imported usage. Writes bind every value; reads come back as JSON
 * objects keyed by column name, for the API to pass on. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "coopbill/date.h"
#include "store-internal.h"

static json_t *column_json(struct store_stmt *stmt, int column)
{
	switch (store_column_kind(stmt, column)) {
	case STORE_INT:
		return json_integer(store_column_int64(stmt, column));
	case STORE_NULL:
		return json_null();
	default:
		return json_stringn(store_column_text(stmt, column),
				    store_column_bytes(stmt, column));
	}
}

/* Collects the rows of a query as an array of objects. */
static int query_json(struct store *store, const char *sql, const struct store_value *values,
		      size_t n_values, json_t **ret_rows)
{
	json_t *rows = json_array();
	struct store_stmt *stmt = NULL;
	int r;

	if (!rows)
		return -ENOMEM;
	r = store_query(store, sql, values, n_values, &stmt);
	if (r < 0)
		goto out;
	while ((r = store_step(stmt)) > 0) {
		json_t *row = json_object();

		for (int i = 0; row && i < store_column_count(stmt); i++)
			if (json_object_set_new(row, store_column_name(stmt, i),
						column_json(stmt, i)) < 0) {
				json_decref(row);
				row = NULL;
			}
		if (!row || json_array_append_new(rows, row) < 0) {
			r = -ENOMEM;
			break;
		}
	}
	store_release(stmt);
out:
	if (r < 0) {
		json_decref(rows);
		return r;
	}
	*ret_rows = rows;
	return 0;
}

/* The query's only row, or -ENOENT. */
static int query_json_one(struct store *store, const char *sql, const struct store_value *values,
			  size_t n_values, json_t **ret_row)
{
	json_t *rows;
	int r;

	r = query_json(store, sql, values, n_values, &rows);
	if (r < 0)
		return r;
	if (json_array_size(rows) == 0) {
		json_decref(rows);
		return -ENOENT;
	}
	*ret_row = json_incref(json_array_get(rows, 0));
	json_decref(rows);
	return 0;
}

/* Runs an INSERT … RETURNING id; *ret_id (may be NULL) is the row's id. */
static int insert_row(struct store *store, const char *sql, const struct store_value *values,
		      size_t n_values, int64_t *ret_id)
{
	int64_t id;
	int r;

	r = store_exec(store, sql, values, n_values, &id);
	if (r == 0 && ret_id)
		*ret_id = id;
	return r;
}

int store_tariff_insert(struct store *store, const char *name, const char *valid_from,
			const char *document, const char *sha256, int64_t *ret_id)
{
	static const char sql[] = "INSERT INTO tariffs (name, valid_from, document, sha256) "
				  "VALUES (?1, ?2, ?3, ?4) RETURNING id";
	const struct store_value values[] = { STORE_TEXT(name), STORE_TEXT(valid_from),
					      STORE_TEXT(document), STORE_TEXT(sha256) };

	return insert_row(store, sql, values, 4, ret_id);
}

/* The result of a statement that changes tariff id only while it is a draft
 * (r: the statement's): 0 when it changed it, else why not. */
static int draft_changed(struct store *store, int64_t id, int r)
{
	static const char sql[] = "SELECT CASE WHEN status = 'published' THEN 1 ELSE 0 END "
				  "FROM tariffs WHERE id = ?1";
	const struct store_value values[] = { STORE_INT(id) };
	int64_t published;

	if (r < 0 || store_changes(store) == 1)
		return r;
	r = store_query_int64(store, sql, values, 1, &published);
	return r < 0 ? r : published ? -EALREADY : -EPERM;
}

/* The times the store writes are this process's clock, in UTC: the same on
 * every backend, whose server's clock and functions differ. */
int store_tariff_publish(struct store *store, int64_t id, const char *signature, int64_t log_index)
{
	static const char sql[] =
		"UPDATE tariffs SET status = 'published', signature = ?2, log_index = ?3, "
		"published_at = ?4 WHERE id = ?1 AND status = 'draft'";
	char now[DATE_TIME_TEXT_MAX];
	const struct store_value values[] = { STORE_INT(id),
					      STORE_TEXT(signature),
					      STORE_INT(log_index),
					      { .kind = STORE_TEXT, .text = now } };

	date_time_format((int64_t)time(NULL), now);
	return draft_changed(store, id, store_exec(store, sql, values, 4, NULL));
}

int store_tariff_propose(struct store *store, int64_t id, int64_t log_index)
{
	static const char sql[] = "UPDATE tariffs SET proposed_log_index = ?2, proposed_at = ?3 "
				  "WHERE id = ?1 AND status = 'draft' AND proposed_at IS NULL";
	char now[DATE_TIME_TEXT_MAX];
	const struct store_value values[] = { STORE_INT(id),
					      STORE_INT(log_index),
					      { .kind = STORE_TEXT, .text = now } };

	date_time_format((int64_t)time(NULL), now);
	return draft_changed(store, id, store_exec(store, sql, values, 3, NULL));
}

int store_tariff_replace(struct store *store, int64_t id, const char *name, const char *valid_from,
			 const char *document, const char *sha256)
{
	static const char sql[] = "UPDATE tariffs SET name = ?2, valid_from = ?3, document = ?4, "
				  "sha256 = ?5 WHERE id = ?1 AND status = 'draft' "
				  "AND proposed_at IS NULL";
	const struct store_value values[] = { STORE_INT(id), STORE_TEXT(name),
					      STORE_TEXT(valid_from), STORE_TEXT(document),
					      STORE_TEXT(sha256) };

	return draft_changed(store, id, store_exec(store, sql, values, 5, NULL));
}

int store_tariff_delete(struct store *store, int64_t id)
{
	static const char sql[] = "DELETE FROM tariffs WHERE id = ?1 AND status = 'draft' "
				  "AND proposed_at IS NULL";
	const struct store_value values[] = { STORE_INT(id) };

	return draft_changed(store, id, store_exec(store, sql, values, 1, NULL));
}

/* A draft proposed to the members shows as "proposed". */
#define TARIFF_STATUS \
	"CASE WHEN status = 'draft' AND proposed_at IS NOT NULL THEN 'proposed' ELSE status END"
#define TARIFF_COLUMNS                                                                         \
	"id, name, valid_from, " TARIFF_STATUS " AS status, sha256, created_at, proposed_at, " \
	"proposed_log_index, published_at, signature, log_index, document"

int store_tariff_get(struct store *store, int64_t id, json_t **ret_tariff)
{
	static const char sql[] = "SELECT " TARIFF_COLUMNS " FROM tariffs WHERE id = ?1";
	const struct store_value values[] = { STORE_INT(id) };

	return query_json_one(store, sql, values, 1, ret_tariff);
}

static int tariff_decode(struct store_stmt *stmt, void *data)
{
	struct store_tariff *tariff = data;
	const char *status = store_column_text(stmt, 1);
	const char *sha256 = store_column_text(stmt, 2);
	const char *document = store_column_text(stmt, 3);

	if (!status || !document || !sha256 || store_column_bytes(stmt, 2) != 64)
		return -EIO;
	tariff->id = store_column_int64(stmt, 0);
	tariff->published = strcmp(status, "published") == 0;
	tariff->proposed = strcmp(status, "proposed") == 0;
	memcpy(tariff->sha256, sha256, 65);
	tariff->document = strdup(document);
	return tariff->document ? 0 : -ENOMEM;
}

int store_tariff_load(struct store *store, int64_t id, struct store_tariff *ret_tariff)
{
	static const char sql[] = "SELECT id, " TARIFF_STATUS ", sha256, document "
				  "FROM tariffs WHERE id = ?1";
	const struct store_value values[] = { STORE_INT(id) };
	struct store_tariff tariff;
	int r;

	r = store_query_one(store, sql, values, 1, tariff_decode, &tariff);
	if (r == 0)
		*ret_tariff = tariff;
	return r;
}

int store_tariffs_list(struct store *store, const char *status, json_t **ret_tariffs)
{
	static const char sql[] =
		"SELECT " TARIFF_COLUMNS " FROM tariffs WHERE " TARIFF_STATUS " = ?1 ORDER BY id";
	const struct store_value values[] = { STORE_TEXT(status) };

	return query_json(store, sql, values, 1, ret_tariffs);
}

int store_tariff_in_force(struct store *store, const char *period_start, int64_t *ret_id)
{
	static const char sql[] = "SELECT id FROM tariffs WHERE status = 'published' "
				  "AND valid_from <= ?1 ORDER BY valid_from DESC, log_index DESC "
				  "LIMIT 1";
	const struct store_value values[] = { STORE_TEXT(period_start) };

	return store_query_int64(store, sql, values, 1, ret_id);
}

int store_expense_insert(struct store *store, const char *period, const char *category,
			 int64_t amount_minor, const char *description, const char *document_ref,
			 const char *actor, int64_t log_index, int64_t *ret_id)
{
	static const char sql[] = "INSERT INTO expenses (period, category, amount_minor, "
				  "description, document_ref, actor, log_index) "
				  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id";
	const struct store_value values[] = {
		STORE_TEXT(period),	 STORE_TEXT(category),	   STORE_INT(amount_minor),
		STORE_TEXT(description), STORE_TEXT(document_ref), STORE_TEXT(actor),
		STORE_INT(log_index),
	};

	return insert_row(store, sql, values, 7, ret_id);
}

#define EXPENSE_COLUMNS \
	"id, period, category, amount_minor, description, document_ref, created_at, log_index"

int store_expense_get(struct store *store, int64_t id, json_t **ret_expense)
{
	static const char sql[] = "SELECT " EXPENSE_COLUMNS " FROM expenses WHERE id = ?1";
	const struct store_value values[] = { STORE_INT(id) };

	return query_json_one(store, sql, values, 1, ret_expense);
}

int store_expenses_list(struct store *store, const char *period, json_t **ret_expenses)
{
	static const char sql[] = "SELECT " EXPENSE_COLUMNS " FROM expenses "
				  "WHERE CAST(?1 AS TEXT) IS NULL OR period = ?1 ORDER BY id";
	const struct store_value values[] = { STORE_TEXT(period) };

	return query_json(store, sql, values, 1, ret_expenses);
}

int store_expense_total(struct store *store, const char *period, const char *category,
			int64_t *ret_total_minor)
{
	/* A period being closed shares the expenses its close began with. */
	static const char sql[] = "SELECT CAST(coalesce(sum(amount_minor), 0) AS BIGINT) AS total "
				  "FROM expenses WHERE period = ?1 "
				  "AND (CAST(?2 AS TEXT) IS NULL OR category = ?2) AND id <= "
				  "coalesce((SELECT last_expense_id FROM period_close_starts "
				  "WHERE period = ?1), 9223372036854775807)";
	const struct store_value values[] = { STORE_TEXT(period), STORE_TEXT(category) };
	int r;

	/* The sum fails on overflow rather than wrapping: SQLite's sum()
	 * itself, PostgreSQL's in the cast to BIGINT. */
	r = store_query_int64(store, sql, values, 2, ret_total_minor);
	return r == -EIO ? -ERANGE : r;
}

static int invoice_values(const void *rows, size_t row, struct store_value *values)
{
	const struct store_invoice_new *invoice = (const struct store_invoice_new *)rows + row;

	values[0] = STORE_INT(invoice->household_id);
	values[1] = STORE_TEXT(invoice->period);
	values[2] = STORE_INT(invoice->tariff_id);
	values[3] = STORE_INT(invoice->total_minor);
	values[4] = STORE_TEXT(invoice->document);
	values[5] = STORE_INT(invoice->log_index);
	return 0;
}

int store_invoices_insert(struct store *store, const struct store_invoice_new *invoices,
			  size_t n_invoices)
{
	static struct store_batches batches = {
		.head = "INSERT INTO invoices (household_id, period, tariff_id, total_minor, "
			"document, log_index)",
		.tail = "",
		.n_columns = 6
	};

	return store_batches_run(store, &batches, invoices, n_invoices, invoice_values);
}

int store_invoice_debits_insert(struct store *store, const char *period, int64_t first_log_index,
				int64_t end_log_index, const char *actor)
{
	static const char sql[] =
		"INSERT INTO ledger_entries (household_id, kind, amount_minor, invoice_id, actor, "
		"log_index) SELECT household_id, 'invoice', total_minor, id, CAST(?4 AS TEXT), "
		"log_index FROM invoices WHERE period = ?1 AND log_index >= ?2 AND log_index < ?3 "
		"AND total_minor <> 0 ORDER BY log_index";
	const struct store_value values[] = { STORE_TEXT(period), STORE_INT(first_log_index),
					      STORE_INT(end_log_index), STORE_TEXT(actor) };

	return store_exec(store, sql, values, 4, NULL);
}

#define INVOICE_COLUMNS "id, household_id, period, tariff_id, total_minor, created_at, log_index"

int store_invoice_get(struct store *store, int64_t household_id, const char *period,
		      json_t **ret_invoice)
{
	static const char sql[] = "SELECT " INVOICE_COLUMNS ", document FROM invoices "
				  "WHERE household_id = ?1 AND period = ?2";
	const struct store_value values[] = { STORE_INT(household_id), STORE_TEXT(period) };

	return query_json_one(store, sql, values, 2, ret_invoice);
}

int store_invoices_list(struct store *store, int64_t household_id, const char *period,
			json_t **ret_invoices)
{
	static const char sql[] = "SELECT " INVOICE_COLUMNS " FROM invoices "
				  "WHERE (CAST(?1 AS BIGINT) = 0 OR household_id = ?1) "
				  "AND (CAST(?2 AS TEXT) IS NULL OR period = ?2) "
				  "ORDER BY period, household_id";
	const struct store_value values[] = { STORE_INT(household_id), STORE_TEXT(period) };

	return query_json(store, sql, values, 2, ret_invoices);
}

static int invoice_total_decode(struct store_stmt *stmt, struct store_rows *rows)
{
	struct store_invoice_total *total = store_rows_add(rows);

	if (!total)
		return -ENOMEM;
	total->household_id = store_column_int64(stmt, 0);
	total->total_minor = store_column_int64(stmt, 1);
	return 0;
}

int store_invoice_totals(struct store *store, const char *period,
			 struct store_invoice_total **ret_totals, size_t *ret_n_totals)
{
	static const char sql[] = "SELECT household_id, total_minor FROM invoices "
				  "WHERE period = ?1 ORDER BY household_id";
	const struct store_value values[] = { STORE_TEXT(period) };
	struct store_rows rows = { .item_size = sizeof(struct store_invoice_total) };
	int r;

	r = store_collect(store, sql, values, 1, invoice_total_decode, &rows);
	if (r < 0)
		return r;
	*ret_totals = rows.items;
	*ret_n_totals = rows.n;
	return 0;
}

int store_ledger_insert(struct store *store, const struct store_ledger_entry *entry,
			int64_t *ret_id)
{
	static const char sql[] =
		"INSERT INTO ledger_entries (household_id, kind, amount_minor, invoice_id, "
		"method, reference, received_on, reason, reverses, actor, log_index) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) RETURNING id";
	const struct store_value values[] = {
		STORE_INT(entry->household_id), STORE_TEXT(entry->kind),
		STORE_INT(entry->amount_minor), STORE_ID(entry->invoice_id),
		STORE_TEXT(entry->method),	STORE_TEXT(entry->reference),
		STORE_TEXT(entry->received_on), STORE_TEXT(entry->reason),
		STORE_ID(entry->reverses),	STORE_TEXT(entry->actor),
		STORE_INT(entry->log_index),
	};

	return insert_row(store, sql, values, 11, ret_id);
}

/* reversed_by: the reversal of the entry, if any (reverses is unique). */
#define LEDGER_COLUMNS                                                                       \
	"id, household_id, kind, amount_minor, invoice_id, method, reference, received_on, " \
	"reason, reverses, (SELECT reversal.id FROM ledger_entries AS reversal "             \
	"WHERE reversal.reverses = ledger_entries.id) AS reversed_by, created_at, log_index"

int store_ledger_get(struct store *store, int64_t id, json_t **ret_entry)
{
	static const char sql[] = "SELECT " LEDGER_COLUMNS " FROM ledger_entries WHERE id = ?1";
	const struct store_value values[] = { STORE_INT(id) };

	return query_json_one(store, sql, values, 1, ret_entry);
}

int store_ledger_list(struct store *store, int64_t household_id, json_t **ret_entries)
{
	static const char sql[] = "SELECT " LEDGER_COLUMNS ", CAST(sum(amount_minor) OVER "
				  "(ORDER BY id) AS BIGINT) AS balance_minor FROM ledger_entries "
				  "WHERE household_id = ?1 ORDER BY id";
	const struct store_value values[] = { STORE_INT(household_id) };

	return query_json(store, sql, values, 1, ret_entries);
}

int store_payments_list(struct store *store, json_t **ret_payments)
{
	static const char sql[] = "SELECT " LEDGER_COLUMNS " FROM ledger_entries "
				  "WHERE kind = 'payment' ORDER BY id";

	return query_json(store, sql, NULL, 0, ret_payments);
}

int store_period_close_get(struct store *store, const char *period, json_t **ret_close)
{
	static const char sql[] = "SELECT period, households, total_minor, closed_at, log_index, "
				  "summary FROM period_closes WHERE period = ?1";
	const struct store_value values[] = { STORE_TEXT(period) };

	return query_json_one(store, sql, values, 1, ret_close);
}

int store_period_state(struct store *store, const char *period, enum store_period_state *ret_state)
{
	static const char sql[] =
		"SELECT CASE WHEN EXISTS (SELECT 1 FROM period_closes WHERE period = ?1) THEN 2 "
		"WHEN EXISTS (SELECT 1 FROM period_close_starts WHERE period = ?1) THEN 1 "
		"ELSE 0 END";
	const struct store_value values[] = { STORE_TEXT(period) };
	int64_t state;
	int r;

	r = store_query_int64(store, sql, values, 1, &state);
	if (r == 0)
		*ret_state = state == 2	  ? STORE_PERIOD_CLOSED
			     : state == 1 ? STORE_PERIOD_CLOSING
					  : STORE_PERIOD_OPEN;
	return r;
}

static int period_decode(struct store_stmt *stmt, void *data)
{
	const char *period = store_column_text(stmt, 0);

	if (!period || store_column_bytes(stmt, 0) != 7)
		return -EIO;
	memcpy(data, period, 8);
	return 0;
}

static int closed_decode(struct store_stmt *stmt, struct store_rows *rows)
{
	char *period = store_rows_add(rows);

	return period ? period_decode(stmt, period) : -ENOMEM;
}

int store_periods_closed_last(struct store *store, size_t max, char (**ret_periods)[8],
			      size_t *ret_n_periods)
{
	static const char sql[] = "SELECT period FROM period_closes ORDER BY period DESC LIMIT ?1";
	const struct store_value values[] = { STORE_INT((int64_t)max) };
	struct store_rows rows = { .item_size = 8 };
	char(*periods)[8];
	int r;

	r = store_collect(store, sql, values, 1, closed_decode, &rows);
	if (r < 0)
		return r;
	/* Read newest first, for the limit; handed on oldest first. */
	periods = rows.items;
	for (size_t i = 0; i < rows.n / 2; i++) {
		char swap[8];

		memcpy(swap, periods[i], 8);
		memcpy(periods[i], periods[rows.n - 1 - i], 8);
		memcpy(periods[rows.n - 1 - i], swap, 8);
	}
	*ret_periods = periods;
	*ret_n_periods = rows.n;
	return 0;
}

int store_period_closing(struct store *store, const char *from, char ret_period[8])
{
	static const char sql[] = "SELECT period FROM period_close_starts "
				  "WHERE period NOT IN (SELECT period FROM period_closes) "
				  "AND (CAST(?1 AS TEXT) IS NULL OR period >= ?1) "
				  "ORDER BY period LIMIT 1";
	const struct store_value values[] = { STORE_TEXT(from) };
	char period[8];
	int r;

	r = store_query_one(store, sql, values, 1, period_decode, period);
	if (r == 0)
		memcpy(ret_period, period, 8);
	return r;
}

int store_period_close_begin(struct store *store, const char *period)
{
	/* WHERE true: without it SQLite reads ON CONFLICT as a join's ON. */
	static const char sql[] = "INSERT INTO period_close_starts (period, last_expense_id) "
				  "SELECT ?1, coalesce(max(id), 0) FROM expenses WHERE true "
				  "ON CONFLICT (period) DO NOTHING";
	const struct store_value values[] = { STORE_TEXT(period) };

	return store_exec(store, sql, values, 1, NULL);
}

int store_period_close_insert(struct store *store, const char *period, int64_t households,
			      int64_t total_minor, const char *summary, int64_t log_index)
{
	static const char sql[] = "INSERT INTO period_closes (period, households, total_minor, "
				  "summary, log_index) VALUES (?1, ?2, ?3, ?4, ?5)";
	const struct store_value values[] = { STORE_TEXT(period), STORE_INT(households),
					      STORE_INT(total_minor), STORE_TEXT(summary),
					      STORE_INT(log_index) };

	return store_exec(store, sql, values, 5, NULL);
}

int store_usage_import(struct store *store, const struct store_usage_row *row, const char *reason,
		       const char *actor, int64_t log_index)
{
	static const char sql[] = "INSERT INTO usage_imports (household_id, bucket_start, "
				  "bytes_up, bytes_down, local_up, local_down, reason, actor, "
				  "log_index) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
	const struct store_value values[] = { STORE_INT(row->household_id),
					      STORE_INT(row->start),
					      STORE_INT((int64_t)row->bytes_up),
					      STORE_INT((int64_t)row->bytes_down),
					      STORE_INT((int64_t)row->local_up),
					      STORE_INT((int64_t)row->local_down),
					      STORE_TEXT(reason),
					      STORE_TEXT(actor),
					      STORE_INT(log_index) };

	if (row->bytes_up > INT64_MAX || row->bytes_down > INT64_MAX || row->local_up > INT64_MAX ||
	    row->local_down > INT64_MAX)
		return -ERANGE;
	return store_exec(store, sql, values, 9, NULL);
}

int store_usage_imports_list(struct store *store, int64_t household_id, int64_t from, int64_t to,
			     json_t **ret_imports)
{
	static const char sql[] =
		"SELECT id, household_id, bucket_start, bytes_up, bytes_down, "
		"local_up, local_down, reason, created_at, log_index FROM usage_imports "
		"WHERE household_id = ?1 AND bucket_start >= ?2 "
		"AND bucket_start < ?3 ORDER BY bucket_start";
	const struct store_value values[] = { STORE_INT(household_id), STORE_INT(from),
					      STORE_INT(to) };

	return query_json(store, sql, values, 3, ret_imports);
}

static int imported_decode(struct store_stmt *stmt, struct store_rows *rows)
{
	struct store_imported *imported = store_rows_add(rows);

	if (!imported)
		return -ENOMEM;
	*imported = (struct store_imported){
		.household_id = store_column_int64(stmt, 0),
		.rows = store_column_int64(stmt, 1),
		.bytes_up = (uint64_t)store_column_int64(stmt, 2),
		.bytes_down = (uint64_t)store_column_int64(stmt, 3),
		.local_up = (uint64_t)store_column_int64(stmt, 4),
		.local_down = (uint64_t)store_column_int64(stmt, 5),
	};
	return 0;
}

int store_usage_imported(struct store *store, int64_t first_household_id, int64_t end_household_id,
			 int64_t from, int64_t to, struct store_imported **ret_imported,
			 size_t *ret_n_imported)
{
	/* Through the households, so that each is a range of the (household,
	 * bucket) index and imports of other periods are never read. */
	static const char sql[] =
		"SELECT household_id, count(*), CAST(sum(bytes_up) AS BIGINT), "
		"CAST(sum(bytes_down) AS BIGINT), CAST(sum(local_up) AS BIGINT), "
		"CAST(sum(local_down) AS BIGINT) FROM usage_imports WHERE household_id IN "
		"(SELECT id FROM households WHERE id >= ?1 AND id < ?2) "
		"AND bucket_start >= ?3 AND bucket_start < ?4 "
		"GROUP BY household_id ORDER BY household_id";
	const struct store_value values[] = { STORE_INT(first_household_id),
					      STORE_INT(end_household_id), STORE_INT(from),
					      STORE_INT(to) };
	struct store_rows rows = { .item_size = sizeof(struct store_imported) };
	int r;

	r = store_collect(store, sql, values, 4, imported_decode, &rows);
	/* The sums fail on overflow rather than wrapping (as in
	 * store_expense_total()). */
	if (r < 0)
		return r == -EIO ? -ERANGE : r;
	*ret_imported = rows.items;
	*ret_n_imported = rows.n;
	return 0;
}
