//! Sample work-group robots (工作群机器人): the office's WeCom group and two
//! villages' groups (DingTalk with 加签, Feishu with 签名校验), marked sample,
//! named "（示例）" and switched off: their keys are made up, and a demo never
//! posts to a real provider.

use super::DemoError;
use crate::auth::Actor;
use crate::notify::robots::{self, Kind, RobotInput};
use crate::store::Db;

/// A sample robot: name, kind, village index (none: the office's group),
/// webhook address, secret.
type Sample = (
    &'static str,
    Kind,
    Option<usize>,
    &'static str,
    Option<&'static str>,
);

const ROBOTS: &[Sample] = &[
    (
        "乡应急办工作群",
        Kind::Wecom,
        None,
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=00000000-0000-4000-8000-00000000d3m0",
        None,
    ),
    (
        "湖上村防汛群",
        Kind::Dingtalk,
        Some(0),
        "https://oapi.dingtalk.com/robot/send?access_token=0000000000000000000000000000000000000000000000000000000000d3m0",
        Some("SEC0000000000000000000000000000000000000000000000000000000000000d3m0"),
    ),
    (
        "坑头村网格群",
        Kind::Feishu,
        Some(7),
        "https://open.feishu.cn/open-apis/bot/v2/hook/00000000-0000-4000-8000-00000000d3m0",
        Some("d3m0000000000000000000"),
    ),
];

pub(super) async fn load(
    db: &Db,
    actor: &Actor,
    villages: &[i64],
    tz: chrono_tz::Tz,
) -> Result<(), DemoError> {
    for (name, kind, village, url, secret) in ROBOTS {
        let input = RobotInput {
            name: format!("{name}（示例）"),
            kind: *kind,
            village_id: village.and_then(|i| villages.get(i).copied()),
            webhook_url: Some((*url).to_string()),
            secret: secret.map(str::to_string),
            active: Some(false),
            version: None,
        };
        robots::create(db, actor, &input, &[], true, tz).await?;
    }
    Ok(())
}
