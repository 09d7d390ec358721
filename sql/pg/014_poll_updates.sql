-- PostgreSQL dialect of sql/014_poll_updates.sql. Every poll rewrites a row
-- of meter_baselines for each household counted and one of usage_buckets
-- for each household with traffic. PostgreSQL writes a row's new version
-- beside the old one: with half of each page left free, the new version
-- fits on the same page, the update touches no index (a heap-only tuple),
-- and the page's dead versions are reclaimed as it fills, without a vacuum.
-- A poll commits in about half the time, and the two tables take up to
-- twice the pages. Pages written before keep their fill until their rows
-- move off them.
ALTER TABLE meter_baselines SET (fillfactor = 50);
ALTER TABLE usage_buckets SET (fillfactor = 50);

UPDATE schema_version SET version = 14;
