//! What the page templates (`templates/`) are given: the dashboard's HTML
//! escaper, the layout's `Shell`, a form's values and errors (`Form`, read
//! by the field macros), the pager, and the small formatting helpers the
//! pages share.

use std::fmt::{self, Write};

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Ctx;
use super::assets;
use super::i18n::{Lang, message};
use crate::auth::Role;

/// The escaper of every `{{ value }}` in `templates/*.html` (set in
/// `askama.toml`): text for element content and quoted attribute values, with
/// named entities as the pages have always had them.
#[derive(Debug, Clone, Copy)]
pub struct Html;

impl askama::filters::Escaper for Html {
    fn write_escaped_str<W: Write>(&self, mut f: W, s: &str) -> fmt::Result {
        let mut last = 0;
        for (i, b) in s.bytes().enumerate() {
            let rep = match b {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                b'\'' => "&#39;",
                _ => continue,
            };
            f.write_str(&s[last..i])?;
            f.write_str(rep)?;
            last = i + 1;
        }
        f.write_str(&s[last..])
    }
}

/// Percent-encodes a query-string value.
pub fn qv(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Which navigation entry is highlighted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    County,
    Map,
    Ledger,
    Villages,
    Shelters,
    Contacts,
    Alerts,
    Plans,
    Observations,
    Drills,
    Worklist,
    Duty,
    Audit,
    Users,
    Signoff,
    Transfers,
    Replies,
    Daily,
    None,
}

const NAV: &[(Nav, &str, &str, &str)] = &[
    (Nav::Overview, "/", "总览", "Overview"),
    (Nav::Map, "/map", "地图", "Map"),
    (Nav::Ledger, "/sites", "台账", "Ledger"),
    (Nav::Villages, "/villages", "村庄", "Villages"),
    (Nav::Shelters, "/shelters", "避灾点", "Shelters"),
    (Nav::Contacts, "/contacts", "联系人", "Contacts"),
    (Nav::Alerts, "/alerts", "预警", "Alerts"),
    (Nav::Transfers, "/transfers", "转移", "Transfers"),
    (Nav::Replies, "/replies", "回复", "Replies"),
    (Nav::Daily, "/daily-reports", "日报", "Daily reports"),
    (Nav::Plans, "/plans", "预案", "Plans"),
    (Nav::Observations, "/observations", "雨情水情", "Readings"),
    (Nav::Drills, "/drills", "演练", "Drills"),
    (Nav::Worklist, "/worklist", "工作清单", "Worklist"),
    (Nav::Duty, "/duty", "值班表", "Duty roster"),
    (Nav::Audit, "/audit", "审计日志", "Audit log"),
];

/// The name a printed sheet is signed with: the signed-in person's full
/// name (姓名), else their user name.
pub fn signer(ctx: &Ctx) -> String {
    ctx.user.as_ref().map_or_else(String::new, |u| {
        if u.full_name.is_empty() {
            u.name.clone()
        } else {
            u.full_name.clone()
        }
    })
}

pub fn role_label(lang: Lang, r: Role) -> &'static str {
    match r {
        Role::Viewer => lang.t("查看", "viewer"),
        Role::Editor => lang.t("编辑", "editor"),
        Role::Dispatcher => lang.t("值班调度员", "duty dispatcher"),
        Role::Admin => lang.t("管理员", "admin"),
    }
}

/// The current address with `lang` set to `to`, for the language switch.
pub fn lang_link(path: &str, to: Lang) -> String {
    let (p, q) = path.split_once('?').unwrap_or((path, ""));
    let mut parts: Vec<String> = form_urlencoded::parse(q.as_bytes())
        .filter(|(k, _)| k != "lang")
        .map(|(k, v)| format!("{}={}", qv(&k), qv(&v)))
        .collect();
    parts.push(format!("lang={}", to.code()));
    format!("{p}?{}", parts.join("&"))
}

