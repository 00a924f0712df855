//! Daemon configuration: embedded defaults, then an optional TOML file, then
//! the `FENGHUO_*` environment variables. `deploy/fenghuo.example.toml`
//! documents every setting.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("invalid setting {name}: {message}")]
    Invalid { name: String, message: String },
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Directory for the SQLite database and the spool outbox.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; empty means `<data_dir>/fenghuo.db`.
    pub database_url: String,
    /// Directory holding the plan files.
    pub plans_dir: PathBuf,
    /// Use the sample plans built into the binary while `plans_dir` does not
    /// exist: set by `serve --demo`, never read from the file.
    #[serde(skip)]
    pub sample_plans: bool,
    /// Zone used to show and schedule times.
    pub timezone: String,
    /// Base URL that recipients use for answer links.
    pub public_base_url: String,
    /// Name of the office, shown in notices and the CAP sender name.
    pub office_name: String,
    /// Largest number of database connections.
    pub max_db_connections: u32,
    /// Dashboard map tiles, e.g. `http://tiles.lan/{z}/{x}/{y}.png`; empty
    /// draws boundaries and sites on a plain background (works offline).
    pub map_tile_url: String,
    /// Addresses of reverse proxies (e.g. nginx terminating TLS) whose
    /// `X-Forwarded-For` is believed. Without it every dashboard request
    /// behind a proxy comes from the proxy, and sign-in lock-out by address
    /// would hold back the whole office for one person's wrong passwords.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// File holding the key answer links are derived with (created on first
    /// start, mode 0600); empty means `<data_dir>/answer.key`. Daemons sharing
    /// one PostgreSQL must share this file. The database stores only hashes
    /// of the links, so a copy of it cannot answer for anyone.
    pub answer_key_file: PathBuf,
    /// The key read from `answer_key_file` at start (never from TOML).
    #[serde(skip)]
    pub answer_key: crate::notify::response::answers::AnswerKey,
    pub sms: SmsConfig,
    /// Phone calls (叫应 by voice): `notify::delivery::voice::settings`.
    pub voice: crate::notify::delivery::voice::VoiceConfig,
    pub email: EmailConfig,
    pub delivery: DeliveryConfig,
    pub escalation: EscalationConfig,
    pub drills: DrillsConfig,
    pub limits: LimitsConfig,
    pub signin: SigninConfig,
    pub incidents: IncidentsConfig,
    pub daily_reports: DailyReportsConfig,
    pub supervision: SupervisionConfig,
    pub robots: RobotsConfig,
    pub canary: CanaryConfig,
    pub enforcement: EnforcementConfig,
    /// The township's 12-digit administrative division code (统计用区划代码),
    /// e.g. "350524208000": CAP identifiers and the sender code are built
    /// from it (GB/T 35965.1). The default is a sample.
    pub area_code: String,
    /// The township's name (e.g. "湖上乡"), as the county lists its townships.
    pub township_name: String,
    /// The issuing body's 3-digit organisation code (GB/T 35965.1's DDD,
    /// after GB/T 4657), part of the CAP sender code.
    pub cap_unit_code: String,
    pub log: LogConfig,
    pub metrics: MetricsConfig,
}

/// Enforcement (执法): inspections and the 双随机 draws.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnforcementConfig {
    /// Certified inspectors an inspection must name (at least 1).
    pub min_inspectors: usize,
}

impl Default for EnforcementConfig {
    fn default() -> Self {
        EnforcementConfig { min_inspectors: 2 }
    }
}

/// Activations (incidents).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct IncidentsConfig {
    /// Response levels (1 = Ⅰ … 4 = Ⅳ) whose real (not exercise) activation,
    /// opened or raised to by someone, waits for a second person with the
    /// leader permission to confirm it. Empty: nobody waits.
    pub two_person_levels: Vec<u8>,
}

impl Default for IncidentsConfig {
    fn default() -> Self {
        IncidentsConfig {
            two_person_levels: vec![1, 2],
        }
    }
}

/// The flood season's daily village reports (值班报告 / 零报告), whose
/// times and season each plan's `[daily_report]` sets.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DailyReportsConfig {
    /// Seconds between checks of the plans' daily report times; 0 switches
    /// the daemon's own checks off (a test drives them with its own clock).
    pub check_secs: f64,
}

impl Default for DailyReportsConfig {
    fn default() -> Self {
        DailyReportsConfig { check_secs: 30.0 }
    }
}

/// 挂牌督办: the weekly reminder to the person responsible for a major
/// hidden danger under supervision, until it is closed out.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SupervisionConfig {
    /// Seconds between checks; 0 switches the daemon's own checks off (a
    /// test drives them with its own clock).
    pub check_secs: f64,
    /// The local hour (0–23) from which a week's reminder goes out: the
    /// first check of the week at or after it sends it.
    pub remind_hour: u32,
}

impl Default for SupervisionConfig {
    fn default() -> Self {
        SupervisionConfig {
            check_secs: 300.0,
            remind_hour: 9,
        }
    }
}

/// Work-group robots (WeCom / DingTalk / Feishu): each robot's webhook and
/// secret are registered on the dashboard (工作群机器人) or through the API;
/// these settings are how the daemon posts to them.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RobotsConfig {
    /// Seconds between the daemon's rounds (send what is due, look for
    /// changed answer counts); 0 switches them off (a test drives them).
    pub check_secs: f64,
    /// Least seconds between two answer-count posts about one notice to one
    /// robot (the final 全部叫应 is posted at once).
    pub update_secs: f64,
    /// Seconds one post may take.
    pub timeout_secs: u64,
    /// Minutes a post that failed for a passing reason (HTTP 5xx, a timeout,
    /// "too fast") is tried again before it is marked failed.
    pub retry_for_mins: f64,
    /// Hosts a webhook address may name besides the providers' own
    /// (qyapi.weixin.qq.com, oapi.dingtalk.com, open.feishu.cn,
    /// open.larksuite.com), plain http allowed: a relay, or a test's loopback.
    pub extra_hosts: Vec<String>,
}

