//! The site form (台账 create / edit). Writes go through `ledger::sites`
//! like the API's, so the rules and the messages are the same; a failed
//! write re-renders the form with what was typed, and a stale edit shows the
//! current values instead of overwriting.

use super::Scoped;
use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;

use super::html::{
    Errors, Form, FormData, Nav, Shell, grade_label, kind_label, render, status_label,
};
use super::i18n::{Lang, message};
use super::{Ctx, WebError, WebResult, see_other};
use crate::app::AppState;
use crate::auth::Role;
use crate::ledger::site_details::{
    FuelStationDetails, LpgDetails, MineDetails, MineType, PondDetails, PondPerson, SaleSeason,
    SiteDetails,
};
use crate::ledger::sites::{
    self, InventoryLine, Licence, Location, RiskGrade, SiteInput, SiteKind, SiteRow, SiteStatus,
};
use crate::store::WriteError;

/// Every input of the site form with its label, in form order; also the
/// order of the conflict table.
const FIELDS: &[(&str, &str, &str)] = &[
    ("name", "名称", "Name"),
    ("kind", "类别", "Kind"),
    (
        "credit_code",
        "统一社会信用代码",
        "Unified social credit code",
    ),
    ("address", "地址", "Address"),
    ("lon", "经度", "Longitude"),
    ("lat", "纬度", "Latitude"),
    ("village_id", "所属村", "Village"),
    ("legal_representative", "法定代表人", "Legal representative"),
    ("safety_officer", "安全负责人", "Safety officer"),
    (
        "safety_officer_phone",
        "安全负责人电话",
        "Safety officer's phone",
    ),
    ("phone_24h", "24 小时值班电话", "24-hour phone"),
    ("licence_number", "许可证编号", "Licence number"),
    ("licence_kind", "许可证类别", "Licence kind"),
    ("licence_issuer", "发证机关", "Issuer"),
    ("licence_issued_on", "发证日期", "Issued on"),
    ("licence_expires_on", "有效期至", "Expires on"),
    ("max_stock", "限制存放量", "Maximum permitted stock"),
    ("max_stock_unit", "存放量单位", "Stock unit"),
    ("risk_grade", "风险等级", "Risk grade"),
    ("status", "状态", "Status"),
    ("seasonal", "季节性经营", "Seasonal"),
    ("note", "备注", "Note"),
    (
        "people_within_500m",
        "周边 500 米内常住人口",
        "People living within 500 m",
    ),
    (
        "pond_capacity",
        "总库容（万立方米）",
        "Capacity (10,000 m³)",
    ),
    ("pond_dam_height", "坝高（米）", "Dam height (m)"),
    ("pond_admin_name", "行政责任人", "Administrative person"),
    (
        "pond_admin_phone",
        "行政责任人电话",
        "Administrative person's phone",
    ),
    ("pond_tech_name", "技术责任人", "Technical person"),
    (
        "pond_tech_phone",
        "技术责任人电话",
        "Technical person's phone",
    ),
    ("pond_patrol_name", "巡查责任人", "Patrol person"),
    (
        "pond_patrol_phone",
        "巡查责任人电话",
        "Patrol person's phone",
    ),
    ("mine_licence_no", "采矿许可证号", "Mining licence number"),
    (
        "mine_licence_expires",
        "采矿许可证有效期至",
        "Mining licence expires on",
    ),
    ("mine_type", "开采方式", "Mine type"),
    ("mine_tailings", "有尾矿库", "Has a tailings pond"),
    ("fuel_tanks", "储罐数量", "Tanks"),
    (
        "fuel_volume",
        "储罐总容积（立方米）",
        "Total tank volume (m³)",
    ),
    (
        "fuel_licence_no",
        "成品油零售经营批准证书编号",
        "Fuel retail licence number",
    ),
    ("lpg_licence_no", "燃气经营许可证编号", "Gas licence number"),
    ("lpg_cylinders", "最大储存气瓶数", "Most cylinders stored"),
    ("season_name", "销售季节", "Sale season"),
    ("season_from", "销售开始日期", "Sale from"),
    ("season_to", "销售结束日期", "Sale until"),
];

