//! The office's daily worklist: licences expired or expiring within 30 days,
//! overdue rectifications, sites not inspected for six months, and sites
//! holding more than their permitted stock, and fireworks retail points
//! holding stock outside their sale season (季节外储存).
//!
//! A county has tens of thousands of sites: each section is read a page at
//! a time (`LIMIT`), and its count is the kept one ([`crate::county::kept`]),
//! so the list costs the same however many sites are late. The sections'
//! conditions ([`Due`]) are also what the county overview counts per
//! township.

use chrono::{Months, NaiveDate, TimeZone};
use serde::Serialize;

use crate::store::{Db, Result, Sql};

pub const LICENCE_WARNING_DAYS: i64 = 30;

/// Rows a worklist section shows at most on one page, unless asked.
pub const DEFAULT_PER_PAGE: i64 = 100;

#[derive(Debug, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct SiteRef {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub village_id: Option<i64>,
    /// The township the site belongs to.
    pub township_id: i64,
    /// Who answers for the site: the safety officer, else the legal representative.
    pub responsible: Option<String>,
    /// Their phone (E.164): the safety officer's, else the 24-hour line.
    pub phone: Option<String>,
}

/// The columns of a [`SiteRef`] from `sites s`.
const REF_COLS: &str = "s.id, s.name, s.kind, s.village_id, s.township_id, \
    COALESCE(NULLIF(s.safety_officer, ''), s.legal_representative) AS responsible, \
    COALESCE(NULLIF(s.safety_officer_phone, ''), s.phone_24h) AS phone";

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExpiringLicence {
    pub site: SiteRef,
    pub licence_no: Option<String>,
    pub expires_on: String,
    /// Negative when already expired.
    pub days_left: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OverdueFinding {
    pub site: SiteRef,
    pub finding_id: i64,
    pub grade: String,
    pub item: String,
    pub responsible: Option<String>,
    pub deadline: String,
    pub days_overdue: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Uninspected {
    pub site: SiteRef,
    pub last_inspected_on: Option<String>,
    /// Days since the last inspection, or since the site was registered.
    pub days_since: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UndrilledSite {
    pub site: SiteRef,
    pub last_drill_on: Option<String>,
    pub days_since: i64,
}

/// A site holding more than its permitted stock (核定储存量).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OverStock {
    pub site: SiteRef,
    /// What the inventory lists, in the permitted stock's unit.
    pub held: f64,
    pub permitted: f64,
    pub unit: String,
}

/// A fireworks retail point holding stock outside its sale season (季节外储存).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OutOfSeason {
    pub site: SiteRef,
    /// The season's name (春节 …), first and last day of sale.
    pub season: Option<String>,
    pub from: String,
    pub to: String,
    /// What the inventory lists (every line's quantity, in its unit).
    pub held: String,
}

/// Fireworks retail points with a sale season (`sites s`), the only ones
/// that can hold stock outside it.
pub const SEASONAL_RETAIL: &str = "s.archived_at IS NULL AND s.status <> 'closed' \
    AND s.kind = 'fireworks_retail' AND s.details LIKE '%sale_season%'";

/// The season of a retail point holding stock outside it on `today`.
pub fn out_of_season(
    details: &str,
    inventory: &str,
    today: NaiveDate,
) -> Option<crate::ledger::site_details::SaleSeason> {
    let d = crate::ledger::site_details::SiteDetails::from_json(details);
    let lines: Vec<crate::ledger::sites::InventoryLine> =
        serde_json::from_str(inventory).unwrap_or_default();
    if crate::ledger::site_details::out_of_season_stock(&d, &lines, today) {
        d.sale_season
    } else {
        None
    }
}

/// How many items each section holds in all (its list is one page of them).
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct WorklistCounts {
    pub expiring_licences: i64,
    pub overdue_rectifications: i64,
    pub not_inspected: i64,
    pub overdue_drills: i64,
    pub over_stock: i64,
    pub out_of_season: i64,
    /// When they were counted: counts are kept for a few seconds, and
    /// counted again at once after a change to the ledger
    /// ([`crate::county::kept`]).
    pub counted_at: String,
}

impl WorklistCounts {
    /// The worklist's counts of the townships `db` sees (or of one of them).
    pub async fn of(
        db: &Db,
        kept: &crate::county::Kept,
        tz: chrono_tz::Tz,
        township: Option<i64>,
    ) -> Result<WorklistCounts> {
        let counted = kept.figures(db, tz).await?;
        let f = counted.sum(township);
        Ok(WorklistCounts {
            expiring_licences: f.licences_due,
            overdue_rectifications: f.overdue_findings,
            not_inspected: f.uninspected,
            overdue_drills: f.undrilled,
            over_stock: f.over_stock,
            out_of_season: f.out_of_season,
            counted_at: crate::time::fmt_ms(counted.at, tz),
        })
    }
}

/// Sites with a permitted stock (`sites s`), the only ones that can hold
/// more than it.
pub const STOCK_LIMITED: &str = "s.archived_at IS NULL AND s.status <> 'closed' \
    AND s.max_stock IS NOT NULL AND s.max_stock_unit IS NOT NULL";

/// What a site holds over its permitted stock, from its inventory (JSON
/// lines); none when within it.
pub fn over_stock(permitted: f64, unit: &str, inventory: &str) -> Option<f64> {
    let lines: Vec<crate::ledger::sites::InventoryLine> =
        serde_json::from_str(inventory).unwrap_or_default();
    crate::ledger::sites::over_stock(Some(permitted), Some(unit), &lines)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Worklist {
    pub today: String,
    /// The page of every section shown (from 1) and its size.
    pub page: i64,
    pub per_page: i64,
    /// The township asked for, if one was.
    pub township_id: Option<i64>,
    /// Each section's whole count.
    pub counts: WorklistCounts,
    pub expiring_licences: Vec<ExpiringLicence>,
    pub overdue_rectifications: Vec<OverdueFinding>,
    pub not_inspected: Vec<Uninspected>,
    /// Businesses whose last recorded drill is over six months old.
    pub overdue_drills: Vec<UndrilledSite>,
    /// Sites whose inventory is over their permitted stock.
    pub over_stock: Vec<OverStock>,
    /// Major hidden dangers under supervision (挂牌督办), open, by deadline
    /// (every one, not paged).
    pub under_supervision: Vec<crate::enforcement::supervision::Supervision>,
    /// Fireworks retail points holding stock outside their sale season.
    pub out_of_season: Vec<OutOfSeason>,
}

/// Which part of the worklist to read.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// One township's items (within the scope: another's are none).
    pub township_id: Option<i64>,
    /// From 1.
    pub page: i64,
    pub per_page: i64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            township_id: None,
            page: 1,
            per_page: DEFAULT_PER_PAGE,
        }
    }
}

