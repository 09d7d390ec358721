#!/usr/bin/env bash
# Three gateways, one ledger: three coopbilld daemons, each in a network
# namespace of its own with a household and an upstream behind it, share one
# PostgreSQL database (a throwaway cluster with a synchronous standby,
# tests/postgres/cluster.sh). Households made through one gateway's API are
# counted by the gateway they name, with real traffic; the bytes stored
# equal the kernels' counters exactly, through kill -9 of a gateway
# mid-traffic, a database that hangs mid-traffic (when /healthz and the
# public routes answer within a second all the same) and a standby
# promoted mid-traffic; a period closed from two gateways at once is closed
# once; coopbill-verify accepts the one log.
# Root only (namespaces, and the cluster run as nobody): exit 77 otherwise.
set -euo pipefail

: "${COOPBILLD:?}" "${COOPBILL_VERIFY:?}" "${COOPBILL_SRCDIR:?}"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root for network namespaces and the cluster"; exit 77; }
for tool in ip nft socat curl jq ss sysctl; do
	command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
TOPO=cbg$$
ip netns add "$TOPO-probe" 2>/dev/null || { echo "SKIP: cannot create network namespaces"; exit 77; }
ip netns del "$TOPO-probe"
. "$COOPBILL_SRCDIR/tests/postgres/cluster.sh"

GATEWAYS="1 2 3"
WORK=$(mktemp -d /tmp/coopbill-gateways.XXXXXX)
declare -A PID=()
PASSED=0

