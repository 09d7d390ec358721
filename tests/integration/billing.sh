#!/usr/bin/env bash
# Billing as the treasurer does it with curl: publish a tariff, import a
# month's usage, record expenses, close the month, and check every invoice,
# the ledger and the summary against amounts worked out by hand below.
# Members read only their own invoice; the ledger cannot be edited.
. "$(dirname "$0")/lib.sh"

write_config
sed -i 's|^timezone = UTC|timezone = Europe/Madrid|' "$CONFIG"
start_daemon
ADMIN=$(admin_token)
# The period that is open now, in the cooperative's zone: the test bills
# October 2026, whatever the date it runs on.
CURRENT=$(TZ=Europe/Madrid date +%Y-%m)

# Four households: one all year, one joining mid-October, one that left
# before October and one joining in November.
for h in '{"name":"Garcia","joined_at":"2026-01-01"}' \
	'{"name":"Lopez","joined_at":"2026-10-16"}' \
	'{"name":"Ruiz","joined_at":"2026-01-01"}' \
	'{"name":"Soto","joined_at":"2026-11-05"}'; do
	expect 201 "$(req POST /api/v1/households "$ADMIN" "$h")" "household created"
done
expect 200 "$(req PATCH /api/v1/households/3 "$ADMIN" '{"status":"closed","left_at":"2026-09-30"}')" \
	"Ruiz left in September"
MEMBER1=$(req POST /api/v1/households/1/tokens "$ADMIN" '{"name":"garcia"}' >/dev/null; body -r .token)

# Before a tariff exists, nothing can be billed.
expect_problem 409 "$(req GET /api/v1/households/1/estimate "$MEMBER1")" \
	"no tariff in force, no estimate" "no published tariff"

TARIFF='{
  "name": "Village standard",
  "currency": "EUR",
  "valid_from": "2026-10-01",
  "emergency": {"reason": "the cooperative bills for the first time"},
  "fixed_fee": {"amount_minor": 1500, "prorate": true, "description": "Membership and access"},
  "usage_charges": [
    {"name": "Peak download", "direction": "down",
     "windows": [{"days": ["mon","tue","wed","thu","fri","sat","sun"], "from": "18:00", "to": "23:00"}],
     "allowance_gb": 10,
     "tiers": [{"up_to_gb": 50, "price_per_gb_minor": 50}, {"price_per_gb_minor": 30}]},
    {"name": "Off-peak download", "direction": "down", "tiers": [{"price_per_gb_minor": 10}]}
  ],
  "cost_sharing": {"categories": ["transit"], "equal_bp": 5000, "direction": "down"},
  "tax": {"rate_bp": 2100, "included": true}
}'

# Strict validation names the JSON path of the problem.
bad=$(jq -c '.usage_charges[0].tiers[0].price_per_gb_minor = -5' <<<"$TARIFF")
expect_problem 400 "$(req POST /api/v1/tariffs "$ADMIN" "$bad")" "negative price refused" \
	'usage_charges\[0\]\.tiers\[0\]\.price_per_gb_minor'
bad=$(jq -c '.colour = "blue"' <<<"$TARIFF")
expect_problem 400 "$(req POST /api/v1/tariffs "$ADMIN" "$bad")" "unknown key refused" 'colour'
bad=$(jq -c '.currency = "USD"' <<<"$TARIFF")
expect_problem 422 "$(req POST /api/v1/tariffs "$ADMIN" "$bad")" "other currency refused" 'EUR'
expect 403 "$(req POST /api/v1/tariffs "$MEMBER1" "$TARIFF")" "a member cannot draft a tariff"

# Without the emergency reason the 30 days' notice applies.
late=$(jq -c 'del(.emergency) | .valid_from = "2026-12-01"' <<<"$TARIFF")
expect 201 "$(req POST /api/v1/tariffs "$ADMIN" "$late")" "draft without notice"
late_id=$(body .id)
expect_problem 422 "$(req POST "/api/v1/tariffs/$late_id/publish" "$ADMIN")" \
	"publishing without 30 days' notice refused" 'notice'
expect 404 "$(req GET "/api/v1/tariffs/$late_id")" "a draft is not public"

