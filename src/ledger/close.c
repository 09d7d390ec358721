/* Billing periods: the close, which issues every active household's invoice
 * (with its tlog entry and ledger debit) in resumable batches and then
 * records the period's totals; a member's running estimate of the open
 * period; and the cooperative's totals for a period, aggregates only. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <uv.h>

#include "coopbill/bill.h"
#include "coopbill/config.h"
#include "coopbill/ledger.h"
#include "coopbill/money.h"
#include "coopbill/period.h"
#include "coopbill/rate.h"
#include "coopbill/store.h"

/* Invoices written per transaction. */
#define CLOSE_BATCH 256
/* An invoice's fields in its tlog entry. */
#define INVOICE_FIELDS_MAX 512
#define LINE_KINDS	   (RATE_LINE_TAX + 1)

/* What a period's invoices add up to. */
struct totals {
	int64_t by_kind_minor[LINE_KINDS];
	/* The kinds met so far, in the order first met. */
	enum rate_line_kind kinds[LINE_KINDS];
	size_t n_kinds;
	int64_t revenue_minor;
	int64_t bytes_up, bytes_down; /* internet */
	int64_t local_up, local_down;
	int64_t households;
};

struct ledger_close {
	struct ledger *ledger;
	struct bill_run *run;
	bool claimed; /* holds the period's close claim (store_close_claim) */
	bool scanned;
	char period[PERIOD_TEXT_MAX];
	char actor[32];
	size_t next; /* the next member to bill */
	struct totals totals;
	/* The invoices issued before an interruption, by household, read once
	 * when the first batch is issued; the next one not yet passed. */
	bool issued_read;
	struct store_invoice_total *issued;
	size_t n_issued, issued_next;
};

struct ledger_reading {
	struct ledger *ledger;
	struct bill_run *run;
	char period[PERIOD_TEXT_MAX];
	/* A re-pricing's: the household and the invoice it was issued. */
	int64_t household_id;
	json_t *issued;
};

struct ledger_summary {
	struct ledger *ledger;
	struct ledger_reading *reading;
	size_t next; /* the next member to add up */
	struct totals totals;
};

/* Adds a rated invoice's line amounts by kind, its total and its bytes. */
static int totals_add(struct totals *totals, const struct rate_invoice *rated)
{
	int r;

	for (size_t i = 0; i < rated->n_lines; i++) {
		enum rate_line_kind kind = rated->lines[i].kind;
		size_t k = 0;

		while (k < totals->n_kinds && totals->kinds[k] != kind)
			k++;
		if (k == totals->n_kinds)
			totals->kinds[totals->n_kinds++] = kind;
		r = money_add(totals->by_kind_minor[kind], rated->lines[i].amount_minor,
			      &totals->by_kind_minor[kind]);
		if (r < 0)
			return r;
	}
	/* An invoice's bytes fit in 64 signed bits: its JSON was made. */
	totals->households++;
	if ((r = money_add(totals->revenue_minor, rated->total_minor, &totals->revenue_minor)) <
		    0 ||
	    (r = money_add(totals->bytes_up, (int64_t)rated->bytes_up, &totals->bytes_up)) < 0 ||
	    (r = money_add(totals->bytes_down, (int64_t)rated->bytes_down, &totals->bytes_down)) <
		    0 ||
	    (r = money_add(totals->local_up, (int64_t)rated->local_up, &totals->local_up)) < 0)
		return r;
	return money_add(totals->local_down, (int64_t)rated->local_down, &totals->local_down);
}

/* The period's expenses by category, and their sum. */
static int expenses_json(struct store *store, const char *period, json_t **ret_by_category,
			 int64_t *ret_total_minor)
{
	json_t *expenses, *by_category = json_object(), *row;
	int64_t total = 0;
	size_t i;
	int r;

	if (!by_category)
		return -ENOMEM;
	r = store_expenses_list(store, period, &expenses);
	if (r < 0) {
		json_decref(by_category);
		return r;
	}
	json_array_foreach(expenses, i, row)
	{
		const char *category = json_string_value(json_object_get(row, "category"));
		int64_t amount = json_integer_value(json_object_get(row, "amount_minor"));
		int64_t sum = json_integer_value(json_object_get(by_category, category));

		if (r == 0)
			r = money_add(sum, amount, &sum);
		if (r == 0)
			r = money_add(total, amount, &total);
		json_object_set_new(by_category, category, json_integer(sum));
	}
	json_decref(expenses);
	if (r < 0) {
		json_decref(by_category);
		return r;
	}
	*ret_by_category = by_category;
	*ret_total_minor = total;
	return 0;
}

