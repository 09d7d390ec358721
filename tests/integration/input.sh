#!/usr/bin/env bash
# What a client may send wrong: every POST and PATCH body with an unknown key,
# a missing key or a value of the wrong type gets a 400 problem in the
# project's words (never the JSON library's), and the daemon stays up. Also
# who may change a closed household, content negotiation (Accept), and the
# log line behind every 5xx.
. "$(dirname "$0")/lib.sh"

write_config
start_daemon
ADMIN=$(admin_token)

expect 201 "$(req POST /api/v1/households "$ADMIN" '{"name":"Garcia","joined_at":"2026-01-01"}')" \
	"household created"
GARCIA=$(body .id)
expect 201 "$(req POST "/api/v1/households/$GARCIA/tokens" "$ADMIN" '')" "member token issued"
MEMBER=$(body -r .token)

# refused METHOD PATH BODY DETAIL_REGEX: a 400 problem whose detail matches,
# with nothing of jansson's wording, from a daemon that is still running.
refused() {
	local status
	status=$(req "$1" "$2" "$ADMIN" "$3")
	expect_problem 400 "$status" "$1 $2 $3" "$4"
	if body .detail | grep -Eqi 'unpacked|object item|expected .* got|wrong type'; then
		fail "$1 $2 $3: the detail is the JSON library's: $(body .detail)"
	fi
	kill -0 "$DAEMON_PID" 2>/dev/null || fail "coopbilld died on $1 $2 $3"
}

# The import that crashed the daemon: no reason, or one that is not text.
refused POST /api/v1/usage/import '{"rows": []}' '^reason is missing; expected'
refused POST /api/v1/usage/import '{"reason": 5, "rows": []}' '^reason must be a string'
refused POST /api/v1/usage/import '{"reason": "meter down", "rows": {}}' '^rows must be an array'
refused POST /api/v1/usage/import '{"reason": "meter down", "rows": [], "tariff_id": 1}' \
	'^unknown key tariff_id'
refused POST /api/v1/usage/import '{"reason": "meter down", "rows": [7]}' \
	'^rows\[0\]: not a JSON object'
ROW='{"household_id": 1, "bucket_start": "2026-01-01T00:00:00Z", "bytes_up": 1, "bytes_down": 2}'
refused POST /api/v1/usage/import "{\"reason\": \"x\", \"rows\": [$(jq -c '.extra = 1' <<<"$ROW")]}" \
	'^rows\[0\]: unknown key extra'
refused POST /api/v1/usage/import "{\"reason\": \"x\", \"rows\": [$(jq -c 'del(.bytes_down)' <<<"$ROW")]}" \
	'^rows\[0\]: bytes_down is missing'
refused POST /api/v1/usage/import "{\"reason\": \"x\", \"rows\": [$(jq -c '.bytes_up = "1"' <<<"$ROW")]}" \
	'^rows\[0\]: bytes_up must be an integer'
refused POST /api/v1/usage/import "{\"reason\": \"x\", \"rows\": [$(jq -c '.household_id = 0' <<<"$ROW")]}" \
	'^rows\[0\]: household_id 0 is not a household'
# A bucket before 1970 in UTC, in no period, got no reply (500).
refused POST /api/v1/usage/import \
	"{\"reason\": \"x\", \"rows\": [$(jq -c '.bucket_start = "1970-01-01T00:00:00+01:00"' <<<"$ROW")]}" \
	'^rows\[0\]: bucket_start must be an RFC 3339 time'
status=$(req POST /api/v1/usage/import "$ADMIN" \
	"{\"reason\": \"x\", \"rows\": [$(jq -c '.household_id = 99' <<<"$ROW")]}")
expect_problem 404 "$status" "an import for a household that does not exist" 'no household 99'

refused POST /api/v1/households '{"name": "Nguyen", "joined_at": "2026-11-20", "colour": "blue"}' \
	'^unknown key colour'
refused POST /api/v1/households '{"name": "Nguyen"}' '^joined_at is missing'
refused POST /api/v1/households '{"name": 7, "joined_at": "2026-11-20"}' '^name must be a string'
refused POST /api/v1/households '{"name": "N", "joined_at": "2026-11-20", "addresses": "10.0.0.1"}' \
	'^addresses must be an array'

refused PATCH "/api/v1/households/$GARCIA" '{"colour": "blue"}' '^unknown key colour'
refused PATCH "/api/v1/households/$GARCIA" '{"name": null}' '^name must be a string'
refused PATCH "/api/v1/households/$GARCIA" '{"tariff_id": "3"}' \
	'^tariff_id must be an integer or null'
