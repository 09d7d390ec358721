-- PostgreSQL dialect of sql/007_close_starts.sql. A period whose close has
-- begun. Until period_closes has its row (also after the daemon stopped
-- half-way) the period is being closed: it takes no expense, import or
-- tariff change, and its close shares the expenses up to last_expense_id,
-- the figures it began with.
CREATE TABLE period_close_starts (
	period text PRIMARY KEY CHECK (period ~ '^[0-9]{4}-[0-1][0-9]$'),
	last_expense_id bigint NOT NULL,
	started_at text NOT NULL DEFAULT (to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
);
SELECT coopbill_append_only('period_close_starts', 'period_close_starts_append_only',
	'period_close_starts is append-only');

UPDATE schema_version SET version = 7;
