//! E-mail notices over SMTP, on a few connections kept open between messages.
//!
//! lettre's pooled `AsyncSmtpTransport` is not used to send, for three reasons
//! found in lettre 0.11.23's source:
//! - it never sets TCP_NODELAY and writes the message and the closing
//!   `CRLF.CRLF` in two writes, so every message waits ~40 ms for the
//!   server's delayed ACK (Nagle): about 23 messages/s per connection;
//! - its pool cannot be given connections made elsewhere (`Executor` is
//!   sealed), so no setting reaches the socket;
//! - it only times out the TCP connect, and a send cancelled by a timeout
//!   hands its half-used connection back to the pool.
//!
//! So this module keeps its own small pool of lettre `AsyncSmtpConnection`s,
//! made from TCP streams with TCP_NODELAY, and writes each message in one
//! write. lettre still does the protocol: EHLO, STARTTLS, TLS, AUTH, replies.
//! To a server that announces PIPELINING (RFC 2920; lettre does not keep
//! that extension, so the EHLO is asked once more before AUTH) MAIL, RCPT
//! and DATA go out as one write and their answers are read after it.

use std::hash::{BuildHasher, RandomState};
use std::io;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use lettre::Address;
use lettre::address::Envelope;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message, MultiPart};
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::Response;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::config::EmailConfig;
use crate::notify::delivery::channel::{EmailMessage, EmailSender, Outcome, SendFuture};

/// A connection idle longer than this is closed rather than reused: servers
/// and NAT boxes drop idle sessions (lettre's pool uses 60 s).
const MAX_IDLE: Duration = Duration::from_secs(30);

/// Header carrying our delivery id, for tracing a message in mail logs.
const REFERENCE_HEADER: HeaderName = HeaderName::new_from_ascii_str("X-Fenghuo-Reference");

/// A setting that cannot work; `name` is the setting's full name.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {name}: {message}")]
pub struct EmailConfigError {
    pub name: &'static str,
    pub message: String,
}

fn invalid(name: &'static str, message: impl Into<String>) -> EmailConfigError {
    EmailConfigError {
        name,
        message: message.into(),
    }
}

/// How the connection is secured (`email.tls`).
#[derive(Clone)]
enum Security {
    /// Plain SMTP, typically a relay on the same host or network.
    None,
    /// Plain connect, then STARTTLS, required: no fallback to plain text.
    StartTls(TlsParameters),
    /// TLS from the first byte ("SMTPS", port 465).
    Tls(TlsParameters),
}

/// A session and what the server said it can do that lettre does not keep.
struct Session {
    conn: AsyncSmtpConnection,
    /// The server announced PIPELINING (RFC 2920): MAIL, RCPT and DATA go
    /// out in one write and their answers are read after.
    pipelining: bool,
}

struct Idle {
    session: Session,
    since: Instant,
}

/// Sends e-mail through one SMTP server, reusing up to `pool_size`
/// connections; at most that many messages are in flight at once.
pub struct SmtpSender {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
    from: Mailbox,
    hello: ClientId,
    timeout: Duration,
    /// One permit per connection: a holder owns at most one connection.
    slots: Semaphore,
    /// Connections between messages. Never locked across an await.
    idle: Mutex<Vec<Idle>>,
}

impl std::fmt::Debug for SmtpSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not derived: the credentials must not reach a log.
        f.debug_struct("SmtpSender")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("from", &self.from.to_string())
            .field("authenticated", &self.credentials.is_some())
            .finish_non_exhaustive()
    }
}

