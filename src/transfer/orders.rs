//! Ordering a transfer and telling the people who carry it out.
//!
//! An order names zones (by id, all of a village's, or all of a kind), or
//! comes from a reading that passes a zone's 立即转移 threshold where the
//! zone acts by itself (`auto_move`). Each zone gets at most one open
//! transfer; ordering it again changes nothing, and a 准备转移 becomes a
//! 立即转移 when raised. The zone's households are copied into the transfer
//! as they are at the order, each with the cadre who moves it (its 包户干部,
//! else the zone's 转移责任人). Every cadre gets a notice of their own: how
//! many households and people, the shelter and route, and the answer link,
//! whose page lists their households to tick. The warner (预警员) is told to
//! sound the warning. A zone with no report after its `report_minutes` is
//! chased: its village's 包村干部, then the township's leader on duty.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::zones::ZoneRow;
use super::{Direction, HouseholdStatus};
use crate::auth::Actor;
use crate::notify::delivery::outbox::Notifier;
use crate::notify::intake::alerts::{AlertError, AlertInput};
use crate::notify::intake::targets::Targets;
use crate::store::{Db, Result, StoreError, WriteError, now_ms};

/// 准备转移 or 立即转移.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// 准备转移: get ready, check the list, open the shelter.
    Prepare,
    /// 立即转移: move everyone now.
    #[default]
    Move,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Prepare => "prepare",
            Stage::Move => "move",
        }
    }
    pub fn parse(s: &str) -> Stage {
        if s == "prepare" {
            Stage::Prepare
        } else {
            Stage::Move
        }
    }
    pub fn zh(self) -> &'static str {
        match self {
            Stage::Prepare => "准备转移",
            Stage::Move => "立即转移",
        }
    }
}

/// Which zones to order, and why.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderInput {
    /// Zone ids.
    #[serde(default)]
    pub zones: Vec<i64>,
    /// Every zone of this village.
    #[serde(default)]
    pub village_id: Option<i64>,
    /// Every zone of this kind (within the village, when one is named).
    #[serde(default)]
    pub kind: Option<String>,
    /// The incident the transfer belongs to; none: the township's newest open one, if any.
    #[serde(default)]
    pub incident_id: Option<i64>,
    #[serde(default)]
    pub stage: Stage,
    /// Why, in the notice: "县防指命令", "乡防指决定" …
    #[serde(default)]
    pub reason: Option<String>,
}

/// What an order did for one zone.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Ordered {
    pub transfer_id: i64,
    pub zone_id: i64,
    pub zone: String,
    /// ordered | raised (准备 → 立即) | already (an open transfer stands)
    pub outcome: &'static str,
    pub households: i64,
    pub persons: i64,
    /// Notices sent (one per person in charge, and the warner).
    pub notices: usize,
}

pub(crate) fn alert_error(e: AlertError) -> WriteError {
    match e {
        AlertError::Invalid(f) => WriteError::Invalid(f),
        AlertError::KeyReused => WriteError::Conflict("idempotency key reused".into()),
        AlertError::Store(s) => WriteError::Store(s),
    }
}

/// The zones an order names, in the asker's scope, not archived.
async fn zones_named(db: &Db, input: &OrderInput) -> Result<Vec<ZoneRow>, WriteError> {
    let kind =
        match &input.kind {
            Some(k) => Some(super::zones::kind_code(k).ok_or_else(|| {
                WriteError::field("kind", format!("unknown danger zone kind '{k}'"))
            })?),
            None => None,
        };
    if input.zones.is_empty() && input.village_id.is_none() && kind.is_none() {
        return Err(WriteError::field(
            "zones",
            "name zones, a village or a kind (指定危险区、村或类型)",
        ));
    }
    let all = super::zones::list(
        db,
        &super::zones::Filter {
            village_id: input.village_id,
            kind,
            include_archived: false,
        },
    )
    .await?;
    if input.zones.is_empty() {
        if all.is_empty() {
            return Err(WriteError::field(
                if kind.is_some() { "kind" } else { "village_id" },
                "no danger zone there (没有符合的危险区)",
            ));
        }
        return Ok(all);
    }
    let mut out = Vec::new();
    for (i, id) in input.zones.iter().enumerate() {
        match all.iter().find(|z| z.id == *id) {
            Some(z) => out.push(z.clone()),
            None => {
                return Err(WriteError::field(
                    &format!("zones[{i}]"),
                    format!("no danger zone with id {id}"),
                ));
            }
        }
    }
    Ok(out)
}

