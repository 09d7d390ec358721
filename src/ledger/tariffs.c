/* Tariffs: a draft is a tariff document validated strictly and in the
 * cooperative's currency, which the treasurer may replace or delete, or
 * propose to the members (logged, and kept as they saw it from then on);
 * once published, with the notice members are owed, it is signed with the
 * log key, logged, and immutable, and so is its label. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "coopbill/config.h"
#include "coopbill/date.h"
#include "coopbill/ledger.h"
#include "coopbill/period.h"
#include "coopbill/store.h"
#include "coopbill/tariff.h"

void ledger_sha256_hex(const char *text, char ret_hex[65])
{
	uint8_t hash[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(hash, (const uint8_t *)text, strlen(text));
	sodium_bin2hex(ret_hex, 65, hash, sizeof(hash));
}

bool ledger_tariff_shown(const struct store_tariff *tariff)
{
	return tariff->published || tariff->proposed;
}

/* Parses a draft's document: strictly, and in the cooperative's currency.
 * NULL, with err filled, when it is not one. */
static struct tariff *draft_parse(struct ledger *ledger,
				  const struct ledger_tariff_draft_request *in,
				  struct ledger_error *err)
{
	struct tariff *tariff;
	char reason[256];

	if (tariff_parse(in->document ? in->document : "", in->len, &tariff, reason,
			 sizeof(reason)) < 0) {
		ledger_refuse(err, LEDGER_INVALID, "invalid-tariff",
			      "%s; the format is in docs/tariffs.md and at /api/v1/tariffs/schema",
			      reason);
		return NULL;
	}
	if (strcmp(tariff->currency, ledger->config->currency) != 0) {
		ledger_refuse(err, LEDGER_POLICY, "invalid-tariff",
			      "$.currency: the cooperative bills in %s ([billing] currency), "
			      "not %s",
			      ledger->config->currency, tariff->currency);
		tariff_free(tariff);
		return NULL;
	}
	return tariff;
}

static int refuse_missing(struct ledger_error *err, int64_t id)
{
	return ledger_refuse(err, LEDGER_NOT_FOUND, "not-found", "there is no tariff %lld",
			     (long long)id);
}

/* The refusal or failure of a change to draft id (r: the store's answer). */
static int draft_error(struct ledger_error *err, int r, int64_t id, const char *what)
{
	if (r == -ENOENT)
		return refuse_missing(err, id);
	if (r == -EALREADY)
		return ledger_refuse(err, LEDGER_CONFLICT, "tariff-immutable",
				     "tariff %lld is published, and a published tariff is "
				     "immutable; draft a new one with a later valid_from instead",
				     (long long)id);
	if (r == -EPERM)
		return ledger_refuse(err, LEDGER_CONFLICT, "tariff-proposed",
				     "tariff %lld is proposed to the members, and stays as they "
				     "saw it; publish it, or draft a new one instead",
				     (long long)id);
	return ledger_storage_error(err, r, what);
}

/* Creates the draft (in->id 0) or replaces draft in->id, in one transaction. */
static int draft_store(struct ledger *ledger, const struct ledger_tariff_draft_request *in,
		       struct ledger_tariff_draft_result *out, struct ledger_error *err)
{
	char sha256[65], valid_from[DATE_TEXT_MAX];
	struct tariff *tariff;
	int64_t id = in->id;
	int r;

	tariff = draft_parse(ledger, in, err);
	if (!tariff)
		return -EINVAL;
	date_format(&tariff->valid_from, valid_from);
	ledger_sha256_hex(tariff->canonical_json, sha256);
	r = store_begin(ledger->store);
	if (r < 0) {
		r = ledger_storage_error(err, r, "storing the tariff");
		goto out;
	}
	if (id == 0)
		r = store_tariff_insert(ledger->store, tariff->name, valid_from,
					tariff->canonical_json, sha256, &id);
	else
		r = store_tariff_replace(ledger->store, id, tariff->name, valid_from,
					 tariff->canonical_json, sha256);
	if (r == 0)
		r = store_commit(ledger->store);
	else
		store_rollback(ledger->store);
	if (r < 0) {
		r = draft_error(err, r, id, "storing the tariff");
		goto out;
	}
	out->id = id;
out:
	tariff_free(tariff);
	return r;
}

int ledger_tariff_create(struct ledger *ledger, const struct ledger_tariff_draft_request *in,
			 struct ledger_tariff_draft_result *out, struct ledger_error *err)
{
	struct ledger_tariff_draft_request create = *in;

	create.id = 0;
	return draft_store(ledger, &create, out, err);
}

