//! The forms that register a danger zone (its place picked on a map or a
//! polygon pasted, its thresholds, the people in charge, the shelter) and
//! a household in it. What the domain refuses comes back beside its field
//! with what was typed; an edit of a record changed meanwhile is refused
//! with a message, the form keeping the typing.

use std::collections::BTreeMap;

use super::Scoped;
use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;

use super::html::{Errors, Form, FormData, Nav, Shell, render};
use super::i18n::Lang;
use super::{Ctx, WebError, WebResult, see_other};
use crate::app::AppState;
use crate::auth::Role;
use crate::store::WriteError;
use crate::transfer::households::{self, HouseholdInput};
use crate::transfer::zones::{self, Thresholds, Trigger, ZoneInput};

/// Rainfall windows the form asks for (hours).
const WINDOWS: [u32; 5] = [1, 3, 6, 12, 24];

fn label(lang: Lang, field: &str) -> String {
    let zh_en = match field {
        "code" => ("编号", "Code"),
        "name" => ("名称", "Name"),
        "village_id" => ("所属村", "Village"),
        "natural_village" => ("自然村", "Natural village"),
        "kind" => ("类型", "Kind"),
        "lon" | "geometry" => ("位置", "Location"),
        "lat" => ("纬度", "Latitude"),
        "leader_id" => ("转移责任人", "In charge of the transfer"),
        "monitor_id" => ("监测员", "Monitor"),
        "warner_id" => ("预警员", "Warner"),
        "shelter_id" => ("避灾点", "Shelter"),
        "route" => ("转移路线", "Route"),
        "report_minutes" => ("未报告催办（分钟）", "Chase after (minutes)"),
        "auto_move" => ("自动下令", "Order by itself"),
        "zone_id" => ("危险区", "Zone"),
        "head" => ("户主", "Head of household"),
        "members" => ("人数", "People"),
        "phone" => ("电话", "Phone"),
        "elderly" => ("老", "Elderly"),
        "infirm" => ("弱", "Frail"),
        "sick" => ("病", "Ill"),
        "disabled" => ("残", "Disabled"),
        "pregnant" => ("孕", "Pregnant"),
        "children" => ("留守儿童", "Children left behind"),
        "cadre_id" => ("包户干部", "Cadre"),
        "address" => ("住址", "Address"),
        "note" => ("备注", "Note"),
        "version" => ("版本", "Version"),
        other if other.starts_with("thresholds.prepare") => ("准备转移条件", "Get-ready threshold"),
        other if other.starts_with("thresholds.move") => ("立即转移条件", "Move threshold"),
        other => return other.to_string(),
    };
    lang.t(zh_en.0, zh_en.1).to_string()
}

/// (value, label) lists for the selects.
struct Choices {
    villages: Vec<(String, String)>,
    contacts: Vec<(String, String)>,
    shelters: Vec<(String, String)>,
}

async fn choices(s: &AppState, lang: Lang) -> Result<Choices, WebError> {
    let villages = crate::registry::villages::list(&s.db, false).await?;
    let names: BTreeMap<i64, String> = villages.iter().map(|v| (v.id, v.name.clone())).collect();
    let none = || (String::new(), lang.t("（无）", "(none)").to_string());
    let contacts = crate::registry::contacts::list(
        &s.db,
        &crate::registry::contacts::Filter::default(),
        10_000,
        0,
        s.tz,
    )
    .await?
    .0;
    Ok(Choices {
        villages: villages
            .iter()
            .map(|v| (v.id.to_string(), format!("{} {}", v.code, v.name)))
            .collect(),
        contacts: std::iter::once(none())
            .chain(contacts.iter().map(|c| {
                let place = c
                    .village_id
                    .and_then(|v| names.get(&v).cloned())
                    .unwrap_or_else(|| lang.t("乡级", "township").to_string());
                (
                    c.id.to_string(),
                    format!("{} · {} · {}", c.name, place, c.roles.join("、")),
                )
            }))
            .collect(),
        shelters: std::iter::once(none())
            .chain(
                crate::registry::shelters::list(&s.db, &Default::default())
                    .await?
                    .into_iter()
                    .map(|x| (x.id.to_string(), format!("{} {}", x.code, x.name))),
            )
            .collect(),
    })
}

#[derive(Template)]
#[template(path = "transfers/zone_form.html")]
struct ZoneFormPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    action: String,
    f: Form<'a>,
    c: Choices,
    kinds: Vec<(String, String)>,
    signals: Vec<(String, String)>,
    prepare_fields: Vec<(String, String)>,
    move_fields: Vec<(String, String)>,
}

