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

# Published after the consultation, as it was proposed.
expect 200 "$(req POST "/api/v1/tariffs/$PROPOSED_ID/publish" "$ADMIN")" "the proposal is published"
[ "$(body -r .status) $(body -r .sha256) $(body .proposed_log_index)" = "published $SHA $INDEX" ] ||
	fail "after publishing: $(body -c '[.status, .sha256, .proposed_log_index]')"
expect 200 "$(req GET '/api/v1/tariffs?status=proposed')" "no tariff is proposed any more"
[ "$(body -c '.tariffs')" = "[]" ] || fail "still proposed: $(body -c .tariffs)"
finish