impl Default for RobotsConfig {
    fn default() -> Self {
        RobotsConfig {
            check_secs: 2.0,
            update_secs: 300.0,
            timeout_secs: 10,
            retry_for_mins: 60.0,
            extra_hosts: Vec::new(),
        }
    }
}

/// The daily self-check of each SMS path (通道自检): a short test text over
/// every configured path to the duty phone, its delivery receipt awaited.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CanaryConfig {
    /// Local time of the day's test message ("HH:MM").
    pub at: String,
    /// The phone it goes to; empty: the home township's 应急办值班 contact's.
    pub to: String,
    /// Minutes a delivered receipt may take; without one by then the check failed.
    pub receipt_minutes: i64,
    /// Seconds between checks; 0 switches the self-checks off (a test drives
    /// them with its own clock).
    pub check_secs: f64,
}

impl Default for CanaryConfig {
    fn default() -> Self {
        CanaryConfig {
            at: "09:00".into(),
            to: String::new(),
            receipt_minutes: 15,
            check_secs: 60.0,
        }
    }
}

/// The daemon's log (standard error; journald under systemd).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// "text" (one line per event; coloured only on a terminal) or "json"
    /// (one JSON object per line, for journald or Loki, with the request's
    /// id, route and actor on every line of a request). The level is set by
    /// the `FENGHUO_LOG` variable (default `info,sqlx=warn`).
    pub format: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: "text".into(),
        }
    }
}

/// Prometheus metrics: always at `/metrics` on the main listener for an
/// admin token; also without a token on `listen`, when set.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// e.g. "127.0.0.1:9464"; unset: no listener of its own. Keep it on
    /// loopback or a private network: it answers anyone who reaches it.
    pub listen: Option<SocketAddr>,
}

/// Input limits: what one request may ask of the daemon.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Longest search text (`q`), in characters.
    pub search_chars: usize,
    /// Most corners in one ring of a polygon (a village boundary, a search or target area).
    pub polygon_vertices: usize,
    /// Most rings in one polygon (outer ring and holes), and most polygons in a multipolygon.
    pub polygon_rings: usize,
    /// Every coordinate must lie inside this box: [west, south, east, north] in degrees
    /// (WGS-84). The default covers China; a county may narrow it to its own area.
    pub region: [f64; 4],
    /// Largest photo (of an inspection or a rectification) accepted, in
    /// bytes; a phone camera's picture is 2–6 MB.
    pub photo_bytes: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            search_chars: 200,
            polygon_vertices: 10_000,
            polygon_rings: 100,
            region: [73.0, 3.0, 136.0, 54.0],
            photo_bytes: 10 * 1024 * 1024,
        }
    }
}

impl LimitsConfig {
    /// The area limits for requests.
    pub fn geo(&self) -> crate::geometry::GeoLimits {
        crate::geometry::GeoLimits {
            vertices: self.polygon_vertices,
            rings: self.polygon_rings,
            region: self.region,
        }
    }
}

/// Dashboard sign-in.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SigninConfig {
    /// Password checks running at once (each takes ~19 MiB and a core for a
    /// moment); 0 means one per core. More wait briefly, then get 429.
    pub concurrency: usize,
    /// Wrong passwords for one name from one address before it must wait
    /// (30 s, doubling per further failure, at most 15 minutes).
    pub per_user_address: i64,
    /// Wrong passwords from one address (any names) before it must wait.
    pub per_address: i64,
    /// Wrong passwords for one name from anywhere before each further try
    /// for that name is slowed (a few seconds; never refused, so the rightful
    /// user can still sign in from their own address).
    pub per_user: i64,
}

impl Default for SigninConfig {
    fn default() -> Self {
        SigninConfig {
            concurrency: 0,
            per_user_address: 5,
            per_address: 20,
            per_user: 10,
        }
    }
}

/// Drill reminders.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DrillsConfig {
    /// Non-urgent reminders are not sent between these local times ("HH:MM");
    /// they go out when the quiet hours end. Equal values switch quiet hours off.
    pub quiet_start: String,
    pub quiet_end: String,
    /// Seconds between reminder checks.
    pub check_secs: f64,
    /// How far back (days) a restarted daemon looks for reminders it owes.
    pub catch_up_days: i64,
    /// Shortest time between two occurrences of a drill schedule, in hours:
    /// a schedule that would remind whole villages every minute is refused.
    pub min_interval_hours: i64,
    /// Shortest reminder lead time, in minutes.
    pub min_lead_minutes: i64,
}

impl Default for DrillsConfig {
    fn default() -> Self {
        DrillsConfig {
            quiet_start: "22:00".into(),
            quiet_end: "07:00".into(),
            check_secs: 30.0,
            catch_up_days: 30,
            min_interval_hours: 24,
            min_lead_minutes: 60,
        }
    }
}

