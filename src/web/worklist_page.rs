//! The daily worklist, laid out to be printed and carried (the print
//! stylesheet drops the navigation and keeps the tables whole).

use std::fmt::Write as _;

use axum::extract::State;

use super::html::{E, Nav, Page, eo, kind_label, local};
use super::{Ctx, WebResult};
use crate::app::AppState;
use crate::auth::Role;
use crate::ledger::worklist;
use crate::store::now_ms;

pub async fn page(State(s): State<AppState>, ctx: Ctx) -> WebResult {
    ctx.need(Role::Viewer)?;
    let lang = ctx.lang;
    let wl = worklist::build(&s.db, s.tz).await?;
    let names = crate::registry::villages::names(&s.db).await?;
    let village = |v: Option<i64>| v.and_then(|v| names.get(&v).cloned()).unwrap_or_default();
    let mut b = format!(
        "<div class=\"head\"><h1>{} <small>{}</small></h1><button type=\"button\" class=\"noprint\" data-print>{}</button></div>\
         <p class=\"meta\">{} · {} {}</p>",
        ctx.t("工作清单", "Worklist"),
        E(&wl.today),
        ctx.t("打印", "Print"),
        E(&ctx.office),
        ctx.t("生成于", "printed"),
        local(now_ms(), s.tz),
    );
    let _ = write!(
        b,
        "<section id=\"licences\"><h2>{} ({})</h2><table class=\"grid\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th class=\"tick\">{}</th></tr></thead><tbody>",
        ctx.t(
            "许可证已过期或 30 天内到期",
            "Licences expired or expiring within 30 days"
        ),
        wl.expiring_licences.len(),
        ctx.t("场所", "Site"),
        ctx.t("类别", "Kind"),
        ctx.t("村", "Village"),
        ctx.t("许可证", "Licence"),
        ctx.t("有效期至", "Expires"),
        ctx.t("剩余天数", "Days left"),
        ctx.t("已办", "Done"),
    );
    for l in &wl.expiring_licences {
        let _ = write!(
            b,
            "<tr{}><td><a href=\"/sites/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"tick\">☐</td></tr>",
            if l.days_left < 0 {
                " class=\"overdue\""
            } else {
                ""
            },
            l.site.id,
            E(&l.site.name),
            kind_label(lang, &l.site.kind),
            E(&village(l.site.village_id)),
            eo(&l.licence_no),
            E(&l.expires_on),
            if l.days_left < 0 {
                format!("{} {}", ctx.t("已过期", "expired"), -l.days_left)
            } else {
                l.days_left.to_string()
            },
        );
    }
    if wl.expiring_licences.is_empty() {
        let _ = write!(
            b,
            "<tr><td colspan=\"7\" class=\"muted\">{}</td></tr>",
            ctx.t("无", "None")
        );
    }
    let _ = write!(
        b,
        "</tbody></table></section><section id=\"overdue\"><h2>{} ({})</h2><table class=\"grid\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th class=\"tick\">{}</th></tr></thead><tbody>",
        ctx.t("隐患整改逾期", "Overdue rectifications"),
        wl.overdue_rectifications.len(),
        ctx.t("场所", "Site"),
        ctx.t("隐患", "Item"),
        ctx.t("等级", "Grade"),
        ctx.t("责任人", "Responsible"),
        ctx.t("整改期限", "Deadline"),
        ctx.t("逾期天数", "Days overdue"),
        ctx.t("已办", "Done"),
    );
    for f in &wl.overdue_rectifications {
        let _ = write!(
            b,
            "<tr><td><a href=\"/sites/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"tick\">☐</td></tr>",
            f.site.id,
            E(&f.site.name),
            E(&f.item),
            if f.grade == "major" {
                ctx.t("重大", "major")
            } else {
                ctx.t("一般", "general")
            },
            eo(&f.responsible),
            E(&f.deadline),
            f.days_overdue,
        );
    }
    if wl.overdue_rectifications.is_empty() {
        let _ = write!(
            b,
            "<tr><td colspan=\"7\" class=\"muted\">{}</td></tr>",
            ctx.t("无", "None")
        );
    }
    let _ = write!(
        b,
        "</tbody></table></section><section id=\"uninspected\"><h2>{} ({})</h2><table class=\"grid\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th class=\"tick\">{}</th></tr></thead><tbody>",
        ctx.t("半年以上未检查的场所", "Sites not inspected for six months"),
        wl.not_inspected.len(),
        ctx.t("场所", "Site"),
        ctx.t("类别", "Kind"),
        ctx.t("村", "Village"),
        ctx.t("上次检查", "Last inspected"),
        ctx.t("已过天数", "Days since"),
        ctx.t("已办", "Done"),
    );
    for u in &wl.not_inspected {
        let _ = write!(
            b,
            "<tr><td><a href=\"/sites/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"tick\">☐</td></tr>",
            u.site.id,
            E(&u.site.name),
            kind_label(lang, &u.site.kind),
            E(&village(u.site.village_id)),
            u.last_inspected_on
                .as_deref()
                .map_or_else(|| ctx.t("从未", "never").to_string(), str::to_string),
            u.days_since,
        );
    }
    if wl.not_inspected.is_empty() {
        let _ = write!(
            b,
            "<tr><td colspan=\"6\" class=\"muted\">{}</td></tr>",
            ctx.t("无", "None")
        );
    }
    let _ = write!(
        b,
        "</tbody></table></section><section id=\"undrilled\"><h2>{} ({})</h2><table class=\"grid\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th class=\"tick\">{}</th></tr></thead><tbody>",
        ctx.t(
            "半年以上未演练的企业",
            "Businesses without a drill for six months"
        ),
        wl.overdue_drills.len(),
        ctx.t("场所", "Site"),
        ctx.t("类别", "Kind"),
        ctx.t("村", "Village"),
        ctx.t("上次演练", "Last drill"),
        ctx.t("已过天数", "Days since"),
        ctx.t("已办", "Done"),
    );
    for u in &wl.overdue_drills {
        let _ = write!(
            b,
            "<tr><td><a href=\"/sites/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"tick\">☐</td></tr>",
            u.site.id,
            E(&u.site.name),
            kind_label(lang, &u.site.kind),
            E(&village(u.site.village_id)),
            u.last_drill_on
                .as_deref()
                .map_or_else(|| ctx.t("从未", "never").to_string(), str::to_string),
            u.days_since,
        );
    }
    if wl.overdue_drills.is_empty() {
        let _ = write!(
            b,
            "<tr><td colspan=\"6\" class=\"muted\">{}</td></tr>",
            ctx.t("无", "None")
        );
    }
    b.push_str("</tbody></table></section>");
    let mut p = Page::new(ctx.t("工作清单", "Worklist"), Nav::Worklist, b);
    p.class = "printable";
    Ok(p.render(&ctx))
}
