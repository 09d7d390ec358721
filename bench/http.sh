#!/usr/bin/env bash
# HTTP baseline: GET /api/v1/me (token lookup in SQLite + JSON reply) under wrk
# with keep-alive, and the daemon's resident memory idle and after the load.
# usage: bench/http.sh COOPBILLD   (scripts/bench passes the built daemon)
set -euo pipefail
coopbilld=$1
work=$(mktemp -d /tmp/coopbill-bench.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/coopbill.conf" <<CONF
[server]
listen = 127.0.0.1:$port
# wrk's 64 connections all come from one address.
max_connections_per_ip = 64
[database]
path = $work/coopbill.db
[meter]
# This benchmark runs in the host's network namespace: no nftables here.
enabled = false
CONF
token=$("$coopbilld" --config "$work/coopbill.conf" token create --role admin --name bench)
"$coopbilld" --config "$work/coopbill.conf" 2>"$work/daemon.log" &
pid=$!
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
sleep 1
rss_idle=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")

wrk -t2 -c64 -d10s --latency -H "Authorization: Bearer $token" \
	"http://127.0.0.1:$port/api/v1/me" >"$work/wrk.out"
rps=$(awk '/^Requests\/sec/ { print $2 }' "$work/wrk.out")
p50=$(awk '$1 == "50%" { print $2 }' "$work/wrk.out")
p99=$(awk '$1 == "99%" { print $2 }' "$work/wrk.out")
errors=$(awk '/Non-2xx|Socket errors/' "$work/wrk.out")
rss_after=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")

printf '%-44s %s\n' "GET /api/v1/me, wrk -t2 -c64 -d10s:" "$rps requests/s, p50 $p50, p99 $p99"
[ -n "$errors" ] && printf '%-44s %s\n' "wrk reported:" "$errors"
printf '%-44s %s KiB\n' "coopbilld RSS idle:" "$rss_idle"
printf '%-44s %s KiB\n' "coopbilld RSS after the load:" "$rss_after"
