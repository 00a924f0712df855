//! The ledger (台账) of hazardous-chemical and fireworks sites: the list
//! with the API's filters, a site's page (licence, inventory, inspections,
//! findings with their rectify / close-out forms), and archiving. The form
//! is `site_form`, the finding steps `findings`.

use super::Scoped;
use std::collections::HashMap;

use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;

use super::findings::{FindingProblem, Step};
use super::html::{
    Errors, Form, FormData, Nav, Pager, Shell, grade_label, kind_label, local, render, status_label,
};
use super::i18n::{Lang, message};
use super::site_form::{INV, num};
use super::{Ctx, WebError, WebResult, see_other};
use crate::app::AppState;
use crate::auth::Role;
use crate::ledger::inspections;
use crate::ledger::sites::{self, Filter, InventoryLine, RiskGrade, SiteKind, SiteStatus};
use crate::store::WriteError;

pub async fn archive(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>, f: FormData) -> WebResult {
    let user = ctx.need(Role::Editor)?;
    let version = f.get("version").trim().parse::<i64>().ok();
    match sites::archive(&s.db, &user.actor(), id, version, s.tz).await {
        Ok(_) => Ok(see_other(&format!("/sites/{id}"))),
        Err(WriteError::Conflict(_)) => Ok(see_other(&format!("/sites/{id}?stale=1"))),
        Err(WriteError::NotFound) => Err(WebError::NotFound),
        Err(WriteError::Invalid(_)) => Ok(see_other(&format!("/sites/{id}"))),
        Err(WriteError::Store(e)) => Err(e.into()),
    }
}

/// Parses the list filters with the API's rules; bad values are reported
/// beside their filter and ignored.
fn filter_from(q: &FormData, errors: &mut Errors, search_chars: usize) -> Filter {
    let mut f = Filter::default();
    if let Some(k) = q.opt("kind") {
        f.kind = SiteKind::parse(&k);
        if f.kind.is_none() {
            errors.add("kind", format!("unknown kind '{k}'"));
        }
    }
    if let Some(g) = q.opt("risk_grade") {
        f.risk_grade = RiskGrade::parse(&g);
        if f.risk_grade.is_none() {
            errors.add("risk_grade", format!("unknown risk grade '{g}'"));
        }
    }
    if let Some(st) = q.opt("status") {
        f.status = SiteStatus::parse(&st);
        if f.status.is_none() {
            errors.add("status", format!("unknown status '{st}'"));
        }
    }
    f.village_id = q.whole("village_id", errors);
    f.township_id = q.whole("township_id", errors);
    f.expiring_within_days = q.whole("expiring_within_days", errors);
    if let Some(d) = f.expiring_within_days
        && !(0..=3650).contains(&d)
    {
        errors.add("expiring_within_days", "must be between 0 and 3650");
        f.expiring_within_days = None;
    }
    match (
        q.decimal("near_lon", errors),
        q.decimal("near_lat", errors),
        q.decimal("radius_m", errors),
    ) {
        (None, None, None) => {}
        (Some(lon), Some(lat), Some(r)) => {
            if let Err(e) = crate::validate::lon_lat("near_lon", lon, lat) {
                errors.add("near_lon", e.message);
            } else if !(0.0..=200_000.0).contains(&r) {
                errors.add("radius_m", "must be between 0 and 200000");
            } else {
                f.near = Some((lon, lat, r));
            }
        }
        _ => errors.add("radius_m", "near_lon, near_lat and radius_m go together"),
    }
    f.include_archived = q.get("include_archived") == "1";
    f.q = match crate::validate::optional_line("q", &q.opt("q"), search_chars) {
        Ok(t) => t,
        Err(e) => {
            errors.add("q", e.message);
            None
        }
    };
    f
}

/// The township filter's choices: all, then each township by name.
pub(super) fn township_options(ctx: &Ctx, names: &HashMap<i64, String>) -> Vec<(String, String)> {
    let mut towns: Vec<(&i64, &String)> = names.iter().collect();
    towns.sort_by(|a, b| a.1.cmp(b.1).then(a.0.cmp(b.0)));
    let mut out = vec![(String::new(), ctx.t("全部", "All").to_string())];
    out.extend(towns.into_iter().map(|(id, n)| (id.to_string(), n.clone())));
    out
}

fn query_of(ctx: &Ctx) -> FormData {
    FormData::parse(ctx.path.split_once('?').map_or("", |(_, q)| q).as_bytes())
}

