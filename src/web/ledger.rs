//! The ledger (台账): the sites list with the API's filters, a site's page
//! (licence, inventory, inspections, findings), and the create / edit forms.
//! Writes go through `ledger::sites` like the API's, so the rules and the
//! messages are the same; a failed write re-renders the form with what was
//! typed, and a stale edit shows the current values instead of overwriting.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::html::{
    E, Errors, Fields, FormData, Nav, Page, csrf_field, eo, error_summary, grade_label, kind_label,
    pager, status_label,
};
use super::i18n::Lang;
use super::{Ctx, WebError, WebResult, see_other};
use crate::app::AppState;
use crate::auth::Role;
use crate::ledger::inspections;
use crate::ledger::sites::{
    self, Filter, InventoryLine, Licence, Location, RiskGrade, SiteInput, SiteKind, SiteRow,
    SiteStatus,
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
];

const INV: &[(&str, &str, &str)] = &[
    ("chemical", "品名", "Chemical"),
    ("cas", "CAS 号", "CAS number"),
    ("un_number", "UN 编号", "UN number"),
    ("hazard_class", "危险类别", "Hazard class"),
    ("max_quantity", "最大存量", "Max quantity"),
    ("unit", "单位", "Unit"),
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

fn num(v: f64) -> String {
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
    let inv: Vec<InventoryLine> = serde_json::from_str(&r.inventory).unwrap_or_default();
    for (i, l) in inv.iter().enumerate() {
        f.push(&format!("inv{i}_chemical"), l.chemical.clone());
        f.push(&format!("inv{i}_cas"), o(&l.cas));
        f.push(&format!("inv{i}_un_number"), o(&l.un_number));
        f.push(&format!("inv{i}_hazard_class"), o(&l.hazard_class));
        f.push(&format!("inv{i}_max_quantity"), num(l.max_quantity));
        f.push(&format!("inv{i}_unit"), l.unit.clone());
    }
    f.push("version", r.version.to_string());
    f
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
        });
        rows.push(i);
    }
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
    let fl = Fields {
        lang,
        v: p.values,
        errors: p.errors,
    };
    let title = match p.site_id {
        Some(_) => ctx.t("编辑场所", "Edit site"),
        None => ctx.t("新增场所", "New site"),
    };
    let mut b = format!("<h1>{}</h1>", E(title));
    if let Some(cur) = p.conflict {
        let _ = write!(
            b,
            "<div class=\"box conflict\" id=\"conflict\" role=\"alert\"><b>{}</b><p>{}</p>\
             <table class=\"grid\"><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
            ctx.t("未保存：有人在您编辑期间修改了这条记录。", "Not saved: someone changed this record while you were editing it."),
            ctx.t(
                "下表列出不同之处。您填写的内容仍在下方表单中；核对后再次保存将以您的内容为准。",
                "The differences are listed below. Your values are still in the form; saving again after checking makes yours the current ones."
            ),
            ctx.t("字段", "Field"),
            ctx.t("您填写的", "Yours"),
            ctx.t("当前保存的", "Currently saved"),
        );
        let mut keys: Vec<String> = FIELDS.iter().map(|(k, _, _)| (*k).to_string()).collect();
        for i in 0..inv_rows(p.values).max(inv_rows(cur)) {
            for (sub, _, _) in INV {
                keys.push(format!("inv{i}_{sub}"));
            }
        }
        for k in keys {
            let (mine, theirs) = (p.values.get(&k).trim(), cur.get(&k).trim());
            if mine != theirs {
                let _ = write!(
                    b,
                    "<tr><th>{}</th><td>{}</td><td class=\"current\">{}</td></tr>",
                    E(&label(lang, &k)),
                    E(mine),
                    E(theirs)
                );
            }
        }
        b.push_str("</tbody></table></div>");
    }
    b.push_str(&error_summary(lang, p.errors, |f| label(lang, f)));
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
    let _ = write!(
        b,
        "<form method=\"post\" action=\"{}\" class=\"form wide\" id=\"site-form\">{}<input type=\"hidden\" name=\"version\" value=\"{}\">",
        E(&action),
        csrf_field(ctx),
        E(p.values.get("version"))
    );
    let l = |k: &str| {
        FIELDS
            .iter()
            .find(|(n, _, _)| *n == k)
            .map_or(("", ""), |(_, zh, en)| (*zh, *en))
    };
    let _ = write!(
        b,
        "<fieldset><legend>{}</legend><div class=\"cols\">{}{}{}{}{}{}{}</div></fieldset>",
        ctx.t("基本信息", "Basics"),
        fl.input("name", l("name"), "text", "required", ("", "")),
        fl.select("kind", l("kind"), &kinds),
        fl.select("risk_grade", l("risk_grade"), &grades),
        fl.select("status", l("status"), &statuses),
        fl.input(
            "credit_code",
            l("credit_code"),
            "text",
            "maxlength=\"18\"",
            ("18 位，含校验位", "18 characters with the check character")
        ),
        fl.checkbox("seasonal", l("seasonal")),
        fl.textarea("note", l("note"), 2),
    );
    let _ = write!(
        b,
        "<fieldset><legend>{}</legend><div class=\"cols\">{}{}{}{}</div></fieldset>",
        ctx.t("位置", "Location"),
        fl.text("address", l("address")),
        fl.input(
            "lon",
            l("lon"),
            "text",
            "inputmode=\"decimal\"",
            ("WGS-84，如 117.98", "WGS-84, e.g. 117.98")
        ),
        fl.input(
            "lat",
            l("lat"),
            "text",
            "inputmode=\"decimal\"",
            ("WGS-84，如 25.18", "WGS-84, e.g. 25.18")
        ),
        fl.select(
            "village_id",
            l("village_id"),
            &village_options(s, ctx).await?
        ),
    );
    let _ = write!(
        b,
        "<fieldset><legend>{}</legend><div class=\"cols\">{}{}{}{}</div></fieldset>",
        ctx.t("负责人", "People"),
        fl.text("legal_representative", l("legal_representative")),
        fl.text("safety_officer", l("safety_officer")),
        fl.input(
            "safety_officer_phone",
            l("safety_officer_phone"),
            "tel",
            "",
            ("如 138 0013 8000", "e.g. 138 0013 8000")
        ),
        fl.input("phone_24h", l("phone_24h"), "tel", "", ("", "")),
    );
    let _ = write!(
        b,
        "<fieldset><legend>{}</legend><div class=\"cols\">{}{}{}{}{}{}{}</div></fieldset>",
        ctx.t("许可证", "Licence"),
        fl.input(
            "licence_number",
            l("licence_number"),
            "text",
            "",
            ("如 (闽)LS〔2025〕0315", "e.g. (闽)LS〔2025〕0315")
        ),
        fl.text("licence_kind", l("licence_kind")),
        fl.text("licence_issuer", l("licence_issuer")),
        fl.input(
            "licence_issued_on",
            l("licence_issued_on"),
            "date",
            "",
            ("YYYY-MM-DD", "YYYY-MM-DD")
        ),
        fl.input(
            "licence_expires_on",
            l("licence_expires_on"),
            "date",
            "",
            ("YYYY-MM-DD", "YYYY-MM-DD")
        ),
        fl.input(
            "max_stock",
            l("max_stock"),
            "text",
            "inputmode=\"decimal\"",
            ("", "")
        ),
        fl.text("max_stock_unit", l("max_stock_unit")),
    );
    let _ = write!(
        b,
        "<fieldset><legend>{}</legend><table class=\"grid inv\"><thead><tr>",
        ctx.t(
            "库存（危险化学品 / 烟花爆竹）",
            "Inventory (chemicals / fireworks)"
        )
    );
    for (_, zh, en) in INV {
        let _ = write!(b, "<th>{}</th>", lang.t(zh, en));
    }
    b.push_str("</tr></thead><tbody>");
    // Two spare rows for new lines; more appear after saving.
    for i in 0..inv_rows(p.values) + 2 {
        b.push_str("<tr>");
        for (sub, _, _) in INV {
            let n = format!("inv{i}_{sub}");
            let err = p.errors.get(&n);
            let _ = write!(
                b,
                "<td{}><input id=\"f-{n}\" name=\"{n}\" value=\"{}\" aria-label=\"{}\"{}>{}</td>",
                if err.is_some() { " class=\"bad\"" } else { "" },
                E(p.values.get(&n)),
                E(&label(lang, &n)),
                if err.is_some() {
                    " aria-invalid=\"true\""
                } else {
                    ""
                },
                err.map(|m| format!(
                    "<span class=\"err\" id=\"err-{n}\">{}</span>",
                    E(&super::i18n::message(lang, m))
                ))
                .unwrap_or_default()
            );
        }
        b.push_str("</tr>");
    }
    let _ = write!(
        b,
        "</tbody></table></fieldset><p class=\"actions\"><button type=\"submit\" class=\"primary\" id=\"save\">{}</button> <a href=\"{}\">{}</a></p></form>",
        ctx.t("保存", "Save"),
        p.site_id
            .map_or_else(|| "/sites".to_string(), |id| format!("/sites/{id}")),
        ctx.t("取消", "Cancel"),
    );
    let mut page = Page::new(title, Nav::Ledger, b);
    page.status = p.status;
    Ok(page.render(ctx))
}

