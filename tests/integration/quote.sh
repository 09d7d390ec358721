#!/usr/bin/env bash
# Prices members can see before they pay, with curl: a quote of usage sent
# in the request is the invoice the close issues for the same usage, line for
# line; re-pricing a closed month under the tariff it was billed with gives
# its invoice, and under another tariff what that one would have cost.
# Nothing is stored or logged; drafts stay the treasurer's; bad input is
# refused with a problem that says what to fix.
. "$(dirname "$0")/lib.sh"

write_config
start_daemon
ADMIN=$(admin_token)

for h in '{"name":"Garcia","joined_at":"2026-01-01"}' \
	'{"name":"Lopez","joined_at":"2026-10-16"}' \
	'{"name":"Soto","joined_at":"2026-11-05"}'; do
	expect 201 "$(req POST /api/v1/households "$ADMIN" "$h")" "household created"
done
MEMBER1=$(req POST /api/v1/households/1/tokens "$ADMIN" '{"name":"garcia"}' >/dev/null; body -r .token)
MEMBER2=$(req POST /api/v1/households/2/tokens "$ADMIN" '{"name":"lopez"}' >/dev/null; body -r .token)

# October's tariff prices the evening apart; November's is flat. Both skip
# the notice, so that the test bills October 2026 whatever the date.
EVENING='{"name": "Evening", "currency": "EUR", "valid_from": "2026-10-01",
  "emergency": {"reason": "the cooperative bills for the first time"},
  "fixed_fee": {"amount_minor": 1500, "prorate": true},
  "usage_charges": [
    {"name": "Evening download", "direction": "down",
     "windows": [{"days": ["mon","tue","wed","thu","fri","sat","sun"], "from": "18:00", "to": "23:00"}],
     "allowance_gb": 10, "tiers": [{"up_to_gb": 50, "price_per_gb_minor": 50}, {"price_per_gb_minor": 30}]},
    {"name": "Other download", "direction": "down", "tiers": [{"price_per_gb_minor": 10}]},
    {"name": "Local", "direction": "both", "scope": "local", "tiers": [{"price_per_gb_minor": 1}]}],
  "tax": {"rate_bp": 2100, "included": false}}'
FLAT='{"name": "Flat", "currency": "EUR", "valid_from": "2026-11-01",
  "emergency": {"reason": "a simpler tariff from November"},
  "fixed_fee": {"amount_minor": 2000, "prorate": true},
  "usage_charges": [{"name": "Download", "direction": "down", "allowance_gb": 20,
    "tiers": [{"price_per_gb_minor": 25}]}],
  "cap_minor": 3000}'
expect 201 "$(req POST /api/v1/tariffs "$ADMIN" "$EVENING")" "evening tariff drafted"
EVENING_ID=$(body .id)
expect 200 "$(req POST "/api/v1/tariffs/$EVENING_ID/publish" "$ADMIN")" "evening tariff published"
expect 201 "$(req POST /api/v1/tariffs "$ADMIN" "$FLAT")" "flat tariff drafted"
FLAT_ID=$(body .id)
expect 200 "$(req POST "/api/v1/tariffs/$FLAT_ID/publish" "$ADMIN")" "flat tariff published"
expect 201 "$(req POST /api/v1/tariffs "$ADMIN" "$(jq -c '.name = "Draft" | del(.emergency)' <<<"$FLAT")")" \
	"a draft"
DRAFT_ID=$(body .id)

# October's usage (UTC): Garcia in the evening and during the day, local
# traffic too; Lopez once.
IMPORT='{"reason": "history", "rows": [
 {"household_id": 1, "bucket_start": "2026-10-05T19:00:00Z", "bytes_up": 2000000000, "bytes_down": 30000000000},
 {"household_id": 1, "bucket_start": "2026-10-05T19:05:00Z", "bytes_up": 0, "bytes_down": 5000000000, "local_up": 700000000, "local_down": 300000000},
 {"household_id": 1, "bucket_start": "2026-10-28T20:00:00Z", "bytes_up": 0, "bytes_down": 31000000000},
 {"household_id": 1, "bucket_start": "2026-10-06T10:00:00Z", "bytes_up": 10, "bytes_down": 5500000000},
 {"household_id": 2, "bucket_start": "2026-10-20T10:00:00Z", "bytes_up": 0, "bytes_down": 3500000000}]}'
