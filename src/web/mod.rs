//! The dashboard of the emergency office: server-rendered HTML pages with a
//! little vanilla JavaScript, every asset embedded in the binary (it must work
//! with no internet), Chinese first with an English switch.
//!
//! Every request passes `guard`: it resolves the language and the signed-in
//! user once (accounts live in `crate::accounts`) and checks the CSRF token
//! of every POST; tower-http layers around it set the security headers.
//! Handlers then take the resulting `Ctx` and call the same domain functions
//! as the API, so rules and messages are the same.

mod alerts;
pub mod assets;
mod audit;
pub(crate) mod audit_words;
mod channel_paths;
mod contact_chain;
mod contacts;
pub mod cookies;
mod county;
mod daily;
mod draws;
mod drill_records;
mod drills;
mod duty;
mod enforcement;
mod exports;
mod findings;
pub mod html;
pub mod i18n;
mod imports;
mod incident_reports;
use incident_reports as ir;
mod incidents;
mod inspections;
mod inspectors;
mod login;
mod map;
mod message_templates;
mod observations;
mod overview;
mod photos;
use photos as ph;
mod plans;
mod public;
mod replies;
mod robots;
use robots as gr;
mod shelters;
mod signoff;
mod site_form;
mod sites;
pub mod test_mode;
mod transfers;
mod users;
mod villages;
mod worklist;
mod zone_forms;

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::accounts::sessions::{self, SessionUser};
use crate::app::AppState;
use crate::auth::Role;
use crate::store::StoreError;
use html::FormData;
use i18n::Lang;

/// Largest form body accepted (a site with a long inventory fits easily).
const MAX_FORM_BYTES: usize = 2 * 1024 * 1024;
/// Largest body of the import pages (a workbook, then the same file
/// carried by the confirmation form).
const MAX_UPLOAD_BYTES: usize = 48 * 1024 * 1024;

/// Room in a photo upload's body beyond the photo itself (the form's other
/// fields and the multipart framing).
const PHOTO_FORM_SLACK: usize = 64 * 1024;

/// Whether a POST to `path` uploads a photo (`/inspections/{id}/photos`,
/// `/findings/{id}/photos`): its body may be as large as a photo is allowed.
fn photo_upload(path: &str) -> bool {
    (path.starts_with("/inspections/") || path.starts_with("/findings/"))
        && path.ends_with("/photos")
}

/// The `_csrf` field of a multipart form (an upload): the first field the
/// import form sends.
fn multipart_csrf(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(4096)]);
    text.split("name=\"_csrf\"")
        .nth(1)
        .and_then(|rest| rest.split("\r\n\r\n").nth(1))
        .and_then(|v| v.split("\r\n").next())
        .unwrap_or("")
        .trim()
        .to_string()
}

/// What every page needs to know about the request.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub lang: Lang,
    pub user: Option<SessionUser>,
    /// The token forms must carry: the session's, or before sign-in the one
    /// in the pre-session cookie.
    pub csrf: String,
    /// Path and query, for the language switch and the return after sign-in.
    pub path: String,
    pub ip: String,
    pub office: String,
    pub tz: chrono_tz::Tz,
    /// What makes this a test set-up (the banner on every page), worked out
    /// once from the configuration at start-up.
    pub test_mode: std::sync::Arc<test_mode::TestMode>,
}

impl Ctx {
    /// The signed-in user, if their role is at least `role`.
    pub fn need(&self, role: Role) -> Result<&SessionUser, WebError> {
        match &self.user {
            None => Err(WebError::SignIn(self.path.clone())),
            Some(u) if u.role >= role => Ok(u),
            Some(_) => Err(WebError::Forbidden(role)),
        }
    }
    pub fn t<'a>(&self, zh: &'a str, en: &'a str) -> &'a str {
        self.lang.t(zh, en)
    }
    pub fn can(&self, role: Role) -> bool {
        self.user.as_ref().is_some_and(|u| u.role >= role)
    }
}

