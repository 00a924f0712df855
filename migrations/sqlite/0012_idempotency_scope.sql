-- An idempotency key belongs to the caller who sent it (the actor recorded for
-- the alert: an API token's name, a dashboard user, a system job), so two
-- callers choosing the same key get two notices. Keys expire after
-- delivery.idempotency_hours and are pruned by age, hence the index.
-- SQLite cannot change a primary key in place: the table is rebuilt.
CREATE TABLE idempotency_keys_scoped (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    alert_id INTEGER NOT NULL REFERENCES alerts(id),
    response TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);
INSERT INTO idempotency_keys_scoped (scope, key, request_hash, alert_id, response, created_at)
SELECT a.created_by, k.key, k.request_hash, k.alert_id, k.response, k.created_at
FROM idempotency_keys k JOIN alerts a ON a.id = k.alert_id;
DROP TABLE idempotency_keys;
ALTER TABLE idempotency_keys_scoped RENAME TO idempotency_keys;
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);
CREATE INDEX idempotency_keys_alert ON idempotency_keys(alert_id);
