//! What the county engineer runs the daemon with: `/metrics` (parsed by the
//! `prometheus_client` parsers from PyPI; its counters follow a notice that is
//! sent, fails for one person, is answered and escalated; no label holds a
//! phone number, an e-mail address or a token; refused without an admin token
//! on the main listener), the request id in headers, error bodies and pages,
//! and the shipped Prometheus files (`promtool check rules`, every metric
//! they name exists). Logs and `config check` run the binary: tests/cli.rs.

mod common;
#[path = "support/sms_provider_sim.rs"]
mod sms_provider_sim;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};

use common::{Backend, TestApp, square};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sms_provider_sim::{Creds, Kind};

/// The registry is the process's: tests that send notices run one at a time
/// so that the flow's counters move by exactly what it did.
static FLOW: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the exposition with `prometheus_client`'s OpenMetrics parser (strict:
/// types, suffixes, `# EOF`) and its Prometheus text-format parser; gives every
/// sample. Without Python or the package (outside CI) a small parser stands in.
fn parse(text: &str) -> Vec<Sample> {
    const SCRIPT: &str = r##"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
from prometheus_client.parser import text_string_to_metric_families as prometheus
text = sys.stdin.read()
out = []
for family in openmetrics(text):
    for s in family.samples:
        out.append({"name": s.name, "labels": s.labels, "value": s.value})
classic = sum(len(f.samples) for f in prometheus(text.replace("# EOF\n", "")))
if classic != len(out):
    sys.exit("the Prometheus text parser read %d samples, the OpenMetrics one %d" % (classic, len(out)))
print(json.dumps(out))
"##;
    let child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let output = child.ok().and_then(|mut c| {
        use std::io::Write;
        c.stdin.take()?.write_all(text.as_bytes()).ok()?;
        c.wait_with_output().ok()
    });
    match output {
        Some(o) if o.status.success() => {
            let v: Value = serde_json::from_slice(&o.stdout).expect("parser output");
            v.as_array()
                .expect("samples")
                .iter()
                .map(|s| Sample {
                    name: s["name"].as_str().expect("name").to_string(),
                    labels: s["labels"]
                        .as_object()
                        .expect("labels")
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                        .collect(),
                    value: s["value"].as_f64().expect("value"),
                })
                .collect()
        }
        Some(o) if String::from_utf8_lossy(&o.stderr).contains("No module named") => {
            common::skip_or_fail(
                "the prometheus_client parser is missing (pip install prometheus_client)",
            );
            fallback_parse(text)
        }
        Some(o) => panic!(
            "/metrics does not parse: {}\n{text}",
            String::from_utf8_lossy(&o.stderr)
        ),
        None => {
            common::skip_or_fail("python3 is missing (the prometheus_client parser)");
            fallback_parse(text)
        }
    }
}

/// `name{a="b",…} value` lines, for a machine without the Python parser.
fn fallback_parse(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').expect("a sample line");
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let labels = labels
            .split("\",")
            .filter(|p| !p.is_empty())
            .filter_map(|p| p.split_once("=\""))
            .map(|(k, v)| (k.to_string(), v.trim_end_matches('"').to_string()))
            .collect();
        out.push(Sample {
            name: name.to_string(),
            labels,
            value: value.parse().expect("a number"),
        });
    }
    out
}

/// The sum of the samples named `name` whose labels include `labels`.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

async fn scrape(app: &TestApp) -> (String, Vec<Sample>) {
    let r = app
        .client
        .get(format!("{}/metrics", app.base))
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("scrape");
    assert_eq!(r.status(), StatusCode::OK);
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    let text = r.text().await.expect("body");
    let samples = parse(&text);
    (text, samples)
}

fn settled(v: &Value) -> bool {
    let s = &v["delivery_states"];
    s["total"].as_i64().unwrap_or(0) > 0 && s["queued"] == 0 && s["sending"] == 0
}

/// Seven digits in a row (any phone number, with or without +86), an `@`, or
/// one of the secrets the flow used.
fn leaks(value: &str, secrets: &[&str]) -> bool {
    let mut run = 0;
    for c in value.chars() {
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        if run >= 7 {
            return true;
        }
    }
    value.contains('@') || secrets.iter().any(|s| !s.is_empty() && value.contains(s))
}

