/* Tariffs through the ledger, without HTTP: a draft is replaced and deleted,
 * publishing signs it and logs its hash, a tariff published too early is
 * refused naming the earliest valid_from, and a published one is immutable. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "coopbill/config.h"
#include "coopbill/date.h"
#include "coopbill/ledger.h"
#include "coopbill/period.h"
#include "coopbill/store.h"
#include "coopbill/tlog.h"

#include "ledger-fixture.h"

/* The day the treasurer acts on, and so the notice counts from. */
static const struct date today = { 2026, 1, 10 };

struct fixture {
	char dir[64];
	char db[96];
	struct config config;
	struct ledger ledger;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	test_dir_make(f->dir, sizeof(f->dir), "tariffs");
	ledger_fixture_config(&f->config);
	f->config.meter_bucket_s = 300;
	f->config.notice_days = 30;
	strcpy(f->config.currency, "EUR");
	ledger_fixture_open(f->dir, f->db, sizeof(f->db), &f->config, &f->ledger);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	return ledger_fixture_free(f, &f->ledger, &f->config, f->dir);
}

/* A tariff document named name, valid from a period's first day, in
 * currency, with a peak window from `from` (an "HH:MM" time). */
static char *document(const char *name, const struct date *valid_from, const char *currency,
		      const char *from)
{
	char valid_from_text[DATE_TEXT_MAX], *text;

	date_format(valid_from, valid_from_text);
	assert_true(asprintf(&text,
			     "{\"name\":\"%s\",\"currency\":\"%s\",\"valid_from\":\"%s\","
			     "\"fixed_fee\":{\"amount_minor\":1000,\"prorate\":true},"
			     "\"usage_charges\":[{\"name\":\"Peak\",\"direction\":\"down\","
			     "\"windows\":[{\"days\":[\"mon\"],\"from\":\"%s\",\"to\":\"23:00\"}],"
			     "\"tiers\":[{\"price_per_gb_minor\":70}]}]}",
			     name, currency, valid_from_text, from) > 0);
	return text;
}

static struct date earliest(void)
{
	return period_start_after_notice(&today, 30);
}

static int64_t draft(struct fixture *f, const char *text)
{
	struct ledger_tariff_draft_request in = { .document = text, .len = strlen(text) };
	struct ledger_tariff_draft_result out;
	struct ledger_error err;

	assert_int_equal(ledger_tariff_create(&f->ledger, &in, &out, &err), 0);
	return out.id;
}

static void assert_refused(const struct ledger_error *err, enum ledger_refusal kind,
			   const char *slug)
{
	assert_int_equal(err->kind, kind);
	assert_string_equal(err->slug, slug);
}

/* The stored document's "name". */
static void assert_named(struct fixture *f, int64_t id, const char *name)
{
	struct store_tariff stored;
	json_t *parsed;

	assert_int_equal(store_tariff_load(f->ledger.store, id, &stored), 0);
	parsed = json_loads(stored.document, 0, NULL);
	assert_non_null(parsed);
	assert_string_equal(json_string_value(json_object_get(parsed, "name")), name);
	json_decref(parsed);
	free(stored.document);
}

static void test_draft_replaced_and_deleted(void **state)
{
	struct fixture *f = *state;
	struct date from = earliest();
	char *first = document("First", &from, "EUR", "18:00");
	char *second = document("Second", &from, "EUR", "18:00");
	char *dollars = document("Dollars", &from, "USD", "18:00");
	struct ledger_tariff_draft_request in = { .document = second, .len = strlen(second) };
	struct ledger_tariff_draft_result out;
	struct store_tariff stored;
	struct ledger_error err;
	char sha256[65];

	in.id = draft(f, first);
	assert_named(f, in.id, "First");
	assert_int_equal(ledger_tariff_replace(&f->ledger, &in, &out, &err), 0);
	assert_int_equal(out.id, in.id);
	assert_named(f, in.id, "Second");
	assert_int_equal(store_tariff_load(f->ledger.store, in.id, &stored), 0);
	ledger_sha256_hex(stored.document, sha256);
	assert_string_equal(stored.sha256, sha256);
	assert_false(stored.published);
	free(stored.document);

	/* A document that does not parse, or bills in another currency,
	 * leaves the draft as it was. */
	in.document = "{\"name\":";
	in.len = strlen(in.document);
	assert_int_equal(ledger_tariff_replace(&f->ledger, &in, &out, &err), -EINVAL);
	assert_refused(&err, LEDGER_INVALID, "invalid-tariff");
	in.document = dollars;
	in.len = strlen(dollars);
	assert_int_equal(ledger_tariff_replace(&f->ledger, &in, &out, &err), -EINVAL);
	assert_refused(&err, LEDGER_POLICY, "invalid-tariff");
	assert_non_null(strstr(err.detail, "bills in EUR"));
	assert_named(f, in.id, "Second");

	assert_int_equal(ledger_tariff_delete(&f->ledger, in.id, &err), 0);
	assert_int_equal(store_tariff_load(f->ledger.store, in.id, &stored), -ENOENT);
	assert_int_equal(ledger_tariff_delete(&f->ledger, in.id, &err), -ENOENT);
	assert_refused(&err, LEDGER_NOT_FOUND, "not-found");
	in.document = second;
	in.len = strlen(second);
	assert_int_equal(ledger_tariff_replace(&f->ledger, &in, &out, &err), -ENOENT);
	assert_refused(&err, LEDGER_NOT_FOUND, "not-found");
	free(first);
	free(second);
	free(dollars);
}

