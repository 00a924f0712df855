//! HTML by plain string building: an escaping wrapper, the page layout, form
//! fields that keep what was typed and show their error beside them, and the
//! small formatting helpers the pages share.

use std::fmt::{self, Display, Write as _};

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Ctx;
use super::assets;
use super::i18n::{Lang, message};
use crate::auth::Role;

/// Escapes text for element content and quoted attribute values.
pub struct E<'a>(pub &'a str);

impl Display for E<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
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

pub fn esc(s: &str) -> String {
    E(s).to_string()
}

/// Escapes an optional value; None shows as an empty string.
pub fn eo(s: &Option<String>) -> E<'_> {
    E(s.as_deref().unwrap_or(""))
}

/// Percent-encodes a query-string value.
pub fn qv(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Which navigation entry is highlighted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    Map,
    Ledger,
    Villages,
    Contacts,
    Alerts,
    Plans,
    Drills,
    Worklist,
    Audit,
    Users,
    None,
}

const NAV: &[(Nav, &str, &str, &str)] = &[
    (Nav::Overview, "/", "总览", "Overview"),
    (Nav::Map, "/map", "地图", "Map"),
    (Nav::Ledger, "/sites", "台账", "Ledger"),
    (Nav::Villages, "/villages", "村庄", "Villages"),
    (Nav::Contacts, "/contacts", "联系人", "Contacts"),
    (Nav::Alerts, "/alerts", "预警", "Alerts"),
    (Nav::Plans, "/plans", "预案", "Plans"),
    (Nav::Drills, "/drills", "演练", "Drills"),
    (Nav::Worklist, "/worklist", "工作清单", "Worklist"),
    (Nav::Audit, "/audit", "审计日志", "Audit log"),
];

pub fn role_label(lang: Lang, r: Role) -> &'static str {
    match r {
        Role::Viewer => lang.t("查看", "viewer"),
        Role::Editor => lang.t("编辑", "editor"),
        Role::Dispatcher => lang.t("调度", "dispatcher"),
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

/// A whole page: header with navigation, user, language switch and sign-out.
pub struct Page<'a> {
    pub title: String,
    pub nav: Nav,
    pub body: String,
    pub head: &'a str,
    pub scripts: &'a [&'a str],
    pub status: StatusCode,
    pub class: &'a str,
}

