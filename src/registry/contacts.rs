//! Contacts: the people notices go to, ordered for escalation within their
//! village (or at township level when they have no village).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::Actor;
use crate::registry::roles;
use crate::store::versioned::{self, Edit, Versioned, Written};
use crate::store::{Db, Result, Sql, WriteError, now_ms};
use crate::validate::{FieldResult, err, optional_text, required_text};

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    pub name: String,
    #[serde(default)]
    pub roles: Vec<roles::ContactRole>,
    #[serde(default)]
    pub village_id: Option<i64>,
    pub phone: crate::phone::Phone,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub escalation_order: Option<i64>,
    #[serde(default)]
    pub active: Option<bool>,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub version: Option<i64>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContactRow {
    pub id: i64,
    pub name: String,
    pub village_id: Option<i64>,
    pub phone: String,
    pub email: Option<String>,
    pub escalation_order: i64,
    pub active: i64,
    pub note: Option<String>,
    pub sample: i64,
    pub archived_at: Option<i64>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub township_id: i64,
}

const COLS: &str = "id, name, village_id, phone, email, escalation_order, active, note, sample, archived_at, version, created_at, updated_at, township_id";

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Contact {
    pub id: i64,
    pub name: String,
    pub roles: Vec<String>,
    pub village_id: Option<i64>,
    /// The township the contact belongs to (its village's).
    pub township_id: i64,
    pub phone: String,
    pub email: Option<String>,
    pub escalation_order: i64,
    pub active: bool,
    pub note: Option<String>,
    pub sample: bool,
    pub archived: bool,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl ContactRow {
    pub fn view(&self, roles: Vec<String>, tz: chrono_tz::Tz) -> Contact {
        Contact {
            id: self.id,
            name: self.name.clone(),
            roles,
            village_id: self.village_id,
            township_id: self.township_id,
            phone: self.phone.clone(),
            email: self.email.clone(),
            escalation_order: self.escalation_order,
            active: self.active != 0,
            note: self.note.clone(),
            sample: self.sample != 0,
            archived: self.archived_at.is_some(),
            version: self.version,
            created_at: crate::time::fmt_ms(self.created_at, tz),
            updated_at: crate::time::fmt_ms(self.updated_at, tz),
        }
    }
}

/// A checked contact, as stored (roles in their stored names).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ValidContact {
    pub name: String,
    pub roles: Vec<&'static str>,
    pub village_id: Option<i64>,
    pub phone: String,
    pub email: Option<String>,
    pub escalation_order: i64,
    pub active: bool,
    pub note: Option<String>,
}

pub(crate) fn validate(input: &ContactInput) -> FieldResult<ValidContact> {
    let name = required_text("name", &input.name, 64)?;
    let mut rs: Vec<&'static str> = Vec::new();
    for c in &input.roles {
        if !rs.contains(&c.name()) {
            rs.push(c.name());
        }
    }
    let phone = input.phone.as_str().to_string();
    let email = crate::validate::email("email", &input.email)?;
    let escalation_order = input.escalation_order.unwrap_or(100);
    if !(0..=10_000).contains(&escalation_order) {
        return err("escalation_order", "must be between 0 and 10000");
    }
    Ok(ValidContact {
        name,
        roles: rs,
        village_id: input.village_id,
        phone,
        email,
        escalation_order,
        active: input.active.unwrap_or(true),
        note: optional_text("note", &input.note, 500)?,
    })
}

/// The roles of these contacts, by contact (each list sorted). Asked in
/// statements of a few hundred ids: sqlx's SQLite driver binds in time
/// quadratic in the placeholders, which made a page of 2,000 contacts slow.
pub async fn roles_of(db: &Db, ids: &[i64]) -> Result<HashMap<i64, Vec<String>>> {
    let mut out: HashMap<i64, Vec<String>> = HashMap::new();
    let chunk = crate::store::rows_per_statement(db.backend == crate::store::Backend::Sqlite, 1);
    let mut tx = db.read().await?;
    for part in ids.chunks(chunk) {
        let mut q = Sql::new("SELECT contact_id, role FROM contact_roles WHERE contact_id IN ");
        q.bind_list(part.iter().copied())
            .push(" ORDER BY contact_id, role");
        let rows: Vec<(i64, String)> = q.query_as().fetch_all(&mut *tx).await?;
        for (c, r) in rows {
            out.entry(c).or_default().push(r);
        }
    }
    tx.commit().await?;
    Ok(out)
}