/// What the layout (`templates/layout.html`) needs from every page: the
/// request context, the title, the highlighted navigation entry, and any
/// extra stylesheets or scripts (own files only: the CSP allows no inline
/// script or style).
pub struct Shell<'a> {
    pub ctx: &'a Ctx,
    pub title: String,
    pub nav: Nav,
    pub styles: &'static [&'static str],
    pub scripts: &'static [&'static str],
    pub class: &'static str,
}

/// One navigation link as the layout shows it.
pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
    pub on: bool,
}

impl<'a> Shell<'a> {
    pub fn new(ctx: &'a Ctx, title: impl Into<String>, nav: Nav) -> Shell<'a> {
        Shell {
            ctx,
            title: title.into(),
            nav,
            styles: &[],
            scripts: &[],
            class: "",
        }
    }
    pub fn lang(&self) -> Lang {
        self.ctx.lang
    }
    /// The navigation a signed-in user sees; the users page only for admins.
    pub fn links(&self) -> Vec<NavLink> {
        let lang = self.ctx.lang;
        let mut v: Vec<NavLink> = NAV
            .iter()
            .map(|(n, href, zh, en)| NavLink {
                href,
                label: lang.t(zh, en),
                on: *n == self.nav,
            })
            .collect();
        // The county's table, after the overview, for the county's people.
        if self
            .ctx
            .user
            .as_ref()
            .is_some_and(|u| u.scope == crate::store::Scope::County)
        {
            v.insert(
                1,
                NavLink {
                    href: "/county",
                    label: lang.t("全县", "County"),
                    on: self.nav == Nav::County,
                },
            );
        }
        if self.ctx.user.as_ref().is_some_and(|u| u.leader) {
            v.push(NavLink {
                href: "/signoff",
                label: lang.t("签发", "Sign-off"),
                on: self.nav == Nav::Signoff,
            });
        }
        if self.ctx.can(Role::Admin) {
            v.push(NavLink {
                href: "/users",
                label: lang.t("用户", "Users"),
                on: self.nav == Nav::Users,
            });
        }
        v
    }
    pub fn other_lang(&self) -> Lang {
        match self.ctx.lang {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }
    pub fn switch_href(&self) -> String {
        lang_link(&self.ctx.path, self.other_lang())
    }
    pub fn role(&self, r: &Role) -> &'static str {
        role_label(self.ctx.lang, *r)
    }
}

/// The hashed URL of an embedded asset, for templates.
pub fn asset(name: &str) -> String {
    assets::url(name)
}

/// Renders a page template into a response; a template error (a value's
/// `Display` failing) is an internal error, logged, never shown.
pub fn render<T: askama::Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(body) => html_response(status, body),
        Err(e) => {
            tracing::error!(error = %e, "dashboard: page did not render");
            // Not the error template: it could fail the same way.
            html_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "出错了，请稍后再试 / Something went wrong.".to_string(),
            )
        }
    }
}

/// A form's values and errors as its template reads them (the field macros
/// in `templates/macros.html`).
pub struct Form<'a> {
    pub lang: Lang,
    pub v: &'a FormData,
    pub errors: &'a Errors,
    /// A field's label for the error summary.
    pub label: fn(Lang, &str) -> String,
}

/// One line of the error summary above a form.
pub struct Problem {
    pub field: String,
    pub label: String,
    pub message: String,
}

impl<'a> Form<'a> {
    pub fn new(
        lang: Lang,
        v: &'a FormData,
        errors: &'a Errors,
        label: fn(Lang, &str) -> String,
    ) -> Form<'a> {
        Form {
            lang,
            v,
            errors,
            label,
        }
    }
    pub fn value(&self, name: &str) -> &str {
        self.v.get(name)
    }
    pub fn bad(&self, name: &str) -> bool {
        self.errors.get(name).is_some()
    }
    /// The field's error in the page's language.
    pub fn error(&self, name: &str) -> Option<String> {
        self.errors.get(name).map(|m| message(self.lang, m))
    }
    pub fn checked(&self, name: &str) -> bool {
        matches!(self.v.get(name), "1" | "on" | "true")
    }
    pub fn selected(&self, name: &str, value: &str) -> bool {
        self.v.get(name) == value
    }
    pub fn has(&self, name: &str, value: &str) -> bool {
        self.v.has(name, value)
    }
    pub fn problems(&self) -> Vec<Problem> {
        self.errors
            .0
            .iter()
            .map(|(f, m)| Problem {
                field: f.clone(),
                label: (self.label)(self.lang, f),
                message: message(self.lang, m),
            })
            .collect()
    }
}