expect 201 "$(req POST /api/v1/usage/import "$ADMIN" "$IMPORT")" "usage imported"
# The same usage as a quote takes it: one point per hour.
SERIES='[
 {"start": "2026-10-05T19:00:00Z", "bytes_up": 2000000000, "bytes_down": 35000000000, "local_up": 700000000, "local_down": 300000000},
 {"start": "2026-10-28T20:00:00Z", "bytes_up": 0, "bytes_down": 31000000000},
 {"start": "2026-10-06T10:00:00Z", "bytes_up": 10, "bytes_down": 5500000000}]'

# Re-pricing compares with an issued invoice: not before the close.
expect_problem 409 "$(req GET "/api/v1/households/1/reprice?period=2026-10&tariff_id=$FLAT_ID" "$MEMBER1")" \
	"no re-pricing of an open period" 'not closed'
expect 200 "$(req POST /api/v1/periods/2026-10/close "$ADMIN")" "October closed"
expect 200 "$(req GET /api/v1/households/1/invoices/2026-10 "$MEMBER1")" "Garcia's invoice"
jq -c .invoice "$WORK/body" >"$WORK/garcia.json"
expect 200 "$(req GET /api/v1/households/2/invoices/2026-10 "$MEMBER2")" "Lopez's invoice"
jq -c .invoice "$WORK/body" >"$WORK/lopez.json"
expect 200 "$(req GET /api/v1/log/checkpoint)" "the log's checkpoint"
checkpoint=$(cat "$WORK/body")

# A quote needs no token, and is the invoice line for line.
quote() { # TARIFF_ID TOKEN BODY
	req POST "/api/v1/tariffs/$1/quote" "$2" "$3"
}
expect 200 "$(quote "$EVENING_ID" "" "{\"period\": \"2026-10\", \"joined_at\": \"2026-01-01\", \"series\": $SERIES}")" \
	"anyone gets a quote"
for key in lines usage subtotal_minor tax total_minor member_from_s member_to_s tariff period currency; do
	[ "$(jq -c ".$key" "$WORK/body")" = "$(jq -c ".$key" "$WORK/garcia.json")" ] ||
		fail "the quote's $key differs from the invoice's: $(jq -c ".$key" "$WORK/body") against $(jq -c ".$key" "$WORK/garcia.json")"
done
[ "$(body .quote)" = true ] && [ "$(body .household_id)" = null ] && [ "$(body .imported)" = null ] ||
	fail "the quote does not say it is one: $(head -c 300 "$WORK/body")"
ok "the quote is Garcia's invoice, line for line"
# Lopez joined on 16 October: the fee is prorated alike.
expect 200 "$(quote "$EVENING_ID" "" '{"period": "2026-10", "joined_at": "2026-10-16",
  "series": [{"start": "2026-10-20T10:00:00Z", "bytes_up": 0, "bytes_down": 3500000000}]}')" "Lopez's quote"
[ "$(body -c .lines)" = "$(jq -c .lines "$WORK/lopez.json")" ] &&
	[ "$(body .total_minor)" = "$(jq .total_minor "$WORK/lopez.json")" ] ||
	fail "Lopez's quote differs from the invoice: $(body -c .lines)"
ok "a member who joined mid-month is quoted as invoiced"

# Totals serve a tariff without windows: Garcia's 71.5 GB down, 20 of them
# free, 51.5 × 0.25 = 12.88 on a fee of 20.00 = 32.88, capped at 30.00.
expect 200 "$(quote "$FLAT_ID" "$MEMBER1" '{"period": "2026-10", "joined_at": "2026-01-01",
  "totals": {"bytes_up": 2000000010, "bytes_down": 71500000000}}')" "a quote from totals"
[ "$(body -c '[.lines[] | .amount_minor]')" = '[2000,0,1288,-288]' ] &&
	[ "$(body .total_minor)" = 3000 ] && [ "$(body '.lines[-1].kind')" = cap ] ||
	fail "the flat quote: $(body -c '[.lines[] | [.kind, .amount_minor]]') total $(body .total_minor)"