fn parse(d: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()
}

/// What makes a site or finding late on a given day: the worklist's
/// sections as SQL conditions on `sites s` (and `findings f`), with the
/// dates bound. The county overview counts the same conditions per township.
pub struct Due {
    pub today: NaiveDate,
    /// Licences expiring on or before this day are listed.
    pub horizon: NaiveDate,
    pub six_months_ago: NaiveDate,
    /// A site never inspected (or drilled) is late once it was registered
    /// before this instant (the start of the day after `six_months_ago`).
    pub registered_before_ms: i64,
}

impl Due {
    pub fn on(today: NaiveDate, tz: chrono_tz::Tz) -> Due {
        let six_months_ago = today.checked_sub_months(Months::new(6)).unwrap_or(today);
        let next = six_months_ago + chrono::Duration::days(1);
        let registered_before_ms = next
            .and_hms_opt(0, 0, 0)
            .and_then(|t| tz.from_local_datetime(&t).earliest())
            .map_or(0, |t| t.timestamp_millis());
        Due {
            today,
            horizon: today + chrono::Duration::days(LICENCE_WARNING_DAYS),
            six_months_ago,
            registered_before_ms,
        }
    }

    /// Sites whose licence is expired or expires within 30 days.
    pub fn licence(&self, q: &mut Sql) {
        q.push(
            " AND s.archived_at IS NULL AND s.status <> 'closed' AND s.licence_expires IS NOT NULL \
             AND s.licence_expires <= ",
        )
        .bind(self.horizon.to_string());
    }

    /// Findings still open past their deadline (`findings f` joined to `sites s`).
    pub fn finding(&self, q: &mut Sql) {
        q.push(" AND f.status = 'open' AND s.archived_at IS NULL AND f.deadline < ")
            .bind(self.today.to_string());
    }

    /// Active sites not inspected for six months (never inspected: registered
    /// over six months ago).
    pub fn uninspected(&self, q: &mut Sql) {
        q.push(
            " AND s.archived_at IS NULL AND s.status = 'active' \
             AND NOT EXISTS (SELECT 1 FROM inspections i WHERE i.site_id = s.id AND i.inspected_on >= ",
        )
        .bind(self.six_months_ago.to_string())
        .push(") AND (s.created_at < ")
        .bind(self.registered_before_ms)
        .push(" OR EXISTS (SELECT 1 FROM inspections i WHERE i.site_id = s.id))");
    }

    /// Active businesses without a recorded drill for six months.
    pub fn undrilled(&self, q: &mut Sql) {
        q.push(
            " AND s.archived_at IS NULL AND s.status = 'active' \
             AND NOT EXISTS (SELECT 1 FROM drill_records r WHERE r.site_id = s.id AND r.held_on <> '' AND r.held_on >= ",
        )
        .bind(self.six_months_ago.to_string())
        .push(") AND (s.created_at < ")
        .bind(self.registered_before_ms)
        .push(" OR EXISTS (SELECT 1 FROM drill_records r WHERE r.site_id = s.id AND r.held_on <> ''))");
    }
}