/// The domain's detail fields and the form inputs that hold them.
const DETAIL_INPUTS: &[(&str, &str)] = &[
    ("details.pond.capacity_10k_m3", "pond_capacity"),
    ("details.pond.dam_height_m", "pond_dam_height"),
    ("details.pond.administrative.phone", "pond_admin_phone"),
    ("details.pond.administrative", "pond_admin_name"),
    ("details.pond.technical.phone", "pond_tech_phone"),
    ("details.pond.technical", "pond_tech_name"),
    ("details.pond.patrol.phone", "pond_patrol_phone"),
    ("details.pond.patrol", "pond_patrol_name"),
    ("details.mine.mining_licence_no", "mine_licence_no"),
    (
        "details.mine.mining_licence_expires",
        "mine_licence_expires",
    ),
    ("details.mine", "mine_type"),
    ("details.fuel_station.tank_count", "fuel_tanks"),
    ("details.fuel_station.tank_volume_m3", "fuel_volume"),
    ("details.fuel_station", "fuel_licence_no"),
    ("details.lpg.max_cylinders", "lpg_cylinders"),
    ("details.lpg", "lpg_licence_no"),
    ("details.sale_season.to", "season_to"),
    ("details.sale_season", "season_from"),
];

pub(super) const INV: &[(&str, &str, &str)] = &[
    ("chemical", "品名", "Chemical"),
    ("cas", "CAS 号", "CAS number"),
    ("un_number", "UN 编号", "UN number"),
    ("hazard_class", "危险类别", "Hazard class"),
    ("max_quantity", "最大存量", "Max quantity"),
    ("unit", "单位", "Unit"),
    (
        "gb18218_category",
        "GB 18218 类别（表1 未列明时）",
        "GB 18218 category (if not in table 1)",
    ),
];

fn label(lang: Lang, name: &str) -> String {
    if let Some((_, zh, en)) = FIELDS.iter().find(|(n, _, _)| *n == name) {
        return lang.t(zh, en).to_string();
    }
    if let Some(rest) = name.strip_prefix("inv")
        && let Some((row, sub)) = rest.split_once('_')
        && let Some((_, zh, en)) = INV.iter().find(|(n, _, _)| *n == sub)
    {
        let row: usize = row.parse().unwrap_or(0);
        return match lang {
            Lang::Zh => format!("库存第 {} 行 {zh}", row + 1),
            Lang::En => format!("Inventory line {} {en}", row + 1),
        };
    }
    match name {
        "version" => lang.t("版本", "Version").into(),
        "inventory" => lang.t("库存", "Inventory").into(),
        _ => name.to_string(),
    }
}

pub(super) fn num(v: f64) -> String {
    // Shortest text that reads back as the same number.
    let s = format!("{v}");
    s.strip_suffix(".0").map_or(s.clone(), str::to_string)
}

