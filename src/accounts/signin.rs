//! Signing in: a name and password checked against the stored hash, with a
//! bounded number of checks at once. Failed sign-ins are recorded so that
//! repeated guessing is slowed down per user and per address, across
//! restarts and daemons.

use crate::store::{Db, StoreError, now_ms};

use super::users::{UserRow, dummy_hash, find, verify_password_in};
use crate::auth::Role;

/// Failures older than this no longer count.
const FAILURE_WINDOW_MS: i64 = 15 * 60_000;
const BASE_DELAY_MS: i64 = 30_000;
const MAX_DELAY_MS: i64 = 15 * 60_000;

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
    fn delay_grows_and_caps() {
        assert_eq!(delay_ms(4, 5), 0);
        assert_eq!(delay_ms(5, 5), 30_000);
        assert_eq!(delay_ms(6, 5), 60_000);
        assert_eq!(delay_ms(50, 5), MAX_DELAY_MS);
    }
}
