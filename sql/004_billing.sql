-- Billing: tariffs (drafts, then published and immutable), the cooperative's
-- expenses, invoices, each household's ledger, closed periods and usage
-- imported from another meter. Everything but a draft tariff is append-only;
-- log_index is the entry in the transparency log that records the row.

CREATE TABLE tariffs (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL,
	valid_from TEXT NOT NULL CHECK (valid_from GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-01'),
	-- The canonical JSON text: what is hashed, signed and logged.
	document TEXT NOT NULL,
	sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
	status TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published')),
	created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
	published_at TEXT,
	-- The signature line of a signed note over the document, by the log key.
	signature TEXT,
	log_index INTEGER,
	CHECK ((status = 'published') = (published_at IS NOT NULL AND signature IS NOT NULL
					  AND log_index IS NOT NULL))
);
CREATE INDEX tariffs_by_valid_from ON tariffs(status, valid_from);
CREATE TRIGGER tariffs_published_immutable BEFORE UPDATE ON tariffs
WHEN OLD.status = 'published'
BEGIN
	SELECT RAISE(ABORT, 'a published tariff is immutable: publish a new one');
END;
CREATE TRIGGER tariffs_published_kept BEFORE DELETE ON tariffs
WHEN OLD.status = 'published'
BEGIN
	SELECT RAISE(ABORT, 'a published tariff is immutable: publish a new one');
END;

-- NULL: the household follows the cooperative's current tariff.
ALTER TABLE households ADD COLUMN tariff_id INTEGER REFERENCES tariffs(id);

CREATE TABLE expenses (
	id INTEGER PRIMARY KEY,
	period TEXT NOT NULL CHECK (period GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]'),
	category TEXT NOT NULL,
	amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
	description TEXT NOT NULL,
	document_ref TEXT,
	actor TEXT NOT NULL,
	created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
	log_index INTEGER NOT NULL
);
CREATE INDEX expenses_by_period ON expenses(period, category);

CREATE TABLE invoices (
	id INTEGER PRIMARY KEY,
	household_id INTEGER NOT NULL REFERENCES households(id),
	period TEXT NOT NULL CHECK (period GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]'),
	tariff_id INTEGER NOT NULL REFERENCES tariffs(id),
	total_minor INTEGER NOT NULL,
	-- The canonical JSON invoice: lines, totals, the usage it was made from.
	document TEXT NOT NULL,
	created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
	log_index INTEGER NOT NULL,
	UNIQUE (household_id, period)
);
CREATE INDEX invoices_by_period ON invoices(period, household_id);

-- amount_minor > 0: the household owes more (an invoice); < 0: it owes less
-- (a payment). A mistake is undone by a reversal naming the entry it reverses.
CREATE TABLE ledger_entries (
	id INTEGER PRIMARY KEY,
	household_id INTEGER NOT NULL REFERENCES households(id),
	kind TEXT NOT NULL CHECK (kind IN ('invoice', 'payment', 'adjustment', 'reversal')),
	amount_minor INTEGER NOT NULL CHECK (amount_minor <> 0),
	invoice_id INTEGER UNIQUE REFERENCES invoices(id),
	method TEXT,
	reference TEXT,
	received_on TEXT,
	reason TEXT,
	reverses INTEGER UNIQUE REFERENCES ledger_entries(id),
	actor TEXT NOT NULL,
	created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
	log_index INTEGER NOT NULL,
	CHECK ((kind = 'invoice') = (invoice_id IS NOT NULL)),
	CHECK ((kind = 'payment') = (method IS NOT NULL AND received_on IS NOT NULL)),
	CHECK (kind NOT IN ('adjustment', 'reversal') OR reason IS NOT NULL),
	CHECK ((kind = 'reversal') = (reverses IS NOT NULL))
);
CREATE INDEX ledger_entries_by_household ON ledger_entries(household_id, id);

CREATE TABLE period_closes (
	period TEXT PRIMARY KEY CHECK (period GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]'),
	households INTEGER NOT NULL,
	total_minor INTEGER NOT NULL,
	-- The period's totals as GET /api/v1/periods/{period}/summary shows them.
	summary TEXT NOT NULL,
	closed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
	log_index INTEGER NOT NULL
);

-- Usage moved in from another meter: added to the buckets as well, and kept
-- here so that members see which figures were imported.
CREATE TABLE usage_imports (
	id INTEGER PRIMARY KEY,
	household_id INTEGER NOT NULL REFERENCES households(id),
	bucket_start INTEGER NOT NULL,
	bytes_up INTEGER NOT NULL CHECK (bytes_up >= 0),
	bytes_down INTEGER NOT NULL CHECK (bytes_down >= 0),
	reason TEXT NOT NULL,
	actor TEXT NOT NULL,
	created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
	log_index INTEGER NOT NULL
);
CREATE INDEX usage_imports_by_household ON usage_imports(household_id, bucket_start);

CREATE TRIGGER expenses_append_only_update BEFORE UPDATE ON expenses
BEGIN
	SELECT RAISE(ABORT, 'expenses is append-only: record a correcting expense instead');
END;
CREATE TRIGGER expenses_append_only_delete BEFORE DELETE ON expenses
BEGIN
	SELECT RAISE(ABORT, 'expenses is append-only: record a correcting expense instead');
END;
CREATE TRIGGER invoices_append_only_update BEFORE UPDATE ON invoices
BEGIN
	SELECT RAISE(ABORT, 'invoices is append-only: correct it with an adjustment');
END;
CREATE TRIGGER invoices_append_only_delete BEFORE DELETE ON invoices
BEGIN
	SELECT RAISE(ABORT, 'invoices is append-only: correct it with an adjustment');
END;
CREATE TRIGGER ledger_entries_append_only_update BEFORE UPDATE ON ledger_entries
BEGIN
	SELECT RAISE(ABORT, 'ledger_entries is append-only: add a reversing entry instead');
END;
CREATE TRIGGER ledger_entries_append_only_delete BEFORE DELETE ON ledger_entries
BEGIN
	SELECT RAISE(ABORT, 'ledger_entries is append-only: add a reversing entry instead');
END;
CREATE TRIGGER period_closes_append_only_update BEFORE UPDATE ON period_closes
BEGIN
	SELECT RAISE(ABORT, 'period_closes is append-only');
END;
CREATE TRIGGER period_closes_append_only_delete BEFORE DELETE ON period_closes
BEGIN
	SELECT RAISE(ABORT, 'period_closes is append-only');
END;
CREATE TRIGGER usage_imports_append_only_update BEFORE UPDATE ON usage_imports
BEGIN
	SELECT RAISE(ABORT, 'usage_imports is append-only');
END;
CREATE TRIGGER usage_imports_append_only_delete BEFORE DELETE ON usage_imports
BEGIN
	SELECT RAISE(ABORT, 'usage_imports is append-only');
END;
