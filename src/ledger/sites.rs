//! Regulated sites: hazardous-chemical and fireworks businesses.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::hazard_source::HazardAssessment;
pub use super::site_details::SiteDetails;
use crate::auth::Actor;
use crate::geometry::Region;
use crate::store::batch::SyncConn;
use crate::store::versioned::{self, Edit, Written, versioned_row};
use crate::store::{Db, Result, Sql, WriteError, now_ms};
use crate::validate::{
    FieldResult, err, optional_date, optional_line, optional_text, required_text,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SiteKind {
    HazchemProduction,
    HazchemStorage,
    HazchemTradeWithStorage,
    HazchemTradeWithoutStorage,
    HazchemUse,
    FireworksWholesale,
    FireworksRetail,
    /// 非煤矿山 (quarries and the like).
    NonCoalMine,
    /// 加油站.
    FuelStation,
    /// 瓶装燃气供应点 (bottled LPG).
    LpgSupplyPoint,
    /// 山塘/小水库.
    PondReservoir,
}

impl SiteKind {
    pub const ALL: [SiteKind; 11] = [
        SiteKind::HazchemProduction,
        SiteKind::HazchemStorage,
        SiteKind::HazchemTradeWithStorage,
        SiteKind::HazchemTradeWithoutStorage,
        SiteKind::HazchemUse,
        SiteKind::FireworksWholesale,
        SiteKind::FireworksRetail,
        SiteKind::NonCoalMine,
        SiteKind::FuelStation,
        SiteKind::LpgSupplyPoint,
        SiteKind::PondReservoir,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            SiteKind::HazchemProduction => "hazchem_production",
            SiteKind::HazchemStorage => "hazchem_storage",
            SiteKind::HazchemTradeWithStorage => "hazchem_trade_with_storage",
            SiteKind::HazchemTradeWithoutStorage => "hazchem_trade_without_storage",
            SiteKind::HazchemUse => "hazchem_use",
            SiteKind::FireworksWholesale => "fireworks_wholesale",
            SiteKind::FireworksRetail => "fireworks_retail",
            SiteKind::NonCoalMine => "non_coal_mine",
            SiteKind::FuelStation => "fuel_station",
            SiteKind::LpgSupplyPoint => "lpg_supply_point",
            SiteKind::PondReservoir => "pond_reservoir",
        }
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            SiteKind::HazchemProduction => "危化品生产",
            SiteKind::HazchemStorage => "危化品储存",
            SiteKind::HazchemTradeWithStorage => "危化品经营（带储存）",
            SiteKind::HazchemTradeWithoutStorage => "危化品经营（不带储存）",
            SiteKind::HazchemUse => "危化品使用",
            SiteKind::FireworksWholesale => "烟花爆竹批发",
            SiteKind::FireworksRetail => "烟花爆竹零售",
            SiteKind::NonCoalMine => "非煤矿山",
            SiteKind::FuelStation => "加油站",
            SiteKind::LpgSupplyPoint => "瓶装燃气供应点",
            SiteKind::PondReservoir => "山塘/小水库",
        }
    }
    pub fn label_en(self) -> &'static str {
        match self {
            SiteKind::HazchemProduction => "hazchem production",
            SiteKind::HazchemStorage => "hazchem storage",
            SiteKind::HazchemTradeWithStorage => "hazchem trade (with storage)",
            SiteKind::HazchemTradeWithoutStorage => "hazchem trade (no storage)",
            SiteKind::HazchemUse => "hazchem use",
            SiteKind::FireworksWholesale => "fireworks wholesale",
            SiteKind::FireworksRetail => "fireworks retail",
            SiteKind::NonCoalMine => "non-coal mine (quarry)",
            SiteKind::FuelStation => "fuel station",
            SiteKind::LpgSupplyPoint => "bottled gas supply point",
            SiteKind::PondReservoir => "pond / small reservoir",
        }
    }
    pub fn parse(s: &str) -> Option<SiteKind> {
        SiteKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
    pub fn is_fireworks(self) -> bool {
        matches!(
            self,
            SiteKind::FireworksWholesale | SiteKind::FireworksRetail
        )
    }
    /// Sites whose inventory of dangerous chemicals is assessed as a major
    /// hazard source (GB 18218-2018): the hazchem kinds, fuel stations and
    /// bottled-gas points.
    pub fn holds_chemicals(self) -> bool {
        !matches!(
            self,
            SiteKind::FireworksWholesale
                | SiteKind::FireworksRetail
                | SiteKind::NonCoalMine
                | SiteKind::PondReservoir
        )
    }
}

/// 重大 (red) / 较大 (orange) / 一般 (yellow) / 低 (blue).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RiskGrade {
    Major,
    Significant,
    General,
    Low,
}

