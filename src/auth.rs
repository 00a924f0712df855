//! API tokens and roles. Tokens are random, shown once, and stored as a
//! SHA-256 hash: they carry 256 bits of entropy, so a slow hash adds nothing.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::registry::townships::HOME;
use crate::store::{Db, Result, Scope, now_ms};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Editor,
    Dispatcher,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Dispatcher => "dispatcher",
            Role::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "editor" => Some(Role::Editor),
            "dispatcher" => Some(Role::Dispatcher),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// Who is acting: recorded in the audit log.
#[derive(Debug, Clone)]
pub struct Actor {
    pub name: String,
    pub role: Role,
    /// The leader permission (带班领导/签发人): may approve public notices
    /// and high-level activations that someone else drafted. Beside the
    /// role, not above it: a dispatcher may be a leader, an admin need not be.
    pub leader: bool,
    /// What they may see and change (county, a township, a village).
    pub scope: Scope,
    /// Their own township: where what they make belongs when nothing else
    /// (a village, a site) says.
    pub township: i64,
}

impl Actor {
    /// The daemon itself: every township.
    pub fn system() -> Actor {
        Actor::new("system", Role::Admin)
    }

    /// An actor with a role, no leader permission, and the whole install in
    /// scope (the command line, the daemon's own work).
    pub fn new(name: impl Into<String>, role: Role) -> Actor {
        Actor {
            name: name.into(),
            role,
            leader: false,
            scope: Scope::County,
            township: HOME,
        }
    }

    /// The database as this actor may see it.
    pub fn db(&self, db: &Db) -> Db {
        db.scoped(self.scope.clone())
    }
}

/// Why someone may not sign off what another drafted (two-person rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignoffRefused {
    #[error("签发需要带班领导权限 / signing off needs the leader permission")]
    NotLeader,
    #[error(
        "起草人不能签发自己的草稿，须由另一位带班领导签发 / the author cannot sign off their own draft"
    )]
    OwnDraft,
}

/// The two-person rule: `actor` may approve or reject what `author` (the
/// actor name recorded with the draft) asked for only as a leader who is
/// someone else.
pub fn second_person(actor: &Actor, author: &str) -> std::result::Result<(), SignoffRefused> {
    if !actor.leader {
        return Err(SignoffRefused::NotLeader);
    }
    if actor.name == author {
        return Err(SignoffRefused::OwnDraft);
    }
    Ok(())
}

