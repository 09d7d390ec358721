#!/usr/bin/env bash
# HTTP beside the reference: nginx (one worker, answering from memory a body
# of the same size and headers as the daemon's reply) and coopbilld on
# GET /api/v1/me (a token checked), GET /healthz (the database pinged) and a
# month of usage by day (one household's, asked again and again, which the
# daemon answers from the reply it keeps while nothing is committed; and a
# hundred households' in turn, which it reads from the database each time),
# each with wrk -t2 -c64 -d10s, the two servers taking turns so that both see
# the same load on the machine.
# Prints requests/s, p50, p99 and each server's CPU time a request per run
# and the ratio to nginx, the median ratio per route against its target, and
# the daemon's memory under the load.
# usage: bench/http.sh COOPBILLD   (scripts/bench passes the built daemon)
#        BENCH_HTTP_RUNS=N         alternated runs per route (default 3)
set -euo pipefail
coopbilld=$1
runs=${BENCH_HTTP_RUNS:-3}
work=$(mktemp -d /tmp/coopbill-bench.XXXXXX)
pid=
nginx_pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	[ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_for() {
	for _ in $(seq 1 100); do curl -fsS "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done
	echo "nothing answers at $1" >&2
	return 1
}

port=$(free_port)
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
base=http://127.0.0.1:$port
wait_for "$base/healthz"
auth="Authorization: Bearer $token"

# Households with last month's usage hour by hour, as the meter leaves a
# month behind it: rolled up into hourly totals (the roll-up's watermark at
# this hour) and daily ones. Without nftables here, the hourly rows are
# written straight into the database, as the meter's commits would be, and
# the daily totals marked to be made again, which the daemon does when it
# starts again, between requests; the query asks for that month by day (the
# cooperative's time zone is UTC by default).
month_start=$(date -u -d "$(date -u +%Y-%m-01) -1 month" +%Y-%m-%d)
month_end=$(date -u +%Y-%m-01)
curl -fsS -H "$auth" -H 'Content-Type: application/json' \
	-d "{\"name\": \"Bench\", \"addresses\": [\"10.0.1.10\"], \"joined_at\": \"$month_start\"}" \
	"$base/api/v1/households" >"$work/household.json"
household=$(jq -r .id "$work/household.json")
# A hundred more, whose ids (100 to 199) all have three digits: their
# replies are all of one size.
for i in $(seq 2 199); do
	curl -fsS -o /dev/null -H "$auth" -H 'Content-Type: application/json' \
		-d "{\"name\": \"Bench $i\", \"joined_at\": \"$month_start\"}" "$base/api/v1/households"
done
from_s=$(date -u -d "$month_start" +%s)
to_s=$(date -u -d "$month_end" +%s)
now_s=$(date -u +%s)
sqlite3 "$work/coopbill.db" "PRAGMA busy_timeout = 5000;
	WITH RECURSIVE hours(t) AS (SELECT $from_s UNION ALL SELECT t + 3600 FROM hours WHERE t + 3600 < $to_s)
	INSERT INTO usage_hourly (hour_start, household_id, bytes_up, bytes_down, local_up, local_down)
	SELECT t, id, 1000003 * (t / 3600 % 24 + 1), 7000019 * (t / 3600 % 97), 0, 0 FROM hours, households
	WHERE id = $household OR id >= 100;
	UPDATE meter_state SET rolled_up_to = $now_s - $now_s % 3600, daily_zone = NULL;" >/dev/null
kill "$pid"
wait "$pid" || true
"$coopbilld" --config "$work/coopbill.conf" 2>>"$work/daemon.log" &
pid=$!
wait_for "$base/healthz"
for _ in $(seq 1 100); do grep -q 'daily usage totals made' "$work/daemon.log" && break; sleep 0.1; done
grep -q 'daily usage totals made' "$work/daemon.log" ||
	{ echo "the daemon did not make the daily usage totals" >&2; exit 1; }
usage_query="usage?from=${month_start}T00:00:00Z&to=${month_end}T00:00:00Z&step=day"
usage_path="/api/v1/households/$household/$usage_query"
# Households 100 to 199 in turn, each of wrk's two threads half the round
# apart: the same series comes again a hundred requests later, long after
# the 16 the daemon keeps are replaced.
cat >"$work/each.lua" <<LUA
local threads = 0
function setup(thread)
	thread:set("offset", threads * 50)
	threads = threads + 1
end
local i = 0
function request()
	i = i + 1
	return wrk.format(nil, "/api/v1/households/" .. (100 + (offset + i) % 100) .. "/$usage_query")
end
LUA

# nginx answers each route with the daemon's own reply, from memory.
names=(me healthz usage usage-each)
paths=(/api/v1/me /healthz "$usage_path" "/api/v1/households/100/$usage_query")
scripts=("" "" "" "$work/each.lua")
targets=(0.8 0.8 0.5 none)
mkdir -p "$work/nginx"
nginx_port=$(free_port)
locations=
for i in "${!names[@]}"; do
	body=$(curl -fsS -H "$auth" "$base${paths[$i]}")
	case $body in *"'"* | *'$'* | *'\'*)
		echo "the reply of ${paths[$i]} holds a character nginx's return would change" >&2
		exit 1
		;;
	esac
	locations+="location = /${names[$i]} { return 200 '$body'; }"$'\n'
	printf '%-10s %6d bytes\n' "${names[$i]}" "${#body}" >>"$work/sizes"
done
cat >"$work/nginx/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $work/nginx/body;
	proxy_temp_path $work/nginx/proxy;
	fastcgi_temp_path $work/nginx/fastcgi;
	uwsgi_temp_path $work/nginx/uwsgi;
	scgi_temp_path $work/nginx/scgi;
	# The daemon keeps a connection for any number of requests.
	keepalive_requests 100000000;
	server {
		listen 127.0.0.1:$nginx_port;
		default_type application/json;
		add_header Cache-Control no-store;
		add_header X-Content-Type-Options nosniff;
		$locations
	}
}
CONF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
nginx_pid=$!
wait_for "http://127.0.0.1:$nginx_port/me"
for i in "${!names[@]}"; do
	[ "$(curl -fsS "http://127.0.0.1:$nginx_port/${names[$i]}" | wc -c)" = \
		"$(curl -fsS -H "$auth" "$base${paths[$i]}" | wc -c)" ] ||
		{ echo "nginx's /${names[$i]} is not the size of the daemon's reply" >&2; exit 1; }