/// The rainfall inputs of a stage: (name, label).
fn rain_fields(lang: Lang, stage: &str, zh: &str, en: &str) -> Vec<(String, String)> {
    WINDOWS
        .iter()
        .map(|h| {
            (
                format!("{stage}_{h}h"),
                format!(
                    "{}{h}{}",
                    lang.t(zh, en),
                    lang.t("小时雨量（毫米）", " h rain (mm)")
                ),
            )
        })
        .collect()
}

async fn zone_form(
    s: &AppState,
    ctx: &Ctx,
    id: Option<i64>,
    v: &FormData,
    errors: &Errors,
    status: StatusCode,
) -> WebResult {
    let (title, action) = match id {
        None => (
            ctx.t("登记危险区", "New danger zone"),
            "/zones/new".to_string(),
        ),
        Some(i) => (
            ctx.t("编辑危险区", "Edit danger zone"),
            format!("/zones/{i}/edit"),
        ),
    };
    let lang = ctx.lang;
    Ok(render(
        status,
        &ZoneFormPage {
            shell: super::map::form_shell(ctx, title, Nav::Transfers),
            lang,
            action,
            f: Form::new(lang, v, errors, label),
            c: choices(s, lang).await?,
            kinds: zones::KINDS
                .iter()
                .map(|k| (k.0.to_string(), lang.t(k.1, k.2).to_string()))
                .collect(),
            signals: [
                ("", "（不按信号）", "(none)"),
                ("blue", "蓝色", "blue"),
                ("yellow", "黄色", "yellow"),
                ("orange", "橙色", "orange"),
                ("red", "红色", "red"),
            ]
            .iter()
            .map(|(v, zh, en)| (v.to_string(), lang.t(zh, en).to_string()))
            .collect(),
            prepare_fields: rain_fields(lang, "prepare", "准备转移：", "Get ready: "),
            move_fields: rain_fields(lang, "move", "立即转移：", "Move: "),
        },
    ))
}

pub async fn new_zone(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    ctx.need(Role::Editor)?;
    let mut f = FormData::default();
    f.set("report_minutes", "30");
    zone_form(&s, &ctx, None, &f, &Errors::default(), StatusCode::OK).await
}

pub async fn edit_zone(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    ctx.need(Role::Editor)?;
    let z = zones::get(&s.db, id).await?.ok_or(WebError::NotFound)?;
    let mut f = FormData::default();
    let opt = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or_default();
    f.set("code", z.code.clone());
    f.set("name", z.name.clone());
    f.set("village_id", z.village_id.to_string());
    f.set(
        "natural_village",
        z.natural_village.clone().unwrap_or_default(),
    );
    f.set("kind", z.kind.clone());
    let g = z.geometry();
    if g.get("type").and_then(|t| t.as_str()) == Some("Point") {
        if let Some((lon, lat)) = z.marker() {
            f.set("lon", lon.to_string());
            f.set("lat", lat.to_string());
        }
    } else {
        f.set("geometry", g.to_string());
    }
    let t = z.thresholds();
    for (stage, trig) in [("prepare", &t.prepare), ("move", &t.move_now)] {
        for h in WINDOWS {
            if let Some(mm) = trig.rain_mm.get(&h.to_string()) {
                f.set(&format!("{stage}_{h}h"), mm.to_string());
            }
        }
        f.set(
            &format!("{stage}_signal"),
            trig.signal.clone().unwrap_or_default(),
        );
    }
    if z.auto_move != 0 {
        f.set("auto_move", "1");
    }
    f.set("monitor_id", opt(z.monitor_id));
    f.set("warner_id", opt(z.warner_id));
    f.set("leader_id", opt(z.leader_id));
    f.set("shelter_id", opt(z.shelter_id));
    f.set("route", z.route.clone().unwrap_or_default());
    f.set("report_minutes", z.report_minutes.to_string());
    f.set("note", z.note.clone().unwrap_or_default());
    f.set("version", z.version.to_string());
    zone_form(&s, &ctx, Some(id), &f, &Errors::default(), StatusCode::OK).await
}

/// An id chosen in a select: empty is none; anything else not a number is an error.
fn chosen(f: &FormData, k: &str, errors: &mut Errors) -> Option<i64> {
    let v = f.opt(k)?;
    let n = v.parse().ok();
    if n.is_none() {
        errors.add(k, "choose one of the list");
    }
    n
}

fn trigger(f: &FormData, stage: &str, errors: &mut Errors) -> Trigger {
    let mut rain_mm = BTreeMap::new();
    for h in WINDOWS {
        if let Some(mm) = f.decimal(&format!("{stage}_{h}h"), errors) {
            rain_mm.insert(h.to_string(), mm);
        }
    }
    Trigger {
        rain_mm,
        signal: f.opt(&format!("{stage}_signal")),
    }
}

