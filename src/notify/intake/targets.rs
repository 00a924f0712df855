//! Who a notice goes to. A target (villages, roles, named contacts, an area)
//! is checked against the registry first, so a bad one is refused before
//! anything is written; then it is walked page by page. A notice to 100k
//! people never holds them all in memory, and its first page is committed
//! (and sent) while later ones are still being read.
//!
//! Order: contacts by escalation order, then id, so every village's first
//! contact is notified before anyone's second when the channel is slow;
//! then contacts named one by one; then the safety officers of ledger
//! sites inside the area. Each person once: by contact, and by phone.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet, VecDeque};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::geometry::{Circle, GeoLimits, Region, distance_m, parse_area};
use crate::ledger::sites::SiteKind;
use crate::notify::intake::alerts::{AlertError, invalid};
use crate::registry::{roles, villages};
use crate::store::{Backend, Db, Scope, Sql};

/// The townships a scope may send to: `None` for every township (the
/// county, the daemon's own work).
pub fn scope_townships(scope: Option<&Scope>) -> Option<Vec<i64>> {
    match scope {
        None | Some(Scope::County) => None,
        Some(Scope::Townships(ids)) => Some(ids.clone()),
        Some(Scope::Village { township, .. }) => Some(vec![*township]),
    }
}

/// `column IN (…)` for a list of townships (ids written into the text:
/// they are numbers), `TRUE` for every township.
pub(crate) fn within_sql(within: &Option<Vec<i64>>, column: &str) -> String {
    match within {
        None => "TRUE".into(),
        Some(ids) if ids.is_empty() => "FALSE".into(),
        Some(ids) => format!(
            "{column} IN ({})",
            ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
        ),
    }
}

/// The townships named by a target's `townships` ("all", or ids or codes),
/// each one the sender may reach (`within`); the county bureau's own row is
/// named only by its id or code, never by "all".
async fn named_townships(
    db: &Db,
    value: &Value,
    within: &Option<Vec<i64>>,
) -> Result<Vec<i64>, AlertError> {
    let rows: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT id, code, kind FROM townships ORDER BY id")
            .fetch_all(&db.pool)
            .await?;
    let allowed = |id: i64| within.as_ref().is_none_or(|w| w.contains(&id));
    let mut out = BTreeSet::new();
    match value {
        Value::String(s) if s == "all" => {
            out.extend(
                rows.iter()
                    .filter(|(id, _, kind)| kind == "township" && allowed(*id))
                    .map(|r| r.0),
            );
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, it) in items.iter().enumerate() {
                let found = rows.iter().find(|(id, code, _)| match it {
                    Value::Number(n) => n.as_i64() == Some(*id),
                    Value::String(c) => !c.is_empty() && c == code,
                    _ => false,
                });
                match found {
                    Some((id, _, _)) if allowed(*id) => {
                        out.insert(*id);
                    }
                    // Another township's, to a township office: it does not
                    // exist for them.
                    _ => {
                        return Err(invalid(
                            format!("targets.townships[{i}]"),
                            format!("no township {it} (没有这个乡镇)"),
                        ));
                    }
                }
            }
        }
        _ => {
            return Err(invalid(
                "targets.townships",
                "use \"all\" or a list of township ids or codes",
            ));
        }
    }
    if out.is_empty() {
        return Err(invalid(
            "targets.townships",
            "no township to send to (没有可发送的乡镇)",
        ));
    }
    Ok(out.into_iter().collect())
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    /// "all", or a list of village ids or codes.
    #[serde(default)]
    #[schema(value_type = Option<crate::notify::intake::targets::VillageRefs>)]
    pub villages: Option<Value>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub contacts: Vec<i64>,
    /// A GeoJSON Polygon/MultiPolygon, or {"circle": {"lon", "lat", "radius_m"}}.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub area: Option<Value>,
    /// Also township-level contacts (no village) holding the roles.
    #[serde(default)]
    pub township: bool,
    /// The safety officers of the active ledger sites of these kinds, in
    /// the villages named (or inside the area) and nowhere else.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub site_kinds: Vec<SiteKind>,
    /// A county notice: "all" townships, or a list of township ids or
    /// codes. Each is reached by the other targets' rules inside it (none
    /// given: all its villages and its township-level contacts). Only
    /// townships the sender's scope covers may be named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::notify::intake::targets::TownshipRefs>)]
    pub townships: Option<Value>,
}