pub fn random_token(prefix: &str) -> std::io::Result<String> {
    let mut buf = [0u8; 32];
    getrandom::fill(&mut buf).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(format!("{prefix}{}", hex::encode(buf)))
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub leader: i64,
    /// `county`, `township` or `village` (with `township_id`, `village_id`).
    pub scope: String,
    pub township_id: i64,
    pub village_id: Option<i64>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// Creates a token and returns (id, the secret token text).
pub async fn create_token(db: &Db, name: &str, role: Role) -> Result<(i64, String)> {
    create_token_as(db, name, role, false).await
}

/// [`create_token`], with the leader permission or not.
pub async fn create_token_as(
    db: &Db,
    name: &str,
    role: Role,
    leader: bool,
) -> Result<(i64, String)> {
    create_scoped_token(db, name, role, leader, &Scope::township(HOME), HOME).await
}

/// A token for `scope`, belonging to `township` (its own township; for a
/// county token the county's row, or the home township).
pub async fn create_scoped_token(
    db: &Db,
    name: &str,
    role: Role,
    leader: bool,
    scope: &Scope,
    township: i64,
) -> Result<(i64, String)> {
    let mut tx = db.begin().await?;
    let made = insert_token(&mut tx, name, role, leader, scope, township).await?;
    tx.commit().await?;
    Ok(made)
}

/// The highest role a scope carries. A village scope sees and edits its
/// village's records, so editor at most: notices, activations and drills
/// reach people across villages and are sent by the township office or the
/// county. Applied to every token and session as it is read, whatever the
/// stored role says.
pub fn role_within(role: Role, scope: &Scope) -> Role {
    match scope {
        Scope::Village { .. } => role.min(Role::Editor),
        _ => role,
    }
}

/// Whether `role` may be given with `scope` ([`role_within`]): a 422
/// naming `role` instead of a token or user whose role would not hold.
pub fn check_role_within(
    role: Role,
    scope: &Scope,
) -> std::result::Result<(), crate::store::WriteError> {
    if role_within(role, scope) == role {
        return Ok(());
    }
    Err(crate::store::WriteError::field(
        "role",
        "村级范围最高为编辑（通知由乡镇或县发送） / a village scope carries at most the editor role: notices are sent by the township or the county",
    ))
}

/// The scope someone asks for a new token (or user): `kind` (`county`,
/// `township`, `village`; none: the maker's own) with a township and a
/// village. No one hands out more than they have: the county only by the
/// county, a township within the maker's scope, a village of it. Returns
/// the scope and the township the holder belongs to.
pub async fn grant_scope(
    db: &Db,
    by: &Actor,
    kind: Option<&str>,
    township: Option<i64>,
    village: Option<i64>,
) -> std::result::Result<(Scope, i64), crate::store::WriteError> {
    use crate::store::WriteError;
    let Some(kind) = kind else {
        return Ok((by.scope.clone(), by.township));
    };
    let township = township.unwrap_or(by.township);
    let known: Option<(i64,)> = sqlx::query_as("SELECT id FROM townships WHERE id = $1")
        .bind(township)
        .fetch_optional(&db.unscoped().pool)
        .await?;
    if known.is_none() || !by.scope.covers(township) {
        return Err(WriteError::field(
            "township_id",
            "没有这个乡镇 / no such township",
        ));
    }
    match kind {
        "county" if by.scope == Scope::County => Ok((Scope::County, township)),
        "county" => Err(WriteError::field(
            "scope",
            "只有县级用户可以授予县级范围 / only the county may grant the county scope",
        )),
        "township" if by.scope.village().is_none() => Ok((Scope::township(township), township)),
        "township" => Err(WriteError::field(
            "scope",
            "村级用户只能授予本村范围 / a village user may grant only their village",
        )),
        "village" => {
            let village = village.ok_or_else(|| {
                WriteError::field(
                    "village_id",
                    "村级范围须指定村 / a village scope needs a village",
                )
            })?;
            let found: Option<(i64,)> =
                sqlx::query_as("SELECT id FROM villages WHERE id = $1 AND township_id = $2")
                    .bind(village)
                    .bind(township)
                    .fetch_optional(&db.unscoped().pool)
                    .await?;
            if found.is_none() || by.scope.village().is_some_and(|v| v != village) {
                return Err(WriteError::field(
                    "village_id",
                    "没有这个村 / no such village",
                ));
            }
            Ok((Scope::Village { township, village }, township))
        }
        other => Err(WriteError::field(
            "scope",
            format!("未知范围 '{other}'，应为 county、township 或 village / unknown scope"),
        )),
    }
}

/// A token made by someone through the API, with a scope from
/// [`grant_scope`]: the token and its audit entry commit together.
pub async fn issue_token(
    db: &Db,
    by: &Actor,
    name: &str,
    role: Role,
    leader: bool,
    scope: (&Scope, i64),
) -> Result<(i64, String)> {
    let mut tx = db.begin().await?;
    let (id, token) = insert_token(&mut tx, name, role, leader, scope.0, scope.1).await?;
    let after = serde_json::json!({
        "id": id, "name": name, "role": role.as_str(), "leader": leader,
        "scope": scope.0.kind(), "township_id": scope.1, "village_id": scope.0.village()
    });
    crate::audit::record(
        &mut tx,
        &by.name,
        "create",
        "token",
        Some(id),
        None,
        Some(&after),
    )
    .await?;
    tx.commit().await?;
    Ok((id, token))
}

async fn insert_token(
    conn: &mut sqlx::AnyConnection,
    name: &str,
    role: Role,
    leader: bool,
    scope: &Scope,
    township: i64,
) -> Result<(i64, String)> {
    let token =
        random_token("fh_").map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))?;
    let township = match scope {
        Scope::Village { township, .. } => *township,
        _ => township,
    };
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO api_tokens (name, role, token_hash, created_at, leader, scope, township_id, village_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(name)
    .bind(role.as_str())
    .bind(hash_token(&token))
    .bind(now_ms())
    .bind(i64::from(leader))
    .bind(scope.kind())
    .bind(township)
    .bind(scope.village())
    .fetch_one(conn)
    .await?;
    Ok((id, token))
}

