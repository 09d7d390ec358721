-- PostgreSQL dialect of sql/015_household_changes.sql. How often each
-- household changed in what decides which gateway's kernel counts it: 1
-- when added, one more at each change of its status, its gateway or its
-- addresses. The sum moves with every such change, so a daemon on
-- PostgreSQL, whose store knows no database version, lists the households
-- to apply another gateway's changes only when it moved.
ALTER TABLE households ADD COLUMN changes bigint NOT NULL DEFAULT 1;

-- What sql/'s triggers do, a row at a time as there: counts a change of
-- the household the row is (households) or belongs to.
CREATE FUNCTION coopbill_household_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_TABLE_NAME = 'households' THEN
		UPDATE households SET changes = changes + 1 WHERE id = NEW.id;
	ELSIF TG_OP = 'DELETE' THEN
		UPDATE households SET changes = changes + 1 WHERE id = OLD.household_id;
	ELSE
		UPDATE households SET changes = changes + 1 WHERE id = NEW.household_id;
	END IF;
	RETURN NULL;
END;
$$;
CREATE TRIGGER households_changes_update AFTER UPDATE OF status, gateway ON households
	FOR EACH ROW EXECUTE FUNCTION coopbill_household_changed();
CREATE TRIGGER household_addresses_changes_insert AFTER INSERT ON household_addresses
	FOR EACH ROW EXECUTE FUNCTION coopbill_household_changed();
CREATE TRIGGER household_addresses_changes_update AFTER UPDATE ON household_addresses
	FOR EACH ROW EXECUTE FUNCTION coopbill_household_changed();
CREATE TRIGGER household_addresses_changes_delete AFTER DELETE ON household_addresses
	FOR EACH ROW EXECUTE FUNCTION coopbill_household_changed();

UPDATE schema_version SET version = 15;
