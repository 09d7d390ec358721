/* Quotes: the invoice a tariff would give usage that anyone sends (an hourly
 * series, or totals where the tariff does not price by time), rated as the
 * close rates a household (bill_quote) and returned without storing or
 * logging anything. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coopbill/bill.h"
#include "coopbill/config.h"
#include "coopbill/date.h"
#include "coopbill/ledger.h"
#include "coopbill/period.h"
#include "coopbill/rate.h"
#include "coopbill/store.h"
#include "coopbill/tariff.h"

/* What a 400 Gbit/s link carries in a second, the bound of imported usage
 * too: no cooperative's gateway carries more, and sums stay far from 64-bit
 * overflow. */
#define LINK_BYTES_PER_S INT64_C(50000000000)
#define HOUR_S		 3600

/* Refuses a byte count of a point (named by where) that is negative or more
 * than the link carries in span_s. */
static int bytes_check(const char *where, const char *field, int64_t bytes, int64_t span_s,
		       struct ledger_error *err)
{
	if (bytes >= 0 && bytes <= LINK_BYTES_PER_S * span_s)
		return 0;
	return ledger_refuse(err, LEDGER_INVALID, "invalid-quote",
			     "%s%s must be 0 to %" PRId64
			     " bytes, what a 400 Gbit/s link carries in %" PRId64 " s",
			     where, field, LINK_BYTES_PER_S * span_s, span_s);
}

static int point_bytes_check(const char *where, const struct ledger_quote_point *point,
			     int64_t span_s, struct ledger_error *err)
{
	int r;

	r = bytes_check(where, "bytes_up", point->bytes_up, span_s, err);
	if (r == 0)
		r = bytes_check(where, "bytes_down", point->bytes_down, span_s, err);
	if (r == 0)
		r = bytes_check(where, "local_up", point->local_up, span_s, err);
	if (r == 0)
		r = bytes_check(where, "local_down", point->local_down, span_s, err);
	return r;
}

/* The series as slices: one point per whole hour of the period at most. */
static int series_slices(const struct ledger_quote_request *in, const char *period_text,
			 int64_t start_s, int64_t end_s, struct rate_slice *slices,
			 struct ledger_error *err)
{
	size_t hours = (size_t)((end_s - start_s + HOUR_S - 1) / HOUR_S);
	bool *seen;
	char where[40];
	int r = 0;

	if (in->n_points > hours)
		return ledger_refuse(err, LEDGER_INVALID, "invalid-quote",
				     "series has %zu points; %s has %zu hours, and a series has at "
				     "most one point per hour",
				     in->n_points, period_text, hours);
	seen = calloc(hours + 1, sizeof(*seen));
	if (!seen)
		return ledger_storage_error(err, -ENOMEM, "making the quote");
	for (size_t i = 0; r == 0 && i < in->n_points; i++) {
		const struct ledger_quote_point *point = &in->points[i];
		int64_t t;

		snprintf(where, sizeof(where), "series[%zu].", i);
		if (!point->start || date_time_parse(point->start, &t) < 0 || t % HOUR_S != 0 ||
		    t < start_s - start_s % HOUR_S || t >= end_s) {
			r = ledger_refuse(err, LEDGER_INVALID, "invalid-quote",
					  "series[%zu].start must be an RFC 3339 time on the hour "
					  "inside %s",
					  i, period_text);
			break;
		}
		/* In a zone off the whole hour, the hour the period starts in
		 * counts from the period's start. */
		if (t < start_s)
			t = start_s;
		if (seen[(t - start_s) / HOUR_S]) {
			r = ledger_refuse(err, LEDGER_INVALID, "invalid-quote",
					  "series[%zu].start %s comes twice; send each hour once",
					  i, point->start);
			break;
		}
		seen[(t - start_s) / HOUR_S] = true;
		r = point_bytes_check(where, point, HOUR_S, err);
		slices[i] =
			(struct rate_slice){ t, (uint64_t)point->bytes_up,
					     (uint64_t)point->bytes_down, (uint64_t)point->local_up,
					     (uint64_t)point->local_down };
	}
	free(seen);
	return r;
}

int ledger_quote(struct ledger *ledger, const struct ledger_quote_request *in, char **ret_document,
		 struct ledger_error *err)
{
	char period_text[PERIOD_TEXT_MAX], id_text[24];
	struct store_tariff row = { 0 };
	struct tariff *tariff = NULL;
	struct rate_slice *slices = NULL;
	struct period period;
	int64_t start_s, end_s, member_from_s, member_to_s;
	size_t n_slices;
	char reason[256];
	int r;