impl<'a> Page<'a> {
    pub fn new(title: impl Into<String>, nav: Nav, body: String) -> Page<'a> {
        Page {
            title: title.into(),
            nav,
            body,
            head: "",
            scripts: &[],
            status: StatusCode::OK,
            class: "",
        }
    }

    pub fn render(self, ctx: &Ctx) -> Response {
        let lang = ctx.lang;
        let mut h = String::with_capacity(self.body.len() + 4096);
        let _ = write!(
            h,
            "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{} · {}</title><link rel=\"stylesheet\" href=\"{}\">{}</head>\
             <body class=\"{}\" data-csrf=\"{}\" data-lang=\"{}\">",
            lang.html_lang(),
            E(&self.title),
            lang.t("烽火", "Fenghuo"),
            assets::url("app.css"),
            self.head,
            E(self.class),
            E(&ctx.csrf),
            lang.code(),
        );
        let _ = write!(
            h,
            "<header class=\"top\"><a class=\"brand\" href=\"/\">{}<small>{}</small></a>",
            lang.t("烽火", "Fenghuo"),
            E(&ctx.office)
        );
        if let Some(u) = &ctx.user {
            h.push_str("<nav>");
            for (n, href, zh, en) in NAV {
                let _ = write!(
                    h,
                    "<a href=\"{href}\"{}>{}</a>",
                    if *n == self.nav {
                        " class=\"on\" aria-current=\"page\""
                    } else {
                        ""
                    },
                    lang.t(zh, en)
                );
            }
            if u.role >= Role::Admin {
                let _ = write!(
                    h,
                    "<a href=\"/users\"{}>{}</a>",
                    if self.nav == Nav::Users {
                        " class=\"on\""
                    } else {
                        ""
                    },
                    lang.t("用户", "Users")
                );
            }
            h.push_str("</nav>");
        }
        h.push_str("<div class=\"me\">");
        let other = match lang {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        };
        let _ = write!(
            h,
            "<a class=\"lang\" href=\"{}\" lang=\"{}\">{}</a>",
            E(&lang_link(&ctx.path, other)),
            other.html_lang(),
            lang.t("English", "中文")
        );
        if let Some(u) = &ctx.user {
            let _ = write!(
                h,
                " <span class=\"who\">{} <small>({})</small></span>\
                 <form method=\"post\" action=\"/logout\" class=\"inline\">{}<button type=\"submit\" id=\"signout\">{}</button></form>",
                E(&u.name),
                role_label(lang, u.role),
                csrf_field(ctx),
                lang.t("退出", "Sign out")
            );
        }
        h.push_str("</div></header><main>");
        h.push_str(&self.body);
        let _ = write!(
            h,
            "</main><script src=\"{}\"></script>",
            assets::url("app.js")
        );
        for s in self.scripts {
            let _ = write!(h, "<script src=\"{}\"></script>", assets::url(s));
        }
        h.push_str("</body></html>");
        html_response(self.status, h)
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

pub fn csrf_field(ctx: &Ctx) -> String {
    format!(
        "<input type=\"hidden\" name=\"_csrf\" value=\"{}\">",
        E(&ctx.csrf)
    )
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

/// Renders form fields from values and errors.
pub struct Fields<'a> {
    pub lang: Lang,
    pub v: &'a FormData,
    pub errors: &'a Errors,
}

impl Fields<'_> {
    fn open(&self, h: &mut String, name: &str, label: &str, hint: &str) {
        let bad = self.errors.get(name).is_some();
        let _ = write!(
            h,
            "<div class=\"field{}\" data-field=\"{}\"><label for=\"f-{}\">{}</label>",
            if bad { " bad" } else { "" },
            E(name),
            E(name),
            E(label)
        );
        if !hint.is_empty() {
            let _ = write!(h, "<small class=\"hint\">{}</small>", E(hint));
        }
    }
    fn close(&self, h: &mut String, name: &str) {
        if let Some(m) = self.errors.get(name) {
            let _ = write!(
                h,
                "<span class=\"err\" id=\"err-{}\" role=\"alert\">{}</span>",
                E(name),
                E(&message(self.lang, m))
            );
        }
        h.push_str("</div>");
    }
    fn aria(&self, name: &str) -> String {
        if self.errors.get(name).is_some() {
            format!(
                " aria-invalid=\"true\" aria-describedby=\"err-{}\"",
                E(name)
            )
        } else {
            String::new()
        }
    }

    /// `<input>`; `kind` is the input type, `extra` more attributes.
    pub fn input(
        &self,
        name: &str,
        (zh, en): (&str, &str),
        kind: &str,
        extra: &str,
        hint: (&str, &str),
    ) -> String {
        let mut h = String::new();
        self.open(
            &mut h,
            name,
            self.lang.t(zh, en),
            self.lang.t(hint.0, hint.1),
        );
        let _ = write!(
            h,
            "<input id=\"f-{n}\" name=\"{n}\" type=\"{kind}\" value=\"{v}\"{a} {extra}>",
            n = E(name),
            v = E(self.v.get(name)),
            a = self.aria(name),
        );
        self.close(&mut h, name);
        h
    }

    pub fn text(&self, name: &str, label: (&str, &str)) -> String {
        self.input(name, label, "text", "", ("", ""))
    }

    pub fn textarea(&self, name: &str, (zh, en): (&str, &str), rows: u32) -> String {
        let mut h = String::new();
        self.open(&mut h, name, self.lang.t(zh, en), "");
        let _ = write!(
            h,
            "<textarea id=\"f-{n}\" name=\"{n}\" rows=\"{rows}\"{a}>{v}</textarea>",
            n = E(name),
            v = E(self.v.get(name)),
            a = self.aria(name),
        );
        self.close(&mut h, name);
        h
    }

    pub fn select(
        &self,
        name: &str,
        (zh, en): (&str, &str),
        options: &[(String, String)],
    ) -> String {
        let mut h = String::new();
        self.open(&mut h, name, self.lang.t(zh, en), "");
        let cur = self.v.get(name);
        let _ = write!(
            h,
            "<select id=\"f-{n}\" name=\"{n}\"{a}>",
            n = E(name),
            a = self.aria(name)
        );
        for (val, label) in options {
            let _ = write!(
                h,
                "<option value=\"{}\"{}>{}</option>",
                E(val),
                if val == cur { " selected" } else { "" },
                E(label)
            );
        }
        h.push_str("</select>");
        self.close(&mut h, name);
        h
    }

    pub fn checkbox(&self, name: &str, (zh, en): (&str, &str)) -> String {
        let mut h = String::new();
        let on = matches!(self.v.get(name), "1" | "on" | "true");
        let _ = write!(
            h,
            "<div class=\"field check\" data-field=\"{n}\"><label><input type=\"checkbox\" name=\"{n}\" value=\"1\"{c}> {l}</label>",
            n = E(name),
            c = if on { " checked" } else { "" },
            l = E(self.lang.t(zh, en))
        );
        self.close(&mut h, name);
        h
    }
}

