-- A notice's board answered cheaply (issue 21). `alert_boards.version` is
-- bumped, by the triggers below and so in the same transaction, by every
-- change the board shows (recipients and their answers, deliveries'
-- states, errors and receipts, SMS replies, escalation steps, calls): the
-- board's ETag is built from it, and a refresh that nothing changed is a
-- 304. `alert_village_counts` keeps each village's recipients and answers
-- (village_key 0: the township's own contacts), so the board's summary
-- reads a few rows instead of counting every recipient. The triggers are
-- per statement (transition tables): a page of 1,000 deliveries bumps its
-- notice once, not 1,000 times.
CREATE TABLE alert_boards (
    alert_id BIGINT PRIMARY KEY REFERENCES alerts(id),
    version BIGINT NOT NULL DEFAULT 1
);
CREATE TABLE alert_village_counts (
    alert_id BIGINT NOT NULL REFERENCES alerts(id),
    village_key BIGINT NOT NULL,
    recipients BIGINT NOT NULL DEFAULT 0,
    answered BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (alert_id, village_key)
);
INSERT INTO alert_boards (alert_id, version) SELECT id, 1 FROM alerts;
INSERT INTO alert_village_counts (alert_id, village_key, recipients, answered)
    SELECT alert_id, COALESCE(village_id, 0), COUNT(*), COUNT(answered_at)
    FROM alert_recipients GROUP BY alert_id, COALESCE(village_id, 0);

-- Belong to their notice, as recipients and deliveries do (0022).
ALTER TABLE alert_boards ENABLE ROW LEVEL SECURITY;
CREATE POLICY township_scope ON alert_boards TO fenghuo_scoped
    USING (EXISTS (SELECT 1 FROM alerts p WHERE p.id = alert_boards.alert_id))
    WITH CHECK (EXISTS (SELECT 1 FROM alerts p WHERE p.id = alert_boards.alert_id));
ALTER TABLE alert_village_counts ENABLE ROW LEVEL SECURITY;
CREATE POLICY township_scope ON alert_village_counts TO fenghuo_scoped
    USING (EXISTS (SELECT 1 FROM alerts p WHERE p.id = alert_village_counts.alert_id))
    WITH CHECK (EXISTS (SELECT 1 FROM alerts p WHERE p.id = alert_village_counts.alert_id));

CREATE FUNCTION fenghuo_board_alert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO alert_boards (alert_id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER alert_boards_alert AFTER INSERT ON alerts
    FOR EACH ROW EXECUTE FUNCTION fenghuo_board_alert();

-- Bumps the notices of the rows a statement wrote.
CREATE FUNCTION fenghuo_board_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE alert_boards SET version = version + 1
     WHERE alert_id IN (SELECT DISTINCT alert_id FROM board_new WHERE alert_id IS NOT NULL);
    RETURN NULL;
END $$;

CREATE FUNCTION fenghuo_board_recipients_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO alert_village_counts AS c (alert_id, village_key, recipients, answered)
        SELECT alert_id, COALESCE(village_id, 0), COUNT(*), COUNT(answered_at)
        FROM board_new GROUP BY alert_id, COALESCE(village_id, 0)
        ON CONFLICT (alert_id, village_key) DO UPDATE
        SET recipients = c.recipients + excluded.recipients, answered = c.answered + excluded.answered;
    UPDATE alert_boards SET version = version + 1
     WHERE alert_id IN (SELECT DISTINCT alert_id FROM board_new);
    RETURN NULL;
END $$;
CREATE TRIGGER alert_boards_recipient_new AFTER INSERT ON alert_recipients
    REFERENCING NEW TABLE AS board_new
    FOR EACH STATEMENT EXECUTE FUNCTION fenghuo_board_recipients_new();

-- An answer: a row trigger deferred to the COMMIT, so that the counts' and
-- the version's rows (one per notice, which every answer to it updates) are
-- locked for the commit only, not from the answer's UPDATE on (answers to one
-- notice would otherwise queue behind each other's whole transactions).
CREATE FUNCTION fenghuo_board_recipient_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (OLD.answered_at IS NULL) <> (NEW.answered_at IS NULL)
       OR OLD.village_id IS DISTINCT FROM NEW.village_id OR OLD.alert_id <> NEW.alert_id THEN
        UPDATE alert_village_counts SET recipients = recipients - 1,
               answered = answered - (CASE WHEN OLD.answered_at IS NULL THEN 0 ELSE 1 END)
         WHERE alert_id = OLD.alert_id AND village_key = COALESCE(OLD.village_id, 0);
        INSERT INTO alert_village_counts AS c (alert_id, village_key, recipients, answered)
            VALUES (NEW.alert_id, COALESCE(NEW.village_id, 0), 1,
                    CASE WHEN NEW.answered_at IS NULL THEN 0 ELSE 1 END)
            ON CONFLICT (alert_id, village_key) DO UPDATE
            SET recipients = c.recipients + 1, answered = c.answered + excluded.answered;
    END IF;
    UPDATE alert_boards SET version = version + 1 WHERE alert_id IN (OLD.alert_id, NEW.alert_id);
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER alert_boards_recipient_changed AFTER UPDATE ON alert_recipients
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION fenghuo_board_recipient_changed();

CREATE TRIGGER alert_boards_delivery_new AFTER INSERT ON deliveries
    REFERENCING NEW TABLE AS board_new
    FOR EACH STATEMENT EXECUTE FUNCTION fenghuo_board_bump();
CREATE FUNCTION fenghuo_board_deliveries_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE alert_boards SET version = version + 1
     WHERE alert_id IN (SELECT DISTINCT n.alert_id FROM board_old o JOIN board_new n ON n.id = o.id
        WHERE o.state IS DISTINCT FROM n.state OR o.last_error IS DISTINCT FROM n.last_error
           OR o.receipt_status IS DISTINCT FROM n.receipt_status
           OR o.receipt_code IS DISTINCT FROM n.receipt_code
           OR o.maybe_duplicate IS DISTINCT FROM n.maybe_duplicate);
    RETURN NULL;
END $$;
CREATE TRIGGER alert_boards_delivery_changed AFTER UPDATE ON deliveries
    REFERENCING OLD TABLE AS board_old NEW TABLE AS board_new
    FOR EACH STATEMENT EXECUTE FUNCTION fenghuo_board_deliveries_changed();

-- Replies and calls may be matched to a notice later (their alert_id set by an UPDATE).
CREATE TRIGGER alert_boards_reply_new AFTER INSERT ON inbound_messages
    REFERENCING NEW TABLE AS board_new
    FOR EACH STATEMENT EXECUTE FUNCTION fenghuo_board_bump();
CREATE TRIGGER alert_boards_reply_changed AFTER UPDATE ON inbound_messages
    REFERENCING NEW TABLE AS board_new
    FOR EACH STATEMENT EXECUTE FUNCTION fenghuo_board_bump();
CREATE TRIGGER alert_boards_step_new AFTER INSERT ON recipient_steps
    REFERENCING NEW TABLE AS board_new
    FOR EACH STATEMENT EXECUTE FUNCTION fenghuo_board_bump();
CREATE TRIGGER alert_boards_call_new AFTER INSERT ON voice_calls
    REFERENCING NEW TABLE AS board_new
    FOR EACH STATEMENT EXECUTE FUNCTION fenghuo_board_bump();
CREATE TRIGGER alert_boards_call_changed AFTER UPDATE ON voice_calls
    REFERENCING NEW TABLE AS board_new
    FOR EACH STATEMENT EXECUTE FUNCTION fenghuo_board_bump();