/* The period's summary document: its invoices' totals, its expenses, and
 * the cost sharing figures. A closed period's is stored with sorted keys;
 * an open one's keeps the order it is made in. */
static int summary_document(struct ledger *ledger, const char *period, bool closed,
			    const struct totals *totals, const struct bill_run *run,
			    char **ret_document)
{
	json_t *by_kind = json_object(), *by_category = NULL, *summary;
	int64_t expenses_minor = 0;
	char *document;
	int r;

	if (!by_kind)
		return -ENOMEM;
	for (size_t k = 0; k < totals->n_kinds; k++)
		json_object_set_new(by_kind, rate_line_kind_name(totals->kinds[k]),
				    json_integer(totals->by_kind_minor[totals->kinds[k]]));
	r = expenses_json(ledger->store, period, &by_category, &expenses_minor);
	if (r < 0) {
		json_decref(by_kind);
		return r;
	}
	summary = json_pack(
		"{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:o, s:I, s:o}", "period",
		period, "status", closed ? "closed" : "open", "currency", ledger->config->currency,
		"households_billed", (json_int_t)totals->households, "bytes_up",
		(json_int_t)totals->bytes_up, "bytes_down", (json_int_t)totals->bytes_down,
		"local_up", (json_int_t)totals->local_up, "local_down",
		(json_int_t)totals->local_down, "revenue_by_kind_minor", by_kind, "revenue_minor",
		(json_int_t)totals->revenue_minor, "expenses_by_category_minor", by_category,
		"expenses_minor", (json_int_t)expenses_minor, "cost_sharing",
		bill_run_sharing_json(run));
	document =
		summary ? json_dumps(summary, JSON_COMPACT | (closed ? JSON_SORT_KEYS : 0)) : NULL;
	json_decref(summary);
	if (!document)
		return -ENOMEM;
	*ret_document = document;
	return 0;
}

void ledger_closed_period_clear(struct ledger_closed_period *closed)
{
	free(closed->summary);
	*closed = (struct ledger_closed_period){ 0 };
}

int ledger_period_closed(struct ledger *ledger, const char *period,
			 struct ledger_closed_period *ret_closed, struct ledger_error *err)
{
	const char *summary;
	json_t *row;
	int r;

	r = store_period_close_get(ledger->store, period, &row);
	if (r == -ENOENT)
		return ledger_refuse(err, LEDGER_NOT_FOUND, "not-found", "period %s is not closed",
				     period);
	if (r < 0)
		return ledger_storage_error(err, r, "reading the period");
	summary = json_string_value(json_object_get(row, "summary"));
	*ret_closed = (struct ledger_closed_period){
		.households = json_integer_value(json_object_get(row, "households")),
		.total_minor = json_integer_value(json_object_get(row, "total_minor")),
		.log_index = json_integer_value(json_object_get(row, "log_index")),
		.summary = strdup(summary ? summary : ""),
	};
	snprintf(ret_closed->period, sizeof(ret_closed->period), "%s",
		 json_string_value(json_object_get(row, "period")));
	snprintf(ret_closed->closed_at, sizeof(ret_closed->closed_at), "%s",
		 json_string_value(json_object_get(row, "closed_at")));
	json_decref(row);
	if (!ret_closed->summary)
		return ledger_storage_error(err, -ENOMEM, "reading the period");
	return 0;
}

/* A bill run for a period, or the refusal that there is no tariff. */
static int run_new(struct ledger *ledger, const struct period *period, int64_t until_s,
		   struct bill_run **ret_run, struct ledger_error *err)
{
	char errbuf[256];
	int r;

	r = bill_run_new(ledger->store, ledger->config->zone, period, until_s, ret_run, errbuf,
			 sizeof(errbuf));
	if (r == -ENOENT)
		return ledger_refuse(err, LEDGER_CONFLICT, "no-tariff", "%s", errbuf);
	if (r < 0)
		return ledger_storage_error(err, r, "reading what the period is billed from");
	return 0;
}

int ledger_close_begin(struct ledger *ledger, const struct ledger_close_request *in,
		       struct ledger_close **ret_close, struct ledger_closed_period *ret_closed,
		       struct ledger_error *err)
{
	struct ledger_close *close;
	char period[PERIOD_TEXT_MAX];
	int64_t start_s, end_s;
	int r;