/// A stored site as form values.
fn form_from_row(r: &SiteRow) -> FormData {
    let mut f = FormData::default();
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    f.push("name", r.name.clone());
    f.push("kind", r.kind.clone());
    f.push("credit_code", o(&r.credit_code));
    f.push("address", o(&r.address));
    f.push("lon", r.lon.map(num).unwrap_or_default());
    f.push("lat", r.lat.map(num).unwrap_or_default());
    f.push(
        "village_id",
        if r.outside_villages != 0 {
            String::new()
        } else {
            r.village_id.map(|v| v.to_string()).unwrap_or_default()
        },
    );
    f.push("legal_representative", o(&r.legal_representative));
    f.push("safety_officer", o(&r.safety_officer));
    f.push("safety_officer_phone", o(&r.safety_officer_phone));
    f.push("phone_24h", o(&r.phone_24h));
    f.push("licence_number", o(&r.licence_no));
    f.push("licence_kind", o(&r.licence_kind));
    f.push("licence_issuer", o(&r.licence_issuer));
    f.push("licence_issued_on", o(&r.licence_issued));
    f.push("licence_expires_on", o(&r.licence_expires));
    f.push("max_stock", r.max_stock.map(num).unwrap_or_default());
    f.push("max_stock_unit", o(&r.max_stock_unit));
    f.push("risk_grade", r.risk_grade.clone());
    f.push("status", r.status.clone());
    f.push("seasonal", if r.seasonal != 0 { "1" } else { "" });
    f.push("note", o(&r.note));
    f.push(
        "people_within_500m",
        r.people_within_500m
            .map(|p| p.to_string())
            .unwrap_or_default(),
    );
    details_to_form(&mut f, &SiteDetails::from_json(&r.details));
    let inv: Vec<InventoryLine> = serde_json::from_str(&r.inventory).unwrap_or_default();
    for (i, l) in inv.iter().enumerate() {
        f.push(&format!("inv{i}_chemical"), l.chemical.clone());
        f.push(&format!("inv{i}_cas"), o(&l.cas));
        f.push(&format!("inv{i}_un_number"), o(&l.un_number));
        f.push(&format!("inv{i}_hazard_class"), o(&l.hazard_class));
        f.push(&format!("inv{i}_max_quantity"), num(l.max_quantity));
        f.push(&format!("inv{i}_unit"), l.unit.clone());
        f.push(&format!("inv{i}_gb18218_category"), o(&l.gb18218_category));
    }
    f.push("version", r.version.to_string());
    f
}

/// A whole number typed in the form (empty: none).
fn whole(f: &FormData, k: &str, errors: &mut Errors) -> Option<i64> {
    match f.get(k).trim() {
        "" => None,
        v => match v.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.add(k, format!("'{v}' is not a whole number"));
                None
            }
        },
    }
}

fn details_to_form(f: &mut FormData, d: &SiteDetails) {
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    let n = |v: Option<f64>| v.map(num).unwrap_or_default();
    let i = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    if let Some(p) = &d.pond {
        f.push("pond_capacity", n(p.capacity_10k_m3));
        f.push("pond_dam_height", n(p.dam_height_m));
        for (key, person) in [
            ("admin", &p.administrative),
            ("tech", &p.technical),
            ("patrol", &p.patrol),
        ] {
            if let Some(person) = person {
                f.push(&format!("pond_{key}_name"), person.name.clone());
                f.push(&format!("pond_{key}_phone"), person.phone.clone());
            }
        }
    }
    if let Some(m) = &d.mine {
        f.push("mine_licence_no", o(&m.mining_licence_no));
        f.push("mine_licence_expires", o(&m.mining_licence_expires));
        f.push("mine_type", m.mine_type.map_or("", MineType::as_str));
        f.push("mine_tailings", if m.tailings_pond { "1" } else { "" });
    }
    if let Some(s) = &d.fuel_station {
        f.push("fuel_tanks", i(s.tank_count));
        f.push("fuel_volume", n(s.tank_volume_m3));
        f.push("fuel_licence_no", o(&s.retail_licence_no));
    }
    if let Some(l) = &d.lpg {
        f.push("lpg_licence_no", o(&l.gas_licence_no));
        f.push("lpg_cylinders", i(l.max_cylinders));
    }
    if let Some(s) = &d.sale_season {
        f.push("season_name", o(&s.name));
        f.push("season_from", s.from.clone());
        f.push("season_to", s.to.clone());
    }
}

