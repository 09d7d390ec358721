/* Labels through the ledger, without HTTP: publishing a tariff with windows,
 * an allowance, tiers and a cap makes its label, whose three costs are
 * worked out by hand here; a cooperative of 8 households gets the configured
 * profiles, one of 30 profiles averaged over 5 households each around the
 * 25th, 50th and 90th percentile of the last closed period; the label is
 * signed with the log key and logged, and never changes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "coopbill/config.h"
#include "coopbill/date.h"
#include "coopbill/ledger.h"
#include "coopbill/period.h"
#include "coopbill/store.h"
#include "coopbill/tlog.h"
#include "coopbill/tz.h"

#include "ledger-fixture.h"

/* October 2026 in UTC: 744 hours from 2026-10-01T00:00:00Z. */
#define OCTOBER_START_S 1790812800
#define OCTOBER_HOURS	744
/* When October is closed: after it ended. */
#define CLOSE_NOW_S 1800000000
/* Household k of the cooperative uses k times these bytes every hour of
 * October. */
#define DOWN_PER_K 12500000
#define UP_PER_K   1250000

/* The day the treasurer publishes: 30 days' notice make 2027-01-01 the
 * earliest valid_from. */
static const struct date today = { 2026, 11, 20 };
static const struct period october = { 2026, 10 };

/* A fixed fee, an evening download charge (18:00-22:00 every day: 4 hours
 * of 24) with 2 GB free, 0.50 a GB up to 10 GB and 0.20 above, the rest of
 * the traffic both ways at 0.10 a GB, and a cap of 43.00. */
static const char label_tariff[] =
	"{\"name\":\"Evenings\",\"currency\":\"EUR\",\"valid_from\":\"2027-01-01\","
	"\"fixed_fee\":{\"amount_minor\":1000,\"prorate\":false},"
	"\"usage_charges\":[{\"name\":\"Evening\",\"direction\":\"down\",\"windows\":[{\"days\":"
	"[\"mon\",\"tue\",\"wed\",\"thu\",\"fri\",\"sat\",\"sun\"],\"from\":\"18:00\","
	"\"to\":\"22:00\"}],\"allowance_gb\":2,\"tiers\":[{\"up_to_gb\":10,"
	"\"price_per_gb_minor\":50},{\"price_per_gb_minor\":20}]},"
	"{\"name\":\"Rest\",\"direction\":\"both\",\"tiers\":[{\"price_per_gb_minor\":10}]}],"
	"\"cap_minor\":4300}";

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
	test_dir_make(f->dir, sizeof(f->dir), "label");
	ledger_fixture_config(&f->config);
	f->config.meter_bucket_s = 300;
	f->config.notice_days = 30;
	strcpy(f->config.currency, "EUR");
	/* Configured profiles whose GB spread evenly over January's 744 hours
	 * without a byte left over (93 GB is 125,000,000 bytes an hour). */
	f->config.label_light_down_gb = 93;
	f->config.label_light_up_gb = 0;
	f->config.label_typical_down_gb = 186;
	f->config.label_typical_up_gb = 93;
	f->config.label_heavy_down_gb = 744;
	f->config.label_heavy_up_gb = 186;
	ledger_fixture_open(f->dir, f->db, sizeof(f->db), &f->config, &f->ledger);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	return ledger_fixture_free(f, &f->ledger, &f->config, f->dir);
}

/* n households (ids 1 to n), a tariff for October, household k using k ×
 * DOWN_PER_K down and k × UP_PER_K up every hour of October, and
 * transit_minor of transit to share (0: none). */
static void cooperative(struct fixture *f, int64_t n, int64_t transit_minor)
{
	struct store *store = f->ledger.store;
	struct store_usage_row *rows = calloc((size_t)n, sizeof(*rows));

	assert_non_null(rows);
	for (int64_t k = 1; k <= n; k++)
		assert_int_equal(ledger_fixture_household(&f->ledger, "2026-01-01", "h", NULL, 0),
				 k);
	assert_int_equal(store_begin(store), 0);
	tariff_publish_from(store, "Shared", "2026-10-01", october_tariff);
	for (int64_t h = 0; h < OCTOBER_HOURS; h++) {
		for (int64_t k = 1; k <= n; k++)
			rows[k - 1] = (struct store_usage_row){
				OCTOBER_START_S + h * 3600, k, (uint64_t)k * UP_PER_K,
				(uint64_t)k * DOWN_PER_K,   0, 0
			};
		assert_int_equal(store_usage_add_rows(store, 0, rows, (size_t)n), 0);
	}
	if (transit_minor)
		assert_int_equal(store_expense_insert(store, "2026-10", "transit", transit_minor,
						      "upstream", NULL, "test", 0, NULL),
				 0);
	assert_int_equal(store_commit(store), 0);
	free(rows);
}

