#!/usr/bin/env bash
# The soak: a gateway in network namespaces meters five households' real
# traffic while the treasurer's writes go on (households added, moved to
# another tariff and closed, payments, usage imports, the last month
# closed) and coopbilld is killed with kill -9 at 100 random moments (the
# seed is printed; COOPBILL_SOAK_SEED replays one, COOPBILL_SOAK_KILLS
# changes the count) and started again. Then
# the same on a small file system that fills up and frees again while
# traffic flows. After each: the usage recorded equals, byte for byte, what
# the kernel counted for every household in both directions; every invoice
# was issued once; every write the client saw acknowledged (2xx) is there;
# the log verifies with coopbill-verify; and PRAGMA integrity_check is ok.
set -euo pipefail
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR

TOPO=cbs$$
: "${COOPBILL_VERIFY:?COOPBILL_VERIFY must name the coopbill-verify binary}"
. "$COOPBILL_SRCDIR/tests/netns/daemon.sh" sqlite3 mount dd
SEED=${COOPBILL_SOAK_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
echo "seed $SEED (COOPBILL_SOAK_SEED=$SEED replays this run)"
RANDOM=$SEED
KILLS=${COOPBILL_SOAK_KILLS:-100}
HOUSES="a b c d e"
DISK=$WORK/disk
soak_cleanup() {
	local status=$? name job
	if [ "$status" != 0 ] && [ -f "$WORK/statuses" ]; then
		echo "--- the last replies to the treasurer's writes ---" >&2
		tail -5 "$WORK/statuses" >&2
	fi
	touch "$WORK/stop" 2>/dev/null || true
	for job in $(jobs -p); do kill "$job" 2>/dev/null || true; done
	for name in d e; do
		ip netns pids "$(topo_ns "$name")" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
		ip netns del "$(topo_ns "$name")" 2>/dev/null || true
	done
	mountpoint -q "$DISK" 2>/dev/null && umount -l "$DISK"
	cleanup
}
trap soak_cleanup EXIT
# meson's timeout sends SIGTERM: clean up then too.
trap 'exit 1' INT TERM HUP

THIS=$(date -u +%Y-%m)
PREV=$(date -u -d "$THIS-01 -1 month" +%Y-%m)
NEXT=$(date -u -d "$THIS-01 +1 month" +%Y-%m)
# Imported usage goes to the 10th of last month, far from the metered hours.
IMPORT_FROM=$(date -u -d "$PREV-10T00:00:00Z" +%s)
T0=$(($(date +%s) / 300 * 300))

# Five households, each with an IPv4 address and an IPv6 /64: a, b and c
# from the start, d and e added on the way.
addr4() { echo "10.0.$1.10"; }
addr6() { echo "2001:db8:$1::10"; }
num() { case $1 in a) echo 1 ;; b) echo 2 ;; c) echo 3 ;; d) echo 4 ;; e) echo 5 ;; esac; }
for name in gw up $HOUSES; do
	ip netns add "$(topo_ns "$name")"
	topo_exec "$name" ip link set lo up
done
topo_exec gw sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
topo_uplink_up
for name in $HOUSES; do
	n=$(num "$name")
	topo_link "$name" "gw-$name" "${name}0"
	topo_exec gw ip addr add "10.0.$n.1/24" dev "gw-$name"
	topo_exec gw ip addr add "2001:db8:$n::1/64" dev "gw-$name" nodad
	topo_exec "$name" ip addr add "$(addr4 "$n")/24" dev "${name}0"
	topo_exec "$name" ip addr add "$(addr6 "$n")/64" dev "${name}0" nodad
	topo_exec "$name" ip route add default via "10.0.$n.1"
	topo_exec "$name" ip -6 route add default via "2001:db8:$n::1"
done
topo_sink up 5001
topo_source up 5002 100000
topo_wait_port up 5001 && topo_wait_port up 5002 || fail "upstream servers did not start"
ok "topology: gateway, upstream and five households"

write_config() {
	cat >"$CONFIG" <<CONF
[server]
listen = 127.0.0.1:8080
[database]
path = $1/coopbill.db
[meter]
interval_s = 1
wait_for_ntp = false
[log]
origin = soak.example/log
[billing]
currency = EUR
timezone = UTC
CONF
}
mkdir "$WORK/db"
write_config "$WORK/db"
start_daemon
ADMIN=$(topo_exec gw "$COOPBILLD" --config "$CONFIG" token create --role admin --name soak)
KEY=$(topo_exec gw curl -fsS "$API/api/v1/log/key")

