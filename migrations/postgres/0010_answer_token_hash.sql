-- An answer link's token is derived from answer_token (now a seed) with a key
-- kept outside the database, and only the token's SHA-256 is stored: a copy of
-- the database cannot answer for anyone. NULL marks a link sent before this
-- change, whose token is answer_token itself.
ALTER TABLE alert_recipients ADD COLUMN answer_token_hash TEXT;
CREATE UNIQUE INDEX alert_recipients_token_hash ON alert_recipients(answer_token_hash);
