#!/usr/bin/env bash
# The PostgreSQL dialect of the migrations (sql/pg/) against SQLite's (sql/):
# every sql/NNN_name.sql has its sql/pg/NNN_name.sql; applied in order, the
# two make the same tables, columns, keys, indexes, foreign keys and
# triggers, refuse the same rows and reach the same schema version
# (schema.py compares them).
#
# PostgreSQL is Debian's, in a throwaway cluster that this test makes with
# initdb in a temporary folder, runs as nobody on a Unix socket only
# (listen_addresses is empty) and removes on every exit. It never uses the
# cluster that Debian's postgresql package makes and starts (main). As root
# only: it exits 77 otherwise.
set -euo pipefail

src=${COOPBILL_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
pgbin=/usr/lib/postgresql/15/bin
pguser=nobody

if [ "$(id -u)" != 0 ]; then
	echo "skip: needs root to run the throwaway cluster as $pguser"
	exit 77
fi
for tool in "$pgbin/initdb" "$pgbin/pg_ctl" "$pgbin/psql" sqlite3 python3 runuser; do
	if ! command -v "$tool" >/dev/null; then
		echo "FAIL: $tool is missing: install postgresql, sqlite3 and python3 (scripts/deps.sh)"
		exit 1
	fi
done

# PostgreSQL refuses to run as root; where a folder on initdb's path is
# closed to other users (a chroot whose root is 0700), nobody cannot run it.
if ! runuser -u "$pguser" -- "$pgbin/initdb" --version >/dev/null 2>&1; then
	echo "skip: $pguser cannot run $pgbin/initdb here (a folder on its path is closed to" \
		"other users), and PostgreSQL does not run as root"
	exit 77
fi

# Every migration has its PostgreSQL dialect, and nothing else is there.
sqlite_files=$(cd "$src/sql" && ls -- [0-9]*.sql)
pg_files=$(cd "$src/sql/pg" && ls -- [0-9]*.sql)
if [ "$sqlite_files" != "$pg_files" ]; then
	echo "FAIL: sql/ and sql/pg/ differ in their migrations (< sql/, > sql/pg/):"
	diff <(echo "$sqlite_files") <(echo "$pg_files") | grep '^[<>]' || true
	exit 1
fi

# The test's files in dir, root's; the cluster's in dir/pg, nobody's, where
# root writes nothing (nobody could have put a link there).
dir=$(mktemp -d -t coopbill-pg.XXXXXX)
pg=$dir/pg
cleanup() {
	if [ -f "$pg/data/postmaster.pid" ]; then
		runuser -u "$pguser" -- "$pgbin/pg_ctl" -D "$pg/data" -m immediate -w stop \
			>/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
chmod 755 "$dir"
mkdir -m 700 "$pg"
chown "$pguser" "$pg"

as_pg() { (cd "$pg" && runuser -u "$pguser" -- "$@"); }
as_pg "$pgbin/initdb" -D "$pg/data" -U coopbill --auth=trust -E UTF8 --no-locale --no-sync \
	>"$dir/initdb.log" 2>&1 || {
	cat "$dir/initdb.log"
	exit 1
}
as_pg mkdir -m 700 "$pg/sock"
# No TCP at all: only the socket in the test's own folder, where only nobody
# and root reach it. fsync off: the cluster is thrown away.
as_pg tee -a "$pg/data/postgresql.conf" >/dev/null <<CONF
listen_addresses = ''
unix_socket_directories = '$pg/sock'
fsync = off
CONF
if ! as_pg "$pgbin/pg_ctl" -D "$pg/data" -l "$pg/server.log" -w -t 30 start >/dev/null; then
	as_pg cat "$pg/server.log"
	exit 1
fi
psql=("$pgbin/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$pg/sock" -U coopbill)
"${psql[@]}" -d postgres -c 'CREATE DATABASE coopbill'

# Each migration in its own transaction, as the store applies them; the
# schema version after each is its number on both sides.
for file in $sqlite_files; do
	number=$((10#${file%%_*}))
	if ! "${psql[@]}" -d coopbill -1 -f "$src/sql/pg/$file" >/dev/null 2>"$dir/psql.err"; then
		echo "FAIL: sql/pg/$file: $(cat "$dir/psql.err")"
		exit 1
	fi
	version=$("${psql[@]}" -d coopbill -c 'SELECT version FROM schema_version')
	if [ "$version" != "$number" ]; then
		echo "FAIL: sql/pg/$file leaves schema_version at $version, not $number"
		exit 1
	fi
	{
		echo 'BEGIN;'
		cat "$src/sql/$file"
		echo "PRAGMA user_version = $number;"
		echo 'COMMIT;'
	} | sqlite3 -bail "$dir/sqlite.db"
done

python3 "$src/tests/postgres/schema.py" "$dir/sqlite.db" "$pg/sock" "$pgbin/psql"