/// One resolved recipient.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub contact_id: Option<i64>,
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub village_id: Option<i64>,
    pub escalation_order: i64,
}

/// (id, name, phone, email, village_id, escalation_order)
pub type ContactRow = (i64, String, String, Option<String>, Option<i64>, i64);

impl From<ContactRow> for Recipient {
    fn from((id, name, phone, email, village_id, order): ContactRow) -> Self {
        Recipient {
            contact_id: Some(id),
            name,
            phone: Some(phone),
            email,
            village_id,
            escalation_order: order,
        }
    }
}

/// (id, name, lon × 10⁷, lat × 10⁷, village_id, safety officer, officer
/// phone). Whole numbers because SQLite turns them into JSON (see
/// `Db::fetch_rows`) several times faster than floating point; 10⁻⁷° is
/// about a centimetre.
type OwnedSiteOfficerRow = (i64, String, i64, i64, Option<i64>, Option<String>, String);
/// Text borrowed from SQLite's JSON where it holds no escapes (almost always).
type SiteOfficerRow<'a> = (
    i64,
    Cow<'a, str>,
    i64,
    i64,
    Option<i64>,
    Option<Cow<'a, str>>,
    Cow<'a, str>,
);

/// (id, name, village_id, safety officer, officer phone)
type KindOfficerRow = (i64, String, Option<i64>, Option<String>, String);
/// A site's name, its village, the officer's name and phone.
type SiteOfficer = (String, Option<i64>, Option<String>, String);

/// How far a site's distance from a circle's centre may be off when read
/// in whole 10⁻⁷ degrees (truncated by SQLite): √2 × 1.1 cm, with room.
const ROUNDING_M: f64 = 0.05;

/// Escalation order given to site safety officers: after every contact.
const OFFICER_ORDER: i64 = 1000;

/// Recipients per page when everything is wanted at once.
const PAGE: usize = 1000;

/// Every recipient of a target, read in one go (previews, small notices).
pub struct Resolved {
    pub recipients: Vec<Recipient>,
    pub village_ids: Vec<i64>,
    pub area: Option<Region>,
    pub circle: Option<Circle>,
}

