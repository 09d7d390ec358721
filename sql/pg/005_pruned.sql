-- PostgreSQL dialect of sql/005_pruned.sql. Where buckets were pruned:
-- hours before meter_state.pruned_to may have lost buckets (an import into
-- such an hour adds a bucket again), so only their hourly totals are whole.
-- A whole hour, never after rolled_up_to.
ALTER TABLE meter_state ADD COLUMN pruned_to bigint NOT NULL DEFAULT 0;
-- Before this column the oldest bucket kept was the best record of it.
UPDATE meter_state SET pruned_to = least(rolled_up_to,
	coalesce((SELECT (min(bucket_start) + 3599) / 3600 * 3600 FROM usage_buckets),
		 rolled_up_to));

UPDATE schema_version SET version = 5;
