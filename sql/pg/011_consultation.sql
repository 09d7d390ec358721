-- PostgreSQL dialect of sql/011_consultation.sql. Consultation before a
-- price change: the treasurer proposes a draft tariff to the members before
-- publishing it. A proposed tariff is a draft with proposed_at (and its
-- tariff-proposed entry in the transparency log); the API shows its status
-- as "proposed". From then on it stays as the members saw it: it can be
-- published, and nothing else.
ALTER TABLE tariffs ADD COLUMN proposed_at text
	CHECK (proposed_at ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$');
ALTER TABLE tariffs ADD COLUMN proposed_log_index bigint
	CHECK ((proposed_log_index IS NULL) = (proposed_at IS NULL));

CREATE TRIGGER tariffs_proposed_kept BEFORE UPDATE ON tariffs
	FOR EACH ROW WHEN (OLD.proposed_at IS NOT NULL AND OLD.status = 'draft'
		AND (NEW.status <> 'published' OR NEW.name IS DISTINCT FROM OLD.name
		     OR NEW.valid_from IS DISTINCT FROM OLD.valid_from
		     OR NEW.document IS DISTINCT FROM OLD.document
		     OR NEW.sha256 IS DISTINCT FROM OLD.sha256
		     OR NEW.proposed_at IS DISTINCT FROM OLD.proposed_at
		     OR NEW.proposed_log_index IS DISTINCT FROM OLD.proposed_log_index))
	EXECUTE FUNCTION coopbill_refuse('a proposed tariff stays as proposed: publish it or draft a new one');
CREATE TRIGGER tariffs_proposed_not_deleted BEFORE DELETE ON tariffs
	FOR EACH ROW WHEN (OLD.proposed_at IS NOT NULL)
	EXECUTE FUNCTION coopbill_refuse('a proposed tariff stays as proposed: publish it or draft a new one');

UPDATE schema_version SET version = 11;
