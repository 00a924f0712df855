-- Townships: the organisation tree county → townships → villages. Every
-- record a township owns carries its township; records that belong to one of
-- those (a contact's roles, an alert's recipients and deliveries, an
-- incident's events, a drill's reminders) follow their owner.
--
-- An install made before townships becomes township 1; its code and name are
-- filled in from the configuration (`area_code`, `township_name`) at start.
-- SQLite holds one township (a county shares PostgreSQL), so its unique
-- village and shelter codes stay unique as they are.
CREATE TABLE townships (
    id INTEGER PRIMARY KEY,
    -- The 12-digit administrative division code (统计用区划代码).
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    -- Its county's 6-digit code (the code's first six digits).
    county_code TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
INSERT INTO townships (id, code, name, county_code, created_at, updated_at)
VALUES (1, '', '', '', 0, 0);
ALTER TABLE villages ADD COLUMN township_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE contacts ADD COLUMN township_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE sites ADD COLUMN township_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE inspections ADD COLUMN township_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE findings ADD COLUMN township_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE shelters ADD COLUMN township_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE alerts ADD COLUMN township_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE incidents ADD COLUMN township_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE observations ADD COLUMN township_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE drills ADD COLUMN township_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE drill_records ADD COLUMN township_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN township_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE api_tokens ADD COLUMN township_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE audit_log ADD COLUMN township_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE inbound_messages ADD COLUMN township_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE plan_versions ADD COLUMN township_id INTEGER NOT NULL DEFAULT 1;
CREATE INDEX villages_township ON villages(township_id);
CREATE INDEX contacts_township ON contacts(township_id);
CREATE INDEX sites_township ON sites(township_id);
CREATE INDEX inspections_township ON inspections(township_id);
CREATE INDEX findings_township ON findings(township_id);
CREATE INDEX shelters_township ON shelters(township_id);
CREATE INDEX alerts_township ON alerts(township_id);
CREATE INDEX incidents_township ON incidents(township_id);
CREATE INDEX observations_township ON observations(township_id);
CREATE INDEX drills_township ON drills(township_id);
CREATE INDEX drill_records_township ON drill_records(township_id);
CREATE INDEX users_township ON users(township_id);
CREATE INDEX api_tokens_township ON api_tokens(township_id);
CREATE INDEX audit_log_township ON audit_log(township_id);
CREATE INDEX inbound_messages_township ON inbound_messages(township_id);
CREATE INDEX plan_versions_township ON plan_versions(township_id);
