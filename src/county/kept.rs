//! Per-township figures, counted together and kept.
//!
//! The county overview, the dashboard's overview and the worklist's counts
//! are the same figures, and counting them scans every site of the county
//! (tens of thousands) several times: too slow to do for each request when
//! an office and the county bureau are reading at once. So they are counted
//! once for every township and kept; each asker gets the townships of their
//! scope.
//!
//! A kept count is used while
//! - nothing that changes it has been recorded since: each use asks the
//!   database for the newest audit-trail entry about a site, inspection,
//!   finding, drill record, incident or import, and the newest notice (indexed
//!   look-ups), so a change made through any daemon is counted on the next
//!   request to every daemon, and whoever made it sees it at once;
//! - it is younger than [`KEEP`]: what the audit trail does not carry
//!   (answers to notices arriving, the day turning) is at most that old.
//!
//! A village-scoped asker's figures (one village's sites) are counted on the
//! spot, as before.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDate;

use crate::ledger::worklist::Due;
use crate::store::{Db, Result, Scope, Sql, Tx};

/// How long kept figures are used when nothing recorded has changed them.
pub const KEEP: Duration = Duration::from_secs(5);

/// The notices counted are those of the last this many days.
pub const NOTICE_DAYS: i64 = 7;

/// Audit-trail entities whose changes change the figures (a site's
/// archiving among them).
const COUNTED: [&str; 6] = [
    "site",
    "inspection",
    "finding",
    "drill_record",
    "incident",
    // An import of sites or findings (one entry for the whole file).
    "import",
];

/// One township's figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Figures {
    /// Incidents (activations) not closed.
    pub open_incidents: i64,
    /// Notices sent in the last [`NOTICE_DAYS`] days, their recipients and
    /// how many of those answered.
    pub notices: i64,
    pub recipients: i64,
    pub answered: i64,
    /// The worklist's sections ([`Due`]).
    pub uninspected: i64,
    pub licences_due: i64,
    pub overdue_findings: i64,
    pub undrilled: i64,
    pub over_stock: i64,
    /// Fireworks retail points holding stock outside their sale season.
    pub out_of_season: i64,
    /// Sites not archived: the ledger's length.
    pub live_sites: i64,
}

impl Figures {
    pub fn add(&mut self, o: &Figures) {
        self.open_incidents += o.open_incidents;
        self.notices += o.notices;
        self.recipients += o.recipients;
        self.answered += o.answered;
        self.uninspected += o.uninspected;
        self.licences_due += o.licences_due;
        self.overdue_findings += o.overdue_findings;
        self.undrilled += o.undrilled;
        self.over_stock += o.over_stock;
        self.out_of_season += o.out_of_season;
        self.live_sites += o.live_sites;
    }
}

/// Figures per township, as counted at one moment.
#[derive(Debug, Clone)]
pub struct Counted {
    /// When they were counted (ms since the epoch).
    pub at: i64,
    /// The first day whose notices are counted.
    pub notices_since: NaiveDate,
    pub townships: HashMap<i64, Figures>,
}

impl Counted {
    /// One township's figures (none counted: zeros).
    pub fn of(&self, township: i64) -> Figures {
        self.townships.get(&township).copied().unwrap_or_default()
    }

    /// Every township's figures added up, or one township's.
    pub fn sum(&self, township: Option<i64>) -> Figures {
        let mut total = Figures::default();
        for (id, f) in &self.townships {
            if township.is_none_or(|t| t == *id) {
                total.add(f);
            }
        }
        total
    }
}

struct Snapshot {
    counted: Arc<Counted>,
    /// [`last_change`] when counting began.
    mark: i64,
    day: NaiveDate,
    taken: Instant,
}

/// The kept figures of one daemon (in `AppState`).
#[derive(Default)]
pub struct Kept {
    latest: Mutex<Option<Arc<Snapshot>>>,
    /// Held while counting, so that a burst of requests counts once.
    counting: tokio::sync::Mutex<()>,
}