/// A summary of errors above a form, linking to each field.
pub fn error_summary(lang: Lang, errors: &Errors, label: impl Fn(&str) -> String) -> String {
    if errors.is_empty() {
        return String::new();
    }
    let mut h = format!(
        "<div class=\"box error\" id=\"form-errors\" role=\"alert\"><b>{}</b><ul>",
        lang.t(
            "未保存：请改正以下内容（您填写的内容都还在）。",
            "Not saved: please correct the following (everything you typed is kept)."
        )
    );
    for (f, m) in &errors.0 {
        let _ = write!(
            h,
            "<li><a href=\"#f-{}\">{}</a>：{}</li>",
            E(f),
            E(&label(f)),
            E(&message(lang, m))
        );
    }
    h.push_str("</ul></div>");
    h
}

/// Local time for display, e.g. `2026-11-26 20:46`.
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

/// Previous / next links keeping the other query parameters.
pub fn pager(
    lang: Lang,
    base: &str,
    q: &[(String, String)],
    page: i64,
    per: i64,
    total: i64,
) -> String {
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
    let mut h = format!(
        "<p class=\"pager\">{} {total} {} · {} {page} / {pages}",
        lang.t("共", "Total"),
        lang.t("条", "records"),
        lang.t("第", "page"),
    );
    if page > 1 {
        let _ = write!(
            h,
            " · <a href=\"{}\" rel=\"prev\">{}</a>",
            E(&link(page - 1)),
            lang.t("上一页", "Previous")
        );
    }
    if page < pages {
        let _ = write!(
            h,
            " · <a href=\"{}\" rel=\"next\">{}</a>",
            E(&link(page + 1)),
            lang.t("下一页", "Next")
        );
    }
    h.push_str("</p>");
    h
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
        Some(kind) => match lang {
            Lang::Zh => kind.label_zh(),
            Lang::En => match kind {
                SiteKind::HazchemProduction => "hazchem production",
                SiteKind::HazchemStorage => "hazchem storage",
                SiteKind::HazchemTradeWithStorage => "hazchem trade (with storage)",
                SiteKind::HazchemTradeWithoutStorage => "hazchem trade (no storage)",
                SiteKind::HazchemUse => "hazchem use",
                SiteKind::FireworksWholesale => "fireworks wholesale",
                SiteKind::FireworksRetail => "fireworks retail",
            },
        },
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