ok "totals are priced as the tariff says: 32.88 capped at 30.00"
flat_quote=$(body -c '[.lines[] | .amount_minor]')
expect_problem 400 "$(quote "$EVENING_ID" "" '{"period": "2026-10", "joined_at": "2026-01-01",
  "totals": {"bytes_up": 1, "bytes_down": 1}}')" "totals refused for a tariff with windows" 'send usage as series'

# Drafts are the treasurer's, as reading them is.
draft_body='{"period": "2026-10", "joined_at": "2026-01-01", "totals": {"bytes_up": 0, "bytes_down": 0}}'
expect_problem 404 "$(quote "$DRAFT_ID" "" "$draft_body")" "no quote of a draft without a token" 'draft'
expect_problem 404 "$(quote "$DRAFT_ID" "$MEMBER1" "$draft_body")" "no quote of a draft for a member" 'draft'
expect 200 "$(quote "$DRAFT_ID" "$ADMIN" "$draft_body")" "the treasurer quotes a draft"
expect_problem 404 "$(quote 99 "" "$draft_body")" "no quote of a tariff that does not exist" 'no tariff 99'
expect 401 "$(quote "$FLAT_ID" "not-a-token" "$draft_body")" "a token sent must be valid"

# Bad input says what to fix.
expect_problem 400 "$(quote "$FLAT_ID" "" '{"period": "2026-10", "joined_at": "2026-01-01", "colour": 1}')" \
	"an unknown key refused" 'colour.*expected'
expect_problem 400 "$(quote "$FLAT_ID" "" '{"period": "2026-10", "totals": {"bytes_up": 0, "bytes_down": 0}}')" \
	"joined_at is required" 'joined_at'
expect_problem 400 "$(quote "$FLAT_ID" "" '{"period": "2026-10", "joined_at": "2026-01-01"}')" \
	"usage is required" 'series.*totals'
expect_problem 400 "$(quote "$FLAT_ID" "" '{"period": "2026-14", "joined_at": "2026-01-01", "series": []}')" \
	"a period that is not one" '2026-14'
expect_problem 400 "$(quote "$FLAT_ID" "" '{"period": "2026-10", "joined_at": "2026-12-01", "series": []}')" \
	"a membership outside the period" 'does not overlap'
expect_problem 400 "$(quote "$FLAT_ID" "" '{"period": "2026-10", "joined_at": "2026-01-01",
  "series": [{"start": "2026-10-05T19:30:00Z", "bytes_up": 0, "bytes_down": 1}]}')" \
	"a point off the hour" 'series\[0\]\.start.*on the hour'
expect_problem 400 "$(quote "$FLAT_ID" "" '{"period": "2026-10", "joined_at": "2026-01-01",
  "series": [{"start": "2026-10-05T19:00:00Z", "bytes_up": 0}]}')" \
	"a point without its bytes" 'series\[0\]: bytes_down'
expect_problem 400 "$(quote "$FLAT_ID" "" '{"period": "2026-10", "joined_at": "2026-01-01",
  "series": [{"start": "2026-10-05T19:00:00Z", "bytes_up": 0, "bytes_down": -1}]}')" \
	"negative bytes" 'bytes_down must be 0 to'
expect_problem 400 "$(quote "$FLAT_ID" "" "{\"period\": \"2026-10\", \"joined_at\": \"2026-01-01\",
  \"series\": $(jq -c '.[:1] + .[:1]' <<<"$SERIES")}")" "an hour sent twice" 'comes twice'
long=$(jq -nc '[range(745) | {start: "2026-10-01T00:00:00Z", bytes_up: 0, bytes_down: 0}]')
expect_problem 400 "$(quote "$FLAT_ID" "" "{\"period\": \"2026-10\", \"joined_at\": \"2026-01-01\", \"series\": $long}")" \
	"more points than the month has hours" '745 points.*744 hours'
# (A file: one argument of a command holds at most 128 KiB.)
jq -nc '{period: "2026-10", joined_at: "2026-01-01", series: [range(4000) |
  {start: "2026-10-01T00:00:00Z", bytes_up: 1000000000, bytes_down: 1000000000}]}' >"$WORK/huge.json"
