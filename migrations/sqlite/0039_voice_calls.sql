-- Phone calls (叫应 by voice): every call placed to a number, by any notice, kept for the
-- providers' limits on calls per number (Aliyun: 1 a minute, 5 an hour, 20 a day, placed
-- calls answered or not) and for what came back: answered by key "1", picked up without a
-- key (reached, 接通未按键), no answer, busy or failed, with the call's length.
CREATE TABLE voice_calls (
    id INTEGER PRIMARY KEY,
    township_id INTEGER NOT NULL DEFAULT 1 REFERENCES townships(id),
    delivery_id INTEGER REFERENCES deliveries(id),
    alert_id INTEGER REFERENCES alerts(id),
    recipient_id INTEGER REFERENCES alert_recipients(id),
    -- E.164, as dialled.
    number TEXT NOT NULL,
    provider TEXT NOT NULL,
    -- The provider's call id (Aliyun CallId, Tencent CallId, Twilio CallSid); receipts and
    -- key presses name the call by it.
    call_id TEXT,
    -- When the call was placed (UTC ms).
    at INTEGER NOT NULL,
    -- 1: counts against the number's limits (placed, or being placed); 0: the provider
    -- never placed it (refused, unreachable).
    counts INTEGER NOT NULL DEFAULT 1,
    -- dialing | placed | not_placed | answered | reached | no_answer | busy | failed
    outcome TEXT NOT NULL,
    -- The provider's own status as it said it (200000, completed, no-answer …).
    status TEXT,
    duration_secs INTEGER,
    digits TEXT,
    ended_at INTEGER,
    updated_at INTEGER NOT NULL,
    sample INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX voice_calls_number ON voice_calls(number, at);
CREATE INDEX voice_calls_alert ON voice_calls(alert_id, recipient_id);
CREATE INDEX voice_calls_delivery ON voice_calls(delivery_id);
CREATE UNIQUE INDEX voice_calls_provider_call ON voice_calls(provider, call_id) WHERE call_id IS NOT NULL;