/// Which SMS provider sends, and how long a message may be.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsConfig {
    /// "spool" (write files to <data_dir>/outbox), "aliyun", "tencent", "twilio", "webhook", or "off".
    pub provider: String,
    /// Signature 【…】 carried by every SMS (counted in its length).
    pub signature: String,
    /// Longest SMS in carrier parts; the body is shortened, never the answer instruction.
    pub max_parts: usize,
    /// Messages per second handed to the provider.
    pub rate_per_second: u32,
    /// Parallel requests to the provider.
    pub concurrency: usize,
    /// Request timeout in seconds.
    pub timeout_secs: u64,
    /// Shared secret of inbound-reply callbacks from Aliyun and Tencent: sent in the
    /// `X-Fenghuo-Token` header, or as the key of an `X-Fenghuo-Signature` HMAC of the body.
    /// Empty: their inbound replies are refused.
    pub inbound_token: String,
    /// Also accept the secret as `?token=` in the callback URL. Off by default: a URL ends up
    /// in proxy and provider logs, so the secret would too. Only for a provider that can call
    /// nothing but a URL.
    pub inbound_token_in_query: bool,
    /// Later paths, in order, when the one in use keeps failing: provider names
    /// ("tencent", "twilio", "webhook", "aliyun"), each with its `[sms.<name>]` section
    /// filled in. `provider` is the first path. Empty: one path.
    pub fallback: Vec<String>,
    /// Passing failures in a row of the path in use after which deliveries move to the
    /// next path (the message that tipped it goes there at once).
    pub failover_after: u32,
    /// While a later path is in use, one send tries the first path again this often
    /// (seconds); when it goes through, deliveries move back.
    pub primary_retry_secs: f64,
    pub aliyun: AliyunConfig,
    pub tencent: TencentConfig,
    pub twilio: TwilioConfig,
    pub webhook: WebhookConfig,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AliyunConfig {
    pub base_url: String,
    pub access_key_id: String,
    pub access_key_secret: String,
    pub sign_name: String,
    /// Approved template with one variable `${content}`.
    pub template_code: String,
    pub region_id: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TencentConfig {
    pub base_url: String,
    pub secret_id: String,
    pub secret_key: String,
    pub sdk_app_id: String,
    pub sign_name: String,
    /// Approved template with one parameter carrying the text.
    pub template_id: String,
    pub region: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TwilioConfig {
    pub base_url: String,
    pub account_sid: String,
    pub auth_token: String,
    pub from: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    pub secret: String,
}

impl Default for SmsConfig {
    fn default() -> Self {
        SmsConfig {
            provider: "spool".into(),
            signature: "【湖上乡应急办】".into(),
            max_parts: 4,
            rate_per_second: 50,
            concurrency: 16,
            timeout_secs: 10,
            inbound_token: String::new(),
            inbound_token_in_query: false,
            fallback: Vec::new(),
            failover_after: 3,
            primary_retry_secs: 60.0,
            aliyun: AliyunConfig::default(),
            tencent: TencentConfig::default(),
            twilio: TwilioConfig::default(),
            webhook: WebhookConfig::default(),
        }
    }
}

impl Default for AliyunConfig {
    fn default() -> Self {
        AliyunConfig {
            base_url: "https://dysmsapi.aliyuncs.com/".into(),
            access_key_id: String::new(),
            access_key_secret: String::new(),
            sign_name: String::new(),
            template_code: String::new(),
            region_id: "cn-hangzhou".into(),
        }
    }
}

impl Default for TencentConfig {
    fn default() -> Self {
        TencentConfig {
            base_url: "https://sms.tencentcloudapi.com/".into(),
            secret_id: String::new(),
            secret_key: String::new(),
            sdk_app_id: String::new(),
            sign_name: String::new(),
            template_id: String::new(),
            region: "ap-guangzhou".into(),
        }
    }
}

impl Default for TwilioConfig {
    fn default() -> Self {
        TwilioConfig {
            base_url: "https://api.twilio.com".into(),
            account_sid: String::new(),
            auth_token: String::new(),
            from: String::new(),
        }
    }
}

/// SMTP for e-mail notices. Off unless `enabled`; then spooled to files if
/// `host` is empty.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailConfig {
    pub enabled: bool,
    pub host: String,
    pub port: u16,
    /// "none", "starttls" or "tls".
    pub tls: String,
    /// PEM file of a certificate authority to trust besides the public
    /// ones (a county mail server with a private CA); empty: public only.
    pub ca_file: String,
    pub username: String,
    pub password: String,
    pub from: String,
    pub rate_per_second: u32,
    /// Connections kept in the SMTP pool (and parallel sends).
    pub pool_size: u32,
    pub timeout_secs: u64,
}

impl Default for EmailConfig {
    fn default() -> Self {
        EmailConfig {
            enabled: true,
            host: String::new(),
            port: 25,
            tls: "none".into(),
            ca_file: String::new(),
            username: String::new(),
            password: String::new(),
            from: "湖上乡应急办 <yjb@localhost>".into(),
            rate_per_second: 50,
            pool_size: 4,
            timeout_secs: 15,
        }
    }
}

/// The outbox workers.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryConfig {
    /// A delivery that keeps failing for a passing reason (the provider
    /// down, a timeout) is retried for this many hours from when it was
    /// queued; only then, or for a permanent refusal, is it failed for good.
    pub retry_for_hours: f64,
    /// Also fail for good after this many attempts; 0: no limit by count.
    pub max_attempts: i64,
    /// First retry delay; doubles each attempt, with jitter, up to `backoff_max_secs`.
    pub backoff_base_secs: f64,
    pub backoff_max_secs: f64,
    /// How long a claim lasts. A running daemon renews the claims it is
    /// working on every third of it, so a dead daemon's claims come back soon.
    pub lease_secs: f64,
    /// Deliveries claimed at once per channel.
    pub batch: i64,
    /// Idle poll interval in milliseconds (new alerts wake the workers at once).
    pub poll_ms: u64,
    /// After this many passing failures in a row a channel's provider is
    /// taken as down: nothing more is sent to it until a single probe
    /// succeeds (the circuit breaker).
    pub breaker_failures: u32,
    /// Seconds before the first probe; doubles after each failed probe, up
    /// to `breaker_max_secs`.
    pub breaker_secs: f64,
    pub breaker_max_secs: f64,
    /// On SIGTERM: seconds to let sends already handed to a provider finish
    /// (shorter than systemd's TimeoutStopSec); those still open then are
    /// recorded as of unknown outcome and sent again at the next start.
    pub shutdown_grace_secs: f64,
    /// An `Idempotency-Key` is remembered (per caller) for this many hours:
    /// a retry within it gets the first answer; after it the key is
    /// forgotten and names a new notice.
    pub idempotency_hours: f64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            retry_for_hours: 24.0,
            max_attempts: 0,
            backoff_base_secs: 5.0,
            backoff_max_secs: 300.0,
            lease_secs: 15.0,
            batch: 200,
            poll_ms: 500,
            breaker_failures: 5,
            breaker_secs: 10.0,
            breaker_max_secs: 300.0,
            shutdown_grace_secs: 10.0,
            idempotency_hours: 24.0,
        }
    }
}

/// 叫应: who is called again and who is told when nobody answers.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EscalationConfig {
    /// Times an unanswered notice is re-sent to the same contact.
    pub repeats: i64,
    /// How many steps up the escalation chain goes (village order, then duty officer).
    pub max_steps: i64,
    /// Seconds between checks of answer deadlines.
    pub check_secs: f64,
    /// Hours an answer link stays valid.
    pub answer_token_hours: i64,
}

