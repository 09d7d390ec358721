# A throwaway PostgreSQL cluster for a test, sourced: Debian's PostgreSQL,
# made with initdb in a folder of the test's own, run as nobody on a Unix
# socket only (listen_addresses is empty) and stopped by pg_cluster_stop,
# which the test's exit trap calls. It never uses the cluster that Debian's
# postgresql package makes and starts (main). Root only: PostgreSQL does
# not run as root, and only root can run it as another user.
#
# pg_cluster_start DIR [durable] makes the cluster in DIR (which it creates,
# nobody's) with a database named coopbill, and sets PG_SOCK (the socket's
# folder), PG_URL (a libpq URI for the database, as user coopbill) and PSQL
# (psql's command line: unaligned, no headers, stop on error). It exits 77
# when the cluster cannot run here, saying why. The cluster runs with fsync
# off, as it is thrown away; with durable (for a benchmark), with fsync on,
# PostgreSQL's default, a commit waiting for its WAL on the disk.
#
# pg_standby_start makes a streaming-replication standby of it in
# $PG_DIR/standby, on a socket of its own (PG_STANDBY_SOCK), to which the
# primary then replicates synchronously: a commit is acknowledged once the
# standby has it. PG_URL then names both, the writable one first found.
# pg_primary_stop stops the primary at once, as a crash would, and
# pg_promote promotes the standby. pg_primary_pause stops the primary's
# processes where they are (SIGSTOP), as a server that hangs: connections
# stay open and nothing answers them; pg_primary_resume lets them go on.

PG_BIN=/usr/lib/postgresql/15/bin
PG_USER=nobody
PG_DIR=

pg_cluster_start() {
	PG_DIR=$1
	local fsync=off
	[ "${2:-}" = durable ] && fsync=on
	if [ "$(id -u)" != 0 ]; then
		echo "skip: needs root to run the throwaway PostgreSQL cluster as $PG_USER"
		exit 77
	fi
	local tool
	for tool in "$PG_BIN/initdb" "$PG_BIN/pg_ctl" "$PG_BIN/psql" runuser; do
		if ! command -v "$tool" >/dev/null; then
			echo "FAIL: $tool is missing: install postgresql (scripts/deps.sh)"
			exit 1
		fi
	done
	# Where a folder on initdb's path is closed to other users (a chroot
	# whose root is 0700), nobody cannot run it.
	if ! runuser -u "$PG_USER" -- "$PG_BIN/initdb" --version >/dev/null 2>&1; then
		echo "skip: $PG_USER cannot run $PG_BIN/initdb here (a folder on its path is" \
			"closed to other users), and PostgreSQL does not run as root"
		exit 77
	fi
	# The folders above DIR must let nobody through; DIR itself is its.
	chmod o+x "$(dirname "$PG_DIR")"
	mkdir -m 700 "$PG_DIR"
	chown "$PG_USER" "$PG_DIR"
	pg_as_owner "$PG_BIN/initdb" -D "$PG_DIR/data" -U coopbill --auth=trust -E UTF8 \
		--no-locale --no-sync >"$PG_DIR/initdb.log" 2>&1 || {
		cat "$PG_DIR/initdb.log"
		exit 1
	}
	pg_as_owner mkdir -m 700 "$PG_DIR/sock"
	# No TCP at all: only the socket in the test's own folder, where only
	# nobody and root reach it.
	pg_as_owner tee -a "$PG_DIR/data/postgresql.conf" >/dev/null <<CONF
listen_addresses = ''
unix_socket_directories = '$PG_DIR/sock'
fsync = $fsync
CONF
	pg_start "$PG_DIR"
	PG_SOCK=$PG_DIR/sock
	PG_URL="postgresql:///coopbill?host=$PG_SOCK&user=coopbill"
	PSQL=("$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$PG_SOCK" -U coopbill)
	"${PSQL[@]}" -d postgres -c 'CREATE DATABASE coopbill'
}

pg_standby_start() {
	local standby=$PG_DIR/standby
	pg_as_owner "$PG_BIN/pg_basebackup" -h "$PG_SOCK" -U coopbill -D "$standby/data" -R -c fast \
		-X stream >"$PG_DIR/basebackup.log" 2>&1 || {
		cat "$PG_DIR/basebackup.log"
		exit 1
	}
	pg_as_owner mkdir -m 700 "$standby/sock"
	pg_as_owner tee -a "$standby/data/postgresql.conf" >/dev/null <<CONF
unix_socket_directories = '$standby/sock'
CONF
	pg_start "$standby"
	PG_STANDBY_SOCK=$standby/sock
	"${PSQL[@]}" -d postgres -c "ALTER SYSTEM SET synchronous_standby_names = '*'" \
		-c 'SELECT pg_reload_conf()' >/dev/null
	PG_URL="postgresql:///coopbill?host=$PG_SOCK,$PG_STANDBY_SOCK&user=coopbill"
	PG_URL+="&target_session_attrs=read-write"
}

pg_primary_stop() {
	pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null
}

# The primary's postmaster and its children (backends, writers).
pg_primary_processes() {
	local pid
	pid=$(head -1 "$PG_DIR/data/postmaster.pid")
	echo "$pid" $(pgrep -P "$pid")
}

pg_primary_pause() {
	kill -STOP $(pg_primary_processes)
}

pg_primary_resume() {
	kill -CONT $(pg_primary_processes)
}

pg_promote() {
	pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/standby/data" -w promote >/dev/null
}

# pg_start FOLDER: starts the server of FOLDER/data, logging to
# FOLDER/server.log, which it shows when the server does not start.
pg_start() {
	if ! pg_as_owner "$PG_BIN/pg_ctl" -D "$1/data" -l "$1/server.log" -w -t 30 start \
		>/dev/null; then
		pg_as_owner cat "$1/server.log"
		exit 1
	fi
}

# pg_as_owner COMMAND...: runs a command as the cluster's owner, in its folder.
pg_as_owner() {
	(cd "$PG_DIR" && runuser -u "$PG_USER" -- "$@")
}

# pg_cluster_stop: stops the cluster, and its standby, at once, if they
# run. Never fails.
pg_cluster_stop() {
	local data
	[ -n "$PG_DIR" ] || return 0
	for data in "$PG_DIR/data" "$PG_DIR/standby/data"; do
		if [ -f "$data/postmaster.pid" ]; then
			# A paused server takes its stop only once it goes on.
			kill -CONT "$(head -1 "$data/postmaster.pid")" \
				$(pgrep -P "$(head -1 "$data/postmaster.pid")") 2>/dev/null || true
			pg_as_owner "$PG_BIN/pg_ctl" -D "$data" -m immediate -w stop \
				>/dev/null 2>&1 || true
		fi
	done
}