/// The application state as the signed-in user may see it: its `db` is
/// limited to their scope (signed out: to nothing).
pub struct Scoped(pub AppState);

impl FromRequestParts<AppState> for Scoped {
    type Rejection = WebError;
    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, WebError> {
        let scope = parts
            .extensions
            .get::<Ctx>()
            .and_then(|c| c.user.as_ref())
            .map_or_else(crate::store::Scope::nothing, |u| u.scope.clone());
        Ok(Scoped(s.acting(scope)))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = WebError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, WebError> {
        parts
            .extensions
            .get::<Ctx>()
            .cloned()
            .ok_or_else(|| WebError::Internal("request context missing".into()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for FormData {
    type Rejection = WebError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, WebError> {
        Ok(parts
            .extensions
            .get::<FormData>()
            .cloned()
            .unwrap_or_default())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("sign-in required")]
    SignIn(String),
    #[error("needs the {0:?} role")]
    Forbidden(Role),
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type WebResult<T = Response> = Result<T, WebError>;

tokio::task_local! {
    /// The language of the request being answered, set by `guard` around
    /// the handler, so that an error page drawn without the request's
    /// context is still in the page's language.
    static PAGE_LANG: Lang;
}

/// The error page (`templates/error.html`): no session needed, never any
/// internal error text; in the request's language, or both where it is
/// not known.
#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    lang: Option<Lang>,
    zh: &'a str,
    en: &'a str,
    /// What an expired form carried, field by field.
    kept: Vec<(&'a str, &'a str)>,
    /// The path to come back to after signing in again (query-encoded).
    relogin: Option<String>,
    /// The request's id (`X-Request-Id`), shown so that a screenshot of
    /// the page leads to the daemon's log lines about it.
    request_id: Option<String>,
}

/// An error page in the language of the request being answered (both
/// languages outside a dashboard request).
pub fn bare_page(status: StatusCode, zh: &str, en: &str) -> Response {
    error_page(PAGE_LANG.try_with(|l| *l).ok(), status, zh, en)
}

fn error_page(lang: Option<Lang>, status: StatusCode, zh: &str, en: &str) -> Response {
    html::render(
        status,
        &ErrorPage {
            lang,
            zh,
            en,
            kept: Vec::new(),
            relogin: None,
            request_id: crate::telemetry::http::request_id().filter(|id| !id.is_empty()),
        },
    )
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::SignIn(next) => {
                let to = if next.is_empty() || next == "/" {
                    "/login".to_string()
                } else {
                    format!("/login?next={}", html::qv(&next))
                };
                Redirect::to(&to).into_response()
            }
            WebError::Forbidden(role) => bare_page(
                StatusCode::FORBIDDEN,
                "您的账号没有此操作的权限",
                &format!(
                    "Your account may not do this (it needs the {} role).",
                    role.as_str()
                ),
            ),
            WebError::NotFound => bare_page(
                StatusCode::NOT_FOUND,
                "找不到该页面或记录",
                "This page or record does not exist.",
            ),
            WebError::Store(e) if e.is_unavailable() => {
                tracing::warn!(error = %e, "dashboard: storage unavailable");
                let mut resp = bare_page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "存储暂时不可用（磁盘已满或只读），未做任何更改，请稍后重试",
                    "Storage is unavailable (disk full or read-only); nothing was changed. Try again shortly.",
                );
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                resp
            }
            WebError::Store(e) => {
                tracing::error!(error = %e, "dashboard: storage error");
                internal_page()
            }
            WebError::Internal(e) => {
                tracing::error!(error = %e, "dashboard: internal error");
                internal_page()
            }
        }
    }
}

pub fn internal_page() -> Response {
    bare_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "出错了，请稍后再试",
        "Something went wrong. Please try again shortly.",
    )
}

/// Routes of the dashboard; merged into the daemon's app by `server::start`.
pub fn router(state: AppState) -> Router {
    let csp = HeaderValue::from_str(&csp(&state.cfg.map_tile_url)).ok();
    let test_mode = std::sync::Arc::new(test_mode::TestMode::from_config(&state.cfg));
    let pages = Router::new()
        .route("/", get(overview::page))
        .route("/web/overview/live", get(overview::live))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", get(login::sign_out_page).post(login::logout))
        .route("/map", get(map::page))
        .route("/web/map.json", get(map::data))
        .route("/sites", get(sites::list))
        .route("/sites.xlsx", get(sites::export))
        .route("/import", get(imports::page))
        .route("/import/{kind}/template.xlsx", get(imports::template))
        .route(
            "/sites/new",
            get(site_form::new_form).post(site_form::create),
        )
        .route("/sites/{id}", get(sites::show))
        .route(
            "/sites/{id}/edit",
            get(site_form::edit_form).post(site_form::update),
        )
        .route("/sites/{id}/archive", post(sites::archive))
        .route(
            "/sites/{id}/inspections/new",
            get(inspections::new_form).post(inspections::create),
        )
        .route("/inspectors", get(inspectors::list))
        .route(
            "/inspectors/new",
            get(inspectors::new_form).post(inspectors::create),
        )
        .route(
            "/inspectors/{id}/edit",
            get(inspectors::edit_form).post(inspectors::update),
        )
        .route("/inspectors/{id}/archive", post(inspectors::archive))
        .route("/draws", get(draws::list))
        .route("/draws/new", get(draws::new_form).post(draws::create))
        .route("/draws/{id}", get(draws::show))
        .route("/draws/{id}/draw", post(draws::draw))
        .route("/findings/{id}/rectify", post(findings::rectify))
        .route("/findings/{id}/close", post(findings::close))
        .merge(upload_routes())
        .route("/photos/{id}", get(ph::serve))
        .route("/findings/{id}", get(enforcement::finding))
        .route("/findings/{id}/dispositions", post(enforcement::dispose))
        .route("/inspections/{id}", get(enforcement::inspection))
        .route("/inspections/{id}/documents", post(enforcement::issue))
        .route("/documents", get(enforcement::documents_list))
        .route("/documents/{id}", get(enforcement::document))
        .route("/documents/{id}/correct", post(enforcement::correct))
        .route("/checklists/{kind}", get(enforcement::checklist))
        .route("/supervision", get(enforcement::supervision_list))
        .route("/villages", get(villages::list))
        .route(
            "/villages/new",
            get(villages::new_form).post(villages::create),
        )
        .route("/villages/{id}", get(villages::show))
        .route(
            "/villages/{id}/edit",
            get(villages::edit_form).post(villages::update),
        )
        .route("/shelters", get(shelters::list))
        .route(
            "/shelters/new",
            get(shelters::new_form).post(shelters::create),
        )
        .route(
            "/shelters/{id}/edit",
            get(shelters::edit_form).post(shelters::update),
        )
        .route("/contacts", get(contacts::list))
        .route("/contacts/chain", get(contact_chain::page))
        .route("/contacts.xlsx", get(contacts::export))
        .route(
            "/responsible-persons.xlsx",
            get(exports::responsible_persons),
        )
        .route("/findings.xlsx", get(exports::findings))
        .route("/drill-records.xlsx", get(exports::drill_records))
        .route("/incidents/{id}/calls.xlsx", get(exports::incident_calls))
        .route(
            "/contacts/new",
            get(contacts::new_form).post(contacts::create),
        )
        .route(
            "/contacts/{id}/edit",
            get(contacts::edit_form).post(contacts::update),
        )
        .route("/message-templates", get(message_templates::list))
        .route(
            "/message-templates/new",
            get(message_templates::new_form).post(message_templates::create),
        )
        .route(
            "/message-templates/{id}/edit",
            get(message_templates::edit_form).post(message_templates::update),
        )
        .route(
            "/message-templates/{id}/archive",
            post(message_templates::archive),
        )
        // One line each: tests/isolation.rs reads the routes line by line.
        .route("/group-robots", get(gr::list))
        .route("/group-robots/new", get(gr::new_form).post(gr::create))
        .route("/group-robots/{id}/edit", get(gr::edit).post(gr::update))
        .route("/group-robots/{id}/archive", post(gr::archive))
        .route("/group-robots/{id}/test", post(gr::test))
        .route("/alerts", get(alerts::list))
        .route("/alerts/new", get(alerts::compose).post(alerts::review))
        .route("/alerts/send", post(alerts::send))
        .route("/alerts/{id}", get(alerts::board))
        .route("/alerts/{id}/answer", post(alerts::mark_answered))
        .route("/alerts/{id}/answer/undo", post(alerts::undo_answer))
        .route("/alerts/{id}/close", post(alerts::close))
        .route("/alerts/{id}/approve", post(alerts::approve))
        .route("/alerts/{id}/reject", post(alerts::reject))
        .route("/signoff", get(signoff::page))
        .route("/replies", get(replies::page))
        .route("/replies/{id}/read", post(replies::read))
        .route("/replies/{id}/handled", post(replies::handled))
        .route("/daily-reports", get(daily::list))
        .route("/daily-reports/{id}", get(daily::show))
        .route("/daily-reports/{id}/report.xlsx", get(daily::xlsx))
        .route("/transfers", get(transfers::page))
        .route("/transfers/order", post(transfers::order))
        .route("/web/transfers/board", get(transfers::board_fragment))
        .route("/transfers/{id}", get(transfers::show))
        .route("/transfers/{id}/tick", post(transfers::tick))
        .route("/transfers/{id}/checkin", post(transfers::checkin))
        .route("/transfers/{id}/return", post(transfers::order_return))
        .route("/transfers/{id}/close", post(transfers::close))
        .route("/zones", get(transfers::zones_page))
        .route(
            "/zones/new",
            get(zone_forms::new_zone).post(zone_forms::create_zone),
        )
        .route("/zones/{id}", get(transfers::zone_page))
        .route(
            "/zones/{id}/edit",
            get(zone_forms::edit_zone).post(zone_forms::update_zone),
        )
        .route(
            "/households/new",
            get(zone_forms::new_household).post(zone_forms::create_household),
        )
        .route(
            "/households/{id}/edit",
            get(zone_forms::edit_household).post(zone_forms::update_household),
        )
        .route("/zones/{id}/households.xlsx", get(transfers::zone_xlsx))
        .route("/incidents/{id}/transfers", get(transfers::report))
        .route(
            "/incidents/{id}/transfers.xlsx",
            get(transfers::report_xlsx),
        )
        .route(
            "/a/{token}/households",
            get(transfers::link).post(transfers::link_tick),
        )
        .route("/public/", get(public::page))
        .route("/public", get(public::page))
        .route("/public/warnings/{id}", get(public::warning_page))
        .route("/public/draws/{file}", get(public::draw_page))
        .route("/web/alerts/preview", post(alerts::preview))
        .route("/web/alerts/{id}/board", get(alerts::board_fragment))
        .route("/plans", get(plans::list))
        .route("/plans/{id}", get(plans::show))
        .route("/plans/{id}/activate", post(plans::activate))
        .route(
            "/plans/{id}/warnings/{warning}/issue",
            post(plans::issue_warning),
        )
        .route("/warnings/{id}/lift", post(plans::lift_warning))
        .route("/incidents/{id}", get(incidents::show))
        .route("/incidents/{id}/level", post(incidents::change_level))
        .route("/incidents/{id}/close", post(incidents::close))
        .route("/incidents/{id}/confirm", post(incidents::confirm))
        .route("/incidents/{id}/reject", post(incidents::reject))
        // One line each: tests/isolation.rs reads the routes line by line.
        .route("/incidents/{id}/reports", get(ir::list).post(ir::create))
        .route(
            "/incidents/{id}/reports/{rid}",
            get(ir::show).post(ir::revise),
        )
        .route("/incidents/{id}/reports/{rid}/report.xlsx", get(ir::xlsx))
        .route(
            "/observations",
            get(observations::page).post(observations::record),
        )
        .route("/drills", get(drills::list))
        .route("/drills/{id}", get(drills::show))
        .route("/drills/{id}/start", post(drills::start))
        .route("/drills/{id}/activate", post(drills::activate))
        .route("/drills/{id}/records/new", get(drill_records::form))
        .route("/drills/{id}/records", post(drill_records::create))
        .route("/audit", get(audit::page))
        .route("/worklist", get(worklist::page))
        .route("/duty", get(duty::page))
        .route("/duty/shifts/new", get(duty::new_form).post(duty::create))
        .route("/duty/shifts/{id}/edit", get(duty::edit).post(duty::update))
        .route("/duty/shifts/{id}/delete", post(duty::delete))
        .route("/duty/handovers", post(duty::handover))
        .route("/county", get(county::page))
        .route("/users", get(users::list).post(users::add))
        .route("/users/leader", post(users::set_leader))
        .route("/users/disable", post(users::set_disabled))
        .route("/users/reset", post(users::reset_password))
        .route("/account", get(users::account))
        .route("/account/name", post(users::set_own_name))
        .route("/account/password", post(users::change_own_password))
        .layer(axum::middleware::from_fn_with_state(
            (state.clone(), test_mode),
            guard,
        ))
        // The security headers of every page, the guard's own answers included.
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            csp,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        // Pages show personal data: not kept by the browser unless a page says so.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .with_state(state);
    // Assets need no session: kept outside the guard (no database look-up).
    Router::new()
        .route("/assets/{*path}", get(assets::serve))
        .route("/favicon.ico", get(assets::favicon))
        .merge(pages)
}

/// The uploads: the photo pages (`web::photos`) and the import's workbook.
/// Their bodies are bounded by `guard` (the configured photo size and a
/// little more; `MAX_UPLOAD_BYTES` for a workbook), so the multipart
/// reader's own default of 2 MB is lifted for them alone.
#[rustfmt::skip]
fn upload_routes() -> Router<AppState> {
    Router::new()
        // One line each (kept so by `rustfmt::skip`): tests/isolation.rs
        // reads the routes line by line.
        .route("/import/preview", post(imports::preview))
        .route("/import/confirm", post(imports::confirm))
        .route("/inspections/{id}/photos", get(ph::of_inspection).post(ph::to_inspection))
        .route("/findings/{id}/photos", get(ph::of_finding).post(ph::to_finding))
        .layer(axum::extract::DefaultBodyLimit::disable())
}

/// The address a request comes from: the TCP peer, or, when the peer is a
/// trusted proxy, the last address in `X-Forwarded-For` that is not one
/// (earlier entries are whatever the client chose to send).
fn client_ip(
    peer: Option<std::net::IpAddr>,
    headers: &axum::http::HeaderMap,
    trusted: &[std::net::IpAddr],
) -> Option<std::net::IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<std::net::IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|a| !trusted.contains(a))
            .unwrap_or(peer),
    )
}