impl Default for EscalationConfig {
    fn default() -> Self {
        EscalationConfig {
            repeats: 2,
            max_steps: 3,
            check_secs: 5.0,
            answer_token_hours: 72,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            database_url: String::new(),
            plans_dir: PathBuf::from("plans"),
            sample_plans: false,
            timezone: "Asia/Shanghai".into(),
            public_base_url: String::new(),
            office_name: "湖上乡应急办".into(),
            max_db_connections: 8,
            map_tile_url: String::new(),
            trusted_proxies: Vec::new(),
            answer_key_file: PathBuf::new(),
            answer_key: Default::default(),
            sms: SmsConfig::default(),
            voice: Default::default(),
            email: EmailConfig::default(),
            delivery: DeliveryConfig::default(),
            escalation: EscalationConfig::default(),
            drills: DrillsConfig::default(),
            limits: LimitsConfig::default(),
            signin: SigninConfig::default(),
            incidents: IncidentsConfig::default(),
            daily_reports: DailyReportsConfig::default(),
            supervision: SupervisionConfig::default(),
            robots: RobotsConfig::default(),
            canary: CanaryConfig::default(),
            enforcement: EnforcementConfig::default(),
            area_code: "350524208000".into(),
            township_name: "湖上乡".into(),
            cap_unit_code: "000".into(),
            log: LogConfig::default(),
            metrics: MetricsConfig::default(),
        }
    }
}