async fn roles_in(conn: &mut sqlx::AnyConnection, id: i64) -> Result<Vec<String>> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT role FROM contact_roles WHERE contact_id = $1 ORDER BY role")
            .bind(id)
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

async fn get_in(conn: &mut sqlx::AnyConnection, id: i64) -> Result<Option<ContactRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM contacts WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// The active contacts of one township (the county bureau's row, for a
/// report to the county) holding any of `roles`, in escalation order.
pub async fn holding_roles(db: &Db, township: i64, roles: &[String]) -> Result<Vec<i64>> {
    let mut found: Vec<(i64, i64)> = Vec::new();
    for role in roles {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT c.escalation_order, c.id FROM contacts c JOIN contact_roles r ON r.contact_id = c.id \
             WHERE c.township_id = $1 AND r.role = $2 AND c.active = 1 AND c.archived_at IS NULL",
        )
        .bind(township)
        .bind(role)
        .fetch_all(&db.pool)
        .await?;
        found.extend(rows);
    }
    found.sort_unstable();
    let mut ids: Vec<i64> = Vec::new();
    for (_, id) in found {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// One contact, if the handle's scope covers it (else `None`: a 404).
pub async fn get(db: &Db, id: i64, tz: chrono_tz::Tz) -> Result<Option<Contact>> {
    let mut tx = db.read().await?;
    let row: Option<ContactRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM contacts WHERE id = $1 AND {}",
        db.scope_filter("contacts")
    )))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        tx.commit().await?;
        return Ok(None);
    };
    let roles = roles_in(&mut tx, id).await?;
    tx.commit().await?;
    Ok(Some(row.view(roles, tz)))
}

async fn view_in(
    conn: &mut sqlx::AnyConnection,
    id: i64,
    tz: chrono_tz::Tz,
) -> Result<Option<Contact>> {
    let Some(row) = get_in(conn, id).await? else {
        return Ok(None);
    };
    let roles = roles_in(conn, id).await?;
    Ok(Some(row.view(roles, tz)))
}

#[derive(Debug, Default)]
pub struct Filter {
    /// One township's contacts (within the scope).
    pub township_id: Option<i64>,
    pub village_id: Option<i64>,
    pub township_only: bool,
    pub role: Option<String>,
    pub active: Option<bool>,
    pub include_archived: bool,
    pub q: Option<String>,
}

/// The escalation order a new contact of this village (or of the township,
/// `None`) takes when none is given: after the last one there, 1 for the
/// first.
pub async fn next_order(db: &Db, village_id: Option<i64>) -> Result<i64> {
    let mut w = Sql::new(&format!(
        "SELECT MAX(escalation_order) FROM contacts WHERE archived_at IS NULL AND {} AND ",
        db.township_filter("township_id")
    ));
    match village_id {
        Some(v) => {
            w.push("village_id = ").bind(v);
        }
        None => {
            w.push("village_id IS NULL");
        }
    }
    let mut tx = db.read().await?;
    let (max,): (Option<i64>,) = w.query_as().fetch_one(&mut *tx).await?;
    tx.commit().await?;
    Ok(max.map_or(1, |m| (m + 1).min(10_000)))
}

pub async fn list(
    db: &Db,
    f: &Filter,
    limit: i64,
    offset: i64,
    tz: chrono_tz::Tz,
) -> Result<(Vec<Contact>, i64)> {
    let mut w = Sql::new(&format!(
        " WHERE {} AND {}",
        db.township_filter("township_id"),
        db.village_filter("village_id")
    ));
    if !f.include_archived {
        w.push(" AND archived_at IS NULL");
    }
    if let Some(t) = f.township_id {
        w.push(" AND township_id = ").bind(t);
    }
    if let Some(v) = f.village_id {
        w.push(" AND village_id = ").bind(v);
    }
    if f.township_only {
        w.push(" AND village_id IS NULL");
    }
    if let Some(a) = f.active {
        w.push(" AND active = ").bind(i64::from(a));
    }
    if let Some(r) = &f.role {
        w.push(" AND id IN (SELECT contact_id FROM contact_roles WHERE role = ")
            .bind(r.as_str())
            .push(")");
    }
    if let Some(q) = &f.q {
        w.push(" AND (name LIKE ")
            .bind(crate::store::like_contains(q))
            .push(" ESCAPE '\\' OR phone LIKE ")
            .bind(crate::store::like_contains(q))
            .push(" ESCAPE '\\'");
        // A number however it is typed (139 5951 2468, +86 139-5951-2468,
        // 0595-2328 1234) against the stored E.164.
        if let Some(digits) = crate::phone::search_digits(q) {
            w.push(" OR phone LIKE ")
                .bind(crate::store::like_contains(&digits))
                .push(" ESCAPE '\\'");
        }
        w.push(")");
    }
    let (rows, total): (Vec<ContactRow>, i64) = w
        .page_with_total(
            db,
            COLS,
            "contacts",
            "village_id, escalation_order, id",
            limit,
            offset,
        )
        .await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut all_roles = roles_of(db, &ids).await?;
    let out = rows
        .iter()
        .map(|r| r.view(all_roles.remove(&r.id).unwrap_or_default(), tz))
        .collect();
    Ok((out, total))
}

