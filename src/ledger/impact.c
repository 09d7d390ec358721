/* The impact of a tariff: every household invoiced in the last closed
 * periods (up to IMPACT_PERIODS) re-priced under it, a period at a time and
 * in slices (bill_run_reprice_add() for every member), beside what it was
 * invoiced; then how many would pay more, less or the same, by how much,
 * and the cooperative's revenue under it against the periods' expenses. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <uv.h>

#include "coopbill/bill.h"
#include "coopbill/config.h"
#include "coopbill/currency.h"
#include "coopbill/ledger.h"
#include "coopbill/money.h"
#include "coopbill/period.h"
#include "coopbill/store.h"

#define IMPACT_PERIODS 3

/* One household-period: what it was invoiced, and under the tariff. */
struct impact_row {
	int64_t household_id;
	size_t period; /* index into impact->periods */
	int64_t invoice_minor;
	int64_t repriced_minor;
	int64_t difference_minor;
};

struct impact_period {
	char period[8];
	int64_t expenses_minor;
};

/* Household-periods added up: those that would pay more, less, the same. */
struct impact_totals {
	int64_t invoices;
	int64_t more_count, more_minor;
	int64_t less_count, less_minor;
	int64_t same_count;
	int64_t revenue_minor, repriced_minor, expenses_minor;
};

struct ledger_impact {
	struct ledger *ledger;
	int64_t tariff_id;
	struct impact_period periods[IMPACT_PERIODS];
	size_t n_periods;
	/* The period being re-priced, its run and its invoices. */
	size_t current;
	struct bill_run *run;
	bool scanned;
	struct store_invoice_total *invoices;
	size_t n_invoices, next_invoice;
	struct impact_row *rows;
	size_t n_rows;
	bool done;
};

static int refuse_hidden(struct ledger_error *err, int64_t tariff_id, bool exists)
{
	return ledger_refuse(err, LEDGER_NOT_FOUND, "not-found",
			     exists ? "tariff %" PRId64 " is a draft; it is shown once proposed or "
				      "published"
				    : "there is no tariff %" PRId64,
			     tariff_id);
}

int ledger_impact_check(struct ledger *ledger, const struct ledger_impact_request *in,
			struct ledger_error *err)
{
	struct store_tariff tariff = { 0 };
	int r;

	r = store_tariff_load(ledger->store, in->tariff_id, &tariff);
	free(tariff.document);
	if (r == -ENOENT || (r == 0 && !ledger_tariff_shown(&tariff) && !in->drafts))
		return refuse_hidden(err, in->tariff_id, r == 0);
	if (r < 0)
		return ledger_storage_error(err, r, "reading the tariff");
	return 0;
}

int ledger_impact_new(struct ledger *ledger, int64_t tariff_id, struct ledger_impact **ret_impact,
		      struct ledger_error *err)
{
	struct ledger_impact *impact;
	char(*periods)[8] = NULL;
	size_t n = 0;
	int r;

	r = store_periods_closed_last(ledger->store, IMPACT_PERIODS, &periods, &n);
	if (r < 0)
		return ledger_storage_error(err, r, "reading the closed periods");
	if (n == 0) {
		free(periods);
		return ledger_refuse(err, LEDGER_CONFLICT, "no-closed-period",
				     "no period is closed yet: the impact re-prices the last "
				     "closed periods' invoices, so ask again once a month is "
				     "closed");
	}
	impact = calloc(1, sizeof(*impact));
	if (!impact) {
		free(periods);
		return ledger_storage_error(err, -ENOMEM, "working out the impact");
	}
	impact->ledger = ledger;
	impact->tariff_id = tariff_id;
	impact->n_periods = n;
	for (size_t i = 0; i < n; i++)
		memcpy(impact->periods[i].period, periods[i], 8);
	free(periods);
	*ret_impact = impact;
	return 0;
}

void ledger_impact_free(struct ledger_impact *impact)
{
	if (!impact)
		return;
	bill_run_free(impact->run);
	free(impact->invoices);
	free(impact->rows);
	free(impact);
}

