//! 双随机、一公开 (issue 20) on both backends: inspectors registered with
//! their certificates; a plan drawn once (a second draw refused) and
//! recomputed from what `/public/draws/{id}.json` publishes by an
//! independent re-implementation here; recusals (home village, declared
//! conflict) respected and too few eligible refused naming the site; an
//! inspection by one inspector, or with an expired certificate, refused
//! naming `inspector_ids`; the public pages show the draw and, once
//! inspected, its outcome, without phones. And, in-process, the draw's
//! distribution over 10,000 seeds within a chi-square bound.

mod common;
#[path = "support/web_client.rs"]
mod web_client;

use std::collections::HashMap;

use chacha20::ChaCha20Rng;
use common::{Backend, TestApp, square};
use fenghuo::auth::Role;
use fenghuo::enforcement::draws::{self, Candidate, Object};
use rand_core::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use web_client::Web;

const PHONE: &str = "13712345678";

fn today() -> chrono::NaiveDate {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
}

fn day(n: i64) -> String {
    (today() + chrono::Duration::days(n)).to_string()
}

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id in {v}"))
}

fn ids(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .filter_map(Value::as_i64)
        .collect()
}

/// The independent re-implementation of the published algorithm.
mod again {
    use super::*;

    fn below(rng: &mut ChaCha20Rng, n: u64) -> u64 {
        // 2^64 mod n, then reject the incomplete last block.
        let r = ((u128::from(u64::MAX) + 1) % u128::from(n)) as u64;
        loop {
            let x = rng.next_u64();
            if u128::from(x) < (u128::from(u64::MAX) + 1) - u128::from(r) {
                return x % n;
            }
        }
    }

    pub fn seed(canonical: &str, public_value: &str) -> String {
        let mut h = Sha256::new();
        h.update(format!("{canonical}public={public_value}").as_bytes());
        hex::encode(h.finalize())
    }

    pub fn canonical(objects: &[i64], inspectors: &[i64], count: usize, team: usize) -> String {
        let join = |v: &[i64]| {
            let mut v = v.to_vec();
            v.sort();
            v.iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        format!(
            "fenghuo-draw-v1\nobjects={}\ninspectors={}\ncount={count}\nteam={team}\n",
            join(objects),
            join(inspectors)
        )
    }

    /// (site, team) in the order drawn.
    pub fn picks(
        seed_hex: &str,
        objects: &[i64],
        pool: &[i64],
        recused: &HashMap<i64, Vec<i64>>,
        count: usize,
        team: usize,
    ) -> Vec<(i64, Vec<i64>)> {
        let bytes = hex::decode(seed_hex).expect("hex seed");
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&bytes);
        let mut rng = ChaCha20Rng::from_seed(seed);
        let mut l = objects.to_vec();
        l.sort();
        let n = l.len();
        for i in 0..count {
            let j = i + below(&mut rng, (n - i) as u64) as usize;
            l.swap(i, j);
        }
        let mut out = Vec::new();
        for site in &l[..count] {
            let mut e: Vec<i64> = pool
                .iter()
                .copied()
                .filter(|p| !recused.get(site).is_some_and(|r| r.contains(p)))
                .collect();
            e.sort();
            let m = e.len();
            for i in 0..team {
                let j = i + below(&mut rng, (m - i) as u64) as usize;
                e.swap(i, j);
            }
            out.push((*site, e[..team].to_vec()));
        }
        out
    }
}

async fn inspector(app: &TestApp, body: Value) -> (StatusCode, Value) {
    app.post("/api/v1/inspectors", body).await
}

async fn plain_get(app: &TestApp, path: &str) -> (StatusCode, String) {
    let r = reqwest::get(format!("{}{path}", app.base))
        .await
        .expect("get");
    let s = r.status();
    (s, r.text().await.expect("body"))
}

