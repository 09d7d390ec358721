#!/usr/bin/env bash
# Runs tests with the wall clock set to a fixed instant by libfaketime, so that
# month ends, the new year, clock changes and 29 February are tested on
# purpose instead of by waiting for them.
#
# usage: at.sh INSTANT TEST...
#   INSTANT  an ISO 8601 time with its offset, e.g. 2027-03-28T01:59:00Z
#   TEST     an integration script (*.sh, run with bash) or a unit test binary
#
# The clock is shifted by one offset for every process, so the daemon, curl
# and the test's own `date` agree, and it runs on from the instant. Each test
# starts at the instant itself. The daemon's monotonic clock runs normally
# (FAKETIME_DONT_FAKE_MONOTONIC=1); the other programs get a shifted one too,
# because libfaketime 0.9.10 fails an absolute sleep on an unshifted monotonic
# clock (Python's time.sleep gets EINVAL).
set -euo pipefail

instant=$1
shift
: "${COOPBILLD:?COOPBILLD must name the coopbilld binary}"

command -v faketime >/dev/null || { echo "SKIP: faketime is not installed (package faketime)"; exit 77; }

target=$(date -u -d "$instant" +%s) || { echo "not a time: $instant" >&2; exit 2; }

wrappers=$(mktemp -d /tmp/coopbill-dates.XXXXXX)
trap 'rm -rf "$wrappers"' EXIT
# exec keeps the daemon's process id, which the tests signal.
cat >"$wrappers/coopbilld" <<SH
#!/bin/sh
FAKETIME_DONT_FAKE_MONOTONIC=1 exec "$COOPBILLD" "\$@"
SH
chmod +x "$wrappers/coopbilld"

# libfaketime names its shared state after a process id (/dev/shm, "faketime_
# sem_PID" and "faketime_shm_PID"). A process that made its own and was
# killed leaves it behind, and the faketime program refuses to start
# ("sem_open: File exists") once its own process id comes round to that name
# again. Before each test, what belongs to processes that are gone is removed;
# a start refused all the same (the program ran nothing) is tried again.
sweep_stale_state() {
	local file pid
	for file in /dev/shm/sem.faketime_sem_* /dev/shm/faketime_shm_*; do
		[ -O "$file" ] || continue
		pid=${file##*_}
		[ -d "/proc/$pid" ] || rm -f "$file"
	done
}

failed=()
for test in "$@"; do
	name=$(basename "$test")
	offset=$((target - $(date +%s)))
	if [ "$offset" -ge 0 ]; then offset="+$offset"; fi
	echo "== $name at $instant"
	if [[ $test == *.sh ]]; then command=(bash "$test"); else command=("$test"); fi
	# The faketime program makes the shared state that all the processes
	# of the test use, and removes it when the test ends; without it each
	# process makes its own, and one that exits first removes it under
	# its children.
	for attempt in 1 2 3; do
		sweep_stale_state
		status=0
		env TZ=UTC FAKETIME_DONT_FAKE_MONOTONIC=0 COOPBILLD="$wrappers/coopbilld" \
			faketime -f "${offset}s" "${command[@]}" 2>"$wrappers/stderr" || status=$?
		cat "$wrappers/stderr" >&2
		[ "$status" -ne 0 ] && [ "$(head -n 1 "$wrappers/stderr")" = "faketime: sem_open: File exists" ] || break
		echo "faketime found stale shared state (attempt $attempt); trying again" >&2
	done
	case $status in
	0) ;;
	77) echo "skipped: $name" ;;
	*) failed+=("$name") ;;
	esac
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "failed at $instant: ${failed[*]}" >&2
	exit 1
fi
