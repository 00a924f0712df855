-- The newest audit entry about an entity kind, looked up on each use of the
-- kept per-township figures (county::kept): one index probe per kind.
CREATE INDEX audit_log_entity_latest ON audit_log(entity, id);
