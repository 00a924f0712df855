//! Scratch data, written through the library: villages with the registry
//! code, contacts and sites with multi-row INSERTs (the registry's per-row
//! path would take minutes for 100k rows and is not what is measured).

use serde_json::json;

use super::BResult;
use fenghuo::auth::Actor;
use fenghuo::registry::villages::{self, VillageInput};
use fenghuo::store::{Db, Sql, now_ms};

/// Deterministic pseudo-random numbers (xorshift64*), so every run seeds
/// the same data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub fn square(lon0: f64, lat0: f64, d: f64) -> serde_json::Value {
    json!({"type": "Polygon", "coordinates": [[[lon0, lat0], [lon0 + d, lat0], [lon0 + d, lat0 + d], [lon0, lat0 + d], [lon0, lat0]]]})
}

pub async fn village(db: &Db, code: &str, name: &str, lon: f64, lat: f64, d: f64) -> BResult<i64> {
    let input = VillageInput {
        code: code.into(),
        name: name.into(),
        name_en: None,
        boundary: square(lon, lat, d),
        population: None,
        area_code: None,
        version: None,
    };
    match villages::create(
        db,
        &Actor::system(),
        &input,
        &fenghuo::geometry::GeoLimits::STORED,
        false,
        chrono_tz::Asia::Shanghai,
    )
    .await
    {
        Ok(v) => Ok(v.id),
        Err(e) => Err(format!("seeding village {code}: {e:?}").into()),
    }
}

/// `count` contacts in `village_id`, numbered from `first`; phones and
/// e-mail addresses are unique.
pub async fn contacts(db: &Db, village_id: i64, first: usize, count: usize) -> BResult<()> {
    let now = now_ms();
    let rows = fenghuo::store::rows_per_statement(db.backend == fenghuo::store::Backend::Sqlite, 8);
    let mut tx = db.begin().await?;
    let mut i = first;
    while i < first + count {
        let end = (i + rows).min(first + count);
        let mut q = Sql::new(
            "INSERT INTO contacts (name, village_id, phone, email, escalation_order, active, created_at, updated_at) VALUES ",
        );
        for n in i..end {
            if n > i {
                q.push(", ");
            }
            q.push("(")
                .bind(format!("村民{n}"))
                .push(", ")
                .bind(village_id)
                .push(", ")
                .bind(format!("+86139{n:08}"))
                .push(", ")
                .bind(format!("c{n}@bench.example"))
                .push(", ")
                .bind((n % 5) as i64 * 10)
                .push(", 1, ")
                .bind(now)
                .push(", ")
                .bind(now)
                .push(")");
        }
        q.query().execute(&mut *tx).await?;
        i = end;
    }
    tx.commit().await?;
    Ok(())
}

/// The fan-out dataset: villages F1, F2, F3 with 1k, 9k and 90k contacts,
/// so targeting F1, F1+F2 or all three reaches 1k, 10k or 100k people.
/// Returns the village ids.
pub async fn fanout(db: &Db, sizes: &[usize]) -> BResult<Vec<(usize, Vec<i64>)>> {
    let mut out = Vec::new();
    let mut ids = Vec::new();
    let mut have = 0usize;
    let mut sorted = sizes.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    for (k, &n) in sorted.iter().enumerate() {
        let add = n.saturating_sub(have);
        let id = village(
            db,
            &format!("F{}", k + 1),
            &format!("压测村{}", k + 1),
            117.0 + k as f64 * 0.05,
            24.0,
            0.04,
        )
        .await?;
        contacts(db, id, have, add).await?;
        have += add;
        ids.push(id);
        out.push((n, ids.clone()));
    }
    Ok(out)
}

/// The ledger dataset: a 10×10 grid of villages (0.02° squares from
/// 118.0 E, 25.0 N), `contacts` contacts spread over them and `sites` sites
/// at random points of the grid, each with its safety officer's phone.
pub async fn ledger(db: &Db, contacts_n: usize, sites_n: usize) -> BResult<Vec<i64>> {
    let mut vids = Vec::new();
    for row in 0..10 {
        for col in 0..10 {
            let id = village(
                db,
                &format!("V{row}{col}"),
                &format!("网格村{row}{col}"),
                118.0 + col as f64 * 0.02,
                25.0 + row as f64 * 0.02,
                0.02,
            )
            .await?;
            vids.push(id);
        }
    }
    let per = contacts_n / vids.len();
    for (k, &v) in vids.iter().enumerate() {
        contacts(db, v, 500_000 + k * per, per).await?;
    }
    sites(db, sites_n, |rng, _| {
        let (x, y) = (rng.unit() * 0.2, rng.unit() * 0.2);
        let (col, row) = (((x / 0.02) as usize).min(9), ((y / 0.02) as usize).min(9));
        (118.0 + x, 25.0 + y, vids[row * 10 + col])
    })
    .await?;
    Ok(vids)
}