# call METHOD PATH [JSON]: as the treasurer; the status in ST ("000" when
# no reply came), the body in $BODY (a file for each writer). Every status
# is kept in $WORK/statuses with what was asked.
call() {
	BODY=$WORK/w.body.$BASHPID
	rm -f "$BODY"
	ST=$(topo_exec gw curl -sS -m 20 -o "$BODY" -w '%{http_code}' -X "$1" \
		-H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
		${3:+--data-binary "$3"} "$API$2" 2>/dev/null) || true
	printf '%s %s %s %s\n' "$ST" "$1" "$2" "$(head -c 300 "$BODY" 2>/dev/null | tr '\n' ' ')" \
		>>"$WORK/statuses"
}
wbody() { jq -r "$@" "$BODY"; }
# Ack WHAT...: a write the client saw acknowledged, checked at the end.
ack() { echo "$*" >>"$WORK/acks"; }
writer_fail() {
	echo "$*" >"$WORK/writer-failed"
	exit 1
}

tariff_body() { # VALID_FROM FEE
	jq -nc --arg from "$1" --argjson fee "$2" '{name: "Soak", currency: "EUR", valid_from: $from,
	  emergency: {reason: "the soak bills the month that just ended"},
	  fixed_fee: {amount_minor: $fee, prorate: false},
	  usage_charges: [{name: "Download", direction: "down", tiers: [{price_per_gb_minor: 10}]}]}'
}

# ensure_tariff VALID_FROM FEE: drafted and published, whatever replies are
# lost on the way; its id in TARIFF.
ensure_tariff() {
	local i
	TARIFF=
	for i in $(seq 1 300); do
		if [ -z "$TARIFF" ]; then
			call POST /api/v1/tariffs "$(tariff_body "$1" "$2")"
			[ "$ST" = 201 ] && TARIFF=$(wbody .id)
		fi
		if [ -n "$TARIFF" ]; then
			call POST "/api/v1/tariffs/$TARIFF/publish"
			[ "$ST" = 200 ] && { ack tariff "$TARIFF"; return 0; }
			call GET "/api/v1/tariffs/$TARIFF"
			[ "$ST" = 200 ] && [ "$(wbody .status)" = published ] && return 0
		fi
		sleep 0.2
	done
	writer_fail "tariff from $1 not published"
}

# ensure_household NAME JOINED: created once, also when the reply to a
# create that was written got lost; its id in HH.
ensure_household() {
	local n i body
	n=$(num "$1")
	body=$(jq -nc --arg name "$1" --arg a4 "$(addr4 "$n")/32" --arg a6 "2001:db8:$n::/64" \
		--arg joined "$2" '{name: $name, addresses: [$a4, $a6], joined_at: $joined}')
	for i in $(seq 1 300); do
		call POST /api/v1/households "$body"
		if [ "$ST" = 201 ]; then
			HH=$(wbody .id)
			ack household "$HH" "$1"
			return 0
		fi
		call GET /api/v1/households
		if [ "$ST" = 200 ]; then
			HH=$(wbody --arg name "$1" '.households[] | select(.name == $name) | .id')
			[ -n "$HH" ] && return 0
		fi
		sleep 0.2
	done
	writer_fail "household $1 not created"
}

# ensure_patch ID BODY JQ_CHECK SQL_CHECK: PATCH until it is acknowledged
# or the household reads as changed.
ensure_patch() {
	local i
	for i in $(seq 1 300); do
		call PATCH "/api/v1/households/$1" "$2"
		[ "$ST" = 200 ] && { ack patch "$1" "$4"; return 0; }
		call GET "/api/v1/households/$1"
		[ "$ST" = 200 ] && [ "$(wbody "$3")" = true ] && return 0
		sleep 0.2
	done
	writer_fail "household $1 not changed: $2"
}

TODAY=$(date -u +%F)
ensure_tariff "$PREV-01" 1000
for name in a b c; do
	ensure_household "$name" "$PREV-01"
	echo "$HH" >"$WORK/id-$name"
done
[ ! -e "$WORK/writer-failed" ] || fail "$(cat "$WORK/writer-failed")"
ok "a published tariff and households a, b and c"