impl RiskGrade {
    pub fn as_str(self) -> &'static str {
        match self {
            RiskGrade::Major => "major",
            RiskGrade::Significant => "significant",
            RiskGrade::General => "general",
            RiskGrade::Low => "low",
        }
    }
    pub fn parse(s: &str) -> Option<RiskGrade> {
        [
            RiskGrade::Major,
            RiskGrade::Significant,
            RiskGrade::General,
            RiskGrade::Low,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
    pub fn colour(self) -> &'static str {
        match self {
            RiskGrade::Major => "red",
            RiskGrade::Significant => "orange",
            RiskGrade::General => "yellow",
            RiskGrade::Low => "blue",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SiteStatus {
    Active,
    Suspended,
    Closed,
}

impl SiteStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SiteStatus::Active => "active",
            SiteStatus::Suspended => "suspended",
            SiteStatus::Closed => "closed",
        }
    }
    pub fn parse(s: &str) -> Option<SiteStatus> {
        [
            SiteStatus::Active,
            SiteStatus::Suspended,
            SiteStatus::Closed,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Location {
    pub lon: f64,
    pub lat: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Licence {
    #[serde(default)]
    pub number: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default)]
    pub issued_on: Option<String>,
    #[serde(default)]
    pub expires_on: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InventoryLine {
    pub chemical: String,
    #[serde(default)]
    pub cas: Option<String>,
    #[serde(default)]
    pub un_number: Option<String>,
    #[serde(default)]
    pub hazard_class: Option<String>,
    /// GB 18218-2018 表2 category (J1 … W11), for a chemical not named in
    /// 表1 or to give its β; see [`super::hazard_source`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gb18218_category: Option<String>,
    pub max_quantity: f64,
    pub unit: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteInput {
    pub name: String,
    pub kind: SiteKind,
    #[serde(default)]
    pub credit_code: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub location: Option<Location>,
    #[serde(default)]
    pub village_id: Option<i64>,
    #[serde(default)]
    pub legal_representative: Option<String>,
    #[serde(default)]
    pub safety_officer: Option<String>,
    #[serde(default, deserialize_with = "crate::phone::optional")]
    pub safety_officer_phone: Option<crate::phone::Phone>,
    #[serde(default, deserialize_with = "crate::phone::optional")]
    pub phone_24h: Option<crate::phone::Phone>,
    #[serde(default)]
    pub licence: Option<Licence>,
    #[serde(default)]
    pub max_stock: Option<f64>,
    #[serde(default)]
    pub max_stock_unit: Option<String>,
    #[serde(default)]
    pub inventory: Vec<InventoryLine>,
    pub risk_grade: RiskGrade,
    #[serde(default = "default_status")]
    pub status: SiteStatus,
    #[serde(default)]
    pub seasonal: bool,
    #[serde(default)]
    pub note: Option<String>,
    /// What only this kind of site carries (a pond's three persons, a
    /// quarry's mining licence, a retail point's sale season …).
    #[serde(default)]
    pub details: SiteDetails,
    /// 厂区边界外 500 m 内常住人口: α of the major hazard grade (GB 18218 表5).
    #[serde(default)]
    pub people_within_500m: Option<i64>,
    #[serde(default)]
    pub version: Option<i64>,
}

fn default_status() -> SiteStatus {
    SiteStatus::Active
}

/// `Deserialize`: the batched SQLite writer decodes the row `RETURNING`
/// gives as an array of its columns (`store::batch`).
#[derive(Debug, Clone, sqlx::FromRow, Deserialize)]
pub struct SiteRow {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub credit_code: Option<String>,
    pub address: Option<String>,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub village_id: Option<i64>,
    pub outside_villages: i64,
    pub legal_representative: Option<String>,
    pub safety_officer: Option<String>,
    pub safety_officer_phone: Option<String>,
    pub phone_24h: Option<String>,
    pub licence_no: Option<String>,
    pub licence_kind: Option<String>,
    pub licence_issuer: Option<String>,
    pub licence_issued: Option<String>,
    pub licence_expires: Option<String>,
    pub max_stock: Option<f64>,
    pub max_stock_unit: Option<String>,
    pub inventory: String,
    pub risk_grade: String,
    pub status: String,
    pub seasonal: i64,
    pub note: Option<String>,
    pub details: String,
    pub people_within_500m: Option<i64>,
    pub sample: i64,
    pub archived_at: Option<i64>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub township_id: i64,
}

pub const COLS: &str = "id, name, kind, credit_code, address, lon, lat, village_id, outside_villages, legal_representative, \
    safety_officer, safety_officer_phone, phone_24h, licence_no, licence_kind, licence_issuer, licence_issued, licence_expires, \
    max_stock, max_stock_unit, inventory, risk_grade, status, seasonal, note, details, people_within_500m, sample, archived_at, version, created_at, updated_at, township_id";

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Site {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub kind_label: &'static str,
    pub credit_code: Option<String>,
    pub address: Option<String>,
    pub location: Option<Location>,
    pub village_id: Option<i64>,
    /// The township the site belongs to (its village's).
    pub township_id: i64,
    /// The location lies outside every village boundary.
    pub outside_villages: bool,
    pub legal_representative: Option<String>,
    pub safety_officer: Option<String>,
    pub safety_officer_phone: Option<String>,
    pub phone_24h: Option<String>,
    pub licence: Licence,
    pub max_stock: Option<f64>,
    pub max_stock_unit: Option<String>,
    pub inventory: Vec<InventoryLine>,
    /// The inventory held in the permitted stock's unit, when that is more
    /// than the permitted stock (核定储存量): a flag for the office.
    pub over_stock: Option<f64>,
    pub risk_grade: String,
    pub risk_colour: &'static str,
    pub status: String,
    pub seasonal: bool,
    pub note: Option<String>,
    pub details: SiteDetails,
    pub people_within_500m: Option<i64>,
    /// 重大危险源辨识 (GB 18218-2018) from the inventory, for the kinds that
    /// hold chemicals.
    pub hazard: Option<HazardAssessment>,
    /// A fireworks retail point holding stock outside its sale season (季节外储存).
    pub out_of_season_stock: bool,
    pub sample: bool,
    pub archived: bool,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl SiteRow {
    pub fn view(&self, tz: chrono_tz::Tz) -> Site {
        let kind = SiteKind::parse(&self.kind);
        let inventory: Vec<InventoryLine> =
            serde_json::from_str(&self.inventory).unwrap_or_default();
        let details = SiteDetails::from_json(&self.details);
        Site {
            id: self.id,
            name: self.name.clone(),
            kind: self.kind.clone(),
            kind_label: kind.map_or("", SiteKind::label_zh),
            credit_code: self.credit_code.clone(),
            address: self.address.clone(),
            location: match (self.lon, self.lat) {
                (Some(lon), Some(lat)) => Some(Location { lon, lat }),
                _ => None,
            },
            village_id: self.village_id,
            township_id: self.township_id,
            outside_villages: self.outside_villages != 0,
            legal_representative: self.legal_representative.clone(),
            safety_officer: self.safety_officer.clone(),
            safety_officer_phone: self.safety_officer_phone.clone(),
            phone_24h: self.phone_24h.clone(),
            licence: Licence {
                number: self.licence_no.clone(),
                kind: self.licence_kind.clone(),
                issuer: self.licence_issuer.clone(),
                issued_on: self.licence_issued.clone(),
                expires_on: self.licence_expires.clone(),
            },
            max_stock: self.max_stock,
            max_stock_unit: self.max_stock_unit.clone(),
            over_stock: over_stock(self.max_stock, self.max_stock_unit.as_deref(), &inventory),
            hazard: kind
                .filter(|k| k.holds_chemicals())
                .map(|_| super::hazard_source::assess(&inventory, self.people_within_500m)),
            out_of_season_stock: super::site_details::out_of_season_stock(
                &details,
                &inventory,
                crate::time::today(tz),
            ),
            details,
            people_within_500m: self.people_within_500m,
            inventory,
            risk_grade: self.risk_grade.clone(),
            risk_colour: RiskGrade::parse(&self.risk_grade).map_or("grey", RiskGrade::colour),
            status: self.status.clone(),
            seasonal: self.seasonal != 0,
            note: self.note.clone(),
            sample: self.sample != 0,
            archived: self.archived_at.is_some(),
            version: self.version,
            created_at: crate::time::fmt_ms(self.created_at, tz),
            updated_at: crate::time::fmt_ms(self.updated_at, tz),
        }
    }
}

/// The inventory in the permitted stock's unit, if it exceeds the permitted
/// stock (核定储存量); lines in other units are not comparable and left out.
pub fn over_stock(
    permitted: Option<f64>,
    unit: Option<&str>,
    lines: &[InventoryLine],
) -> Option<f64> {
    let (permitted, unit) = (permitted?, unit?.trim());
    let held: f64 = lines
        .iter()
        .filter(|l| l.unit.trim() == unit)
        .map(|l| l.max_quantity)
        .sum();
    (held > permitted).then_some(held)
}

/// A fireworks retail licence (烟花爆竹经营（零售）许可证) runs at most two years.
pub const RETAIL_LICENCE_MONTHS: u32 = 24;

/// A checked input, ready to store.
pub(crate) struct ValidSite {
    input: SiteInput,
    name: String,
    credit_code: Option<String>,
    safety_officer_phone: Option<String>,
    phone_24h: Option<String>,
    licence: Licence,
    inventory: String,
    details: String,
}

const CREDIT_CHARS: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/// The check character of a unified social credit code's first 17
/// characters (GB 32100-2015); none if one is not a code character.
pub fn credit_code_check(first17: &str) -> Option<char> {
    const WEIGHTS: [usize; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    if first17.chars().count() != 17 {
        return None;
    }
    let mut sum = 0;
    for (c, w) in first17.chars().zip(WEIGHTS) {
        sum += CREDIT_CHARS.find(c)? * w;
    }
    CREDIT_CHARS.chars().nth((31 - sum % 31) % 31)
}

/// The 18-character unified social credit code (统一社会信用代码), with its
/// check character (GB 32100-2015).
pub fn credit_code_ok(code: &str) -> bool {
    let cs: Vec<char> = code.chars().collect();
    if cs.len() != 18 {
        return false;
    }
    let first17: String = cs[..17].iter().collect();
    credit_code_check(&first17) == Some(cs[17])
}

/// CAS registry numbers carry a check digit: weighted sum of the other digits, mod 10.
pub fn cas_ok(cas: &str) -> bool {
    let parts: Vec<&str> = cas.split('-').collect();
    if parts.len() != 3
        || !(2..=7).contains(&parts[0].len())
        || parts[1].len() != 2
        || parts[2].len() != 1
        || !cas.chars().all(|c| c.is_ascii_digit() || c == '-')
    {
        return false;
    }
    let digits: Vec<u32> = format!("{}{}", parts[0], parts[1])
        .chars()
        .filter_map(|c| c.to_digit(10))
        .collect();
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| (i as u32 + 1) * d)
        .sum();
    parts[2].chars().next().and_then(|c| c.to_digit(10)) == Some(sum % 10)
}

pub(crate) fn validate(input: SiteInput) -> FieldResult<ValidSite> {
    let name = required_text("name", &input.name, 128)?;
    let credit_code =
        optional_line("credit_code", &input.credit_code, 18)?.map(|s| s.to_uppercase());
    if let Some(c) = &credit_code
        && !credit_code_ok(c)
    {
        return err(
            "credit_code",
            format!("'{c}' is not a valid 18-character unified social credit code"),
        );
    }
    optional_line("address", &input.address, 256)?;
    if let Some(l) = &input.location {
        crate::validate::lon_lat("location", l.lon, l.lat)?;
    }
    optional_line("legal_representative", &input.legal_representative, 64)?;
    optional_line("safety_officer", &input.safety_officer, 64)?;
    let phone = |p: &Option<crate::phone::Phone>| p.as_ref().map(|p| p.as_str().to_string());
    let safety_officer_phone = phone(&input.safety_officer_phone);
    let phone_24h = phone(&input.phone_24h);
    let lic = input.licence.clone().unwrap_or_default();
    let issued = optional_date("licence.issued_on", &lic.issued_on)?;
    let expires = optional_date("licence.expires_on", &lic.expires_on)?;
    if let (Some(i), Some(e)) = (issued, expires)
        && e <= i
    {
        return err("licence.expires_on", "must be after licence.issued_on");
    }
    if input.kind == SiteKind::FireworksRetail
        && let (Some(i), Some(e)) = (issued, expires)
        && i.checked_add_months(chrono::Months::new(RETAIL_LICENCE_MONTHS))
            .is_some_and(|limit| e > limit)
    {
        return err(
            "licence.expires_on",
            "a fireworks retail licence runs at most 2 years from its issue date (烟花爆竹零售许可证有效期最长 2 年)",
        );
    }
    let licence = Licence {
        number: optional_line("licence.number", &lic.number, 64)?,
        kind: optional_line("licence.kind", &lic.kind, 64)?,
        issuer: optional_line("licence.issuer", &lic.issuer, 128)?,
        issued_on: issued.map(|d| d.to_string()),
        expires_on: expires.map(|d| d.to_string()),
    };
    if let Some(m) = input.max_stock
        && (!m.is_finite() || m < 0.0)
    {
        return err("max_stock", "must be a number of at least 0");
    }
    if input.max_stock.is_some() {
        required_text(
            "max_stock_unit",
            input.max_stock_unit.as_deref().unwrap_or(""),
            16,
        )?;
    }
    if input.inventory.len() > 500 {
        return err("inventory", "at most 500 lines");
    }
    for (i, line) in input.inventory.iter().enumerate() {
        required_text(&format!("inventory[{i}].chemical"), &line.chemical, 128)?;
        required_text(&format!("inventory[{i}].unit"), &line.unit, 16)?;
        if !line.max_quantity.is_finite() || line.max_quantity < 0.0 {
            return err(
                format!("inventory[{i}].max_quantity"),
                "must be a number of at least 0",
            );
        }
        if let Some(c) = line.cas.as_deref().filter(|c| !c.trim().is_empty())
            && !cas_ok(c.trim())
        {
            return err(
                format!("inventory[{i}].cas"),
                format!("'{c}' is not a valid CAS number (check digit)"),
            );
        }
        if let Some(c) = line.gb18218_category.as_deref()
            && !super::hazard_source::category_ok(c)
        {
            return err(
                format!("inventory[{i}].gb18218_category"),
                format!("'{c}' is not a GB 18218-2018 表2 category (J1 … J5, W1.1 … W11)"),
            );
        }
        if let Some(u) = line.un_number.as_deref().filter(|c| !c.trim().is_empty()) {
            let u = u.trim().trim_start_matches("UN");
            if u.len() != 4 || !u.chars().all(|c| c.is_ascii_digit()) {
                return err(
                    format!("inventory[{i}].un_number"),
                    "must be four digits, e.g. UN1203",
                );
            }
        }
    }
    if input.kind == SiteKind::FireworksRetail
        && let Some(held) = over_stock(
            input.max_stock,
            input.max_stock_unit.as_deref(),
            &input.inventory,
        )
    {
        return err(
            "inventory",
            format!(
                "holds {held} {unit}, over the licence's permitted stock of {permitted} {unit} (库存超过许可核定储存量，不予登记)",
                unit = input.max_stock_unit.as_deref().unwrap_or("").trim(),
                permitted = input.max_stock.unwrap_or(0.0),
            ),
        );
    }
    if let Some(p) = input.people_within_500m
        && !(0..=10_000_000).contains(&p)
    {
        return err(
            "people_within_500m",
            "must be a whole number of people, at least 0",
        );
    }
    let details = super::site_details::validate(input.kind, &input.details)?.to_json();
    let inventory = serde_json::to_string(&input.inventory).unwrap_or_else(|_| "[]".into());
    Ok(ValidSite {
        details,
        name,
        credit_code,
        safety_officer_phone,
        phone_24h,
        licence,
        inventory,
        input,
    })
}

async fn get_in(conn: &mut sqlx::AnyConnection, id: i64) -> Result<Option<SiteRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM sites WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// One site, if the handle's scope covers it (else `None`: a 404).
pub async fn get(db: &Db, id: i64) -> Result<Option<SiteRow>> {
    db.get_in_scope(COLS, "sites", id).await
}

/// Where a site is placed.
struct Placed {
    village: Option<i64>,
    outside: bool,
    /// Its village's township; none without a village (a new site is then
    /// the actor's township's, an edited one stays where it was).
    township: Option<i64>,
}

/// Resolves the village: the given one (which must exist for the asker) or
/// the one of the asker's whose boundary holds the location.
async fn place(db: &Db, v: &ValidSite) -> Result<Placed, WriteError> {
    let q = PlaceQuery::new(db, v);
    let mut tx = db.read().await?;
    let found = match &q.look {
        Look::Village(id, sql) => Found::Village(
            *id,
            sql.query_as::<(i64,)>()
                .fetch_optional(&mut *tx)
                .await?
                .map(|t| t.0),
        ),
        Look::At(lon, lat, sql) => {
            Found::located(&sql.query_as().fetch_all(&mut *tx).await?, *lon, *lat)
        }
        Look::Nowhere => Found::Located(None),
    };
    tx.commit().await?;
    q.decide(found)
}

/// [`place`] inside a write on the batched writer (`store::batch`): the
/// same statements in the write's own transaction and hand-off.
fn place_sync(c: &SyncConn<'_>, q: PlaceQuery) -> Result<Placed, WriteError> {
    let found = match &q.look {
        Look::Village(id, sql) => {
            Found::Village(*id, c.fetch_optional::<(i64,)>(sql)?.map(|t| t.0))
        }
        Look::At(lon, lat, sql) => Found::located(&c.fetch_all(sql)?, *lon, *lat),
        Look::Nowhere => Found::Located(None),
    };
    q.decide(found)
}

/// What placing a site reads (the statement, built for the asker's scope)
/// and decides with; taken from the request before the write.
struct PlaceQuery {
    look: Look,
    /// The asker keeps one village's sites only.
    village_scoped: bool,
    has_location: bool,
}

enum Look {
    /// The named village's township.
    Village(i64, Sql),
    /// The villages whose bounding box holds the point (lon, lat).
    At(f64, f64, Sql),
    Nowhere,
}

/// What [`Look`]'s statement found.
enum Found {
    /// The named village and its township (none: not the asker's to see).
    Village(i64, Option<i64>),
    /// The village holding the point and its township, if any.
    Located(Option<(i64, i64)>),
}

impl Found {
    /// From `villages::locate_sql`'s rows (id, township, boundary).
    fn located(rows: &[(i64, i64, String)], lon: f64, lat: f64) -> Found {
        Found::Located(crate::registry::villages::first_containing(rows, lon, lat))
    }
}

impl PlaceQuery {
    fn new(db: &Db, v: &ValidSite) -> PlaceQuery {
        use crate::registry::villages;
        let look = match (v.input.village_id, &v.input.location) {
            (Some(id), _) => Look::Village(id, villages::township_of_sql(db, id)),
            (None, Some(l)) => Look::At(l.lon, l.lat, villages::locate_sql(db, l.lon, l.lat)),
            (None, None) => Look::Nowhere,
        };
        PlaceQuery {
            look,
            village_scoped: db.scope().and_then(crate::store::Scope::village).is_some(),
            has_location: v.input.location.is_some(),
        }
    }

    fn decide(&self, found: Found) -> Result<Placed, WriteError> {
        let found = match found {
            Found::Village(id, None) => {
                return Err(WriteError::field(
                    "village_id",
                    format!("no village with id {id}"),
                ));
            }
            Found::Village(id, Some(township)) => {
                return Ok(Placed {
                    village: Some(id),
                    outside: false,
                    township: Some(township),
                });
            }
            Found::Located(found) => found,
        };
        if found.is_none() && self.village_scoped {
            return Err(WriteError::field(
                "village_id",
                "is required: you may keep only your village's sites",
            ));
        }
        Ok(Placed {
            village: found.map(|f| f.0),
            outside: found.is_none() && self.has_location,
            township: found.map(|f| f.1),
        })
    }
}

fn bind_fields(mut s: Sql, v: &ValidSite, village: Option<i64>, outside: bool) -> Sql {
    let i = &v.input;
    let (lon, lat) = i
        .location
        .as_ref()
        .map_or((None, None), |l| (Some(l.lon), Some(l.lat)));
    s.bind(v.name.clone()).push(", ");
    s.bind(i.kind.as_str()).push(", ");
    s.bind(v.credit_code.clone()).push(", ");
    s.bind(optional_text("", &i.address, 256).ok().flatten())
        .push(", ");
    s.bind(lon).push(", ");
    s.bind(lat).push(", ");
    s.bind(village).push(", ");
    s.bind(i64::from(outside)).push(", ");
    s.bind(
        optional_text("", &i.legal_representative, 64)
            .ok()
            .flatten(),
    )
    .push(", ");
    s.bind(optional_text("", &i.safety_officer, 64).ok().flatten())
        .push(", ");
    s.bind(v.safety_officer_phone.clone()).push(", ");
    s.bind(v.phone_24h.clone()).push(", ");
    s.bind(v.licence.number.clone()).push(", ");
    s.bind(v.licence.kind.clone()).push(", ");
    s.bind(v.licence.issuer.clone()).push(", ");
    s.bind(v.licence.issued_on.clone()).push(", ");
    s.bind(v.licence.expires_on.clone()).push(", ");
    s.bind(i.max_stock).push(", ");
    s.bind(optional_text("", &i.max_stock_unit, 16).ok().flatten())
        .push(", ");
    s.bind(v.inventory.clone()).push(", ");
    s.bind(i.risk_grade.as_str()).push(", ");
    s.bind(i.status.as_str()).push(", ");
    s.bind(i64::from(i.seasonal)).push(", ");
    s.bind(optional_text("", &i.note, 1000).ok().flatten())
        .push(", ");
    s.bind(v.details.clone()).push(", ");
    s.bind(i.people_within_500m);
    s
}

const FIELDS: [&str; 26] = [
    "name",
    "kind",
    "credit_code",
    "address",
    "lon",
    "lat",
    "village_id",
    "outside_villages",
    "legal_representative",
    "safety_officer",
    "safety_officer_phone",
    "phone_24h",
    "licence_no",
    "licence_kind",
    "licence_issuer",
    "licence_issued",
    "licence_expires",
    "max_stock",
    "max_stock_unit",
    "inventory",
    "risk_grade",
    "status",
    "seasonal",
    "note",
    "details",
    "people_within_500m",
];

pub async fn create(
    db: &Db,
    actor: &Actor,
    input: SiteInput,
    sample: bool,
    tz: chrono_tz::Tz,
) -> Result<SiteRow, WriteError> {
    let v = validate(input)?;
    if let Some(writer) = db.batched() {
        // SQLite: the village look-up, the insert and its audit entry in
        // one hand-off to the batched writer (`store::batch`).
        let name = actor.name.clone();
        let query = PlaceQuery::new(db, &v);
        let default_township = actor.township;
        return writer
            .run(move |c| {
                let p = place_sync(c, query)?;
                let township = p.township.unwrap_or(default_township);
                let row: SiteRow =
                    c.fetch_one(&insert_sql(&v, p.village, p.outside, township, sample))?;
                crate::audit::record_sync(
                    c,
                    &name,
                    "create",
                    "site",
                    Some(row.id),
                    None,
                    Some(&json!(row.view(tz))),
                )?;
                Ok(row)
            })
            .await;
    }
    let p = place(db, &v).await?;
    let township = p.township.unwrap_or(actor.township);
    let mut tx = db.begin().await?;
    let row = insert_valid(&mut tx, &v, p.village, p.outside, township, sample).await?;
    crate::audit::record(
        &mut tx,
        &actor.name,
        "create",
        "site",
        Some(row.id),
        None,
        Some(&json!(row.view(tz))),
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// Stores a new site (the caller audits it).
pub(crate) async fn insert_valid(
    conn: &mut sqlx::AnyConnection,
    v: &ValidSite,
    village: Option<i64>,
    outside: bool,
    township: i64,
    sample: bool,
) -> Result<SiteRow> {
    // The stored row comes back with the insert: one statement less while
    // the transaction holds SQLite's only write lock.
    Ok(insert_sql(v, village, outside, township, sample)
        .query_as()
        .fetch_one(conn)
        .await?)
}

/// The statement storing a new site and returning it (`COLS`).
fn insert_sql(
    v: &ValidSite,
    village: Option<i64>,
    outside: bool,
    township: i64,
    sample: bool,
) -> Sql {
    let now = now_ms();
    let mut s = Sql::new(&format!(
        "INSERT INTO sites ({}, township_id, sample, created_at, updated_at) VALUES (",
        FIELDS.join(", ")
    ));
    s = bind_fields(s, v, village, outside);
    s.push(", ")
        .bind(township)
        .push(", ")
        .bind(i64::from(sample))
        .push(", ")
        .bind(now)
        .push(", ")
        .bind(now)
        .push(") RETURNING ")
        .push(COLS);
    s
}

/// Stores many new sites of one township, several rows a statement (the
/// caller audits them): an import of ten thousand rows is then a few dozen
/// statements on PostgreSQL, not ten thousand round trips under the write
/// lock. SQLite's rows a statement stay few (`rows_per_statement`: its
/// binding cost grows with the square of a statement's placeholders).
pub(crate) async fn insert_many(
    conn: &mut sqlx::AnyConnection,
    sites: &[(Box<ValidSite>, Option<i64>, bool)],
    township: i64,
) -> Result<()> {
    let now = now_ms();
    let per_statement =
        crate::store::rows_per_statement(crate::store::is_sqlite(conn), FIELDS.len() + 4);
    for chunk in sites.chunks(per_statement) {
        let mut s = Sql::new(&format!(
            "INSERT INTO sites ({}, township_id, sample, created_at, updated_at) VALUES ",
            FIELDS.join(", ")
        ));
        for (k, (v, village, outside)) in chunk.iter().enumerate() {
            if k > 0 {
                s.push(", ");
            }
            s.push("(");
            s = bind_fields(s, v, *village, *outside);
            s.push(", ")
                .bind(township)
                .push(", ")
                .bind(0_i64)
                .push(", ")
                .bind(now)
                .push(", ")
                .bind(now)
                .push(")");
        }
        s.query().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Rewrites a site's fields from a checked input, a new version (the
/// caller audits it).
pub(crate) async fn update_valid(
    conn: &mut sqlx::AnyConnection,
    id: i64,
    v: &ValidSite,
    village: Option<i64>,
    outside: bool,
) -> Result<()> {
    let mut s = Sql::new("UPDATE sites SET (");
    s.push(&FIELDS.join(", ")).push(") = (");
    s = bind_fields(s, v, village, outside);
    s.push("), version = version + 1, updated_at = ")
        .bind(now_ms())
        .push(" WHERE id = ")
        .bind(id);
    s.query().execute(conn).await?;
    Ok(())
}

/// A township's live sites.
pub(crate) async fn live_in(conn: &mut sqlx::AnyConnection, township: i64) -> Result<Vec<SiteRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM sites WHERE township_id = $1 AND archived_at IS NULL ORDER BY id"
    )))
    .bind(township)
    .fetch_all(conn)
    .await?)
}

/// A township's live sites that have a credit code, by code.
pub(crate) async fn by_credit_code(
    conn: &mut sqlx::AnyConnection,
    township: i64,
) -> Result<std::collections::HashMap<String, SiteRow>> {
    let rows: Vec<SiteRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM sites WHERE township_id = $1 AND archived_at IS NULL AND credit_code IS NOT NULL"
    )))
    .bind(township)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| Some((r.credit_code.clone()?, r)))
        .collect())
}

