-- Labels: what a published tariff costs light, typical and heavy users, made
-- when the tariff is published, signed with the log key and logged
-- (label-published) like the tariff itself, and never changed. Tariffs
-- published before this migration have none.
CREATE TABLE tariff_labels (
	tariff_id INTEGER PRIMARY KEY REFERENCES tariffs(id),
	-- The canonical JSON text: what is hashed, signed and logged.
	document TEXT NOT NULL,
	sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
	-- The signature line of a signed note over the document, by the log key.
	signature TEXT NOT NULL,
	log_index INTEGER NOT NULL,
	published_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE TRIGGER tariff_labels_immutable_update BEFORE UPDATE ON tariff_labels
BEGIN
	SELECT RAISE(ABORT, 'a tariff''s label is immutable: it is made once, when the tariff is published');
END;
CREATE TRIGGER tariff_labels_immutable_delete BEFORE DELETE ON tariff_labels
BEGIN
	SELECT RAISE(ABORT, 'a tariff''s label is immutable: it is made once, when the tariff is published');
END;
