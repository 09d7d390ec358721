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

write_config
start_daemon

# 1. A flood of idle connections, held and then closed, must not leave the
# server deaf: it listens again as soon as its table has room.
python3 "$ATTACKER" flood "$PORT" 600 20 10 >/dev/null
fresh_healthz "after 600 idle connections from 20 addresses, a new client is served" 1
python3 "$ATTACKER" flood "$PORT" 2000 20 5 >/dev/null
fresh_healthz "after 2000 idle connections from 20 addresses, a new client is served" 1

finish