cleanup() {
	local i ns pids
	for i in $GATEWAYS; do
		[ -z "${PID[$i]:-}" ] || kill -9 "${PID[$i]}" 2>/dev/null || true
	done
	for i in $GATEWAYS; do
		for ns in g h u; do
			pids=$(ip netns pids "$TOPO-$ns$i" 2>/dev/null || true)
			[ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
			ip netns del "$TOPO-$ns$i" 2>/dev/null || true
		done
	done
	wait 2>/dev/null
	pg_cluster_stop
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
	local i
	echo "FAIL: $*" >&2
	for i in $GATEWAYS; do
		echo "--- gateway $i's log (last 15 lines) ---" >&2
		tail -15 "$WORK/g$i/daemon.log" >&2 2>/dev/null || true
	done
	exit 1
}
ok() {
	PASSED=$((PASSED + 1))
	echo "ok $PASSED - $*"
}

in_ns() {
	local ns=$TOPO-$1
	shift
	ip netns exec "$ns" "$@"
}

# Gateway i: namespace g$i forwards between its household (h$i, 10.0.1.10:
# the same private range behind every gateway) and its upstream (u$i).
topology_up() {
	local i
	for i in $GATEWAYS; do
		for ns in g h u; do
			ip netns add "$TOPO-$ns$i"
			in_ns "$ns$i" ip link set lo up
		done
		in_ns "g$i" sysctl -qw net.ipv4.ip_forward=1
		ip link add "gh$i" netns "$TOPO-g$i" type veth peer name h0 netns "$TOPO-h$i"
		ip link add "gu$i" netns "$TOPO-g$i" type veth peer name u0 netns "$TOPO-u$i"
		in_ns "g$i" ip link set "gh$i" up
		in_ns "g$i" ip link set "gu$i" up
		in_ns "h$i" ip link set h0 up
		in_ns "u$i" ip link set u0 up
		in_ns "g$i" ip addr add 10.0.1.1/24 dev "gh$i"
		in_ns "g$i" ip addr add 203.0.113.254/24 dev "gu$i"
		in_ns "h$i" ip addr add 10.0.1.10/24 dev h0
		in_ns "h$i" ip route add default via 10.0.1.1
		in_ns "u$i" ip addr add 203.0.113.1/24 dev u0
		in_ns "u$i" ip route add 10.0.0.0/16 via 203.0.113.254
		in_ns "u$i" socat -u TCP-LISTEN:5001,reuseaddr,fork OPEN:/dev/null &
	done
}

write_config() {
	local i=$1
	mkdir -p "$WORK/g$i"
	cat >"$WORK/g$i/coopbill.conf" <<CONF
[server]
listen = 127.0.0.1:8080
[database]
url = $PG_URL
path = $WORK/g$i/coopbill.db
[meter]
interval_s = 1
wait_for_ntp = false
gateway = village-$i
[billing]
currency = EUR
timezone = UTC
CONF
}

# start_gateway I: its daemon in its namespace, once it answers.
start_gateway() {
	local i=$1
	ip netns exec "$TOPO-g$i" "$COOPBILLD" --config "$WORK/g$i/coopbill.conf" \
		2>>"$WORK/g$i/daemon.log" &
	PID[$i]=$!
	for _ in $(seq 1 100); do
		in_ns "g$i" curl -fsS http://127.0.0.1:8080/healthz >/dev/null 2>&1 && return 0
		kill -0 "${PID[$i]}" 2>/dev/null || fail "gateway $i exited during start-up"
		sleep 0.1
	done
	fail "gateway $i did not answer"
}

kill_gateway() {
	kill -9 "${PID[$1]}"
	wait "${PID[$1]}" 2>/dev/null || true
	PID[$1]=
}

# api I METHOD PATH [BODY]: gateway I's API, as the treasurer.
api() {
	local args=(-sS -H "Authorization: Bearer $ADMIN" -X "$2")
	[ -n "${4:-}" ] && args+=(-d "$4")
	in_ns "g$1" curl "${args[@]}" "http://127.0.0.1:8080$3"
}

polls() {
	in_ns "g$1" curl -sS http://127.0.0.1:8080/healthz | jq -r '.meter.polls // 0'
}

# wait_polls N: until every gateway committed N more polls.
wait_polls() {
	local i target
	for i in $GATEWAYS; do
		target=$(($(polls "$i") + $1))
		for _ in $(seq 1 150); do
			[ "$(polls "$i")" -ge "$target" ] && continue 2
			sleep 0.1
		done
		fail "gateway $i did not poll"
	done
}

# kernel I ID up|down: gateway I's counter of a household ("" when none).
kernel() {
	in_ns "g$1" nft -j list counters table inet coopbill |
		jq -r --arg name "$3_$2" '.nftables[] | select(.counter.name == $name) | .counter.bytes'
}

# stored VIA ID up|down: what gateway VIA's API reports for the household.
stored() {
	api "$1" GET "/api/v1/households/$2/usage?from=$FROM&to=$TO&step=hour" |
		jq -r ".total.bytes_$3"
}

send() { # gateway, bytes
	head -c "$2" /dev/zero | in_ns "h$1" socat -u - TCP:203.0.113.1:5001
}

# Every household's bytes, as each gateway's API reports them, equal its own
# gateway's kernel counters, plus what counters it had before were drained
# of (BASE_up and BASE_down, by household).
declare -A BASE_up=() BASE_down=()
assert_exact() {
	local i via dir k s base
	for i in $GATEWAYS; do
		for dir in up down; do
			k=$(kernel "$i" "${ID[$i]}" "$dir")
			[ -n "$k" ] || fail "gateway $i has no counter ${dir}_${ID[$i]}"
			base=BASE_$dir[$i]
			k=$((k + ${!base:-0}))
			for via in $GATEWAYS; do
				s=$(stored "$via" "${ID[$i]}" "$dir")
				[ "$s" = "$k" ] ||
					fail "household ${ID[$i]} $dir: $s bytes through gateway $via, $k in gateway $i's kernel ($1)"
			done
		done
	done
	ok "every household's bytes, through every gateway's API, equal its kernel's counters ($1)"
}

FROM=$(date -u -d "@$(($(date +%s) / 3600 * 3600 - 3600))" +%Y-%m-%dT%H:%M:%SZ)
TO=$(date -u -d "@$(($(date +%s) / 3600 * 3600 + 7200))" +%Y-%m-%dT%H:%M:%SZ)
THIS=$(date -u +%Y-%m)
PREV=$(date -u -d "$THIS-01 -1 month" +%Y-%m)

chmod 755 "$WORK"
pg_cluster_start "$WORK/pg"
pg_standby_start
topology_up
ok "a primary with a synchronous standby, and three gateways with a household each"

# The first gateway makes the schema and the log key; the others get its key.
for i in $GATEWAYS; do write_config "$i"; done
start_gateway 1
for i in 2 3; do
	cp -p "$WORK/g1/log.key" "$WORK/g$i/log.key"
	start_gateway "$i"
done
ok "three daemons on one database, the log key copied from the first"

out=$(ip netns exec "$TOPO-g1" "$COOPBILLD" --config "$WORK/g1/coopbill.conf" 2>&1) &&
	fail "a second daemon of gateway 1 started"
grep -q 'another coopbilld meters gateway village-1' <<<"$out" ||
	fail "a second daemon of gateway 1 said: $out"
ok "a second daemon of the same gateway is refused, and says why"

ADMIN=$("$COOPBILLD" --config "$WORK/g1/coopbill.conf" token create --role admin --name test)
declare -A ID=()
for i in $GATEWAYS; do
	ID[$i]=$(api 1 POST /api/v1/households \
		"{\"name\":\"H$i\",\"addresses\":[\"10.0.1.10\"],\"gateway\":\"village-$i\",\"joined_at\":\"$PREV-01\"}" |
		jq -r .id)
	[[ "${ID[$i]}" =~ ^[0-9]+$ ]] || fail "household of gateway $i not created: ${ID[$i]}"
done
for i in $GATEWAYS; do
	for _ in $(seq 1 100); do
		[ -n "$(kernel "$i" "${ID[$i]}" up)" ] && continue 2
		sleep 0.1
	done
	fail "gateway $i did not provision household ${ID[$i]}, made through gateway 1"
done
for i in 2 3; do
	[ -z "$(kernel "$i" "${ID[1]}" up)" ] || fail "gateway $i counts gateway 1's household"
done
ok "households made through gateway 1 are provisioned by the gateways they name, and only there"

for i in $GATEWAYS; do send "$i" $((i * 700000)); done
wait_polls 2
assert_exact "after known traffic"
up2=$(stored 3 "${ID[2]}" up)
[ "$up2" -ge 1400000 ] && [ "$up2" -lt 1600000 ] || fail "H2 sent 1.4 MB, stored $up2"
ok "each household is counted by its own gateway, though all share one address range"

# kill -9 of gateway 2 while its household sends, mid-poll; then more.
(for _ in $(seq 1 10); do send 2 300000; done) &
traffic=$!
sleep 1.3
kill_gateway 2
wait "$traffic"
start_gateway 2
send 2 250000
wait_polls 2
assert_exact "after kill -9 of gateway 2 mid-traffic"

# The database hangs (its processes stopped) while the households send:
# each gateway's loop goes on without it. /healthz answers at once, saying
# the database is slow; a public route answers; the treasurer's request
# waits, and is answered once the database is back; the kernels count on,
# and the next commits catch up exactly.
pids=()
for i in $GATEWAYS; do
	(for _ in $(seq 1 6); do send "$i" 150000; done) &
	pids+=($!)
done
pg_primary_pause
sleep 2.5
for i in $GATEWAYS; do
	start=$(date +%s%N)
	in_ns "g$i" curl -sS --max-time 5 -o "$WORK/health" http://127.0.0.1:8080/healthz ||
		fail "gateway $i's /healthz did not answer with the database hung"
	in_ns "g$i" curl -fsS --max-time 5 -o /dev/null http://127.0.0.1:8080/api/v1/cooperative ||
		fail "gateway $i's GET /api/v1/cooperative did not answer with the database hung"
	took=$((($(date +%s%N) - start) / 1000000))
	[ "$took" -lt 1000 ] ||
		fail "gateway $i took $took ms for /healthz and /api/v1/cooperative with the database hung"
	jq -e '.status == "degraded" and .database == "slow"' "$WORK/health" >/dev/null ||
		fail "gateway $i's /healthz with the database hung: $(cat "$WORK/health")"
done
api 2 GET /api/v1/households >"$WORK/waited" &
waiter=$!
sleep 0.5
kill -0 "$waiter" 2>/dev/null ||
	fail "the treasurer's request was answered with the database hung: $(cat "$WORK/waited")"
ok "with the database hung, every gateway answers /healthz (degraded, database slow) and a public route within a second ($took ms at gateway 3)"
pg_primary_resume
wait "$waiter"
[ "$(jq '.households | length' "$WORK/waited")" = 3 ] ||
	fail "the treasurer's request made while the database hung: $(cat "$WORK/waited")"
wait "${pids[@]}"
wait_polls 2
assert_exact "after the database hung mid-traffic"

# A household moved from gateway 3 to gateway 1 through gateway 2's API
# (with an address of its own there: gateway 1's household has 10.0.1.10):
# gateway 3 drains it, gateway 1 counts it from new counters.
send 3 111111
wait_polls 2
before=$(stored 1 "${ID[3]}" up)
# move FROM TO ADDRESS: household 3 from gateway FROM to TO, through gateway
# 2's API; until TO counts it and FROM has drained it.
move() {
	api 2 PATCH "/api/v1/households/${ID[3]}" "{\"gateway\":\"village-$2\",\"addresses\":[\"$3\"]}" |
		jq -e ".gateway == \"village-$2\"" >/dev/null || fail "the move to gateway $2 was refused"
	for _ in $(seq 1 100); do
		[ -n "$(kernel "$2" "${ID[3]}" up)" ] && [ -z "$(kernel "$1" "${ID[3]}" up)" ] && return
		sleep 0.1
	done
	fail "household ${ID[3]} is not on gateway $2 alone: $(kernel "$2" "${ID[3]}" up) there," \
		"$(kernel "$1" "${ID[3]}" up) on gateway $1"
}
move 3 1 10.0.1.30
[ "$(stored 1 "${ID[3]}" up)" = "$before" ] || fail "the move lost or added bytes"
ok "a household moved between gateways by a third is drained by one and taken by the other"
move 1 3 10.0.1.10
# Back on gateway 3, from new counters: what it counted before is stored.
wait_polls 1
BASE_up[3]=$(stored 1 "${ID[3]}" up)
BASE_down[3]=$(stored 1 "${ID[3]}" down)
[ "$(kernel 3 "${ID[3]}" up)" = 0 ] || fail "gateway 3 took household ${ID[3]} back with counts"

# The standby promoted while every household sends.
pids=()
for i in $GATEWAYS; do
	(for _ in $(seq 1 8); do send "$i" 200000; done) &
	pids+=($!)
done
sleep 1
pg_primary_stop
# Until the standby is promoted, no host takes writes: the gateways say so,
# and their kernels go on counting.
for _ in $(seq 1 50); do
	in_ns g1 curl -s -o "$WORK/health" http://127.0.0.1:8080/healthz || true
	jq -e '.status == "degraded" and .database == "unreachable"' "$WORK/health" >/dev/null 2>&1 &&
		break
	sleep 0.2
done
jq -e '.status == "degraded" and .database == "unreachable"' "$WORK/health" >/dev/null ||
	fail "/healthz with the primary gone: $(cat "$WORK/health")"
status=$(in_ns g2 curl -sS -o "$WORK/body" -w '%{http_code}' -H "Authorization: Bearer $ADMIN" \
	http://127.0.0.1:8080/api/v1/households)
[ "$status" = 503 ] || fail "the API with the primary gone: $status $(cat "$WORK/body")"
ok "with the primary gone, /healthz says degraded (database unreachable) and the API 503"
sleep 1
pg_promote
for _ in $(seq 1 100); do
	status=$(in_ns g1 curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/healthz)
	[ "$status" = 200 ] && break
	sleep 0.2
done
wait "${pids[@]}"
wait_polls 3
assert_exact "after the standby was promoted mid-traffic"
grep -q 'unreachable\|poll failed' "$WORK"/g*/daemon.log ||
	fail "no gateway noticed the primary gone"
ok "the gateways went on with the promoted standby"

# The previous month, closed from gateways 1 and 3 at once: once.
tariff=$(jq -nc --arg from "$PREV-01" '{
  name: "Village", currency: "EUR", valid_from: $from,
  emergency: {reason: "the test bills the month that just ended"},
  fixed_fee: {amount_minor: 1000, prorate: false},
  usage_charges: [{name: "Download", direction: "down", tiers: [{price_per_gb_minor: 10}]}]}')
TARIFF=$(api 1 POST /api/v1/tariffs "$tariff" | jq -r .id)
api 1 POST "/api/v1/tariffs/$TARIFF/publish" >/dev/null

# A gateway in the middle of the close holds its claim: a session that
# holds it as a closing daemon would, idle between statements, then dies as
# a killed one does.
mkfifo "$WORK/holder"
"${PSQL[@]}" -h "$PG_STANDBY_SOCK" -d coopbill <"$WORK/holder" >/dev/null 2>&1 &
holder=$!
exec 3>"$WORK/holder"
echo "SELECT pg_advisory_lock(1668050803, hashtext('$PREV'));" >&3
for _ in $(seq 1 50); do
	[ "$("${PSQL[@]}" -h "$PG_STANDBY_SOCK" -d coopbill -c "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 1668050803")" = 1 ] && break
	sleep 0.1
done
api 2 POST "/api/v1/periods/$PREV/close" >"$WORK/claimed"
jq -e '.status == 409 and (.detail | test("being closed by another gateway"))' "$WORK/claimed" \
	>/dev/null || fail "a close while another gateway closes: $(cat "$WORK/claimed")"
kill -9 "$holder"
wait "$holder" 2>/dev/null || true
exec 3>&-
ok "a close asked while another gateway closes is refused (409 close-in-progress)"
in_ns g1 curl -sS -o "$WORK/close1" -w '%{http_code}' -X POST -H "Authorization: Bearer $ADMIN" \
	"http://127.0.0.1:8080/api/v1/periods/$PREV/close" >"$WORK/status1" &
c1=$!
in_ns g3 curl -sS -o "$WORK/close3" -w '%{http_code}' -X POST -H "Authorization: Bearer $ADMIN" \
	"http://127.0.0.1:8080/api/v1/periods/$PREV/close" >"$WORK/status3" &
c3=$!
wait "$c1" "$c3"
for i in 1 3; do
	case $(cat "$WORK/status$i") in
	200) ;;
	409) jq -e '.type | test("close-in-progress")' "$WORK/close$i" >/dev/null ||
		fail "gateway $i's 409: $(cat "$WORK/close$i")" ;;
	*) fail "closing through gateway $i: $(cat "$WORK/status$i") $(cat "$WORK/close$i")" ;;
	esac