expect 201 "$(req POST /api/v1/tariffs "$ADMIN" "$TARIFF")" "tariff drafted"
TARIFF_ID=$(body .id)
expect 200 "$(req POST "/api/v1/tariffs/$TARIFF_ID/publish" "$ADMIN")" "tariff published"
[ "$(body .status)" = published ] || fail "status after publishing: $(body .status)"
sha=$(body -r .sha256)
signature=$(body -r .signature)
[ "$(printf '%s' "$(body -c '.document')" | sha256sum | cut -d' ' -f1)" = "$sha" ] ||
	fail "the sha256 is not that of the canonical document"
ok "the published hash is the canonical document's SHA-256"
expect 409 "$(req POST "/api/v1/tariffs/$TARIFF_ID/publish" "$ADMIN")" "publishing twice refused"
expect 200 "$(req GET "/api/v1/tariffs/$TARIFF_ID")" "anyone reads a published tariff"
[ "$(body -r .signature)" = "$signature" ] && [ "$(body .log_index)" != null ] ||
	fail "public tariff lacks signature or log index"
# The signature is a signed note over the document, by the log key.
KEY=$(curl -sS "$BASE/api/v1/log/key")
signature_verifies "$(body -c .document)" "$signature" "$KEY" ||
	fail "tariff signature does not verify"
ok "the tariff's signature verifies with the published log key"
expect 200 "$(req GET /api/v1/tariffs/schema)" "the JSON Schema is public"
[ "$(body -r '."$schema"')" != null ] || fail "schema without \$schema"
expect 201 "$(req POST /api/v1/tariffs "$ADMIN" "$(cat "$COOPBILL_SRCDIR/docs/examples/tariff.json")")" \
	"the documented example tariff is valid"
example_id=$(body .id)

# October's usage, imported (times are UTC; Madrid is UTC+2 until 25 October,
# UTC+1 after). Garcia: 30 GB at 18:00 local on 5 Oct and 30 GB at 20:00
# local on 28 Oct (peak), 5.5 GB at 23:00 local and 1 GB at 17:55 local
# (off-peak), 2 GB upload. Lopez: 3.5 GB off-peak on 20 Oct, in two rows of
# the same bucket, which add up.
IMPORT='{"reason": "history from the old meter", "rows": [
 {"household_id": 1, "bucket_start": "2026-10-05T16:00:00Z", "bytes_up": 2000000000, "bytes_down": 30000000000},
 {"household_id": 1, "bucket_start": "2026-10-28T19:00:00Z", "bytes_up": 0, "bytes_down": 30000000000},
 {"household_id": 1, "bucket_start": "2026-10-05T21:00:00Z", "bytes_up": 0, "bytes_down": 5500000000},
 {"household_id": 1, "bucket_start": "2026-10-06T15:55:00Z", "bytes_up": 0, "bytes_down": 1000000000},
 {"household_id": 2, "bucket_start": "2026-10-20T10:00:00Z", "bytes_up": 0, "bytes_down": 1500000000},
 {"household_id": 2, "bucket_start": "2026-10-20T10:00:00Z", "bytes_up": 0, "bytes_down": 2000000000}]}'
expect 201 "$(req POST /api/v1/usage/import "$ADMIN" "$IMPORT")" "usage imported"
[ "$(body .imported)" = 6 ] || fail "imported $(body .imported) rows"
expect_problem 409 "$(req POST /api/v1/usage/import "$ADMIN" \
	"{\"reason\":\"x\",\"rows\":[{\"household_id\":1,\"bucket_start\":\"$(date -u -d '+1 hour' +%Y-%m-%dT%H:00:00Z)\",\"bytes_up\":1,\"bytes_down\":1}]}")" \
	"an open bucket cannot be imported" 'not ended'
expect 200 "$(req GET '/api/v1/households/1/usage?from=2026-10-01T00:00:00%2B02:00&to=2026-11-01T00:00:00%2B01:00&step=month' "$ADMIN")" \
	"usage series"
[ "$(body '.total.bytes_down')" = 66500000000 ] || fail "October download $(body .total.bytes_down)"
[ "$(body '[.series[] | select(.imported == true)] | length')" -ge 1 ] ||
	fail "imported usage is not marked: $(head -c 300 "$WORK/body")"
ok "imported usage is counted and marked as imported"

# Expenses: transit is shared by the tariff, power is not.
expect 201 "$(req POST /api/v1/expenses "$ADMIN" \
	'{"period":"2026-10","category":"transit","amount_minor":10000,"description":"Upstream October","document_ref":"INV-77"}')" \
	"transit expense recorded"
