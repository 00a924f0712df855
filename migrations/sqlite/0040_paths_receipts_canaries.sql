-- SMS delivery receipts (状态报告) on the delivery, matched by the provider's message id
-- stored at send ("<path>:<id>", e.g. "aliyun:800412…^0"): delivered / failed at the handset,
-- the provider's code, when.
ALTER TABLE deliveries ADD COLUMN receipt_status TEXT;
ALTER TABLE deliveries ADD COLUMN receipt_code TEXT;
ALTER TABLE deliveries ADD COLUMN receipt_at INTEGER;
CREATE INDEX deliveries_provider_id ON deliveries(provider_id);

-- The daily self-check of each SMS path (通道自检): one test text per path and local day
-- to the duty phone, sent straight over that path, its receipt awaited.
CREATE TABLE canaries (
    id INTEGER PRIMARY KEY,
    township_id INTEGER NOT NULL DEFAULT 1,
    channel TEXT NOT NULL DEFAULT 'sms',
    -- The provider the path is: aliyun, tencent, twilio, webhook.
    path TEXT NOT NULL,
    -- The local calendar day, YYYY-MM-DD.
    day TEXT NOT NULL,
    -- Where it went (E.164); NULL when nobody could be found to send it to.
    phone TEXT,
    -- When a daemon took the day's send (compare-and-set: a restart neither skips nor doubles it).
    claimed_at INTEGER NOT NULL,
    sent_at INTEGER,
    -- The path's own message id (without the path), for its receipt.
    provider_id TEXT,
    -- The send: sent | failed; its error text.
    outcome TEXT,
    detail TEXT,
    -- The receipt: delivered | failed, the provider's code, when.
    receipt_status TEXT,
    receipt_code TEXT,
    receipt_at INTEGER,
    -- sending | waiting (for the receipt) | ok | failed
    status TEXT NOT NULL DEFAULT 'sending',
    -- Why it failed: send_failed | no_receipt | undelivered | no_phone
    reason TEXT,
    sample INTEGER NOT NULL DEFAULT 0,
    UNIQUE (channel, path, day)
);
CREATE INDEX canaries_provider ON canaries(path, provider_id);
CREATE INDEX canaries_waiting ON canaries(status, sent_at);