pub async fn new_form(State(s): State<AppState>, ctx: Ctx) -> WebResult {
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

pub async fn edit_form(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
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

pub async fn create(State(s): State<AppState>, ctx: Ctx, f: FormData) -> WebResult {
    save(&s, &ctx, f, None).await
}

pub async fn update(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    f: FormData,
) -> WebResult {
    save(&s, &ctx, f, Some(id)).await
}

pub async fn archive(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    f: FormData,
) -> WebResult {
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

pub async fn list(State(s): State<AppState>, ctx: Ctx) -> WebResult {
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
    let (rows, total) = sites::search(&s.db, &f, per_page, (page - 1) * per_page, s.tz).await?;
    let names = crate::registry::villages::names(&s.db).await?;
    let mut b = format!(
        "<div class=\"head\"><h1>{}</h1>",
        ctx.t(
            "台账：危化品和烟花爆竹场所",
            "Ledger: hazardous-chemical and fireworks sites"
        )
    );
    if ctx.can(Role::Editor) {
        let _ = write!(
            b,
            "<a class=\"button primary\" href=\"/sites/new\" id=\"new-site\">{}</a>",
            ctx.t("新增场所", "New site")
        );
    }
    b.push_str("</div>");
    // Filters: a GET form, so a filtered list can be bookmarked and printed.
    let fl = Fields {
        lang,
        v: &q,
        errors: &errors,
    };
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
    let _ = write!(
        b,
        "<form method=\"get\" action=\"/sites\" class=\"filters\">{}{}{}{}{}{}<details{}><summary>{}</summary>{}{}{}</details>\
         <p><button type=\"submit\">{}</button> <a href=\"/sites\">{}</a></p></form>",
        fl.input(
            "q",
            ("名称或地址", "Name or address"),
            "search",
            "",
            ("", "")
        ),
        fl.select("kind", ("类别", "Kind"), &kinds),
        fl.select("village_id", ("村", "Village"), &villages),
        fl.select("risk_grade", ("风险等级", "Risk grade"), &grades),
        fl.select("status", ("状态", "Status"), &statuses),
        fl.input(
            "expiring_within_days",
            ("许可证 N 天内到期", "Licence expires within N days"),
            "number",
            "min=\"0\" max=\"3650\"",
            ("", "")
        ),
        if q.opt("near_lon").is_some() || errors.get("radius_m").is_some() {
            " open"
        } else {
            ""
        },
        ctx.t("按距离", "By distance"),
        fl.input(
            "near_lon",
            ("中心经度", "Centre longitude"),
            "text",
            "",
            ("", "")
        ),
        fl.input(
            "near_lat",
            ("中心纬度", "Centre latitude"),
            "text",
            "",
            ("", "")
        ),
        fl.input(
            "radius_m",
            ("半径（米）", "Radius (m)"),
            "number",
            "",
            ("", "")
        ),
        ctx.t("筛选", "Filter"),
        ctx.t("清除", "Clear"),
    );
    let today = crate::time::today(s.tz);
    let soon =
        (today + chrono::Duration::days(crate::ledger::worklist::LICENCE_WARNING_DAYS)).to_string();
    let today = today.to_string();
    let _ = write!(
        b,
        "<table class=\"grid\" id=\"sites\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        ctx.t("名称", "Name"),
        ctx.t("类别", "Kind"),
        ctx.t("村", "Village"),
        ctx.t("风险", "Risk"),
        ctx.t("状态", "Status"),
        ctx.t("许可证", "Licence"),
        ctx.t("有效期至", "Expires"),
        ctx.t("24 小时电话", "24-hour phone"),
    );
    for r in &rows {
        let village = match (r.village_id, r.outside_villages != 0) {
            (Some(v), _) => names.get(&v).map_or("", String::as_str),
            (None, true) => lang.t("（不在任何村内）", "(outside every village)"),
            (None, false) => "",
        };
        let colour = RiskGrade::parse(&r.risk_grade).map_or("grey", RiskGrade::colour);
        let _ = write!(
            b,
            "<tr><td><a href=\"/sites/{}\">{}</a>{}</td><td>{}</td><td>{}</td><td><span class=\"chip {colour}\">{}</span></td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
            r.id,
            E(&r.name),
            if r.archived_at.is_some() {
                lang.t(" <small>（已归档）</small>", " <small>(archived)</small>")
            } else {
                ""
            },
            kind_label(lang, &r.kind),
            E(village),
            grade_label(lang, &r.risk_grade),
            status_label(lang, &r.status),
            eo(&r.licence_no),
            expiry_class(&r.licence_expires, &today, &soon),
            eo(&r.licence_expires),
            eo(&r.phone_24h),
        );
    }
    if rows.is_empty() {
        let _ = write!(
            b,
            "<tr><td colspan=\"8\" class=\"muted\">{}</td></tr>",
            ctx.t("没有符合条件的场所。", "No sites match.")
        );
    }
    b.push_str("</tbody></table>");
    b.push_str(&pager(lang, "/sites", &q.0, page, per_page, total));
    Ok(Page::new(ctx.t("台账", "Ledger"), Nav::Ledger, b).render(&ctx))
}

fn dl(b: &mut String, items: &[(&str, String)]) {
    b.push_str("<dl class=\"facts\">");
    for (k, v) in items {
        let _ = write!(
            b,
            "<dt>{}</dt><dd>{}</dd>",
            E(k),
            if v.is_empty() {
                "—".to_string()
            } else {
                E(v).to_string()
            }
        );
    }
    b.push_str("</dl>");
}

fn finding_status(lang: Lang, s: &str) -> &'static str {
    match s {
        "open" => lang.t("待整改", "open"),
        "rectified" => lang.t("已整改待销号", "rectified"),
        "closed" => lang.t("已销号", "closed out"),
        _ => lang.t("未知", "unknown"),
    }
}

pub async fn show(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    ctx.need(Role::Viewer)?;
    show_page(&s, &ctx, id, None).await
}

/// A refused rectification or close-out: shown at its finding, with what
/// was typed.
struct FindingProblem {
    finding_id: i64,
    values: FormData,
    field: String,
    message: String,
    status: StatusCode,
}

/// The rectify / close-out form of a finding, for editors.
fn finding_form(
    ctx: &Ctx,
    f: &inspections::FindingRow,
    today: &str,
    problem: Option<&FindingProblem>,
) -> String {
    let lang = ctx.lang;
    let mine = problem.filter(|p| p.finding_id == f.id);
    // What was typed, where this form was the one sent; otherwise the default.
    let val = |k: &str, default: &str| match mine {
        Some(p) if p.values.0.iter().any(|(n, _)| n == k) => p.values.get(k).to_string(),
        _ => default.to_string(),
    };
    let mut h = String::new();
    let me = ctx.user.as_ref().map_or("", |u| u.name.as_str());
    match f.status.as_str() {
        "open" => {
            let _ = write!(
                h,
                "<form method=\"post\" action=\"/findings/{}/rectify\" class=\"finding-action\">{}<input type=\"hidden\" name=\"version\" value=\"{}\">\
                 <input type=\"date\" name=\"rectified_on\" value=\"{}\" aria-label=\"{}\"> <input name=\"note\" value=\"{}\" placeholder=\"{}\" aria-label=\"{}\"> \
                 <button type=\"submit\" class=\"small\">{}</button></form>",
                f.id,
                csrf_field(ctx),
                f.version,
                E(&val("rectified_on", today)),
                lang.t("整改完成日期", "Rectified on"),
                E(&val("note", "")),
                lang.t("整改说明", "Note"),
                lang.t("整改说明", "Note"),
                lang.t("记录整改", "Record rectification"),
            );
        }
        "rectified" => {
            let _ = write!(
                h,
                "<form method=\"post\" action=\"/findings/{}/close\" class=\"finding-action\">{}<input type=\"hidden\" name=\"version\" value=\"{}\">\
                 <input type=\"date\" name=\"closed_on\" value=\"{}\" aria-label=\"{}\"> <input name=\"closed_by\" value=\"{}\" aria-label=\"{}\"> \
                 <button type=\"submit\" class=\"small\">{}</button></form>",
                f.id,
                csrf_field(ctx),
                f.version,
                E(&val("closed_on", today)),
                lang.t("销号日期", "Closed on"),
                E(&val("closed_by", me)),
                lang.t("复查人", "Re-inspected by"),
                lang.t("复查销号", "Close out"),
            );
        }
        _ => {}
    }
    if let Some(p) = mine {
        let _ = write!(
            h,
            "<span class=\"err\" id=\"err-finding-{}\" role=\"alert\">{}：{}</span>",
            f.id,
            E(&p.field),
            E(&super::i18n::message(lang, &p.message))
        );
    }
    h
}

async fn advance(s: &AppState, ctx: &Ctx, fid: i64, f: FormData, close: bool) -> WebResult {
    use crate::ledger::inspections::{CloseInput, FindingStep, RectifyInput};
    let user = ctx.need(Role::Editor)?;
    let finding = inspections::get_finding(&s.db, fid)
        .await?
        .ok_or(WebError::NotFound)?;
    let version = f.get("version").trim().parse::<i64>().unwrap_or(-1);
    let step = if close {
        FindingStep::Close(CloseInput {
            version,
            closed_on: f.get("closed_on").to_string(),
            closed_by: f.get("closed_by").to_string(),
        })
    } else {
        FindingStep::Rectify(RectifyInput {
            version,
            rectified_on: f.get("rectified_on").to_string(),
            note: f.opt("note"),
        })
    };
    let problem = match inspections::advance(&s.db, &user.actor(), fid, step, s.tz).await {
        Ok(_) => {
            return Ok(see_other(&format!(
                "/sites/{}?saved=1#finding-{fid}",
                finding.site_id
            )));
        }
        Err(WriteError::Invalid(fe)) => (fe.field, fe.message, StatusCode::UNPROCESSABLE_ENTITY),
        Err(WriteError::Conflict(m)) => (
            ctx.t("状态", "status").to_string(),
            format!(
                "{m} {}",
                ctx.t(
                    "（页面已显示最新状态，请核对后再操作）",
                    "(the page now shows the current state)"
                )
            ),
            StatusCode::CONFLICT,
        ),
        Err(WriteError::NotFound) => return Err(WebError::NotFound),
        Err(WriteError::Store(e)) => return Err(e.into()),
    };
    let p = FindingProblem {
        finding_id: fid,
        values: f,
        field: problem.0,
        message: problem.1,
        status: problem.2,
    };
    show_page(s, ctx, finding.site_id, Some(p)).await
}

pub async fn rectify(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(fid): Path<i64>,
    f: FormData,
) -> WebResult {
    advance(&s, &ctx, fid, f, false).await
}

pub async fn close_finding(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(fid): Path<i64>,
    f: FormData,
) -> WebResult {
    advance(&s, &ctx, fid, f, true).await
}

async fn show_page(s: &AppState, ctx: &Ctx, id: i64, problem: Option<FindingProblem>) -> WebResult {
    let lang = ctx.lang;
    let r = sites::get(&s.db, id).await?.ok_or(WebError::NotFound)?;
    let names: HashMap<i64, String> = crate::registry::villages::names(&s.db).await?;
    let q = query_of(ctx);
    let mut b = String::new();
    if q.get("saved") == "1" {
        let _ = write!(
            b,
            "<div class=\"box ok\" id=\"saved\">{}</div>",
            ctx.t("已保存。", "Saved.")
        );
    }
    if q.get("stale") == "1" {
        let _ = write!(
            b,
            "<div class=\"box conflict\">{}</div>",
            ctx.t(
                "未归档：这条记录刚被他人修改，请核对后重试。",
                "Not archived: someone just changed this record; check it and try again."
            )
        );
    }
    let colour = RiskGrade::parse(&r.risk_grade).map_or("grey", RiskGrade::colour);
    let _ = write!(
        b,
        "<div class=\"head\"><h1>{}{}</h1><span class=\"chip {colour}\">{}</span>",
        E(&r.name),
        if r.archived_at.is_some() {
            lang.t("（已归档）", " (archived)")
        } else {
            ""
        },
        grade_label(lang, &r.risk_grade)
    );
    if ctx.can(Role::Editor) && r.archived_at.is_none() {
        let _ = write!(
            b,
            " <a class=\"button\" href=\"/sites/{id}/edit\" id=\"edit-site\">{}</a>\
             <form method=\"post\" action=\"/sites/{id}/archive\" class=\"inline\" data-confirm=\"{}\">{}<input type=\"hidden\" name=\"version\" value=\"{}\"><button type=\"submit\">{}</button></form>",
            ctx.t("编辑", "Edit"),
            E(ctx.t(
                "确定归档此场所？归档后不再出现在台账中（不会删除）。",
                "Archive this site? It leaves the ledger (it is not deleted)."
            )),
            super::html::csrf_field(ctx),
            r.version,
            ctx.t("归档", "Archive"),
        );
    }
    if r.lon.is_some() {
        let _ = write!(
            b,
            " <a class=\"button\" href=\"/map?site={id}\">{}</a>",
            ctx.t("在地图上查看", "Show on map")
        );
    }
    b.push_str("</div>");
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
    b.push_str("<div class=\"two\"><section>");
    let _ = write!(b, "<h2>{}</h2>", ctx.t("基本信息", "Basics"));
    dl(
        &mut b,
        &[
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
                format!("{} {}", o(&r.safety_officer), o(&r.safety_officer_phone))
                    .trim()
                    .to_string(),
            ),
            (lang.t("24 小时电话", "24-hour phone"), o(&r.phone_24h)),
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
                super::html::local(r.updated_at, s.tz),
            ),
        ],
    );
    b.push_str("</section><section>");
    let _ = write!(b, "<h2>{}</h2>", ctx.t("许可证", "Licence"));
    dl(
        &mut b,
        &[
            (lang.t("编号", "Number"), o(&r.licence_no)),
            (lang.t("类别", "Kind"), o(&r.licence_kind)),
            (lang.t("发证机关", "Issuer"), o(&r.licence_issuer)),
            (lang.t("发证日期", "Issued on"), o(&r.licence_issued)),
            (lang.t("有效期至", "Expires on"), o(&r.licence_expires)),
            (
                lang.t("限制存放量", "Maximum permitted stock"),
                r.max_stock
                    .map(|m| format!("{} {}", num(m), o(&r.max_stock_unit)))
                    .unwrap_or_default(),
            ),
        ],
    );
    b.push_str("</section></div>");
    let inv: Vec<InventoryLine> = serde_json::from_str(&r.inventory).unwrap_or_default();
    let _ = write!(b, "<h2>{}</h2>", ctx.t("库存", "Inventory"));
    if inv.is_empty() {
        let _ = write!(
            b,
            "<p class=\"muted\">{}</p>",
            ctx.t("未登记库存。", "No inventory recorded.")
        );
    } else {
        b.push_str("<table class=\"grid\"><thead><tr>");
        for (_, zh, en) in INV {
            let _ = write!(b, "<th>{}</th>", lang.t(zh, en));
        }
        b.push_str("</tr></thead><tbody>");
        for l in &inv {
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                E(&l.chemical),
                eo(&l.cas),
                eo(&l.un_number),
                eo(&l.hazard_class),
                num(l.max_quantity),
                E(&l.unit)
            );
        }
        b.push_str("</tbody></table>");
    }
    let insp = inspections::list_for_site(&s.db, id).await?;
    let _ = write!(
        b,
        "<h2>{}</h2>",
        ctx.t("检查与隐患", "Inspections and hidden dangers")
    );
    if ctx.can(Role::Editor) && r.archived_at.is_none() {
        let _ = write!(
            b,
            "<p><a class=\"button\" href=\"/sites/{id}/inspections/new\" id=\"new-inspection\">{}</a></p>",
            ctx.t("记录检查", "Record an inspection")
        );
    }
    if insp.is_empty() {
        let _ = write!(
            b,
            "<p class=\"muted\">{}</p>",
            ctx.t("尚无检查记录。", "No inspections yet.")
        );
    }
    let today = crate::time::today(s.tz).to_string();
    let editor = ctx.can(Role::Editor) && r.archived_at.is_none();
    for i in &insp {
        let _ = write!(
            b,
            "<section class=\"inspection\"><h3>{} · {}</h3>",
            E(&i.inspected_on),
            E(&i.inspectors.join("、"))
        );
        if let Some(sm) = &i.summary {
            let _ = write!(b, "<p>{}</p>", E(sm));
        }
        if i.findings.is_empty() {
            let _ = write!(
                b,
                "<p class=\"muted\">{}</p>",
                ctx.t("未发现隐患。", "No hidden dangers found.")
            );
        } else {
            let _ = write!(
                b,
                "<table class=\"grid\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
                ctx.t("等级", "Grade"),
                ctx.t("隐患", "Item"),
                ctx.t("整改措施", "Measures"),
                ctx.t("责任人", "Responsible"),
                ctx.t("整改期限", "Deadline"),
                ctx.t("状态", "Status"),
                ctx.t("复查 / 销号", "Re-inspection / close-out"),
            );
            for f in &i.findings {
                let overdue = f.status == "open" && f.deadline < today;
                let _ = write!(
                    b,
                    "<tr id=\"finding-{}\"{}><td>{}</td><td>{}<br><small>{}</small></td><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td><td>{}{}</td></tr>",
                    f.id,
                    if overdue { " class=\"overdue\"" } else { "" },
                    if f.grade == "major" {
                        lang.t("重大隐患", "major")
                    } else {
                        lang.t("一般隐患", "general")
                    },
                    E(&f.item),
                    eo(&f.description),
                    eo(&f.measures),
                    eo(&f.responsible),
                    E(&f.deadline),
                    if overdue {
                        lang.t(" <b>（已逾期）</b>", " <b>(overdue)</b>")
                    } else {
                        ""
                    },
                    finding_status(lang, &f.status),
                    E(&[
                        f.reinspector.clone(),
                        f.rectified_on.clone(),
                        f.closed_on.clone(),
                        f.closed_by.clone()
                    ]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" · ")),
                    if editor {
                        finding_form(ctx, f, &today, problem.as_ref())
                    } else {
                        String::new()
                    },
                );
            }
            b.push_str("</tbody></table>");
        }
        b.push_str("</section>");
    }
    let _ = write!(
        b,
        "<p><a href=\"/audit?entity=site&amp;entity_id={id}\">{}</a></p>",
        ctx.t("查看此场所的修改记录", "Change history of this site")
    );
    let mut page = Page::new(r.name.clone(), Nav::Ledger, b);
    if let Some(p) = &problem {
        page.status = p.status;
    }
    Ok(page.render(ctx))
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
    }

    #[test]
    fn numbers_print_short() {
        assert_eq!(num(30.0), "30");
        assert_eq!(num(117.98765), "117.98765");
    }
}