impl Kept {
    /// The figures of every township `db`'s scope covers.
    pub async fn figures(&self, db: &Db, tz: chrono_tz::Tz) -> Result<Arc<Counted>> {
        let scope = db.scope().cloned();
        if let Some(Scope::Village { .. }) = scope {
            return Ok(Arc::new(count(db, tz).await?));
        }
        let all = self.every_township(&db.unscoped(), tz).await?;
        Ok(match scope {
            None | Some(Scope::County) => all,
            Some(s) => Arc::new(Counted {
                at: all.at,
                notices_since: all.notices_since,
                townships: all
                    .townships
                    .iter()
                    .filter(|(id, _)| s.covers(**id))
                    .map(|(id, f)| (*id, *f))
                    .collect(),
            }),
        })
    }

    fn latest(&self) -> Option<Arc<Snapshot>> {
        self.latest.lock().ok().and_then(|l| l.clone())
    }

    async fn every_township(&self, system: &Db, tz: chrono_tz::Tz) -> Result<Arc<Counted>> {
        let mark = last_change(system).await?;
        let day = crate::time::today(tz);
        let current = |s: &Snapshot| s.mark >= mark && s.day == day;
        if let Some(s) = self.latest().filter(|s| current(s)) {
            if s.taken.elapsed() < KEEP {
                return Ok(s.counted.clone());
            }
            // Only old: one request counts again, the rest use these meanwhile.
            return match self.counting.try_lock() {
                Ok(_counting) => self.count_again(system, tz).await,
                Err(_) => Ok(s.counted.clone()),
            };
        }
        // Changed since (perhaps by this asker): wait for a count that has it.
        let _counting = self.counting.lock().await;
        if let Some(s) = self.latest().filter(|s| current(s))
            && s.taken.elapsed() < KEEP
        {
            return Ok(s.counted.clone());
        }
        self.count_again(system, tz).await
    }

    async fn count_again(&self, system: &Db, tz: chrono_tz::Tz) -> Result<Arc<Counted>> {
        // The mark is read before counting: a change committed meanwhile
        // leaves the kept mark behind, so the next request counts again.
        let mark = last_change(system).await?;
        let day = crate::time::today(tz);
        let taken = Instant::now();
        let counted = Arc::new(count(system, tz).await?);
        if let Ok(mut l) = self.latest.lock() {
            *l = Some(Arc::new(Snapshot {
                counted: counted.clone(),
                mark,
                day,
                taken,
            }));
        }
        Ok(counted)
    }
}

/// A mark that grows with every recorded change the figures count: the
/// newest audit entry about each of [`COUNTED`] and the newest notice,
/// added up. One index look-up each (`audit_log(entity, id)`).
async fn last_change(db: &Db) -> Result<i64> {
    // Asked on every request that reads the figures: the text is made once.
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let mut parts: Vec<String> = COUNTED
            .iter()
            .map(|e| format!("COALESCE((SELECT MAX(id) FROM audit_log WHERE entity = '{e}'), 0)"))
            .collect();
        // A new notice is counted at once too; answers to it (audited as the
        // alert's) are not looked for, they would count again on every answer.
        parts.push("COALESCE((SELECT MAX(id) FROM alerts), 0)".into());
        // Each part only grows, so their sum grows with any of them.
        format!("SELECT {}", parts.join(" + "))
    });
    let (mark,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(SQL.as_str()))
        .fetch_one(&db.pool)
        .await?;
    Ok(mark)
}

/// `(township, count)` rows of `sql` into a map.
async fn per_township(tx: &mut Tx, sql: &Sql) -> Result<HashMap<i64, i64>> {
    let rows: Vec<(i64, i64)> = sql.query_as().fetch_all(&mut **tx).await?;
    Ok(rows.into_iter().collect())
}

