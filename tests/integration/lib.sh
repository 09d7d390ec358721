# Shared by the integration tests: a temporary directory, a daemon on a free
# loopback port, and small request and assertion helpers. Sourced, not run.
#
# COOPBILL_TEST_BACKEND=postgres runs the suite against PostgreSQL: a
# throwaway cluster of the test's own (tests/postgres/cluster.sh) and
# [database] url in place of path. db_sql runs SQL on whichever database
# the daemon has.
set -euo pipefail

: "${COOPBILLD:?COOPBILLD must name the coopbilld binary}"
: "${COOPBILL_SRCDIR:?COOPBILL_SRCDIR must name the source tree}"
for tool in curl jq python3 sqlite3; do
	command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done

WORK=$(mktemp -d /tmp/coopbill-test.XXXXXX)
DAEMON_PID=
NOTIFY_PID=
PASSED=0

cleanup() {
	# Under set -e a failed kill (the process gone already) would end the
	# trap here, before the rest of the cleanup.
	[ -z "$DAEMON_PID" ] || kill -9 "$DAEMON_PID" 2>/dev/null || true
	[ -z "$NOTIFY_PID" ] || kill "$NOTIFY_PID" 2>/dev/null || true
	wait 2>/dev/null
	[ "${BACKEND:-}" != postgres ] || pg_cluster_stop
	rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	if [ -f "$WORK/daemon.log" ]; then
		echo "--- daemon log (last 20 lines) ---" >&2
		tail -20 "$WORK/daemon.log" >&2
	fi
	exit 1
}

ok() {
	PASSED=$((PASSED + 1))
	echo "ok $PASSED - $*"
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
CONFIG="$WORK/coopbill.conf"
DB="$WORK/coopbill.db"
BACKEND=${COOPBILL_TEST_BACKEND:-sqlite}
# With url, [database] path only says where the log key lives.
URL_LINE=
case $BACKEND in
sqlite) ;;
postgres)
	. "$COOPBILL_SRCDIR/tests/postgres/cluster.sh"
	pg_cluster_start "$WORK/pg"
	URL_LINE="url = $PG_URL"
	;;
*) echo "FAIL: COOPBILL_TEST_BACKEND is sqlite or postgres, not $BACKEND"; exit 1 ;;
esac

# db_sql SQL: runs SQL on the daemon's database, printing rows as sqlite3
# does (columns joined by |); fails as the database refuses it, saying why
# on stderr. db_dump: the whole database as SQL text.
db_sql() {
	if [ "$BACKEND" = postgres ]; then
		"${PSQL[@]}" -d coopbill -c "$1"
	else
		sqlite3 "$DB" "$1"
	fi
}
db_dump() {
	if [ "$BACKEND" = postgres ]; then
		"$PG_BIN/pg_dump" -h "$PG_SOCK" -U coopbill coopbill
	else
		sqlite3 "$DB" .dump
	fi
}

# write_config [extra lines for [server]]
write_config() {
	cat >"$CONFIG" <<CONF
[server]
listen = 127.0.0.1:$PORT
${1:-}

[database]
path = $DB
$URL_LINE

[meter]
# These tests run in the host's network namespace: no nftables here.
enabled = false

[billing]
currency = EUR
timezone = UTC
CONF
}

# start_daemon: runs coopbilld in the background and waits until it answers.
start_daemon() {
	"$COOPBILLD" --config "$CONFIG" 2>>"$WORK/daemon.log" &
	DAEMON_PID=$!
	for _ in $(seq 1 100); do
		# Any answer will do: a daemon that refuses to serve still answers 503.
		curl -sS -o /dev/null "$BASE/healthz" 2>/dev/null && return 0
		kill -0 "$DAEMON_PID" 2>/dev/null || fail "coopbilld exited during start-up"
		sleep 0.1
	done
	fail "coopbilld did not answer within 10 s"
}

# stop_daemon: SIGTERM, and the exit code in STOP_STATUS.
stop_daemon() {
	kill -TERM "$DAEMON_PID"
	STOP_STATUS=0
	wait "$DAEMON_PID" || STOP_STATUS=$?
	DAEMON_PID=
}

