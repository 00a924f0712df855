-- Warnings issued from a plan are their township's, like the notices they send.
ALTER TABLE plan_warnings ADD COLUMN township_id INTEGER NOT NULL DEFAULT 1;
CREATE INDEX plan_warnings_township ON plan_warnings(township_id);