# The kernel's own count of each household's traffic, in a table of the
# test's beside the daemon's, counting the same packets at the same hook:
# the daemon removes a closed household's counters, this table keeps them.
{
	echo 'table inet soakref {'
	for name in $HOUSES; do
		n=$(num "$name")
		echo "counter up_$name {}"
		echo "counter down_$name {}"
	done
	echo 'chain forward { type filter hook forward priority 100; policy accept;'
	for name in $HOUSES; do
		n=$(num "$name")
		echo "ip saddr 10.0.$n.0/24 counter name up_$name"
		echo "ip daddr 10.0.$n.0/24 counter name down_$name"
		echo "ip6 saddr 2001:db8:$n::/64 counter name up_$name"
		echo "ip6 daddr 2001:db8:$n::/64 counter name down_$name"
	done
	printf '}\n}\n'
} | topo_exec gw nft -f -
ref() { # NAME up|down
	topo_exec gw nft -j list counter inet soakref "$2_$1" | jq -r '.nftables[1].counter.bytes'
}

# traffic NAME DEADLINE: uploads of random sizes and downloads of 100 kB,
# over IPv4 and IPv6 in turn, once $WORK/go-NAME exists, until
# $WORK/stop-NAME or $WORK/stop does, the deadline passes, or 3,000
# transfers are done. It leaves $WORK/done-NAME when it ends.
traffic() {
	local name=$1 deadline=$2 n i target
	RANDOM=$((SEED + $(num "$name")))
	for i in $(seq 1 3000); do
		[ -e "$WORK/stop" ] || [ -e "$WORK/stop-$name" ] || [ "$(date +%s)" -ge "$deadline" ] && break
		if [ ! -e "$WORK/go-$name" ]; then
			sleep 0.2
			continue
		fi
		if ((i % 2)); then target=$TOPO_UPSTREAM4; else target="[$TOPO_UPSTREAM6]"; fi
		if ((i % 3)); then
			topo_send "$name" $((RANDOM * 8 + 1)) "$target" 5001 2>/dev/null || true
		else
			topo_fetch "$name" "$target" 5002 >/dev/null 2>&1 || true
		fi
		sleep 0.05
	done
	touch "$WORK/done-$name"
}
start_traffic() { # DEADLINE
	local name
	rm -f "$WORK"/done-*
	for name in $HOUSES; do
		if [ ! -e "$WORK/stop-$name" ]; then traffic "$name" "$1" & fi
	done
}
stop_traffic() {
	local name
	touch "$WORK/stop"
	for _ in $(seq 1 300); do
		running=0
		for name in $HOUSES; do
			[ -e "$WORK/stop-$name" ] || [ -e "$WORK/done-$name" ] || running=1
		done
		if [ $running = 0 ]; then
			rm -f "$WORK/stop"
			return 0
		fi
		sleep 0.1
	done
	fail "traffic did not stop"
}

payment() { # K
	local id=$((K % 3 + 1))
	call POST /api/v1/payments "{\"household_id\":$id,\"amount_minor\":$((100 + K)),\"method\":\"cash\",\"reference\":\"soak $K\",\"received_on\":\"$(date -u +%F)\"}"
	[ "$ST" = 201 ] && ack payment "$(wbody .id)" "$id" $((-100 - K))
	case $ST in 503 | 507) echo "soak $K" >>"$WORK/refused" ;; esac
	return 0
}
import() { # K
	local id=$((K % 3 + 1)) bucket=$((IMPORT_FROM + K * 300))
	call POST /api/v1/usage/import "{\"reason\":\"soak $K\",\"rows\":[{\"household_id\":$id,\"bucket_start\":\"$(date -u -d "@$bucket" +%FT%TZ)\",\"bytes_up\":$K,\"bytes_down\":$((1000 + K))}]}"
	[ "$ST" = 201 ] && ack import "$id" "$bucket" "$K" $((1000 + K))
	return 0
}

# payments FIRST: payments K = FIRST, FIRST + 1, ... until $WORK/stop-writes
# exists or 2,000 are posted.
payments() {
	for K in $(seq "$1" $(($1 + 1999))); do
		[ -e "$WORK/stop-writes" ] && break
		payment "$K"
		sleep 0.1
	done
}

