//! The one way a versioned record (village, contact, site, drill) is
//! changed: in one transaction, read it, check the version the editor saw,
//! write, read it again, and record before and after in the audit trail.
//! A concurrent edit is a conflict (409), never a silent overwrite.

use std::future::Future;
use std::pin::Pin;

use sqlx::AnyConnection;

use super::{Db, Result, WriteError, changed_meanwhile, check_version};
use crate::auth::Actor;

/// A record with a `version` column, changed only through [`change`].
pub trait Versioned: Sized + Send + Sync {
    /// Its name in audit entries and conflict messages ("village").
    const ENTITY: &'static str;
    /// Its table, with `id`, `version`, `updated_at` and `archived_at` columns.
    const TABLE: &'static str;
    /// Reads the record inside the change's transaction.
    fn read(
        conn: &mut AnyConnection,
        id: i64,
        tz: chrono_tz::Tz,
    ) -> impl Future<Output = Result<Option<Self>>> + Send;
    fn version(&self) -> i64;
    fn is_archived(&self) -> bool;
    /// What the audit trail keeps of it.
    fn audit_view(&self, tz: chrono_tz::Tz) -> serde_json::Value;
}

/// Implements [`Versioned`] for a row read by its module's
/// `get_in(conn, id)`, with `version` and `archived_at` fields:
/// `versioned_row!(VillageRow, "village", "villages", |row, tz| json!(row.view(tz)))`.
macro_rules! versioned_row {
    ($row:ty, $entity:literal, $table:literal, |$r:ident, $tz:ident| $view:expr) => {
        impl $crate::store::versioned::Versioned for $row {
            const ENTITY: &'static str = $entity;
            const TABLE: &'static str = $table;
            fn read(
                conn: &mut sqlx::AnyConnection,
                id: i64,
                _: chrono_tz::Tz,
            ) -> impl Future<Output = $crate::store::Result<Option<Self>>> + Send {
                get_in(conn, id)
            }
            fn version(&self) -> i64 {
                self.version
            }
            fn is_archived(&self) -> bool {
                self.archived_at.is_some()
            }
            fn audit_view(&self, $tz: chrono_tz::Tz) -> serde_json::Value {
                let $r = self;
                $view
            }
        }
    };
}
pub(crate) use versioned_row;

/// What a change's write step did.
pub enum Written {
    /// Rows updated (0: someone changed it meanwhile, a conflict).
    Rows(u64),
    /// Nothing needed doing (archiving an archived record): the record is
    /// returned as it is and nothing is audited.
    Nothing,
}

/// A change's write step: runs inside the transaction, given the record as read.
pub type WriteStep<'c> =
    Pin<Box<dyn Future<Output = std::result::Result<Written, WriteError>> + Send + 'c>>;

/// Who changes which record how.
pub struct Edit<'a> {
    pub actor: &'a Actor,
    /// The audit action ("update", "archive", "activate").
    pub action: &'static str,
    pub id: i64,
    /// The version the editor saw; `None` when the action does not need one.
    pub seen: Option<i64>,
    pub tz: chrono_tz::Tz,
}

impl<'a> Edit<'a> {
    pub fn new(actor: &'a Actor, action: &'static str, id: i64, tz: chrono_tz::Tz) -> Self {
        Edit {
            actor,
            action,
            id,
            seen: None,
            tz,
        }
    }
    /// The version the editor saw: a different current one is a conflict.
    pub fn seen(mut self, version: Option<i64>) -> Self {
        self.seen = version;
        self
    }
}

/// Archives a record (kept for history, out of lists and targets); an
/// archived one is returned as it is. `also` sets more columns with it
/// (", active = 0").
pub async fn archive<R: Versioned>(
    db: &Db,
    e: Edit<'_>,
    also: &'static str,
) -> std::result::Result<R, WriteError> {
    let id = e.id;
    change(db, e, move |tx, before: &R| {
        let archived = before.is_archived();
        Box::pin(async move {
            if archived {
                return Ok(Written::Nothing);
            }
            let r = sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE {} SET archived_at = $1, updated_at = $1, version = version + 1{also} WHERE id = $2",
                R::TABLE
            )))
            .bind(super::now_ms())
            .bind(id)
            .execute(tx)
            .await?;
            Ok(Written::Rows(r.rows_affected()))
        })
    })
    .await
}

/// Changes one record: read, check `seen`, `write`, read again, audit, commit.
pub async fn change<R, W>(db: &Db, e: Edit<'_>, write: W) -> std::result::Result<R, WriteError>
where
    R: Versioned,
    W: for<'c> FnOnce(&'c mut AnyConnection, &'c R) -> WriteStep<'c> + Send,
{
    let mut tx = db.begin().await?;
    if !in_scope(db, &mut tx, R::TABLE, e.id).await? {
        return Err(WriteError::NotFound);
    }
    let before = R::read(&mut tx, e.id, e.tz)
        .await?
        .ok_or(WriteError::NotFound)?;
    check_version(R::ENTITY, e.id, before.version(), e.seen)?;
    match write(&mut tx, &before).await? {
        Written::Nothing => return Ok(before),
        Written::Rows(n) => changed_meanwhile(R::ENTITY, e.id, n)?,
    }
    let after = R::read(&mut tx, e.id, e.tz)
        .await?
        .ok_or(WriteError::NotFound)?;
    crate::audit::record(
        &mut tx,
        &e.actor.name,
        e.action,
        R::ENTITY,
        Some(e.id),
        Some(&before.audit_view(e.tz)),
        Some(&after.audit_view(e.tz)),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Whether the record `id` of `table` is the scoped handle's to change: its
/// township in the scope and, for a village scope, its village the one.
/// Outside it, a record is not found (as on PostgreSQL, where row-level
/// security hides it too).
async fn in_scope(
    db: &Db,
    conn: &mut AnyConnection,
    table: &str,
    id: i64,
) -> std::result::Result<bool, WriteError> {
    let Some(scope) = db.scope() else {
        return Ok(true);
    };
    let village = super::scope::village_column(table).unwrap_or("CAST(NULL AS BIGINT)");
    let row: Option<(i64, Option<i64>)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT township_id, {village} FROM {table} WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some_and(|(township, v)| {
        scope.covers(township) && scope.village().is_none_or(|want| v == Some(want))
    }))
}

/// Whether a write failed on a UNIQUE constraint: two editors racing for
/// the same code end here, and the field is named to the second (422), not
/// answered with a 500 after a pre-check both passed.
pub fn is_unique_violation(e: &WriteError) -> bool {
    matches!(e, WriteError::Store(super::StoreError::Db(sqlx::Error::Database(d))) if d.is_unique_violation())
}
