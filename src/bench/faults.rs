//! `fenghuo bench --only faults`: the faults of `tests/faults.rs` and
//! `tests/crash.rs` at full size, against the release binary. Per backend,
//! each scenario gets a fresh database with one village of 10,000 contacts
//! and a fresh stand-in for the SMS provider, sends one notice to all of
//! them and counts per phone what the provider accepted:
//!
//! - kill -9: SIGKILL when ~30% have arrived, start again on the same
//!   database;
//! - provider outage: from ~30%, every request is answered 503 for
//!   `--outage-secs`, then the provider is back;
//! - disk full (SQLite): the database on a 64 MiB tmpfs, the SMS rate slowed
//!   to 500/s, the tmpfs filled to the last byte at ~20% for `--full-secs`,
//!   then freed.
//!
//! Every scenario runs with the daemon's default delivery settings (lease,
//! backoff, circuit breaker), as an office would run it. A phone accepted
//! twice or never is a figure in the table, not a failed assertion.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::{Value, json};

use super::daemon::{self, Daemon, DaemonSettings, SinkAddrs};
use super::{BResult, Backend, Bench, Table, load, seed};
use fenghuo::auth::Role;
use fenghuo::store::Db;

const CONTACTS: usize = 10_000;
/// How long a notice may take to complete after its fault has ended.
const WAIT: Duration = Duration::from_secs(600);
/// The throughput sections' SMS rate: no pacing to speak of.
const UNPACED: u32 = 1_000_000;
/// Slow enough that the disk fills while the notice is going out (20 s).
const SLOWED: u32 = 500;

/// What the provider's stand-in has seen.
#[derive(Default)]
struct Counts {
    /// Messages accepted (answered 200), per phone (the webhook's `to`).
    per_phone: Mutex<HashMap<String, u32>>,
    accepted: AtomicU64,
    /// Down: every request is answered 503 and counted in `refused`.
    down: AtomicBool,
    refused: AtomicU64,
}

/// A loopback HTTP stand-in for the SMS provider (the `webhook` provider's
/// endpoint). It does not check signatures: what is measured is who got
/// the notice how often.
struct Provider {
    url: String,
    counts: Arc<Counts>,
    task: tokio::task::JoinHandle<()>,
}

