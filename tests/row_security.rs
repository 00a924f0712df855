//! Township scopes in the database. Two townships' records side by side;
//! work done in a scoped transaction runs deliberately unfiltered queries
//! (no `WHERE township_id`), and on PostgreSQL the row-level security
//! policies still let it see and change only its own township's rows —
//! owned rows and the rows that belong to them (recipients, deliveries,
//! roles). The county sees both; the daemon's own connections are not
//! scoped; a scope never outlives its transaction.

mod common;

use common::{Backend, TestApp, square};
use fenghuo::store::Scope;
use serde_json::json;

/// Makes one township's village, contact, site and notice through the API
/// (all in township 1); returns (village, contact, site, alert) ids.
async fn records(app: &TestApp, code: &str, lon: f64, phone: &str) -> (i64, i64, i64, i64) {
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": code, "name": format!("{code}村"), "boundary": square(lon, 25.0, 0.01)}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let village = v["id"].as_i64().expect("village id");
    let (s, c) = app
        .post(
            "/api/v1/contacts",
            json!({"name": format!("{code}主任"), "roles": ["村主任"], "village_id": village, "phone": phone}),
        )
        .await;
    assert_eq!(s, 201, "{c}");
    let (s, site) = app
        .post(
            "/api/v1/sites",
            json!({"name": format!("{code}烟花店"), "kind": "fireworks_retail", "risk_grade": "general",
                   "location": {"lon": lon + 0.005, "lat": 25.005}, "village_id": village}),
        )
        .await;
    assert_eq!(s, 201, "{site}");
    let (s, a) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "测试通知", "body": "请回复1", "channels": ["sms"], "targets": {"villages": [village]}}),
        )
        .await;
    assert_eq!(s, 202, "{a}");
    (
        village,
        c["id"].as_i64().expect("contact id"),
        site["id"].as_i64().expect("site id"),
        a["id"].as_i64().expect("alert id"),
    )
}

async fn ids(tx: &mut fenghuo::store::Tx, sql: &'static str) -> Vec<i64> {
    let mut v: Vec<i64> = sqlx::query_scalar(sql)
        .fetch_all(&mut **tx)
        .await
        .expect(sql);
    v.sort();
    v
}

async fn deliveries_of(db: &fenghuo::store::Db, alert: i64) -> Vec<i64> {
    let mut v: Vec<i64> = sqlx::query_scalar("SELECT id FROM deliveries WHERE alert_id = $1")
        .bind(alert)
        .fetch_all(&db.pool)
        .await
        .expect("deliveries");
    v.sort();
    v
}

