//! The sample township's enforcement file: its sample findings already name
//! their checklist items (and the major ones are under supervision, 挂牌督办,
//! from the moment they were stored); here a few documents are issued (现场
//! 检查记录, a 责令整改 with its 指令书, a 约谈 and a 首违不罚). Marked sample
//! through their sites.

use super::DemoError;
use crate::auth::Actor;
use crate::enforcement::dispositions::{self, DispositionInput, DispositionKind};
use crate::enforcement::documents::{self, DocKind};
use crate::ledger::inspections::Grade;
use crate::ledger::sites::SiteKind;
use crate::store::Db;

/// The checklist item of a sample finding (see `demo::finding`).
pub fn checklist_code(kind: SiteKind, grade: Grade) -> &'static str {
    match (kind, grade) {
        (SiteKind::FireworksRetail, Grade::Major) => "FW-16",
        (_, Grade::Major) => "HC-12",
        _ => "GN-04",
    }
}

pub async fn load(db: &Db, tz: chrono_tz::Tz) -> Result<(), DemoError> {
    let actor = Actor::new("demo-loader", crate::auth::Role::Admin);
    let found: Vec<(i64, i64, String, String)> = sqlx::query_as(
        "SELECT f.id, f.inspection_id, f.grade, i.inspected_on FROM findings f \
         JOIN inspections i ON i.id = f.inspection_id ORDER BY f.id",
    )
    .fetch_all(&db.pool)
    .await
    .map_err(crate::store::StoreError::from)?;
    let major = found.iter().find(|f| f.2 == "major");
    let general = found.iter().find(|f| f.2 == "general");
    for (i, f) in found.iter().take(2).enumerate() {
        let kind = if i == 0 {
            DocKind::InspectionRecord
        } else {
            DocKind::RectificationOrder
        };
        documents::issue(db, &actor, f.1, kind, tz).await?;
    }
    if let Some(f) = major {
        documents::issue(db, &actor, f.1, DocKind::InspectionRecord, tz).await?;
        for (kind, note) in [
            (
                DispositionKind::OrderRectification,
                "重大事故隐患，责令限期整改并挂牌督办（示例）",
            ),
            (
                DispositionKind::Interview,
                "约谈企业主要负责人，督促落实整改资金和措施（示例）",
            ),
        ] {
            let input = DispositionInput {
                kind,
                decided_on: f.3.clone(),
                decided_by: "陈建国（分管副乡长）（示例）".into(),
                note: Some(note.into()),
                exemption_item: None,
                referred_to: None,
                document_ref: None,
            };
            dispositions::record(db, &actor, f.0, &input, tz).await?;
        }
    }
    if let Some(f) = general {
        let input = DispositionInput {
            kind: DispositionKind::FirstOffenceExempt,
            decided_on: f.3.clone(),
            decided_by: "林海（乡应急办主任）（示例）".into(),
            note: Some("首次发现，当场责令改正（示例）".into()),
            exemption_item: Some(
                "福建省应急管理系统轻微违法行为免罚清单第 3 项：未按规定配备消防器材，首次被发现且及时改正（示例）".into(),
            ),
            referred_to: None,
            document_ref: None,
        };
        dispositions::record(db, &actor, f.0, &input, tz).await?;
    }
    Ok(())
}