/// Licence expiry cell class: expired, within 30 days, or fine.
fn expiry_class(expires: &Option<String>, today: &str, soon: &str) -> &'static str {
    match expires.as_deref() {
        Some(e) if e < today => "expired",
        Some(e) if e <= soon => "soon",
        _ => "",
    }
}

struct SiteLine {
    id: i64,
    name: String,
    archived: bool,
    kind: &'static str,
    village: String,
    township: String,
    colour: &'static str,
    grade: &'static str,
    status: &'static str,
    licence_no: String,
    expiry_class: &'static str,
    licence_expires: String,
    phone_24h: String,
}

#[derive(Template)]
#[template(path = "sites/list.html")]
struct ListPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    editor: bool,
    f: Form<'a>,
    kinds: Vec<(String, String)>,
    villages: Vec<(String, String)>,
    /// The township filter and column, for those who see several.
    townships: Option<Vec<(String, String)>>,
    grades: Vec<(String, String)>,
    statuses: Vec<(String, String)>,
    near_open: bool,
    sites: Vec<SiteLine>,
    pager: Pager,
}

pub async fn list(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    ctx.need(Role::Viewer)?;
    let lang = ctx.lang;
    let q = query_of(&ctx);
    let mut errors = Errors::default();
    let f = filter_from(&q, &mut errors, s.cfg.limits.search_chars);
    let per_page = match q.get("per_page").parse::<i64>() {
        Ok(n) if (1..=500).contains(&n) => n,
        Ok(_) => {
            errors.add("per_page", "must be between 1 and 500");
            50
        }
        Err(_) => 50,
    };
    let page = q
        .get("page")
        .parse::<i64>()
        .ok()
        .filter(|p| (1..=1_000_000).contains(p))
        .unwrap_or(1);
    let (rows, total) =
        sites::list(&s.db, &s.figures, &f, per_page, (page - 1) * per_page, s.tz).await?;
    let names = crate::registry::villages::names(&s.db).await?;
    let several = crate::county::sees_several(&s.db);
    let towns = if several {
        crate::county::township_names(&s.db).await?
    } else {
        HashMap::new()
    };
    let townships = several.then(|| township_options(&ctx, &towns));
    let mut kinds = vec![(String::new(), ctx.t("全部", "All").to_string())];
    kinds.extend(SiteKind::ALL.iter().map(|k| {
        (
            k.as_str().to_string(),
            kind_label(lang, k.as_str()).to_string(),
        )
    }));
    let mut grades = vec![(String::new(), ctx.t("全部", "All").to_string())];
    grades.extend(
        ["major", "significant", "general", "low"]
            .iter()
            .map(|g| ((*g).to_string(), grade_label(lang, g).to_string())),
    );
    let mut statuses = vec![(String::new(), ctx.t("全部", "All").to_string())];
    statuses.extend(
        ["active", "suspended", "closed"]
            .iter()
            .map(|g| ((*g).to_string(), status_label(lang, g).to_string())),
    );
    let mut villages = vec![(String::new(), ctx.t("全部", "All").to_string())];
    let mut vn: Vec<(&i64, &String)> = names.iter().collect();
    vn.sort();
    villages.extend(vn.into_iter().map(|(id, n)| (id.to_string(), n.clone())));
    let today = crate::time::today(s.tz);
    let soon =
        (today + chrono::Duration::days(crate::ledger::worklist::LICENCE_WARNING_DAYS)).to_string();
    let today = today.to_string();
    let lines = rows
        .iter()
        .map(|r| SiteLine {
            id: r.id,
            name: r.name.clone(),
            archived: r.archived_at.is_some(),
            kind: kind_label(lang, &r.kind),
            village: match (r.village_id, r.outside_villages != 0) {
                (Some(v), _) => names.get(&v).cloned().unwrap_or_default(),
                (None, true) => lang
                    .t("（不在任何村内）", "(outside every village)")
                    .to_string(),
                (None, false) => String::new(),
            },
            township: towns.get(&r.township_id).cloned().unwrap_or_default(),
            colour: RiskGrade::parse(&r.risk_grade).map_or("grey", RiskGrade::colour),
            grade: grade_label(lang, &r.risk_grade),
            status: status_label(lang, &r.status),
            licence_no: r.licence_no.clone().unwrap_or_default(),
            expiry_class: expiry_class(&r.licence_expires, &today, &soon),
            licence_expires: r.licence_expires.clone().unwrap_or_default(),
            phone_24h: r
                .phone_24h
                .as_deref()
                .map(crate::phone::dialled)
                .unwrap_or_default(),
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &ListPage {
            shell: Shell::new(&ctx, ctx.t("台账", "Ledger"), Nav::Ledger),
            lang,
            editor: ctx.can(Role::Editor),
            near_open: q.opt("near_lon").is_some() || errors.get("radius_m").is_some(),
            f: Form::new(lang, &q, &errors, |_, f| f.to_string()),
            kinds,
            villages,
            townships,
            grades,
            statuses,
            sites: lines,
            pager: Pager::new("/sites", &q.0, page, per_page, total),
        },
    ))
}

