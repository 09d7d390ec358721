-- PostgreSQL dialect of sql/012_usage_daily.sql. Daily totals: each
-- household's hourly totals added up by the day of the cooperative's time
-- zone an hour starts in, so that a month of usage by day or a year by month
-- reads a row a day instead of 24. Hours before meter_state.rolled_up_to are
-- here, as in usage_hourly; keyed by household first, so that one
-- household's days lie together.
CREATE TABLE usage_daily (
	household_id bigint NOT NULL REFERENCES households(id),
	day_start bigint NOT NULL,
	bytes_up bigint NOT NULL CHECK (bytes_up >= 0),
	bytes_down bigint NOT NULL CHECK (bytes_down >= 0),
	local_up bigint NOT NULL CHECK (local_up >= 0),
	local_down bigint NOT NULL CHECK (local_down >= 0),
	PRIMARY KEY (household_id, day_start)
);
-- The zone the days are in (its name and the tz_zone_id of its TZif file),
-- or NULL when unknown: the daemon makes the table again when this differs
-- from the zone it runs with.
ALTER TABLE meter_state ADD COLUMN daily_zone text;
-- How far usage_daily is made: it holds every hourly total that starts
-- before daily_to (the start of a day; 0 while it holds none, and
-- 9223372036854775807 once it holds them all).
ALTER TABLE meter_state ADD COLUMN daily_to bigint NOT NULL DEFAULT 0;

UPDATE schema_version SET version = 12;
