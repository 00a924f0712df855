//! SMTP PIPELINING (RFC 2920) in the e-mail sender: to a server that
//! announces it, MAIL, RCPT and DATA go out in one write and their answers
//! are read after (one round trip where there were three); a refusal in the
//! group is reported and the session stays usable; to a server that does
//! not announce it, every command waits for its answer.
//!
//! The server here is a small SMTP server on loopback written for the
//! test: with PIPELINING announced it answers MAIL, RCPT and DATA only once
//! it has read DATA, so a client that waited for MAIL's answer would never
//! get one; without it, it notes any command that came before the answer to
//! the previous one.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fenghuo::config::EmailConfig;
use fenghuo::notify::delivery::channel::{EmailMessage, EmailSender, Outcome};
use fenghuo::notify::delivery::email::SmtpSender;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Default)]
struct Seen {
    sessions: usize,
    ehlos: usize,
    /// Commands that arrived while an earlier one was unanswered, on a
    /// server that did not announce PIPELINING.
    unasked_pipelining: usize,
    /// Messages taken, by recipient.
    delivered: Vec<String>,
}

/// Starts the server; `pipelining`: whether its EHLO answer announces it.
/// RCPT to an address starting with `bad` is refused with 550.
async fn server(pipelining: bool) -> (u16, Arc<Mutex<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let shared = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let seen = shared.clone();
            tokio::spawn(async move {
                seen.lock().expect("seen").sessions += 1;
                let (read, mut write) = stream.into_split();
                let mut read = BufReader::new(read);
                let _ = write.write_all(b"220 stub ESMTP\r\n").await;
                // Answers held back until DATA (pipelining) and the group's state.
                let mut held = String::new();
                let (mut rcpt_ok, mut to) = (0, String::new());
                loop {
                    let mut line = String::new();
                    if read.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if !pipelining && !read.buffer().is_empty() {
                        seen.lock().expect("seen").unasked_pipelining += 1;
                    }
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let answer = match verb.as_str() {
                        "EHLO" => {
                            seen.lock().expect("seen").ehlos += 1;
                            if pipelining {
                                "250-stub\r\n250-PIPELINING\r\n250 8BITMIME\r\n".to_string()
                            } else {
                                "250-stub\r\n250 8BITMIME\r\n".to_string()
                            }
                        }
                        "MAIL" => {
                            (rcpt_ok, to) = (0, String::new());
                            "250 sender ok\r\n".to_string()
                        }
                        "RCPT" => {
                            if line.to_ascii_lowercase().contains("<bad") {
                                "550 no such user\r\n".to_string()
                            } else {
                                rcpt_ok += 1;
                                to = line.trim().to_string();
                                "250 recipient ok\r\n".to_string()
                            }
                        }
                        "DATA" if rcpt_ok == 0 => "554 no valid recipients\r\n".to_string(),
                        "DATA" => "354 go ahead\r\n".to_string(),
                        "RSET" => "250 reset\r\n".to_string(),
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        _ => "500 what\r\n".to_string(),
                    };
                    if pipelining && matches!(verb.as_str(), "MAIL" | "RCPT") {
                        held.push_str(&answer);
                        continue;
                    }
                    held.push_str(&answer);
                    if write.write_all(held.as_bytes()).await.is_err() {
                        return;
                    }
                    held.clear();
                    if answer.starts_with("354") {
                        // The message, up to the line with a lone dot.
                        loop {
                            let mut body = String::new();
                            if read.read_line(&mut body).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if body == ".\r\n" {
                                break;
                            }
                        }
                        seen.lock().expect("seen").delivered.push(to.clone());
                        let _ = write.write_all(b"250 queued\r\n").await;
                    }
                }
            });
        }
    });
    (port, seen)
}

fn sender(port: u16) -> SmtpSender {
    SmtpSender::new(&EmailConfig {
        host: "127.0.0.1".into(),
        port,
        from: "烽火 <yjb@example.org>".into(),
        pool_size: 1,
        timeout_secs: 5,
        ..EmailConfig::default()
    })
    .expect("sender")
}

fn message(to: &str) -> EmailMessage {
    EmailMessage {
        reference: "d-1".into(),
        to: to.into(),
        to_name: "王村长".into(),
        subject: "【防汛】请立即转移".into(),
        text: "湖上村：今晚 20:00 前转移。".into(),
        html: "<p>湖上村：今晚 20:00 前转移。</p>".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_pipelines_gets_the_group_in_one_write() {
    let (port, seen) = server(true).await;
    let s = sender(port);
    for to in ["wang@example.org", "li@example.org"] {
        let outcome = tokio::time::timeout(Duration::from_secs(10), s.send(&message(to)))
            .await
            .expect("a client waiting for MAIL's answer would wait forever here");
        assert!(matches!(outcome, Outcome::Sent { .. }), "{to}: {outcome:?}");
    }
    // A refused recipient: every answer of the group is read, the refusal
    // is the one reported, and the session goes on to the next message.
    let outcome = s.send(&message("bad@example.org")).await;
    match &outcome {
        Outcome::Permanent(reason) => assert!(reason.contains("RCPT TO"), "{reason}"),
        other => panic!("a refused recipient is permanent: {other:?}"),
    }
    let outcome = s.send(&message("zhao@example.org")).await;
    assert!(matches!(outcome, Outcome::Sent { .. }), "{outcome:?}");
    let seen = seen.lock().expect("seen");
    assert_eq!(
        seen.delivered,
        [
            "RCPT TO:<wang@example.org>",
            "RCPT TO:<li@example.org>",
            "RCPT TO:<zhao@example.org>"
        ]
    );
    assert_eq!(seen.sessions, 1, "one session for all four");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_does_not_pipeline_gets_one_command_at_a_time() {
    let (port, seen) = server(false).await;
    let s = sender(port);
    for to in ["wang@example.org", "bad@example.org", "li@example.org"] {
        let _ = s.send(&message(to)).await;
    }
    let seen = seen.lock().expect("seen");
    assert_eq!(seen.unasked_pipelining, 0, "no command before its turn");
    assert_eq!(
        seen.delivered,
        ["RCPT TO:<wang@example.org>", "RCPT TO:<li@example.org>"]
    );
    assert_eq!(seen.sessions, 1);
}