/* Prepares the current period: its run, which re-prices every member under
 * the tariff, its invoices and its expenses. */
static int period_begin(struct ledger_impact *impact)
{
	struct ledger *ledger = impact->ledger;
	struct impact_period *period = &impact->periods[impact->current];
	struct impact_row *rows;
	struct period parsed;
	char errbuf[256];
	int r;

	if (period_parse(period->period, &parsed) < 0)
		return -EIO;
	r = bill_run_new(ledger->store, ledger->config->zone, &parsed, INT64_MAX, &impact->run,
			 errbuf, sizeof(errbuf));
	if (r == 0)
		r = bill_run_reprice_add(impact->run, 0, impact->tariff_id);
	if (r == 0)
		r = store_invoice_totals(ledger->store, period->period, &impact->invoices,
					 &impact->n_invoices);
	if (r == 0)
		r = store_expense_total(ledger->store, period->period, NULL,
					&period->expenses_minor);
	if (r < 0)
		return r;
	rows = realloc(impact->rows, (impact->n_rows + impact->n_invoices + 1) * sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	impact->rows = rows;
	impact->scanned = false;
	impact->next_invoice = 0;
	return 0;
}

static void period_end(struct ledger_impact *impact)
{
	bill_run_free(impact->run);
	impact->run = NULL;
	free(impact->invoices);
	impact->invoices = NULL;
	impact->n_invoices = 0;
	impact->current++;
}

/* Re-prices the period's next invoices until the deadline. */
static int invoices_reprice(struct ledger_impact *impact, uint64_t deadline_ns,
			    struct ledger_error *err)
{
	const char *period = impact->periods[impact->current].period;

	while (impact->next_invoice < impact->n_invoices) {
		const struct store_invoice_total *invoice = &impact->invoices[impact->next_invoice];
		struct impact_row *row = &impact->rows[impact->n_rows];
		size_t index;
		int r;

		/* Who was invoiced was a member then, and membership in a
		 * closed period does not change. */
		if (bill_run_find(impact->run, invoice->household_id, &index) < 0)
			return ledger_refuse(err, LEDGER_BROKEN, "broken-invoice",
					     "household %" PRId64 " has an invoice for %s but was "
					     "not a member then",
					     invoice->household_id, period);
		*row = (struct impact_row){ .household_id = invoice->household_id,
					    .period = impact->current,
					    .invoice_minor = invoice->total_minor };
		r = bill_run_reprice(impact->run, index, NULL, &row->repriced_minor);
		if (r == 0)
			r = money_sub(row->repriced_minor, row->invoice_minor,
				      &row->difference_minor);
		if (r < 0)
			return ledger_storage_error(err, r, "re-pricing the invoices");
		impact->n_rows++;
		impact->next_invoice++;
		if (uv_hrtime() >= deadline_ns)
			break;
	}
	return 0;
}

int ledger_impact_step(struct ledger_impact *impact, uint64_t deadline_ns, bool *ret_done,
		       struct ledger_error *err)
{
	int r = 0;

	while (!impact->done && uv_hrtime() < deadline_ns) {
		if (impact->current >= impact->n_periods) {
			impact->done = true;
			break;
		}
		/* Loading a period's members and invoices takes a slice's share
		 * of time for thousands of households: its reading starts after. */
		if (!impact->run) {
			r = period_begin(impact);
			if (r < 0) {
				bill_run_free(impact->run);
				impact->run = NULL;
				return ledger_storage_error(err, r, "reading a closed period");
			}
			break;
		}
		if (!impact->scanned) {
			r = bill_run_scan(impact->run, deadline_ns, &impact->scanned);
			if (r < 0)
				return ledger_storage_error(err, r, "reading a closed period");
			continue;
		}
		r = invoices_reprice(impact, deadline_ns, err);
		if (r < 0)
			return r;
		if (impact->next_invoice >= impact->n_invoices)
			period_end(impact);
	}
	*ret_done = impact->done;
	return 0;
}

static int totals_add(struct impact_totals *totals, const struct impact_row *row)
{
	int r;

	totals->invoices++;
	if (row->difference_minor > 0) {
		totals->more_count++;
		r = money_add(totals->more_minor, row->difference_minor, &totals->more_minor);
	} else if (row->difference_minor < 0) {
		totals->less_count++;
		r = money_add(totals->less_minor, row->difference_minor, &totals->less_minor);
	} else {
		totals->same_count++;
		r = 0;
	}
	if (r == 0)
		r = money_add(totals->revenue_minor, row->invoice_minor, &totals->revenue_minor);
	if (r == 0)
		r = money_add(totals->repriced_minor, row->repriced_minor, &totals->repriced_minor);
	return r;
}

/* The figures of a set of household-periods, with the "period" key first
 * when period is not NULL. */
static json_t *totals_json(const char *period, const struct impact_totals *totals)
{
	json_t *json = json_object();

	if (!json)
		return NULL;
	if ((period && json_object_set_new(json, "period", json_string(period)) < 0) ||
	    json_object_set_new(json, "invoices", json_integer(totals->invoices)) < 0 ||
	    json_object_set_new(json, "more",
				json_pack("{s:I, s:I}", "count", (json_int_t)totals->more_count,
					  "total_minor", (json_int_t)totals->more_minor)) < 0 ||
	    json_object_set_new(json, "less",
				json_pack("{s:I, s:I}", "count", (json_int_t)totals->less_count,
					  "total_minor", (json_int_t)totals->less_minor)) < 0 ||
	    json_object_set_new(json, "same",
				json_pack("{s:I}", "count", (json_int_t)totals->same_count)) < 0 ||
	    json_object_set_new(json, "revenue_minor", json_integer(totals->revenue_minor)) < 0 ||
	    json_object_set_new(json, "repriced_revenue_minor",
				json_integer(totals->repriced_minor)) < 0 ||
	    json_object_set_new(json, "expenses_minor", json_integer(totals->expenses_minor)) < 0) {
		json_decref(json);
		return NULL;
	}
	return json;
}

static int difference_compare(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* The differences' quantiles by nearest rank: for percentile p of n sorted
 * values, the value at rank ceil(p * n / 100) (at least 1), in integers. */
static json_t *quantiles_json(const struct impact_row *rows, size_t n)
{
	static const struct {
		const char *name;
		size_t percentile;
	} quantiles[] = { { "min", 0 },	 { "p10", 10 }, { "p25", 25 }, { "p50", 50 },
			  { "p75", 75 }, { "p90", 90 }, { "max", 100 } };
	int64_t *sorted;
	json_t *json;

	if (n == 0)
		return json_null();
	sorted = malloc(n * sizeof(*sorted));
	json = json_object();
	if (!sorted || !json) {
		free(sorted);
		json_decref(json);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		sorted[i] = rows[i].difference_minor;
	qsort(sorted, n, sizeof(*sorted), difference_compare);
	for (size_t q = 0; q < sizeof(quantiles) / sizeof(quantiles[0]); q++) {
		size_t rank = (quantiles[q].percentile * n + 99) / 100;

		json_object_set_new(json, quantiles[q].name,
				    json_integer(sorted[(rank ? rank : 1) - 1]));
	}
	free(sorted);
	return json;
}

/* One household-period as its reply lists it; with its household for the
 * treasurer. */
static json_t *row_json(const struct ledger_impact *impact, const struct impact_row *row,
			bool with_household)
{
	json_t *json = with_household
			       ? json_pack("{s:I}", "household_id", (json_int_t)row->household_id)
			       : json_object();

	if (json &&
	    (json_object_set_new(json, "period", json_string(impact->periods[row->period].period)) <
		     0 ||
	     json_object_set_new(json, "invoice_minor", json_integer(row->invoice_minor)) < 0 ||
	     json_object_set_new(json, "repriced_minor", json_integer(row->repriced_minor)) < 0 ||
	     json_object_set_new(json, "difference_minor", json_integer(row->difference_minor)) <
		     0)) {
		json_decref(json);
		return NULL;
	}
	return json;
}

/* The reply's body, its keys in the order made. */
static int impact_json(const struct ledger_impact *impact, const struct ledger_impact_request *in,
		       const char *status, json_t **ret_json)
{
	struct impact_totals all = { 0 }, by[IMPACT_PERIODS] = { { 0 } };
	json_t *json, *periods = json_array(), *by_period = json_array(), *rows = json_array();
	json_t *totals = NULL;
	unsigned exponent = 0;
	int r = 0;

	for (size_t i = 0; r == 0 && i < impact->n_rows; i++) {
		r = totals_add(&all, &impact->rows[i]);
		if (r == 0)
			r = totals_add(&by[impact->rows[i].period], &impact->rows[i]);
	}
	for (size_t p = 0; r == 0 && p < impact->n_periods; p++) {
		by[p].expenses_minor = impact->periods[p].expenses_minor;
		r = money_add(all.expenses_minor, by[p].expenses_minor, &all.expenses_minor);
	}
	for (size_t p = 0; r == 0 && periods && by_period && p < impact->n_periods; p++)
		if (json_array_append_new(periods, json_string(impact->periods[p].period)) < 0 ||
		    json_array_append_new(by_period,
					  totals_json(impact->periods[p].period, &by[p])) < 0)
			r = -ENOMEM;
	/* A member sees their own household's rows; the treasurer every one. */
	for (size_t i = 0; r == 0 && rows && i < impact->n_rows; i++)
		if ((!in->household_id || impact->rows[i].household_id == in->household_id) &&
		    json_array_append_new(
			    rows, row_json(impact, &impact->rows[i], !in->household_id)) < 0)
			r = -ENOMEM;
	if (r < 0) {
		json_decref(periods);
		json_decref(by_period);
		json_decref(rows);
		return r;
	}
	(void)currency_exponent(impact->ledger->config->currency, &exponent);
	/* json_pack takes the values given with "o", also when it fails. */
	json = json_pack("{s:I, s:s, s:s, s:i, s:o}", "tariff_id", (json_int_t)impact->tariff_id,
			 "status", status, "currency", impact->ledger->config->currency, "exponent",
			 (int)exponent, "periods", periods);
	totals = totals_json(NULL, &all);
	if (!json || !totals || json_object_update(json, totals) < 0 ||
	    json_object_set_new(json, "difference_quantiles_minor",
				quantiles_json(impact->rows, impact->n_rows)) < 0) {
		json_decref(by_period);
		json_decref(rows);
		r = -ENOMEM;
	} else {
		if (json_object_set_new(json, "by_period", by_period) < 0)
			r = -ENOMEM;
		if (json_object_set_new(json, in->household_id ? "mine" : "households", rows) < 0)
			r = -ENOMEM;
	}
	json_decref(totals);
	if (r < 0) {
		json_decref(json);
		return r;
	}
	*ret_json = json;
	return 0;
}

int ledger_impact_document(const struct ledger_impact *impact,
			   const struct ledger_impact_request *in, char **ret_document,
			   struct ledger_error *err)
{
	struct store_tariff tariff = { 0 };
	char *document = NULL;
	json_t *json = NULL;
	int r;

	if (!impact->done)
		return ledger_storage_error(err, -EINVAL, "working out the impact");
	/* Its status now: a proposed tariff may have been published since. */
	r = store_tariff_load(impact->ledger->store, impact->tariff_id, &tariff);
	free(tariff.document);
	if (r == -ENOENT)
		return refuse_hidden(err, impact->tariff_id, false);
	if (r < 0)
		return ledger_storage_error(err, r, "reading the tariff");
	r = impact_json(impact, in,
			tariff.published  ? "published"
			: tariff.proposed ? "proposed"
					  : "draft",
			&json);
	if (r == 0) {
		document = json_dumps(json, JSON_COMPACT);
		json_decref(json);
	}
	if (r == -ERANGE)
		return ledger_storage_error(err, r, "adding up the impact");
	if (r < 0 || !document)
		return ledger_storage_error(err, -ENOMEM, "making the impact's reply");
	*ret_document = document;
	return 0;
}
