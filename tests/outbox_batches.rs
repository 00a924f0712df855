//! The outbox's batched statements (`notify::delivery::claims`), on both
//! backends: claims taken by two workers at once never overlap, and an
//! outcome that comes back after its claim was taken over (the lease ran
//! out) does not overwrite the newer claim.

mod common;

use std::collections::HashSet;

use common::{Backend, TestApp, square};
use fenghuo::notify::Channel;
use fenghuo::notify::delivery::claims::{self, Change};
use fenghuo::store::Db;
use reqwest::StatusCode;
use serde_json::json;

const LEASE_MS: i64 = 60_000;

/// A notice to `n` contacts whose SMS deliveries are all queued and due,
/// with the daemon stopped: only the test claims them. Returns the alert
/// and a connection pool of the test's own.
async fn queued_notice(b: Backend, n: i64) -> Option<(TestApp, Db, i64)> {
    // Paced to 1/s, the daemon's own worker sends next to nothing before
    // it is stopped; whatever it did is reset below.
    let mut app = TestApp::start_with(b, |c| c.sms.rate_per_second = 1).await?;
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "B1", "name": "批量村", "boundary": square(118.0, 25.2, 0.05)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let vid = v["id"].as_i64().expect("village id");
    sqlx::query(
        "WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i + 1 < $1) \
         INSERT INTO contacts (name, village_id, phone, escalation_order, active, created_at, updated_at) \
         SELECT '村民' || i, $2, '+86139' || (10000000 + i), 10, 1, 0, 0 FROM k",
    )
    .bind(n)
    .bind(vid)
    .execute(&app.db().pool)
    .await
    .expect("seed contacts");
    let (s, v) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "山洪预警", "body": "请立即转移。", "level": 2, "targets": {"villages": [vid]}}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let alert = v["id"].as_i64().expect("alert id");
    assert_eq!(v["deliveries"].as_i64(), Some(n), "{v}");
    app.halt().await;
    let db = Db::connect(&app.cfg.database_url, 8)
        .await
        .expect("open db");
    sqlx::query(
        "UPDATE deliveries SET state = 'queued', attempts = 0, lease_until = NULL, maybe_duplicate = 0, \
         provider_id = NULL, sent_at = NULL, due_at = 0",
    )
    .execute(&db.pool)
    .await
    .expect("requeue");
    sqlx::query("DELETE FROM delivery_attempts")
        .execute(&db.pool)
        .await
        .expect("clear attempts");
    Some((app, db, alert))
}

fn sent(id: i64, attempts: i64, by: &str) -> Change {
    Change {
        id,
        attempts,
        state: "sent",
        provider_id: Some(format!("{by}-{id}")),
        due_at: None,
        last_error: None,
        attempt: "sent",
        detail: format!("{by}-{id}"),
        refund: 0,
    }
}

async fn states(db: &Db, ids: &[i64]) -> Vec<(i64, String, i64, i64, Option<String>)> {
    let mut out = Vec::new();
    for id in ids {
        let row: (i64, String, i64, i64, Option<String>) = sqlx::query_as(
            "SELECT id, state, attempts, maybe_duplicate, provider_id FROM deliveries WHERE id = $1",
        )
        .bind(*id)
        .fetch_one(&db.pool)
        .await
        .expect("delivery");
        out.push(row);
    }
    out
}

