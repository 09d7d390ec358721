#!/usr/bin/env bash
# The HTTP server against an attacker on the LAN: connection floods,
# slowloris, bodies sent to be buffered, and ambiguous framing. Raw sockets
# from several loopback source addresses come from attacker.py.
. "$(dirname "$0")/lib.sh"

ATTACKER="$(dirname "$0")/attacker.py"

# fresh_healthz WHAT LIMIT_S: a new client gets /healthz within LIMIT_S
# seconds; the time it took is printed.
fresh_healthz() {
	local result
	result=$(curl -sS -o "$WORK/body" -w '%{http_code} %{time_total}' --max-time "$2" \
		"$BASE/healthz" 2>&1) || fail "$1: no answer to /healthz within $2 s ($result)"
	[ "${result%% *}" = 200 ] || fail "$1: /healthz answered ${result%% *}"
	ok "$1 (/healthz in ${result#* } s)"
}

# raw REQUEST_FORMAT...: sends one request made with printf from a
# plain socket; the status on stdout, the headers and body in $WORK/headers
# and $WORK/body, as req does.
raw() {
	# shellcheck disable=SC2059
	printf "$@" | python3 "$ATTACKER" raw "$PORT" >"$WORK/raw"
	python3 - "$WORK" <<'PY'
import sys
reply = open(sys.argv[1] + "/raw", "rb").read()
head, _, body = reply.partition(b"\r\n\r\n")
open(sys.argv[1] + "/headers", "wb").write(head + b"\r\n")
open(sys.argv[1] + "/body", "wb").write(body)
print(head.split(b" ")[1].decode() if head else "none")
PY
}

# stop_clean: the daemon stops on SIGTERM with status 0 (under ASan, also
# without leaks).
stop_clean() {
	stop_daemon
	[ "$STOP_STATUS" = 0 ] || fail "coopbilld exited with status $STOP_STATUS"
}

# The daemon's memory may peak at RSS_LIMIT_MIB in the bodies test; ASan's
# quarantine and redzones keep more, so it gets more room.
RSS_LIMIT_MIB=64
[ -n "${ASAN_OPTIONS:-}" ] && RSS_LIMIT_MIB=160

# peak_rss_mib: the daemon's peak resident memory so far, in MiB.
peak_rss_mib() {
	awk '/^VmHWM:/ { print int($2 / 1024) }' "/proc/$DAEMON_PID/status"
}

write_config "max_body_bytes = 1024"
start_daemon
ADMIN=$(admin_token)

