#!/usr/bin/env bash
# The daemon as systemd and the operator see it: --check-config, READY=1 and
# WATCHDOG=1 on the notify socket, SIGHUP reloads that keep a broken file out,
# an orderly SIGTERM, and a database newer than the binary refused.
. "$(dirname "$0")/lib.sh"

write_config
out=$("$COOPBILLD" --config "$CONFIG" --check-config)
[ "$out" = "configuration OK" ] || fail "--check-config printed \"$out\""
ok "--check-config accepts a good file"

cp "$CONFIG" "$WORK/bad.conf"
printf '[server]\nlistne = 1\n' >>"$WORK/bad.conf"
if "$COOPBILLD" --config "$WORK/bad.conf" --check-config >"$WORK/out" 2>&1; then
	fail "--check-config accepted an unknown key"
fi
grep -q "bad.conf:1[0-9]: \[server\] listne" "$WORK/out" || fail "no file:line: $(cat "$WORK/out")"
ok "--check-config names file, line and key"

"$COOPBILLD" --version | grep -Eq '^coopbilld [0-9]+\.[0-9]+\.[0-9]+$' || fail "--version"
"$COOPBILLD" --help | grep -q 'token create' || fail "--help does not list token create"
ok "--version and --help"

# Start under a stand-in notify socket, with a watchdog.
python3 "$COOPBILL_SRCDIR/tests/integration/notify-recv.py" "$WORK/notify.sock" "$WORK/notify.log" &
NOTIFY_PID=$!
for _ in $(seq 1 50); do [ -S "$WORK/notify.sock" ] && break; sleep 0.1; done
NOTIFY_SOCKET="$WORK/notify.sock" WATCHDOG_USEC=400000 start_daemon
for _ in $(seq 1 30); do grep -q '^WATCHDOG=1$' "$WORK/notify.log" 2>/dev/null && break; sleep 0.1; done
grep -q '^READY=1$' "$WORK/notify.log" || fail "no READY=1 on the notify socket"
ok "READY=1 once serving"
grep -q '^WATCHDOG=1$' "$WORK/notify.log" || fail "no WATCHDOG=1 at half of WATCHDOG_USEC"
ok "WATCHDOG=1 while running"

# A broken file on SIGHUP is refused; the daemon keeps serving.
cp "$CONFIG" "$WORK/good.conf"
printf '[billing]\ncurrency = EURO\n' >>"$CONFIG"
kill -HUP "$DAEMON_PID"
await_log 'reload refused' "no log line for the refused reload"
grep -q 'currency' "$WORK/daemon.log" || fail "the refused reload does not say why"
# journald files a line without its "<N>" prefix as a message of its own.
unprefixed=$(grep -cv '^<[0-7]>' "$WORK/daemon.log" || true)
[ "$unprefixed" = 0 ] || fail "$unprefixed log lines carry no priority: $(grep -v '^<[0-7]>' "$WORK/daemon.log" | head -3)"
ok "every line of the refused reload carries its priority"
kill -0 "$DAEMON_PID" || fail "the daemon died on a broken reload"
status=$(req GET /healthz)
expect 200 "$status" "a broken config on SIGHUP keeps the daemon serving"

