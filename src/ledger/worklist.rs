//! The office's daily worklist: licences expired or expiring within 30 days,
//! overdue rectifications, sites not inspected for six months, and sites
//! holding more than their permitted stock.

use chrono::{Months, NaiveDate};
use serde::Serialize;

use crate::store::{Db, Result};

pub const LICENCE_WARNING_DAYS: i64 = 30;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SiteRef {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub village_id: Option<i64>,
    /// Who answers for the site: the safety officer, else the legal representative.
    pub responsible: Option<String>,
    /// Their phone (E.164): the safety officer's, else the 24-hour line.
    pub phone: Option<String>,
}

fn site_ref(id: i64, name: String, kind: String, village_id: Option<i64>) -> SiteRef {
    SiteRef {
        id,
        name,
        kind,
        village_id,
        responsible: None,
        phone: None,
    }
}

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

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Worklist {
    pub today: String,
    pub expiring_licences: Vec<ExpiringLicence>,
    pub overdue_rectifications: Vec<OverdueFinding>,
    pub not_inspected: Vec<Uninspected>,
    /// Businesses whose last recorded drill is over six months old.
    pub overdue_drills: Vec<UndrilledSite>,
    /// Sites whose inventory is over their permitted stock.
    pub over_stock: Vec<OverStock>,
}

fn parse(d: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()
}

// Row shapes of the three worklist queries.
type LicenceRow = (i64, String, String, Option<i64>, Option<String>, String);
type OverdueRow = (
    i64,
    String,
    String,
    Option<i64>,
    i64,
    String,
    String,
    Option<String>,
    String,
);
type StaleRow = (i64, String, String, Option<i64>, Option<String>, i64);