/// Previous / next links keeping the other query parameters.
pub struct Pager {
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    pub fn new(base: &str, q: &[(String, String)], page: i64, per: i64, total: i64) -> Pager {
        let pages = ((total + per - 1) / per).max(1);
        let link = |p: i64| {
            let mut parts: Vec<String> = q
                .iter()
                .filter(|(k, v)| k != "page" && k != "lang" && !v.is_empty())
                .map(|(k, v)| format!("{}={}", qv(k), qv(v)))
                .collect();
            parts.push(format!("page={p}"));
            format!("{base}?{}", parts.join("&"))
        };
        Pager {
            total,
            page,
            pages,
            prev: (page > 1).then(|| link(page - 1)),
            next: (page < pages).then(|| link(page + 1)),
        }
    }
}

pub fn html_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// Submitted form values (or a record's, for an edit form), in order.
#[derive(Debug, Clone, Default)]
pub struct FormData(pub Vec<(String, String)>);

impl FormData {
    pub fn parse(bytes: &[u8]) -> FormData {
        FormData(form_urlencoded::parse(bytes).into_owned().collect())
    }
    pub fn get(&self, k: &str) -> &str {
        self.0
            .iter()
            .find(|(n, _)| n == k)
            .map_or("", |(_, v)| v.as_str())
    }
    /// Trimmed, None when empty.
    pub fn opt(&self, k: &str) -> Option<String> {
        let v = self.get(k).trim();
        (!v.is_empty()).then(|| v.to_string())
    }
    pub fn all(&self, k: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .collect()
    }
    pub fn set(&mut self, k: &str, v: impl Into<String>) {
        self.0.retain(|(n, _)| n != k);
        self.0.push((k.to_string(), v.into()));
    }
    pub fn push(&mut self, k: &str, v: impl Into<String>) {
        self.0.push((k.to_string(), v.into()));
    }
    pub fn has(&self, k: &str, v: &str) -> bool {
        self.0.iter().any(|(n, x)| n == k && x == v)
    }
    /// A whole number typed into `k`: `None` when left empty; text that is
    /// not one gets an error beside the field, and `None`.
    pub fn whole(&self, k: &str, errors: &mut Errors) -> Option<i64> {
        let t = self.opt(k)?;
        let n = t.parse::<i64>().ok();
        if n.is_none() {
            errors.add(k, format!("'{t}' is not a whole number"));
        }
        n
    }
    /// A (finite) number typed into `k`, as [`FormData::whole`].
    pub fn decimal(&self, k: &str, errors: &mut Errors) -> Option<f64> {
        let t = self.opt(k)?;
        let n = t.parse::<f64>().ok().filter(|n| n.is_finite());
        if n.is_none() {
            errors.add(k, format!("'{t}' is not a number"));
        }
        n
    }
}

/// Field errors by input name.
#[derive(Debug, Clone, Default)]
pub struct Errors(pub Vec<(String, String)>);

impl Errors {
    pub fn add(&mut self, field: &str, msg: impl Into<String>) {
        self.0.push((field.to_string(), msg.into()));
    }
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Local time for display, e.g. `2026-11-26 20:46`.
/// The clock time (`16:40:05`) of an RFC 3339 time already in the zone.
pub fn clock(rfc3339: &str) -> &str {
    rfc3339.get(11..19).unwrap_or("")
}

/// An RFC 3339 time already in the zone as pages write a date and time
/// (`2026-12-02 09:56:28`); anything else as it is.
pub fn date_time(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339).map_or_else(
        |_| rfc3339.to_string(),
        |d| d.format("%Y-%m-%d %H:%M:%S").to_string(),
    )
}

