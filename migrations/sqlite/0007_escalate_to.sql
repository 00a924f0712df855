-- The roles a notice's silent recipients escalate to, in order (a JSON
-- list of canonical role names; NULL: the village's escalation order, then
-- the township duty officer).
ALTER TABLE alerts ADD COLUMN escalate_to TEXT;
