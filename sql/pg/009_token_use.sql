-- PostgreSQL dialect of sql/009_token_use.sql. Tokens can be seen and
-- revoked: when each was last used (written at most once a minute per
-- token), and when it was revoked. A revoked token's row is kept (the audit
-- trail names tokens by id); it never authenticates again. created_at is in
-- 001_init.sql.
ALTER TABLE tokens ADD COLUMN last_used_at text
	CHECK (last_used_at ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$');
ALTER TABLE tokens ADD COLUMN revoked_at text
	CHECK (revoked_at ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$');
CREATE INDEX tokens_by_household ON tokens(household_id);

-- Once revoked, a token stays revoked.
CREATE TRIGGER tokens_revoked_stays BEFORE UPDATE OF revoked_at ON tokens
	FOR EACH ROW WHEN (OLD.revoked_at IS NOT NULL)
	EXECUTE FUNCTION coopbill_refuse('a revoked token stays revoked: issue a new one instead');

UPDATE schema_version SET version = 9;
