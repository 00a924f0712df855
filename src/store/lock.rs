//! Locks across daemons on one PostgreSQL: a session advisory lock held on a
//! connection of its own for as long as the returned [`Held`] lives. The
//! connection comes from a small pool of its own (`Db::locks`): a lock is
//! waited for before any connection of the main pool is taken, so its
//! holder can always get the connections it needs to finish. It is closed,
//! never handed back, when dropped, so the lock cannot outlive its holder
//! on a pooled connection, and the server drops it at once when the holding
//! daemon dies. On SQLite there is one daemon (the `<db>.lock`), and these
//! locks hold nothing.

use sqlx::Any;
use sqlx::pool::PoolConnection;

use super::{Db, StoreError};

/// Advisory lock keys, kept apart (sign-in's transaction lock is 7368001).
pub mod keys {
    /// Readings decided one at a time (`incidents::observations::record`).
    pub const OBSERVATIONS: i64 = 7_368_003;
    /// Plus an alert's id: the daemon writing that alert's outbox.
    pub const ALERTS: i64 = 0x4648_0000_0000_0000;
    /// Plus a township's id: a write to that township's duty roster
    /// (`duty::lock_roster`, a transaction lock).
    pub const DUTY_ROSTER: i64 = 0x4455_5459_0000_0000;
}

/// A connection ready to hold a lock whose key is not known yet (a new
/// alert's id): taken before the transaction that makes the key.
pub struct Slot(Option<PoolConnection<Any>>);

/// A lock held until dropped.
pub struct Held {
    _conn: Option<PoolConnection<Any>>,
}

/// A connection for a lock, from the locks' own pool.
pub async fn slot(db: &Db) -> Result<Slot, StoreError> {
    let Some(pool) = &db.locks else {
        return Ok(Slot(None));
    };
    let mut conn = pool.acquire().await?;
    conn.close_on_drop();
    Ok(Slot(Some(conn)))
}

/// Waits for the lock `key`.
pub async fn wait(db: &Db, key: i64) -> Result<Held, StoreError> {
    slot(db).await?.wait(key).await
}

/// The lock `key` if nobody holds it.
pub async fn try_take(db: &Db, key: i64) -> Result<Option<Held>, StoreError> {
    slot(db).await?.try_take(key).await
}

impl Slot {
    /// Waits for the lock `key`.
    pub async fn wait(self, key: i64) -> Result<Held, StoreError> {
        let Some(mut conn) = self.0 else {
            return Ok(Held { _conn: None });
        };
        sqlx::query("SELECT 1 FROM (SELECT pg_advisory_lock($1)) AS l")
            .bind(key)
            .execute(&mut *conn)
            .await?;
        Ok(Held { _conn: Some(conn) })
    }

    /// The lock `key` if nobody holds it.
    pub async fn try_take(self, key: i64) -> Result<Option<Held>, StoreError> {
        let Some(mut conn) = self.0 else {
            return Ok(Some(Held { _conn: None }));
        };
        let (got,): (i64,) =
            sqlx::query_as("SELECT CASE WHEN pg_try_advisory_lock($1) THEN 1 ELSE 0 END")
                .bind(key)
                .fetch_one(&mut *conn)
                .await?;
        Ok((got == 1).then_some(Held { _conn: Some(conn) }))
    }
}