fn finding_status(lang: Lang, s: &str) -> &'static str {
    match s {
        "open" => lang.t("待整改", "open"),
        "rectified" => lang.t("已整改待销号", "rectified"),
        "closed" => lang.t("已销号", "closed out"),
        _ => lang.t("未知", "unknown"),
    }
}

pub async fn show(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    ctx.need(Role::Viewer)?;
    show_page(&s, &ctx, id, None).await
}

/// A finding's rectify / close-out form, for editors.
struct FindingAction {
    step: Step,
    date: String,
    text: String,
    /// A refused step: the field and the message.
    problem: Option<(String, String)>,
}

struct FindingLine {
    id: i64,
    version: i64,
    overdue: bool,
    grade: &'static str,
    item: String,
    description: String,
    measures: String,
    /// 整改资金, empty when none was recorded.
    funding: String,
    responsible: String,
    deadline: String,
    status: &'static str,
    /// The re-inspector, the rectification and the close-out as labelled
    /// parts: ("复查人", "王应急"), ("整改", "2026-11-20，已加装喷淋"), …
    trail: Vec<(&'static str, String)>,
    action: Option<FindingAction>,
    /// Its photos (整改前 / 整改后), at `/findings/{id}/photos`.
    photos: i64,
}

struct InspectionView {
    id: i64,
    /// Its photos (现场照片), at `/inspections/{id}/photos`.
    photos: i64,
    inspected_on: String,
    inspectors: String,
    summary: Option<String>,
    findings: Vec<FindingLine>,
}

struct InventoryView {
    chemical: String,
    cas: String,
    un_number: String,
    hazard_class: String,
    max_quantity: String,
    unit: String,
    gb18218_category: String,
}

/// One inventory line's part in the major hazard assessment.
struct HazardLineView {
    chemical: String,
    basis: &'static str,
    matched: String,
    quantity_t: String,
    critical_t: String,
    ratio: String,
    beta: String,
}

/// 重大危险源辨识 as shown on the site's page.
struct HazardView {
    major: bool,
    s: String,
    r: String,
    alpha: String,
    grade: String,
    unknown_lines: usize,
    lines: Vec<HazardLineView>,
}

fn hazard_view(lang: Lang, a: &crate::ledger::hazard_source::HazardAssessment) -> HazardView {
    use crate::ledger::hazard_source::Basis;
    let n = |v: Option<f64>| {
        v.map(|v| {
            format!("{v:.3}")
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string()
        })
        .unwrap_or_default()
    };
    HazardView {
        major: a.major,
        s: n(Some(a.s)),
        r: n(a.r),
        alpha: n(a.alpha),
        grade: match a.grade {
            Some(g) => lang.t(g.label_zh(), g.label_en()).to_string(),
            None if a.major => lang
                .t(
                    "重大危险源（未填周边人口，无法分级）",
                    "major hazard source (people within 500 m not recorded: no grade)",
                )
                .to_string(),
            None => lang
                .t("不构成重大危险源", "not a major hazard source")
                .to_string(),
        },
        unknown_lines: a.unknown_lines,
        lines: a
            .lines
            .iter()
            .map(|l| HazardLineView {
                chemical: l.chemical.clone(),
                basis: match l.basis {
                    Basis::Table1 => lang.t("表1", "table 1"),
                    Basis::Table2 => lang.t("表2 类别", "table 2 category"),
                    Basis::Unknown => lang.t(
                        "未列明，未计入（请填 GB 18218 类别）",
                        "not listed, left out (give its GB 18218 category)",
                    ),
                    Basis::NotMass => lang.t("单位不是质量，未计入", "not a mass, left out"),
                },
                matched: l.matched.clone().unwrap_or_default(),
                quantity_t: n(l.quantity_t),
                critical_t: n(l.critical_t),
                ratio: n(l.ratio),
                beta: n(l.beta),
            })
            .collect(),
    }
}

/// The kind's own facts (a pond's three persons, a quarry's licence …).
fn detail_facts(lang: Lang, v: &sites::Site) -> Vec<(&'static str, String)> {
    use crate::ledger::site_details::PondPerson;
    let d = &v.details;
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    let n = |v: Option<f64>| v.map(num).unwrap_or_default();
    let i = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    let who = |p: &Option<PondPerson>| {
        p.as_ref()
            .map(|p| format!("{} {}", p.name, crate::phone::dialled(&p.phone)))
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    if let Some(p) = &d.pond {
        out.push((
            lang.t("类型", "Class"),
            p.class_zh().unwrap_or("").to_string(),
        ));
        out.push((
            lang.t("总库容（万立方米）", "Capacity (10,000 m³)"),
            n(p.capacity_10k_m3),
        ));
        out.push((lang.t("坝高（米）", "Dam height (m)"), n(p.dam_height_m)));
        out.push((
            lang.t("行政责任人", "Administrative person"),
            who(&p.administrative),
        ));
        out.push((lang.t("技术责任人", "Technical person"), who(&p.technical)));
        out.push((lang.t("巡查责任人", "Patrol person"), who(&p.patrol)));
    }
    if let Some(m) = &d.mine {
        out.push((
            lang.t("采矿许可证号", "Mining licence"),
            o(&m.mining_licence_no),
        ));
        out.push((
            lang.t("采矿许可证有效期至", "Mining licence expires on"),
            o(&m.mining_licence_expires),
        ));
        out.push((
            lang.t("开采方式", "Mine type"),
            m.mine_type.map_or(String::new(), |t| {
                lang.t(t.label_zh(), t.label_en()).to_string()
            }),
        ));
        out.push((
            lang.t("尾矿库", "Tailings pond"),
            if m.tailings_pond {
                lang.t("有", "yes")
            } else {
                lang.t("无", "no")
            }
            .to_string(),
        ));
    }
    if let Some(f) = &d.fuel_station {
        out.push((lang.t("储罐数量", "Tanks"), i(f.tank_count)));
        out.push((
            lang.t("储罐总容积（立方米）", "Total tank volume (m³)"),
            n(f.tank_volume_m3),
        ));
        out.push((
            lang.t("成品油零售经营批准证书", "Fuel retail licence"),
            o(&f.retail_licence_no),
        ));
    }
    if let Some(l) = &d.lpg {
        out.push((
            lang.t("燃气经营许可证", "Gas licence"),
            o(&l.gas_licence_no),
        ));
        out.push((
            lang.t("最大储存气瓶数", "Most cylinders stored"),
            i(l.max_cylinders),
        ));
    }
    if let Some(s) = &d.sale_season {
        out.push((
            lang.t("销售季节", "Sale season"),
            format!("{} {} – {}", o(&s.name), s.from, s.to)
                .trim()
                .to_string(),
        ));
    }
    if let Some(p) = v.people_within_500m {
        out.push((
            lang.t("周边 500 米内常住人口", "People within 500 m"),
            p.to_string(),
        ));
    }
    out
}

#[derive(Template)]
#[template(path = "sites/show.html")]
struct ShowPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    site: &'a sites::SiteRow,
    saved: bool,
    stale: bool,
    archived: bool,
    editor: bool,
    colour: &'static str,
    grade: &'static str,
    basics: Vec<(&'static str, String)>,
    licence: Vec<(&'static str, String)>,
    inv_heads: Vec<&'static str>,
    inventory: Vec<InventoryView>,
    /// "库存 500 箱 / 核定储存量 200 箱" when the inventory is over the permitted stock.
    over_stock: Option<String>,
    /// The kind's own facts.
    details: Vec<(&'static str, String)>,
    /// 季节外储存: the season, when stock is held outside it.
    out_of_season: Option<String>,
    hazard: Option<HazardView>,
    inspections: Vec<InspectionView>,
}

/// A finding's re-inspection and close-out, each part labelled: who is to
/// re-inspect, when it was rectified and how, who closed it out and when.
fn finding_trail(lang: Lang, f: &inspections::FindingRow) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(r) = f.reinspector.as_deref().filter(|r| !r.is_empty()) {
        out.push((lang.t("复查人", "Re-inspector"), r.to_string()));
    }
    if f.rectified_on.is_some() || f.rectification_note.is_some() {
        let done = [f.rectified_on.clone(), f.rectification_note.clone()]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(lang.t("，", ", "));
        out.push((lang.t("整改", "Rectified"), done));
    }
    if f.closed_on.is_some() || f.closed_by.is_some() {
        let done = [f.closed_by.clone(), f.closed_on.clone()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        out.push((lang.t("复查销号", "Closed out"), done));
    }
    out
}

/// The rectify / close-out form of a finding: what was typed where this
/// form was the one sent, otherwise the defaults.
fn finding_action(
    ctx: &Ctx,
    f: &inspections::FindingRow,
    today: &str,
    problem: Option<&FindingProblem>,
) -> FindingAction {
    let mine = problem.filter(|p| p.finding_id == f.id);
    let val = |k: &str, default: &str| match mine {
        Some(p) if p.values.0.iter().any(|(n, _)| n == k) => p.values.get(k).to_string(),
        _ => default.to_string(),
    };
    // Who closed it out is a person's name (姓名), never a sign-in name:
    // the signed-in user's when they gave one, else empty and required.
    let me = ctx.user.as_ref().map_or("", |u| u.full_name.as_str());
    let (step, date, text) = match f.status.as_str() {
        "open" => (Step::Rectify, val("rectified_on", today), val("note", "")),
        "rectified" => (Step::Close, val("closed_on", today), val("closed_by", me)),
        _ => (Step::None, String::new(), String::new()),
    };
    FindingAction {
        step,
        date,
        text,
        problem: mine.map(|p| (p.field.clone(), message(ctx.lang, &p.message))),
    }
}

pub(super) async fn show_page(
    s: &AppState,
    ctx: &Ctx,
    id: i64,
    problem: Option<FindingProblem>,
) -> WebResult {
    let lang = ctx.lang;
    let r = sites::get(&s.db, id).await?.ok_or(WebError::NotFound)?;
    let names: HashMap<i64, String> = crate::registry::villages::names(&s.db).await?;
    let q = query_of(ctx);
    let village = match (r.village_id, r.outside_villages != 0) {
        (Some(v), _) => names.get(&v).cloned().unwrap_or_default(),
        (None, true) => lang.t("（不在任何村内）", "(outside every village)").into(),
        (None, false) => String::new(),
    };
    let loc = match (r.lon, r.lat) {
        (Some(lon), Some(lat)) => format!("{lon:.5}, {lat:.5}"),
        _ => String::new(),
    };
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    let dialled = |v: &Option<String>| v.as_deref().map(crate::phone::dialled).unwrap_or_default();
    let basics = vec![
        (
            lang.t("类别", "Kind"),
            kind_label(lang, &r.kind).to_string(),
        ),
        (
            lang.t("状态", "Status"),
            status_label(lang, &r.status).to_string(),
        ),
        (lang.t("统一社会信用代码", "Credit code"), o(&r.credit_code)),
        (lang.t("地址", "Address"), o(&r.address)),
        (lang.t("经纬度", "Location"), loc),
        (lang.t("所属村", "Village"), village),
        (
            lang.t("法定代表人", "Legal representative"),
            o(&r.legal_representative),
        ),
        (
            lang.t("安全负责人", "Safety officer"),
            format!(
                "{} {}",
                o(&r.safety_officer),
                dialled(&r.safety_officer_phone)
            )
            .trim()
            .to_string(),
        ),
        (
            lang.t("24 小时电话", "24-hour phone"),
            dialled(&r.phone_24h),
        ),
        (
            lang.t("季节性经营", "Seasonal"),
            if r.seasonal != 0 {
                lang.t("是", "yes")
            } else {
                lang.t("否", "no")
            }
            .to_string(),
        ),
        (lang.t("备注", "Note"), o(&r.note)),
        (
            lang.t("最后修改", "Last changed"),
            local(r.updated_at, s.tz),
        ),
    ];
    let licence = vec![
        (lang.t("编号", "Number"), o(&r.licence_no)),
        (lang.t("类别", "Kind"), o(&r.licence_kind)),
        (lang.t("发证机关", "Issuer"), o(&r.licence_issuer)),
        (lang.t("发证日期", "Issued on"), o(&r.licence_issued)),
        (lang.t("有效期至", "Expires on"), o(&r.licence_expires)),
        (
            lang.t("核定储存量", "Permitted stock"),
            r.max_stock
                .map(|m| format!("{} {}", num(m), o(&r.max_stock_unit)))
                .unwrap_or_default(),
        ),
    ];
    let inv: Vec<InventoryLine> = serde_json::from_str(&r.inventory).unwrap_or_default();
    let over_stock =
        sites::over_stock(r.max_stock, r.max_stock_unit.as_deref(), &inv).map(|held| {
            format!(
                "{} {} {} / {} {} {}",
                lang.t("库存", "Inventory"),
                num(held),
                o(&r.max_stock_unit),
                lang.t("核定储存量", "permitted stock"),
                r.max_stock.map(num).unwrap_or_default(),
                o(&r.max_stock_unit)
            )
        });
    let inventory = inv
        .into_iter()
        .map(|l| InventoryView {
            chemical: l.chemical,
            cas: l.cas.unwrap_or_default(),
            un_number: l.un_number.unwrap_or_default(),
            hazard_class: l.hazard_class.unwrap_or_default(),
            max_quantity: num(l.max_quantity),
            unit: l.unit,
            gb18218_category: l.gb18218_category.unwrap_or_default(),
        })
        .collect();
    let view = r.view(s.tz);
    let details = detail_facts(lang, &view);
    let out_of_season = view
        .details
        .sale_season
        .as_ref()
        .filter(|_| view.out_of_season_stock)
        .map(|season| {
            format!(
                "{} {} {} – {}",
                lang.t("销售季节", "sale season"),
                season.name.clone().unwrap_or_default(),
                season.from,
                season.to
            )
        });
    let hazard = view.hazard.as_ref().map(|a| hazard_view(lang, a));
    let today = crate::time::today(s.tz).to_string();
    let editor = ctx.can(Role::Editor) && r.archived_at.is_none();
    let photo_counts = crate::ledger::photos::counts_for_site(&s.db, id).await?;
    let photos_of = |kind: &str, id: i64| {
        photo_counts
            .get(&(kind.to_string(), id))
            .copied()
            .unwrap_or(0)
    };
    let inspections = inspections::list_for_site(&s.db, id)
        .await?
        .into_iter()
        .map(|i| InspectionView {
            id: i.id,
            photos: photos_of("inspection", i.id),
            inspected_on: i.inspected_on.clone(),
            inspectors: i.inspectors.join("、"),
            summary: i.summary.clone(),
            findings: i
                .findings
                .iter()
                .map(|f| {
                    let overdue = f.status == "open" && f.deadline < today;
                    FindingLine {
                        id: f.id,
                        version: f.version,
                        overdue,
                        grade: if f.grade == "major" {
                            lang.t("重大隐患", "major")
                        } else {
                            lang.t("一般隐患", "general")
                        },
                        item: f.item.clone(),
                        description: o(&f.description),
                        measures: o(&f.measures),
                        funding: o(&f.funding),
                        responsible: o(&f.responsible),
                        deadline: f.deadline.clone(),
                        status: finding_status(lang, &f.status),
                        trail: finding_trail(lang, f),
                        action: editor.then(|| finding_action(ctx, f, &today, problem.as_ref())),
                        photos: photos_of("finding", f.id),
                    }
                })
                .collect(),
        })
        .collect();
    let status = problem.as_ref().map_or(StatusCode::OK, |p| p.status);
    Ok(render(
        status,
        &ShowPage {
            shell: Shell::new(ctx, r.name.clone(), Nav::Ledger),
            lang,
            saved: q.get("saved") == "1",
            stale: q.get("stale") == "1",
            archived: r.archived_at.is_some(),
            editor,
            colour: RiskGrade::parse(&r.risk_grade).map_or("grey", RiskGrade::colour),
            grade: grade_label(lang, &r.risk_grade),
            basics,
            licence,
            inv_heads: INV.iter().map(|(_, zh, en)| lang.t(zh, en)).collect(),
            inventory,
            over_stock,
            details,
            out_of_season,
            hazard,
            inspections,
            site: &r,
        },
    ))
}

/// The whole ledger as `.xlsx` (the sites the user may see), naming who exported it.
pub async fn export(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    let user = ctx.need(Role::Viewer)?;
    let (rows, _) = sites::search(&s.db, &Filter::default(), 100_000, 0, s.tz).await?;
    let views: Vec<sites::Site> = rows.iter().map(|r| r.view(s.tz)).collect();
    let villages = crate::registry::villages::names(&s.db).await?;
    let by = super::html::signer(&ctx);
    let by = if by.is_empty() { user.name.clone() } else { by };
    let at = crate::transfer::board::zh_time(crate::store::now_ms(), s.tz);
    super::exports::download(
        crate::ledger::export::sites_workbook(&s.cfg.office_name, &views, &villages, &by, &at),
        "sites.xlsx",
    )
}