/// `WHERE` for sites `s` in the handle's scope (and the township asked for).
fn scoped(db: &Db, township: Option<i64>) -> Sql {
    let mut q = Sql::new(&format!(
        " WHERE {} AND {}",
        db.township_filter("s.township_id"),
        db.village_filter("s.village_id")
    ));
    if let Some(t) = township {
        q.push(" AND s.township_id = ").bind(t);
    }
    q
}

/// `SELECT {cols} FROM {from}{filter}`, with the filter's arguments.
fn select(cols: &str, from: &str, filter: &Sql) -> Sql {
    let mut q = Sql::new(&format!("SELECT {cols} FROM {from}"));
    q.push(&filter.text);
    q.args = filter.args.clone();
    q
}

/// The section's page, or nothing without asking when its (kept) count
/// ends before the page: the expensive sections are those with few late
/// sites, where a page means scanning every site to find none.
async fn fetch_page<T>(
    tx: &mut crate::store::Tx,
    q: &Sql,
    count: i64,
    o: &Options,
) -> Result<Vec<T>>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    if count <= (o.page - 1) * o.per_page {
        return Ok(Vec::new());
    }
    Ok(q.query_as().fetch_all(&mut **tx).await?)
}

fn page(q: &mut Sql, order: &str, o: &Options) {
    q.push(" ORDER BY ")
        .push(order)
        .push(" LIMIT ")
        .bind(o.per_page)
        .push(" OFFSET ")
        .bind((o.page - 1).max(0) * o.per_page);
}

#[derive(sqlx::FromRow)]
struct LicenceRow {
    #[sqlx(flatten)]
    site: SiteRef,
    licence_no: Option<String>,
    licence_expires: String,
}

#[derive(sqlx::FromRow)]
struct OverdueRow {
    #[sqlx(flatten)]
    site: SiteRef,
    finding_id: i64,
    grade: String,
    item: String,
    finding_responsible: Option<String>,
    deadline: String,
}

#[derive(sqlx::FromRow)]
struct StaleRow {
    #[sqlx(flatten)]
    site: SiteRef,
    last: Option<String>,
    created_at: i64,
}

#[derive(sqlx::FromRow)]
struct SeasonRow {
    #[sqlx(flatten)]
    site: SiteRef,
    details: String,
    inventory: String,
}

#[derive(sqlx::FromRow)]
struct StockRow {
    #[sqlx(flatten)]
    site: SiteRef,
    max_stock: f64,
    max_stock_unit: String,
    inventory: String,
}

