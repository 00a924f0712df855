//! The live transfer board: per zone and per village, planned / moved / at
//! shelters / refused / away / not yet known, the vulnerable people not yet
//! moved first, minutes since the order, the reports as they came, and the
//! replies a person must read. Also the incident's transfer table.
//!
//! How figures combine: each household's tick is known exactly; an SMS or
//! office report gives a cadre's figures as a whole, as a running figure
//! (their latest of each kind counts, never the sum of their reports, which
//! would show people safe twice). For each person in charge the larger of
//! what they ticked and what they reported counts, so a cadre who both
//! ticks and texts is not counted twice; the people in charge are then
//! added up.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::orders::Stage;
use super::{Count, Direction, HouseholdStatus};
use crate::store::{Db, Result, now_ms};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HouseholdLine {
    pub household_id: i64,
    pub head: String,
    pub members: i64,
    pub vulnerable: i64,
    /// 老2 残1 …
    pub vulnerable_words: String,
    pub status: HouseholdStatus,
    pub status_label: &'static str,
    pub note: Option<String>,
    pub arrived: i64,
    pub cadre_id: Option<i64>,
    pub cadre: Option<String>,
}

/// A household not yet moved, as the live board shows it: no name.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WaitingLine {
    pub household_id: i64,
    pub members: i64,
    pub vulnerable: i64,
    /// 老2 残1 …
    pub vulnerable_words: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReportLine {
    pub id: i64,
    pub from: Option<String>,
    /// sms | office
    pub source: String,
    /// What it said (a figure not said: null).
    pub moved: Said,
    pub refused: Said,
    pub away: Said,
    pub remaining: Said,
    pub correction: bool,
    /// Replaced by a later correction of the same sender.
    pub replaced: bool,
    pub text: Option<String>,
    pub at: String,
}

/// Households and persons as a report said them (either may be missing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Said {
    pub households: Option<i64>,
    pub persons: Option<i64>,
}

impl Said {
    fn new(households: Option<i64>, persons: Option<i64>) -> Said {
        Said {
            households,
            persons,
        }
    }
    /// "5户12人", "12人", "2户".
    pub fn zh(&self) -> String {
        let h = self
            .households
            .map(|h| format!("{h}户"))
            .unwrap_or_default();
        let p = self.persons.map(|p| format!("{p}人")).unwrap_or_default();
        format!("{h}{p}")
    }
    pub fn is_said(&self) -> bool {
        self.households.is_some() || self.persons.is_some()
    }
}

/// An SMS a person must read: unreadable, or from a number not in charge.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReplyLine {
    pub phone: String,
    pub text: String,
    pub at: String,
    /// transfer_unreadable | transfer_unknown_sender
    pub outcome: String,
}

#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Figures {
    pub planned: Count,
    /// Vulnerable people among the planned.
    pub vulnerable: i64,
    /// Moved out (on a return: back home).
    pub moved: Count,
    pub at_shelters: Count,
    pub refused: Count,
    pub away: Count,
    /// Not yet known to be moved, refusing or away.
    pub unknown: Count,
    /// Vulnerable people in households not yet moved.
    pub vulnerable_waiting: i64,
}

