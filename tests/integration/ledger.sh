#!/usr/bin/env bash
# The treasurer's lists of ledger entries show what was reversed: a reversed
# payment or adjustment names its reversal (reversed_by), in JSON and in CSV.
. "$(dirname "$0")/lib.sh"

write_config
start_daemon
ADMIN=$(admin_token)
TODAY=$(date -u +%F)

expect 201 "$(req POST /api/v1/households "$ADMIN" '{"name":"Garcia","joined_at":"2026-01-01"}')" \
	"household created"
household=$(body .id)
# pay AMOUNT: records a cash payment received today; its id in PAYMENT.
pay() {
	expect 201 "$(req POST /api/v1/payments "$ADMIN" \
		"{\"household_id\":$household,\"amount_minor\":$1,\"method\":\"cash\",\"received_on\":\"$TODAY\"}")" \
		"payment of $1 recorded"
	PAYMENT=$(body .id)
}
pay 2500
kept=$PAYMENT
pay 4000
paid_twice=$PAYMENT
expect 201 "$(req POST /api/v1/adjustments "$ADMIN" \
	"{\"reverses\":$paid_twice,\"reason\":\"counted twice\"}")" "the second payment reversed"
reversal=$(body .id)

expect 200 "$(req GET /api/v1/payments "$ADMIN")" "payments as JSON"
[ "$(body -c '[.payments[] | [.id, .reversed_by]]')" = "[[$kept,null],[$paid_twice,$reversal]]" ] ||
	fail "payments reversed_by: $(body -c '[.payments[] | [.id, .reversed_by]]')"
ok "a reversed payment names its reversal in JSON; the other has null"

curl -sS -H "Authorization: Bearer $ADMIN" -H 'Accept: text/csv' "$BASE/api/v1/payments" |
	tr -d '\r' >"$WORK/payments.csv"
[ "$(head -1 "$WORK/payments.csv")" = \
	"receipt,id,household_id,amount_minor,method,reference,received_on,created_at,log_index,reversed_by" ] ||
	fail "payments CSV header: $(head -1 "$WORK/payments.csv")"
[ "$(awk -F, 'NR > 1 { print $2 ":" $10 }' "$WORK/payments.csv" | paste -sd' ')" = \
	"$kept: $paid_twice:$reversal" ] || fail "payments CSV: $(cat "$WORK/payments.csv")"
ok "a reversed payment names its reversal in CSV; the other has an empty field"

# An adjustment can be reversed too; the household's ledger names the reversal.
expect 201 "$(req POST /api/v1/adjustments "$ADMIN" \
	"{\"household_id\":$household,\"amount_minor\":-300,\"reason\":\"goodwill\"}")" "credit recorded"
credit=$(body .id)
expect 201 "$(req POST /api/v1/adjustments "$ADMIN" \
	"{\"reverses\":$credit,\"reason\":\"wrong household\"}")" "credit reversed"
credit_reversal=$(body .id)
expect 200 "$(req GET "/api/v1/households/$household/ledger" "$ADMIN")" "the household's ledger"
[ "$(body -c '[.entries[] | [.id, .reversed_by]]')" = \
	"[[$kept,null],[$paid_twice,$reversal],[$reversal,null],[$credit,$credit_reversal],[$credit_reversal,null]]" ] ||
	fail "ledger reversed_by: $(body -c '[.entries[] | [.id, .reversed_by]]')"
ok "the ledger names the reversal of a payment and of an adjustment"

# Under the sanitizers a leak makes the exit code non-zero.
stop_daemon
[ "$STOP_STATUS" = 0 ] || fail "coopbilld exited with $STOP_STATUS"
ok "the daemon stops cleanly"

finish