int ledger_tariff_replace(struct ledger *ledger, const struct ledger_tariff_draft_request *in,
			  struct ledger_tariff_draft_result *out, struct ledger_error *err)
{
	if (in->id <= 0)
		return refuse_missing(err, in->id);
	return draft_store(ledger, in, out, err);
}

int ledger_tariff_delete(struct ledger *ledger, int64_t id, struct ledger_error *err)
{
	int r;

	r = store_begin(ledger->store);
	if (r < 0)
		return ledger_storage_error(err, r, "deleting the tariff");
	r = store_tariff_delete(ledger->store, id);
	if (r == 0)
		r = store_commit(ledger->store);
	else
		store_rollback(ledger->store);
	return r < 0 ? draft_error(err, r, id, "deleting the tariff") : 0;
}

/* Logs the draft as proposed and marks it so, in the caller's transaction. */
static int consult(struct ledger *ledger, int64_t id, int64_t *ret_log_index,
		   struct ledger_error *err)
{
	struct store_tariff stored = { 0 };
	struct tariff *tariff = NULL;
	char reason[256], valid_from[DATE_TEXT_MAX], *fields = NULL;
	int64_t log_index;
	int r;

	r = store_tariff_load(ledger->store, id, &stored);
	if (r < 0)
		return draft_error(err, r, id, "reading the tariff");
	if (stored.published || stored.proposed) {
		r = ledger_refuse(err, LEDGER_CONFLICT,
				  stored.published ? "already-published" : "already-proposed",
				  "tariff %lld is %s already; members see it as it is",
				  (long long)id, stored.published ? "published" : "proposed");
		goto out;
	}
	r = tariff_parse(stored.document, strlen(stored.document), &tariff, reason, sizeof(reason));
	if (r < 0) {
		r = ledger_refuse(err, LEDGER_BROKEN, "internal",
				  "the stored draft does not parse: %s", reason);
		goto out;
	}
	date_format(&tariff->valid_from, valid_from);
	if (asprintf(&fields, "tariff %lld\nsha256 %s\nvalid_from %s\n", (long long)id,
		     stored.sha256, valid_from) < 0) {
		fields = NULL;
		r = ledger_storage_error(err, -ENOMEM, "proposing the tariff");
		goto out;
	}
	r = ledger_tlog_log(ledger->tlog, "tariff-proposed", 0, fields, &log_index);
	if (r == 0)
		r = store_tariff_propose(ledger->store, id, log_index);
	if (r < 0)
		r = draft_error(err, r, id, "proposing the tariff");
	else
		*ret_log_index = log_index;
out:
	free(fields);
	tariff_free(tariff);
	free(stored.document);
	return r;
}

int ledger_tariff_consult(struct ledger *ledger, int64_t id, int64_t *ret_log_index,
			  struct ledger_error *err)
{
	int r;

	r = store_begin(ledger->store);
	if (r < 0)
		return ledger_storage_error(err, r, "proposing the tariff");
	r = consult(ledger, id, ret_log_index, err);
	if (r < 0) {
		store_rollback(ledger->store);
		return r;
	}
	r = store_commit(ledger->store);
	return r < 0 ? ledger_storage_error(err, r, "proposing the tariff") : 0;
}

/* What publishing checks beyond the document itself: the notice period and
 * window edges on the meter's bucket boundaries. */
static int publish_check(struct ledger *ledger, const struct tariff *tariff,
			 const struct date *today, struct ledger_error *err)
{
	unsigned bucket_min = ledger->config->meter_bucket_s / 60;
	struct date earliest;
	char text[DATE_TEXT_MAX];

	earliest = period_start_after_notice(today, ledger->config->notice_days);
	if (!tariff->emergency_reason && date_compare(&tariff->valid_from, &earliest) < 0) {
		date_format(&earliest, text);
		return ledger_refuse(
			err, LEDGER_POLICY, "notice-period",
			"members get %u days' notice ([billing] notice_days): the earliest "
			"valid_from of a tariff published today is %s, unless the tariff "
			"says \"emergency\": {\"reason\": …}",
			ledger->config->notice_days, text);
	}
	for (size_t c = 0; c < tariff->n_charges; c++) {
		const struct tariff_charge *charge = &tariff->charges[c];

		for (size_t w = 0; w < charge->n_windows; w++) {
			if (charge->windows[w].from_min % bucket_min == 0 &&
			    charge->windows[w].to_min % bucket_min == 0)
				continue;
			return ledger_refuse(err, LEDGER_POLICY, "invalid-tariff",
					     "$.usage_charges[%zu].windows[%zu]: usage is metered "
					     "in %u-minute buckets ([meter] bucket_s), so window "
					     "edges must fall on multiples of %u minutes",
					     c, w, bucket_min, bucket_min);
		}
	}
	return 0;
}

