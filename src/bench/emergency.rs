//! `emergency`: the emergency minute (issue 21). Everything at once, as in
//! a real warning: a notice to 10,000 contacts fans out by SMS; from 1 s
//! after the API call the recipients answer through their links
//! (`POST /a/{token}`, tokens taken from the texts the SMS sink received,
//! as a phone would) at 1,000/s for 5 s; 50 clients refresh the board every
//! 2 s (with `If-None-Match`, as the dashboard does); 8 clients read and
//! write the ledger (`GET /sites/{id}`, `POST /sites`, one request every
//! 100 ms each). Printed: time to all `sent`, answer, board and ledger
//! latencies, errors and the daemon's peak RSS.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use super::{BResult, Backend, Bench, Table, load, mb, ms, seed};
use fenghuo::auth::Role;
use fenghuo::store::Db;

/// Latencies of one kind of request.
#[derive(Default)]
struct Lat(Vec<Duration>);

impl Lat {
    fn pct(&mut self, p: f64) -> String {
        if self.0.is_empty() {
            return "-".into();
        }
        self.0.sort_unstable();
        let i = ((self.0.len() as f64 * p).ceil() as usize).clamp(1, self.0.len()) - 1;
        format!("{:.1}", self.0[i].as_secs_f64() * 1000.0)
    }
}

/// What one client of a kind saw.
#[derive(Default)]
struct Seen {
    lat: Lat,
    /// 304s (boards) or writes (ledger).
    other: Lat,
    not_modified: u64,
    errors: u64,
}

impl Bench {
    pub(super) async fn emergency(&mut self, backends: &[Backend]) -> BResult<()> {
        let a = &self.args;
        let mut t = Table::new(
            &format!(
                "Emergency minute ({} contacts, SMS; answers by link at {}/s for {} s from 1 s after the call; \
                 {} board clients every 2 s reading the {}; {} ledger clients, a request every {} ms each)",
                a.emergency_contacts,
                a.answer_rate,
                a.answer_secs,
                a.board_clients,
                if a.board == "full" {
                    "full board (`GET /alerts/{id}`)"
                } else {
                    "board summary (`GET /alerts/{id}/summary`)"
                },
                a.ledger_clients,
                a.ledger_pause_ms
            ),
            &[
                "backend ",
                "202 after ms",
                "all `sent` ms",
                "answers OK (recorded)",
                "answer p50 ms",
                "answer p99 ms",
                "answer errors",
                "board p50 ms",
                "board p99 ms",
                "board 304s / all",
                "board errors",
                "ledger read p99 ms",
                "ledger write p99 ms",
                "ledger errors",
                "peak RSS MB",
                "load",
            ],
        );
        for &b in backends {
            let row = self.minute(b).await?;
            println!("  {}", row.join(" | "));
            t.rows.push(row);
        }
        self.emit(t);
        Ok(())
    }

    async fn minute(&mut self, b: Backend) -> BResult<Vec<String>> {
        let args = self.args.clone();
        let url = self.new_database(b, "emergency").await?;
        let db = Db::connect(&url, 2).await?;
        let seeded = Instant::now();
        seed::ledger(&db, args.emergency_contacts, args.emergency_sites).await?;
        let (_, token) = fenghuo::auth::create_token(&db, "bench-emergency", Role::Admin).await?;
        let villages: Vec<i64> =
            sqlx::query_as::<_, (i64,)>("SELECT id FROM villages WHERE code LIKE 'V%'")
                .fetch_all(&db.pool)
                .await?
                .into_iter()
                .map(|r| r.0)
                .collect();
        println!(
            "seeded {} contacts and {} sites on {} in {:.1} s",
            args.emergency_contacts,
            args.emergency_sites,
            b.name(),
            seeded.elapsed().as_secs_f64()
        );
        let d = self
            .start_daemon(&format!("emergency-{}", b.name()), &url)
            .await?;
        let arrivals = self.http.arrivals.clone();
        arrivals.reset();
        arrivals.capture_tokens(true);
        d.reset_peak();
        let stop = Arc::new(AtomicBool::new(false));

        let t0 = Instant::now();
        let (alert, n) = super::post_alert(&self.client, &d.base, &token, "sms", &villages).await?;
        let accepted = t0.elapsed();
        let sent = {
            let (db, arrivals) = (db.clone(), arrivals.clone());
            tokio::spawn(async move {
                super::wait_done(&db, alert, Some((&arrivals, n)))
                    .await
                    .map(|()| t0.elapsed())
            })
        };

        // The board, as the office's screens refresh it.
        let board_url = if args.board == "full" {
            format!("{}/api/v1/alerts/{alert}", d.base)
        } else {
            format!("{}/api/v1/alerts/{alert}/summary", d.base)
        };
        let mut boards = Vec::new();
        for i in 0..args.board_clients {
            let (client, url, token, stop) = (
                self.client.clone(),
                board_url.clone(),
                token.clone(),
                stop.clone(),
            );
            let offset = Duration::from_millis(2000 * i as u64 / args.board_clients as u64);
            boards.push(tokio::spawn(async move {
                let mut seen = Seen::default();
                let mut etag: Option<String> = None;
                let mut next = Instant::now() + offset;
                tokio::time::sleep_until(next.into()).await;
                while !stop.load(Ordering::Relaxed) {
                    let mut req = client.get(&url).bearer_auth(&token);
                    if let Some(e) = &etag {
                        req = req.header("If-None-Match", e.as_str());
                    }
                    let t = Instant::now();
                    match req.send().await {
                        Ok(r) => {
                            let status = r.status();
                            let tag = r
                                .headers()
                                .get("etag")
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_string);
                            let body = r.bytes().await;
                            seen.lat.0.push(t.elapsed());
                            if status == reqwest::StatusCode::NOT_MODIFIED {
                                seen.not_modified += 1;
                            } else if status.is_success() && body.is_ok() {
                                etag = tag;
                            } else {
                                seen.errors += 1;
                            }
                        }
                        Err(_) => seen.errors += 1,
                    }
                    next += Duration::from_secs(2);
                    tokio::time::sleep_until(next.into()).await;
                }
                seen
            }));
        }

