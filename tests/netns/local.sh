#!/usr/bin/env bash
# Internet and local traffic counted apart ([meter] uplinks), with real
# nftables and real traffic: household A sends known amounts to household B,
# to a community server on another inner interface of the gateway and to the
# upstream host; what crossed the uplink is internet traffic, the rest local,
# and each scope's usage equals the kernel's counters to the byte — while the
# uplink is deleted and made again, through kill -9, counter resets (a gap in
# each scope) and reloads that set and unset the uplinks.
set -euo pipefail

TOPO=cbl$$
. "$COOPBILL_SRCDIR/tests/netns/daemon.sh" sqlite3

topo_up
topo_server_up
ok "topology: gateway, upstream, three households and a community server"

# write_config UPLINKS: the daemon's configuration with these uplinks.
write_config() {
	cat >"$CONFIG" <<CONF
[server]
listen = 127.0.0.1:8080
[database]
path = $WORK/coopbill.db
[meter]
interval_s = 1
wait_for_ntp = false
uplinks = $1
[billing]
currency = EUR
timezone = UTC
CONF
}
write_config gw-up
DB=$WORK/coopbill.db

# stored ID bytes_up|bytes_down|local_up|local_down: the household's usage
# as the meter committed it.
stored() {
	sqlite3 "$DB" "SELECT coalesce(sum($2), 0) FROM usage_buckets WHERE household_id = $1"
}

# Each scope's usage equals the kernel's counters since the last reset, plus
# what was committed before it (the offsets, 0 until a reset).
declare -A OFFSET
assert_stored_equals_kernel() {
	local id column counter k s
	for id in $A $B $C; do
		for pair in bytes_up:up bytes_down:down local_up:lup local_down:ldown; do
			column=${pair%%:*} counter=${pair##*:}
			k=$(kernel "$id" "$counter")
			[ -n "$k" ] || fail "no kernel counter ${counter}_$id ($1)"
			s=$(stored "$id" "$column")
			[ "$s" = $((k + ${OFFSET[$id.$counter]:-0})) ] ||
				fail "household $id $column: stored $s bytes, kernel $k + ${OFFSET[$id.$counter]:-0} ($1)"
		done
	done
	ok "internet and local usage equal the kernel's counters for every household ($1)"
}

start_daemon
create_households
table=$(topo_exec gw nft list table inet coopbill)
for want in 'set uplinks' '"gw-up"' 'oifname @uplinks' 'iifname != @uplinks' \
	'10.0.1.10 : "lup_1"' '2001:db8:2::/64 : "ldown_2"' 'counter lup_3' 'counter ldown_3'; do
	grep -qF "$want" <<<"$table" || fail "the table lacks $want: $table"
done
ok "with uplinks, each household has local counters and maps beside its internet ones"

topo_sink up 5001
topo_sink b 5003
topo_sink srv 5004
topo_source srv 5005 600000
for where in "up 5001" "b 5003" "srv 5004" "srv 5005"; do
	# shellcheck disable=SC2086
	topo_wait_port $where || fail "server $where did not start"
done

# A: 1 MB to the upstream, 700 kB to B, 400 kB to the server, 600 kB from it.
topo_send a 1000000 "$TOPO_UPSTREAM4" 5001 10.0.1.10
topo_send a 700000 10.0.2.10 5003 10.0.1.11
topo_send a 400000 10.0.9.10 5004
got=$(topo_fetch a 10.0.9.10 5005)
[ "$got" = 600000 ] || fail "download from the server to A moved $got bytes"
sleep 0.3
wait_polls 2
assert_stored_equals_kernel "after known traffic"

a_up=$(stored "$A" bytes_up) a_lup=$(stored "$A" local_up) a_ldown=$(stored "$A" local_down)
b_ldown=$(stored "$B" local_down)
[ "$a_up" -ge 1000000 ] && [ "$a_up" -lt 1100000 ] || fail "A sent 1 MB upstream, internet up $a_up"
[ "$a_lup" -ge 1100000 ] && [ "$a_lup" -lt 1250000 ] || fail "A sent 1.1 MB locally, local up $a_lup"
[ "$a_ldown" -ge 600000 ] && [ "$a_ldown" -lt 700000 ] || fail "A fetched 600 kB locally, local down $a_ldown"
[ "$b_ldown" -ge 700000 ] && [ "$b_ldown" -lt 800000 ] || fail "B received 700 kB from A, local down $b_ldown"
[ "$(stored "$B" bytes_up)" = 0 ] && [ "$(stored "$B" bytes_down)" = 0 ] ||
	fail "B never used the uplink, yet has internet traffic"
ok "only what crossed the uplink is internet traffic; A to B and to the server is local"

# Metered traffic billed: A follows a tariff that also prices local traffic,
# B one that prices internet traffic only. Each line bills the bytes the
# meter committed, and the local line's amount is worked out here (rounded
# half up, per line).
month=$(date -u +%Y-%m-01)
tariff() {
	jq -nc --arg from "$month" --arg name "$1" '{name: $name, currency: "EUR", valid_from: $from,
		emergency: {reason: "the test bills the month its traffic is in"},
		usage_charges: [{name: "Internet", direction: "both", tiers: [{price_per_gb_minor: 1000000}]}]}'
}
publish() {
	local id
	id=$(api POST /api/v1/tariffs "$1" | jq -r .id)
	[ "$(api POST "/api/v1/tariffs/$id/publish" | jq -r .id)" = "$id" ] || fail "tariff $id not published"
	echo "$id"
}
with_local=$(publish "$(tariff "With local" | jq -c '.usage_charges += [{name: "Neighbours",
	direction: "both", scope: "local", tiers: [{price_per_gb_minor: 300000}]}]')")
