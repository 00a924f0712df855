-- An idempotency key belongs to the caller who sent it (the actor recorded for
-- the alert: an API token's name, a dashboard user, a system job), so two
-- callers choosing the same key get two notices. Keys expire after
-- delivery.idempotency_hours and are pruned by age, hence the index.
ALTER TABLE idempotency_keys ADD COLUMN scope TEXT NOT NULL DEFAULT '';
UPDATE idempotency_keys k SET scope = a.created_by FROM alerts a WHERE a.id = k.alert_id;
ALTER TABLE idempotency_keys ALTER COLUMN scope DROP DEFAULT;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (scope, key);
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);
CREATE INDEX idempotency_keys_alert ON idempotency_keys(alert_id);