impl Provider {
    async fn start() -> BResult<Provider> {
        let counts = Arc::new(Counts::default());
        let c = counts.clone();
        let app = Router::new().route(
            "/{*path}",
            post(move |body: axum::body::Bytes| {
                let c = c.clone();
                async move {
                    if c.down.load(Ordering::Relaxed) {
                        c.refused.fetch_add(1, Ordering::Relaxed);
                        return (
                            StatusCode::SERVICE_UNAVAILABLE,
                            "{\"error\":\"down\"}".into(),
                        );
                    }
                    let to = serde_json::from_slice::<Value>(&body)
                        .ok()
                        .and_then(|v| v["to"].as_str().map(str::to_string))
                        .unwrap_or_default();
                    *c.per_phone
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .entry(to)
                        .or_default() += 1;
                    let n = c.accepted.fetch_add(1, Ordering::Relaxed) + 1;
                    (StatusCode::OK, format!("{{\"id\":\"fault-{n}\"}}"))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Provider {
            url: format!("http://{addr}/sms"),
            counts,
            task,
        })
    }

    fn accepted(&self) -> u64 {
        self.counts.accepted.load(Ordering::Relaxed)
    }

    fn set_down(&self, down: bool) {
        self.counts.down.store(down, Ordering::Relaxed);
    }

    /// Waits until the provider has accepted `n` messages in all.
    async fn wait_accepted(&self, n: u64, within: Duration) -> BResult<()> {
        let until = Instant::now() + within;
        while self.accepted() < n {
            if Instant::now() > until {
                return Err(format!("only {} of {n} messages arrived", self.accepted()).into());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Ok(())
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A fresh database with the village, and an admin token for the API.
struct Village {
    url: String,
    id: i64,
    token: String,
}

/// A notice sent, and what became of it.
struct Run {
    /// The alert's `delivery_states` on its board at the end.
    states: Value,
    /// From the API call to every delivery `sent` or `failed`; `None`:
    /// still not complete when the wait ended.
    took: Option<Duration>,
    /// Phones of the deliveries marked `maybe_duplicate`.
    marked: HashSet<String>,
    notes: Vec<String>,
}

/// A data directory on its own small file system, filled to the last byte
/// and freed again; unmounted when dropped (also when a scenario fails).
struct SmallDisk {
    dir: PathBuf,
    filler: PathBuf,
}

impl SmallDisk {
    /// `None` when it cannot be mounted (not root).
    fn mount(dir: &Path) -> BResult<Option<SmallDisk>> {
        std::fs::create_dir_all(dir)?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64m", "tmpfs"])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        Ok(ok.then(|| SmallDisk {
            filler: dir.join("filler"),
            dir: dir.to_path_buf(),
        }))
    }

    /// Takes every free byte: big writes, then smaller ones, then single
    /// bytes, so no write the daemon makes can find room.
    fn fill(&self) -> BResult<u64> {
        use std::io::Write as _;
        let mut f = std::fs::File::create(&self.filler)?;
        let mut n = 0u64;
        for size in [1 << 20, 64 << 10, 512, 1] {
            let block = vec![0u8; size];
            while f.write_all(&block).is_ok() {
                n += size as u64;
            }
        }
        let _ = f.sync_all();
        Ok(n)
    }

    fn free(&self) -> BResult<()> {
        Ok(std::fs::remove_file(&self.filler)?)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazily, so a file still open (a daemon that did not stop) does
        // not keep it mounted.
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.dir)
            .status();
        let _ = std::fs::remove_dir(&self.dir);
    }
}

impl Bench {
    pub(super) async fn faults(&mut self, backends: &[Backend]) -> BResult<()> {
        let mut t = Table::new(
            &format!("Faults ({CONTACTS}-contact SMS notice; provider stand-in counts per phone)"),
            &[
                "scenario ",
                "backend ",
                "notified",
                "delivered",
                "missing",
                "duplicates: phones (extra messages)",
                "unknown (`maybe_duplicate`)",
                "failed",
                "complete after s",
                "notes ",
                "load",
            ],
        );
        for &b in backends {
            for scenario in ["kill -9", "provider outage", "disk full"] {
                let run = match scenario {
                    "kill -9" => self.kill(b).await,
                    "provider outage" => self.outage(b).await,
                    _ if b == Backend::Sqlite => self.disk_full().await,
                    // A PostgreSQL server's disk is not ours to fill.
                    _ => Err("n/a (a trigger stands in for it in tests/faults.rs)".into()),
                };
                let row = match run {
                    Ok(Some((run, p))) => row(scenario, b, &run, &p),
                    Ok(None) => skipped(scenario, b, "skipped: mounting a tmpfs needs root"),
                    Err(e) => skipped(scenario, b, &e.to_string()),
                };
                println!("  {}", row.join(" | "));
                t.rows.push(row);
            }
        }
        self.emit(t);
        Ok(())
    }

    /// A fresh database (`url`, or a new one) with one village of 10,000.
    async fn village(&mut self, b: Backend, name: &str, url: Option<String>) -> BResult<Village> {
        let url = match url {
            Some(u) => u,
            None => self.new_database(b, name).await?,
        };
        let db = Db::connect(&url, 2).await?;
        let groups = seed::fanout(&db, &[CONTACTS]).await?;
        let id = groups
            .first()
            .and_then(|g| g.1.first().copied())
            .ok_or("no village seeded")?;
        let (_, token) = fenghuo::auth::create_token(&db, "bench-faults", Role::Admin).await?;
        // The daemon alone uses the database from here on.
        db.pool.close().await;
        Ok(Village { url, id, token })
    }

    /// Starts the daemon with the SMS going to `p`; its configuration and
    /// data directory go in `dir`.
    async fn fault_daemon(
        &self,
        dir: &Path,
        name: &str,
        v: &Village,
        p: &Provider,
        sms_rate: u32,
    ) -> BResult<Daemon> {
        let port = daemon::free_port()?;
        let sinks = SinkAddrs {
            sms_url: p.url.clone(),
            smtp_port: self.smtp.port,
        };
        let settings = DaemonSettings {
            sms_rate,
            ..self.settings()
        };
        let cfg = daemon::write_config(dir, name, &v.url, port, &sinks, &settings)?;
        Daemon::start(&self.exe, &cfg, port).await
    }

    /// Sends the notice and returns once the provider has accepted `at`
    /// messages, whether or not the 202 has come back by then: sending
    /// starts with the first page of recipients, and on PostgreSQL the last
    /// pages commit when more than half are already sent.
    async fn send_until(&self, d: &Daemon, v: &Village, p: &Provider, at: u64) -> BResult<Sent> {
        let (client, base, token, village) =
            (self.client.clone(), d.base.clone(), v.token.clone(), v.id);
        let post = tokio::spawn(async move {
            super::post_alert(&client, &base, &token, "sms", &[village]).await
        });
        p.wait_accepted(at, Duration::from_secs(60)).await?;
        Ok(Sent { post })
    }

    /// Polls the alert's board until no delivery is queued or sending (or
    /// `WAIT` has passed), stops the daemon and reads which deliveries are
    /// marked as possibly sent twice.
    async fn finish(&self, d: Daemon, v: &Village, id: i64, t0: Instant) -> BResult<Run> {
        let until = Instant::now() + WAIT;
        let (states, took) = loop {
            let board = self
                .client
                .get(format!("{}/api/v1/alerts/{id}", d.base))
                .bearer_auth(&v.token)
                .send()
                .await;
            // An error (say, while the disk is full) is asked again.
            if let Ok(r) = board
                && let Ok(b) = r.json::<Value>().await
            {
                let states = b["delivery_states"].clone();
                let n = |k: &str| states[k].as_i64().unwrap_or(0);
                if n("total") > 0 && n("queued") + n("sending") == 0 {
                    break (states, Some(t0.elapsed()));
                }
                if Instant::now() > until {
                    break (states, None);
                }
            } else if Instant::now() > until {
                break (Value::Null, None);
            }
            // The board reads all 10,000 recipients: not too often.
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        d.stop();
        let db = Db::connect(&v.url, 1).await?;
        let marked: Vec<(String,)> = sqlx::query_as(
            "SELECT address FROM deliveries WHERE alert_id = $1 AND maybe_duplicate = 1",
        )
        .bind(id)
        .fetch_all(&db.pool)
        .await?;
        db.pool.close().await;
        Ok(Run {
            states,
            took,
            marked: marked.into_iter().map(|r| r.0).collect(),
            notes: Vec::new(),
        })
    }

    /// kill -9 mid-send, then a new start on the same database.
    async fn kill(&mut self, b: Backend) -> BResult<Option<(Run, Provider)>> {
        let v = self.village(b, "faults_kill", None).await?;
        let p = Provider::start().await?;
        let (dir, name) = (self.dir.clone(), format!("faults-kill-{}", b.name()));
        let d = self.fault_daemon(&dir, &name, &v, &p, UNPACED).await?;
        let t0 = Instant::now();
        let sent = self
            .send_until(&d, &v, &p, CONTACTS as u64 * 3 / 10)
            .await?;
        let answered = sent.post.is_finished();
        d.kill();
        let at_kill = p.accepted();
        let id = sent.alert(&v.url).await?;
        let at_kill_db = claims(&v.url, id).await?;
        let d = self.fault_daemon(&dir, &name, &v, &p, UNPACED).await?;
        let mut run = self.finish(d, &v, id, t0).await?;
        run.notes.push(format!(
            "SIGKILL at {at_kill} accepted, {} the 202; then in the database {at_kill_db}",
            if answered { "after" } else { "before" }
        ));
        Ok(Some((run, p)))
    }

    /// The provider answers 503 to everything for `--outage-secs`, from ~30%.
    async fn outage(&mut self, b: Backend) -> BResult<Option<(Run, Provider)>> {
        let v = self.village(b, "faults_outage", None).await?;
        let p = Provider::start().await?;
        let (dir, name) = (self.dir.clone(), format!("faults-outage-{}", b.name()));
        let d = self.fault_daemon(&dir, &name, &v, &p, UNPACED).await?;
        let t0 = Instant::now();
        let sent = self
            .send_until(&d, &v, &p, CONTACTS as u64 * 3 / 10)
            .await?;
        p.set_down(true);
        let at_down = p.accepted();
        tokio::time::sleep(Duration::from_secs(self.args.outage_secs)).await;
        p.set_down(false);
        let recovered = Instant::now();
        let refused = p.counts.refused.load(Ordering::Relaxed);
        let id = sent.alert(&v.url).await?;
        // How soon the daemon finds the provider back (its breaker's probe).
        let mut resumed = None;
        while recovered.elapsed() < WAIT {
            if p.accepted() > at_down {
                resumed = Some(recovered.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut run = self.finish(d, &v, id, t0).await?;
        run.notes.push(format!(
            "503 for {} s from {at_down} accepted; {refused} requests during the outage; {}",
            self.args.outage_secs,
            resumed.map_or("never resumed".into(), |r| format!(
                "first accepted {:.1} s after it was back",
                r.as_secs_f64()
            ))
        ));
        Ok(Some((run, p)))
    }

    /// The disk fills up mid-send (SQLite on a small tmpfs), stays full
    /// for `--full-secs`, then has room again.
    async fn disk_full(&mut self) -> BResult<Option<(Run, Provider)>> {
        let Some(disk) = SmallDisk::mount(&self.dir.join("faults-disk"))? else {
            return Ok(None);
        };
        let url = format!("sqlite://{}", disk.dir.join("fenghuo.db").display());
        let v = self
            .village(Backend::Sqlite, "faults_disk", Some(url))
            .await?;
        let p = Provider::start().await?;
        let d = self
            .fault_daemon(&disk.dir, "faults-disk", &v, &p, SLOWED)
            .await?;
        let t0 = Instant::now();
        let sent = self.send_until(&d, &v, &p, CONTACTS as u64 / 5).await?;
        // SQLite can still commit what fits in the space its WAL file
        // already has; how much that was is part of the figure.
        let wal = std::fs::metadata(disk.dir.join("fenghuo.db-wal")).map_or(0, |m| m.len());
        let filled = disk.fill()?;
        let at_full = p.accepted();
        // What the office sees while the disk is full, asked every half
        // second: a write through the API, and the readiness probe a load
        // balancer or monitor would ask.
        let (mut writes, mut readies) = (Tally::default(), Tally::default());
        let until = Instant::now() + Duration::from_secs(self.args.full_secs);
        let mut k = 0;
        while Instant::now() < until {
            k += 1;
            let w = self
                .client
                .post(format!("{}/api/v1/villages", d.base))
                .bearer_auth(&v.token)
                .json(
                    &json!({"code": format!("FULL{k}"), "name": format!("满盘村{k}"),
                    "boundary": seed::square(117.5 + 0.02 * f64::from(k), 24.0, 0.01)}),
                )
                .send()
                .await;
            writes.add(w.map(|r| r.status()));
            let r = self.client.get(format!("{}/readyz", d.base)).send().await;
            readies.add(r.map(|r| r.status()));
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let while_full = p.accepted() - at_full;
        disk.free()?;
        let id = sent.alert(&v.url).await?;
        let mut run = self.finish(d, &v, id, t0).await?;
        run.notes.push(format!(
            "full ({} MiB filler; WAL {} MiB) for {} s from {at_full} accepted; {while_full} accepted while full; \
             meanwhile POST /api/v1/villages answered {writes}, /readyz {readies}",
            super::mb(filled),
            super::mb(wal),
            self.args.full_secs,
        ));
        // Unmounted only now that the daemon has stopped.
        drop(disk);
        Ok(Some((run, p)))
    }
}

/// A notice on its way: the API call, which may still be running.
struct Sent {
    post: tokio::task::JoinHandle<BResult<(i64, usize)>>,
}

impl Sent {
    /// The alert's id: from the 202, or, when the call was cut short (the
    /// daemon killed before it answered), the only alert in the database,
    /// which the next start completes.
    async fn alert(self, url: &str) -> BResult<i64> {
        if let Ok(Ok((id, _))) = self.post.await {
            return Ok(id);
        }
        let db = Db::connect(url, 1).await?;
        let (id,): (Option<i64>,) = sqlx::query_as("SELECT MAX(id) FROM alerts")
            .fetch_one(&db.pool)
            .await?;
        db.pool.close().await;
        id.ok_or_else(|| "no alert in the database".into())
    }
}

/// HTTP statuses seen, in the order first seen, with how often.
#[derive(Default)]
struct Tally(Vec<(String, u32)>);

impl Tally {
    fn add(&mut self, r: Result<StatusCode, reqwest::Error>) {
        let key = r.map_or("no answer".into(), |s| s.as_u16().to_string());
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => self.0.push((key, 1)),
        }
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
        write!(f, "{}", parts.join(", "))
    }
}

/// The alert's deliveries by state in the database, read while no daemon
/// runs (right after the kill): what the next start has to deal with.
async fn claims(url: &str, alert: i64) -> BResult<String> {
    let db = Db::connect(url, 1).await?;
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, COUNT(*) FROM deliveries WHERE alert_id = $1 GROUP BY state")
            .bind(alert)
            .fetch_all(&db.pool)
            .await?;
    db.pool.close().await;
    let get = |s: &str| rows.iter().find(|r| r.0 == s).map_or(0, |r| r.1);
    Ok(format!(
        "{} sent, {} sending (claimed), {} queued",
        get("sent"),
        get("sending"),
        get("queued")
    ))
}

fn row(scenario: &str, b: Backend, run: &Run, p: &Provider) -> Vec<String> {
    let per = p
        .counts
        .per_phone
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let delivered = per.len();
    let twice: Vec<&String> = per.iter().filter(|(_, n)| **n > 1).map(|e| e.0).collect();
    let extra: u32 = per.values().map(|n| n.saturating_sub(1)).sum();
    let n = |k: &str| run.states[k].as_i64().map_or("?".into(), |v| v.to_string());
    let mut notes = run.notes.clone();
    // A person who got it twice must be among those the board warns about.
    if !twice.is_empty() {
        let unmarked = twice.iter().filter(|p| !run.marked.contains(**p)).count();
        notes.push(format!(
            "of the phones accepted twice, {unmarked} not marked `maybe_duplicate`"
        ));
    }
    if run.took.is_none() {
        notes.push(format!(
            "not complete after {} s: {}",
            WAIT.as_secs(),
            run.states
        ));
    }
    vec![
        scenario.into(),
        b.name().into(),
        n("total"),
        delivered.to_string(),
        CONTACTS.saturating_sub(delivered).to_string(),
        format!("{} ({extra})", twice.len()),
        n("maybe_duplicate"),
        n("failed"),
        run.took
            .map_or("-".into(), |t| format!("{:.1}", t.as_secs_f64())),
        notes.join("; "),
        load(),
    ]
}

fn skipped(scenario: &str, b: Backend, why: &str) -> Vec<String> {
    let mut r = vec![scenario.to_string(), b.name().to_string()];
    r.extend(std::iter::repeat_n("-".to_string(), 7));
    r.push(why.to_string());
    r.push(load());
    r
}
