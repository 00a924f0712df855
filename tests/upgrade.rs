//! Upgrading in place: a database the release before townships made (the
//! sample township after a day's use: a notice answered, an observation
//! that opened an incident, a drill; `tests/fixtures/previous_release.sh`
//! made it with that release's binary) is opened by this one. Every row it
//! held is still there, column for column, and now belongs to the one
//! township the configuration names; the daemon serves it as before.

mod common;

use common::{Backend, TestApp};
use sqlx::{Connection, Row};

const SQLITE_DUMP: &str = include_str!("fixtures/previous_release.sqlite.sql");
const POSTGRES_DUMP: &str = include_str!("fixtures/previous_release.postgres.sql");
const ANSWER_KEY: &str = include_str!("fixtures/previous_release.answer.key");

/// Tables that a township owns directly (the rest follow their owner).
const OWNED: &[&str] = &[
    "villages",
    "contacts",
    "sites",
    "inspections",
    "findings",
    "shelters",
    "alerts",
    "incidents",
    "observations",
    "drills",
    "drill_records",
    "users",
    "api_tokens",
    "audit_log",
    "inbound_messages",
    "plan_versions",
];

/// Every table and its columns, as the database has them now.
async fn schema(conn: &mut sqlx::AnyConnection, backend: Backend) -> Vec<(String, Vec<String>)> {
    let tables_sql = match backend {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
        Backend::Postgres => {
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = 'public' ORDER BY 1"
        }
    };
    let tables: Vec<String> = sqlx::query_scalar(tables_sql)
        .fetch_all(&mut *conn)
        .await
        .expect("tables");
    let mut out = Vec::new();
    for t in tables {
        let cols: Vec<String> = match backend {
            Backend::Sqlite => sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT name FROM pragma_table_info('{t}') ORDER BY cid"
            )))
            .fetch_all(&mut *conn)
            .await
            .expect("columns"),
            Backend::Postgres => sqlx::query_scalar(
                "SELECT column_name::text FROM information_schema.columns \
                 WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
            )
            .bind(&t)
            .fetch_all(&mut *conn)
            .await
            .expect("columns"),
        };
        out.push((t, cols));
    }
    out
}

/// Every row of `table` as text, column by column, sorted.
async fn rows(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    table: &str,
    cols: &[String],
) -> Vec<Vec<Option<String>>> {
    let as_text: Vec<String> = cols
        .iter()
        .map(|c| match backend {
            Backend::Sqlite => format!(
                "CASE WHEN typeof(\"{c}\") = 'blob' THEN hex(\"{c}\") ELSE CAST(\"{c}\" AS TEXT) END"
            ),
            Backend::Postgres => format!("\"{c}\"::text"),
        })
        .collect();
    let sql = format!("SELECT {} FROM \"{table}\"", as_text.join(", "));
    let mut rows: Vec<Vec<Option<String>>> = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(&mut *conn)
        .await
        .expect("rows")
        .iter()
        .map(|r| {
            (0..cols.len())
                .map(|i| r.try_get::<Option<String>, _>(i).expect("text"))
                .collect()
        })
        .collect();
    rows.sort();
    rows
}