/// The incident a transfer belongs to: the one named (open, in scope), else
/// the township's newest open one.
async fn incident_for(
    db: &Db,
    named: Option<i64>,
    township: i64,
) -> Result<Option<(i64, bool)>, WriteError> {
    if let Some(id) = named {
        let inc = crate::incidents::get(db, id)
            .await?
            .ok_or_else(|| WriteError::field("incident_id", format!("no incident {id}")))?;
        if inc.status != "open" {
            return Err(WriteError::field("incident_id", "the incident is closed"));
        }
        return Ok(Some((inc.id, inc.exercise != 0)));
    }
    // Never a drill's by itself: a real order must not go out marked 演练.
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT id, exercise FROM incidents WHERE township_id = $1 AND status = 'open' AND exercise = 0 \
         ORDER BY id DESC LIMIT 1",
    )
    .bind(township)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|(id, ex)| (id, ex != 0)))
}

/// A transfer's own incident with its exercise mark.
async fn incident_of(db: &Db, transfer: i64) -> Result<Option<(i64, bool)>, WriteError> {
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT i.id, i.exercise FROM transfers t JOIN incidents i ON i.id = t.incident_id WHERE t.id = $1",
    )
    .bind(transfer)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|(id, ex)| (id, ex != 0)))
}

/// Orders the zones named out of danger.
pub async fn order(
    n: &Notifier,
    actor: &Actor,
    db: &Db,
    input: &OrderInput,
) -> Result<Vec<Ordered>, WriteError> {
    let reason = crate::validate::optional_line("reason", &input.reason, 100)?;
    let zones = zones_named(db, input).await?;
    let mut out = Vec::new();
    for zone in zones {
        let incident = incident_for(db, input.incident_id, zone.township_id).await?;
        out.push(
            order_zone(
                n,
                actor,
                db,
                &zone,
                input.stage,
                incident,
                reason.as_deref().unwrap_or("乡镇防指命令"),
                "order",
            )
            .await?,
        );
    }
    Ok(out)
}

/// One open transfer of a zone, if any: (id, direction, stage).
async fn open_of(
    conn: &mut sqlx::AnyConnection,
    zone: i64,
) -> Result<Option<(i64, String, String)>> {
    Ok(sqlx::query_as(
        "SELECT id, direction, stage FROM transfers WHERE zone_id = $1 AND closed_at IS NULL",
    )
    .bind(zone)
    .fetch_optional(conn)
    .await?)
}

/// (id, cadre, members, elderly, infirm, sick, disabled, pregnant, children).
type HouseholdCounts = (i64, Option<i64>, i64, i64, i64, i64, i64, i64, i64);

/// (transfer, township, village, step, zone name, ordered at, report minutes, direction).
type SilentRow = (i64, i64, i64, i64, String, i64, i64, String);

/// The transfer's household rows as (household id, cadre, members, vulnerable).
type Snapshot = Vec<(i64, i64, i64, i64)>;

