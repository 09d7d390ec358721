#!/usr/bin/env bash
# The treasurer's and members' view of the API: the real daemon on loopback,
# driven with curl and jq.
. "$(dirname "$0")/lib.sh"

write_config "cors_origins = http://members.example
max_connections_per_ip = 4"
start_daemon

# The first admin token comes from the command line, while the daemon runs.
ADMIN=$(admin_token)
[ ${#ADMIN} -eq 43 ] || fail "token create printed \"$ADMIN\", not a token"
ok "token create prints a token alone on stdout"

status=$(req GET /healthz)
expect 200 "$status" "healthz answers"
[ "$(body .status)" = ok ] || fail "healthz status is $(body .status)"

status=$(req GET /api/v1/me)
expect_problem 401 "$status" "me without a token is refused" 'Bearer'
header WWW-Authenticate | grep -q '^Bearer' || fail "401 without WWW-Authenticate: Bearer"
ok "401 carries WWW-Authenticate: Bearer"

status=$(req GET /api/v1/me "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
expect_problem 401 "$status" "an unknown token is refused" 'not known'

status=$(req GET /api/v1/me "$ADMIN")
expect 200 "$status" "me with the admin token"
[ "$(body .role)" = admin ] || fail "me: role is $(body .role)"
[ "$(body .household_id)" = null ] || fail "me: admin has a household"

# Households.
status=$(req POST /api/v1/households "$ADMIN" \
	'{"name": "Garcia", "addresses": ["10.0.1.10", "2001:DB8:1::/56"], "joined_at": "2026-11-01"}')
expect 201 "$status" "create household Garcia"
GARCIA=$(body .id)
[ "$(body -c .addresses)" = '["10.0.1.10/32","2001:db8:1::/56"]' ] ||
	fail "addresses not normalised: $(body -c .addresses)"
ok "addresses are normalised"
[ "$(header Location)" = "/api/v1/households/$GARCIA" ] || fail "Location is $(header Location)"
[ "$(body .status)" = active ] && [ "$(body .joined_at)" = 2026-11-01 ] || fail "bad household"
[ "$(body .gateway)" = main ] || fail "a household is on gateway $(body .gateway), not this daemon's"

status=$(req POST /api/v1/households "$ADMIN" \
	'{"name": "Okafor", "addresses": ["10.0.2.0/24", "10.0.3.5/32"], "joined_at": "2026-11-15"}')
expect 201 "$status" "create household Okafor"
OKAFOR=$(body .id)

status=$(req POST /api/v1/households "$ADMIN" \
	'{"name": "Nguyen", "addresses": ["10.0.1.0/24"], "joined_at": "2026-11-20"}')
expect_problem 409 "$status" "an overlapping range is refused" \
	"10\\.0\\.1\\.0/24 overlaps 10\\.0\\.1\\.10/32 of household $GARCIA \\(\"Garcia\"\\)"

status=$(req POST /api/v1/households "$ADMIN" \
	'{"name": "Nguyen", "addresses": ["2001:db8:1:ff::/64"], "joined_at": "2026-11-20"}')
expect_problem 409 "$status" "an IPv6 /64 inside another household's /56 is refused" 'Garcia'

# Gateways are apart: the same range on another gateway is no conflict.
status=$(req POST /api/v1/households "$ADMIN" \
	'{"name": "Nguyen", "addresses": ["10.0.1.0/24"], "joined_at": "2026-11-20", "gateway": "Village"}')
expect_problem 400 "$status" "a gateway that is not a name is refused" 'gateway must be 1 to 32'
status=$(req PATCH "/api/v1/households/$OKAFOR" "$ADMIN" '{"gateway": "village-2"}')
expect 200 "$status" "Okafor moved to gateway village-2"
[ "$(body .gateway)" = village-2 ] || fail "the move did not apply: $(cat "$WORK/body")"
status=$(req PATCH "/api/v1/households/$OKAFOR" "$ADMIN" '{"addresses": ["10.0.1.0/24"]}')
expect 200 "$status" "on gateway village-2, Okafor may take a range Garcia has on main"
status=$(req PATCH "/api/v1/households/$OKAFOR" "$ADMIN" '{"gateway": "main"}')
expect_problem 409 "$status" "moved back onto Garcia's range, Okafor is refused" 'Garcia'
status=$(req PATCH "/api/v1/households/$OKAFOR" "$ADMIN" \
	'{"gateway": "main", "addresses": ["10.0.2.0/24", "10.0.3.5/32"]}')
expect 200 "$status" "Okafor back on main with its own ranges"

status=$(req POST /api/v1/households "$ADMIN" '{"name": "Nguyen", ')
expect_problem 400 "$status" "malformed JSON is refused" 'not valid JSON'

status=$(req POST /api/v1/households "$ADMIN" \
	'{"name": "Nguyen", "joined_at": "2026-11-20", "colour": "blue"}')
expect_problem 400 "$status" "an unknown field is refused" 'colour'

status=$(req POST /api/v1/households "$ADMIN" '{"name": "Nguyen", "name": "Tran", "joined_at": "2026-11-20"}')
expect_problem 400 "$status" "a duplicate key is refused" 'duplicate'

status=$(req POST /api/v1/households "$ADMIN" '{"name": "Nguyen"}')
expect_problem 400 "$status" "a missing field is refused" 'joined_at'

status=$(req POST /api/v1/households "$ADMIN" \
	'{"name": "Nguyen", "addresses": ["10.0.4.7/24"], "joined_at": "2026-11-20"}')
expect_problem 400 "$status" "host bits set are refused with the network" '10\.0\.4\.0/24'

status=$(req POST /api/v1/households "$ADMIN" '{"name": "Nguyen", "joined_at": "2026-02-30"}')
expect_problem 400 "$status" "a date that does not exist is refused" 'YYYY-MM-DD'

head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$WORK/big.json"
status=$(curl -sS -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' -X POST \
	-H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
	--data-binary "@$WORK/big.json" "$BASE/api/v1/households")
expect_problem 413 "$status" "a 2 MiB body is refused" '1048576'

# Content-Length and Transfer-Encoding together are ambiguous framing.
reply=$(python3 - "$PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"POST /api/v1/households HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
          b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
print(s.recv(4096).split(b"\r\n")[0].decode())
PY
)
[[ "$reply" == "HTTP/1.1 400"* ]] || fail "Content-Length with Transfer-Encoding: $reply"
ok "Content-Length with Transfer-Encoding is refused with 400"

count=$(db_sql 'SELECT count(*) FROM households')
[ "$count" = 2 ] || fail "refused requests changed the database: $count households"
ok "refused requests change nothing"

# A member sees their own household only.
status=$(req POST "/api/v1/households/$GARCIA/tokens" "$ADMIN" '{"name": "Garcia family"}')
expect 201 "$status" "issue a member token"
MEMBER=$(body .token)
[ "$(body .household_id)" = "$GARCIA" ] || fail "member token for the wrong household"

status=$(req GET /api/v1/me "$MEMBER")
expect 200 "$status" "me with a member token"
[ "$(body .role)" = member ] && [ "$(body .household_id)" = "$GARCIA" ] || fail "me: $(cat "$WORK/body")"

status=$(req GET "/api/v1/households/$GARCIA" "$MEMBER")
expect 200 "$status" "a member reads their own household"
[ "$(body .name)" = Garcia ] || fail "wrong household"

status=$(req GET "/api/v1/households/$OKAFOR" "$MEMBER")
expect_problem 403 "$status" "a member cannot read another household" 'own household'
status=$(req GET /api/v1/households "$MEMBER")
expect_problem 403 "$status" "a member cannot list households" 'treasurer'
status=$(req POST /api/v1/households "$MEMBER" '{"name": "x", "joined_at": "2026-11-01"}')
expect_problem 403 "$status" "a member cannot create households" 'treasurer'
status=$(req POST "/api/v1/households/$GARCIA/tokens" "$MEMBER" '')
expect_problem 403 "$status" "a member cannot issue tokens" 'treasurer'
status=$(req PATCH "/api/v1/households/$GARCIA" "$MEMBER" '{"addresses": ["10.9.9.9"]}')
expect_problem 403 "$status" "a member cannot change addresses" 'name only'
status=$(req PATCH "/api/v1/households/$GARCIA" "$MEMBER" '{"gateway": "village-2"}')
expect_problem 403 "$status" "a member cannot move the household to another gateway" 'name only'
status=$(req PATCH "/api/v1/households/$GARCIA" "$MEMBER" '{"name": "Garcia-Lopez"}')
expect 200 "$status" "a member renames their household"
[ "$(body .name)" = Garcia-Lopez ] || fail "rename did not apply"

# The treasurer's spreadsheet.
status=$(req GET /api/v1/households "$ADMIN" '' -H 'Accept: text/csv')
expect 200 "$status" "households as CSV"
header Content-Type | grep -q '^text/csv' || fail "CSV content type"
[ "$(head -1 "$WORK/body" | tr -d '\r')" = 'id,name,status,joined_at,left_at,addresses,gateway' ] ||
	fail "CSV header: $(head -1 "$WORK/body")"
grep -q "^$OKAFOR,Okafor,active,2026-11-15,,\"10.0.2.0/24 10.0.3.5/32\",main" "$WORK/body" ||
	fail "CSV row for Okafor: $(cat "$WORK/body")"
ok "CSV rows carry the households"

status=$(req GET /api/v1/households "$ADMIN")
expect 200 "$status" "households as JSON"
[ "$(body '.households | length')" = 2 ] || fail "list length"

# Closing a household frees its ranges; a closed household gets no tokens.
status=$(req PATCH "/api/v1/households/$OKAFOR" "$ADMIN" '{"status": "closed", "left_at": "2026-11-28"}')
expect 200 "$status" "close a household"
[ "$(body .status)" = closed ] && [ "$(body .left_at)" = 2026-11-28 ] || fail "close: $(cat "$WORK/body")"
status=$(req PATCH "/api/v1/households/$OKAFOR" "$ADMIN" '{"status": "closed", "left_at": "2026-11-01"}')
expect_problem 400 "$status" "left_at before joined_at is refused" 'before joined_at'
status=$(req POST "/api/v1/households/$OKAFOR/tokens" "$ADMIN" '')
expect_problem 409 "$status" "no token for a closed household" 'closed'
status=$(req POST /api/v1/households "$ADMIN" \
	'{"name": "Nguyen", "addresses": ["10.0.2.0/25"], "joined_at": "2026-11-29"}')
expect 201 "$status" "a closed household's range can be reused"
status=$(req PATCH "/api/v1/households/$OKAFOR" "$ADMIN" '{"status": "active"}')
expect_problem 409 "$status" "reopening onto a reused range is refused" 'Nguyen'

# Routing and CORS.
status=$(req GET /api/v1/nothing "$ADMIN")
expect_problem 404 "$status" "an unknown path is 404" 'no resource'
status=$(req DELETE /api/v1/households "$ADMIN")
expect_problem 405 "$status" "a wrong method is 405" 'allowed'
header Allow | grep -q 'GET, HEAD, POST' || fail "405 Allow: $(header Allow)"
ok "405 carries Allow"
status=$(req GET "/api/v1/households/abc" "$ADMIN")
expect_problem 404 "$status" "a malformed household id is 404" 'no household'

status=$(req OPTIONS /api/v1/households '' '' -H 'Origin: http://members.example' \
	-H 'Access-Control-Request-Method: POST')
expect 204 "$status" "a CORS preflight from a configured origin"
[ "$(header Access-Control-Allow-Origin)" = http://members.example ] || fail "preflight ACAO"
header Access-Control-Allow-Headers | grep -q Authorization || fail "preflight allow headers"
status=$(req OPTIONS /api/v1/households '' '' -H 'Origin: http://evil.example' \
	-H 'Access-Control-Request-Method: POST')
expect_problem 403 "$status" "a preflight from another origin is refused" 'cors_origins'
status=$(req GET /api/v1/me "$ADMIN" '' -H 'Origin: http://evil.example')
[ -z "$(header Access-Control-Allow-Origin)" ] || fail "CORS header for an unconfigured origin"
status=$(req GET /api/v1/me "$ADMIN" '' -H 'Origin: http://members.example')
[ "$(header Access-Control-Allow-Origin)" = http://members.example ] || fail "no CORS header"
ok "CORS headers only for configured origins"

# A client may hold at most max_connections_per_ip connections at once.
python3 - "$PORT" <<'PY' || fail "the per-address connection limit is not enforced"
import socket, sys, time
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(4)]
time.sleep(0.2)
extra = socket.create_connection(("127.0.0.1", port), timeout=5)
extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
try:
    refused = extra.recv(100) == b""
except ConnectionResetError:
    refused = True
sys.exit(0 if refused else 1)
PY
status=$(req GET /healthz)
expect 200 "$status" "connections over the per-address limit are refused, then served again"

# What is stored: token hashes, never tokens; the audit trail cannot be rewritten.
db_dump >"$WORK/dump"
[ -s "$WORK/dump" ] || fail "the database dump is empty"
if grep -q "$ADMIN" "$WORK/dump" "$DB" "$DB-wal" 2>/dev/null; then fail "a token is stored in clear"; fi
ok "tokens are not stored in clear"
[ "$(db_sql "SELECT count(*) FROM audit_events WHERE action = 'token.create'")" = 2 ] ||
	fail "token issues are not in the audit trail"
if db_sql "UPDATE audit_events SET actor = 'nobody'" 2>"$WORK/sqlite.err"; then
	fail "UPDATE on audit_events succeeded"
fi
grep -q append-only "$WORK/sqlite.err" || fail "UPDATE refused without saying why"
if db_sql "DELETE FROM audit_events" 2>/dev/null; then fail "DELETE on audit_events succeeded"; fi
ok "the audit trail is append-only"

stop_daemon
[ "$STOP_STATUS" = 0 ] || fail "coopbilld exited $STOP_STATUS on SIGTERM"
ok "SIGTERM stops the daemon with exit code 0"
finish
