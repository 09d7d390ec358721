#!/usr/bin/env bash
# The systemd integration, checked offline (no systemd as PID 1 needed, no
# systemctl): the generated coopbilld.service passes `systemd-analyze verify`,
# its `systemd-analyze security --offline=true` exposure is at most 1.5, it
# asks for CAP_NET_ADMIN and nothing else, and the sysusers.d and tmpfiles.d
# snippets apply cleanly to an empty root.
#
# Environment (set by tests/meson.build): COOPBILL_SRCDIR, COOPBILL_BUILDDIR,
# COOPBILLD (the built daemon; verify checks that ExecStart= is executable).
# Exit 77 (skipped) when systemd-analyze is not installed.
set -euo pipefail

MAX_EXPOSURE_TENTHS=15 # 1.5, from DESIGN.md section 3 "Service"

failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}
ok() {
	echo "ok: $*"
}

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "SKIP: systemd-analyze is not installed"
	exit 77
fi

: "${COOPBILL_SRCDIR:?COOPBILL_SRCDIR is not set}"
: "${COOPBILL_BUILDDIR:?COOPBILL_BUILDDIR is not set}"
: "${COOPBILLD:?COOPBILLD is not set}"

# Plain output: no colours, no pager, whatever the terminal.
export SYSTEMD_COLORS=0 SYSTEMD_PAGER=cat SYSTEMD_LESS='' LC_ALL=C

generated=$COOPBILL_BUILDDIR/systemd/coopbilld.service
sysusers=$COOPBILL_SRCDIR/systemd/sysusers.conf
tmpfiles=$COOPBILL_SRCDIR/systemd/tmpfiles.conf
for f in "$generated" "$sysusers" "$tmpfiles"; do
	if [[ ! -f $f ]]; then
		echo "FAIL: $f is missing" >&2
		exit 1
	fi
done
if [[ ! -x $COOPBILLD ]]; then
	echo "FAIL: COOPBILLD=$COOPBILLD is not an executable" >&2
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/coopbill-systemd.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The value of KEY= in the generated unit: each of its lines, in order.
unit_values() {
	sed -n "s/^$1=//p" "$generated"
}

