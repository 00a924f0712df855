//! The API against its own OpenAPI document: Schemathesis (PyPI, pinned in
//! .ci/run) generates requests from `/api/v1/openapi.json`, valid and
//! invalid, sends them to the running daemon with an admin token, and
//! checks every answer: no 5xx, a documented status and content type, a body
//! that matches the documented schema, invalid input refused, missing
//! authentication refused.
mod common;

use std::process::Command;
use std::time::Instant;

use common::{Backend, TestApp, square};
use reqwest::StatusCode;
use serde_json::json;

/// Generated examples per operation (Schemathesis' --max-examples), besides
/// the boundary cases of the coverage phase. An operation with few possible
/// inputs (no parameters, one integer id) stops when they are exhausted. The
/// whole run takes about a minute per backend on two cores.
const EXAMPLES: &str = "50";

/// Operations the fuzzer must not call, and why.
const EXCLUDED: &[(&str, &str)] = &[(
    "delete_tokens_id",
    "DELETE /api/v1/tokens/{id} revokes API tokens, the fuzzer's own among them (its id is small): every later request \
     would be a 401",
)];

/// Settings Schemathesis reads from its configuration file.
///
/// `positive_data_acceptance` sends requests the schema allows and expects
/// them accepted; it also allows a 422 here. The schema states types, enums,
/// ranges and required fields, all of which are parsed at the edge, but not
/// the rules that need the database or the daemon's settings: a village id
/// that must exist, a boundary that must be a closed ring inside the
/// township's limits, a cron expression, a date not in the future, a plan
/// that must be in force, SMS switched off in this configuration. Those are
/// refused with a 422 naming the field, which is what the check sees.
/// Every other check keeps its default statuses.
const CONFIG: &str = r#"
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "422"]
"#;

fn schemathesis() -> Option<String> {
    let bin = std::env::var("SCHEMATHESIS").unwrap_or_else(|_| "schemathesis".into());
    match Command::new(&bin).arg("--version").output() {
        Ok(o) if o.status.success() => Some(bin),
        _ => {
            common::skip_or_fail(
                "schemathesis is not installed (python3 -m pip install schemathesis, the version in .ci/run)",
            );
            None
        }
    }
}

async fn seed(app: &TestApp) {
    // A record of each kind at id 1, so generated ids sometimes hit one and
    // its answer is checked against the document too.
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "C01", "name": "一村", "boundary": square(118.0, 25.2, 0.01)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = app
        .post(
            "/api/v1/contacts",
            json!({"name": "张三", "roles": ["村主任"], "village_id": 1, "phone": "138 0013 8000"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = app
        .post(
            "/api/v1/sites",
            json!({"name": "烟花店", "kind": "fireworks_retail", "risk_grade": "general",
                   "location": {"lon": 118.005, "lat": 25.205}, "village_id": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let team = app.inspectors(&["李四", "王五"]).await;
    let (s, v) = app
        .post(
            "/api/v1/sites/1/inspections",
            json!({"inspected_on": "2026-01-05", "inspector_ids": team,
                   "findings": [{"grade": "general", "item": "灭火器过期", "deadline": "2026-02-01"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = app
        .post(
            "/api/v1/drills",
            json!({"title": "防汛演练", "cron": "0 9 1 */3 *", "villages": "all", "roles": ["村主任"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

async fn contract(backend: Backend) {
    let Some(bin) = schemathesis() else {
        return;
    };
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    seed(&app).await;
    let dir = app.dir.path().to_path_buf();
    let config = dir.join("schemathesis.toml");
    std::fs::write(&config, CONFIG).expect("config");
    let report = std::env::var("FENGHUO_SCHEMATHESIS_REPORT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.join("report.json"));
    let mut args: Vec<String> = vec![
        "--no-color".into(),
        "--config-file".into(),
        config.display().to_string(),
        "run".into(),
        format!("{}/api/v1/openapi.json", app.base),
        "--url".into(),
        app.base.clone(),
        "--checks".into(),
        "all".into(),
        "--max-examples".into(),
        EXAMPLES.into(),
        // Examples, boundary cases and random data per operation; the
        // stateful phase (chains of calls) is left out to bound the time.
        "--phases".into(),
        "examples,coverage,fuzzing".into(),
        "--seed".into(),
        "11".into(),
        "--request-timeout".into(),
        "30".into(),
        "--report".into(),
        "json".into(),
        "--report-json-path".into(),
        report.display().to_string(),
        "--generation-database".into(),
        "none".into(),
        "-H".into(),
        format!("Authorization: Bearer {}", app.admin),
    ];
    for (operation, _why) in EXCLUDED {
        args.push("--exclude-operation-id".into());
        args.push((*operation).into());
    }
    let started = Instant::now();
    let out = tokio::task::spawn_blocking(move || {
        let run = |workers: &str| {
            Command::new(&bin)
                .args(&args)
                .args(["--workers", workers])
                .current_dir(&dir)
                .env("NO_COLOR", "1")
                .output()
        };
        let first = run("2")?;
        // CPython 3.11's AST conversion is not thread-safe: with two workers,
        // hypothesis describing a lambda can die with this SystemError inside
        // schemathesis itself, before any request. Such a run says nothing
        // about the API, so it is run again with one worker, where the race
        // cannot happen; a real failure is never retried.
        let text = String::from_utf8_lossy(&first.stdout);
        if !first.status.success()
            && text.contains("AST constructor recursion depth mismatch")
            && !text.contains("FAILURES")
        {
            eprintln!(
                "schemathesis ({backend:?}) hit CPython's AST race; running it again with one worker"
            );
            return run("1");
        }
        Ok(first)
    })
    .await
    .expect("join")
    .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!(
        "schemathesis ({backend:?}) took {:.0} s",
        started.elapsed().as_secs_f64()
    );
    // The summary (operations, checks and their counts) is the tail.
    let tail: Vec<&str> = stdout.lines().rev().take(60).collect();
    for l in tail.iter().rev() {
        eprintln!("{l}");
    }
    assert!(
        out.status.success(),
        "schemathesis found problems ({backend:?}):\n{stdout}\n{stderr}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_matches_its_document_sqlite() {
    contract(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_matches_its_document_postgres() {
    contract(Backend::Postgres).await;
}