/// Content-Security-Policy: only this daemon's own scripts and styles; map
/// tiles from the configured tile server, if any.
fn csp(tile_url: &str) -> String {
    let tiles = if tile_url.starts_with("https://") {
        " https:"
    } else if tile_url.starts_with("http://") {
        " http:"
    } else {
        ""
    };
    format!(
        "default-src 'self'; img-src 'self' data:{tiles}; style-src 'self'; \
         script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )
}

async fn guard(
    State((s, test_mode)): State<(AppState, std::sync::Arc<test_mode::TestMode>)>,
    req: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = req.into_parts();
    let jar = CookieJar::from_headers(&parts.headers);
    let query_lang = parts.uri.query().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "lang")
            .and_then(|(_, v)| Lang::parse(&v))
    });
    let lang = query_lang
        .or_else(|| cookies::value(&jar, cookies::LANG).and_then(Lang::parse))
        .unwrap_or_default();
    let user = match cookies::value(&jar, cookies::SESSION) {
        Some(raw) => match sessions::lookup(&s.system, raw).await {
            Ok(u) => u,
            Err(e) => return WebError::from(e).into_response(),
        },
        None => None,
    };
    let mut new_pre = None;
    let csrf = match &user {
        Some(u) => u.csrf.clone(),
        None => match cookies::value(&jar, cookies::PRE_CSRF) {
            Some(v) if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) => v.to_string(),
            _ => match sessions::new_token() {
                Ok(t) => {
                    new_pre = Some(t.clone());
                    t
                }
                Err(e) => return WebError::from(e).into_response(),
            },
        },
    };
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let ip = client_ip(peer, &parts.headers, &s.cfg.trusted_proxies)
        .map_or_else(|| "unknown".to_string(), |a| a.to_string());
    if let Some(u) = &user {
        crate::telemetry::http::record_actor(&format!("web:{}", u.name));
    }
    let ctx = Ctx {
        lang,
        user,
        csrf,
        path: parts
            .uri
            .path_and_query()
            .map_or_else(|| "/".to_string(), |p| p.as_str().to_string()),
        ip,
        office: s.cfg.office_name.clone(),
        tz: s.tz,
        test_mode,
    };
    let body = if parts.method == Method::POST {
        let photo = photo_upload(parts.uri.path());
        let limit = if parts.uri.path().starts_with("/import/") {
            MAX_UPLOAD_BYTES
        } else if photo {
            s.cfg.limits.photo_bytes.saturating_add(PHOTO_FORM_SLACK)
        } else {
            MAX_FORM_BYTES
        };
        let bytes = match axum::body::to_bytes(body, limit).await {
            Ok(b) => b,
            Err(_) if photo => {
                let mb = s.cfg.limits.photo_bytes.div_ceil(1024 * 1024);
                return error_page(
                    Some(ctx.lang),
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &format!("照片太大，不能超过 {mb} MB，未保存"),
                    &format!("The photo is too large (at most {mb} MB); nothing was saved."),
                );
            }
            Err(_) => {
                return error_page(
                    Some(ctx.lang),
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "提交的内容太大",
                    "The form is too large.",
                );
            }
        };
        let multipart = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("multipart/form-data"));
        let form = if multipart {
            FormData(vec![("_csrf".into(), multipart_csrf(&bytes))])
        } else {
            FormData::parse(&bytes)
        };
        let sent = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .unwrap_or_else(|| form.get("_csrf").to_string());
        if !sessions::same_token(&sent, &ctx.csrf) {
            return expired_form(&ctx, &form);
        }
        parts.extensions.insert(form);
        Body::from(bytes)
    } else {
        body
    };
    let secure = s.cfg.public_base_url.starts_with("https://");
    let lang = ctx.lang;
    parts.extensions.insert(ctx);
    let resp = PAGE_LANG
        .scope(lang, next.run(Request::from_parts(parts, body)))
        .await;
    let resp = plain_error_as_page(lang, resp);
    let mut set = CookieJar::new();
    if let Some(l) = query_lang {
        set = set.add(cookies::lang(l.code(), secure));
    }
    if let Some(t) = new_pre {
        set = set.add(cookies::for_browser_session(cookies::PRE_CSRF, t, secure));
    }
    (set, resp).into_response()
}

