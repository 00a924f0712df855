//! `fenghuo bench`: the performance benchmark the project ships.
//!
//! It starts the release daemon as a child process (`fenghuo serve` with a
//! generated configuration) against loopback sinks — an HTTP endpoint
//! standing in for the SMS provider and postfix's `smtp-sink` — seeds
//! scratch databases through the library, drives the API over loopback and
//! prints one Markdown table per measurement, with the machine and the load
//! average next to each figure. Nothing here is a test: nothing asserts.
//!
//! Sections: `fanout` (an alert to N contacts, SMS and e-mail), `api`
//! (wrk on reading and writing ledger sites, quiet and during fan-outs),
//! `geo` (recipients resolved for a polygon and a circle), `footprint`
//! (idle RSS, start-up to a ready `/readyz`), `county` (a county-sized
//! dataset: the lists and pages an office reads most), `excel` (10,000 sites
//! imported from a workbook and exported), `emergency` (the emergency
//! minute: a fan-out, a burst of answers, the board watched and the ledger
//! used, all at once), and, only when asked for,
//! `faults` (kill -9, provider outage and a full disk during a 10,000-contact
//! notice: who got it, who did not, who got it twice).

mod county;
mod daemon;
mod emergency;
mod excel;
mod faults;
mod scrape;
mod seed;
mod sinks;
mod wrk;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use daemon::{Daemon, DaemonSettings, SinkAddrs};
use fenghuo::auth::Role;
use fenghuo::store::Db;
use sinks::{Arrivals, HttpSink, SmtpSink};

pub type BResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// Sections to run, comma-separated: fanout, api, geo, footprint, county,
    /// excel, emergency, and faults (not run unless named: it takes minutes and
    /// mounts a tmpfs).
    #[arg(
        long,
        default_value = "fanout,api,geo,footprint,county,excel,emergency"
    )]
    pub only: String,
    /// Fan-out sizes (contacts per alert), comma-separated.
    #[arg(long, default_value = "1000,10000,100000")]
    pub sizes: String,
    /// PostgreSQL server on which scratch databases are created and dropped;
    /// empty skips PostgreSQL.
    #[arg(
        long,
        env = "FENGHUO_BENCH_POSTGRES",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub postgres: String,
    /// Backends to measure, comma-separated: sqlite, postgres.
    #[arg(long, default_value = "sqlite,postgres")]
    pub backends: String,
    /// Seconds per wrk run.
    #[arg(long, default_value_t = 5)]
    pub duration: u64,
    /// Sites in the ledger dataset.
    #[arg(long, default_value_t = 100_000)]
    pub sites: usize,
    /// Contacts in the ledger dataset.
    #[arg(long, default_value_t = 10_000)]
    pub contacts: usize,
    /// Parallel requests to the SMS endpoint (`sms.concurrency`).
    #[arg(long, default_value_t = 64)]
    pub sms_concurrency: usize,
    /// Daemons on one PostgreSQL database for the fan-out, comma-separated
    /// (SQLite allows one daemon per file).
    #[arg(long, default_value = "1,2")]
    pub daemons: String,
    /// Channels of the fan-out with two or more daemons (the one-daemon
    /// rows always have both).
    #[arg(long, default_value = "sms,email")]
    pub multi_channels: String,
    /// Milliseconds the SMS stand-in takes to answer each request, as a real
    /// provider's API does over the internet (0: at once, so the daemon's
    /// own ceiling shows).
    #[arg(long, default_value_t = 0)]
    pub sink_latency_ms: u64,
    /// SMTP connections (`email.pool_size`).
    #[arg(long, default_value_t = 16)]
    pub email_pool: u32,
    /// faults: seconds the provider answers 503 to everything (longer than
    /// the 8 attempts of the old retry budget lasted).
    #[arg(long, default_value_t = 60)]
    pub outage_secs: u64,
    /// faults: seconds the disk stays full.
    #[arg(long, default_value_t = 10)]
    pub full_secs: u64,
    /// emergency: contacts the notice goes to (spread over 100 villages).
    #[arg(long, default_value_t = 10_000)]
    pub emergency_contacts: usize,
    /// emergency: sites in the ledger the ledger clients read and add to.
    #[arg(long, default_value_t = 10_000)]
    pub emergency_sites: usize,
    /// emergency: answers per second through the answer links.
    #[arg(long, default_value_t = 1000)]
    pub answer_rate: usize,
    /// emergency: seconds the answers keep coming.
    #[arg(long, default_value_t = 5)]
    pub answer_secs: u64,
    /// emergency: clients refreshing the board every 2 s.
    #[arg(long, default_value_t = 50)]
    pub board_clients: usize,
    /// emergency: what the board clients read: `summary` (counts per
    /// village, `GET /alerts/{id}/summary`) or `full` (every person,
    /// `GET /alerts/{id}`).
    #[arg(long, default_value = "summary")]
    pub board: String,
    /// emergency: clients reading and writing the ledger.
    #[arg(long, default_value_t = 8)]
    pub ledger_clients: usize,
    /// emergency: each ledger client's pause between requests, ms.
    #[arg(long, default_value_t = 100)]
    pub ledger_pause_ms: u64,
    /// The binary to run as the daemon (default: this one).
    #[arg(long)]
    pub daemon: Option<PathBuf>,
    /// Keep the scratch directory (printed) instead of deleting it.
    #[arg(long)]
    pub keep: bool,
    /// Also write the tables to this Markdown file.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// One printed table.
pub struct Table {
    pub title: String,
    pub head: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    fn new(title: &str, head: &[&'static str]) -> Table {
        Table {
            title: title.into(),
            head: head.to_vec(),
            rows: Vec::new(),
        }
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "**{}**\n", self.title)?;
        writeln!(f, "| {} |", self.head.join(" | "))?;
        writeln!(
            f,
            "|{}",
            self.head
                .iter()
                .map(|h| if h.ends_with(' ') { "---|" } else { "---:|" })
                .collect::<String>()
        )?;
        for r in &self.rows {
            writeln!(f, "| {} |", r.join(" | "))?;
        }
        Ok(())
    }
}

