-- Warnings issued from a plan are their township's, like the notices they
-- send; row-level security as for the other owned tables (migration 0022).
ALTER TABLE plan_warnings ADD COLUMN township_id BIGINT NOT NULL DEFAULT 1 REFERENCES townships(id);
CREATE INDEX plan_warnings_township ON plan_warnings(township_id);
ALTER TABLE plan_warnings ENABLE ROW LEVEL SECURITY;
CREATE POLICY township_scope ON plan_warnings TO fenghuo_scoped
    USING (fenghuo_in_scope(township_id)) WITH CHECK (fenghuo_in_scope(township_id));
