//! Dashboard users: a name, a role (the API's roles) and an argon2 password
//! hash. Signing in (with its lock-out) is `accounts::signin`.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use serde_json::json;

use crate::auth::Role;
use crate::store::{Db, Scope, StoreError, now_ms};
use crate::validate::FieldError;

pub const MIN_PASSWORD_CHARS: usize = 8;
const MAX_PASSWORD_CHARS: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{0}")]
    Invalid(FieldError),
    #[error("a user named '{0}' already exists")]
    Exists(String),
    #[error("no user named '{0}'")]
    NotFound(String),
    /// Refused because it would leave nobody able to manage users, or
    /// would shut the acting admin out.
    #[error("{0}")]
    Refused(FieldError),
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

fn refused(field: &str, message: impl Into<String>) -> UserError {
    UserError::Refused(FieldError {
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
    /// The leader permission (带班领导/签发人), 0 or 1.
    pub leader: i64,
    /// The person's name (姓名), shown where they signed a record; may be empty.
    pub full_name: String,
    pub last_signin_at: Option<i64>,
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
pub(super) fn dummy_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| hash_password("not a password of anyone").unwrap_or_default())
}

const COLS: &str =
    "id, name, role, password_hash, created_at, disabled_at, leader, full_name, last_signin_at";

/// A user by name, if the handle's scope covers their township: a township
/// admin finds (and so changes) only their township's users.
pub async fn find(db: &Db, name: &str) -> Result<Option<UserRow>, StoreError> {
    let mut tx = db.read().await?;
    let row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM users WHERE name = $1 AND {}",
        db.township_filter("township_id")
    )))
    .bind(name.trim())
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// The users the handle's scope covers, by name.
pub async fn list(db: &Db) -> Result<Vec<UserRow>, StoreError> {
    let mut tx = db.read().await?;
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM users WHERE {} ORDER BY name",
        db.township_filter("township_id")
    )))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows)
}

/// Whether a name is taken anywhere (names are unique across townships,
/// whoever asks).
async fn name_taken(db: &Db, name: &str) -> Result<bool, StoreError> {
    let r: Option<(i64,)> = sqlx::query_as("SELECT id FROM users WHERE name = $1")
        .bind(name)
        .fetch_optional(&db.pool)
        .await?;
    Ok(r.is_some())
}

/// Creates a user of the home township; `actor` is recorded in the audit
/// log (the command line, the demo).
pub async fn create(
    db: &Db,
    actor: &str,
    name: &str,
    role: Role,
    password: &str,
) -> Result<i64, UserError> {
    let home = crate::registry::townships::HOME;
    create_in(
        db,
        actor,
        name,
        role,
        password,
        &Scope::township(home),
        home,
    )
    .await
}

