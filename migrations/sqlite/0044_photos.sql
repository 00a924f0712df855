-- Photos (照片) attached to an inspection (现场照片, tag 'scene') or to a
-- finding's rectification (整改前 'before' / 整改后 'after'). The bytes live
-- under <data_dir>/photos/<2 hex>/<rest of the SHA-256>.<ext>, one file per
-- content however often it is attached; a row is one attachment. The site
-- is kept beside the owner so that a village scope reads its own.
CREATE TABLE photos (
    id INTEGER PRIMARY KEY,
    township_id INTEGER NOT NULL DEFAULT 1 REFERENCES townships(id),
    site_id INTEGER NOT NULL REFERENCES sites(id),
    -- 'inspection' or 'finding'.
    owner_kind TEXT NOT NULL,
    owner_id INTEGER NOT NULL,
    -- 'scene' (an inspection's), 'before' or 'after' (a finding's).
    tag TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    file_name TEXT,
    caption TEXT,
    taken_at INTEGER,
    uploaded_at INTEGER NOT NULL,
    uploaded_by TEXT NOT NULL,
    sample INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX photos_owner ON photos(owner_kind, owner_id);
CREATE INDEX photos_site ON photos(site_id);
CREATE INDEX photos_sha256 ON photos(sha256);
