//! A burst of sign-ins against the real daemon, alone in its test binary so
//! that the process's resident memory is the daemon's: password checks are
//! bounded, so memory stays flat however many arrive at once.

mod common;
#[path = "support/web_client.rs"]
mod web_client;

use common::{Backend, TestApp};
use reqwest::StatusCode;
use web_client::Web;

/// This process's resident set, in MiB, from /proc.
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// 200 sign-ins at once, each from its own address for its own name (so the
/// lock-out does not stop them): argon2 (~19 MiB each) runs a core's worth at
/// a time, the rest wait or get 429, and memory grows by less than 64 MiB.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_sign_ins_keeps_memory_flat() {
    let Some(app) = TestApp::start_with(Backend::Sqlite, |c| {
        c.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")];
    })
    .await
    else {
        return;
    };
    let before = rss_mib();
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        tokio::spawn(async move {
            let mut peak = 0.0_f64;
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_mib());
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            peak
        })
    };
    // One connection pool for the whole burst: this process's memory is to
    // be the daemon's, not 200 clients'.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut burst = tokio::task::JoinSet::new();
    for i in 0..200 {
        let base = app.base.clone();
        let client = client.clone();
        burst.spawn(async move {
            let web = Web::with_client(&base, client);
            let form = web.get("/login").await;
            let body: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs([
                    ("_csrf", form.csrf().as_str()),
                    ("name", format!("user{i}").as_str()),
                    ("password", "not-the-password"),
                ])
                .finish();
            web.send(
                web.client
                    .post(format!("{base}/login"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header(
                        "x-forwarded-for",
                        format!("198.18.{}.{}", i / 200, i % 200 + 1),
                    )
                    .body(body),
            )
            .await
            .status
        });
    }
    let got: Vec<StatusCode> = burst.join_all().await;
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.await.expect("sampler");
    let checked = got
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let busy = got
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    eprintln!(
        "200 sign-ins: {checked} checked, {busy} told to retry; RSS {before:.1} MiB before, peak {peak:.1} MiB"
    );
    assert_eq!(checked + busy, 200, "{got:?}");
    assert!(checked >= 2, "some were checked: {got:?}");
    // What the burst adds, not the process's size: the daemon's own workers
    // (voice, robots, SMS paths …) and the test harness are there before it.
    // Unbounded, 200 password checks would add 200 × 19 MiB.
    assert!(
        peak - before < 64.0,
        "resident memory grew by {:.1} MiB during the burst ({before:.1} → {peak:.1})",
        peak - before
    );
    // The daemon answers afterwards.
    let r = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .expect("healthz");
    assert_eq!(r.status(), StatusCode::OK);
    app.stop().await;
}