	period_format(in->period, period);
	/* A period can be closed once it has ended in the cooperative's zone. */
	if (period_bounds(ledger->config->zone, in->period, &start_s, &end_s) < 0 ||
	    end_s > in->now_s)
		return ledger_refuse(err, LEDGER_CONFLICT, "period-open",
				     "period %s has not ended yet; close it once its last day is "
				     "over",
				     period);
	r = ledger_period_closed(ledger, period, ret_closed, err);
	if (r == 0) {
		*ret_close = NULL;
		return 0;
	}
	if (r != -ENOENT)
		return r;
	if (in->running)
		return ledger_refuse(err, LEDGER_CONFLICT, "close-in-progress",
				     "period %s is being closed; try again when that is done",
				     in->running);
	close = calloc(1, sizeof(*close));
	if (!close)
		return ledger_storage_error(err, -ENOMEM, "beginning the close");
	close->ledger = ledger;
	snprintf(close->period, sizeof(close->period), "%s", period);
	/* Another gateway's daemon may be closing it (PostgreSQL), or may
	 * have closed it since the look above. */
	r = store_close_claim(ledger->store, period);
	if (r == -EBUSY) {
		r = ledger_refuse(err, LEDGER_CONFLICT, "close-in-progress",
				  "period %s is being closed by another gateway; try again when "
				  "that is done",
				  period);
		goto fail;
	}
	if (r < 0) {
		r = ledger_storage_error(err, r, "beginning the close");
		goto fail;
	}
	close->claimed = true;
	r = ledger_period_closed(ledger, period, ret_closed, err);
	if (r == 0) {
		ledger_close_free(close);
		*ret_close = NULL;
		return 0;
	}
	if (r != -ENOENT)
		goto fail;
	snprintf(close->actor, sizeof(close->actor), "%s", in->actor);
	r = run_new(ledger, in->period, INT64_MAX, &close->run, err);
	if (r < 0)
		goto fail;
	/* From here on the period takes no change to what it bills, and its
	 * shared costs are those recorded so far, also if the close is
	 * interrupted and closed again later. */
	r = store_begin(ledger->store);
	if (r == 0) {
		r = store_period_close_begin(ledger->store, period);
		if (r == 0)
			r = store_commit(ledger->store);
		else
			store_rollback(ledger->store);
	}
	if (r < 0) {
		r = ledger_storage_error(err, r, "beginning the close");
		goto fail;
	}
	*ret_close = close;
	return 0;
fail:
	ledger_close_free(close);
	return r;
}

static void invoice_fields(const char *period, const struct bill_invoice *invoice,
			   const char *currency, char *fields, size_t size)
{
	char hex[65];

	ledger_sha256_hex(invoice->document, hex);
	snprintf(fields, size,
		 "period %s\ntotal_minor %" PRId64 "\ncurrency %s\ntariff %" PRId64 "\nsha256 %s\n",
		 period, invoice->rated->total_minor, currency, invoice->tariff_id, hex);
}

/* Writes one batch: the invoices, their tlog entries and their ledger
 * debits, in one transaction and a few statements. */
static int batch_commit(struct ledger_close *close, const struct bill_invoice *invoices,
			const int64_t *household_ids, size_t n)
{
	struct ledger *ledger = close->ledger;
	struct store_invoice_new rows[CLOSE_BATCH];
	char *entries[CLOSE_BATCH] = { 0 }, (*fields)[INVOICE_FIELDS_MAX];
	const char *entry_fields[CLOSE_BATCH];
	int64_t first_index;
	int r;

	fields = calloc(n, sizeof(*fields));
	if (!fields)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		invoice_fields(close->period, &invoices[i], ledger->config->currency, fields[i],
			       sizeof(fields[i]));
		entry_fields[i] = fields[i];
	}
	r = store_begin(ledger->store);
	if (r < 0)
		goto out;
	r = ledger_tlog_entries_new(ledger->tlog, "invoice-issued", household_ids, entry_fields, n,
				    entries);
	if (r == 0)
		r = ledger_tlog_append(ledger->tlog, (const char *const *)entries, n, &first_index);
	for (size_t i = 0; r == 0 && i < n; i++)
		rows[i] = (struct store_invoice_new){
			.household_id = household_ids[i],
			.period = close->period,
			.tariff_id = invoices[i].tariff_id,
			.total_minor = invoices[i].rated->total_minor,
			.document = invoices[i].document,
			.log_index = first_index + (int64_t)i,
		};
	if (r == 0)
		r = store_invoices_insert(ledger->store, rows, n);
	if (r == 0)
		r = store_invoice_debits_insert(ledger->store, close->period, first_index,
						first_index + (int64_t)n, close->actor);
	if (r == 0)
		r = store_commit(ledger->store);
	else
		store_rollback(ledger->store);
