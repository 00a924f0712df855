//! Answers (叫应): by link, by SMS reply, or recorded by a dispatcher after a
//! phone call. The first answer per recipient counts; every answer is kept
//! and audited.

use std::sync::Arc;

use hmac::{KeyInit, Mac};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::store::{Db, Sql, StoreError, now_ms};

/// The key answer links are derived with. A recipient row holds a random
/// seed; the link's token is HMAC-SHA256(key, seed), and the database keeps
/// only the token's SHA-256 — a copy of the database cannot answer for
/// anyone. The key lives in a file outside the database.
#[derive(Clone, Default)]
pub struct AnswerKey(Option<Arc<[u8; 32]>>);

impl std::fmt::Debug for AnswerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "AnswerKey(…)"
        } else {
            "AnswerKey(unset)"
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("answer key file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("answer key file {0} does not hold 64 hexadecimal digits")]
    Malformed(String),
    #[error("no randomness for a new answer key: {0}")]
    Random(String),
    #[error(
        "answer key file {0} is not the key this database's answer links were made with; \
         use that file (every daemon on one database shares it)"
    )]
    Mismatch(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Records the key's fingerprint in a new database, and refuses a key that
/// is not the one recorded.
pub async fn check_key(db: &Db, key: &AnswerKey, path: &std::path::Path) -> Result<(), KeyError> {
    let fp = key.fingerprint();
    match db.meta_get("answer_key_fingerprint").await? {
        None => db.meta_set("answer_key_fingerprint", &fp).await?,
        Some(stored) if stored == fp => {}
        Some(_) => return Err(KeyError::Mismatch(path.display().to_string())),
    }
    Ok(())
}

impl AnswerKey {
    /// Reads the key from `path`, or creates the file (mode 0600) with a new
    /// random key when it does not exist.
    pub fn load_or_create(path: &std::path::Path) -> Result<AnswerKey, KeyError> {
        let io = |source| KeyError::Io {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let bytes = hex::decode(text.trim())
                    .map_err(|_| KeyError::Malformed(path.display().to_string()))?;
                let key: [u8; 32] = bytes
                    .try_into()
                    .map_err(|_| KeyError::Malformed(path.display().to_string()))?;
                Ok(AnswerKey(Some(Arc::new(key))))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                getrandom::fill(&mut key).map_err(|e| KeyError::Random(e.to_string()))?;
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(io)?;
                }
                use std::io::Write as _;
                use std::os::unix::fs::OpenOptionsExt as _;
                // Written whole to a file of its own, then linked into place:
                // a crash never leaves an empty key, and of two daemons
                // starting at once the first key wins (a link does not
                // replace an existing file).
                let tmp = path.with_extension(format!("tmp{}", std::process::id()));
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(&tmp)
                    .map_err(io)?;
                f.write_all(format!("{}\n", hex::encode(key)).as_bytes())
                    .and_then(|()| f.sync_all())
                    .map_err(io)?;
                let linked = std::fs::hard_link(&tmp, path);
                let _ = std::fs::remove_file(&tmp);
                match linked {
                    Ok(()) => Ok(AnswerKey(Some(Arc::new(key)))),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Self::load_or_create(path)
                    }
                    Err(e) => Err(io(e)),
                }
            }
            Err(e) => Err(io(e)),
        }
    }

    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }

    /// Names the key without revealing it: stored in the database, so a
    /// daemon started with another key file (a second daemon configured
    /// apart, a database restored without its key) is refused instead of
    /// making links that lead nowhere.
    pub fn fingerprint(&self) -> String {
        self.token("fenghuo answer key fingerprint")
    }

    /// The link token for a recipient's seed: 128 bits, hex.
    pub fn token(&self, seed: &str) -> String {
        let key: &[u8] = self.0.as_deref().map_or(&[], |k| &k[..]);
        let Ok(mut mac) = hmac::Hmac::<Sha256>::new_from_slice(key) else {
            return String::new();
        };
        mac.update(seed.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }
}

