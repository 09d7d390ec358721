/* The audit trail of administrative actions. The table is append-only:
 * triggers in the schema refuse UPDATE and DELETE. */
#include <errno.h>

#include "store-internal.h"

int store_audit_append(struct store *store, const char *actor, const char *action,
		       int64_t household_id, const char *detail_json)
{
	static const char sql[] = "INSERT INTO audit_events (actor, action, household_id, detail) "
				  "VALUES (?, ?, ?, ?)";
	sqlite3_stmt *stmt;
	int r;

	if (!actor || !action || !detail_json)
		return -EINVAL;

	r = store_prepare(store, sql, &stmt);
	if (r < 0)
		return r;
	if (sqlite3_bind_text(stmt, 1, actor, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(stmt, 2, action, -1, SQLITE_STATIC) != SQLITE_OK ||
	    store_bind_id(stmt, 3, household_id) != SQLITE_OK ||
	    sqlite3_bind_text(stmt, 4, detail_json, -1, SQLITE_STATIC) != SQLITE_OK) {
		r = store_last_error(store);
		store_release(stmt);
		return r;
	}
	return store_run(stmt);
}
