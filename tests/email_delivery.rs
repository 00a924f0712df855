//! E-mail through a real SMTP server on loopback (aiosmtpd, which parses the
//! message with Python's own e-mail package): headers, UTF-8 Chinese subject
//! and body, permanent rejections, and a channel that is down while the
//! other channel goes on.

mod common;
#[path = "support/smtp_sink.rs"]
mod smtp_sink;

use std::time::Duration;

use common::{Backend, TestApp, square};
use reqwest::StatusCode;
use serde_json::{Value, json};
use smtp_sink::SmtpSink;

async fn village(app: &TestApp, emails: &[&str]) -> i64 {
    let (_, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "M1", "name": "茶园村", "boundary": square(118.0, 25.2, 0.01)}),
        )
        .await;
    let vid = v["id"].as_i64().expect("id");
    for (i, e) in emails.iter().enumerate() {
        let (s, c) = app
            .post("/api/v1/contacts", json!({"name": format!("联系人{i}"), "roles": ["村支书"], "village_id": vid, "phone": format!("1350000{i:04}"), "email": e}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
    }
    vid
}

fn settled(v: &Value) -> bool {
    let s = &v["delivery_states"];
    s["total"].as_i64().unwrap_or(0) > 0 && s["queued"] == 0 && s["sending"] == 0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chinese_email_arrives_intact() {
    let sink = SmtpSink::start(&["--fail-rcpt", "bad@example.test:550"]);
    let port = sink.port;
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        c.email.host = "127.0.0.1".into();
        c.email.port = port;
        c.email.tls = "none".into();
        c.email.from = "湖上乡应急办 <yjb@hushang.example.test>".into();
    })
    .await
    .expect("app");
    let vid = village(
        &app,
        &["a@example.test", "b@example.test", "bad@example.test"],
    )
    .await;
    let (s, a) = app
        .post("/api/v1/alerts", json!({"title": "台风橙色预警", "body": "{name}：台风“海燕”预计明晨登陆，{village}请转移危险区群众。", "level": "orange", "channels": ["email"], "targets": {"villages": [vid]}}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{a}");
    let id = a["id"].as_i64().expect("id");
    let board = app.wait_alert(id, 30, settled).await;
    assert_eq!(
        (
            board["delivery_states"]["sent"].as_i64(),
            board["delivery_states"]["failed"].as_i64()
        ),
        (Some(2), Some(1)),
        "{board}"
    );
    let got = sink.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 2, "{}", sink.stderr());
    let (_, deliveries) = app.get(&format!("/api/v1/alerts/{id}/deliveries")).await;
    for m in &got {
        let subject = m["subject"].as_str().unwrap_or("");
        assert!(subject.contains("Ⅱ级（橙色）台风橙色预警"), "{m}");
        assert!(
            m["raw_subject_header"]
                .as_str()
                .is_some_and(|h| h.contains("=?utf-8?")),
            "the subject is RFC 2047 encoded: {m}"
        );
        let text = m["text"].as_str().unwrap_or("");
        assert!(
            text.contains("台风“海燕”预计明晨登陆，茶园村请转移危险区群众。")
                && text.contains("/a/"),
            "{m}"
        );
        assert!(
            m["html"].as_str().is_some_and(|h| h.contains("确认收到")),
            "{m}"
        );
        assert!(
            m["from"].as_str().is_some_and(
                |f| f.contains("湖上乡应急办") && f.contains("yjb@hushang.example.test")
            ),
            "{m}"
        );
        let to = m["rcpt_tos"][0].as_str().unwrap_or("");
        let reference = m["reference"].as_str().unwrap_or("");
        let d = deliveries["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|d| d["id"].as_i64().map(|i| i.to_string()).as_deref() == Some(reference))
            .expect("reference names the delivery");
        assert_eq!(d["address"].as_str(), Some(to));
        assert_eq!(
            d["provider_id"]
                .as_str()
                .map(|p| p.trim_matches(['<', '>'])),
            m["message_id"].as_str().map(|p| p.trim_matches(['<', '>']))
        );
    }
    let failed = deliveries["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|d| d["state"] == "failed")
        .expect("failed");
    assert_eq!(failed["address"], "bad@example.test");
    assert!(
        failed["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("550")),
        "{failed}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_that_is_down_does_not_stop_the_other() {
    // A port with nothing listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        c.email.host = "127.0.0.1".into();
        c.email.port = port;
        c.delivery.max_attempts = 50;
    })
    .await
    .expect("app");
    let vid = village(&app, &["a@example.test", "b@example.test"]).await;
    let (_, a) = app
        .post("/api/v1/alerts", json!({"title": "通知", "body": "请注意", "channels": ["sms", "email"], "targets": {"villages": [vid]}}))
        .await;
    let id = a["id"].as_i64().expect("id");
    let board = app
        .wait_alert(id, 20, |v| v["delivery_states"]["sent"] == 2)
        .await;
    assert_eq!(board["delivery_states"]["total"], 4);
    let (_, d) = app.get(&format!("/api/v1/alerts/{id}/deliveries")).await;
    for item in d["items"].as_array().expect("items") {
        match item["channel"].as_str() {
            Some("sms") => assert_eq!(item["state"], "sent", "{item}"),
            _ => {
                assert_ne!(item["state"], "sent", "{item}");
                assert_ne!(
                    item["state"], "failed",
                    "a transient outage is retried, not given up at once: {item}"
                );
            }
        }
    }
    app.stop().await;
}

/// Sends an e-mail notice to one new contact and waits until its delivery
/// has been tried three times, failing at `stage` each time, without being
/// failed for good (nor sent). Returns the alert id.
async fn send_and_see_it_retried(app: &TestApp, title: &str, body: &str, stage: &str) -> i64 {
    let vid = village(app, &["a@example.test"]).await;
    let (s, a) = app
        .post("/api/v1/alerts", json!({"title": title, "body": body, "channels": ["email"], "targets": {"villages": [vid]}}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{a}");
    let id = a["id"].as_i64().expect("id");
    let until = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, d) = app.get(&format!("/api/v1/alerts/{id}/deliveries")).await;
        let item = &d["items"][0];
        assert_ne!(
            item["state"], "failed",
            "a session refused fails nothing: {item}"
        );
        assert_ne!(item["state"], "sent", "{item}");
        if item["attempts"].as_i64().unwrap_or(0) >= 3 {
            assert!(
                item["last_error"]
                    .as_str()
                    .is_some_and(|e| e.contains(stage)),
                "{item}"
            );
            return id;
        }
        assert!(std::time::Instant::now() < until, "no retries: {item}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A refused login (a wrong password here) is about the server, not the
/// notice: the delivery waits and retries instead of failing for good, and
/// goes out once the office has fixed the password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_login_is_retried_until_fixed() {
    let sink = SmtpSink::start(&["--auth", "yjb:right-pass"]);
    let port = sink.port;
    let mut app = TestApp::start_with(Backend::Sqlite, |c| {
        c.email.host = "127.0.0.1".into();
        c.email.port = port;
        c.email.tls = "none".into();
        c.email.username = "yjb".into();
        c.email.password = "wrong-pass".into();
        c.delivery.max_attempts = 50;
        c.delivery.backoff_base_secs = 0.1;
        c.delivery.backoff_max_secs = 0.3;
    })
    .await
    .expect("app");
    let id = send_and_see_it_retried(&app, "停电通知", "{name}：今晚停电。", "AUTH").await;
    assert!(sink.messages().is_empty());
    app.cfg.email.password = "right-pass".into();
    app.restart().await;
    let board = app.wait_alert(id, 30, settled).await;
    assert_eq!(board["delivery_states"]["sent"], 1, "{board}");
    assert_eq!(sink.wait_for(1, Duration::from_secs(10)).await.len(), 1);
    app.stop().await;
}

/// Makes a certificate authority and a server certificate for 127.0.0.1
/// with Debian's openssl; returns (ca.crt, server.crt, server.key).
fn private_ca(dir: &std::path::Path) -> (String, String, String) {
    let p = |f: &str| dir.join(f).display().to_string();
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
    let steps: [Vec<String>; 3] = [
        [
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "30",
            "-subj",
            "/CN=Fenghuo test CA",
            "-keyout",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([p("ca.key"), "-out".into(), p("ca.crt")])
        .collect(),
        [
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([p("server.key"), "-out".into(), p("server.csr")])
        .collect(),
        vec![
            "x509".into(),
            "-req".into(),
            "-days".into(),
            "30".into(),
            "-in".into(),
            p("server.csr"),
            "-CA".into(),
            p("ca.crt"),
            "-CAkey".into(),
            p("ca.key"),
            "-CAcreateserial".into(),
            "-extfile".into(),
            p("server.ext"),
            "-out".into(),
            p("server.crt"),
        ],
    ];
    for args in steps {
        let out = std::process::Command::new("openssl")
            .args(&args)
            .output()
            .expect("openssl (apt-get install openssl)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (p("ca.crt"), p("server.crt"), p("server.key"))
}

/// STARTTLS to a server whose certificate comes from a private authority:
/// refused (and retried, not failed) while only the public authorities are
/// trusted, delivered over TLS once `email.ca_file` names that authority.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_with_a_private_certificate_authority() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ca, cert, key) = private_ca(dir.path());
    let sink = SmtpSink::start(&["--starttls", &cert, &key]);
    let port = sink.port;
    let mut app = TestApp::start_with(Backend::Sqlite, |c| {
        c.email.host = "127.0.0.1".into();
        c.email.port = port;
        c.email.tls = "starttls".into();
        c.delivery.max_attempts = 50;
        c.delivery.backoff_base_secs = 0.1;
        c.delivery.backoff_max_secs = 0.3;
    })
    .await
    .expect("app");
    let id = send_and_see_it_retried(&app, "测试", "{name}：加密投递测试。", "STARTTLS").await;
    app.cfg.email.ca_file = ca;
    app.restart().await;
    let board = app.wait_alert(id, 30, settled).await;
    assert_eq!(board["delivery_states"]["sent"], 1, "{board}");
    let got = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1, "{}", sink.stderr());
    assert_eq!(got[0]["tls"], true, "{}", got[0]);
    assert!(
        got[0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("加密投递测试")),
        "{}",
        got[0]
    );
    app.stop().await;
}
