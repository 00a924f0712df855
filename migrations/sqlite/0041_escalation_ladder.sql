-- Escalation ladders (叫应阶梯): a notice's rungs (JSON list of
-- {after_minutes, then}), each recipient's next rung, and what each rung did
-- to whom, for the board's per-person steps.
ALTER TABLE alerts ADD COLUMN ladder TEXT;
ALTER TABLE alert_recipients ADD COLUMN ladder_pos INTEGER;
CREATE TABLE recipient_steps (
    id INTEGER PRIMARY KEY,
    alert_id INTEGER NOT NULL REFERENCES alerts(id),
    recipient_id INTEGER NOT NULL REFERENCES alert_recipients(id),
    -- The rung's place in the ladder (from 0); NULL for the configured
    -- escalation of a notice without a ladder.
    pos INTEGER,
    rung TEXT NOT NULL,
    at INTEGER NOT NULL,
    -- What happened, in Chinese (“已拨打 138 0013 8000”, “告知 陈永福”).
    detail TEXT NOT NULL,
    told_recipient_id INTEGER REFERENCES alert_recipients(id)
);
CREATE INDEX recipient_steps_alert ON recipient_steps(alert_id, recipient_id);
