-- The people of a village not yet answered, with their numbers as dialled,
-- written when an escalation is fired and read into the text the person up
-- the chain (in the end the duty officer) receives, so they can phone them.
ALTER TABLE alert_recipients ADD COLUMN escalation_note TEXT;
