#!/usr/bin/env python3
"""Compares the schema that sql/ makes in SQLite with the one sql/pg/ makes in
PostgreSQL, then drives both with the same statements.

usage: schema.py SQLITE_DB PG_SOCKET_DIR PSQL (tests/postgres/schema.sh makes both)

Structure: the same tables; per table the same columns in the same order, with
SQLite's INTEGER, TEXT and BLOB as bigint, text and bytea, the same
nullability and defaults; the same primary keys, unique constraints, indexes
(by name and columns), foreign keys and triggers (name, table, timing, event,
condition, and the message of one that refuses or the column of one that
counts a household's changes); the same schema version.

Behaviour: rows every table accepts, in both; rows each CHECK, NOT NULL,
UNIQUE and foreign key refuses, refused by both; UPDATE and DELETE refused on
the append-only tables, and the conditional triggers (published, proposed and
revoked) refusing and allowing the same changes; then both hold the same rows,
the counts of changes that triggers keep included.
A few rows SQLite takes only through its loose typing are refused by
PostgreSQL: KNOWN_DIFFERENCES lists them, and the test checks they still are.
"""
import json
import re
import sqlite3
import subprocess
import sys

TYPES = {"INTEGER": "bigint", "TEXT": "text", "BLOB": "bytea"}
NOW = "<now, UTC, ISO 8601>"
NOW_DEFAULTS = {
    "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')",
    "to_char((now() AT TIME ZONE 'UTC'::text), 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'::text)",
}
FK_ACTIONS = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}

failures = []
# What a trigger that counts a household's changes (households.changes)
# stands for where one that refuses has its message.
COUNTS = "counts households.changes"


def fail(message):
    failures.append(message)
    print("FAIL: " + message)


class Sqlite:
    name = "SQLite"

    def __init__(self, path):
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA foreign_keys = ON")  # as the store opens it

    def blob(self, hexdigits):
        return "X'%s'" % hexdigits

    def zeros(self, n):
        return "zeroblob(%d)" % n

    def run(self, statements, undo=False):
        """Runs each statement on its own, in order: None for each that
        succeeded, else its error. undo: each is rolled back after it ran."""
        errors = []
        for sql in statements:
            if undo:
                self.db.execute("BEGIN")
            try:
                self.db.execute(sql)
                errors.append(None)
            except sqlite3.Error as e:
                errors.append(str(e))
            finally:
                if undo:
                    self.db.execute("ROLLBACK")
        return errors

    def rows(self, table, order):
        cursor = self.db.execute('SELECT * FROM "%s" ORDER BY %s' % (table, ", ".join(order)))
        names = [d[0] for d in cursor.description]
        return [{n: ("\\x" + v.hex()) if isinstance(v, bytes) else v for n, v in zip(names, row)}
                for row in cursor]


