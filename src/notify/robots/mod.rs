//! Work-group robots (工作群机器人): WeCom (企业微信) group robots, DingTalk (钉钉)
//! custom robots and Feishu (飞书) custom bots that post a notice's summary
//! and its live answer counts to the office's own group or a village's.
//! They inform; they never count as an answer (they add no recipient, no
//! delivery and no answer anywhere).
//!
//! - this file: the register (`group_robots`, migration 0038): a township's
//!   robots, each the office's (no village) or a village's, with the webhook
//!   URL as the provider shows it and the signing secret; versioned,
//!   audited, archived. The URL's key and the secret are never shown back in
//!   full nor written to the audit trail ([`GroupRobot`] masks them).
//! - `sign`: DingTalk's 加签 and Feishu's 签名校验, with their verifiers.
//! - `message`: what a post says (summary, answer counts, 全部叫应, a test)
//!   and each provider's JSON.
//! - `client`: the HTTP request, and the provider's answer as an outcome.
//! - `posts`: the posts' outbox (summaries written with the notice, test
//!   messages) and how pages read it;
//! - `send`: the worker's rounds, sending in order, 20 a minute per robot;
//! - `follow`: the open notices' answer counts, updates and 全部叫应.

pub mod client;
mod follow;
pub mod message;
pub mod posts;
pub mod send;
pub mod sign;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::Actor;
use crate::store::versioned::{self, Edit, Written, versioned_row};
use crate::store::{Db, Result, WriteError, now_ms};
use crate::validate::{FieldResult, err, required_text};

pub use posts::GroupPost;
pub use send::{TickReport, run, tick};

/// Which provider a robot is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// 企业微信群机器人: the `key` in the URL is the credential.
    #[serde(alias = "企业微信")]
    Wecom,
    /// 钉钉自定义机器人 with 加签 (secret starting with SEC).
    #[serde(alias = "钉钉")]
    Dingtalk,
    /// 飞书自定义机器人, with 签名校验 when a secret is given.
    #[serde(alias = "飞书")]
    Feishu,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Wecom, Kind::Dingtalk, Kind::Feishu];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Wecom => "wecom",
            Kind::Dingtalk => "dingtalk",
            Kind::Feishu => "feishu",
        }
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            Kind::Wecom => "企业微信",
            Kind::Dingtalk => "钉钉",
            Kind::Feishu => "飞书",
        }
    }
    pub fn label_en(self) -> &'static str {
        match self {
            Kind::Wecom => "WeCom",
            Kind::Dingtalk => "DingTalk",
            Kind::Feishu => "Feishu",
        }
    }
    /// By its code or its Chinese name.
    pub fn parse(s: &str) -> Option<Kind> {
        let s = s.trim();
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s || k.label_zh() == s)
    }
    /// The hosts the provider's webhooks are on (https only).
    pub fn hosts(self) -> &'static [&'static str] {
        match self {
            Kind::Wecom => &["qyapi.weixin.qq.com"],
            Kind::Dingtalk => &["oapi.dingtalk.com"],
            Kind::Feishu => &["open.feishu.cn", "open.larksuite.com"],
        }
    }
    /// What a webhook URL of this provider looks like, for the form's hint.
    pub fn example(self) -> &'static str {
        match self {
            Kind::Wecom => "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…",
            Kind::Dingtalk => "https://oapi.dingtalk.com/robot/send?access_token=…",
            Kind::Feishu => "https://open.feishu.cn/open-apis/bot/v2/hook/…",
        }
    }
}

/// A robot as the office registers or changes it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RobotInput {
    /// What the office calls the group, e.g. "乡应急办工作群", "东坑村防汛群".
    pub name: String,
    /// wecom | dingtalk | feishu (or 企业微信 / 钉钉 / 飞书).
    pub kind: Kind,
    /// The village whose group it is; absent: the office's own group.
    #[serde(default)]
    pub village_id: Option<i64>,
    /// The webhook address exactly as the provider shows it (WeCom's carries
    /// `key=`, DingTalk's `access_token=`, Feishu's ends in the hook's token).
    /// Required when adding; on a change, absent or empty keeps the stored one.
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// DingTalk: the 加签 secret (starts with SEC; required). Feishu: the
    /// 签名校验 secret (if the bot has one). WeCom: none. On a change, absent
    /// or empty keeps the stored one.
    #[serde(default)]
    pub secret: Option<String>,
    /// Posts are sent (default true); switched off, nothing is posted.
    #[serde(default)]
    pub active: Option<bool>,
    /// Required on a change: the version the editor saw.
    #[serde(default)]
    pub version: Option<i64>,
}