impl SmtpSender {
    /// Checks the settings; connects only when the first message is sent.
    pub fn new(cfg: &EmailConfig) -> Result<SmtpSender, EmailConfigError> {
        let host = cfg.host.trim();
        if host.is_empty() {
            return Err(invalid("email.host", "is empty"));
        }
        if cfg.port == 0 {
            return Err(invalid("email.port", "must not be 0"));
        }
        let private_ca = match cfg.ca_file.trim() {
            "" => None,
            path => {
                let pem = std::fs::read(path)
                    .map_err(|e| invalid("email.ca_file", format!("cannot read {path}: {e}")))?;
                // lettre accepts a file without any certificate in it (and
                // then trusts nothing more): count them first.
                use rustls::pki_types::CertificateDer;
                use rustls::pki_types::pem::PemObject;
                let certs = CertificateDer::pem_slice_iter(&pem)
                    .filter(|c| c.is_ok())
                    .count();
                if certs == 0 {
                    return Err(invalid(
                        "email.ca_file",
                        format!("{path} holds no PEM certificate"),
                    ));
                }
                Some(Certificate::from_pem(&pem).map_err(|e| {
                    invalid(
                        "email.ca_file",
                        format!("{path} holds no PEM certificate: {e}"),
                    )
                })?)
            }
        };
        let tls = |host: &str| {
            let mut b = TlsParameters::builder(host.to_string());
            if let Some(ca) = &private_ca {
                b = b.add_root_certificate(ca.clone());
            }
            b.build().map_err(|e| {
                invalid(
                    "email.host",
                    format!("{host:?} cannot be checked against a TLS certificate: {e}"),
                )
            })
        };
        let security = match cfg.tls.trim().to_ascii_lowercase().as_str() {
            "none" => Security::None,
            "starttls" => Security::StartTls(tls(host)?),
            "tls" => Security::Tls(tls(host)?),
            other => {
                return Err(invalid(
                    "email.tls",
                    format!("{other:?} is not one of \"none\", \"starttls\", \"tls\""),
                ));
            }
        };
        let from: Mailbox = cfg.from.parse().map_err(|e| {
            invalid(
                "email.from",
                format!("{:?} is not a mailbox: {e}", cfg.from),
            )
        })?;
        if cfg.pool_size == 0 {
            return Err(invalid("email.pool_size", "must be at least 1"));
        }
        if cfg.timeout_secs == 0 {
            return Err(invalid("email.timeout_secs", "must be at least 1"));
        }
        let credentials = (!cfg.username.is_empty())
            .then(|| Credentials::new(cfg.username.clone(), cfg.password.clone()));
        Ok(SmtpSender {
            host: host.to_string(),
            port: cfg.port,
            security,
            credentials,
            from,
            hello: ClientId::default(),
            timeout: Duration::from_secs(cfg.timeout_secs),
            slots: Semaphore::new(cfg.pool_size as usize),
            idle: Mutex::new(Vec::new()),
        })
    }

    async fn deliver(&self, msg: &EmailMessage) -> Outcome {
        let message_id = message_id(&msg.reference, &self.from);
        let message = match build_message(&self.from, msg, &message_id) {
            Ok(m) => m,
            Err(reason) => return Outcome::Permanent(reason),
        };
        let data = data_payload(&message.formatted());
        // Waiting for a free connection is not the server's fault, so the
        // timeout starts once we hold one.
        let Ok(_slot) = self.slots.acquire().await else {
            return Outcome::Transient("e-mail sender closed".into());
        };
        match tokio::time::timeout(self.timeout, self.send_pooled(message.envelope(), &data)).await
        {
            Ok(Ok(_)) => Outcome::Sent {
                provider_id: message_id,
            },
            Ok(Err(failure)) => failure.outcome(),
            Err(_) => Outcome::Transient(format!(
                "SMTP {}:{} did not answer within {} s",
                self.host,
                self.port,
                self.timeout.as_secs()
            )),
        }
    }

