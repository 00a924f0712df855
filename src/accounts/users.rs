//! Dashboard users: a name, a role (the API's roles) and an argon2 password
//! hash. Failed sign-ins are recorded so that repeated guessing is slowed
//! down per user and per address, across restarts and daemons.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use serde_json::json;

use crate::auth::Role;
use crate::store::{Db, StoreError, now_ms};
use crate::validate::FieldError;

pub const MIN_PASSWORD_CHARS: usize = 8;
const MAX_PASSWORD_CHARS: usize = 1024;

/// Failures older than this no longer count.
const FAILURE_WINDOW_MS: i64 = 15 * 60_000;
const BASE_DELAY_MS: i64 = 30_000;
const MAX_DELAY_MS: i64 = 15 * 60_000;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{0}")]
    Invalid(FieldError),
    #[error("a user named '{0}' already exists")]
    Exists(String),
    #[error("no user named '{0}'")]
    NotFound(String),
    #[error("the password could not be hashed")]
    Hash,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for UserError {
    fn from(e: sqlx::Error) -> Self {
        UserError::Store(StoreError::Db(e))
    }
}

fn invalid(field: &str, message: impl Into<String>) -> UserError {
    UserError::Invalid(FieldError {
        field: field.into(),
        message: message.into(),
    })
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub password_hash: String,
    pub created_at: i64,
    pub disabled_at: Option<i64>,
}

impl UserRow {
    pub fn role(&self) -> Option<Role> {
        Role::parse(&self.role)
    }
}

pub fn check_name(name: &str) -> Result<String, UserError> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 64 {
        return Err(invalid("name", "must be 1 to 64 characters"));
    }
    if n.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("name", "may not contain spaces"));
    }
    Ok(n.to_string())
}

pub fn check_password(pw: &str) -> Result<(), UserError> {
    let n = pw.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(invalid(
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(invalid(
            "password",
            format!("must be at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(())
}

pub fn hash_password(pw: &str) -> Result<String, UserError> {
    Argon2::default()
        .hash_password(pw.as_bytes())
        .map(|h| h.to_string())
        .map_err(|_| UserError::Hash)
}

pub fn verify_password(pw: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .is_ok_and(|h| Argon2::default().verify_password(pw.as_bytes(), &h).is_ok())
}

/// Checks a password against its PHC string as [`verify_password`] does, but
/// computes in `blocks` (grown to the hash's memory cost and kept by the
/// caller): argon2's ~19 MiB is reused from one check to the next instead of
/// allocated each time, which the allocator would keep per thread.
pub fn verify_password_in(pw: &str, hash: &str, blocks: &mut Vec<argon2::Block>) -> bool {
    let Ok(h) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&h.salt, &h.hash) else {
        return false;
    };
    let Ok(algorithm) = argon2::Algorithm::try_from(h.algorithm.as_str()) else {
        return false;
    };
    let version = match h.version.map(argon2::Version::try_from) {
        None => argon2::Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let Ok(params) = argon2::Params::try_from(&h) else {
        return false;
    };
    blocks.resize(params.block_count(), argon2::Block::default());
    let mut out = vec![0u8; expected.len()];
    if Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(pw.as_bytes(), salt, &mut out, &mut blocks[..])
        .is_err()
    {
        return false;
    }
    // `Output`'s equality is constant-time.
    argon2::password_hash::phc::Output::new(&out).is_ok_and(|o| &o == expected)
}

/// A hash to verify against when the user does not exist, so that an unknown
/// name takes as long to refuse as a wrong password.
fn dummy_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| hash_password("not a password of anyone").unwrap_or_default())
}

const COLS: &str = "id, name, role, password_hash, created_at, disabled_at";

pub async fn find(db: &Db, name: &str) -> Result<Option<UserRow>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM users WHERE name = $1"
    )))
    .bind(name.trim())
    .fetch_optional(&db.pool)
    .await?)
}

pub async fn list(db: &Db) -> Result<Vec<UserRow>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM users ORDER BY name"
    )))
    .fetch_all(&db.pool)
    .await?)
}

