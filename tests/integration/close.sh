#!/usr/bin/env bash
# Closing a month whatever the input: a household moved to a tariff that
# starts later, byte counts no link carries, expenses past what a period may
# hold. The month is the one before the current one (UTC), computed from the
# clock.
. "$(dirname "$0")/lib.sh"

THIS=$(date -u +%Y-%m)
PREV=$(date -u -d "$THIS-01 -1 month" +%Y-%m)
NEXT=$(date -u -d "$THIS-01 +1 month" +%Y-%m)
# A 300-second bucket at 400 Gbit/s, and the hour of 12 such buckets.
LINK_BUCKET=15000000000000

write_config
start_daemon
ADMIN=$(admin_token)

for name in Garcia Lopez Ruiz; do
	expect 201 "$(req POST /api/v1/households "$ADMIN" "{\"name\":\"$name\",\"joined_at\":\"$PREV-01\"}")" \
		"$name joins on $PREV-01"
done

# tariff VALID_FROM: a cost-sharing tariff, published at once.
tariff() {
	local body
	body=$(jq -nc --arg from "$1" '{
	  name: "Village", currency: "EUR", valid_from: $from,
	  emergency: {reason: "the test bills the month that just ended"},
	  fixed_fee: {amount_minor: 1000, prorate: false},
	  usage_charges: [{name: "Download", direction: "down", tiers: [{price_per_gb_minor: 10}]}],
	  cost_sharing: {categories: ["transit"], equal_bp: 5000, direction: "down"}}')
	expect 201 "$(req POST /api/v1/tariffs "$ADMIN" "$body")" "tariff from $1 drafted"
	TARIFF_ID=$(body .id)
	expect 200 "$(req POST "/api/v1/tariffs/$TARIFF_ID/publish" "$ADMIN")" "tariff from $1 published"
}

tariff "$PREV-01"
expect 201 "$(req POST /api/v1/expenses "$ADMIN" \
	"{\"period\":\"$PREV\",\"category\":\"transit\",\"amount_minor\":9000,\"description\":\"upstream\"}")" \
	"transit expense for $PREV"

# 3.1: Lopez gets a tariff of its own that starts next month; until then it
# follows the cooperative's, and every bill of the month still works.
tariff "$NEXT-01"
expect 200 "$(req PATCH /api/v1/households/2 "$ADMIN" "{\"tariff_id\":$TARIFF_ID}")" \
	"Lopez moved to the tariff of $NEXT"
expect 200 "$(req GET /api/v1/households/1/estimate "$ADMIN")" "the estimate still answers"
expect 200 "$(req GET "/api/v1/periods/$PREV/summary" "$ADMIN")" "the summary of $PREV answers"
[ "$(body '[.cost_sharing[] | .pool_minor] | add')" = 9000 ] ||
	fail "pools in the summary: $(body -c .cost_sharing)"
ok "the month's transit is shared once, by the tariff its households follow"

# 3.4: byte counts beyond what a 400 Gbit/s link carries are refused, per
# bucket and per hour over all households.
import() {
	req POST /api/v1/usage/import "$ADMIN" "{\"reason\":\"old meter\",\"rows\":$1}"
}
row() { # household, bucket start, bytes down
	printf '{"household_id":%s,"bucket_start":"%s","bytes_up":0,"bytes_down":%s}\n' "$1" "$2" "$3"
}
HOUR="$PREV-10T12"
expect_problem 400 "$(import "[$(row 1 "$HOUR:00:00Z" 9223372036854775807)]")" \
	"INT64_MAX bytes refused" "at most $LINK_BUCKET.*400 Gbit/s"
expect_problem 400 "$(import "[$(row 1 "$HOUR:00:00Z" $((LINK_BUCKET + 1)))]")" \
	"a byte past the link's bucket refused" "at most $LINK_BUCKET"
rows=$(for m in 00 05 10 15 20 25 30 35 40 45 50 55; do row 1 "$HOUR:$m:00Z" $LINK_BUCKET; done | paste -sd,)
expect 201 "$(import "[$rows]")" "a full hour at 400 Gbit/s imported"
expect_problem 400 "$(import "[$(row 2 "$HOUR:30:00Z" 1)]")" \
	"a byte more in that hour refused, from any household" "$HOUR:00:00Z.*400 Gbit/s"
expect_problem 400 "$(import "[$(row 1 "$HOUR:00:00Z" 1)]")" \
	"adding to a full bucket refused" "400 Gbit/s"
expect 201 "$(import "[$(row 2 "$PREV-10T13:00:00Z" 1000000000)]")" "the next hour takes usage"

# Expenses: a period's add up to at most 10^15 minor units.
expect 201 "$(req POST /api/v1/expenses "$ADMIN" \
	"{\"period\":\"$THIS\",\"category\":\"power\",\"amount_minor\":999999999999999,\"description\":\"x\"}")" \
	"the largest expense"
expect_problem 400 "$(req POST /api/v1/expenses "$ADMIN" \
	"{\"period\":\"$THIS\",\"category\":\"power\",\"amount_minor\":2,\"description\":\"x\"}")" \
	"expenses past 10^15 minor units in a period refused" 'at most 1000000000000000'

expect 200 "$(req GET "/api/v1/periods/$PREV/summary" "$ADMIN")" "the summary after the largest import"
[ "$(body .bytes_down)" = $((12 * LINK_BUCKET + 1000000000)) ] ||
	fail "download in the summary: $(body .bytes_down)"
ok "the summary counts every byte imported"
expect 200 "$(req GET "/api/v1/periods/$THIS/summary" "$ADMIN")" "the summary of $THIS"
expect 200 "$(req POST "/api/v1/periods/$PREV/close" "$ADMIN")" "$PREV closed"
[ "$(body .households)" = 3 ] || fail "households billed: $(body .households)"
expect 200 "$(req GET "/api/v1/households/1/invoices/$PREV" "$ADMIN")" "Garcia's invoice"
[ "$(body .invoice.usage.bytes_down)" = $((12 * LINK_BUCKET)) ] ||
	fail "Garcia's download: $(body .invoice.usage.bytes_down)"
ok "the invoice bills the whole hour"

finish