    /// Sends on an idle connection if there is one, else on a new one.
    /// Cancelling this future (timeout) drops the connection it holds, so a
    /// connection in an unknown state never goes back to the pool.
    async fn send_pooled(&self, envelope: &Envelope, data: &str) -> Result<Response, Failure> {
        while let Some(mut idle) = self.take_idle() {
            if idle.since.elapsed() > MAX_IDLE {
                continue; // dropped: closes the socket
            }
            match transaction(&mut idle.session, envelope, data).await {
                Ok(response) => {
                    self.park(idle.session);
                    return Ok(response);
                }
                // The server closed the session while it was idle (EOF, 421):
                // it failed at MAIL FROM, before any of the message was sent,
                // so another connection may safely try again.
                Err(f) if f.stage == Stage::MailFrom && !f.is_permanent() => continue,
                Err(f) => {
                    self.after_failure(idle.session, &f).await;
                    return Err(f);
                }
            }
        }
        let mut session = self.connect().await?;
        match transaction(&mut session, envelope, data).await {
            Ok(response) => {
                self.park(session);
                Ok(response)
            }
            Err(f) => {
                self.after_failure(session, &f).await;
                Err(f)
            }
        }
    }

    /// Opens a session: TCP (with TCP_NODELAY), greeting, EHLO, then TLS
    /// as configured, then AUTH if a username is set.
    async fn connect(&self) -> Result<Session, Failure> {
        let at = |error| Failure::smtp(Stage::Connect, error);
        let mut conn = match &self.security {
            Security::Tls(tls) => {
                // lettre must own the TLS stream, so this one socket keeps
                // Nagle; the single-write DATA below avoids the stall anyway.
                AsyncSmtpConnection::connect_tokio1(
                    (self.host.as_str(), self.port),
                    Some(self.timeout),
                    &self.hello,
                    Some(tls.clone()),
                    None,
                )
                .await
                .map_err(at)?
            }
            Security::None | Security::StartTls(_) => {
                let tcp = TcpStream::connect((self.host.as_str(), self.port))
                    .await
                    .map_err(|e| Failure::io(&self.host, self.port, e))?;
                tcp.set_nodelay(true)
                    .map_err(|e| Failure::io(&self.host, self.port, e))?;
                AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello)
                    .await
                    .map_err(at)?
            }
        };
        if let Security::StartTls(tls) = &self.security {
            // STARTTLS keeps the TCP stream, and with it TCP_NODELAY.
            conn.starttls(tls.clone(), &self.hello)
                .await
                .map_err(|e| Failure::smtp(Stage::StartTls, e))?;
        }
        // lettre reads the EHLO answer but keeps only the extensions it
        // uses; PIPELINING is not one. Asking again (before AUTH, which a
        // new EHLO might undo) costs one round trip per session.
        let pipelining = conn
            .command(Ehlo::new(self.hello.clone()))
            .await
            .map_err(at)?
            .message()
            .any(|line| line.trim().eq_ignore_ascii_case("PIPELINING"));
        if let Some(credentials) = &self.credentials {
            conn.auth(DEFAULT_MECHANISMS, credentials)
                .await
                .map_err(|e| Failure::smtp(Stage::Auth, e))?;
        }
        Ok(Session { conn, pipelining })
    }

    fn take_idle(&self) -> Option<Idle> {
        // A poisoned lock only means another send panicked; the list is fine.
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    fn park(&self, session: Session) {
        let idle = Idle {
            session,
            since: Instant::now(),
        };
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(idle);
    }

    /// After a refusal the session is still good once RSET is accepted;
    /// after a network or protocol error it is dropped.
    async fn after_failure(&self, mut session: Session, failure: &Failure) {
        if failure.refusal && session.conn.command(Rset).await.is_ok() {
            self.park(session);
        }
    }
}

impl EmailSender for SmtpSender {
    fn name(&self) -> &'static str {
        "smtp"
    }

    fn send<'a>(&'a self, msg: &'a EmailMessage) -> SendFuture<'a> {
        Box::pin(self.deliver(msg))
    }
}

/// Where in the session a send failed, for the reason text and for deciding
/// whether a retry on another connection is safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Connect,
    StartTls,
    Auth,
    MailFrom,
    RcptTo,
    Data,
    Message,
}

