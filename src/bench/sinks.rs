//! The loopback sinks: a small HTTP endpoint standing in for the SMS
//! provider (it records when each request arrived), postfix's `smtp-sink`
//! as the SMTP server, and their own ceilings measured with minimal clients
//! (`wrk`, `smtp-source`).

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;

use super::BResult;

/// Arrivals since the last reset: how many, the first and the last, and
/// (HTTP) how many per phone.
#[derive(Default)]
pub struct Arrivals {
    count: AtomicU64,
    times: Mutex<(Option<Instant>, Option<Instant>)>,
    per_phone: Mutex<HashMap<Box<[u8]>, u32>>,
    /// While set, the answer-link tokens found in the texts are kept
    /// (`emergency`: the answers come through them, as a phone's would).
    capture: std::sync::atomic::AtomicBool,
    tokens: Mutex<Vec<String>>,
}

impl Arrivals {
    pub fn record(&self, n: u64) {
        let now = Instant::now();
        self.count.fetch_add(n, Ordering::Relaxed);
        let mut t = self.times.lock().unwrap_or_else(|p| p.into_inner());
        if t.0.is_none() {
            t.0 = Some(now);
        }
        t.1 = Some(now);
    }
    pub fn reset(&self) {
        self.count.store(0, Ordering::Relaxed);
        *self.times.lock().unwrap_or_else(|p| p.into_inner()) = (None, None);
        self.per_phone
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
    /// Counts a message to `phone`.
    pub fn record_phone(&self, phone: &[u8]) {
        *self
            .per_phone
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(phone.into())
            .or_insert(0) += 1;
    }
    /// Phones that got more than one message, and the extra messages.
    pub fn duplicates(&self) -> (u64, u64) {
        let m = self.per_phone.lock().unwrap_or_else(|p| p.into_inner());
        m.values()
            .filter(|&&n| n > 1)
            .fold((0, 0), |(p, x), &n| (p + 1, x + u64::from(n - 1)))
    }
    /// Keeps (or stops keeping) the answer links' tokens, starting afresh.
    pub fn capture_tokens(&self, on: bool) {
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.capture.store(on, Ordering::Relaxed);
    }
    fn record_token(&self, body: &[u8]) {
        if !self.capture.load(Ordering::Relaxed) {
            return;
        }
        if let Some(t) = answer_token(body) {
            self.tokens
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(t);
        }
    }
    /// The `i`-th token received, if it has come.
    pub fn token(&self, i: usize) -> Option<String> {
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(i)
            .cloned()
    }
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
    pub fn first_last(&self) -> (Option<Instant>, Option<Instant>) {
        *self.times.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The HTTP stand-in for the SMS provider: answers every POST with
/// `{"id": "sink-N"}` (the webhook provider's success), `latency` after it
/// arrived, and records arrivals.
pub struct HttpSink {
    pub url: String,
    pub arrivals: Arc<Arrivals>,
}

pub async fn http_sink(latency: std::time::Duration) -> BResult<HttpSink> {
    let arrivals = Arc::new(Arrivals::default());
    let a = arrivals.clone();
    let app = Router::new().route(
        "/{*path}",
        post(move |body: axum::body::Bytes| {
            let a = a.clone();
            async move {
                if let Some(to) = webhook_to(&body) {
                    a.record_phone(to);
                }
                a.record_token(&body);
                a.record(1);
                let n = a.count();
                if !latency.is_zero() {
                    tokio::time::sleep(latency).await;
                }
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    format!("{{\"id\":\"sink-{n}\"}}"),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(HttpSink {
        url: format!("http://{addr}/sms"),
        arrivals,
    })
}

/// The `to` of a webhook body (`"to":"+86…"`), found without parsing the
/// JSON: the sink must stay far faster than the daemon.
fn webhook_to(body: &[u8]) -> Option<&[u8]> {
    const KEY: &[u8] = b"\"to\":\"";
    let at = body.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let len = body[at..].iter().position(|&b| b == b'"')?;
    Some(&body[at..at + len])
}

/// The token of the answer link in a text (`…/a/<hex>`).
fn answer_token(body: &[u8]) -> Option<String> {
    const KEY: &[u8] = b"/a/";
    let at = body.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let len = body[at..]
        .iter()
        .position(|b| !b.is_ascii_hexdigit())
        .unwrap_or(body.len() - at);
    (len >= 16).then(|| String::from_utf8_lossy(&body[at..at + len]).into_owned())
}

/// postfix's `smtp-sink`, with its running counter (`-c`) read from stdout:
/// one update per message received (".").
pub struct SmtpSink {
    pub port: u16,
    pub arrivals: Arc<Arrivals>,
    child: Child,
}

impl SmtpSink {
    pub fn start(port: u16) -> BResult<SmtpSink> {
        let mut cmd = Command::new("smtp-sink");
        cmd.arg("-c");
        if is_root() {
            cmd.args(["-u", "nobody"]);
        }
        let mut child = cmd
            .arg(format!("127.0.0.1:{port}"))
            .arg("1024")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run smtp-sink (apt-get install postfix): {e}"))?;
        let arrivals = Arc::new(Arrivals::default());
        let mut out = child.stdout.take().ok_or("no stdout")?;
        let a = arrivals.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            let mut last_msg = 0u64;
            let mut pending = Vec::new();
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                pending.extend_from_slice(&buf[..n]);
                // Counter lines end in "\r": "sess=0 quit=0 mesg=123\r".
                let mut newest = None;
                while let Some(i) = pending.iter().position(|&b| b == b'\r' || b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=i).collect();
                    let line = String::from_utf8_lossy(&line);
                    if let Some(m) = line
                        .split_whitespace()
                        .find_map(|w| w.strip_prefix("mesg="))
                        .and_then(|v| v.parse::<u64>().ok())
                    {
                        newest = Some(m);
                    }
                }
                if let Some(m) = newest
                    && m > last_msg
                {
                    a.record(m - last_msg);
                    last_msg = m;
                }
            }
        });
        // Wait until it accepts connections.
        let until = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > until {
                return Err("smtp-sink did not start".into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(SmtpSink {
            port,
            arrivals,
            child,
        })
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().next().map(|u| u == "0"))
        .unwrap_or(false)
}

/// The SMTP sink's ceiling: `smtp-source` sending `messages` messages of
/// `size` bytes over `sessions` parallel connections kept open (`-d`).
/// Returns messages per second.
pub fn smtp_ceiling(sink: &SmtpSink, sessions: u32, messages: u32, size: usize) -> BResult<f64> {
    sink.arrivals.reset();
    let started = Instant::now();
    let status = Command::new("smtp-source")
        .args([
            "-d",
            "-s",
            &sessions.to_string(),
            "-m",
            &messages.to_string(),
        ])
        .args(["-l", &size.to_string()])
        .args(["-f", "yjb@bench.example", "-t", "c1@bench.example"])
        .arg(format!("127.0.0.1:{}", sink.port))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run smtp-source (apt-get install postfix): {e}"))?;
    let took = started.elapsed();
    if !status.success() {
        return Err(format!("smtp-source failed: {status}").into());
    }
    Ok(f64::from(messages) / took.as_secs_f64())
}

/// The HTTP sink's ceiling: `wrk` POSTing a webhook-sized body over
/// `connections` keep-alive connections. Returns requests per second.
pub fn http_ceiling(dir: &Path, sink: &HttpSink, connections: usize, secs: u64) -> BResult<f64> {
    let script = dir.join("sink-post.lua");
    std::fs::write(
        &script,
        "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n\
         wrk.headers[\"X-Fenghuo-Signature\"] = \"t=1700000000,v1=0000000000000000000000000000000000000000000000000000000000000000\"\n\
         wrk.body = '{\"reference\":\"123456\",\"to\":\"+8613900000001\",\"text\":\"【湖上乡应急办】[演练]Ⅱ级（橙色）防汛预警：村民1，请于今晚20:00前转移到避灾点。 回复1确认收到 https://yjb.example.org/a/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}'\n",
    )?;
    let r = super::wrk::run(&script, &sink.url, 2, connections, secs)?;
    Ok(r.rps)
}
