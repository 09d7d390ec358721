#!/usr/bin/env bash
# Member isolation, walked from docs/openapi.yaml: two households, A and B,
# each with a member token, an invoice, a payment and a token of their own;
# then isolation.py sends every method of every path of the spec with A's
# member token against B's ids, without a token, and with A's token on the
# treasurer's routes, and checks that each is refused as the spec says,
# reveals nothing of B and changes nothing. A route added to the spec is
# walked without editing this test.
. "$(dirname "$0")/lib.sh"
python3 -c 'import yaml' 2>/dev/null || { echo "SKIP: python3-yaml is not installed"; exit 77; }

write_config
start_daemon
ADMIN=$(admin_token)
# The last month, closed below so that both households have an invoice.
P=$(date -u -d "$(date -u +%Y-%m-01) -1 month" +%Y-%m)

expect 201 "$(req POST /api/v1/households "$ADMIN" \
	"{\"name\":\"Garcia\",\"addresses\":[\"10.0.1.10/32\"],\"joined_at\":\"$P-01\"}")" "household A"
A=$(body .id)
# B's name and address are what must never reach A.
expect 201 "$(req POST /api/v1/households "$ADMIN" \
	"{\"name\":\"Okafor-b7e1\",\"addresses\":[\"10.77.2.0/24\"],\"joined_at\":\"$P-01\"}")" "household B"
B=$(body .id)
expect 201 "$(req POST "/api/v1/households/$A/tokens" "$ADMIN" '{"name":"garcia phone"}')" "A's token"
A_TOKEN=$(body -r .token)
expect 201 "$(req POST "/api/v1/households/$B/tokens" "$ADMIN" '{"name":"okafor phone"}')" "B's token"
B_TOKEN=$(body -r .token)
expect 200 "$(req GET "/api/v1/households/$A/tokens" "$ADMIN")" "A's tokens"
A_TOKEN_ID=$(body '.tokens[0].id')
expect 200 "$(req GET "/api/v1/households/$B/tokens" "$ADMIN")" "B's tokens"
B_TOKEN_ID=$(body '.tokens[0].id')
expect 200 "$(req GET "/api/v1/households/$B/log-salt" "$ADMIN")" "B's log salt"
B_SALT=$(body -r .salt)

jq --arg from "$P-01" '.valid_from = $from' "$COOPBILL_SRCDIR/docs/examples/tariff.json" >"$WORK/tariff.json"
expect 201 "$(req POST /api/v1/tariffs "$ADMIN" "$(cat "$WORK/tariff.json")")" "tariff drafted"
TARIFF=$(body .id)
expect 200 "$(req POST "/api/v1/tariffs/$TARIFF/publish" "$ADMIN")" "tariff published"
# A draft is the treasurer's alone, as B's data is B's.
expect 201 "$(req POST /api/v1/tariffs "$ADMIN" "$(jq '.name = "Draft-c4d2"' "$WORK/tariff.json")")" \
	"a draft tariff"
DRAFT=$(body .id)

expect 201 "$(req POST /api/v1/usage/import "$ADMIN" "{\"reason\": \"old meter\", \"rows\": [
 {\"household_id\": $A, \"bucket_start\": \"$P-03T18:00:00Z\", \"bytes_up\": 1000000000, \"bytes_down\": 15000000000},
 {\"household_id\": $B, \"bucket_start\": \"$P-04T10:00:00Z\", \"bytes_up\": 500000000, \"bytes_down\": 4000000000}]}")" \
	"usage imported"
expect 201 "$(req POST /api/v1/expenses "$ADMIN" \
	"{\"period\": \"$P\", \"category\": \"transit\", \"amount_minor\": 12000, \"description\": \"Upstream\"}")" \
	"expense recorded"
expect 200 "$(req POST "/api/v1/periods/$P/close" "$ADMIN")" "$P closed"
expect 200 "$(req GET "/api/v1/households/$B/invoices/$P" "$ADMIN")" "B has an invoice"
expect 201 "$(req POST /api/v1/payments "$ADMIN" \
	"{\"household_id\": $B, \"amount_minor\": 1500, \"method\": \"cash\", \"received_on\": \"$P-20\"}")" \
	"B paid"

jq -n --argjson port "$PORT" --arg db "$DB" --arg admin "$ADMIN" --arg period "$P" \
	--argjson a "$A" --arg a_token "$A_TOKEN" --argjson a_token_id "$A_TOKEN_ID" \
	--argjson b "$B" --arg b_token "$B_TOKEN" --argjson b_token_id "$B_TOKEN_ID" \
	--arg b_salt "$B_SALT" --argjson tariff "$TARIFF" --argjson draft "$DRAFT" '{
	port: $port, db: $db, admin: $admin, period: $period, tariff: $tariff, draft: $draft,
	a: {id: $a, token: $a_token, token_id: $a_token_id},
	b: {id: $b, token: $b_token, token_id: $b_token_id,
	    secrets: ["Okafor-b7e1", "10.77.2.0", $b_token, $b_salt, "Draft-c4d2"]}
}' >"$WORK/walk.json"

python3 "$(dirname "$0")/isolation.py" "$COOPBILL_SRCDIR/docs/openapi.yaml" "$WORK/walk.json" ||
	fail "the isolation walk failed"
ok "every route of docs/openapi.yaml keeps household B's data from A's token and from no token"

expect 200 "$(req GET /api/v1/me "$B_TOKEN")" "B's token still works after the walk"
expect 200 "$(req GET "/api/v1/households/$A" "$A_TOKEN")" "A's token still works after the walk"
stop_daemon
finish
