-- PostgreSQL dialect of sql/008_local_traffic.sql. Local traffic: what a
-- household exchanges through the gateway without crossing an uplink
-- ([meter] uplinks), counted apart from its internet traffic. bytes_up and
-- bytes_down stay the internet traffic, so all usage recorded before this
-- migration is internet traffic.
ALTER TABLE usage_buckets ADD COLUMN local_up bigint NOT NULL DEFAULT 0 CHECK (local_up >= 0);
ALTER TABLE usage_buckets ADD COLUMN local_down bigint NOT NULL DEFAULT 0 CHECK (local_down >= 0);
ALTER TABLE usage_hourly ADD COLUMN local_up bigint NOT NULL DEFAULT 0 CHECK (local_up >= 0);
ALTER TABLE usage_hourly ADD COLUMN local_down bigint NOT NULL DEFAULT 0 CHECK (local_down >= 0);
ALTER TABLE usage_imports ADD COLUMN local_up bigint NOT NULL DEFAULT 0 CHECK (local_up >= 0);
ALTER TABLE usage_imports ADD COLUMN local_down bigint NOT NULL DEFAULT 0 CHECK (local_down >= 0);

-- The baselines of a household's two local counters, as those of its
-- internet counters: NULL until the counter is first read.
ALTER TABLE meter_baselines ADD COLUMN local_up_handle bigint;
ALTER TABLE meter_baselines ADD COLUMN local_up_bytes bigint
	CHECK (local_up_bytes >= 0 AND (local_up_handle IS NULL) = (local_up_bytes IS NULL));
ALTER TABLE meter_baselines ADD COLUMN local_down_handle bigint;
ALTER TABLE meter_baselines ADD COLUMN local_down_bytes bigint
	CHECK (local_down_bytes >= 0 AND (local_down_handle IS NULL) = (local_down_bytes IS NULL));

-- Which of a household's counters a gap is on: its internet or its local
-- traffic (every gap before this migration was on internet traffic).
ALTER TABLE meter_gaps ADD COLUMN scope text NOT NULL DEFAULT 'internet'
	CHECK (scope IN ('internet', 'local'));

UPDATE schema_version SET version = 8;
