-- Every inbound SMS reply seen, once per provider message: a replayed
-- callback finds its key taken and answers nothing. The rows are kept as
-- the inbound log. `message_key` is the provider's message id (Aliyun
-- sequence_id, Twilio MessageSid, a webhook's `id`) or, where a provider
-- gives none, a digest of what it signed or sent (Tencent, webhooks
-- without an id).
CREATE TABLE inbound_messages (
    id INTEGER PRIMARY KEY,
    provider TEXT NOT NULL,
    message_key TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    phone TEXT NOT NULL,
    text TEXT NOT NULL,
    outcome TEXT NOT NULL,
    alert_id INTEGER REFERENCES alerts(id),
    UNIQUE (provider, message_key)
);
CREATE INDEX inbound_messages_received ON inbound_messages(received_at);
