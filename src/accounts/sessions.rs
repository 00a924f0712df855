//! Sign-in sessions. The dashboard's cookie carries a random id; the database
//! keeps only its SHA-256 hash (a stolen database holds no usable session),
//! the user, a per-session CSRF token and the expiry.

use subtle::ConstantTimeEq as _;

use crate::auth::{Role, hash_token, random_token};
use crate::store::{Db, StoreError, now_ms};

/// A session ends after this long without use…
pub const IDLE_MS: i64 = 8 * 3_600_000;
/// …and in any case this long after sign-in.
pub const ABSOLUTE_MS: i64 = 24 * 3_600_000;
/// Use is recorded at most this often, to spare a write per page.
const TOUCH_MS: i64 = 5 * 60_000;

#[derive(Debug, Clone)]
pub struct SessionUser {
    pub user_id: i64,
    pub name: String,
    pub role: Role,
    /// The leader permission (带班领导/签发人).
    pub leader: bool,
    /// The person's name (姓名), empty when none was entered.
    pub full_name: String,
    pub csrf: String,
    /// What they may see and change, and their own township.
    pub scope: crate::store::Scope,
    pub township: i64,
}

impl SessionUser {
    /// The actor recorded in the audit log for dashboard changes.
    pub fn actor(&self) -> crate::auth::Actor {
        crate::auth::Actor {
            name: format!("web:{}", self.name),
            role: self.role,
            leader: self.leader,
            scope: self.scope.clone(),
            township: self.township,
        }
    }
}

fn rnd() -> Result<String, StoreError> {
    random_token("").map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub fn new_token() -> Result<String, StoreError> {
    rnd()
}

/// Starts a session; returns the cookie value.
pub async fn create(db: &Db, user_id: i64, ip: &str) -> Result<String, StoreError> {
    let raw = rnd()?;
    let csrf = rnd()?;
    let now = now_ms();
    // Housekeeping rides on sign-in: sign-ins are rare, so this is cheap.
    sqlx::query("DELETE FROM user_sessions WHERE expires_at < $1")
        .bind(now)
        .execute(&db.pool)
        .await?;
    sqlx::query("DELETE FROM login_failures WHERE at < $1")
        .bind(now - 24 * 3_600_000)
        .execute(&db.pool)
        .await?;
    sqlx::query(
        "INSERT INTO user_sessions (id_hash, user_id, csrf_token, ip, created_at, last_seen_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $5, $6)",
    )
    .bind(hash_token(&raw))
    .bind(user_id)
    .bind(&csrf)
    .bind(ip)
    .bind(now)
    .bind(now + IDLE_MS)
    .execute(&db.pool)
    .await?;
    super::users::record_signin(db, user_id, now).await?;
    Ok(raw)
}

type Row = (
    i64,
    String,
    String,
    i64,
    String,
    String,
    i64,
    i64,
    i64,
    String,
    i64,
    Option<i64>,
);

/// The signed-in user of a cookie value, if the session is current.
pub async fn lookup(db: &Db, raw: &str) -> Result<Option<SessionUser>, StoreError> {
    if raw.len() != 64 || !raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let id_hash = hash_token(raw);
    let row: Option<Row> = sqlx::query_as(
        "SELECT u.id, u.name, u.role, u.leader, u.full_name, s.csrf_token, s.created_at, s.last_seen_at, s.expires_at, \
         u.scope, u.township_id, u.village_id \
         FROM user_sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.id_hash = $1 AND u.disabled_at IS NULL",
    )
    .bind(&id_hash)
    .fetch_optional(&db.pool)
    .await?;
    let Some((
        user_id,
        name,
        role,
        leader,
        full_name,
        csrf,
        created,
        seen,
        expires,
        scope,
        township,
        village,
    )) = row
    else {
        return Ok(None);
    };
    let now = now_ms();
    if now >= expires || now >= created + ABSOLUTE_MS {
        return Ok(None);
    }
    let Some(role) = Role::parse(&role) else {
        return Ok(None);
    };
    if now - seen > TOUCH_MS {
        sqlx::query(
            "UPDATE user_sessions SET last_seen_at = $1, expires_at = $2 WHERE id_hash = $3",
        )
        .bind(now)
        .bind((now + IDLE_MS).min(created + ABSOLUTE_MS))
        .bind(&id_hash)
        .execute(&db.pool)
        .await?;
    }
    let scope = crate::store::Scope::from_stored(&scope, township, village);
    Ok(Some(SessionUser {
        user_id,
        name,
        role: crate::auth::role_within(role, &scope),
        leader: leader != 0 && scope.village().is_none(),
        full_name,
        csrf,
        scope,
        township,
    }))
}

pub async fn destroy(db: &Db, raw: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM user_sessions WHERE id_hash = $1")
        .bind(hash_token(raw))
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Compares two tokens in time independent of where they differ; an empty
/// token matches nothing.
pub fn same_token(a: &str, b: &str) -> bool {
    !a.is_empty() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::same_token;

    #[test]
    fn tokens_match_only_themselves_and_never_when_empty() {
        assert!(same_token("ab12", "ab12"));
        assert!(!same_token("ab12", "ab13"));
        assert!(!same_token("ab12", "ab1"));
        assert!(!same_token("ab1", "ab12"));
        assert!(!same_token("", ""));
    }
}