/// The 1-minute load average now.
pub fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let ram = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or("?".into(), |kb| format!("{:.1} GiB", kb as f64 / 1048576.0));
    format!("{cores} cores, {cpu}, {ram} RAM, Linux {}", kernel())
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn mb(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1048576.0)
}

fn ms(d: Duration) -> String {
    let v = d.as_secs_f64() * 1000.0;
    if v < 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// Everything the sections share.
struct Bench {
    args: BenchArgs,
    dir: PathBuf,
    exe: PathBuf,
    http: HttpSink,
    smtp: SmtpSink,
    client: reqwest::Client,
    tables: Vec<Table>,
    http_ceiling: f64,
    smtp_ceiling: f64,
    pg_databases: Vec<String>,
    results: Results,
}

/// Figures the summary of targets is computed from (SQLite).
#[derive(Default)]
struct Results {
    fanout: Vec<FanoutResult>,
    api: Vec<(Backend, &'static str, usize, bool, wrk::WrkResult)>,
    geo: Vec<(Backend, &'static str, Duration)>,
    idle_rss: Option<(Backend, u64)>,
    ready: Option<(Backend, Duration)>,
}

#[derive(Debug, Clone)]
struct FanoutResult {
    backend: Backend,
    /// Daemons sending (on one database).
    daemons: usize,
    channel: &'static str,
    n: usize,
    accepted: Duration,
    first: Option<Duration>,
    last: Option<Duration>,
    durable: Duration,
    /// Of all daemons together.
    peak_rss: u64,
    /// Phones the SMS sink got more than one message for, and the extra
    /// messages (none counted for e-mail).
    duplicates: Option<(u64, u64)>,
}

impl FanoutResult {
    fn rate(&self) -> f64 {
        self.n as f64 / self.durable.as_secs_f64()
    }
}

pub async fn run(args: BenchArgs) -> BResult<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    sqlx::any::install_default_drivers();
    let exe = match &args.daemon {
        Some(p) => p.clone(),
        None => std::env::current_exe()?,
    };
    let tmp = std::env::temp_dir().join(format!("fenghuo-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    println!("# Fenghuo benchmark\n");
    println!("Machine: {}", machine());
    println!("Daemon: {}", exe.display());
    println!(
        "Load average at start (1/5/15 min): {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    println!();
    let http = sinks::http_sink(std::time::Duration::from_millis(args.sink_latency_ms)).await?;
    let smtp = SmtpSink::start(daemon::free_port()?)?;
    let mut b = Bench {
        args: args.clone(),
        dir: tmp.clone(),
        exe,
        http,
        smtp,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(600))
            .build()?,
        tables: Vec::new(),
        http_ceiling: 0.0,
        smtp_ceiling: 0.0,
        pg_databases: Vec::new(),
        results: Results::default(),
    };
    let result = b.run_all().await;
    b.drop_pg_databases().await;
    // The targets come from the other sections; alone, faults has none.
    if ["fanout", "api", "geo", "footprint"]
        .iter()
        .any(|s| b.wants(s))
    {
        let summary = b.summary();
        println!("{summary}");
        b.tables.push(summary);
    }
    if let Some(out) = &args.out {
        let mut text = format!(
            "Machine: {}\n\nCommand: `fenghuo bench {}`\n\n",
            machine(),
            std::env::args().skip(2).collect::<Vec<_>>().join(" ")
        );
        for t in &b.tables {
            text.push_str(&t.to_string());
            text.push('\n');
        }
        std::fs::write(out, text)?;
    }
    if args.keep {
        println!("scratch files kept in {}", tmp.display());
    } else {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

impl Bench {
    fn wants(&self, section: &str) -> bool {
        self.args.only.split(',').any(|s| s.trim() == section)
    }

    fn emit(&mut self, t: Table) {
        println!("{t}");
        self.tables.push(t);
    }

    fn settings(&self) -> DaemonSettings {
        DaemonSettings {
            sms_concurrency: self.args.sms_concurrency,
            email_pool: self.args.email_pool,
            sms_rate: 1_000_000,
        }
    }

    fn sinks(&self) -> SinkAddrs {
        SinkAddrs {
            sms_url: self.http.url.clone(),
            smtp_port: self.smtp.port,
        }
    }

    async fn run_all(&mut self) -> BResult<()> {
        let mut backends = Vec::new();
        for b in self.args.backends.split(',').map(str::trim) {
            match b {
                "sqlite" => backends.push(Backend::Sqlite),
                "postgres" if !self.args.postgres.is_empty() => {
                    if self.pg_reachable().await {
                        backends.push(Backend::Postgres);
                    } else {
                        println!(
                            "PostgreSQL at {} is not reachable: skipped\n",
                            self.args.postgres
                        );
                    }
                }
                _ => {}
            }
        }
        if self.wants("fanout") {
            self.ceilings()?;
            for &b in &backends {
                self.fanout(b).await?;
            }
            if let Some(t) = self.side_by_side() {
                self.emit(t);
            }
        }
        if self.wants("api") || self.wants("geo") || self.wants("footprint") {
            for &b in &backends {
                let (url, db) = self.ledger_db(b).await?;
                if self.wants("geo") {
                    self.geo(b, &db).await?;
                }
                if self.wants("footprint") {
                    self.footprint(b, &url).await?;
                }
                if self.wants("api") {
                    self.api(b, &url, &db).await?;
                }
                db.pool.close().await;
            }
        }
        if self.wants("county") {
            for &b in &backends {
                self.county(b).await?;
            }
        }
        if self.wants("excel") {
            for &b in &backends {
                self.excel(b).await?;
            }
        }
        if self.wants("emergency") {
            self.emergency(&backends).await?;
        }
        if self.wants("faults") {
            self.faults(&backends).await?;
        }
        Ok(())
    }

    async fn pg_reachable(&self) -> bool {
        use sqlx::Connection;
        match sqlx::AnyConnection::connect(&self.args.postgres).await {
            Ok(c) => {
                let _ = c.close().await;
                true
            }
            Err(_) => false,
        }
    }

    /// A new empty database: a SQLite file, or a PostgreSQL database.
    async fn new_database(&mut self, b: Backend, name: &str) -> BResult<String> {
        match b {
            Backend::Sqlite => Ok(format!(
                "sqlite://{}",
                self.dir.join(format!("{name}.db")).display()
            )),
            Backend::Postgres => {
                use sqlx::Connection;
                let db = format!("fh_bench_{}_{name}", std::process::id());
                let mut c = sqlx::AnyConnection::connect(&self.args.postgres).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
                    .execute(&mut c)
                    .await?;
                let _ = c.close().await;
                self.pg_databases.push(db.clone());
                let base = self
                    .args
                    .postgres
                    .rsplit_once('/')
                    .map_or(self.args.postgres.as_str(), |(b, _)| b);
                Ok(format!("{base}/{db}"))
            }
        }
    }

    async fn drop_pg_databases(&mut self) {
        use sqlx::Connection;
        if self.pg_databases.is_empty() {
            return;
        }
        if let Ok(mut c) = sqlx::AnyConnection::connect(&self.args.postgres).await {
            for db in self.pg_databases.drain(..) {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
                )))
                .execute(&mut c)
                .await;
            }
            let _ = c.close().await;
        }
    }

    /// Daemons on one database share its answer-link key: the daemon
    /// `name` (not started yet) gets the one `first` made.
    fn share_answer_key(&self, first: &str, name: &str) -> BResult<()> {
        let data = self.dir.join(format!("{name}-data"));
        std::fs::create_dir_all(&data)?;
        std::fs::copy(
            self.dir.join(format!("{first}-data")).join("answer.key"),
            data.join("answer.key"),
        )?;
        Ok(())
    }

    async fn start_daemon(&self, name: &str, url: &str) -> BResult<Daemon> {
        let port = daemon::free_port()?;
        let cfg =
            daemon::write_config(&self.dir, name, url, port, &self.sinks(), &self.settings())?;
        Daemon::start(&self.exe, &cfg, port).await
    }

    // ---------------------------------------------------------------- sinks

    fn ceilings(&mut self) -> BResult<()> {
        let conc = self.args.sms_concurrency;
        let pool = self.args.email_pool;
        let l0 = load();
        self.http_ceiling = sinks::http_ceiling(&self.dir, &self.http, conc, 3)?;
        let l1 = load();
        // smtp-source's -l is the body size; ours are ~2.5 kB with headers.
        self.smtp_ceiling = sinks::smtp_ceiling(&self.smtp, pool, 20_000, 2500)?;
        let l2 = load();
        let mut t = Table::new(
            "Sink ceilings (minimal clients, same connections as the daemon)",
            &["sink ", "client ", "connections", "messages/s", "load"],
        );
        t.rows.push(vec![
            "HTTP (SMS stand-in, in the harness)".into(),
            "wrk, 3 s".into(),
            conc.to_string(),
            format!("{:.0}", self.http_ceiling),
            format!("{l0}→{l1}"),
        ]);
        t.rows.push(vec![
            "SMTP (postfix smtp-sink)".into(),
            "smtp-source -d, 20,000 × 2.5 kB".into(),
            pool.to_string(),
            format!("{:.0}", self.smtp_ceiling),
            format!("{l1}→{l2}"),
        ]);
        self.emit(t);
        Ok(())
    }

    // --------------------------------------------------------------- fan-out

    async fn fanout(&mut self, b: Backend) -> BResult<()> {
        let sizes: Vec<usize> = self
            .args
            .sizes
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        let url = self.new_database(b, "fanout").await?;
        let db = Db::connect(&url, 2).await?;
        let seeded = Instant::now();
        let groups = seed::fanout(&db, &sizes).await?;
        let (_, token) = fenghuo::auth::create_token(&db, "bench", Role::Admin).await?;
        println!(
            "seeded {} contacts on {} in {:.1} s",
            sizes.iter().max().unwrap_or(&0),
            b.name(),
            seeded.elapsed().as_secs_f64()
        );
        let counts: Vec<usize> = match b {
            Backend::Sqlite => vec![1],
            Backend::Postgres => {
                let mut c: Vec<usize> = self
                    .args
                    .daemons
                    .split(',')
                    .filter_map(|s| s.trim().parse().ok())
                    .filter(|&n| n >= 1)
                    .collect();
                c.sort_unstable();
                c.dedup();
                c
            }
        };
        let mut t = Table::new(
            &format!(
                "Fan-out on {} (API call → every delivery handed to the sink and recorded `sent`{})",
                b.name(),
                match self.args.sink_latency_ms {
                    0 => String::new(),
                    l => format!("; the SMS sink answers after {l} ms"),
                }
            ),
            &[
                "daemons",
                "channel ",
                "contacts",
                "202 after ms",
                "first hand-off ms",
                "last hand-off ms",
                "all `sent` ms",
                "deliveries/s",
                "sink ceiling/s",
                "ratio",
                "duplicates: phones (extra)",
                "peak RSS MB",
                "load",
            ],
        );
        // Daemons are added one by one to the same database: the notice
        // goes to the first, and all of them send.
        let mut daemons: Vec<Daemon> = Vec::new();
        for &k in &counts {
            while daemons.len() < k {
                let name = format!("fanout-{}-{}", b.name(), daemons.len() + 1);
                if !daemons.is_empty() {
                    self.share_answer_key(&format!("fanout-{}-1", b.name()), &name)?;
                }
                daemons.push(self.start_daemon(&name, &url).await?);
            }
            let channels: Vec<&'static str> = if k == 1 {
                vec!["sms", "email"]
            } else {
                ["sms", "email"]
                    .into_iter()
                    .filter(|c| self.args.multi_channels.split(',').any(|m| m.trim() == *c))
                    .collect()
            };
            for channel in channels {
                for (n, villages) in &groups {
                    let (arrivals, ceiling) = match channel {
                        "sms" => (self.http.arrivals.clone(), self.http_ceiling),
                        _ => (self.smtp.arrivals.clone(), self.smtp_ceiling),
                    };
                    let r = fanout_once(
                        &self.client,
                        &daemons,
                        &db,
                        &token,
                        channel,
                        villages,
                        &arrivals,
                    )
                    .await?;
                    let r = FanoutResult {
                        backend: b,
                        n: *n,
                        ..r
                    };
                    let row = vec![
                        k.to_string(),
                        channel.to_string(),
                        n.to_string(),
                        ms(r.accepted),
                        r.first.map_or("-".into(), ms),
                        r.last.map_or("-".into(), ms),
                        ms(r.durable),
                        format!("{:.0}", r.rate()),
                        format!("{ceiling:.0}"),
                        format!("{:.0}%", 100.0 * r.rate() / ceiling.max(1.0)),
                        r.duplicates
                            .map_or("-".into(), |(p, x)| format!("{p} ({x})")),
                        mb(r.peak_rss),
                        load(),
                    ];
                    println!("  {}", row.join(" | "));
                    t.rows.push(row);
                    self.results.fanout.push(r);
                }
            }
        }
        for d in daemons {
            d.stop();
        }
        db.pool.close().await;
        self.emit(t);
        Ok(())
    }

    /// SMS deliveries/s side by side: SQLite, and PostgreSQL with each
    /// number of daemons, per size.
    fn side_by_side(&self) -> Option<Table> {
        let f = &self.results.fanout;
        let mut cols: Vec<(Backend, usize)> = f
            .iter()
            .filter(|r| r.channel == "sms")
            .map(|r| (r.backend, r.daemons))
            .collect();
        cols.dedup();
        cols.sort_by_key(|c| (c.0 == Backend::Postgres, c.1));
        cols.dedup();
        if !cols.iter().any(|c| c.0 == Backend::Postgres) {
            return None;
        }
        let mut head: Vec<&'static str> = vec!["contacts"];
        for c in &cols {
            head.push(match c {
                (Backend::Sqlite, _) => "SQLite/s",
                (Backend::Postgres, 1) => "PostgreSQL, 1 daemon/s",
                (Backend::Postgres, 2) => "PostgreSQL, 2 daemons/s",
                _ => "PostgreSQL, more daemons/s",
            });
        }
        let two = cols.contains(&(Backend::Postgres, 1)) && cols.contains(&(Backend::Postgres, 2));
        if two {
            head.push("2 daemons ÷ 1");
            head.push("duplicates, 2 daemons: phones");
        }
        let mut t = Table::new(
            "SMS fan-out side by side (deliveries/s, API call → all `sent`)",
            &head,
        );
        let mut sizes: Vec<usize> = f.iter().map(|r| r.n).collect();
        sizes.sort_unstable();
        sizes.dedup();
        let get = |b: Backend, k: usize, n: usize| {
            f.iter()
                .find(|r| r.channel == "sms" && r.backend == b && r.daemons == k && r.n == n)
        };
        for n in sizes {
            let mut row = vec![n.to_string()];
            for &(b, k) in &cols {
                row.push(get(b, k, n).map_or("-".into(), |r| format!("{:.0}", r.rate())));
            }
            if two {
                let (one, two) = (get(Backend::Postgres, 1, n), get(Backend::Postgres, 2, n));
                row.push(match (one, two) {
                    (Some(a), Some(b)) => format!("{:.2}×", b.rate() / a.rate()),
                    _ => "-".into(),
                });
                row.push(
                    two.and_then(|r| r.duplicates)
                        .map_or("-".into(), |(p, _)| p.to_string()),
                );
            }
            t.rows.push(row);
        }
        Some(t)
    }

    // ------------------------------------------------------------ ledger data

    async fn ledger_db(&mut self, b: Backend) -> BResult<(String, Db)> {
        let url = self.new_database(b, "ledger").await?;
        let db = Db::connect(&url, 4).await?;
        let seeded = Instant::now();
        seed::ledger(&db, self.args.contacts, self.args.sites).await?;
        println!(
            "seeded {} sites and {} contacts on {} in {:.1} s\n",
            self.args.sites,
            self.args.contacts,
            b.name(),
            seeded.elapsed().as_secs_f64()
        );
        Ok((url, db))
    }

    // ------------------------------------------------------------------ geo

    async fn geo(&mut self, b: Backend, db: &Db) -> BResult<()> {
        use fenghuo::notify::intake::alerts::{Targets, resolve};
        let polygon = json!({"type": "Polygon", "coordinates": [[[118.02, 25.02], [118.12, 25.03], [118.13, 25.10], [118.07, 25.13], [118.01, 25.09], [118.02, 25.02]]]});
        let circle = json!({"circle": {"lon": 118.1, "lat": 25.1, "radius_m": 3000.0}});
        let mut t = Table::new(
            &format!(
                "Geo targeting on {} ({} sites, {} contacts; `alerts::resolve`, 10 runs after 1 warm-up)",
                b.name(),
                self.args.sites,
                self.args.contacts
            ),
            &[
                "target ",
                "recipients",
                "of them site safety officers",
                "median ms",
                "max ms",
                "box fetched row by row (sqlx), ms",
                "load",
            ],
        );
        for (name, area) in [
            ("polygon (5 corners)", Some(polygon)),
            ("circle r = 3 km", Some(circle)),
            ("all villages, no area", None),
        ] {
            // What bounds the area rows: fetching the sites in the area's
            // bounding box through sqlx, timed alone.
            let fetch = match &area {
                Some(a) => Some(bbox_fetch(db, a).await?),
                None => None,
            };
            let targets = Targets {
                villages: area.is_none().then(|| json!("all")),
                area,
                ..Default::default()
            };
            let mut times = Vec::new();
            let mut count = (0, 0);
            for i in 0..11 {
                let t0 = Instant::now();
                let r = resolve(db, &targets, &fenghuo::geometry::GeoLimits::STORED).await?;
                let took = t0.elapsed();
                if i > 0 {
                    times.push(took);
                }
                count = (
                    r.recipients.len(),
                    r.recipients
                        .iter()
                        .filter(|r| r.contact_id.is_none())
                        .count(),
                );
            }
            times.sort();
            let median = times[times.len() / 2];
            t.rows.push(vec![
                name.into(),
                count.0.to_string(),
                count.1.to_string(),
                ms(median),
                ms(*times.last().unwrap_or(&Duration::ZERO)),
                fetch.map_or("-".into(), |(d, rows)| format!("{} ({rows} rows)", ms(d))),
                load(),
            ]);
            self.results.geo.push((b, name, median));
        }
        self.emit(t);
        Ok(())
    }

    // ------------------------------------------------------------ footprint

    async fn footprint(&mut self, b: Backend, url: &str) -> BResult<()> {
        let mut readies = Vec::new();
        let mut idle = (0, 0);
        let mut split = (0, 0);
        for i in 0..5 {
            let d = self
                .start_daemon(&format!("footprint-{}", b.name()), url)
                .await?;
            readies.push(d.ready_after);
            if i == 4 {
                // A few ordinary requests, then let it settle.
                let (_, token) = {
                    let db = Db::connect(url, 1).await?;
                    let t = fenghuo::auth::create_token(&db, "footprint", Role::Viewer).await?;
                    db.pool.close().await;
                    t
                };
                for k in 1..=100 {
                    let _ = self
                        .client
                        .get(format!("{}/api/v1/sites/{k}", d.base))
                        .bearer_auth(&token)
                        .send()
                        .await?
                        .bytes()
                        .await?;
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
                idle = d.rss();
                split = d.rss_split();
            }
            d.stop();
        }
        readies.sort();
        let fan10k = self
            .results
            .fanout
            .iter()
            .find(|r| r.backend == b && r.channel == "sms" && r.n == 10_000)
            .map(|r| r.peak_rss);
        let mut t = Table::new(
            &format!(
                "Footprint on {} ({} sites, {} contacts)",
                b.name(),
                self.args.sites,
                self.args.contacts
            ),
            &["measure ", "value", "load"],
        );
        let l = load();
        t.rows.push(vec![
            "idle RSS after start + 100 reads, MB (own + mapped files)".into(),
            format!("{} ({} + {})", mb(idle.0), mb(split.0), mb(split.1)),
            l.clone(),
        ]);
        t.rows.push(vec![
            "peak RSS during a 10k SMS fan-out, MB".into(),
            fan10k.map_or("-".into(), mb),
            "see fan-out".into(),
        ]);
        t.rows.push(vec![
            "start-up to ready `/readyz`, ms (median of 5; max)".into(),
            format!("{} ({})", ms(readies[2]), ms(readies[4])),
            l,
        ]);
        self.results.idle_rss.get_or_insert((b, idle.0));
        self.results.ready.get_or_insert((b, readies[2]));
        self.emit(t);
        Ok(())
    }

    // ------------------------------------------------------------------ api

    async fn api(&mut self, b: Backend, url: &str, db: &Db) -> BResult<()> {
        let d = self.start_daemon(&format!("api-{}", b.name()), url).await?;
        let (_, token) = fenghuo::auth::create_token(db, "bench-api", Role::Admin).await?;
        let read = self.dir.join("read.lua");
        std::fs::write(
            &read,
            format!(
                "wrk.headers[\"Authorization\"] = \"Bearer {token}\"\n\
                 request = function()\n  return wrk.format(\"GET\", \"/api/v1/sites/\" .. math.random(1, {n}))\nend\n",
                n = self.args.sites
            ),
        )?;
        let write = self.dir.join("write.lua");
        std::fs::write(
            &write,
            format!(
                "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n\
                 wrk.headers[\"Authorization\"] = \"Bearer {token}\"\ncounter = 0\n\
                 request = function()\n  counter = counter + 1\n\
                 local body = string.format('{{\"name\":\"压测新站点%d\",\"kind\":\"fireworks_retail\",\"risk_grade\":\"low\",\
                 \"safety_officer\":\"张三\",\"safety_officer_phone\":\"+8613600000000\",\
                 \"location\":{{\"lon\":%.6f,\"lat\":%.6f}}}}', counter, 118.0 + math.random() * 0.2, 25.0 + math.random() * 0.2)\n\
                 return wrk.format(nil, \"/api/v1/sites\", nil, body)\nend\n"
            ),
        )?;
        // Check both scripts' requests once, so a refused request shows here.
        let probe = self
            .client
            .post(format!("{}/api/v1/sites", d.base))
            .bearer_auth(&token)
            .json(&json!({"name": "探针", "kind": "fireworks_retail", "risk_grade": "low", "location": {"lon": 118.05, "lat": 25.05}}))
            .send()
            .await?;
        if !probe.status().is_success() {
            return Err(format!("site write refused: {}", probe.text().await?).into());
        }
        let all: Vec<i64> =
            sqlx::query_as::<_, (i64,)>("SELECT id FROM villages WHERE code LIKE 'V%'")
                .fetch_all(&db.pool)
                .await?
                .into_iter()
                .map(|r| r.0)
                .collect();
        let mut t = Table::new(
            &format!(
                "API on {} ({} sites; wrk, 2 threads, {} s per row)",
                b.name(),
                self.args.sites,
                self.args.duration
            ),
            &[
                "request ",
                "connections",
                "during ",
                "requests/s",
                "p50 ms",
                "p99 ms",
                "errors",
                "writer jobs",
                "writer queue p99 ms",
                "gate wait p99 ms",
                "load",
            ],
        );
        // The batched writer's own account of its waits (SQLite): jobs
        // queued until their transaction began, and its waits for the gate
        // it shares with the sqlx writes.
        const QUEUE: &str = "fenghuo_db_batch_queue_seconds";
        const GATE: &str = "fenghuo_db_batch_gate_wait_seconds";
        for during in [false, true] {
            for (what, script) in [("GET /sites/{id}", &read), ("POST /sites", &write)] {
                for conns in [8usize, 64] {
                    let stop = Arc::new(AtomicBool::new(false));
                    let sent = Arc::new(AtomicU64::new(0));
                    let bg = during.then(|| {
                        let (client, base, token, db, villages, stop, sent, arr) = (
                            self.client.clone(),
                            d.base.clone(),
                            token.clone(),
                            db.clone(),
                            all.clone(),
                            stop.clone(),
                            sent.clone(),
                            self.http.arrivals.clone(),
                        );
                        tokio::spawn(async move {
                            while !stop.load(Ordering::Relaxed) {
                                match fanout_raw(
                                    &client, &base, &token, &db, "sms", &villages, &arr,
                                )
                                .await
                                {
                                    Ok(n) => {
                                        sent.fetch_add(n as u64, Ordering::Relaxed);
                                    }
                                    Err(e) => {
                                        eprintln!("background fan-out failed: {e}");
                                        break;
                                    }
                                }
                            }
                        })
                    });
                    if during {
                        // Let the first fan-out get going.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    let (queue0, gate0) = (
                        scrape::buckets(&self.client, &d.base, &token, QUEUE).await?,
                        scrape::buckets(&self.client, &d.base, &token, GATE).await?,
                    );
                    let (script, base, secs) = (script.clone(), d.base.clone(), self.args.duration);
                    let started = Instant::now();
                    let r = tokio::task::spawn_blocking(move || {
                        wrk::run(&script, &base, 2, conns, secs)
                    })
                    .await??;
                    let wall = started.elapsed();
                    stop.store(true, Ordering::Relaxed);
                    if let Some(h) = bg {
                        let _ = h.await;
                    }
                    let (jobs, queue_p99) = scrape::p99_between(
                        &queue0,
                        &scrape::buckets(&self.client, &d.base, &token, QUEUE).await?,
                    );
                    let (_, gate_p99) = scrape::p99_between(
                        &gate0,
                        &scrape::buckets(&self.client, &d.base, &token, GATE).await?,
                    );
                    let during_text = if during {
                        format!(
                            "10k fan-outs ({:.0} deliveries/s)",
                            sent.load(Ordering::Relaxed) as f64 / wall.as_secs_f64()
                        )
                    } else {
                        "quiet".into()
                    };
                    let row = vec![
                        what.to_string(),
                        conns.to_string(),
                        during_text,
                        format!("{:.0}", r.rps),
                        format!("{:.2}", r.p50_ms),
                        format!("{:.2}", r.p99_ms),
                        r.errors.to_string(),
                        jobs.to_string(),
                        queue_p99,
                        gate_p99,
                        load(),
                    ];
                    println!("  {}", row.join(" | "));
                    t.rows.push(row);
                    self.results.api.push((
                        b,
                        if what.starts_with("GET") {
                            "read"
                        } else {
                            "write"
                        },
                        conns,
                        during,
                        r,
                    ));
                }
            }
        }
        d.stop();
        self.emit(t);
        self.writer_bound(b, db).await
    }

    /// What bounds API writes: the same write as `POST /sites` (insert and
    /// audit entry in one transaction) run by the library one after the
    /// other, and a minimal write transaction, each for two seconds. With
    /// one writer, N connections wait on average N ÷ rate.
    async fn writer_bound(&mut self, b: Backend, db: &Db) -> BResult<()> {
        let actor = fenghuo::auth::Actor::system();
        let secs = Duration::from_secs(2);
        let mut t = Table::new(
            &format!(
                "What bounds API writes on {} (one writer, no HTTP, 2 s each)",
                b.name()
            ),
            &[
                "write ",
                "transactions/s",
                "µs each",
                "mean wait at 64 connections, ms",
                "load",
            ],
        );
        let mut rate = |what: &str, n: u64, took: Duration| {
            let per_s = n as f64 / took.as_secs_f64();
            t.rows.push(vec![
                what.into(),
                format!("{per_s:.0}"),
                format!("{:.0}", 1e6 / per_s),
                format!("{:.1}", 64_000.0 / per_s),
                load(),
            ]);
        };
        let (started, mut n) = (Instant::now(), 0u64);
        while started.elapsed() < secs {
            let input: fenghuo::ledger::sites::SiteInput = serde_json::from_value(json!({
                "name": format!("写入上限{n}"), "kind": "fireworks_retail", "risk_grade": "low",
                "safety_officer": "张三", "safety_officer_phone": "+8613600000000",
                "location": {"lon": 118.0 + (n % 200) as f64 * 0.001, "lat": 25.05}}))?;
            fenghuo::ledger::sites::create(db, &actor, input, false, chrono_tz::Asia::Shanghai)
                .await
                .map_err(|e| format!("site create: {e:?}"))?;
            n += 1;
        }
        rate(
            "site create as `POST /sites` does it (village lookup, insert, audit)",
            n,
            started.elapsed(),
        );
        let (started, mut n) = (Instant::now(), 0u64);
        while started.elapsed() < secs {
            let mut tx = db.begin().await?;
            sqlx::query(
                "INSERT INTO meta (key, value) VALUES ('bench', $1) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(n.to_string())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            n += 1;
        }
        rate(
            "minimal: BEGIN, one-row upsert, COMMIT",
            n,
            started.elapsed(),
        );
        self.emit(t);
        Ok(())
    }

    // -------------------------------------------------------------- summary

    fn summary(&self) -> Table {
        let mut t = Table::new(
            "Targets (SQLite unless noted)",
            &["target ", "measured ", "met "],
        );
        let r = &self.results;
        let fan = |ch: &str, n: usize| {
            r.fanout
                .iter()
                .find(|f| f.backend == Backend::Sqlite && f.channel == ch && f.n == n)
        };
        let mut row = |what: &str, got: Option<String>, ok: Option<bool>| {
            t.rows.push(vec![
                what.into(),
                got.unwrap_or_else(|| "not measured".into()),
                match ok {
                    Some(true) => "yes".into(),
                    Some(false) => "**no**".into(),
                    None => "-".into(),
                },
            ]);
        };
        let f10 = fan("sms", 10_000);
        row(
            "10k-contact SMS alert handed off and `sent` in < 1 s",
            f10.map(|f| format!("{} ms", ms(f.durable))),
            f10.map(|f| f.durable < Duration::from_secs(1)),
        );
        row(
            "first hand-off ≤ 20 ms after the API call (10k)",
            f10.and_then(|f| f.first).map(|d| format!("{} ms", ms(d))),
            f10.and_then(|f| f.first)
                .map(|d| d <= Duration::from_millis(20)),
        );
        let best = |ch: &str| {
            r.fanout
                .iter()
                .filter(|f| f.backend == Backend::Sqlite && f.channel == ch)
                .max_by_key(|f| f.n)
        };
        for (ch, floor, ceil, label) in [
            (
                "sms",
                10_000.0,
                self.http_ceiling,
                "HTTP ≥ 10,000/s or ≥ 80% of the sink",
            ),
            (
                "email",
                5_000.0,
                self.smtp_ceiling,
                "SMTP ≥ 5,000/s or ≥ 80% of the sink",
            ),
        ] {
            let f = best(ch);
            row(
                label,
                f.map(|f| {
                    format!(
                        "{:.0}/s at {}k = {:.0}% of {:.0}/s",
                        f.rate(),
                        f.n / 1000,
                        100.0 * f.rate() / ceil.max(1.0),
                        ceil
                    )
                }),
                f.map(|f| f.rate() >= floor || f.rate() >= 0.8 * ceil),
            );
        }
        let pg = |k: usize| {
            r.fanout
                .iter()
                .filter(|f| f.backend == Backend::Postgres && f.channel == "sms" && f.daemons == k)
                .max_by_key(|f| f.n)
        };
        let (pg1, pg2) = (pg(1), pg(2));
        row(
            "PostgreSQL, one daemon: SMS ≥ 10,000/s at 100k",
            pg1.map(|f| format!("{:.0}/s at {}k", f.rate(), f.n / 1000)),
            pg1.filter(|f| f.n >= 100_000).map(|f| f.rate() >= 10_000.0),
        );
        let both = pg1.zip(pg2).filter(|(a, b)| a.n == b.n);
        row(
            "PostgreSQL, two daemons ≥ 1.5× one (SMS, largest size)",
            both.map(|(a, b)| {
                format!(
                    "{:.0}/s vs {:.0}/s at {}k = {:.2}×",
                    b.rate(),
                    a.rate(),
                    a.n / 1000,
                    b.rate() / a.rate()
                )
            }),
            both.map(|(a, b)| b.rate() >= 1.5 * a.rate()),
        );
        let f100 = r
            .fanout
            .iter()
            .filter(|f| f.backend == Backend::Sqlite && f.n >= 100_000)
            .max_by_key(|f| f.peak_rss);
        row(
            "100k contacts: peak RSS < 100 MB",
            f100.map(|f| format!("{} MB ({})", mb(f.peak_rss), f.channel)),
            f100.map(|f| f.peak_rss < 100 << 20),
        );
        row(
            "RSS during a 10k fan-out < 50 MB",
            f10.map(|f| format!("{} MB", mb(f.peak_rss))),
            f10.map(|f| f.peak_rss < 50 << 20),
        );
        for (what, conns, limit) in [("read", 64, 5.0), ("write", 64, 10.0)] {
            let a = r
                .api
                .iter()
                .find(|a| a.0 == Backend::Sqlite && a.1 == what && a.2 == conns && !a.3);
            row(
                &format!("API {what}s p99 < {limit} ms at 64 connections (quiet)"),
                a.map(|a| format!("{:.2} ms", a.4.p99_ms)),
                a.map(|a| a.4.p99_ms < limit),
            );
        }
        let g = r
            .geo
            .iter()
            .find(|g| g.0 == Backend::Sqlite && g.1.starts_with("polygon"));
        row(
            "polygon targeting over 100k sites < 50 ms",
            g.map(|g| format!("{} ms", ms(g.2))),
            g.map(|g| g.2 < Duration::from_millis(50)),
        );
        row(
            "idle RSS < 15 MB",
            r.idle_rss.map(|i| format!("{} MB", mb(i.1))),
            r.idle_rss.map(|i| i.1 < 15 << 20),
        );
        row(
            "ready in < 100 ms on 100k sites",
            r.ready.map(|i| format!("{} ms", ms(i.1))),
            r.ready.map(|i| i.1 < Duration::from_millis(100)),
        );
        t
    }
}

type OfficerRow = (String, f64, f64, Option<i64>, Option<String>, String);

/// Median of 5 fetches of the sites in an area's bounding box (the
/// columns `alerts::resolve` reads), and how many rows that is.
async fn bbox_fetch(db: &Db, area: &Value) -> BResult<(Duration, usize)> {
    let [west, south, east, north] = match area.get("circle") {
        Some(c) => {
            let f = |k: &str| c[k].as_f64().unwrap_or(0.0);
            fenghuo::geometry::Circle::new(f("lon"), f("lat"), f("radius_m")).bounds()
        }
        None => {
            let r =
                fenghuo::geometry::parse_area("area", area, &fenghuo::geometry::GeoLimits::STORED)
                    .map_err(|e| e.message)?;
            [r.min_lon, r.min_lat, r.max_lon, r.max_lat]
        }
    };
    let mut times = Vec::new();
    let mut n = 0;
    for _ in 0..5 {
        let t0 = Instant::now();
        let rows: Vec<OfficerRow> = sqlx::query_as(
            "SELECT name, lon, lat, village_id, safety_officer, safety_officer_phone FROM sites \
             WHERE archived_at IS NULL AND status = 'active' AND safety_officer_phone IS NOT NULL \
             AND lon BETWEEN $1 AND $2 AND lat BETWEEN $3 AND $4 ORDER BY id",
        )
        .bind(west)
        .bind(east)
        .bind(south)
        .bind(north)
        .fetch_all(&db.pool)
        .await?;
        times.push(t0.elapsed());
        n = rows.len();
    }
    times.sort();
    Ok((times[2], n))
}

/// Sends one alert and waits until every delivery is `sent` or `failed`;
/// returns how many deliveries it had.
async fn fanout_raw(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    db: &Db,
    channel: &str,
    villages: &[i64],
    _arrivals: &Arrivals,
) -> BResult<usize> {
    let id_and_n = post_alert(client, base, token, channel, villages).await?;
    wait_done(db, id_and_n.0, None).await?;
    Ok(id_and_n.1)
}

async fn post_alert(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    channel: &str,
    villages: &[i64],
) -> BResult<(i64, usize)> {
    let resp = client
        .post(format!("{base}/api/v1/alerts"))
        .bearer_auth(token)
        .json(&json!({
            "title": "防汛预警",
            "body": "{name}：{village}今晚可能发生山洪，请于 20:00 前转移到避灾点。",
            "level": 2,
            "channels": [channel],
            "targets": {"villages": villages},
        }))
        .send()
        .await?;
    let status = resp.status();
    let v: Value = resp.json().await?;
    if status != reqwest::StatusCode::ACCEPTED {
        return Err(format!("alert refused: {status} {v}").into());
    }
    let id = v["id"].as_i64().ok_or("no alert id")?;
    let n = v["deliveries"].as_i64().ok_or("no delivery count")? as usize;
    Ok((id, n))
}

/// Waits until no delivery of the alert is queued or sending. The
/// database is asked every 5 ms once the sink has seen `expect` messages
/// (every 250 ms before: a count over a notice's deliveries at 200/s was
/// a load of its own on the database being measured, on PostgreSQL tens of
/// milliseconds of a core each).
async fn wait_done(db: &Db, alert: i64, expect: Option<(&Arrivals, usize)>) -> BResult<()> {
    let until = Instant::now() + Duration::from_secs(900);
    let mut asked = Instant::now();
    loop {
        let arrived = expect.is_none_or(|(a, n)| a.count() as usize >= n);
        if arrived || asked.elapsed() >= Duration::from_millis(250) {
            asked = Instant::now();
            let (left,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM deliveries WHERE alert_id = $1 AND state IN ('queued', 'sending')",
            )
            .bind(alert)
            .fetch_one(&db.pool)
            .await?;
            if left == 0 {
                return Ok(());
            }
            if Instant::now() > until {
                return Err(format!("alert {alert}: {left} deliveries still pending").into());
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// One notice to `villages` over `channel`, accepted by the first daemon
/// and sent by all of them.
async fn fanout_once(
    client: &reqwest::Client,
    daemons: &[Daemon],
    db: &Db,
    token: &str,
    channel: &'static str,
    villages: &[i64],
    arrivals: &Arrivals,
) -> BResult<FanoutResult> {
    let first = daemons.first().ok_or("no daemon")?;
    arrivals.reset();
    for d in daemons {
        d.reset_peak();
    }
    let t0 = Instant::now();
    let (id, n) = post_alert(client, &first.base, token, channel, villages).await?;
    let accepted = t0.elapsed();
    wait_done(db, id, Some((arrivals, n))).await?;
    let durable = t0.elapsed();
    let peak = daemons.iter().map(|d| d.rss().1).sum();
    // The sink's reader may lag its socket by a moment.
    let until = Instant::now() + Duration::from_secs(5);
    while (arrivals.count() as usize) < n && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let states: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, COUNT(*) FROM deliveries WHERE alert_id = $1 GROUP BY state")
            .bind(id)
            .fetch_all(&db.pool)
            .await?;
    let sent = states.iter().find(|s| s.0 == "sent").map_or(0, |s| s.1);
    if sent as usize != n {
        eprintln!("warning: alert {id} ({channel}, {n}): states {states:?}");
    }
    let (first, last) = arrivals.first_last();
    Ok(FanoutResult {
        backend: Backend::Sqlite,
        daemons: daemons.len(),
        channel,
        n,
        accepted,
        first: first.map(|f| f.saturating_duration_since(t0)),
        last: last.map(|l| l.saturating_duration_since(t0)),
        durable,
        peak_rss: peak,
        duplicates: (channel == "sms").then(|| arrivals.duplicates()),
    })
}
