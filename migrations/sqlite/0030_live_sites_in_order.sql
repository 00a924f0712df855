-- The ledger's pages (sites not archived, in id order) from a small index
-- instead of the table's wide rows: a page far into a county's 20,000 sites
-- no longer reads every row before it.
CREATE INDEX sites_live_in_order ON sites(id, township_id) WHERE archived_at IS NULL;
