#!/usr/bin/env bash
# Metering end to end with real nftables: a gateway namespace runs coopbilld,
# households in their own namespaces move known amounts of data through it,
# and the bytes the API reports must equal, exactly, what the kernel counted —
# through kill -9, counter resets, a deleted table and restarts.
set -euo pipefail

TOPO=cbt$$
. "$COOPBILL_SRCDIR/tests/netns/daemon.sh"

topo_up
ok "topology: gateway, upstream and three households"

cat >"$CONFIG" <<CONF
[server]
listen = 127.0.0.1:8080
[database]
path = $WORK/coopbill.db
[meter]
interval_s = 1
wait_for_ntp = false
CONF
usage_window
# billed ID up|down: what the API reports for the household.
billed() {
	api GET "/api/v1/households/$1/usage?from=$FROM&to=$TO&step=hour" | jq -r ".total.bytes_$2"
}

assert_billed_equals_kernel() {
	local id dir k b
	for id in $A $B $C; do
		for dir in up down; do
			k=$(kernel "$id" "$dir")
			b=$(billed "$id" "$dir")
			[ -n "$k" ] || fail "no kernel counter ${dir}_$id"
			[ "$b" = "$k" ] || fail "household $id $dir: API $b bytes, kernel $k bytes ($1)"
		done
	done
	ok "API equals the kernel's counters for every household ($1)"
}

start_daemon
create_households
topo_exec gw nft list table inet coopbill >"$WORK/table"
grep -q '10.0.1.10 : "up_1"' "$WORK/table" && grep -q '2001:db8:2::/64 : "down_2"' "$WORK/table" ||
	fail "the households' ranges are not in the kernel: $(cat "$WORK/table")"
ok "creating households provisions their counters and ranges in the kernel"

# Known traffic: A uploads from both its addresses and downloads; B over IPv6.
topo_sink up 5001
topo_source up 5002 2000000
topo_wait_port up 5001 && topo_wait_port up 5002 || fail "upstream servers did not start"
topo_send a 1000000 "$TOPO_UPSTREAM4" 5001 10.0.1.10
topo_send a 500000 "$TOPO_UPSTREAM4" 5001 10.0.1.11
got=$(topo_fetch a "$TOPO_UPSTREAM4" 5002)
[ "$got" = 2000000 ] || fail "download to A moved $got bytes"
topo_send b 300000 "[$TOPO_UPSTREAM6]" 5001
got=$(topo_fetch b "[$TOPO_UPSTREAM6]" 5002)
[ "$got" = 2000000 ] || fail "download to B moved $got bytes"
sleep 0.3
wait_polls 2
assert_billed_equals_kernel "after known traffic"

a_up=$(billed "$A" up) a_down=$(billed "$A" down) b_up=$(billed "$B" up) b_down=$(billed "$B" down)
[ "$a_up" -ge 1500000 ] && [ "$a_up" -lt 1700000 ] || fail "A uploaded 1.5 MB, billed $a_up"
[ "$a_down" -ge 2000000 ] && [ "$a_down" -lt 2200000 ] || fail "A downloaded 2 MB, billed $a_down"
[ "$b_up" -ge 300000 ] && [ "$b_up" -lt 400000 ] || fail "B uploaded 0.3 MB, billed $b_up"
[ "$b_down" -ge 2000000 ] && [ "$b_down" -lt 2300000 ] || fail "B downloaded 2 MB, billed $b_down"
[ "$(billed "$C" up)" = 0 ] && [ "$(billed "$C" down)" = 0 ] || fail "C moved nothing but was billed"
ok "each household is billed for its own traffic (payload plus headers), not its neighbour's"

# kill -9 during traffic, restart: nothing lost, nothing counted twice.
( for _ in $(seq 1 20); do topo_send c 400000 "$TOPO_UPSTREAM4" 5001; done ) &
traffic=$!
sleep 0.5
kill_daemon
wait "$traffic"
start_daemon
topo_send c 250000 "$TOPO_UPSTREAM4" 5001
sleep 0.3
wait_polls 2
assert_billed_equals_kernel "after kill -9 during traffic and a restart"
[ "$(billed "$C" up)" -ge 8250000 ] || fail "C sent 8.25 MB, billed $(billed "$C" up)"

