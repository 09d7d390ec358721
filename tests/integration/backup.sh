#!/usr/bin/env bash
# Backups that restore: coopbilld backup copies the database while the
# daemon records payments, with every payment acknowledged before it began,
# and the copy verifies; restore is refused while the daemon runs and checks
# the backup first; after restoring an older backup the daemon refuses to
# sign sizes it has published, says so, and goes on once the loss is
# recorded in the log, where members see it. Errors leave nothing behind.
. "$(dirname "$0")/lib.sh"
: "${COOPBILL_VERIFY:?COOPBILL_VERIFY must name the coopbill-verify binary}"

write_config
printf '[log]\norigin = coop.example/log\n' >>"$CONFIG"
start_daemon
ADMIN=$(admin_token)
expect 201 "$(req POST /api/v1/households "$ADMIN" \
	'{"name": "Garcia", "addresses": ["10.0.1.10"], "joined_at": "2026-11-01"}')" \
	"create a household"
KEY=$(curl -sS "$BASE/api/v1/log/key")

# pay REF: one payment; its reference on stdout once acknowledged.
pay() {
	local status
	status=$(curl -sS -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $ADMIN" \
		-H 'Content-Type: application/json' --data-binary \
		"{\"household_id\":1,\"amount_minor\":100,\"method\":\"cash\",\"reference\":\"$1\",\"received_on\":\"2026-11-10\"}" \
		"$BASE/api/v1/payments")
	[ "$status" = 201 ] && echo "$1"
}

# A writer posts payments until told to stop (at most 3,000 or 60 s), each
# acknowledged one appended to $WORK/acked as soon as it is.
: >"$WORK/acked"
(
	end=$((SECONDS + 60))
	for i in $(seq 1 3000); do
		[ -e "$WORK/stop" ] || [ "$SECONDS" -ge "$end" ] && break
		pay "loop-$i" >>"$WORK/acked" || true
	done
) &
WRITER=$!
for _ in $(seq 1 100); do
	[ "$(wc -l <"$WORK/acked")" -ge 30 ] && break
	sleep 0.1
done
[ "$(wc -l <"$WORK/acked")" -ge 30 ] || fail "the writer did not get 30 payments through"

cp "$WORK/acked" "$WORK/acked-before"
"$COOPBILLD" --config "$CONFIG" backup "$WORK/b1" >"$WORK/out" 2>"$WORK/err" ||
	fail "backup while writing: $(cat "$WORK/out" "$WORK/err")"
cp "$WORK/acked" "$WORK/acked-after"
grep -q "the copy verifies" "$WORK/out" || fail "backup verdict: $(cat "$WORK/out")"
[ ! -s "$WORK/err" ] || fail "backup wrote to a stderr that is not a terminal: $(cat "$WORK/err")"
ok "coopbilld backup runs while the daemon records payments, and verifies its copy"

sqlite3 "$WORK/b1/coopbill.db" "SELECT reference FROM ledger_entries WHERE kind = 'payment'" |
	sort >"$WORK/copied"
missing=$(sort "$WORK/acked-before" | comm -23 - "$WORK/copied" | head -3)
[ -z "$missing" ] || fail "payments acknowledged before the backup are not in it: $missing"
extra=$(comm -13 <(sort "$WORK/acked-after") "$WORK/copied" | head -3)
[ -z "$extra" ] || fail "the backup has payments never acknowledged: $extra"
[ "$(sqlite3 "$WORK/b1/coopbill.db" 'PRAGMA integrity_check')" = ok ] || fail "integrity_check"
[ "$(sqlite3 "$WORK/b1/coopbill.db" 'PRAGMA journal_mode')" = delete ] ||
	fail "the copy depends on a journal beside it"
[ "$(stat -c %a "$WORK/b1/log.key")" = 600 ] && cmp -s "$WORK/b1/log.key" "$WORK/log.key" ||
	fail "the backup's log key differs or is readable by others"
ok "the copy holds every payment acknowledged before it began ($(wc -l <"$WORK/acked-before")), one file, with the key (0600)"

touch "$WORK/stop"
wait "$WRITER"

# The copy, served by a daemon of its own, verifies with coopbill-verify.
mkdir "$WORK/scratch"
cp "$WORK/b1/coopbill.db" "$WORK/b1/log.key" "$WORK/scratch/"
SCRATCH_PORT=$(free_port)
sed -e "s|^listen = .*|listen = 127.0.0.1:$SCRATCH_PORT|" -e "s|^path = .*|path = $WORK/scratch/coopbill.db|" \
	"$CONFIG" >"$WORK/scratch.conf"
"$COOPBILLD" --config "$WORK/scratch.conf" 2>"$WORK/scratch.log" &
SCRATCH_PID=$!
for _ in $(seq 1 100); do
	curl -sS -o /dev/null "http://127.0.0.1:$SCRATCH_PORT/healthz" 2>/dev/null && break
	sleep 0.1
done
"$COOPBILL_VERIFY" "http://127.0.0.1:$SCRATCH_PORT" "$KEY" >"$WORK/v" ||
	fail "coopbill-verify of the copy: $(cat "$WORK/v")"
grep -q "^checkpoint OK: coop.example/log size " "$WORK/v" || fail "verdict: $(cat "$WORK/v")"
kill "$SCRATCH_PID"
wait "$SCRATCH_PID" || true
ok "the copy's log verifies with coopbill-verify"

# A terminal sees progress (script, of bsdutils, which Debian always has, makes one).
script -qec "\"$COOPBILLD\" --config \"$CONFIG\" backup \"$WORK/b-tty\"" /dev/null >"$WORK/tty" ||
	fail "backup on a terminal: $(cat "$WORK/tty")"
grep -q "copying the database: 100% (" "$WORK/tty" || fail "no progress on a terminal: $(cat "$WORK/tty")"
ok "on a terminal, backup shows how far the copy is"

# Errors: in words, non-zero, and nothing half-written.
before=$(ls -A "$WORK" | sort)
if "$COOPBILLD" --config "$CONFIG" backup "$WORK/b1" 2>"$WORK/err"; then fail "backup over an existing folder"; fi
grep -q "b1 exists already; name a new folder" "$WORK/err" || fail "$(cat "$WORK/err")"
cmp -s "$WORK/b1/log.key" "$WORK/log.key" || fail "the existing backup was touched"
if "$COOPBILLD" --config "$CONFIG" backup "$WORK/nowhere/b" 2>"$WORK/err"; then fail "backup into nowhere"; fi
grep -q "the folder it would be in does not exist" "$WORK/err" || fail "$(cat "$WORK/err")"
[ "$(ls -A "$WORK" | sort)" = "$before" ] || fail "a failed backup left something: $(ls -A "$WORK")"
ok "backup refuses an existing folder and a missing one, and leaves nothing"

if [ "$(id -u)" = 0 ] && mkdir "$WORK/small" && mount -t tmpfs -o size=64k tmpfs "$WORK/small" 2>/dev/null; then
	trap 'umount "$WORK/small" 2>/dev/null || true; cleanup' EXIT
	if "$COOPBILLD" --config "$CONFIG" backup "$WORK/small/b" 2>"$WORK/err"; then fail "backup into a full disk"; fi
	grep -q "the disk holding $WORK/small/b.* is full" "$WORK/err" || fail "$(cat "$WORK/err")"
	[ -z "$(ls -A "$WORK/small")" ] || fail "a backup onto a full disk left $(ls -A "$WORK/small")"
	mount -o remount,ro "$WORK/small"
	if "$COOPBILLD" --config "$CONFIG" backup "$WORK/small/b" 2>"$WORK/err"; then fail "backup onto read-only"; fi
	grep -q "cannot write $WORK/small/b: Read-only file system" "$WORK/err" || fail "$(cat "$WORK/err")"
	umount "$WORK/small"
	ok "a full disk and a read-only one are said so, and nothing is left there"
else
	mkdir -p "$WORK/locked"
	chmod 500 "$WORK/locked"
	if "$COOPBILLD" --config "$CONFIG" backup "$WORK/locked/b" 2>"$WORK/err"; then fail "backup into a locked folder"; fi
	grep -q "cannot write $WORK/locked/b: Permission denied" "$WORK/err" || fail "$(cat "$WORK/err")"
	ok "a folder the user cannot write is said so (the full-disk case needs root)"
fi

# Restore is refused while the daemon runs, and a second daemon too.
if "$COOPBILLD" --config "$CONFIG" restore "$WORK/b1" 2>"$WORK/err"; then fail "restore while running"; fi
grep -q "cannot restore while coopbilld (process $DAEMON_PID) runs on the database" "$WORK/err" ||
	fail "$(cat "$WORK/err")"
if timeout 10 "$COOPBILLD" --config "$CONFIG" 2>"$WORK/err"; then fail "a second daemon started"; fi
grep -q "is in use by another coopbilld (process $DAEMON_PID)" "$WORK/err" || fail "$(cat "$WORK/err")"
expect 201 "$(req POST /api/v1/payments "$ADMIN" \
	'{"household_id":1,"amount_minor":100,"method":"cash","reference":"after","received_on":"2026-11-10"}')" \
	"the running daemon is untouched by the refused restore"
# What a member saw last: the latest checkpoint, kept by coopbill-verify.
"$COOPBILL_VERIFY" --since "$WORK/member-saw" "$BASE" "$KEY" >"$WORK/v" ||
	fail "coopbill-verify: $(cat "$WORK/v")"
PUBLISHED=$(sed -n 2p "$WORK/member-saw")
[ "$(sed -n 2p "$WORK/coopbill.db.published")" = "$PUBLISHED" ] ||
	fail "the daemon's record of what it published is not the checkpoint it served"
stop_daemon

# A backup that does not verify is refused before anything changes.
cp -r "$WORK/b1" "$WORK/bad"
sqlite3 "$WORK/bad/coopbill.db" "DROP TRIGGER log_entries_append_only_update;
	UPDATE log_entries SET entry = replace(entry, 'amount_minor 100', 'amount_minor 1') WHERE idx = 5"
if "$COOPBILLD" --config "$CONFIG" restore "$WORK/bad" 2>"$WORK/err"; then fail "a bad backup restored"; fi
grep -q "restore failed, the database is as it was: the copy does not verify: its transparency log does not verify: log entry 5 " "$WORK/err" ||
	fail "$(cat "$WORK/err")"
if "$COOPBILLD" --config "$CONFIG" restore "$WORK/none" 2>"$WORK/err"; then fail "restored nothing"; fi
grep -q "none is not a backup that can be read" "$WORK/err" || fail "$(cat "$WORK/err")"
[ "$(sqlite3 "$DB" 'SELECT max(size) FROM log_checkpoints')" = "$PUBLISHED" ] ||
	fail "a refused restore changed the database"
ls "$WORK" | grep -q restoring && fail "a refused restore left $(ls "$WORK")"
ok "a backup whose log was edited, or no backup, is refused and the database is as it was"

# The older backup restored: the daemon refuses to sign again.
"$COOPBILLD" --config "$CONFIG" restore "$WORK/b1" >"$WORK/out" 2>"$WORK/err" ||
	fail "restore: $(cat "$WORK/out" "$WORK/err")"
RESTORED=$(sqlite3 "$DB" 'SELECT max(size) FROM log_checkpoints')
[ "$RESTORED" -lt "$PUBLISHED" ] || fail "the backup ($RESTORED) is not older than $PUBLISHED"
grep -q "^restored $DB from $WORK/b1 (log of $RESTORED entries)" "$WORK/out" || fail "$(cat "$WORK/out")"
grep -q "already published a checkpoint of $PUBLISHED .*coopbilld log record-loss" "$WORK/err" ||
	fail "restore does not warn: $(cat "$WORK/err")"
[ ! -e "$DB-wal" ] || [ ! -s "$DB-wal" ] || fail "the old database's journal is still beside the new one"
ok "restore of an older backup replaces the database and warns that the log is behind"

start_daemon
expect 503 "$(req GET /healthz)" "/healthz says the log cannot sign"
body .log | grep -q "has $RESTORED entries, but this box already published a checkpoint of $PUBLISHED" ||
	fail "healthz: $(body .log)"
expect_problem 503 "$(req POST /api/v1/payments "$ADMIN" \
	'{"household_id":1,"amount_minor":100,"method":"cash","reference":"refused","received_on":"2026-11-10"}')" \
	"a write is refused" 'coopbilld log record-loss'
[ "$(body .type)" = "urn:coopbill:problem:log-broken" ] || fail "problem type $(body .type)"
grep -q "already published a checkpoint of $PUBLISHED" "$WORK/daemon.log" || fail "the daemon's log does not say"
[ "$(sqlite3 "$DB" 'SELECT max(size) FROM log_checkpoints')" = "$RESTORED" ] ||
	fail "the daemon signed a checkpoint at a published size"
ok "the daemon signs nothing, and says why in its log and on the API"
stop_daemon

# The way forward: record the loss, then the log goes on past what was published.
if "$COOPBILLD" --config "$CONFIG" token list >/dev/null 2>&1; then fail "token list on a log that cannot sign"; fi
"$COOPBILLD" --config "$CONFIG" log record-loss >"$WORK/out" 2>&1 || fail "record-loss: $(cat "$WORK/out")"
grep -q "goes on from a checkpoint of $((PUBLISHED + 1))" "$WORK/out" || fail "$(cat "$WORK/out")"
if "$COOPBILLD" --config "$CONFIG" log record-loss 2>"$WORK/err"; then fail "record-loss twice"; fi
grep -q "no loss to record" "$WORK/err" || fail "$(cat "$WORK/err")"
start_daemon
expect 200 "$(req GET /healthz)" "the daemon serves again"
expect 201 "$(req POST /api/v1/payments "$ADMIN" \
	'{"household_id":1,"amount_minor":100,"method":"cash","reference":"again","received_on":"2026-11-10"}')" \
	"a payment is recorded again"
req GET "/api/v1/log/entries/$RESTORED" >/dev/null
[ "$(head -2 "$WORK/body" | tr '\n' ' ')" = "entry-lost index $RESTORED " ] ||
	fail "entry $RESTORED: $(cat "$WORK/body")"
req GET "/api/v1/log/entries/$PUBLISHED" >/dev/null
grep -q "^log-restored$" "$WORK/body" && grep -q "^restored_size $RESTORED$" "$WORK/body" &&
	grep -q "^published_size $PUBLISHED$" "$WORK/body" || fail "entry $PUBLISHED: $(cat "$WORK/body")"
ok "the log records each lost entry and the restore, then takes entries again"

"$COOPBILL_VERIFY" "$BASE" "$KEY" >"$WORK/v" || fail "coopbill-verify: $(cat "$WORK/v")"
grep -q "^checkpoint OK: coop.example/log size $((PUBLISHED + 2))" "$WORK/v" || fail "verdict: $(cat "$WORK/v")"
if "$COOPBILL_VERIFY" --since "$WORK/member-saw" "$BASE" "$KEY" >"$WORK/v" 2>&1; then
	fail "a member's verifier did not notice the restore"
fi
grep -q "consistent FAILED" "$WORK/v" || fail "verdict: $(cat "$WORK/v")"
ok "the log verifies anew, and a member who saw the lost entries is told the log changed"
stop_daemon
[ "$STOP_STATUS" = 0 ] || fail "exit $STOP_STATUS"
finish