/// Replaces every live token of this name with a new one, in one
/// transaction (`serve --demo` at each start: the last printed token is the
/// only one that works).
pub async fn rotate_token(db: &Db, name: &str, role: Role) -> Result<(i64, String)> {
    let token =
        random_token("fh_").map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))?;
    let now = now_ms();
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(name)
        .execute(&mut *tx)
        .await?;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO api_tokens (name, role, token_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(name)
    .bind(role.as_str())
    .bind(hash_token(&token))
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((id, token))
}

pub async fn lookup_token(db: &Db, token: &str) -> Result<Option<Actor>> {
    lookup_hash(db, &hash_token(token)).await
}

async fn lookup_hash(db: &Db, hash: &str) -> Result<Option<Actor>> {
    type Row = (String, String, i64, String, i64, Option<i64>);
    let row: Option<Row> = sqlx::query_as(
        "SELECT name, role, leader, scope, township_id, village_id FROM api_tokens \
         WHERE token_hash = $1 AND revoked_at IS NULL",
    )
    .bind(hash)
    .fetch_optional(&db.pool)
    .await?;
    Ok(
        row.and_then(|(name, role, leader, scope, township, village)| {
            Role::parse(&role).map(|role| {
                let scope = Scope::from_stored(&scope, township, village);
                Actor {
                    name: format!("token:{name}"),
                    role: role_within(role, &scope),
                    leader: leader != 0 && scope.village().is_none(),
                    scope,
                    township,
                }
            })
        }),
    )
}

/// Tokens recently found valid, so a request does not cost a database
/// round trip. An entry lives `TOKEN_CACHE_TTL`: a token revoked through
/// this daemon's API is dropped at once (`clear`), one revoked elsewhere
/// (another daemon on the same PostgreSQL) stops working within the TTL.
/// Unknown tokens are never cached.
#[derive(Default)]
pub struct TokenCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, (Actor, std::time::Instant)>>,
}

pub const TOKEN_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(10);
const TOKEN_CACHE_MAX: usize = 1024;

impl TokenCache {
    pub async fn lookup(&self, db: &Db, token: &str) -> Result<Option<Actor>> {
        let hash = hash_token(token);
        if let Some((actor, at)) = self.lock().get(&hash)
            && at.elapsed() < TOKEN_CACHE_TTL
        {
            return Ok(Some(actor.clone()));
        }
        let found = lookup_hash(db, &hash).await?;
        if let Some(actor) = &found {
            let mut entries = self.lock();
            if entries.len() >= TOKEN_CACHE_MAX {
                entries.clear();
            }
            entries.insert(hash, (actor.clone(), std::time::Instant::now()));
        }
        Ok(found)
    }

    /// Forgets every cached token (after a revocation).
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, (Actor, std::time::Instant)>>
    {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The tokens of the townships `db` is scoped to.
pub async fn list_tokens(db: &Db) -> Result<Vec<TokenInfo>> {
    let mut tx = db.read().await?;
    let tokens = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, name, role, leader, scope, township_id, village_id, created_at, revoked_at \
         FROM api_tokens WHERE {} ORDER BY id",
        db.township_filter("township_id")
    )))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(tokens)
}

pub async fn revoke_token(db: &Db, by: &Actor, id: i64) -> Result<bool> {
    let mut tx = db.begin().await?;
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL AND {}",
        db.township_filter("township_id")
    )))
    .bind(now_ms())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if r.rows_affected() == 0 {
        return Ok(false);
    }
    crate::audit::record(&mut tx, &by.name, "revoke", "token", Some(id), None, None).await?;
    tx.commit().await?;
    Ok(true)
}
