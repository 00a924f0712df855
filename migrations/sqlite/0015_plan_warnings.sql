-- Warnings (预警) issued from a plan: a signal or rating that sends readiness
-- notices, not a response. While one is in force (not lifted, not expired) a
-- reading at the same or a lesser warning sends nothing again.
CREATE TABLE plan_warnings (
    id INTEGER PRIMARY KEY,
    plan_id TEXT NOT NULL,
    warning_id TEXT NOT NULL,
    title TEXT NOT NULL,
    -- Position in the plan's list: higher is more severe.
    severity INTEGER NOT NULL,
    -- JSON array of village ids it covers.
    villages TEXT NOT NULL,
    observation_id INTEGER,
    -- JSON array of the notices it sent.
    alerts TEXT NOT NULL,
    issued_by TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    lifted_by TEXT,
    lifted_at INTEGER
);
CREATE INDEX plan_warnings_in_force ON plan_warnings (plan_id, lifted_at, expires_at);