/// The details of the chosen kind from the form: the other kinds' inputs
/// are ignored, so changing a site's kind does not carry them over.
fn details_from_form(f: &FormData, kind: SiteKind, errors: &mut Errors) -> SiteDetails {
    let filled = |keys: &[&str]| keys.iter().any(|k| !f.get(k).trim().is_empty());
    let mut d = SiteDetails::default();
    match kind {
        SiteKind::PondReservoir => {
            let person = |key: &str| {
                let (name, phone) = (format!("pond_{key}_name"), format!("pond_{key}_phone"));
                filled(&[name.as_str(), phone.as_str()]).then(|| PondPerson {
                    name: f.get(&name).trim().to_string(),
                    phone: f.get(&phone).trim().to_string(),
                })
            };
            d.pond = Some(PondDetails {
                capacity_10k_m3: f.decimal("pond_capacity", errors),
                dam_height_m: f.decimal("pond_dam_height", errors),
                administrative: person("admin"),
                technical: person("tech"),
                patrol: person("patrol"),
            });
        }
        SiteKind::NonCoalMine
            if filled(&[
                "mine_licence_no",
                "mine_licence_expires",
                "mine_type",
                "mine_tailings",
            ]) =>
        {
            d.mine = Some(MineDetails {
                mining_licence_no: f.opt("mine_licence_no"),
                mining_licence_expires: f.opt("mine_licence_expires"),
                mine_type: MineType::parse(f.get("mine_type").trim()),
                tailings_pond: matches!(f.get("mine_tailings"), "1" | "on" | "true"),
            });
        }
        SiteKind::FuelStation if filled(&["fuel_tanks", "fuel_volume", "fuel_licence_no"]) => {
            d.fuel_station = Some(FuelStationDetails {
                tank_count: whole(f, "fuel_tanks", errors),
                tank_volume_m3: f.decimal("fuel_volume", errors),
                retail_licence_no: f.opt("fuel_licence_no"),
            });
        }
        SiteKind::LpgSupplyPoint if filled(&["lpg_licence_no", "lpg_cylinders"]) => {
            d.lpg = Some(LpgDetails {
                gas_licence_no: f.opt("lpg_licence_no"),
                max_cylinders: whole(f, "lpg_cylinders", errors),
            });
        }
        SiteKind::FireworksRetail if filled(&["season_name", "season_from", "season_to"]) => {
            d.sale_season = Some(SaleSeason {
                name: f.opt("season_name"),
                from: f.get("season_from").trim().to_string(),
                to: f.get("season_to").trim().to_string(),
            });
        }
        _ => {}
    }
    d
}

/// Inventory rows present in the form (filled or not).
fn inv_rows(f: &FormData) -> usize {
    f.0.iter()
        .filter_map(|(k, _)| {
            k.strip_prefix("inv")?
                .split_once('_')?
                .0
                .parse::<usize>()
                .ok()
        })
        .map(|i| i + 1)
        .max()
        .unwrap_or(0)
}

