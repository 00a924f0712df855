//! A real SMTP server for e-mail tests: runs `tests/support/smtp_sink.py`
//! (needs `python3 -m pip install aiosmtpd==1.4.6`) and reads what it wrote.
//!
//! ```ignore
//! #[path = "support/smtp_sink.rs"]
//! mod smtp_sink;
//! let sink = smtp_sink::SmtpSink::start(&["--fail-rcpt", "bad@x.test:550"]);
//! // … send to 127.0.0.1:sink.port …
//! let got = sink.wait_for(1, Duration::from_secs(5)).await;
//! ```
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_sink.py");

/// The sink process; killed when dropped.
pub struct SmtpSink {
    pub port: u16,
    child: Child,
    /// Held open: the sink exits when it closes, even if this process is
    /// killed before `Drop` runs.
    _stdin: Option<ChildStdin>,
    /// Lines the sink printed after `PORT` (e.g. `COUNT n`).
    lines: mpsc::Receiver<String>,
    dir: tempfile::TempDir,
}

impl SmtpSink {
    /// Starts the sink on a free loopback port; `args` are extra options
    /// such as `--fail-rcpt ADDR:CODE` or `--tempfail-first N`.
    pub fn start(args: &[&str]) -> SmtpSink {
        let dir = tempfile::tempdir().expect("temporary directory");
        let out = dir.path().join("mail");
        let stderr_path = dir.path().join("stderr.txt");
        let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        let mut child = Command::new(&python)
            .arg(SCRIPT)
            .args(["--port", "0", "--exit-on-stdin-eof", "--out"])
            .arg(&out)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {python} {SCRIPT}: {e}"));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        // A thread reads stdout, so waiting for PORT can time out and the
        // pipe never fills up.
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let port = lines
            .recv_timeout(Duration::from_secs(20))
            .ok()
            .and_then(|l| l.strip_prefix("PORT ")?.trim().parse::<u16>().ok());
        let Some(port) = port else {
            let _ = child.kill();
            let _ = child.wait();
            let err = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            panic!(
                "the SMTP sink did not start (is aiosmtpd installed? \
                 python3 -m pip install aiosmtpd==1.4.6):\n{err}"
            );
        };
        SmtpSink {
            port,
            child,
            _stdin: stdin,
            lines,
            dir,
        }
    }

    /// Where the sink writes `<seq>.json`.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().join("mail")
    }

    /// Every message received so far, in the order the sink accepted them.
    pub fn messages(&self) -> Vec<Value> {
        read_messages(&self.dir())
    }

    /// Waits until at least `n` messages have arrived or `timeout` passed,
    /// and returns all there are (possibly fewer than `n`).
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.messages();
            if got.len() >= n || Instant::now() >= deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Lines the sink printed after `PORT`, so far.
    pub fn output(&self) -> Vec<String> {
        self.lines.try_iter().collect()
    }

    /// The sink's standard error so far (Python tracebacks).
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.txt")).unwrap_or_default()
    }
}

fn read_messages(dir: &Path) -> Vec<Value> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    // Only finished files: the sink writes `.json.tmp` and renames.
    let mut found: Vec<(u64, PathBuf)> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| {
            let seq = p
                .file_name()?
                .to_str()?
                .strip_suffix(".json")?
                .parse()
                .ok()?;
            Some((seq, p))
        })
        .collect();
    found.sort();
    found
        .into_iter()
        .map(|(_, p)| {
            let text = std::fs::read_to_string(&p)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", p.display()))
        })
        .collect()
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
