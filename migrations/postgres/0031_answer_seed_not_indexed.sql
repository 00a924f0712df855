-- An answer link is found by its token's hash (alert_recipients_token_hash);
-- the seed it is derived from (answer_token) is only read with its row.
-- Its UNIQUE index cost every recipient of every notice one insert into a
-- b-tree of random keys: a large notice's outbox is written faster without
-- it. Links made before the seeds (no hash) are still found by the token
-- itself, through an index of those rows only.
ALTER TABLE alert_recipients DROP CONSTRAINT alert_recipients_answer_token_key;
CREATE INDEX alert_recipients_legacy_token ON alert_recipients(answer_token)
    WHERE answer_token_hash IS NULL;
