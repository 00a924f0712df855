//! Townships: the organisation tree county → townships → villages.
//!
//! Every record a township owns (villages, contacts, sites, notices,
//! incidents, drills, users, tokens, the audit trail …) carries its
//! `township_id`. A single-township install — the SQLite default and
//! `serve --demo` — has exactly one, township 1, which the configuration
//! names (`area_code`, `township_name`); an install made before townships
//! existed became that township when it was upgraded (migration 0019).

use serde::Serialize;
use utoipa::ToSchema;

use crate::store::{Db, Result, Scope, StoreError, now_ms};

/// The township a single-township install is, and the one rows made before
/// townships belong to.
pub const HOME: i64 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, sqlx::FromRow)]
pub struct Township {
    pub id: i64,
    /// The 12-digit administrative division code (统计用区划代码).
    pub code: String,
    pub name: String,
    /// The county's 6-digit division code: the first six digits of `code`.
    pub county_code: String,
    /// `township`, or `county` for the county bureau's own row (its
    /// contacts are the bureau's duty staff).
    pub kind: String,
}

/// The county part of a 12-digit division code (its first six digits).
pub fn county_of(code: &str) -> &str {
    code.get(..6).unwrap_or(code)
}

/// Every township, in division-code order.
pub async fn list(db: &Db) -> Result<Vec<Township>> {
    Ok(
        sqlx::query_as("SELECT id, code, name, county_code, kind FROM townships ORDER BY code, id")
            .fetch_all(&db.pool)
            .await?,
    )
}

/// Why a township cannot be added, or a scope not resolved.
#[derive(Debug, thiserror::Error)]
pub enum TownshipError {
    #[error("区划代码须为12位数字 / the division code must be 12 digits: '{0}'")]
    BadCode(String),
    #[error("名称不能为空 / the name must not be empty")]
    NoName,
    #[error("区划代码已存在 / a township with code {0} exists")]
    Exists(String),
    #[error("没有区划代码为 {0} 的乡镇 / no township has the code {0}")]
    UnknownTownship(String),
    #[error("该乡镇没有代码为 {0} 的村 / the township has no village with code {0}")]
    UnknownVillage(String),
    #[error("未知范围 '{0}'，应为 county、township 或 village / unknown scope")]
    UnknownScope(String),
    #[error("村级范围须指定村 / a village scope needs --village")]
    NoVillage,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for TownshipError {
    fn from(e: sqlx::Error) -> Self {
        TownshipError::Store(e.into())
    }
}

/// Adds a township (or, with `county`, the county bureau's row) to a county
/// install.
pub async fn add(
    db: &Db,
    code: &str,
    name: &str,
    county: bool,
) -> std::result::Result<Township, TownshipError> {
    let code = code.trim();
    if code.len() != 12 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TownshipError::BadCode(code.into()));
    }
    let name = name.trim();
    if name.is_empty() {
        return Err(TownshipError::NoName);
    }
    if by_code(db, code).await?.is_some() {
        return Err(TownshipError::Exists(code.into()));
    }
    let now = now_ms();
    let kind = if county { "county" } else { "township" };
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO townships (code, name, county_code, kind, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
    )
    .bind(code)
    .bind(name)
    .bind(county_of(code))
    .bind(kind)
    .bind(now)
    .fetch_one(db.writer())
    .await?;
    Ok(Township {
        id,
        code: code.into(),
        name: name.into(),
        county_code: county_of(code).into(),
        kind: kind.into(),
    })
}

pub async fn by_code(db: &Db, code: &str) -> Result<Option<Township>> {
    Ok(
        sqlx::query_as("SELECT id, code, name, county_code, kind FROM townships WHERE code = $1")
            .bind(code)
            .fetch_optional(&db.pool)
            .await?,
    )
}

/// A scope as the command line names it (`county`, `township`, `village`),
/// with the township's division code (default: the home township) and the
/// village's code; returns the scope and the township it belongs to.
pub async fn resolve_scope(
    db: &Db,
    kind: &str,
    township_code: Option<&str>,
    village_code: Option<&str>,
) -> std::result::Result<(Scope, i64), TownshipError> {
    let township = match township_code {
        Some(code) => {
            by_code(db, code)
                .await?
                .ok_or_else(|| TownshipError::UnknownTownship(code.into()))?
                .id
        }
        None => HOME,
    };
    Ok(match kind {
        "county" => (Scope::County, township),
        "township" => (Scope::township(township), township),
        "village" => {
            let code = village_code.ok_or(TownshipError::NoVillage)?;
            let village: Option<(i64,)> =
                sqlx::query_as("SELECT id FROM villages WHERE code = $1 AND township_id = $2")
                    .bind(code)
                    .bind(township)
                    .fetch_optional(&db.pool)
                    .await?;
            let (village,) = village.ok_or_else(|| TownshipError::UnknownVillage(code.into()))?;
            (Scope::Village { township, village }, township)
        }
        other => return Err(TownshipError::UnknownScope(other.into())),
    })
}

/// The county bureau's own row (kind `county`), whose contacts are the
/// county's duty staff; `None` on an install without one.
pub async fn county_id(db: &Db) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM townships WHERE kind = 'county' ORDER BY id LIMIT 1")
            .fetch_optional(&db.pool)
            .await?,
    )
}

/// Makes the home township what the configuration says it is (its division
/// code and name), at every start: on a single-township install the
/// configuration is where the township is named, and an upgraded database
/// learns its township's code here. Returns whether anything changed.
pub async fn settle_home(db: &Db, code: &str, name: &str) -> Result<bool> {
    let changed = sqlx::query(
        "UPDATE townships SET code = $1, name = $2, county_code = $3, updated_at = $4 \
         WHERE id = $5 AND (code <> $1 OR name <> $2 OR county_code <> $3)",
    )
    .bind(code)
    .bind(name)
    .bind(county_of(code))
    .bind(now_ms())
    .bind(HOME)
    .execute(db.writer())
    .await?
    .rows_affected();
    Ok(changed > 0)
}

#[cfg(test)]
mod tests {
    use super::county_of;

    #[test]
    fn the_county_is_the_first_six_digits() {
        assert_eq!(county_of("350524208000"), "350524");
        assert_eq!(county_of("3505"), "3505");
        assert_eq!(county_of(""), "");
    }
}
