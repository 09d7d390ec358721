"""The content of the daemon's database as one digest, read beside the
running daemon, for the tests that check that a request changed nothing.
Imported by isolation.py and hostile.py."""
import hashlib
import sqlite3


def digest(path):
    """SHA-256 over every row of every table, in a stable order. A token's
    last_used_at is left out: presenting a token is a use, whatever the
    request it came with."""
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    result = hashlib.sha256()
    tables = [row[0] for row in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    for table in tables:
        columns = [row[1] for row in db.execute('PRAGMA table_info("%s")' % table)
                   if not (table == "tokens" and row[1] == "last_used_at")]
        rows = db.execute('SELECT %s FROM "%s"' % (", ".join('"%s"' % c for c in columns), table))
        result.update(table.encode())
        for row in sorted(repr(row) for row in rows):
            result.update(row.encode())
    db.close()
    return result.hexdigest()