/// Worker A claims three deliveries and loses touch (its leases run out);
/// worker B claims them again. A's outcomes, arriving late (a retry, a
/// failure, a success), change none of them; B's decide. Every outcome is
/// still logged as an attempt. A claim never takes its own claims back.
async fn a_late_outcome_does_not_overwrite_a_newer_claim(b: Backend) {
    let Some((app, db, _)) = queued_notice(b, 6).await else {
        return;
    };
    let a = claims::claim(&db, Channel::Sms, 3, LEASE_MS, &[], true)
        .await
        .expect("claim A");
    let ids: Vec<i64> = a.iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), 3);
    assert!(a.iter().all(|r| r.attempts == 1), "{a:?}");
    assert!(
        a.iter()
            .all(|r| !r.recipient_name.is_empty() && !r.answer_token.is_empty())
    );

    // A's heartbeat stopped: its leases run out.
    let expire = |ids: Vec<i64>| {
        let pool = db.pool.clone();
        async move {
            for id in ids {
                sqlx::query("UPDATE deliveries SET lease_until = 1 WHERE id = $1")
                    .bind(id)
                    .execute(&pool)
                    .await
                    .expect("expire");
            }
        }
    };
    expire(ids.clone()).await;
    // A itself does not take its own claims back, expired or not.
    let mine = claims::claim(&db, Channel::Sms, 3, LEASE_MS, &ids, true)
        .await
        .expect("claim A again");
    let mine: Vec<i64> = mine.iter().map(|r| r.id).collect();
    assert!(
        mine.iter().all(|id| !ids.contains(id)),
        "{mine:?} vs {ids:?}"
    );
    assert_eq!(mine.len(), 3, "the other three, queued");
    claims::release(&db, &mine).await.expect("release");

    // B takes the expired claims over, before the queued ones.
    let bs = claims::claim(&db, Channel::Sms, 3, LEASE_MS, &[], true)
        .await
        .expect("claim B");
    let mut b_ids: Vec<i64> = bs.iter().map(|r| r.id).collect();
    b_ids.sort_unstable();
    assert_eq!(b_ids, ids, "expired claims come first");
    assert!(bs.iter().all(|r| r.attempts == 2), "{bs:?}");

    // A's outcomes arrive late.
    let late = vec![
        Change {
            id: ids[0],
            attempts: 1,
            state: "queued",
            provider_id: None,
            due_at: Some(0),
            last_error: Some("HTTP 503".into()),
            attempt: "retry",
            detail: "HTTP 503".into(),
            refund: 0,
        },
        Change {
            id: ids[1],
            attempts: 1,
            state: "failed",
            provider_id: None,
            due_at: None,
            last_error: Some("bad number".into()),
            attempt: "failed",
            detail: "bad number".into(),
            refund: 0,
        },
        sent(ids[2], 1, "A"),
    ];
    claims::record(&db, &late).await.expect("record A");
    for (id, state, attempts, dup, provider) in states(&db, &ids).await {
        assert_eq!(state, "sending", "delivery {id}: B's claim stands");
        assert_eq!(attempts, 2);
        assert_eq!(dup, 1, "sent again after a lost lease: may be a duplicate");
        assert_eq!(provider, None);
    }
    // Not claimable meanwhile: B holds them.
    let other = claims::claim(&db, Channel::Sms, 6, LEASE_MS, &[], true)
        .await
        .expect("claim C");
    assert!(other.iter().all(|r| !ids.contains(&r.id)), "{other:?}");
    claims::release(&db, &other.iter().map(|r| r.id).collect::<Vec<_>>())
        .await
        .expect("release C");

    let done: Vec<Change> = ids.iter().map(|&id| sent(id, 2, "B")).collect();
    claims::record(&db, &done).await.expect("record B");
    for (id, state, _, _, provider) in states(&db, &ids).await {
        assert_eq!(state, "sent");
        assert_eq!(provider, Some(format!("B-{id}")));
    }
    let (logged,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM delivery_attempts")
        .fetch_one(&db.pool)
        .await
        .expect("attempts");
    assert_eq!(logged, 6, "A's three late outcomes and B's three");
    db.pool.close().await;
    drop(app);
}
both!(a_late_outcome_does_not_overwrite_a_newer_claim);

/// Two workers claim and record 200 at a time from one 10,000-person
/// notice at once: every delivery is claimed by exactly one of them, once,
/// and ends `sent` with one attempt.
async fn two_workers_claim_each_delivery_once(b: Backend) {
    const N: i64 = 10_000;
    let Some((app, db, alert)) = queued_notice(b, N).await else {
        return;
    };
    let worker = |name: &'static str| {
        let db = db.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            for round in 0.. {
                // Both claims: with and without the look for expired leases.
                let rows = claims::claim(&db, Channel::Sms, 200, LEASE_MS, &[], round % 3 == 0)
                    .await
                    .expect("claim");
                if rows.is_empty() {
                    break;
                }
                let done: Vec<Change> = rows.iter().map(|r| sent(r.id, r.attempts, name)).collect();
                mine.extend(rows.iter().map(|r| r.id));
                claims::record(&db, &done).await.expect("record");
            }
            mine
        })
    };
    let (one, two) = (worker("w1"), worker("w2"));
    let (one, two) = (one.await.expect("w1"), two.await.expect("w2"));
    assert!(!one.is_empty() && !two.is_empty(), "both workers claimed");
    let a: HashSet<i64> = one.iter().copied().collect();
    let c: HashSet<i64> = two.iter().copied().collect();
    assert_eq!(a.len(), one.len(), "w1 claimed nothing twice");
    assert_eq!(c.len(), two.len(), "w2 claimed nothing twice");
    assert!(a.is_disjoint(&c), "no delivery claimed by both");
    assert_eq!((a.len() + c.len()) as i64, N, "every delivery claimed");
    let (sent, once, phones): (i64, i64, i64) = sqlx::query_as(
        "SELECT COUNT(*) FILTER (WHERE state = 'sent'), COUNT(*) FILTER (WHERE attempts = 1), \
         COUNT(DISTINCT address) FROM deliveries WHERE alert_id = $1",
    )
    .bind(alert)
    .fetch_one(&db.pool)
    .await
    .expect("states");
    assert_eq!((sent, once, phones), (N, N, N));
    let (logged, distinct): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT delivery_id) FROM delivery_attempts")
            .fetch_one(&db.pool)
            .await
            .expect("attempts");
    assert_eq!((logged, distinct), (N, N), "one attempt each");
    db.pool.close().await;
    drop(app);
}
both!(two_workers_claim_each_delivery_once);
