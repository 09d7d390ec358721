-- PostgreSQL dialect of sql/013_gateways.sql. Gateways: each household is
-- counted by the kernel of one gateway, named by its daemon's [meter]
-- gateway. A cooperative with one box has one, "main" by default; the
-- households there before are on it.
ALTER TABLE households ADD COLUMN gateway text NOT NULL DEFAULT 'main'
	CHECK (length(gateway) BETWEEN 1 AND 32 AND gateway ~ '^[a-z0-9-]*$'
	       AND gateway !~ '^-');

UPDATE schema_version SET version = 13;
