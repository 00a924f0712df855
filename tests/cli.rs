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

/// A county's townships and scoped tokens from the command line; bad
/// codes and scopes are refused with a message naming what is wrong.
#[test]
fn townships_and_scoped_tokens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("d");
    let run = |args: &[&str]| {
        let out = bin()
            .args(args)
            .env("FENGHUO_DATA_DIR", &data)
            .output()
            .expect("run");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, out, err) = run(&[
        "township",
        "add",
        "--code",
        "350524102000",
        "--name",
        "乙镇",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("township 350524102000 乙镇"), "{out}");
    for (args, says) in [
        (
            vec!["township", "add", "--code", "3505", "--name", "x"],
            "12 digits",
        ),
        (
            vec![
                "township",
                "add",
                "--code",
                "350524102000",
                "--name",
                "again",
            ],
            "exists",
        ),
        (
            vec!["township", "add", "--code", "350524103000", "--name", " "],
            "name",
        ),
        (
            vec![
                "token", "create", "--name", "x", "--role", "viewer", "--scope", "planet",
            ],
            "unknown scope",
        ),
        (
            vec![
                "token", "create", "--name", "x", "--role", "viewer", "--scope", "village",
            ],
            "--village",
        ),
        (
            vec![
                "token",
                "create",
                "--name",
                "x",
                "--role",
                "viewer",
                "--township",
                "350524999000",
            ],
            "no township",
        ),
        (
            vec![
                "token",
                "create",
                "--name",
                "x",
                "--role",
                "viewer",
                "--scope",
                "village",
                "--village",
                "S99",
            ],
            "no village",
        ),
    ] {
        let (ok, _, err) = run(&args);
        assert!(!ok, "{args:?} was accepted");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let (ok, out, err) = run(&[
        "token",
        "create",
        "--name",
        "yz",
        "--role",
        "admin",
        "--township",
        "350524102000",
    ]);
    assert!(ok, "{err}");
    assert!(out.trim().starts_with("fh_"), "{out}");
    let (ok, out, _) = run(&["township", "list"]);
    assert!(ok);
    assert_eq!(out.lines().count(), 2, "{out}");
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

/// `serve` with `config` (TOML) in `dir`, its standard error collected: gives
/// the daemon, its address and the thread that gathers standard error.
fn start_logging(
    dir: &std::path::Path,
    config: &str,
) -> (Reap, String, std::thread::JoinHandle<String>) {
    let file = dir.join("fenghuo.toml");
    std::fs::write(&file, config).expect("write config");
    let child = bin()
        .arg("--config")
        .arg(&file)
        .arg("serve")
        .env("FENGHUO_DATA_DIR", dir.join("data"))
        .env("FENGHUO_LISTEN", "127.0.0.1:0")
        .env("FENGHUO_LOG", "info,fenghuo=debug")
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut child = Reap(child);
    let stdout = child.0.stdout.take().expect("stdout");
    let stderr = child.0.stderr.take().expect("stderr");
    let errors = std::thread::spawn(move || {
        let mut all = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut all);
        all
    });
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("daemon output");
        if let Some(a) = line.split("listening on ").nth(1) {
            return (child, a.trim().to_string(), errors);
        }
    }
}

/// A request that is refused (logged at info) and one that is answered
/// (debug); gives the refused one's request id from its response.
async fn two_requests(addr: &str) -> String {
    let client = reqwest::Client::new();
    let r = client
        .get(format!("{addr}/healthz"))
        .send()
        .await
        .expect("healthz");
    assert!(r.status().is_success());
    let r = client
        .get(format!("{addr}/api/v1/villages"))
        .bearer_auth("fh_not_a_token")
        .send()
        .await
        .expect("villages");
    assert_eq!(r.status(), reqwest::StatusCode::UNAUTHORIZED);
    let id = r
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("request id")
        .to_string();
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["error"]["request_id"], id.as_str(), "{body}");
    id
}

