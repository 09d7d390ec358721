#!/usr/bin/env bash
# The transparency log as a member checks it: entries appear for what the
# treasurer does, checkpoints at two sizes verify with coopbill-verify and
# with an independent verifier, a member finds their entries by commitment,
# and a database edited behind the daemon's back is refused at start.
. "$(dirname "$0")/lib.sh"
: "${COOPBILL_VERIFY:?COOPBILL_VERIFY must name the coopbill-verify binary}"
command -v openssl >/dev/null || { echo "SKIP: openssl is not installed"; exit 77; }
INDEPENDENT="$COOPBILL_SRCDIR/tests/integration/verify-independent.py"

write_config
printf '[log]\norigin = coop.example/log\n' >>"$CONFIG"
start_daemon
ADMIN=$(admin_token)

status=$(req GET /api/v1/log/key)
expect 200 "$status" "the verifier key is public"
KEY=$(cat "$WORK/body")
[[ "$KEY" == coop.example/log+????????+* ]] || fail "key line: $KEY"
[ -f "$WORK/log.key" ] && [ "$(stat -c %a "$WORK/log.key")" = 600 ] || fail "log.key missing or not 0600"
ok "the signing key is created beside the database, mode 0600"

status=$(req POST /api/v1/households "$ADMIN" '{"name": "Garcia", "addresses": ["10.0.1.10"], "joined_at": "2026-11-01"}')
expect 201 "$status" "create a household"
status=$(req GET /api/v1/log/checkpoint)
expect 200 "$status" "the checkpoint is public"
header Content-Type | grep -q '^text/plain' || fail "checkpoint content type"
size1=$(sed -n 2p "$WORK/body")
[ "$size1" = 2 ] || fail "after a token and a household the log has $size1 entries"
ok "the token issued and the household created are logged"
grep -q "Garcia\|10.0.1.10" <(for i in 0 1; do curl -s "$BASE/api/v1/log/entries/$i"; done) &&
	fail "a name or an address is in the log"
ok "entries name no household and no address"

# A member's first check saves the checkpoint.
"$COOPBILL_VERIFY" --since "$WORK/saved" "$BASE" "$KEY" >"$WORK/v1" || fail "coopbill-verify: $(cat "$WORK/v1")"
grep -q "^checkpoint OK: coop.example/log size 2" "$WORK/v1" || fail "verdict: $(cat "$WORK/v1")"
[ -f "$WORK/saved" ] || fail "the checkpoint was not saved"
cp "$WORK/saved" "$WORK/saved-size2"
ok "coopbill-verify checks the signature and saves the checkpoint"

# More happens: a second household, a member token, a change.
req POST /api/v1/households "$ADMIN" '{"name": "Okafor", "addresses": ["10.0.2.10"], "joined_at": "2026-11-15"}' >/dev/null
OKAFOR=$(body .id)
req POST "/api/v1/households/$OKAFOR/tokens" "$ADMIN" '' >/dev/null
MEMBER=$(body .token)
req PATCH "/api/v1/households/$OKAFOR" "$ADMIN" '{"status": "closed", "left_at": "2026-11-28"}' >/dev/null
req GET /api/v1/log/checkpoint >/dev/null
size2=$(sed -n 2p "$WORK/body")
[ "$size2" = 5 ] || fail "the log has $size2 entries, expected 5"

"$COOPBILL_VERIFY" --since "$WORK/saved" --entry 3 "$BASE" "$KEY" >"$WORK/v2" || fail "coopbill-verify: $(cat "$WORK/v2")"
grep -q "^consistent OK: size 2 → 5" "$WORK/v2" || fail "verdict: $(cat "$WORK/v2")"
grep -q "^entry 3 OK" "$WORK/v2" || fail "verdict: $(cat "$WORK/v2")"
ok "coopbill-verify: the log of 5 extends the one of 2, and entry 3 is in it"

python3 "$INDEPENDENT" "$BASE" "$KEY" --entry 3 --since-note "$WORK/saved-size2" >"$WORK/v3" ||
	fail "the independent verifier disagrees: $(cat "$WORK/v3")"
ok "an independent verifier (Python and openssl) agrees"