pub async fn create_zone(Scoped(s): Scoped, ctx: Ctx, f: FormData) -> WebResult {
    save_zone(s, ctx, None, f).await
}

pub async fn update_zone(
    Scoped(s): Scoped,
    ctx: Ctx,
    Path(id): Path<i64>,
    f: FormData,
) -> WebResult {
    save_zone(s, ctx, Some(id), f).await
}

async fn save_zone(s: AppState, ctx: Ctx, id: Option<i64>, f: FormData) -> WebResult {
    let user = ctx.need(Role::Editor)?;
    let mut errors = Errors::default();
    // A polygon pasted wins over the point picked.
    let geometry = match f.opt("geometry") {
        Some(g) => serde_json::from_str(&g).unwrap_or_else(|_| {
            errors.add("geometry", "is not GeoJSON");
            serde_json::Value::Null
        }),
        None => {
            let (lon, lat) = (f.decimal("lon", &mut errors), f.decimal("lat", &mut errors));
            match (lon, lat) {
                (Some(lon), Some(lat)) => {
                    serde_json::json!({"type": "Point", "coordinates": [lon, lat]})
                }
                _ => {
                    errors.add(
                        "lon",
                        ctx.t(
                            "请在地图上点选位置，或粘贴多边形",
                            "pick the place on the map, or paste a polygon",
                        ),
                    );
                    serde_json::Value::Null
                }
            }
        }
    };
    let village_id = chosen(&f, "village_id", &mut errors);
    let leader_id = chosen(&f, "leader_id", &mut errors);
    if leader_id.is_none() {
        errors.add("leader_id", ctx.t("必填", "is required"));
    }
    let input = ZoneInput {
        code: f.get("code").trim().to_string(),
        name: f.get("name").trim().to_string(),
        village_id: village_id.unwrap_or(0),
        natural_village: f.opt("natural_village"),
        kind: f.get("kind").to_string(),
        geometry,
        thresholds: Thresholds {
            prepare: trigger(&f, "prepare", &mut errors),
            move_now: trigger(&f, "move", &mut errors),
        },
        auto_move: matches!(f.get("auto_move"), "1" | "on"),
        monitor_id: chosen(&f, "monitor_id", &mut errors),
        warner_id: chosen(&f, "warner_id", &mut errors),
        leader_id: leader_id.unwrap_or(0),
        shelter_id: chosen(&f, "shelter_id", &mut errors),
        route: f.opt("route"),
        report_minutes: f.whole("report_minutes", &mut errors),
        note: f.opt("note"),
        version: f.get("version").parse().ok(),
    };
    if !errors.is_empty() {
        return zone_form(&s, &ctx, id, &f, &errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let actor = user.actor();
    let limits = s.cfg.limits.geo();
    let saved = match id {
        None => zones::create(&s.db, &actor, &input, &limits, false, s.tz).await,
        Some(id) => zones::update(&s.db, &actor, id, &input, &limits, s.tz).await,
    };
    match saved {
        Ok(z) => Ok(see_other(&format!("/zones/{}", z.id))),
        Err(e) => {
            refused(&mut errors, e, &ctx)?;
            zone_form(&s, &ctx, id, &f, &errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

/// A refusal beside its field (a point's place beside the map's inputs; a
/// threshold beside its stage); a conflict beside the version.
fn refused(errors: &mut Errors, e: WriteError, ctx: &Ctx) -> Result<(), WebError> {
    match e {
        WriteError::Invalid(fe) => {
            let field = match fe.field.as_str() {
                "geometry" => "lon".to_string(),
                f if f.starts_with("thresholds.prepare") => "prepare_1h".to_string(),
                f if f.starts_with("thresholds.move") => "move_1h".to_string(),
                f => f.to_string(),
            };
            errors.add(&field, fe.message);
            Ok(())
        }
        WriteError::Conflict(m) => {
            errors.add(
                "version",
                format!(
                    "{m} {}",
                    ctx.t(
                        "（请重新打开编辑页，核对后再保存）",
                        "(open the form again to see the current version)"
                    )
                ),
            );
            Ok(())
        }
        WriteError::NotFound => Err(WebError::NotFound),
        WriteError::Store(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "transfers/household_form.html")]
struct HouseholdFormPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    action: String,
    f: Form<'a>,
    zones: Vec<(String, String)>,
    c: Choices,
}

async fn household_form(
    s: &AppState,
    ctx: &Ctx,
    id: Option<i64>,
    v: &FormData,
    errors: &Errors,
    status: StatusCode,
) -> WebResult {
    let (title, action) = match id {
        None => (
            ctx.t("登记转移对象", "New household"),
            "/households/new".to_string(),
        ),
        Some(i) => (
            ctx.t("编辑转移对象", "Edit household"),
            format!("/households/{i}/edit"),
        ),
    };
    let lang = ctx.lang;
    let zones = zones::list(&s.db, &zones::Filter::default())
        .await?
        .into_iter()
        .map(|z| (z.id.to_string(), format!("{} {}", z.code, z.name)))
        .collect();
    Ok(render(
        status,
        &HouseholdFormPage {
            shell: Shell::new(ctx, title, Nav::Transfers),
            lang,
            action,
            f: Form::new(lang, v, errors, label),
            zones,
            c: choices(s, lang).await?,
        },
    ))
}

pub async fn new_household(Scoped(s): Scoped, ctx: Ctx, q: axum::extract::RawQuery) -> WebResult {
    ctx.need(Role::Editor)?;
    let mut f = FormData::default();
    let zone =
        q.0.as_deref()
            .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "zone"))
            .map(|(_, v)| v.to_string());
    if let Some(z) = zone {
        f.set("zone_id", z);
    }
    f.set("members", "1");
    household_form(&s, &ctx, None, &f, &Errors::default(), StatusCode::OK).await
}

pub async fn edit_household(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    ctx.need(Role::Editor)?;
    let h = households::get(&s.db, id)
        .await?
        .ok_or(WebError::NotFound)?;
    let mut f = FormData::default();
    f.set("zone_id", h.zone_id.to_string());
    f.set("head", h.head.clone());
    f.set("members", h.members.to_string());
    f.set("phone", h.phone.clone().unwrap_or_default());
    for (k, n) in [
        ("elderly", h.elderly),
        ("infirm", h.infirm),
        ("sick", h.sick),
        ("disabled", h.disabled),
        ("pregnant", h.pregnant),
        ("children", h.children),
    ] {
        f.set(k, n.to_string());
    }
    f.set(
        "cadre_id",
        h.cadre_id.map(|c| c.to_string()).unwrap_or_default(),
    );
    f.set(
        "shelter_id",
        h.shelter_id.map(|c| c.to_string()).unwrap_or_default(),
    );
    f.set("address", h.address.clone().unwrap_or_default());
    f.set("note", h.note.clone().unwrap_or_default());
    f.set("version", h.version.to_string());
    household_form(&s, &ctx, Some(id), &f, &Errors::default(), StatusCode::OK).await
}

pub async fn create_household(Scoped(s): Scoped, ctx: Ctx, f: FormData) -> WebResult {
    save_household(s, ctx, None, f).await
}

pub async fn update_household(
    Scoped(s): Scoped,
    ctx: Ctx,
    Path(id): Path<i64>,
    f: FormData,
) -> WebResult {
    save_household(s, ctx, Some(id), f).await
}

async fn save_household(s: AppState, ctx: Ctx, id: Option<i64>, f: FormData) -> WebResult {
    let user = ctx.need(Role::Editor)?;
    let mut errors = Errors::default();
    let count = |k: &str, errors: &mut Errors| f.whole(k, errors).unwrap_or(0);
    let phone = match f.opt("phone") {
        None => None,
        Some(p) => crate::phone::Phone::parse(&p)
            .map_err(|e| errors.add("phone", e.to_string()))
            .ok(),
    };
    let zone_id = chosen(&f, "zone_id", &mut errors);
    if zone_id.is_none() {
        errors.add("zone_id", ctx.t("必填", "is required"));
    }
    let input = HouseholdInput {
        zone_id: zone_id.unwrap_or(0),
        head: f.get("head").to_string(),
        members: count("members", &mut errors),
        phone,
        elderly: count("elderly", &mut errors),
        infirm: count("infirm", &mut errors),
        sick: count("sick", &mut errors),
        disabled: count("disabled", &mut errors),
        pregnant: count("pregnant", &mut errors),
        children: count("children", &mut errors),
        cadre_id: chosen(&f, "cadre_id", &mut errors),
        shelter_id: chosen(&f, "shelter_id", &mut errors),
        address: f.opt("address"),
        note: f.opt("note"),
        version: f.get("version").parse().ok(),
    };
    if !errors.is_empty() {
        return household_form(&s, &ctx, id, &f, &errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let actor = user.actor();
    let saved = match id {
        None => households::create(&s.db, &actor, &input, false, s.tz).await,
        Some(id) => households::update(&s.db, &actor, id, &input, s.tz).await,
    };
    match saved {
        Ok(h) => Ok(see_other(&format!(
            "/zones/{}#household-{}",
            h.zone_id, h.id
        ))),
        Err(e) => {
            refused(&mut errors, e, &ctx)?;
            household_form(&s, &ctx, id, &f, &errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}
