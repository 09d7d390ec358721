#!/usr/bin/env bash
# The database's disk: a full disk makes /healthz answer 503 with the
# database failing (reads still work, writes do not) until a write succeeds
# again, and a start on a full disk says that the disk is full. Needs root
# to mount a small file system for the database.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || { echo "SKIP: mounting a small file system needs root"; exit 77; }
DISK="$WORK/disk"
mkdir "$DISK"
mount -t tmpfs -o size=4m tmpfs "$DISK" 2>/dev/null || { echo "SKIP: cannot mount tmpfs"; exit 77; }
trap 'umount -l "$DISK"; cleanup' EXIT
DB="$DISK/coopbill.db"
write_config
start_daemon
ADMIN=$(admin_token)
JOINED=$(date -u +%Y-%m-01)

fill() {
	dd if=/dev/zero of="$DISK/fill" bs=64k 2>/dev/null || true
}

# Households until a write fails: the WAL has room for a few at first.
fill
for i in $(seq 1 2000); do
	status=$(req POST /api/v1/households "$ADMIN" "{\"name\": \"Household $i\", \"joined_at\": \"$JOINED\"}")
	[ "$status" = 201 ] || break
done
expect_problem 503 "$status" "a write on a full disk" 'storage|database'
status=$(req GET /healthz)
expect 503 "$status" "/healthz after a write failed on a full disk"
[ "$(body .database)" = failing ] || fail "database is \"$(body .database)\", not failing"
[ "$(body .status)" = unavailable ] || fail "status is \"$(body .status)\""
ok "/healthz says the database is failing"

rm "$DISK/fill"
status=$(req POST /api/v1/households "$ADMIN" "{\"name\": \"After\", \"joined_at\": \"$JOINED\"}")
expect 201 "$status" "a write once there is space again"
status=$(req GET /healthz)
expect 200 "$status" "/healthz once a write succeeded again"
[ "$(body .database)" = ok ] || fail "database is \"$(body .database)\""

# A start on a full disk says so.
stop_daemon
fill
status=0
timeout 10 "$COOPBILLD" --config "$CONFIG" 2>"$WORK/full.log" || status=$?
[ "$status" != 0 ] && [ "$status" != 124 ] || fail "started on a full disk (exit $status)"
grep -q "the disk holding $DISK is full" "$WORK/full.log" || fail "the refusal does not say the disk is full: $(cat "$WORK/full.log")"
if grep -q CAP_NET_ADMIN "$WORK/full.log"; then fail "the refusal blames capabilities"; fi
ok "a start on a full disk says the disk is full"
finish
