#!/usr/bin/env bash
# Hostile clients against one running daemon with its default limits: floods
# of connections, slowloris and bodies (attacker.py), ambiguous framing,
# JSON built to choke a parser, bytes that are not UTF-8 in targets and
# bodies, and 10,000 random malformed requests (hostile.py). Meanwhile a
# member's client must be answered within 1 s, the daemon's memory must
# stay under 64 MiB, and the database must not change.
. "$(dirname "$0")/lib.sh"

# ASan keeps up to 256 MiB of freed memory in quarantine by default, which
# the churn of 10,000 requests fills: a smaller one keeps the RSS check
# about the daemon's own memory.
[ -z "${ASAN_OPTIONS:-}" ] || export ASAN_OPTIONS="$ASAN_OPTIONS:quarantine_size_mb=16"
write_config
start_daemon
ADMIN=$(admin_token)
expect 201 "$(req POST /api/v1/households "$ADMIN" '{"name":"Garcia","joined_at":"2026-01-01"}')" \
	"the well-behaved member's household"
HOUSEHOLD=$(body .id)
expect 201 "$(req POST "/api/v1/households/$HOUSEHOLD/tokens" "$ADMIN" '')" "its member token"
MEMBER=$(body -r .token)
expect 200 "$(req GET /api/v1/me "$MEMBER")" "the member's token id"
MEMBER_ID=$(body .token_id)
expect 201 "$(req POST /api/v1/households "$ADMIN" '{"name":"Mallory","joined_at":"2026-01-01"}')" \
	"the attacker's household"
ATTACKER_HOUSEHOLD=$(body .id)
expect 201 "$(req POST "/api/v1/households/$ATTACKER_HOUSEHOLD/tokens" "$ADMIN" '')" \
	"the attacker's member token"
ATTACKER_TOKEN=$(body -r .token)

jq -n --argjson port "$PORT" --argjson pid "$DAEMON_PID" --arg db "$DB" --arg admin "$ADMIN" \
	--argjson household "$HOUSEHOLD" --arg member "$MEMBER" --argjson member_id "$MEMBER_ID" \
	--argjson attacker_household "$ATTACKER_HOUSEHOLD" --arg attacker "$ATTACKER_TOKEN" '{
	port: $port, pid: $pid, db: $db, admin: $admin, household: $household,
	member_token: $member, member_token_id: $member_id,
	attacker_household: $attacker_household, attacker_token: $attacker
}' >"$WORK/walk.json"

# ASan's quarantine and redzones keep more memory, and its checks take
# time (its test setup gives three times as long), so it gets more room.
export RSS_LIMIT_MIB=64 PROBE_LIMIT_S=1
[ -n "${ASAN_OPTIONS:-}" ] && RSS_LIMIT_MIB=160 PROBE_LIMIT_S=3
python3 "$(dirname "$0")/hostile.py" run "$WORK/walk.json" || fail "hostile clients had their way"
ok "the daemon held against hostile clients: a member was answered within $PROBE_LIMIT_S s, its RSS stayed under $RSS_LIMIT_MIB MiB, nothing was written"

expect 200 "$(req GET "/api/v1/households/$HOUSEHOLD" "$MEMBER")" "the member's token still works"
stop_daemon
[ "$STOP_STATUS" = 0 ] || fail "coopbilld exited with status $STOP_STATUS"
ok "the daemon stops cleanly after all this"
finish