#[tokio::test]
async fn logs_to_a_pipe_are_plain_text_or_json_lines_with_the_request_id() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Text (the default) into a pipe, as journald or a file gets it: no colour codes.
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, addr, errors) = start_logging(dir.path(), "");
    let id = two_requests(&addr).await;
    terminate(&mut child).await;
    let text = errors.join().expect("stderr");
    assert!(text.contains("fenghuo listening"), "{text}");
    assert!(!text.contains('\u{1b}'), "escape characters in: {text:?}");
    let line = text
        .lines()
        .find(|l| l.contains("request refused"))
        .unwrap_or_else(|| panic!("no line for the refused request: {text}"));
    assert!(
        line.contains(&id) && line.contains("/api/v1/villages"),
        "{line}"
    );

    // JSON: every line parses; the request's lines carry its id and route.
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, addr, errors) = start_logging(dir.path(), "[log]\nformat = \"json\"\n");
    let id = two_requests(&addr).await;
    terminate(&mut child).await;
    let text = errors.join().expect("stderr");
    assert!(!text.contains('\u{1b}'), "{text:?}");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    assert!(lines.len() >= 3, "{text}");
    let ours: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["span"]["request_id"] == id.as_str())
        .collect();
    assert!(!ours.is_empty(), "no line carries {id}: {text}");
    for l in &ours {
        assert_eq!(l["span"]["route"], "/api/v1/villages", "{l}");
    }
    assert!(
        ours.iter()
            .any(|l| l["fields"]["message"] == "request refused" && l["fields"]["status"] == 401),
        "{text}"
    );
    // The answered request got a line of its own (debug), with another id.
    assert!(
        lines.iter().any(|l| l["span"]["route"] == "/healthz"
            && l["span"]["request_id"] != id.as_str()
            && l["fields"]["message"] == "request answered"),
        "{text}"
    );
}

/// `config check` with `toml` (and extra environment): exit status, standard
/// output, standard error.
fn config_check(toml: &str, env: &[(&str, &str)]) -> (bool, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("fenghuo.toml");
    std::fs::write(&file, toml).expect("write");
    let mut c = bin();
    c.arg("--config").arg(&file).args(["config", "check"]);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("run");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn config_check_shows_sources_masks_secrets_and_names_the_bad_key() {
    let good = "listen = \"127.0.0.1:9090\"\n\
                [sms]\nprovider = \"webhook\"\n\
                [sms.webhook]\nurl = \"https://sms-gw.county.example/send\"\nsecret = \"s3cret-hook-value\"\n";
    let (ok, out, err) = config_check(good, &[("FENGHUO_DATA_DIR", "/var/lib/fenghuo")]);
    assert!(ok, "{out}{err}");
    let line = |key: &str| {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(key))
            .unwrap_or_else(|| panic!("{key} not shown: {out}"))
            .to_string()
    };
    assert!(line("listen").ends_with("# file"), "{out}");
    assert!(
        line("data_dir").contains("/var/lib/fenghuo")
            && line("data_dir").ends_with("# env FENGHUO_DATA_DIR"),
        "{out}"
    );
    assert!(
        line("timezone").contains("Asia/Shanghai") && line("timezone").ends_with("# default"),
        "{out}"
    );
    assert!(line("sms.webhook.secret").contains("****"), "{out}");
    assert!(!out.contains("s3cret-hook-value"), "a secret shown: {out}");
    assert!(line("metrics.listen").contains("(unset)"), "{out}");

    for (toml, key) in [
        // A provider's secret left out.
        (
            "[sms]\nprovider = \"aliyun\"\n[sms.aliyun]\naccess_key_id = \"LTAI5t\"\nsign_name = \"湖上乡应急办\"\ntemplate_code = \"SMS_1\"\n",
            "sms.aliyun.access_key_secret",
        ),
        // A URL that is not one.
        (
            "[sms]\nprovider = \"webhook\"\n[sms.webhook]\nurl = \"sms-gw.county\"\nsecret = \"x\"\n",
            "sms.webhook.url",
        ),
        (
            "public_base_url = \"ftp://yjb.example\"\n",
            "public_base_url",
        ),
        // A zone that does not exist.
        ("timezone = \"Asia/Beijing\"\n", "timezone"),
        (
            "[email]\nhost = \"smtp.example\"\ntls = \"starttls\"\nca_file = \"/nonexistent/ca.pem\"\n",
            "email.ca_file",
        ),
        ("[sms]\nrate_per_second = 0\n", "sms.rate_per_second"),
        ("[log]\nformat = \"xml\"\n", "log.format"),
    ] {
        let (ok, out, err) = config_check(toml, &[]);
        assert!(!ok, "{toml} passed: {out}");
        assert!(
            err.contains(&format!("invalid setting {key}:")),
            "{toml}: {err}"
        );
        assert!(!out.is_empty(), "the settings are still shown");
    }

    // `serve` runs the same check and does not start.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "timezone = \"Asia/Beijing\"\n").expect("write");
    let out = bin()
        .arg("--config")
        .arg(&file)
        .arg("serve")
        .env("FENGHUO_DATA_DIR", dir.path().join("data"))
        .env("FENGHUO_LISTEN", "127.0.0.1:0")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("timezone"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