async fn draw_published_and_recomputed(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    // Two villages, six fireworks shops (three each) and a chemical store.
    let mut villages = Vec::new();
    for (i, code) in ["D01", "D02"].iter().enumerate() {
        let (s, v) = app
            .post(
                "/api/v1/villages",
                json!({"code": code, "name": format!("抽查{i}村"), "boundary": square(118.0 + i as f64 * 0.1, 25.0, 0.05)}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        villages.push(id(&v));
    }
    let mut sites = Vec::new();
    for n in 0..7 {
        let v = n % 2;
        let kind = if n == 6 {
            "hazchem_storage"
        } else {
            "fireworks_retail"
        };
        let (s, site) = app
            .post(
                "/api/v1/sites",
                json!({"name": format!("抽查对象{n}号店"), "kind": kind, "risk_grade": "general",
                       "location": {"lon": 118.01 + v as f64 * 0.1 + n as f64 * 0.001, "lat": 25.01},
                       "village_id": villages[v]}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{site}");
        sites.push(id(&site));
    }
    // Inspectors: A lives in the first village, B declared a conflict with
    // the third shop, C and D neither; E's certificate expired.
    let mk = |name: &str, cert: &str, extra: Value| {
        let mut b = json!({"name": name, "certificate_no": cert, "unit": "镇安监站",
                           "valid_from": day(-700), "valid_until": day(700)});
        if let (Some(b), Some(x)) = (b.as_object_mut(), extra.as_object()) {
            for (k, v) in x {
                b.insert(k.clone(), v.clone());
            }
        }
        b
    };
    let mut pool = Vec::new();
    for (name, cert, extra) in [
        (
            "甲执法",
            "闽A001",
            json!({"home_village_id": villages[0], "phone": PHONE}),
        ),
        ("乙执法", "闽A002", json!({"conflict_site_ids": [sites[2]]})),
        ("丙执法", "闽A003", json!({})),
        ("丁执法", "闽A004", json!({"unit": "县应急局"})),
    ] {
        let (s, v) = inspector(&app, mk(name, cert, extra)).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        pool.push(id(&v));
    }
    let (a, b) = (pool[0], pool[1]);
    let (s, v) = inspector(&app, mk("丙执法", "闽A003", json!({}))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "certificate_no", "{v}");
    let (s, e) = inspector(
        &app,
        json!({"name": "戊执法", "certificate_no": "闽A005", "unit": "镇综合执法队",
               "valid_from": day(-900), "valid_until": day(-1)}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    let expired = id(&e);

    // A pool with an expired certificate is refused.
    let plan = |pool: Vec<i64>| {
        json!({"title": "本月烟花爆竹零售店双随机抽查", "period_from": day(-1), "period_to": day(30),
               "site_kinds": ["fireworks_retail"], "object_count": 3, "inspector_ids": pool, "team_size": 2})
    };
    let (s, v) = app
        .post("/api/v1/draw-plans", plan(vec![pool[2], expired]))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "inspector_ids", "{v}");

    let (s, p) = app.post("/api/v1/draw-plans", plan(pool.clone())).await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let pid = id(&p);
    assert!(p["draw"].is_null(), "{p}");
    // The public page does not show an undrawn plan.
    let (s, _) = plain_get(&app, &format!("/public/draws/{pid}.json")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let public_value = "2026年第138期体彩 07 12 19 24 31";
    let (s, d) = app
        .post(
            &format!("/api/v1/draw-plans/{pid}/draw"),
            json!({"public_value": public_value}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{d}");
    let (s, again_v) = app
        .post(&format!("/api/v1/draw-plans/{pid}/draw"), json!({}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "a plan is drawn once: {again_v}");
    let (_, same) = app.get(&format!("/api/v1/draw-plans/{pid}")).await;
    assert_eq!(same["draw"]["seed"], d["draw"]["seed"], "the draw kept");

    // Recomputed from the public JSON alone.
    let (s, text) = plain_get(&app, &format!("/public/draws/{pid}.json")).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    assert!(!text.contains(PHONE), "no phones: {text}");
    assert!(!text.contains("home_village"), "no home villages: {text}");
    let j: Value = serde_json::from_str(&text).expect("json");
    let objects = ids(&j["object_ids"]);
    let mut fireworks: Vec<i64> = sites[..6].to_vec();
    fireworks.sort();
    assert_eq!(objects, fireworks, "the filter froze the six shops");
    let inspectors = ids(&j["inspector_ids"]);
    let count = j["count"].as_u64().expect("count") as usize;
    let team = j["team_size"].as_u64().expect("team") as usize;
    assert_eq!((count, team), (3, 2));
    let canonical = again::canonical(&objects, &inspectors, count, team);
    assert_eq!(j["canonical"], canonical.as_str());
    assert_eq!(j["public_value"], public_value);
    let seed = again::seed(&canonical, public_value);
    assert_eq!(j["seed"], seed.as_str());
    let recused: HashMap<i64, Vec<i64>> = j["picks"]
        .as_array()
        .expect("picks")
        .iter()
        .map(|p| (p["site_id"].as_i64().expect("site"), ids(&p["recused"])))
        .collect();
    let want = again::picks(&seed, &objects, &inspectors, &recused, count, team);
    let got: Vec<(i64, Vec<i64>)> = j["picks"]
        .as_array()
        .expect("picks")
        .iter()
        .map(|p| {
            (
                p["site_id"].as_i64().expect("site"),
                ids(&p["inspector_ids"]),
            )
        })
        .collect();
    assert_eq!(got, want, "recomputed from the published seed and lists");
    // Recusals are the home village's sites and the declared conflict.
    for (site, team) in &got {
        let first_village = sites.iter().position(|s| s == site).expect("site") % 2 == 0;
        let r = &recused[site];
        assert_eq!(r.contains(&a), first_village, "A recuses in their village");
        assert_eq!(r.contains(&b), *site == sites[2], "B's conflict");
        assert!(team.iter().all(|t| !r.contains(t)), "{site}: {team:?}");
    }

    // An inspection of a drawn site: one inspector refused, an expired one
    // refused, two valid ones recorded; the outcome is then published.
    let (first, crew) = got[0].clone();
    let path = format!("/api/v1/sites/{first}/inspections");
    let (s, v) = app
        .post(
            &path,
            json!({"inspected_on": day(0), "inspector_ids": [crew[0]]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "inspector_ids", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("至少 2 名"),
        "{v}"
    );
    let (s, v) = app
        .post(
            &path,
            json!({"inspected_on": day(0), "inspector_ids": [crew[0], expired]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "inspector_ids", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("闽A005"),
        "the expired certificate named: {v}"
    );
    let (s, v) = app
        .post(
            &path,
            json!({"inspected_on": day(0), "inspector_ids": crew, "findings": [
                {"grade": "major", "item": "超量储存烟花爆竹", "deadline": day(7)}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(ids(&v["inspector_ids"]).len(), 2, "{v}");
    assert!(
        v["inspectors"][0]
            .as_str()
            .unwrap_or("")
            .contains("（闽A00"),
        "姓名（执法证号） kept: {v}"
    );
    let (_, text) = plain_get(&app, &format!("/public/draws/{pid}.json")).await;
    let j: Value = serde_json::from_str(&text).expect("json");
    let outcome = &j["picks"][0]["outcome"];
    assert_eq!(outcome["findings"], 1, "{j}");
    assert_eq!(outcome["major"], true);
    assert_eq!(outcome["rectified"], false);
    assert!(j["picks"][1]["outcome"].is_null(), "not inspected yet");

    // The public pages: the draw, its seed and pairs; no phones.
    let (s, page) = plain_get(&app, "/public/").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("本月烟花爆竹零售店双随机抽查"), "{page}");
    assert!(page.contains(seed.as_str()), "the seed published");
    assert!(!page.contains(PHONE), "no phones on /public/");
    let (s, page) = plain_get(&app, &format!("/public/draws/{pid}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("甲执法") || page.contains("乙执法") || page.contains("丙执法"));
    assert!(page.contains("闽A00"), "certificate numbers are public");
    assert!(
        page.contains("ChaCha20") && page.contains("SHA-256"),
        "the method"
    );
    assert!(!page.contains(PHONE), "no phones on the draw's page");
    // The time of the draw as a person reads it; RFC 3339 stays in the JSON.
    let drawn_at = j["drawn_at"].as_str().expect("drawn_at");
    assert!(drawn_at.contains('T'), "{drawn_at}");
    let shown = drawn_at[..19].replacen('T', " ", 1);
    for path in ["/public/".to_string(), format!("/public/draws/{pid}")] {
        let (_, page) = plain_get(&app, &path).await;
        assert!(page.contains(&shown), "{path}: {shown}");
        assert!(!page.contains(drawn_at), "{path}: {drawn_at}");
    }

    // Too few eligible: the first village's shops with a pool of A and C.
    let (s, p2) = app
        .post(
            "/api/v1/draw-plans",
            json!({"title": "甲村专项", "period_from": day(0), "period_to": day(10),
                   "village_ids": [villages[0]], "object_count": 1, "inspector_ids": [a, pool[2]]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{p2}");
    let (s, v) = app
        .post(&format!("/api/v1/draw-plans/{}/draw", id(&p2)), json!({}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "inspector_ids", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("抽查对象"),
        "the site is named: {v}"
    );
    let (_, p2) = app.get(&format!("/api/v1/draw-plans/{}", id(&p2))).await;
    assert!(p2["draw"].is_null(), "a refused draw stores nothing");

    // The dashboard: the plan's page shows the result; a second 抽取 is refused.
    fenghuo::accounts::users::create(
        app.db(),
        "test",
        "diaodu",
        Role::Dispatcher,
        "口令很长很长很长",
    )
    .await
    .expect("user");
    let web = Web::new(&app.base);
    web.sign_in("diaodu", "口令很长很长很长").await;
    let t = web.token().await;
    let r = web.get(&format!("/draws/{pid}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains(seed.as_str()), "{}", r.body);
    assert!(
        !r.body.contains("id=\"draw-form\""),
        "no 抽取 button once drawn"
    );
    let r = web
        .post(&format!("/draws/{pid}/draw"), &[("_csrf", &t)])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let r = web.get("/inspectors").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("戊执法") && r.body.contains("已失效"),
        "{}",
        r.body
    );
    app.stop().await;
}
both!(draw_published_and_recomputed);

/// 10,000 draws of 3 of 10 objects: each object's count is uniform within
/// the chi-square bound (0.999 quantile, 9 degrees of freedom).
#[test]
fn draws_are_uniform() {
    const DRAWS: usize = 10_000;
    const N: usize = 10;
    const K: usize = 3;
    // χ²(0.999; 9).
    const CRITICAL: f64 = 27.877;
    let objects: Vec<Object> = (1..=N as i64)
        .map(|id| Object {
            id,
            village_id: None,
        })
        .collect();
    let pool: Vec<Candidate> = (100..104)
        .map(|id| Candidate {
            id,
            home_village_id: None,
            conflict_site_ids: Vec::new(),
        })
        .collect();
    let mut counts = [0u64; N];
    let mut first = [0u64; N];
    for i in 0..DRAWS {
        let seed = draws::seed("uniformity\n", &i.to_string());
        let picks = draws::draw(seed, &objects, &pool, K, 2).expect("draw");
        assert_eq!(picks.len(), K);
        for p in &picks {
            counts[(p.site_id - 1) as usize] += 1;
        }
        first[(picks[0].site_id - 1) as usize] += 1;
    }
    let chi = |obs: &[u64], expected: f64| -> f64 {
        obs.iter()
            .map(|&o| (o as f64 - expected).powi(2) / expected)
            .sum()
    };
    let all = chi(&counts, (DRAWS * K) as f64 / N as f64);
    assert!(all < CRITICAL, "χ² {all} over {counts:?}");
    // The first pick alone is uniform too (order matters for the teams).
    let lead = chi(&first, DRAWS as f64 / N as f64);
    assert!(lead < CRITICAL, "χ² {lead} over {first:?}");
}

/// Over many seeds, an inspector is never drawn for a site in their home
/// village or one they declared; too few eligible fails naming the site.
#[test]
fn recusals_hold_over_many_seeds() {
    let objects: Vec<Object> = (1..=8)
        .map(|id| Object {
            id,
            village_id: Some(id % 2),
        })
        .collect();
    let pool = vec![
        Candidate {
            id: 1,
            home_village_id: Some(0),
            conflict_site_ids: vec![],
        },
        Candidate {
            id: 2,
            home_village_id: None,
            conflict_site_ids: vec![3, 5],
        },
        Candidate {
            id: 3,
            home_village_id: Some(1),
            conflict_site_ids: vec![],
        },
        Candidate {
            id: 4,
            home_village_id: None,
            conflict_site_ids: vec![],
        },
    ];
    for i in 0..2000 {
        let seed = draws::seed("recusals\n", &i.to_string());
        for p in draws::draw(seed, &objects, &pool, 8, 2).expect("draw") {
            let village = p.site_id % 2;
            for who in &p.inspector_ids {
                let c = &pool[(*who - 1) as usize];
                assert_ne!(c.home_village_id, Some(village), "{p:?}");
                assert!(!c.conflict_site_ids.contains(&p.site_id), "{p:?}");
            }
        }
    }
    // Site 3 (village 1): 2 and 3 recuse; a team of 3 cannot be found.
    let err = draws::draw([9; 32], &objects[2..3], &pool, 1, 3).expect_err("too few");
    assert!(err.to_string().contains("site 3"), "{err}");
}