pub fn local(ms: i64, tz: chrono_tz::Tz) -> String {
    use chrono::TimeZone;
    match chrono::Utc.timestamp_millis_opt(ms).single() {
        Some(t) => t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string(),
        None => String::new(),
    }
}

/// "5 分钟前" / "5 min ago".
pub fn ago(lang: Lang, secs: i64) -> String {
    let s = secs.max(0);
    match (lang, s) {
        (Lang::Zh, 0..60) => format!("{s} 秒前"),
        (Lang::En, 0..60) => format!("{s} s ago"),
        (Lang::Zh, 60..3600) => format!("{} 分钟前", s / 60),
        (Lang::En, 60..3600) => format!("{} min ago", s / 60),
        (Lang::Zh, 3600..86400) => format!("{} 小时 {} 分钟前", s / 3600, s % 3600 / 60),
        (Lang::En, 3600..86400) => format!("{} h {} min ago", s / 3600, s % 3600 / 60),
        (Lang::Zh, _) => format!("{} 天前", s / 86400),
        (Lang::En, _) => format!("{} days ago", s / 86400),
    }
}

/// A duration such as an answer time: "2 分 5 秒" / "2 min 5 s".
pub fn span(lang: Lang, secs: i64) -> String {
    let s = secs.max(0);
    match (lang, s) {
        (Lang::Zh, 0..60) => format!("{s} 秒"),
        (Lang::En, 0..60) => format!("{s} s"),
        (Lang::Zh, 60..3600) => format!("{} 分 {} 秒", s / 60, s % 60),
        (Lang::En, 60..3600) => format!("{} min {} s", s / 60, s % 60),
        (Lang::Zh, _) => format!("{} 小时 {} 分", s / 3600, s % 3600 / 60),
        (Lang::En, _) => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

/// Risk grade label and colour class.
pub fn grade_label(lang: Lang, g: &str) -> &'static str {
    match g {
        "major" => lang.t("重大", "major"),
        "significant" => lang.t("较大", "significant"),
        "general" => lang.t("一般", "general"),
        "low" => lang.t("低", "low"),
        _ => lang.t("未知", "unknown"),
    }
}

pub fn status_label(lang: Lang, s: &str) -> &'static str {
    match s {
        "active" => lang.t("在营", "active"),
        "suspended" => lang.t("停业整顿", "suspended"),
        "closed" => lang.t("已关闭", "closed"),
        _ => lang.t("未知", "unknown"),
    }
}

pub fn kind_label(lang: Lang, k: &str) -> &'static str {
    use crate::ledger::sites::SiteKind;
    match SiteKind::parse(k) {
        Some(kind) => lang.t(kind.label_zh(), kind.label_en()),
        None => lang.t("未知", "unknown"),
    }
}

pub fn level_label(lang: Lang, level: Option<i64>) -> &'static str {
    match lang {
        Lang::Zh => crate::notify::intake::template::level_zh(level),
        Lang::En => crate::notify::intake::template::level_en(level),
    }
}

pub fn level_class(level: Option<i64>) -> &'static str {
    match level {
        Some(1) => "lv-red",
        Some(2) => "lv-orange",
        Some(3) => "lv-yellow",
        Some(4) => "lv-blue",
        _ => "lv-none",
    }
}

pub fn contact_role_label(lang: Lang, zh: &str) -> String {
    match lang {
        Lang::Zh => zh.to_string(),
        Lang::En => crate::registry::roles::ROLES
            .iter()
            .find(|(z, _, _)| *z == zh)
            .map_or_else(|| zh.to_string(), |(_, _, en)| (*en).to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(s: &str) -> String {
        let mut out = String::new();
        askama::filters::Escaper::write_escaped_str(&Html, &mut out, s).expect("escape");
        out
    }

    #[test]
    fn escapes() {
        assert_eq!(
            esc("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(esc("湖上村"), "湖上村");
    }

    #[test]
    fn lang_links_keep_the_query() {
        assert_eq!(
            lang_link("/sites?kind=x&lang=zh", Lang::En),
            "/sites?kind=x&lang=en"
        );
        assert_eq!(lang_link("/", Lang::Zh), "/?lang=zh");
    }
}
