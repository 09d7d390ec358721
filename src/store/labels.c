/* Labels of published tariffs: one per tariff, stored once with its
 * signature and log index and never changed (triggers refuse it). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store-internal.h"

int store_label_insert(struct store *store, const struct store_label *label)
{
	static const char sql[] = "INSERT INTO tariff_labels (tariff_id, document, sha256, "
				  "signature, log_index) VALUES (?1, ?2, ?3, ?4, ?5)";
	const struct store_value values[] = {
		STORE_INT(label->tariff_id), STORE_TEXT(label->document), STORE_TEXT(label->sha256),
		STORE_TEXT(label->signature), STORE_INT(label->log_index)
	};

	return store_exec(store, sql, values, 5, NULL);
}

static int label_decode(struct store_stmt *stmt, void *data)
{
	struct store_label *label = data;
	const char *document = store_column_text(stmt, 1);
	const char *sha256 = store_column_text(stmt, 2);
	const char *signature = store_column_text(stmt, 3);
	const char *published_at = store_column_text(stmt, 5);

	if (!document || !sha256 || store_column_bytes(stmt, 2) != 64 || !signature ||
	    !published_at || store_column_bytes(stmt, 5) >= sizeof(label->published_at))
		return -EIO;
	*label = (struct store_label){ .tariff_id = store_column_int64(stmt, 0),
				       .log_index = store_column_int64(stmt, 4) };
	memcpy(label->sha256, sha256, 65);
	strcpy(label->published_at, published_at);
	label->document = strdup(document);
	label->signature = strdup(signature);
	if (!label->document || !label->signature) {
		store_label_clear(label);
		return -ENOMEM;
	}
	return 0;
}

int store_label_get(struct store *store, int64_t tariff_id, struct store_label *ret_label)
{
	static const char sql[] = "SELECT tariff_id, document, sha256, signature, log_index, "
				  "published_at FROM tariff_labels WHERE tariff_id = ?1";
	const struct store_value values[] = { STORE_INT(tariff_id) };
	struct store_label label;
	int r;

	r = store_query_one(store, sql, values, 1, label_decode, &label);
	if (r == 0)
		*ret_label = label;
	return r;
}

void store_label_clear(struct store_label *label)
{
	free(label->document);
	free(label->signature);
	*label = (struct store_label){ 0 };
}

static int closed_decode(struct store_stmt *stmt, void *data)
{
	const char *period = store_column_text(stmt, 0);

	if (!period || store_column_bytes(stmt, 0) != 7)
		return -EIO;
	memcpy(data, period, 8);
	return 0;
}

int store_period_last_closed(struct store *store, char ret_period[8])
{
	static const char sql[] = "SELECT period FROM period_closes ORDER BY period DESC LIMIT 1";
	char period[8];
	int r;

	r = store_query_one(store, sql, NULL, 0, closed_decode, period);
	if (r == 0)
		memcpy(ret_period, period, 8);
	return r;
}
