#!/usr/bin/env bash
# Tokens seen and revoked, as a member and the treasurer use them: a token
# comes with its sign-in link; a member lists their household's tokens
# (never a secret) and revokes one or all of them ("sign out everywhere"),
# each refused at once; the treasurer does the same for any token, admin
# tokens too, with the API and on the box; each revocation is in the
# transparency log, which verifies; and a token's last use is never a
# reason for a request to wait or fail.
. "$(dirname "$0")/lib.sh"
: "${COOPBILL_VERIFY:?COOPBILL_VERIFY must name the coopbill-verify binary}"

# The address members open, as the operator writes it (a trailing slash
# is dropped).
write_config 'public_url = http://10.0.0.1:8080/'
printf '[log]\norigin = coop.example/log\n' >>"$CONFIG"
start_daemon
ADMIN=$(admin_token)

req POST /api/v1/households "$ADMIN" '{"name": "Garcia", "joined_at": "2026-11-01"}' >/dev/null
GARCIA=$(body .id)
req POST /api/v1/households "$ADMIN" '{"name": "Lopez", "joined_at": "2026-11-01"}' >/dev/null
LOPEZ=$(body .id)
# member_token HOUSEHOLD NAME: a new member token on stdout.
member_token() {
	local status
	status=$(req POST "/api/v1/households/$1/tokens" "$ADMIN" "{\"name\": \"$2\"}")
	[ "$status" = 201 ] || fail "issuing a token for household $1: HTTP $status"
	body -e .token
}
PHONE=$(member_token "$GARCIA" phone)
# A token issued for a household comes with its sign-in link: the token in
# the fragment of the address members open.
[ "$(body .signin_url)" = "http://10.0.0.1:8080/#token=$PHONE" ] ||
	fail "the sign-in link: $(cat "$WORK/body")"
ok "an issued token comes with its sign-in link, <public_url>/#token=<token>"
LAPTOP=$(member_token "$GARCIA" laptop)
TABLET=$(member_token "$GARCIA" tablet)
NEIGHBOUR=$(member_token "$LOPEZ" phone)
# token_id TOKEN: the token's id, as GET /api/v1/me says it.
token_id() {
	req GET /api/v1/me "$1" >/dev/null
	body -e .token_id
}
PHONE_ID=$(token_id "$PHONE")
LAPTOP_ID=$(token_id "$LAPTOP")
TABLET_ID=$(token_id "$TABLET")
NEIGHBOUR_ID=$(token_id "$NEIGHBOUR")
# log_size: the entries in the latest checkpoint.
log_size() {
	req GET /api/v1/log/checkpoint >/dev/null
	sed -n 2p "$WORK/body"
}

# A member lists their household's tokens, with no secret among them.
status=$(req GET "/api/v1/households/$GARCIA/tokens" "$PHONE")
expect 200 "$status" "a member lists their household's tokens"
[ "$(body -c '[.tokens[].name]')" = '["phone","laptop","tablet"]' ] ||
	fail "the list: $(cat "$WORK/body")"
[ "$(body -c '[.tokens[] | keys] | unique')" = '[["created_at","current","id","last_used_at","name","role"]]' ] ||
	fail "the items' keys: $(cat "$WORK/body")"
for secret in "$PHONE" "$LAPTOP" "$TABLET"; do
	grep -qF "$secret" "$WORK/body" && fail "a token's secret is in the list"
done
[ "$(body -c "[.tokens[] | select(.current) | .id]")" = "[$PHONE_ID]" ] ||
	fail "current marks $(body -c '[.tokens[] | select(.current) | .id]'), not the phone's $PHONE_ID"
body -e '.tokens[0].created_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")' >/dev/null ||
	fail "created_at: $(body .tokens[0].created_at)"
body -e '.tokens[0].last_used_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")' >/dev/null ||
	fail "the phone's last use: $(body .tokens[0].last_used_at)"
ok "each token has its name, role, issue time and last use, the asking one marked current, no secret"

status=$(req GET "/api/v1/households/$GARCIA/tokens" "$NEIGHBOUR")
expect_problem 403 "$status" "a member cannot list another household's tokens" 'its own household'
status=$(req GET /api/v1/tokens "$PHONE")
expect_problem 403 "$status" "a member cannot list every token" 'treasurer'
status=$(req GET /api/v1/households/99/tokens "$ADMIN")
expect_problem 404 "$status" "no household 99, no list" 'no household 99'