#[allow(clippy::too_many_arguments)]
async fn order_zone(
    n: &Notifier,
    actor: &Actor,
    db: &Db,
    zone: &ZoneRow,
    stage: Stage,
    incident: Option<(i64, bool)>,
    reason: &str,
    how: &str,
) -> Result<Ordered, WriteError> {
    let now = now_ms();
    let mut tx = db.begin().await?;
    if let Some((id, direction, was)) = open_of(&mut tx, zone.id).await? {
        if direction == "back" {
            // Danger again while people go home: the return ends here and
            // everyone is moved out again below.
            sqlx::query("UPDATE transfers SET closed_at = $1, closed_by = $2 WHERE id = $3 AND closed_at IS NULL")
                .bind(now)
                .bind(&actor.name)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            crate::audit::record(
                &mut tx,
                &actor.name,
                "close",
                "transfer",
                Some(id),
                None,
                Some(&json!({"why": "ordered out again (再次转移)"})),
            )
            .await?;
        } else {
            let raised = if was == "prepare" && stage == Stage::Move {
                // The order to move is the order the board and the chase count from.
                sqlx::query(
                    "UPDATE transfers SET stage = 'move', ordered_at = $2, escalation_step = 0, first_report_at = NULL \
                     WHERE id = $1 AND stage = 'prepare'",
                )
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1
            } else {
                false
            };
            if raised {
                crate::audit::record(
                    &mut tx,
                    &actor.name,
                    "raise",
                    "transfer",
                    Some(id),
                    Some(&json!({"stage": "prepare"})),
                    Some(&json!({"stage": "move", "reason": reason})),
                )
                .await?;
            }
            tx.commit().await?;
            let (h, p) = planned(db, id).await?;
            let notices = if raised {
                let own = incident_of(db, id).await?;
                tell(
                    n,
                    actor,
                    db,
                    zone,
                    id,
                    Direction::Out,
                    Stage::Move,
                    reason,
                    own,
                )
                .await?
            } else {
                0
            };
            return Ok(Ordered {
                transfer_id: id,
                zone_id: zone.id,
                zone: zone.name.clone(),
                outcome: if raised { "raised" } else { "already" },
                households: h,
                persons: p,
                notices,
            });
        }
    }
    let households: Vec<HouseholdCounts> = sqlx::query_as(
        // A cadre since archived or made inactive cannot be told: the zone's leader moves the household.
        "SELECT h.id, c.id, h.members, h.elderly, h.infirm, h.sick, h.disabled, h.pregnant, h.children FROM households h \
         LEFT JOIN contacts c ON c.id = h.cadre_id AND c.archived_at IS NULL AND c.active = 1 \
         WHERE h.zone_id = $1 AND h.archived_at IS NULL ORDER BY h.id",
    )
    .bind(zone.id)
    .fetch_all(&mut *tx)
    .await?;
    let leader = zone.leader_id.unwrap_or(0);
    let snapshot: Snapshot = households
        .iter()
        .map(|&(id, cadre, members, a, b, c, d, e, f)| {
            (
                id,
                cadre.unwrap_or(leader),
                members,
                (a + b + c + d + e + f).min(members),
            )
        })
        .collect();
    let persons: i64 = snapshot.iter().map(|h| h.2).sum();
    let opened = Opened {
        direction: Direction::Out,
        stage,
        incident: incident.map(|i| i.0),
        reason: format!("{how}:{reason}"),
    };
    let inserted = insert_transfer(&mut tx, zone, &opened, now, &actor.name, &snapshot).await;
    let id = match inserted {
        Ok((id,)) => id,
        // Another order for the zone won the race (one open transfer per zone).
        Err(e)
            if e.as_database_error()
                .is_some_and(|d| d.is_unique_violation()) =>
        {
            drop(tx);
            let mut conn = db.pool.acquire().await.map_err(StoreError::from)?;
            let (id, _, _) = open_of(&mut conn, zone.id)
                .await?
                .ok_or(WriteError::Conflict(
                    "the transfer changed meanwhile".into(),
                ))?;
            let (h, p) = planned(db, id).await?;
            return Ok(Ordered {
                transfer_id: id,
                zone_id: zone.id,
                zone: zone.name.clone(),
                outcome: "already",
                households: h,
                persons: p,
                notices: 0,
            });
        }
        Err(e) => return Err(e.into()),
    };
    copy_households(&mut tx, id, &snapshot, "unknown").await?;
    crate::audit::record(
        &mut tx,
        &actor.name,
        "order",
        "transfer",
        Some(id),
        None,
        Some(
            &json!({"zone": zone.code, "stage": stage.as_str(), "reason": reason,
            "households": snapshot.len(), "persons": persons, "incident": incident.map(|i| i.0)}),
        ),
    )
    .await?;
    tx.commit().await?;
    let notices = tell(
        n,
        actor,
        db,
        zone,
        id,
        Direction::Out,
        stage,
        reason,
        incident,
    )
    .await?;
    Ok(Ordered {
        transfer_id: id,
        zone_id: zone.id,
        zone: zone.name.clone(),
        outcome: "ordered",
        households: snapshot.len() as i64,
        persons,
        notices,
    })
}

/// What a new transfer is: which way, at what stage, for which incident, why.
struct Opened {
    direction: Direction,
    stage: Stage,
    incident: Option<i64>,
    reason: String,
}

