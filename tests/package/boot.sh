#!/usr/bin/env bash
# coopbilld.service under a real systemd: the packages, built with
# dpkg-buildpackage, installed with apt into a bare Debian 12 with systemd,
# systemd-sysv and dbus, booted with `systemd-nspawn --boot` in a network
# namespace of its own (so that the nftables table is the container's, never
# the host's). Inside, with [log] origin set:
# - `systemctl start coopbilld` returns once the daemon sent READY=1
#   (Type=notify), and the API answers at once;
# - the meter's table exists, made with CAP_NET_ADMIN under the unit's
#   sandbox, and its first reading is committed;
# - a token made as the coopbill user while the unit runs works on the API;
# - `systemctl reload` applies a changed setting (the daemon logs it), and an
#   invalid file is refused with its line while the daemon goes on as it was;
# - the daemon's keep-alives reach systemd every half WatchdogSec; stopped
#   with SIGSTOP, it is killed by systemd after WatchdogSec and started again
#   RestartSec later (both read from the unit as systemd loaded it);
# - `systemctl stop` stops it cleanly, and the kernel's table stays.
#
# As root only; exits 77 otherwise, without a Debian mirror, or when this
# machine cannot boot a container (the reason printed). The container is
# powered off, killed if it does not stop in time, and everything else,
# mounts included, removed on exit, whatever happens.
set -euo pipefail
: "${COOPBILL_SRCDIR:?COOPBILL_SRCDIR must name the source tree}"

. "$(dirname "$0")/lib.sh"
package_require dpkg-buildpackage dh debootstrap curl jq systemd-nspawn nsenter nft
package_work boot

MACHINE=coopbill-boot-$$
nspawn_pid=
init_pid=