impl Figures {
    fn add(&mut self, o: &Figures) {
        self.planned.add(o.planned);
        self.vulnerable += o.vulnerable;
        self.moved.add(o.moved);
        self.at_shelters.add(o.at_shelters);
        self.refused.add(o.refused);
        self.away.add(o.away);
        self.unknown.add(o.unknown);
        self.vulnerable_waiting += o.vulnerable_waiting;
    }
    /// More reported moved than registered.
    pub fn over(&self) -> bool {
        self.moved.persons > self.planned.persons || self.moved.households > self.planned.households
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ZoneBoard {
    pub transfer_id: i64,
    pub zone_id: i64,
    pub zone: String,
    pub code: String,
    pub kind_label: &'static str,
    pub village_id: i64,
    pub village: String,
    pub natural_village: Option<String>,
    pub incident_id: Option<i64>,
    pub direction: Direction,
    /// prepare | move
    pub stage: String,
    /// 准备转移 / 立即转移 / 返回
    pub stage_label: &'static str,
    pub ordered_at: String,
    pub ordered_at_ms: i64,
    pub ordered_by: String,
    pub minutes_since_order: i64,
    pub first_report_at: Option<String>,
    /// 0 none, 1 the 包村干部 chased, 2 the leader on duty.
    pub escalation_step: i64,
    pub closed: bool,
    pub closed_at: Option<String>,
    pub figures: Figures,
    /// More reported than registered: accepted, to be checked.
    pub flagged: bool,
    /// Households not yet moved, vulnerable first: counts only (names and
    /// phones are on the transfer's own page, whose every read is audited).
    pub waiting: Vec<WaitingLine>,
    pub reports: Vec<ReportLine>,
    pub replies: Vec<ReplyLine>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VillageBoard {
    pub village_id: i64,
    pub village: String,
    pub zones: usize,
    pub figures: Figures,
}

/// A shelter the board's transfers send people to: how many are on their
/// way, how many arrived, against what it holds.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ShelterLoad {
    pub shelter_id: i64,
    pub name: String,
    pub capacity: i64,
    /// People of the households assigned to it (moving out).
    pub expected: i64,
    /// Checked in by its manager.
    pub arrived: i64,
    /// More expected than it holds.
    pub over: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Board {
    pub zones: Vec<ZoneBoard>,
    pub villages: Vec<VillageBoard>,
    pub totals: Figures,
    /// The shelters people are going to, with their occupancy.
    pub shelters: Vec<ShelterLoad>,
    /// Transfer reports from numbers not in charge of any open transfer.
    pub unknown_senders: Vec<ReplyLine>,
    pub counted_at: String,
}

/// Which transfers a board shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Which {
    /// The transfers of one incident, closed ones included.
    pub incident_id: Option<i64>,
    /// One transfer.
    pub transfer_id: Option<i64>,
    /// Closed ones too (with no incident named: the open ones only).
    pub include_closed: bool,
}

#[derive(sqlx::FromRow)]
struct TransferRow {
    id: i64,
    zone_id: i64,
    incident_id: Option<i64>,
    direction: String,
    stage: String,
    ordered_at: i64,
    ordered_by: String,
    planned_households: i64,
    planned_persons: i64,
    first_report_at: Option<i64>,
    escalation_step: i64,
    closed_at: Option<i64>,
    name: String,
    code: String,
    kind: String,
    village_id: i64,
    natural_village: Option<String>,
}

type HouseholdRowT = (
    i64,
    i64,
    Option<i64>,
    i64,
    i64,
    String,
    Option<String>,
    i64,
    String,
    Option<String>,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
);

#[derive(sqlx::FromRow)]
struct ReportRow {
    id: i64,
    transfer_id: i64,
    contact_id: Option<i64>,
    source: String,
    moved_households: Option<i64>,
    moved_persons: Option<i64>,
    refused_households: Option<i64>,
    refused_persons: Option<i64>,
    away_households: Option<i64>,
    away_persons: Option<i64>,
    remaining_households: Option<i64>,
    remaining_persons: Option<i64>,
    correction: i64,
    replaced_by: Option<i64>,
    text: Option<String>,
    received_at: i64,
    name: Option<String>,
}

/// (transfer, phone, text, received at, outcome) of an inbound SMS.
type ReplyRow = (Option<i64>, String, String, i64, String);

fn ids(list: &[i64]) -> String {
    list.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The board for what `which` names, as the handle's scope may see it.
pub async fn board(db: &Db, tz: chrono_tz::Tz, which: Which) -> Result<Board> {
    let now = now_ms();
    let mut cond = format!(
        "{} AND {}",
        db.township_filter("t.township_id"),
        db.village_filter("z.village_id")
    );
    if let Some(i) = which.incident_id {
        cond.push_str(&format!(" AND t.incident_id = {i}"));
    } else if let Some(t) = which.transfer_id {
        cond.push_str(&format!(" AND t.id = {t}"));
    } else if !which.include_closed {
        cond.push_str(" AND t.closed_at IS NULL");
    }
    let mut tx = db.read().await?;
    let transfers: Vec<TransferRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT t.id, t.zone_id, t.incident_id, t.direction, t.stage, t.ordered_at, t.ordered_by, t.planned_households, \
         t.planned_persons, t.first_report_at, t.escalation_step, t.closed_at, z.name, z.code, z.kind, z.village_id, z.natural_village \
         FROM transfers t JOIN danger_zones z ON z.id = t.zone_id WHERE {cond} ORDER BY z.village_id, z.code, t.id"
    )))
    .fetch_all(&mut *tx)
    .await?;
    let list = ids(&transfers.iter().map(|t| t.id).collect::<Vec<_>>());
    let (households, reports, replies): (Vec<HouseholdRowT>, Vec<ReportRow>, Vec<ReplyRow>) =
        if transfers.is_empty() {
            (Vec::new(), Vec::new(), Vec::new())
        } else {
            let h = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT th.transfer_id, th.household_id, th.cadre_id, th.members, th.vulnerable, th.status, th.note, th.arrived, \
                 h.head, c.name, h.elderly, h.infirm, h.sick, h.disabled, h.pregnant, h.children \
                 FROM transfer_households th JOIN households h ON h.id = th.household_id \
                 LEFT JOIN contacts c ON c.id = th.cadre_id WHERE th.transfer_id IN ({list}) \
                 ORDER BY th.transfer_id, th.household_id"
            )))
            .fetch_all(&mut *tx)
            .await?;
            let r = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT r.id, r.transfer_id, r.contact_id, r.source, r.moved_households, r.moved_persons, r.refused_households, \
                 r.refused_persons, r.away_households, r.away_persons, r.remaining_households, r.remaining_persons, r.correction, \
                 r.replaced_by, r.text, r.received_at, c.name FROM transfer_reports r LEFT JOIN contacts c ON c.id = r.contact_id \
                 WHERE r.transfer_id IN ({list}) ORDER BY r.id"
            )))
            .fetch_all(&mut *tx)
            .await?;
            let earliest = transfers.iter().map(|t| t.ordered_at).min().unwrap_or(now);
            let m = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT transfer_id, phone, text, received_at, outcome FROM inbound_messages \
                 WHERE {inbound} AND ((outcome = 'transfer_unreadable' AND transfer_id IN ({list})) \
                 OR (outcome = 'transfer_unknown_sender' AND received_at >= {earliest})) ORDER BY received_at",
                inbound = db.township_filter("township_id")
            )))
            .fetch_all(&mut *tx)
            .await?;
            (h, r, m)
        };
    let loads: Vec<(i64, String, i64, i64, i64)> = if transfers.is_empty() {
        Vec::new()
    } else {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT s.id, s.name, s.capacity, CAST(SUM(th.members) AS BIGINT), \
             CAST(SUM(CASE WHEN th.arrived > 0 THEN th.arrived WHEN th.status = 'shelter' THEN th.members ELSE 0 END) AS BIGINT) \
             FROM transfer_households th JOIN transfers t ON t.id = th.transfer_id \
             JOIN households h ON h.id = th.household_id JOIN danger_zones z ON z.id = t.zone_id \
             JOIN shelters s ON s.id = COALESCE(h.shelter_id, z.shelter_id) \
             WHERE th.transfer_id IN ({list}) AND t.direction = 'out' AND th.status NOT IN ('refused', 'away') \
             GROUP BY s.id, s.name, s.capacity ORDER BY s.name"
        )))
        .fetch_all(&mut *tx)
        .await?
    };
    tx.commit().await?;
    let villages = crate::registry::villages::names(db).await?;
    let mut by_transfer: HashMap<i64, Vec<HouseholdRowT>> = HashMap::new();
    for h in households {
        by_transfer.entry(h.0).or_default().push(h);
    }
    let mut reports_of: HashMap<i64, Vec<ReportRow>> = HashMap::new();
    for r in reports {
        reports_of.entry(r.transfer_id).or_default().push(r);
    }
    let reply_line = |r: &ReplyRow| ReplyLine {
        phone: r.1.clone(),
        text: r.2.clone(),
        at: crate::time::fmt_ms(r.3, tz),
        outcome: r.4.clone(),
    };
    let mut zones = Vec::new();
    for t in &transfers {
        let hs = by_transfer.remove(&t.id).unwrap_or_default();
        let rs = reports_of.remove(&t.id).unwrap_or_default();
        let direction = Direction::parse(&t.direction);
        let figures = figures_of(
            direction,
            (t.planned_households, t.planned_persons),
            &hs,
            &rs,
        );
        let mut waiting: Vec<WaitingLine> = hs
            .iter()
            .map(household_line)
            .filter(|h| !h.status.done() && h.status != HouseholdStatus::Away)
            .map(|h| WaitingLine {
                household_id: h.household_id,
                members: h.members,
                vulnerable: h.vulnerable,
                vulnerable_words: h.vulnerable_words,
            })
            .collect();
        waiting.sort_by_key(|h| (std::cmp::Reverse(h.vulnerable), h.household_id));
        zones.push(ZoneBoard {
            transfer_id: t.id,
            zone_id: t.zone_id,
            zone: t.name.clone(),
            code: t.code.clone(),
            kind_label: super::zones::kind_zh(&t.kind),
            village_id: t.village_id,
            village: villages.get(&t.village_id).cloned().unwrap_or_default(),
            natural_village: t.natural_village.clone(),
            incident_id: t.incident_id,
            direction,
            stage: t.stage.clone(),
            stage_label: match direction {
                Direction::Back => "返回",
                Direction::Out => super::orders::Stage::parse(&t.stage).zh(),
            },
            ordered_at: crate::time::fmt_ms(t.ordered_at, tz),
            ordered_at_ms: t.ordered_at,
            ordered_by: t.ordered_by.clone(),
            minutes_since_order: (t.closed_at.unwrap_or(now) - t.ordered_at).max(0) / 60_000,
            first_report_at: t.first_report_at.map(|ms| crate::time::fmt_ms(ms, tz)),
            escalation_step: t.escalation_step,
            closed: t.closed_at.is_some(),
            closed_at: t.closed_at.map(|ms| crate::time::fmt_ms(ms, tz)),
            flagged: figures.over(),
            figures,
            waiting,
            reports: rs
                .iter()
                .map(|r| ReportLine {
                    id: r.id,
                    from: r.name.clone(),
                    source: r.source.clone(),
                    moved: Said::new(r.moved_households, r.moved_persons),
                    refused: Said::new(r.refused_households, r.refused_persons),
                    away: Said::new(r.away_households, r.away_persons),
                    remaining: Said::new(r.remaining_households, r.remaining_persons),
                    correction: r.correction != 0,
                    replaced: r.replaced_by.is_some(),
                    text: r.text.clone(),
                    at: crate::time::fmt_ms(r.received_at, tz),
                })
                .collect(),
            replies: replies
                .iter()
                .filter(|m| m.0 == Some(t.id))
                .map(reply_line)
                .collect(),
        });
    }
    let mut per_village: BTreeMap<i64, VillageBoard> = BTreeMap::new();
    let mut totals = Figures::default();
    for z in &zones {
        let v = per_village
            .entry(z.village_id)
            .or_insert_with(|| VillageBoard {
                village_id: z.village_id,
                village: z.village.clone(),
                zones: 0,
                figures: Figures::default(),
            });
        v.zones += 1;
        v.figures.add(&z.figures);
        totals.add(&z.figures);
    }
    Ok(Board {
        zones,
        villages: per_village.into_values().collect(),
        totals,
        shelters: loads
            .into_iter()
            .map(|(id, name, capacity, expected, arrived)| ShelterLoad {
                shelter_id: id,
                name,
                capacity,
                expected,
                arrived,
                over: expected > capacity,
            })
            .collect(),
        unknown_senders: replies
            .iter()
            .filter(|m| m.4 == "transfer_unknown_sender")
            .map(reply_line)
            .collect(),
        counted_at: crate::time::fmt_ms(now, tz),
    })
}

