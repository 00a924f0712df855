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
/// Wrong passwords for one user name before the delay starts.
const USER_FREE_TRIES: i64 = 5;
/// Wrong passwords from one address (any user names) before the delay starts:
/// an office behind one NAT address has several people typing.
const IP_FREE_TRIES: i64 = 20;
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
    /// Too many recent failures: try again after this many seconds.
    Locked(i64),
}

fn delay_ms(failures: i64, free: i64) -> i64 {
    if failures < free {
        return 0;
    }
    let doublings = u32::try_from((failures - free).min(10)).unwrap_or(10);
    (BASE_DELAY_MS * (1_i64 << doublings)).min(MAX_DELAY_MS)
}

/// How long (ms) this name and address must still wait before another try.
pub async fn lockout_wait(db: &Db, name: &str, ip: &str, now: i64) -> Result<i64, StoreError> {
    let since = now - FAILURE_WINDOW_MS;
    let (n_user, last_user): (i64, Option<i64>) = sqlx::query_as(
        "SELECT COUNT(*), MAX(at) FROM login_failures WHERE user_name = $1 AND at > $2",
    )
    .bind(name)
    .bind(since)
    .fetch_one(&db.pool)
    .await?;
    let (n_ip, last_ip): (i64, Option<i64>) =
        sqlx::query_as("SELECT COUNT(*), MAX(at) FROM login_failures WHERE ip = $1 AND at > $2")
            .bind(ip)
            .bind(since)
            .fetch_one(&db.pool)
            .await?;
    let until_user = last_user.map_or(0, |l| l + delay_ms(n_user, USER_FREE_TRIES));
    let until_ip = last_ip.map_or(0, |l| l + delay_ms(n_ip, IP_FREE_TRIES));
    Ok((until_user.max(until_ip) - now).max(0))
}

/// Checks a name and password, honouring and updating the lock-out.
pub async fn authenticate(
    db: &Db,
    name: &str,
    password: &str,
    ip: &str,
) -> Result<SignIn, StoreError> {
    let name = name.trim().to_string();
    let now = now_ms();
    let wait = lockout_wait(db, &name, ip, now).await?;
    if wait > 0 {
        return Ok(SignIn::Locked((wait + 999) / 1000));
    }
    let user = find(db, &name).await?.filter(|u| u.disabled_at.is_none());
    let hash = user
        .as_ref()
        .map_or_else(|| dummy_hash().to_string(), |u| u.password_hash.clone());
    let pw = password.to_string();
    let ok = tokio::task::spawn_blocking(move || verify_password(&pw, &hash))
        .await
        .unwrap_or(false);
    match (user, ok) {
        (Some(u), true) => match u.role() {
            Some(role) => {
                sqlx::query("DELETE FROM login_failures WHERE user_name = $1")
                    .bind(&u.name)
                    .execute(&db.pool)
                    .await?;
                Ok(SignIn::Ok(u, role))
            }
            None => Ok(SignIn::Wrong),
        },
        _ => {
            sqlx::query("INSERT INTO login_failures (user_name, ip, at) VALUES ($1, $2, $3)")
                .bind(&name)
                .bind(ip)
                .bind(now)
                .execute(&db.pool)
                .await?;
            Ok(SignIn::Wrong)
        }
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
    fn delay_grows_and_caps() {
        assert_eq!(delay_ms(4, 5), 0);
        assert_eq!(delay_ms(5, 5), 30_000);
        assert_eq!(delay_ms(6, 5), 60_000);
        assert_eq!(delay_ms(50, 5), MAX_DELAY_MS);
    }
}
