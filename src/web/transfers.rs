//! 群众转移 on the dashboard: the live board (refreshing itself) with the
//! order form; one transfer with its households to tick and check in; the
//! danger-zone register and a zone's households (an audited read); an
//! incident's printable table with the upward text and its `.xlsx`; and the
//! phone page a cadre opens from the link in their SMS, listing their own
//! households to tick (no sign-in: the answer link is the key).

use super::Scoped;
use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;

use super::html::{FormData, Nav, Shell, render};
use super::i18n::Lang;
use super::{Ctx, WebError, WebResult, see_other};
use crate::app::AppState;
use crate::auth::Role;
use crate::store::WriteError;
use crate::transfer::board::{self, Board, CadreHousehold, Which, ZoneBoard};
use crate::transfer::orders::{self, OrderInput, ReturnInput, Stage};
use crate::transfer::progress::{self, CheckinInput, TickInput};
use crate::transfer::{Direction, HouseholdStatus, zones};

/// A refused action, shown above the page it was made from.
fn problem(e: WriteError) -> Result<String, WebError> {
    match e {
        WriteError::Invalid(f) => Ok(format!("{}：{}", f.field, f.message)),
        WriteError::Conflict(m) => Ok(m),
        WriteError::NotFound => Err(WebError::NotFound),
        WriteError::Store(s) => Err(s.into()),
    }
}

struct ZoneChoice {
    id: i64,
    label: String,
    open: bool,
}

#[derive(Template)]
#[template(path = "transfers/page.html")]
struct BoardPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    dispatcher: bool,
    csrf: String,
    problem: Option<String>,
    zones: Vec<ZoneChoice>,
    villages: Vec<(i64, String)>,
    kinds: Vec<(&'static str, &'static str)>,
    b: Board,
    refresh: u64,
}

#[derive(Template)]
#[template(path = "transfers/board.html")]
struct BoardFragment {
    lang: Lang,
    dispatcher: bool,
    csrf: String,
    b: Board,
}

async fn board_page(
    s: &AppState,
    ctx: &Ctx,
    problem: Option<String>,
    status: StatusCode,
) -> WebResult {
    ctx.need(Role::Viewer)?;
    let b = board::board(&s.db, s.tz, Which::default()).await?;
    let names = crate::registry::villages::names(&s.db).await?;
    let open: std::collections::HashSet<i64> = b.zones.iter().map(|z| z.zone_id).collect();
    let counts = zones::counts(&s.db).await?;
    let zones = zones::list(&s.db, &zones::Filter::default())
        .await?
        .into_iter()
        .map(|z| {
            let (h, p, _) = counts.get(&z.id).copied().unwrap_or_default();
            ZoneChoice {
                id: z.id,
                open: open.contains(&z.id),
                label: format!(
                    "{} · {}{} · {} · {}户{}人",
                    names.get(&z.village_id).cloned().unwrap_or_default(),
                    z.natural_village.as_deref().unwrap_or(""),
                    z.name,
                    zones::kind_zh(&z.kind),
                    h,
                    p
                ),
            }
        })
        .collect();
    let mut villages: Vec<(i64, String)> = names.into_iter().collect();
    villages.sort();
    Ok(render(
        status,
        &BoardPage {
            shell: Shell::new(ctx, ctx.t("群众转移", "Moving people"), Nav::Transfers),
            lang: ctx.lang,
            dispatcher: ctx.can(Role::Dispatcher),
            csrf: ctx.csrf.clone(),
            problem,
            zones,
            villages,
            kinds: zones::KINDS.iter().map(|k| (k.0, k.1)).collect(),
            b,
            refresh: 5,
        },
    ))
}

pub async fn page(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    board_page(&s, &ctx, None, StatusCode::OK).await
}

pub async fn board_fragment(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    ctx.need(Role::Viewer)?;
    let b = board::board(&s.db, s.tz, Which::default()).await?;
    let h = BoardFragment {
        lang: ctx.lang,
        dispatcher: ctx.can(Role::Dispatcher),
        csrf: ctx.csrf.clone(),
        b,
    }
    .render()
    .map_err(|e| WebError::Internal(e.to_string()))?;
    Ok(super::overview::fragment(h, true))
}

