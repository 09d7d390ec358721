#!/usr/bin/env bash
# Consultation before a price change, with curl: the treasurer proposes a
# draft to the members (logged); then anyone reads it as "proposed", quotes
# and re-prices under it, and every token sees its impact on the last closed
# months, a member only their own household beside the cooperative's
# aggregates; a proposed tariff is neither replaced nor deleted, and is
# published as proposed. A draft not proposed stays the treasurer's.
. "$(dirname "$0")/lib.sh"

write_config
start_daemon
ADMIN=$(admin_token)

for h in '{"name":"Garcia","joined_at":"2026-01-01"}' '{"name":"Lopez","joined_at":"2026-01-01"}'; do
	expect 201 "$(req POST /api/v1/households "$ADMIN" "$h")" "household created"
done
MEMBER1=$(req POST /api/v1/households/1/tokens "$ADMIN" '{"name":"garcia"}' >/dev/null; body -r .token)

# October's tariff skips the notice, so that the test bills October 2026
# whatever the date; the proposal starts the year after next, with notice.
NEXT=$(($(date -u +%Y) + 2))-01-01
CURRENT='{"name": "Current", "currency": "EUR", "valid_from": "2026-10-01",
  "emergency": {"reason": "the cooperative bills for the first time"},
  "fixed_fee": {"amount_minor": 1500, "prorate": true},
  "usage_charges": [{"name": "Download", "direction": "down", "tiers": [{"price_per_gb_minor": 10}]}]}'
PROPOSAL="{\"name\": \"Proposal\", \"currency\": \"EUR\", \"valid_from\": \"$NEXT\",
  \"fixed_fee\": {\"amount_minor\": 1000, \"prorate\": true},
  \"usage_charges\": [{\"name\": \"Download\", \"direction\": \"down\", \"tiers\": [{\"price_per_gb_minor\": 20}]}]}"
expect 201 "$(req POST /api/v1/tariffs "$ADMIN" "$CURRENT")" "current tariff drafted"
CURRENT_ID=$(body .id)
expect 200 "$(req POST "/api/v1/tariffs/$CURRENT_ID/publish" "$ADMIN")" "current tariff published"
expect 201 "$(req POST /api/v1/tariffs "$ADMIN" "$PROPOSAL")" "proposal drafted"
PROPOSED_ID=$(body .id)
SHA=$(body -r .sha256)
expect 201 "$(req POST /api/v1/tariffs "$ADMIN" "$(jq -c '.name = "Plain draft"' <<<"$PROPOSAL")")" \
	"a draft kept to the treasurer"
DRAFT_ID=$(body .id)

expect_problem 404 "$(req GET "/api/v1/tariffs/$PROPOSED_ID" "$MEMBER1")" \
	"before the consultation, a member does not see the draft" 'is a draft'
expect_problem 403 "$(req POST "/api/v1/tariffs/$PROPOSED_ID/consult" "$MEMBER1")" \
	"a member cannot open a consultation" 'admin'
expect_problem 401 "$(req POST "/api/v1/tariffs/$PROPOSED_ID/consult")" \
	"nor can anyone without a token" ''

# The consultation: logged, and shown as proposed.
expect 200 "$(req POST "/api/v1/tariffs/$PROPOSED_ID/consult" "$ADMIN" '{}')" "the treasurer proposes the draft"
[ "$(body -r .status)" = proposed ] || fail "status after consult: $(body -r .status)"
body -r .proposed_at | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' || fail "proposed_at: $(body -r .proposed_at)"
[ "$(body -r .published_at)" = null ] || fail "a proposed tariff is not published"
INDEX=$(body .proposed_log_index)
ok "the tariff is proposed, with the index of its log entry"
expect 200 "$(req GET "/api/v1/log/entries/$INDEX")" "the tariff-proposed entry"
printf 'tariff-proposed\ntariff %s\nsha256 %s\nvalid_from %s\n' "$PROPOSED_ID" "$SHA" "$NEXT" |
	cmp -s - <(head -4 "$WORK/body") || fail "the entry: $(cat "$WORK/body")"
ok "the log entry names the tariff, its hash and valid_from"
expect_problem 409 "$(req POST "/api/v1/tariffs/$PROPOSED_ID/consult" "$ADMIN")" \
	"proposing it again is refused" 'proposed already'
expect_problem 409 "$(req POST "/api/v1/tariffs/$CURRENT_ID/consult" "$ADMIN")" \
	"a published tariff is not proposed" 'published already'
