//! Every free-text field of every dashboard form, filled with markup through
//! the real forms (signed in, with the CSRF token), and every page that then
//! shows it: the markup must come back as text, never as markup. A page that
//! printed one value without escaping would run the script in an office
//! browser signed in as a dispatcher.

mod common;
#[path = "support/web_client.rs"]
mod web_client;

use common::{Backend, TestApp, square};
use fenghuo::auth::Role;
use reqwest::StatusCode;
use serde_json::json;
use web_client::{Resp, Web};

const PASSWORD: &str = "correct-horse-9";

/// Closes the element it lands in, then runs a script.
const SCRIPT: &str = "<script>alert(1)</script>";
/// Leaves an attribute value, then adds an element with a handler.
const ATTR: &str = "\"><img src=x onerror=alert(1)>";

const SCRIPT_ESCAPED: &str = "&lt;script&gt;alert(1)&lt;/script&gt;";
const ATTR_ESCAPED: &str = "&lt;img src=x onerror=alert(1)&gt;";

/// Neither payload appears as markup anywhere in the page.
fn no_markup(what: &str, r: &Resp) {
    for raw in [SCRIPT, "<img src=x onerror", "\"><img"] {
        assert!(
            !r.body.contains(raw),
            "{what}: {raw:?} came back unescaped:\n{}",
            r.body
        );
    }
}

/// The page shows the payloads in `expect`, escaped, and no markup.
fn shows_escaped(what: &str, r: &Resp, expect: &[&str]) {
    no_markup(what, r);
    for e in expect {
        let escaped = if *e == SCRIPT {
            SCRIPT_ESCAPED
        } else {
            ATTR_ESCAPED
        };
        assert!(
            r.body.contains(escaped),
            "{what}: expected {escaped:?} in the page:\n{}",
            r.body
        );
    }
}

fn both_payloads(prefix: &str) -> (String, String) {
    (format!("{prefix}{SCRIPT}"), format!("{prefix}{ATTR}"))
}

/// The sample township with the shipped plans, and an admin `wang` (who may
/// use every form).
async fn township(b: Backend) -> Option<(TestApp, Web, String)> {
    let app = TestApp::start_with(b, |c| {
        c.plans_dir = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/plans"))
    })
    .await?;
    assert!(
        fenghuo::demo::load(app.db(), chrono_tz::Asia::Shanghai)
            .await
            .expect("demo")
    );
    let (_, r) = app.post("/api/v1/plans/reload", json!({})).await;
    assert_eq!(r["problems"], json!([]), "{r}");
    fenghuo::accounts::users::create(app.db(), "test", "wang", Role::Admin, PASSWORD)
        .await
        .expect("user");
    let web = Web::new(&app.base);
    web.sign_in("wang", PASSWORD).await;
    let t = web.token().await;
    Some((app, web, t))
}

fn id_after(location: &str, prefix: &str) -> i64 {
    location
        .trim_start_matches(prefix)
        .split(['?', '#', '/'])
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no id in {location:?}"))
}