/// What the database keeps of a link token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answered {
    /// This answer counted (the first for the recipient).
    First { alert_id: i64, recipient_id: i64 },
    /// Already answered earlier; kept, not counted (a repeated press of the
    /// answer link is not kept again).
    Again { alert_id: i64, recipient_id: i64 },
    /// The notice was closed: nothing is recorded, and the person is told.
    Closed { alert_id: i64, recipient_id: i64 },
}

impl Answered {
    pub fn alert_id(&self) -> i64 {
        match self {
            Answered::First { alert_id, .. }
            | Answered::Again { alert_id, .. }
            | Answered::Closed { alert_id, .. } => *alert_id,
        }
    }
    pub fn recipient_id(&self) -> i64 {
        match self {
            Answered::First { recipient_id, .. }
            | Answered::Again { recipient_id, .. }
            | Answered::Closed { recipient_id, .. } => *recipient_id,
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenInfo {
    pub recipient_id: i64,
    pub alert_id: i64,
    pub name: String,
    pub token_expires_at: i64,
    pub answered_at: Option<i64>,
    pub title: String,
    pub body: String,
    pub level: Option<i64>,
    pub exercise: i64,
    pub status: String,
    pub village_id: Option<i64>,
    pub ack_due_at: Option<i64>,
    pub plan: Option<String>,
    pub msg_type: String,
    pub answer_token: String,
    /// 1 for a link sent before tokens were hashed: its token is the seed.
    pub legacy_token: i64,
}

impl TokenInfo {
    /// The shape the renderer works on, to show the notice as it was sent.
    pub fn as_delivery(&self) -> crate::notify::delivery::render::DeliveryRow {
        crate::notify::delivery::render::DeliveryRow {
            id: 0,
            channel: "page".into(),
            address: String::new(),
            purpose: "notice".into(),
            attempts: 0,
            recipient_name: self.name.clone(),
            village_id: self.village_id,
            answer_token: self.answer_token.clone(),
            ack_due_at: self.ack_due_at,
            escalated_from_name: None,
            escalated_from_village: None,
            title: self.title.clone(),
            body: self.body.clone(),
            level: self.level,
            exercise: self.exercise,
            plan: self.plan.clone(),
            msg_type: self.msg_type.clone(),
            legacy_token: self.legacy_token,
            created_at: 0,
            escalation_note: None,
            alert_id: 0,
            own_reply: 0,
        }
    }
}

/// The recipient an answer link belongs to: found by the token's hash (or,
/// for a link sent before tokens were hashed, by the token itself).
pub async fn by_token(db: &Db, token: &str) -> Result<Option<TokenInfo>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT r.id AS recipient_id, r.alert_id, r.name, r.token_expires_at, r.answered_at, a.title, a.body, a.level, \
         a.exercise, a.status, r.village_id, r.ack_due_at, a.plan, a.msg_type, r.answer_token, \
         CASE WHEN r.answer_token_hash IS NULL THEN 1 ELSE 0 END AS legacy_token \
         FROM alert_recipients r JOIN alerts a ON a.id = r.alert_id \
         WHERE r.answer_token_hash = $1 OR (r.answer_token_hash IS NULL AND r.answer_token = $2)",
    )
    .bind(token_hash(token))
    .bind(token)
    .fetch_optional(&db.pool)
    .await?)
}

/// Records an answer for a recipient.
pub async fn record(
    db: &Db,
    recipient_id: i64,
    via: &str,
    actor: &str,
    note: Option<&str>,
) -> Result<Answered, StoreError> {
    let now = now_ms();
    let answered = match db.batched() {
        // SQLite: the whole answer in one hand-off, group-committed with the
        // answers arriving beside it (`store::batch`).
        Some(writer) => {
            let (via, actor, note) = (via.to_string(), actor.to_string(), note.map(str::to_string));
            writer
                .run(move |c| record_sync(c, recipient_id, &via, &actor, note.as_deref(), now))
                .await?
        }
        None => {
            let mut tx = db.begin().await?;
            let answered = record_in(&mut tx, recipient_id, via, actor, note, now).await?;
            tx.commit().await?;
            answered
        }
    };
    count(via, &answered);
    Ok(answered)
}