pub async fn build(db: &Db, tz: chrono_tz::Tz) -> Result<Worklist> {
    let today = crate::time::today(tz);
    let horizon = today + chrono::Duration::days(LICENCE_WARNING_DAYS);
    let lic: Vec<LicenceRow> = sqlx::query_as(
        "SELECT id, name, kind, village_id, licence_no, licence_expires FROM sites \
         WHERE archived_at IS NULL AND status <> 'closed' AND licence_expires IS NOT NULL AND licence_expires <= $1 \
         ORDER BY licence_expires, id",
    )
    .bind(horizon.to_string())
    .fetch_all(&db.pool)
    .await?;
    let expiring_licences = lic
        .into_iter()
        .filter_map(|(id, name, kind, village_id, licence_no, exp)| {
            let d = parse(&exp)?;
            Some(ExpiringLicence {
                site: site_ref(id, name, kind, village_id),
                licence_no,
                days_left: (d - today).num_days(),
                expires_on: exp,
            })
        })
        .collect();

    let overdue: Vec<OverdueRow> = sqlx::query_as(
        "SELECT s.id, s.name, s.kind, s.village_id, f.id, f.grade, f.item, f.responsible, f.deadline \
         FROM findings f JOIN sites s ON s.id = f.site_id \
         WHERE f.status = 'open' AND f.deadline < $1 AND s.archived_at IS NULL ORDER BY f.deadline, f.id",
    )
    .bind(today.to_string())
    .fetch_all(&db.pool)
    .await?;
    let overdue_rectifications = overdue
        .into_iter()
        .filter_map(
            |(id, name, kind, village_id, fid, grade, item, responsible, deadline)| {
                let d = parse(&deadline)?;
                Some(OverdueFinding {
                    site: site_ref(id, name, kind, village_id),
                    finding_id: fid,
                    grade,
                    item,
                    responsible,
                    days_overdue: (today - d).num_days(),
                    deadline,
                })
            },
        )
        .collect();

    let six_months_ago = today.checked_sub_months(Months::new(6)).unwrap_or(today);
    let stale: Vec<StaleRow> = sqlx::query_as(
        "SELECT s.id, s.name, s.kind, s.village_id, MAX(i.inspected_on), s.created_at \
         FROM sites s LEFT JOIN inspections i ON i.site_id = s.id \
         WHERE s.archived_at IS NULL AND s.status = 'active' \
         GROUP BY s.id, s.name, s.kind, s.village_id, s.created_at \
         HAVING MAX(i.inspected_on) IS NULL OR MAX(i.inspected_on) < $1 ORDER BY s.id",
    )
    .bind(six_months_ago.to_string())
    .fetch_all(&db.pool)
    .await?;
    let not_inspected = stale
        .into_iter()
        .filter_map(|(id, name, kind, village_id, last, created_at)| {
            let since = match &last {
                Some(l) => parse(l)?,
                None => chrono::DateTime::from_timestamp_millis(created_at)?
                    .with_timezone(&tz)
                    .date_naive(),
            };
            let days_since = (today - since).num_days();
            // A site registered less than six months ago is not yet late.
            if last.is_none() && since > six_months_ago {
                return None;
            }
            Some(Uninspected {
                site: site_ref(id, name, kind, village_id),
                last_inspected_on: last,
                days_since,
            })
        })
        .collect();
    let undrilled: Vec<StaleRow> = sqlx::query_as(
        "SELECT s.id, s.name, s.kind, s.village_id, MAX(CASE WHEN r.held_on <> '' THEN r.held_on END), s.created_at \
         FROM sites s LEFT JOIN drill_records r ON r.site_id = s.id \
         WHERE s.archived_at IS NULL AND s.status = 'active' \
         GROUP BY s.id, s.name, s.kind, s.village_id, s.created_at \
         HAVING MAX(CASE WHEN r.held_on <> '' THEN r.held_on END) IS NULL OR MAX(CASE WHEN r.held_on <> '' THEN r.held_on END) < $1 ORDER BY s.id",
    )
    .bind(six_months_ago.to_string())
    .fetch_all(&db.pool)
    .await?;
    let overdue_drills = undrilled
        .into_iter()
        .filter_map(|(id, name, kind, village_id, last, created_at)| {
            let since = match &last {
                Some(l) => parse(l)?,
                None => chrono::DateTime::from_timestamp_millis(created_at)?
                    .with_timezone(&tz)
                    .date_naive(),
            };
            if last.is_none() && since > six_months_ago {
                return None;
            }
            Some(UndrilledSite {
                site: site_ref(id, name, kind, village_id),
                last_drill_on: last,
                days_since: (today - since).num_days(),
            })
        })
        .collect();
    type StockRow = (i64, String, String, Option<i64>, f64, String, String);
    let stocked: Vec<StockRow> = sqlx::query_as(
        "SELECT id, name, kind, village_id, max_stock, max_stock_unit, inventory FROM sites \
         WHERE archived_at IS NULL AND status <> 'closed' AND max_stock IS NOT NULL AND max_stock_unit IS NOT NULL ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await?;
    let over_stock = stocked
        .into_iter()
        .filter_map(|(id, name, kind, village_id, permitted, unit, inventory)| {
            let lines: Vec<crate::ledger::sites::InventoryLine> =
                serde_json::from_str(&inventory).unwrap_or_default();
            let held = crate::ledger::sites::over_stock(Some(permitted), Some(&unit), &lines)?;
            Some(OverStock {
                site: site_ref(id, name, kind, village_id),
                held,
                permitted,
                unit,
            })
        })
        .collect();
    let mut wl = Worklist {
        over_stock,
        today: today.to_string(),
        expiring_licences,
        overdue_rectifications,
        not_inspected,
        overdue_drills,
    };
    add_people(db, &mut wl).await?;
    Ok(wl)
}

/// Fills in each listed site's responsible person and phone, so a printed
/// worklist can be worked through by telephone.
async fn add_people(db: &Db, wl: &mut Worklist) -> Result<()> {
    type PersonRow = (i64, Option<String>, Option<String>);
    let rows: Vec<PersonRow> = sqlx::query_as(
        "SELECT id, COALESCE(NULLIF(safety_officer, ''), legal_representative), \
         COALESCE(NULLIF(safety_officer_phone, ''), phone_24h) FROM sites WHERE archived_at IS NULL",
    )
    .fetch_all(&db.pool)
    .await?;
    let people: std::collections::HashMap<i64, (Option<String>, Option<String>)> = rows
        .into_iter()
        .map(|(id, who, phone)| (id, (who, phone)))
        .collect();
    let refs = wl
        .expiring_licences
        .iter_mut()
        .map(|l| &mut l.site)
        .chain(wl.over_stock.iter_mut().map(|o| &mut o.site))
        .chain(wl.overdue_rectifications.iter_mut().map(|f| &mut f.site))
        .chain(wl.not_inspected.iter_mut().map(|u| &mut u.site))
        .chain(wl.overdue_drills.iter_mut().map(|u| &mut u.site));
    for site in refs {
        if let Some((who, phone)) = people.get(&site.id) {
            site.responsible.clone_from(who);
            site.phone.clone_from(phone);
        }
    }
    Ok(())
}