fn household_line(h: &HouseholdRowT) -> HouseholdLine {
    let status = HouseholdStatus::parse(&h.5).unwrap_or(HouseholdStatus::Unknown);
    let words: Vec<String> = [
        ("老", h.10),
        ("弱", h.11),
        ("病", h.12),
        ("残", h.13),
        ("孕", h.14),
        ("留守儿童", h.15),
    ]
    .iter()
    .filter(|(_, n)| *n > 0)
    .map(|(w, n)| format!("{w}{n}"))
    .collect();
    HouseholdLine {
        household_id: h.1,
        head: h.8.clone(),
        members: h.3,
        vulnerable: h.4,
        vulnerable_words: words.join(" "),
        status,
        status_label: status.zh(),
        note: h.6.clone(),
        arrived: h.7,
        cadre_id: h.2,
        cadre: h.9.clone(),
    }
}

/// One transfer's figures (see the module's note on how they combine).
fn figures_of(
    direction: Direction,
    planned: (i64, i64),
    hs: &[HouseholdRowT],
    rs: &[ReportRow],
) -> Figures {
    // Per person in charge: (ticked, reported) × (moved, refused, away).
    #[derive(Default)]
    struct Share {
        ticked: [Count; 3],
        reported: [Count; 3],
    }
    let mut shares: HashMap<Option<i64>, Share> = HashMap::new();
    let mut f = Figures {
        planned: Count::new(planned.0, planned.1),
        ..Default::default()
    };
    for h in hs {
        let status = HouseholdStatus::parse(&h.5).unwrap_or(HouseholdStatus::Unknown);
        f.vulnerable += h.4;
        let one = Count::new(1, h.3);
        let s = shares.entry(h.2).or_default();
        match status {
            HouseholdStatus::Moved | HouseholdStatus::Shelter | HouseholdStatus::Returned => {
                s.ticked[0].add(one)
            }
            HouseholdStatus::Refused => s.ticked[1].add(one),
            HouseholdStatus::Away => s.ticked[2].add(one),
            HouseholdStatus::Unknown => {}
        }
        if !status.done() && status != HouseholdStatus::Away {
            f.vulnerable_waiting += h.4;
        }
        if direction == Direction::Out && (h.7 > 0 || status == HouseholdStatus::Shelter) {
            // Checked in: as counted at the door; ticked 已到安置点 only: the household.
            let arrived = if h.7 > 0 { h.7 } else { h.3 };
            f.at_shelters.add(Count::new(1, arrived));
        }
    }
    // A sender's report is their running figure: the latest said of each
    // kind counts (reports come in id order), not their sum.
    for r in rs.iter().filter(|r| r.replaced_by.is_none()) {
        let s = shares.entry(r.contact_id).or_default();
        let said = [
            (r.moved_households, r.moved_persons),
            (r.refused_households, r.refused_persons),
            (r.away_households, r.away_persons),
        ];
        for (k, (h, p)) in said.into_iter().enumerate() {
            if let Some(h) = h {
                s.reported[k].households = h;
            }
            if let Some(p) = p {
                s.reported[k].persons = p;
            }
        }
    }
    for s in shares.values() {
        f.moved.add(s.ticked[0].max(s.reported[0]));
        f.refused.add(s.ticked[1].max(s.reported[1]));
        f.away.add(s.ticked[2].max(s.reported[2]));
    }
    f.unknown = Count::new(
        (f.planned.households - f.moved.households - f.refused.households - f.away.households)
            .max(0),
        (f.planned.persons - f.moved.persons - f.refused.persons - f.away.persons).max(0),
    );
    // Reported people in households not ticked can include vulnerable ones:
    // the waiting count never exceeds the people not yet known.
    f.vulnerable_waiting = f
        .vulnerable_waiting
        .min(f.unknown.persons + f.refused.persons);
    f
}

