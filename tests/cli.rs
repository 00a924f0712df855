//! The `fenghuo` binary itself: migrate, token create, and `serve --demo`
//! with a clean stop on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fenghuo"));
    c.env_remove("FENGHUO_DATABASE_URL")
        .env_remove("FENGHUO_LISTEN")
        .env("FENGHUO_LOG", "warn");
    c
}

#[test]
fn migrate_and_token_create() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("d");
    let out = bin()
        .arg("migrate")
        .env("FENGHUO_DATA_DIR", &data)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(data.join("fenghuo.db").exists());

    let out = bin()
        .args(["token", "create", "--name", "county", "--role", "viewer"])
        .env("FENGHUO_DATA_DIR", &data)
        .output()
        .expect("run");
    assert!(out.status.success());
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(token.starts_with("fh_") && token.len() == 67, "{token}");

    let out = bin()
        .args(["token", "create", "--name", "x", "--role", "god"])
        .env("FENGHUO_DATA_DIR", &data)
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown role"));

    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "listen = \"127.0.0.1:0\"\nno_such_setting = 1\n").expect("write");
    let out = bin()
        .args(["--config"])
        .arg(&cfg)
        .arg("migrate")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no_such_setting"));
}

/// Kills the daemon if the test fails before stopping it.
struct Reap(std::process::Child);
impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `serve --demo` in `dir`; gives the daemon, its admin token and address.
fn start_demo(dir: &std::path::Path) -> (Reap, String, String) {
    let child = bin()
        .args(["serve", "--demo"])
        .env("FENGHUO_DATA_DIR", dir.join("data"))
        .env("FENGHUO_LISTEN", "127.0.0.1:0")
        .current_dir(dir)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut child = Reap(child);
    let stdout = child.0.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let (mut token, mut addr) = (None, None);
    while token.is_none() || addr.is_none() {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("daemon output");
        if let Some(t) = line.split("admin token: ").nth(1) {
            token = Some(t.trim().to_string());
        }
        if let Some(a) = line.split("listening on ").nth(1) {
            addr = Some(a.trim().to_string());
        }
    }
    (child, token.unwrap_or_default(), addr.unwrap_or_default())
}

