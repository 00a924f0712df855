-- Who sees what. A person's (users) or a program's (api_tokens) scope:
--   county    every township of the install (the county bureau);
--   township  their own township (township_id), the default: an install
--             made before scopes keeps working as it did;
--   village   one village (village_id) of their township.
-- The county bureau is a township row of its own (kind 'county'): its
-- contacts are the bureau's duty staff, its notices the county's.
ALTER TABLE townships ADD COLUMN kind TEXT NOT NULL DEFAULT 'township'
    CHECK (kind IN ('township', 'county'));
ALTER TABLE users ADD COLUMN scope TEXT NOT NULL DEFAULT 'township'
    CHECK (scope IN ('county', 'township', 'village'));
ALTER TABLE users ADD COLUMN village_id BIGINT REFERENCES villages(id);
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'township'
    CHECK (scope IN ('county', 'township', 'village'));
ALTER TABLE api_tokens ADD COLUMN village_id BIGINT REFERENCES villages(id);