/// The form as the domain's input. Text that is not a number is reported
/// here; everything else is left to `ledger::sites` so messages match the API.
/// Returns the input and, for each inventory line, its form row.
fn input_from_form(f: &FormData, errors: &mut Errors) -> Option<(SiteInput, Vec<usize>)> {
    let lon = f.decimal("lon", errors);
    let lat = f.decimal("lat", errors);
    let location = match (lon, lat) {
        (Some(lon), Some(lat)) => Some(Location { lon, lat }),
        (None, None) => None,
        _ => {
            if errors.get("lon").is_none() && errors.get("lat").is_none() {
                let missing = if lon.is_none() { "lon" } else { "lat" };
                errors.add(missing, "enter both longitude and latitude, or neither");
            }
            None
        }
    };
    let max_stock = f.decimal("max_stock", errors);
    let kind = SiteKind::parse(f.get("kind"));
    if kind.is_none() {
        errors.add("kind", "choose a kind");
    }
    let risk = RiskGrade::parse(f.get("risk_grade"));
    if risk.is_none() {
        errors.add("risk_grade", "choose a risk grade");
    }
    let status = SiteStatus::parse(f.get("status")).unwrap_or(SiteStatus::Active);
    let village_id = match f.get("village_id").trim() {
        "" => None,
        v => match v.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => {
                errors.add("village_id", format!("'{v}' is not a village"));
                None
            }
        },
    };
    let mut inventory = Vec::new();
    let mut rows = Vec::new();
    for i in 0..inv_rows(f) {
        let g = |sub: &str| f.get(&format!("inv{i}_{sub}")).trim().to_string();
        let filled = INV.iter().any(|(sub, _, _)| !g(sub).is_empty());
        if !filled {
            continue;
        }
        let qk = format!("inv{i}_max_quantity");
        let qty = match g("max_quantity").parse::<f64>() {
            Ok(q) if q.is_finite() => q,
            _ => {
                errors.add(&qk, format!("'{}' is not a number", g("max_quantity")));
                0.0
            }
        };
        let opt = |s: String| (!s.is_empty()).then_some(s);
        inventory.push(InventoryLine {
            chemical: g("chemical"),
            cas: opt(g("cas")),
            un_number: opt(g("un_number")),
            hazard_class: opt(g("hazard_class")),
            max_quantity: qty,
            unit: g("unit"),
            gb18218_category: opt(g("gb18218_category")),
        });
        rows.push(i);
    }
    let people_within_500m = whole(f, "people_within_500m", errors);
    let details = kind
        .map(|k| details_from_form(f, k, errors))
        .unwrap_or_default();
    let version = f.get("version").trim().parse::<i64>().ok();
    // Phones as the API parses them, with the same field errors.
    let mut phone = |k: &str| match f.opt(k).filter(|p| !p.trim().is_empty()) {
        None => None,
        Some(p) => crate::phone::Phone::parse(&p)
            .map_err(|e| errors.add(k, e.to_string()))
            .ok(),
    };
    let safety_officer_phone = phone("safety_officer_phone");
    let phone_24h = phone("phone_24h");
    let (Some(kind), Some(risk_grade)) = (kind, risk) else {
        return None;
    };
    if !errors.is_empty() {
        return None;
    }
    let licence = Licence {
        number: f.opt("licence_number"),
        kind: f.opt("licence_kind"),
        issuer: f.opt("licence_issuer"),
        issued_on: f.opt("licence_issued_on"),
        expires_on: f.opt("licence_expires_on"),
    };
    Some((
        SiteInput {
            name: f.get("name").to_string(),
            kind,
            credit_code: f.opt("credit_code"),
            address: f.opt("address"),
            location,
            village_id,
            legal_representative: f.opt("legal_representative"),
            safety_officer: f.opt("safety_officer"),
            safety_officer_phone,
            phone_24h,
            licence: Some(licence),
            max_stock,
            max_stock_unit: f.opt("max_stock_unit"),
            inventory,
            risk_grade,
            status,
            seasonal: matches!(f.get("seasonal"), "1" | "on" | "true"),
            note: f.opt("note"),
            details,
            people_within_500m,
            version,
        },
        rows,
    ))
}

/// The form input a domain field error belongs to.
fn input_for(field: &str, rows: &[usize]) -> String {
    if let Some(rest) = field.strip_prefix("inventory[")
        && let Some((i, sub)) = rest.split_once("].")
    {
        let row = i
            .parse::<usize>()
            .ok()
            .and_then(|i| rows.get(i).copied())
            .unwrap_or(0);
        return format!("inv{row}_{sub}");
    }
    if let Some((_, input)) = DETAIL_INPUTS
        .iter()
        .find(|(d, _)| field == *d || field.starts_with(&format!("{d}.")))
    {
        return (*input).to_string();
    }
    match field {
        "location" => "lon".into(),
        f if f.starts_with("licence.") => f.replacen("licence.", "licence_", 1),
        f => f.to_string(),
    }
}

async fn village_options(s: &AppState, ctx: &Ctx) -> WebResult<Vec<(String, String)>> {
    let mut out = vec![(
        String::new(),
        ctx.t("（按位置自动确定）", "(from the location)")
            .to_string(),
    )];
    for v in crate::registry::villages::list(&s.db, false).await? {
        out.push((v.id.to_string(), format!("{} · {}", v.code, v.name)));
    }
    Ok(out)
}

/// One cell of an inventory row.
struct Cell {
    name: String,
    label: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "sites/form.html")]