# await_log PATTERN WHAT: waits up to 10 s for a line of the daemon's log
# that matches PATTERN; fails saying WHAT, with the log, when none comes.
await_log() {
	for _ in $(seq 1 100); do grep -q -- "$1" "$WORK/daemon.log" && return 0; sleep 0.1; done
	fail "$2: $(cat "$WORK/daemon.log")"
}

# reload_and_wait PATTERN: SIGHUP to the daemon, then wait for one more
# line matching PATTERN in its log than there was before.
reload_and_wait() {
	local pattern=$1 before
	before=$(grep -c "$pattern" "$WORK/daemon.log" || true)
	kill -HUP "$DAEMON_PID"
	for _ in $(seq 1 50); do
		[ "$(grep -c "$pattern" "$WORK/daemon.log" || true)" -gt "$before" ] && return
		sleep 0.1
	done
	fail "no \"$pattern\" in the log after SIGHUP"
}

admin_token() {
	"$COOPBILLD" --config "$CONFIG" token create --role admin --name "${1:-treasurer}"
}

# req METHOD PATH [TOKEN] [BODY] [extra curl args...]: the status code on
# stdout; the body in $WORK/body and the headers in $WORK/headers.
req() {
	local method=$1 path=$2 token=${3:-} body=${4:-}
	shift 4 2>/dev/null || shift $#
	local args=(-sS -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' -X "$method")
	[ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	curl "${args[@]}" "$@" "$BASE$path"
}

# expect STATUS ACTUAL WHAT
expect() {
	[ "$2" = "$1" ] || fail "$3: expected HTTP $1, got $2: $(head -c 400 "$WORK/body")"
	ok "$3"
}

body() {
	jq -r "$@" "$WORK/body"
}

header() {
	tr -d '\r' <"$WORK/headers" | awk -v name="$1" 'tolower($1) == tolower(name) ":" { sub(/^[^:]*: */, ""); print }'
}

# expect_problem STATUS ACTUAL WHAT DETAIL_REGEX: a problem+json reply whose
# detail says what to fix.
expect_problem() {
	expect "$1" "$2" "$3"
	header Content-Type | grep -q '^application/problem+json' ||
		fail "$3: the reply is not application/problem+json"
	[ "$(body .status)" = "$1" ] || fail "$3: problem status is not $1"
	body .type | grep -q '^urn:coopbill:problem:' || fail "$3: problem has no type"
	body .detail | grep -Eq -- "$4" || fail "$3: detail \"$(body .detail)\" does not match /$4/"
}

# signature_verifies TEXT SIGNATURE_LINE KEY: whether the signature line (as
# a published tariff or label carries it) is the log key's (a verifier key
# line, GET /api/v1/log/key) over TEXT and a newline, checked with openssl
# alone, as a member would without coopbill.
signature_verifies() {
	python3 - "$1" "$2" "$3" <<'PY'
import base64, subprocess, sys, tempfile, os
text, sig_line, key = sys.argv[1] + "\n", sys.argv[2], sys.argv[3].strip()
name, key_hash, key_b64 = key.split("+", 2)
raw = base64.b64decode(key_b64)[1:]
sig = base64.b64decode(sig_line.split(" ")[2])[4:]
der = bytes.fromhex("302a300506032b6570032100") + raw
d = tempfile.mkdtemp()
open(os.path.join(d, "k.der"), "wb").write(der)
open(os.path.join(d, "m"), "wb").write(text.encode())
open(os.path.join(d, "s"), "wb").write(sig)
subprocess.run(["openssl", "pkey", "-pubin", "-inform", "DER", "-in", os.path.join(d, "k.der"),
                "-out", os.path.join(d, "k.pem")], check=True)
subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", os.path.join(d, "k.pem"),
                "-rawin", "-in", os.path.join(d, "m"), "-sigfile", os.path.join(d, "s")],
               check=True, stdout=subprocess.DEVNULL)
PY
}

finish() {
	echo "$PASSED passed, 0 failed"
}
