/* The audit trail of administrative actions. The table is append-only:
 * triggers in the schema refuse UPDATE and DELETE. */
#include <errno.h>

#include "store-internal.h"

int store_audit_append(struct store *store, const char *actor, const char *action,
		       int64_t household_id, const char *detail_json)
{
	static const char sql[] = "INSERT INTO audit_events (actor, action, household_id, detail) "
				  "VALUES (?1, ?2, ?3, ?4)";
	const struct store_value values[] = { STORE_TEXT(actor), STORE_TEXT(action),
					      STORE_ID(household_id), STORE_TEXT(detail_json) };

	if (!actor || !action || !detail_json)
		return -EINVAL;
	return store_exec(store, sql, values, 4, NULL);
}