struct FormView<'a> {
    shell: Shell<'a>,
    lang: Lang,
    action: String,
    cancel: String,
    f: Form<'a>,
    conflict: Option<Vec<(String, String, String)>>,
    kinds: Vec<(String, String)>,
    mine_types: Vec<(String, String)>,
    grades: Vec<(String, String)>,
    statuses: Vec<(String, String)>,
    villages: Vec<(String, String)>,
    inv_heads: Vec<&'static str>,
    inventory: Vec<Vec<Cell>>,
}

impl FormView<'_> {
    /// A field's label from `FIELDS`, in the page's language.
    fn l(&self, k: &str) -> &'static str {
        FIELDS
            .iter()
            .find(|(n, _, _)| *n == k)
            .map_or("", |(_, zh, en)| self.lang.t(zh, en))
    }
}

struct FormPage<'a> {
    site_id: Option<i64>,
    values: &'a FormData,
    errors: &'a Errors,
    /// Current stored values when the edit was stale.
    conflict: Option<&'a FormData>,
    status: StatusCode,
}

async fn form_page(s: &AppState, ctx: &Ctx, p: FormPage<'_>) -> WebResult {
    let lang = ctx.lang;
    let title = match p.site_id {
        Some(_) => ctx.t("编辑场所", "Edit site"),
        None => ctx.t("新增场所", "New site"),
    };
    let conflict = p.conflict.map(|cur| {
        let mut keys: Vec<String> = FIELDS.iter().map(|(k, _, _)| (*k).to_string()).collect();
        for i in 0..inv_rows(p.values).max(inv_rows(cur)) {
            for (sub, _, _) in INV {
                keys.push(format!("inv{i}_{sub}"));
            }
        }
        keys.into_iter()
            .filter_map(|k| {
                let (mine, theirs) = (p.values.get(&k).trim(), cur.get(&k).trim());
                (mine != theirs).then(|| (label(lang, &k), mine.to_string(), theirs.to_string()))
            })
            .collect()
    });
    let action = match p.site_id {
        Some(id) => format!("/sites/{id}/edit"),
        None => "/sites/new".to_string(),
    };
    let kinds: Vec<(String, String)> =
        std::iter::once((String::new(), ctx.t("（请选择）", "(choose)").to_string()))
            .chain(SiteKind::ALL.iter().map(|k| {
                (
                    k.as_str().to_string(),
                    kind_label(lang, k.as_str()).to_string(),
                )
            }))
            .collect();
    let grades: Vec<(String, String)> =
        std::iter::once((String::new(), ctx.t("（请选择）", "(choose)").to_string()))
            .chain(
                ["major", "significant", "general", "low"]
                    .iter()
                    .map(|g| ((*g).to_string(), grade_label(lang, g).to_string())),
            )
            .collect();
    let statuses: Vec<(String, String)> = ["active", "suspended", "closed"]
        .iter()
        .map(|g| ((*g).to_string(), status_label(lang, g).to_string()))
        .collect();
    // Two spare rows for new lines; more appear after saving.
    let inventory = (0..inv_rows(p.values) + 2)
        .map(|i| {
            INV.iter()
                .map(|(sub, _, _)| {
                    let name = format!("inv{i}_{sub}");
                    Cell {
                        label: label(lang, &name),
                        error: p.errors.get(&name).map(|m| message(lang, m)),
                        name,
                    }
                })
                .collect()
        })
        .collect();
    Ok(render(
        p.status,
        &FormView {
            shell: super::map::form_shell(ctx, title, Nav::Ledger),
            lang,
            action,
            cancel: p
                .site_id
                .map_or_else(|| "/sites".to_string(), |id| format!("/sites/{id}")),
            f: Form::new(lang, p.values, p.errors, label),
            conflict,
            kinds,
            mine_types: std::iter::once((
                String::new(),
                ctx.t("（未填）", "(not given)").to_string(),
            ))
            .chain(
                [MineType::OpenPit, MineType::Underground]
                    .into_iter()
                    .map(|m| {
                        (
                            m.as_str().to_string(),
                            lang.t(m.label_zh(), m.label_en()).to_string(),
                        )
                    }),
            )
            .collect(),
            grades,
            statuses,
            villages: village_options(s, ctx).await?,
            inv_heads: INV.iter().map(|(_, zh, en)| lang.t(zh, en)).collect(),
            inventory,
        },
    ))
}