/// Counts the figures of every township `db` sees, each an aggregate
/// grouped by township, in one read transaction.
pub async fn count(db: &Db, tz: chrono_tz::Tz) -> Result<Counted> {
    let at = crate::store::now_ms();
    let today = crate::time::today(tz);
    let due = Due::on(today, tz);
    let notices_since = today - chrono::Duration::days(NOTICE_DAYS - 1);
    let since_ms = notices_since
        .and_hms_opt(0, 0, 0)
        .and_then(|t| chrono::TimeZone::from_local_datetime(&tz, &t).earliest())
        .map_or(0, |t| t.timestamp_millis());
    let mut tx = db.read().await?;
    let mut townships: HashMap<i64, Figures> = HashMap::new();

    let scope = db.township_filter("x.township_id");
    let incidents = per_township(
        &mut tx,
        &Sql::new(&format!(
            "SELECT x.township_id, COUNT(*) FROM incidents x \
             WHERE x.status NOT IN ('closed', 'rejected') AND {scope} GROUP BY x.township_id"
        )),
    )
    .await?;
    for (t, n) in incidents {
        townships.entry(t).or_default().open_incidents = n;
    }

    // Drafts waiting for sign-off and refused ones reached nobody.
    let mut q = Sql::new(&format!(
        "SELECT x.township_id, COUNT(DISTINCT x.id), COUNT(r.id), COUNT(r.answered_at) \
         FROM alerts x LEFT JOIN alert_recipients r ON r.alert_id = x.id \
         WHERE x.status NOT IN ('pending', 'rejected') AND {scope} AND x.created_at >= "
    ));
    q.bind(since_ms).push(" GROUP BY x.township_id");
    let notices: Vec<(i64, i64, i64, i64)> = q.query_as().fetch_all(&mut *tx).await?;
    for (t, n, r, a) in notices {
        let f = townships.entry(t).or_default();
        (f.notices, f.recipients, f.answered) = (n, r, a);
    }

    let sites = format!(
        "{} AND {}",
        db.township_filter("s.township_id"),
        db.village_filter("s.village_id")
    );
    type Condition = fn(&Due, &mut Sql);
    type Field = fn(&mut Figures) -> &mut i64;
    let sections: [(&str, Condition, Field); 5] = [
        ("sites s", Due::uninspected, |f| &mut f.uninspected),
        ("sites s", Due::licence, |f| &mut f.licences_due),
        (
            "findings f JOIN sites s ON s.id = f.site_id",
            Due::finding,
            |f| &mut f.overdue_findings,
        ),
        ("sites s", Due::undrilled, |f| &mut f.undrilled),
        (
            "sites s",
            |_, q| _ = q.push(" AND s.archived_at IS NULL"),
            |f| &mut f.live_sites,
        ),
    ];
    for (from, condition, field) in sections {
        let mut q = Sql::new(&format!(
            "SELECT s.township_id, COUNT(*) FROM {from} WHERE {sites}"
        ));
        condition(&due, &mut q);
        q.push(" GROUP BY s.township_id");
        for (t, n) in per_township(&mut tx, &q).await? {
            *field(townships.entry(t).or_default()) = n;
        }
    }

    let q = Sql::new(&format!(
        "SELECT s.township_id, s.max_stock, s.max_stock_unit, s.inventory FROM sites s \
         WHERE {sites} AND {}",
        crate::ledger::worklist::STOCK_LIMITED
    ));
    let rows: Vec<(i64, f64, String, String)> = q.query_as().fetch_all(&mut *tx).await?;
    let q = Sql::new(&format!(
        "SELECT s.township_id, s.details, s.inventory FROM sites s WHERE {sites} AND {}",
        crate::ledger::worklist::SEASONAL_RETAIL
    ));
    let seasonal: Vec<(i64, String, String)> = q.query_as().fetch_all(&mut *tx).await?;
    tx.commit().await?;
    for (t, details, inventory) in seasonal {
        if crate::ledger::worklist::out_of_season(&details, &inventory, due.today).is_some() {
            townships.entry(t).or_default().out_of_season += 1;
        }
    }
    for (t, max_stock, unit, inventory) in rows {
        if crate::ledger::worklist::over_stock(max_stock, &unit, &inventory).is_some() {
            townships.entry(t).or_default().over_stock += 1;
        }
    }
    Ok(Counted {
        at,
        notices_since,
        townships,
    })
}