/// An error answered by the router or an extractor rather than a handler (a
/// wrong method: 405; an address whose number is not one: 400) comes as
/// bare text in English: shown as the error page in the page's language.
fn plain_error_as_page(lang: Lang, resp: Response) -> Response {
    let status = resp.status();
    if !status.is_client_error() {
        return resp;
    }
    let is_page_or_data = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html") || t.starts_with("application/json"));
    if is_page_or_data {
        return resp;
    }
    let (zh, en) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            "此地址不能这样打开（请从页面上的按钮或链接进入）",
            "This address cannot be opened this way (use the buttons and links on the pages).",
        ),
        StatusCode::NOT_FOUND => ("找不到该页面或记录", "This page or record does not exist."),
        StatusCode::PAYLOAD_TOO_LARGE => ("提交的内容太大", "The form is too large."),
        _ => (
            "地址或提交的内容有误，请返回后重试",
            "The address or the form is not valid. Go back and try again.",
        ),
    };
    let mut page = error_page(Some(lang), status, zh, en);
    if let Some(allow) = resp.headers().get(header::ALLOW) {
        page.headers_mut().insert(header::ALLOW, allow.clone());
    }
    page
}

/// The language a request asks for (`?lang=`, else the `fh_lang` cookie),
/// for pages answered outside `guard`.
pub fn request_lang(headers: &axum::http::HeaderMap, uri: &axum::http::Uri) -> Lang {
    uri.query()
        .and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "lang")
                .and_then(|(_, v)| Lang::parse(&v))
        })
        .or_else(|| {
            cookies::value(&CookieJar::from_headers(headers), cookies::LANG).and_then(Lang::parse)
        })
        .unwrap_or_default()
}

