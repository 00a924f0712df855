-- Sign-off (two-person rule). `leader` (带班领导/签发人) is a permission beside
-- the role: a user or token with it may approve what another person drafted.
ALTER TABLE users ADD COLUMN leader BIGINT NOT NULL DEFAULT 0;
ALTER TABLE api_tokens ADD COLUMN leader BIGINT NOT NULL DEFAULT 0;

-- A public notice waits (status 'pending', 待签发) until a leader who is not
-- its author approves it ('accepting' → 'active') or rejects it ('rejected').
ALTER TABLE alerts ADD COLUMN signoff_by TEXT;
ALTER TABLE alerts ADD COLUMN signoff_at BIGINT;
ALTER TABLE alerts ADD COLUMN signoff_note TEXT;

-- A real activation at a level that needs a second person: the level (and
-- villages) asked for wait here until a leader confirms or rejects them. An
-- incident opened that way has status 'pending' until then ('rejected' after).
ALTER TABLE incidents ADD COLUMN pending_level BIGINT;
ALTER TABLE incidents ADD COLUMN pending_villages TEXT;
ALTER TABLE incidents ADD COLUMN pending_by TEXT;
ALTER TABLE incidents ADD COLUMN pending_at BIGINT;

-- The village's 12-digit statistical division code (统计用区划代码), CAP's geocode.
ALTER TABLE villages ADD COLUMN area_code TEXT;
CREATE UNIQUE INDEX villages_area_code ON villages(area_code);
