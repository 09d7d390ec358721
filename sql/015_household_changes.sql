-- How often each household changed in what decides which gateway's kernel
-- counts it: 1 when added, one more at each change of its status, its
-- gateway or its addresses. The sum moves with every such change, so a
-- daemon on PostgreSQL, whose store knows no database version, lists the
-- households to apply another gateway's changes only when it moved.
ALTER TABLE households ADD COLUMN changes INTEGER NOT NULL DEFAULT 1;
CREATE TRIGGER households_changes_update AFTER UPDATE OF status, gateway ON households
BEGIN
	UPDATE households SET changes = changes + 1 WHERE id = NEW.id;
END;
CREATE TRIGGER household_addresses_changes_insert AFTER INSERT ON household_addresses
BEGIN
	UPDATE households SET changes = changes + 1 WHERE id = NEW.household_id;
END;
CREATE TRIGGER household_addresses_changes_update AFTER UPDATE ON household_addresses
BEGIN
	UPDATE households SET changes = changes + 1 WHERE id = NEW.household_id;
END;
CREATE TRIGGER household_addresses_changes_delete AFTER DELETE ON household_addresses
BEGIN
	UPDATE households SET changes = changes + 1 WHERE id = OLD.household_id;
END;
