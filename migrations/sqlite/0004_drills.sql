-- Drills: schedules, reminders sent exactly once per occurrence and lead
-- time, runs, and the record of each drill held.
CREATE TABLE drills (
    id INTEGER PRIMARY KEY,
    plan_id TEXT,
    title TEXT NOT NULL,
    cron TEXT,
    once_at INTEGER,
    timezone TEXT NOT NULL,
    villages TEXT NOT NULL,
    roles TEXT NOT NULL,
    lead_times TEXT NOT NULL,
    site_id INTEGER REFERENCES sites(id),
    source TEXT NOT NULL DEFAULT 'api',
    active INTEGER NOT NULL DEFAULT 1,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    archived_at INTEGER
);

CREATE TABLE drill_reminders (
    id INTEGER PRIMARY KEY,
    drill_id INTEGER NOT NULL REFERENCES drills(id),
    occurrence_at INTEGER NOT NULL,
    lead TEXT NOT NULL,
    due_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    alert_id INTEGER REFERENCES alerts(id),
    decided_at INTEGER NOT NULL,
    UNIQUE (drill_id, occurrence_at, lead)
);

CREATE TABLE drill_records (
    id INTEGER PRIMARY KEY,
    drill_id INTEGER REFERENCES drills(id),
    site_id INTEGER REFERENCES sites(id),
    held_on TEXT NOT NULL,
    participants TEXT NOT NULL,
    duration_minutes INTEGER,
    problems TEXT,
    follow_up TEXT,
    alert_id INTEGER REFERENCES alerts(id),
    incident_id INTEGER REFERENCES incidents(id),
    answer_stats TEXT,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX drill_records_site ON drill_records(site_id, held_on);
CREATE INDEX drill_records_drill ON drill_records(drill_id, held_on);
