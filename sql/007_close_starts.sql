-- A period whose close has begun. Until period_closes has its row (also
-- after the daemon stopped half-way) the period is being closed: it takes no
-- expense, import or tariff change, and its close shares the expenses up to
-- last_expense_id, the figures it began with.
CREATE TABLE period_close_starts (
	period TEXT PRIMARY KEY CHECK (period GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]'),
	last_expense_id INTEGER NOT NULL,
	started_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE TRIGGER period_close_starts_append_only_update BEFORE UPDATE ON period_close_starts
BEGIN
	SELECT RAISE(ABORT, 'period_close_starts is append-only');
END;
CREATE TRIGGER period_close_starts_append_only_delete BEFORE DELETE ON period_close_starts
BEGIN
	SELECT RAISE(ABORT, 'period_close_starts is append-only');
END;