status=$(req GET /api/v1/tokens "$ADMIN")
expect 200 "$status" "the treasurer lists every token"
[ "$(body '.tokens | length')" = 5 ] || fail "the whole list: $(cat "$WORK/body")"
[ "$(body -c '.tokens[0] | [.role, .household_id, .name, .current]')" = '["admin",null,"treasurer",true]' ] ||
	fail "the admin token: $(body -c .tokens[0])"
[ "$(body -c "[.tokens[] | select(.household_id == $GARCIA) | .id]")" = "[$PHONE_ID,$LAPTOP_ID,$TABLET_ID]" ] ||
	fail "Garcia's tokens in the whole list: $(cat "$WORK/body")"
ok "the whole list names each token's household, null for the admin token"

# Revoking one: refused for what is not the member's, then done at once.
size=$(log_size)
status=$(req DELETE "/api/v1/households/$GARCIA/tokens/abc" "$PHONE")
expect_problem 400 "$status" "a token id that is not a number is refused" '"abc" is not a token id'
status=$(req DELETE "/api/v1/households/$GARCIA/tokens/$NEIGHBOUR_ID" "$PHONE")
expect_problem 404 "$status" "a member cannot revoke another household's token under their own" \
	"household $GARCIA has no token $NEIGHBOUR_ID"
status=$(req DELETE "/api/v1/households/$LOPEZ/tokens/$NEIGHBOUR_ID" "$PHONE")
expect_problem 403 "$status" "a member cannot revoke another household's token" 'its own household'
status=$(req DELETE "/api/v1/tokens/$NEIGHBOUR_ID" "$PHONE")
expect_problem 403 "$status" "a member cannot revoke through the treasurer's path" 'treasurer'
status=$(req GET /api/v1/me "$NEIGHBOUR")
expect 200 "$status" "the neighbour's token still works"
[ "$(log_size)" = "$size" ] || fail "a refused revocation wrote to the log"

status=$(req DELETE "/api/v1/households/$GARCIA/tokens/$LAPTOP_ID" "$PHONE")
expect 200 "$status" "a member revokes their laptop's token"
[ "$(body -c .)" = "{\"revoked\":[$LAPTOP_ID]}" ] || fail "the answer: $(cat "$WORK/body")"
status=$(req GET /api/v1/me "$LAPTOP")
expect_problem 401 "$status" "the revoked token is refused at once" 'revoked'
header WWW-Authenticate | grep -q 'error="invalid_token"' || fail "challenge: $(header WWW-Authenticate)"
status=$(req GET "/api/v1/households/$GARCIA/tokens" "$PHONE")
[ "$(body -c '[.tokens[].name]')" = '["phone","tablet"]' ] || fail "after the revocation: $(cat "$WORK/body")"
ok "the revoked token is gone from the list"
status=$(req DELETE "/api/v1/households/$GARCIA/tokens/$LAPTOP_ID" "$PHONE")
expect_problem 404 "$status" "a token revoked already is not found" "no token $LAPTOP_ID that is still valid"

# The revocation is in the log as token-revoked, with Garcia's commitment.
[ "$(log_size)" = $((size + 1)) ] || fail "the log grew to $(log_size), not $((size + 1))"
req GET "/api/v1/households/$GARCIA/log-salt" "$PHONE" >/dev/null
commitment=$(body -e .commitment)
req GET "/api/v1/log/entries/$size" >/dev/null
printf 'token-revoked\nrole member\nhousehold %s\n' "$commitment" | cmp -s - <(head -3 "$WORK/body") ||
	fail "the entry: $(cat "$WORK/body")"
tail -1 "$WORK/body" | grep -Eq '^time [1-9][0-9]*$' || fail "the entry's time: $(cat "$WORK/body")"
req GET /api/v1/log/key >/dev/null
KEY=$(cat "$WORK/body")
"$COOPBILL_VERIFY" --entry "$size" "$BASE" "$KEY" >"$WORK/verify" || fail "coopbill-verify: $(cat "$WORK/verify")"
grep -q "^entry $size OK" "$WORK/verify" || fail "verdict: $(cat "$WORK/verify")"
ok "the log has a token-revoked entry with the household's commitment, and coopbill-verify proves it"