pub async fn update(
    db: &Db,
    actor: &Actor,
    id: i64,
    input: SiteInput,
    tz: chrono_tz::Tz,
) -> Result<SiteRow, WriteError> {
    let version = input.version.ok_or_else(|| {
        WriteError::field("version", "is required on update (the version you edited)")
    })?;
    let v = validate(input)?;
    let p = place(db, &v).await?;
    let mut s = Sql::new("UPDATE sites SET (");
    s.push(&FIELDS.join(", ")).push(") = (");
    s = bind_fields(s, &v, p.village, p.outside);
    s.push("), version = version + 1, updated_at = ")
        .bind(now_ms());
    if let Some(t) = p.township {
        // Moved to another village: it follows that village's township.
        s.push(", township_id = ").bind(t);
    }
    s.push(" WHERE id = ")
        .bind(id)
        .push(" AND version = ")
        .bind(version);
    let edit = Edit::new(actor, "update", id, tz).seen(Some(version));
    versioned::change(db, edit, move |tx, _: &SiteRow| {
        Box::pin(async move {
            let r = s.query().execute(tx).await?;
            Ok(Written::Rows(r.rows_affected()))
        })
    })
    .await
}

pub async fn archive(
    db: &Db,
    actor: &Actor,
    id: i64,
    version: Option<i64>,
    tz: chrono_tz::Tz,
) -> Result<SiteRow, WriteError> {
    versioned::archive(db, Edit::new(actor, "archive", id, tz).seen(version), "").await
}