expect 201 "$(req POST /api/v1/expenses "$ADMIN" \
	'{"period":"2026-10","category":"power","amount_minor":3000,"description":"Electricity"}')" \
	"power expense recorded"
expect_problem 400 "$(req POST /api/v1/expenses "$ADMIN" \
	'{"period":"2026-13","category":"power","amount_minor":3000,"description":"x"}')" \
	"a bad period is refused" 'YYYY-MM'

expect_problem 409 "$(req POST "/api/v1/periods/$CURRENT/close" "$ADMIN")" \
	"the current period cannot be closed" 'not ended'
expect 403 "$(req POST /api/v1/periods/2026-10/close "$MEMBER1")" "a member cannot close a period"
expect 200 "$(req POST /api/v1/periods/2026-10/close "$ADMIN")" "October closed"
[ "$(body .households)" = 2 ] || fail "households billed: $(body .households)"
[ "$(body .already_closed)" = false ] || fail "first close says already closed"
[ "$(body .summary.revenue_minor)" = "$(body .total_minor)" ] && [ "$(body .summary.status)" = closed ] ||
	fail "the close's summary: $(body -c .summary)"

# By hand. Garcia: fixed 15.00; peak 60 GB = 10 free + 40 x 0.50 + 10 x 0.30
# = 20.00 + 3.00; off-peak 6.5 GB x 0.10 = 0.65; transit 100.00: half equally
# (25.00 each), half by download (66.5 of 70 GB: 47.50) = 72.50.
# Total 111.15. Lopez: fixed 15.00 x 1386000 s of 2682000 s = 7.75 (16 days
# and the extra autumn hour of a 31-day month with 25 hours on 25 Oct);
# off-peak 0.35; transit 25.00 + 2.50. Total 35.60.
[ "$(body .total_minor)" = 14675 ] || fail "period total $(body .total_minor), by hand 14675"
ok "the period's total is 146.75 EUR, as worked out by hand"
expect 200 "$(req POST /api/v1/periods/2026-10/close "$ADMIN")" "closing again"
[ "$(body .already_closed)" = true ] && [ "$(body .total_minor)" = 14675 ] ||
	fail "second close: $(cat "$WORK/body")"
ok "closing twice changes nothing and says so"

expect 200 "$(req GET /api/v1/households/1/invoices/2026-10 "$MEMBER1")" "member reads own invoice"
[ "$(body .invoice.total_minor)" = 11115 ] || fail "Garcia's total $(body .invoice.total_minor)"
amounts=$(body -c '[.invoice.lines[] | [.kind, .amount_minor]]')
[ "$amounts" = '[["fixed",1500],["usage",0],["usage",2000],["usage",300],["usage",65],["cost_share",7250]]' ] ||
	fail "Garcia's lines: $amounts"
ok "Garcia's invoice lines match the hand calculation"
[ "$(body .invoice.tax.amount_minor)" = 1929 ] || fail "tax contained $(body .invoice.tax.amount_minor)"
ok "the VAT contained is 19.29 (111.15 x 21/121)"
body -r '.invoice.lines[2].explain' | grep -q '× 0.50 EUR/GB = 20.00 EUR' ||
	fail "explain: $(body -r '.invoice.lines[2].explain')"
ok "each line explains its arithmetic"
[ "$(body .invoice.imported.rows)" = 4 ] || fail "imported rows $(body .invoice.imported.rows)"
ok "the invoice says which usage was imported"
# The document's hash is in the log entry, and the entry is in the log.
entry_sha=$(body -r '.log_proof.entry' | awk '$1 == "sha256" { print $2 }')
doc_sha=$(printf '%s' "$(body -r .document_text)" | sha256sum | cut -d' ' -f1)
[ "$entry_sha" = "$doc_sha" ] || fail "log entry sha256 $entry_sha, document $doc_sha"
"$COOPBILL_VERIFY" --entry "$(body .log_index)" "$BASE" "$KEY" >"$WORK/verify" ||
	fail "coopbill-verify: $(cat "$WORK/verify")"
ok "the invoice is in the transparency log, and the log verifies"

expect 403 "$(req GET /api/v1/households/2/invoices/2026-10 "$MEMBER1")" \
	"a member cannot read another household's invoice"