impl Stage {
    fn describe(self) -> &'static str {
        match self {
            Stage::Connect => "connecting",
            Stage::StartTls => "STARTTLS",
            Stage::Auth => "AUTH",
            Stage::MailFrom => "MAIL FROM",
            Stage::RcptTo => "RCPT TO",
            Stage::Data => "DATA",
            Stage::Message => "end of message",
        }
    }
}

#[derive(Debug)]
struct Failure {
    stage: Stage,
    kind: FailureKind,
    /// The server answered 4xx/5xx: the session itself is still usable.
    refusal: bool,
    reason: String,
}

#[derive(Debug, PartialEq, Eq)]
enum FailureKind {
    Transient,
    Permanent,
}

impl Failure {
    fn smtp(stage: Stage, error: lettre::transport::smtp::Error) -> Failure {
        let refusal = error.is_transient() || error.is_permanent();
        // A refusal of the message (5xx to MAIL FROM, RCPT TO or DATA) will
        // not succeed by trying again. A session that cannot be set up
        // (STARTTLS, AUTH: a wrong password, a mechanism the server lacks)
        // is about the server and its configuration, not the message: its
        // notices wait and retry (up to `max_attempts`) so they go out once
        // the office fixes it, instead of being failed for good at once.
        let session = matches!(stage, Stage::StartTls | Stage::Auth);
        let kind = if !session && (error.is_permanent() || error.is_client()) {
            FailureKind::Permanent
        } else {
            FailureKind::Transient
        };
        Failure {
            stage,
            kind,
            // 421 means the server is closing the session.
            refusal: refusal && error.status().is_none_or(|c| c.to_string() != "421"),
            reason: format!("SMTP {}: {error}", stage.describe()),
        }
    }

    fn io(host: &str, port: u16, error: io::Error) -> Failure {
        Failure {
            stage: Stage::Connect,
            kind: FailureKind::Transient,
            refusal: false,
            reason: format!("SMTP connecting to {host}:{port}: {error}"),
        }
    }

    fn unsupported(reason: String) -> Failure {
        Failure {
            stage: Stage::MailFrom,
            kind: FailureKind::Permanent,
            refusal: false,
            reason,
        }
    }

    fn is_permanent(&self) -> bool {
        self.kind == FailureKind::Permanent
    }

    fn outcome(self) -> Outcome {
        match self.kind {
            FailureKind::Transient => Outcome::Transient(self.reason),
            FailureKind::Permanent => Outcome::Permanent(self.reason),
        }
    }
}

