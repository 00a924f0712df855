//! Dashboard users: the admin's list (add, leader permission, disable and
//! enable, reset a password shown once) and each user's own account page
//! (their name, their password).

use super::Scoped;
use askama::Template;
use axum::http::StatusCode;
use axum_extra::extract::cookie::CookieJar;

use super::html::{Errors, Form, FormData, Nav, Shell, local, render, role_label};
use super::i18n::Lang;
use super::{Ctx, WebError, WebResult, cookies, see_other};
use crate::accounts::users::{self, UserError};
use crate::app::AppState;
use crate::auth::Role;

fn role_options(ctx: &Ctx) -> Vec<(String, String)> {
    [Role::Viewer, Role::Editor, Role::Dispatcher, Role::Admin]
        .into_iter()
        .map(|r| (r.as_str().to_string(), role_label(ctx.lang, r).to_string()))
        .collect()
}

struct UserLine {
    name: String,
    full_name: String,
    role: &'static str,
    leader: bool,
    created: String,
    /// When the user was disabled, if they are.
    disabled: Option<String>,
    last_signin: Option<String>,
    me: bool,
}

/// A password just set by an admin, shown this once.
struct NewPassword {
    name: String,
    password: String,
}

#[derive(Template)]
#[template(path = "users/list.html")]
struct UsersPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    done: Option<String>,
    refused: Option<String>,
    new_password: Option<NewPassword>,
    users: Vec<UserLine>,
    f: Form<'a>,
    roles: Vec<(String, String)>,
}

#[derive(Default)]
struct Notes {
    done: Option<String>,
    refused: Option<String>,
    new_password: Option<NewPassword>,
}

async fn users_page(
    s: &AppState,
    ctx: &Ctx,
    v: &FormData,
    errors: &Errors,
    notes: Notes,
    status: StatusCode,
) -> WebResult {
    let me = ctx.user.as_ref().map(|u| u.name.as_str());
    let users = users::list(&s.db)
        .await?
        .into_iter()
        .map(|u| UserLine {
            role: u.role().map_or("?", |r| role_label(ctx.lang, r)),
            created: local(u.created_at, ctx.tz),
            leader: u.leader != 0,
            disabled: u.disabled_at.map(|t| local(t, ctx.tz)),
            last_signin: u.last_signin_at.map(|t| local(t, ctx.tz)),
            me: Some(u.name.as_str()) == me,
            full_name: u.full_name,
            name: u.name,
        })
        .collect();
    Ok(render(
        status,
        &UsersPage {
            shell: Shell::new(ctx, ctx.t("用户", "Users"), Nav::Users),
            lang: ctx.lang,
            done: notes.done,
            refused: notes.refused,
            new_password: notes.new_password,
            users,
            f: Form::new(ctx.lang, v, errors, |_, f| f.to_string()),
            roles: role_options(ctx),
        },
    ))
}

fn blank_form() -> FormData {
    let mut v = FormData::default();
    v.set("role", "viewer");
    v
}

pub async fn list(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    ctx.need(Role::Admin)?;
    users_page(
        &s,
        &ctx,
        &blank_form(),
        &Errors::default(),
        Notes::default(),
        StatusCode::OK,
    )
    .await
}

