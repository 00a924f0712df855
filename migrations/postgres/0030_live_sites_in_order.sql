-- The ledger's pages (sites not archived, in id order, row-level security on
-- their township) from the index alone: a page far into a county's 20,000
-- sites, and the list's count, no longer visit every row before it.
CREATE INDEX sites_live_in_order ON sites(id) INCLUDE (township_id) WHERE archived_at IS NULL;