out:
	for (size_t i = 0; i < n; i++)
		free(entries[i]);
	free(fields);
	return r;
}

/* The total of the invoice a member was issued before an interruption, or
 * -ENOENT when it has none. Members are asked in id order. */
static int issued_find(struct ledger_close *close, int64_t household_id, int64_t *ret_total_minor)
{
	int r;

	if (!close->issued_read) {
		r = store_invoice_totals(close->ledger->store, close->period, &close->issued,
					 &close->n_issued);
		if (r < 0)
			return r;
		close->issued_read = true;
	}
	while (close->issued_next < close->n_issued &&
	       close->issued[close->issued_next].household_id < household_id)
		close->issued_next++;
	if (close->issued_next == close->n_issued ||
	    close->issued[close->issued_next].household_id != household_id)
		return -ENOENT;
	*ret_total_minor = close->issued[close->issued_next].total_minor;
	return 0;
}

/* Counts a member whose invoice was issued before an interruption: rated
 * again (what it is rated from is frozen while the period is being closed),
 * it must come to what was issued. Returns -ENOENT when it has none. */
static int issued_add(struct ledger_close *close, size_t index, int64_t household_id)
{
	struct rate_invoice *rated;
	int64_t issued_minor;
	int r;

	r = issued_find(close, household_id, &issued_minor);
	if (r < 0)
		return r;
	r = bill_run_rate(close->run, index, &rated);
	if (r < 0)
		return r;
	r = rated->total_minor == issued_minor ? totals_add(&close->totals, rated) : -EPROTO;
	rate_invoice_free(rated);
	return r;
}

/* Issues the invoices of the next members: at least one, until the batch
 * is full or the deadline passes. */
static int close_batch(struct ledger_close *close, uint64_t deadline_ns)
{
	struct bill_invoice invoices[CLOSE_BATCH];
	int64_t household_ids[CLOSE_BATCH];
	size_t n = 0, count = bill_run_count(close->run);
	int r = 0;

	while (close->next < count && n < CLOSE_BATCH) {
		int64_t id = bill_run_household_id(close->run, close->next);

		r = issued_add(close, close->next, id);
		if (r == -ENOENT) {
			r = bill_run_invoice(close->run, close->next, &invoices[n]);
			if (r < 0)
				break;
			r = totals_add(&close->totals, invoices[n].rated);
			household_ids[n++] = id;
		}
		if (r < 0)
			break;
		close->next++;
		if (uv_hrtime() >= deadline_ns)
			break;
	}
	if (r == 0 && n > 0)
		r = batch_commit(close, invoices, household_ids, n);
	for (size_t i = 0; i < n; i++)
		bill_invoice_clear(&invoices[i]);
	return r;
}

int ledger_close_step(struct ledger_close *close, uint64_t deadline_ns, bool *ret_done,
		      struct ledger_error *err)
{
	int r;

	if (!close->scanned) {
		r = bill_run_scan(close->run, deadline_ns, &close->scanned);
		if (r < 0)
			return ledger_storage_error(err, r, "closing the period");
		*ret_done = false;
		return 0;
	}
	r = close_batch(close, deadline_ns);
	if (r == -EPROTO)
		return ledger_storage_error(
			err, r,
			"adding up the invoices issued before the close was "
			"interrupted, one of which differs from its rating now");
	if (r < 0)
		return ledger_storage_error(err, r, "closing the period");
	*ret_done = close->next >= bill_run_count(close->run);
	return 0;
}

int ledger_close_finish(struct ledger_close *close, struct ledger_closed_period *ret_closed,
			struct ledger_error *err)
{
	struct ledger *ledger = close->ledger;
	char fields[256], *summary = NULL;
	int64_t log_index;
	int r;