impl Config {
    /// Loads the file (if given) and applies environment overrides.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut cfg = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
                Config::from_toml(&text).map_err(|message| ConfigError::Parse {
                    path: path.display().to_string(),
                    message,
                })?
            }
            None => Config::default(),
        };
        cfg.apply_env(|k| std::env::var(k).ok())?;
        let credentials = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
        cfg.read_secret_files(credentials.as_deref())?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// What `fenghuo config check` shows: the configuration read as `serve`
    /// reads it, every setting with its source, and every problem (none: it
    /// would start). A file that cannot be read or parsed is an error at once.
    pub fn check(file: Option<&Path>) -> Result<Checked, ConfigError> {
        let text = match file {
            Some(path) => {
                Some(
                    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                        path: path.display().to_string(),
                        source,
                    })?,
                )
            }
            None => None,
        };
        let mut cfg = match (&text, file) {
            (Some(t), Some(path)) => {
                Config::from_toml(t).map_err(|message| ConfigError::Parse {
                    path: path.display().to_string(),
                    message,
                })?
            }
            _ => Config::default(),
        };
        let env = |k: &str| std::env::var(k).ok();
        let mut problems = Vec::new();
        if let Err(e) = cfg.apply_env(env) {
            problems.push(e);
        }
        let credentials = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
        if let Err(e) = cfg.read_secret_files(credentials.as_deref()) {
            problems.push(e);
        }
        problems.extend(cfg.problems());
        Ok(Checked {
            settings: cfg.report(text.as_deref(), env),
            problems,
        })
    }

    /// A secret setting written `file:PATH` is read from that file (trailing
    /// whitespace dropped), so secrets need not sit in the configuration. A
    /// relative PATH is a systemd credential: it is looked up in
    /// `$CREDENTIALS_DIRECTORY` (`LoadCredential=` in the unit).
    pub fn read_secret_files(&mut self, credentials: Option<&Path>) -> Result<(), ConfigError> {
        let secrets: [(&str, &mut String); 12] = [
            ("database_url", &mut self.database_url),
            ("sms.inbound_token", &mut self.sms.inbound_token),
            (
                "sms.aliyun.access_key_secret",
                &mut self.sms.aliyun.access_key_secret,
            ),
            ("sms.tencent.secret_key", &mut self.sms.tencent.secret_key),
            ("sms.twilio.auth_token", &mut self.sms.twilio.auth_token),
            ("sms.webhook.secret", &mut self.sms.webhook.secret),
            ("email.password", &mut self.email.password),
            ("voice.callback_token", &mut self.voice.callback_token),
            (
                "voice.aliyun.access_key_secret",
                &mut self.voice.aliyun.access_key_secret,
            ),
            (
                "voice.tencent.secret_key",
                &mut self.voice.tencent.secret_key,
            ),
            ("voice.twilio.auth_token", &mut self.voice.twilio.auth_token),
            ("voice.webhook.secret", &mut self.voice.webhook.secret),
        ];
        for (name, value) in secrets {
            let Some(path) = value.strip_prefix("file:") else {
                continue;
            };
            let path = Path::new(path);
            let path = match credentials {
                Some(dir) if path.is_relative() => dir.join(path),
                _ => path.to_path_buf(),
            };
            let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::Invalid {
                name: name.into(),
                message: format!("cannot read {}: {e}", path.display()),
            })?;
            *value = text.trim_end().to_string();
        }
        Ok(())
    }

    pub fn from_toml(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = get("FENGHUO_LISTEN") {
            self.listen = v.parse().map_err(|_| ConfigError::Invalid {
                name: "FENGHUO_LISTEN".into(),
                message: format!("'{v}' is not an address such as 127.0.0.1:8080"),
            })?;
        }
        if let Some(v) = get("FENGHUO_DATABASE_URL") {
            self.database_url = v;
        }
        if let Some(v) = get("FENGHUO_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        Ok(())
    }

    /// The first problem of [`Config::problems`], if any: `serve` (through
    /// [`Config::load`]) refuses to start on it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.problems().into_iter().next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Every setting that cannot work, each naming its key: the same check
    /// `serve` runs at start and `fenghuo config check` prints.
    pub fn problems(&self) -> Vec<ConfigError> {
        let mut out = Vec::new();
        let mut bad = |name: &str, message: String| {
            out.push(ConfigError::Invalid {
                name: name.into(),
                message,
            })
        };
        for (name, v) in [
            ("drills.quiet_start", &self.drills.quiet_start),
            ("drills.quiet_end", &self.drills.quiet_end),
        ] {
            if chrono::NaiveTime::parse_from_str(v, "%H:%M").is_err() {
                bad(name, format!("'{v}' is not a time such as 22:00"));
            }
        }
        let [w, so, e, n] = self.limits.region;
        if !(-180.0..=180.0).contains(&w)
            || !(-180.0..=180.0).contains(&e)
            || !(-90.0..=90.0).contains(&so)
            || !(-90.0..=90.0).contains(&n)
            || w >= e
            || so >= n
        {
            bad(
                "limits.region",
                "must be [west, south, east, north] in degrees, west < east, south < north".into(),
            );
        }
        for (name, v) in [
            ("limits.search_chars", self.limits.search_chars),
            ("limits.polygon_vertices", self.limits.polygon_vertices),
            ("limits.polygon_rings", self.limits.polygon_rings),
            ("limits.photo_bytes", self.limits.photo_bytes),
            ("sms.max_parts", self.sms.max_parts),
            ("sms.concurrency", self.sms.concurrency),
            ("max_db_connections", self.max_db_connections as usize),
            ("sms.rate_per_second", self.sms.rate_per_second as usize),
            ("email.rate_per_second", self.email.rate_per_second as usize),
            ("email.pool_size", self.email.pool_size as usize),
            ("sms.timeout_secs", self.sms.timeout_secs as usize),
            ("voice.concurrency", self.voice.concurrency),
            ("voice.rate_per_second", self.voice.rate_per_second as usize),
            ("voice.timeout_secs", self.voice.timeout_secs as usize),
            ("email.timeout_secs", self.email.timeout_secs as usize),
            ("delivery.batch", self.delivery.batch.max(0) as usize),
        ] {
            if v == 0 {
                bad(name, "must be at least 1".into());
            }
        }
        for (name, v) in [
            (
                "delivery.idempotency_hours",
                self.delivery.idempotency_hours,
            ),
            ("delivery.retry_for_hours", self.delivery.retry_for_hours),
            ("delivery.lease_secs", self.delivery.lease_secs),
            (
                "delivery.backoff_base_secs",
                self.delivery.backoff_base_secs,
            ),
            ("delivery.backoff_max_secs", self.delivery.backoff_max_secs),
            ("delivery.breaker_secs", self.delivery.breaker_secs),
            ("delivery.breaker_max_secs", self.delivery.breaker_max_secs),
            ("escalation.check_secs", self.escalation.check_secs),
            ("drills.check_secs", self.drills.check_secs),
        ] {
            if !(v.is_finite() && v > 0.0) {
                bad(name, "must be a number above 0".into());
            }
        }
        if !(self.canary.check_secs.is_finite() && self.canary.check_secs >= 0.0) {
            bad(
                "canary.check_secs",
                "must be a number of seconds, 0 or more (0: off)".into(),
            );
        }
        if chrono::NaiveTime::parse_from_str(&self.canary.at, "%H:%M").is_err() {
            bad(
                "canary.at",
                format!("'{}' is not a time such as 09:00", self.canary.at),
            );
        }
        if !self.canary.to.trim().is_empty() && crate::phone::normalise(&self.canary.to).is_err() {
            bad(
                "canary.to",
                format!("'{}' is not a phone number", self.canary.to),
            );
        }
        if self.canary.receipt_minutes < 1 {
            bad("canary.receipt_minutes", "must be at least 1".into());
        }
        if !(1..=20).contains(&self.enforcement.min_inspectors) {
            bad(
                "enforcement.min_inspectors",
                "must be between 1 and 20".into(),
            );
        }
        if self.sms.failover_after == 0 {
            bad("sms.failover_after", "must be at least 1".into());
        }
        if !(self.sms.primary_retry_secs.is_finite() && self.sms.primary_retry_secs > 0.0) {
            bad("sms.primary_retry_secs", "must be a number above 0".into());
        }
        if let Err(e) = crate::notify::delivery::paths::check(&self.sms) {
            bad("sms.fallback", e.to_string());
        }
        if !(self.daily_reports.check_secs.is_finite() && self.daily_reports.check_secs >= 0.0) {
            bad(
                "daily_reports.check_secs",
                "must be a number of seconds, 0 or more (0: off)".into(),
            );
        }
        if !(self.supervision.check_secs.is_finite() && self.supervision.check_secs >= 0.0) {
            bad(
                "supervision.check_secs",
                "must be a number of seconds, 0 or more (0: off)".into(),
            );
        }
        if self.supervision.remind_hour > 23 {
            bad(
                "supervision.remind_hour",
                "must be an hour of the day, 0 to 23".into(),
            );
        }
        if !(self.robots.check_secs.is_finite() && self.robots.check_secs >= 0.0) {
            bad(
                "robots.check_secs",
                "must be a number of seconds, 0 or more (0: off)".into(),
            );
        }
        for (name, v) in [
            ("robots.update_secs", self.robots.update_secs),
            ("robots.retry_for_mins", self.robots.retry_for_mins),
        ] {
            if !(v.is_finite() && v > 0.0) {
                bad(name, "must be a number above 0".into());
            }
        }
        if self.robots.timeout_secs == 0 {
            bad("robots.timeout_secs", "must be at least 1".into());
        }
        if let Some(h) = self
            .robots
            .extra_hosts
            .iter()
            .find(|h| h.trim().is_empty() || h.contains(['/', ' ', '?', '@']))
        {
            bad(
                "robots.extra_hosts",
                format!("'{h}' is not a host name such as relay.example.cn"),
            );
        }
        if self.area_code.len() != 12 || !self.area_code.bytes().all(|b| b.is_ascii_digit()) {
            bad(
                "area_code",
                format!(
                    "'{}' is not a 12-digit division code such as 350524208000",
                    self.area_code
                ),
            );
        }
        if self.township_name.trim().is_empty() {
            bad(
                "township_name",
                "must name the township, e.g. 湖上乡".into(),
            );
        }
        if self.cap_unit_code.len() != 3 || !self.cap_unit_code.bytes().all(|b| b.is_ascii_digit())
        {
            bad(
                "cap_unit_code",
                format!("'{}' is not 3 digits", self.cap_unit_code),
            );
        }
        if let Some(l) = self
            .incidents
            .two_person_levels
            .iter()
            .find(|l| !(1..=4).contains(*l))
        {
            bad(
                "incidents.two_person_levels",
                format!("{l} is not a level: use 1 (Ⅰ) to 4 (Ⅳ)"),
            );
        }
        if self.timezone.parse::<chrono_tz::Tz>().is_err() {
            bad(
                "timezone",
                format!(
                    "'{}' is not an IANA time zone such as Asia/Shanghai",
                    self.timezone
                ),
            );
        }
        for (name, v) in [
            ("public_base_url", &self.public_base_url),
            ("map_tile_url", &self.map_tile_url),
        ] {
            if let Err(m) = http_url(v) {
                bad(name, m);
            }
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            bad(
                "log.format",
                format!("'{}' is neither \"text\" nor \"json\"", self.log.format),
            );
        }
        // The channels as `serve` builds them: the chosen SMS provider's
        // required fields, URLs and header values; SMTP's TLS mode and CA file.
        if let Err(e) = crate::notify::delivery::sms::build_provider(&self.sms) {
            use crate::notify::delivery::sms::SmsConfigError as E;
            let name = match &e {
                E::UnknownProvider(_) => "sms.provider",
                E::Missing(s) | E::Invalid { setting: s, .. } => s,
                E::Client(_) => "sms",
            };
            bad(name, e.to_string());
        }
        // Twilio is told where to post keys and statuses: an address it can reach.
        if self.voice.provider.trim() == "twilio" && self.public_base_url.trim().is_empty() {
            bad(
                "public_base_url",
                "must be set for voice.provider = \"twilio\": Twilio posts the key pressed and the call's status to <public_base_url>/hooks/voice/twilio".into(),
            );
        }
        // The voice provider as `serve` builds it (its callbacks at the public address).
        if let Err(e) = crate::notify::delivery::voice::build_provider(
            &self.voice,
            &self.public_base(),
            &self.data_dir.join("outbox"),
        ) {
            bad(e.setting(), e.to_string());
        }
        if self.email.enabled && !self.email.host.is_empty() {
            if let Err(e) = crate::notify::delivery::email::SmtpSender::new(&self.email) {
                bad(e.name, e.message);
            }
        } else if !self.email.ca_file.trim().is_empty()
            && std::fs::metadata(self.email.ca_file.trim()).is_err()
        {
            bad(
                "email.ca_file",
                format!("cannot read {}", self.email.ca_file.trim()),
            );
        }
        out
    }

    /// Every setting with its value (secrets masked) and where it came from,
    /// for `fenghuo config check`. `file` is the TOML text the configuration
    /// was read from, `env` the environment it was read with.
    pub fn report(&self, file: Option<&str>, env: impl Fn(&str) -> Option<String>) -> Vec<Setting> {
        let mut from_file = std::collections::HashSet::new();
        if let Some(text) = file
            && let Ok(table) = text.parse::<toml::Table>()
        {
            toml_keys("", &toml::Value::Table(table), &mut from_file);
        }
        let from_env: std::collections::HashMap<&str, &str> = ENV
            .iter()
            .filter(|(var, _)| env(var).is_some())
            .map(|(var, key)| (*key, *var))
            .collect();
        let mut leaves = Vec::new();
        match serde_json::to_value(self) {
            Ok(v) => json_leaves("", &v, &mut leaves),
            Err(e) => leaves.push(("?".into(), e.to_string())),
        }
        leaves
            .into_iter()
            .map(|(key, value)| {
                let source = if let Some(var) = from_env.get(key.as_str()) {
                    Source::Env(var)
                } else if from_file.contains(&key) {
                    Source::File
                } else {
                    Source::Default
                };
                let value = if SECRETS.contains(&key.as_str()) {
                    mask(&key, &value)
                } else {
                    value
                };
                Setting { key, value, source }
            })
            .collect()
    }

    pub fn tz(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::Asia::Shanghai)
    }

    pub fn answer_key_path(&self) -> PathBuf {
        if self.answer_key_file.as_os_str().is_empty() {
            self.data_dir.join("answer.key")
        } else {
            self.answer_key_file.clone()
        }
    }

    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("fenghuo.db").display())
        } else {
            self.database_url.clone()
        }
    }

    /// Base for links in notices; falls back to the listen address.
    pub fn public_base(&self) -> String {
        if self.public_base_url.is_empty() {
            format!("http://{}", self.listen)
        } else {
            self.public_base_url.trim_end_matches('/').to_string()
        }
    }
}

