#!/usr/bin/env bash
# GET /metrics against what the test did and what the system says: the
# database's files, the transparency log, a period close, a locked
# database, the process, and the connections and bodies refused for each
# limit of a daemon with small ones; every float in its shortest exact
# form, and promtool's check clean.
. "$(dirname "$0")/lib.sh"

command -v promtool >/dev/null || fail "promtool is not installed (package prometheus)"

THIS=$(date -u +%Y-%m)
PREV=$(date -u -d "$THIS-01 -1 month" +%Y-%m)

# scrape: /metrics into $WORK/metrics, checked by promtool and for the form
# of its numbers.
scrape() {
	curl -sS -o "$WORK/metrics" "$BASE/metrics" || fail "GET /metrics failed"
	promtool check metrics <"$WORK/metrics" >"$WORK/promtool" 2>&1 ||
		fail "promtool refuses the metrics: $(cat "$WORK/promtool")"
	python3 - "$WORK/metrics" <<'PY' || fail "a number in /metrics is not in Prometheus's form"
import re, sys
from decimal import Decimal

# How Prometheus (Go's strconv.FormatFloat(v, 'g', -1, 64)) writes v: the
# digits of Python's repr, the shortest that read back as the same double,
# in an exponent form only below 1e-4 and from 1e+06 on.
def prometheus(v):
    sign, digits, exponent = Decimal(repr(v)).normalize().as_tuple()
    x = len(digits) - 1 + exponent
    text = "".join(map(str, digits))
    if x < -4 or x >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return "-" * sign + mantissa + "e%s%02d" % ("-" if x < 0 else "+", abs(x))
    return "-" * sign + format(Decimal(repr(v)).normalize(), "f")

for line in open(sys.argv[1]):
    if line.startswith("#") or not line.strip():
        continue
    series, value = line.rsplit(" ", 1)
    value = value.strip()
    for text in re.findall(r'[{,]le="([^"]*)"', series) + [value]:
        # Counts and sizes are written as integers.
        if text in ("+Inf", "-Inf", "NaN") or re.fullmatch(r"\d+", text):
            continue
        if text != prometheus(float(text)):
            sys.exit(f"{line.strip()}: Prometheus writes {text} as {prometheus(float(text))}")
    name = re.match(r"[a-z_]+", series).group(0)
    integral = name.endswith(("_bytes", "_fds", "_entries", "_size", "_info")) or (
        name.endswith(("_total", "_count", "_bucket")) and name != "process_cpu_seconds_total")
    if integral and not re.fullmatch(r"\d+", value):
        sys.exit(f"{line.strip()}: {name} should be an integer")
PY
}

# metric SERIES: the value of one series (name and labels as printed).
metric() {
	awk -v series="$1" '$1 == series { print $2 }' "$WORK/metrics"
}

write_config "metrics_public = true
max_body_bytes = 1024
max_connections_per_ip = 4
header_timeout_s = 2"
start_daemon
ADMIN=$(admin_token)

scrape
ok "promtool finds /metrics clean, and every number is in its shortest exact form"

[ "coopbilld $(metric "coopbill_build_info{version=\"$(
	"$COOPBILLD" --version | cut -d' ' -f2)\"}")" = "coopbilld 1" ] ||
	fail "build info: $(grep build_info "$WORK/metrics")"
ok "coopbill_build_info names the version coopbilld --version prints"

# The files and the file system, as stat sees them (nothing writes between
# the scrape and the stat: metrics are public, no token's use is recorded).
[ "$(metric 'coopbill_database_bytes{file="main"}')" = "$(stat -c %s "$DB")" ] &&
	[ "$(metric 'coopbill_database_bytes{file="wal"}')" = "$(stat -c %s "$DB-wal")" ] ||
	fail "database files: $(grep database_bytes "$WORK/metrics") against $(stat -c %s "$DB" "$DB-wal")"
[ "$(metric coopbill_database_filesystem_size_bytes)" = "$(($(stat -f -c '%b * %S' "$WORK")))" ] ||
	fail "file system size: $(metric coopbill_database_filesystem_size_bytes)"
# Other programs write to the same file system meanwhile: within 512 MiB
# (what root alone may use, often 5 % of it, is not free to the daemon).
python3 -c 'import sys; a, b = int(sys.argv[1]), int(sys.argv[2]); sys.exit(abs(a - b) > 512 << 20)' \
	"$(metric coopbill_database_filesystem_free_bytes)" "$(($(stat -f -c '%a * %S' "$WORK")))" ||
	fail "free space: $(metric coopbill_database_filesystem_free_bytes) against df's $(($(stat -f -c '%a * %S' "$WORK")))"
