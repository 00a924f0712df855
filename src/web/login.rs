//! Sign-in and sign-out. Managing users is `web::users`.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;

use askama::Template;

use super::html::{FormData, Nav, Shell, render as render_page};
use super::i18n::Lang;
use super::{Ctx, WebResult, cookies, see_other};
use crate::accounts::sessions;
use crate::accounts::signin::{self, SignIn};
use crate::app::AppState;

/// Only a path on this site is followed after sign-in (no open redirect):
/// one leading `/`, and no second `/`, backslash, control character or
/// whitespace that a browser might read as the start of another host
/// (`/\t/evil`, `/\\evil`, `//evil`). Anything else goes to the overview.
fn safe_next(next: &str) -> String {
    let path_only = next.starts_with('/')
        && !next[1..].starts_with(['/', '\\'])
        && !next
            .chars()
            .any(|c| c == '\\' || c.is_control() || c.is_whitespace());
    if path_only {
        next.to_string()
    } else {
        "/".to_string()
    }
}

fn query_next(ctx: &Ctx) -> String {
    ctx.path
        .split_once('?')
        .and_then(|(_, q)| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "next")
                .map(|(_, v)| v.into_owned())
        })
        .unwrap_or_default()
}

#[derive(Template)]
#[template(path = "login/sign_in.html")]
struct SignInPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    name: &'a str,
    next: &'a str,
    problem: Option<String>,
}

fn render(
    ctx: &Ctx,
    name: &str,
    next: &str,
    problem: Option<String>,
    status: StatusCode,
) -> Response {
    render_page(
        status,
        &SignInPage {
            shell: Shell::new(ctx, ctx.t("登录", "Sign in"), Nav::None),
            lang: ctx.lang,
            name,
            next,
            problem,
        },
    )
}

pub async fn form(ctx: Ctx) -> Response {
    let next = query_next(&ctx);
    if ctx.user.is_some() {
        return see_other(&safe_next(&next));
    }
    render(&ctx, "", &next, None, StatusCode::OK)
}

pub async fn submit(State(s): State<AppState>, ctx: Ctx, f: FormData) -> WebResult {
    let name = f.get("name").trim().to_string();
    let next = f.get("next").to_string();
    if name.is_empty() || f.get("password").is_empty() {
        let msg = ctx.t("请输入用户名和密码。", "Enter your user name and password.");
        return Ok(render(
            &ctx,
            &name,
            &next,
            Some(msg.into()),
            StatusCode::UNPROCESSABLE_ENTITY,
        ));
    }
    match signin::authenticate(&s.system, &s.signin, &name, f.get("password"), &ctx.ip).await? {
        SignIn::Ok(user, _) => {
            let raw = sessions::create(&s.system, user.id, &ctx.ip).await?;
            let secure = s.cfg.public_base_url.starts_with("https://");
            // The session's own CSRF token replaces the pre-sign-in one.
            let set = CookieJar::new()
                .add(cookies::for_browser_session(cookies::SESSION, raw, secure))
                .add(cookies::removal(cookies::PRE_CSRF, secure));
            tracing::info!(user = %user.name, ip = %ctx.ip, "dashboard sign-in");
            Ok((set, see_other(&safe_next(&next))).into_response())
        }
        SignIn::Wrong => Ok(render(
            &ctx,
            &name,
            &next,
            Some(
                ctx.t("用户名或密码错误。", "Wrong user name or password.")
                    .into(),
            ),
            StatusCode::UNAUTHORIZED,
        )),
        SignIn::Busy(secs) => {
            let mut resp = render(
                &ctx,
                &name,
                &next,
                Some(
                    ctx.t(
                        "登录的人太多，请稍后再试。",
                        "Too many sign-ins at once; try again in a moment.",
                    )
                    .into(),
                ),
                StatusCode::TOO_MANY_REQUESTS,
            );
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            Ok(resp)
        }
        SignIn::Locked(secs) => {
            let msg = match ctx.lang {
                Lang::Zh => format!("密码错误次数过多，请在 {secs} 秒后再试。"),
                Lang::En => {
                    format!("Too many wrong passwords. Try again in {secs} seconds.")
                }
            };
            let mut resp = render(&ctx, &name, &next, Some(msg), StatusCode::TOO_MANY_REQUESTS);
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            Ok(resp)
        }
    }
}

pub async fn logout(State(s): State<AppState>, ctx: Ctx, jar: CookieJar) -> WebResult {
    if let Some(raw) = cookies::value(&jar, cookies::SESSION) {
        sessions::destroy(&s.system, raw).await?;
    }
    if let Some(u) = &ctx.user {
        tracing::info!(user = %u.name, "dashboard sign-out");
    }
    let secure = s.cfg.public_base_url.starts_with("https://");
    let set = CookieJar::new().add(cookies::removal(cookies::SESSION, secure));
    Ok((set, see_other("/login")).into_response())
}

#[derive(Template)]
#[template(path = "login/sign_out.html")]
struct SignOutPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
}

/// `GET /logout` (typed, or an old bookmark): a page with the sign-out
/// button and a way back, not a bare "method not allowed".
pub async fn sign_out_page(ctx: Ctx) -> WebResult {
    Ok(render_page(
        StatusCode::OK,
        &SignOutPage {
            shell: Shell::new(&ctx, ctx.t("退出登录", "Sign out"), Nav::None),
            lang: ctx.lang,
        },
    ))
}