/// What [`Config::check`] found.
#[derive(Debug)]
pub struct Checked {
    pub settings: Vec<Setting>,
    pub problems: Vec<ConfigError>,
}

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Default,
    File,
    /// The environment variable that set it.
    Env(&'static str),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File => f.write_str("file"),
            Source::Env(var) => write!(f, "env {var}"),
        }
    }
}

/// One line of `fenghuo config check`.
#[derive(Debug, Clone)]
pub struct Setting {
    /// The dotted key, as in the TOML file (`sms.aliyun.base_url`).
    pub key: String,
    /// The value as TOML would write it; a secret masked.
    pub value: String,
    pub source: Source,
}

/// The environment variables that override settings, and their keys.
const ENV: [(&str, &str); 3] = [
    ("FENGHUO_LISTEN", "listen"),
    ("FENGHUO_DATABASE_URL", "database_url"),
    ("FENGHUO_DATA_DIR", "data_dir"),
];

/// Settings never printed: the ones [`Config::read_secret_files`] reads.
const SECRETS: [&str; 12] = [
    "database_url",
    "sms.inbound_token",
    "sms.aliyun.access_key_secret",
    "sms.tencent.secret_key",
    "sms.twilio.auth_token",
    "sms.webhook.secret",
    "email.password",
    "voice.callback_token",
    "voice.aliyun.access_key_secret",
    "voice.tencent.secret_key",
    "voice.twilio.auth_token",
    "voice.webhook.secret",
];

/// A secret as `config check` shows it: whether it is set, never its value
/// (a database URL keeps its scheme, host and database, not its password).
fn mask(key: &str, value: &str) -> String {
    let raw = value.trim_matches('"');
    if raw.is_empty() {
        return "\"\"".into();
    }
    if key == "database_url"
        && let Ok(mut url) = reqwest::Url::parse(raw)
    {
        if url.password().is_some() {
            let _ = url.set_password(Some("****"));
        }
        return format!("\"{url}\"");
    }
    "\"****\" (set)".into()
}