# 4. Framing: whatever two parsers could read two ways is refused, with a
# problem document, before any body is read.
status=$(raw "POST /api/v1/households HTTP/1.1\r\nHost: coop\r\nAuthorization: Bearer $ADMIN\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}")
expect_problem 400 "$status" "two Content-Length headers are refused" '2 Content-Length'
status=$(raw "POST /api/v1/households HTTP/1.1\r\nHost: coop\r\nAuthorization: Bearer $ADMIN\r\nTransfer-Encoding:\r\n chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
expect_problem 400 "$status" "a folded Transfer-Encoding is refused" 'folded'
status=$(raw "POST /api/v1/households HTTP/1.1\r\nHost: coop\r\nAuthorization: Bearer $ADMIN\r\nX-Note: a\r\n Transfer-Encoding: chunked\r\n\r\n")
expect_problem 400 "$status" "a header folded onto another is refused" 'folded'
status=$(raw "POST /api/v1/households HTTP/1.1\r\nHost: coop\r\nAuthorization: Bearer $ADMIN\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
expect_problem 501 "$status" "a transfer coding other than chunked is refused at once" 'gzip, chunked'
big=$(head -c 4096 /dev/zero | tr '\0' ' ')
status=$(raw "POST /api/v1/households HTTP/1.1\r\nHost: coop\r\nAuthorization: Bearer $ADMIN\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n$big\r\n0\r\n\r\n")
expect_problem 413 "$status" "a chunked body over max_body_bytes gets 413" 'limit of 1024 bytes'
# libmicrohttpd's own refusals of these were a header block sent twice, and
# a connection closed without a word.
status=$(raw "GET /healthz HTTP/1.1\r\n\r\n")
expect_problem 400 "$status" "an HTTP/1.1 request without Host is refused" '0 Host headers'
status=$(raw "GET /healthz HTTP/1.1\r\nHost: coop\r\nHost: evil\r\n\r\n")
expect_problem 400 "$status" "a request with two Hosts is refused" '2 Host headers'
status=$(raw "GET /api/v1/households/1 /healthz HTTP/1.1\r\nHost: coop\r\n\r\n")
expect_problem 400 "$status" "white space in the target is refused" 'white space'
status=$(raw "GET /healthz HTTP/1.0\r\n\r\n")
expect 200 "$status" "an HTTP/1.0 request needs no Host"
status=$(req GET /api/v1/households%00/2 "$ADMIN")
expect_problem 400 "$status" "%00 in the path is refused, not cut short" 'NUL'
status=$(raw "GET /api/v1/households\0/2 HTTP/1.1\r\nHost: coop\r\nAuthorization: Bearer $ADMIN\r\n\r\n")
expect_problem 400 "$status" "a raw NUL byte in the path is refused" 'NUL'
status=$(req GET '/api/v1/usage/summary?from=2026-11-01%00x' "$ADMIN")
expect_problem 400 "$status" "%00 in a query value is refused" 'NUL'
status=$(req GET /api/v1/households/%ff "$ADMIN")
expect_problem 400 "$status" "a path that is not UTF-8 gets a problem document" 'UTF-8'
status=$(req GET '/api/v1/usage/summary?from=%c3%28' "$ADMIN")
expect_problem 400 "$status" "a query that is not UTF-8 gets a problem document" 'UTF-8'
status=$(req GET /api/v1/tariffs/%c3%a9 "$ADMIN")
expect_problem 404 "$status" "a path in UTF-8 is named in the 404" 'é'
# libmicrohttpd 0.9.75 refuses a malformed Cookie itself and never
# completes that request: the daemon must not wait for it when it stops, nor
# leak it (ASan).
status=$(raw "GET /healthz HTTP/1.1\r\nHost: coop\r\nCookie: a=\"\r\n\r\n")
expect 431 "$status" "a malformed Cookie is refused"
status=$(req GET /healthz)
expect 200 "$status" "the server still answers after all this"
stop_clean
grep -q 'still in flight' "$WORK/daemon.log" && fail "the daemon waited for a request it never began"
ok "the daemon stops without waiting for requests libmicrohttpd refused"

# 3. Bodies: a request without a valid token is refused before its body is
# read, and the bodies being received share a bounded amount of memory.
write_config
start_daemon
ADMIN=$(admin_token)
counts=$(python3 "$ATTACKER" bodies "$PORT" 256 8 1000000)
echo "# 256 x 1 MB without a token: $counts"
echo "$counts" | grep -Eq "^401 [0-9]+( closed [0-9]+)?$" ||
	fail "bodies without a token: $counts"
ok "1 MB bodies without a token are answered 401 ($counts)"
rss=$(peak_rss_mib)
[ "$rss" -lt "$RSS_LIMIT_MIB" ] || fail "the daemon's peak RSS is $rss MiB after bodies without a token"
ok "the daemon's peak RSS stays under $RSS_LIMIT_MIB MiB after bodies without a token ($rss MiB)"
counts=$(python3 "$ATTACKER" bodies "$PORT" 128 4 1000000 "$ADMIN")
echo "# 128 x 1 MB with the admin token: $counts"
echo "$counts" | grep -q '503 ' || fail "no body was refused for memory: $counts"
echo "$counts" | grep -Eq '(^| )400 ' || fail "no body was read: $counts"
ok "1 MB bodies past body_memory_bytes are answered 503 ($counts)"
rss=$(peak_rss_mib)
[ "$rss" -lt "$RSS_LIMIT_MIB" ] || fail "the daemon's peak RSS is $rss MiB"
ok "the daemon's peak RSS stays under $RSS_LIMIT_MIB MiB after bodies with a token ($rss MiB)"
stop_clean

# 2. Slowloris: a request's headers must be in within header_timeout_s,
# however slowly they trickle.
write_config "header_timeout_s = 2"
start_daemon
took=$(python3 "$ATTACKER" trickle "$PORT" 10)
awk -v t="$took" 'BEGIN { exit !(t >= 1.5 && t <= 4) }' ||
	fail "a connection trickling its headers was closed after $took s, not about 2 s"
ok "a connection trickling its headers is closed after header_timeout_s ($took s)"
stop_clean

write_config
start_daemon

# 1. A flood of idle connections, held and then closed, must not leave the
# server deaf: it listens again as soon as its table has room.
python3 "$ATTACKER" flood "$PORT" 600 20 10 >/dev/null
fresh_healthz "after 600 idle connections from 20 addresses, a new client is served" 1
python3 "$ATTACKER" flood "$PORT" 2000 20 5 >/dev/null
fresh_healthz "after 2000 idle connections from 20 addresses, a new client is served" 1

# 2. While 320 connections from 10 addresses trickle header lines (more than
# the 256 the server holds, and reconnecting when dropped), a client that
# sends its request is served, before any of them reaches its deadline.
python3 "$ATTACKER" slowloris "$PORT" 320 10 12 "$WORK/slowloris-ready" &
SLOWLORIS_PID=$!
for _ in $(seq 1 100); do
	[ -e "$WORK/slowloris-ready" ] && break
	sleep 0.1
done
[ -e "$WORK/slowloris-ready" ] || fail "the slowloris connections did not open within 10 s"
sleep 1
for i in 1 2 3; do
	fresh_healthz "a new client is served while 320 slow connections are held ($i)" 1
	sleep 1
done
kill "$SLOWLORIS_PID" 2>/dev/null || true
wait "$SLOWLORIS_PID" 2>/dev/null || true
stop_clean

finish
