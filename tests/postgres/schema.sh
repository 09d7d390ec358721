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
. "$src/tests/postgres/cluster.sh"

for tool in sqlite3 python3; do
	if ! command -v "$tool" >/dev/null; then
		echo "FAIL: $tool is missing: install sqlite3 and python3 (scripts/deps.sh)"
		exit 1
	fi
done

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
cleanup() {
	pg_cluster_stop
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
chmod 755 "$dir"
pg_cluster_start "$dir/pg"
psql=("${PSQL[@]}")

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

python3 "$src/tests/postgres/schema.py" "$dir/sqlite.db" "$PG_SOCK" "$PG_BIN/psql"