	r = store_tariff_load(ledger->store, in->tariff_id, &row);
	if (r == -ENOENT || (r == 0 && !ledger_tariff_shown(&row) && !in->drafts)) {
		free(row.document);
		if (r == 0)
			return ledger_refuse(err, LEDGER_NOT_FOUND, "not-found",
					     "tariff %" PRId64
					     " is a draft; it is shown once published",
					     in->tariff_id);
		return ledger_refuse(err, LEDGER_NOT_FOUND, "not-found",
				     "there is no tariff %" PRId64, in->tariff_id);
	}
	if (r < 0)
		return ledger_storage_error(err, r, "reading the tariff");
	r = tariff_parse(row.document, strlen(row.document), &tariff, reason, sizeof(reason));
	free(row.document);
	if (r < 0) {
		snprintf(id_text, sizeof(id_text), "%" PRId64, in->tariff_id);
		return ledger_refuse(err, LEDGER_BROKEN, "broken-tariff",
				     "the stored tariff %s does not parse: %s", id_text, reason);
	}
	r = ledger_period_parse(in->period, &period, err);
	if (r < 0)
		goto out;
	period_format(&period, period_text);
	if (period_bounds(ledger->config->zone, &period, &start_s, &end_s) < 0) {
		r = ledger_refuse(err, LEDGER_INVALID, "invalid-period",
				  "%s cannot be worked out in the cooperative's time zone",
				  period_text);
		goto out;
	}
	if (!in->joined_at || bill_membership(ledger->config->zone, in->joined_at, in->left_at,
					      &member_from_s, &member_to_s) < 0) {
		r = ledger_refuse(err, LEDGER_INVALID, "invalid-quote",
				  "joined_at (and left_at, if any) must be dates YYYY-MM-DD, "
				  "left_at not before joined_at");
		goto out;
	}
	if (member_from_s >= end_s || member_to_s <= start_s) {
		r = ledger_refuse(err, LEDGER_INVALID, "invalid-quote",
				  "the membership does not overlap %s: joined_at must be on or "
				  "before its last day, and left_at, if any, on or after its first",
				  period_text);
		goto out;
	}
	if ((in->points != NULL) == in->has_totals) {
		r = ledger_refuse(err, LEDGER_INVALID, "invalid-quote",
				  "send usage either as series (hourly points) or as totals");
		goto out;
	}
	n_slices = in->has_totals ? 1 : in->n_points;
	slices = calloc(n_slices + 1, sizeof(*slices));
	if (!slices) {
		r = ledger_storage_error(err, -ENOMEM, "making the quote");
		goto out;
	}
	if (in->has_totals) {
		/* Totals price alike at any time only where the tariff has no
		 * windows that tell the times apart: the period's start stands
		 * for all of them. */
		if (!rate_tariff_timeless(tariff)) {
			r = ledger_refuse(err, LEDGER_INVALID, "invalid-quote",
					  "tariff %" PRId64
					  " prices traffic by the time of the week (windows): send "
					  "usage as series, an hourly point each",
					  in->tariff_id);
			goto out;
		}
		r = point_bytes_check("totals.", &in->totals, end_s - start_s, err);
		if (r < 0)
			goto out;
		slices[0] = (struct rate_slice){ start_s, (uint64_t)in->totals.bytes_up,
						 (uint64_t)in->totals.bytes_down,
						 (uint64_t)in->totals.local_up,
						 (uint64_t)in->totals.local_down };
	} else {
		r = series_slices(in, period_text, start_s, end_s, slices, err);
		if (r < 0)
			goto out;
	}
	r = bill_quote(
		&(struct bill_quote_request){
			.zone = ledger->config->zone,
			.period = &period,
			.tariff_id = in->tariff_id,
			.tariff = tariff,
			.tariff_sha256 = row.sha256,
			.member_from_s = member_from_s,
			.member_to_s = member_to_s,
			.slices = slices,
			.n_slices = n_slices,
		},
		ret_document);
	if (r == -ERANGE)
		r = ledger_refuse(err, LEDGER_INVALID, "invalid-quote",
				  "an amount of this usage does not fit in 64 bits");
	else if (r < 0)
		r = ledger_storage_error(err, r, "making the quote");
out:
	free(slices);
	tariff_free(tariff);
	return r;
}
