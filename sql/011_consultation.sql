-- Consultation before a price change: the treasurer proposes a draft tariff
-- to the members before publishing it. A proposed tariff is a draft with
-- proposed_at (and its tariff-proposed entry in the transparency log); the
-- API shows its status as "proposed". From then on it stays as the members
-- saw it: it can be published, and nothing else.
ALTER TABLE tariffs ADD COLUMN proposed_at TEXT
	CHECK (proposed_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z');
ALTER TABLE tariffs ADD COLUMN proposed_log_index INTEGER
	CHECK ((proposed_log_index IS NULL) = (proposed_at IS NULL));

CREATE TRIGGER tariffs_proposed_kept BEFORE UPDATE ON tariffs
WHEN OLD.proposed_at IS NOT NULL AND OLD.status = 'draft'
	AND (NEW.status <> 'published' OR NEW.name IS NOT OLD.name
	     OR NEW.valid_from IS NOT OLD.valid_from OR NEW.document IS NOT OLD.document
	     OR NEW.sha256 IS NOT OLD.sha256 OR NEW.proposed_at IS NOT OLD.proposed_at
	     OR NEW.proposed_log_index IS NOT OLD.proposed_log_index)
BEGIN
	SELECT RAISE(ABORT, 'a proposed tariff stays as proposed: publish it or draft a new one');
END;
CREATE TRIGGER tariffs_proposed_not_deleted BEFORE DELETE ON tariffs
WHEN OLD.proposed_at IS NOT NULL
BEGIN
	SELECT RAISE(ABORT, 'a proposed tariff stays as proposed: publish it or draft a new one');
END;