versioned_row!(SiteRow, "site", "sites", |row, tz| json!(row.view(tz)));

/// Ledger filters. Geographic filters prefilter by bounding box in SQL and
/// then test exactly.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// One township's sites (within the scope: another's is an empty list).
    pub township_id: Option<i64>,
    pub kind: Option<SiteKind>,
    pub village_id: Option<i64>,
    pub risk_grade: Option<RiskGrade>,
    pub status: Option<SiteStatus>,
    pub expiring_within_days: Option<i64>,
    pub near: Option<(f64, f64, f64)>,
    pub area: Option<Region>,
    pub include_archived: bool,
    pub q: Option<String>,
}

impl Filter {
    /// Every site not archived (of one township, or of the scope): the
    /// ledger as first opened, whose count is kept ([`crate::county::kept`]).
    fn every_live_site(&self) -> bool {
        let Filter {
            township_id: _,
            kind,
            village_id,
            risk_grade,
            status,
            expiring_within_days,
            near,
            area,
            include_archived,
            q,
        } = self;
        kind.is_none()
            && village_id.is_none()
            && risk_grade.is_none()
            && status.is_none()
            && expiring_within_days.is_none()
            && near.is_none()
            && area.is_none()
            && !include_archived
            && q.is_none()
    }
}

/// The ledger's list: [`search`], except that the whole ledger's count is
/// the kept one rather than a count of every site per request.
pub async fn list(
    db: &Db,
    kept: &crate::county::Kept,
    f: &Filter,
    limit: i64,
    offset: i64,
    tz: chrono_tz::Tz,
) -> Result<(Vec<SiteRow>, i64)> {
    if !f.every_live_site() {
        return search(db, f, limit, offset, tz).await;
    }
    let total = kept.figures(db, tz).await?.sum(f.township_id).live_sites;
    let mut tx = db.read().await?;
    let rows = page_of(&mut tx, &filtered(db, f, tz), limit, offset).await?;
    tx.commit().await?;
    Ok((rows, total))
}

