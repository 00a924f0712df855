-- The enforcement file (执法文书) around inspections and findings:
-- a finding's checklist item (检查表), enforcement documents numbered per
-- township, kind and year and kept as issued, dispositions of a finding
-- (处置), and the supervision of major hidden dangers (挂牌督办) with its
-- weekly reminders.

-- The checklist item a finding was found against (its code, e.g. HC-05);
-- the items are data in `enforcement::checklists`.
ALTER TABLE findings ADD COLUMN checklist_item TEXT;

-- One counter per township, document kind and year: the last number
-- issued. Taken with `INSERT … ON CONFLICT DO UPDATE … RETURNING` in the
-- transaction that stores the document, so numbers have no gaps.
CREATE TABLE document_counters (
    township_id INTEGER NOT NULL REFERENCES townships(id),
    kind TEXT NOT NULL,
    year INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (township_id, kind, year)
);

-- An issued document, kept as issued: `content` holds the facts as they
-- were (JSON) and is never changed; a correction is a new document that
-- `supersedes` this one, which then names it in `superseded_by`.
CREATE TABLE documents (
    id INTEGER PRIMARY KEY,
    township_id INTEGER NOT NULL DEFAULT 1 REFERENCES townships(id),
    -- inspection_record (现场检查记录) / rectification_order (责令限期整改指令书)
    -- / reinspection_opinion (整改复查意见书)
    kind TEXT NOT NULL,
    year INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    -- As printed: 〔2026〕湖上乡应急检记〔001〕号
    number TEXT NOT NULL,
    inspection_id INTEGER NOT NULL REFERENCES inspections(id),
    -- Issued for one finding (a 责令整改 disposition), else NULL.
    finding_id INTEGER REFERENCES findings(id),
    site_id INTEGER NOT NULL REFERENCES sites(id),
    content TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    issued_by TEXT NOT NULL,
    supersedes INTEGER REFERENCES documents(id),
    superseded_by INTEGER REFERENCES documents(id),
    sample INTEGER NOT NULL DEFAULT 0,
    UNIQUE (township_id, kind, year, seq)
);
CREATE INDEX documents_inspection ON documents(inspection_id);
CREATE INDEX documents_township_issued ON documents(township_id, issued_at);

-- What was decided about a finding: 责令整改, 约谈, 警告, 首违不罚 / 轻微免罚
-- (with the 免罚清单 entry), 移送立案 (to the county bureau). Kept as written.
CREATE TABLE dispositions (
    id INTEGER PRIMARY KEY,
    township_id INTEGER NOT NULL DEFAULT 1 REFERENCES townships(id),
    finding_id INTEGER NOT NULL REFERENCES findings(id),
    kind TEXT NOT NULL,
    decided_on TEXT NOT NULL,
    -- The actor who recorded it (web:NAME, a token's name) and the person who decided.
    recorded_by TEXT NOT NULL,
    decided_by TEXT NOT NULL,
    note TEXT,
    exemption_item TEXT,
    referred_to TEXT,
    document_id INTEGER REFERENCES documents(id),
    document_ref TEXT,
    sample INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX dispositions_finding ON dispositions(finding_id);

-- 挂牌督办: one per major finding, opened in the finding's transaction,
-- closed when the finding is closed out (销号).
CREATE TABLE supervisions (
    id INTEGER PRIMARY KEY,
    township_id INTEGER NOT NULL DEFAULT 1 REFERENCES townships(id),
    finding_id INTEGER NOT NULL UNIQUE REFERENCES findings(id),
    site_id INTEGER NOT NULL REFERENCES sites(id),
    -- 督办单位
    unit TEXT NOT NULL,
    deadline TEXT NOT NULL,
    responsible TEXT,
    -- The contact reminded (matched by name or phone when opened), if any.
    contact_id INTEGER REFERENCES contacts(id),
    status TEXT NOT NULL DEFAULT 'open',
    opened_at INTEGER NOT NULL,
    closed_on TEXT,
    closed_at INTEGER,
    sample INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX supervisions_township_status ON supervisions(township_id, status);

-- A supervision's weekly reminder, claimed by a unique insert per ISO week
-- (2026-W49) so that several daemons or a restart remind once.
CREATE TABLE supervision_reminders (
    id INTEGER PRIMARY KEY,
    township_id INTEGER NOT NULL DEFAULT 1 REFERENCES townships(id),
    supervision_id INTEGER NOT NULL REFERENCES supervisions(id),
    week TEXT NOT NULL,
    claimed_at INTEGER NOT NULL,
    alert_id INTEGER,
    UNIQUE (supervision_id, week)
);