/// Sends SIGTERM and waits for a clean exit.
async fn terminate(child: &mut Reap) {
    let pid = child.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let started = Instant::now();
    loop {
        if let Some(status) = child.0.try_wait().expect("wait") {
            assert!(status.success(), "exit status after SIGTERM: {status}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "daemon did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn serve_demo_then_sigterm() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, token, addr) = start_demo(dir.path());
    let client = reqwest::Client::new();
    let health = client
        .get(format!("{addr}/healthz"))
        .send()
        .await
        .expect("healthz");
    assert!(health.status().is_success());
    let v: serde_json::Value = client
        .get(format!("{addr}/api/v1/villages"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("villages")
        .json()
        .await
        .expect("json");
    assert_eq!(v["total"], 13);
    terminate(&mut child).await;
    assert!(dir.path().join("data/fenghuo.db").exists());

    // Started again: a new admin token, and the one printed before is revoked.
    let (mut child, again, addr) = start_demo(dir.path());
    assert_ne!(again, token);
    let status = |t: String| {
        let client = client.clone();
        let url = format!("{addr}/api/v1/villages");
        async move {
            client
                .get(url)
                .bearer_auth(t)
                .send()
                .await
                .expect("villages")
                .status()
        }
    };
    assert_eq!(status(again.clone()).await, reqwest::StatusCode::OK);
    assert_eq!(
        status(token.clone()).await,
        reqwest::StatusCode::UNAUTHORIZED,
        "the previous start's token no longer works"
    );
    terminate(&mut child).await;
}

#[test]
fn plans_check_passes_shipped_plans_and_reports_broken_ones() {
    let out = bin()
        .args([
            "plans",
            "check",
            concat!(env!("CARGO_MANIFEST_DIR"), "/plans"),
        ])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/plans/forest-fire.toml"
    ))
    .expect("plan");
    std::fs::write(
        dir.path().join("broken.toml"),
        shipped.replacen("\n[[levels]]\n", "\n[[levels]]\ncolour = 1\n", 1),
    )
    .expect("write");
    let out = bin()
        .args(["plans", "check"])
        .arg(dir.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().next().unwrap_or("");
    let parts: Vec<&str> = line.splitn(4, ':').collect();
    assert!(
        parts.len() == 4
            && parts[0].ends_with("broken.toml")
            && parts[1].parse::<usize>().is_ok()
            && parts[2].parse::<usize>().is_ok(),
        "{stdout}"
    );
    assert!(line.contains("colour"), "{stdout}");
}

/// `serve --demo` started where there is no plans directory runs the sample
/// plans built into the binary; `plans init` writes them out (and will not
/// overwrite without --force), and `plans check`, reading the shelter
/// register from the same database, passes them and fails a plan naming a
/// shelter that is not registered, at its file:line:column.
#[tokio::test]
async fn built_in_plans_init_and_check_against_the_register() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(!dir.path().join("plans").exists());
    let (mut child, token, addr) = start_demo(dir.path());
    let v: serde_json::Value = reqwest::Client::new()
        .get(format!("{addr}/api/v1/plans"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("plans")
        .json()
        .await
        .expect("json");
    let ids: Vec<&str> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert_eq!(ids, vec!["flood-typhoon", "forest-fire"], "{v}");
    terminate(&mut child).await;

    let out_dir = dir.path().join("my-plans");
    let init = |force: bool| {
        let mut c = bin();
        c.args(["plans", "init"]).arg(&out_dir);
        if force {
            c.arg("--force");
        }
        c.output().expect("run")
    };
    let out = init(false);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in ["flood-typhoon.toml", "forest-fire.toml", "README.md"] {
        assert!(out_dir.join(f).is_file(), "{f} written");
    }
    let check = |d: &std::path::Path| {
        bin()
            .args(["plans", "check", "--with-database"])
            .arg(d)
            .env("FENGHUO_DATA_DIR", dir.path().join("data"))
            .output()
            .expect("run")
    };
    let out = check(&out_dir);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("not checked"),
        "villages and shelters were checked: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // An edited file is not overwritten unless asked.
    std::fs::write(out_dir.join("forest-fire.toml"), "# mine\n").expect("edit");
    let out = init(false);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    assert_eq!(
        std::fs::read_to_string(out_dir.join("forest-fire.toml")).expect("read"),
        "# mine\n"
    );
    assert!(init(true).status.success());
    assert_ne!(
        std::fs::read_to_string(out_dir.join("forest-fire.toml")).expect("read"),
        "# mine\n"
    );

    // A shelter the register does not hold.
    let flood = std::fs::read_to_string(out_dir.join("flood-typhoon.toml")).expect("read");
    let line = flood
        .lines()
        .position(|l| l.contains("\"BZ-S05-1\""))
        .expect("BZ-S05-1 is named")
        + 1;
    let column = flood
        .lines()
        .nth(line - 1)
        .and_then(|l| l.find("\"BZ-S05-1\""))
        .map(|b| {
            flood
                .lines()
                .nth(line - 1)
                .map_or(0, |l| l[..b].chars().count())
                + 1
        })
        .expect("column");
    std::fs::write(
        out_dir.join("flood-typhoon.toml"),
        flood.replacen("\"BZ-S05-1\"", "\"BZ-S05-9\"", 1),
    )
    .expect("edit");
    let out = check(&out_dir);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let want = format!(
        "flood-typhoon.toml:{line}:{column}: shelter 'BZ-S05-9' is not in the shelter register (避灾点未登记)"
    );
    assert!(stdout.lines().any(|l| l.contains(&want)), "{stdout}");
}