        // The ledger, as the office goes on working.
        let (max_site,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(id), 1) FROM sites")
            .fetch_one(&db.pool)
            .await?;
        let mut ledgers = Vec::new();
        for i in 0..args.ledger_clients {
            let (client, base, token, stop) = (
                self.client.clone(),
                d.base.clone(),
                token.clone(),
                stop.clone(),
            );
            let pause = Duration::from_millis(args.ledger_pause_ms);
            ledgers.push(tokio::spawn(async move {
                let mut seen = Seen::default();
                let mut rng = seed::Rng::new(7 + i as u64);
                let mut k = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    k += 1;
                    let write = k.is_multiple_of(2);
                    let t = Instant::now();
                    let req = if write {
                        client
                            .post(format!("{base}/api/v1/sites"))
                            .bearer_auth(&token)
                            .json(&json!({
                                "name": format!("应急期间新站点{i}-{k}"), "kind": "fireworks_retail",
                                "risk_grade": "low", "safety_officer": "张三",
                                "safety_officer_phone": "+8613600000000",
                                "location": {"lon": 118.0 + rng.unit() * 0.2, "lat": 25.0 + rng.unit() * 0.2}}))
                    } else {
                        let id = 1 + (rng.next_u64() % max_site as u64);
                        client
                            .get(format!("{base}/api/v1/sites/{id}"))
                            .bearer_auth(&token)
                    };
                    let ok = match req.send().await {
                        Ok(r) => {
                            let s = r.status();
                            r.bytes().await.is_ok() && (s.is_success() || s == 404)
                        }
                        Err(_) => false,
                    };
                    let took = t.elapsed();
                    if write {
                        seen.other.0.push(took);
                    } else {
                        seen.lat.0.push(took);
                    }
                    if !ok {
                        seen.errors += 1;
                    }
                    tokio::time::sleep(pause).await;
                }
                seen
            }));
        }

        // The answers: from 1 s after the call, at the rate, each through
        // the token of a text the sink received.
        let start = t0 + Duration::from_secs(1);
        tokio::time::sleep_until(start.into()).await;
        let total = args.answer_rate * args.answer_secs as usize;
        let period = Duration::from_secs_f64(1.0 / args.answer_rate.max(1) as f64);
        let mut answers = Vec::with_capacity(total);
        let mut late = 0usize;
        for i in 0..total {
            let due = start + period.mul_f64(i as f64);
            tokio::time::sleep_until(due.into()).await;
            let tok = loop {
                if let Some(t) = arrivals.token(i) {
                    break Some(t);
                }
                if Instant::now() > due + Duration::from_secs(30) {
                    break None;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            };
            let Some(tok) = tok else { break };
            if Instant::now() > due + Duration::from_millis(5) {
                late += 1;
            }
            let (client, url) = (self.client.clone(), format!("{}/a/{tok}", d.base));
            answers.push(tokio::spawn(async move {
                let t = Instant::now();
                let ok = match client.post(&url).send().await {
                    Ok(r) => {
                        let s = r.status();
                        r.bytes().await.is_ok() && s == reqwest::StatusCode::OK
                    }
                    Err(_) => false,
                };
                (t.elapsed(), ok)
            }));
        }
        let mut answer_lat = Lat::default();
        let (mut answer_ok, mut answer_errors) = (0u64, 0u64);
        for h in answers {
            let (took, ok) = h.await?;
            answer_lat.0.push(took);
            if ok {
                answer_ok += 1;
            } else {
                answer_errors += 1;
            }
        }
        let all_sent = sent.await??;
        // One more board round after the last answer.
        tokio::time::sleep(Duration::from_secs(2)).await;
        stop.store(true, Ordering::Relaxed);
        let mut board = Seen::default();
        for h in boards {
            let s = h.await?;
            board.lat.0.extend(s.lat.0);
            board.not_modified += s.not_modified;
            board.errors += s.errors;
        }
        let mut ledger = Seen::default();
        for h in ledgers {
            let s = h.await?;
            ledger.lat.0.extend(s.lat.0);
            ledger.other.0.extend(s.other.0);
            ledger.errors += s.errors;
        }
        let peak = d.rss().1;
        let l = load();
        d.stop();
        arrivals.capture_tokens(false);
        let (recorded,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM alert_recipients WHERE alert_id = $1 AND answered_at IS NOT NULL",
        )
        .bind(alert)
        .fetch_one(&db.pool)
        .await?;
        db.pool.close().await;
        if late > 0 {
            println!("  ({late} answers left later than due: their texts had not come yet)");
        }
        let boards_n = board.lat.0.len();
        Ok(vec![
            b.name().to_string(),
            ms(accepted),
            ms(all_sent),
            format!("{answer_ok} ({recorded})"),
            answer_lat.pct(0.5),
            answer_lat.pct(0.99),
            answer_errors.to_string(),
            board.lat.pct(0.5),
            board.lat.pct(0.99),
            format!("{} / {boards_n}", board.not_modified),
            board.errors.to_string(),
            ledger.lat.pct(0.99),
            ledger.other.pct(0.99),
            ledger.errors.to_string(),
            mb(peak),
            l,
        ])
    }
}