done
grep -q 200 "$WORK/status1" "$WORK/status3" || fail "neither gateway closed the month"
api 2 POST "/api/v1/periods/$PREV/close" >"$WORK/close2"
[ "$(jq -r .households "$WORK/close2")" = 3 ] || fail "the close: $(cat "$WORK/close2")"
[ "$("${PSQL[@]}" -h "$PG_STANDBY_SOCK" -d coopbill -c "SELECT count(*) FROM invoices WHERE period = '$PREV'")" = 3 ] ||
	fail "invoices of $PREV: not one per household"
[ "$("${PSQL[@]}" -h "$PG_STANDBY_SOCK" -d coopbill -c "SELECT count(*) FROM log_entries WHERE position('period-closed' in convert_from(entry, 'UTF8')) > 0")" = 1 ] ||
	fail "the log does not hold exactly one period-closed entry"
ok "after that gateway died, the month closed from two gateways at once (answers $(cat "$WORK/status1") and $(cat "$WORK/status3")) is closed once: one invoice each, one log entry"

key=$(in_ns g1 curl -sS http://127.0.0.1:8080/api/v1/log/key)
in_ns g2 "$COOPBILL_VERIFY" http://127.0.0.1:8080 "$key" >"$WORK/verify" 2>&1 ||
	fail "coopbill-verify: $(cat "$WORK/verify")"
ok "coopbill-verify accepts the one log the three gateways wrote"
echo "passed $PASSED"
