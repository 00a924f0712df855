//! The dashboard in words: the audit log reads as who did what to which
//! record (Chinese field names, no JSON), codes are shown as words, phone
//! numbers as they are dialled and found however they are typed, and every
//! stored field is shown where a person looks for it.

mod common;
#[path = "support/web_client.rs"]
mod web_client;

use common::{Backend, TestApp, square};
use fenghuo::auth::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};
use web_client::Web;

const PASSWORD: &str = "correct-horse-9";

/// A plan whose notice goes to one village, named by its code.
const PLAN: &str = r#"id = "flood-test"
title = "测试防汛预案"
hazard = "flood_typhoon"
version = "1"
status = "draft"
approved_on = 2025-01-01
approved_by = "湖上乡人民政府"

[templates.t]
title = "{plan}{level}"
body = "{name}：{village}请于{deadline}前打开{link}确认"

[[levels]]
level = 4
conditions = ["1小时降雨20毫米"]
lead = "分管领导"
triggers = { rainstorm_signal = "blue" }
notify = [{ roles = ["村支书"], villages = ["S08"], template = "t", ack_within_minutes = 30 }]

[[levels]]
level = 3
conditions = ["1小时降雨30毫米"]
lead = "乡长"
triggers = { rainstorm_signal = "yellow" }
notify = [{ roles = ["村支书"], template = "t", ack_within_minutes = 20 }]

[[levels]]
level = 2
conditions = ["1小时降雨40毫米"]
lead = "乡长"
triggers = { rainstorm_signal = "orange" }
notify = [{ roles = ["村支书"], template = "t", ack_within_minutes = 20 }]

[[levels]]
level = 1
conditions = ["1小时降雨50毫米"]
lead = "乡长"
triggers = { rainstorm_signal = "red" }
notify = [{ roles = ["村支书"], template = "t", ack_within_minutes = 20 }]
"#;

struct Town {
    village: i64,
    /// 139 5951 2468 (mobile), then 0595-2328 1234 (landline).
    mobile: i64,
    landline: i64,
}