refused PATCH "/api/v1/households/$GARCIA" '{"status": 1}' '^status must be a string'
status=$(req PATCH "/api/v1/households/$GARCIA" "$ADMIN" '{"tariff_id": 0}')
expect_problem 404 "$status" "tariff_id 0, which no tariff has" 'no tariff 0'

refused POST "/api/v1/households/$GARCIA/tokens" '{"role": "admin"}' '^unknown key role'
refused POST "/api/v1/households/$GARCIA/tokens" '{"name": 5}' '^name must be a string'

PAYMENT='{"household_id": 1, "amount_minor": 1500, "method": "cash", "received_on": "2026-11-02"}'
refused POST /api/v1/payments "$(jq -c '.tariff_id = 1' <<<"$PAYMENT")" '^unknown key tariff_id'
refused POST /api/v1/payments "$(jq -c 'del(.received_on)' <<<"$PAYMENT")" '^received_on is missing'
refused POST /api/v1/payments "$(jq -c '.amount_minor = "1500"' <<<"$PAYMENT")" \
	'^amount_minor must be an integer'
refused POST /api/v1/payments "$(jq -c '.amount_minor = 15.5' <<<"$PAYMENT")" \
	'^amount_minor must be an integer'

ADJUSTMENT='{"household_id": 1, "amount_minor": -200, "reason": "router returned"}'
refused POST /api/v1/adjustments "$(jq -c '.period = "2026-11"' <<<"$ADJUSTMENT")" '^unknown key period'
refused POST /api/v1/adjustments "$(jq -c 'del(.reason)' <<<"$ADJUSTMENT")" '^reason is missing'
refused POST /api/v1/adjustments "$(jq -c '.reason = 5' <<<"$ADJUSTMENT")" '^reason must be a string'
refused POST /api/v1/adjustments "$(jq -c '.household_id = "1"' <<<"$ADJUSTMENT")" \
	'^household_id must be an integer'
refused POST /api/v1/adjustments "$(jq -c '.reverses = 3' <<<"$ADJUSTMENT")" \
	'^give household_id and amount_minor, or reverses'
refused POST /api/v1/adjustments "$(jq -c 'del(.amount_minor)' <<<"$ADJUSTMENT")" \
	'^give household_id and amount_minor, or reverses'

EXPENSE='{"period": "2026-11", "category": "transit", "amount_minor": 5000, "description": "uplink"}'
refused POST /api/v1/expenses "$(jq -c '.vat = 21' <<<"$EXPENSE")" '^unknown key vat'
refused POST /api/v1/expenses "$(jq -c 'del(.category)' <<<"$EXPENSE")" '^category is missing'
refused POST /api/v1/expenses "$(jq -c '.document_ref = 12' <<<"$EXPENSE")" \
	'^document_ref must be a string'

refused POST /api/v1/tariffs '{"name": "x", "colour": "blue"}' 'colour'

status=$(req GET /healthz)
expect 200 "$status" "the daemon still answers after every refused body"
[ "$(sqlite3 "$DB" 'SELECT (SELECT count(*) FROM households) || (SELECT count(*) FROM usage_imports)')" = 10 ] ||
	fail "a refused body changed the database"
ok "refused bodies change nothing"

# A closed household's member may read its invoices, ledger and log salt,
# nothing else; the treasurer still may change it.
expect 200 "$(req PATCH "/api/v1/households/$GARCIA" "$MEMBER" '{"name": "Garcia-Lopez"}')" \
	"a member renames their active household"
expect 200 "$(req PATCH "/api/v1/households/$GARCIA" "$ADMIN" '{"status": "closed", "left_at": "2026-10-31"}')" \
	"the treasurer closes the household"
status=$(req PATCH "/api/v1/households/$GARCIA" "$MEMBER" '{"name": "Mallory"}')
expect_problem 403 "$status" "a closed household's member cannot rename it" 'is closed'
[ "$(sqlite3 "$DB" "SELECT name FROM households WHERE id = $GARCIA")" = Garcia-Lopez ] ||
	fail "the refused rename changed the name"
expect 200 "$(req GET "/api/v1/households/$GARCIA/invoices" "$MEMBER")" \
	"a closed household's member reads its invoices"
expect 200 "$(req GET "/api/v1/households/$GARCIA/ledger" "$MEMBER")" \
	"a closed household's member reads its ledger"
expect 200 "$(req GET "/api/v1/households/$GARCIA/log-salt" "$MEMBER")" \
	"a closed household's member reads its log salt"
for path in "" /usage /estimate; do
	status=$(req GET "/api/v1/households/$GARCIA$path" "$MEMBER")
	expect_problem 403 "$status" "a closed household's member cannot read $path" 'is closed'