expect_problem 404 "$(req POST /api/v1/tariffs/99/consult "$ADMIN")" \
	"a tariff that does not exist" 'no tariff 99'

# Anyone reads a proposed tariff and lists them; a plain draft stays hidden.
expect 200 "$(req GET "/api/v1/tariffs/$PROPOSED_ID")" "anyone reads the proposed tariff"
[ "$(body -r .status)" = proposed ] && [ "$(body -r .document.name)" = Proposal ] ||
	fail "the proposed tariff: $(cat "$WORK/body")"
expect 200 "$(req GET '/api/v1/tariffs?status=proposed')" "anyone lists the proposed tariffs"
[ "$(body -c '[.tariffs[] | [.id, .status]]')" = "[[$PROPOSED_ID,\"proposed\"]]" ] ||
	fail "the proposed list: $(body -c '[.tariffs[] | [.id, .status]]')"
expect 200 "$(req GET /api/v1/tariffs)" "the published list"
[ "$(body -c '[.tariffs[].id]')" = "[$CURRENT_ID]" ] || fail "the published list: $(body -c .)"
expect 200 "$(req GET '/api/v1/tariffs?status=draft' "$ADMIN")" "the treasurer's drafts"
[ "$(body -c '[.tariffs[].id]')" = "[$DRAFT_ID]" ] || fail "the drafts: $(body -c '[.tariffs[].id]')"
expect_problem 404 "$(req GET "/api/v1/tariffs/$DRAFT_ID" "$MEMBER1")" \
	"a member does not see a draft not proposed" 'is a draft'
expect_problem 403 "$(req GET '/api/v1/tariffs?status=draft' "$MEMBER1")" \
	"nor lists drafts" 'treasurer'

# A proposed tariff stays as the members saw it.
expect_problem 409 "$(req PUT "/api/v1/tariffs/$PROPOSED_ID" "$ADMIN" "$(jq -c '.name = "Changed"' <<<"$PROPOSAL")")" \
	"a proposed tariff is not replaced" 'proposed to the members.*publish it, or draft a new one'
[ "$(body -r .type)" = urn:coopbill:problem:tariff-proposed ] || fail "type: $(body -r .type)"
expect_problem 409 "$(req DELETE "/api/v1/tariffs/$PROPOSED_ID" "$ADMIN")" \
	"a proposed tariff is not deleted" 'proposed to the members'
expect 200 "$(req GET "/api/v1/tariffs/$PROPOSED_ID")" "it is still there"
[ "$(body -r .sha256)" = "$SHA" ] || fail "the proposed tariff changed"

# October is billed under the current tariff.
IMPORT='{"reason": "history", "rows": [
 {"household_id": 1, "bucket_start": "2026-10-05T19:00:00Z", "bytes_up": 0, "bytes_down": 30000000000},
 {"household_id": 2, "bucket_start": "2026-10-20T10:00:00Z", "bytes_up": 0, "bytes_down": 5000000000}]}'
expect 201 "$(req POST /api/v1/usage/import "$ADMIN" "$IMPORT")" "usage imported"
expect_problem 409 "$(req GET "/api/v1/tariffs/$PROPOSED_ID/impact" "$MEMBER1")" \
	"no impact before a period is closed" 'no period is closed'
expect 200 "$(req POST /api/v1/periods/2026-10/close "$ADMIN")" "October closed"

# Anyone quotes under a proposed tariff, and a member re-prices their
# household under it; a plain draft is the treasurer's.
QUOTE='{"period": "2026-10", "joined_at": "2026-01-01", "totals": {"bytes_up": 0, "bytes_down": 30000000000}}'
expect 200 "$(req POST "/api/v1/tariffs/$PROPOSED_ID/quote" "" "$QUOTE")" "anyone quotes under the proposal"
[ "$(body .total_minor)" = 1600 ] || fail "the quote: $(body .total_minor)"
expect_problem 404 "$(req POST "/api/v1/tariffs/$DRAFT_ID/quote" "" "$QUOTE")" \
	"nobody quotes under a plain draft without a token" 'is a draft'
expect 200 "$(req GET "/api/v1/households/1/reprice?period=2026-10&tariff_id=$PROPOSED_ID" "$MEMBER1")" \
	"a member re-prices their October under the proposal"
[ "$(body .invoice.total_minor) $(body .repriced.total_minor) $(body .difference_minor)" = "1800 1600 -200" ] ||
	fail "the re-pricing: $(body -c '[.invoice.total_minor, .repriced.total_minor, .difference_minor]')"