	snprintf(fields, sizeof(fields),
		 "period %s\nhouseholds %" PRId64 "\ntotal_minor %" PRId64 "\ncurrency %s\n",
		 close->period, close->totals.households, close->totals.revenue_minor,
		 ledger->config->currency);
	r = summary_document(ledger, close->period, true, &close->totals, close->run, &summary);
	if (r == 0)
		r = store_begin(ledger->store);
	if (r == 0) {
		r = ledger_tlog_log(ledger->tlog, "period-closed", 0, fields, &log_index);
		if (r == 0)
			r = store_period_close_insert(
				ledger->store, close->period, close->totals.households,
				close->totals.revenue_minor, summary, log_index);
		if (r == 0)
			r = store_commit(ledger->store);
		else
			store_rollback(ledger->store);
	}
	free(summary);
	if (r < 0)
		return ledger_storage_error(err, r, "closing the period");
	return ledger_period_closed(ledger, close->period, ret_closed, err);
}

const char *ledger_close_period(const struct ledger_close *close)
{
	return close->period;
}

void ledger_close_free(struct ledger_close *close)
{
	if (!close)
		return;
	if (close->claimed)
		store_close_release(close->ledger->store, close->period);
	bill_run_free(close->run);
	free(close->issued);
	free(close);
}

int ledger_reading_new(struct ledger *ledger, const struct period *period, int64_t until_s,
		       struct ledger_reading **ret_reading, struct ledger_error *err)
{
	struct ledger_reading *reading;
	int r;

	reading = calloc(1, sizeof(*reading));
	if (!reading)
		return ledger_storage_error(err, -ENOMEM, "reading usage");
	reading->ledger = ledger;
	period_format(period, reading->period);
	r = run_new(ledger, period, until_s, &reading->run, err);
	if (r < 0) {
		free(reading);
		return r;
	}
	*ret_reading = reading;
	return 0;
}

int ledger_reading_step(struct ledger_reading *reading, uint64_t deadline_ns, bool *ret_done,
			struct ledger_error *err)
{
	int r;

	r = bill_run_scan(reading->run, deadline_ns, ret_done);
	if (r < 0)
		return ledger_storage_error(err, r, "reading usage");
	return 0;
}

void ledger_reading_free(struct ledger_reading *reading)
{
	if (!reading)
		return;
	bill_run_free(reading->run);
	json_decref(reading->issued);
	free(reading);
}

int ledger_estimate(struct ledger_reading *reading, int64_t household_id, char **ret_document,
		    struct ledger_error *err)
{
	size_t index;
	int r;

	if (bill_run_find(reading->run, household_id, &index) < 0)
		return ledger_refuse(err, LEDGER_CONFLICT, "not-a-member",
				     "household %" PRId64 " is not a member during %s",
				     household_id, reading->period);
	r = bill_run_estimate(reading->run, index, ret_document);
	if (r < 0)
		return ledger_storage_error(err, r, "making the estimate");
	return 0;
}

/* Checks what a re-pricing names, refusing as ledger_reprice_new() says;
 * *ret_issued is the household's invoice row. */
static int reprice_check(struct ledger *ledger, const struct ledger_reprice_request *in,
			 struct period *ret_period, json_t **ret_issued, struct ledger_error *err)
{
	struct ledger_closed_period closed;
	struct store_tariff tariff = { 0 };
	int r;

	r = ledger_period_parse(in->period, ret_period, err);
	if (r == 0)
		r = ledger_household_require(ledger, in->household_id, err);
	if (r < 0)
		return r;
	r = ledger_period_closed(ledger, in->period, &closed, err);
	if (r == -ENOENT)
		return ledger_refuse(err, LEDGER_CONFLICT, "period-open",
				     "period %s is not closed; re-pricing sets a closed period's "
				     "invoice beside what another tariff makes of the same usage "
				     "(the estimate shows the open period)",
				     in->period);
	if (r < 0)
		return r;
	ledger_closed_period_clear(&closed);
	r = store_tariff_load(ledger->store, in->tariff_id, &tariff);
	free(tariff.document);
	if (r == -ENOENT || (r == 0 && !ledger_tariff_shown(&tariff) && !in->drafts))
		return ledger_refuse(err, LEDGER_NOT_FOUND, "not-found",
				     r == 0 ? "tariff %" PRId64 " is a draft; it is shown once "
					      "published"
					    : "there is no tariff %" PRId64,
				     in->tariff_id);
	if (r < 0)
		return ledger_storage_error(err, r, "reading the tariff");
	r = store_invoice_get(ledger->store, in->household_id, in->period, ret_issued);
	if (r == -ENOENT)
		return ledger_refuse(err, LEDGER_NOT_FOUND, "not-found",
				     "household %" PRId64 " has no invoice for %s (it was not a "
				     "member then)",
				     in->household_id, in->period);
	if (r < 0)
		return ledger_storage_error(err, r, "reading the invoice");
	return 0;
}