/// One mail transaction: MAIL FROM, RCPT TO, DATA, then the message in a
/// single write (lettre's `send` writes the final `.` separately, which
/// stalls on Nagle when TCP_NODELAY is off, as on SMTPS).
async fn transaction(
    session: &mut Session,
    envelope: &Envelope,
    data: &str,
) -> Result<Response, Failure> {
    let conn = &mut session.conn;
    let mut params = Vec::new();
    let utf8_addresses = envelope
        .to()
        .iter()
        .chain(envelope.from())
        .any(|a| !AsRef::<str>::as_ref(a).is_ascii());
    if utf8_addresses {
        if !conn.server_info().supports_feature(Extension::SmtpUtfEight) {
            return Err(Failure::unsupported(
                "the SMTP server cannot take a non-ASCII address (no SMTPUTF8)".into(),
            ));
        }
        params.push(MailParameter::SmtpUtfEight);
    }
    // The builder encodes every part, so this holds only for odd input.
    if !data.is_ascii() {
        if !conn.server_info().supports_feature(Extension::EightBitMime) {
            return Err(Failure::unsupported(
                "the SMTP server cannot take 8-bit content (no 8BITMIME)".into(),
            ));
        }
        params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    let step = |stage| move |e| Failure::smtp(stage, e);
    let mail = Mail::new(envelope.from().cloned(), params);
    let rcpts: Vec<Rcpt> = envelope
        .to()
        .iter()
        .map(|to| Rcpt::new(to.clone(), Vec::new()))
        .collect();
    if session.pipelining {
        return pipelined(conn, mail, rcpts, data).await;
    }
    conn.command(mail).await.map_err(step(Stage::MailFrom))?;
    for rcpt in rcpts {
        conn.command(rcpt).await.map_err(step(Stage::RcptTo))?;
    }
    conn.command(Data).await.map_err(step(Stage::Data))?;
    conn.command(data).await.map_err(step(Stage::Message))
}

/// MAIL, RCPT … and DATA in one write (RFC 2920), then their answers in
/// order: one round trip where there were three. Every answer is read
/// before anything is decided, so the session stays in step for the next
/// message; the first refusal is the one reported.
async fn pipelined(
    conn: &mut AsyncSmtpConnection,
    mail: Mail,
    rcpts: Vec<Rcpt>,
    data: &str,
) -> Result<Response, Failure> {
    let group = Group {
        mail,
        rcpts,
        data: Data,
    };
    let stages = std::iter::once(Stage::MailFrom)
        .chain(group.rcpts.iter().map(|_| Stage::RcptTo))
        .chain(std::iter::once(Stage::Data));
    let mut first_failure = None;
    let mut data_accepted = false;
    // `command` writes the whole group and reads the first answer.
    let mut answer = Some(conn.command(&group).await);
    for stage in stages {
        let r = match answer.take() {
            Some(r) => r,
            None => conn.read_response().await,
        };
        match r {
            Ok(_) if stage == Stage::Data => data_accepted = true,
            Ok(_) => {}
            Err(e) => {
                let failure = Failure::smtp(stage, e);
                if !failure.refusal {
                    // The connection itself failed: nothing more to read.
                    return Err(failure);
                }
                first_failure.get_or_insert(failure);
            }
        }
    }
    // No refusal: every answer was positive, DATA's (354) included.
    let Some(failure) = first_failure else {
        return conn
            .command(data)
            .await
            .map_err(|e| Failure::smtp(Stage::Message, e));
    };
    if data_accepted {
        // A server that took DATA after refusing what came before it gets
        // an empty message ended at once, which it must refuse for want of
        // a recipient; the refusal already read is the one reported.
        let _ = conn.command(".\r\n").await;
    }
    Err(failure)
}

/// The commands of one pipelined group, written as one.
struct Group {
    mail: Mail,
    rcpts: Vec<Rcpt>,
    data: Data,
}

impl std::fmt::Display for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Each command's text ends with its own CRLF.
        write!(f, "{}", self.mail)?;
        for r in &self.rcpts {
            write!(f, "{r}")?;
        }
        write!(f, "{}", self.data)
    }
}

/// The message as sent after DATA: dot-stuffed (RFC 5321 4.5.2) and ended
/// by `CRLF.CRLF`.
fn data_payload(formatted: &[u8]) -> String {
    let text = String::from_utf8_lossy(formatted);
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.split_inclusive('\n') {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
    }
    if !out.ends_with("\r\n") {
        out.push_str("\r\n");
    }
    out.push_str(".\r\n");
    out
}

/// Builds the MIME message; an error is a message that can never be sent.
fn build_message(from: &Mailbox, msg: &EmailMessage, message_id: &str) -> Result<Message, String> {
    let address: Address = msg
        .to
        .trim()
        .parse()
        .map_err(|e| format!("invalid recipient address {:?}: {e}", msg.to))?;
    let name = one_line(&msg.to_name);
    let to = Mailbox::new((!name.is_empty()).then_some(name), address);
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(one_line(&msg.subject))
        .message_id(Some(message_id.to_string()))
        .raw_header(HeaderValue::new(REFERENCE_HEADER, one_line(&msg.reference)))
        .multipart(MultiPart::alternative_plain_html(
            msg.text.clone(),
            msg.html.clone(),
        ))
        .map_err(|e| format!("cannot build the e-mail: {e}"))
}