/// [`record_in`] as a job of the batched SQLite writer: the same
/// statements, run on the writer's thread.
fn record_sync(
    c: &crate::store::batch::SyncConn<'_>,
    recipient_id: i64,
    via: &str,
    actor: &str,
    note: Option<&str>,
    now: i64,
) -> Result<Answered, StoreError> {
    let (alert_id, status, answered_at): (i64, String, Option<i64>) = c.fetch_one(&Sql {
        text: "SELECT r.alert_id, a.status, r.answered_at FROM alert_recipients r \
               JOIN alerts a ON a.id = r.alert_id WHERE r.id = $1"
            .into(),
        args: vec![recipient_id.into()],
    })?;
    if status == "closed" {
        return Ok(Answered::Closed {
            alert_id,
            recipient_id,
        });
    }
    if answered_at.is_some() && via == "link" {
        return Ok(Answered::Again {
            alert_id,
            recipient_id,
        });
    }
    let first = c.execute(&Sql {
        text: "UPDATE alert_recipients SET answered_at = $1, answer_via = $2 WHERE id = $3 AND answered_at IS NULL".into(),
        args: vec![now.into(), via.into(), recipient_id.into()],
    })? == 1;
    c.execute(&Sql {
        text: "INSERT INTO answers (alert_id, recipient_id, at, via, actor, note, counted) VALUES ($1, $2, $3, $4, $5, $6, $7)".into(),
        args: vec![
            alert_id.into(),
            recipient_id.into(),
            now.into(),
            via.into(),
            actor.into(),
            note.map(str::to_string).into(),
            i64::from(first).into(),
        ],
    })?;
    let after = json!({ "recipient_id": recipient_id, "via": via, "counted": first, "note": note });
    crate::audit::record_sync(
        c,
        actor,
        "answer",
        "alert",
        Some(alert_id),
        None,
        Some(&after),
    )?;
    Ok(if first {
        Answered::First {
            alert_id,
            recipient_id,
        }
    } else {
        Answered::Again {
            alert_id,
            recipient_id,
        }
    })
}

/// An answer in the metrics (`fenghuo_answers_total`): how it came (link, sms, phone, voice: a fixed
/// word from the code, never what a person typed) and whether it was the person's first.
pub(crate) fn count(via: &str, answered: &Answered) {
    let via = match via {
        "link" | "sms" | "phone" | "voice" => via,
        _ => "other",
    };
    let counted = match answered {
        Answered::First { .. } => "first",
        Answered::Again { .. } => "again",
        Answered::Closed { .. } => return,
    };
    crate::telemetry::inc(
        &crate::telemetry::metrics().answers,
        &[("via", via), ("counted", counted)],
    );
}

