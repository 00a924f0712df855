//! Which daemon is writing a notice's outbox. While a notice is `accepting`
//! (its recipients still being committed page by page), the daemon writing
//! it holds the alert's lock (`store::lock`, a PostgreSQL advisory lock). If
//! that daemon dies, the server drops the lock with its connection, and any
//! other daemon may complete the notice (`alerts::recover_incomplete`, run
//! every few seconds on PostgreSQL); while it lives, nobody else writes that
//! notice's pages, so no recipient is written twice. SQLite has one process:
//! a notice cut short there is completed at the next start.

use std::sync::Arc;

use tokio::sync::watch;

use crate::notify::delivery::outbox::Notifier;
use crate::store::lock::{self, Held, Slot, keys};
use crate::store::{Db, StoreError};

/// This daemon writes the alert's outbox until the owner is dropped.
pub struct Owner {
    _held: Held,
}

impl Owner {
    /// A new notice's lock, in a slot taken before its transaction began:
    /// the alert is not visible to anyone yet, so this never waits.
    pub async fn of_new(slot: Slot, alert_id: i64) -> Result<Owner, StoreError> {
        Ok(Owner {
            _held: slot.wait(keys::ALERTS + alert_id).await?,
        })
    }

    /// Waits for the alert's lock (the approver of a public notice may wait
    /// for a recovery that got there first).
    pub async fn take(db: &Db, alert_id: i64) -> Result<Owner, StoreError> {
        Ok(Owner {
            _held: lock::wait(db, keys::ALERTS + alert_id).await?,
        })
    }

    /// The alert's lock if nobody holds it: its writer is gone.
    pub async fn try_take(db: &Db, alert_id: i64) -> Result<Option<Owner>, StoreError> {
        Ok(lock::try_take(db, keys::ALERTS + alert_id)
            .await?
            .map(|h| Owner { _held: h }))
    }
}

/// How often a daemon on PostgreSQL looks for notices another daemon began
/// accepting and died before finishing.
const ORPHAN_CHECK: std::time::Duration = std::time::Duration::from_secs(2);

/// Several daemons: a notice whose accepting daemon died between pages is
/// completed by another within seconds, not at that daemon's next start
/// (this module).
pub async fn complete_orphaned_notices(n: Arc<Notifier>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(ORPHAN_CHECK) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            return;
        }
        match super::alerts::recover_incomplete(&n.db, &n.cfg).await {
            Ok(0) => {}
            Ok(done) => {
                tracing::warn!(
                    alerts = done,
                    "completed notices another daemon began and did not finish"
                );
                n.wake.notify_waiters();
            }
            Err(e) => tracing::warn!(error = %e, "looking for notices cut short failed"),
        }
    }
}