/// One row of an incident's transfer table (by village and zone).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TableRow {
    pub village: String,
    pub zone: String,
    pub kind: &'static str,
    pub stage: &'static str,
    pub ordered_at: String,
    pub ordered_at_ms: i64,
    pub first_report_at: Option<String>,
    pub planned: Count,
    pub vulnerable: i64,
    pub moved: Count,
    pub at_shelters: i64,
    pub refused: Count,
    pub away: Count,
    pub unknown: Count,
    /// People back home (from the zone's return, once ordered).
    pub returned: Option<i64>,
    pub closed_at: Option<String>,
}

/// An incident's transfer table: one row per zone's transfer out, with its
/// return's figure beside it; and the totals.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Table {
    pub rows: Vec<TableRow>,
    pub totals: Figures,
    pub returned: i64,
    pub counted_at: String,
    pub counted_at_ms: i64,
}

pub async fn table(db: &Db, tz: chrono_tz::Tz, incident: i64) -> Result<Table> {
    let b = board(
        db,
        tz,
        Which {
            incident_id: Some(incident),
            ..Default::default()
        },
    )
    .await?;
    let returned: HashMap<i64, i64> = b
        .zones
        .iter()
        .filter(|z| z.direction == Direction::Back)
        .map(|z| (z.zone_id, z.figures.moved.persons))
        .collect();
    let mut totals = Figures::default();
    let rows: Vec<TableRow> = b
        .zones
        .iter()
        .filter(|z| z.direction == Direction::Out)
        .map(|z| {
            totals.add(&z.figures);
            TableRow {
                village: z.village.clone(),
                zone: z.zone.clone(),
                kind: z.kind_label,
                stage: z.stage_label,
                ordered_at: z.ordered_at.clone(),
                ordered_at_ms: z.ordered_at_ms,
                first_report_at: z.first_report_at.clone(),
                planned: z.figures.planned,
                vulnerable: z.figures.vulnerable,
                moved: z.figures.moved,
                at_shelters: z.figures.at_shelters.persons,
                refused: z.figures.refused,
                away: z.figures.away,
                unknown: z.figures.unknown,
                returned: returned.get(&z.zone_id).copied(),
                closed_at: z.closed_at.clone(),
            }
        })
        .collect();
    Ok(Table {
        returned: returned.values().sum(),
        rows,
        totals,
        counted_at: b.counted_at,
        counted_at_ms: now_ms(),
    })
}

