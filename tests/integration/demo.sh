#!/usr/bin/env bash
# scripts/demo as a newcomer runs it: it starts and prints commands, every
# printed command works when pasted (the member's invoice for last month and
# its check in the log among them), a second run reuses the tokens and, as
# root with network namespaces, meters on without recording a gap, and Ctrl-C
# (SIGINT) stops it with nothing alarming on its stderr.
. "$(dirname "$0")/lib.sh"

: "${COOPBILL_BUILDDIR:?COOPBILL_BUILDDIR must name the build directory}"
DEMO_NETNS=cbdt$$
DEMO_PID=
export DEMO_DIR=$WORK/demo DEMO_NETNS DEMO_BUILDDIR=$COOPBILL_BUILDDIR PORT
# The demo bills in UTC: last month, from the clock.
MONTH=$(date -u +%Y-%m-01)
PREV_START=$(date -u -d "$MONTH -1 month" +%Y-%m-01)
PREV=${PREV_START%-01}

demo_cleanup() {
	if [ -n "$DEMO_PID" ] && kill -INT "$DEMO_PID" 2>/dev/null; then
		wait "$DEMO_PID" 2>/dev/null || true
	fi
	"$COOPBILL_SRCDIR/scripts/demo" down >/dev/null 2>&1
	cleanup
}
trap demo_cleanup EXIT

# run_demo N: starts the demo in the background (with job control, so that it
# gets SIGINT as from a terminal, not ignored as a background command) and
# waits for its text in $WORK/out.N.
run_demo() {
	set -m
	"$COOPBILL_SRCDIR/scripts/demo" >"$WORK/out.$1" 2>"$WORK/err.$1" &
	DEMO_PID=$!
	set +m
	for _ in $(seq 1 600); do
		grep -q '^Stop with Ctrl-C' "$WORK/out.$1" && return 0
		kill -0 "$DEMO_PID" 2>/dev/null ||
			fail "run $1: the demo stopped: $(tail -5 "$WORK/err.$1")"
		sleep 0.1
	done
	fail "run $1: the demo printed no text within 60 s"
}

# stop_demo N: Ctrl-C, a clean exit, and nothing alarming on stderr.
stop_demo() {
	local status=0 name
	kill -INT "$DEMO_PID"
	wait "$DEMO_PID" || status=$?
	DEMO_PID=
	[ "$status" = 0 ] || fail "run $1: the demo exited $status on SIGINT"
	# Only the daemon's notices: no warning, no shell's report of a killed job.
	! grep -Ev '^<[5-7]>' "$WORK/err.$1" | grep -q . ||
		fail "run $1: the demo's stderr after SIGINT: $(cat "$WORK/err.$1")"
	ok "run $1: SIGINT stops the demo, and its stderr has only the daemon's notices"
	if [ "$METERING" = true ]; then
		for name in gw up a b c srv; do
			[ -z "$(ip netns pids "$DEMO_NETNS-$name")" ] ||
				fail "run $1: processes are left in $DEMO_NETNS-$name"
		done
		ok "run $1: no process is left in the namespaces"
	fi
}

# printed_commands N: every command the demo printed works when pasted:
# each curl answers 2xx, and coopbill-verify checks the invoice's entry.
printed_commands() {
	local line out invoice n=0
	while IFS= read -r line; do
		out=$(bash -c "${line/#curl -s /curl -sSf }") ||
			fail "run $1: the printed command failed: $line"
		n=$((n + 1))
	done < <(sed -n 's/^  \(curl .*\)$/\1/p' "$WORK/out.$1")
	[ "$n" -ge 8 ] || fail "run $1: only $n curl commands were printed"
	ok "run $1: the $n printed curl commands answer 2xx"

	line=$(sed -n "s|^  \(curl .*/api/v1/households/1/invoices/$PREV\)$|\1|p" "$WORK/out.$1")
	[ -n "$line" ] || fail "run $1: no command for household 1's invoice of $PREV"
	invoice=$(bash -c "$line")
	[ "$(jq -r '[.household_id, .period, .total_minor > 0] | @tsv' <<<"$invoice")" = \
		"$(printf '1\t%s\ttrue' "$PREV")" ] || fail "run $1: the invoice command printed $invoice"
	[ "$(jq '.invoice.imported.rows' <<<"$invoice")" -gt 0 ] ||
		fail "run $1: the invoice bills no imported usage: $invoice"
	ok "run $1: the member's command shows household 1's invoice for $PREV"

	line=$(sed -n 's|^  \(/.*/coopbill-verify --entry .*\)$|\1|p' "$WORK/out.$1")
	[ -n "$line" ] || fail "run $1: no coopbill-verify command was printed"
	out=$(bash -c "$line") || fail "run $1: $line: $out"
	grep -q "^entry $(jq .log_index <<<"$invoice") OK" <<<"$out" &&
		grep -q "^    invoice-issued" <<<"$out" ||
		fail "run $1: coopbill-verify did not check the invoice's entry: $out"
	ok "run $1: the printed coopbill-verify checks the invoice's entry in the log"

	line=$(sed -n '/sign-in link/{n;s/^  //p}' "$WORK/out.$1")
	[ "$line" = "$BASE/#token=$(cat "$DEMO_DIR/member.token")" ] ||
		fail "run $1: the printed sign-in link is \"$line\""
	out=$(curl -sSf -D - -o /dev/null "$line") || fail "run $1: the sign-in link does not open"
	grep -qi '^content-type: text/html' <<<"$out" || fail "run $1: the sign-in link opens no page: $out"
	ok "run $1: the printed sign-in link is the member token's and opens the member page"
}

