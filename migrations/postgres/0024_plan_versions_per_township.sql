-- Plans per township: two townships may both have a plan `forest-fire`, even
-- with the same text, so a plan version is unique per township (a county
-- plan is kept under the county bureau's row).
ALTER TABLE plan_versions DROP CONSTRAINT plan_versions_plan_id_content_hash_key;
ALTER TABLE plan_versions ADD CONSTRAINT plan_versions_township_plan_hash
    UNIQUE (township_id, plan_id, content_hash);
-- A text is found by its plan id and hash (the same text, the same hash).
CREATE INDEX plan_versions_hash ON plan_versions(plan_id, content_hash);