/// The text an office reports upward (初报 / 续报), from the table.
pub fn upward_text(office: &str, t: &Table, first: bool, tz: chrono_tz::Tz) -> String {
    // The zones ordered to move are what is reported as moved; those only
    // getting ready are said apart.
    let preparing = t
        .rows
        .iter()
        .filter(|r| r.stage == Stage::Prepare.zh())
        .count();
    let moving: Vec<&TableRow> = t
        .rows
        .iter()
        .filter(|r| r.stage != Stage::Prepare.zh())
        .collect();
    let mut f = Figures::default();
    for r in &moving {
        f.planned.add(r.planned);
        f.vulnerable += r.vulnerable;
        f.moved.add(r.moved);
        f.at_shelters.persons += r.at_shelters;
        f.refused.add(r.refused);
        f.away.add(r.away);
        f.unknown.add(r.unknown);
    }
    let villages: std::collections::BTreeSet<&str> =
        moving.iter().map(|r| r.village.as_str()).collect();
    let mut s = format!(
        "【{}】{}：截至{}，我乡共对{}个村{}处危险区下达立即转移指令，应转移{}户{}人（其中老弱病残孕及留守儿童{}人），已转移{}户{}人，其中集中安置{}人",
        if first { "初报" } else { "续报" },
        office,
        zh_time(t.counted_at_ms, tz),
        villages.len(),
        moving.len(),
        f.planned.households,
        f.planned.persons,
        f.vulnerable,
        f.moved.households,
        f.moved.persons,
        f.at_shelters.persons,
    );
    if f.refused.households > 0 {
        s.push_str(&format!(
            "；拒绝转移{}户{}人，正在劝导",
            f.refused.households, f.refused.persons
        ));
    }
    if f.away.households > 0 {
        s.push_str(&format!(
            "；外出{}户{}人",
            f.away.households, f.away.persons
        ));
    }
    if f.unknown.persons > 0 {
        s.push_str(&format!(
            "；尚有{}户{}人未报告，正在核实",
            f.unknown.households, f.unknown.persons
        ));
    }
    if preparing > 0 {
        s.push_str(&format!("；另有{preparing}处危险区准备转移"));
    }
    if t.returned > 0 {
        s.push_str(&format!("；已返回{}人", t.returned));
    }
    s.push('。');
    s
}