# --- The unit under test: the generated one with ExecStart= pointing at the
# built daemon, so that verify's "is it executable" check means something.
# Everything else stays byte for byte.
unit=$tmp/coopbilld.service
exe=${COOPBILLD//%/%%} # '%' starts a specifier in unit files
if [[ $exe == *[\"\\]* ]]; then
	echo "FAIL: cannot quote COOPBILLD=$COOPBILLD in a unit file" >&2
	exit 1
fi
n_exec_start=0
while IFS= read -r line || [[ -n $line ]]; do
	if [[ $line == ExecStart=* ]]; then
		n_exec_start=$((n_exec_start + 1))
		cmd=${line#ExecStart=}
		program=${cmd%% *}
		args=${cmd#"$program"}
		if [[ ${program##*/} != coopbilld ]]; then
			fail "ExecStart= runs $program, not coopbilld"
		fi
		line="ExecStart=\"$exe\"$args"
	fi
	printf '%s\n' "$line"
done <"$generated" >"$unit"
if ((n_exec_start != 1)); then
	fail "the unit has $n_exec_start ExecStart= lines, not 1"
fi
grep -v '^ExecStart=' "$generated" >"$tmp/generated.rest" || true
grep -v '^ExecStart=' "$unit" >"$tmp/unit.rest" || true
if ! cmp -s "$tmp/generated.rest" "$tmp/unit.rest"; then
	fail "the copy of the unit differs from the generated one beyond ExecStart="
fi

# --- Static assertions on the generated unit.
[[ $(unit_values Type) == notify ]] || fail "Type= is '$(unit_values Type)', not notify"
[[ $(unit_values AmbientCapabilities) == CAP_NET_ADMIN ]] ||
	fail "AmbientCapabilities= is '$(unit_values AmbientCapabilities)', not CAP_NET_ADMIN alone"
[[ $(unit_values CapabilityBoundingSet) == CAP_NET_ADMIN ]] ||
	fail "CapabilityBoundingSet= is '$(unit_values CapabilityBoundingSet)', not CAP_NET_ADMIN alone"
# No capability anywhere else (comments aside): not in another directive, not
# a second CAP_ in the two above.
other_caps=$(grep -v '^[[:space:]]*[#;]' "$generated" | grep -o 'CAP_[A-Z_]*' | grep -vx CAP_NET_ADMIN || true)
[[ -z $other_caps ]] || fail "the unit grants other capabilities: ${other_caps//$'\n'/ }"
n_cap_lines=$(grep -v '^[[:space:]]*[#;]' "$generated" | grep -c 'CAP_' || true)
((n_cap_lines == 2)) || fail "CAP_ appears on $n_cap_lines directive lines, not 2"
user=$(unit_values User)
state_dir=$(unit_values StateDirectory)
[[ -n $user && $user != root && $user != 0 ]] || fail "User= is '$user': it must be a non-root user"
grep -qx 'DynamicUser=yes' "$generated" && fail "DynamicUser=yes: the user comes from sysusers.d"
[[ -n $state_dir ]] || fail "StateDirectory= is not set"
if ((failures == 0)); then
	ok "Type=notify, User=$user, StateDirectory=$state_dir, capabilities: CAP_NET_ADMIN only"
fi

# --- systemd-analyze verify, twice. With --recursive-errors=no the exit code
# covers our unit's own syntax (unknown keys, bad values) and nothing of the
# host's units; the plain run also loads the dependencies and creates the start
# job, so a missing required unit fails it. Both exit codes concern only the
# unit given, so both must be 0.
# verify also looks up the Documentation= pages with man: the built ones
# (man/), laid out as installed.
for page in "$COOPBILL_BUILDDIR"/man/*.[0-9]; do
	mkdir -p "$tmp/man/man${page##*.}"
	ln -s "$page" "$tmp/man/man${page##*.}/"
done
export MANPATH=$tmp/man
verify_out=$tmp/verify.out
verify_rc=0
{
	systemd-analyze verify --recursive-errors=no "$unit" 2>&1 || verify_rc=$?
	systemd-analyze verify "$unit" 2>&1 || verify_rc=$((verify_rc ? verify_rc : $?))
} >"$verify_out"
awk '!seen[$0]++' "$verify_out" >"$verify_out.unique"
# A line that names another unit (and not ours) is the host's business; every
# other line, including those naming no unit at all, counts against ours.
unit_re='[A-Za-z0-9:_.\\@-]+\.(service|socket|target|device|mount|automount|swap|timer|path|slice|scope)'
ours=0
while IFS= read -r line; do
	[[ -n $line ]] || continue
	if [[ $line != *coopbilld* && $line =~ ^(/[^:]*/)?$unit_re(:[0-9]+)?: ]]; then
		echo "note: ignoring verify output about another unit: $line"
		continue
	fi
	echo "verify: $line" >&2
	ours=$((ours + 1))
done <"$verify_out.unique"
if ((verify_rc != 0)); then
	fail "systemd-analyze verify exited $verify_rc"
elif ((ours > 0)); then
	fail "systemd-analyze verify printed $ours line(s) about coopbilld.service"
else
	ok "systemd-analyze verify is clean"
fi

# --- systemd-analyze security --offline=true: the overall exposure.
security_out=$tmp/security.out
security_rc=0
systemd-analyze security --no-pager --offline=true "$unit" >"$security_out" 2>&1 || security_rc=$?
exposure_line=$(sed 's/\x1b\[[0-9;]*m//g' "$security_out" | grep -E 'Overall exposure level for [^:]*: [0-9]+\.[0-9]' || true)
if ((security_rc != 0)) || [[ -z $exposure_line ]]; then
	cat "$security_out" >&2
	fail "systemd-analyze security --offline=true exited $security_rc without an exposure level"
else
	score=$(sed -E 's/.*Overall exposure level for [^:]*: ([0-9]+\.[0-9]).*/\1/' <<<"$exposure_line")
	tenths=$((10#${score%.*} * 10 + 10#${score#*.}))
	echo "exposure: $score (at most $((MAX_EXPOSURE_TENTHS / 10)).$((MAX_EXPOSURE_TENTHS % 10)))"
	if ((tenths > MAX_EXPOSURE_TENTHS)); then
		# Show what is exposed, to know what to fix.
		sed 's/\x1b\[[0-9;]*m//g' "$security_out" | grep -E '[0-9]\.[0-9] *$|Overall' >&2 || true
		fail "the exposure $score is above $((MAX_EXPOSURE_TENTHS / 10)).$((MAX_EXPOSURE_TENTHS % 10))"
	else
		ok "systemd-analyze security --offline=true: $score"
	fi
fi

# --- sysusers.d and tmpfiles.d, applied to an empty root as if installed.
# Both write files owned by other users: that takes root.
if ((EUID != 0)); then
	echo "note: not root, sysusers.d and tmpfiles.d are not applied"
else
	root=$tmp/root
	mkdir -p "$root/usr/lib/sysusers.d" "$root/usr/lib/tmpfiles.d" "$root/etc/coopbill"
	cp "$sysusers" "$root/usr/lib/sysusers.d/coopbill.conf"
	cp "$tmpfiles" "$root/usr/lib/tmpfiles.d/coopbill.conf"
	cp "$COOPBILL_SRCDIR/etc/coopbill.conf" "$root/etc/coopbill/coopbill.conf"

	if ! command -v systemd-sysusers >/dev/null 2>&1; then
		echo "note: systemd-sysusers is not installed, sysusers.d not applied"
	elif ! out=$(systemd-sysusers --root="$root" 2>&1); then
		echo "$out" >&2
		fail "systemd-sysusers rejected systemd/sysusers.conf"
	elif [[ -n $(grep -vE "^Creating (group|user) '$user'" <<<"$out" || true) ]]; then
		echo "$out" >&2
		fail "systemd-sysusers warned about systemd/sysusers.conf"
	else
		passwd_line=$(grep "^$user:" "$root/etc/passwd" || true)
		IFS=: read -r _ _ uid gid _ home _ <<<"$passwd_line"
		if [[ -z $passwd_line ]]; then
			fail "systemd-sysusers did not create the user '$user' (User= of the unit)"
		elif ! grep -q "^$user:x:$gid:" "$root/etc/group"; then
			fail "systemd-sysusers did not create the group '$user' with gid $gid"
		elif ((uid == 0 || uid >= 1000)); then
			fail "the user '$user' got uid $uid, not a system uid"
		elif [[ $home != "/var/lib/$state_dir" ]]; then
			fail "the user '$user' has home $home, not its state directory /var/lib/$state_dir"
		else
			ok "systemd-sysusers: $passwd_line"
		fi

		if ! command -v systemd-tmpfiles >/dev/null 2>&1; then
			echo "note: systemd-tmpfiles is not installed, tmpfiles.d not applied"
		elif [[ ! -e /proc/self ]]; then
			# systemd-tmpfiles refuses to run at all without /proc, --root or not.
			echo "note: /proc is not mounted, tmpfiles.d not applied"
		elif ! out=$(systemd-tmpfiles --root="$root" --create 2>&1) || [[ -n $out ]]; then
			echo "$out" >&2
			fail "systemd-tmpfiles --create failed or warned on systemd/tmpfiles.conf"
		else
			# The state directory as StateDirectory= makes it; the configuration
			# readable by the daemon's group only.
			expect() { # path, "mode uid gid"
				local got
				got=$(stat -c '%a %u %g' "$root$1" 2>/dev/null || echo missing)
				[[ $got == "$2" ]] || fail "$1 is '$got', expected '$2' (mode uid gid)"
			}
			before=$failures
			expect "/var/lib/$state_dir" "700 $uid $gid"
			expect /etc/coopbill "750 0 $gid"
			expect /etc/coopbill/coopbill.conf "640 0 $gid"
			((failures > before)) || ok "systemd-tmpfiles: /var/lib/$state_dir 0700 $user, /etc/coopbill 0750 root:$user"
		fi
	fi
fi

if ((failures > 0)); then
	echo "systemd: $failures check(s) failed" >&2
	exit 1
fi
echo "systemd: all checks passed, exposure $score"