internet_only=$(publish "$(tariff "Internet only")")
api PATCH "/api/v1/households/$A" "{\"tariff_id\": $with_local}" >/dev/null
api PATCH "/api/v1/households/$B" "{\"tariff_id\": $internet_only}" >/dev/null
a_internet=$(($(stored "$A" bytes_up) + $(stored "$A" bytes_down)))
a_local=$(($(stored "$A" local_up) + $(stored "$A" local_down)))
estimate=$(api GET "/api/v1/households/$A/estimate")
[ "$(jq -c '[.lines[] | select(.kind == "usage") | .quantity]' <<<"$estimate")" = "[$a_internet,$a_local]" ] ||
	fail "A's usage lines do not bill the metered bytes ($a_internet, $a_local): $estimate"
[ "$(jq '[.lines[] | select(.kind == "usage")][1].amount_minor' <<<"$estimate")" = \
	$(((a_local * 300000 * 2 + 1000000000) / 2000000000)) ] ||
	fail "A's local line: $(jq -c '.lines' <<<"$estimate")"
ok "a tariff with a local price bills the local traffic metered, to the minor unit"
estimate=$(api GET "/api/v1/households/$B/estimate")
b_local=$(($(stored "$B" local_up) + $(stored "$B" local_down)))
[ "$(jq '[.lines[] | select(.explain | contains("local traffic"))] | length' <<<"$estimate")" = 0 ] &&
	[ "$b_local" -ge 700000 ] &&
	[ "$(jq .usage.local_uncharged_bytes <<<"$estimate")" = "$b_local" ] ||
	fail "B's local traffic ($b_local bytes) is not left free: $estimate"
ok "a tariff without a local price leaves the local traffic metered free"

# The uplink deleted and made again with the same name while local traffic
# flows: matched by name, it is counted again once back.
( for _ in $(seq 1 10); do topo_send a 200000 10.0.2.10 5003; sleep 0.05; done ) &
traffic=$!
topo_exec gw ip link del gw-up
sleep 0.3
topo_uplink_up
wait "$traffic" || fail "local traffic failed while the uplink was away"
topo_wait_port up 5001 || true
sleep 0.5
before=$(kernel "$A" up)
topo_send a 300000 "$TOPO_UPSTREAM4" 5001
sleep 0.3
wait_polls 2
[ $(($(kernel "$A" up) - before)) -ge 300000 ] || fail "the uplink made again is not matched"
assert_stored_equals_kernel "after the uplink was deleted and made again"