async fn counters_follow_a_notice(b: Backend) {
    let _one_at_a_time = FLOW.lock().await;
    let sim = sms_provider_sim::start(Kind::Webhook, Creds::new("", "hook-secret-ops")).await;
    let Some(app) = TestApp::start_with(b, |c| sim.configure(&mut c.sms)).await else {
        return;
    };
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "M1", "name": "溪口村", "boundary": square(118.0, 25.2, 0.01)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let vid = v["id"].as_i64().expect("id");
    let mut contacts = Vec::new();
    for (i, name) in ["林支书", "陈主任", "吴网格"].iter().enumerate() {
        let (s, c) = app
            .post(
                "/api/v1/contacts",
                json!({"name": name, "roles": ["网格员"], "village_id": vid,
                       "phone": format!("1380013100{i}"), "email": format!("p{i}@xikou.example.cn"),
                       "escalation_order": i + 1}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        contacts.push(c["id"].as_i64().expect("contact id"));
    }
    // The provider refuses 陈主任's number for good.
    sim.fail_number("+8613800131001", 400, "空号");
    let (_, before) = scrape(&app).await;
    let sms = |outcome: &'static str| {
        [
            ("channel", "sms"),
            ("provider", "webhook"),
            ("outcome", outcome),
        ]
    };

    let (s, v) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "山洪预警", "body": "请立即转移。", "level": 2, "ack_within_minutes": 10,
                   "channels": ["sms", "email"], "targets": {"villages": [vid]}}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let id = v["id"].as_i64().expect("id");
    let board = app.wait_alert(id, 30, settled).await;
    assert_eq!(board["delivery_states"]["failed"], 1, "{board}");
    // 林支书 answers by the link in the SMS.
    let token = app.token_of(id, contacts[0]).await;
    let r = app
        .client
        .post(format!("{}/a/{token}", app.base))
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), StatusCode::OK);
    // The outcomes are counted as the writer records them, just after the
    // board can show them: wait for the last to be counted.
    let mut waited = 0;
    let (text, after) = loop {
        let (text, after) = scrape(&app).await;
        let recorded = value(&after, "fenghuo_deliveries_total", &[]);
        if recorded - value(&before, "fenghuo_deliveries_total", &[]) >= 6.0 || waited > 100 {
            break (text, after);
        }
        waited += 1;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let delta = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    assert_eq!(
        delta("fenghuo_deliveries_total", &sms("sent")),
        2.0,
        "{text}"
    );
    assert_eq!(
        delta("fenghuo_deliveries_total", &sms("failed")),
        1.0,
        "{text}"
    );
    assert_eq!(
        delta(
            "fenghuo_deliveries_total",
            &[
                ("channel", "email"),
                ("provider", "spool"),
                ("outcome", "sent")
            ]
        ),
        3.0,
        "{text}"
    );
    assert_eq!(
        delta(
            "fenghuo_send_errors_total",
            &[("channel", "sms"), ("class", "permanent")]
        ),
        1.0
    );
    assert_eq!(
        delta(
            "fenghuo_sms_provider_errors_total",
            &[("provider", "webhook"), ("class", "http_4xx")]
        ),
        1.0
    );
    assert_eq!(
        delta(
            "fenghuo_sms_provider_request_duration_seconds_count",
            &[("provider", "webhook")]
        ),
        3.0
    );
    assert_eq!(
        delta(
            "fenghuo_send_duration_seconds_count",
            &[("channel", "sms"), ("provider", "webhook")]
        ),
        3.0
    );
    assert_eq!(
        delta(
            "fenghuo_answers_total",
            &[("via", "link"), ("counted", "first")]
        ),
        1.0
    );
    assert_eq!(
        delta(
            "fenghuo_http_requests_total",
            &[
                ("method", "POST"),
                ("route", "/api/v1/alerts"),
                ("status", "202")
            ]
        ),
        1.0
    );
    assert_eq!(
        delta(
            "fenghuo_http_request_duration_seconds_count",
            &[
                ("method", "POST"),
                ("route", "/api/v1/alerts"),
                ("status", "202")
            ]
        ),
        1.0
    );
    assert_eq!(
        delta(
            "fenghuo_http_requests_total",
            &[("route", "/a/{token}"), ("status", "200")]
        ),
        1.0,
        "the answer link counted under its route template"
    );
    assert!(delta("fenghuo_db_write_wait_seconds_count", &[]) >= 1.0);
    // States read at the scrape: the repeats wait in the queue, the pools, the process.
    assert!(
        value(
            &after,
            "fenghuo_delivery_queue_depth",
            &[("channel", "sms")]
        ) >= 0.0
    );
    assert_eq!(
        value(
            &after,
            "fenghuo_circuit_breaker_open",
            &[("channel", "sms")]
        ),
        0.0
    );
    assert_eq!(value(&after, "fenghuo_write_probe_ok", &[]), 1.0);
    assert!(value(&after, "fenghuo_db_pool_max_connections", &[]) >= 1.0);
    assert!(value(&after, "process_resident_memory_bytes", &[]) > 1e6);
    assert!(value(&after, "process_open_fds", &[]) >= 3.0);
    assert!(value(&after, "fenghuo_data_dir_size_bytes", &[]) > 0.0);
    assert_eq!(
        value(
            &after,
            "fenghuo_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );

    // Ten minutes on, the two silent ones are called again.
    let fired = fenghuo::notify::response::escalation::tick(
        &app.notifier(),
        fenghuo::store::now_ms() + 11 * 60_000,
    )
    .await
    .expect("escalation");
    assert!(fired >= 2, "{fired}");
    let (text, after) = scrape(&app).await;
    assert!(
        value(&after, "fenghuo_escalations_total", &[("step", "repeat")])
            - value(&before, "fenghuo_escalations_total", &[("step", "repeat")])
            >= 2.0,
        "{text}"
    );

    // No series carries a number, an address or a secret.
    let secrets = [app.admin.as_str(), token.as_str(), "hook-secret-ops", "fh_"];
    for s in &after {
        for (k, v) in &s.labels {
            assert!(!leaks(v, &secrets), "{}{{{k}={v:?}}} leaks", s.name);
        }
    }
    for needle in ["13800131", "xikou.example.cn", token.as_str()] {
        assert!(!text.contains(needle), "{needle} in /metrics");
    }
    app.stop().await;
}
both!(counters_follow_a_notice);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_an_admin_token_unless_on_their_own_listener() {
    let Some(app) = TestApp::start_with(Backend::Sqlite, |c| {
        c.metrics.listen = Some("127.0.0.1:0".parse().expect("addr"));
    })
    .await
    else {
        return;
    };
    let url = format!("{}/metrics", app.base);
    let r = app.client.get(&url).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let id = r
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("a request id")
        .to_string();
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["request_id"], id.as_str(), "{body}");
    let viewer = app.token("viewer").await;
    let r = app
        .client
        .get(&url)
        .bearer_auth(&viewer)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let (text, _) = scrape(&app).await;
    assert!(text.contains("fenghuo_build_info"), "{text}");
    // The listener of its own answers without a token, and only /metrics.
    let at = app.metrics_addr().expect("metrics listener");
    assert!(at.ip().is_loopback());
    let r = app
        .client
        .get(format!("http://{at}/metrics"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    let samples = parse(&r.text().await.expect("text"));
    assert_eq!(value(&samples, "fenghuo_write_probe_ok", &[]), 1.0);
    let r = app
        .client
        .get(format!("http://{at}/api/v1/villages"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_a_request_id() {
    let Some(app) = TestApp::start(Backend::Sqlite).await else {
        return;
    };
    let id_of = |r: &reqwest::Response| {
        r.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    // Made when absent, and different each time.
    let r1 = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .expect("get");
    let r2 = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .expect("get");
    let (a, b) = (id_of(&r1).expect("id"), id_of(&r2).expect("id"));
    assert!(a.len() >= 16 && a != b, "{a} {b}");
    // The caller's own id is kept; one that is not a plain short token is replaced.
    let r = app
        .client
        .get(format!("{}/api/v1/villages/999999", app.base))
        .bearer_auth(&app.admin)
        .header("x-request-id", "clerk-screenshot-42")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(id_of(&r).as_deref(), Some("clerk-screenshot-42"));
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["request_id"], "clerk-screenshot-42", "{body}");
    let r = app
        .client
        .get(format!("{}/healthz", app.base))
        .header("x-request-id", "<script>alert(1)</script>")
        .send()
        .await
        .expect("get");
    let replaced = id_of(&r).expect("id");
    assert!(!replaced.contains('<'), "{replaced}");
    // A 422 names its field and the id.
    let r = app
        .client
        .get(format!("{}/api/v1/villages?per_page=9999", app.base))
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let id = id_of(&r).expect("id");
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["field"], "per_page", "{body}");
    assert_eq!(body["error"]["request_id"], id.as_str(), "{body}");
    // The dashboard's error page shows it too.
    let r = app
        .client
        .get(format!("{}/no-such-page", app.base))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let id = id_of(&r).expect("id");
    let page = r.text().await.expect("page");
    assert!(
        page.contains(&format!("<code>{id}</code>")),
        "the id on the page: {page}"
    );
    app.stop().await;
}

fn deploy(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/prometheus")
        .join(path)
}

/// Runs promtool, or says it is missing (Debian's `prometheus` package).
fn promtool(args: &[&str]) -> Option<std::process::Output> {
    match Command::new("promtool").args(args).output() {
        Ok(o) => Some(o),
        Err(_) => {
            common::skip_or_fail("promtool is missing (apt-get install prometheus)");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shipped_prometheus_files_check_and_name_real_metrics() {
    let rules = deploy("fenghuo-alerts.yml");
    if let Some(o) = promtool(&["check", "rules", rules.to_str().expect("path")]) {
        assert!(
            o.status.success(),
            "promtool check rules: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let config = deploy("prometheus.yml");
    if let Some(o) = promtool(&[
        "check",
        "config",
        "--syntax-only",
        config.to_str().expect("path"),
    ]) {
        assert!(
            o.status.success(),
            "promtool check config: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let rules_text = std::fs::read_to_string(&rules).expect("rules");
    let dashboard_text = std::fs::read_to_string(deploy("grafana-dashboard.json")).expect("json");
    let dashboard: Value = serde_json::from_str(&dashboard_text).expect("the dashboard is JSON");
    assert!(
        dashboard["panels"].as_array().is_some_and(|p| p.len() > 10),
        "panels"
    );
    for alert in [
        "FenghuoQueueNotDraining",
        "FenghuoProviderFailing",
        "FenghuoProviderDown",
        "FenghuoDeliveryPastAnswerWindow",
        "FenghuoDiskAlmostFull",
        "FenghuoCanaryFailed",
    ] {
        assert!(rules_text.contains(&format!("alert: {alert}")), "{alert}");
    }

    // Every metric the rules and the dashboard use is one the daemon serves
    // (once it has sent a notice: a histogram appears with its first value).
    let _one_at_a_time = FLOW.lock().await;
    let sim = sms_provider_sim::start(Kind::Webhook, Creds::new("", "hook-secret-ops")).await;
    let Some(app) = TestApp::start_with(Backend::Sqlite, |c| sim.configure(&mut c.sms)).await
    else {
        return;
    };
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "M2", "name": "石门村", "boundary": square(118.1, 25.3, 0.01)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, c) = app
        .post(
            "/api/v1/contacts",
            json!({"name": "郑书记", "roles": ["网格员"], "village_id": v["id"], "phone": "13800132000"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let (s, a) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "测试", "body": "系统测试。", "level": 4, "targets": {"villages": [v["id"]]}}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{a}");
    app.wait_alert(a["id"].as_i64().expect("id"), 30, settled)
        .await;
    let (text, _) = scrape(&app).await;
    app.stop().await;
    let mut served = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let (name, kind) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            served.insert(name.to_string());
            match kind {
                "counter" => {
                    served.insert(format!("{name}_total"));
                }
                "histogram" => {
                    for s in ["_bucket", "_count", "_sum"] {
                        served.insert(format!("{name}{s}"));
                    }
                }
                _ => {}
            }
        }
    }
    let mut used = BTreeSet::new();
    for source in [&rules_text, &dashboard_text] {
        for word in source.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if word.starts_with("fenghuo_") || word.starts_with("process_") {
                used.insert(word.to_string());
            }
        }
    }
    assert!(used.len() > 15, "{used:?}");
    let missing: Vec<&String> = used.difference(&served).collect();
    assert!(missing.is_empty(), "not served: {missing:?}\n{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drill_reminders_are_counted_sent_late_and_missed() {
    use chrono::TimeZone;
    let _one_at_a_time = FLOW.lock().await;
    let Some(app) = TestApp::start(Backend::Sqlite).await else {
        return;
    };
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "M3", "name": "坑头村", "boundary": square(118.2, 25.4, 0.01)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, c) = app
        .post(
            "/api/v1/contacts",
            json!({"name": "黄网格", "roles": ["网格员"], "village_id": v["id"], "phone": "13800133000"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    // Ten days ahead at 10:10 in Shanghai, reminders 7 days, 1 day and 2 hours before.
    let day = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
        + chrono::Duration::days(10);
    let at = chrono_tz::Asia::Shanghai
        .from_local_datetime(&day.and_hms_opt(10, 10, 0).expect("time"))
        .single()
        .expect("local");
    let occ = at.timestamp_millis();
    let (s, d) = app
        .post(
            "/api/v1/drills",
            json!({"title": "防汛转移演练", "at": at.format("%Y-%m-%dT%H:%M").to_string(),
                   "villages": [v["id"]], "lead_times": ["7d", "1d", "2h"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    const MIN: i64 = 60_000;
    const DAY: i64 = 24 * 60 * MIN;
    let count = |samples: &[Sample], outcome: &str| {
        value(
            samples,
            "fenghuo_drill_reminders_total",
            &[("outcome", outcome)],
        )
    };
    let (_, before) = scrape(&app).await;
    let n = app.notifier();
    use fenghuo::drills::reminders::tick;
    // On time; a day late (the daemon was down); the last one's drill has begun.
    assert_eq!(tick(&n, occ - 7 * DAY + MIN).await.expect("tick").sent, 1);
    assert_eq!(tick(&n, occ - DAY + 30 * MIN).await.expect("tick").sent, 1);
    assert_eq!(tick(&n, occ + MIN).await.expect("tick").missed, 1);
    let (text, after) = scrape(&app).await;
    for (outcome, moved) in [
        ("sent", 1.0),
        ("late", 1.0),
        ("missed", 1.0),
        ("unaddressed", 0.0),
    ] {
        assert_eq!(
            count(&after, outcome) - count(&before, outcome),
            moved,
            "{outcome}: {text}"
        );
    }
    app.stop().await;
}
