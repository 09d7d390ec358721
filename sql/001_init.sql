-- Households, their address ranges, API tokens and the append-only audit trail.

CREATE TABLE households (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	joined_at TEXT NOT NULL CHECK (joined_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
	left_at TEXT CHECK (left_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
	status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'closed')),
	created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

-- One row per address range; first and last are the range's bounds as
-- big-endian bytes (4 for IPv4, 16 for IPv6), so BLOB order is address order.
CREATE TABLE household_addresses (
	id INTEGER PRIMARY KEY,
	household_id INTEGER NOT NULL REFERENCES households(id),
	family INTEGER NOT NULL CHECK (family IN (4, 6)),
	first BLOB NOT NULL,
	last BLOB NOT NULL,
	prefix_len INTEGER NOT NULL,
	CHECK (length(first) = length(last) AND length(first) = CASE family WHEN 4 THEN 4 ELSE 16 END)
);
CREATE INDEX household_addresses_by_range ON household_addresses(family, first);
CREATE INDEX household_addresses_by_household ON household_addresses(household_id);

-- Only the BLAKE2b hash of a token is kept; the token is shown once.
CREATE TABLE tokens (
	id INTEGER PRIMARY KEY,
	hash BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),
	role TEXT NOT NULL CHECK (role IN ('admin', 'member')),
	household_id INTEGER REFERENCES households(id),
	name TEXT NOT NULL,
	created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
	CHECK ((role = 'member') = (household_id IS NOT NULL))
);

-- Administrative actions, append-only: the pattern every ledger table follows.
CREATE TABLE audit_events (
	id INTEGER PRIMARY KEY,
	at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
	actor TEXT NOT NULL,
	action TEXT NOT NULL,
	household_id INTEGER REFERENCES households(id),
	detail TEXT NOT NULL
);
CREATE TRIGGER audit_events_append_only_update BEFORE UPDATE ON audit_events
BEGIN
	SELECT RAISE(ABORT, 'audit_events is append-only: add a correcting entry instead');
END;
CREATE TRIGGER audit_events_append_only_delete BEFORE DELETE ON audit_events
BEGIN
	SELECT RAISE(ABORT, 'audit_events is append-only: add a correcting entry instead');
END;