int ledger_reprice_new(struct ledger *ledger, const struct ledger_reprice_request *in,
		       struct ledger_reading **ret_reading, struct ledger_error *err)
{
	struct ledger_reading *reading;
	struct period period;
	json_t *issued = NULL;
	int r;

	r = reprice_check(ledger, in, &period, &issued, err);
	if (r < 0)
		return r;
	/* The period's whole usage is read, as its close read it, so that the
	 * household's share of the costs is worked out as the close did. */
	r = ledger_reading_new(ledger, &period, INT64_MAX, &reading, err);
	if (r < 0) {
		json_decref(issued);
		return r;
	}
	reading->household_id = in->household_id;
	reading->issued = issued;
	r = bill_run_reprice_add(reading->run, in->household_id, in->tariff_id);
	if (r < 0) {
		ledger_reading_free(reading);
		return ledger_storage_error(err, r, "reading what the period was billed from");
	}
	*ret_reading = reading;
	return 0;
}

int ledger_reprice(struct ledger_reading *reading, char **ret_document, struct ledger_error *err)
{
	json_t *repriced = NULL, *issued, *reply;
	int64_t total_minor, issued_minor, difference_minor;
	char *document = NULL;
	size_t index;
	int r;

	if (!reading->issued)
		return ledger_storage_error(err, -EINVAL, "re-pricing");
	issued = json_loads(json_string_value(json_object_get(reading->issued, "document")), 0,
			    NULL);
	if (!issued)
		return ledger_refuse(err, LEDGER_BROKEN, "broken-invoice",
				     "the stored invoice of household %" PRId64
				     " for %s does not parse",
				     reading->household_id, reading->period);
	issued_minor = json_integer_value(json_object_get(reading->issued, "total_minor"));
	r = bill_run_find(reading->run, reading->household_id, &index);
	if (r == 0)
		r = bill_run_reprice(reading->run, index, &repriced, &total_minor);
	if (r == 0)
		r = money_sub(total_minor, issued_minor, &difference_minor);
	if (r < 0) {
		json_decref(issued);
		json_decref(repriced);
		return ledger_storage_error(err, r, "re-pricing");
	}
	reply = json_pack("{s:I, s:s, s:o, s:o, s:I}", "household_id",
			  (json_int_t)reading->household_id, "period", reading->period, "invoice",
			  issued, "repriced", repriced, "difference_minor",
			  (json_int_t)difference_minor);
	/* Sorted keys, as the issued invoice is stored: the two documents
	 * read alike. */
	if (reply)
		document = json_dumps(reply, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(reply);
	if (!document)
		return ledger_storage_error(err, -ENOMEM, "re-pricing");
	*ret_document = document;
	return 0;
}

int ledger_summary_new(struct ledger *ledger, struct ledger_reading *reading,
		       struct ledger_summary **ret_summary)
{
	struct ledger_summary *summary;

	summary = calloc(1, sizeof(*summary));
	if (!summary)
		return -ENOMEM;
	summary->ledger = ledger;
	summary->reading = reading;
	*ret_summary = summary;
	return 0;
}

int ledger_summary_step(struct ledger_summary *summary, uint64_t deadline_ns, bool *ret_done,
			struct ledger_error *err)
{
	struct bill_run *run = summary->reading->run;
	int r = 0;

	while (r == 0 && summary->next < bill_run_count(run)) {
		struct rate_invoice *rated;

		r = bill_run_rate(run, summary->next++, &rated);
		if (r == 0) {
			r = totals_add(&summary->totals, rated);
			rate_invoice_free(rated);
		}
		if (uv_hrtime() >= deadline_ns)
			break;
	}
	if (r < 0)
		return ledger_storage_error(err, r, "reading usage");
	*ret_done = summary->next >= bill_run_count(run);
	return 0;
}

int ledger_summary_finish(struct ledger_summary *summary, char **ret_document,
			  struct ledger_error *err)
{
	int r;

	r = summary_document(summary->ledger, summary->reading->period, false, &summary->totals,
			     summary->reading->run, ret_document);
	if (r < 0)
		return ledger_storage_error(err, r, "reading usage");
	return 0;
}

void ledger_summary_free(struct ledger_summary *summary)
{
	free(summary);
}