async fn scopes_hide_other_townships(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let db = app.db();
    let (v1, c1, s1, a1) = records(&app, "A01", 118.0, "13800138001").await;
    let (v2, c2, s2, a2) = records(&app, "B01", 118.2, "13800138002").await;

    if backend == Backend::Sqlite {
        // One township: a scoped transaction is a plain one and sees it all.
        let mut tx = db.scoped(Scope::township(1)).read().await.expect("scoped");
        assert_eq!(ids(&mut tx, "SELECT id FROM sites").await, vec![s1, s2]);
        tx.commit().await.expect("commit");
        let mut tx = db.scoped(Scope::township(1)).begin().await.expect("scoped");
        sqlx::query("UPDATE sites SET name = name || '（改）'")
            .execute(&mut *tx)
            .await
            .expect("write");
        tx.commit().await.expect("commit");
        return;
    }

    // The second township, and B01's records moved into it (the daemon's
    // own connection, which no scope limits).
    sqlx::query(
        "INSERT INTO townships (code, name, county_code, created_at, updated_at) \
         VALUES ('350524209000', '西坪镇', '350524', 0, 0)",
    )
    .execute(&db.pool)
    .await
    .expect("township 2");
    let t2: i64 = sqlx::query_scalar("SELECT id FROM townships WHERE code = '350524209000'")
        .fetch_one(&db.pool)
        .await
        .expect("id");
    for (table, id) in [
        ("villages", v2),
        ("contacts", c2),
        ("sites", s2),
        ("alerts", a2),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {table} SET township_id = $1 WHERE id = $2"
        )))
        .bind(t2)
        .bind(id)
        .execute(&db.pool)
        .await
        .expect("move");
    }
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, entity, entity_id, township_id) \
         VALUES (0, 'x', 'create', 'site', $1, $2)",
    )
    .bind(s2)
    .bind(t2)
    .execute(&db.pool)
    .await
    .expect("audit row");
    let (d1, d2) = (deliveries_of(db, a1).await, deliveries_of(db, a2).await);
    assert!(
        !d1.is_empty() && !d2.is_empty(),
        "both notices have deliveries"
    );

    // Unfiltered reads in township 1's scope: only township 1's rows.
    let mut tx = db.scoped(Scope::township(1)).read().await.expect("scoped");
    assert_eq!(ids(&mut tx, "SELECT id FROM villages").await, vec![v1]);
    assert_eq!(ids(&mut tx, "SELECT id FROM contacts").await, vec![c1]);
    assert_eq!(ids(&mut tx, "SELECT id FROM sites").await, vec![s1]);
    assert_eq!(ids(&mut tx, "SELECT id FROM alerts").await, vec![a1]);
    assert_eq!(ids(&mut tx, "SELECT id FROM deliveries").await, d1);
    assert_eq!(
        ids(&mut tx, "SELECT DISTINCT contact_id FROM contact_roles").await,
        vec![c1]
    );
    assert_eq!(
        ids(&mut tx, "SELECT DISTINCT alert_id FROM alert_recipients").await,
        vec![a1]
    );
    let foreign_audit: Vec<i64> = ids(&mut tx, "SELECT DISTINCT township_id FROM audit_log").await;
    assert_eq!(foreign_audit, vec![1], "audit rows of township 1 only");
    // A join does not get around it either.
    assert_eq!(
        ids(
            &mut tx,
            "SELECT s.id FROM sites s JOIN villages v ON v.id = s.village_id"
        )
        .await,
        vec![s1]
    );
    tx.commit().await.expect("commit");

    // And the other way round.
    let mut tx = db.scoped(Scope::township(t2)).read().await.expect("scoped");
    assert_eq!(ids(&mut tx, "SELECT id FROM sites").await, vec![s2]);
    assert_eq!(ids(&mut tx, "SELECT id FROM deliveries").await, d2);
    tx.commit().await.expect("commit");

    // The county sees both; an empty scope sees nothing.
    let mut tx = db.scoped(Scope::County).read().await.expect("scoped");
    assert_eq!(ids(&mut tx, "SELECT id FROM sites").await, vec![s1, s2]);
    tx.commit().await.expect("commit");
    let mut tx = db.scoped(Scope::nothing()).read().await.expect("scoped");
    assert!(ids(&mut tx, "SELECT id FROM sites").await.is_empty());
    tx.commit().await.expect("commit");

    // Writes: an unfiltered update changes township 1's row only; a row
    // put into township 2 from township 1's scope is refused.
    let mut tx = db.scoped(Scope::township(1)).begin().await.expect("scoped");
    let changed = sqlx::query("UPDATE sites SET name = name || '（改）'")
        .execute(&mut *tx)
        .await
        .expect("update")
        .rows_affected();
    assert_eq!(changed, 1);
    let deleted = sqlx::query("DELETE FROM contact_roles")
        .execute(&mut *tx)
        .await
        .expect("delete")
        .rows_affected();
    assert!(deleted >= 1);
    tx.rollback().await.expect("rollback");
    let mut tx = db.scoped(Scope::township(1)).begin().await.expect("scoped");
    let refused = sqlx::query("UPDATE sites SET township_id = $1")
        .bind(t2)
        .execute(&mut *tx)
        .await;
    assert!(refused.is_err(), "moving a row out of the scope is refused");
    tx.rollback().await.expect("rollback");
    let mut tx = db.scoped(Scope::township(1)).begin().await.expect("scoped");
    let refused = sqlx::query(
        "INSERT INTO audit_log (at, actor, action, entity, township_id) VALUES (0, 'x', 'y', 'z', $1)",
    )
    .bind(t2)
    .execute(&mut *tx)
    .await;
    assert!(
        refused.is_err(),
        "writing another township's row is refused"
    );
    tx.rollback().await.expect("rollback");

    // Nothing of a scope stays on the pooled connections afterwards: the
    // daemon's own work sees every township.
    for _ in 0..4 {
        let (user, setting): (String, Option<String>) =
            sqlx::query_as("SELECT current_user::text, current_setting('fenghuo.townships', true)")
                .fetch_one(&db.pool)
                .await
                .expect("session");
        assert_ne!(user, "fenghuo_scoped");
        assert!(setting.unwrap_or_default().is_empty());
    }
    let all: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sites")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(all, 2);
    // Both notices were sent: the workers, unscoped, see both townships.
    // (Read here, unscoped: township 1's admin no longer sees township 2's notice.)
    for a in [a1, a2] {
        let mut sent = 0;
        for _ in 0..200 {
            sent = sqlx::query_scalar(
                "SELECT COUNT(*) FROM deliveries WHERE alert_id = $1 AND state = 'sent'",
            )
            .bind(a)
            .fetch_one(&db.pool)
            .await
            .expect("sent");
            if sent >= 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(sent >= 1, "notice {a} was not sent");
    }
}

both!(scopes_hide_other_townships);