# writer DEADLINE: the treasurer's day, in order, with payments and (until
# the close) imports between the steps, until the deadline (any step left
# then is done at once) or 2,000 writes.
writer() {
	local deadline=$1 start step=0 span
	start=$(date +%s)
	span=$((deadline - start))
	for K in $(seq 1 2000); do
		elapsed=$(($(date +%s) - start))
		if [ "$elapsed" -ge "$span" ]; then
			[ $step != 5 ] || break
			elapsed=$span
		fi
		if [ $step = 0 ] && [ $((elapsed * 10)) -ge "$span" ]; then
			ensure_household d "$TODAY"
			touch "$WORK/go-d"
			step=1
		elif [ $step = 1 ] && [ $((elapsed * 4)) -ge "$span" ]; then
			for _ in $(seq 1 300); do
				call POST "/api/v1/periods/$PREV/close"
				[ "$ST" = 200 ] && { ack closed "$PREV"; break; }
				sleep 0.2
			done
			[ "$ST" = 200 ] || writer_fail "$PREV not closed: $ST $(cat "$BODY")"
			step=2
		elif [ $step = 2 ] && [ $((elapsed * 5)) -ge $((span * 2)) ]; then
			ensure_tariff "$NEXT-01" 2000
			ensure_patch "$(cat "$WORK/id-c")" "{\"tariff_id\":$TARIFF}" ".tariff_id == $TARIFF" "tariff_id = $TARIFF"
			step=3
		elif [ $step = 3 ] && [ $((elapsed * 20)) -ge $((span * 11)) ]; then
			touch "$WORK/stop-b"
			for _ in $(seq 1 300); do
				[ -e "$WORK/done-b" ] && break
				sleep 0.1
			done
			ensure_patch "$(cat "$WORK/id-b")" "{\"status\":\"closed\",\"left_at\":\"$TODAY\"}" \
				'.status == "closed"' "status = 'closed' AND left_at = '$TODAY'"
			step=4
		elif [ $step = 4 ] && [ $((elapsed * 10)) -ge $((span * 7)) ]; then
			ensure_household e "$TODAY"
			touch "$WORK/go-e"
			step=5
		elif [ $step -lt 2 ] && ((K % 2)); then
			import "$K"
		else
			payment "$K"
		fi
		sleep 0.05
	done
	[ $step = 5 ] || writer_fail "the writer reached step $step of 5 only"
}