pub async fn new_form(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    ctx.need(Role::Editor)?;
    let mut v = FormData::default();
    v.set("status", "active");
    form_page(
        &s,
        &ctx,
        FormPage {
            site_id: None,
            values: &v,
            errors: &Errors::default(),
            conflict: None,
            status: StatusCode::OK,
        },
    )
    .await
}

pub async fn edit_form(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    ctx.need(Role::Editor)?;
    let r = sites::get(&s.db, id).await?.ok_or(WebError::NotFound)?;
    let v = form_from_row(&r);
    form_page(
        &s,
        &ctx,
        FormPage {
            site_id: Some(id),
            values: &v,
            errors: &Errors::default(),
            conflict: None,
            status: StatusCode::OK,
        },
    )
    .await
}

async fn save(s: &AppState, ctx: &Ctx, f: FormData, id: Option<i64>) -> WebResult {
    let user = ctx.need(Role::Editor)?;
    let mut errors = Errors::default();
    fn invalid<'a>(site_id: Option<i64>, values: &'a FormData, errors: &'a Errors) -> FormPage<'a> {
        FormPage {
            site_id,
            values,
            errors,
            conflict: None,
            status: StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
    let Some((input, rows)) = input_from_form(&f, &mut errors) else {
        return form_page(s, ctx, invalid(id, &f, &errors)).await;
    };
    let actor = user.actor();
    let result = match id {
        None => sites::create(&s.db, &actor, input, false, s.tz).await,
        Some(id) => sites::update(&s.db, &actor, id, input, s.tz).await,
    };
    match result {
        Ok(r) => Ok(see_other(&format!("/sites/{}?saved=1", r.id))),
        Err(WriteError::Invalid(fe)) => {
            errors.add(&input_for(&fe.field, &rows), fe.message);
            form_page(s, ctx, invalid(id, &f, &errors)).await
        }
        Err(WriteError::Conflict(_)) => {
            let Some(id) = id else {
                return Err(WebError::Internal("conflict on create".into()));
            };
            let cur = sites::get(&s.db, id).await?.ok_or(WebError::NotFound)?;
            let current = form_from_row(&cur);
            let mut mine = f.clone();
            // Saving again is a deliberate choice made after seeing the current values.
            mine.set("version", cur.version.to_string());
            form_page(
                s,
                ctx,
                FormPage {
                    site_id: Some(id),
                    values: &mine,
                    errors: &errors,
                    conflict: Some(&current),
                    status: StatusCode::CONFLICT,
                },
            )
            .await
        }
        Err(WriteError::NotFound) => Err(WebError::NotFound),
        Err(WriteError::Store(e)) => Err(e.into()),
    }
}

pub async fn create(Scoped(s): Scoped, ctx: Ctx, f: FormData) -> WebResult {
    save(&s, &ctx, f, None).await
}

pub async fn update(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>, f: FormData) -> WebResult {
    save(&s, &ctx, f, Some(id)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_domain_fields_to_inputs() {
        assert_eq!(input_for("location", &[]), "lon");
        assert_eq!(input_for("licence.expires_on", &[]), "licence_expires_on");
        assert_eq!(input_for("inventory[1].cas", &[0, 3]), "inv3_cas");
        assert_eq!(input_for("name", &[]), "name");
        assert_eq!(
            input_for("details.pond.patrol.phone", &[]),
            "pond_patrol_phone"
        );
        assert_eq!(input_for("details.pond.patrol", &[]), "pond_patrol_name");
        assert_eq!(input_for("details.sale_season.from", &[]), "season_from");
    }

    #[test]
    fn numbers_print_short() {
        assert_eq!(num(30.0), "30");
        assert_eq!(num(117.98765), "117.98765");
    }
}