class Postgres:
    name = "PostgreSQL"

    def __init__(self, socket_dir, psql):
        self.psql = [psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", socket_dir,
                     "-U", "coopbill", "-d", "coopbill"]

    def blob(self, hexdigits):
        return "'\\x%s'::bytea" % hexdigits

    def zeros(self, n):
        return "decode(repeat('00', %d), 'hex')" % n

    def run(self, statements, undo=False):
        """As Sqlite.run, in one session: each statement in a subtransaction
        of its own (a PL/pgSQL block that catches its error)."""
        script = """CREATE FUNCTION pg_temp.run(statements json, undo boolean) RETURNS json
LANGUAGE plpgsql AS $run$
DECLARE
	errors text[] := '{}';
BEGIN
	FOR i IN 0 .. json_array_length(statements) - 1 LOOP
		BEGIN
			EXECUTE statements->>i;
			IF undo THEN
				RAISE EXCEPTION 'undone' USING ERRCODE = 'CB000';
			END IF;
			errors := errors || NULL::text;
		EXCEPTION WHEN OTHERS THEN
			errors := errors || CASE WHEN SQLSTATE = 'CB000' THEN NULL ELSE SQLERRM END;
		END;
	END LOOP;
	RETURN to_json(errors);
END
$run$;
SELECT pg_temp.run($statements$%s$statements$, %s);
""" % (json.dumps(statements), "true" if undo else "false")
        return self.json(["-f", "-"], script)

    def query(self, sql):
        return self.json(["-c", "SELECT coalesce(json_agg(q), '[]') FROM (%s) q" % sql])

    def json(self, args, script=None):
        done = subprocess.run(self.psql + args, input=script, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit("psql %s failed: %s" % (" ".join(args), done.stderr.strip()))
        return json.loads(done.stdout)

    def rows(self, table, order):
        return self.query('SELECT * FROM "%s" ORDER BY %s' % (table, ", ".join(order)))


def sqlite_default(text):
    return None if text is None else NOW if text in NOW_DEFAULTS else text


def pg_default(text):
    if text is None:
        return None
    if text in NOW_DEFAULTS:
        return NOW
    return re.sub(r"::(text|bigint|integer)$", "", text)


def sqlite_schema(db):
    schema = {"tables": {}, "indexes": {}, "uniques": set(), "fks": set(), "triggers": {}}
    tables = [r[0] for r in db.execute(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")]
    for table in tables:
        info = db.execute('SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info(?) ORDER BY cid',
                          (table,)).fetchall()
        pk = [c[0] for c in sorted((c for c in info if c[4]), key=lambda c: c[4])]
        columns = []
        for name, type_, notnull, default, _ in info:
            if type_ not in TYPES:
                fail("sql/: %s.%s has type %r, which this test does not map" % (table, name, type_))
            # A primary key column is NOT NULL in PostgreSQL; in SQLite only
            # the INTEGER one and those of WITHOUT ROWID tables are, and the
            # store never writes NULL into the others.
            columns.append((name, TYPES.get(type_, type_), bool(notnull) or name in pk, sqlite_default(default)))
        schema["tables"][table] = {"columns": columns, "pk": pk}
        for _, index, unique, origin, partial in db.execute(
                "SELECT seq, name, \"unique\", origin, partial FROM pragma_index_list(?)", (table,)).fetchall():
            cols = tuple(r[0] for r in db.execute("SELECT name FROM pragma_index_info(?) ORDER BY seqno", (index,)))
            if origin == "c":
                schema["indexes"][index] = (table, cols, bool(unique), bool(partial))
            elif origin == "u":
                schema["uniques"].add((table, cols))
        for fk in db.execute('SELECT id, "table", group_concat("from"), group_concat("to"), on_update, on_delete '
                             "FROM (SELECT * FROM pragma_foreign_key_list(?) ORDER BY id, seq) GROUP BY id",
                             (table,)):
            schema["fks"].add((table, tuple(fk[2].split(",")), fk[1], tuple(fk[3].split(",")), fk[4], fk[5]))
    for name, table, sql in db.execute("SELECT name, tbl_name, sql FROM sqlite_schema WHERE type = 'trigger'"):
        m = re.match(r"CREATE TRIGGER \S+\s+(BEFORE|AFTER)\s+(INSERT|DELETE|UPDATE(?: OF [\w, ]+?)?)\s+ON \w+"
                     r"\s+(?:WHEN (.*?)\s+)?BEGIN\s+(?:SELECT RAISE\(ABORT, ('(?:[^']|'')*')\)|"
                     r"UPDATE households SET (changes) = changes \+ 1 WHERE id = (?:NEW|OLD)\.\w+);\s+END$",
                     sql, re.S)
        if not m:
            fail("sql/: trigger %s is not BEFORE/AFTER ... SELECT RAISE(ABORT, message) or one that counts a "
                 "household's changes, which this test compares" % name)
            continue
        schema["triggers"][name] = (table, m.group(1), " ".join(m.group(2).split()), m.group(3) is not None,
                                    m.group(4) or COUNTS)
    return schema


def pg_schema(pg):
    schema = {"tables": {}, "indexes": {}, "uniques": set(), "fks": set(), "triggers": {}}
    columns = pg.query(
        "SELECT table_name AS t, column_name AS c, data_type AS type, is_nullable = 'NO' AS notnull, "
        "column_default AS def FROM information_schema.columns WHERE table_schema = 'public' "
        "ORDER BY table_name, ordinal_position")
    for c in columns:
        table = schema["tables"].setdefault(c["t"], {"columns": [], "pk": []})
        table["columns"].append((c["c"], c["type"], c["notnull"], pg_default(c["def"])))
    cols = ("(SELECT array_agg(a.attname ORDER BY k.n) FROM unnest({keys}) WITH ORDINALITY k(num, n) "
            "JOIN pg_attribute a ON a.attrelid = {rel} AND a.attnum = k.num)")
    for i in pg.query(
            "SELECT c.relname AS t, i.relname AS name, x.indisunique AS uniq, x.indisprimary AS pk, "
            "x.indpred IS NOT NULL AS partial, "
            "EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid AND k.contype = 'u') AS con, "
            + cols.format(keys="x.indkey::int2[]", rel="x.indrelid") + " AS cols "
            "FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE c.relnamespace = 'public'::regnamespace"):
        if i["pk"]:
            schema["tables"][i["t"]]["pk"] = i["cols"]
        elif i["con"]:
            schema["uniques"].add((i["t"], tuple(i["cols"])))
        else:
            schema["indexes"][i["name"]] = (i["t"], tuple(i["cols"]), i["uniq"], i["partial"])
    for f in pg.query(
            "SELECT c.relname AS t, r.relname AS ref, f.confupdtype AS upd, f.confdeltype AS del, "
            + cols.format(keys="f.conkey", rel="f.conrelid") + " AS cols, "
            + cols.format(keys="f.confkey", rel="f.confrelid") + " AS refcols "
            "FROM pg_constraint f JOIN pg_class c ON c.oid = f.conrelid JOIN pg_class r ON r.oid = f.confrelid "
            "WHERE f.contype = 'f' AND c.relnamespace = 'public'::regnamespace"):
        schema["fks"].add((f["t"], tuple(f["cols"]), f["ref"], tuple(f["refcols"]), FK_ACTIONS[f["upd"]],
                           FK_ACTIONS[f["del"]]))
    for t in pg.query(
            "SELECT c.relname AS t, t.tgname AS name, pg_get_triggerdef(t.oid) AS def FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal "
            "AND c.relnamespace = 'public'::regnamespace"):
        m = re.match(r"CREATE TRIGGER \S+ (BEFORE|AFTER) (INSERT|DELETE|TRUNCATE|UPDATE(?: OF [\w, ]+?)?) ON \S+ "
                     r"FOR EACH (?:ROW|STATEMENT) (WHEN .* )?EXECUTE FUNCTION "
                     r"(?:coopbill_refuse\(('(?:[^']|'')*')\)|(coopbill_household_changed)\(\))$",
                     t["def"])
        if not m:
            fail("sql/pg/: trigger %s is not ... EXECUTE FUNCTION coopbill_refuse(message) or "
                 "coopbill_household_changed(), which this test compares: %s" % (t["name"], t["def"]))
            continue
        schema["triggers"][t["name"]] = (t["t"], m.group(1), m.group(2), m.group(3) is not None,
                                         m.group(4) or COUNTS)
    return schema


def compare_structure(lite, pg):
    # schema_version is where PostgreSQL keeps what SQLite keeps in PRAGMA user_version.
    pg["tables"].pop("schema_version", None)
    for table in sorted(set(lite["tables"]) | set(pg["tables"])):
        if table not in pg["tables"]:
            fail("table %s: in sql/, not in sql/pg/" % table)
            continue
        if table not in lite["tables"]:
            fail("table %s: in sql/pg/, not in sql/" % table)
            continue
        a, b = lite["tables"][table], pg["tables"][table]
        if a["columns"] != b["columns"]:
            shown = [(x, y) for x, y in zip(a["columns"], b["columns"]) if x != y]
            if len(a["columns"]) != len(b["columns"]):
                shown = [(a["columns"], b["columns"])]
            for x, y in shown:
                fail("table %s: columns (name, type, NOT NULL, default) differ:\n  sql/:    %s\n  sql/pg/: %s"
                     % (table, x, y))
        if list(a["pk"]) != list(b["pk"]):
            fail("table %s: primary key %s in sql/, %s in sql/pg/" % (table, a["pk"], b["pk"]))
    for what in ("indexes", "triggers"):
        for name in sorted(set(lite[what]) | set(pg[what])):
            a, b = lite[what].get(name), pg[what].get(name)
            if what == "triggers" and a is None and b is not None and b[2] == "TRUNCATE":
                # SQLite has no TRUNCATE; PostgreSQL's skips row triggers, so
                # a table whose rows cannot be deleted refuses it too.
                refused = [t for t in lite["triggers"].values()
                           if t[0] == b[0] and t[2] == "DELETE" and not t[3] and t[4] != COUNTS]
                if not refused:
                    fail("trigger %s: refuses TRUNCATE on %s, whose rows sql/ lets be deleted" % (name, b[0]))
                elif refused[0][4] != b[4]:
                    fail("trigger %s: refuses TRUNCATE with %s, DELETE is refused with %s" % (name, b[4],
                                                                                          refused[0][4]))
                continue
            if a != b:
                fail("%s %s: %s in sql/, %s in sql/pg/" % (what[:-1] if what == "triggers" else "index", name, a, b))
    for table in sorted(lite["tables"]):
        # Every table whose rows cannot be deleted refuses TRUNCATE in PostgreSQL.
        if any(t[0] == table and t[2] == "DELETE" and not t[3] and t[4] != COUNTS
               for t in lite["triggers"].values()) and \
                not any(t[0] == table and t[2] == "TRUNCATE" for t in pg["triggers"].values()):
            fail("table %s: append-only, but sql/pg/ lets TRUNCATE empty it" % table)
    for what in ("uniques", "fks"):
        for item in sorted(lite[what] - pg[what]):
            fail("%s %s: in sql/, not in sql/pg/" % (what[:-1], item))
        for item in sorted(pg[what] - lite[what]):
            fail("%s %s: in sql/pg/, not in sql/" % (what[:-1], item))


SHA = "'%s'" % ("ab" * 32)
TS = "'2026-01-20T10:00:00Z'"
PUBLISH = "UPDATE tariffs SET status = 'published', published_at = %s, signature = 'sig', log_index = 12" % TS
# Rows both must accept, in order: at least one in every table.
ACCEPTED = [
    "INSERT INTO households (name, joined_at) VALUES ('Ana', '2026-01-01')",
    "INSERT INTO households (name, joined_at, gateway) VALUES ('Ben', '2026-01-02', 'north-2')",
    "INSERT INTO household_addresses (household_id, family, first, last, prefix_len) "
    "VALUES (1, 4, <b:0a000000>, <b:0a0000ff>, 24)",
    "INSERT INTO household_addresses (household_id, family, first, last, prefix_len) "
    "VALUES (2, 6, <b:fd000000000000000000000000000000>, <b:fd00000000000000ffffffffffffffff>, 64)",
    "INSERT INTO tokens (hash, role, household_id, name) VALUES (<b32:01>, 'member', 1, 'phone')",
    "INSERT INTO tokens (hash, role, name) VALUES (<b32:02>, 'admin', 'treasurer')",
    "INSERT INTO audit_events (actor, action, household_id, detail) VALUES ('token:2', 'household-added', 1, '{}')",
    "INSERT INTO meter_baselines (household_id, up_handle, up_bytes) VALUES (1, 7, 100)",
    "INSERT INTO usage_buckets (bucket_start, household_id, bytes_up, local_down) VALUES (3600, 1, 10, 3)",
    "INSERT INTO usage_hourly (hour_start, household_id, bytes_up, bytes_down) VALUES (3600, 1, 10, 0)",
    "INSERT INTO usage_daily (household_id, day_start, bytes_up, bytes_down, local_up, local_down) "
    "VALUES (1, 0, 10, 0, 0, 3)",
    "INSERT INTO meter_gaps (household_id, direction, reason, since, at, bytes_before, bytes_after) "
    "VALUES (1, 'up', 'counter-reset', 60, 120, 500, 3)",
    "INSERT INTO meter_gaps_unlogged (gap_id) VALUES (1)",
    "INSERT INTO log_entries (idx, entry) VALUES (0, <b:00>)",
    "INSERT INTO log_entries (idx, entry) VALUES (1, <zeros:65536>)",
    "INSERT INTO log_hashes (idx, hash) VALUES (0, <b32:03>)",
    "INSERT INTO log_checkpoints (size, root, note) VALUES (1, <b32:04>, 'coopbill.example/log')",
    "INSERT INTO household_salts (household_id, salt) VALUES (1, <b32:05>)",
    "INSERT INTO tariffs (name, valid_from, document, sha256) VALUES ('draft', '2026-02-01', '{}', %s)" % SHA,
    "INSERT INTO tariffs (name, valid_from, document, sha256, status, published_at, signature, log_index) "
    "VALUES ('published', '2026-01-01', '{}', %s, 'published', %s, 'sig', 2)" % (SHA, TS),
    "INSERT INTO tariff_labels (tariff_id, document, sha256, signature, log_index) VALUES (2, '{}', %s, 'sig', 3)"
    % SHA,
    "UPDATE households SET tariff_id = 2 WHERE id = 1",
    "INSERT INTO expenses (period, category, amount_minor, description, actor, log_index) "
    "VALUES ('2026-01', 'uplink', 12000, 'fibre', 'token:2', 4)",
    "INSERT INTO invoices (household_id, period, tariff_id, total_minor, document, log_index) "
    "VALUES (1, '2026-01', 2, 6000, '{}', 5)",
    "INSERT INTO ledger_entries (household_id, kind, amount_minor, invoice_id, actor, log_index) "
    "VALUES (1, 'invoice', 6000, 1, 'token:2', 5)",
    "INSERT INTO ledger_entries (household_id, kind, amount_minor, method, received_on, actor, log_index) "
    "VALUES (1, 'payment', -6000, 'cash', '2026-02-03', 'token:2', 6)",
    "INSERT INTO ledger_entries (household_id, kind, amount_minor, reason, reverses, actor, log_index) "
    "VALUES (1, 'reversal', 6000, 'twice', 2, 'token:2', 7)",
    "INSERT INTO period_close_starts (period, last_expense_id) VALUES ('2026-01', 1)",
    "INSERT INTO period_closes (period, households, total_minor, summary, log_index) "
    "VALUES ('2026-01', 1, 6000, '{}', 8)",
    "INSERT INTO usage_imports (household_id, bucket_start, bytes_up, bytes_down, reason, actor, log_index) "
    "VALUES (1, 7200, 5, 6, 'old meter', 'token:2', 9)",
    # What is not append-only changes.
    "UPDATE households SET status = 'closed', left_at = '2026-03-01', gateway = 'south' WHERE id = 2",
    "UPDATE household_addresses SET prefix_len = 24 WHERE household_id = 1",
    "DELETE FROM household_addresses WHERE household_id = 2",
    "UPDATE meter_baselines SET down_handle = 8, down_bytes = 0, local_up_handle = 9, local_up_bytes = 0",
    "UPDATE meter_state SET rolled_up_to = 3600, pruned_to = 3600, daily_to = 3600, daily_zone = 'UTC 1'",
    "UPDATE tokens SET last_used_at = %s WHERE id = 1" % TS,
    "UPDATE tokens SET revoked_at = %s WHERE id = 1" % TS,
    "UPDATE tokens SET last_used_at = %s WHERE id = 1" % TS,
    # A proposed tariff can be published as it was proposed.
    "INSERT INTO tariffs (name, valid_from, document, sha256, proposed_at, proposed_log_index) "
    "VALUES ('proposed', '2026-04-01', '{}', %s, %s, 11)" % (SHA, TS),
    PUBLISH + " WHERE id = 3",
    "INSERT INTO tariffs (name, valid_from, document, sha256) VALUES ('scrap', '2026-03-01', '{}', %s)" % SHA,
    "UPDATE tariffs SET name = 'scrapped' WHERE id = 4",
    "DELETE FROM tariffs WHERE id = 4",
    # SQLite gives a new row the highest id plus one, and so gave 4 again
    # after this delete; PostgreSQL's identity never gives an id twice. No
    # row is added to a table after one of its rows is deleted.
    "UPDATE tariffs SET proposed_at = %s, proposed_log_index = 10 WHERE id = 1" % TS,
    "DELETE FROM meter_gaps_unlogged",
    "DELETE FROM usage_buckets",
]
# Rows and changes both must refuse, each leaving both unchanged.
REFUSED = [
    "INSERT INTO households (name, joined_at) VALUES ('', '2026-01-01')",
    "INSERT INTO households (name, joined_at) VALUES ('%s', '2026-01-01')" % ("x" * 201),
    "INSERT INTO households (name, joined_at) VALUES (NULL, '2026-01-01')",
    "INSERT INTO households (name, joined_at) VALUES ('Cy', '2026-1-01')",
    "INSERT INTO households (name, joined_at) VALUES ('Cy', '2026-01-01 ')",
    "INSERT INTO households (name, joined_at, left_at) VALUES ('Cy', '2026-01-01', 'soon')",
    "INSERT INTO households (name, joined_at, status) VALUES ('Cy', '2026-01-01', 'gone')",
    "INSERT INTO households (name, joined_at, tariff_id) VALUES ('Cy', '2026-01-01', 99)",
    "INSERT INTO households (name, joined_at, gateway) VALUES ('Cy', '2026-01-01', 'North')",
    "INSERT INTO households (name, joined_at, gateway) VALUES ('Cy', '2026-01-01', '-north')",
    "INSERT INTO households (name, joined_at, gateway) VALUES ('Cy', '2026-01-01', 'a_b')",
    "INSERT INTO households (name, joined_at, gateway) VALUES ('Cy', '2026-01-01', '')",
    "INSERT INTO households (name, joined_at, gateway) VALUES ('Cy', '2026-01-01', '%s')" % ("a" * 33),
    "INSERT INTO household_addresses (household_id, family, first, last, prefix_len) "
    "VALUES (1, 5, <b:0a000000>, <b:0a000000>, 32)",
    "INSERT INTO household_addresses (household_id, family, first, last, prefix_len) "
    "VALUES (1, 6, <b:0a000000>, <b:0a000000>, 32)",
    "INSERT INTO household_addresses (household_id, family, first, last, prefix_len) "
    "VALUES (1, 4, <b:0a000000>, <b:0a00000000>, 32)",
    "INSERT INTO household_addresses (household_id, family, first, last, prefix_len) "
    "VALUES (99, 4, <b:0a000000>, <b:0a000000>, 32)",
    "INSERT INTO tokens (hash, role, household_id, name) VALUES (<b32:01>, 'member', 1, 'again')",
    "INSERT INTO tokens (hash, role, name) VALUES (<b31:06>, 'admin', 'short')",
    "INSERT INTO tokens (hash, role, name) VALUES (<b32:06>, 'root', 'who')",
    "INSERT INTO tokens (hash, role, name) VALUES (<b32:06>, 'member', 'nobody''s')",
    "INSERT INTO tokens (hash, role, household_id, name) VALUES (<b32:06>, 'admin', 1, 'both')",
    "INSERT INTO tokens (hash, role, name, last_used_at) VALUES (<b32:06>, 'admin', 'x', '2026-01-20 10:00:00')",
    "INSERT INTO tokens (hash, role, name, revoked_at) VALUES (<b32:06>, 'admin', 'x', '2026-01-20')",
    "UPDATE tokens SET revoked_at = NULL WHERE id = 1",
    "UPDATE tokens SET revoked_at = %s WHERE id = 1" % TS,
    "INSERT INTO meter_baselines (household_id, up_handle, up_bytes) VALUES (2, 7, -1)",
    "INSERT INTO meter_baselines (household_id, up_handle) VALUES (2, 7)",
    "INSERT INTO meter_baselines (household_id, down_bytes) VALUES (2, 7)",
    "INSERT INTO meter_baselines (household_id, local_up_bytes) VALUES (2, 7)",
    "INSERT INTO meter_baselines (household_id, local_down_handle, local_down_bytes) VALUES (2, 1, -1)",
    "INSERT INTO meter_baselines (household_id) VALUES (99)",
    "INSERT INTO usage_buckets (bucket_start, household_id, bytes_down) VALUES (0, 1, -1)",
    "INSERT INTO usage_buckets (bucket_start, household_id, local_up) VALUES (0, 1, -1)",
    "INSERT INTO usage_buckets (bucket_start, household_id) VALUES (0, 99)",
    "INSERT INTO usage_hourly (hour_start, household_id, bytes_up) VALUES (0, 1, 1)",
    "INSERT INTO usage_hourly (hour_start, household_id, bytes_up, bytes_down) VALUES (3600, 1, 1, 1)",
    "INSERT INTO usage_daily (household_id, day_start, bytes_up, bytes_down, local_up, local_down) "
    "VALUES (1, 86400, 0, 0, 0, -1)",
    "INSERT INTO usage_daily (household_id, day_start, bytes_up, bytes_down, local_up, local_down) "
    "VALUES (1, 0, 0, 0, 0, 0)",
    "INSERT INTO meter_state (id, rolled_up_to) VALUES (2, 0)",
    "UPDATE meter_state SET pruned_to = NULL",
    "INSERT INTO meter_gaps (household_id, direction, reason, at, bytes_before, bytes_after) "
    "VALUES (1, 'sideways', 'counter-reset', 1, 1, 0)",
    "INSERT INTO meter_gaps (household_id, direction, reason, at, bytes_before, bytes_after) "
    "VALUES (1, 'up', 'gremlins', 1, 1, 0)",
    "INSERT INTO meter_gaps (household_id, direction, reason, at, bytes_before, bytes_after, scope) "
    "VALUES (1, 'up', 'counter-reset', 1, 1, 0, 'lan')",
    "INSERT INTO meter_gaps_unlogged (gap_id) VALUES (99)",
    "INSERT INTO log_entries (idx, entry) VALUES (-1, <b:00>)",
    "INSERT INTO log_entries (idx, entry) VALUES (2, <zeros:0>)",
    "INSERT INTO log_entries (idx, entry) VALUES (2, <zeros:65537>)",
    "INSERT INTO log_entries (idx, entry) VALUES (0, <b:01>)",
    "INSERT INTO log_hashes (idx, hash) VALUES (1, <b31:03>)",
    "INSERT INTO log_checkpoints (size, root, note) VALUES (2, <b33:04>, 'n')",
    "INSERT INTO log_checkpoints (size, root, note) VALUES (1, <b32:05>, 'another root for size 1')",
    "INSERT INTO household_salts (household_id, salt) VALUES (2, <b16:05>)",
    "INSERT INTO tariffs (name, valid_from, document, sha256) VALUES ('t', '2026-02-02', '{}', %s)" % SHA,
    "INSERT INTO tariffs (name, valid_from, document, sha256) VALUES ('t', '2026-02-01', '{}', 'ab')",
    "INSERT INTO tariffs (name, valid_from, document, sha256, status) VALUES ('t', '2026-02-01', '{}', %s, "
    "'published')" % SHA,
    "INSERT INTO tariffs (name, valid_from, document, sha256, published_at, signature, log_index) "
    "VALUES ('t', '2026-02-01', '{}', %s, %s, 's', 1)" % (SHA, TS),
    "INSERT INTO tariffs (name, valid_from, document, sha256, proposed_at) VALUES ('t', '2026-02-01', '{}', %s, "
    "%s)" % (SHA, TS),
    "INSERT INTO tariffs (name, valid_from, document, sha256, proposed_at, proposed_log_index) "
    "VALUES ('t', '2026-02-01', '{}', %s, '2026-01-20', 1)" % SHA,
    "UPDATE tariffs SET name = 'renamed' WHERE id = 2",
    "DELETE FROM tariffs WHERE id = 2",
    # A proposed tariff changes only by being published, as it was proposed.
    "UPDATE tariffs SET name = 'renamed' WHERE id = 1",
    "UPDATE tariffs SET status = 'draft' WHERE id = 1",
    "UPDATE tariffs SET proposed_at = NULL, proposed_log_index = NULL WHERE id = 1",
] + [PUBLISH + ", " + change + " WHERE id = 1" for change in (
    "name = 'renamed'", "valid_from = '2026-05-01'", "document = '{\"changed\":1}'",
    "sha256 = '%s'" % ("cd" * 32), "proposed_at = '2026-01-21T10:00:00Z'", "proposed_log_index = 11")] + [
    "DELETE FROM tariffs WHERE id = 3",
    "UPDATE tariffs SET proposed_at = NULL, proposed_log_index = NULL WHERE id = 1",
    "DELETE FROM tariffs WHERE id = 1",
    "INSERT INTO tariff_labels (tariff_id, document, sha256, signature, log_index) VALUES (1, '{}', 'ab', 's', 1)",
    "INSERT INTO tariff_labels (tariff_id, document, sha256, signature, log_index) VALUES (99, '{}', %s, 's', 1)"
    % SHA,
    "INSERT INTO expenses (period, category, amount_minor, description, actor, log_index) "
    "VALUES ('2026-1', 'uplink', 1, 'x', 'a', 1)",
    "INSERT INTO expenses (period, category, amount_minor, description, actor, log_index) "
    "VALUES ('2026-01', 'uplink', 0, 'x', 'a', 1)",
    "INSERT INTO expenses (period, category, amount_minor, description, actor) "
    "VALUES ('2026-01', 'uplink', 1, 'x', 'a')",
    "INSERT INTO invoices (household_id, period, tariff_id, total_minor, document, log_index) "
    "VALUES (1, '2026-01', 2, 1, '{}', 1)",
    "INSERT INTO invoices (household_id, period, tariff_id, total_minor, document, log_index) "
    "VALUES (1, '2026-02', 99, 1, '{}', 1)",
    "INSERT INTO invoices (household_id, period, tariff_id, total_minor, document, log_index) "
    "VALUES (1, '2026/02', 2, 1, '{}', 1)",
    "INSERT INTO ledger_entries (household_id, kind, amount_minor, reason, actor, log_index) "
    "VALUES (1, 'adjustment', 0, 'r', 'a', 1)",
    "INSERT INTO ledger_entries (household_id, kind, amount_minor, reason, actor, log_index) "
    "VALUES (1, 'gift', 1, 'r', 'a', 1)",
    "INSERT INTO ledger_entries (household_id, kind, amount_minor, actor, log_index) "
    "VALUES (1, 'invoice', 1, 'a', 1)",
    "INSERT INTO ledger_entries (household_id, kind, amount_minor, invoice_id, actor, log_index) "
    "VALUES (1, 'invoice', 1, 1, 'a', 1)",
    "INSERT INTO ledger_entries (household_id, kind, amount_minor, method, actor, log_index) "
    "VALUES (1, 'payment', -1, 'cash', 'a', 1)",
    "INSERT INTO ledger_entries (household_id, kind, amount_minor, actor, log_index) "
    "VALUES (1, 'adjustment', 1, 'a', 1)",
    "INSERT INTO ledger_entries (household_id, kind, amount_minor, reason, actor, log_index) "
    "VALUES (1, 'reversal', 1, 'r', 'a', 1)",
    "INSERT INTO ledger_entries (household_id, kind, amount_minor, reason, reverses, actor, log_index) "
    "VALUES (1, 'reversal', -6000, 'r', 2, 'a', 1)",
    "INSERT INTO ledger_entries (household_id, kind, amount_minor, reason, reverses, actor, log_index) "
    "VALUES (1, 'adjustment', 1, 'r', 1, 'a', 1)",
    "INSERT INTO period_closes (period, households, total_minor, summary, log_index) "
    "VALUES ('2026-01', 1, 1, '{}', 1)",
    "INSERT INTO period_closes (period, households, total_minor, summary, log_index) "
    "VALUES ('january', 1, 1, '{}', 1)",
    "INSERT INTO period_close_starts (period, last_expense_id) VALUES ('2026-1', 1)",
    "INSERT INTO period_close_starts (period, last_expense_id) VALUES ('2026-01', 2)",
    "INSERT INTO usage_imports (household_id, bucket_start, bytes_up, bytes_down, reason, actor, log_index) "
    "VALUES (1, 0, -1, 0, 'r', 'a', 1)",
    "INSERT INTO usage_imports (household_id, bucket_start, bytes_up, bytes_down, local_down, reason, actor, "
    "log_index) VALUES (1, 0, 0, 0, -1, 'r', 'a', 1)",
]
# What SQLite takes and PostgreSQL refuses: SQLite's loose typing. The store
# writes none of these.
KNOWN_DIFFERENCES = [
    # A column's declared type is only an affinity in SQLite: text that is no
    # number is kept as text, and text compares above any number (>= 0 holds).
    "INSERT INTO usage_hourly (hour_start, household_id, bytes_up, bytes_down) VALUES (7200, 1, 'many', 0)",
    # A primary key other than INTEGER PRIMARY KEY takes NULL in an SQLite
    # table with rowids.
    "INSERT INTO period_closes (period, households, total_minor, summary, log_index) VALUES (NULL, 1, 1, '{}', 1)",
    # INTEGER PRIMARY KEY is the rowid: NULL there makes a new one.
    "INSERT INTO log_entries (idx, entry) VALUES (NULL, <b:00>)",
]


def render(sql, side):
    def blob(m):
        size = int(m.group(1) or 0)
        return side.blob(m.group(2) * size if size else m.group(2))
    sql = re.sub(r"<b(\d*):([0-9a-f]+)>", blob, sql)
    return re.sub(r"<zeros:(\d+)>", lambda m: side.zeros(int(m.group(1))), sql)


def compare_behaviour(lite, pg, lite_schema):
    sides = (lite, pg)

    def run(statements, expect_error, undo=False):
        """Runs statements on both sides; the failures of those whose outcome
        is not expect_error (a function of the side)."""
        for side in sides:
            errors = side.run([render(sql, side) for sql in statements], undo)
            for sql, error in zip(statements, errors):
                if expect_error(side) and error is None:
                    fail("%s took %s" % (side.name, sql))
                elif not expect_error(side) and error is not None:
                    fail("%s refused %s: %s" % (side.name, sql, error))

    run(ACCEPTED, lambda side: False)
    run(REFUSED, lambda side: True)
    run(KNOWN_DIFFERENCES, lambda side: side is pg, undo=True)
    # UPDATE and DELETE on every append-only table (a trigger refuses them
    # unconditionally), which the rows above left non-empty; in PostgreSQL,
    # TRUNCATE too.
    changes, truncates = [], []
    for name, (table, _, event, conditional, message) in sorted(lite_schema["triggers"].items()):
        if conditional or message == COUNTS:
            continue
        if not lite.db.execute('SELECT count(*) FROM "%s"' % table).fetchone()[0]:
            fail("table %s is empty: add a row to ACCEPTED so that trigger %s is tried" % (table, name))
        first = lite_schema["tables"][table]["columns"][0][0]
        changes.append("UPDATE %s SET %s = %s" % (table, first, first) if event == "UPDATE" else
                       "DELETE FROM %s" % table)
        if event == "DELETE":
            truncates.append("TRUNCATE %s CASCADE" % table)
    run(changes, lambda side: True)
    for sql, error in zip(truncates, pg.run(truncates)):
        if error is None:
            fail("PostgreSQL took %s" % sql)
    # Then both hold the same rows, defaults and generated ids included.
    for table in sorted(lite_schema["tables"]):
        columns = lite_schema["tables"][table]["columns"]
        now_columns = [c[0] for c in columns if c[3] == NOW]
        rows = []
        for side in sides:
            side_rows = side.rows(table, [c[0] for c in columns[:2]])
            for row in side_rows:
                for column in now_columns:
                    if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row[column] or ""):
                        row[column] = NOW
            rows.append(side_rows)
        if rows[0] != rows[1]:
            fail("table %s holds other rows:\n  SQLite:     %s\n  PostgreSQL: %s" % (table, rows[0], rows[1]))


def main():
    lite, pg = Sqlite(sys.argv[1]), Postgres(sys.argv[2], sys.argv[3])
    lite_schema, pg_schema_ = sqlite_schema(lite.db), pg_schema(pg)
    compare_structure(lite_schema, pg_schema_)
    user_version = lite.db.execute("PRAGMA user_version").fetchone()[0]
    pg_version = pg.query("SELECT version FROM schema_version")[0]["version"]
    if user_version != pg_version:
        fail("schema version %d in SQLite, %d in PostgreSQL" % (user_version, pg_version))
    if not failures:
        compare_behaviour(lite, pg, lite_schema)
    if failures:
        sys.exit("%d difference(s) between sql/ and sql/pg/" % len(failures))
    print("sql/ and sql/pg/ agree: %d tables, %d indexes, %d triggers, schema version %d; %d rows and changes "
          "taken and %d refused by both" % (len(lite_schema["tables"]), len(lite_schema["indexes"]),
                                             len(lite_schema["triggers"]), user_version, len(ACCEPTED),
                                             len(REFUSED)))


if __name__ == "__main__":
    main()