/// A dispatcher orders zones moved: ticked ones, a village's, or a kind's.
pub async fn order(Scoped(s): Scoped, ctx: Ctx, f: FormData) -> WebResult {
    let user = ctx.need(Role::Dispatcher)?;
    let input = OrderInput {
        zones: f
            .all("zone")
            .iter()
            .filter_map(|z| z.parse().ok())
            .collect(),
        village_id: f.get("village_id").parse().ok(),
        kind: Some(f.get("kind").to_string()).filter(|k| !k.is_empty()),
        incident_id: None,
        stage: Stage::parse(f.get("stage")),
        reason: f.opt("reason"),
    };
    match orders::order(&s.notifier, &user.actor(), &s.db, &input).await {
        Ok(_) => Ok(see_other("/transfers?ordered=1")),
        Err(e) => {
            let p = problem(e)?;
            board_page(&s, &ctx, Some(p), StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

/// People of the transfer's zone go back home.
pub async fn order_return(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    let user = ctx.need(Role::Dispatcher)?;
    let z = one(&s, id).await?;
    let input = ReturnInput {
        zones: vec![z.zone_id],
        ..Default::default()
    };
    match orders::order_return(&s.notifier, &user.actor(), &s.db, &input).await {
        Ok(r) => Ok(see_other(&format!(
            "/transfers/{}",
            r.first().map_or(id, |o| o.transfer_id)
        ))),
        Err(e) => {
            let p = problem(e)?;
            board_page(&s, &ctx, Some(p), StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

pub async fn close(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    let user = ctx.need(Role::Dispatcher)?;
    match orders::close(&s.db, &user.actor(), id).await {
        Ok(()) => Ok(see_other(&format!("/transfers/{id}"))),
        Err(e) => {
            let p = problem(e)?;
            show_page(&s, &ctx, id, Some(p), StatusCode::CONFLICT).await
        }
    }
}

async fn one(s: &AppState, id: i64) -> Result<ZoneBoard, WebError> {
    one_in(&s.db, s.tz, id).await
}

async fn one_in(db: &crate::store::Db, tz: chrono_tz::Tz, id: i64) -> Result<ZoneBoard, WebError> {
    let b = board::board(
        db,
        tz,
        Which {
            transfer_id: Some(id),
            ..Default::default()
        },
    )
    .await?;
    b.zones.into_iter().next().ok_or(WebError::NotFound)
}

struct HouseholdView {
    h: CadreHousehold,
    choices: Vec<(&'static str, &'static str, bool)>,
}

fn views(lang: Lang, direction: Direction, list: Vec<CadreHousehold>) -> Vec<HouseholdView> {
    list.into_iter()
        .map(|h| HouseholdView {
            choices: HouseholdStatus::choices(direction)
                .iter()
                .map(|c| (c.as_str(), lang.t(c.zh(), c.en()), *c == h.line.status))
                .collect(),
            h,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "transfers/show.html")]
struct ShowPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    editor: bool,
    dispatcher: bool,
    problem: Option<String>,
    z: ZoneBoard,
    households: Vec<HouseholdView>,
    out: bool,
}

async fn show_page(
    s: &AppState,
    ctx: &Ctx,
    id: i64,
    problem: Option<String>,
    status: StatusCode,
) -> WebResult {
    let user = ctx.need(Role::Viewer)?;
    let z = one(s, id).await?;
    let list = board::households_for(&s.db, id, None, &format!("web:{}", user.name)).await?;
    Ok(render(
        status,
        &ShowPage {
            shell: Shell::new(
                ctx,
                format!("{} · {}", z.zone, z.stage_label),
                Nav::Transfers,
            ),
            lang: ctx.lang,
            editor: ctx.can(Role::Editor) && !z.closed,
            dispatcher: ctx.can(Role::Dispatcher),
            problem,
            households: views(ctx.lang, z.direction, list),
            out: z.direction == Direction::Out,
            z,
        },
    ))
}

pub async fn show(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    show_page(&s, &ctx, id, None, StatusCode::OK).await
}

fn tick_input(f: &FormData) -> Result<TickInput, String> {
    Ok(TickInput {
        household_id: f
            .get("household_id")
            .parse()
            .map_err(|_| "household_id".to_string())?,
        status: HouseholdStatus::parse(f.get("status")).ok_or_else(|| "status".to_string())?,
        note: f.opt("note"),
    })
}

/// The office ticks a household (a cadre's phone call).
pub async fn tick(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>, f: FormData) -> WebResult {
    let user = ctx.need(Role::Editor)?;
    let input = match tick_input(&f) {
        Ok(i) => i,
        Err(field) => {
            return show_page(&s, &ctx, id, Some(field), StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    match progress::tick(&s.db, &format!("web:{}", user.name), id, None, &input).await {
        Ok(()) => Ok(see_other(&format!(
            "/transfers/{id}#h-{}",
            input.household_id
        ))),
        Err(e) => {
            let p = problem(e)?;
            show_page(&s, &ctx, id, Some(p), StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

/// The shelter's manager checks a household's people in.
pub async fn checkin(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>, f: FormData) -> WebResult {
    let user = ctx.need(Role::Editor)?;
    let input = CheckinInput {
        household_id: f.get("household_id").parse().unwrap_or(0),
        arrived: f.get("arrived").trim().parse().unwrap_or(-1),
    };
    match progress::checkin(&s.db, &user.actor(), id, &input).await {
        Ok(()) => Ok(see_other(&format!(
            "/transfers/{id}#h-{}",
            input.household_id
        ))),
        Err(e) => {
            let p = problem(e)?;
            show_page(&s, &ctx, id, Some(p), StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

struct ZoneRowView {
    id: i64,
    code: String,
    name: String,
    village: String,
    kind: &'static str,
    households: i64,
    persons: i64,
    vulnerable: i64,
    prepare: String,
    move_now: String,
    auto: bool,
    leader: String,
    shelter: String,
    route: String,
    sample: bool,
}

#[derive(Template)]
#[template(path = "transfers/zones.html")]
struct ZonesPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    editor: bool,
    zones: Vec<ZoneRowView>,
}

pub async fn zones_page(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    ctx.need(Role::Viewer)?;
    let names = crate::registry::villages::names(&s.db).await?;
    let counts = zones::counts(&s.db).await?;
    let contacts = contact_names(&s).await?;
    let shelters: std::collections::HashMap<i64, String> =
        crate::registry::shelters::list(&s.db, &Default::default())
            .await?
            .into_iter()
            .map(|x| (x.id, x.name))
            .collect();
    let list = zones::list(&s.db, &zones::Filter::default()).await?;
    let zones = list
        .into_iter()
        .map(|z| {
            let (households, persons, vulnerable) = counts.get(&z.id).copied().unwrap_or_default();
            let t = z.thresholds();
            ZoneRowView {
                village: format!(
                    "{}{}",
                    names.get(&z.village_id).cloned().unwrap_or_default(),
                    z.natural_village
                        .as_deref()
                        .map(|n| format!(" · {n}"))
                        .unwrap_or_default()
                ),
                kind: zones::kind_zh(&z.kind),
                households,
                persons,
                vulnerable,
                prepare: t.prepare.words_zh(),
                move_now: t.move_now.words_zh(),
                auto: z.auto_move != 0,
                leader: z
                    .leader_id
                    .and_then(|c| contacts.get(&c).cloned())
                    .unwrap_or_default(),
                shelter: z
                    .shelter_id
                    .and_then(|x| shelters.get(&x).cloned())
                    .unwrap_or_default(),
                route: z.route.clone().unwrap_or_default(),
                sample: z.sample != 0,
                id: z.id,
                code: z.code,
                name: z.name,
            }
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &ZonesPage {
            shell: Shell::new(&ctx, ctx.t("危险区", "Danger zones"), Nav::Transfers),
            lang: ctx.lang,
            editor: ctx.can(Role::Editor),
            zones,
        },
    ))
}

async fn contact_names(s: &AppState) -> Result<std::collections::HashMap<i64, String>, WebError> {
    Ok(crate::registry::contacts::names(&s.db).await?)
}

struct HouseholdRowView {
    id: i64,
    head: String,
    members: i64,
    vulnerable: String,
    phone: String,
    cadre: String,
    address: String,
    note: String,
}

#[derive(Template)]
#[template(path = "transfers/zone.html")]
struct ZonePage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    editor: bool,
    zone: zones::Zone,
    village: String,
    households: Vec<HouseholdRowView>,
    persons: i64,
}

/// A zone and its households: personal data, the read is audited.
pub async fn zone_page(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    let user = ctx.need(Role::Viewer)?;
    let z = zones::get(&s.db, id).await?.ok_or(WebError::NotFound)?;
    let contacts = contact_names(&s).await?;
    let rows = crate::transfer::households::list(
        &s.db,
        &user.actor(),
        &crate::transfer::households::Filter {
            zone_id: Some(id),
            ..Default::default()
        },
        "read",
    )
    .await?;
    let persons = rows.iter().map(|h| h.members).sum();
    let households = rows
        .into_iter()
        .map(|h| HouseholdRowView {
            vulnerable: h.vulnerable_zh(),
            phone: h.phone.clone().unwrap_or_default(),
            cadre: h
                .cadre_id
                .or(z.leader_id)
                .and_then(|c| contacts.get(&c).cloned())
                .unwrap_or_default(),
            address: h.address.clone().unwrap_or_default(),
            note: h.note.clone().unwrap_or_default(),
            id: h.id,
            head: h.head,
            members: h.members,
        })
        .collect();
    let village = crate::registry::villages::names(&s.db)
        .await?
        .get(&z.village_id)
        .cloned()
        .unwrap_or_default();
    Ok(render(
        StatusCode::OK,
        &ZonePage {
            shell: Shell::new(&ctx, z.name.clone(), Nav::Transfers),
            lang: ctx.lang,
            editor: ctx.can(Role::Editor),
            zone: z.view(s.tz),
            village,
            households,
            persons,
        },
    ))
}

/// A zone's households as `.xlsx`: an audited export naming who made it.
pub async fn zone_xlsx(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    let user = ctx.need(Role::Viewer)?;
    let z = zones::get(&s.db, id).await?.ok_or(WebError::NotFound)?;
    let contacts = contact_names(&s).await?;
    let rows = crate::transfer::households::list(
        &s.db,
        &user.actor(),
        &crate::transfer::households::Filter {
            zone_id: Some(id),
            ..Default::default()
        },
        "export",
    )
    .await?;
    let cadres: Vec<String> = rows
        .iter()
        .map(|h| {
            h.cadre_id
                .or(z.leader_id)
                .and_then(|c| contacts.get(&c).cloned())
                .unwrap_or_default()
        })
        .collect();
    let lines: Vec<crate::transfer::export::HouseholdLine> = rows
        .iter()
        .zip(&cadres)
        .map(|(h, cadre)| crate::transfer::export::HouseholdLine {
            head: &h.head,
            members: h.members,
            vulnerable: h.vulnerable_zh(),
            phone: h
                .phone
                .as_deref()
                .map(crate::phone::dialled)
                .unwrap_or_default(),
            cadre,
            address: h.address.as_deref().unwrap_or(""),
            note: h.note.as_deref().unwrap_or(""),
        })
        .collect();
    let by = super::html::signer(&ctx);
    let by = if by.is_empty() { user.name.clone() } else { by };
    let bytes = crate::transfer::export::households_workbook(
        &s.cfg.office_name,
        &z.name,
        &lines,
        &by,
        s.tz,
    )
    .map_err(|e| WebError::Internal(e.to_string()))?;
    Ok(crate::app::xlsx_download(
        bytes,
        &format!("households-{}.xlsx", z.code),
    ))
}

#[derive(Template)]
#[template(path = "transfers/report.html")]
struct ReportPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    incident: i64,
    table: board::Table,
    upward: String,
    signer: String,
}

/// An incident's transfer table, printable, with the text to report upward.
pub async fn report(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    ctx.need(Role::Viewer)?;
    let inc = crate::incidents::get(&s.db, id)
        .await?
        .ok_or(WebError::NotFound)?;
    let (table, upward) = board::upward(&s.db, s.tz, &s.cfg.office_name, inc.id).await?;
    Ok(render(
        StatusCode::OK,
        &ReportPage {
            shell: Shell::new(&ctx, ctx.t("转移统计表", "Transfer table"), Nav::Transfers),
            lang: ctx.lang,
            incident: id,
            table,
            upward,
            signer: super::html::signer(&ctx),
        },
    ))
}

/// The same table as `.xlsx`, with who exported it.
pub async fn report_xlsx(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    let user = ctx.need(Role::Viewer)?;
    let inc = crate::incidents::get(&s.db, id)
        .await?
        .ok_or(WebError::NotFound)?;
    let (table, upward) = board::upward(&s.db, s.tz, &s.cfg.office_name, inc.id).await?;
    let by = super::html::signer(&ctx);
    let by = if by.is_empty() { user.name.clone() } else { by };
    let bytes = crate::transfer::export::incident_workbook(
        &table,
        &s.cfg.office_name,
        id,
        &by,
        &upward,
        s.tz,
    )
    .map_err(|e| WebError::Internal(e.to_string()))?;
    Ok(crate::app::xlsx_download(
        bytes,
        &format!("transfers-{id}.xlsx"),
    ))
}

#[derive(Template)]
#[template(path = "transfers/link.html")]
struct LinkPage {
    office: String,
    csrf: String,
    token: String,
    name: String,
    z: ZoneBoard,
    households: Vec<HouseholdView>,
    mine: crate::transfer::Count,
    done: crate::transfer::Count,
    saved: bool,
    problem: Option<String>,
}

/// Whom a link belongs to: (transfer, contact, sees the whole zone, name).
async fn link_holder(s: &AppState, token: &str) -> Result<(i64, i64, bool, String), WebError> {
    let info = crate::notify::response::answers::by_token(&s.system, token)
        .await?
        .ok_or(WebError::NotFound)?;
    if crate::store::now_ms() > info.token_expires_at {
        return Err(WebError::NotFound);
    }
    let (transfer, contact, leader) = progress::by_notice(&s.system, info.alert_id)
        .await?
        .ok_or(WebError::NotFound)?;
    Ok((transfer, contact, leader, info.name))
}

async fn link_page(
    s: &AppState,
    ctx: &Ctx,
    token: &str,
    saved: bool,
    problem: Option<String>,
    status: StatusCode,
) -> WebResult {
    let (transfer, contact, leader, name) = link_holder(s, token).await?;
    let z = one_in(&s.system, s.tz, transfer).await?;
    let list = board::households_for(
        &s.system,
        transfer,
        (!leader).then_some(contact),
        &format!("link:{name}"),
    )
    .await?;
    let mut mine = crate::transfer::Count::default();
    let mut done = crate::transfer::Count::default();
    for h in &list {
        mine.households += 1;
        mine.persons += h.line.members;
        if h.line.status.done() {
            done.households += 1;
            done.persons += h.line.members;
        }
    }
    Ok(render(
        status,
        &LinkPage {
            office: s.cfg.office_name.clone(),
            csrf: ctx.csrf.clone(),
            token: token.to_string(),
            name,
            households: views(Lang::Zh, z.direction, list),
            z,
            mine,
            done,
            saved,
            problem,
        },
    ))
}

pub async fn link(
    axum::extract::State(s): axum::extract::State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
    q: axum::extract::RawQuery,
) -> WebResult {
    let saved = q.0.is_some_and(|q| q.contains("saved=1"));
    link_page(&s, &ctx, &token, saved, None, StatusCode::OK).await
}

/// A cadre ticks one of their households from the link.
pub async fn link_tick(
    axum::extract::State(s): axum::extract::State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
    f: FormData,
) -> WebResult {
    let (transfer, contact, leader, name) = link_holder(&s, &token).await?;
    let input = match tick_input(&f) {
        Ok(i) => i,
        Err(field) => {
            return link_page(
                &s,
                &ctx,
                &token,
                false,
                Some(field),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let result = progress::tick(
        &s.system,
        &format!("link:{name}"),
        transfer,
        (!leader).then_some(contact),
        &input,
    )
    .await;
    match result {
        Ok(()) => Ok(see_other(&format!(
            "/a/{token}/households?saved=1#h-{}",
            input.household_id
        ))),
        Err(e) => {
            let p = problem(e)?;
            link_page(
                &s,
                &ctx,
                &token,
                false,
                Some(p),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// A stored time as the board shows it ("12-01 04:07"), from its RFC 3339 form.
pub fn short(t: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(t)
        .map_or_else(|_| t.to_string(), |d| d.format("%m-%d %H:%M").to_string())
}