async fn town(app: &TestApp, role: Role) -> Town {
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "S08", "name": "坑头村", "boundary": square(117.96, 25.17, 0.02), "population": 900}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let village = v["id"].as_i64().expect("id");
    let mut ids = Vec::new();
    for (i, (name, phone)) in [("林支书", "13959512468"), ("村部座机", "0595-23281234")]
        .iter()
        .enumerate()
    {
        let (s, c) = app
            .post(
                "/api/v1/contacts",
                json!({"name": name, "village_id": village, "roles": ["村支书"], "phone": phone, "escalation_order": i + 1}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        ids.push(c["id"].as_i64().expect("id"));
    }
    fenghuo::accounts::users::create(app.db(), "test", "wang", role, PASSWORD)
        .await
        .expect("user");
    Town {
        village,
        mobile: ids[0],
        landline: ids[1],
    }
}

async fn signed_in(app: &TestApp) -> (Web, String) {
    let web = Web::new(&app.base);
    web.sign_in("wang", PASSWORD).await;
    let t = web.token().await;
    (web, t)
}

/// No JSON on a page: neither raw nor escaped.
fn assert_no_json(path: &str, body: &str) {
    for bad in ["{\"", "{&quot;", "{&#34;"] {
        assert!(
            !body.contains(bad),
            "{path} shows JSON ({bad}): {}",
            &body[body.find(bad).unwrap_or(0).saturating_sub(200)..]
                .chars()
                .take(400)
                .collect::<String>()
        );
    }
}

/// Every kind of entry the office can cause reads in words: the actor,
/// the action, the record by name, each field by its Chinese label with
/// phones as dialled; the filter takes Chinese action names and English
/// keys alike.
async fn the_audit_log_reads_in_words(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let t = town(&app, Role::Admin).await;
    let (web, csrf) = signed_in(&app).await;

    // A contact changed on the dashboard: its phone and escalation order.
    let r = web
        .post(
            &format!("/contacts/{}/edit", t.mobile),
            &[
                ("_csrf", &csrf),
                ("version", "1"),
                ("name", "林支书"),
                ("roles", "村支书"),
                ("village_id", &t.village.to_string()),
                ("phone", "138 0013 8000"),
                ("escalation_order", "1"),
                ("active", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    // A site with a licence and inventory, an inspection with a finding,
    // rectified and closed out on the dashboard.
    let (s, site) = app
        .post(
            "/api/v1/sites",
            json!({"name": "泉州某化工", "kind": "hazchem_storage", "risk_grade": "major",
                   "safety_officer": "王应急", "safety_officer_phone": "13800138000",
                   "licence": {"number": "闽危化经 001", "expires_on": "2030-01-01"},
                   "inventory": [{"chemical": "液氨", "max_quantity": 2, "unit": "t"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{site}");
    let sid = site["id"].as_i64().expect("id");
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    let (s, insp) = app
        .post(
            &format!("/api/v1/sites/{sid}/inspections"),
            json!({"inspected_on": (today - chrono::Duration::days(3)).to_string(), "inspector_ids": app.inspectors(&["李检查", "王检查"]).await, "findings": [
                {"grade": "major", "item": "灭火器过期", "measures": "更换灭火器", "funding": "800 元",
                 "responsible": "王应急", "deadline": (today + chrono::Duration::days(5)).to_string()}
            ]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{insp}");
    let fid = insp["findings"][0]["id"].as_i64().expect("finding");
    let day = today.to_string();
    let r = web
        .post(
            &format!("/findings/{fid}/rectify"),
            &[
                ("_csrf", &csrf),
                ("version", "1"),
                ("rectified_on", &day),
                ("note", "已更换"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = web
        .post(
            &format!("/findings/{fid}/close"),
            &[
                ("_csrf", &csrf),
                ("version", "2"),
                ("closed_on", &day),
                ("closed_by", "王复查"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    // A notice: sent, answered by phone on the dashboard, escalated by the
    // system, closed.
    let (s, a) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "暴雨蓝色预警", "body": "请巡查山塘。", "level": "blue", "channels": ["sms"],
                   "ack_within_minutes": 10, "targets": {"villages": [t.village]}}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{a}");
    let aid = a["id"].as_i64().expect("id");
    app.wait_alert(aid, 20, |v| {
        let s = &v["delivery_states"];
        s["total"].as_i64().unwrap_or(0) > 0 && s["sent"] == s["total"]
    })
    .await;
    let (rid,): (i64,) =
        sqlx::query_as("SELECT id FROM alert_recipients WHERE alert_id = $1 AND contact_id = $2")
            .bind(aid)
            .bind(t.mobile)
            .fetch_one(&app.db().pool)
            .await
            .expect("recipient");
    let r = web
        .post(
            &format!("/alerts/{aid}/answer"),
            &[
                ("_csrf", &csrf),
                ("recipient_id", &rid.to_string()),
                ("note", "电话确认"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let n = app.notifier();
    fenghuo::notify::response::escalation::tick(&n, fenghuo::store::now_ms() + 60 * 60_000)
        .await
        .expect("escalate");
    let r = web
        .post(&format!("/alerts/{aid}/close"), &[("_csrf", &csrf)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    // A drill and its record, a shelter, a user's leader permission.
    let (s, d) = app
        .post(
            "/api/v1/drills",
            json!({"title": "防汛演练", "cron": "0 9 10 4 *", "villages": [t.village]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let did = d["id"].as_i64().expect("id");
    let r = web
        .post(
            &format!("/drills/{did}/records"),
            &[
                ("_csrf", &csrf),
                ("held_on", &day),
                ("participants", "林支书、王应急"),
                ("follow_up", "补充雨衣"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (s, sh) = app
        .post(
            "/api/v1/shelters",
            json!({"code": "BZ-S08-1", "name": "坑头村小学", "village_id": t.village, "location": {"lon": 117.97, "lat": 25.18},
                   "capacity": 120, "manager": "林校长", "phone": "0595-23281234", "status": "open"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sh}");
    fenghuo::accounts::users::set_leader(app.db(), "web:wang", "wang", true)
        .await
        .expect("leader");

    let page = web.get("/audit").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let body = &page.body;
    // Kept for review, as the dashboard's screenshots are.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test-artifacts/words");
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join(format!("audit-{b:?}.html")), body);
    }
    assert_no_json("/audit", body);
    // A notice-wide variable in a title is shown filled in, as stored.
    let (s, a2) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "{office}：暴雨{level}预警", "body": "请巡查山塘。", "level": "blue",
                   "channels": ["sms"], "targets": {"villages": [t.village]}}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{a2}");
    let again = web.get("/audit").await;
    assert!(
        !again.body.contains("{level}") && !again.body.contains("{office}"),
        "a raw variable in the audit log"
    );
    assert!(again.body.contains("暴雨Ⅳ级（蓝色）预警"), "{}", again.body);
    for want in [
        // Actors.
        "wang（网页）",
        "接口令牌 test-admin",
        "系统自动（升级叫应）",
        // Actions.
        "修改了 联系人 〔林支书〕",
        "新增了 场所 〔泉州某化工〕",
        "复查销号了 隐患 〔灭火器过期〕",
        "记录了 检查 〔泉州某化工 ",
        "确认收到了 预警通知 〔暴雨蓝色预警〕",
        "升级叫应了 预警通知 〔暴雨蓝色预警〕",
        "发送了 预警通知 〔暴雨蓝色预警〕",
        "结束了 预警通知 〔暴雨蓝色预警〕",
        // Fields by their Chinese names, values in words.
        "<b>手机</b> 由 <del>139 5951 2468</del> 改为 <ins>138 0013 8000</ins>",
        "<b>安全负责人电话</b>：138 0013 8000",
        "<b>销号人</b> 由 <del>（无）</del> 改为 <ins>王复查</ins>",
        "整改资金：800 元",
        "<b>收件人</b>：林支书",
        "<b>确认方式</b>：电话",
        "许可证编号：闽危化经 001",
        "化学品：液氨",
        "<b>类别</b>：危化品储存",
        "<b>风险等级</b>：重大",
        "<b>参加人员</b>：林支书、王应急",
        "<b>管理员电话</b>：0595-2328 1234",
        "<b>带班领导（签发人）</b> 由 <del>否</del> 改为 <ins>是</ins>",
        "<b>所属村</b>：坑头村",
        "<b>边界</b>：已划定边界",
    ] {
        assert!(body.contains(want), "/audit lacks {want:?}");
    }
    for gone in [
        "recipient_id",
        "web:wang",
        "token:test-admin",
        "system:escalation",
        "safety_officer_phone",
        "+8613800138000",
        ">update<",
        ">escalate<",
    ] {
        assert!(!body.contains(gone), "/audit still shows {gone:?}");
    }

    // The filter offers the actions by their Chinese names and takes either.
    assert!(body.contains("<option value=\"escalate\">升级叫应</option>"));
    for q in ["/audit?action=修改", "/audit?action=update"] {
        let r = web.get(q).await;
        assert_eq!(r.status, StatusCode::OK, "{q}");
        assert!(
            r.body
                .contains("<option value=\"update\" selected>修改</option>"),
            "{q}: the select shows the action"
        );
        assert!(r.body.contains("修改了 联系人 〔林支书〕"), "{q}");
        assert!(!r.body.contains("新增了"), "{q}: only updates");
        assert_no_json(q, &r.body);
    }
    let r = web.get("/audit?action=升级叫应").await;
    assert!(r.body.contains("升级叫应了"));
    assert!(!r.body.contains("修改了"));
    // A user's name finds what they did on the dashboard.
    let r = web.get("/audit?actor=wang").await;
    assert!(r.body.contains("修改了 联系人 〔林支书〕"));
    assert!(!r.body.contains("接口令牌 test-admin"));

    // In English too, without JSON.
    let r = web.get("/audit?lang=en").await;
    assert_no_json("/audit?lang=en", &r.body);
    assert!(r.body.contains("wang (web)"));
    assert!(
        r.body
            .contains("<b>phone</b> from <del>139 5951 2468</del> to <ins>138 0013 8000</ins>")
    );
    app.stop().await;
}
both!(the_audit_log_reads_in_words);

/// A number is found however it is typed, on the page and through the API;
/// it is shown as dialled.
async fn numbers_are_found_however_typed(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let t = town(&app, Role::Viewer).await;
    let (s, site) = app
        .post(
            "/api/v1/sites",
            json!({"name": "某烟花店", "kind": "fireworks_retail", "risk_grade": "general", "phone_24h": "0595-23281234"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{site}");
    let (web, _) = signed_in(&app).await;
    for (typed, id, name) in [
        ("139 5951 2468", t.mobile, "林支书"),
        ("13959512468", t.mobile, "林支书"),
        ("+86 139-5951-2468", t.mobile, "林支书"),
        ("0086 139 5951 2468", t.mobile, "林支书"),
        ("0595-2328 1234", t.landline, "村部座机"),
        ("0595 23281234", t.landline, "村部座机"),
        ("+86 595 2328 1234", t.landline, "村部座机"),
    ] {
        let q: String = form_urlencoded::byte_serialize(typed.as_bytes()).collect();
        let r = web.get(&format!("/contacts?q={q}")).await;
        assert_eq!(r.status, StatusCode::OK, "{typed}");
        assert!(
            r.body.contains(&format!("<td>{name}")),
            "the contacts page finds {name} by {typed:?}"
        );
        let (s, v) = app.get(&format!("/api/v1/contacts?q={q}")).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let ids: Vec<i64> = v["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|c| c["id"].as_i64())
            .collect();
        assert_eq!(ids, [id], "the API finds {name} by {typed:?}: {v}");
    }
    // A name still finds by name; a number nobody has finds nobody.
    let r = web.get("/contacts?q=%E6%9E%97%E6%94%AF%E4%B9%A6").await;
    assert!(r.body.contains("<td>林支书"));
    let (_, v) = app.get("/api/v1/contacts?q=137%200000%200000").await;
    assert_eq!(v["items"].as_array().map(Vec::len), Some(0), "{v}");

    // Shown as dialled.
    let r = web.get("/contacts").await;
    assert!(r.body.contains("<td>139 5951 2468</td>"));
    assert!(r.body.contains("<td>0595-2328 1234</td>"));
    assert!(!r.body.contains("+8613959512468"));
    let r = web.get(&format!("/villages/{}", t.village)).await;
    assert!(r.body.contains("<td>139 5951 2468</td>"));

    // The ledger finds a site by its phone, and shows it dialled.
    for typed in ["0595-2328 1234", "059523281234", "+86 595 2328 1234"] {
        let q: String = form_urlencoded::byte_serialize(typed.as_bytes()).collect();
        let r = web.get(&format!("/sites?q={q}")).await;
        assert!(
            r.body.contains("某烟花店"),
            "the ledger finds the site by {typed:?}"
        );
        assert!(r.body.contains("0595-2328 1234"));
        let (_, v) = app.get(&format!("/api/v1/sites?q={q}")).await;
        assert_eq!(v["total"].as_i64(), Some(1), "{typed}: {v}");
    }
    let r = web
        .get(&format!("/sites/{}", site["id"].as_i64().expect("id")))
        .await;
    assert!(r.body.contains("0595-2328 1234"));
    assert!(!r.body.contains("+8659523281234"));
    app.stop().await;
}
both!(numbers_are_found_however_typed);

/// What a form stores is shown where a person looks for it, with labels:
/// a finding's funding, rectification note and close-out; a drill record's
/// participants and follow-up; a contact's and a shelter's note.
async fn stored_fields_are_shown_with_labels(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let t = town(&app, Role::Editor).await;
    let (web, csrf) = signed_in(&app).await;
    let (_, site) = app
        .post(
            "/api/v1/sites",
            json!({"name": "油库", "kind": "hazchem_storage", "risk_grade": "major"}),
        )
        .await;
    let sid = site["id"].as_i64().expect("id");
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    let day = today.to_string();
    let (s, insp) = app
        .post(
            &format!("/api/v1/sites/{sid}/inspections"),
            json!({"inspected_on": (today - chrono::Duration::days(2)).to_string(), "inspector_ids": app.inspectors(&["李检查", "王检查"]).await, "findings": [
                {"grade": "general", "item": "消防通道堵塞", "measures": "清理通道", "funding": "500 元",
                 "responsible": "王应急", "reinspector": "李检查", "deadline": (today + chrono::Duration::days(5)).to_string()}
            ]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{insp}");
    let fid = insp["findings"][0]["id"].as_i64().expect("finding");
    let page = web.get(&format!("/sites/{sid}")).await;
    assert!(page.body.contains("清理通道"));
    assert!(
        page.body.contains("整改资金：500 元"),
        "the funding is shown"
    );
    assert!(
        page.body.contains("复查人：李检查"),
        "the re-inspector is labelled"
    );
    let r = web
        .post(
            &format!("/findings/{fid}/rectify"),
            &[
                ("_csrf", &csrf),
                ("version", "1"),
                ("rectified_on", &day),
                ("note", "已清理并划线"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = web.get(&format!("/sites/{sid}")).await;
    assert!(
        page.body.contains(&format!("整改：{day}，已清理并划线")),
        "the rectification and its note are labelled"
    );
    // 销号人 starts empty (not the sign-in name) and is required.
    assert!(
        page.body
            .contains("<input name=\"closed_by\" value=\"\" required"),
        "销号人 starts empty and is required"
    );
    assert!(!page.body.contains("name=\"closed_by\" value=\"wang\""));
    // With a 姓名 on the account, that is the default.
    fenghuo::accounts::users::set_full_name(app.db(), "web:wang", "wang", "王复查")
        .await
        .expect("full name");
    let page = web.get(&format!("/sites/{sid}")).await;
    assert!(
        page.body
            .contains("<input name=\"closed_by\" value=\"王复查\" required"),
        "销号人 defaults to the user's 姓名"
    );
    let r = web
        .post(
            &format!("/findings/{fid}/close"),
            &[
                ("_csrf", &csrf),
                ("version", "2"),
                ("closed_on", &day),
                ("closed_by", ""),
            ],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "an empty 销号人 is refused"
    );
    let r = web
        .post(
            &format!("/findings/{fid}/close"),
            &[
                ("_csrf", &csrf),
                ("version", "2"),
                ("closed_on", &day),
                ("closed_by", "王复查"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = web.get(&format!("/sites/{sid}")).await;
    assert!(page.body.contains(&format!("复查销号：王复查 {day}")));
    assert!(!page.body.contains(" · 王复查"), "no unlabelled trail");

    // A drill record's participants and follow-up.
    let (s, d) = app
        .post(
            "/api/v1/drills",
            json!({"title": "防汛演练", "cron": "0 9 10 4 *", "villages": [t.village], "lead_times": ["7d", "1d", "2h"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let did = d["id"].as_i64().expect("id");
    let r = web
        .post(
            &format!("/drills/{did}/records"),
            &[
                ("_csrf", &csrf),
                ("held_on", &day),
                ("participants", "林支书\n王应急"),
                ("problems", "广播听不清"),
                ("follow_up", "更换大喇叭"),
                ("site_id", &sid.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = web.get(&format!("/drills/{did}")).await;
    for want in [
        "<dt>参加人员</dt><dd class=\"participants\">林支书、王应急</dd>",
        "<dt>发现的问题</dt><dd>广播听不清</dd>",
        "<dt>整改措施</dt><dd class=\"follow-up\">更换大喇叭</dd>",
        &format!("<a href=\"/sites/{sid}\">油库</a>"),
    ] {
        assert!(page.body.contains(want), "the drill page lacks {want:?}");
    }

    // A contact's and a shelter's note.
    let (s, c) = app
        .put(
            &format!("/api/v1/contacts/{}", t.landline),
            json!({"name": "村部座机", "village_id": t.village, "roles": ["村支书"], "phone": "0595-23281234",
                   "escalation_order": 2, "note": "夜间转值班室", "version": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    let r = web.get("/contacts").await;
    assert!(r.body.contains("夜间转值班室"));
    let (s, sh) = app
        .post(
            "/api/v1/shelters",
            json!({"code": "BZ-S08-1", "name": "坑头村小学", "village_id": t.village, "location": {"lon": 117.97, "lat": 25.18},
                   "capacity": 120, "status": "open", "note": "钥匙在村部"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sh}");
    let r = web.get("/shelters").await;
    assert!(r.body.contains("钥匙在村部"));
    app.stop().await;
}
both!(stored_fields_are_shown_with_labels);

/// Codes read as words: reminder lead times, the SMS encoding, the spool,
/// CAP, village codes, the escalation order, the dispatcher role.
async fn codes_read_as_words(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let t = town(&app, Role::Admin).await;
    let (web, csrf) = signed_in(&app).await;
    let (s, d) = app
        .post(
            "/api/v1/drills",
            json!({"title": "防汛演练", "cron": "0 9 10 4 *", "villages": [t.village], "lead_times": ["7d", "1d", "2h"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let did = d["id"].as_i64().expect("id");
    let r = web.get("/drills").await;
    assert!(r.body.contains("提前7天、1天、2小时"), "{}", r.body);
    assert!(!r.body.contains("<td>7d"));
    let r = web.get(&format!("/drills/{did}")).await;
    assert!(r.body.contains("提前7天、1天、2小时提醒"));
    let r = web.get(&format!("/drills/{did}?lang=en")).await;
    assert!(r.body.contains("reminders 7 days, 1 day, 2 hours before"));
    let _ = web.get("/drills?lang=zh").await;

    // The SMS count in words, on the review step and in the live preview.
    let vid = t.village.to_string();
    let form = [
        ("_csrf", csrf.as_str()),
        ("title", "暴雨蓝色预警"),
        ("body", "请巡查山塘水库。"),
        ("level", "4"),
        ("channels", "sms"),
        ("villages", vid.as_str()),
        ("ack_within_minutes", "30"),
    ];
    let r = web.post("/alerts/new", &form).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("中文短信（每条70字）"), "{}", r.body);
    assert!(!r.body.contains("UCS-2"));
    let r = web
        .client
        .post(format!("{}/web/alerts/preview", app.base))
        .header("Cookie", web.cookie_header())
        .header("X-CSRF-Token", &csrf)
        .form(&form)
        .send()
        .await
        .expect("preview");
    let v: Value = r.json().await.expect("json");
    assert_eq!(
        v["encoding_words"]
            .as_str()
            .map(|s| s.starts_with("中文短信（每条70字）")),
        Some(true),
        "{v}"
    );
    let r = web.get("/alerts/new").await;
    assert!(r.body.contains("标准预警格式（CAP）"));

    // The spool on the overview.
    let r = web.get("/").await;
    assert!(r.body.contains("测试文件"), "the spool is named in words");
    assert!(!r.body.contains("(spool)"));

    // The escalation order: labelled, empty by default, after the village's last.
    let r = web.get("/contacts/new").await;
    assert!(r.body.contains("叫应顺序：1 最先叫应"));
    assert!(!r.body.contains("小者先"));
    assert!(!r.body.contains("value=\"100\""));
    let r = web
        .post(
            "/contacts/new",
            &[
                ("_csrf", &csrf),
                ("name", "新网格员"),
                ("roles", "网格员"),
                ("village_id", &vid),
                ("phone", "137 0000 1111"),
                ("escalation_order", ""),
                ("active", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, v) = app
        .get("/api/v1/contacts?q=%E6%96%B0%E7%BD%91%E6%A0%BC%E5%91%98")
        .await;
    assert_eq!(
        v["items"][0]["escalation_order"], 3,
        "after the village's last: {v}"
    );

    // The dispatcher role.
    fenghuo::accounts::users::create(app.db(), "test", "zhao", Role::Dispatcher, PASSWORD)
        .await
        .expect("user");
    let r = web.get("/users").await;
    assert!(r.body.contains("值班调度员"));

    // Village codes a plan names read as village names.
    std::fs::create_dir_all(&app.cfg.plans_dir).expect("plans dir");
    std::fs::write(app.cfg.plans_dir.join("flood-test.toml"), PLAN).expect("plan");
    let (s, v) = app.post("/api/v1/plans/reload", json!({})).await;
    assert!(s.is_success(), "{v}");
    let r = web.get("/plans/flood-test").await;
    assert_eq!(r.status, StatusCode::OK, "reload: {v}");
    assert!(r.body.contains("坑头村（S08）"), "{}", r.body);
    app.stop().await;
}
both!(codes_read_as_words);