/// [`record`] inside the caller's transaction, which the caller commits.
pub(crate) async fn record_in(
    tx: &mut sqlx::AnyConnection,
    recipient_id: i64,
    via: &str,
    actor: &str,
    note: Option<&str>,
    now: i64,
) -> Result<Answered, StoreError> {
    let (alert_id, status, answered_at): (i64, String, Option<i64>) = sqlx::query_as(
        "SELECT r.alert_id, a.status, r.answered_at FROM alert_recipients r \
         JOIN alerts a ON a.id = r.alert_id WHERE r.id = $1",
    )
    .bind(recipient_id)
    .fetch_one(&mut *tx)
    .await?;
    // A closed notice takes no more answers: its board is final, and an
    // answer now would say someone was reached while it mattered.
    if status == "closed" {
        return Ok(Answered::Closed {
            alert_id,
            recipient_id,
        });
    }
    // The same link pressed again (a double tap, a reload) adds nothing.
    if answered_at.is_some() && via == "link" {
        return Ok(Answered::Again {
            alert_id,
            recipient_id,
        });
    }
    let first = sqlx::query("UPDATE alert_recipients SET answered_at = $1, answer_via = $2 WHERE id = $3 AND answered_at IS NULL")
        .bind(now)
        .bind(via)
        .bind(recipient_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1;
    sqlx::query("INSERT INTO answers (alert_id, recipient_id, at, via, actor, note, counted) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(alert_id)
        .bind(recipient_id)
        .bind(now)
        .bind(via)
        .bind(actor)
        .bind(note)
        .bind(i64::from(first))
        .execute(&mut *tx)
        .await?;
    let after = json!({ "recipient_id": recipient_id, "via": via, "counted": first, "note": note });
    crate::audit::record(
        &mut *tx,
        actor,
        "answer",
        "alert",
        Some(alert_id),
        None,
        Some(&after),
    )
    .await?;
    Ok(if first {
        Answered::First {
            alert_id,
            recipient_id,
        }
    } else {
        Answered::Again {
            alert_id,
            recipient_id,
        }
    })
}

/// What became of a request to take back a phone answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undone {
    /// The person is unanswered again, back on the escalation path.
    Undone { alert_id: i64, recipient_id: i64 },
    /// The recipient has no answer to take back.
    NotAnswered,
    /// The answer came from the person (link, SMS reply): only an answer a
    /// dispatcher recorded after a phone call can be taken back.
    NotByPhone,
    /// The notice is no longer open: its board is final.
    Closed,
}

/// Takes back an answer a dispatcher recorded by phone (电话已确认 pressed
/// for the wrong person): the recipient is unanswered again, as before the
/// answer. Nothing else is touched: the answer deadline, repeats and
/// whether the next person up was told stay as they were, so sends that
/// already happened are not made again, and if the deadline has passed the
/// escalation check fires for the person at its next round as it would have
/// without the answer. The answer row is kept, marked as not counting, and
/// the undo is audited with the answer it took back.
pub async fn undo_phone(db: &Db, recipient_id: i64, actor: &str) -> Result<Undone, StoreError> {
    let mut tx = db.begin().await?;
    let row: Option<(i64, String, Option<i64>, Option<String>)> = sqlx::query_as(
        "SELECT r.alert_id, a.status, r.answered_at, r.answer_via FROM alert_recipients r \
         JOIN alerts a ON a.id = r.alert_id WHERE r.id = $1",
    )
    .bind(recipient_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((alert_id, status, answered_at, via)) = row else {
        return Ok(Undone::NotAnswered);
    };
    if status != "active" {
        return Ok(Undone::Closed);
    }
    let Some(at) = answered_at else {
        return Ok(Undone::NotAnswered);
    };
    if via.as_deref() != Some("phone") {
        return Ok(Undone::NotByPhone);
    }
    // Compare-and-set on the answer read: an answer arriving meanwhile (the
    // person's own link) is not wiped out.
    let changed = sqlx::query(
        "UPDATE alert_recipients SET answered_at = NULL, answer_via = NULL \
         WHERE id = $1 AND answered_at = $2 AND answer_via = 'phone'",
    )
    .bind(recipient_id)
    .bind(at)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed != 1 {
        return Ok(Undone::NotAnswered);
    }
    sqlx::query("UPDATE answers SET counted = 0 WHERE recipient_id = $1 AND counted = 1")
        .bind(recipient_id)
        .execute(&mut *tx)
        .await?;
    let before = json!({ "recipient_id": recipient_id, "via": "phone", "answered_at": at });
    let after = json!({ "recipient_id": recipient_id, "answered": false });
    crate::audit::record(
        &mut tx,
        actor,
        "answer_undo",
        "alert",
        Some(alert_id),
        Some(&before),
        Some(&after),
    )
    .await?;
    tx.commit().await?;
    Ok(Undone::Undone {
        alert_id,
        recipient_id,
    })
}

/// Replies that mean "received" (the rules: `replies::read`).
pub fn is_acknowledgement(text: &str) -> bool {
    super::replies::read(text).ack
}

/// Longest reply text kept (Twilio's own limit for one message).
const MAX_REPLY_CHARS: usize = 1600;

/// What became of one inbound SMS reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsReply {
    /// The provider's message was seen before (a replayed or repeated callback): nothing done.
    Replay,
    /// Not a "received" (e.g. a question): logged, answers nothing.
    NotAcknowledgement,
    /// No open notice sent to that number by SMS is waiting for its answer within the answer
    /// window: logged, answers nothing.
    NoOpenNotice,
    /// Recorded as the answer of one recipient (`First`, or `Closed` if the notice closed).
    Answered(Answered),
    /// A transfer report ("已转移 5户12人"): counted, or kept for a person to read.
    Transfer(crate::transfer::progress::SmsOutcome),
}

/// An SMS reply from `phone`, identified at its provider by `key`: logged once in
/// `inbound_messages`; a key seen before answers nothing (a replayed callback must not answer a
/// second notice). An acknowledgement answers the newest unanswered recipient row of that
/// number on an open notice that went out by SMS and whose answer window is still open. The
/// window is the one the answer link has (`token_expires_at`, `escalation.answer_token_hours`
/// after the person was notified); never an older notice already answered, and nothing outside
/// the window, so a late or stray "1" cannot stop another notice's repeats and escalation.
/// Logging and answering are one transaction: if answering fails nothing is logged, and the
/// provider's retry is handled as new.
pub async fn by_phone(
    db: &Db,
    provider: &str,
    key: &str,
    phone: &str,
    text: &str,
) -> Result<SmsReply, StoreError> {
    let now = now_ms();
    let text: String = text.chars().take(MAX_REPLY_CHARS).collect();
    let mut tx = db.begin().await?;
    // Claim the key first; a concurrent copy waits on the unique index and then finds it taken.
    let fresh = sqlx::query(
        "INSERT INTO inbound_messages (provider, message_key, received_at, phone, text, outcome) \
         VALUES ($1, $2, $3, $4, $5, 'received') ON CONFLICT (provider, message_key) DO NOTHING",
    )
    .bind(provider)
    .bind(key)
    .bind(now)
    .bind(phone)
    .bind(&text)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !fresh {
        return Ok(SmsReply::Replay);
    }
    let reading = super::replies::read(&text);
    // A reply to a daily report (the newest notice sent to that number in
    // its answer window asked for it): the village's answer, "0" / "无" a
    // zero report, anything else a report a person reads.
    let latest: Option<(i64,)> = sqlx::query_as(
        "SELECT r.id FROM alert_recipients r JOIN alerts a ON a.id = r.alert_id \
         WHERE r.phone = $1 AND r.token_expires_at >= $2 AND a.msg_type <> 'Ack' AND a.own_reply = 1 \
         AND NOT EXISTS (SELECT 1 FROM alert_recipients n JOIN alerts b ON b.id = n.alert_id \
         WHERE n.phone = $1 AND n.token_expires_at >= $2 AND b.msg_type <> 'Ack' AND b.own_reply = 0 \
         AND (n.notified_at > r.notified_at OR (n.notified_at = r.notified_at AND n.id > r.id))) \
         ORDER BY r.notified_at DESC, r.id DESC LIMIT 1",
    )
    .bind(phone)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let daily = match latest {
        Some((rid,)) => crate::daily::round_of_recipient(&mut tx, rid)
            .await?
            .map(|(round, village)| (rid, round, village, super::replies::daily(&text))),
        None => None,
    };
    // A transfer report first ("收到，已转移5户12人" is both: counted, and it answers).
    let transfer = match daily {
        Some(_) => None,
        None => crate::transfer::progress::from_sms(&mut tx, phone, &text, now).await?,
    };
    let reply = match transfer {
        _ if let Some((rid, round, village, kind)) = daily => {
            crate::daily::record_answer(&mut tx, round, village, kind, &text, now).await?;
            SmsReply::Answered(
                record_in(
                    &mut tx,
                    rid,
                    "sms",
                    &format!("sms:{provider}:{phone}"),
                    Some(&text),
                    now,
                )
                .await?,
            )
        }
        Some(t)
            if !reading.ack
                || matches!(t, crate::transfer::progress::SmsOutcome::Counted { .. }) =>
        {
            // A report answers the sender's transfer notice too: they have it.
            if let crate::transfer::progress::SmsOutcome::Counted {
                recipient_id: Some(rid),
                ..
            } = &t
            {
                record_in(
                    &mut tx,
                    *rid,
                    "sms",
                    &format!("sms:{provider}:{phone}"),
                    Some(&text),
                    now,
                )
                .await?;
            }
            SmsReply::Transfer(t)
        }
        _ if !reading.ack => SmsReply::NotAcknowledgement,
        _ => {
            let row: Option<(i64,)> = sqlx::query_as(
                "SELECT r.id FROM alert_recipients r JOIN alerts a ON a.id = r.alert_id \
                 WHERE r.phone = $1 AND r.answered_at IS NULL AND r.token_expires_at >= $2 \
                 AND a.status = 'active' AND a.channels LIKE '%\"sms\"%' AND a.msg_type <> 'Ack' \
                 ORDER BY r.notified_at DESC, r.id DESC LIMIT 1",
            )
            .bind(phone)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            match row {
                Some((rid,)) => SmsReply::Answered(
                    record_in(
                        &mut tx,
                        rid,
                        "sms",
                        &format!("sms:{provider}:{phone}"),
                        Some(&text),
                        now,
                    )
                    .await?,
                ),
                None => SmsReply::NoOpenNotice,
            }
        }
    };
    let transfer_id = match &reply {
        SmsReply::Transfer(t) => t.transfer_id(),
        _ => None,
    };
    let (outcome, alert_id) = match &reply {
        SmsReply::Answered(Answered::First { alert_id, .. }) => ("answered", Some(*alert_id)),
        SmsReply::Answered(Answered::Again { alert_id, .. }) => ("again", Some(*alert_id)),
        SmsReply::Answered(Answered::Closed { alert_id, .. }) => ("closed", Some(*alert_id)),
        SmsReply::NotAcknowledgement => ("not_acknowledgement", None),
        SmsReply::Transfer(t) => (t.code(), None),
        SmsReply::NoOpenNotice | SmsReply::Replay => ("no_open_notice", None),
    };
    // Whose reply it is: the answered person, else the newest notice sent
    // to that number in its answer window (a question, a danger report).
    let recipient: Option<(i64, i64)> = match &reply {
        SmsReply::Answered(a) => Some((a.recipient_id(), a.alert_id())),
        _ => sqlx::query_as(
            "SELECT r.id, r.alert_id FROM alert_recipients r JOIN alerts a ON a.id = r.alert_id \
             WHERE r.phone = $1 AND r.token_expires_at >= $2 AND a.msg_type <> 'Ack' \
             ORDER BY r.notified_at DESC, r.id DESC LIMIT 1",
        )
        .bind(phone)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?,
    };
    let alert_id = alert_id.or(recipient.map(|r| r.1));
    // A person reads everything but a plain acknowledgement that answered
    // and a transfer report that was counted.
    let settled = match &reply {
        // A zero report needs no reading; a report does.
        SmsReply::Answered(_) if let Some((.., kind)) = daily => {
            kind == super::replies::Daily::Zero
        }
        SmsReply::Answered(_) => reading.plain,
        SmsReply::Transfer(t) => matches!(t, crate::transfer::progress::SmsOutcome::Counted { .. }),
        _ => false,
    };
    let needs_reading = !settled || reading.danger;
    sqlx::query(
        // A transfer's reply belongs to the transfer's township (its board shows it).
        "UPDATE inbound_messages SET outcome = $1, alert_id = $2, transfer_id = $5, recipient_id = $6, \
         danger = $7, needs_reading = $8, \
         township_id = COALESCE((SELECT t.township_id FROM transfers t WHERE t.id = $5), \
         (SELECT a.township_id FROM alerts a WHERE a.id = $2), township_id) \
         WHERE provider = $3 AND message_key = $4",
    )
    .bind(outcome)
    .bind(alert_id)
    .bind(provider)
    .bind(key)
    .bind(transfer_id)
    .bind(recipient.map(|r| r.0))
    .bind(i64::from(reading.danger))
    .bind(i64::from(needs_reading))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    if let SmsReply::Answered(a) = &reply {
        count("sms", a);
    }
    Ok(reply)
}