/* October closed: n invoices. */
static void october_close(struct fixture *f, int64_t n)
{
	struct ledger_closed_period closed = { 0 };
	struct ledger_close *close = NULL;
	struct ledger_error err;
	bool done = false;

	assert_int_equal(ledger_close_begin(&f->ledger,
					    &(struct ledger_close_request){ .period = &october,
									    .actor = "test",
									    .now_s = CLOSE_NOW_S },
					    &close, &closed, &err),
			 0);
	while (!done)
		assert_int_equal(ledger_close_step(close, UINT64_MAX, &done, &err), 0);
	assert_int_equal(ledger_close_finish(close, &closed, &err), 0);
	assert_int_equal(closed.households, n);
	ledger_close_free(close);
	ledger_closed_period_clear(&closed);
}

static void cooperative_closed(struct fixture *f, int64_t n, int64_t transit_minor)
{
	cooperative(f, n, transit_minor);
	october_close(f, n);
}

/* Drafts and publishes a tariff with the profiles read in label (NULL:
 * read by the publish); its id. */
static int64_t publish_with(struct fixture *f, const char *document, struct ledger_label *label)
{
	struct ledger_tariff_draft_request draft = { .document = document,
						     .len = strlen(document) };
	struct ledger_tariff_draft_result drafted;
	struct ledger_tariff_publish_result out;
	struct ledger_error err;

	assert_int_equal(ledger_tariff_create(&f->ledger, &draft, &drafted, &err), 0);
	assert_int_equal(
		ledger_tariff_publish(&f->ledger,
				      &(struct ledger_tariff_publish_request){
					      .id = drafted.id, .today = today, .label = label },
				      &out, &err),
		0);
	return drafted.id;
}

static int64_t publish_document(struct fixture *f, const char *document)
{
	return publish_with(f, document, NULL);
}

static int64_t publish(struct fixture *f)
{
	return publish_document(f, label_tariff);
}

/* The label as the API replies it. */
static json_t *label_get(struct fixture *f, int64_t tariff_id)
{
	struct ledger_error err;
	char *text;
	json_t *label;

	assert_int_equal(ledger_label_get(&f->ledger, tariff_id, &text, &err), 0);
	label = json_loads(text, 0, NULL);
	assert_non_null(label);
	free(text);
	return label;
}

static json_t *profile(json_t *label, const char *name)
{
	json_t *found = json_object_get(
		json_object_get(json_object_get(label, "document"), "profiles"), name);

	assert_non_null(found);
	return found;
}

static int64_t integer(json_t *object, const char *key)
{
	json_t *value = json_object_get(object, key);

	assert_true(json_is_integer(value));
	return json_integer_value(value);
}

/* The amount of the profile invoice's line of this kind and description
 * (NULL: any). */
static int64_t line_amount(json_t *prof, const char *kind, const char *description)
{
	json_t *lines = json_object_get(json_object_get(prof, "invoice"), "lines"), *line;
	size_t i;

	json_array_foreach(lines, i, line)
	{
		const char *d = json_string_value(json_object_get(line, "description"));

		if (strcmp(json_string_value(json_object_get(line, "kind")), kind) == 0 &&
		    (!description || (d && strstr(d, description))))
			return integer(line, "amount_minor");
	}
	fail_msg("no %s line %s", kind, description ? description : "");
	return 0;
}

/* The label's signature verifies over its document with the log's key, as
 * a tariff's does, and its entry in the log names it. */
