//! The message templates (通知模板库): a township's named notice texts —
//! 台风来临前转移通知, 山洪灾害预警 — picked on the compose page instead of
//! typed at 2 a.m. Title and body are kept as notice templates (`{name}`),
//! checked as a notice's are ([`template::check`]); the office reads and
//! writes them with the Chinese forms (〔姓名〕, [`template::CHINESE`]), and
//! each template lists the variables it uses in those forms. Versioned,
//! audited and archived like the other registers.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::alerts::{MAX_BODY_CHARS, MAX_TITLE_CHARS};
use super::template;
use crate::auth::Actor;
use crate::notify::Channel;
use crate::store::versioned::{self, Edit, Written, is_unique_violation, versioned_row};
use crate::store::{Db, Result, WriteError, now_ms};
use crate::validate::{FieldResult, err, required_text};

/// What a template is for: the list is grouped by it, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// 防汛防台
    #[serde(alias = "防汛防台")]
    Flood,
    /// 森林防火
    #[serde(alias = "森林防火")]
    ForestFire,
    /// 危化品
    #[serde(alias = "危化品")]
    Hazchem,
    /// 演练
    #[serde(alias = "演练")]
    Drill,
    /// 其他
    #[serde(alias = "其他")]
    Other,
}

impl Category {
    pub const ALL: [Category; 5] = [
        Category::Flood,
        Category::ForestFire,
        Category::Hazchem,
        Category::Drill,
        Category::Other,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Flood => "flood",
            Category::ForestFire => "forest_fire",
            Category::Hazchem => "hazchem",
            Category::Drill => "drill",
            Category::Other => "other",
        }
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            Category::Flood => "防汛防台",
            Category::ForestFire => "森林防火",
            Category::Hazchem => "危化品",
            Category::Drill => "演练",
            Category::Other => "其他",
        }
    }
    pub fn label_en(self) -> &'static str {
        match self {
            Category::Flood => "Floods and typhoons",
            Category::ForestFire => "Forest fire",
            Category::Hazchem => "Hazardous chemicals",
            Category::Drill => "Drills",
            Category::Other => "Other",
        }
    }
    /// By its code or its Chinese label.
    pub fn parse(s: &str) -> Option<Category> {
        let s = s.trim();
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s || k.label_zh() == s)
    }
    fn rank(self) -> usize {
        Self::ALL.iter().position(|c| *c == self).unwrap_or(0)
    }
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateInput {
    /// Unique among the township's templates in use, e.g. "台风来临前转移通知".
    pub name: String,
    pub category: Category,
    /// The notice title; variables as 〔标题〕-style Chinese forms or `{title}`.
    pub title: String,
    /// The notice text, e.g. "〔姓名〕：〔村〕请立即组织转移……". Known forms:
    /// 〔姓名〕〔村〕〔等级〕〔预案〕〔标题〕〔截止时间〕〔链接〕〔单位〕.
    pub body: String,
    /// The channels it is meant for (a hint for the compose form); default sms.
    #[serde(default = "default_channels")]
    pub channels: Vec<Channel>,
    /// Required on update: the version the editor saw.
    #[serde(default)]
    pub version: Option<i64>,
}