pub async fn resolve(db: &Db, t: &Targets, limits: &GeoLimits) -> Result<Resolved, AlertError> {
    let within = scope_townships(db.scope());
    let mut r = Resolution::new(db, t, limits, within).await?;
    let mut recipients = Vec::new();
    while let Some(page) = r.next_page(db, PAGE).await? {
        recipients.extend(page);
    }
    Ok(Resolved {
        recipients,
        village_ids: r.village_ids,
        area: r.area,
        circle: r.circle,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Contacts,
    Named,
    Officers,
    Done,
}

/// A checked target, walked with [`Resolution::next_page`].
pub struct Resolution {
    /// Villages the notice concerns (named, or touched by the area).
    pub village_ids: Vec<i64>,
    /// The townships whose people it may reach (`None`: every one); stored
    /// with the notice, so an approval or a recovery reads the same.
    pub townships: Option<Vec<i64>>,
    /// A posted polygon (or multipolygon).
    pub area: Option<Region>,
    /// A posted circle, tested by distance: no polygon stands in for it.
    pub circle: Option<Circle>,
    by_village: bool,
    township: bool,
    roles: Vec<&'static str>,
    /// Site kinds whose safety officers are wanted (by village or area).
    site_kinds: Vec<&'static str>,
    named: Vec<ContactRow>,
    stage: Stage,
    /// Keyset of the last contact read: (escalation order, id).
    after: Option<(i64, i64)>,
    /// The area's safety officers, read when that stage begins.
    officers: Option<VecDeque<Recipient>>,
    /// The page being filled. Kept here, not in `next_page`, because every
    /// step that fills it also moves the walk on (keyset, seen sets, named
    /// contacts taken): if a read fails half-way, what was gathered waits
    /// for the next call instead of being dropped, so nobody is skipped.
    page: Vec<Recipient>,
    seen_contacts: HashSet<i64>,
    seen_phones: PhoneSet,
}

/// Phones already given a notice. E.164 numbers are kept as the number
/// they spell (no allocation per recipient); anything else as text.
#[derive(Default)]
struct PhoneSet {
    numbers: HashSet<u64>,
    other: HashSet<String>,
}

impl PhoneSet {
    /// True when `phone` was not in the set.
    fn insert(&mut self, phone: &str) -> bool {
        let digits = phone.strip_prefix('+').unwrap_or(phone);
        if (1..=18).contains(&digits.len())
            && !digits.starts_with('0')
            && digits.bytes().all(|b| b.is_ascii_digit())
        {
            // One number per text: no leading zero to lose, 18 digits times
            // two still fit (E.164 has at most 15), and the '+' is kept
            // apart so "+86…" and "86…" stay different.
            if let Ok(n) = digits.parse::<u64>() {
                return self
                    .numbers
                    .insert(n * 2 + u64::from(phone.starts_with('+')));
            }
        }
        self.other.insert(phone.to_string())
    }
}

impl Resolution {
    /// Checks the target against the registry; reads no recipient yet
    /// except the contacts named one by one (each must exist).
    ///
    /// `within`: the townships the sender may reach (`None`: every one). A
    /// village, contact or township outside them is refused as unknown.
    pub async fn new(
        db: &Db,
        t: &Targets,
        limits: &GeoLimits,
        within: Option<Vec<i64>>,
    ) -> Result<Resolution, AlertError> {
        let mut within = within;
        let mut any_target = false;
        if let Some(tv) = t.townships.as_ref().filter(|v| !v.is_null()) {
            any_target = true;
            within = Some(named_townships(db, tv, &within).await?);
        }
        let mut all_villages = villages::list(db, false).await?;
        if within.is_some() {
            let owned: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT id FROM villages WHERE {}",
                within_sql(&within, "township_id")
            )))
            .fetch_all(&db.pool)
            .await?;
            let owned: HashSet<i64> = owned.into_iter().collect();
            all_villages.retain(|v| owned.contains(&v.id));
        }
        let mut vset: BTreeSet<i64> = BTreeSet::new();
        let mut township = t.township;
        // Townships named alone: everyone of theirs, as "all" is.
        let whole_townships = t.townships.as_ref().is_some_and(|v| !v.is_null())
            && t.villages.as_ref().is_none_or(Value::is_null)
            && t.roles.is_empty()
            && t.contacts.is_empty()
            && t.area.is_none();
        if whole_townships {
            township = true;
            vset.extend(all_villages.iter().map(|v| v.id));
        }
        match &t.villages {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s == "all" => {
                any_target = true;
                township = true;
                vset.extend(all_villages.iter().map(|v| v.id));
            }
            Some(Value::Array(items)) => {
                for (i, it) in items.iter().enumerate() {
                    any_target = true;
                    match villages::find_ref(&all_villages, it) {
                        Some(v) => {
                            vset.insert(v.id);
                        }
                        None => {
                            return Err(invalid(
                                format!("targets.villages[{i}]"),
                                format!("no village {it}"),
                            ));
                        }
                    }
                }
            }
            Some(_) => {
                return Err(invalid(
                    "targets.villages",
                    "use \"all\" or a list of village ids or codes",
                ));
            }
        }
        let role_names = roles::canonical_all("targets.roles", &t.roles)?;
        any_target |= !role_names.is_empty();
        let (mut area, mut circle) = (None, None);
        if let Some(a) = &t.area {
            any_target = true;
            if let Some(c) = a.get("circle") {
                let num = |k: &str| {
                    c.get(k).and_then(Value::as_f64).ok_or_else(|| {
                        invalid(format!("targets.area.circle.{k}"), "must be a number")
                    })
                };
                let (lon, lat, r) = (num("lon")?, num("lat")?, num("radius_m")?);
                crate::validate::lon_lat("targets.area.circle", lon, lat)?;
                if !(1.0..=200_000.0).contains(&r) {
                    return Err(invalid(
                        "targets.area.circle.radius_m",
                        "must be between 1 and 200000 metres",
                    ));
                }
                let c = Circle::new(lon, lat, r);
                // A village is touched when any of it lies within the radius.
                for v in &all_villages {
                    if v.region().is_some_and(|g| c.touches(&g)) {
                        vset.insert(v.id);
                    }
                }
                circle = Some(c);
            } else {
                let region = parse_area("targets.area", a, limits)?;
                for v in &all_villages {
                    if v.region().is_some_and(|g| g.intersects(&region)) {
                        vset.insert(v.id);
                    }
                }
                area = Some(region);
            }
        }
        let mut named = Vec::with_capacity(t.contacts.len());
        for (i, cid) in t.contacts.iter().enumerate() {
            any_target = true;
            let row: Option<ContactRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT id, name, phone, email, village_id, escalation_order FROM contacts WHERE id = $1 AND archived_at IS NULL AND active = 1 AND {}",
                within_sql(&within, "township_id")
            )))
            .bind(*cid)
            .fetch_optional(&db.pool)
            .await?;
            match row {
                Some(r) => named.push(r),
                None => {
                    return Err(invalid(
                        format!("targets.contacts[{i}]"),
                        format!("no active contact with id {cid}"),
                    ));
                }
            }
        }
        if !any_target {
            return Err(invalid(
                "targets",
                "choose at least one village, role, contact or area",
            ));
        }
        if !t.site_kinds.is_empty() && vset.is_empty() && !township {
            return Err(invalid(
                "targets.site_kinds",
                "name the villages or the area whose sites are meant",
            ));
        }
        let mut site_kinds: Vec<&'static str> = Vec::new();
        for k in &t.site_kinds {
            if !site_kinds.contains(&k.as_str()) {
                site_kinds.push(k.as_str());
            }
        }
        let by_village = !vset.is_empty() || township;
        let stage = if by_village || !role_names.is_empty() {
            Stage::Contacts
        } else {
            Stage::Named
        };
        Ok(Resolution {
            village_ids: vset.into_iter().collect(),
            townships: within,
            area,
            circle,
            by_village,
            township,
            roles: role_names,
            site_kinds,
            named,
            stage,
            after: None,
            officers: None,
            page: Vec::new(),
            seen_contacts: HashSet::new(),
            seen_phones: PhoneSet::default(),
        })
    }

    /// The next recipients (about `size`; never empty), or `None` when every
    /// recipient has been returned.
    pub async fn next_page(
        &mut self,
        db: &Db,
        size: usize,
    ) -> Result<Option<Vec<Recipient>>, AlertError> {
        let size = size.max(1);
        while self.page.len() < size {
            match self.stage {
                Stage::Contacts => {
                    let wanted = size - self.page.len();
                    if self.contacts_page(db, wanted).await? < wanted {
                        self.stage = Stage::Named;
                    }
                }
                Stage::Named => {
                    for row in std::mem::take(&mut self.named) {
                        self.push_contact(row);
                    }
                    self.stage = Stage::Officers;
                }
                Stage::Officers => {
                    if self.officers.is_none() {
                        self.officers = Some(self.read_officers(db).await?);
                    }
                    let queue = self.officers.get_or_insert_default();
                    let take = (size - self.page.len()).min(queue.len());
                    self.page.extend(queue.drain(..take));
                    if queue.is_empty() {
                        self.stage = Stage::Done;
                    }
                }
                Stage::Done => break,
            }
        }
        let page = std::mem::take(&mut self.page);
        Ok((!page.is_empty()).then_some(page))
    }

    fn push_contact(&mut self, row: ContactRow) {
        if self.seen_contacts.insert(row.0) && self.seen_phones.insert(&row.2) {
            self.page.push(row.into());
        }
    }

    /// Reads up to `limit` contacts after the keyset into the page; returns
    /// how many rows were read (fewer than `limit`: none are left).
    async fn contacts_page(&mut self, db: &Db, limit: usize) -> Result<usize, AlertError> {
        // Walk the (escalation_order, id, village_id) index from the keyset:
        // left to itself, SQLite reads every contact of the villages and
        // sorts them for each page, which is quadratic in the notice's size.
        let hint = match db.backend {
            Backend::Sqlite => " INDEXED BY contacts_notify_order",
            Backend::Postgres => "",
        };
        let mut q = Sql::new(&format!(
            "SELECT id, name, phone, email, village_id, escalation_order FROM contacts{hint} WHERE archived_at IS NULL AND active = 1",
        ));
        if self.by_village {
            q.push(" AND (village_id IN ")
                .bind_list(self.village_ids.iter().copied());
            if self.township {
                q.push(" OR village_id IS NULL");
            }
            q.push(")");
        }
        if self.townships.is_some() {
            q.push(&format!(
                " AND {}",
                within_sql(&self.townships, "township_id")
            ));
        }
        if !self.roles.is_empty() {
            q.push(" AND id IN (SELECT contact_id FROM contact_roles WHERE role IN ")
                .bind_list(self.roles.iter().copied())
                .push(")");
        }
        if let Some((order, id)) = self.after {
            q.push(" AND (escalation_order, id) > (")
                .bind(order)
                .push(", ")
                .bind(id)
                .push(")");
        }
        q.push(" ORDER BY escalation_order, id LIMIT ")
            .bind(limit as i64);
        let mut rows: Vec<ContactRow> = db
            .fetch_rows(&q, "id, name, phone, email, village_id, escalation_order")
            .await?;
        // SQLite's JSON aggregate does not promise to keep the order.
        rows.sort_by_key(|r| (r.5, r.0));
        let read = rows.len();
        if let Some(last) = rows.last() {
            self.after = Some((last.5, last.0));
        }
        for row in rows {
            self.push_contact(row);
        }
        Ok(read)
    }

    /// The safety officers (with a phone) of the active ledger sites inside
    /// the area or circle, by site id. One read of a covering index over the
    /// bounding box; the exact shape or distance is tested here.
    async fn read_officers(&mut self, db: &Db) -> Result<VecDeque<Recipient>, AlertError> {
        let [west, south, east, north] = match (&self.area, &self.circle) {
            (Some(r), _) => [r.min_lon, r.min_lat, r.max_lon, r.max_lat],
            (None, Some(c)) => c.bounds(),
            (None, None) if !self.site_kinds.is_empty() => {
                return self.read_officers_by_village(db).await;
            }
            (None, None) => return Ok(VecDeque::new()),
        };
        let scaled = |c: &str| match db.backend {
            Backend::Sqlite => format!("CAST({c} * 10000000 AS INTEGER)"),
            Backend::Postgres => format!("CAST(ROUND({c} * 10000000) AS BIGINT)"),
        };
        let mut q = Sql::new(&format!(
            "SELECT id, name, {} AS lon7, {} AS lat7, village_id, safety_officer, safety_officer_phone FROM sites \
             WHERE archived_at IS NULL AND status = 'active' AND safety_officer_phone IS NOT NULL AND lon BETWEEN ",
            scaled("lon"),
            scaled("lat")
        ));
        q.bind(west)
            .push(" AND ")
            .bind(east)
            .push(" AND lat BETWEEN ")
            .bind(south)
            .push(" AND ")
            .bind(north);
        if !self.site_kinds.is_empty() {
            q.push(" AND kind IN ")
                .bind_list(self.site_kinds.iter().copied());
        }
        if self.townships.is_some() {
            q.push(&format!(
                " AND {}",
                within_sql(&self.townships, "township_id")
            ));
        }
        let columns = "id, name, lon7, lat7, village_id, safety_officer, safety_officer_phone";
        let json;
        let mut sites: Vec<SiteOfficerRow> = match db.backend {
            Backend::Sqlite => {
                json = db.fetch_json(&q, columns).await?;
                serde_json::from_str(&json)
                    .map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))?
            }
            Backend::Postgres => {
                let rows: Vec<OwnedSiteOfficerRow> = db.fetch_rows(&q, columns).await?;
                rows.into_iter()
                    .map(|(id, n, x, y, v, o, p)| {
                        (id, n.into(), x, y, v, o.map(Cow::Owned), p.into())
                    })
                    .collect()
            }
        };
        if let Some(region) = &self.area {
            sites.retain(|s| region.contains(s.2 as f64 / 1e7, s.3 as f64 / 1e7));
        } else if let Some(c) = &self.circle {
            // Whole 10⁻⁷ degrees are up to 1.6 cm off: a site that close to
            // the edge is decided on its stored position instead.
            let mut unsure = HashSet::new();
            sites.retain(|s| {
                let d = distance_m(c.lon, c.lat, s.2 as f64 / 1e7, s.3 as f64 / 1e7);
                if (d - c.radius_m).abs() <= ROUNDING_M {
                    unsure.insert(s.0);
                }
                d <= c.radius_m + ROUNDING_M
            });
            if !unsure.is_empty() {
                let mut q = Sql::new("SELECT id, lon, lat FROM sites WHERE id IN ");
                q.bind_list(unsure.iter().copied());
                let exact: Vec<(i64, f64, f64)> = q.query_as().fetch_all(&db.pool).await?;
                let inside: HashSet<i64> = exact
                    .into_iter()
                    .filter(|&(_, lon, lat)| c.contains(lon, lat))
                    .map(|(id, _, _)| id)
                    .collect();
                sites.retain(|s| !unsure.contains(&s.0) || inside.contains(&s.0));
            }
        }
        sites.sort_unstable_by_key(|s| s.0);
        Ok(self.officers_of(
            sites
                .into_iter()
                .map(|(_, site, _, _, village_id, officer, phone)| {
                    (site, village_id, officer, phone)
                }),
        ))
    }

    /// The safety officers of the active sites of the wanted kinds in the
    /// notice's villages (a site outside every village is in none).
    async fn read_officers_by_village(
        &mut self,
        db: &Db,
    ) -> Result<VecDeque<Recipient>, AlertError> {
        if self.village_ids.is_empty() {
            return Ok(VecDeque::new());
        }
        let mut q = Sql::new(
            "SELECT id, name, village_id, safety_officer, safety_officer_phone FROM sites \
             WHERE archived_at IS NULL AND status = 'active' AND safety_officer_phone IS NOT NULL AND kind IN ",
        );
        q.bind_list(self.site_kinds.iter().copied())
            .push(" AND village_id IN ")
            .bind_list(self.village_ids.iter().copied())
            .push(&format!(
                " AND {}",
                within_sql(&self.townships, "township_id")
            ))
            .push(" ORDER BY id");
        let rows: Vec<KindOfficerRow> = q.query_as().fetch_all(&db.pool).await?;
        let mut people: Vec<SiteOfficer> = rows
            .into_iter()
            .map(|(_, site, village_id, officer, phone)| (site, village_id, officer, phone))
            .collect();
        // A pond's three responsible persons (行政, 技术, 巡查) are told with
        // its safety officer.
        let pond = crate::ledger::sites::SiteKind::PondReservoir.as_str();
        if self.site_kinds.contains(&pond) {
            let mut q = Sql::new(
                "SELECT id, name, village_id, details FROM sites \
                 WHERE archived_at IS NULL AND status = 'active' AND kind = ",
            );
            q.bind(pond)
                .push(" AND village_id IN ")
                .bind_list(self.village_ids.iter().copied())
                .push(&format!(
                    " AND {}",
                    within_sql(&self.townships, "township_id")
                ))
                .push(" ORDER BY id");
            let ponds: Vec<(i64, String, Option<i64>, String)> =
                q.query_as().fetch_all(&db.pool).await?;
            for (_, site, village_id, details) in ponds {
                let d = crate::ledger::site_details::SiteDetails::from_json(&details);
                for (_, _, who) in d.pond.iter().flat_map(|p| p.persons()) {
                    if let Some(who) = who.filter(|w| !w.phone.is_empty()) {
                        people.push((
                            site.clone(),
                            village_id,
                            Some(who.name.clone()),
                            who.phone.clone(),
                        ));
                    }
                }
            }
        }
        Ok(self.officers_of(
            people
                .into_iter()
                .map(|(site, village_id, officer, phone)| {
                    (
                        Cow::Owned(site),
                        village_id,
                        officer.map(Cow::Owned),
                        Cow::Owned(phone),
                    )
                }),
        ))
    }

    /// Sites' officers as recipients, each phone once.
    fn officers_of<'a>(
        &mut self,
        sites: impl Iterator<
            Item = (
                Cow<'a, str>,
                Option<i64>,
                Option<Cow<'a, str>>,
                Cow<'a, str>,
            ),
        >,
    ) -> VecDeque<Recipient> {
        let mut out = VecDeque::new();
        for (site, village_id, officer, phone) in sites {
            if self.seen_phones.insert(&phone) {
                let name = format!("{}（{}）", officer.as_deref().unwrap_or("安全员"), site);
                out.push_back(Recipient {
                    contact_id: None,
                    name,
                    phone: Some(phone.into_owned()),
                    email: None,
                    village_id,
                    escalation_order: OFFICER_ORDER,
                });
            }
        }
        out
    }
}