/// A stored robot. Its `Debug` masks the address's key and the secret: a
/// row in a log line must not hand out the group.
#[derive(Clone, sqlx::FromRow)]
pub struct RobotRow {
    pub id: i64,
    pub township_id: i64,
    pub village_id: Option<i64>,
    pub village_name: Option<String>,
    pub kind: String,
    pub name: String,
    pub webhook_url: String,
    pub secret: Option<String>,
    pub active: i64,
    pub sample: i64,
    pub archived_at: Option<i64>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

pub(crate) const COLS: &str = "id, township_id, village_id, \
    (SELECT v.name FROM villages v WHERE v.id = group_robots.village_id) AS village_name, \
    kind, name, webhook_url, secret, active, sample, archived_at, version, created_at, updated_at";

/// A robot as pages and the API show it: the URL's key and the secret masked.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GroupRobot {
    pub id: i64,
    pub township_id: i64,
    /// None: the office's own group.
    pub village_id: Option<i64>,
    pub village: Option<String>,
    /// wecom | dingtalk | feishu
    pub kind: String,
    /// 企业微信 / 钉钉 / 飞书
    pub kind_label: &'static str,
    pub name: String,
    /// The webhook address with its key or token masked (…/send?key=****5aaa).
    pub webhook: String,
    /// The secret masked (SEC****a9dc), or None when there is none.
    pub secret: Option<String>,
    pub active: bool,
    pub sample: bool,
    pub archived: bool,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl std::fmt::Debug for RobotRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RobotRow")
            .field("id", &self.id)
            .field("township_id", &self.township_id)
            .field("village_id", &self.village_id)
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("webhook_url", &mask_url(&self.webhook_url))
            .field("secret", &self.secret.as_deref().map(mask_secret))
            .field("active", &self.active)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl RobotRow {
    pub fn kind(&self) -> Option<Kind> {
        Kind::parse(&self.kind)
    }
    pub fn view(&self, tz: chrono_tz::Tz) -> GroupRobot {
        GroupRobot {
            id: self.id,
            township_id: self.township_id,
            village_id: self.village_id,
            village: self.village_name.clone(),
            kind: self.kind.clone(),
            kind_label: self.kind().map_or("?", Kind::label_zh),
            name: self.name.clone(),
            webhook: mask_url(&self.webhook_url),
            secret: self.secret.as_deref().map(mask_secret),
            active: self.active != 0,
            sample: self.sample != 0,
            archived: self.archived_at.is_some(),
            version: self.version,
            created_at: crate::time::fmt_ms(self.created_at, tz),
            updated_at: crate::time::fmt_ms(self.updated_at, tz),
        }
    }
}

/// The last four characters of a secret value, the rest starred.
fn tail(v: &str) -> String {
    let chars: Vec<char> = v.chars().collect();
    if chars.len() < 12 {
        return "****".into();
    }
    let last: String = chars[chars.len() - 4..].iter().collect();
    format!("****{last}")
}

/// A secret as it may be shown: DingTalk's SEC prefix and the last four.
pub fn mask_secret(s: &str) -> String {
    match s.strip_prefix("SEC") {
        Some(rest) => format!("SEC{}", tail(rest)),
        None => tail(s),
    }
}

/// A webhook URL as it may be shown: every query value and the last path
/// segment (Feishu's token) masked, the host and path kept.
pub fn mask_url(url: &str) -> String {
    let Ok(mut u) = reqwest::Url::parse(url) else {
        return tail(url);
    };
    let masked: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), tail(&v)))
        .collect();
    if masked.is_empty() {
        u.set_query(None);
    } else {
        u.query_pairs_mut().clear().extend_pairs(masked);
    }
    if u.path().contains("/hook/") {
        let path = u.path().to_string();
        if let Some((head, token)) = path.rsplit_once('/') {
            u.set_path(&format!("{head}/{}", tail(token)));
        }
    }
    // The starred value is readable, not percent-encoded.
    u.to_string().replace("%2A", "*")
}

const MAX_URL: usize = 500;
const MAX_SECRET: usize = 200;