/// Header text on one line: a CR or LF from a template must not start a
/// header of its own.
fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_control())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .trim()
        .to_string()
}

/// `<reference.millis.random@from-domain>`: unique per attempt, and the
/// reference in it finds the delivery from a bounce or a server log.
fn message_id(reference: &str, from: &Mailbox) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let reference: String = reference
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .take(64)
        .collect();
    let millis = chrono::Utc::now().timestamp_millis();
    // RandomState is seeded randomly per instance: enough to tell apart two
    // processes that send in the same millisecond.
    let random = RandomState::new().hash_one(COUNTER.fetch_add(1, Ordering::Relaxed));
    let left = if reference.is_empty() {
        format!("{millis}.{random:016x}")
    } else {
        format!("{reference}.{millis}.{random:016x}")
    };
    format!("<{left}@{}>", from.email.domain())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> EmailConfig {
        EmailConfig {
            host: "smtp.example.org".into(),
            ..EmailConfig::default()
        }
    }

    fn message() -> EmailMessage {
        EmailMessage {
            reference: "d-42".into(),
            to: "wang@example.org".into(),
            to_name: "王村长".into(),
            subject: "【防汛】红色预警：请立即转移".into(),
            text: "湖上村：\n今晚 20:00 前转移。\n.\n完".into(),
            html: "<p>湖上村：今晚 20:00 前转移。</p>".into(),
        }
    }

    fn formatted(msg: &EmailMessage) -> String {
        let from: Mailbox = EmailConfig::default().from.parse().unwrap();
        let id = message_id(&msg.reference, &from);
        let m = build_message(&from, msg, &id).unwrap();
        String::from_utf8(m.formatted()).unwrap()
    }

    fn header<'a>(text: &'a str, name: &str) -> Option<&'a str> {
        let head = text.split("\r\n\r\n").next()?;
        head.split("\r\n")
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
    }

    #[test]
    fn the_message_is_ascii_with_encoded_headers() {
        let text = formatted(&message());
        assert!(text.is_ascii(), "{text}");
        let subject = header(&text, "Subject").unwrap();
        assert!(subject.starts_with("=?utf-8?b?"), "{subject}");
        let from = header(&text, "From").unwrap();
        assert!(from.starts_with("=?utf-8?b?") && from.ends_with("<yjb@localhost>"));
        let to = header(&text, "To").unwrap();
        assert!(to.starts_with("=?utf-8?b?") && to.ends_with("<wang@example.org>"));
        assert_eq!(header(&text, "X-Fenghuo-Reference"), Some("d-42"));
        assert!(header(&text, "Date").is_some());
        assert_eq!(header(&text, "MIME-Version"), Some("1.0"));
    }

    #[test]
    fn the_body_has_plain_and_html_in_utf8() {
        let text = formatted(&message());
        let ct = header(&text, "Content-Type").unwrap();
        assert!(ct.starts_with("multipart/alternative;"), "{ct}");
        let plain = text
            .find("Content-Type: text/plain; charset=utf-8")
            .unwrap();
        let html = text.find("Content-Type: text/html; charset=utf-8").unwrap();
        assert!(plain < html, "the preferred part comes last");
    }

    #[test]
    fn the_message_id_names_the_reference_and_the_sender_domain() {
        let from: Mailbox = "办 <a@mail.example.org>".parse().unwrap();
        let id = message_id("d-42/<x>", &from);
        assert!(id.starts_with("<d-42x."), "{id}");
        assert!(id.ends_with("@mail.example.org>"), "{id}");
        assert_ne!(id, message_id("d-42/<x>", &from));
        let text = formatted(&message());
        let id = header(&text, "Message-ID").unwrap();
        assert!(
            id.starts_with("<d-42.") && id.ends_with("@localhost>"),
            "{id}"
        );
    }

    #[test]
    fn line_breaks_cannot_inject_headers() {
        let mut msg = message();
        msg.subject = "预警\r\nBcc: evil@example.org".into();
        msg.reference = "r1\nX-Evil: 1".into();
        msg.to_name = "王\r\n村长".into();
        let text = formatted(&msg);
        let head = text.split("\r\n\r\n").next().unwrap();
        assert!(!head.contains("\r\nBcc:"), "{head}");
        assert!(!head.contains("\r\nX-Evil:"), "{head}");
        assert_eq!(header(&text, "X-Fenghuo-Reference"), Some("r1 X-Evil: 1"));
    }

    #[test]
    fn a_name_with_specials_stays_one_mailbox() {
        let mut msg = message();
        msg.to_name = "Wang, \"Chief\"".into();
        let text = formatted(&msg);
        // lettre encodes such a name as one RFC 2047 word: no bare comma
        // can split it into two addresses.
        assert_eq!(
            header(&text, "To"),
            Some("=?utf-8?b?V2FuZywgIkNoaWVmIg==?= <wang@example.org>")
        );
        msg.to_name = String::new();
        assert_eq!(header(&formatted(&msg), "To"), Some("wang@example.org"));
    }

    #[test]
    fn an_invalid_recipient_is_refused_before_sending() {
        let from: Mailbox = "a@b.test".parse().unwrap();
        for bad in ["", "wang", "wang@", "a b@example.org", "<x@y.z>"] {
            let mut msg = message();
            msg.to = bad.into();
            let err = build_message(&from, &msg, "<1@b.test>").unwrap_err();
            assert!(err.contains("invalid recipient address"), "{bad}: {err}");
        }
    }

    #[test]
    fn data_is_dot_stuffed_and_terminated() {
        assert_eq!(
            data_payload(b"a\r\n.b\r\n..\r\n"),
            "a\r\n..b\r\n...\r\n.\r\n"
        );
        assert_eq!(data_payload(b".x"), "..x\r\n.\r\n");
        let text = formatted(&message());
        let data = data_payload(text.as_bytes());
        assert!(data.ends_with("\r\n.\r\n"));
        assert!(!data.contains("\r\n.\r\n.") && data.matches("\r\n.\r\n").count() == 1);
    }

    #[test]
    fn settings_are_checked() {
        assert!(SmtpSender::new(&config()).is_ok());
        for (name, change) in [
            (
                "email.host",
                (|c: &mut EmailConfig| c.host = " ".into()) as fn(&mut _),
            ),
            ("email.tls", |c| c.tls = "ssl".into()),
            ("email.from", |c| c.from = "not a mailbox".into()),
            ("email.from", |c| c.from = String::new()),
            ("email.pool_size", |c| c.pool_size = 0),
            ("email.timeout_secs", |c| c.timeout_secs = 0),
            ("email.port", |c| c.port = 0),
            ("email.ca_file", |c| {
                c.ca_file = "/nonexistent/ca.pem".into()
            }),
            // A file that holds no certificate.
            ("email.ca_file", |c| c.ca_file = "Cargo.toml".into()),
        ] {
            let mut c = config();
            change(&mut c);
            let err = SmtpSender::new(&c).unwrap_err();
            assert_eq!(err.name, name, "{err}");
        }
        for tls in ["none", "starttls", "tls", "STARTTLS"] {
            let c = EmailConfig {
                tls: tls.into(),
                ..config()
            };
            assert!(SmtpSender::new(&c).is_ok(), "{tls}");
        }
    }

    #[test]
    fn credentials_do_not_show_in_debug() {
        let c = EmailConfig {
            username: "u".into(),
            password: "s3cret".into(),
            ..config()
        };
        let s = format!("{:?}", SmtpSender::new(&c).unwrap());
        assert!(
            !s.contains("s3cret") && s.contains("authenticated: true"),
            "{s}"
        );
    }
}