# A counter reset: a gap, and never a huge number.
topo_send a 100000 "$TOPO_UPSTREAM4" 5001
wait_polls 2
before=$(billed "$A" up)
topo_exec gw nft reset counters table inet coopbill >/dev/null
wait_polls 2
after=$(billed "$A" up)
[ "$after" -ge "$before" ] && [ "$after" -lt $((before + 1000000)) ] ||
	fail "after a reset A's upload went from $before to $after"
gaps=$(api GET "/api/v1/households/$A/usage?from=$FROM&to=$TO&step=hour" | jq '[.gaps[] | select(.reason == "counter-reset")] | length')
[ "$gaps" -ge 1 ] || fail "the reset was not recorded as a gap"
ok "nft reset counters records a gap and no huge number"
topo_send a 123456 "$TOPO_UPSTREAM4" 5001
sleep 0.3
wait_polls 2
up_now=$(billed "$A" up)
[ "$up_now" -eq $((after + $(kernel "$A" up))) ] ||
	fail "after the reset, A billed $up_now, expected $after + $(kernel "$A" up)"
ok "after a reset, traffic counts again from the new value"

# The table deleted while the daemon runs: recreated, with a gap.
topo_exec gw nft delete table inet coopbill
wait_polls 2
topo_exec gw nft list table inet coopbill >/dev/null 2>&1 || fail "the table was not recreated"
recreated=$(api GET "/api/v1/households/$B/usage?from=$FROM&to=$TO&step=hour" | jq '[.gaps[] | select(.reason == "counter-recreated")] | length')
[ "$recreated" -ge 1 ] || fail "the recreation was not recorded as a gap"
ok "a deleted table is recreated and the loss recorded as a gap"
before=$(billed "$B" down)
got=$(topo_fetch b "[$TOPO_UPSTREAM6]" 5002)
sleep 0.3
wait_polls 2
[ "$(billed "$B" down)" -eq $((before + $(kernel "$B" down))) ] || fail "B not counted after recreation"
ok "traffic is counted again after the recreation"

# Another table is never touched; starting twice changes nothing.
add_other_table
table_shape >"$WORK/before"
billed_all() {
	local id
	for id in $A $B $C; do echo "$id $(billed "$id" up) $(billed "$id" down)"; done
}
billed_all >"$WORK/billed-before"
stop_daemon
start_daemon
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID" || true
DAEMON_PID=
start_daemon
table_shape >"$WORK/after"
diff -u "$WORK/before" "$WORK/after" || fail "restarting changed the table"
ok "starting twice changes nothing in the kernel"
other_table_untouched
billed_all >"$WORK/billed-after"
diff -u "$WORK/billed-before" "$WORK/billed-after" || fail "restarts without traffic changed the bills"
ok "restarts without traffic change no household's usage"

# Changing and closing a household reaches the kernel in the same request.
# (The table is listed into a variable first: with pipefail, grep -q ending
# the pipe early would fail nft with SIGPIPE, and so the check.)
reply=$(api PATCH "/api/v1/households/$C" '{"addresses": ["10.0.3.0/24"]}')
table=$(topo_exec gw nft list table inet coopbill)
grep -q "10.0.3.0/24 : \"up_$C\"" <<<"$table" || fail "PATCH did not reach the kernel: $reply"
ok "PATCH of addresses changes the kernel's ranges"
topo_send c 50000 "$TOPO_UPSTREAM4" 5001
c_before=$(kernel "$C" up)
api PATCH "/api/v1/households/$C" '{"status": "closed", "left_at": "2026-11-29"}' >/dev/null
table=$(topo_exec gw nft list table inet coopbill)
if grep -q '10\.0\.3\.' <<<"$table"; then
	fail "closing did not remove the ranges"
fi
wait_polls 3
topo_exec gw nft list counter inet coopbill up_3 >/dev/null 2>&1 && fail "a closed household's counters stayed"
[ "$(billed "$C" up)" -ge "$c_before" ] || fail "a closed household's last traffic was lost"
ok "closing removes the ranges, commits the last traffic, then removes the counters"