/// An empty value, or an http(s) URL with a host.
fn http_url(v: &str) -> Result<(), String> {
    if v.is_empty() {
        return Ok(());
    }
    match reqwest::Url::parse(v) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(()),
        Ok(_) => Err(format!("'{v}' is not an http(s) URL")),
        Err(e) => Err(format!("'{v}' is not a URL: {e}")),
    }
}

fn toml_keys(prefix: &str, v: &toml::Value, out: &mut std::collections::HashSet<String>) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                toml_keys(&key, v, out);
            }
        }
        _ => {
            out.insert(prefix.to_string());
        }
    }
}

fn json_leaves(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                json_leaves(&key, v, out);
            }
        }
        serde_json::Value::Null => out.push((prefix.to_string(), "(unset)".into())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_read_from_files_and_systemd_credentials() {
        let dir = tempfile_dir();
        std::fs::write(dir.join("aliyun"), "s3cret\n").expect("write");
        std::fs::write(dir.join("mail.pw"), "mail-pw").expect("write");
        let mut cfg = Config::from_toml(&format!(
            "[sms.aliyun]\naccess_key_secret = \"file:aliyun\"\n[email]\npassword = \"file:{}\"\n[sms.webhook]\nsecret = \"plain\"\n",
            dir.join("mail.pw").display()
        ))
        .expect("parses");
        cfg.read_secret_files(Some(&dir)).expect("read");
        assert_eq!(
            cfg.sms.aliyun.access_key_secret, "s3cret",
            "a credential, newline dropped"
        );
        assert_eq!(cfg.email.password, "mail-pw", "an absolute path");
        assert_eq!(cfg.sms.webhook.secret, "plain", "a plain value stays");
        let mut missing =
            Config::from_toml("[sms.tencent]\nsecret_key = \"file:nope\"\n").expect("parses");
        let e = missing
            .read_secret_files(Some(&dir))
            .expect_err("missing file");
        assert!(e.to_string().contains("sms.tencent.secret_key"), "{e}");
        let _ = std::fs::remove_dir_all(dir);
    }

    fn tempfile_dir() -> PathBuf {
        let mut rnd = [0u8; 8];
        let _ = getrandom::fill(&mut rnd);
        let d = std::env::temp_dir().join(format!("fenghuo-cfg-{}", hex::encode(rnd)));
        std::fs::create_dir_all(&d).expect("dir");
        d
    }

    #[test]
    fn the_example_file_documents_valid_settings() {
        let cfg = Config::from_toml(include_str!("../deploy/fenghuo.example.toml"))
            .expect("example parses");
        cfg.validate().expect("example is valid");
        let d = Config::default();
        assert_eq!(cfg.listen, d.listen);
        assert_eq!(cfg.sms.max_parts, d.sms.max_parts);
        assert_eq!(cfg.drills.quiet_start, d.drills.quiet_start);
    }

    #[test]
    fn voice_settings_are_checked_by_name() {
        let names = |text: &str| -> Vec<String> {
            Config::from_toml(text)
                .expect("parses")
                .problems()
                .into_iter()
                .map(|e| match e {
                    ConfigError::Invalid { name, .. } => name,
                    other => other.to_string(),
                })
                .collect()
        };
        assert!(names("").is_empty(), "voice is off by default");
        assert_eq!(
            names("[voice]\nprovider = \"aliyun\"\n"),
            ["voice.aliyun.access_key_id"]
        );
        assert_eq!(
            names(
                "[voice]\nprovider = \"twilio\"\n[voice.twilio]\naccount_sid = \"AC1\"\nauth_token = \"t\"\nfrom = \"+14155550100\"\n"
            ),
            ["public_base_url"],
            "Twilio must be told an address it can reach"
        );
        assert_eq!(
            names("[voice]\nprovider = \"spool\"\nplay_times = 0\n"),
            ["voice.play_times"]
        );
        assert_eq!(names("[voice]\nprovider = \"fax\"\n"), ["voice.provider"]);
    }

    #[test]
    fn paths_and_self_checks_are_checked_with_their_keys() {
        let d = Config::default();
        assert_eq!(
            (
                d.sms.failover_after,
                d.sms.primary_retry_secs,
                d.sms.fallback.len()
            ),
            (3, 60.0, 0)
        );
        assert_eq!(
            (
                d.canary.at.as_str(),
                d.canary.receipt_minutes,
                d.canary.to.as_str()
            ),
            ("09:00", 15, "")
        );
        let problems = |toml: &str| -> Vec<String> {
            Config::from_toml(toml)
                .expect("parses")
                .problems()
                .iter()
                .map(ToString::to_string)
                .collect()
        };
        // A fallback whose section is not filled in is refused, naming what it lacks.
        let aliyun = "[sms]\nprovider = \"aliyun\"\nfallback = [\"tencent\"]\n\
                      [sms.aliyun]\naccess_key_id = \"a\"\naccess_key_secret = \"b\"\n\
                      sign_name = \"c\"\ntemplate_code = \"d\"\n";
        let got = problems(aliyun);
        assert!(
            got.len() == 1
                && got[0].contains("sms.fallback")
                && got[0].contains("\"tencent\"")
                && got[0].contains("sms.tencent.secret_id"),
            "{got:?}"
        );
        let filled = format!(
            "{aliyun}[sms.tencent]\nsecret_id = \"i\"\nsecret_key = \"k\"\nsdk_app_id = \"1\"\n\
             sign_name = \"s\"\ntemplate_id = \"2\"\n"
        );
        assert_eq!(problems(&filled), Vec::<String>::new());
        let twice = filled.replace(
            "fallback = [\"tencent\"]",
            "fallback = [\"tencent\", \"aliyun\"]",
        );
        assert!(
            problems(&twice)[0].contains("already a path"),
            "{:?}",
            problems(&twice)
        );
        assert!(
            problems("[sms]\nfallback = [\"tencent\"]")[0]
                .contains("sms.provider to be a provider"),
            "the spool is no first path"
        );
        for (toml, key) in [
            ("[sms]\nfailover_after = 0", "sms.failover_after"),
            ("[sms]\nprimary_retry_secs = 0.0", "sms.primary_retry_secs"),
            ("[canary]\nat = \"9点\"", "canary.at"),
            ("[canary]\nto = \"值班室\"", "canary.to"),
            ("[canary]\nreceipt_minutes = 0", "canary.receipt_minutes"),
            ("[canary]\ncheck_secs = -1.0", "canary.check_secs"),
        ] {
            let got = problems(toml);
            assert!(got.len() == 1 && got[0].contains(key), "{toml}: {got:?}");
        }
        assert_eq!(
            problems("[canary]\nto = \"139 0595 1200\""),
            Vec::<String>::new()
        );
    }

    #[test]
    fn robot_settings_are_checked() {
        let d = Config::default().robots;
        assert_eq!(
            (d.check_secs, d.update_secs, d.timeout_secs),
            (2.0, 300.0, 10)
        );
        for (bad, key) in [
            ("update_secs = 0", "robots.update_secs"),
            ("retry_for_mins = -1", "robots.retry_for_mins"),
            ("check_secs = -1", "robots.check_secs"),
            ("timeout_secs = 0", "robots.timeout_secs"),
            (
                "extra_hosts = [\"http://relay.lan/\"]",
                "robots.extra_hosts",
            ),
        ] {
            let cfg = Config::from_toml(&format!("[robots]\n{bad}")).expect("parses");
            let e = cfg.validate().expect_err(bad);
            assert!(e.to_string().contains(key), "{e}");
        }
        let cfg = Config::from_toml("[robots]\nextra_hosts = [\"127.0.0.1\"]\ncheck_secs = 0")
            .expect("parses");
        cfg.validate().expect("valid");
    }

    #[test]
    fn idempotency_hours_must_be_positive() {
        let cfg = Config::from_toml("[delivery]\nidempotency_hours = 2.5").expect("parses");
        assert_eq!(cfg.delivery.idempotency_hours, 2.5);
        cfg.validate().expect("valid");
        assert_eq!(Config::default().delivery.idempotency_hours, 24.0);
        for bad in ["0", "-1", "nan"] {
            let cfg = Config::from_toml(&format!("[delivery]\nidempotency_hours = {bad}"))
                .expect("parses");
            let e = cfg.validate().expect_err(bad);
            assert!(e.to_string().contains("delivery.idempotency_hours"), "{e}");
        }
    }

    #[test]
    fn the_report_names_sources_and_masks_secrets() {
        let text = "database_url = \"postgres://fh:pg-pass@db.lan/fenghuo\"\n[sms.twilio]\nauth_token = \"tw-secret\"\n";
        let mut cfg = Config::from_toml(text).expect("parses");
        cfg.apply_env(|k| (k == "FENGHUO_LISTEN").then(|| "127.0.0.1:9000".into()))
            .expect("env");
        let report = cfg.report(Some(text), |k| {
            (k == "FENGHUO_LISTEN").then(|| "127.0.0.1:9000".into())
        });
        let get = |key: &str| {
            report
                .iter()
                .find(|s| s.key == key)
                .unwrap_or_else(|| panic!("{key} missing"))
                .clone()
        };
        assert_eq!(get("listen").source, Source::Env("FENGHUO_LISTEN"));
        assert_eq!(get("listen").value, "\"127.0.0.1:9000\"");
        assert_eq!(get("sms.twilio.auth_token").source, Source::File);
        assert_eq!(get("sms.twilio.auth_token").value, "\"****\" (set)");
        assert_eq!(get("sms.twilio.account_sid").source, Source::Default);
        let db = get("database_url").value;
        assert!(
            db.contains("db.lan/fenghuo") && !db.contains("pg-pass"),
            "{db}"
        );
        assert_eq!(get("metrics.listen").value, "(unset)");
        for s in &report {
            assert!(
                !s.value.contains("tw-secret") && !s.value.contains("pg-pass"),
                "{s:?}"
            );
        }
    }

    #[test]
    fn every_problem_names_its_key() {
        let cfg = Config::from_toml(
            "timezone = \"Mars/Olympus\"\nmap_tile_url = \"tiles\"\n[sms]\nprovider = \"tencent\"\nconcurrency = 0\n[log]\nformat = \"yaml\"\n",
        )
        .expect("parses");
        let names: Vec<String> = cfg
            .problems()
            .into_iter()
            .map(|e| match e {
                ConfigError::Invalid { name, .. } => name,
                other => panic!("{other}"),
            })
            .collect();
        for key in [
            "timezone",
            "map_tile_url",
            "sms.tencent.secret_id",
            "sms.concurrency",
            "log.format",
        ] {
            assert!(names.iter().any(|n| n == key), "{key} not in {names:?}");
        }
        assert!(Config::default().problems().is_empty());
    }

    #[test]
    fn trusted_proxies_are_addresses() {
        let cfg = Config::from_toml("trusted_proxies = [\"127.0.0.1\", \"::1\"]").expect("parses");
        assert_eq!(cfg.trusted_proxies.len(), 2);
        let err = Config::from_toml("trusted_proxies = [\"nginx\"]").expect_err("a name");
        assert!(err.to_string().contains("trusted_proxies"), "{err}");
    }

    #[test]
    fn environment_overrides_the_file() {
        let mut cfg = Config::default();
        cfg.apply_env(|k| match k {
            "FENGHUO_LISTEN" => Some("0.0.0.0:9000".into()),
            "FENGHUO_DATABASE_URL" => Some("postgres://x@y/z".into()),
            "FENGHUO_DATA_DIR" => Some("/var/lib/fenghuo".into()),
            _ => None,
        })
        .expect("env");
        assert_eq!(cfg.listen.port(), 9000);
        assert_eq!(cfg.database_url(), "postgres://x@y/z");
        assert_eq!(cfg.data_dir, PathBuf::from("/var/lib/fenghuo"));
        assert!(
            cfg.apply_env(|k| (k == "FENGHUO_LISTEN").then(|| "nonsense".into()))
                .is_err()
        );
    }
}