static void assert_signed_and_logged(struct fixture *f, json_t *label, int64_t tariff_id,
				     const char *source, const char *period)
{
	const char *document = NULL;
	struct tlog_verifier verifier;
	char sha256[65], field[200], *note, *opened, *entry, *text;
	size_t len, opened_len;
	json_t *parsed;

	/* The document the API shows is the one that was signed: canonical
	 * JSON, sorted keys, no spaces. */
	parsed = json_object_get(label, "document");
	text = json_dumps(parsed, JSON_COMPACT | JSON_SORT_KEYS);
	document = text;
	ledger_sha256_hex(document, sha256);
	assert_string_equal(json_string_value(json_object_get(label, "sha256")), sha256);
	assert_true(asprintf(&note, "%s\n\n%s\n", document,
			     json_string_value(json_object_get(label, "signature"))) > 0);
	assert_int_equal(tlog_verifier_parse(ledger_tlog_verifier_key(f->ledger.tlog), &verifier),
			 0);
	assert_int_equal(tlog_note_open(note, strlen(note), &verifier, &opened, &opened_len), 0);
	assert_int_equal(opened_len, strlen(document) + 1);
	assert_memory_equal(opened, document, strlen(document));
	free(opened);
	free(note);

	assert_int_equal(
		store_tlog_entry_get(f->ledger.store, integer(label, "log_index"), &entry, &len),
		0);
	assert_non_null(strstr(entry, "label-published\n"));
	snprintf(field, sizeof(field), "\ntariff %" PRId64 "\nsha256 %s\nprofiles %s\nperiod %s\n",
		 tariff_id, sha256, source, period);
	assert_non_null(strstr(entry, field));
	free(entry);
	free(text);
}

/* 8 households billed in October are too few to hide one in a profile:
 * the label prices the configured profiles in the tariff's first month,
 * January 2027 (744 hours, 124 of them in the evening window). */
static void test_few_households_configured_profiles(void **state)
{
	struct fixture *f = *state;
	json_t *label, *profiles, *light, *typical, *heavy;
	int64_t id;

	cooperative_closed(f, 8, 0);
	id = publish(f);
	label = label_get(f, id);
	assert_int_equal(integer(label, "tariff_id"), id);
	profiles = json_object_get(json_object_get(label, "document"), "profiles");
	assert_string_equal(json_string_value(json_object_get(profiles, "source")),
			    "configuration");
	assert_string_equal(json_string_value(json_object_get(profiles, "period")), "2027-01");
	assert_null(json_object_get(profiles, "households"));
	light = profile(label, "light");
	typical = profile(label, "typical");
	heavy = profile(label, "heavy");
	assert_null(json_object_get(light, "percentile"));
	assert_null(json_object_get(light, "households"));

	/* Light: 93 GB down, nothing up. Evening: 124 h × 0.125 GB = 15.5 GB:
	 * 2 GB free, 8 GB × 0.50 = 4.00, 5.5 GB × 0.20 = 1.10. Rest: 620 h ×
	 * 0.125 GB = 77.5 GB × 0.10 = 7.75. With the fee: 10.00 + 4.00 + 1.10
	 * + 7.75 = 22.85. */
	assert_int_equal(integer(light, "bytes_down"), INT64_C(93000000000));
	assert_int_equal(integer(light, "bytes_up"), 0);
	assert_int_equal(line_amount(light, "usage", "Evening (allowance)"), 0);
	assert_int_equal(line_amount(light, "usage", "Evening (2 to 10 GB)"), 400);
	assert_int_equal(line_amount(light, "usage", "Evening (beyond 10 GB)"), 110);
	assert_int_equal(line_amount(light, "usage", "Rest"), 775);
	assert_int_equal(integer(light, "total_minor"), 2285);

	/* Typical: 186 GB down, 93 up. Evening: 124 × 0.25 = 31 GB: 4.00 +
	 * 21 GB × 0.20 = 4.20. Rest: 155 GB down + 93 GB up = 248 GB × 0.10 =
	 * 24.80. 10.00 + 4.00 + 4.20 + 24.80 = 43.00, the cap itself: no cap
	 * line. */
	assert_int_equal(integer(typical, "bytes_up"), INT64_C(93000000000));
	assert_int_equal(integer(typical, "total_minor"), 4300);

	/* Heavy: 744 GB down, 186 up. Evening: 124 GB: 4.00 + 114 × 0.20 =
	 * 22.80. Rest: 620 + 186 = 806 GB × 0.10 = 80.60. 10.00 + 4.00 + 22.80
	 * + 80.60 = 117.40, capped at 43.00 by a cap line of -74.40. */
	assert_int_equal(line_amount(heavy, "cap", NULL), -7440);
	assert_int_equal(integer(heavy, "total_minor"), 4300);
	assert_true(json_is_true(json_object_get(json_object_get(heavy, "invoice"), "quote")));

	assert_signed_and_logged(f, label, id, "configuration", "2027-01");
	json_decref(label);
}