pub async fn add(Scoped(s): Scoped, ctx: Ctx, f: FormData) -> WebResult {
    let me = ctx.need(Role::Admin)?;
    let actor = me.actor().name;
    let mut errors = Errors::default();
    let mut kept = f.clone();
    kept.set("password", "");
    let Some(role) = Role::parse(f.get("role")) else {
        errors.add("role", ctx.t("请选择角色", "choose a role"));
        return users_page(
            &s,
            &ctx,
            &kept,
            &errors,
            Notes::default(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let full_name = match users::check_full_name(f.get("full_name")) {
        Ok(n) => n,
        Err(UserError::Invalid(fe)) => {
            errors.add(&fe.field, fe.message);
            return users_page(
                &s,
                &ctx,
                &kept,
                &errors,
                Notes::default(),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
        Err(e) => return Err(WebError::Internal(e.to_string())),
    };
    // In the admin's own township, with the admin's scope.
    let me_actor = me.actor();
    let (scope, township) = (me_actor.scope.clone(), me_actor.township);
    match users::create_in(
        &s.db,
        &actor,
        f.get("name"),
        role,
        f.get("password"),
        &scope,
        township,
    )
    .await
    {
        Ok(_) => {
            let name = f.get("name").trim();
            if !full_name.is_empty() {
                users::set_full_name(&s.db, &actor, name, &full_name)
                    .await
                    .map_err(|e| WebError::Internal(e.to_string()))?;
            }
            if matches!(f.get("leader"), "1" | "on") {
                users::set_leader(&s.db, &actor, name, true)
                    .await
                    .map_err(|e| WebError::Internal(e.to_string()))?;
            }
            let notes = Notes {
                done: Some(format!("{} {name}", ctx.t("已添加用户", "Added user"))),
                ..Notes::default()
            };
            users_page(
                &s,
                &ctx,
                &blank_form(),
                &Errors::default(),
                notes,
                StatusCode::OK,
            )
            .await
        }
        Err(UserError::Invalid(fe)) => {
            errors.add(&fe.field, fe.message);
            users_page(
                &s,
                &ctx,
                &kept,
                &errors,
                Notes::default(),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(UserError::Exists(n)) => {
            errors.add(
                "name",
                format!(
                    "{} '{n}'",
                    ctx.t("已有同名用户", "a user already exists named")
                ),
            );
            users_page(
                &s,
                &ctx,
                &kept,
                &errors,
                Notes::default(),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(e) => Err(WebError::Internal(e.to_string())),
    }
}

/// The outcome of an admin's action on one user, as the list page shows it.
async fn after(s: &AppState, ctx: &Ctx, r: Result<Notes, UserError>) -> WebResult {
    match r {
        Ok(notes) => {
            users_page(
                s,
                ctx,
                &blank_form(),
                &Errors::default(),
                notes,
                StatusCode::OK,
            )
            .await
        }
        Err(UserError::Refused(fe) | UserError::Invalid(fe)) => {
            let notes = Notes {
                refused: Some(fe.message),
                ..Notes::default()
            };
            users_page(
                s,
                ctx,
                &blank_form(),
                &Errors::default(),
                notes,
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(UserError::NotFound(_)) => Err(WebError::NotFound),
        Err(UserError::Store(e)) => Err(e.into()),
        Err(e) => Err(WebError::Internal(e.to_string())),
    }
}

/// An admin gives or takes the leader permission (带班领导/签发人).
pub async fn set_leader(Scoped(s): Scoped, ctx: Ctx, f: FormData) -> WebResult {
    let me = ctx.need(Role::Admin)?;
    let leader = f.get("leader") == "1";
    match users::set_leader(&s.db, &me.actor().name, f.get("name"), leader).await {
        Ok(()) => Ok(see_other("/users")),
        Err(UserError::NotFound(_)) => Err(WebError::NotFound),
        Err(UserError::Store(e)) => Err(e.into()),
        Err(e) => Err(WebError::Internal(e.to_string())),
    }
}

/// An admin disables a user (signed out at once, cannot sign in) or enables
/// them again.
pub async fn set_disabled(Scoped(s): Scoped, ctx: Ctx, f: FormData) -> WebResult {
    let me = ctx.need(Role::Admin)?;
    let name = f.get("name").trim().to_string();
    let disabled = f.get("disabled") == "1";
    let r = users::set_disabled(&s.db, &me.actor().name, &name, disabled)
        .await
        .map(|()| Notes {
            done: Some(if disabled {
                format!(
                    "{} {name}{}",
                    ctx.t("已停用", "Disabled"),
                    ctx.t("，其登录已失效", "; signed out")
                )
            } else {
                format!("{} {name}", ctx.t("已启用", "Enabled"))
            }),
            ..Notes::default()
        });
    after(&s, &ctx, r).await
}

/// An admin gives a user a new random password, shown on this page once.
pub async fn reset_password(Scoped(s): Scoped, ctx: Ctx, f: FormData) -> WebResult {
    let me = ctx.need(Role::Admin)?;
    let name = f.get("name").trim().to_string();
    let r = users::reset_password(&s.db, &me.actor().name, &name)
        .await
        .map(|password| Notes {
            new_password: Some(NewPassword { name, password }),
            ..Notes::default()
        });
    after(&s, &ctx, r).await
}

#[derive(Template)]
#[template(path = "users/account.html")]
struct AccountPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    name: String,
    role: &'static str,
    leader: bool,
    last_signin: Option<String>,
    done: Option<&'a str>,
    f: Form<'a>,
}

async fn account_page(
    s: &AppState,
    ctx: &Ctx,
    v: &FormData,
    errors: &Errors,
    done: Option<&str>,
    status: StatusCode,
) -> WebResult {
    let me = ctx.need(Role::Viewer)?;
    let row = users::find(&s.db, &me.name)
        .await?
        .ok_or(WebError::NotFound)?;
    let mut v = v.clone();
    if v.opt("full_name").is_none() {
        v.set("full_name", row.full_name.clone());
    }
    v.set("current", "");
    v.set("password", "");
    v.set("password2", "");
    Ok(render(
        status,
        &AccountPage {
            shell: Shell::new(ctx, ctx.t("我的账号", "My account"), Nav::None),
            lang: ctx.lang,
            name: row.name,
            role: role_label(ctx.lang, me.role),
            leader: row.leader != 0,
            last_signin: row.last_signin_at.map(|t| local(t, ctx.tz)),
            done,
            f: Form::new(ctx.lang, &v, errors, |_, f| f.to_string()),
        },
    ))
}

pub async fn account(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    account_page(
        &s,
        &ctx,
        &FormData::default(),
        &Errors::default(),
        None,
        StatusCode::OK,
    )
    .await
}

/// A user sets their own name (姓名).
pub async fn set_own_name(Scoped(s): Scoped, ctx: Ctx, f: FormData) -> WebResult {
    let me = ctx.need(Role::Viewer)?;
    match users::set_full_name(&s.db, &me.actor().name, &me.name, f.get("full_name")).await {
        Ok(()) => {
            let done = ctx.t("姓名已保存。", "Name saved.");
            account_page(
                &s,
                &ctx,
                &FormData::default(),
                &Errors::default(),
                Some(done),
                StatusCode::OK,
            )
            .await
        }
        Err(UserError::Invalid(fe)) => {
            let mut errors = Errors::default();
            errors.add(&fe.field, fe.message);
            account_page(
                &s,
                &ctx,
                &f,
                &errors,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(UserError::Store(e)) => Err(e.into()),
        Err(e) => Err(WebError::Internal(e.to_string())),
    }
}

/// A user changes their own password; their other sessions end.
pub async fn change_own_password(
    Scoped(s): Scoped,
    ctx: Ctx,
    jar: CookieJar,
    f: FormData,
) -> WebResult {
    let me = ctx.need(Role::Viewer)?;
    let mut errors = Errors::default();
    if f.get("password") != f.get("password2") {
        errors.add(
            "password2",
            ctx.t("两次输入的新密码不一致", "the two new passwords differ"),
        );
        return account_page(
            &s,
            &ctx,
            &f,
            &errors,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let session = cookies::value(&jar, cookies::SESSION).unwrap_or_default();
    match users::change_own_password(
        &s.db,
        me.user_id,
        f.get("current"),
        f.get("password"),
        session,
    )
    .await
    {
        Ok(()) => {
            let done = ctx.t(
                "密码已修改。其他设备上的登录已退出。",
                "Password changed. You were signed out on other devices.",
            );
            account_page(
                &s,
                &ctx,
                &FormData::default(),
                &Errors::default(),
                Some(done),
                StatusCode::OK,
            )
            .await
        }
        Err(UserError::Invalid(fe)) => {
            let msg = match (fe.field.as_str(), ctx.lang) {
                ("password", Lang::Zh) if fe.message.starts_with("must be at least") => {
                    format!("新密码至少 {} 位", users::MIN_PASSWORD_CHARS)
                }
                _ => fe.message,
            };
            errors.add(&fe.field, msg);
            account_page(
                &s,
                &ctx,
                &f,
                &errors,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(UserError::Store(e)) => Err(e.into()),
        Err(e) => Err(WebError::Internal(e.to_string())),
    }
}