/// Creates a user; `actor` is recorded in the audit log.
pub async fn create(
    db: &Db,
    actor: &str,
    name: &str,
    role: Role,
    password: &str,
) -> Result<i64, UserError> {
    let name = check_name(name)?;
    check_password(password)?;
    if find(db, &name).await?.is_some() {
        return Err(UserError::Exists(name));
    }
    let pw = password.to_string();
    let hash = tokio::task::spawn_blocking(move || hash_password(&pw))
        .await
        .map_err(|_| UserError::Hash)??;
    let now = now_ms();
    let mut tx = db.begin().await?;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO users (name, role, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING id",
    )
    .bind(&name)
    .bind(role.as_str())
    .bind(&hash)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    crate::audit::record(
        &mut tx,
        actor,
        "create",
        "user",
        Some(id),
        None,
        Some(&json!({"name": name, "role": role.as_str()})),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Sets a new password and ends the user's sessions.
pub async fn set_password(
    db: &Db,
    actor: &str,
    name: &str,
    password: &str,
) -> Result<(), UserError> {
    check_password(password)?;
    let user = find(db, name)
        .await?
        .ok_or_else(|| UserError::NotFound(name.trim().to_string()))?;
    let pw = password.to_string();
    let hash = tokio::task::spawn_blocking(move || hash_password(&pw))
        .await
        .map_err(|_| UserError::Hash)??;
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(&hash)
        .bind(now_ms())
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM user_sessions WHERE user_id = $1")
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM login_failures WHERE user_name = $1")
        .bind(&user.name)
        .execute(&mut *tx)
        .await?;
    crate::audit::record(
        &mut tx,
        actor,
        "set_password",
        "user",
        Some(user.id),
        None,
        Some(&json!({"name": user.name})),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A random password for `serve --demo`: 16 characters without look-alikes.
pub fn random_password() -> Result<String, UserError> {
    const CHARS: &[u8] = b"abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY345679";
    let mut buf = [0u8; 16];
    getrandom::fill(&mut buf).map_err(|_| UserError::Hash)?;
    Ok(buf
        .iter()
        .map(|b| char::from(CHARS[usize::from(*b) % CHARS.len()]))
        .collect())
}

#[derive(Debug)]
pub enum SignIn {
    Ok(UserRow, Role),
    /// Wrong name or password (not told apart, so names cannot be probed).
    Wrong,
    /// Too many recent failures from this address (for this name, or for
    /// any): try again after this many seconds.
    Locked(i64),
    /// Every password check is busy: try again after this many seconds.
    Busy(i64),
}

fn delay_ms(failures: i64, free: i64) -> i64 {
    if failures < free {
        return 0;
    }
    let doublings = u32::try_from((failures - free).min(10)).unwrap_or(10);
    (BASE_DELAY_MS * (1_i64 << doublings)).min(MAX_DELAY_MS)
}

/// How long a password check may wait for a free slot before it is refused.
const BUSY_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
/// The longest a try for a much-guessed name is held back.
const MAX_SLOW_DOWN_MS: u64 = 5_000;

/// What sign-in may spend: a bounded number of password checks at once
/// (argon2 takes ~19 MiB and a core each), and the lock-out limits.
pub struct SigninGate {
    checks: tokio::sync::Semaphore,
    /// argon2's working memory, one per check that ran at once; reused.
    memory: std::sync::Mutex<Vec<Vec<argon2::Block>>>,
    limits: crate::config::SigninConfig,
}

impl SigninGate {
    pub fn new(limits: &crate::config::SigninConfig) -> SigninGate {
        let n = if limits.concurrency == 0 {
            std::thread::available_parallelism().map_or(2, usize::from)
        } else {
            limits.concurrency
        };
        SigninGate {
            checks: tokio::sync::Semaphore::new(n),
            memory: std::sync::Mutex::new(Vec::new()),
            limits: limits.clone(),
        }
    }
}

/// Recent failures: for this name from this address, from this address,
/// and for this name from anywhere (with the latest of each).
struct Failures {
    pair: (i64, Option<i64>),
    address: (i64, Option<i64>),
    name: i64,
}

impl Failures {
    /// How long (ms) this name and address must still wait: the later of the
    /// name-and-address and the address lock-outs.
    fn wait_ms(&self, limits: &crate::config::SigninConfig, now: i64) -> i64 {
        let until = |(n, last): (i64, Option<i64>), free| last.map_or(0, |l| l + delay_ms(n, free));
        let pair = until(self.pair, limits.per_user_address);
        let address = until(self.address, limits.per_address);
        (pair.max(address) - now).max(0)
    }
}

async fn failures(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    name: &str,
    ip: &str,
    since: i64,
) -> Result<Failures, StoreError> {
    let pair: (i64, Option<i64>) = sqlx::query_as(
        "SELECT COUNT(*), MAX(at) FROM login_failures WHERE user_name = $1 AND ip = $2 AND at > $3",
    )
    .bind(name)
    .bind(ip)
    .bind(since)
    .fetch_one(&mut **tx)
    .await?;
    let address: (i64, Option<i64>) =
        sqlx::query_as("SELECT COUNT(*), MAX(at) FROM login_failures WHERE ip = $1 AND at > $2")
            .bind(ip)
            .bind(since)
            .fetch_one(&mut **tx)
            .await?;
    let (name,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM login_failures WHERE user_name = $1 AND at > $2")
            .bind(name)
            .bind(since)
            .fetch_one(&mut **tx)
            .await?;
    Ok(Failures {
        pair,
        address,
        name,
    })
}

/// Checks the lock-out and records the attempt, in one step: the attempt is
/// counted as a failure before its password is checked (and forgotten if it
/// turns out right), so parallel guesses cannot all pass the check first.
/// Gives the attempt's row, or how long this address must wait, and how many
/// recent failures the name has from anywhere.
async fn claim_attempt(
    db: &Db,
    limits: &crate::config::SigninConfig,
    name: &str,
    ip: &str,
    now: i64,
) -> Result<Result<(i64, i64), i64>, StoreError> {
    let mut tx = db.begin().await?;
    if db.backend == crate::store::Backend::Postgres {
        // SQLite's one writer already runs these one at a time.
        sqlx::query("SELECT pg_advisory_xact_lock(7368001)")
            .execute(&mut *tx)
            .await?;
    }
    let f = failures(&mut tx, name, ip, now - FAILURE_WINDOW_MS).await?;
    let wait = f.wait_ms(limits, now);
    if wait > 0 {
        tx.rollback().await?;
        return Ok(Err(wait));
    }
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO login_failures (user_name, ip, at) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(name)
    .bind(ip)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Ok((id, f.name)))
}

/// Checks a name and password, honouring and updating the lock-out. The
/// lock-out holds per name *and address* and per address: an attacker's
/// address is shut out, the rightful user's is not. Many failures for a
/// name from everywhere only slow each further try for it down.
pub async fn authenticate(
    db: &Db,
    gate: &SigninGate,
    name: &str,
    password: &str,
    ip: &str,
) -> Result<SignIn, StoreError> {
    let name = name.trim().to_string();
    let now = now_ms();
    let (attempt, name_failures) = match claim_attempt(db, &gate.limits, &name, ip, now).await? {
        Ok(a) => a,
        Err(wait) => return Ok(SignIn::Locked((wait + 999) / 1000)),
    };
    let over = name_failures - gate.limits.per_user;
    if over >= 0 {
        let ms = (1000 * (u64::try_from(over).unwrap_or(0) + 1)).min(MAX_SLOW_DOWN_MS);
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    let permit = match tokio::time::timeout(BUSY_WAIT, gate.checks.acquire()).await {
        Ok(Ok(p)) => p,
        _ => {
            // Not checked, so not a failure.
            sqlx::query("DELETE FROM login_failures WHERE id = $1")
                .bind(attempt)
                .execute(db.writer())
                .await?;
            return Ok(SignIn::Busy(1));
        }
    };
    let user = find(db, &name).await?.filter(|u| u.disabled_at.is_none());
    let hash = user
        .as_ref()
        .map_or_else(|| dummy_hash().to_string(), |u| u.password_hash.clone());
    let pw = password.to_string();
    let mut blocks = gate
        .memory
        .lock()
        .map(|mut m| m.pop())
        .ok()
        .flatten()
        .unwrap_or_default();
    let (ok, blocks) = tokio::task::spawn_blocking(move || {
        let ok = verify_password_in(&pw, &hash, &mut blocks);
        (ok, blocks)
    })
    .await
    .unwrap_or_else(|_| (false, Vec::new()));
    if let Ok(mut m) = gate.memory.lock() {
        m.push(blocks);
    }
    drop(permit);
    match (user, ok) {
        (Some(u), true) => match u.role() {
            Some(role) => {
                // Right: this attempt and this address's failures for the name are forgotten.
                sqlx::query(
                    "DELETE FROM login_failures WHERE id = $1 OR (user_name = $2 AND ip = $3)",
                )
                .bind(attempt)
                .bind(&u.name)
                .bind(ip)
                .execute(db.writer())
                .await?;
                Ok(SignIn::Ok(u, role))
            }
            None => Ok(SignIn::Wrong),
        },
        // The attempt's row stays: it is the failure.
        _ => Ok(SignIn::Wrong),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify() {
        let h = hash_password("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn checks_in_reused_memory_agree_with_the_library() {
        let h = hash_password("correct horse").expect("hash");
        let mut blocks = Vec::new();
        assert!(verify_password_in("correct horse", &h, &mut blocks));
        assert_eq!(
            blocks.len(),
            19 * 1024,
            "argon2's default cost, kept for next time"
        );
        assert!(!verify_password_in("wrong horse", &h, &mut blocks));
        assert!(!verify_password_in("correct hors", &h, &mut blocks));
        assert!(!verify_password_in("x", "not a hash", &mut blocks));
        assert!(verify_password_in("correct horse", &h, &mut blocks));
        // Another user's hash (another salt) in the same memory.
        let other = hash_password("battery staple").expect("hash");
        assert!(verify_password_in("battery staple", &other, &mut blocks));
        assert!(!verify_password_in("correct horse", &other, &mut blocks));
    }

    #[test]
    fn delay_grows_and_caps() {
        assert_eq!(delay_ms(4, 5), 0);
        assert_eq!(delay_ms(5, 5), 30_000);
        assert_eq!(delay_ms(6, 5), 60_000);
        assert_eq!(delay_ms(50, 5), MAX_DELAY_MS);
    }
}