expect_problem 413 "$(req POST "/api/v1/tariffs/$FLAT_ID/quote" "" "" \
	-H 'Content-Type: application/json' --data-binary @"$WORK/huge.json")" \
	"a body beyond a quote's limit" 'at most 262144 bytes'

# Re-pricing: the member's own household, the tariff it was billed with.
expect 200 "$(req GET "/api/v1/households/1/reprice?period=2026-10&tariff_id=$EVENING_ID" "$MEMBER1")" \
	"Garcia re-prices October under its own tariff"
[ "$(body -c .invoice)" = "$(cat "$WORK/garcia.json")" ] || fail "the issued invoice is not the stored one"
[ "$(body -c .repriced.lines)" = "$(jq -c .lines "$WORK/garcia.json")" ] &&
	[ "$(body .difference_minor)" = 0 ] && [ "$(body .repriced.repriced)" = true ] ||
	fail "re-priced under the same tariff: $(body -c '.repriced.lines') difference $(body .difference_minor)"
ok "re-pricing under the billed tariff gives the invoice exactly"
expect 200 "$(req GET "/api/v1/households/1/reprice?period=2026-10&tariff_id=$FLAT_ID" "$MEMBER1")" \
	"Garcia re-prices October under November's tariff"
[ "$(body -c '[.repriced.lines[] | .amount_minor]')" = "$flat_quote" ] &&
	[ "$(body .difference_minor)" = $(($(body .repriced.total_minor) - $(jq .total_minor "$WORK/garcia.json"))) ] ||
	fail "re-priced under the flat tariff: $(body -c '[.repriced.lines[] | .amount_minor]') against $flat_quote"
ok "re-pricing under another tariff is its quote of the month's totals, and says the difference"
expect 403 "$(req GET "/api/v1/households/2/reprice?period=2026-10&tariff_id=$FLAT_ID" "$MEMBER1")" \
	"no re-pricing of another household"
expect_problem 404 "$(req GET "/api/v1/households/1/reprice?period=2026-10&tariff_id=$DRAFT_ID" "$MEMBER1")" \
	"no re-pricing under a draft for a member" 'draft'
expect 200 "$(req GET "/api/v1/households/2/reprice?period=2026-10&tariff_id=$DRAFT_ID" "$ADMIN")" \
	"the treasurer re-prices under a draft"
expect_problem 404 "$(req GET "/api/v1/households/1/reprice?period=2026-10&tariff_id=99" "$MEMBER1")" \
	"no re-pricing under a tariff that does not exist" 'no tariff 99'
expect_problem 404 "$(req GET "/api/v1/households/3/reprice?period=2026-10&tariff_id=$FLAT_ID" "$ADMIN")" \
	"no re-pricing without an invoice" 'no invoice for 2026-10'
expect_problem 400 "$(req GET "/api/v1/households/1/reprice?period=2026-10" "$MEMBER1")" \
	"the tariff is required" 'tariff_id'
expect 401 "$(req GET "/api/v1/households/1/reprice?period=2026-10&tariff_id=$FLAT_ID")" \
	"re-pricing needs a token"

# Once closed, the household still re-prices its bills.
expect 200 "$(req PATCH /api/v1/households/2 "$ADMIN" '{"status":"closed","left_at":"2026-11-30"}')" \
	"Lopez leaves"
expect 200 "$(req GET "/api/v1/households/2/reprice?period=2026-10&tariff_id=$FLAT_ID" "$MEMBER2")" \
	"a member who left re-prices its October"

# Nothing of this was stored or logged: the household's closing is the one
# entry since.
expect 200 "$(req GET /api/v1/log/checkpoint)" "the log's checkpoint again"
size_before=$(sed -n 2p <<<"$checkpoint")
[ "$(sed -n 2p "$WORK/body")" = $((size_before + 1)) ] ||
	fail "the log grew from $size_before to $(sed -n 2p "$WORK/body")"
expect 200 "$(req GET /api/v1/periods/2026-10/invoices "$ADMIN")" "October's invoices"
[ "$(body '.invoices | length')" = 2 ] || fail "invoices: $(body -c .invoices)"
ok "quotes and re-pricing store and log nothing"

finish