/// One page of each section, with the sections' kept counts.
pub async fn build(
    db: &Db,
    kept: &crate::county::Kept,
    tz: chrono_tz::Tz,
    o: Options,
) -> Result<Worklist> {
    let today = crate::time::today(tz);
    let due = Due::on(today, tz);
    let o = Options {
        page: o.page.max(1),
        per_page: o.per_page.clamp(1, 500),
        ..o
    };
    let counts = WorklistCounts::of(db, kept, tz, o.township_id).await?;
    let mut tx = db.read().await?;

    let mut f = scoped(db, o.township_id);
    due.licence(&mut f);
    let mut q = select(
        &format!("{REF_COLS}, s.licence_no, s.licence_expires"),
        "sites s",
        &f,
    );
    page(&mut q, "s.licence_expires, s.id", &o);
    let rows: Vec<LicenceRow> = fetch_page(&mut tx, &q, counts.expiring_licences, &o).await?;
    let expiring_licences = rows
        .into_iter()
        .filter_map(|r| {
            let d = parse(&r.licence_expires)?;
            Some(ExpiringLicence {
                site: r.site,
                licence_no: r.licence_no,
                days_left: (d - today).num_days(),
                expires_on: r.licence_expires,
            })
        })
        .collect();

    let mut f = scoped(db, o.township_id);
    due.finding(&mut f);
    let from = "findings f JOIN sites s ON s.id = f.site_id";
    let mut q = select(
        &format!(
            "{REF_COLS}, f.id AS finding_id, f.grade, f.item, f.responsible AS finding_responsible, f.deadline"
        ),
        from,
        &f,
    );
    page(&mut q, "f.deadline, f.id", &o);
    let rows: Vec<OverdueRow> = fetch_page(&mut tx, &q, counts.overdue_rectifications, &o).await?;
    let overdue_rectifications = rows
        .into_iter()
        .filter_map(|r| {
            let d = parse(&r.deadline)?;
            Some(OverdueFinding {
                site: r.site,
                finding_id: r.finding_id,
                grade: r.grade,
                item: r.item,
                responsible: r.finding_responsible,
                days_overdue: (today - d).num_days(),
                deadline: r.deadline,
            })
        })
        .collect();

    let since = |last: &Option<String>, created_at: i64| -> Option<NaiveDate> {
        match last {
            Some(l) => parse(l),
            None => Some(
                chrono::DateTime::from_timestamp_millis(created_at)?
                    .with_timezone(&tz)
                    .date_naive(),
            ),
        }
    };

    let mut f = scoped(db, o.township_id);
    due.uninspected(&mut f);
    let mut q = select(
        &format!(
            "{REF_COLS}, (SELECT MAX(i.inspected_on) FROM inspections i WHERE i.site_id = s.id) AS last, s.created_at"
        ),
        "sites s",
        &f,
    );
    page(&mut q, "s.id", &o);
    let rows: Vec<StaleRow> = fetch_page(&mut tx, &q, counts.not_inspected, &o).await?;
    let not_inspected = rows
        .into_iter()
        .filter_map(|r| {
            let from = since(&r.last, r.created_at)?;
            Some(Uninspected {
                site: r.site,
                last_inspected_on: r.last,
                days_since: (today - from).num_days(),
            })
        })
        .collect();

    let mut f = scoped(db, o.township_id);
    due.undrilled(&mut f);
    let mut q = select(
        &format!(
            "{REF_COLS}, (SELECT MAX(r.held_on) FROM drill_records r WHERE r.site_id = s.id AND r.held_on <> '') AS last, s.created_at"
        ),
        "sites s",
        &f,
    );
    page(&mut q, "s.id", &o);
    let rows: Vec<StaleRow> = fetch_page(&mut tx, &q, counts.overdue_drills, &o).await?;
    let overdue_drills = rows
        .into_iter()
        .filter_map(|r| {
            let from = since(&r.last, r.created_at)?;
            Some(UndrilledSite {
                site: r.site,
                last_drill_on: r.last,
                days_since: (today - from).num_days(),
            })
        })
        .collect();

    // Over stock is decided on the inventory's lines (JSON), so it is read
    // for the few sites that have a permitted stock at all.
    let mut f = scoped(db, o.township_id);
    f.push(" AND ").push(STOCK_LIMITED);
    let mut q = select(
        &format!("{REF_COLS}, s.max_stock, s.max_stock_unit, s.inventory"),
        "sites s",
        &f,
    );
    q.push(" ORDER BY s.id");
    let rows: Vec<StockRow> = q.query_as().fetch_all(&mut *tx).await?;
    let mut f = scoped(db, o.township_id);
    f.push(" AND ").push(SEASONAL_RETAIL);
    let mut q = select(
        &format!("{REF_COLS}, s.details, s.inventory"),
        "sites s",
        &f,
    );
    q.push(" ORDER BY s.id");
    let seasonal: Vec<SeasonRow> = q.query_as().fetch_all(&mut *tx).await?;
    tx.commit().await?;
    let out_of_season = seasonal
        .into_iter()
        .filter_map(|r| {
            let season = out_of_season(&r.details, &r.inventory, today)?;
            let lines: Vec<crate::ledger::sites::InventoryLine> =
                serde_json::from_str(&r.inventory).unwrap_or_default();
            Some(OutOfSeason {
                site: r.site,
                season: season.name,
                from: season.from,
                to: season.to,
                held: lines
                    .iter()
                    .filter(|l| l.max_quantity > 0.0)
                    .map(|l| format!("{} {}", l.max_quantity, l.unit))
                    .collect::<Vec<_>>()
                    .join("、"),
            })
        })
        .skip(usize::try_from((o.page - 1) * o.per_page).unwrap_or(0))
        .take(usize::try_from(o.per_page).unwrap_or(0))
        .collect();
    let over: Vec<OverStock> = rows
        .into_iter()
        .filter_map(|r| {
            let held = over_stock(r.max_stock, &r.max_stock_unit, &r.inventory)?;
            Some(OverStock {
                site: r.site,
                held,
                permitted: r.max_stock,
                unit: r.max_stock_unit,
            })
        })
        .collect();
    let over_stock = over
        .into_iter()
        .skip(usize::try_from((o.page - 1) * o.per_page).unwrap_or(0))
        .take(usize::try_from(o.per_page).unwrap_or(0))
        .collect();
    Ok(Worklist {
        today: today.to_string(),
        page: o.page,
        per_page: o.per_page,
        township_id: o.township_id,
        counts,
        expiring_licences,
        overdue_rectifications,
        not_inspected,
        overdue_drills,
        over_stock,
        under_supervision: crate::enforcement::supervision::list_in(db, false, o.township_id)
            .await?,
        out_of_season,
    })
}