/// The township a contact of this village belongs to: the village's (which
/// must exist in the handle's scope: another township's is "no village").
/// None for a township-level contact (no village): a new one is the actor's
/// township's, an edited one stays where it was.
async fn check_village(
    db: &Db,
    conn: &mut sqlx::AnyConnection,
    id: Option<i64>,
) -> Result<Option<i64>, WriteError> {
    let Some(v) = id else {
        if db.scope().and_then(crate::store::Scope::village).is_some() {
            return Err(WriteError::field(
                "village_id",
                "is required: you may keep only your village's contacts",
            ));
        }
        return Ok(None);
    };
    let r: Option<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT township_id FROM villages WHERE id = $1 AND archived_at IS NULL AND {} AND {}",
        db.township_filter("township_id"),
        db.village_filter("id")
    )))
    .bind(v)
    .fetch_optional(conn)
    .await?;
    r.map(|(t,)| Some(t))
        .ok_or_else(|| WriteError::field("village_id", format!("no village with id {v}")))
}

async fn write_roles(conn: &mut sqlx::AnyConnection, id: i64, rs: &[&str]) -> Result<()> {
    sqlx::query("DELETE FROM contact_roles WHERE contact_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    for r in rs {
        sqlx::query("INSERT INTO contact_roles (contact_id, role) VALUES ($1, $2)")
            .bind(id)
            .bind(*r)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub async fn create(
    db: &Db,
    actor: &Actor,
    input: &ContactInput,
    sample: bool,
    tz: chrono_tz::Tz,
) -> Result<Contact, WriteError> {
    let v = validate(input)?;
    let mut tx = db.begin().await?;
    let township = check_village(db, &mut tx, v.village_id)
        .await?
        .unwrap_or(actor.township);
    let id = insert_valid(&mut tx, &v, township, sample).await?;
    let after = view_in(&mut tx, id, tz)
        .await?
        .ok_or(WriteError::NotFound)?;
    crate::audit::record(
        &mut tx,
        &actor.name,
        "create",
        "contact",
        Some(id),
        None,
        Some(&json!(after)),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Stores a new contact with its roles (the caller audits it).
pub(crate) async fn insert_valid(
    conn: &mut sqlx::AnyConnection,
    v: &ValidContact,
    township: i64,
    sample: bool,
) -> Result<i64> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO contacts (name, village_id, phone, email, escalation_order, active, note, sample, created_at, updated_at, township_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10) RETURNING id",
    )
    .bind(&v.name)
    .bind(v.village_id)
    .bind(&v.phone)
    .bind(&v.email)
    .bind(v.escalation_order)
    .bind(i64::from(v.active))
    .bind(&v.note)
    .bind(i64::from(sample))
    .bind(now_ms())
    .bind(township)
    .fetch_one(&mut *conn)
    .await?;
    write_roles(conn, id, &v.roles).await?;
    Ok(id)
}

/// Rewrites a contact from a checked input, a new version (the caller
/// audits it).
pub(crate) async fn update_valid(
    conn: &mut sqlx::AnyConnection,
    id: i64,
    v: &ValidContact,
) -> Result<()> {
    sqlx::query(
        "UPDATE contacts SET name = $1, village_id = $2, phone = $3, email = $4, escalation_order = $5, active = $6, \
         note = $7, version = version + 1, updated_at = $8 WHERE id = $9",
    )
    .bind(&v.name)
    .bind(v.village_id)
    .bind(&v.phone)
    .bind(&v.email)
    .bind(v.escalation_order)
    .bind(i64::from(v.active))
    .bind(&v.note)
    .bind(now_ms())
    .bind(id)
    .execute(&mut *conn)
    .await?;
    write_roles(conn, id, &v.roles).await
}

/// A township's live contacts as checked inputs, by phone (E.164): what an
/// import matches its rows to. Of two with one phone, the first kept.
pub(crate) async fn by_phone(
    conn: &mut sqlx::AnyConnection,
    township: i64,
) -> Result<HashMap<String, (i64, ValidContact)>> {
    let rows: Vec<ContactRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM contacts WHERE township_id = $1 AND archived_at IS NULL ORDER BY id"
    )))
    .bind(township)
    .fetch_all(&mut *conn)
    .await?;
    let pairs: Vec<(i64, String)> = sqlx::query_as(
        "SELECT r.contact_id, r.role FROM contact_roles r JOIN contacts c ON c.id = r.contact_id \
         WHERE c.township_id = $1 AND c.archived_at IS NULL ORDER BY r.role",
    )
    .bind(township)
    .fetch_all(&mut *conn)
    .await?;
    let mut roles: HashMap<i64, Vec<&'static str>> = HashMap::new();
    for (id, r) in pairs {
        if let Some(known) = roles::canonical(&r) {
            roles.entry(id).or_default().push(known);
        }
    }
    let mut out = HashMap::new();
    for r in rows {
        let v = ValidContact {
            name: r.name,
            roles: roles.remove(&r.id).unwrap_or_default(),
            village_id: r.village_id,
            phone: r.phone.clone(),
            email: r.email,
            escalation_order: r.escalation_order,
            active: r.active != 0,
            note: r.note,
        };
        out.entry(r.phone).or_insert((r.id, v));
    }
    Ok(out)
}

