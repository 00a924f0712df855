-- User management on the dashboard: a person's full name (shown as who
-- signed a record, e.g. 销号人), and when they last signed in.
ALTER TABLE users ADD COLUMN full_name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN last_signin_at INTEGER;