done
expect 200 "$(req PATCH "/api/v1/households/$GARCIA" "$ADMIN" '{"name": "Garcia"}')" \
	"the treasurer renames a closed household"

# Content negotiation: a month billed, then asked for in several forms.
PREV=$(date -u -d "$(date -u +%Y-%m-01) -1 month" +%Y-%m)
CURRENT=$(date -u +%Y-%m)
TARIFF=$(jq -nc --arg from "$PREV-01" '{name: "Plain", currency: "EUR", valid_from: $from,
	emergency: {reason: "the first tariff"},
	fixed_fee: {amount_minor: 1500, prorate: false, description: "Membership"},
	usage_charges: [{name: "Download", direction: "down", tiers: [{price_per_gb_minor: 10}]}]}')
expect 201 "$(req POST /api/v1/tariffs "$ADMIN" "$TARIFF")" "a tariff drafted"
expect 200 "$(req POST "/api/v1/tariffs/$(body .id)/publish" "$ADMIN" '')" "the tariff published"
expect 201 "$(req POST /api/v1/households "$ADMIN" "{\"name\":\"Okafor\",\"joined_at\":\"$PREV-01\"}")" \
	"a household for the month"
OKAFOR=$(body .id)
expect 201 "$(req POST "/api/v1/households/$OKAFOR/tokens" "$ADMIN" '')" "its member token"
OKAFOR_TOKEN=$(body -r .token)
expect 201 "$(req POST /api/v1/usage/import "$ADMIN" "{\"reason\": \"old meter\", \"rows\": [{\"household_id\": $OKAFOR, \"bucket_start\": \"$PREV-02T10:00:00Z\", \"bytes_up\": 1000, \"bytes_down\": 25000000000}]}")" \
	"the month's usage imported"
expect 200 "$(req POST "/api/v1/periods/$PREV/close" "$ADMIN" '')" "the month closed"

INVOICE="/api/v1/households/$OKAFOR/invoices/$PREV"
expect 200 "$(req GET "$INVOICE" "$OKAFOR_TOKEN")" "the invoice as JSON"
jq -r '.invoice.lines[] | [.kind, .description, .quantity, .amount_minor] | @csv' "$WORK/body" |
	tr -d '"' >"$WORK/lines.expected"
[ "$(wc -l <"$WORK/lines.expected")" -ge 2 ] || fail "the invoice has fewer than 2 lines"
expect 200 "$(req GET "$INVOICE" "$OKAFOR_TOKEN" '' -H 'Accept: text/csv')" "the invoice as CSV"
header Content-Type | grep -q '^text/csv' || fail "the invoice's CSV is $(header Content-Type)"
[ "$(head -1 "$WORK/body" | tr -d '\r')" = \
	kind,description,quantity,unit,unit_price_minor,unit_price_per,amount_minor,explain ] ||
	fail "the invoice's CSV header is $(head -1 "$WORK/body")"
tail -n +2 "$WORK/body" | tr -d '\r' | python3 -c '
import csv, sys
for row in csv.reader(sys.stdin):
    print(",".join([row[0], row[1], row[2], row[6]]))' >"$WORK/lines.csv"
diff "$WORK/lines.expected" "$WORK/lines.csv" >&2 || fail "the CSV lines differ from the JSON lines"
ok "the invoice's CSV has one row per line, with the JSON's figures"

SUMMARY="/api/v1/periods/$PREV/summary"
expect 200 "$(req GET "$SUMMARY" "$OKAFOR_TOKEN")" "the closed period's summary as JSON"
REVENUE=$(body .revenue_minor)
FIXED=$(body .revenue_by_kind_minor.fixed)
expect 200 "$(req GET "$SUMMARY" "$OKAFOR_TOKEN" '' -H 'Accept: text/csv')" \
	"the closed period's summary as CSV"
header Content-Type | grep -q '^text/csv' || fail "the summary's CSV is $(header Content-Type)"
tr -d '\r' <"$WORK/body" >"$WORK/summary.csv"
head -1 "$WORK/summary.csv" | grep -qx 'field,value' || fail "summary CSV header: $(head -1 "$WORK/summary.csv")"
grep -qx "period,$PREV" "$WORK/summary.csv" && grep -qx "revenue_minor,$REVENUE" "$WORK/summary.csv" &&
	grep -qx 'status,closed' "$WORK/summary.csv" || fail "summary CSV: $(cat "$WORK/summary.csv")"
grep -qx "revenue_by_kind_minor.fixed,$FIXED" "$WORK/summary.csv" ||
	fail "summary CSV has no nested field: $(cat "$WORK/summary.csv")"
