-- Enforcement (issue 20): the inspectors register (执法人员) and the 双随机
-- draws (抽查计划), published on the public site (一公开).

-- An inspector: name, enforcement certificate (执法证号, unique in the
-- township) and its validity, unit; the home village and the sites they
-- declared a conflict with (a JSON list of site ids) keep them from being
-- drawn for those sites.
CREATE TABLE inspectors (
    id INTEGER PRIMARY KEY,
    township_id INTEGER NOT NULL DEFAULT 1 REFERENCES townships(id),
    name TEXT NOT NULL,
    certificate_no TEXT NOT NULL,
    unit TEXT NOT NULL,
    -- YYYY-MM-DD, both days included.
    valid_from TEXT NOT NULL,
    valid_until TEXT NOT NULL,
    home_village_id INTEGER REFERENCES villages(id),
    conflict_site_ids TEXT NOT NULL DEFAULT '[]',
    phone TEXT,
    note TEXT,
    sample INTEGER NOT NULL DEFAULT 0,
    archived_at INTEGER,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX inspectors_certificate ON inspectors(township_id, certificate_no);

-- The registered inspectors an inspection names (inspections.inspectors
-- keeps their "姓名（执法证号）" as text for the readers and exports).
CREATE TABLE inspection_inspectors (
    inspection_id INTEGER NOT NULL REFERENCES inspections(id),
    inspector_id INTEGER NOT NULL REFERENCES inspectors(id),
    township_id INTEGER NOT NULL DEFAULT 1 REFERENCES townships(id),
    PRIMARY KEY (inspection_id, inspector_id)
);
CREATE INDEX inspection_inspectors_inspector ON inspection_inspectors(inspector_id);

-- A draw plan (抽查计划): the objects by filter (JSON lists of site kinds,
-- risk grades, village ids; empty: any), how many to draw, the inspector
-- pool (JSON ids) and the team per object. Drawn once: the draw's columns
-- are written by one UPDATE guarded by `drawn_at IS NULL` and never again.
CREATE TABLE draw_plans (
    id INTEGER PRIMARY KEY,
    township_id INTEGER NOT NULL DEFAULT 1 REFERENCES townships(id),
    title TEXT NOT NULL,
    period_from TEXT NOT NULL,
    period_to TEXT NOT NULL,
    site_kinds TEXT NOT NULL DEFAULT '[]',
    risk_grades TEXT NOT NULL DEFAULT '[]',
    village_ids TEXT NOT NULL DEFAULT '[]',
    object_count INTEGER NOT NULL,
    pool TEXT NOT NULL,
    team_size INTEGER NOT NULL DEFAULT 2,
    note TEXT,
    created_by TEXT NOT NULL,
    sample INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    -- The draw: when and by whom, the public value, the canonical text
    -- hashed with it, the seed (hex), the frozen lists as published (JSON)
    -- and the result (JSON).
    drawn_at INTEGER,
    drawn_by TEXT,
    public_value TEXT,
    canonical TEXT,
    seed TEXT,
    objects TEXT,
    inspectors TEXT,
    result TEXT
);
CREATE INDEX draw_plans_township ON draw_plans(township_id, created_at);