static void test_publish_signs_and_logs(void **state)
{
	struct fixture *f = *state;
	struct date from = earliest();
	char *text = document("Published", &from, "EUR", "18:00");
	struct ledger_tariff_publish_request in = { .id = draft(f, text), .today = today };
	struct ledger_tariff_publish_result out;
	struct tlog_verifier verifier;
	struct store_tariff stored;
	struct ledger_error err;
	char sha256[65], field[80], *entry, *note, *opened;
	size_t len, opened_len;
	json_t *row;

	assert_int_equal(ledger_tariff_publish(&f->ledger, &in, &out, &err), 0);
	assert_int_equal(store_tariff_load(f->ledger.store, in.id, &stored), 0);
	assert_true(stored.published);
	ledger_sha256_hex(stored.document, sha256);

	/* The log entry names the tariff and the hash of its document. */
	assert_int_equal(store_tlog_entry_get(f->ledger.store, out.log_index, &entry, &len), 0);
	assert_non_null(strstr(entry, "tariff-published\n"));
	snprintf(field, sizeof(field), "\nsha256 %s\n", sha256);
	assert_non_null(strstr(entry, field));
	snprintf(field, sizeof(field), "\ntariff %lld\n", (long long)in.id);
	assert_non_null(strstr(entry, field));
	free(entry);

	/* The signature verifies over the document with the log's key. */
	assert_int_equal(store_tariff_get(f->ledger.store, in.id, &row), 0);
	assert_int_equal(json_integer_value(json_object_get(row, "log_index")), out.log_index);
	assert_true(asprintf(&note, "%s\n\n%s\n", stored.document,
			     json_string_value(json_object_get(row, "signature"))) > 0);
	assert_int_equal(tlog_verifier_parse(ledger_tlog_verifier_key(f->ledger.tlog), &verifier),
			 0);
	assert_int_equal(tlog_note_open(note, strlen(note), &verifier, &opened, &opened_len), 0);
	assert_int_equal(opened_len, strlen(stored.document) + 1);
	assert_memory_equal(opened, stored.document, strlen(stored.document));
	free(opened);
	free(note);
	json_decref(row);
	free(stored.document);

	/* Published once: publishing again is refused. */
	assert_int_equal(ledger_tariff_publish(&f->ledger, &in, &out, &err), -EEXIST);
	assert_refused(&err, LEDGER_CONFLICT, "already-published");
	free(text);
}

static void test_publish_too_early(void **state)
{
	struct fixture *f = *state;
	struct date from = earliest(), early = { from.year, from.month - 1, 1 };
	char *text, earliest_text[DATE_TEXT_MAX], *window;
	struct ledger_tariff_publish_request in = { .today = today };
	struct ledger_tariff_publish_result out;
	struct ledger_error err;
	struct store_tariff stored;
	int64_t size;

	if (early.month == 0)
		early = (struct date){ from.year - 1, 12, 1 };
	text = document("Early", &early, "EUR", "18:00");
	window = document("Window", &from, "EUR", "18:05");
	in.id = draft(f, text);
	assert_int_equal(ledger_tariff_publish(&f->ledger, &in, &out, &err), -EINVAL);
	assert_refused(&err, LEDGER_POLICY, "notice-period");
	date_format(&from, earliest_text);
	assert_non_null(strstr(err.detail, earliest_text));

	/* A window edge inside a 15-minute bucket cannot be rated. */
	f->config.meter_bucket_s = 900;
	in.id = draft(f, window);
	assert_int_equal(ledger_tariff_publish(&f->ledger, &in, &out, &err), -EINVAL);
	assert_refused(&err, LEDGER_POLICY, "invalid-tariff");
	assert_non_null(strstr(err.detail, "15-minute buckets"));

	/* Refused: still drafts, and nothing logged beyond the empty log. */
	assert_int_equal(store_tariff_load(f->ledger.store, in.id, &stored), 0);
	assert_false(stored.published);
	free(stored.document);
	assert_int_equal(store_tlog_size(f->ledger.store, &size), 0);
	assert_int_equal(size, 0);
	free(text);
	free(window);
}

static void test_published_is_immutable(void **state)
{
	struct fixture *f = *state;
	struct date from = earliest();
	char *text = document("Fixed", &from, "EUR", "18:00");
	char *other = document("Changed", &from, "EUR", "18:00");
	struct ledger_tariff_publish_request publish = { .id = draft(f, text), .today = today };
	struct ledger_tariff_draft_request in = { .id = publish.id,
						  .document = other,
						  .len = strlen(other) };
	struct ledger_tariff_publish_result published;
	struct ledger_tariff_draft_result out;
	struct ledger_error err;

	assert_int_equal(ledger_tariff_publish(&f->ledger, &publish, &published, &err), 0);
	assert_int_equal(ledger_tariff_replace(&f->ledger, &in, &out, &err), -EEXIST);
	assert_refused(&err, LEDGER_CONFLICT, "tariff-immutable");
	assert_int_equal(ledger_tariff_delete(&f->ledger, publish.id, &err), -EEXIST);
	assert_refused(&err, LEDGER_CONFLICT, "tariff-immutable");
	assert_named(f, publish.id, "Fixed");
	free(text);
	free(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_draft_replaced_and_deleted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_publish_signs_and_logs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_publish_too_early, setup, teardown),
		cmocka_unit_test_setup_teardown(test_published_is_immutable, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
