-- Replies as people write them (notify::response::replies): which person's
-- notice a reply was matched to, whether it reports danger (险情), and who
-- read and who handled it in the inbox.
ALTER TABLE inbound_messages ADD COLUMN recipient_id INTEGER;
ALTER TABLE inbound_messages ADD COLUMN danger INTEGER NOT NULL DEFAULT 0;
ALTER TABLE inbound_messages ADD COLUMN needs_reading INTEGER NOT NULL DEFAULT 0;
ALTER TABLE inbound_messages ADD COLUMN read_at INTEGER;
ALTER TABLE inbound_messages ADD COLUMN read_by TEXT;
ALTER TABLE inbound_messages ADD COLUMN handled_at INTEGER;
ALTER TABLE inbound_messages ADD COLUMN handled_by TEXT;
CREATE INDEX inbound_messages_to_read ON inbound_messages(needs_reading, read_at);
