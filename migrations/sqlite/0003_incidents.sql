-- Plans as loaded (by content hash), incidents opened from them, their
-- timeline, and observations evaluated against plan triggers.
CREATE TABLE plan_versions (
    id INTEGER PRIMARY KEY,
    plan_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    file TEXT NOT NULL,
    content TEXT NOT NULL,
    loaded_at INTEGER NOT NULL,
    UNIQUE (plan_id, content_hash)
);

CREATE TABLE incidents (
    id INTEGER PRIMARY KEY,
    plan_id TEXT NOT NULL,
    plan_hash TEXT NOT NULL,
    level INTEGER NOT NULL,
    exercise INTEGER NOT NULL DEFAULT 0,
    villages TEXT NOT NULL,
    area TEXT,
    note TEXT,
    status TEXT NOT NULL DEFAULT 'open',
    opened_by TEXT NOT NULL,
    opened_at INTEGER NOT NULL,
    closed_by TEXT,
    closed_at INTEGER,
    version INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX incidents_open ON incidents(status, plan_id);

CREATE TABLE incident_events (
    id INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents(id),
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    level INTEGER,
    alert_id INTEGER REFERENCES alerts(id),
    actor TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX incident_events_incident ON incident_events(incident_id, id);

CREATE TABLE observations (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    results TEXT NOT NULL,
    actor TEXT NOT NULL
);