# Powers the container off (its systemd stops its units), and kills it when
# that takes more than 15 s.
before_cleanup() {
	[ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null || return 0
	[ -z "$init_pid" ] || kill -RTMIN+4 "$init_pid" 2>/dev/null || true
	for _ in $(seq 60); do
		kill -0 "$nspawn_pid" 2>/dev/null || return 0
		sleep 0.25
	done
	echo "the container did not power off in 15 s: killing it" >&2
	[ -z "$init_pid" ] || kill -KILL "$init_pid" 2>/dev/null || true
	kill -KILL "$nspawn_pid" 2>/dev/null || true
	for _ in $(seq 20); do
		kill -0 "$nspawn_pid" 2>/dev/null || break
		sleep 0.25
	done
	rm -rf "/run/systemd/nspawn/propagate/$MACHINE"
}

# Runs a command inside the booted container, with a clean environment, for
# at most 60 s.
in_container() {
	timeout 60 nsenter -t "$init_pid" -m -u -i -n -p /usr/bin/env -i \
		PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 SYSTEMD_COLORS=0 SYSTEMD_PAGER=cat "$@"
}

# Runs a host program in the container's network namespace: the host's curl
# and nft, which the bare Debian lacks, see the container's loopback and
# nftables tables.
in_netns() {
	timeout 60 nsenter -t "$init_pid" -n "$@"
}

# One property of the unit, as systemd shows it.
unit_property() {
	in_container systemctl show -P "$1" coopbilld
}

# A time span of the unit, in microseconds, from systemd's D-Bus API.
unit_usec() {
	local reply
	reply=$(in_container busctl get-property org.freedesktop.systemd1 \
		/org/freedesktop/systemd1/unit/coopbilld_2eservice org.freedesktop.systemd1.Service "$1")
	[[ $reply =~ ^t\ ([0-9]+)$ ]] || fail "busctl get-property $1 answered '$reply'"
	echo "${BASH_REMATCH[1]}"
}

# The HTTP status of GET PATH on the daemon in the container (a token may
# follow).
http_status() {
	local auth=()
	[ -z "${2:-}" ] || auth=(-H "Authorization: Bearer $2")
	in_netns curl -s -o "$WORK/reply" -w '%{http_code}' --max-time 10 "${auth[@]}" \
		"http://127.0.0.1:8080$1" || true
}

# The daemon's lines in the journal that contain TEXT, counted.
journal_count() {
	in_container journalctl -q -u coopbilld -o cat --no-pager | grep -cF -- "$1" || true
}

# Waits up to SECONDS for a shell condition to hold.
wait_for() {
	local limit=$((SECONDS + $1))
	shift
	until eval "$1"; do
		((SECONDS < limit)) || return 1
		sleep 0.5
	done
}

package_build nocheck
package_bare_root
package_install systemd systemd-sysv dbus

# What the unit needs: the log's name, chosen once, and a meter that commits
# without waiting for NTP (this container's clock is the host's, which
# timedated may not call synchronised).
conf=$ROOT/etc/coopbill/coopbill.conf
sed -i -e 's|^origin = .*|origin = boot.coopbill.test/log|' \
	-e 's|^wait_for_ntp = .*|wait_for_ntp = false|' "$conf"
grep -qx 'origin = boot.coopbill.test/log' "$conf" || fail "cannot set [log] origin in $conf"
in_root coopbilld --check-config >/dev/null 2>"$WORK/check.err" ||
	fail "the configuration for the boot does not load: $(cat "$WORK/check.err")"
# nspawn mounts its own /proc and /dev.
unmount_under "$ROOT"

# --- Boot. A host on cgroup v1 or hybrid (no cgroup2 at /sys/fs/cgroup)
# needs the container on the legacy hierarchy too.
[ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] || export SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=0
boot_start=$SECONDS
systemd-nspawn -D "$ROOT" -M "$MACHINE" --boot --register=no --keep-unit --console=pipe \
	--private-network </dev/null >"$WORK/nspawn.log" 2>&1 &
nspawn_pid=$!
# The container's init: nspawn's child that is PID 1 in its own namespace.
find_init() {
	local child
	kill -0 "$nspawn_pid" 2>/dev/null || return 0
	for child in $(cat "/proc/$nspawn_pid/task/$nspawn_pid/children" 2>/dev/null); do
		if [ "$(awk '$1 == "NSpid:" { print $NF }' "/proc/$child/status" 2>/dev/null)" = 1 ] &&
			[ "$(cat "/proc/$child/comm" 2>/dev/null)" = systemd ]; then
			init_pid=$child
		fi
	done
	[ -n "$init_pid" ]
}
cannot_boot() {
	echo "SKIP: this machine cannot boot a container with systemd-nspawn: $1"
	tail -15 "$WORK/nspawn.log" | sed 's/^/  nspawn: /'
	exit 77
}
wait_for 60 find_init || cannot_boot "its init did not start within 60 s"
[ -n "$init_pid" ] || cannot_boot "systemd-nspawn exited"
[ "$(readlink "/proc/$init_pid/ns/net")" != "$(readlink /proc/self/ns/net)" ] ||
	fail "the container shares the host's network namespace"
# Until its manager answers on its socket, systemctl cannot connect.
wait_for 120 'state=$(in_container systemctl is-system-running 2>&1); [[ $state =~ ^(running|degraded)$ ]]' ||
	cannot_boot "its systemd did not finish booting within 120 s (systemctl is-system-running: $state)"
[ "$state" = running ] ||
	echo "note: the container is degraded: $(in_container systemctl --failed --plain --no-legend | tr '\n' ' ')"
ok "systemd-nspawn --boot: the container's systemd is $state ($((SECONDS - boot_start)) s)"

# --- Start: Type=notify returns once READY=1 came, which the daemon sends
# when it listens, so the API answers at once.
start_s=$SECONDS
in_container systemctl start coopbilld 2>"$WORK/start.err" ||
	{ in_container journalctl -u coopbilld --no-pager | tail -20 >&2; fail "systemctl start coopbilld failed: $(cat "$WORK/start.err")"; }
start_s=$((SECONDS - start_s))
code=$(http_status /healthz)
[ "$code" = 200 ] || fail "GET /healthz answered $code right after systemctl start returned"
for expect in "ActiveState active" "SubState running" "Type notify" "NotifyAccess main" \
	"User coopbill"; do
	got=$(unit_property "${expect%% *}")
	[ "$got" = "${expect#* }" ] || fail "the unit's ${expect%% *} is '$got', not '${expect#* }'"
done
main_pid=$(unit_property MainPID)
ok "systemctl start coopbilld returned after READY=1 ($start_s s): active (running) as coopbill, MainPID $main_pid, /healthz answers 200 at once"

# --- The table, made under the sandbox with CAP_NET_ADMIN alone, in the
# container's network namespace; the first reading committed.
in_netns nft list tables >"$WORK/tables" || fail "nft list tables failed in the container"
grep -qx 'table inet coopbill' "$WORK/tables" ||
	fail "no table inet coopbill in the container (nft list tables: $(tr '\n' ' ' <"$WORK/tables"))"
in_netns nft list chain inet coopbill forward >/dev/null ||
	fail "the table inet coopbill has no forward chain"
caps=$(in_container grep '^CapEff:' "/proc/$main_pid/status") || fail "cannot read the daemon's capabilities"
[ "${caps##*[[:space:]]}" = 0000000000001000 ] ||
	fail "the daemon's effective capabilities are ${caps##*[[:space:]]}, not CAP_NET_ADMIN alone (0000000000001000)"
wait_for 30 '[ "$(http_status /healthz)" = 200 ] && [ "$(jq -r .meter.state "$WORK/reply")" = ok ]' ||
	fail "the meter is not ok: $(cat "$WORK/reply")"
ok "the daemon, with CAP_NET_ADMIN alone, made table inet coopbill in the container and its meter is ok"

# --- The database is shared with the sandboxed daemon: a token made as the
# coopbill user while the unit runs works at once.
token=$(in_container setpriv --reuid=coopbill --regid=coopbill --init-groups \
	coopbilld token create --role admin --name treasurer 2>"$WORK/token.err") ||
	fail "coopbilld token create as coopbill failed while the unit runs: $(cat "$WORK/token.err")"
code=$(http_status /api/v1/tokens "$token")
[ "$code" = 200 ] || fail "GET /api/v1/tokens with the new admin token answered $code"
ok "a token made as the coopbill user while the unit runs is accepted by the daemon"

# --- Reload: a changed setting takes effect; an invalid file is refused.
code=$(http_status /metrics)
[ "$code" = 200 ] || fail "GET /metrics without a token answered $code with metrics_public = true"
reloads=$(journal_count "configuration reloaded from /etc/coopbill/coopbill.conf")
sed -i 's/^metrics_public = .*/metrics_public = false/' "$conf"
in_container systemctl reload coopbilld || fail "systemctl reload coopbilld failed"
# A Type=notify reload ends when ExecReload's kill has run, before the daemon
# has read the file: the daemon's line says when.
wait_for 15 '(($(journal_count "configuration reloaded from /etc/coopbill/coopbill.conf") > reloads))' ||
	fail "the daemon did not log 'configuration reloaded' after systemctl reload"
wait_for 15 '[ "$(unit_property SubState)" = running ]' ||
	fail "the unit is $(unit_property SubState) after the reload, not running"
code=$(http_status /metrics)
[ "$code" = 401 ] || fail "GET /metrics without a token answered $code after metrics_public = false and a reload"
code=$(http_status /metrics "$token")
[ "$code" = 200 ] || fail "GET /metrics with the admin token answered $code after the reload"
[ "$(unit_property MainPID)" = "$main_pid" ] || fail "the reload restarted the daemon"
ok "systemctl reload: the daemon logged the reload and metrics_public = false took effect (401 without a token)"

cp "$conf" "$WORK/conf.good"
sed -i 's/^max_connections = .*/max_connections = 0/' "$conf"
refusals=$(journal_count "reload refused, keeping the running configuration")
in_container systemctl reload coopbilld || fail "systemctl reload coopbilld failed"
wait_for 15 '(($(journal_count "reload refused, keeping the running configuration") > refusals))' ||
	fail "the daemon did not refuse an invalid configuration on reload"
line=$(grep -n '^max_connections = 0$' "$conf" | cut -d: -f1)
[ "$(journal_count "coopbill.conf:$line:")" -ge 1 ] ||
	fail "the refusal does not name coopbill.conf:$line, the invalid line"
wait_for 15 '[ "$(unit_property SubState)" = running ]' ||
	fail "the unit is $(unit_property SubState) after a refused reload, not running"
[ "$(unit_property MainPID)" = "$main_pid" ] || fail "a refused reload restarted the daemon"
code=$(http_status /metrics)
[ "$code" = 401 ] || fail "GET /metrics answered $code after a refused reload: the running configuration changed"
cp "$WORK/conf.good" "$conf"
ok "an invalid file is refused on reload with its line (coopbill.conf:$line), the daemon running as before"

# --- The watchdog, with the unit's values as systemd loaded them.
watchdog_us=$(unit_usec WatchdogUSec)
restart_us=$(unit_usec RestartUSec)
((watchdog_us > 0)) || fail "the unit has no WatchdogSec"
watchdog_s=$((watchdog_us / 1000000))
restart_s=$((restart_us / 1000000))
# The first keep-alive comes half WatchdogSec after the start.
started=$(unit_property ExecMainStartTimestampMonotonic)
wait_for $((watchdog_s / 2 + 20)) '(($(unit_property WatchdogTimestampMonotonic) > started + watchdog_us / 4))' ||
	fail "no keep-alive (WATCHDOG=1) reached systemd within $((watchdog_s / 2 + 20)) s of the start"
pinged=$(unit_property WatchdogTimestampMonotonic)
ok "the daemon's keep-alive reached systemd $(((pinged - started) / 1000000)) s after the start (WatchdogSec=${watchdog_s}s)"

in_container sh -c 'kill -STOP "$1"' sh "$main_pid" || fail "cannot SIGSTOP the daemon"
stopped_at=$SECONDS
wait_for $((watchdog_s + restart_s + 60)) \
	'new_pid=$(unit_property MainPID); [ "$new_pid" != 0 ] && [ "$new_pid" != "$main_pid" ] && [ "$(unit_property SubState)" = running ]' ||
	fail "systemd did not restart the stopped daemon within $((watchdog_s + restart_s + 60)) s (state $(unit_property ActiveState)/$(unit_property SubState))"
restarted_s=$((SECONDS - stopped_at))
in_container journalctl -q -u coopbilld -o json --no-pager >"$WORK/journal.json"
timeout_us=$(jq -r 'select(.MESSAGE | type == "string" and startswith("coopbilld.service: Watchdog timeout")) |
	.__MONOTONIC_TIMESTAMP' "$WORK/journal.json" | tail -1)
[ -n "$timeout_us" ] || fail "the journal has no watchdog timeout for coopbilld"
jq -r .MESSAGE "$WORK/journal.json" >"$WORK/journal"
grep -qF "coopbilld.service: Failed with result 'watchdog'" "$WORK/journal" ||
	{ tail -15 "$WORK/journal" >&2; fail "the journal (its end above) does not say the daemon failed by the watchdog"; }
[ "$(unit_property NRestarts)" = 1 ] || fail "NRestarts is $(unit_property NRestarts), not 1"
# Killed WatchdogSec after the last keep-alive (systemd's timer fires a
# little late, never early), started again RestartSec later; systemd's
# timestamps and the journal's are the kernel's CLOCK_MONOTONIC.
silence_ms=$(((timeout_us - pinged) / 1000))
((silence_ms >= watchdog_us / 1000 && silence_ms <= watchdog_us / 1000 + 5000)) ||
	fail "the watchdog fired $silence_ms ms after the last keep-alive, not WatchdogSec=${watchdog_s}s"
pause_ms=$((($(unit_property ExecMainStartTimestampMonotonic) - timeout_us) / 1000))
((pause_ms >= restart_us / 1000)) || fail "the daemon started again $pause_ms ms after the watchdog, before RestartSec"
code=$(http_status /healthz)
[ "$code" = 200 ] || fail "GET /healthz answered $code after the watchdog's restart"
ok "stopped with SIGSTOP, the daemon was killed $silence_ms ms after its last keep-alive (WatchdogSec=${watchdog_s}s), started again $pause_ms ms later (RestartSec=${restart_s}s) and ran as PID $new_pid $restarted_s s after the SIGSTOP"

# --- Stop: SIGTERM, STOPPING=1, a clean exit; the table stays.
stop_start=$SECONDS
in_container systemctl stop coopbilld || fail "systemctl stop coopbilld failed"
stop_s=$((SECONDS - stop_start))
[ "$(unit_property ActiveState)" = inactive ] || fail "the unit is $(unit_property ActiveState) after stop"
[ "$(unit_property Result)" = success ] || fail "the stop's result is $(unit_property Result), not success"
((stop_s <= 10)) || fail "systemctl stop took $stop_s s"
in_container journalctl -q -u coopbilld -o cat --no-pager >"$WORK/journal"
grep -qx 'SIGTERM: stopping' "$WORK/journal" && grep -qx stopped "$WORK/journal" ||
	fail "the daemon did not log its orderly stop"
in_netns nft list tables | grep -qx 'table inet coopbill' ||
	fail "the table inet coopbill went with the daemon: the kernel no longer counts"
ok "systemctl stop: an orderly stop in $stop_s s, result success, the table kept counting"

echo "$PASSED passed, 0 failed in $((SECONDS - STARTED)) s (build $build_s s)"
