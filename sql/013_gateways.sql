-- Gateways: each household is counted by the kernel of one gateway, named
-- by its daemon's [meter] gateway. A cooperative with one box has one,
-- "main" by default; the households there before are on it.
ALTER TABLE households ADD COLUMN gateway TEXT NOT NULL DEFAULT 'main'
	CHECK (length(gateway) BETWEEN 1 AND 32 AND gateway NOT GLOB '*[^a-z0-9-]*'
	       AND gateway NOT GLOB '-*');