expect_problem 404 "$(req GET "/api/v1/households/1/reprice?period=2026-10&tariff_id=$DRAFT_ID" "$MEMBER1")" \
	"but not under a plain draft" 'is a draft'

# The impact: October re-priced under the proposal. Garcia: 15.00 + 30 GB x
# 0.10 = 18.00 invoiced, 10.00 + 30 GB x 0.20 = 16.00 proposed (-2.00);
# Lopez: 15.00 + 5 GB x 0.10 = 15.50, 10.00 + 1.00 = 11.00 (-4.50).
expect_problem 401 "$(req GET "/api/v1/tariffs/$PROPOSED_ID/impact")" \
	"the impact needs a token" ''
# Two members' requests at once share one computation and both get it.
curl -sS -H "Authorization: Bearer $MEMBER1" "$BASE/api/v1/tariffs/$PROPOSED_ID/impact" >"$WORK/first" &
FIRST=$!
expect 200 "$(req GET "/api/v1/tariffs/$PROPOSED_ID/impact" "$MEMBER1")" "a member sees the impact"
wait "$FIRST"
cmp -s "$WORK/first" "$WORK/body" || fail "two requests at once differ: $(cat "$WORK/first")"
ok "a request made meanwhile gets the same figures"
[ "$(body -c '[.status, .currency, .exponent, .periods, .invoices, .more, .less, .same]')" = \
	'["proposed","EUR",2,["2026-10"],2,{"count":0,"total_minor":0},{"count":2,"total_minor":-650},{"count":0}]' ] ||
	fail "the aggregates: $(body -c .)"
[ "$(body -c '[.revenue_minor, .repriced_revenue_minor, .expenses_minor, .difference_quantiles_minor.min, .difference_quantiles_minor.p50, .difference_quantiles_minor.max]')" = \
	'[3350,2700,0,-450,-450,-200]' ] || fail "revenue and quantiles: $(body -c .)"
ok "the cooperative's aggregates, worked out by hand"
[ "$(body -c .mine)" = '[{"period":"2026-10","invoice_minor":1800,"repriced_minor":1600,"difference_minor":-200}]' ] ||
	fail "mine: $(body -c .mine)"
[ "$(body -c 'has("households")')" = false ] || fail "a member sees other households"
grep -q 1550 "$WORK/body" && fail "Lopez's invoice shows in Garcia's impact"
ok "the member sees their own household, and no other's figures"
expect_problem 404 "$(req GET "/api/v1/tariffs/$DRAFT_ID/impact" "$MEMBER1")" \
	"a member sees no impact of a draft not proposed" 'is a draft'
expect 200 "$(req GET "/api/v1/tariffs/$PROPOSED_ID/impact" "$ADMIN")" "the treasurer sees the impact"
[ "$(body -c '[.households[] | [.household_id, .period, .invoice_minor, .repriced_minor, .difference_minor]]')" = \
	'[[1,"2026-10",1800,1600,-200],[2,"2026-10",1550,1100,-450]]' ] || fail "households: $(body -c .households)"
[ "$(body -c 'has("mine")')" = false ] || fail "the treasurer's reply has mine"
ok "the treasurer sees every household"
expect 200 "$(req GET "/api/v1/tariffs/$DRAFT_ID/impact" "$ADMIN")" "the treasurer sees a draft's impact"
[ "$(body -r .status)" = draft ] || fail "the draft's status: $(body -r .status)"

# A close makes the kept figures stale: November counts from then on.
expect 200 "$(req POST /api/v1/periods/2026-11/close "$ADMIN")" "November closed"
expect 200 "$(req GET "/api/v1/tariffs/$PROPOSED_ID/impact" "$MEMBER1")" "the impact after November's close"
[ "$(body -c '[.periods, .invoices, (.mine | length)]')" = '[["2026-10","2026-11"],4,2]' ] ||
	fail "after the close: $(body -c '[.periods, .invoices, .mine]')"
ok "the impact counts the period closed since"

# Published after the consultation, as it was proposed.
expect 200 "$(req POST "/api/v1/tariffs/$PROPOSED_ID/publish" "$ADMIN")" "the proposal is published"
[ "$(body -r .status) $(body -r .sha256) $(body .proposed_log_index)" = "published $SHA $INDEX" ] ||
	fail "after publishing: $(body -c '[.status, .sha256, .proposed_log_index]')"
expect 200 "$(req GET '/api/v1/tariffs?status=proposed')" "no tariff is proposed any more"
[ "$(body -c '.tariffs')" = "[]" ] || fail "still proposed: $(body -c .tariffs)"
finish