/// A webhook URL checked against its provider: https on the provider's own
/// host (or http(s) on a host of `robots.extra_hosts`), with the credential
/// the provider puts in it.
pub fn check_url(kind: Kind, url: &str, extra_hosts: &[String]) -> FieldResult<String> {
    let f = "webhook_url";
    let url = url.trim();
    if url.is_empty() {
        return err(
            f,
            "must be the robot's webhook address (请填写机器人的 Webhook 地址)",
        );
    }
    if url.len() > MAX_URL || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return err(
            f,
            format!("must be one address of at most {MAX_URL} characters (地址过长或含空格)"),
        );
    }
    let Ok(u) = reqwest::Url::parse(url) else {
        return err(
            f,
            format!(
                "is not an address such as {} (地址格式不对)",
                kind.example()
            ),
        );
    };
    let host = u.host_str().unwrap_or("").to_ascii_lowercase();
    let official = kind.hosts().contains(&host.as_str());
    let extra = extra_hosts.iter().any(|h| h.eq_ignore_ascii_case(&host));
    if !(official || extra) {
        return err(
            f,
            format!(
                "a {} robot's address is on {} (robots.extra_hosts allows others) ({}机器人的地址应在 {})",
                kind.label_en(),
                kind.hosts().join(" or "),
                kind.label_zh(),
                kind.hosts().join(" 或 ")
            ),
        );
    }
    match (u.scheme(), official) {
        ("https", _) | ("http", false) => {}
        _ => return err(f, "must be an https address (须为 https 地址)"),
    }
    let query = |name: &str| {
        u.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .filter(|v| !v.trim().is_empty())
    };
    let shape = match kind {
        Kind::Wecom => u.path() == "/cgi-bin/webhook/send" && query("key").is_some(),
        Kind::Dingtalk => u.path() == "/robot/send" && query("access_token").is_some(),
        Kind::Feishu => u
            .path()
            .strip_prefix("/open-apis/bot/v2/hook/")
            .is_some_and(|t| !t.is_empty() && !t.contains('/')),
    };
    if !shape {
        return err(
            f,
            format!(
                "is not a {} robot's webhook: copy it as shown, e.g. {} (不是{}机器人的 Webhook 地址，请按机器人设置页原样复制)",
                kind.label_en(),
                kind.example(),
                kind.label_zh()
            ),
        );
    }
    // Signing adds its own parameters: the stored URL must not carry them.
    if query("timestamp").is_some() || query("sign").is_some() {
        return err(
            f,
            "must not carry timestamp or sign: they are added per post (地址中不要带 timestamp、sign，发送时自动加签)",
        );
    }
    Ok(url.to_string())
}

/// A secret checked against its provider (`None`: none given).
pub fn check_secret(kind: Kind, secret: Option<&str>) -> FieldResult<Option<String>> {
    let f = "secret";
    let s = secret.map(str::trim).filter(|s| !s.is_empty());
    let Some(s) = s else {
        return match kind {
            Kind::Dingtalk => err(
                f,
                "a DingTalk robot needs its 加签 secret (starts with SEC; choose 加签 in the robot's security settings) (钉钉机器人须填写加签密钥)",
            ),
            _ => Ok(None),
        };
    };
    if s.len() > MAX_SECRET || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return err(
            f,
            format!(
                "must be the secret as shown, at most {MAX_SECRET} characters, no spaces (请按原样复制密钥)"
            ),
        );
    }
    match kind {
        Kind::Wecom => err(
            f,
            "a WeCom robot has no secret: its key is in the webhook address (企业微信机器人没有密钥，key 已在地址中)",
        ),
        Kind::Dingtalk if !s.starts_with("SEC") => err(
            f,
            "a DingTalk 加签 secret starts with SEC (copy it from the robot's security settings) (钉钉加签密钥以 SEC 开头)",
        ),
        _ => Ok(Some(s.to_string())),
    }
}

/// The robots the handle's scope covers (a village user: their village's),
/// in use, the office's first, then by village and name.
pub async fn list(db: &Db) -> Result<Vec<RobotRow>> {
    let mut tx = db.read().await?;
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM group_robots WHERE archived_at IS NULL AND {} \
         ORDER BY CASE WHEN village_id IS NULL THEN 0 ELSE 1 END, village_id, name, id",
        db.scope_filter("group_robots")
    )))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows)
}

/// One robot, if the handle's scope covers it (else `None`: a 404).
pub async fn get(db: &Db, id: i64) -> Result<Option<RobotRow>> {
    db.get_in_scope(COLS, "group_robots", id).await
}

async fn get_in(conn: &mut sqlx::AnyConnection, id: i64) -> Result<Option<RobotRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM group_robots WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