fn default_channels() -> Vec<Channel> {
    vec![Channel::Sms]
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TemplateRow {
    pub id: i64,
    pub township_id: i64,
    pub name: String,
    pub category: String,
    pub title: String,
    pub body: String,
    pub channels: String,
    pub sample: i64,
    pub archived_at: Option<i64>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLS: &str = "id, township_id, name, category, title, body, channels, sample, archived_at, version, created_at, updated_at";

/// A template as the office and the API read it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MessageTemplate {
    pub id: i64,
    pub township_id: i64,
    pub name: String,
    /// flood | forest_fire | hazchem | drill | other
    pub category: String,
    /// 防汛防台 / 森林防火 / 危化品 / 演练 / 其他
    pub category_label: &'static str,
    /// The title with the Chinese forms (〔姓名〕), as the office edits it.
    pub title: String,
    /// The text with the Chinese forms.
    pub body: String,
    /// The title as a notice template (`{name}`): what POST /api/v1/alerts takes.
    pub notice_title: String,
    /// The text as a notice template.
    pub notice_body: String,
    /// The variables title and text use, in their Chinese forms: ["〔姓名〕", "〔村〕"].
    pub variables: Vec<String>,
    pub channels: Vec<Channel>,
    pub sample: bool,
    pub archived: bool,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

fn channels_of(stored: &str) -> Vec<Channel> {
    stored
        .split(',')
        .filter_map(|c| Channel::parse(c.trim()))
        .collect()
}

impl TemplateRow {
    pub fn category(&self) -> Category {
        Category::parse(&self.category).unwrap_or(Category::Other)
    }
    pub fn channels(&self) -> Vec<Channel> {
        channels_of(&self.channels)
    }
    /// The variables title and body use, each once, in their Chinese forms.
    pub fn variables(&self) -> Vec<String> {
        let mut out = template::chinese_variables(&self.title);
        for v in template::chinese_variables(&self.body) {
            if !out.contains(&v) {
                out.push(v);
            }
        }
        out
    }
    pub fn view(&self, tz: chrono_tz::Tz) -> MessageTemplate {
        MessageTemplate {
            id: self.id,
            township_id: self.township_id,
            name: self.name.clone(),
            category: self.category().as_str().to_string(),
            category_label: self.category().label_zh(),
            title: template::to_chinese(&self.title),
            body: template::to_chinese(&self.body),
            notice_title: self.title.clone(),
            notice_body: self.body.clone(),
            variables: self.variables(),
            channels: self.channels(),
            sample: self.sample != 0,
            archived: self.archived_at.is_some(),
            version: self.version,
            created_at: crate::time::fmt_ms(self.created_at, tz),
            updated_at: crate::time::fmt_ms(self.updated_at, tz),
        }
    }
}

#[derive(Debug)]
struct Valid {
    name: String,
    category: Category,
    title: String,
    body: String,
    channels: String,
}

/// A title or body in either form, as a checked notice template.
fn text(field: &str, v: &str) -> FieldResult<String> {
    let t = template::from_chinese(v).or_else(|e| err(field, e.to_string()))?;
    template::check(&t).or_else(|e| err(field, e.to_string()))?;
    Ok(t)
}

fn validate(input: &TemplateInput) -> FieldResult<Valid> {
    let name = required_text("name", &input.name, 64)?;
    let title = text(
        "title",
        &required_text("title", &input.title, MAX_TITLE_CHARS)?,
    )?;
    let body = input.body.replace("\r\n", "\n");
    let body = body.trim();
    if body.is_empty() {
        return err("body", "must not be empty");
    }
    if body.chars().count() > MAX_BODY_CHARS {
        return err(
            "body",
            format!("must be at most {MAX_BODY_CHARS} characters"),
        );
    }
    let body = text("body", body)?;
    if input.channels.is_empty() {
        return err(
            "channels",
            "choose at least one channel: sms, email or voice",
        );
    }
    let mut channels: Vec<&str> = input.channels.iter().map(|c| c.as_str()).collect();
    channels.sort_unstable();
    channels.dedup();
    Ok(Valid {
        name,
        category: input.category,
        title,
        body,
        channels: channels.join(","),
    })
}

#[derive(Debug, Default)]
pub struct Filter {
    pub category: Option<Category>,
    pub include_archived: bool,
}

/// The templates the handle's scope covers, by category (in [`Category::ALL`]'s
/// order), then name.
pub async fn list(db: &Db, f: &Filter) -> Result<Vec<TemplateRow>> {
    let mut q = crate::store::Sql::new(&format!(
        "SELECT {COLS} FROM message_templates WHERE {}",
        db.township_filter("township_id")
    ));
    if !f.include_archived {
        q.push(" AND archived_at IS NULL");
    }
    if let Some(c) = f.category {
        q.push(" AND category = ").bind(c.as_str());
    }
    q.push(" ORDER BY name, id");
    let mut tx = db.read().await?;
    let mut rows: Vec<TemplateRow> = q.query_as().fetch_all(&mut *tx).await?;
    tx.commit().await?;
    rows.sort_by_key(|r| r.category().rank());
    Ok(rows)
}

/// One template, if the handle's scope covers it (else `None`: a 404).
pub async fn get(db: &Db, id: i64) -> Result<Option<TemplateRow>> {
    db.get_in_scope(COLS, "message_templates", id).await
}

async fn get_in(conn: &mut sqlx::AnyConnection, id: i64) -> Result<Option<TemplateRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM message_templates WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

versioned_row!(
    TemplateRow,
    "message_template",
    "message_templates",
    |row, tz| json!(row.view(tz))
);

fn name_used(name: &str, e: WriteError) -> WriteError {
    if is_unique_violation(&e) {
        WriteError::field(
            "name",
            format!("a template named '{name}' already exists (模板名称已存在)"),
        )
    } else {
        e
    }
}

pub async fn create(
    db: &Db,
    actor: &Actor,
    input: &TemplateInput,
    sample: bool,
    tz: chrono_tz::Tz,
) -> Result<TemplateRow, WriteError> {
    let v = validate(input)?;
    let mut tx = db.begin().await?;
    let now = now_ms();
    let inserted: std::result::Result<(i64,), sqlx::Error> = sqlx::query_as(
        "INSERT INTO message_templates (township_id, name, category, title, body, channels, sample, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
    )
    .bind(actor.township)
    .bind(&v.name)
    .bind(v.category.as_str())
    .bind(&v.title)
    .bind(&v.body)
    .bind(&v.channels)
    .bind(i64::from(sample))
    .bind(now)
    .fetch_one(&mut *tx)
    .await;
    let (id,) = inserted.map_err(|e| name_used(&v.name, e.into()))?;
    let row = get_in(&mut tx, id).await?.ok_or(WriteError::NotFound)?;
    crate::audit::record(
        &mut tx,
        &actor.name,
        "create",
        "message_template",
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
    input: &TemplateInput,
    tz: chrono_tz::Tz,
) -> Result<TemplateRow, WriteError> {
    let v = validate(input)?;
    let version = input.version.ok_or_else(|| {
        WriteError::field("version", "is required on update (the version you edited)")
    })?;
    let name = v.name.clone();
    let edit = Edit::new(actor, "update", id, tz).seen(Some(version));
    versioned::change(db, edit, move |tx, _: &TemplateRow| {
        Box::pin(async move {
            let r = sqlx::query(
                "UPDATE message_templates SET name = $1, category = $2, title = $3, body = $4, channels = $5, \
                 version = version + 1, updated_at = $6 WHERE id = $7 AND version = $8",
            )
            .bind(&v.name)
            .bind(v.category.as_str())
            .bind(&v.title)
            .bind(&v.body)
            .bind(&v.channels)
            .bind(now_ms())
            .bind(id)
            .bind(version)
            .execute(tx)
            .await?;
            Ok(Written::Rows(r.rows_affected()))
        })
    })
    .await
    .map_err(|e| name_used(&name, e))
}

/// Archives a template: out of the list and the compose page's picker, kept
/// for the audit trail; its name may be used again.
pub async fn archive(
    db: &Db,
    actor: &Actor,
    id: i64,
    version: Option<i64>,
    tz: chrono_tz::Tz,
) -> Result<TemplateRow, WriteError> {
    versioned::archive(db, Edit::new(actor, "archive", id, tz).seen(version), "").await
}

/// A template's text for one sample person (张三, 东坑村), the notice's
/// `title` and the office, as the preview beside the form shows it: every
/// variable filled, nothing sent.
pub fn sample_text(t: &str, title: &str, office: &str) -> String {
    template::render(t, |v| {
        match v {
            "name" => "张三",
            "village" => "东坑村",
            "level" => "Ⅳ级（蓝色）",
            "level_en" => "Level IV (blue)",
            "plan" => "防汛防台风应急预案",
            "title" => title,
            "deadline" => "7月28日 21:30",
            "link" => "https://…/a/…",
            "office" => office,
            _ => "",
        }
        .to_string()
    })
    .unwrap_or_else(|_| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(title: &str, body: &str) -> TemplateInput {
        TemplateInput {
            name: "汛期值班提醒".into(),
            category: Category::Flood,
            title: title.into(),
            body: body.into(),
            channels: vec![Channel::Sms, Channel::Sms],
            version: None,
        }
    }

    #[test]
    fn texts_are_kept_as_notice_templates_and_errors_name_the_field() {
        let v = validate(&input(
            "〔村〕汛期值班",
            "〔姓名〕：请于〔截止时间〕前到岗。",
        ))
        .unwrap();
        assert_eq!(v.title, "{village}汛期值班");
        assert_eq!(v.body, "{name}：请于{deadline}前到岗。");
        assert_eq!(v.channels, "sms");
        let e = validate(&input("值班", "〔名字〕请到岗")).unwrap_err();
        assert_eq!(e.field, "body");
        assert!(e.message.contains("〔姓名〕"), "{}", e.message);
        let e = validate(&input("{villag}值班", "请到岗")).unwrap_err();
        assert_eq!(e.field, "title");
    }

    #[test]
    fn the_sample_person_fills_the_preview() {
        assert_eq!(
            sample_text(
                "{name}：{village}请转移（{title}）。{office}",
                "转移通知",
                "湖上乡应急办"
            ),
            "张三：东坑村请转移（转移通知）。湖上乡应急办"
        );
    }
}