# The member finds their own entries by the commitment made from their salt.
status=$(req GET "/api/v1/households/$OKAFOR/log-salt" "$MEMBER")
expect 200 "$status" "a member reads their salt"
salt=$(body .salt)
mine=$(python3 -c "import hashlib,sys; print(hashlib.blake2b(sys.argv[1].encode(), key=bytes.fromhex(sys.argv[2]), digest_size=32).hexdigest())" "$OKAFOR" "$salt")
[ "$mine" = "$(body .commitment)" ] || fail "the commitment does not follow from the salt"
found=0
for i in $(seq 0 $((size2 - 1))); do
	curl -s "$BASE/api/v1/log/entries/$i" | grep -q "^household $mine$" && found=$((found + 1))
done
[ "$found" = 3 ] || fail "the member found $found of their 3 entries"
ok "a member recomputes their commitment and finds their 3 entries"
status=$(req GET "/api/v1/households/1/log-salt" "$MEMBER")
expect 403 "$status" "a member cannot read another household's salt"

# Bad indexes and sizes say the valid range.
status=$(req GET /api/v1/log/entries/5)
expect_problem 400 "$status" "an index past the end is refused" 'from 0 to 4'
status=$(req GET '/api/v1/log/proof/inclusion?index=0&size=9')
expect_problem 400 "$status" "a size past the checkpoint is refused" 'from 1 to 5'
status=$(req GET '/api/v1/log/proof/consistency?from=0&to=5')
expect_problem 400 "$status" "a consistency proof from 0 is refused" 'from 1 to 5'

# Another key of the same name fails the check.
openssl genpkey -algorithm ed25519 -out "$WORK/other.pem" 2>/dev/null
openssl pkey -in "$WORK/other.pem" -pubout -outform DER 2>/dev/null | tail -c 32 >"$WORK/other.pub"
other=$(python3 - "$WORK/other.pub" <<'PY'
import base64, hashlib, sys
name = "coop.example/log"
pub = open(sys.argv[1], "rb").read()
kid = hashlib.sha256(name.encode() + b"\n" + b"\x01" + pub).digest()[:4].hex()
print("%s+%s+%s" % (name, kid, base64.b64encode(b"\x01" + pub).decode()))
PY
)
if "$COOPBILL_VERIFY" "$BASE" "$other" >"$WORK/v4"; then fail "another key verified"; fi
grep -q "^checkpoint FAILED" "$WORK/v4" || fail "verdict: $(cat "$WORK/v4")"
ok "another key of the same name fails the check"

# The database edited behind the daemon's back: refused at start.
stop_daemon
cp "$WORK/saved" "$WORK/before-edit"
if [ "$BACKEND" = postgres ]; then
	db_sql "ALTER TABLE log_entries DISABLE TRIGGER log_entries_append_only_update;
		UPDATE log_entries SET entry = convert_to(replace(convert_from(entry, 'UTF8'),
			'status closed', 'status active'), 'UTF8') WHERE idx = 4"
else
	db_sql "DROP TRIGGER log_entries_append_only_update;
		UPDATE log_entries SET entry = replace(entry, 'status closed', 'status active') WHERE idx = 4"
fi
start_daemon
status=$(req GET /healthz)
expect 503 "$status" "an edited log makes /healthz 503"
body .log | grep -q "log entry 4 " || fail "healthz does not name the entry: $(body .log)"
grep -q "transparency log: log entry 4 " "$WORK/daemon.log" || fail "no log line names the entry"
ok "the daemon's log names the first bad entry"
status=$(req GET /api/v1/log/checkpoint)
expect_problem 503 "$status" "an edited log is not served" 'restore the database'
stop_daemon
[ "$STOP_STATUS" = 0 ] || fail "exit $STOP_STATUS"

# A log whose key file is gone (a restore that forgot it): the daemon refuses
# to start and names the file, and makes no new key that would break the log.
mv "$WORK/log.key" "$WORK/log.key.saved"
status=0
timeout 10 "$COOPBILLD" --config "$CONFIG" 2>"$WORK/nokey.log" || status=$?
[ "$status" != 0 ] && [ "$status" != 124 ] || fail "started without its log key (exit $status)"
grep -q "$WORK/log.key is missing" "$WORK/nokey.log" || fail "the refusal does not name the key: $(cat "$WORK/nokey.log")"
[ ! -e "$WORK/log.key" ] || fail "a new log key was made for an existing log"
ok "a missing log key stops the start, names the file and makes no new key"
finish