/// Inserts a transfer of `zone` with the snapshot's planned figures. A
/// unique violation means another one is open for the zone (the caller
/// decides what that means).
async fn insert_transfer(
    conn: &mut sqlx::AnyConnection,
    zone: &ZoneRow,
    o: &Opened,
    now: i64,
    by: &str,
    snapshot: &Snapshot,
) -> std::result::Result<(i64,), sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO transfers (township_id, zone_id, incident_id, direction, stage, reason, ordered_at, ordered_by, \
         planned_households, planned_persons) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(zone.township_id)
    .bind(zone.id)
    .bind(o.incident)
    .bind(o.direction.as_str())
    .bind(o.stage.as_str())
    .bind(&o.reason)
    .bind(now)
    .bind(by)
    .bind(snapshot.len() as i64)
    .bind(snapshot.iter().map(|h| h.2).sum::<i64>())
    .fetch_one(conn)
    .await
}

async fn copy_households(
    conn: &mut sqlx::AnyConnection,
    transfer: i64,
    rows: &Snapshot,
    status: &str,
) -> Result<()> {
    for (household, cadre, members, vulnerable) in rows {
        sqlx::query(
            "INSERT INTO transfer_households (transfer_id, household_id, cadre_id, members, vulnerable, status) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(transfer)
        .bind(household)
        .bind((*cadre != 0).then_some(*cadre))
        .bind(members)
        .bind(vulnerable)
        .bind(status)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn planned(db: &Db, transfer: i64) -> Result<(i64, i64)> {
    Ok(
        sqlx::query_as("SELECT planned_households, planned_persons FROM transfers WHERE id = $1")
            .bind(transfer)
            .fetch_one(&db.pool)
            .await?,
    )
}

/// Tells each person in charge of the transfer's households their share
/// (one notice each, so the SMS names their own count and its link opens
/// their own list), and the zone's warner to sound the warning. Gives the
/// number of notices sent.
#[allow(clippy::too_many_arguments)]
async fn tell(
    n: &Notifier,
    actor: &Actor,
    db: &Db,
    zone: &ZoneRow,
    transfer: i64,
    direction: Direction,
    stage: Stage,
    reason: &str,
    incident: Option<(i64, bool)>,
) -> Result<usize, WriteError> {
    let rows: Vec<(Option<i64>, i64, i64)> = sqlx::query_as(
        "SELECT cadre_id, members, vulnerable FROM transfer_households WHERE transfer_id = $1",
    )
    .bind(transfer)
    .fetch_all(&db.pool)
    .await?;
    // cadre → (households, persons, vulnerable)
    let mut shares: BTreeMap<i64, (i64, i64, i64)> = BTreeMap::new();
    for (cadre, members, vulnerable) in rows {
        let Some(c) = cadre.or(zone.leader_id) else {
            continue;
        };
        let s = shares.entry(c).or_default();
        s.0 += 1;
        s.1 += members;
        s.2 += vulnerable;
    }
    // The leader always hears of it, households of their own or not.
    if let Some(l) = zone.leader_id {
        shares.entry(l).or_default();
    }
    let village = crate::registry::villages::names(&n.db)
        .await?
        .get(&zone.village_id)
        .cloned()
        .unwrap_or_default();
    let shelter = match zone.shelter_id {
        Some(id) => crate::registry::shelters::get(&n.db, id)
            .await?
            .map(|s| s.name),
        None => None,
    };
    // The title names the zone; the text says where (village, 自然村) and what.
    let place = format!(
        "{village}{}{}危险区",
        zone.natural_village.as_deref().unwrap_or(""),
        super::zones::kind_zh(&zone.kind)
    );
    let esc = |s: &str| s.replace('{', "{{").replace('}', "}}");
    let exercise = incident.is_some_and(|i| i.1);
    let mut sent = 0;
    for (contact, (h, p, v)) in shares {
        let (title, body) = match direction {
            Direction::Out => (
                format!("{}：{}", stage.zh(), esc(&zone.name)),
                format!(
                    "{{name}}：{reason}，{act}。您负责{h}户{p}人（需帮扶{v}人），{go}{route}名单见文末链接。{ask}",
                    reason = esc(reason),
                    act = match stage {
                        Stage::Prepare =>
                            format!("请做好{}群众转移准备，核实名单、通知到户", esc(&place)),
                        Stage::Move => format!("请立即组织{}群众转移", esc(&place)),
                    },
                    go = shelter
                        .as_deref()
                        .map(|s| format!("转移至{}，", esc(s)))
                        .unwrap_or_default(),
                    route = zone
                        .route
                        .as_deref()
                        .map(|r| format!("路线：{}。", esc(r)))
                        .unwrap_or_default(),
                    ask = match stage {
                        Stage::Prepare => "",
                        Stage::Move => "转移后回复“已转移X户Y人”，拒绝的回复“拒绝转移X户”。",
                    },
                ),
            ),
            Direction::Back => (
                format!("解除转移：{}", esc(&zone.name)),
                format!(
                    "{{name}}：{place}险情解除，可组织群众返回。您负责{h}户{p}人，请确认房屋安全后组织返回，名单见文末链接。返回后回复“已返回 X户Y人”。",
                    place = esc(&place),
                ),
            ),
        };
        let notice = AlertInput {
            title,
            body,
            level: None,
            exercise,
            public: false,
            channels: vec![crate::notify::Channel::Sms],
            ack_within_minutes: Some(10),
            targets: Targets {
                contacts: vec![contact],
                ..Default::default()
            },
            updates: None,
            plan: None,
            urgent: Some(true),
            escalate_to: vec!["包村干部".into(), "带班领导".into()],
            ladder: Vec::new(),
            all_clear: false,
            receipt: false,
            own_reply: false,
        };
        // One person out of reach (archived, no phone) must not keep the others from being told.
        match crate::notify::send(n, actor, &notice, None).await {
            Ok(a) => {
                note_notice(db, transfer, contact, a.id, direction.as_str()).await?;
                sent += 1;
            }
            Err(AlertError::Invalid(f)) => {
                tracing::warn!(transfer, contact, reason = %f.message, "a person in charge of a transfer cannot be told");
            }
            Err(e) => return Err(alert_error(e)),
        }
    }
    if direction == Direction::Out
        && let Some(w) = zone.warner_id
    {
        let notice = AlertInput {
            title: format!("{}预警：{}", stage.zh(), esc(&zone.name)),
            body: format!(
                "{{name}}：{place}{stage}，请立即用铜锣、喇叭、电话向危险区群众发出转移预警，逐户通知到位。",
                place = esc(&place),
                stage = stage.zh()
            ),
            level: None,
            exercise,
            public: false,
            channels: vec![crate::notify::Channel::Sms],
            ack_within_minutes: Some(10),
            targets: Targets {
                contacts: vec![w],
                ..Default::default()
            },
            updates: None,
            plan: None,
            urgent: Some(true),
            escalate_to: vec!["包村干部".into()],
            ladder: Vec::new(),
            all_clear: false,
            receipt: false,
            own_reply: false,
        };
        match crate::notify::send(n, actor, &notice, None).await {
            Ok(a) => {
                note_notice(db, transfer, w, a.id, "warner").await?;
                sent += 1;
            }
            Err(AlertError::Invalid(f)) => {
                tracing::warn!(transfer, contact = w, reason = %f.message, "a zone's warner cannot be told");
            }
            Err(e) => return Err(alert_error(e)),
        }
    }
    Ok(sent)
}

async fn note_notice(
    db: &Db,
    transfer: i64,
    contact: i64,
    alert: i64,
    purpose: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO transfer_notices (transfer_id, contact_id, alert_id, purpose) VALUES ($1, $2, $3, $4)",
    )
    .bind(transfer)
    .bind(contact)
    .bind(alert)
    .bind(purpose)
    .execute(db.writer())
    .await?;
    Ok(())
}

/// Which zones' returns to order.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnInput {
    #[serde(default)]
    pub zones: Vec<i64>,
    #[serde(default)]
    pub village_id: Option<i64>,
    #[serde(default)]
    pub kind: Option<String>,
}

/// Orders the people of the zones named back home: each zone's open
/// transfer out is closed and a return opened for its households but those
/// ticked refused or away (they stayed where they were), whose cadres are
/// told as for the transfer out.
pub async fn order_return(
    n: &Notifier,
    actor: &Actor,
    db: &Db,
    input: &ReturnInput,
) -> Result<Vec<Ordered>, WriteError> {
    let zones = zones_named(
        db,
        &OrderInput {
            zones: input.zones.clone(),
            village_id: input.village_id,
            kind: input.kind.clone(),
            ..Default::default()
        },
    )
    .await?;
    let mut out = Vec::new();
    for zone in zones {
        let now = now_ms();
        let mut tx = db.begin().await?;
        let open = match open_of(&mut tx, zone.id).await? {
            Some(o) => Some(o),
            // Closed by hand before anyone went home: its newest transfer out.
            None => sqlx::query_as(
                "SELECT id, direction, stage FROM transfers WHERE zone_id = $1 ORDER BY id DESC LIMIT 1",
            )
            .bind(zone.id)
            .fetch_optional(&mut *tx)
            .await?
            .filter(|(_, d, _): &(i64, String, String)| d == "out"),
        };
        let Some((from, direction, _)) = open else {
            continue;
        };
        if direction == "back" {
            tx.commit().await?;
            let (h, p) = planned(db, from).await?;
            out.push(Ordered {
                transfer_id: from,
                zone_id: zone.id,
                zone: zone.name.clone(),
                outcome: "already",
                households: h,
                persons: p,
                notices: 0,
            });
            continue;
        }
        let incident: Option<(Option<i64>,)> =
            sqlx::query_as("SELECT incident_id FROM transfers WHERE id = $1")
                .bind(from)
                .fetch_optional(&mut *tx)
                .await?;
        let incident_id = incident.and_then(|r| r.0);
        sqlx::query(
            "UPDATE transfers SET closed_at = $1, closed_by = $2 WHERE id = $3 AND closed_at IS NULL",
        )
        .bind(now)
        .bind(&actor.name)
        .bind(from)
        .execute(&mut *tx)
        .await?;
        let moved: Vec<(i64, Option<i64>, i64, i64)> = sqlx::query_as(
            "SELECT household_id, cadre_id, members, vulnerable FROM transfer_households \
             WHERE transfer_id = $1 AND status NOT IN ('refused', 'away') ORDER BY household_id",
        )
        .bind(from)
        .fetch_all(&mut *tx)
        .await?;
        let snapshot: Snapshot = moved
            .iter()
            .map(|&(h, c, m, v)| (h, c.unwrap_or(0), m, v))
            .collect();
        let persons: i64 = snapshot.iter().map(|h| h.2).sum();
        let opened = Opened {
            direction: Direction::Back,
            stage: Stage::Move,
            incident: incident_id,
            reason: format!("return:{from}"),
        };
        let inserted = insert_transfer(&mut tx, &zone, &opened, now, &actor.name, &snapshot).await;
        let id = match inserted {
            Ok((id,)) => id,
            // Two returns ordered at once: the other one stands.
            Err(e)
                if e.as_database_error()
                    .is_some_and(|d| d.is_unique_violation()) =>
            {
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        copy_households(&mut tx, id, &snapshot, "unknown").await?;
        crate::audit::record(
            &mut tx,
            &actor.name,
            "return",
            "transfer",
            Some(id),
            None,
            Some(&json!({"zone": zone.code, "from": from, "households": snapshot.len(), "persons": persons})),
        )
        .await?;
        tx.commit().await?;
        let exercise = match incident_id {
            Some(i) => crate::incidents::get(db, i)
                .await?
                .map(|inc| (i, inc.exercise != 0)),
            None => None,
        };
        let notices = tell(
            n,
            actor,
            db,
            &zone,
            id,
            Direction::Back,
            Stage::Move,
            "",
            exercise,
        )
        .await?;
        out.push(Ordered {
            transfer_id: id,
            zone_id: zone.id,
            zone: zone.name.clone(),
            outcome: "ordered",
            households: snapshot.len() as i64,
            persons,
            notices,
        });
    }
    if out.is_empty() {
        return Err(WriteError::field(
            "zones",
            "none of these zones has a transfer to return from (没有可返回的转移)",
        ));
    }
    Ok(out)
}

/// Closes a transfer (a return once everyone is back, or one ordered in error).
pub async fn close(db: &Db, actor: &Actor, id: i64) -> Result<(), WriteError> {
    let mut tx = db.begin().await?;
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE transfers SET closed_at = $1, closed_by = $2 WHERE id = $3 AND closed_at IS NULL AND {} \
         AND zone_id IN (SELECT z.id FROM danger_zones z WHERE {})",
        db.township_filter("township_id"),
        db.village_filter("z.village_id")
    )))
    .bind(now_ms())
    .bind(&actor.name)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if r.rows_affected() == 0 {
        return Err(WriteError::NotFound);
    }
    crate::audit::record(
        &mut tx,
        &actor.name,
        "close",
        "transfer",
        Some(id),
        None,
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What a reading did to the danger zones.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ZoneReached {
    pub zone_id: i64,
    pub zone: String,
    /// prepare | move
    pub stage: &'static str,
    /// Ordered by itself (`auto_move`), or waiting for a person's order.
    pub ordered: Option<Ordered>,
}

/// The zones whose thresholds a reading passes (rainfall over a window in
/// one village, or a rainstorm/typhoon signal everywhere): those that act
/// by themselves are ordered; the others are given back for a person to
/// order (the duty officer is told by the caller).
pub async fn on_reading(
    n: &Notifier,
    actor: &Actor,
    db: &Db,
    rain: Option<(u32, f64, Option<i64>)>,
    signal_rank: Option<u8>,
    reading: &str,
) -> Result<Vec<ZoneReached>, WriteError> {
    let zones = super::zones::list(
        db,
        &super::zones::Filter {
            village_id: rain.and_then(|r| r.2),
            ..Default::default()
        },
    )
    .await?;
    let mut out = Vec::new();
    let mut waiting_order: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for zone in zones {
        let t = zone.thresholds();
        let passes = |trigger: &super::zones::Trigger| {
            rain.is_some_and(|(h, mm, _)| trigger.rain_passes(h, mm))
                || signal_rank.is_some_and(|r| trigger.signal_passes(r))
        };
        let stage = if passes(&t.move_now) {
            Stage::Move
        } else if passes(&t.prepare) {
            Stage::Prepare
        } else {
            continue;
        };
        // Already being moved at this stage or beyond: nothing new to decide.
        let open: Option<(String, String)> = sqlx::query_as(
            "SELECT direction, stage FROM transfers WHERE zone_id = $1 AND closed_at IS NULL",
        )
        .bind(zone.id)
        .fetch_optional(&db.pool)
        .await?;
        let covered = open
            .as_ref()
            .is_some_and(|(d, st)| d == "out" && (st == "move" || stage == Stage::Prepare));
        // A zone acts by itself on its 立即转移 threshold only; getting ready
        // is for a person to decide.
        let ordered = if zone.auto_move != 0 && stage == Stage::Move {
            let incident = incident_for(db, None, zone.township_id).await?;
            let why = format!("监测达到{}条件", stage.zh());
            // One zone that cannot be ordered must not keep the reading from the others.
            match order_zone(n, actor, db, &zone, stage, incident, &why, "threshold").await {
                Ok(o) => Some(o),
                Err(WriteError::Store(e)) => return Err(WriteError::Store(e)),
                Err(e) => {
                    tracing::warn!(zone = zone.id, error = ?e, "a zone passing its threshold could not be ordered");
                    None
                }
            }
        } else {
            None
        };
        if ordered.is_none() && !covered {
            waiting_order
                .entry(zone.township_id)
                .or_default()
                .push(format!("{}（{}）", zone.name, stage.zh()));
        }
        out.push(ZoneReached {
            zone_id: zone.id,
            zone: zone.name.clone(),
            stage: stage.as_str(),
            ordered,
        });
    }
    // The duty officer and the leader on duty decide on the others.
    for (township, names) in waiting_order {
        if names.is_empty() {
            continue;
        }
        let esc = |s: &str| s.replace('{', "{{").replace('}', "}}");
        let notice = AlertInput {
            title: "危险区达到转移条件".into(),
            body: format!(
                "{{name}}：{}，以下危险区达到转移条件：{}。请立即研判并在系统中下达转移指令。",
                esc(reading),
                esc(&names.join("、"))
            ),
            level: None,
            exercise: false,
            public: false,
            channels: vec![crate::notify::Channel::Sms],
            ack_within_minutes: Some(10),
            targets: Targets {
                roles: vec!["应急办值班".into(), "带班领导".into()],
                township: true,
                ..Default::default()
            },
            updates: None,
            plan: None,
            urgent: Some(true),
            escalate_to: vec!["应急办主任".into()],
            ladder: Vec::new(),
            all_clear: false,
            receipt: false,
            own_reply: false,
        };
        let mut by = actor.clone();
        by.township = township;
        match crate::notify::send(n, &by, &notice, None).await {
            Ok(_) | Err(AlertError::Invalid(_)) => {}
            Err(e) => return Err(alert_error(e)),
        }
    }
    Ok(out)
}

/// Chases the open transfers nobody has reported on: `report_minutes`
/// after the order, the zone's village's 包村干部; as long again, the
/// township's leader on duty. Each step is taken once, by whichever daemon
/// moves `escalation_step` first. Gives how many were chased.
pub async fn chase_silent(n: &Notifier, now: i64) -> Result<usize, StoreError> {
    let due: Vec<SilentRow> = sqlx::query_as(
        "SELECT t.id, t.township_id, z.village_id, t.escalation_step, z.name, t.ordered_at, z.report_minutes, t.direction \
         FROM transfers t JOIN danger_zones z ON z.id = t.zone_id \
         WHERE t.closed_at IS NULL AND t.first_report_at IS NULL AND t.escalation_step < 2 AND t.stage = 'move' \
         AND t.ordered_at + z.report_minutes * 60000 * (t.escalation_step + 1) <= $1",
    )
    .bind(now)
    .fetch_all(&n.db.pool)
    .await?;
    let mut chased = 0;
    for (id, township, village, step, zone, ordered_at, _, direction) in due {
        let taken = sqlx::query(
            "UPDATE transfers SET escalation_step = $1 WHERE id = $2 AND escalation_step = $3 AND first_report_at IS NULL",
        )
        .bind(step + 1)
        .bind(id)
        .bind(step)
        .execute(n.db.writer())
        .await?
        .rows_affected();
        if taken == 0 {
            continue;
        }
        let minutes = (now - ordered_at) / 60_000;
        let what = Direction::parse(&direction).zh();
        let exercise = incident_of(&n.db, id)
            .await
            .map_err(|e| match e {
                WriteError::Store(s) => s,
                other => StoreError::Corrupt(format!("{other:?}")),
            })?
            .is_some_and(|i| i.1);
        let (role, targets) = if step == 0 {
            (
                "包村干部",
                Targets {
                    villages: Some(json!([village])),
                    roles: vec!["包村干部".into()],
                    ..Default::default()
                },
            )
        } else {
            (
                "带班领导",
                Targets {
                    roles: vec!["带班领导".into()],
                    township: true,
                    ..Default::default()
                },
            )
        };
        let notice = AlertInput {
            title: format!(
                "{what}未报告：{}",
                zone.replace('{', "{{").replace('}', "}}")
            ),
            body: format!(
                "{{name}}：{zone}下令{what}已{minutes}分钟，尚无任何转移报告。请立即电话核实进展并督促责任人回复。",
                zone = zone.replace('{', "{{").replace('}', "}}"),
            ),
            level: None,
            exercise,
            public: false,
            channels: vec![crate::notify::Channel::Sms],
            ack_within_minutes: Some(10),
            targets,
            updates: None,
            plan: None,
            urgent: Some(true),
            escalate_to: Vec::new(),
            ladder: Vec::new(),
            all_clear: false,
            receipt: false,
            own_reply: false,
        };
        let mut actor = Actor::system();
        actor.township = township;
        match crate::notify::send(n, &actor, &notice, None).await {
            Ok(a) => {
                let mut conn = n.db.writer().acquire().await?;
                crate::audit::record(
                    &mut conn,
                    "system",
                    "chase",
                    "transfer",
                    Some(id),
                    None,
                    Some(&json!({"to": role, "alert": a.id, "minutes": minutes})),
                )
                .await?;
                sqlx::query(
                    "INSERT INTO transfer_notices (transfer_id, contact_id, alert_id, purpose) \
                     SELECT $1, r.contact_id, $2, 'chase' FROM alert_recipients r WHERE r.alert_id = $2 AND r.contact_id IS NOT NULL",
                )
                .bind(id)
                .bind(a.id)
                .execute(&mut *conn)
                .await?;
                chased += 1;
            }
            Err(AlertError::Invalid(f)) => {
                tracing::warn!(transfer = id, role, reason = %f.message, "nobody to chase a silent transfer");
            }
            Err(AlertError::Store(e)) => return Err(e),
            Err(AlertError::KeyReused) => {}
        }
    }
    Ok(chased)
}

/// The households a transfer's status lists allow for its direction.
pub fn allowed(direction: Direction, s: HouseholdStatus) -> bool {
    HouseholdStatus::choices(direction).contains(&s)
}
