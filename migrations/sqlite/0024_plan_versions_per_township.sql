-- Plans per township: two townships may both have a plan `forest-fire`, even
-- with the same text, so a plan version is unique per township (a county
-- plan is kept under the county bureau's row). SQLite cannot change a
-- table's UNIQUE constraint in place: the table is rebuilt.
CREATE TABLE plan_versions_new (
    id INTEGER PRIMARY KEY,
    plan_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    file TEXT NOT NULL,
    content TEXT NOT NULL,
    loaded_at INTEGER NOT NULL,
    township_id INTEGER NOT NULL DEFAULT 1,
    UNIQUE (township_id, plan_id, content_hash)
);
INSERT INTO plan_versions_new (id, plan_id, content_hash, file, content, loaded_at, township_id)
SELECT id, plan_id, content_hash, file, content, loaded_at, township_id FROM plan_versions;
DROP TABLE plan_versions;
ALTER TABLE plan_versions_new RENAME TO plan_versions;
CREATE INDEX plan_versions_township ON plan_versions(township_id);
-- A text is found by its plan id and hash (the same text, the same hash).
CREATE INDEX plan_versions_hash ON plan_versions(plan_id, content_hash);
