-- PostgreSQL dialect of sql/006_gaps_unlogged.sql. Meter gaps recorded
-- while the transparency log did not verify (the API refused, metering went
-- on): the log must still carry them, so they wait here until a start finds
-- the log sound again and appends them to it.
CREATE TABLE meter_gaps_unlogged (
	gap_id bigint PRIMARY KEY REFERENCES meter_gaps(id)
);

UPDATE schema_version SET version = 6;