pub async fn update(
    db: &Db,
    actor: &Actor,
    id: i64,
    input: &ContactInput,
    tz: chrono_tz::Tz,
) -> Result<Contact, WriteError> {
    let v = validate(input)?;
    let version = input.version.ok_or_else(|| {
        WriteError::field("version", "is required on update (the version you edited)")
    })?;
    let edit = Edit::new(actor, "update", id, tz).seen(Some(version));
    let scoped = db.clone();
    versioned::change(db, edit, move |tx, _: &Contact| {
        Box::pin(async move {
            // Moved to another village: it follows that village's township.
            let township = check_village(&scoped, tx, v.village_id).await?;
            let r = sqlx::query(
                "UPDATE contacts SET name = $1, village_id = $2, phone = $3, email = $4, escalation_order = $5, active = $6, \
                 note = $7, version = version + 1, updated_at = $8, township_id = COALESCE($11, township_id) WHERE id = $9 AND version = $10",
            )
            .bind(&v.name)
            .bind(v.village_id)
            .bind(&v.phone)
            .bind(&v.email)
            .bind(v.escalation_order)
            .bind(i64::from(v.active))
            .bind(&v.note)
            .bind(now_ms())
            .bind(id)
            .bind(version)
            .bind(township)
            .execute(&mut *tx)
            .await?;
            if r.rows_affected() > 0 {
                write_roles(tx, id, &v.roles).await?;
            }
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
) -> Result<Contact, WriteError> {
    versioned::archive(
        db,
        Edit::new(actor, "archive", id, tz).seen(version),
        ", active = 0",
    )
    .await
}

impl Versioned for Contact {
    const ENTITY: &'static str = "contact";
    const TABLE: &'static str = "contacts";
    fn read(
        conn: &mut sqlx::AnyConnection,
        id: i64,
        tz: chrono_tz::Tz,
    ) -> impl Future<Output = Result<Option<Self>>> + Send {
        view_in(conn, id, tz)
    }
    fn version(&self) -> i64 {
        self.version
    }
    fn is_archived(&self) -> bool {
        self.archived
    }
    fn audit_view(&self, _: chrono_tz::Tz) -> serde_json::Value {
        json!(self)
    }
}

/// How many contacts (not archived) each village has; `None` counts the township's own.
pub async fn count_by_village(
    db: &Db,
) -> Result<std::collections::HashMap<Option<i64>, i64>, crate::store::StoreError> {
    let mut tx = db.read().await?;
    let rows: Vec<(Option<i64>, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT village_id, COUNT(*) FROM contacts WHERE archived_at IS NULL AND {} AND {} GROUP BY village_id",
        db.township_filter("township_id"),
        db.village_filter("village_id")
    )))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows.into_iter().collect())
}

/// The names of the contacts the handle may see, by id (archived ones too:
/// a record may still name them).
pub async fn names(db: &Db) -> Result<HashMap<i64, String>> {
    let mut tx = db.read().await?;
    let rows: Vec<(i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, name FROM contacts WHERE {}",
        db.township_filter("township_id")
    )))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows.into_iter().collect())
}