/* Signs and logs the draft, then marks it published, in the caller's
 * transaction. */
static int publish_write(struct ledger *ledger, const struct store_tariff *stored,
			 const struct tariff *tariff, int64_t *ret_log_index)
{
	char *text = NULL, *signature = NULL, *fields = NULL, valid_from[DATE_TEXT_MAX];
	int r;

	date_format(&tariff->valid_from, valid_from);
	if (asprintf(&text, "%s\n", tariff->canonical_json) < 0 ||
	    asprintf(&fields, "tariff %lld\nsha256 %s\nvalid_from %s\n%s%s%s",
		     (long long)stored->id, stored->sha256, valid_from,
		     tariff->emergency_reason ? "emergency " : "",
		     tariff->emergency_reason ? tariff->emergency_reason : "",
		     tariff->emergency_reason ? "\n" : "") < 0) {
		r = -ENOMEM;
		goto out;
	}
	r = ledger_tlog_sign(ledger->tlog, text, strlen(text), &signature);
	if (r == 0)
		r = ledger_tlog_log(ledger->tlog, "tariff-published", 0, fields, ret_log_index);
	if (r == 0)
		r = store_tariff_publish(ledger->store, stored->id, signature, *ret_log_index);
out:
	free(text);
	free(fields);
	free(signature);
	return r;
}

/* Loads the draft and checks that it may be published now. */
static int publish_load(struct ledger *ledger, const struct ledger_tariff_publish_request *in,
			struct store_tariff *stored, struct tariff **ret_tariff,
			struct ledger_error *err)
{
	struct tariff *tariff = NULL;
	char reason[256];
	int r;

	r = store_tariff_load(ledger->store, in->id, stored);
	if (r == -ENOENT)
		return refuse_missing(err, in->id);
	if (r < 0)
		return ledger_storage_error(err, r, "reading the tariff");
	if (stored->published)
		return ledger_refuse(
			err, LEDGER_CONFLICT, "already-published",
			"tariff %lld is published already and cannot change; publish a "
			"new tariff instead",
			(long long)in->id);
	r = tariff_parse(stored->document, strlen(stored->document), &tariff, reason,
			 sizeof(reason));
	if (r < 0)
		return ledger_refuse(err, LEDGER_BROKEN, "internal",
				     "the stored draft does not parse: %s", reason);
	r = publish_check(ledger, tariff, &in->today, err);
	if (r == 0)
		r = ledger_no_close_from(ledger, &tariff->valid_from, "tariff that applies to it",
					 err);
	if (r < 0) {
		tariff_free(tariff);
		return r;
	}
	*ret_tariff = tariff;
	return 0;
}

int ledger_tariff_publish_check(struct ledger *ledger,
				const struct ledger_tariff_publish_request *in,
				struct ledger_error *err)
{
	struct store_tariff stored = { 0 };
	struct tariff *tariff = NULL;
	int r;

	r = publish_load(ledger, in, &stored, &tariff, err);
	tariff_free(tariff);
	free(stored.document);
	return r;
}

/* Loads, checks and publishes the draft inside the caller's transaction. */
static int publish(struct ledger *ledger, const struct ledger_tariff_publish_request *in,
		   struct ledger_tariff_publish_result *out, struct ledger_error *err)
{
	struct store_tariff stored = { 0 };
	struct tariff *tariff = NULL;
	int64_t log_index;
	int r;

	r = publish_load(ledger, in, &stored, &tariff, err);
	if (r < 0)
		goto out;
	r = publish_write(ledger, &stored, tariff, &log_index);
	if (r == -EALREADY)
		r = ledger_refuse(err, LEDGER_CONFLICT, "already-published",
				  "tariff %lld is published already", (long long)in->id);
	else if (r < 0)
		r = ledger_storage_error(err, r, "publishing the tariff");
	/* The label comes with the tariff: without one, nothing is published. */
	if (r == 0)
		r = ledger_label_publish(ledger, &stored, tariff, in->label, err);
	if (r == 0)
		out->log_index = log_index;
out:
	tariff_free(tariff);
	free(stored.document);
	return r;
}

int ledger_tariff_publish(struct ledger *ledger, const struct ledger_tariff_publish_request *in,
			  struct ledger_tariff_publish_result *out, struct ledger_error *err)
{
	int r;

	r = store_begin(ledger->store);
	if (r < 0)
		return ledger_storage_error(err, r, "publishing the tariff");
	r = publish(ledger, in, out, err);
	if (r < 0) {
		store_rollback(ledger->store);
		return r;
	}
	r = store_commit(ledger->store);
	return r < 0 ? ledger_storage_error(err, r, "publishing the tariff") : 0;
}