# Sign out everywhere: every token of the household, the asking one too.
status=$(req DELETE "/api/v1/households/$GARCIA/tokens" "$PHONE")
expect 200 "$status" "a member signs out everywhere"
[ "$(body -c .)" = "{\"revoked\":[$PHONE_ID,$TABLET_ID]}" ] || fail "the answer: $(cat "$WORK/body")"
for token in "$PHONE" "$TABLET"; do
	status=$(req GET "/api/v1/households/$GARCIA" "$token")
	expect_problem 401 "$status" "after signing out everywhere the household's token is refused" 'revoked'
done
status=$(req GET /api/v1/me "$NEIGHBOUR")
expect 200 "$status" "another household's token still works"
[ "$(log_size)" = $((size + 3)) ] || fail "the log grew to $(log_size), not $((size + 3))"
ok "signing out everywhere logs one token-revoked entry per token"
status=$(req DELETE "/api/v1/households/$GARCIA/tokens" "$ADMIN")
expect 200 "$status" "the treasurer signs a household out with nothing left to revoke"
[ "$(body -c .)" = '{"revoked":[]}' ] || fail "the answer: $(cat "$WORK/body")"

# The treasurer revokes an admin token through the API.
SECOND=$(admin_token deputy)
SECOND_ID=$(token_id "$SECOND")
req GET /api/v1/tokens "$ADMIN" >/dev/null
[ "$(body -c ".tokens[] | select(.id == $SECOND_ID) | [.name, .current]")" = '["deputy",false]' ] ||
	fail "the deputy's token in the list: $(cat "$WORK/body")"
status=$(req DELETE "/api/v1/tokens/$SECOND_ID" "$ADMIN")
expect 200 "$status" "the treasurer revokes another admin token"
status=$(req GET /api/v1/tokens "$SECOND")
expect_problem 401 "$status" "the revoked admin token is refused at once" 'revoked'
req GET "/api/v1/log/entries/$(($(log_size) - 1))" >/dev/null
printf 'token-revoked\nrole admin\n' | cmp -s - <(head -2 "$WORK/body") || fail "the entry: $(cat "$WORK/body")"
grep -q '^household' "$WORK/body" && fail "an admin token's entry names a household"
ok "an admin token's revocation is logged without a household"
status=$(req DELETE /api/v1/tokens/0 "$ADMIN")
expect_problem 400 "$status" "token id 0 is refused" '"0" is not a token id'
status=$(req DELETE /api/v1/tokens/999 "$ADMIN")
expect_problem 404 "$status" "an unknown token id is not found" 'no token 999'

# On the box: token create --link, token list and token revoke.
link=$("$COOPBILLD" --config "$CONFIG" token create --role member --name "shared screen" \
	--household "$LOPEZ" --link)
