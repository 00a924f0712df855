-- The shelter register (避灾点): one record per shelter, referred to by its
-- code from the plans (`shelters = ["BZ-S08-1"]`), edited with a version and
-- audited like villages and contacts.
CREATE TABLE shelters (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    village_id INTEGER REFERENCES villages(id),
    lon REAL NOT NULL,
    lat REAL NOT NULL,
    capacity INTEGER NOT NULL,
    manager TEXT,
    phone TEXT,
    status TEXT NOT NULL DEFAULT 'open',
    address TEXT,
    note TEXT,
    sample INTEGER NOT NULL DEFAULT 0,
    archived_at INTEGER,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX shelters_village ON shelters(village_id);
