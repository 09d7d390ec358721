-- PostgreSQL dialect of sql/003_log.sql: the transparency log's entries,
-- the Merkle tree's stored hashes (one row per hash, in the Go sumdb layout:
-- appending never updates), the signed checkpoints, and each household's
-- secret salt. All append-only. The indexes here are given by the log, not
-- generated.

CREATE TABLE log_entries (
	idx bigint PRIMARY KEY CHECK (idx >= 0),
	entry bytea NOT NULL CHECK (octet_length(entry) BETWEEN 1 AND 65536)
);

CREATE TABLE log_hashes (
	idx bigint PRIMARY KEY CHECK (idx >= 0),
	hash bytea NOT NULL CHECK (octet_length(hash) = 32)
);

-- One signed checkpoint per tree size: two roots are never signed for one size.
CREATE TABLE log_checkpoints (
	size bigint PRIMARY KEY CHECK (size >= 0),
	root bytea NOT NULL CHECK (octet_length(root) = 32),
	note text NOT NULL
);

CREATE TABLE household_salts (
	household_id bigint PRIMARY KEY REFERENCES households(id),
	salt bytea NOT NULL CHECK (octet_length(salt) = 32)
);

SELECT coopbill_append_only('log_entries', 'log_entries_append_only',
	'log_entries is append-only');
SELECT coopbill_append_only('log_hashes', 'log_hashes_append_only',
	'log_hashes is append-only');
SELECT coopbill_append_only('log_checkpoints', 'log_checkpoints_append_only',
	'log_checkpoints is append-only');
SELECT coopbill_append_only('household_salts', 'household_salts_append_only',
	'household_salts is append-only');

UPDATE schema_version SET version = 3;