# kill -9 during mixed traffic, restart: both scopes exact.
( for _ in $(seq 1 15); do
	topo_send c 300000 "$TOPO_UPSTREAM4" 5001
	topo_send c 300000 10.0.9.10 5004
done ) &
traffic=$!
sleep 0.5
kill_daemon
wait "$traffic"
start_daemon
sleep 0.3
wait_polls 2
assert_stored_equals_kernel "after kill -9 during mixed traffic and a restart"
[ "$(stored "$C" bytes_up)" -ge 4500000 ] && [ "$(stored "$C" local_up)" -ge 4500000 ] ||
	fail "C sent 4.5 MB each way, stored $(stored "$C" bytes_up) and $(stored "$C" local_up)"

# A counter reset: a gap in each scope.
for id in $A $B $C; do
	for counter in up down lup ldown; do
		OFFSET[$id.$counter]=$(( ${OFFSET[$id.$counter]:-0} + $(kernel "$id" "$counter") ))
	done
done
topo_exec gw nft reset counters table inet coopbill >/dev/null
topo_send a 50000 "$TOPO_UPSTREAM4" 5001
topo_send a 50000 10.0.2.10 5003
sleep 0.3
wait_polls 2
for scope in internet local; do
	n=$(sqlite3 "$DB" "SELECT count(*) FROM meter_gaps WHERE household_id = $A AND scope = '$scope' AND reason = 'counter-reset'")
	[ "$n" -ge 1 ] || fail "no $scope gap for A after a reset"
done
usage_window
gaps=$(api GET "/api/v1/households/$A/usage?from=$FROM&to=$TO&step=hour" |
	jq -c '[.gaps[] | .scope] | unique')
[ "$gaps" = '["internet","local"]' ] || fail "the API's gaps have scopes $gaps"
assert_stored_equals_kernel "after nft reset counters"
ok "nft reset counters records a gap in each scope"

# A reload without uplinks: local counters and rules go, all traffic is
# internet traffic again; with them again, local counters come back.
local_before=$(stored "$A" local_up)
write_config ""
kill -HUP "$DAEMON_PID"
for _ in $(seq 1 50); do
	table=$(topo_exec gw nft list table inet coopbill)
	grep -q lup_ <<<"$table" || break
	sleep 0.1
done
grep -qE 'lup_|uplinks' <<<"$table" && fail "without uplinks the local counters stayed: $table"
[ "$(stored "$A" local_up)" -ge "$local_before" ] || fail "local traffic lost on reload"
before=$(stored "$A" bytes_up)
topo_send a 100000 10.0.2.10 5003
sleep 0.3
wait_polls 2
[ $(($(stored "$A" bytes_up) - before)) -ge 100000 ] || fail "without uplinks, A to B is not internet traffic"
ok "a reload without uplinks counts all traffic as internet traffic, with two counters each"
grep -q 'uplinks is not set' "$WORK/daemon.log" || fail "the daemon did not say that uplinks is not set"
ok "the daemon says so, and names an uplink to set"

# The local counters made again start from nothing: what was stored before
# is their offset.
for id in $A $B $C; do
	OFFSET[$id.lup]=$(stored "$id" local_up)
	OFFSET[$id.ldown]=$(stored "$id" local_down)
done
write_config "gw-up wg0"
kill -HUP "$DAEMON_PID"
for _ in $(seq 1 50); do
	table=$(topo_exec gw nft list table inet coopbill)
	grep -q lup_ <<<"$table" && break
	sleep 0.1
done
names=$(topo_exec gw nft -j list set inet coopbill uplinks | jq -c '[.nftables[].set.elem // empty | .[]] | sort')
[ "$names" = '["gw-up","wg0"]' ] || fail "the uplinks set is $names, not gw-up and wg0"
topo_send a 80000 10.0.2.10 5003
sleep 0.3
wait_polls 2
assert_stored_equals_kernel "after a reload that sets uplinks again"
n=$(sqlite3 "$DB" "SELECT count(*) FROM meter_gaps WHERE scope = 'local' AND reason = 'counter-recreated'")
[ "$n" = 0 ] || fail "local counters made again were taken for recreated ones ($n gaps)"
ok "a reload with uplinks again brings local counters back, without gaps"

# Another table is never touched; starting again changes nothing.
add_other_table
table_shape >"$WORK/before"
stop_daemon
start_daemon
table_shape >"$WORK/after"
diff -u "$WORK/before" "$WORK/after" || fail "restarting with uplinks changed the table"
ok "starting again with uplinks changes nothing in the kernel"
other_table_untouched

stop_daemon
echo "$PASSED passed, 0 failed"
