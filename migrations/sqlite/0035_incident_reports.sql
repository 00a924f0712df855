-- Reports upward of an incident (incidents::reports): 初报 (initial), 续报
-- (follow-up, numbered within the incident: 续报一, 续报二 …) and 核报
-- (verified). A report is never overwritten: each save is a new version
-- holding the facts generated when it was made (JSON: time line, level,
-- per-village notices and answer rates, transfer figures, danger replies)
-- and the figures and words the office filled in.
CREATE TABLE incident_reports (
    id INTEGER PRIMARY KEY,
    township_id INTEGER NOT NULL DEFAULT 1,
    incident_id INTEGER NOT NULL REFERENCES incidents(id),
    kind TEXT NOT NULL,
    number INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    sample INTEGER NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (incident_id, kind, number)
);
CREATE INDEX incident_reports_incident ON incident_reports(incident_id, id);

CREATE TABLE incident_report_versions (
    id INTEGER PRIMARY KEY,
    township_id INTEGER NOT NULL DEFAULT 1,
    report_id INTEGER NOT NULL REFERENCES incident_reports(id),
    version INTEGER NOT NULL,
    facts TEXT NOT NULL,
    deaths INTEGER,
    missing INTEGER,
    injured INTEGER,
    affected INTEGER,
    relocated INTEGER,
    houses_collapsed INTEGER,
    houses_damaged INTEGER,
    economic_loss REAL,
    situation TEXT,
    handling TEXT,
    reporter TEXT,
    signer TEXT,
    made_by TEXT NOT NULL,
    made_at INTEGER NOT NULL,
    UNIQUE (report_id, version)
);