async fn markup_in_every_text_field_comes_back_as_text(b: Backend) {
    let Some((app, web, t)) = township(b).await else {
        return;
    };
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    let later = (today + chrono::Duration::days(30)).to_string();
    let earlier = (today - chrono::Duration::days(3)).to_string();

    // Sign-in: the typed name comes back after a wrong password.
    let other = Web::new(&app.base);
    let page = other.get("/login").await;
    let r = other
        .post(
            "/login",
            &[
                ("_csrf", &page.csrf()),
                ("name", &format!("x{ATTR}{SCRIPT}")),
                ("password", "wrong-password-1"),
                ("next", ATTR),
            ],
        )
        .await;
    shows_escaped("sign-in form", &r, &[SCRIPT, ATTR]);

    // Users: a refused name is kept in the form.
    let r = web
        .post(
            "/users",
            &[
                ("_csrf", &t),
                ("name", &format!("{ATTR}{SCRIPT}")),
                ("role", "viewer"),
                ("password", "long-enough-1"),
            ],
        )
        .await;
    shows_escaped("users form", &r, &[SCRIPT, ATTR]);
    shows_escaped("users list", &web.get("/users").await, &[]);

    // A village, through its form.
    let (vname, vname_en) = both_payloads("湖");
    let boundary = square(118.5, 24.5, 0.02).to_string();
    let r = web
        .post(
            "/villages/new",
            &[
                ("_csrf", &t),
                ("code", "X99"),
                ("name", &vname),
                ("name_en", &vname_en),
                ("population", "10"),
                ("boundary", &boundary),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let vid = id_after(&r.location(), "/villages/");
    // A refused village keeps what was typed.
    let r = web
        .post(
            "/villages/new",
            &[
                ("_csrf", &t),
                ("code", "X98"),
                ("name", &vname),
                ("name_en", &vname_en),
                ("boundary", SCRIPT),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    shows_escaped("village form, refused", &r, &[SCRIPT, ATTR]);

    // A shelter in that village, through its form; the list and the edit
    // form show it, and a refused one keeps what was typed.
    let (sname, saddr) = both_payloads("避灾点");
    let (smanager, snote) = both_payloads("林");
    let shelter = |code: &'static str, lon: &'static str| {
        vec![
            ("_csrf", t.clone()),
            ("code", code.to_string()),
            ("name", sname.clone()),
            ("village_id", String::new()),
            ("lon", lon.to_string()),
            ("lat", "24.51".to_string()),
            ("capacity", "100".to_string()),
            ("manager", smanager.clone()),
            ("phone", "+8613700137999".to_string()),
            ("status", "open".to_string()),
            ("address", saddr.clone()),
            ("note", snote.clone()),
        ]
    };
    let form = shelter("BZ-X99-1", "118.51");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = web.post("/shelters/new", &form).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    shows_escaped("shelter list", &web.get("/shelters").await, &[SCRIPT, ATTR]);
    let (_, list) = app.get("/api/v1/shelters").await;
    let sid = list["items"]
        .as_array()
        .expect("shelters")
        .iter()
        .find(|x| x["code"] == "BZ-X99-1")
        .and_then(|x| x["id"].as_i64())
        .expect("shelter");
    shows_escaped(
        "shelter form",
        &web.get(&format!("/shelters/{sid}/edit")).await,
        &[SCRIPT, ATTR],
    );
    let form = shelter("BZ X", "118.51");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = web.post("/shelters/new", &form).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    shows_escaped("shelter form, refused", &r, &[SCRIPT, ATTR]);

    // A message template: on its list, its form, the preview and the
    // compose page's picker (in attributes there).
    let (tname, ttitle) = both_payloads("模板");
    let tbody = format!("〔姓名〕：{SCRIPT}{ATTR}");
    let template_form = |name: &str| {
        vec![
            ("_csrf", t.clone()),
            ("name", name.to_string()),
            ("category", "flood".to_string()),
            ("title", ttitle.clone()),
            ("body", tbody.clone()),
            ("channels", "sms".to_string()),
        ]
    };
    let form = template_form(&tname);
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = web.post("/message-templates/new", &form).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    shows_escaped(
        "template list",
        &web.get("/message-templates").await,
        &[SCRIPT, ATTR],
    );
    let (_, list) = app.get("/api/v1/message-templates").await;
    let tid = list["items"]
        .as_array()
        .expect("templates")
        .iter()
        .find(|x| x["name"] == tname.as_str())
        .and_then(|x| x["id"].as_i64())
        .expect("template");
    shows_escaped(
        "template form",
        &web.get(&format!("/message-templates/{tid}/edit")).await,
        &[SCRIPT, ATTR],
    );
    shows_escaped(
        "compose page's picker",
        &web.get("/alerts/new").await,
        &[SCRIPT, ATTR],
    );
    shows_escaped(
        "compose page from a template",
        &web.get(&format!("/alerts/new?template={tid}")).await,
        &[SCRIPT, ATTR],
    );
    let mut form = template_form(&tname);
    form.push(("_preview", "1".to_string()));
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = web.post("/message-templates/new", &form).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("id=\"template-preview\""), "{}", r.body);
    shows_escaped("template preview", &r, &[SCRIPT, ATTR]);
    let form = template_form(&tname);
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = web.post("/message-templates/new", &form).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body.contains("id=\"err-name\""),
        "the name is taken: {}",
        r.body
    );
    shows_escaped("template form, refused", &r, &[SCRIPT, ATTR]);

    // A shift of the duty roster, two months ahead (clear of the sample
    // roster), and a handover.
    let (snote, _) = both_payloads("班");
    let (_, hnote) = both_payloads("交");
    let shift_day = (today + chrono::Duration::days(60)).to_string();
    let r = web
        .post(
            "/duty/shifts/new",
            &[
                ("_csrf", t.as_str()),
                ("date", shift_day.as_str()),
                ("kind", "day"),
                ("note", snote.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    shows_escaped(
        "duty roster",
        &web.get(&format!("/duty?from={shift_day}")).await,
        &[SCRIPT],
    );
    let (_, shifts) = app
        .get(&format!(
            "/api/v1/duty-shifts?from={shift_day}&to={shift_day}"
        ))
        .await;
    let shift_id = shifts["items"][0]["id"].as_i64().expect("shift");
    shows_escaped(
        "shift form",
        &web.get(&format!("/duty/shifts/{shift_id}/edit")).await,
        &[SCRIPT],
    );
    let (_, duty) = app.get("/api/v1/contacts?role=应急办值班").await;
    let officers: Vec<String> = duty["items"]
        .as_array()
        .expect("duty officers")
        .iter()
        .filter_map(|c| c["id"].as_i64())
        .map(|i| i.to_string())
        .collect();
    let handover = |to: &str| {
        vec![
            ("_csrf", t.clone()),
            ("from_contact_id", officers[0].clone()),
            ("to_contact_id", to.to_string()),
            ("at", String::new()),
            ("notes", hnote.clone()),
        ]
    };
    let form = handover(&officers[0]);
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = web.post("/duty/handovers", &form).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    shows_escaped("handover form, refused", &r, &[ATTR]);
    let form = handover(&officers[1]);
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = web.post("/duty/handovers", &form).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    shows_escaped("handovers", &web.get("/duty").await, &[ATTR]);

    // A contact in that village.
    let (cname, cnote) = both_payloads("张");
    let vid_s = vid.to_string();
    let r = web
        .post(
            "/contacts/new",
            &[
                ("_csrf", &t),
                ("name", &cname),
                ("roles", "村支书"),
                ("village_id", &vid_s),
                ("phone", "+8613800138999"),
                ("escalation_order", "1"),
                ("active", "1"),
                ("note", &cnote),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, cs) = app.get(&format!("/api/v1/contacts?village_id={vid}")).await;
    let cid = cs["items"][0]["id"].as_i64().expect("contact");
    // A refused contact (bad e-mail) keeps what was typed.
    let r = web
        .post(
            "/contacts/new",
            &[
                ("_csrf", &t),
                ("name", &cname),
                ("roles", "村支书"),
                ("phone", "+8613800138998"),
                ("email", ATTR),
                ("note", &cnote),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    shows_escaped("contact form, refused", &r, &[SCRIPT, ATTR]);

    // A site in the ledger, with every text field and an inventory line.
    let (p1, p2) = both_payloads("");
    let site_form = vec![
        ("_csrf", t.as_str()),
        ("name", vname.as_str()),
        ("kind", "hazchem_storage"),
        ("risk_grade", "major"),
        ("status", "active"),
        ("address", p2.as_str()),
        ("lon", "118.51"),
        ("lat", "24.51"),
        ("legal_representative", p1.as_str()),
        ("safety_officer", p2.as_str()),
        ("safety_officer_phone", "+8613800138997"),
        ("licence_number", p1.as_str()),
        ("licence_kind", p2.as_str()),
        ("licence_issuer", p1.as_str()),
        ("max_stock", "5"),
        ("max_stock_unit", "t"),
        ("note", p1.as_str()),
        ("inv0_chemical", p1.as_str()),
        ("inv0_hazard_class", p2.as_str()),
        ("inv0_max_quantity", "1"),
        ("inv0_unit", "t"),
    ];
    let r = web.post("/sites/new", &site_form).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let sid = id_after(&r.location(), "/sites/");
    let mut bad = site_form.clone();
    bad.push(("inv1_chemical", p1.as_str()));
    bad.push(("inv1_max_quantity", p2.as_str()));
    let r = web.post("/sites/new", &bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    shows_escaped("site form, refused", &r, &[SCRIPT, ATTR]);

    // An inspection with a finding, every text column filled, by two
    // inspectors whose names are markup.
    let team = app
        .inspectors(&[&format!("李{SCRIPT}"), &format!("王{ATTR}")])
        .await;
    let (i1, i2) = (team[0].to_string(), team[1].to_string());
    let r = web
        .post(
            &format!("/sites/{sid}/inspections/new"),
            &[
                ("_csrf", &t),
                ("inspected_on", &earlier),
                ("inspector_ids", &i1),
                ("inspector_ids", &i2),
                ("summary", &p2),
                ("f0_grade", "major"),
                ("f0_item", &p1),
                ("f0_description", &p2),
                ("f0_measures", &p1),
                ("f0_funding", &p2),
                ("f0_responsible", &p1),
                ("f0_deadline", &later),
                ("f0_reinspector", &p2),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = web
        .post(
            &format!("/sites/{sid}/inspections/new"),
            &[
                ("_csrf", &t),
                ("inspected_on", &earlier),
                ("inspector_ids", &i1),
                ("f0_item", &p2),
                ("f0_deadline", SCRIPT),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    shows_escaped("inspection form, refused", &r, &[SCRIPT, ATTR]);
    let (_, insp) = app.get(&format!("/api/v1/sites/{sid}/inspections")).await;
    let fid = insp["items"][0]["findings"][0]["id"]
        .as_i64()
        .expect("finding");
    // Rectified with a note, closed out by a re-inspector; a refused step
    // shows what was typed at its finding.
    let r = web
        .post(
            &format!("/findings/{fid}/rectify"),
            &[
                ("_csrf", &t),
                ("version", "1"),
                ("rectified_on", SCRIPT),
                ("note", &p2),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    shows_escaped("finding step, refused", &r, &[SCRIPT, ATTR]);
    let r = web
        .post(
            &format!("/findings/{fid}/rectify"),
            &[
                ("_csrf", &t),
                ("version", "1"),
                ("rectified_on", &today.to_string()),
                ("note", &p1),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = web
        .post(
            &format!("/findings/{fid}/close"),
            &[
                ("_csrf", &t),
                ("version", "2"),
                ("closed_on", &today.to_string()),
                ("closed_by", &p2),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // Its dispositions, its documents and the supervision list.
    let r = web
        .post(
            &format!("/findings/{fid}/dispositions"),
            &[
                ("_csrf", &t),
                ("kind", "first_offence_exempt"),
                ("decided_on", &today.to_string()),
                ("decided_by", &p1),
                ("note", &p2),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    shows_escaped("disposition form, refused", &r, &[SCRIPT, ATTR]);
    let r = web
        .post(
            &format!("/findings/{fid}/dispositions"),
            &[
                ("_csrf", &t),
                ("kind", "minor_exempt"),
                ("decided_on", &today.to_string()),
                ("decided_by", &p1),
                ("note", &p2),
                ("exemption_item", &p1),
                ("document_ref", &p2),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = web.get(&format!("/findings/{fid}")).await;
    shows_escaped("a finding's page", &r, &[SCRIPT, ATTR]);
    let iid = insp["items"][0]["id"].as_i64().expect("inspection");
    let r = web.get(&format!("/inspections/{iid}")).await;
    shows_escaped("an inspection's page", &r, &[SCRIPT]);
    let r = web
        .post(
            &format!("/inspections/{iid}/documents"),
            &[("_csrf", &t), ("kind", "inspection_record")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = web.get(&r.location()).await;
    shows_escaped("a document", &r, &[SCRIPT, ATTR]);
    let r = web.get("/supervision?all=1").await;
    shows_escaped("the supervision list", &r, &[SCRIPT]);

    // Observations: a reading that is not a number is shown in its message.
    let r = web
        .post(
            "/observations",
            &[
                ("_csrf", &t),
                ("kind", "rainfall"),
                ("window_hours", "1"),
                ("mm", &p1),
                ("hectares", &p2),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    shows_escaped("observation form, refused", &r, &[SCRIPT, ATTR]);

    // A notice to the new village, reviewed then sent.
    let (title, body) = both_payloads("暴雨");
    let notice = [
        ("_csrf", t.as_str()),
        ("title", title.as_str()),
        ("body", body.as_str()),
        ("level", "3"),
        ("channels", "sms"),
        ("villages", vid_s.as_str()),
        ("ack_within_minutes", "30"),
    ];
    let r = web.post("/alerts/new", &notice).await;
    shows_escaped("notice review", &r, &[SCRIPT, ATTR]);
    let r = web.post("/alerts/send", &notice).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let aid = id_after(&r.location(), "/alerts/");
    let mut refused = notice.to_vec();
    refused.retain(|(k, _)| *k != "ack_within_minutes");
    refused.push(("ack_within_minutes", ATTR));
    let r = web.post("/alerts/send", &refused).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    shows_escaped("notice form, refused", &r, &[SCRIPT, ATTR]);

    // A public notice awaiting sign-off, rejected by a leader with a reason.
    let mut public = notice.to_vec();
    public.push(("public", "1"));
    let r = web.post("/alerts/send", &public).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let pid = id_after(&r.location(), "/alerts/");
    fenghuo::accounts::users::create(app.db(), "test", "zhao", Role::Viewer, PASSWORD)
        .await
        .expect("leader");
    fenghuo::accounts::users::set_leader(app.db(), "test", "zhao", true)
        .await
        .expect("leader permission");
    let leader = Web::new(&app.base);
    leader.sign_in("zhao", PASSWORD).await;
    let lt = leader.token().await;
    let r = leader.get("/signoff").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    shows_escaped("sign-off page", &r, &[SCRIPT, ATTR]);
    let r = leader
        .post(
            &format!("/alerts/{pid}/reject"),
            &[("_csrf", lt.as_str()), ("reason", p1.as_str())],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = leader.get(&format!("/alerts/{pid}")).await;
    shows_escaped("rejected public notice", &r, &[SCRIPT, ATTR]);
    let r = leader.get("/public/").await;
    no_markup("public page", &r);

    // A plan activated with a note, raised and stood down with notes: the
    // incident's timeline shows them.
    let r = web
        .post(
            "/plans/flood-typhoon/activate",
            &[
                ("_csrf", &t),
                ("level", "4"),
                ("exercise", "1"),
                ("note", &p1),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    shows_escaped("activation form, refused", &r, &[SCRIPT]);
    // The preview carries the note to its confirm button, escaped.
    let r = web
        .post(
            "/plans/flood-typhoon/activate",
            &[
                ("_csrf", &t),
                ("level", "4"),
                ("exercise", "1"),
                ("villages", &vid_s),
                ("note", &p1),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    shows_escaped("activation preview", &r, &[SCRIPT]);
    let r = web
        .post(
            "/plans/flood-typhoon/activate",
            &[
                ("_csrf", &t),
                ("level", "4"),
                ("exercise", "1"),
                ("villages", &vid_s),
                ("note", &p1),
                ("confirm", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let incident = r.location();
    let r = web
        .post(
            &format!("{incident}/level"),
            &[("_csrf", &t), ("level", "3"), ("note", &p2)],
        )
        .await;
    assert!(
        r.status.is_redirection() || r.status.is_success(),
        "{}",
        r.body
    );
    no_markup("level change", &r);

    // A drill record.
    let (_, drills) = app.get("/api/v1/drills").await;
    let did = drills["items"][0]["id"].as_i64().expect("a drill");
    let r = web
        .post(
            &format!("/drills/{did}/records"),
            &[
                ("_csrf", &t),
                ("held_on", &earlier),
                ("participants", &format!("张{SCRIPT}\n李{ATTR}")),
                ("duration_minutes", "40"),
                ("problems", &p1),
                ("follow_up", &p2),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = web
        .post(
            &format!("/drills/{did}/records"),
            &[
                ("_csrf", &t),
                ("held_on", &earlier),
                ("participants", &p1),
                ("duration_minutes", &p2),
                ("problems", &p1),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    shows_escaped("drill record form, refused", &r, &[SCRIPT, ATTR]);

    // Every page that shows what was saved (and those that might).
    let both = &[SCRIPT, ATTR][..];
    let script = &[SCRIPT][..];
    let attr = &[ATTR][..];
    let none = &[][..];
    for (path, expect) in [
        ("/villages".to_string(), both),
        (format!("/villages/{vid}"), both),
        (format!("/villages/{vid}/edit"), both),
        ("/contacts".to_string(), script),
        (format!("/contacts?village_id={vid}"), script),
        (format!("/contacts/{cid}/edit"), both),
        ("/sites".to_string(), script),
        (format!("/sites/{sid}"), both),
        (format!("/sites/{sid}/edit"), both),
        (format!("/sites/{sid}/inspections/new"), script),
        ("/alerts".to_string(), script),
        (format!("/alerts/{aid}"), both),
        (format!("/web/alerts/{aid}/board"), script),
        (incident.clone(), none),
        (format!("/drills/{did}"), script),
        ("/audit".to_string(), both),
        ("/audit?entity=site".to_string(), both),
        ("/".to_string(), script),
        ("/worklist".to_string(), none),
        ("/observations".to_string(), script),
        ("/map".to_string(), none),
        ("/plans".to_string(), none),
        ("/plans/flood-typhoon".to_string(), script),
        ("/drills".to_string(), none),
        ("/users".to_string(), none),
        (format!("/sites?q={}", urlencode(&p1)), script),
        (format!("/contacts?q={}", urlencode(&p2)), both),
        (format!("/audit?actor={}", urlencode(&p1)), script),
        (format!("/map?site={}", urlencode(&p2)), attr),
    ] {
        let r = web.get(&path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
        shows_escaped(&path, &r, expect);
    }
    for lang in ["en", "zh"] {
        let r = web.get(&format!("/sites/{sid}?lang={lang}")).await;
        shows_escaped("site in each language", &r, both);
    }

    // A report upward of the sample incident: its words on the printable page.
    let (inc,): (i64,) =
        sqlx::query_as("SELECT MIN(id) FROM incidents WHERE opened_by = 'demo-loader'")
            .fetch_one(&app.db().pool)
            .await
            .expect("the sample incident");
    let (p1, p2) = both_payloads("报");
    let r = web
        .post(
            &format!("/incidents/{inc}/reports"),
            &[
                ("_csrf", &t),
                ("kind", "followup"),
                ("situation", &p1),
                ("handling", &p2),
                ("reporter", &p2),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = web.get(&r.location()).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    shows_escaped("incident report", &page, both);
    // Refused (a negative figure), what was typed comes back as text.
    let r = web
        .post(
            &format!("/incidents/{inc}/reports"),
            &[
                ("_csrf", &t),
                ("kind", "followup"),
                ("deaths", "-1"),
                ("situation", &p1),
                ("reporter", &p2),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    shows_escaped("incident report form", &r, both);
    app.stop().await;
}
both!(markup_in_every_text_field_comes_back_as_text);

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
