-- A delivery that was with a provider when its outcome was lost (the daemon
-- killed or stopped mid-send, a lease that ran out) is sent again; it may
-- then reach the person twice. The board counts these (可能重复).
ALTER TABLE deliveries ADD COLUMN maybe_duplicate BIGINT NOT NULL DEFAULT 0;
