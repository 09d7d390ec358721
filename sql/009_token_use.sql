-- Tokens can be seen and revoked: when each was last used (written at most
-- once a minute per token), and when it was revoked. A revoked token's row is
-- kept (the audit trail names tokens by id); it never authenticates again.
-- created_at is in 001_init.sql.
ALTER TABLE tokens ADD COLUMN last_used_at TEXT
	CHECK (last_used_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z');
ALTER TABLE tokens ADD COLUMN revoked_at TEXT
	CHECK (revoked_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z');
CREATE INDEX tokens_by_household ON tokens(household_id);

-- Once revoked, a token stays revoked.
CREATE TRIGGER tokens_revoked_stays BEFORE UPDATE OF revoked_at ON tokens
	WHEN OLD.revoked_at IS NOT NULL
BEGIN
	SELECT RAISE(ABORT, 'a revoked token stays revoked: issue a new one instead');
END;