expect 200 "$(req GET /api/v1/households/2/invoices/2026-10 "$ADMIN")" "treasurer reads Lopez's"
[ "$(body .invoice.total_minor)" = 3560 ] || fail "Lopez's total $(body .invoice.total_minor)"
[ "$(body -c '[.invoice.lines[] | .amount_minor]')" = '[775,35,2750]' ] ||
	fail "Lopez's lines $(body -c '[.invoice.lines[] | .amount_minor]')"
ok "Lopez's prorated invoice matches the hand calculation"
expect 404 "$(req GET /api/v1/households/3/invoices/2026-10 "$ADMIN")" "no invoice for a former member"

# Payments and corrections.
expect 201 "$(req POST /api/v1/payments "$ADMIN" \
	'{"household_id":1,"amount_minor":10000,"method":"cash","reference":"box 3","received_on":"2026-11-10"}')" \
	"payment recorded"
[[ "$(body -r .receipt)" =~ ^R-[0-9]{6}$ ]] || fail "receipt $(body -r .receipt)"
ok "the payment has a receipt number"
expect_problem 400 "$(req POST /api/v1/payments "$ADMIN" \
	'{"household_id":1,"amount_minor":-5,"method":"cash","received_on":"2026-11-10"}')" \
	"a negative payment is refused" 'amount_minor'
expect 201 "$(req POST /api/v1/adjustments "$ADMIN" \
	'{"household_id":2,"amount_minor":-500,"reason":"goodwill for the outage"}')" "credit recorded"
credit=$(body .id)
expect 201 "$(req POST /api/v1/adjustments "$ADMIN" \
	"{\"reverses\":$credit,\"reason\":\"entered on the wrong household\"}")" "credit reversed"
expect_problem 409 "$(req POST /api/v1/adjustments "$ADMIN" \
	"{\"reverses\":$credit,\"reason\":\"again\"}")" "a second reversal is refused" 'reversed already'

expect 200 "$(req GET /api/v1/households/1/ledger "$MEMBER1")" "Garcia's ledger"
[ "$(body .balance_minor)" = 1115 ] || fail "Garcia's balance $(body .balance_minor)"
[ "$(body -c '[.entries[] | .balance_minor]')" = '[11115,1115]' ] ||
	fail "running balance $(body -c '[.entries[] | .balance_minor]')"
ok "Garcia owes 11.15 after paying 100.00 of 111.15"
expect 200 "$(req GET /api/v1/households/2/ledger "$ADMIN")" "Lopez's ledger"
[ "$(body .balance_minor)" = 3560 ] && [ "$(body -c '[.entries[] | .kind]')" = '["invoice","adjustment","reversal"]' ] ||
	fail "Lopez's ledger: $(cat "$WORK/body")"
ok "a reversal cancels the credit and names it"
[ "$(curl -sS -H "Authorization: Bearer $ADMIN" -H 'Accept: text/csv' "$BASE/api/v1/households/2/ledger" | head -1 | tr -d '\r')" = \
	"id,household_id,kind,amount_minor,balance_minor,invoice_id,method,reference,received_on,reason,reverses,created_at,log_index" ] ||
	fail "ledger CSV header"
ok "the ledger comes as CSV"
curl -sS -H "Authorization: Bearer $ADMIN" -H 'Accept: text/csv' "$BASE/api/v1/periods/2026-10/invoices" >"$WORK/invoices.csv"
[ "$(wc -l <"$WORK/invoices.csv")" = 3 ] || fail "invoices CSV: $(cat "$WORK/invoices.csv")"
curl -sS -H "Authorization: Bearer $ADMIN" -H 'Accept: text/csv' "$BASE/api/v1/payments" | grep -q '^R-' ||
	fail "payments CSV"
curl -sS -H "Authorization: Bearer $ADMIN" -H 'Accept: text/csv' "$BASE/api/v1/expenses?period=2026-10" | grep -q 'transit' ||
	fail "expenses CSV"
ok "invoices, payments and expenses come as CSV"

expect 200 "$(req GET /api/v1/periods/2026-10/summary "$MEMBER1")" "any member reads the summary"
[ "$(body .status)" = closed ] && [ "$(body .households_billed)" = 2 ] &&
	[ "$(body .revenue_minor)" = 14675 ] && [ "$(body .expenses_minor)" = 13000 ] &&
	[ "$(body .bytes_down)" = 70000000000 ] || fail "summary: $(cat "$WORK/body")"
