-- When a dispatcher made a drill schedule active (an editor's schedule is a
-- draft, active = 0, until then). Reminders due before it are not owed.
-- NULL for schedules active from creation: their creation time counts.
ALTER TABLE drills ADD COLUMN activated_at BIGINT;