/* The bytes a profile averaged over households first to first + 4 (all of
 * October, in one direction) comes to: their k averaged, × per_k × 744. */
static int64_t group_bytes(int64_t first, int64_t per_k)
{
	int64_t sum = 0;

	for (int64_t k = first; k < first + 5; k++)
		sum += k * per_k * OCTOBER_HOURS;
	return sum / 5;
}

/* 30 households: each profile is the 5 (max(5, ceil(30 / 20))) households
 * around the nearest rank of its percentile among the 30 sorted by bytes
 * (household k is the k-th lightest): 25th: rank 8, households 6 to 10;
 * 50th: rank 15, 13 to 17; 90th: rank 27, 25 to 29. Their hours averaged
 * are priced in October. */
static void test_percentile_profiles(void **state)
{
	struct fixture *f = *state;
	json_t *label, *profiles, *light, *typical, *heavy;
	int64_t id;

	cooperative_closed(f, 30, 0);
	id = publish(f);
	label = label_get(f, id);
	profiles = json_object_get(json_object_get(label, "document"), "profiles");
	assert_string_equal(json_string_value(json_object_get(profiles, "source")), "period");
	assert_string_equal(json_string_value(json_object_get(profiles, "period")), "2026-10");
	assert_int_equal(integer(profiles, "households"), 30);
	light = profile(label, "light");
	typical = profile(label, "typical");
	heavy = profile(label, "heavy");
	assert_int_equal(integer(light, "percentile"), 25);
	assert_int_equal(integer(typical, "percentile"), 50);
	assert_int_equal(integer(heavy, "percentile"), 90);
	assert_int_equal(integer(light, "households"), 5);
	assert_int_equal(integer(typical, "households"), 5);
	assert_int_equal(integer(heavy, "households"), 5);
	assert_int_equal(integer(light, "bytes_down"), group_bytes(6, DOWN_PER_K));
	assert_int_equal(integer(light, "bytes_up"), group_bytes(6, UP_PER_K));
	assert_int_equal(integer(typical, "bytes_down"), group_bytes(13, DOWN_PER_K));
	assert_int_equal(integer(heavy, "bytes_down"), group_bytes(25, DOWN_PER_K));
	assert_int_equal(integer(heavy, "bytes_up"), group_bytes(25, UP_PER_K));

	/* Light, k = 8 on average: 0.1 GB down and 0.01 GB up an hour.
	 * Evening: 124 h × 0.1 = 12.4 GB: 2 free, 8 × 0.50 = 4.00, 2.4 × 0.20
	 * = 0.48. Rest: 620 × 0.1 = 62 GB down + 744 × 0.01 = 7.44 GB up =
	 * 69.44 GB × 0.10 = 6.944, rounded 6.94. 10.00 + 4.00 + 0.48 + 6.94 =
	 * 21.42. */
	assert_int_equal(line_amount(light, "usage", "Rest"), 694);
	assert_int_equal(integer(light, "total_minor"), 2142);

	/* Typical, k = 15: 0.1875 GB down, 0.01875 up an hour. Evening: 23.25
	 * GB: 4.00 + 13.25 × 0.20 = 2.65. Rest: 116.25 + 13.95 = 130.2 GB ×
	 * 0.10 = 13.02. 10.00 + 4.00 + 2.65 + 13.02 = 29.67. */
	assert_int_equal(integer(typical, "total_minor"), 2967);

	/* Heavy, k = 27: 0.3375 GB down, 0.03375 up. Evening: 41.85 GB: 4.00 +
	 * 31.85 × 0.20 = 6.37. Rest: 209.25 + 25.11 = 234.36 GB × 0.10 =
	 * 23.436, rounded 23.44. 10.00 + 4.00 + 6.37 + 23.44 = 43.81, capped
	 * at 43.00. */
	assert_int_equal(line_amount(heavy, "usage", "Evening (beyond 10 GB)"), 637);
	assert_int_equal(line_amount(heavy, "cap", NULL), -81);
	assert_int_equal(integer(heavy, "total_minor"), 4300);

	assert_signed_and_logged(f, label, id, "period", "2026-10");
	json_decref(label);
}