ok "the database's and its write-ahead log's sizes and the file system's space are stat's"

# The process, as /proc sees it.
rss=$(awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$DAEMON_PID/status")
python3 -c 'import sys; a, b = int(sys.argv[1]), int(sys.argv[2]); sys.exit(abs(a - b) > b // 5)' \
	"$(metric process_resident_memory_bytes)" "$rss" ||
	fail "RSS: $(metric process_resident_memory_bytes) against /proc's $rss"
fds=$(find "/proc/$DAEMON_PID/fd" -mindepth 1 | wc -l)
# The scrape's own connection may be open still, or closed already.
[ "$(metric process_open_fds)" -ge "$fds" ] && [ "$(metric process_open_fds)" -le $((fds + 1)) ] ||
	fail "open files: $(metric process_open_fds) against /proc's $fds"
[ "$(metric process_max_fds)" = "$(awk '/^Max open files/ { print $4 }' "/proc/$DAEMON_PID/limits")" ] ||
	fail "max open files: $(metric process_max_fds)"
ok "resident memory and open files are what /proc says"

# A lock held by another connection: the write waits, retries, and goes
# through; the retries are counted.
retries=$(metric coopbill_database_busy_retries_total)
python3 - "$DB" <<'PY' &
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
open(sys.argv[1] + ".locked", "w").close()
time.sleep(0.5)
db.execute("COMMIT")
PY
LOCKER=$!
while [ ! -e "$DB.locked" ]; do sleep 0.02; done
expect 201 "$(req POST /api/v1/households "$ADMIN" "{\"name\":\"Garcia\",\"joined_at\":\"$PREV-01\"}")" \
	"a household created while another connection holds the lock for 0.5 s"
wait "$LOCKER"
scrape
[ "$(metric coopbill_database_busy_retries_total)" -gt "$retries" ] ||
	fail "busy retries: $(metric coopbill_database_busy_retries_total), $retries before"
ok "the waits for the lock are counted ($retries, then $(metric coopbill_database_busy_retries_total))"

# Traffic of known kinds, and the counters moved by exactly that.
MEMBER=$("$COOPBILLD" --config "$CONFIG" token create --role member --household 1 --name "Garcia phone")
cp "$WORK/metrics" "$WORK/before"
# delta SERIES: how much a series grew since $WORK/before (0 when absent).
delta() {
	awk -v series="$1" '$1 == series { value[FILENAME] = $2 }
		END { print value[ARGV[2]] - value[ARGV[1]] }' "$WORK/before" "$WORK/metrics"
}
# grew_by "N SERIES"...: each series grew by N since $WORK/before.
grew_by() {
	local expected
	for expected in "$@"; do
		[ "$(delta "${expected#* }")" = "${expected%% *}" ] ||
			fail "${expected#* } grew by $(delta "${expected#* }"), not ${expected%% *}"
	done
}
# requests ROUTE METHOD CODE: its coopbill_http_requests_total series.
requests() {
	echo "coopbill_http_requests_total{route=\"$1\",method=\"$2\",code=\"$3\"}"
}
for _ in 1 2 3; do
	[ "$(req GET /healthz)" = 200 ] || fail "GET /healthz"
done
for path in /api/v1/no/such/path /api/v1/households/1/nothing; do
	[ "$(req GET $path "$ADMIN")" = 404 ] || fail "GET $path"
done
[ "$(req GET /api/v1/households/1)" = 401 ] || fail "a household without a token"
[ "$(req GET /api/v1/households/1 "$MEMBER")" = 200 ] || fail "a member's own household"
[ "$(req GET /api/v1/households/1 "$ADMIN")" = 200 ] || fail "the treasurer's household"
[ "$(req GET /api/v1/households/2 "$MEMBER")" = 403 ] || fail "another household, by a member"
[ "$(req POST /api/v1/households "$ADMIN" "{\"name\":\"$(head -c 2000 /dev/zero | tr '\0' x)\"}")" = 413 ] ||
	fail "a body over max_body_bytes"
# Six connections at once from one address, where four may be open: two
# are refused. Then one that trickles its headers past header_timeout_s.
python3 "$(dirname "$0")/attacker.py" flood "$PORT" 6 1 0.3 >/dev/null
python3 "$(dirname "$0")/attacker.py" trickle "$PORT" 5 >/dev/null
# Two that libmicrohttpd refuses itself: a request line past
# connection_memory_bytes (414) and an HTTP version it does not speak (505).
raw() {
	python3 "$(dirname "$0")/attacker.py" raw "$PORT" | head -1 | tr -d '\r'
}
status=$(printf 'GET /%s HTTP/1.1\r\nHost: x\r\n\r\n' "$(head -c 20000 /dev/zero | tr '\0' a)" | raw)
[ "$status" = "HTTP/1.1 414 URI Too Long" ] || fail "a 20,000-byte request line: $status"
status=$(printf 'GET / HTTP/0.9\r\n\r\n' | raw)
case $status in *' 505 '*) ;; *) fail "HTTP/0.9: $status" ;; esac
scrape
grew_by "3 $(requests /healthz GET 200)" "2 $(requests unmatched GET 404)" \
	"1 $(requests '/api/v1/households/{id}' GET 401)" "2 $(requests '/api/v1/households/{id}' GET 200)" \
	"1 $(requests '/api/v1/households/{id}' GET 403)" "1 $(requests /api/v1/households POST 413)" \
	'3 coopbill_http_request_duration_seconds_count{route="/healthz"}' \
	'3 coopbill_http_request_duration_seconds_bucket{route="/healthz",le="+Inf"}' \
	'1 coopbill_http_refused_total{limit="body_size"}' \
	'2 coopbill_http_refused_total{limit="connections_per_ip"}' \
	'1 coopbill_http_refused_total{limit="header_deadline"}' \
	'0 coopbill_http_refused_total{limit="connections"}' \
	'0 coopbill_http_refused_total{limit="body_memory"}' \
	'1 coopbill_http_refused_total{limit="request_head"}' \
	'1 coopbill_http_refused_total{limit="malformed"}'
ok "requests by route, method and status, durations and refusals grew by exactly the traffic sent"
grep -q 'refused: request by libmicrohttpd limit=request_head status=414' "$WORK/daemon.log" ||
	fail "libmicrohttpd's 414 is not logged as a refusal"
ok "libmicrohttpd's own refusals are counted and logged"
grep -q 'no/such\|nothing' "$WORK/metrics" && fail "a path a client sent became a label"
python3 -c 'import sys; sys.exit(not 0 < float(sys.argv[1]) < 3)' \
	"$(delta 'coopbill_http_request_duration_seconds_sum{route="/healthz"}')" ||
	fail "the durations of /healthz add up to $(delta 'coopbill_http_request_duration_seconds_sum{route="/healthz"}') s"
ok "paths are labelled by their route's pattern, unknown ones as \"unmatched\""

# The log: a line for each change by the treasurer and each refusal, which
# names the token but never holds a token, a member's name or an address.
grep -qF 'admin action: token=1 role=admin name="treasurer" method=POST route=/api/v1/households status=201' \
	"$WORK/daemon.log" || fail "no line for the household the treasurer created"
for line in 'token=none method=GET route=/api/v1/households/{id} id=1 status=401 problem=unauthorized' \
	"token=2 role=member household=1 method=GET route=/api/v1/households/{id} id=2 status=403 problem=forbidden" \
	'token=none method=POST route=/api/v1/households status=413 problem=body-too-large' \
	'connection limit=connections_per_ip' 'connection limit=header_deadline'; do
	grep -qF "refused: $line" "$WORK/daemon.log" || fail "no line \"refused: $line\""
done
grep -E 'admin action|refused' "$WORK/daemon.log" >"$WORK/lines"
grep -qF -e "$ADMIN" -e "$MEMBER" -e Garcia "$WORK/lines" && fail "a token or a name in the log: $(cat "$WORK/lines")"
grep -qE '([0-9]{1,3}\.){3}[0-9]{1,3}|::' "$WORK/lines" && fail "an address in the log: $(cat "$WORK/lines")"
ok "one log line per change by the treasurer and per refusal, without tokens, names or addresses"

# The transparency log: its size and its last checkpoint's, as the signed
# checkpoint says.
checkpoint_size() {
	curl -sS "$BASE/api/v1/log/checkpoint" | sed -n 2p
}
size=$(checkpoint_size)
[ "$(metric coopbill_tlog_entries)" = "$size" ] && [ "$(metric coopbill_tlog_checkpoint_size)" = "$size" ] ||
	fail "log: $(grep coopbill_tlog "$WORK/metrics") against the checkpoint's $size"
ok "the log's size and its last checkpoint's are the signed checkpoint's ($size)"

# A period closed: no job runs before or after, and the close's duration is
# at most what the client waited.
for kind in close estimate summary reprice impact publish; do
	[ "$(metric "coopbill_billing_jobs{kind=\"$kind\"}")" = 0 ] || fail "a $kind job runs"
done
grep -q coopbill_billing_last_close_duration_seconds "$WORK/metrics" &&
	fail "a close's duration before any close"
tariff=$(jq -nc --arg from "$PREV-01" '{name: "Village", currency: "EUR", valid_from: $from,
	emergency: {reason: "the test bills the month that just ended"},
	fixed_fee: {amount_minor: 1000, prorate: false}}')
expect 201 "$(req POST /api/v1/tariffs "$ADMIN" "$tariff")" "a tariff drafted"
expect 200 "$(req POST "/api/v1/tariffs/$(body .id)/publish" "$ADMIN")" "the tariff published"
waited=$(curl -sS -o "$WORK/body" -w '%{time_total}' -X POST -H "Authorization: Bearer $ADMIN" \
	"$BASE/api/v1/periods/$PREV/close")
[ "$(body .households)" = 1 ] || fail "the close: $(cat "$WORK/body")"
scrape
took=$(metric coopbill_billing_last_close_duration_seconds)
python3 -c 'import sys; sys.exit(not 0 < float(sys.argv[1]) <= float(sys.argv[2]))' "$took" "$waited" ||
	fail "the close took $took s by /metrics, and the client waited $waited s"
for kind in close estimate summary reprice impact publish; do
	[ "$(metric "coopbill_billing_jobs{kind=\"$kind\"}")" = 0 ] || fail "a $kind job runs after the close"
done
[ "$(metric coopbill_tlog_entries)" = "$(checkpoint_size)" ] || fail "the log's size after the close"
[ "$(metric "$(requests '/api/v1/periods/{period}/close' POST 200)")" = 1 ] ||
	fail "the close's request: $(grep close "$WORK/metrics")"
grep -qF "admin action: token=1 role=admin name=\"treasurer\" method=POST route=/api/v1/periods/{period}/close period=$PREV status=200" \
	"$WORK/daemon.log" || fail "no line for the close"
ok "the close took $took s by /metrics (the client waited $waited s); no job runs"

stop_daemon
[ "$STOP_STATUS" = 0 ] || fail "coopbilld exited with $STOP_STATUS"

# coopbilld again, with room for four connections and 64 KiB of bodies being
# received: each connection and body it refuses is counted once.
write_config "metrics_public = true
max_connections = 4
max_connections_per_ip = 4
max_body_bytes = 65536
body_memory_bytes = 65536"
start_daemon
scrape
cp "$WORK/metrics" "$WORK/before"
# Three idle connections fill the table with the next one; three more
# each end the oldest, and so does a GET /healthz, which is answered.
crowd=$(python3 "$(dirname "$0")/attacker.py" crowd "$PORT" 4 3) || fail "the crowd of connections"
read -r _ refused _ status <<<"$crowd"
[ "$status" = 200 ] || fail "GET /healthz with the table full of idle connections: $status"
[ "$refused" = 4 ] || fail "$refused idle connections were ended to make room, not 4"
scrape
grew_by '4 coopbill_http_refused_total{limit="connections"}' \
	'0 coopbill_http_refused_total{limit="connections_per_ip"}' \
	'0 coopbill_http_refused_total{limit="header_deadline"}'
ok "4 connections ended to make room are counted as refused for max_connections; GET /healthz is answered meanwhile"
# While one 40,000-byte body is announced, three more are refused (503),
# a GET is answered, and then the body held is taken.
cp "$WORK/metrics" "$WORK/before"
replies=$(python3 "$(dirname "$0")/attacker.py" budget "$PORT" "$ADMIN" 40000 3 "$PREV-01") ||
	fail "the bodies past body_memory_bytes"
[ "$replies" = "503 503 503 200 201 busy busy busy" ] ||
	fail "three bodies past body_memory_bytes, a GET and the body held: $replies"
scrape
grew_by '3 coopbill_http_refused_total{limit="body_memory"}' \
	'0 coopbill_http_refused_total{limit="body_size"}' \
	'0 coopbill_http_refused_total{limit="connections"}' \
	"1 $(requests /api/v1/households POST 201)"
ok "3 bodies past body_memory_bytes are refused with 503 and counted; the body held is taken"
# Refused for load, not failed: no error line each (a flood would fill the
# disk), only the treasurer's action lines, as for any of their requests.
grep '^<3>.*busy' "$WORK/daemon.log" && fail "a body refused for load was logged as a server error"
[ "$(grep -c '^<5>admin action: .* status=503 problem=busy' "$WORK/daemon.log")" = 3 ] ||
	fail "the treasurer's three bodies refused for load are not logged as their actions"
ok "bodies refused for load are logged as the treasurer's actions, not as server errors"

stop_daemon
[ "$STOP_STATUS" = 0 ] || fail "coopbilld exited with $STOP_STATUS"
finish