# The checks that must hold after every phase, with the daemon stopped.
end_checks() {
	local phase=$1 name id dir recorded kernel db=$DB_DIR/coopbill.db
	ids=
	for name in $HOUSES; do
		[ -e "$WORK/go-$name" ] || continue
		id=$(sqlite3 "$db" "SELECT id FROM households WHERE name = '$name'")
		[ -n "$id" ] || fail "household $name is missing"
		for dir in up down; do
			recorded=$(sqlite3 "$db" "SELECT coalesce(sum(bytes_$dir), 0) FROM usage_buckets
				WHERE household_id = $id AND bucket_start >= $T0")
			kernel=$(ref "$name" "$dir")
			[ "$recorded" = "$kernel" ] ||
				fail "$phase: household $name $dir: recorded $recorded bytes, the kernel counted $kernel"
			# The daemon's own counter, while the household is open, counted the same.
			own=$(kernel "$id" "$dir")
			[ -z "$own" ] || [ "$own" = "$kernel" ] ||
				fail "$phase: household $name $dir: the daemon's counter has $own bytes, the test's $kernel"
		done
		[ "$kernel" -gt 0 ] || fail "$phase: household $name moved nothing"
	done
	gaps=$(sqlite3 "$db" "SELECT count(*) FROM meter_gaps")
	[ "$gaps" = 0 ] || fail "$phase: $gaps gaps recorded: $(sqlite3 "$db" 'SELECT * FROM meter_gaps')"
	ok "$phase: the usage recorded equals the kernel's count for every household, both ways"

	dup=$(sqlite3 "$db" "SELECT household_id, period, count(*) FROM invoices GROUP BY 1, 2 HAVING count(*) > 1")
	[ -z "$dup" ] || fail "$phase: invoices issued twice: $dup"
	issued=$(sqlite3 "$db" "SELECT count(*) FROM log_entries WHERE instr(entry, 'invoice-issued') > 0")
	invoices=$(sqlite3 "$db" "SELECT count(*) FROM invoices")
	[ "$issued" = "$invoices" ] || fail "$phase: $invoices invoices but $issued invoice-issued log entries"
	[ "$(sqlite3 "$db" "SELECT count(*) FROM invoices WHERE period = '$PREV'")" = 3 ] ||
		fail "$phase: $PREV has not one invoice for each of a, b and c"
	for name in a b c; do
		id=$(cat "$WORK/id-$name")
		billed=$(sqlite3 "$db" "SELECT json_extract(document, '\$.usage.bytes_down') FROM invoices
			WHERE household_id = $id AND period = '$PREV'")
		imported=$(sqlite3 "$db" "SELECT coalesce(sum(bytes_down), 0) FROM usage_imports
			WHERE household_id = $id")
		[ "$billed" = "$imported" ] || fail "$phase: $name's invoice bills $billed bytes, $imported were imported"
	done
	ok "$phase: each household's invoice of $PREV issued once, with every byte imported"

	local kind a1 a2 a3 a4 rest n=0
	while read -r kind a1 rest; do
		read -r a2 a3 a4 <<<"$rest"
		n=$((n + 1))
		case $kind in
		payment) q="SELECT count(*) FROM ledger_entries WHERE id = $a1 AND household_id = $a2 AND amount_minor = $a3 AND kind = 'payment'" ;;
		import) q="SELECT count(*) FROM usage_imports i JOIN usage_buckets b USING (household_id, bucket_start) WHERE i.household_id = $a1 AND i.bucket_start = $a2 AND i.bytes_up = $a3 AND i.bytes_down = $a4 AND b.bytes_up = $a3 AND b.bytes_down = $a4" ;;
		household) q="SELECT count(*) FROM households WHERE id = $a1 AND name = '$a2'" ;;
		tariff) q="SELECT count(*) FROM tariffs WHERE id = $a1 AND published_at IS NOT NULL" ;;
		closed) q="SELECT count(*) FROM period_closes WHERE period = '$a1'" ;;
		patch) q="SELECT count(*) FROM households WHERE id = $a1 AND $rest" ;;
		esac
		[ "$(sqlite3 "$db" "$q")" = 1 ] || fail "$phase: an acknowledged write is missing: $kind $a1 $rest"
	done <"$WORK/acks"
	ok "$phase: all $n acknowledged writes are there"

	local bad
	bad=$(awk '$1 !~ /^(2..|000|503|507)$/ && !($1 == 409 && $0 ~ /close-in-progress|is being closed/)' "$WORK/statuses" | head -5)
	[ -z "$bad" ] || fail "$phase: unexpected replies: $bad"
	ok "$phase: every reply was a success, a refusal while closing or storage trouble, or none"

	[ "$(sqlite3 "$db" 'PRAGMA integrity_check')" = ok ] || fail "$phase: integrity_check failed"
	ok "$phase: PRAGMA integrity_check is ok"
}

# verify: coopbill-verify from the checkpoint it saw last, against the
# running daemon: consistent through every crash so far.
verify() {
	topo_exec gw "$COOPBILL_VERIFY" --since "$WORK/saved" "$API" "$KEY" >"$WORK/verify" 2>&1 ||
		fail "coopbill-verify: $(cat "$WORK/verify")"
}
verify

# Before anything runs, whether this machine can mount the small disk.
mkdir "$DISK"
mount -t tmpfs -o size=24m tmpfs "$DISK" 2>/dev/null || { echo "SKIP: cannot mount a tmpfs"; exit 77; }

# Phase 1: the kills at seeded random moments: one in five during start-up
# (up to 0.3 s after the start, before it serves), the others up to 1.5 s
# after the daemon first answered. A second writer posts payments meanwhile.
DB_DIR=$WORK/db
DELAYS=()
for _ in $(seq 1 $KILLS); do DELAYS+=($((RANDOM % 1500))); done
touch "$WORK/go-a" "$WORK/go-b" "$WORK/go-c"
deadline=$(($(date +%s) + KILLS * 6 / 5))
start_traffic $((deadline + 120))
writer "$deadline" &
WRITER=$!
payments 10001 &
PAYER=$!
started=$(date +%s)
start_ms=0
served=0
kill_daemon
for i in $(seq 1 $KILLS); do
	[ ! -e "$WORK/writer-failed" ] || fail "$(cat "$WORK/writer-failed")"
	delay=${DELAYS[$((i - 1))]}
	if [ "$delay" -lt 300 ]; then
		ip netns exec "$(topo_ns gw)" "$COOPBILLD" --config "$CONFIG" 2>>"$WORK/daemon.log" &
		DAEMON_PID=$!
	else
		before=$(date +%s%N)
		start_daemon
		start_ms=$((start_ms + ($(date +%s%N) - before) / 1000000))
		served=$((served + 1))
		((served % 10)) || verify
	fi
	sleep "$((delay / 1000)).$(printf %03d $((delay % 1000)))"
	kill -0 "$DAEMON_PID" 2>/dev/null || fail "coopbilld died by itself before kill $i"
	kill_daemon
