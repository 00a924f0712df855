-- Row-level security: a missed township filter cannot leak another
-- township's rows.
--
-- Work done for a person (an API token, a dashboard user) runs in a
-- transaction that takes the role `fenghuo_scoped` and sets
-- `fenghuo.townships` to the townships their scope covers ('*' for the
-- county), both `LOCAL` to that transaction (`Db::read_scoped`,
-- `Db::begin_scoped`). The policies below hold for that role only: the
-- daemon's own work (sending, escalating, reminders), which is every
-- township's, runs as the connecting user, who owns the tables and is not
-- subject to them.
--
-- The role is the cluster's; a connecting user who may not create roles
-- needs a DBA to run, once: CREATE ROLE fenghuo_scoped NOLOGIN;
-- GRANT fenghuo_scoped TO <the daemon's user>; (README, Several townships).
-- SQLite holds one township and has no counterpart of this migration.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fenghuo_scoped') THEN
        CREATE ROLE fenghuo_scoped NOLOGIN;
    END IF;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN
        -- Another database of the cluster made it at the same moment.
        NULL;
    WHEN insufficient_privilege THEN
        RAISE EXCEPTION 'the role fenghuo_scoped is missing and % may not create it: a database administrator runs once: CREATE ROLE fenghuo_scoped NOLOGIN; GRANT fenghuo_scoped TO %;', current_user, current_user;
END $$;
DO $$
BEGIN
    IF NOT pg_has_role(current_user, 'fenghuo_scoped', 'MEMBER') THEN
        EXECUTE format('GRANT fenghuo_scoped TO %I', current_user);
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE EXCEPTION '% is not a member of the role fenghuo_scoped: a database administrator runs once: GRANT fenghuo_scoped TO %;', current_user, current_user;
END $$;

GRANT USAGE ON SCHEMA public TO fenghuo_scoped;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO fenghuo_scoped;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO fenghuo_scoped;
-- Tables and sequences later migrations make.
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO fenghuo_scoped;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO fenghuo_scoped;

-- Whether the transaction's scope covers a township. CASE, not OR: SQL does
-- not promise to evaluate OR's left side first, and '*' is no number.
CREATE FUNCTION fenghuo_in_scope(township BIGINT) RETURNS BOOLEAN
LANGUAGE sql STABLE AS $$
    SELECT CASE COALESCE(current_setting('fenghuo.townships', true), '')
        WHEN '*' THEN true
        WHEN '' THEN false
        ELSE township = ANY (
            string_to_array(current_setting('fenghuo.townships', true), ',')::BIGINT[])
    END
$$;
GRANT EXECUTE ON FUNCTION fenghuo_in_scope(BIGINT) TO fenghuo_scoped;

-- Tables a township owns: their own township_id decides.
ALTER TABLE villages ENABLE ROW LEVEL SECURITY;
CREATE POLICY township_scope ON villages TO fenghuo_scoped
    USING (fenghuo_in_scope(township_id)) WITH CHECK (fenghuo_in_scope(township_id));
ALTER TABLE contacts ENABLE ROW LEVEL SECURITY;
CREATE POLICY township_scope ON contacts TO fenghuo_scoped
    USING (fenghuo_in_scope(township_id)) WITH CHECK (fenghuo_in_scope(township_id));
ALTER TABLE sites ENABLE ROW LEVEL SECURITY;
CREATE POLICY township_scope ON sites TO fenghuo_scoped
    USING (fenghuo_in_scope(township_id)) WITH CHECK (fenghuo_in_scope(township_id));
ALTER TABLE inspections ENABLE ROW LEVEL SECURITY;
CREATE POLICY township_scope ON inspections TO fenghuo_scoped
    USING (fenghuo_in_scope(township_id)) WITH CHECK (fenghuo_in_scope(township_id));
ALTER TABLE findings ENABLE ROW LEVEL SECURITY;
CREATE POLICY township_scope ON findings TO fenghuo_scoped
    USING (fenghuo_in_scope(township_id)) WITH CHECK (fenghuo_in_scope(township_id));
ALTER TABLE shelters ENABLE ROW LEVEL SECURITY;
CREATE POLICY township_scope ON shelters TO fenghuo_scoped
    USING (fenghuo_in_scope(township_id)) WITH CHECK (fenghuo_in_scope(township_id));
ALTER TABLE alerts ENABLE ROW LEVEL SECURITY;
CREATE POLICY township_scope ON alerts TO fenghuo_scoped
    USING (fenghuo_in_scope(township_id)) WITH CHECK (fenghuo_in_scope(township_id));
ALTER TABLE incidents ENABLE ROW LEVEL SECURITY;
CREATE POLICY township_scope ON incidents TO fenghuo_scoped
    USING (fenghuo_in_scope(township_id)) WITH CHECK (fenghuo_in_scope(township_id));
ALTER TABLE observations ENABLE ROW LEVEL SECURITY;
CREATE POLICY township_scope ON observations TO fenghuo_scoped
    USING (fenghuo_in_scope(township_id)) WITH CHECK (fenghuo_in_scope(township_id));
ALTER TABLE drills ENABLE ROW LEVEL SECURITY;
CREATE POLICY township_scope ON drills TO fenghuo_scoped
    USING (fenghuo_in_scope(township_id)) WITH CHECK (fenghuo_in_scope(township_id));