/// A page of `s` (`SELECT COLS FROM sites WHERE …`) in id order: the
/// page's ids first, then their rows, so that the ids of a page far into a
/// county's sites come from an index alone (PostgreSQL
/// `sites_live_in_order`), not from every row before the page.
async fn page_of(
    tx: &mut crate::store::Tx,
    s: &Sql,
    limit: i64,
    offset: i64,
) -> Result<Vec<SiteRow>> {
    let mut ids = Sql {
        text: s.text.replacen(&format!("SELECT {COLS}"), "SELECT id", 1),
        args: s.args.clone(),
    };
    ids.push(" ORDER BY id LIMIT ")
        .bind(limit)
        .push(" OFFSET ")
        .bind(offset);
    let mut q = Sql::new(&format!("SELECT {COLS} FROM sites WHERE id IN ("));
    q.push(&ids.text).push(") ORDER BY id");
    q.args = ids.args;
    Ok(q.query_as().fetch_all(&mut **tx).await?)
}

pub async fn search(
    db: &Db,
    f: &Filter,
    limit: i64,
    offset: i64,
    tz: chrono_tz::Tz,
) -> Result<(Vec<SiteRow>, i64)> {
    let s = filtered(db, f, tz);
    let geo = f.near.is_some() || f.area.is_some();
    if !geo {
        let count = Sql {
            text: s
                .text
                .replacen(&format!("SELECT {COLS}"), "SELECT COUNT(*)", 1),
            args: s.args.clone(),
        };
        let mut tx = db.read().await?;
        let (total,): (i64,) = count.query_as().fetch_one(&mut *tx).await?;
        let rows = page_of(&mut tx, &s, limit, offset).await?;
        tx.commit().await?;
        return Ok((rows, total));
    }
    let mut s = s;
    s.push(" ORDER BY id");
    let mut tx = db.read().await?;
    let rows: Vec<SiteRow> = s.query_as().fetch_all(&mut *tx).await?;
    tx.commit().await?;
    let keep = |r: &SiteRow| {
        let (Some(lon), Some(lat)) = (r.lon, r.lat) else {
            return false;
        };
        if let Some((clon, clat, rad)) = f.near
            && !crate::geometry::Circle::new(clon, clat, rad).contains(lon, lat)
        {
            return false;
        }
        f.area.as_ref().is_none_or(|a| a.contains(lon, lat))
    };
    let matched: Vec<SiteRow> = rows.into_iter().filter(keep).collect();
    let total = matched.len() as i64;
    let page = matched
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(0))
        .take(usize::try_from(limit).unwrap_or(0))
        .collect();
    Ok((page, total))
}