/// `"all"`, or a list of ids (integers) or codes (strings).
fn all_or_refs(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["all"])),
        )
        .item(
            ArrayBuilder::new().items(
                OneOfBuilder::new()
                    .item(ObjectBuilder::new().schema_type(Type::Integer))
                    .item(ObjectBuilder::new().schema_type(Type::String)),
            ),
        )
        .description(Some(description))
        .into()
}

/// The schema of a villages selector: "all", or a list of village ids or codes.
pub struct VillageRefs;

impl utoipa::PartialSchema for VillageRefs {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        all_or_refs("\"all\", or village ids or codes")
    }
}

impl utoipa::ToSchema for VillageRefs {}

/// The schema of a townships selector: "all", or a list of township ids or codes.
pub struct TownshipRefs;

impl utoipa::PartialSchema for TownshipRefs {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        all_or_refs("\"all\" townships, or township ids or codes")
    }
}

impl utoipa::ToSchema for TownshipRefs {}

/// The schema of one village reference: its id or its code.
pub struct VillageRef;

impl utoipa::PartialSchema for VillageRef {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::Integer))
            .item(ObjectBuilder::new().schema_type(Type::String))
            .description(Some("A village id or code"))
            .into()
    }
}

impl utoipa::ToSchema for VillageRef {}

#[cfg(test)]
mod tests {
    use super::PhoneSet;

    #[test]
    fn phone_set_tells_numbers_apart() {
        let mut s = PhoneSet::default();
        assert!(s.insert("+8613800001111"));
        assert!(!s.insert("+8613800001111"));
        // Same digits without '+', another number; leading zeros count.
        assert!(s.insert("8613800001111"));
        assert!(s.insert("+08613800001111"));
        assert!(!s.insert("+08613800001111"));
        // Not a plain number: kept as text.
        assert!(s.insert("ext-12"));
        assert!(!s.insert("ext-12"));
        assert!(s.insert("+1234567890123456789012"));
        assert!(!s.insert("+1234567890123456789012"));
    }
}
