#!/usr/bin/env bash
# What a client may send wrong: every POST and PATCH body with an unknown key,
# a missing key or a value of the wrong type gets a 400 problem in the
# project's words (never the JSON library's), and the daemon stays up. Also
# who may change a closed household, and the log line behind every 5xx.
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

# A closed household's member may read its household and bills, not change
# them; the treasurer still may.
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
expect 200 "$(req PATCH "/api/v1/households/$GARCIA" "$ADMIN" '{"name": "Garcia"}')" \
	"the treasurer renames a closed household"

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
