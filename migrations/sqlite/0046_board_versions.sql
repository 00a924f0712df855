-- A notice's board answered cheaply (issue 21). `alert_boards.version` is
-- bumped, by the triggers below and so in the same transaction, by every
-- change the board shows (recipients and their answers, deliveries'
-- states, errors and receipts, SMS replies, escalation steps, calls): the
-- board's ETag is built from it, and a refresh that nothing changed is a
-- 304. `alert_village_counts` keeps each village's recipients and answers
-- (village_key 0: the township's own contacts), so the board's summary
-- reads a few rows instead of counting every recipient.
CREATE TABLE alert_boards (
    alert_id INTEGER PRIMARY KEY REFERENCES alerts(id),
    version INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE alert_village_counts (
    alert_id INTEGER NOT NULL REFERENCES alerts(id),
    village_key INTEGER NOT NULL,
    recipients INTEGER NOT NULL DEFAULT 0,
    answered INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (alert_id, village_key)
) WITHOUT ROWID;
INSERT INTO alert_boards (alert_id, version) SELECT id, 1 FROM alerts;
INSERT INTO alert_village_counts (alert_id, village_key, recipients, answered)
    SELECT alert_id, COALESCE(village_id, 0), COUNT(*), COUNT(answered_at)
    FROM alert_recipients GROUP BY alert_id, COALESCE(village_id, 0);

CREATE TRIGGER alert_boards_alert AFTER INSERT ON alerts BEGIN
    INSERT OR IGNORE INTO alert_boards (alert_id) VALUES (NEW.id);
END;

CREATE TRIGGER alert_boards_recipient_new AFTER INSERT ON alert_recipients BEGIN
    INSERT OR IGNORE INTO alert_village_counts (alert_id, village_key)
        VALUES (NEW.alert_id, COALESCE(NEW.village_id, 0));
    UPDATE alert_village_counts SET recipients = recipients + 1,
        answered = answered + (NEW.answered_at IS NOT NULL)
        WHERE alert_id = NEW.alert_id AND village_key = COALESCE(NEW.village_id, 0);
    UPDATE alert_boards SET version = version + 1 WHERE alert_id = NEW.alert_id;
END;
CREATE TRIGGER alert_boards_recipient_counts AFTER UPDATE OF answered_at, village_id, alert_id ON alert_recipients
    WHEN (OLD.answered_at IS NULL) <> (NEW.answered_at IS NULL)
      OR OLD.village_id IS NOT NEW.village_id OR OLD.alert_id <> NEW.alert_id
BEGIN
    UPDATE alert_village_counts SET recipients = recipients - 1,
        answered = answered - (OLD.answered_at IS NOT NULL)
        WHERE alert_id = OLD.alert_id AND village_key = COALESCE(OLD.village_id, 0);
    INSERT OR IGNORE INTO alert_village_counts (alert_id, village_key)
        VALUES (NEW.alert_id, COALESCE(NEW.village_id, 0));
    UPDATE alert_village_counts SET recipients = recipients + 1,
        answered = answered + (NEW.answered_at IS NOT NULL)
        WHERE alert_id = NEW.alert_id AND village_key = COALESCE(NEW.village_id, 0);
END;
CREATE TRIGGER alert_boards_recipient_changed AFTER UPDATE ON alert_recipients BEGIN
    UPDATE alert_boards SET version = version + 1 WHERE alert_id IN (OLD.alert_id, NEW.alert_id);
END;

CREATE TRIGGER alert_boards_delivery_new AFTER INSERT ON deliveries BEGIN
    UPDATE alert_boards SET version = version + 1 WHERE alert_id = NEW.alert_id;
END;
CREATE TRIGGER alert_boards_delivery_changed AFTER UPDATE ON deliveries
    WHEN OLD.state IS NOT NEW.state OR OLD.last_error IS NOT NEW.last_error
      OR OLD.receipt_status IS NOT NEW.receipt_status OR OLD.receipt_code IS NOT NEW.receipt_code
      OR OLD.maybe_duplicate IS NOT NEW.maybe_duplicate
BEGIN
    UPDATE alert_boards SET version = version + 1 WHERE alert_id = NEW.alert_id;
END;

CREATE TRIGGER alert_boards_reply_new AFTER INSERT ON inbound_messages
    WHEN NEW.alert_id IS NOT NULL
BEGIN
    UPDATE alert_boards SET version = version + 1 WHERE alert_id = NEW.alert_id;
END;
CREATE TRIGGER alert_boards_reply_changed AFTER UPDATE ON inbound_messages
    WHEN OLD.alert_id IS NOT NULL OR NEW.alert_id IS NOT NULL
BEGIN
    UPDATE alert_boards SET version = version + 1 WHERE alert_id IN (OLD.alert_id, NEW.alert_id);
END;

CREATE TRIGGER alert_boards_step_new AFTER INSERT ON recipient_steps BEGIN
    UPDATE alert_boards SET version = version + 1 WHERE alert_id = NEW.alert_id;
END;

CREATE TRIGGER alert_boards_call_new AFTER INSERT ON voice_calls
    WHEN NEW.alert_id IS NOT NULL
BEGIN
    UPDATE alert_boards SET version = version + 1 WHERE alert_id = NEW.alert_id;
END;
CREATE TRIGGER alert_boards_call_changed AFTER UPDATE ON voice_calls
    WHEN OLD.alert_id IS NOT NULL OR NEW.alert_id IS NOT NULL
BEGIN
    UPDATE alert_boards SET version = version + 1 WHERE alert_id IN (OLD.alert_id, NEW.alert_id);
END;