done
start_daemon
ok "$KILLS kills -9 in $(($(date +%s) - started)) s, $((KILLS - served)) of them during start-up; every start served (in $((start_ms / served)) ms on average)"
wait "$WRITER" || fail "the writer: $(cat "$WORK/writer-failed" 2>/dev/null)"
touch "$WORK/stop-writes"
wait "$PAYER" || fail "the payments ended with $?"
rm "$WORK/stop-writes"
stop_traffic
wait_polls 3
verify
ok "coopbill-verify: the log after $KILLS crashes is consistent with every checkpoint seen"
end_checks "after $KILLS kills"

# Phase 2: the database on a 24 MiB file system that a file fills up four
# times while traffic flows and payments are posted; after two of them the
# daemon is also killed while the disk is full.
stop_daemon
cp -a "$WORK/db/." "$DISK/"
DB_DIR=$DISK
write_config "$DISK"
start_daemon
: >"$WORK/statuses"
rm -f "$WORK/stop"
start_traffic $(($(date +%s) + 120))
payments 3001 &
WRITER=$!
health() { topo_exec gw curl -sS -m 5 "$API/healthz" 2>/dev/null | jq -r .database 2>/dev/null; }
for cycle in 1 2 3 4; do
	sleep 2
	dd if=/dev/zero of="$DISK/fill" bs=64k 2>/dev/null || true
	for _ in $(seq 1 100); do
		[ "$(health)" = failing ] && break
		sleep 0.1
	done
	[ "$(health)" = failing ] || fail "disk full $cycle: /healthz does not say the database is failing"
	sleep 2
	restarts=0
	if ((cycle % 2 == 0)); then
		kill_daemon
		status=0
		topo_exec gw timeout 10 "$COOPBILLD" --config "$CONFIG" 2>"$WORK/full.log" || status=$?
		[ "$status" != 0 ] && [ "$status" != 124 ] || fail "started on a full disk (exit $status)"
		grep -q "the disk holding $DISK is full" "$WORK/full.log" ||
			fail "the refusal does not say the disk is full: $(cat "$WORK/full.log")"
	fi
	rm "$DISK/fill"
	if [ -z "$DAEMON_PID" ]; then
		start_daemon
		restarts=1
	fi
	for _ in $(seq 1 150); do
		[ "$(health)" = ok ] && break
		sleep 0.1
	done
	[ "$(health)" = ok ] || fail "disk freed $cycle: the database is $(health) after 15 s"
	kill -0 "$DAEMON_PID" || fail "coopbilld died on a full disk"
	ok "disk full $cycle: /healthz says failing, then ok once space returns ($restarts restart)"
done
touch "$WORK/stop-writes"
wait "$WRITER" || fail "the payments ended with $?"
refused=$(grep -c '^50[37] ' "$WORK/statuses" || true)
[ "$refused" -gt 0 ] || fail "no write was refused on the full disk"
bad=$(grep '^50[37] ' "$WORK/statuses" | grep -v 'urn:coopbill:problem:' | head -3 || true)
[ -z "$bad" ] || fail "a write on a full disk was refused without a problem: $bad"
while read -r reference; do
	[ "$(sqlite3 "$DISK/coopbill.db" "SELECT count(*) FROM ledger_entries WHERE reference = '$reference'")" = 0 ] ||
		fail "the payment \"$reference\" was refused with a 503 but recorded"
done <"$WORK/refused"
ok "$refused writes on a full disk were answered $(grep -o '^50[37]' "$WORK/statuses" | sort -u | paste -sd/) with a problem document"
stop_traffic
wait_polls 3
verify
end_checks "after a full disk"
stop_daemon
echo "$PASSED passed, 0 failed"
