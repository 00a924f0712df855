//! The daemon under test: `fenghuo serve` as a child process with a
//! generated configuration, so its memory is its own and is read from
//! `/proc/PID/status`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::BResult;

/// Where the daemon sends notices.
#[derive(Debug, Clone)]
pub struct SinkAddrs {
    /// URL of the HTTP endpoint standing in for the SMS provider (webhook).
    pub sms_url: String,
    /// Port of the SMTP sink on 127.0.0.1.
    pub smtp_port: u16,
}

/// Settings that differ from the shipped defaults, and why.
pub struct DaemonSettings {
    pub sms_concurrency: usize,
    pub email_pool: u32,
    /// `sms.rate_per_second`: 1,000,000 for the throughput sections; the
    /// disk-full scenario slows it so the disk fills mid-send.
    pub sms_rate: u32,
}

/// Writes a configuration for one daemon and returns its path.
pub fn write_config(
    dir: &Path,
    name: &str,
    database_url: &str,
    port: u16,
    sinks: &SinkAddrs,
    s: &DaemonSettings,
) -> BResult<PathBuf> {
    let data = dir.join(format!("{name}-data"));
    std::fs::create_dir_all(&data)?;
    // Rates are lifted (SMS to `s.sms_rate`) so the pacing (50/s by default,
    // a provider contract) does not hide the daemon's own ceiling;
    // everything else is default.
    let text = format!(
        "listen = \"127.0.0.1:{port}\"\ndata_dir = \"{data}\"\ndatabase_url = \"{database_url}\"\n\
         public_base_url = \"https://yjb.example.org\"\n\
         [sms]\nprovider = \"webhook\"\nrate_per_second = {rate}\nconcurrency = {conc}\n\
         [sms.webhook]\nurl = \"{sms}\"\nsecret = \"bench-secret\"\n\
         [email]\nenabled = true\nhost = \"127.0.0.1\"\nport = {smtp}\ntls = \"none\"\nfrom = \"湖上乡应急办 <yjb@bench.example>\"\n\
         rate_per_second = 1000000\npool_size = {pool}\n",
        data = data.display(),
        conc = s.sms_concurrency,
        rate = s.sms_rate,
        sms = sinks.sms_url,
        smtp = sinks.smtp_port,
        pool = s.email_pool,
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text)?;
    Ok(path)
}

/// A free loopback port (bound and released: a small race, fine here).
pub fn free_port() -> BResult<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

pub struct Daemon {
    child: Child,
    pub base: String,
    /// From spawn to the first 200 of `/readyz`.
    pub ready_after: Duration,
}

impl Daemon {
    /// Spawns `exe --config cfg serve` and waits for `/readyz`.
    pub async fn start(exe: &Path, config: &Path, port: u16) -> BResult<Daemon> {
        let spawned = Instant::now();
        let mut child = Command::new(exe)
            .arg("--config")
            .arg(config)
            .arg("serve")
            .env(
                "FENGHUO_LOG",
                std::env::var("FENGHUO_BENCH_DAEMON_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .env_remove("FENGHUO_DATABASE_URL")
            .env_remove("FENGHUO_LISTEN")
            .env_remove("FENGHUO_DATA_DIR")
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()?;
        if let Some(out) = child.stdout.take() {
            std::thread::spawn(move || for _ in BufReader::new(out).lines() {});
        }
        let base = format!("http://127.0.0.1:{port}");
        let ready_after = wait_ready(port, spawned).await;
        let mut d = Daemon {
            child,
            base,
            ready_after: Duration::ZERO,
        };
        match ready_after {
            Some(t) => {
                d.ready_after = t;
                Ok(d)
            }
            None => {
                let status = d.child.try_wait()?;
                Err(format!("the daemon did not become ready (exit status {status:?})").into())
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// (VmRSS, VmHWM) in bytes.
    pub fn rss(&self) -> (u64, u64) {
        (self.status_kb("VmRSS:"), self.status_kb("VmHWM:"))
    }

    /// (RssAnon, RssFile): memory of its own, and pages of mapped files
    /// (mostly the binary's code, shared and reclaimable).
    pub fn rss_split(&self) -> (u64, u64) {
        (self.status_kb("RssAnon:"), self.status_kb("RssFile:"))
    }

    fn status_kb(&self, name: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }

    /// Resets the peak (VmHWM) to the current RSS (Linux ≥ 4.0).
    pub fn reset_peak(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5");
    }

    /// SIGKILL, as a crash or the OOM killer would: nothing of the daemon
    /// runs after it (no grace period, no outcome recorded).
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then SIGKILL if it has not stopped within 10 s.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Polls `GET /readyz` over a fresh connection every millisecond.
async fn wait_ready(port: u16, since: Instant) -> Option<Duration> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let until = since + Duration::from_secs(60);
    while Instant::now() < until {
        if let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            let req = "GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
            if s.write_all(req.as_bytes()).await.is_ok() {
                let mut buf = Vec::new();
                let _ = s.read_to_end(&mut buf).await;
                if buf.starts_with(b"HTTP/1.1 200") {
                    return Some(since.elapsed());
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    None
}
