-- Danger zones (危险区), the households living in them (转移对象), and the
-- transfers of an incident: who was ordered out (or back) when, each
-- household's state, and the figures cadres report by SMS or on their page.

CREATE TABLE danger_zones (
    id INTEGER PRIMARY KEY,
    township_id INTEGER NOT NULL DEFAULT 1,
    village_id INTEGER NOT NULL REFERENCES villages(id),
    natural_village TEXT,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    -- GeoJSON Point or Polygon.
    geometry TEXT NOT NULL,
    -- JSON: {"prepare": {...}, "move": {...}} (transfer::zones::Thresholds).
    thresholds TEXT NOT NULL,
    auto_move INTEGER NOT NULL DEFAULT 0,
    monitor_id INTEGER REFERENCES contacts(id),
    warner_id INTEGER REFERENCES contacts(id),
    leader_id INTEGER REFERENCES contacts(id),
    shelter_id INTEGER REFERENCES shelters(id),
    route TEXT,
    report_minutes INTEGER NOT NULL DEFAULT 30,
    note TEXT,
    sample INTEGER NOT NULL DEFAULT 0,
    archived_at INTEGER,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (township_id, code)
);
CREATE INDEX danger_zones_village ON danger_zones(village_id);

CREATE TABLE households (
    id INTEGER PRIMARY KEY,
    township_id INTEGER NOT NULL DEFAULT 1,
    village_id INTEGER NOT NULL REFERENCES villages(id),
    zone_id INTEGER NOT NULL REFERENCES danger_zones(id),
    head TEXT NOT NULL,
    members INTEGER NOT NULL,
    phone TEXT,
    elderly INTEGER NOT NULL DEFAULT 0,
    infirm INTEGER NOT NULL DEFAULT 0,
    sick INTEGER NOT NULL DEFAULT 0,
    disabled INTEGER NOT NULL DEFAULT 0,
    pregnant INTEGER NOT NULL DEFAULT 0,
    children INTEGER NOT NULL DEFAULT 0,
    cadre_id INTEGER REFERENCES contacts(id),
    shelter_id INTEGER REFERENCES shelters(id),
    address TEXT,
    note TEXT,
    sample INTEGER NOT NULL DEFAULT 0,
    archived_at INTEGER,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX households_zone ON households(zone_id);
CREATE INDEX households_village ON households(village_id);
CREATE INDEX households_cadre ON households(cadre_id);

CREATE TABLE transfers (
    id INTEGER PRIMARY KEY,
    township_id INTEGER NOT NULL DEFAULT 1,
    zone_id INTEGER NOT NULL REFERENCES danger_zones(id),
    incident_id INTEGER REFERENCES incidents(id),
    direction TEXT NOT NULL,
    stage TEXT NOT NULL,
    reason TEXT NOT NULL,
    ordered_at INTEGER NOT NULL,
    ordered_by TEXT NOT NULL,
    planned_households INTEGER NOT NULL,
    planned_persons INTEGER NOT NULL,
    first_report_at INTEGER,
    escalation_step INTEGER NOT NULL DEFAULT 0,
    closed_at INTEGER,
    closed_by TEXT
);
-- One open transfer per zone: ordering it again adds nothing.
CREATE UNIQUE INDEX transfers_open_zone ON transfers(zone_id) WHERE closed_at IS NULL;
CREATE INDEX transfers_incident ON transfers(incident_id);

-- The notices a transfer sent: one per person in charge (its SMS names
-- their own count; its answer link opens their own list).
CREATE TABLE transfer_notices (
    transfer_id INTEGER NOT NULL REFERENCES transfers(id),
    contact_id INTEGER NOT NULL REFERENCES contacts(id),
    alert_id INTEGER NOT NULL REFERENCES alerts(id),
    purpose TEXT NOT NULL,
    PRIMARY KEY (transfer_id, contact_id, alert_id)
);
CREATE INDEX transfer_notices_alert ON transfer_notices(alert_id);

-- Each household's state in a transfer, ticked on the cadre's page or at
-- the shelter; the rows are the zone's households when it was ordered.
CREATE TABLE transfer_households (
    transfer_id INTEGER NOT NULL REFERENCES transfers(id),
    household_id INTEGER NOT NULL REFERENCES households(id),
    cadre_id INTEGER,
    members INTEGER NOT NULL,
    vulnerable INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'unknown',
    note TEXT,
    arrived INTEGER NOT NULL DEFAULT 0,
    arrived_at INTEGER,
    shelter_id INTEGER,
    updated_at INTEGER,
    updated_by TEXT,
    PRIMARY KEY (transfer_id, household_id)
);

-- Figures reported as a whole (an SMS "已转移 5户12人", or the API). A
-- sender's figure is their latest of each kind (NULL: not said in that
-- report); a correction marks the sender's previous report replaced.
CREATE TABLE transfer_reports (
    id INTEGER PRIMARY KEY,
    transfer_id INTEGER NOT NULL REFERENCES transfers(id),
    contact_id INTEGER,
    phone TEXT,
    source TEXT NOT NULL,
    moved_households INTEGER,
    moved_persons INTEGER,
    refused_households INTEGER,
    refused_persons INTEGER,
    away_households INTEGER,
    away_persons INTEGER,
    remaining_households INTEGER,
    remaining_persons INTEGER,
    correction INTEGER NOT NULL DEFAULT 0,
    replaced_by INTEGER,
    text TEXT,
    received_at INTEGER NOT NULL
);
CREATE INDEX transfer_reports_transfer ON transfer_reports(transfer_id, contact_id, id);

-- An SMS reply that was a transfer report (or looked like one) names the
-- transfer it was counted for, or stays unmatched for a person to read.
ALTER TABLE inbound_messages ADD COLUMN transfer_id INTEGER;