// The audit trail keeps the masked view: no key, no secret.
versioned_row!(RobotRow, "group_robot", "group_robots", |row, tz| json!(
    row.view(tz)
));

/// The township a village of the handle's scope belongs to (refused naming
/// `village_id` when it is none of the scope's, or archived).
async fn village_township(
    db: &Db,
    conn: &mut sqlx::AnyConnection,
    village: i64,
) -> std::result::Result<i64, WriteError> {
    let row: Option<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT township_id FROM villages WHERE id = $1 AND archived_at IS NULL AND {}",
        db.township_filter("township_id")
    )))
    .bind(village)
    .fetch_optional(conn)
    .await?;
    row.map(|r| r.0)
        .ok_or_else(|| WriteError::field("village_id", format!("no village with id {village}")))
}

/// Registers a robot for the actor's township (a village's: that village's).
pub async fn create(
    db: &Db,
    actor: &Actor,
    input: &RobotInput,
    extra_hosts: &[String],
    sample: bool,
    tz: chrono_tz::Tz,
) -> std::result::Result<RobotRow, WriteError> {
    let name = required_text("name", &input.name, 64)?;
    let kind = input.kind;
    let url = check_url(
        kind,
        input.webhook_url.as_deref().unwrap_or(""),
        extra_hosts,
    )?;
    let secret = check_secret(kind, input.secret.as_deref())?;
    let mut tx = db.begin().await?;
    let township = match input.village_id {
        Some(v) => village_township(db, &mut tx, v).await?,
        None => actor.township,
    };
    let now = now_ms();
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO group_robots (township_id, village_id, kind, name, webhook_url, secret, active, sample, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
    )
    .bind(township)
    .bind(input.village_id)
    .bind(kind.as_str())
    .bind(&name)
    .bind(&url)
    .bind(secret)
    .bind(i64::from(input.active.unwrap_or(true)))
    .bind(i64::from(sample))
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let row = get_in(&mut tx, id).await?.ok_or(WriteError::NotFound)?;
    crate::audit::record(
        &mut tx,
        &actor.name,
        "create",
        "group_robot",
        Some(id),
        None,
        Some(&json!(row.view(tz))),
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// Changes a robot (the version the editor saw is required). An empty
/// webhook address or secret keeps the stored one.
pub async fn update(
    db: &Db,
    actor: &Actor,
    id: i64,
    input: &RobotInput,
    extra_hosts: &[String],
    tz: chrono_tz::Tz,
) -> std::result::Result<RobotRow, WriteError> {
    let name = required_text("name", &input.name, 64)?;
    let kind = input.kind;
    let version = input.version.ok_or_else(|| {
        WriteError::field("version", "is required on update (the version you edited)")
    })?;
    let given_url = input
        .webhook_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_string);
    let given_secret = input
        .secret
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let village = input.village_id;
    let active = input.active;
    let edit = Edit::new(actor, "update", id, tz).seen(Some(version));
    let scoped = db.clone();
    let extra: Vec<String> = extra_hosts.to_vec();
    versioned::change(db, edit, move |tx, before: &RobotRow| {
        Box::pin(async move {
            // A changed kind needs the address and secret of the new provider.
            let url = given_url.unwrap_or_else(|| before.webhook_url.clone());
            let url = check_url(kind, &url, &extra)?;
            let secret = match given_secret {
                Some(s) => check_secret(kind, Some(&s))?,
                None if before.kind() == Some(kind) => before.secret.clone(),
                None => check_secret(kind, None)?,
            };
            if kind == Kind::Wecom && secret.is_some() {
                return Err(WriteError::field(
                    "secret",
                    "a WeCom robot has no secret: its key is in the webhook address (企业微信机器人没有密钥，key 已在地址中)",
                ));
            }
            if let Some(v) = village {
                let t = village_township(&scoped, tx, v).await?;
                if t != before.township_id {
                    return Err(WriteError::field(
                        "village_id",
                        format!("village {v} is not of this robot's township (该村不属于本乡镇)"),
                    ));
                }
            }
            let r = sqlx::query(
                "UPDATE group_robots SET name = $1, kind = $2, village_id = $3, webhook_url = $4, secret = $5, \
                 active = $6, version = version + 1, updated_at = $7 WHERE id = $8 AND version = $9",
            )
            .bind(&name)
            .bind(kind.as_str())
            .bind(village)
            .bind(&url)
            .bind(secret)
            .bind(i64::from(active.unwrap_or(before.active != 0)))
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

/// Archives a robot: out of the list, nothing posted to it any more; its
/// posts stay on the notices' pages.
pub async fn archive(
    db: &Db,
    actor: &Actor,
    id: i64,
    version: Option<i64>,
    tz: chrono_tz::Tz,
) -> std::result::Result<RobotRow, WriteError> {
    versioned::archive(
        db,
        Edit::new(actor, "archive", id, tz).seen(version),
        ", active = 0",
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_secrets_are_masked() {
        assert_eq!(
            mask_url(
                "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
            ),
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=****5aaa"
        );
        assert_eq!(
            mask_url(
                "https://oapi.dingtalk.com/robot/send?access_token=98975521a1b23c02cdd1a9a08c"
            ),
            "https://oapi.dingtalk.com/robot/send?access_token=****a08c"
        );
        assert_eq!(
            mask_url(
                "https://open.feishu.cn/open-apis/bot/v2/hook/5e3d587e-d78e-4a07-bd07-265f269f86fd"
            ),
            "https://open.feishu.cn/open-apis/bot/v2/hook/****86fd"
        );
        assert_eq!(
            mask_secret("SEC5a3ecf88f2b3eb50db30ecfc00f53033ac909c99bf7f88fd612bda89d7f3a9dc"),
            "SEC****a9dc"
        );
        assert_eq!(mask_secret("short"), "****");
        let row = RobotRow {
            id: 1,
            township_id: 1,
            village_id: None,
            village_name: None,
            kind: "dingtalk".into(),
            name: "群".into(),
            webhook_url: "https://oapi.dingtalk.com/robot/send?access_token=secret-token-1234"
                .into(),
            secret: Some("SECvery-secret-5678".into()),
            active: 1,
            sample: 0,
            archived_at: None,
            version: 1,
            created_at: 0,
            updated_at: 0,
        };
        let shown = format!("{row:?} {}", serde_json::json!(row.view(chrono_tz::UTC)));
        assert!(
            !shown.contains("secret-token") && !shown.contains("very-secret"),
            "{shown}"
        );
        assert!(
            shown.contains("****1234") && shown.contains("SEC****5678"),
            "{shown}"
        );
    }

    #[test]
    fn addresses_are_checked_against_their_provider() {
        let none: &[String] = &[];
        assert!(
            check_url(
                Kind::Wecom,
                "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc",
                none
            )
            .is_ok()
        );
        for (kind, url) in [
            // Another provider's host.
            (
                Kind::Wecom,
                "https://oapi.dingtalk.com/robot/send?access_token=x",
            ),
            // No key.
            (
                Kind::Wecom,
                "https://qyapi.weixin.qq.com/cgi-bin/webhook/send",
            ),
            // Plain http to the provider.
            (
                Kind::Dingtalk,
                "http://oapi.dingtalk.com/robot/send?access_token=x",
            ),
            // Anywhere else.
            (Kind::Feishu, "https://10.0.0.1/open-apis/bot/v2/hook/x"),
            (
                Kind::Feishu,
                "https://open.feishu.cn/open-apis/bot/v2/hook/",
            ),
            (
                Kind::Dingtalk,
                "https://oapi.dingtalk.com/robot/send?access_token=x&timestamp=1&sign=y",
            ),
        ] {
            let e = check_url(kind, url, none).unwrap_err();
            assert_eq!(e.field, "webhook_url", "{url}");
        }
        let lo = vec!["127.0.0.1".to_string()];
        assert!(
            check_url(
                Kind::Feishu,
                "http://127.0.0.1:9/open-apis/bot/v2/hook/t",
                &lo
            )
            .is_ok()
        );
    }

    #[test]
    fn secrets_are_checked_against_their_provider() {
        assert_eq!(
            check_secret(Kind::Dingtalk, Some(" SECabc "))
                .ok()
                .flatten(),
            Some("SECabc".to_string())
        );
        assert_eq!(
            check_secret(Kind::Dingtalk, None).unwrap_err().field,
            "secret"
        );
        assert_eq!(
            check_secret(Kind::Dingtalk, Some("abc")).unwrap_err().field,
            "secret"
        );
        assert_eq!(
            check_secret(Kind::Wecom, Some("abc")).unwrap_err().field,
            "secret"
        );
        assert_eq!(check_secret(Kind::Feishu, Some("")).ok(), Some(None));
        assert!(check_secret(Kind::Feishu, Some("has space")).is_err());
    }
}