pub fn site_json(r: &SiteRow, tz: chrono_tz::Tz) -> Value {
    json!(r.view(tz))
}

/// How many sites (not archived) each village has; `None` counts the township's own.
pub async fn count_by_village(
    db: &Db,
) -> Result<std::collections::HashMap<Option<i64>, i64>, crate::store::StoreError> {
    let mut tx = db.read().await?;
    let rows: Vec<(Option<i64>, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT village_id, COUNT(*) FROM sites WHERE archived_at IS NULL AND {} AND {} GROUP BY village_id",
        db.township_filter("township_id"),
        db.village_filter("village_id")
    )))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows.into_iter().collect())
}

/// A pond or small reservoir with its three responsible persons, for the
/// 责任人名单.
#[derive(Debug, Clone)]
pub struct PondPeople {
    pub site_id: i64,
    pub name: String,
    pub village_id: Option<i64>,
    pub pond: super::site_details::PondDetails,
}

/// The live ponds and small reservoirs the handle's scope covers, by id.
pub async fn ponds(db: &Db) -> Result<Vec<PondPeople>> {
    let mut tx = db.read().await?;
    let rows: Vec<(i64, String, Option<i64>, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, name, village_id, details FROM sites WHERE kind = 'pond_reservoir' AND archived_at IS NULL \
         AND {} AND {} ORDER BY id",
        db.township_filter("township_id"),
        db.village_filter("village_id")
    )))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .filter_map(|(site_id, name, village_id, details)| {
            Some(PondPeople {
                site_id,
                name,
                village_id,
                pond: SiteDetails::from_json(&details).pond?,
            })
        })
        .collect())
}