ok "the summary's CSV names each figure by its path"
expect 200 "$(req GET "/api/v1/periods/$CURRENT/summary" "$OKAFOR_TOKEN" '' -H 'Accept: text/csv')" \
	"the open period's summary as CSV"
tr -d '\r' <"$WORK/body" | grep -qx 'status,open' || fail "open summary CSV: $(cat "$WORK/body")"

LEDGER="/api/v1/households/$OKAFOR/ledger"
expect 200 "$(req GET "$LEDGER" "$OKAFOR_TOKEN" '' -H 'Accept: application/json;q=0, text/csv')" \
	"JSON refused with q=0 and CSV accepted"
header Content-Type | grep -q '^text/csv' || fail "q=0 on JSON gave $(header Content-Type)"
expect 200 "$(req GET "$LEDGER" "$OKAFOR_TOKEN" '' -H 'Accept: text/csv;q=0')" \
	"CSV refused with q=0"
header Content-Type | grep -q '^application/json' || fail "q=0 on CSV gave $(header Content-Type)"
expect 200 "$(req GET "$LEDGER" "$OKAFOR_TOKEN" '' -H 'Accept: application/json;q=0.5, text/csv;q=0.8')" \
	"the higher weight wins"
header Content-Type | grep -q '^text/csv' || fail "weights gave $(header Content-Type)"
status=$(req GET "$LEDGER" "$OKAFOR_TOKEN" '' -H 'Accept: text/html')
expect_problem 406 "$status" "a list asked for in a form it has not is 406" \
	'answered in application/json or text/csv'
status=$(req GET "$INVOICE" "$OKAFOR_TOKEN" '' -H 'Accept: */*;q=0')
expect_problem 406 "$status" "an Accept that accepts nothing is 406" 'application/json or text/csv'
status=$(req GET /api/v1/me "$OKAFOR_TOKEN" '' -H 'Accept: text/csv')
expect_problem 406 "$status" "CSV of what has no CSV form is 406" 'answered in application/json;'
status=$(req GET /metrics "$ADMIN" '' -H 'Accept: application/json')
expect_problem 406 "$status" "metrics as JSON is 406" 'answered in text/plain'
expect 200 "$(req GET /metrics "$ADMIN" '' -H 'Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1')" \
	"metrics for Prometheus's Accept"
households=$(sqlite3 "$DB" 'SELECT count(*) FROM households')
status=$(req POST /api/v1/households "$ADMIN" '{"name":"Tran","joined_at":"2026-11-01"}' -H 'Accept: text/csv')
expect_problem 406 "$status" "a POST whose reply cannot be CSV is 406" 'application/json'
[ "$(sqlite3 "$DB" 'SELECT count(*) FROM households')" = "$households" ] ||
	fail "the refused POST created a household"
ok "a 406 changes nothing"

# What the import's documentation promises: about 10,000 rows of some 100
# bytes fit in the default body limit of 1 MiB, and more are refused whole.
EARLIER=$(date -u -d "$(date -u +%Y-%m-01) -2 month" +%s)
import_rows() {
	python3 - "$1" "$EARLIER" "$GARCIA" "$OKAFOR" >"$WORK/import.json" <<'PY'
import json, sys, time
n, start, households = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
rows = [{"household_id": int(households[i % 2]),
         "bucket_start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + 300 * (i // 2))),
         "bytes_up": 2000000000, "bytes_down": 30000000000} for i in range(n)]
print(json.dumps({"reason": "history from the old meter", "rows": rows}, separators=(",", ":")))
PY
	curl -sS -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' -X POST \
		-H "Authorization: Bearer $ADMIN" --data-binary "@$WORK/import.json" "$BASE/api/v1/usage/import"
}
status=$(import_rows 10200)
expect_problem 413 "$status" "10,200 rows of some 104 bytes exceed the default body limit" '1048576'
status=$(import_rows 9800)
expect 201 "$status" "9,800 rows fit in it"
[ "$(body .imported)" = 9800 ] || fail "imported $(body .imported) rows"

# Every 5xx leaves one log line with the method, the path and the cause.
sqlite3 "$DB" 'ALTER TABLE expenses RENAME TO expenses_away'
status=$(req GET '/api/v1/expenses?period=2026-11' "$ADMIN")
expect_problem 503 "$status" "a storage failure is a 503" "check the daemon's log"
grep -E '^<3>GET /api/v1/expenses: 503 storage: .*while listing expenses' \
	"$WORK/daemon.log" >/dev/null || fail "no log line for the 503: $(tail -3 "$WORK/daemon.log")"
ok "the 503 is logged with its method, path and cause"
sqlite3 "$DB" 'ALTER TABLE expenses_away RENAME TO expenses'

stop_daemon
finish