/// "11月30日19时30分", as reports upward write the time.
pub fn zh_time(ms: i64, tz: chrono_tz::Tz) -> String {
    use chrono::TimeZone;
    chrono::Utc
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| {
            t.with_timezone(&tz)
                .format("%-m月%-d日%-H时%M分")
                .to_string()
        })
        .unwrap_or_default()
}

/// An incident's table with the text to report upward: 初报 while no zone
/// has reported, 续报 after.
pub async fn upward(
    db: &Db,
    tz: chrono_tz::Tz,
    office: &str,
    incident: i64,
) -> Result<(Table, String)> {
    let table = table(db, tz, incident).await?;
    let first = table.rows.iter().all(|r| r.first_report_at.is_none());
    let text = upward_text(office, &table, first, tz);
    Ok((table, text))
}

/// A household as its cadre's list shows it: with the phone to call and
/// the address to go to.
#[derive(Debug, Clone)]
pub struct CadreHousehold {
    pub line: HouseholdLine,
    pub phone: Option<String>,
    pub address: Option<String>,
}

/// The households of a transfer (all of them, or one cadre's), read for
/// `reader`: personal data, so the read is in the audit trail.
pub async fn households_for(
    db: &Db,
    transfer: i64,
    cadre: Option<i64>,
    reader: &str,
) -> Result<Vec<CadreHousehold>> {
    let mut tx = db.begin().await?;
    let rows: Vec<(HouseholdRowT, Option<String>, Option<String>)> = {
        let q = sqlx::query_as::<_, HouseholdPlus>(
            "SELECT th.transfer_id, th.household_id, th.cadre_id, th.members, th.vulnerable, th.status, th.note, th.arrived, \
             h.head, c.name AS cadre, h.elderly, h.infirm, h.sick, h.disabled, h.pregnant, h.children, h.phone, h.address \
             FROM transfer_households th JOIN households h ON h.id = th.household_id \
             LEFT JOIN contacts c ON c.id = th.cadre_id WHERE th.transfer_id = $1 \
             AND ($2 = 0 OR th.cadre_id = $2) ORDER BY th.vulnerable DESC, th.household_id",
        )
        .bind(transfer)
        .bind(cadre.unwrap_or(0));
        q.fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|r| {
                (
                    (
                        r.transfer_id,
                        r.household_id,
                        r.cadre_id,
                        r.members,
                        r.vulnerable,
                        r.status,
                        r.note,
                        r.arrived,
                        r.head,
                        r.cadre,
                        r.elderly,
                        r.infirm,
                        r.sick,
                        r.disabled,
                        r.pregnant,
                        r.children,
                    ),
                    r.phone,
                    r.address,
                )
            })
            .collect()
    };
    crate::audit::record(
        &mut tx,
        reader,
        "read",
        "transfer",
        Some(transfer),
        None,
        Some(&serde_json::json!({"households": rows.len(), "cadre": cadre})),
    )
    .await?;
    tx.commit().await?;
    Ok(rows
        .iter()
        .map(|(h, phone, address)| CadreHousehold {
            line: household_line(h),
            phone: phone.clone(),
            address: address.clone(),
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct HouseholdPlus {
    transfer_id: i64,
    household_id: i64,
    cadre_id: Option<i64>,
    members: i64,
    vulnerable: i64,
    status: String,
    note: Option<String>,
    arrived: i64,
    head: String,
    cadre: Option<String>,
    elderly: i64,
    infirm: i64,
    sick: i64,
    disabled: i64,
    pregnant: i64,
    children: i64,
    phone: Option<String>,
    address: Option<String>,
}