/* The profiles read one household at a time, as the daemon reads them
 * between requests, make the label the publish makes reading them at
 * once. */
static void test_label_read_in_steps(void **state)
{
	struct fixture *f = *state;
	struct ledger_label *label = NULL;
	struct ledger_error err;
	json_t *stepped, *whole;
	unsigned steps = 0;
	bool done = false;
	int64_t id;

	cooperative_closed(f, 30, 0);
	assert_int_equal(ledger_label_new(&f->ledger, &label, &err), 0);
	/* A deadline already past: one household a step, 5 in each of 3 groups. */
	while (!done) {
		assert_int_equal(ledger_label_step(label, 0, &done, &err), 0);
		steps++;
	}
	assert_true(steps >= 15);
	id = publish_with(f, label_tariff, label);
	ledger_label_free(label);
	stepped = label_get(f, id);
	whole = label_get(f, publish(f));
	assert_int_equal(integer(profile(stepped, "light"), "total_minor"), 2142);
	assert_int_equal(integer(profile(stepped, "typical"), "total_minor"), 2967);
	assert_int_equal(integer(profile(stepped, "heavy"), "total_minor"), 4300);
	/* The same profiles; the invoices differ only by the tariff they name. */
	for (const char *const *name = (const char *const[]){ "light", "typical", "heavy", NULL };
	     *name; name++)
		for (const char *const *key =
			     (const char *const[]){ "bytes_up", "bytes_down", "households",
						    "total_minor", NULL };
		     *key; key++)
			assert_int_equal(integer(profile(stepped, *name), *key),
					 integer(profile(whole, *name), *key));
	json_decref(stepped);
	json_decref(whole);
}

/* A period closed while a label was being read is the label's source: the
 * publish reads it again. */
static void test_label_period_closed_meanwhile(void **state)
{
	struct fixture *f = *state;
	struct ledger_label *label = NULL;
	struct ledger_error err;
	json_t *published;
	bool done = false;

	cooperative(f, 30, 0);
	assert_int_equal(ledger_label_new(&f->ledger, &label, &err), 0);
	assert_int_equal(ledger_label_step(label, UINT64_MAX, &done, &err), 0);
	assert_true(done);
	october_close(f, 30);
	published = label_get(f, publish_with(f, label_tariff, label));
	ledger_label_free(label);
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_object_get(published, "document"), "profiles"),
			"source")),
		"period");
	assert_int_equal(integer(profile(published, "light"), "total_minor"), 2142);
	json_decref(published);
}

/* The tariff of docs/examples/tariff.json (windows, tiers, an allowance,
 * cost sharing) priced on a period: its label's document, one line of
 * canonical JSON, is longer than 8 KiB, and is signed, logged and
 * published all the same. */
static void test_long_label(void **state)
{
	struct fixture *f = *state;
	const char *srcdir = getenv("COOPBILL_SRCDIR");
	char path[512], *document;
	json_error_t error;
	json_t *tariff, *label;
	int64_t id;

	assert_non_null(srcdir);
	snprintf(path, sizeof(path), "%s/docs/examples/tariff.json", srcdir);
	tariff = json_load_file(path, 0, &error);
	assert_non_null(tariff);
	document = json_dumps(tariff, JSON_COMPACT);
	json_decref(tariff);
	assert_non_null(document);
	cooperative_closed(f, 30, 30000);
	id = publish_document(f, document);
	free(document);
	label = label_get(f, id);
	document = json_dumps(json_object_get(label, "document"), JSON_COMPACT | JSON_SORT_KEYS);
	assert_non_null(document);
	assert_true(strlen(document) > 8192);
	free(document);
	assert_signed_and_logged(f, label, id, "period", "2026-10");
	json_decref(label);
}

/* A tariff with cost sharing, a quarter equally and the rest by download:
 * from a period, each profile has its estimated share of October's 300.00
 * of transit, as if all 30 households had followed the tariff. */