[[ "$link" =~ ^http://10\.0\.0\.1:8080/#token=([A-Za-z0-9_-]{43})$ ]] || fail "token create --link: $link"
SCREEN=${BASH_REMATCH[1]}
SCREEN_ID=$(token_id "$SCREEN")
"$COOPBILLD" --config "$CONFIG" token revoke "$SCREEN_ID" >/dev/null || fail "revoking the screen's token"
ok "token create --link prints the sign-in link of a token that works"
"$COOPBILLD" --config "$CONFIG" token list >"$WORK/list" 2>"$WORK/list.err" || fail "token list: $(cat "$WORK/list.err")"
head -1 "$WORK/list" | grep -Eq '^ID +ROLE +HOUSEHOLD +NAME +CREATED +LAST USED$' || fail "the table's head: $(head -1 "$WORK/list")"
[ "$(wc -l <"$WORK/list")" = 3 ] || fail "token list: $(cat "$WORK/list")"
grep -Eq "^1 +admin +- +treasurer +[0-9-]{10}T[0-9:]{8}Z +[0-9-]{10}T[0-9:]{8}Z$" "$WORK/list" ||
	fail "the treasurer's row: $(cat "$WORK/list")"
grep -Eq "^$NEIGHBOUR_ID +member +$LOPEZ +phone +[0-9-]{10}T[0-9:]{8}Z +[0-9-]{10}T" "$WORK/list" ||
	fail "the neighbour's row: $(cat "$WORK/list")"
grep -qF -e "$ADMIN" -e "$NEIGHBOUR" "$WORK/list" && fail "token list shows a secret"
ok "token list shows the tokens not revoked, without secrets"
"$COOPBILLD" --config "$CONFIG" token revoke "$NEIGHBOUR_ID" >"$WORK/revoke" || fail "token revoke failed"
[ "$(cat "$WORK/revoke")" = "token $NEIGHBOUR_ID revoked" ] || fail "token revoke said: $(cat "$WORK/revoke")"
status=$(req GET /api/v1/me "$NEIGHBOUR")
expect_problem 401 "$status" "a token revoked on the box is refused at once" 'revoked'
code=0
"$COOPBILLD" --config "$CONFIG" token revoke "$NEIGHBOUR_ID" 2>"$WORK/revoke.err" || code=$?
[ "$code" = 1 ] && grep -q "no token $NEIGHBOUR_ID that is still valid" "$WORK/revoke.err" ||
	fail "revoking it again: exit $code, $(cat "$WORK/revoke.err")"
code=0
"$COOPBILLD" --config "$CONFIG" token revoke 3x 2>"$WORK/revoke.err" || code=$?
[ "$code" = 2 ] || fail "token revoke 3x: exit $code"
ok "token revoke refuses a token revoked already and what is not an id"
[ "$(sqlite3 "$DB" "SELECT count(*) FROM audit_events WHERE action = 'token.revoke'")" = 6 ] ||
	fail "the audit trail has $(sqlite3 "$DB" "SELECT count(*) FROM audit_events WHERE action = 'token.revoke'") revocations"
ok "the audit trail has each of the 6 revocations"

# A token's last use is written at most once a minute, and never makes a
# request wait: while another process holds the database's write lock, a
# request with a token whose last use is old is answered at once.
USER_TOKEN=$(member_token "$LOPEZ" laptop)
USER_ID=$(token_id "$USER_TOKEN")
sqlite3 "$DB" "UPDATE tokens SET last_used_at = '2026-01-01T00:00:00Z' WHERE id = $USER_ID"
python3 - "$DB" "$WORK/locked" <<'PY' &
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
time.sleep(3)
db.execute("ROLLBACK")
PY
LOCKER=$!
for _ in $(seq 1 50); do [ -f "$WORK/locked" ] && break; sleep 0.1; done
[ -f "$WORK/locked" ] || fail "the database was not locked"
start=$(date +%s%N)
status=$(req GET "/api/v1/households/$LOPEZ" "$USER_TOKEN")
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
expect 200 "$status" "a request is answered while the database is locked by another writer"
[ "$elapsed_ms" -lt 1500 ] || fail "the request waited $elapsed_ms ms for the lock"
ok "it did not wait for the lock ($elapsed_ms ms)"
wait "$LOCKER"
[ "$(sqlite3 "$DB" "SELECT last_used_at FROM tokens WHERE id = $USER_ID")" = 2026-01-01T00:00:00Z ] ||
	fail "the last use was written through the lock"
req GET "/api/v1/households/$LOPEZ" "$USER_TOKEN" >/dev/null
first=$(sqlite3 "$DB" "SELECT last_used_at FROM tokens WHERE id = $USER_ID")
[ "$first" != 2026-01-01T00:00:00Z ] || fail "the last use was not written once the lock was gone"
sqlite3 "$DB" "UPDATE tokens SET last_used_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-30 seconds') WHERE id = $USER_ID"
recent=$(sqlite3 "$DB" "SELECT last_used_at FROM tokens WHERE id = $USER_ID")
req GET "/api/v1/households/$LOPEZ" "$USER_TOKEN" >/dev/null
[ "$(sqlite3 "$DB" "SELECT last_used_at FROM tokens WHERE id = $USER_ID")" = "$recent" ] ||
	fail "a use within the minute was written"
ok "the last use is written once the lock is gone, and not again within the minute"

"$COOPBILL_VERIFY" "$BASE" "$KEY" >"$WORK/verify" || fail "coopbill-verify: $(cat "$WORK/verify")"
grep -q "^checkpoint OK" "$WORK/verify" || fail "verdict: $(cat "$WORK/verify")"
ok "the log with its token-revoked entries verifies"

stop_daemon
finish
