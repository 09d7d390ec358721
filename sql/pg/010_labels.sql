-- PostgreSQL dialect of sql/010_labels.sql. Labels: what a published tariff
-- costs light, typical and heavy users, made when the tariff is published,
-- signed with the log key and logged (label-published) like the tariff
-- itself, and never changed. Tariffs published before this migration have
-- none.
CREATE TABLE tariff_labels (
	tariff_id bigint PRIMARY KEY REFERENCES tariffs(id),
	-- The canonical JSON text: what is hashed, signed and logged.
	document text NOT NULL,
	sha256 text NOT NULL CHECK (length(sha256) = 64),
	-- The signature line of a signed note over the document, by the log key.
	signature text NOT NULL,
	log_index bigint NOT NULL,
	published_at text NOT NULL DEFAULT (to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
);
SELECT coopbill_append_only('tariff_labels', 'tariff_labels_immutable',
	'a tariff''s label is immutable: it is made once, when the tariff is published');

UPDATE schema_version SET version = 10;
