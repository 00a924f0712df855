-- Foundation: tokens, registry (villages, contacts), ledger (sites, inspections, findings), audit.
-- Times are UTC milliseconds since the epoch; calendar dates are 'YYYY-MM-DD' text.
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE TABLE villages (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    name_en TEXT,
    boundary TEXT NOT NULL,
    min_lon REAL NOT NULL,
    min_lat REAL NOT NULL,
    max_lon REAL NOT NULL,
    max_lat REAL NOT NULL,
    population INTEGER,
    sample INTEGER NOT NULL DEFAULT 0,
    archived_at INTEGER,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE contacts (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    village_id INTEGER REFERENCES villages(id),
    phone TEXT NOT NULL,
    email TEXT,
    escalation_order INTEGER NOT NULL DEFAULT 100,
    active INTEGER NOT NULL DEFAULT 1,
    note TEXT,
    sample INTEGER NOT NULL DEFAULT 0,
    archived_at INTEGER,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX contacts_village ON contacts(village_id, escalation_order);
CREATE INDEX contacts_phone ON contacts(phone);

CREATE TABLE contact_roles (
    contact_id INTEGER NOT NULL REFERENCES contacts(id),
    role TEXT NOT NULL,
    PRIMARY KEY (contact_id, role)
);
CREATE INDEX contact_roles_role ON contact_roles(role, contact_id);

CREATE TABLE sites (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    credit_code TEXT,
    address TEXT,
    lon REAL,
    lat REAL,
    village_id INTEGER REFERENCES villages(id),
    outside_villages INTEGER NOT NULL DEFAULT 0,
    legal_representative TEXT,
    safety_officer TEXT,
    safety_officer_phone TEXT,
    phone_24h TEXT,
    licence_no TEXT,
    licence_kind TEXT,
    licence_issuer TEXT,
    licence_issued TEXT,
    licence_expires TEXT,
    max_stock REAL,
    max_stock_unit TEXT,
    inventory TEXT NOT NULL DEFAULT '[]',
    risk_grade TEXT NOT NULL,
    status TEXT NOT NULL,
    seasonal INTEGER NOT NULL DEFAULT 0,
    note TEXT,
    sample INTEGER NOT NULL DEFAULT 0,
    archived_at INTEGER,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX sites_village ON sites(village_id);
CREATE INDEX sites_lon_lat ON sites(lon, lat);
CREATE INDEX sites_licence_expires ON sites(licence_expires);

CREATE TABLE inspections (
    id INTEGER PRIMARY KEY,
    site_id INTEGER NOT NULL REFERENCES sites(id),
    inspected_on TEXT NOT NULL,
    inspectors TEXT NOT NULL,
    summary TEXT,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX inspections_site ON inspections(site_id, inspected_on);

CREATE TABLE findings (
    id INTEGER PRIMARY KEY,
    inspection_id INTEGER NOT NULL REFERENCES inspections(id),
    site_id INTEGER NOT NULL REFERENCES sites(id),
    grade TEXT NOT NULL,
    item TEXT NOT NULL,
    description TEXT,
    measures TEXT,
    funding TEXT,
    responsible TEXT,
    deadline TEXT NOT NULL,
    reinspector TEXT,
    status TEXT NOT NULL,
    rectified_on TEXT,
    rectification_note TEXT,
    closed_on TEXT,
    closed_by TEXT,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX findings_open ON findings(status, deadline);
CREATE INDEX findings_site ON findings(site_id);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id INTEGER,
    before TEXT,
    after TEXT
);
CREATE INDEX audit_entity ON audit_log(entity, entity_id);
CREATE INDEX audit_at ON audit_log(at);

CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
