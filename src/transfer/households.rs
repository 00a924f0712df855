//! The people to move (转移对象): one record per household in a danger zone,
//! with its head, members, phone, vulnerable members counted (老、弱、病、
//! 残、孕, 留守儿童), the cadre who moves it (包户干部) and its shelter.
//! Personal data: a village user sees and edits only their own village's,
//! and every read of a list is written to the audit trail with who read it.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::Actor;
use crate::store::versioned::{self, Edit, Written, versioned_row};
use crate::store::{Db, Result, Sql, WriteError, now_ms};
use crate::validate::{optional_line, optional_text, required_text};

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HouseholdInput {
    pub zone_id: i64,
    /// 户主.
    pub head: String,
    /// Everyone living there, the head included.
    pub members: i64,
    #[serde(default, deserialize_with = "crate::phone::optional")]
    pub phone: Option<crate::phone::Phone>,
    /// 老 (70 and over).
    #[serde(default)]
    pub elderly: i64,
    /// 弱 (frail).
    #[serde(default)]
    pub infirm: i64,
    /// 病 (ill, bedridden).
    #[serde(default)]
    pub sick: i64,
    /// 残 (disabled).
    #[serde(default)]
    pub disabled: i64,
    /// 孕 (pregnant).
    #[serde(default)]
    pub pregnant: i64,
    /// 留守儿童 (children left with grandparents).
    #[serde(default)]
    pub children: i64,
    /// 包户干部 (a contact id); none: the zone's 转移责任人.
    #[serde(default)]
    pub cadre_id: Option<i64>,
    /// Its own shelter; none: the zone's.
    #[serde(default)]
    pub shelter_id: Option<i64>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
    /// Required on update: the version the editor saw.
    #[serde(default)]
    pub version: Option<i64>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HouseholdRow {
    pub id: i64,
    pub township_id: i64,
    pub village_id: i64,
    pub zone_id: i64,
    pub head: String,
    pub members: i64,
    pub phone: Option<String>,
    pub elderly: i64,
    pub infirm: i64,
    pub sick: i64,
    pub disabled: i64,
    pub pregnant: i64,
    pub children: i64,
    pub cadre_id: Option<i64>,
    pub shelter_id: Option<i64>,
    pub address: Option<String>,
    pub note: Option<String>,
    pub sample: i64,
    pub archived_at: Option<i64>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

pub(crate) const COLS: &str = "id, township_id, village_id, zone_id, head, members, phone, elderly, infirm, sick, disabled, pregnant, \
    children, cadre_id, shelter_id, address, note, sample, archived_at, version, created_at, updated_at";

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Household {
    pub id: i64,
    pub township_id: i64,
    pub village_id: i64,
    pub zone_id: i64,
    pub head: String,
    pub members: i64,
    pub phone: Option<String>,
    pub elderly: i64,
    pub infirm: i64,
    pub sick: i64,
    pub disabled: i64,
    pub pregnant: i64,
    pub children: i64,
    /// Members needing help to move (the largest of the vulnerable counts, at most `members`).
    pub vulnerable: i64,
    pub cadre_id: Option<i64>,
    pub shelter_id: Option<i64>,
    pub address: Option<String>,
    pub note: Option<String>,
    pub sample: bool,
    pub archived: bool,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl HouseholdRow {
    /// Members needing help. One person may be both old and ill, so the
    /// counts are not added: the largest is a floor, their sum (capped at
    /// the household) a ceiling; the ceiling is what the board puts first.
    pub fn vulnerable(&self) -> i64 {
        (self.elderly + self.infirm + self.sick + self.disabled + self.pregnant + self.children)
            .min(self.members)
    }

    /// In words for lists: "老2 残1 留守儿童1".
    pub fn vulnerable_zh(&self) -> String {
        [
            ("老", self.elderly),
            ("弱", self.infirm),
            ("病", self.sick),
            ("残", self.disabled),
            ("孕", self.pregnant),
            ("留守儿童", self.children),
        ]
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(w, n)| format!("{w}{n}"))
        .collect::<Vec<_>>()
        .join(" ")
    }

    pub fn view(&self, tz: chrono_tz::Tz) -> Household {
        Household {
            id: self.id,
            township_id: self.township_id,
            village_id: self.village_id,
            zone_id: self.zone_id,
            head: self.head.clone(),
            members: self.members,
            phone: self.phone.clone(),
            elderly: self.elderly,
            infirm: self.infirm,
            sick: self.sick,
            disabled: self.disabled,
            pregnant: self.pregnant,
            children: self.children,
            vulnerable: self.vulnerable(),
            cadre_id: self.cadre_id,
            shelter_id: self.shelter_id,
            address: self.address.clone(),
            note: self.note.clone(),
            sample: self.sample != 0,
            archived: self.archived_at.is_some(),
            version: self.version,
            created_at: crate::time::fmt_ms(self.created_at, tz),
            updated_at: crate::time::fmt_ms(self.updated_at, tz),
        }
    }
}

struct Valid {
    head: String,
    phone: Option<String>,
    address: Option<String>,
    note: Option<String>,
}

fn validate(i: &HouseholdInput) -> Result<Valid, WriteError> {
    if !(1..=50).contains(&i.members) {
        return Err(WriteError::field("members", "must be between 1 and 50"));
    }
    for (field, n) in [
        ("elderly", i.elderly),
        ("infirm", i.infirm),
        ("sick", i.sick),
        ("disabled", i.disabled),
        ("pregnant", i.pregnant),
        ("children", i.children),
    ] {
        if !(0..=i.members).contains(&n) {
            return Err(WriteError::field(
                field,
                "must be between 0 and the household's members",
            ));
        }
    }
    Ok(Valid {
        head: required_text("head", &i.head, 32)?,
        phone: i.phone.as_ref().map(|p| p.as_str().to_string()),
        address: optional_line("address", &i.address, 128)?,
        note: optional_text("note", &i.note, 500)?,
    })
}

/// The zone (in the asker's scope) gives the village and township; the
/// cadre and shelter must be the township's.
async fn place(db: &Db, i: &HouseholdInput) -> Result<(i64, i64), WriteError> {
    let Some(zone) = super::zones::get(db, i.zone_id).await? else {
        return Err(WriteError::field(
            "zone_id",
            format!("no danger zone with id {}", i.zone_id),
        ));
    };
    if zone.archived_at.is_some() {
        return Err(WriteError::field("zone_id", "the zone is archived"));
    }
    if let Some(id) = i.cadre_id
        && !super::contact_in(db, id, zone.township_id).await?
    {
        return Err(WriteError::field(
            "cadre_id",
            format!("no contact with id {id}"),
        ));
    }
    if let Some(id) = i.shelter_id
        && !super::shelter_in(db, id, zone.township_id).await?
    {
        return Err(WriteError::field(
            "shelter_id",
            format!("no shelter with id {id}"),
        ));
    }
    Ok((zone.township_id, zone.village_id))
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Filter {
    pub village_id: Option<i64>,
    pub zone_id: Option<i64>,
    pub cadre_id: Option<i64>,
}

/// The households the asker may see, audited as read by `actor` (who, which
/// list, how many rows): the list is personal data.
pub async fn list(db: &Db, actor: &Actor, f: &Filter, why: &str) -> Result<Vec<HouseholdRow>> {
    let mut q = Sql::new(&format!(
        "SELECT {COLS} FROM households WHERE archived_at IS NULL AND {}",
        db.scope_filter("households")
    ));
    if let Some(v) = f.village_id {
        q.push(" AND village_id = ").bind(v);
    }
    if let Some(z) = f.zone_id {
        q.push(" AND zone_id = ").bind(z);
    }
    if let Some(c) = f.cadre_id {
        q.push(" AND cadre_id = ").bind(c);
    }
    q.push(" ORDER BY village_id, zone_id, id");
    let mut tx = db.begin().await?;
    let rows: Vec<HouseholdRow> = q.query_as().fetch_all(&mut *tx).await?;
    crate::audit::record(
        &mut tx,
        &actor.name,
        why,
        "household",
        None,
        None,
        Some(&json!({ "filter": f, "rows": rows.len() })),
    )
    .await?;
    tx.commit().await?;
    Ok(rows)
}

/// One household, if the handle's scope covers it (else `None`: a 404).
pub async fn get(db: &Db, id: i64) -> Result<Option<HouseholdRow>> {
    db.get_in_scope(COLS, "households", id).await
}

async fn get_in(conn: &mut sqlx::AnyConnection, id: i64) -> Result<Option<HouseholdRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM households WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

versioned_row!(HouseholdRow, "household", "households", |row, tz| json!(
    row.view(tz)
));

pub async fn create(
    db: &Db,
    actor: &Actor,
    i: &HouseholdInput,
    sample: bool,
    tz: chrono_tz::Tz,
) -> Result<HouseholdRow, WriteError> {
    let v = validate(i)?;
    let (township, village) = place(db, i).await?;
    let mut tx = db.begin().await?;
    let now = now_ms();
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO households (township_id, village_id, zone_id, head, members, phone, elderly, infirm, sick, disabled, pregnant, \
         children, cadre_id, shelter_id, address, note, sample, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18) RETURNING id",
    )
    .bind(township)
    .bind(village)
    .bind(i.zone_id)
    .bind(&v.head)
    .bind(i.members)
    .bind(&v.phone)
    .bind(i.elderly)
    .bind(i.infirm)
    .bind(i.sick)
    .bind(i.disabled)
    .bind(i.pregnant)
    .bind(i.children)
    .bind(i.cadre_id)
    .bind(i.shelter_id)
    .bind(&v.address)
    .bind(&v.note)
    .bind(i64::from(sample))
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    // Registered while its zone is being moved: it joins the open transfer
    // (its cadre finds it on their list; the board counts it as planned).
    let vulnerable =
        (i.elderly + i.infirm + i.sick + i.disabled + i.pregnant + i.children).min(i.members);
    sqlx::query(
        "INSERT INTO transfer_households (transfer_id, household_id, cadre_id, members, vulnerable, status) \
         SELECT t.id, $1, COALESCE(CAST($2 AS BIGINT), z.leader_id), $3, $4, 'unknown' FROM transfers t \
         JOIN danger_zones z ON z.id = t.zone_id WHERE t.zone_id = $5 AND t.closed_at IS NULL AND t.direction = 'out'",
    )
    .bind(id)
    .bind(i.cadre_id)
    .bind(i.members)
    .bind(vulnerable)
    .bind(i.zone_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE transfers SET planned_households = planned_households + 1, planned_persons = planned_persons + $1 \
         WHERE zone_id = $2 AND closed_at IS NULL AND direction = 'out'",
    )
    .bind(i.members)
    .bind(i.zone_id)
    .execute(&mut *tx)
    .await?;
    let row = get_in(&mut tx, id).await?.ok_or(WriteError::NotFound)?;
    crate::audit::record(
        &mut tx,
        &actor.name,
        "create",
        "household",
        Some(id),
        None,
        Some(&json!(row.view(tz))),
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn update(
    db: &Db,
    actor: &Actor,
    id: i64,
    i: &HouseholdInput,
    tz: chrono_tz::Tz,
) -> Result<HouseholdRow, WriteError> {
    let v = validate(i)?;
    let version = i.version.ok_or_else(|| {
        WriteError::field("version", "is required on update (the version you edited)")
    })?;
    if get(db, id).await?.is_none() {
        return Err(WriteError::NotFound);
    }
    let (township, village) = place(db, i).await?;
    let i = i.clone();
    let edit = Edit::new(actor, "update", id, tz).seen(Some(version));
    versioned::change(db, edit, move |tx, _: &HouseholdRow| {
        Box::pin(async move {
            let r = sqlx::query(
                "UPDATE households SET township_id = $1, village_id = $2, zone_id = $3, head = $4, members = $5, phone = $6, \
                 elderly = $7, infirm = $8, sick = $9, disabled = $10, pregnant = $11, children = $12, cadre_id = $13, \
                 shelter_id = $14, address = $15, note = $16, version = version + 1, updated_at = $17 WHERE id = $18 AND version = $19",
            )
            .bind(township)
            .bind(village)
            .bind(i.zone_id)
            .bind(&v.head)
            .bind(i.members)
            .bind(&v.phone)
            .bind(i.elderly)
            .bind(i.infirm)
            .bind(i.sick)
            .bind(i.disabled)
            .bind(i.pregnant)
            .bind(i.children)
            .bind(i.cadre_id)
            .bind(i.shelter_id)
            .bind(&v.address)
            .bind(&v.note)
            .bind(now_ms())
            .bind(id)
            .bind(version)
            .execute(tx)
            .await?;
            Ok(Written::Rows(r.rows_affected()))
        })
    })
    .await
}

pub async fn archive(
    db: &Db,
    actor: &Actor,
    id: i64,
    version: Option<i64>,
    tz: chrono_tz::Tz,
) -> Result<HouseholdRow, WriteError> {
    versioned::archive(db, Edit::new(actor, "archive", id, tz).seen(version), "").await
}
