-- Metering: per-counter baselines, usage buckets and their hourly roll-up,
-- and the gaps where traffic could not be known.

-- The last absolute value read from each of a household's two kernel
-- counters and the counters' handles, written in the same transaction as the
-- usage they produced. NULL: that counter has not been read yet.
CREATE TABLE meter_baselines (
	household_id INTEGER PRIMARY KEY REFERENCES households(id),
	up_handle INTEGER,
	up_bytes INTEGER CHECK (up_bytes >= 0),
	down_handle INTEGER,
	down_bytes INTEGER CHECK (down_bytes >= 0),
	CHECK ((up_handle IS NULL) = (up_bytes IS NULL)),
	CHECK ((down_handle IS NULL) = (down_bytes IS NULL))
);

-- Bytes per household per bucket; bucket_start is Unix seconds (UTC), a
-- multiple of [meter] bucket_s. Keyed (bucket, household): each poll's rows
-- arrive in key order.
CREATE TABLE usage_buckets (
	bucket_start INTEGER NOT NULL,
	household_id INTEGER NOT NULL REFERENCES households(id),
	bytes_up INTEGER NOT NULL DEFAULT 0 CHECK (bytes_up >= 0),
	bytes_down INTEGER NOT NULL DEFAULT 0 CHECK (bytes_down >= 0),
	PRIMARY KEY (bucket_start, household_id)
) WITHOUT ROWID;
CREATE INDEX usage_buckets_by_household ON usage_buckets(household_id, bucket_start);

-- Hourly totals, kept for the life of the data. Hours before
-- meter_state.rolled_up_to are here; later ones are still only in buckets.
CREATE TABLE usage_hourly (
	hour_start INTEGER NOT NULL,
	household_id INTEGER NOT NULL REFERENCES households(id),
	bytes_up INTEGER NOT NULL CHECK (bytes_up >= 0),
	bytes_down INTEGER NOT NULL CHECK (bytes_down >= 0),
	PRIMARY KEY (hour_start, household_id)
) WITHOUT ROWID;
CREATE INDEX usage_hourly_by_household ON usage_hourly(household_id, hour_start);

CREATE TABLE meter_state (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	rolled_up_to INTEGER NOT NULL
);
INSERT INTO meter_state (id, rolled_up_to) VALUES (1, 0);

-- Where traffic is unknowable: a counter found reset or recreated. What
-- happened between since and at on that counter cannot be known.
CREATE TABLE meter_gaps (
	id INTEGER PRIMARY KEY,
	household_id INTEGER NOT NULL REFERENCES households(id),
	direction TEXT NOT NULL CHECK (direction IN ('up', 'down')),
	reason TEXT NOT NULL CHECK (reason IN ('counter-reset', 'counter-recreated')),
	since INTEGER,
	at INTEGER NOT NULL,
	bytes_before INTEGER NOT NULL,
	bytes_after INTEGER NOT NULL
);
CREATE INDEX meter_gaps_by_household ON meter_gaps(household_id, at);
CREATE TRIGGER meter_gaps_append_only_update BEFORE UPDATE ON meter_gaps
BEGIN
	SELECT RAISE(ABORT, 'meter_gaps is append-only: add a correcting entry instead');
END;
CREATE TRIGGER meter_gaps_append_only_delete BEFORE DELETE ON meter_gaps
BEGIN
	SELECT RAISE(ABORT, 'meter_gaps is append-only: add a correcting entry instead');
END;