/// `sites_n` sites with multi-row INSERTs; `place` gives site `n` its
/// longitude, latitude and village.
async fn sites(
    db: &Db,
    sites_n: usize,
    mut place: impl FnMut(&mut Rng, usize) -> (f64, f64, i64),
) -> BResult<()> {
    let kinds = [
        "hazchem_storage",
        "hazchem_trade_without_storage",
        "hazchem_use",
        "fireworks_retail",
        "fireworks_wholesale",
    ];
    let grades = ["major", "significant", "general", "low"];
    let now = now_ms();
    let mut rng = Rng::new(0x5eed);
    let rows =
        fenghuo::store::rows_per_statement(db.backend == fenghuo::store::Backend::Sqlite, 14);
    let mut tx = db.begin().await?;
    let mut i = 0;
    while i < sites_n {
        let end = (i + rows).min(sites_n);
        let mut q = Sql::new(
            "INSERT INTO sites (name, kind, address, lon, lat, village_id, safety_officer, safety_officer_phone, licence_no, \
             licence_expires, risk_grade, status, created_at, updated_at) VALUES ",
        );
        for n in i..end {
            let (lon, lat, village) = place(&mut rng, n);
            if n > i {
                q.push(", ");
            }
            q.push("(")
                .bind(format!("压测站点{n}"))
                .push(", ")
                .bind(kinds[n % kinds.len()])
                .push(", ")
                .bind(format!("压测地址{n}号"))
                .push(", ");
            q.bind(lon)
                .push(", ")
                .bind(lat)
                .push(", ")
                .bind(village)
                .push(", ")
                .bind(format!("安全员{n}"))
                .push(", ")
                .bind(format!("+86137{n:08}"))
                .push(", ");
            q.bind(format!("（闽）WH安经〔2024〕{n}号"))
                .push(", ")
                .bind(format!("2027-{:02}-{:02}", n % 12 + 1, n % 28 + 1))
                .push(", ")
                .bind(grades[n % grades.len()])
                .push(", 'active', ")
                .bind(now)
                .push(", ")
                .bind(now)
                .push(")");
        }
        q.query().execute(&mut *tx).await?;
        i = end;
    }
    tx.commit().await?;
    Ok(())
}

/// The county dataset: `townships` townships (township 1 is the install's
/// own; the rest are added with sample division codes under 350524) laid out
/// 6 to a row in 0.1° squares from 117.6 E, 24.9 N, each with `villages`
/// villages in a 4-wide grid; `contacts_n` contacts and `sites_n` sites
/// spread evenly over the villages, every record in its village's township.
pub async fn county(
    db: &Db,
    townships: usize,
    villages: usize,
    contacts_n: usize,
    sites_n: usize,
) -> BResult<()> {
    let now = now_ms();
    let mut vids: Vec<(i64, f64, f64)> = Vec::new();
    for t in 0..townships {
        let township = if t == 0 {
            1
        } else {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO townships (code, name, county_code, created_at, updated_at) \
                 VALUES ($1, $2, '350524', $3, $3) RETURNING id",
            )
            .bind(format!("350524{:03}000", 300 + t))
            .bind(format!("压测乡镇{t:02}"))
            .bind(now)
            .fetch_one(db.writer())
            .await?;
            id
        };
        let (tlon, tlat) = (117.6 + (t % 6) as f64 * 0.1, 24.9 + (t / 6) as f64 * 0.1);
        for v in 0..villages {
            let (lon, lat) = (tlon + (v % 4) as f64 * 0.025, tlat + (v / 4) as f64 * 0.025);
            let id = village(
                db,
                &format!("T{t:02}V{v:02}"),
                &format!("压测乡镇{t:02}村{v:02}"),
                lon,
                lat,
                0.025,
            )
            .await?;
            sqlx::query("UPDATE villages SET township_id = $1 WHERE id = $2")
                .bind(township)
                .bind(id)
                .execute(db.writer())
                .await?;
            vids.push((id, lon, lat));
        }
    }
    let per = contacts_n / vids.len();
    for (k, &(v, _, _)) in vids.iter().enumerate() {
        contacts(db, v, 1_000_000 + k * per, per).await?;
    }
    let n = vids.len();
    sites(db, sites_n, |rng, i| {
        let (v, lon, lat) = vids[i % n];
        (lon + rng.unit() * 0.025, lat + rng.unit() * 0.025, v)
    })
    .await?;
    for table in ["contacts", "sites"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {table} SET township_id = \
             (SELECT v.township_id FROM villages v WHERE v.id = {table}.village_id)"
        )))
        .execute(db.writer())
        .await?;
    }
    // Statistics and the visibility map, as a database in use has them
    // (PostgreSQL's autovacuum visits a table once a tenth of it changed):
    // without them the planner takes the freshly seeded tables for nearly
    // empty and no index answers alone.
    let settle = match db.backend {
        fenghuo::store::Backend::Postgres => "VACUUM ANALYZE",
        fenghuo::store::Backend::Sqlite => "ANALYZE",
    };
    sqlx::query(settle).execute(db.writer()).await?;
    Ok(())
}
