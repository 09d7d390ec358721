-- The transparency log: its entries, the Merkle tree's stored hashes (one row
-- per hash, in the Go sumdb layout: appending never updates), the signed
-- checkpoints, and each household's secret salt, from which the commitment
-- that stands for the household in the log is made. All append-only.

CREATE TABLE log_entries (
	idx INTEGER PRIMARY KEY CHECK (idx >= 0),
	entry BLOB NOT NULL CHECK (length(entry) BETWEEN 1 AND 65536)
);

CREATE TABLE log_hashes (
	idx INTEGER PRIMARY KEY CHECK (idx >= 0),
	hash BLOB NOT NULL CHECK (length(hash) = 32)
);

-- One signed checkpoint per tree size: two roots are never signed for one size.
CREATE TABLE log_checkpoints (
	size INTEGER PRIMARY KEY CHECK (size >= 0),
	root BLOB NOT NULL CHECK (length(root) = 32),
	note TEXT NOT NULL
);

CREATE TABLE household_salts (
	household_id INTEGER PRIMARY KEY REFERENCES households(id),
	salt BLOB NOT NULL CHECK (length(salt) = 32)
);

CREATE TRIGGER log_entries_append_only_update BEFORE UPDATE ON log_entries
BEGIN
	SELECT RAISE(ABORT, 'log_entries is append-only');
END;
CREATE TRIGGER log_entries_append_only_delete BEFORE DELETE ON log_entries
BEGIN
	SELECT RAISE(ABORT, 'log_entries is append-only');
END;
CREATE TRIGGER log_hashes_append_only_update BEFORE UPDATE ON log_hashes
BEGIN
	SELECT RAISE(ABORT, 'log_hashes is append-only');
END;
CREATE TRIGGER log_hashes_append_only_delete BEFORE DELETE ON log_hashes
BEGIN
	SELECT RAISE(ABORT, 'log_hashes is append-only');
END;
CREATE TRIGGER log_checkpoints_append_only_update BEFORE UPDATE ON log_checkpoints
BEGIN
	SELECT RAISE(ABORT, 'log_checkpoints is append-only');
END;
CREATE TRIGGER log_checkpoints_append_only_delete BEFORE DELETE ON log_checkpoints
BEGIN
	SELECT RAISE(ABORT, 'log_checkpoints is append-only');
END;
CREATE TRIGGER household_salts_append_only_update BEFORE UPDATE ON household_salts
BEGIN
	SELECT RAISE(ABORT, 'household_salts is append-only');
END;
CREATE TRIGGER household_salts_append_only_delete BEFORE DELETE ON household_salts
BEGIN
	SELECT RAISE(ABORT, 'household_salts is append-only');
END;
