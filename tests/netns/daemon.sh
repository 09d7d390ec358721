# The daemon under test, run in the gateway namespace of topology.sh, and the
# helpers the netns tests share: start and stop it, ask its API, wait for
# polls, read the kernel's counters, report checks. Sourced by a netns test
# after it sets TOPO; skips the test (exit 77) where it cannot run. The
# arguments are further tools the test needs.
#
# Usage: TOPO=cbx$$; . daemon.sh [TOOL...]; topo_up; (write $CONFIG);
#        start_daemon; create_households; ...; stop_daemon

: "${COOPBILLD:?}" "${COOPBILL_SRCDIR:?}" "${TOPO:?set TOPO to a short unique prefix}"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root for network namespaces"; exit 77; }
for tool in ip nft socat curl jq ss sysctl "$@"; do
	command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
probe="${TOPO}-probe"
ip netns add "$probe" 2>/dev/null || { echo "SKIP: cannot create network namespaces"; exit 77; }
ip netns del "$probe"

. "$COOPBILL_SRCDIR/tests/netns/topology.sh"
WORK=$(mktemp -d /tmp/coopbill-netns.XXXXXX)
CONFIG=$WORK/coopbill.conf
API=http://127.0.0.1:8080
DAEMON_PID=
PASSED=0
cleanup() {
	# Under set -e a failed kill (a daemon that died by itself) would end
	# the trap here and leave the namespaces behind.
	[ -z "$DAEMON_PID" ] || kill -9 "$DAEMON_PID" 2>/dev/null || true
	topo_down
	wait 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	echo "--- daemon log (last 30 lines) ---" >&2
	tail -30 "$WORK/daemon.log" >&2 || true
	exit 1
}
ok() {
	PASSED=$((PASSED + 1))
	echo "ok $PASSED - $*"
}

# start_daemon: coopbilld with $CONFIG in the gateway, once it answers.
start_daemon() {
	# Not through a shell function: $! must be the daemon itself.
	ip netns exec "$(topo_ns gw)" "$COOPBILLD" --config "$CONFIG" 2>>"$WORK/daemon.log" &
	DAEMON_PID=$!
	for _ in $(seq 1 100); do
		topo_exec gw curl -fsS "$API/healthz" >/dev/null 2>&1 && return 0
		kill -0 "$DAEMON_PID" 2>/dev/null || fail "coopbilld exited during start-up"
		sleep 0.1
	done
	fail "coopbilld did not answer"
}

# kill_daemon: kill -9, as a crash would.
kill_daemon() {
	kill -9 "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=
}

# stop_daemon: SIGTERM, after which the daemon must exit 0.
stop_daemon() {
	kill -TERM "$DAEMON_PID"
	wait "$DAEMON_PID" || fail "SIGTERM did not exit 0"
	DAEMON_PID=
}

# api METHOD PATH [BODY]: as the treasurer; the body on stdout.
api() {
	local args=(-sS -H "Authorization: Bearer $ADMIN" -X "$1")
	[ -n "${3:-}" ] && args+=(-d "$3")
	topo_exec gw curl "${args[@]}" "$API$2"
}

# create_households: the treasurer's token (ADMIN) and households A, B and C
# of the topology (their ids in A, B and C).
create_households() {
	ADMIN=$(topo_exec gw "$COOPBILLD" --config "$CONFIG" token create --role admin --name test)
	A=$(api POST /api/v1/households '{"name": "A", "addresses": ["10.0.1.10", "10.0.1.11"], "joined_at": "2026-11-01"}' | jq -r .id)
	B=$(api POST /api/v1/households '{"name": "B", "addresses": ["10.0.2.10/32", "2001:db8:2::/64"], "joined_at": "2026-11-01"}' | jq -r .id)
	C=$(api POST /api/v1/households '{"name": "C", "addresses": ["10.0.3.10/32"], "joined_at": "2026-11-01"}' | jq -r .id)
	[ "$A" = 1 ] && [ "$B" = 2 ] && [ "$C" = 3 ] || fail "households not created: $A $B $C"
}

# usage_window: FROM and TO, the hours around now, for the usage API.
usage_window() {
	FROM=$(date -u -d "@$(( $(date +%s) / 3600 * 3600 - 3600 ))" +%Y-%m-%dT%H:%M:%SZ)
	TO=$(date -u -d "@$(( $(date +%s) / 3600 * 3600 + 7200 ))" +%Y-%m-%dT%H:%M:%SZ)
}

polls() {
	topo_exec gw curl -fsS "$API/healthz" | jq -r .meter.polls
}

# wait_polls N: waits until N more polls have been committed.
wait_polls() {
	local target=$(($(polls) + $1))
	for _ in $(seq 1 100); do
		[ "$(polls)" -ge "$target" ] && return 0
		sleep 0.1
	done
	fail "the meter did not poll"
}

# kernel ID up|down|lup|ldown: the kernel's byte count of a household's
# counter ("" when there is none).
kernel() {
	topo_exec gw nft -j list counters table inet coopbill |
		jq -r --arg name "$2_$1" '.nftables[] | select(.counter.name == $name) | .counter.bytes'
}

# table_shape: the table as nft lists it, without the counters' values.
table_shape() {
	topo_exec gw nft list table inet coopbill | sed 's/packets [0-9]* bytes [0-9]*//'
}

# add_other_table, other_table_untouched: a table of someone else's, which
# the daemon must never touch.
add_other_table() {
	topo_exec gw nft add table inet other
	topo_exec gw nft add counter inet other keep
}
other_table_untouched() {
	topo_exec gw nft list counter inet other keep >/dev/null || fail "another table was touched"
	ok "another table survives untouched"
}