/// `SELECT COLS FROM sites WHERE …`: the scope and every condition of `f`
/// (an area or circle as its bounding box; [`search`] tests the points).
fn filtered(db: &Db, f: &Filter, tz: chrono_tz::Tz) -> Sql {
    let mut s = Sql::new(&format!(
        "SELECT {COLS} FROM sites WHERE {} AND {}",
        db.township_filter("township_id"),
        db.village_filter("village_id")
    ));
    if !f.include_archived {
        s.push(" AND archived_at IS NULL");
    }
    if let Some(t) = f.township_id {
        s.push(" AND township_id = ").bind(t);
    }
    if let Some(k) = f.kind {
        s.push(" AND kind = ").bind(k.as_str());
    }
    if let Some(v) = f.village_id {
        s.push(" AND village_id = ").bind(v);
    }
    if let Some(g) = f.risk_grade {
        s.push(" AND risk_grade = ").bind(g.as_str());
    }
    if let Some(st) = f.status {
        s.push(" AND status = ").bind(st.as_str());
    }
    if let Some(d) = f.expiring_within_days {
        let until = crate::time::today(tz) + chrono::Duration::days(d);
        s.push(" AND licence_expires IS NOT NULL AND licence_expires <= ")
            .bind(until.to_string());
    }
    if let Some(q) = &f.q {
        s.push(" AND (name LIKE ")
            .bind(crate::store::like_contains(q))
            .push(" ESCAPE '\\' OR address LIKE ")
            .bind(crate::store::like_contains(q))
            .push(" ESCAPE '\\'");
        // The site's phones, however the number is typed.
        if let Some(digits) = crate::phone::search_digits(q) {
            let like = crate::store::like_contains(&digits);
            s.push(" OR phone_24h LIKE ")
                .bind(like.clone())
                .push(" ESCAPE '\\' OR safety_officer_phone LIKE ")
                .bind(like)
                .push(" ESCAPE '\\'");
        }
        s.push(")");
    }
    if let Some((lon, lat, r)) = f.near {
        // The circle's own box: it is wider than r / cos(lat) away from
        // the equator, and a narrower one would drop sites inside.
        let [west, south, east, north] = crate::geometry::Circle::new(lon, lat, r).bounds();
        s.push(" AND lon BETWEEN ")
            .bind(west)
            .push(" AND ")
            .bind(east);
        s.push(" AND lat BETWEEN ")
            .bind(south)
            .push(" AND ")
            .bind(north);
    }
    if let Some(a) = &f.area {
        s.push(" AND lon BETWEEN ")
            .bind(a.min_lon)
            .push(" AND ")
            .bind(a.max_lon);
        s.push(" AND lat BETWEEN ")
            .bind(a.min_lat)
            .push(" AND ")
            .bind(a.max_lat);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digits() {
        assert!(cas_ok("7732-18-5"));
        assert!(cas_ok("67-64-1"));
        assert!(!cas_ok("67-64-2"));
        assert!(!cas_ok("6764-1"));
        assert!(credit_code_ok("91350100M000100Y43"));
        assert!(!credit_code_ok("91350100M000100Y44"));
        assert!(!credit_code_ok("short"));
    }
}