async fn upgrade_keeps_every_row(backend: Backend) {
    let area_code = "350524208000";
    let app = TestApp::start_on(
        backend,
        async |url, dir| {
            sqlx::any::install_default_drivers();
            std::fs::create_dir_all(dir.join("data")).expect("data dir");
            std::fs::write(dir.join("data/answer.key"), ANSWER_KEY).expect("answer key");
            let create = match backend {
                Backend::Sqlite => format!("{url}?mode=rwc"),
                Backend::Postgres => url.to_string(),
            };
            let mut conn = sqlx::AnyConnection::connect(&create)
                .await
                .expect("connect");
            let dump = match backend {
                Backend::Sqlite => SQLITE_DUMP,
                Backend::Postgres => POSTGRES_DUMP,
            };
            sqlx::raw_sql(sqlx::AssertSqlSafe(dump))
                .execute(&mut conn)
                .await
                .expect("load the previous release's database");
            // The PostgreSQL dump empties search_path for its session.
            conn.close().await.expect("close");

            let mut conn = sqlx::AnyConnection::connect(url).await.expect("connect");
            let before = schema(&mut conn, backend).await;
            assert!(
                !before.iter().any(|(t, _)| t == "townships"),
                "the fixture predates townships"
            );
            let mut old_rows = Vec::new();
            for (t, cols) in &before {
                old_rows.push(rows(&mut conn, backend, t, cols).await);
            }
            let held: usize = old_rows.iter().map(Vec::len).sum();
            assert!(held > 400, "the fixture holds a day's data ({held} rows)");
            conn.close().await.expect("close");

            // This release opens it: its migrations run.
            let db = fenghuo::store::Db::connect(url, 2).await.expect("upgrade");
            db.pool.close().await;

            let mut conn = sqlx::AnyConnection::connect(url).await.expect("connect");
            let after = schema(&mut conn, backend).await;
            for ((table, cols), old) in before.iter().zip(&old_rows) {
                let now_cols = &after
                    .iter()
                    .find(|(t, _)| t == table)
                    .unwrap_or_else(|| panic!("table {table} is gone"))
                    .1;
                for c in cols {
                    assert!(now_cols.contains(c), "{table}.{c} is gone");
                }
                let now = rows(&mut conn, backend, table, cols).await;
                if table == "_sqlx_migrations" {
                    // The old migrations are kept as applied; this release adds its own.
                    let added: Vec<_> = now.iter().filter(|r| !old.contains(r)).collect();
                    assert_eq!(now.len(), old.len() + added.len(), "{added:?}");
                    assert!(
                        added.iter().any(|r| r[1].as_deref() == Some("townships")),
                        "{added:?}"
                    );
                    for r in added {
                        let version: i64 =
                            r[0].as_deref().and_then(|v| v.parse().ok()).unwrap_or(0);
                        assert!(
                            version > 18,
                            "only this release's migrations are new: {r:?}"
                        );
                    }
                    continue;
                }
                assert_eq!(&now, old, "{table}: every row kept, column for column");
                if OWNED.contains(&table.as_str()) {
                    let foreign: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                        "SELECT COUNT(*) FROM {table} WHERE township_id <> 1"
                    )))
                    .fetch_one(&mut conn)
                    .await
                    .expect("township ids");
                    assert_eq!(foreign, 0, "{table}: every row is the one township's");
                }
            }
            for t in OWNED {
                let (_, cols) = after.iter().find(|(n, _)| n == t).expect("owned table");
                assert!(
                    cols.iter().any(|c| c == "township_id"),
                    "{t} has no township"
                );
            }
            if backend == Backend::Sqlite {
                let broken: Vec<String> =
                    sqlx::query_scalar("SELECT \"table\" FROM pragma_foreign_key_check")
                        .fetch_all(&mut conn)
                        .await
                        .expect("foreign key check");
                assert!(broken.is_empty(), "dangling references in {broken:?}");
            }
            conn.close().await.expect("close");
        },
        |cfg| {
            cfg.area_code = area_code.into();
            cfg.township_name = "湖上乡".into();
        },
    )
    .await;
    let Some(app) = app else { return };

    // The daemon names the township as configured and serves the old rows.
    let (status, townships) = app.get("/api/v1/townships").await;
    assert_eq!(status, 200, "{townships}");
    let items = townships["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{townships}");
    assert_eq!(items[0]["id"], 1);
    assert_eq!(items[0]["code"], area_code);
    assert_eq!(items[0]["name"], "湖上乡");
    assert_eq!(items[0]["county_code"], "350524");

    let (_, villages) = app.get("/api/v1/villages").await;
    assert_eq!(
        villages["items"].as_array().map(Vec::len),
        Some(13),
        "{villages}"
    );
    let (_, alerts) = app.get("/api/v1/alerts?per_page=50").await;
    let alerts = alerts["items"].as_array().expect("alerts").clone();
    assert_eq!(alerts.len(), 5, "the old notices are listed");
    // The answer given before the upgrade is on its notice's board.
    let mut answered = 0;
    for a in &alerts {
        let (_, board) = app.get(&format!("/api/v1/alerts/{}", a["id"])).await;
        answered += board["answered"].as_i64().unwrap_or(0);
    }
    assert_eq!(answered, 1, "the one answer is kept");

    // A record made now belongs to the township too.
    let (status, v) = app
        .post(
            "/api/v1/villages",
            serde_json::json!({"code": "N01", "name": "新村", "boundary": {
                "type": "Polygon",
                "coordinates": [[[118.1, 25.1], [118.11, 25.1], [118.11, 25.11], [118.1, 25.1]]]}}),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let township: i64 = sqlx::query_scalar("SELECT township_id FROM villages WHERE code = 'N01'")
        .fetch_one(&app.db().pool)
        .await
        .expect("new village");
    assert_eq!(township, 1);
}

both!(upgrade_keeps_every_row);
