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

use crate::store::{Db, Result, now_ms};

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
}

/// The county part of a 12-digit division code (its first six digits).
pub fn county_of(code: &str) -> &str {
    code.get(..6).unwrap_or(code)
}

/// Every township, in division-code order.
pub async fn list(db: &Db) -> Result<Vec<Township>> {
    Ok(
        sqlx::query_as("SELECT id, code, name, county_code FROM townships ORDER BY code, id")
            .fetch_all(&db.pool)
            .await?,
    )
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
