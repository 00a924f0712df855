//! `--only county`: one deployment for a whole county. A county-sized
//! dataset — 24 townships of 12 villages each, 300,000 contacts and 20,000
//! sites, every record in its township — and the pages an office reads
//! most, at 16 connections: the ledger and contact lists and the worklist
//! through the API, the dashboard's overview and ledger page.

use std::time::Instant;

use super::{BResult, Backend, Bench, Table, load, ms, seed, wrk};
use fenghuo::auth::Role;
use fenghuo::store::Db;

pub const TOWNSHIPS: usize = 24;
pub const VILLAGES_PER_TOWNSHIP: usize = 12;
pub const CONTACTS: usize = 300_000;
pub const SITES: usize = 20_000;
const CONNECTIONS: usize = 16;

impl Bench {
    pub(super) async fn county(&mut self, b: Backend) -> BResult<()> {
        let url = self.new_database(b, "county").await?;
        let db = Db::connect(&url, 8).await?;
        let started = Instant::now();
        seed::county(&db, TOWNSHIPS, VILLAGES_PER_TOWNSHIP, CONTACTS, SITES).await?;
        let seeded = started.elapsed();
        let d = self
            .start_daemon(&format!("county-{}", b.name()), &url)
            .await?;
        // The county bureau reads across every township: its token and its
        // dashboard user are county-scoped, so each request runs through
        // the scoped path (row-level security on PostgreSQL).
        let (_, token) = fenghuo::auth::create_scoped_token(
            &db,
            "bench-county",
            Role::Admin,
            false,
            &fenghuo::store::Scope::County,
            1,
        )
        .await?;
        let password = "bench-county-password";
        fenghuo::accounts::users::create(&db, "bench", "bench-office", Role::Viewer, password)
            .await
            .map_err(|e| format!("bench user: {e}"))?;
        sqlx::query("UPDATE users SET scope = 'county' WHERE name = 'bench-office'")
            .execute(&db.pool)
            .await?;
        let cookie = self.sign_in(&d.base, "bench-office", password).await?;
        let pages = SITES.div_ceil(50);
        let (first_village, last_village): (i64, i64) =
            sqlx::query_as("SELECT MIN(id), MAX(id) FROM villages")
                .fetch_one(&db.pool)
                .await?;
        let requests: [(&str, String, String); 8] = [
            (
                "API: GET /sites?page=random (50 a page)",
                format!("\"/api/v1/sites?per_page=50&page=\" .. math.random(1, {pages})"),
                format!("wrk.headers[\"Authorization\"] = \"Bearer {token}\"\n"),
            ),
            (
                "API: GET /contacts?village_id=random (a village's people)",
                format!(
                    "\"/api/v1/contacts?per_page=50&village_id=\" .. math.random({first_village}, {last_village})"
                ),
                format!("wrk.headers[\"Authorization\"] = \"Bearer {token}\"\n"),
            ),
            (
                "API: GET /worklist",
                "\"/api/v1/worklist\"".into(),
                format!("wrk.headers[\"Authorization\"] = \"Bearer {token}\"\n"),
            ),
            (
                "API: GET /county/overview",
                "\"/api/v1/county/overview\"".into(),
                format!("wrk.headers[\"Authorization\"] = \"Bearer {token}\"\n"),
            ),
            (
                "dashboard: GET /county (county overview)",
                "\"/county\"".into(),
                format!("wrk.headers[\"Cookie\"] = \"{cookie}\"\n"),
            ),
            (
                "dashboard: GET /worklist",
                "\"/worklist\"".into(),
                format!("wrk.headers[\"Cookie\"] = \"{cookie}\"\n"),
            ),
            (
                "dashboard: GET / (overview)",
                "\"/\"".into(),
                format!("wrk.headers[\"Cookie\"] = \"{cookie}\"\n"),
            ),
            (
                "dashboard: GET /sites?page=random (ledger)",
                format!("\"/sites?page=\" .. math.random(1, {pages})"),
                format!("wrk.headers[\"Cookie\"] = \"{cookie}\"\n"),
            ),
        ];
        let mut t = Table::new(
            &format!(
                "County on {} ({TOWNSHIPS} townships, {} villages, {CONTACTS} contacts, {SITES} sites, \
                 seeded in {} ms; wrk, 2 threads, {CONNECTIONS} connections, {} s per row)",
                b.name(),
                TOWNSHIPS * VILLAGES_PER_TOWNSHIP,
                ms(seeded),
                self.args.duration
            ),
            &[
                "request ",
                "requests/s",
                "p50 ms",
                "p99 ms",
                "errors",
                "load",
            ],
        );
        for (k, (what, path, headers)) in requests.iter().enumerate() {
            let script = self.dir.join(format!("county{k}.lua"));
            std::fs::write(
                &script,
                format!(
                    "{headers}request = function()\n  return wrk.format(\"GET\", {path})\nend\n"
                ),
            )?;
            let (base, secs) = (d.base.clone(), self.args.duration);
            let r =
                tokio::task::spawn_blocking(move || wrk::run(&script, &base, 2, CONNECTIONS, secs))
                    .await??;
            t.rows.push(vec![
                (*what).into(),
                format!("{:.0}", r.rps),
                format!("{:.1}", r.p50_ms),
                format!("{:.1}", r.p99_ms),
                r.errors.to_string(),
                load(),
            ]);
        }
        self.emit(t);
        drop(d);
        db.pool.close().await;
        Ok(())
    }

    /// Signs in on the dashboard's form; returns the Cookie header value.
    async fn sign_in(&self, base: &str, name: &str, password: &str) -> BResult<String> {
        let page = self.client.get(format!("{base}/login")).send().await?;
        let mut cookies = set_cookies(page.headers());
        let body = page.text().await?;
        let csrf = body
            .split("name=\"_csrf\" value=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .ok_or("no CSRF token on the sign-in page")?
            .to_string();
        // The answer's Set-Cookie is wanted, not the page it redirects to.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let signed = client
            .post(format!("{base}/login"))
            .header("Cookie", cookies.join("; "))
            .form(&[
                ("_csrf", csrf.as_str()),
                ("name", name),
                ("password", password),
                ("next", "/"),
            ])
            .send()
            .await?;
        if signed.status() != reqwest::StatusCode::SEE_OTHER {
            return Err(format!("sign-in refused: {}", signed.status()).into());
        }
        for c in set_cookies(signed.headers()) {
            let name = c.split('=').next().unwrap_or("").to_string();
            cookies.retain(|old| !old.starts_with(&format!("{name}=")));
            cookies.push(c);
        }
        Ok(cookies.join("; "))
    }
}

/// The `name=value` of every Set-Cookie header.
fn set_cookies(h: &reqwest::header::HeaderMap) -> Vec<String> {
    h.get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(str::to_string)
        .collect()
}