static void test_cost_share_estimated(void **state)
{
	struct fixture *f = *state;
	char *document = NULL;
	json_t *label, *light, *typical, *heavy;
	int64_t id;

	assert_true(asprintf(&document,
			     "%.*s,\"cost_sharing\":{\"categories\":[\"transit\"],"
			     "\"equal_bp\":2500,\"direction\":\"down\"}}",
			     (int)strlen(label_tariff) - 1, label_tariff) > 0);
	cooperative_closed(f, 30, 30000);
	id = publish_document(f, document);
	free(document);
	label = label_get(f, id);
	light = profile(label, "light");
	typical = profile(label, "typical");
	heavy = profile(label, "heavy");
	assert_true(json_is_true(json_object_get(light, "cost_share_estimated")));
	assert_null(json_object_get(json_object_get(light, "invoice"), "cost_share_excluded"));

	/* A quarter of 300.00 is 75.00, 2.50 for each of 30 households. The
	 * other 225.00 by download: household k downloads k × 12.5 MB an hour,
	 * so a profile of average k has k / (1 + 2 + … + 30) = k / 465 of all
	 * downloads. Light, k = 8: 225.00 × 8 / 465 = 3.870…, 3.87; with 2.50,
	 * 6.37, and 21.42 + 6.37 = 27.79. Typical, k = 15: 225.00 × 15 / 465 =
	 * 7.258…, 7.26; 9.76, and 29.67 + 9.76 = 39.43. Heavy, k = 27: 225.00 ×
	 * 27 / 465 = 13.064…, 13.06; 15.56, and 43.81 + 15.56 = 59.37, capped
	 * at 43.00. */
	assert_int_equal(line_amount(light, "cost_share", NULL), 637);
	assert_int_equal(integer(light, "total_minor"), 2779);
	assert_int_equal(line_amount(typical, "cost_share", NULL), 976);
	assert_int_equal(integer(typical, "total_minor"), 3943);
	assert_int_equal(line_amount(heavy, "cost_share", NULL), 1556);
	assert_int_equal(line_amount(heavy, "cap", NULL), -(5937 - 4300));
	assert_int_equal(integer(heavy, "total_minor"), 4300);
	json_decref(label);
}

/* A label never changes: publishing again is refused and leaves it as it
 * was, and the database refuses to change or delete it. */
static void test_label_immutable(void **state)
{
	struct fixture *f = *state;
	struct ledger_tariff_publish_result out;
	struct ledger_error err;
	json_t *before, *after;
	sqlite3 *db;
	int64_t id, size;

	cooperative_closed(f, 30, 0);
	id = publish(f);
	before = label_get(f, id);
	size = ledger_fixture_tlog_size(f->ledger.store);
	assert_ledger_refused(ledger_tariff_publish(&f->ledger,
						    &(struct ledger_tariff_publish_request){
							    .id = id, .today = today },
						    &out, &err),
			      &err, LEDGER_CONFLICT, "already-published", "published already");
	assert_int_equal(ledger_fixture_tlog_size(f->ledger.store), size);
	after = label_get(f, id);
	assert_true(json_equal(before, after));

	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(
		sqlite3_exec(db, "UPDATE tariff_labels SET document = '{}'", NULL, NULL, NULL),
		SQLITE_CONSTRAINT);
	assert_int_equal(sqlite3_exec(db, "DELETE FROM tariff_labels", NULL, NULL, NULL),
			 SQLITE_CONSTRAINT);
	sqlite3_close(db);
	json_decref(after);
	after = label_get(f, id);
	assert_true(json_equal(before, after));
	json_decref(before);
	json_decref(after);
}

/* A draft has no label, nor a tariff that does not exist. */
static void test_no_label_for_a_draft(void **state)
{
	struct fixture *f = *state;
	struct ledger_tariff_draft_request draft = { .document = label_tariff,
						     .len = strlen(label_tariff) };
	struct ledger_tariff_draft_result drafted;
	struct ledger_error err;
	char *text = NULL;

	assert_int_equal(ledger_tariff_create(&f->ledger, &draft, &drafted, &err), 0);
	assert_ledger_refused(ledger_label_get(&f->ledger, drafted.id, &text, &err), &err,
			      LEDGER_NOT_FOUND, "not-found", "not published yet");
	assert_ledger_refused(ledger_label_get(&f->ledger, drafted.id + 1, &text, &err), &err,
			      LEDGER_NOT_FOUND, "not-found", "there is no tariff");
	assert_null(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_few_households_configured_profiles, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_percentile_profiles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_label_read_in_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_label, setup, teardown),
		cmocka_unit_test_setup_teardown(test_label_period_closed_meanwhile, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cost_share_estimated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_label_immutable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_label_for_a_draft, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
