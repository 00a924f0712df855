-- Notices: alerts, their resolved recipients, the delivery outbox, every
-- attempt, answers (叫应) and idempotency keys.
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    level INTEGER,
    exercise INTEGER NOT NULL DEFAULT 0,
    public INTEGER NOT NULL DEFAULT 0,
    urgent INTEGER NOT NULL DEFAULT 1,
    channels TEXT NOT NULL,
    ack_within_minutes INTEGER,
    targets TEXT NOT NULL,
    plan TEXT,
    msg_type TEXT NOT NULL DEFAULT 'Alert',
    references_alert INTEGER REFERENCES alerts(id),
    status TEXT NOT NULL DEFAULT 'active',
    recipients INTEGER NOT NULL DEFAULT 0,
    deliveries INTEGER NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    closed_at INTEGER
);
CREATE INDEX alerts_status ON alerts(status, id);

CREATE TABLE alert_recipients (
    id INTEGER PRIMARY KEY,
    alert_id INTEGER NOT NULL REFERENCES alerts(id),
    contact_id INTEGER REFERENCES contacts(id),
    name TEXT NOT NULL,
    phone TEXT,
    email TEXT,
    village_id INTEGER,
    escalation_order INTEGER NOT NULL DEFAULT 100,
    reason TEXT NOT NULL,
    escalated_from INTEGER REFERENCES alert_recipients(id),
    step INTEGER NOT NULL DEFAULT 0,
    answer_token TEXT NOT NULL UNIQUE,
    token_expires_at INTEGER NOT NULL,
    notified_at INTEGER NOT NULL,
    ack_due_at INTEGER,
    repeats INTEGER NOT NULL DEFAULT 0,
    escalated INTEGER NOT NULL DEFAULT 0,
    answered_at INTEGER,
    answer_via TEXT
);
CREATE INDEX alert_recipients_alert ON alert_recipients(alert_id, village_id);
CREATE INDEX alert_recipients_due ON alert_recipients(ack_due_at);
CREATE INDEX alert_recipients_phone ON alert_recipients(phone, answered_at);

CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    alert_id INTEGER NOT NULL REFERENCES alerts(id),
    recipient_id INTEGER NOT NULL REFERENCES alert_recipients(id),
    channel TEXT NOT NULL,
    address TEXT NOT NULL,
    purpose TEXT NOT NULL DEFAULT 'notice',
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    due_at INTEGER NOT NULL,
    lease_until INTEGER,
    provider_id TEXT,
    last_error TEXT,
    sent_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX deliveries_due ON deliveries(channel, state, due_at);
CREATE INDEX deliveries_alert ON deliveries(alert_id, state);

CREATE TABLE delivery_attempts (
    id INTEGER PRIMARY KEY,
    delivery_id INTEGER NOT NULL REFERENCES deliveries(id),
    at INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts(delivery_id);

CREATE TABLE answers (
    id INTEGER PRIMARY KEY,
    alert_id INTEGER NOT NULL REFERENCES alerts(id),
    recipient_id INTEGER NOT NULL REFERENCES alert_recipients(id),
    at INTEGER NOT NULL,
    via TEXT NOT NULL,
    actor TEXT NOT NULL,
    note TEXT,
    counted INTEGER NOT NULL
);
CREATE INDEX answers_alert ON answers(alert_id);

CREATE TABLE idempotency_keys (
    key TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    alert_id INTEGER NOT NULL REFERENCES alerts(id),
    response TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
