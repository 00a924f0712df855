-- The duty roster (值班表): a township's shifts, each with the leader on
-- shift (带班领导) and its duty officers (值班员) in the order they are
-- called, all contacts of the township. A shift is stored as UTC
-- milliseconds [starts_at, ends_at) with its local day and clock times kept
-- for display. Escalation asks which shift covers its moment. Deleted
-- shifts are archived, never removed: who was on duty at 02:00 that night
-- stays answerable.
CREATE TABLE duty_shifts (
    id INTEGER PRIMARY KEY,
    township_id INTEGER NOT NULL DEFAULT 1 REFERENCES townships(id),
    -- The local day the shift starts on, YYYY-MM-DD.
    duty_date TEXT NOT NULL,
    -- Local clock times as entered, HH:MM; an end at or before the start is the next day's.
    start_time TEXT NOT NULL,
    end_time TEXT NOT NULL,
    starts_at INTEGER NOT NULL,
    ends_at INTEGER NOT NULL,
    leader_id INTEGER REFERENCES contacts(id),
    note TEXT,
    sample INTEGER NOT NULL DEFAULT 0,
    archived_at INTEGER,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX duty_shifts_township_time ON duty_shifts(township_id, starts_at);

-- A shift's duty officers, in the order they are called (position from 1).
CREATE TABLE duty_shift_officers (
    shift_id INTEGER NOT NULL REFERENCES duty_shifts(id),
    position INTEGER NOT NULL,
    contact_id INTEGER NOT NULL REFERENCES contacts(id),
    township_id INTEGER NOT NULL DEFAULT 1 REFERENCES townships(id),
    PRIMARY KEY (shift_id, position)
);
CREATE INDEX duty_shift_officers_contact ON duty_shift_officers(contact_id);

-- Handovers (交接班): who handed the duty to whom, when, and what was
-- pending. Kept as written; never changed.
CREATE TABLE duty_handovers (
    id INTEGER PRIMARY KEY,
    township_id INTEGER NOT NULL DEFAULT 1 REFERENCES townships(id),
    -- The shift taken over, if it is on the roster.
    shift_id INTEGER REFERENCES duty_shifts(id),
    from_contact_id INTEGER NOT NULL REFERENCES contacts(id),
    to_contact_id INTEGER NOT NULL REFERENCES contacts(id),
    handed_at INTEGER NOT NULL,
    notes TEXT,
    recorded_by TEXT NOT NULL,
    sample INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX duty_handovers_township_time ON duty_handovers(township_id, handed_at);