# A good file on SIGHUP takes effect: a new CORS origin is allowed.
cp "$WORK/good.conf" "$CONFIG"
sed -i 's#^\[server\]#[server]\ncors_origins = http://new.example#' "$CONFIG"
kill -HUP "$DAEMON_PID"
for _ in $(seq 1 50); do grep -q 'configuration reloaded' "$WORK/daemon.log" && break; sleep 0.1; done
status=$(req GET /healthz '' '' -H 'Origin: http://new.example')
[ "$(header Access-Control-Allow-Origin)" = http://new.example ] || fail "reload did not apply"
ok "a valid config on SIGHUP is swapped in"

# The time zone comes with the configuration: a reload naming a zone the box
# does not have is refused whole, one it has is used from then on.
ZONE_ADMIN=$(admin_token zone)
summary_from() {
	req GET '/api/v1/usage/summary?from=2027-07-01T00:00:00Z&to=2027-07-01T01:00:00Z' \
		"$ZONE_ADMIN" >/dev/null
	body .from
}
[ "$(summary_from)" = 2027-07-01T00:00:00Z ] || fail "times in UTC: $(summary_from)"
sed -i 's#^timezone = UTC#timezone = Mars/Olympus#' "$CONFIG"
reload_and_wait 'reload refused'
grep -q 'Mars/Olympus' "$WORK/daemon.log" || fail "the refused reload does not name the zone"
[ "$(summary_from)" = 2027-07-01T00:00:00Z ] || fail "a refused zone was used: $(summary_from)"
ok "a reload naming an unknown time zone is refused and the old zone kept"
sed -i 's#^timezone = Mars/Olympus#timezone = Asia/Kolkata#' "$CONFIG"
reload_and_wait 'configuration reloaded'
[ "$(summary_from)" = 2027-07-01T05:30:00+05:30 ] || fail "the new zone is not used: $(summary_from)"
ok "a reload to another time zone takes effect (+05:30)"
sed -i 's#^enabled = false#enabled = false\ngateway = village-2#' "$CONFIG"
grep -q '^gateway = village-2' "$CONFIG" || fail "no gateway written into the configuration"
reload_and_wait 'reload: \[meter\] gateway changed to village-2; it takes effect on restart'
expect 201 "$(req POST /api/v1/households "$ZONE_ADMIN" '{"name": "After the reload", "joined_at": "2026-11-01"}')" \
	"a household created after the reload"
[ "$(body .gateway)" = main ] || fail "after a reload, a new household is on gateway $(body .gateway)"
ok "a reload keeps the gateway the daemon started with, and says it changes on restart"

# SIGTERM during a slow upload: the request in flight is answered, then exit 0.
ADMIN=$(admin_token)
python3 - "$PORT" "$ADMIN" "$WORK/slow.sent" >"$WORK/slow.out" <<'PY' &
import socket, sys, time
body = b'{"name": "Slow", "joined_at": "2026-11-01"}'
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"POST /api/v1/households HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
          sys.argv[2].encode() + b"\r\nContent-Type: application/json\r\nContent-Length: " +
          str(len(body)).encode() + b"\r\n\r\n" + body[:10])
open(sys.argv[3], "w").close()
time.sleep(1.0)
s.sendall(body[10:])
print(s.recv(4096).split(b"\r\n")[0].decode())
PY
SLOW_PID=$!
# SIGTERM once the daemon has the request's headers and part of its body.
for _ in $(seq 1 50); do [ -e "$WORK/slow.sent" ] && break; sleep 0.1; done
sleep 0.2
start=$(date +%s%N)
stop_daemon
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
wait "$SLOW_PID" || true
[ "$STOP_STATUS" = 0 ] || fail "exit code $STOP_STATUS after SIGTERM"
[ "$elapsed_ms" -lt 5000 ] || fail "stopping took $elapsed_ms ms"
ok "SIGTERM exits 0 in $elapsed_ms ms"
grep -q '^HTTP/1.1 201' "$WORK/slow.out" || fail "the request in flight was not finished: $(cat "$WORK/slow.out")"
ok "the request in flight at SIGTERM is answered"
[ "$(sqlite3 "$DB" "SELECT count(*) FROM households WHERE name = 'Slow'")" = 1 ] ||
	fail "the request in flight was not committed"
ok "and committed"
grep -q '^STOPPING=1$' "$WORK/notify.log" || fail "no STOPPING=1 on the notify socket"
ok "STOPPING=1 on SIGTERM"

# A database from a newer coopbilld is refused, and left as it is.
sqlite3 "$DB" 'PRAGMA user_version = 999'
if "$COOPBILLD" --config "$CONFIG" 2>"$WORK/newer.log"; then fail "a newer database was accepted"; fi
grep -q 'newer' "$WORK/newer.log" || fail "the refusal does not say why: $(cat "$WORK/newer.log")"
[ "$(sqlite3 "$DB" 'PRAGMA user_version')" = 999 ] || fail "the newer database was changed"
ok "a database newer than the binary is refused"

# Outside systemd (no StateDirectory=, a umask of 022) the ledger is private
# all the same: a folder it makes is 0700, the database and its -wal and -shm
# files 0600.
DB="$WORK/state/coopbill.db"
write_config
umask 022
start_daemon
admin_token >/dev/null
modes=$(stat -c '%n %a' "$WORK/state" "$DB" "$DB-wal" "$DB-shm" | sed "s#$WORK/##")
[ "$modes" = "state 700
state/coopbill.db 600
state/coopbill.db-wal 600
state/coopbill.db-shm 600" ] || fail "modes: $modes"
ok "the database folder it makes is 0700, the database and its -wal and -shm 0600"
stop_daemon
[ "$STOP_STATUS" = 0 ] || fail "exit $STOP_STATUS"
finish