ALTER TABLE drill_records ENABLE ROW LEVEL SECURITY;
CREATE POLICY township_scope ON drill_records TO fenghuo_scoped
    USING (fenghuo_in_scope(township_id)) WITH CHECK (fenghuo_in_scope(township_id));
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
CREATE POLICY township_scope ON users TO fenghuo_scoped
    USING (fenghuo_in_scope(township_id)) WITH CHECK (fenghuo_in_scope(township_id));
ALTER TABLE api_tokens ENABLE ROW LEVEL SECURITY;
CREATE POLICY township_scope ON api_tokens TO fenghuo_scoped
    USING (fenghuo_in_scope(township_id)) WITH CHECK (fenghuo_in_scope(township_id));
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY township_scope ON audit_log TO fenghuo_scoped
    USING (fenghuo_in_scope(township_id)) WITH CHECK (fenghuo_in_scope(township_id));
ALTER TABLE inbound_messages ENABLE ROW LEVEL SECURITY;
CREATE POLICY township_scope ON inbound_messages TO fenghuo_scoped
    USING (fenghuo_in_scope(township_id)) WITH CHECK (fenghuo_in_scope(township_id));
ALTER TABLE plan_versions ENABLE ROW LEVEL SECURITY;
CREATE POLICY township_scope ON plan_versions TO fenghuo_scoped
    USING (fenghuo_in_scope(township_id)) WITH CHECK (fenghuo_in_scope(township_id));

-- Records that belong to one of those: visible when their owner is (the
-- owner's own policy decides inside the subquery).
ALTER TABLE alert_recipients ENABLE ROW LEVEL SECURITY;
CREATE POLICY township_scope ON alert_recipients TO fenghuo_scoped
    USING (EXISTS (SELECT 1 FROM alerts p WHERE p.id = alert_recipients.alert_id))
    WITH CHECK (EXISTS (SELECT 1 FROM alerts p WHERE p.id = alert_recipients.alert_id));
ALTER TABLE deliveries ENABLE ROW LEVEL SECURITY;
CREATE POLICY township_scope ON deliveries TO fenghuo_scoped
    USING (EXISTS (SELECT 1 FROM alerts p WHERE p.id = deliveries.alert_id))
    WITH CHECK (EXISTS (SELECT 1 FROM alerts p WHERE p.id = deliveries.alert_id));
ALTER TABLE answers ENABLE ROW LEVEL SECURITY;
CREATE POLICY township_scope ON answers TO fenghuo_scoped
    USING (EXISTS (SELECT 1 FROM alerts p WHERE p.id = answers.alert_id))
    WITH CHECK (EXISTS (SELECT 1 FROM alerts p WHERE p.id = answers.alert_id));
ALTER TABLE delivery_attempts ENABLE ROW LEVEL SECURITY;
CREATE POLICY township_scope ON delivery_attempts TO fenghuo_scoped
    USING (EXISTS (SELECT 1 FROM deliveries p WHERE p.id = delivery_attempts.delivery_id))
    WITH CHECK (EXISTS (SELECT 1 FROM deliveries p WHERE p.id = delivery_attempts.delivery_id));
ALTER TABLE contact_roles ENABLE ROW LEVEL SECURITY;
CREATE POLICY township_scope ON contact_roles TO fenghuo_scoped
    USING (EXISTS (SELECT 1 FROM contacts p WHERE p.id = contact_roles.contact_id))
    WITH CHECK (EXISTS (SELECT 1 FROM contacts p WHERE p.id = contact_roles.contact_id));
ALTER TABLE incident_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY township_scope ON incident_events TO fenghuo_scoped
    USING (EXISTS (SELECT 1 FROM incidents p WHERE p.id = incident_events.incident_id))
    WITH CHECK (EXISTS (SELECT 1 FROM incidents p WHERE p.id = incident_events.incident_id));
ALTER TABLE drill_reminders ENABLE ROW LEVEL SECURITY;
CREATE POLICY township_scope ON drill_reminders TO fenghuo_scoped
    USING (EXISTS (SELECT 1 FROM drills p WHERE p.id = drill_reminders.drill_id))
    WITH CHECK (EXISTS (SELECT 1 FROM drills p WHERE p.id = drill_reminders.drill_id));
ALTER TABLE user_sessions ENABLE ROW LEVEL SECURITY;
CREATE POLICY township_scope ON user_sessions TO fenghuo_scoped
    USING (EXISTS (SELECT 1 FROM users p WHERE p.id = user_sessions.user_id))
    WITH CHECK (EXISTS (SELECT 1 FROM users p WHERE p.id = user_sessions.user_id));
ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY township_scope ON idempotency_keys TO fenghuo_scoped
    USING (EXISTS (SELECT 1 FROM alerts p WHERE p.id = idempotency_keys.alert_id))
    WITH CHECK (EXISTS (SELECT 1 FROM alerts p WHERE p.id = idempotency_keys.alert_id));

-- What a scope may always read: the townships themselves, the settings row
-- store, the sign-in lock-out.
ALTER TABLE townships ENABLE ROW LEVEL SECURITY;
CREATE POLICY township_scope ON townships TO fenghuo_scoped USING (true) WITH CHECK (fenghuo_in_scope(id));