done

rss_idle=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
nginx_worker=$(pgrep -P "$nginx_pid")
ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# One wrk run against the server of process $1; prints requests/s, p50 and
# p99 in ms, the server's CPU time per request in µs (which the other
# processes on the machine disturb less than they do the rest), and what
# went wrong.
measure() {
	local server=$1 before
	shift
	before=$(cpu_ticks "$server")
	wrk -t2 -c64 -d10s --latency "$@" >"$work/wrk.out"
	awk -v cpu=$(($(cpu_ticks "$server") - before)) -v ticks="$ticks" 'function ms(t) {
		if (t ~ /us$/) return t / 1000
		if (t ~ /ms$/) return t + 0
		if (t ~ /m$/) return t * 60000
		return t * 1000
	}
	/^Requests\/sec/ { rps = $2 }
	$1 == "50%" { p50 = ms($2) }
	$1 == "99%" { p99 = ms($2) }
	/Non-2xx|Socket errors/ { sub(/^ +/, ""); gsub(/ /, "_"); errors = errors $0 }
	END { printf "%.0f %.2f %.2f %.1f %s\n", rps, p50, p99, (rps > 0 ? cpu * 1e6 / ticks / (rps * 10) : 0), errors }' "$work/wrk.out"
}

echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) before the runs"
echo "bodies:"
sed 's/^/  /' "$work/sizes"
printf '%-10s %3s  %-34s %-34s %s\n' route run "nginx req/s p50 p99 (ms) CPU (µs)" \
	"coopbilld req/s p50 p99 (ms) CPU (µs)" "ratio"
rss_peak=0
for run in $(seq 1 "$runs"); do
	for i in "${!names[@]}"; do
		read -r n_rps n_p50 n_p99 n_cpu n_err < <(measure "$nginx_worker" \
			"http://127.0.0.1:$nginx_port/${names[$i]}")
		# The daemon's memory halfway through its run.
		(sleep 5 && awk '/^VmRSS/ { print $2 }' "/proc/$pid/status" >"$work/rss") &
		sampler=$!
		read -r c_rps c_p50 c_p99 c_cpu c_err < <(measure "$pid" -H "$auth" \
			${scripts[$i]:+-s "${scripts[$i]}"} "$base${paths[$i]}")
		wait "$sampler"
		rss=$(cat "$work/rss")
		[ "$rss" -gt "$rss_peak" ] && rss_peak=$rss
		ratio=$(awk -v c="$c_rps" -v n="$n_rps" 'BEGIN { printf "%.2f", (n > 0 ? c / n : 0) }')
		echo "${names[$i]} $ratio $c_p99 $n_cpu $c_cpu" >>"$work/ratios"
		printf '%-10s %3d  %8s %6s %7s %6s      %8s %6s %7s %6s      %s %s\n' "${names[$i]}" \
			"$run" "$n_rps" "$n_p50" "$n_p99" "$n_cpu" "$c_rps" "$c_p50" "$c_p99" "$c_cpu" \
			"$ratio" "$n_err$c_err"
	done
done
median() {
	sort -n | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
for i in "${!names[@]}"; do
	ratio=$(awk -v r="${names[$i]}" '$1 == r { print $2 }' "$work/ratios" | median)
	p99=$(awk -v r="${names[$i]}" '$1 == r { print $3 }' "$work/ratios" | median)
	n_cpu=$(awk -v r="${names[$i]}" '$1 == r { print $4 }' "$work/ratios" | median)
	c_cpu=$(awk -v r="${names[$i]}" '$1 == r { print $5 }' "$work/ratios" | median)
	printf '%-30s %4s of nginx (target %s), p99 %s ms%s, CPU %s µs a request against %s\n' \
		"${names[$i]}, median of $runs runs:" "$ratio" "${targets[$i]}" "$p99" \
		"$(case ${names[$i]} in usage*) ;; *) echo ' (target under 5)' ;; esac)" "$c_cpu" "$n_cpu"
done
printf '%-30s %s KiB\n' "coopbilld RSS idle:" "$rss_idle"
printf '%-30s %s KiB (target under 30720)\n' "coopbilld RSS under the load:" "$rss_peak"
echo "machine: load average $(cut -d' ' -f1-3 /proc/loadavg) after the runs"