/// The "not found" page for an address nothing answers, in the language the
/// request asks for.
pub fn not_found_page(headers: &axum::http::HeaderMap, uri: &axum::http::Uri) -> Response {
    error_page(
        Some(request_lang(headers, uri)),
        StatusCode::NOT_FOUND,
        "找不到该页面或记录",
        "This page or record does not exist.",
    )
}

/// A form posted without a valid token: usually the session ended while
/// someone was typing. Nothing is saved, but what they typed is shown so it
/// is not lost.
fn expired_form(ctx: &Ctx, form: &FormData) -> Response {
    let kept = form
        .0
        .iter()
        .filter(|(k, v)| k != "_csrf" && k != "password" && !v.trim().is_empty())
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    html::render(
        StatusCode::FORBIDDEN,
        &ErrorPage {
            lang: Some(ctx.lang),
            zh: "登录已过期或表单已失效，未保存。您填写的内容如下，请复制后重新登录再提交。",
            en: "Your sign-in expired or the form is stale, so nothing was saved. What you typed is below: copy it, sign in again and resubmit.",
            kept,
            relogin: Some(html::qv(&ctx.path)),
            request_id: crate::telemetry::http::request_id().filter(|id| !id.is_empty()),
        },
    )
}

/// A redirect after a successful POST (303: the browser then GETs).
/// A 303 to `to`. A location a header cannot carry (a control character
/// slipped through) goes to the overview rather than failing the request.
pub fn see_other(to: &str) -> Response {
    let location = HeaderValue::from_str(to).unwrap_or_else(|_| HeaderValue::from_static("/"));
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

#[cfg(test)]
mod tests {
    use super::client_ip;
    use axum::http::HeaderMap;

    #[test]
    fn forwarded_address_only_from_a_trusted_proxy() {
        let proxy = "127.0.0.1".parse().ok();
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", "6.6.6.6, 203.0.113.7".parse().unwrap());
        h.append("x-forwarded-for", "10.0.0.2".parse().unwrap());
        let trusted = ["127.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()];
        // Not trusted: the peer, whatever the header says.
        assert_eq!(client_ip(proxy, &h, &[]), proxy);
        // Trusted: the last address that is not a proxy of ours.
        assert_eq!(client_ip(proxy, &h, &trusted), "203.0.113.7".parse().ok());
        // No header: the peer.
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &trusted), proxy);
    }
}