/// Creates a user with `scope`, belonging to `township` (see
/// [`crate::auth::grant_scope`]); `actor` is recorded in the audit log.
pub async fn create_in(
    db: &Db,
    actor: &str,
    name: &str,
    role: Role,
    password: &str,
    scope: &Scope,
    township: i64,
) -> Result<i64, UserError> {
    let name = check_name(name)?;
    check_password(password)?;
    if name_taken(db, &name).await? {
        return Err(UserError::Exists(name));
    }
    let pw = password.to_string();
    let hash = tokio::task::spawn_blocking(move || hash_password(&pw))
        .await
        .map_err(|_| UserError::Hash)??;
    let now = now_ms();
    let mut tx = db.begin().await?;
    // The check above spares a password hash for a name in use; two
    // admins racing for one name meet the UNIQUE constraint instead.
    let inserted: Result<(i64,), sqlx::Error> = sqlx::query_as(
        "INSERT INTO users (name, role, password_hash, created_at, updated_at, scope, township_id, village_id) \
         VALUES ($1, $2, $3, $4, $4, $5, $6, $7) RETURNING id",
    )
    .bind(&name)
    .bind(role.as_str())
    .bind(&hash)
    .bind(now)
    .bind(scope.kind())
    .bind(township)
    .bind(scope.village())
    .fetch_one(&mut *tx)
    .await;
    let (id,) = match inserted {
        Err(sqlx::Error::Database(d)) if d.is_unique_violation() => {
            return Err(UserError::Exists(name));
        }
        other => other?,
    };
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

/// Gives or takes the leader permission (带班领导/签发人): approving public
/// notices and high-level activations someone else drafted.
pub async fn set_leader(db: &Db, actor: &str, name: &str, leader: bool) -> Result<(), UserError> {
    let user = find(db, name)
        .await?
        .ok_or_else(|| UserError::NotFound(name.trim().to_string()))?;
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE users SET leader = $1, updated_at = $2 WHERE id = $3")
        .bind(i64::from(leader))
        .bind(now_ms())
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
    crate::audit::record(
        &mut tx,
        actor,
        "set_leader",
        "user",
        Some(user.id),
        Some(&json!({"name": user.name, "leader": user.leader != 0})),
        Some(&json!({"name": user.name, "leader": leader})),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A person's name as typed: trimmed, at most 32 characters, may be empty.
pub fn check_full_name(full_name: &str) -> Result<String, UserError> {
    let n = full_name.trim();
    if n.chars().count() > 32 {
        return Err(invalid("full_name", "姓名最多 32 个字"));
    }
    if n.chars().any(char::is_control) {
        return Err(invalid("full_name", "姓名不能含控制字符"));
    }
    Ok(n.to_string())
}

/// Sets the person's name (姓名) shown for a user.
pub async fn set_full_name(
    db: &Db,
    actor: &str,
    name: &str,
    full_name: &str,
) -> Result<(), UserError> {
    let full_name = check_full_name(full_name)?;
    let user = find(db, name)
        .await?
        .ok_or_else(|| UserError::NotFound(name.trim().to_string()))?;
    if user.full_name == full_name {
        return Ok(());
    }
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE users SET full_name = $1, updated_at = $2 WHERE id = $3")
        .bind(&full_name)
        .bind(now_ms())
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
    crate::audit::record(
        &mut tx,
        actor,
        "update",
        "user",
        Some(user.id),
        Some(&json!({"name": user.name, "full_name": user.full_name})),
        Some(&json!({"name": user.name, "full_name": full_name})),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Disables a user (their sessions end at once and they cannot sign in) or
/// enables them again. An admin cannot disable themself, and the last
/// enabled admin cannot be disabled: someone must be left to manage users.
pub async fn set_disabled(
    db: &Db,
    actor: &str,
    name: &str,
    disabled: bool,
) -> Result<(), UserError> {
    let user = find(db, name)
        .await?
        .ok_or_else(|| UserError::NotFound(name.trim().to_string()))?;
    if user.disabled_at.is_some() == disabled {
        return Ok(());
    }
    if disabled && actor_is(actor, &user.name) {
        return Err(refused("name", "不能停用自己的账号"));
    }
    let mut tx = db.begin().await?;
    let now = now_ms();
    sqlx::query("UPDATE users SET disabled_at = $1, updated_at = $2 WHERE id = $3")
        .bind(disabled.then_some(now))
        .bind(now)
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
    if disabled {
        // Counted inside the transaction, after the change: two admins
        // disabling each other at once cannot both succeed on PostgreSQL's
        // row locks, and SQLite has one writer.
        let (admins,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL",
        )
        .fetch_one(&mut *tx)
        .await?;
        if admins == 0 {
            return Err(refused("name", "这是最后一个在用的管理员，不能停用"));
        }
        sqlx::query("DELETE FROM user_sessions WHERE user_id = $1")
            .bind(user.id)
            .execute(&mut *tx)
            .await?;
    }
    crate::audit::record(
        &mut tx,
        actor,
        if disabled { "disable" } else { "enable" },
        "user",
        Some(user.id),
        Some(&json!({"name": user.name, "disabled": user.disabled_at.is_some()})),
        Some(&json!({"name": user.name, "disabled": disabled})),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Whether an audit actor ("web:NAME", "cli", a token's name) is this user.
fn actor_is(actor: &str, name: &str) -> bool {
    actor == name || actor.strip_prefix("web:") == Some(name)
}

/// Gives a user a new random password, ends their sessions and returns the
/// password to be shown once to the admin who reset it.
pub async fn reset_password(db: &Db, actor: &str, name: &str) -> Result<String, UserError> {
    let password = random_password()?;
    set_password_as(db, actor, name, &password, "reset_password", None).await?;
    Ok(password)
}

/// A user changes their own password: the current one must be right. Their
/// other sessions end; the one they are using (`keep_session`, the cookie
/// value) stays signed in.
pub async fn change_own_password(
    db: &Db,
    user_id: i64,
    current: &str,
    new: &str,
    keep_session: &str,
) -> Result<(), UserError> {
    let user: Option<UserRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM users WHERE id = $1"
    )))
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?;
    let user = user.ok_or_else(|| UserError::NotFound(user_id.to_string()))?;
    let (pw, hash) = (current.to_string(), user.password_hash.clone());
    let right = tokio::task::spawn_blocking(move || verify_password(&pw, &hash))
        .await
        .map_err(|_| UserError::Hash)?;
    if !right {
        return Err(invalid("current", "当前密码不对"));
    }
    if current == new {
        return Err(invalid("password", "新密码不能与当前密码相同"));
    }
    let actor = format!("web:{}", user.name);
    set_password_as(
        db,
        &actor,
        &user.name,
        new,
        "change_password",
        Some(keep_session),
    )
    .await
}

/// Records a successful sign-in.
pub async fn record_signin(db: &Db, user_id: i64, at: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET last_signin_at = $1 WHERE id = $2")
        .bind(at)
        .bind(user_id)
        .execute(db.writer())
        .await?;
    Ok(())
}

/// Sets a new password and ends the user's sessions.
pub async fn set_password(
    db: &Db,
    actor: &str,
    name: &str,
    password: &str,
) -> Result<(), UserError> {
    set_password_as(db, actor, name, password, "set_password", None).await
}

/// Sets a password, ends the user's sessions except `keep_session` (a cookie
/// value), clears their sign-in failures and records `action`.
async fn set_password_as(
    db: &Db,
    actor: &str,
    name: &str,
    password: &str,
    action: &str,
    keep_session: Option<&str>,
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
    sqlx::query("DELETE FROM user_sessions WHERE user_id = $1 AND id_hash <> $2")
        .bind(user.id)
        .bind(
            keep_session
                .map(crate::auth::hash_token)
                .unwrap_or_default(),
        )
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM login_failures WHERE user_name = $1")
        .bind(&user.name)
        .execute(&mut *tx)
        .await?;
    crate::audit::record(
        &mut tx,
        actor,
        action,
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

/// Sets what a user may see and change (county, their township, a village
/// of it) and the township they belong to; their sessions end, so the new
/// scope holds from their next sign-in.
pub async fn set_scope(
    db: &Db,
    actor: &str,
    name: &str,
    scope: &crate::store::Scope,
    township: i64,
) -> Result<(), UserError> {
    let mut tx = db.begin().await?;
    let row: Option<(i64,)> = sqlx::query_as(
        "UPDATE users SET scope = $1, township_id = $2, village_id = $3 WHERE name = $4 RETURNING id",
    )
    .bind(scope.kind())
    .bind(township)
    .bind(scope.village())
    .bind(name)
    .fetch_optional(&mut *tx)
    .await?;
    let (id,) = row.ok_or_else(|| UserError::NotFound(name.to_string()))?;
    sqlx::query("DELETE FROM user_sessions WHERE user_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let after = serde_json::json!({"name": name, "scope": scope.kind(), "township_id": township});
    crate::audit::record(
        &mut tx,
        actor,
        "scope",
        "user",
        Some(id),
        None,
        Some(&after),
    )
    .await?;
    tx.commit().await?;
    Ok(())
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
}