# A household moved to another gateway: this gateway's kernel counts its
# traffic up to the move (commits it, then removes its counters) and none
# after; moved back, it is counted again from a new counter.
base=$(($(billed "$B" up) - $(kernel "$B" up)))
topo_send b 200000 "[$TOPO_UPSTREAM6]" 5001
sleep 0.3
moved_at=$(kernel "$B" up)
reply=$(api PATCH "/api/v1/households/$B" '{"gateway": "village"}')
[ "$(jq -r .gateway <<<"$reply")" = village ] || fail "PATCH of the gateway: $reply"
table=$(topo_exec gw nft list table inet coopbill)
if grep -q '2001:db8:2::/64' <<<"$table"; then
	fail "moving B to another gateway left its ranges in this one's kernel"
fi
wait_polls 3
topo_exec gw nft list counter inet coopbill "up_$B" >/dev/null 2>&1 &&
	fail "the counters of a household moved away stayed"
[ "$(billed "$B" up)" -eq $((base + moved_at)) ] ||
	fail "B moved away: billed $(billed "$B" up), expected $((base + moved_at))"
topo_send b 300000 "[$TOPO_UPSTREAM6]" 5001
wait_polls 2
[ "$(billed "$B" up)" -eq $((base + moved_at)) ] ||
	fail "traffic after B moved to another gateway was counted here: $(billed "$B" up)"
ok "a household moved to another gateway is counted here up to the move, and not after"
api PATCH "/api/v1/households/$B" '{"gateway": "main"}' >/dev/null
topo_send b 70000 "[$TOPO_UPSTREAM6]" 5001
sleep 0.3
wait_polls 2
back=$(kernel "$B" up)
[ "$back" -ge 70000 ] || fail "B moved back: its new counter shows $back bytes"
[ "$(billed "$B" up)" -eq $((base + moved_at + back)) ] ||
	fail "B moved back: billed $(billed "$B" up), expected $((base + moved_at + back))"
ok "moved back, the household is counted here again from a new counter"

# Flow offload bypasses the counters: the meter says it is degraded.
topo_exec gw nft add table inet flowtest
if topo_exec gw nft add flowtable inet flowtest ft '{ hook ingress priority 0; devices = { gw-a }; }' 2>/dev/null; then
	wait_polls 2
	state=$(topo_exec gw curl -fsS "$API/healthz" | jq -r .meter.state)
	[ "$state" = degraded ] || fail "with a flowtable the meter is $state"
	ok "a flowtable makes the meter report degraded"
else
	echo "skip - this kernel has no flowtables (CONFIG_NF_FLOW_TABLE)"
fi
topo_exec gw nft delete table inet flowtest

# Members read their own usage only; the treasurer's summary covers everyone.
MEMBER=$(api POST "/api/v1/households/$A/tokens" '' | jq -r .token)
code=$(topo_exec gw curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $MEMBER" "$API/api/v1/households/$B/usage?from=$FROM&to=$TO&step=hour")
[ "$code" = 403 ] || fail "a member read another household's usage: $code"
topo_exec gw curl -fsS -H "Authorization: Bearer $MEMBER" -H 'Accept: text/csv' \
	"$API/api/v1/households/$A/usage?from=$FROM&to=$TO&step=hour" >"$WORK/usage.csv"
head -1 "$WORK/usage.csv" | grep -q '^start,bytes_up,bytes_down' || fail "usage CSV header"
ok "a member reads their own usage (CSV too), not a neighbour's"
summary=$(api GET "/api/v1/usage/summary?from=$FROM&to=$TO")
[ "$(jq -r ".households[] | select(.household_id == $A) | .bytes_up" <<<"$summary")" = "$(billed "$A" up)" ] ||
	fail "the summary disagrees with the household's usage"
ok "the usage summary agrees with each household's usage"

# A daemon started as another gateway meters none of these households, and
# says what to do about it.
stop_daemon
sed -i 's/^wait_for_ntp = false$/wait_for_ntp = false\ngateway = village-9/' "$CONFIG"
start_daemon
grep -q 'no active household is on gateway village-9 (\[meter\] gateway); 2 are on other gateways' \
	"$WORK/daemon.log" || fail "no warning that no household is on gateway village-9"
table=$(topo_exec gw nft list table inet coopbill)
if grep -q '10\.0\.1\.10' <<<"$table"; then
	fail "gateway village-9 put another gateway's household in its kernel"
fi
ok "a daemon of another gateway leaves these households out of its kernel, and says so"

stop_daemon
echo "$PASSED passed, 0 failed"
