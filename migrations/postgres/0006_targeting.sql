-- Resolving an area's recipients reads only this index, never the table:
-- the sites whose safety officer can be notified, by position.
CREATE INDEX sites_officers_area ON sites(lon, lat) INCLUDE (id, village_id, safety_officer_phone, safety_officer, name)
    WHERE archived_at IS NULL AND status = 'active' AND safety_officer_phone IS NOT NULL;
-- Recipients are read in pages by escalation order, then id (every
-- village's first contact before anyone's second).
CREATE INDEX contacts_notify_order ON contacts(escalation_order, id, village_id)
    WHERE archived_at IS NULL AND active = 1;