# token_line N WHAT: the token printed under the line that names WHAT.
token_line() {
	sed -n "/$2/{n;s/^  //p}" "$WORK/out.$1"
}

# gaps: the meter gaps of the three households since last month began.
gaps() {
	local admin h n=0
	admin=$(cat "$DEMO_DIR/admin.token")
	for h in 1 2 3; do
		n=$((n + $(curl -sSf -H "Authorization: Bearer $admin" \
			"$BASE/api/v1/households/$h/usage?from=${PREV_START}T00:00:00Z&to=$(date -u -d tomorrow +%Y-%m-%dT00:00:00Z)&step=day" |
			jq '.gaps | length')))
	done
	echo "$n"
}

run_demo 1
METERING=false
grep -q '^Metering three simulated households' "$WORK/out.1" && METERING=true
echo "# metering: $METERING"
printed_commands 1
[ "$(stat -c %a "$DEMO_DIR/admin.token")" = 600 ] && [ "$(stat -c %a "$DEMO_DIR/member.token")" = 600 ] ||
	fail "the tokens are not kept in files of mode 0600"
ok "the demo keeps its tokens in files of mode 0600"
if [ "$METERING" = true ]; then
	# The households' counters were made after the daemon's first reading:
	# wait for the next, which stores their baselines.
	for _ in $(seq 1 150); do
		[ "$(curl -sS "$BASE/healthz" | jq .meter.polls)" -ge 2 ] && break
		sleep 0.1
	done
	GAPS=$(gaps)
	# Both kinds of traffic show: Nguyen receives Garcia's files (local),
	# Garcia sends to the upstream (internet).
	admin=$(cat "$DEMO_DIR/admin.token")
	for _ in $(seq 1 300); do
		usage=$(curl -sSf -H "Authorization: Bearer $admin" \
			"$BASE/api/v1/usage/summary?from=${MONTH}T00:00:00Z&to=$(date -u -d tomorrow +%Y-%m-%dT00:00:00Z)")
		[ "$(jq '[.households[] | select(.household_id == 3) | .local_down] | add // 0' <<<"$usage")" -gt 0 ] &&
			[ "$(jq '[.households[] | select(.household_id == 1) | .bytes_up] | add // 0' <<<"$usage")" -gt 0 ] &&
			break
		sleep 0.1
	done
	[ "$(jq '[.households[] | select(.household_id == 3) | .local_down] | add // 0' <<<"$usage")" -gt 0 ] ||
		fail "no local traffic shows in the usage summary: $usage"
	ok "the demo shows internet and local traffic"
fi
stop_demo 1

run_demo 2
[ "$(token_line 2 'Admin (treasurer) token')" = "$(token_line 1 'Admin (treasurer) token')" ] ||
	fail "the second run printed another admin token"
[ "$(token_line 2 'member token')" = "$(token_line 1 'member token')" ] ||
	fail "the second run printed another member token"
ok "a second run reuses the admin and member tokens"
printed_commands 2
if [ "$METERING" = true ]; then
	# The daemon compares the counters with their baselines before it
	# listens, so a gap would be recorded by now.
	[ "$(gaps)" = "$GAPS" ] || fail "the second run recorded $(($(gaps) - GAPS)) meter gaps"
	ok "a second run meters on without recording a gap"
fi
stop_demo 2
finish