[ "$(body -cS .revenue_by_kind_minor)" = '{"cost_share":10000,"fixed":2275,"usage":2400}' ] ||
	fail "revenue by kind $(body -c .revenue_by_kind_minor)"
[ "$(body -c '.cost_sharing[0] | [.pool_minor, .equal_part_per_household_minor, .total_usage_bytes, .price_per_gb_minor]')" = \
	'[10000,2500,70000000000,71]' ] || fail "cost sharing figures $(body -c .cost_sharing)"
body -c . | grep -q '"household_id"' && fail "the summary shows a household's figures"
ok "the summary gives the cooperative's totals and cost-sharing figures, aggregates only"

# Closed means closed: no more imports or expenses there, no editing.
expect_problem 409 "$(req POST /api/v1/usage/import "$ADMIN" \
	'{"reason":"late","rows":[{"household_id":1,"bucket_start":"2026-10-07T10:00:00Z","bytes_up":1,"bytes_down":1}]}')" \
	"importing into a closed period refused" 'closed'
expect_problem 409 "$(req POST /api/v1/expenses "$ADMIN" \
	'{"period":"2026-10","category":"power","amount_minor":1,"description":"late"}')" \
	"an expense in a closed period refused" 'closed'
if db_sql "UPDATE ledger_entries SET amount_minor = 1" 2>"$WORK/sqlite.err"; then
	fail "UPDATE on the ledger succeeded"
fi
grep -q 'append-only' "$WORK/sqlite.err" || fail "the database said: $(cat "$WORK/sqlite.err")"
if db_sql "DELETE FROM invoices" 2>/dev/null; then fail "DELETE on invoices succeeded"; fi
ok "UPDATE and DELETE on the ledger tables fail"

# The running estimate of the open period.
expect 200 "$(req GET /api/v1/households/1/estimate "$MEMBER1")" "member's estimate"
[ "$(body .estimate)" = true ] && [ "$(body '.lines[0].kind')" = fixed ] ||
	fail "estimate: $(head -c 300 "$WORK/body")"
expect 403 "$(req GET /api/v1/households/2/estimate "$MEMBER1")" "not another's estimate"
# A household may follow a tariff of its own: published ones only.
expect 409 "$(req PATCH /api/v1/households/2 "$ADMIN" "{\"tariff_id\":$example_id}")" \
	"a draft cannot be assigned"
solidarity=$(jq -c '.name = "Solidarity" | .fixed_fee.amount_minor = 500 | .valid_from = "2026-11-01"' <<<"$TARIFF")
expect 201 "$(req POST /api/v1/tariffs "$ADMIN" "$solidarity")" "a second tariff drafted"
solidarity_id=$(body .id)
expect 200 "$(req POST "/api/v1/tariffs/$solidarity_id/publish" "$ADMIN")" "and published"
expect 200 "$(req PATCH /api/v1/households/2 "$ADMIN" "{\"tariff_id\":$solidarity_id}")" \
	"Lopez follows it"
[ "$(body .tariff_id)" = "$solidarity_id" ] || fail "household tariff_id $(body .tariff_id)"
expect 403 "$(req PATCH /api/v1/households/1 "$MEMBER1" "{\"tariff_id\":$solidarity_id}")" \
	"a member cannot choose a tariff"
expect 200 "$(req GET /api/v1/households/2/estimate "$ADMIN")" "Lopez's estimate"
[ "$(body .tariff.id)" = "$solidarity_id" ] && [ "$(body '.lines[0].amount_minor')" = 500 ] ||
	fail "Lopez's estimate: $(head -c 400 "$WORK/body")"
ok "a household's own tariff bills it from its valid_from on"
expect 200 "$(req GET "/api/v1/periods/$CURRENT/summary" "$MEMBER1")" "the open period's summary"
[ "$(body .status)" = open ] && [ "$(body .households_billed)" = 3 ] ||
	fail "open summary: $(head -c 300 "$WORK/body")"
ok "the open period's summary counts its three members so far"

stop_daemon
[ "$STOP_STATUS" = 0 ] || fail "coopbilld exited with $STOP_STATUS"
echo "billing: $PASSED checks passed"
