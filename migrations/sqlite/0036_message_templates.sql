-- Message templates (通知模板库): named notice texts the office picks on the
-- compose page. Title and body are stored as notice templates ({name} …);
-- the office reads and writes them with the Chinese forms (〔姓名〕 …).
-- Versioned and audited like the other registers; archived, never deleted.
CREATE TABLE message_templates (
    id INTEGER PRIMARY KEY,
    township_id INTEGER NOT NULL DEFAULT 1 REFERENCES townships(id),
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    -- The channels it is meant for, comma-separated ("sms", "sms,email").
    channels TEXT NOT NULL DEFAULT 'sms',
    sample INTEGER NOT NULL DEFAULT 0,
    archived_at INTEGER,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
-- A name is unique among a township's templates in use; an archived one's
-- name may be taken again.
CREATE UNIQUE INDEX message_templates_township_name ON message_templates(township_id, name) WHERE archived_at IS NULL;
