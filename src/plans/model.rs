//! The plan file model. Every struct denies unknown fields so a misspelt key
//! is reported instead of silently ignored; `plans/README.md` documents each
//! field for the office. Derives `Serialize` so the API can list plans as JSON.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, TimeZone};
use chrono_tz::Tz;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::ledger::sites::SiteKind;
use crate::notify::Channel;
use crate::notify::intake::template;

/// Drill schedules are read in this zone (the office's wall clock).
pub const DRILL_TZ: Tz = chrono_tz::Asia::Shanghai;

/// Rainfall windows a rule or an observation may use, in hours.
pub const RAINFALL_WINDOWS: &[u32] = &[1, 3, 6, 12, 24];

/// One emergency plan (预案) as written in `plans/*.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Stable identifier, lowercase letters, digits and '-' (e.g. "forest-fire").
    pub id: String,
    pub title: String,
    pub hazard: Hazard,
    /// Revision of the plan text, e.g. "2025.1" (a bare number is accepted).
    #[serde(deserialize_with = "text_or_number")]
    pub version: String,
    /// "template" until the township has adapted and approved it.
    pub status: PlanStatus,
    /// Approval date, `2025-03-01` (a TOML date or a quoted string).
    #[serde(deserialize_with = "date")]
    pub approved_on: NaiveDate,
    /// Approving authority, e.g. "湖上乡人民政府".
    pub approved_by: String,
    /// Scope of application (适用范围), free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Notice templates by name, referenced from `levels.notify.template`.
    #[serde(default)]
    pub templates: BTreeMap<String, NoticeTemplate>,
    /// Warnings (预警), in rising severity.
    #[serde(default)]
    pub warnings: Vec<Warning>,
    /// Response levels (响应), written Ⅳ → Ⅰ (4, 3, 2, 1).
    #[serde(default)]
    pub levels: Vec<Level>,
    /// The shelters (避灾点) the plan uses, by their code in the shelter
    /// register (`fenghuo` keeps one register for all plans).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shelters: Vec<String>,
    /// Drill schedules (演练).
    #[serde(default)]
    pub drills: Vec<DrillSchedule>,
    /// A township plan: the id of the county plan (`plans/county/`) it
    /// follows; its activations are then reported to the county.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follows: Option<String>,
    /// A county plan: the roles of the county bureau's contacts told when a
    /// township opens or raises a plan that follows this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub report_to: Vec<String>,
    /// A county plan: how those reports go (default SMS).
    #[serde(default = "default_channels")]
    pub report_channels: Vec<Channel>,
    /// The daily village reports of the season (汛期值班报告 / 零报告).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_report: Option<DailyReport>,
}

/// `[daily_report]`: every day of the season, at `ask_at`, each village's
/// person holding `role` (else its 信息员, else its 村主任) is asked by SMS
/// for the day's report; at `deadline` the silent are asked once more; at
/// `summary_at` the township's summary for the county is made. Times are
/// local ("HH:MM", the configured zone), the season "MM-DD" to "MM-DD"
/// (both days included; a season may run over the new year).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DailyReport {
    /// First and last day, e.g. ["04-01", "10-15"] (Fujian's 汛期).
    pub season: Vec<String>,
    #[serde(default = "default_ask_at")]
    pub ask_at: String,
    #[serde(default = "default_deadline")]
    pub deadline: String,
    #[serde(default = "default_summary_at")]
    pub summary_at: String,
    /// The contact role asked (村值班员 / village_duty by default).
    #[serde(default = "default_daily_role")]
    pub role: String,
}

fn default_ask_at() -> String {
    "15:00".into()
}
fn default_deadline() -> String {
    "17:00".into()
}
fn default_summary_at() -> String {
    "18:00".into()
}
fn default_daily_role() -> String {
    "村值班员".into()
}

/// A "MM-DD" day of the year (29 February allowed).
pub fn month_day(s: &str) -> Option<(u32, u32)> {
    let (m, d) = s.trim().split_once('-')?;
    if m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (m, d) = (m.parse().ok()?, d.parse().ok()?);
    NaiveDate::from_ymd_opt(2000, m, d).map(|_| (m, d))
}

/// An "HH:MM" local time.
pub fn clock_time(s: &str) -> Option<chrono::NaiveTime> {
    let s = s.trim();
    (s.len() == 5)
        .then(|| chrono::NaiveTime::parse_from_str(s, "%H:%M").ok())
        .flatten()
}

/// A daily report's times, read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyTimes {
    pub from: (u32, u32),
    pub to: (u32, u32),
    pub ask_at: chrono::NaiveTime,
    pub deadline: chrono::NaiveTime,
    pub summary_at: chrono::NaiveTime,
}

impl DailyReport {
    /// The season and times, when all read (the checker made sure of it).
    pub fn times(&self) -> Option<DailyTimes> {
        let [from, to] = self.season.as_slice() else {
            return None;
        };
        Some(DailyTimes {
            from: month_day(from)?,
            to: month_day(to)?,
            ask_at: clock_time(&self.ask_at)?,
            deadline: clock_time(&self.deadline)?,
            summary_at: clock_time(&self.summary_at)?,
        })
    }
}

impl DailyTimes {
    /// Whether `day` is in the season (both ends included).
    pub fn in_season(&self, day: NaiveDate) -> bool {
        use chrono::Datelike;
        let d = (day.month(), day.day());
        if self.from <= self.to {
            self.from <= d && d <= self.to
        } else {
            d >= self.from || d <= self.to
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hazard {
    ForestFire,
    Flood,
    Typhoon,
    FloodTyphoon,
    Drought,
    Geological,
    HazardousChemicals,
    Other,
}

impl Hazard {
    pub fn label_zh(self) -> &'static str {
        match self {
            Hazard::ForestFire => "森林火灾",
            Hazard::Flood => "洪涝",
            Hazard::Typhoon => "台风",
            Hazard::FloodTyphoon => "防汛防台风",
            Hazard::Drought => "干旱",
            Hazard::Geological => "地质灾害",
            Hazard::HazardousChemicals => "危险化学品",
            Hazard::Other => "其他",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    /// A shipped template the township must adapt (模板).
    Template,
    /// Being revised (修订中).
    Draft,
    /// Approved and in force (已批准).
    Approved,
}

/// Which observations may act on a level without a person confirming:
/// `auto = true` (any kind), `auto = ["rainfall"]` (only those kinds), or
/// absent (never: a reading only suggests the level, a person decides).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum Auto {
    #[default]
    Never,
    Any,
    Kinds(Vec<ObservationKind>),
}

impl Auto {
    pub fn allows(&self, obs: &Observation) -> bool {
        match self {
            Auto::Never => false,
            Auto::Any => true,
            Auto::Kinds(k) => k.contains(&obs.kind()),
        }
    }
    pub fn is_never(&self) -> bool {
        *self == Auto::Never
    }
}

impl Serialize for Auto {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Auto::Never => s.serialize_bool(false),
            Auto::Any => s.serialize_bool(true),
            Auto::Kinds(k) => k.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Auto {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Auto;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("true, false or a list of observation kinds like [\"rainfall\"]")
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Auto, E> {
                Ok(if b { Auto::Any } else { Auto::Never })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Auto, A::Error> {
                let mut kinds = Vec::new();
                while let Some(k) = seq.next_element::<ObservationKind>()? {
                    kinds.push(k);
                }
                Ok(if kinds.is_empty() {
                    Auto::Never
                } else {
                    Auto::Kinds(kinds)
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// The kinds of observation, as plan files and the API name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObservationKind {
    Rainfall,
    RainstormSignal,
    TyphoonSignal,
    FireDanger,
    BurnedArea,
    OutOfControl,
}

impl ObservationKind {
    pub fn label_zh(self) -> &'static str {
        match self {
            ObservationKind::Rainfall => "雨量",
            ObservationKind::RainstormSignal => "暴雨预警信号",
            ObservationKind::TyphoonSignal => "台风预警信号",
            ObservationKind::FireDanger => "森林火险等级",
            ObservationKind::BurnedArea => "过火面积",
            ObservationKind::OutOfControl => "火场未控制时长",
        }
    }
}

/// `[[warnings]]`: a 预警 — a signal or rating that brings publicity,
/// patrols, bans and readiness notices to named roles. It is not a response
/// (响应): nobody is mobilised and no incident is opened. Observations issue
/// a warning automatically unless `auto = false`. List warnings in rising
/// severity: when a reading meets several, the last one met is issued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Warning {
    /// Stable identifier within the plan, e.g. "fire-danger-4".
    pub id: String,
    /// What people call it, e.g. "森林火险橙色预警".
    pub title: String,
    /// When it applies, in words.
    pub conditions: Vec<String>,
    /// The numeric part, checked against observations.
    #[serde(default)]
    pub triggers: Triggers,
    /// Issued by an observation without a person (default true).
    #[serde(default = "yes")]
    pub auto: bool,
    /// Hours a warning stays in force unless lifted earlier (1–168, default 24);
    /// while it is in force, the same or a lesser reading sends nothing again.
    #[serde(default = "default_warning_hours")]
    pub hours: u32,
    /// What is done while it is in force (宣传、巡查、禁火 …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measures: Vec<String>,
    #[serde(default)]
    pub notify: Vec<NotifyRule>,
    /// A `[templates.NAME]` written for the public: published on the public
    /// page and feed only after a leader signs it off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public: Option<String>,
}

fn yes() -> bool {
    true
}

fn default_warning_hours() -> u32 {
    24
}

/// `[templates.NAME]`: a notice title and body with `{variable}` placeholders
/// (see `notify::intake::template::VARIABLES`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticeTemplate {
    pub title: String,
    pub body: String,
}

/// One response level. `level` is 4 (Ⅳ, blue) … 1 (Ⅰ, red).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    pub level: u8,
    /// Trigger conditions as people read them (any one starts the level).
    pub conditions: Vec<String>,
    /// The numeric part of the conditions, checked against observations.
    /// A reading that meets them suggests the level; a person confirms.
    #[serde(default)]
    pub triggers: Triggers,
    /// Which readings open or raise this level without a person (see [`Auto`]).
    #[serde(default, skip_serializing_if = "Auto::is_never")]
    pub auto: Auto,
    /// Role who leads the response at this level.
    pub lead: String,
    /// Who else commands, or how, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_note: Option<String>,
    /// Measures for everyone at this level.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measures: Vec<String>,
    #[serde(default)]
    pub duties: Vec<Duty>,
    #[serde(default)]
    pub notify: Vec<NotifyRule>,
}

impl Level {
    /// "Ⅳ级（蓝色）"
    pub fn label_zh(&self) -> &'static str {
        level_label_zh(self.level)
    }
    /// "Level IV (blue)"
    pub fn label_en(&self) -> &'static str {
        level_label_en(self.level)
    }
    pub fn colour(&self) -> Option<Colour> {
        level_colour(self.level)
    }
}

/// Machine-checkable trigger rules of a level. Any one rule met is enough;
/// a threshold is met when the observation is at or above it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Triggers {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rainfall: Vec<RainfallRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rainstorm_signal: Option<Colour>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typhoon_signal: Option<Colour>,
    /// Forest-fire danger rating 1–5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fire_danger: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burned_area_ha: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_control_hours: Option<f64>,
}

impl Triggers {
    pub fn is_empty(&self) -> bool {
        self.rainfall.is_empty()
            && self.rainstorm_signal.is_none()
            && self.typhoon_signal.is_none()
            && self.fire_danger.is_none()
            && self.burned_area_ha.is_none()
            && self.out_of_control_hours.is_none()
    }

    /// The kinds of observation these triggers read.
    pub fn kinds(&self) -> Vec<ObservationKind> {
        let mut k = Vec::new();
        if !self.rainfall.is_empty() {
            k.push(ObservationKind::Rainfall);
        }
        for (set, kind) in [
            (
                self.rainstorm_signal.is_some(),
                ObservationKind::RainstormSignal,
            ),
            (
                self.typhoon_signal.is_some(),
                ObservationKind::TyphoonSignal,
            ),
            (self.fire_danger.is_some(), ObservationKind::FireDanger),
            (self.burned_area_ha.is_some(), ObservationKind::BurnedArea),
            (
                self.out_of_control_hours.is_some(),
                ObservationKind::OutOfControl,
            ),
        ] {
            if set {
                k.push(kind);
            }
        }
        k
    }

    /// The least reading that meets each rule (township-wide values): what a
    /// plan following a county plan must answer no later than the county.
    pub fn thresholds(&self) -> Vec<Observation> {
        let mut out: Vec<Observation> = self
            .rainfall
            .iter()
            .map(|r| Observation::Rainfall {
                window_hours: r.hours,
                mm: r.mm,
                village: None,
            })
            .collect();
        out.extend(self.rainstorm_signal.map(Observation::RainstormSignal));
        out.extend(self.typhoon_signal.map(Observation::TyphoonSignal));
        out.extend(self.fire_danger.map(Observation::FireDanger));
        out.extend(
            self.burned_area_ha
                .map(|hectares| Observation::BurnedArea { hectares }),
        );
        out.extend(
            self.out_of_control_hours
                .map(|hours| Observation::OutOfControl { hours }),
        );
        out
    }

    /// Whether the observation meets any rule of this kind.
    pub fn met_by(&self, obs: &Observation) -> bool {
        match obs {
            Observation::Rainfall {
                window_hours,
                mm,
                village,
            } => self
                .rainfall
                .iter()
                .any(|r| r.hours == *window_hours && *mm >= r.threshold_for(village.as_deref())),
            Observation::RainstormSignal(c) => self.rainstorm_signal.is_some_and(|t| *c >= t),
            Observation::TyphoonSignal(c) => self.typhoon_signal.is_some_and(|t| *c >= t),
            Observation::FireDanger(r) => self.fire_danger.is_some_and(|t| *r >= t),
            Observation::BurnedArea { hectares } => {
                self.burned_area_ha.is_some_and(|t| *hectares >= t)
            }
            Observation::OutOfControl { hours } => {
                self.out_of_control_hours.is_some_and(|t| *hours >= t)
            }
        }
    }
}

/// Rainfall over `hours` at or above `mm`; flash-flood villages may have
/// their own threshold in `by_village` (village code → mm).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RainfallRule {
    pub hours: u32,
    pub mm: f64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_village: BTreeMap<String, f64>,
}

impl RainfallRule {
    /// The threshold for a reading from `village` (its override, else `mm`).
    pub fn threshold_for(&self, village: Option<&str>) -> f64 {
        village
            .and_then(|v| self.by_village.get(v))
            .copied()
            .unwrap_or(self.mm)
    }
}

/// Signal and level colours, in rising severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Colour {
    #[serde(alias = "蓝", alias = "蓝色")]
    Blue,
    #[serde(alias = "黄", alias = "黄色")]
    Yellow,
    #[serde(alias = "橙", alias = "橙色")]
    Orange,
    #[serde(alias = "红", alias = "红色")]
    Red,
}

impl Colour {
    pub fn as_str(self) -> &'static str {
        match self {
            Colour::Blue => "blue",
            Colour::Yellow => "yellow",
            Colour::Orange => "orange",
            Colour::Red => "red",
        }
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            Colour::Blue => "蓝色",
            Colour::Yellow => "黄色",
            Colour::Orange => "橙色",
            Colour::Red => "红色",
        }
    }
}

/// What a role does at a level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Duty {
    pub role: String,
    pub tasks: Vec<String>,
}

/// Whom a level notifies, how, and how fast they must answer (叫应).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyRule {
    pub roles: Vec<String>,
    /// "all" (every village and the township level) or village codes.
    #[serde(default)]
    pub villages: Villages,
    #[serde(default = "default_channels")]
    pub channels: Vec<Channel>,
    /// Name of a `[templates.NAME]` entry.
    pub template: String,
    /// Answer deadline (1–1440); absent means no answer is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_within_minutes: Option<u32>,
    /// Roles told, in order, when someone does not answer in time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub escalate_to: Vec<String>,
    /// The escalation ladder (叫应阶梯): rung by rung while someone is
    /// silent, e.g. `[{ after_minutes = 10, then = "call" }, …]`; empty:
    /// the configured repeats, then the next person up.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ladder: Vec<crate::notify::response::ladder::Step>,
    /// With the role 企业安全员: the kinds of ledger site whose safety
    /// officers are told (in the rule's villages only); every kind if empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub site_kinds: Vec<SiteKind>,
    /// Shelters (by register code) this rule's transfers use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shelters: Vec<String>,
}

fn default_channels() -> Vec<Channel> {
    vec![Channel::Sms]
}

/// "all" or a list of village codes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum Villages {
    #[default]
    All,
    Codes(Vec<String>),
}

impl Villages {
    pub fn codes(&self) -> Option<&[String]> {
        match self {
            Villages::All => None,
            Villages::Codes(c) => Some(c),
        }
    }
    /// The form `notify::intake::alerts::Targets::villages` takes.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Villages::All => serde_json::Value::from("all"),
            Villages::Codes(c) => serde_json::Value::from(c.clone()),
        }
    }
}

impl Serialize for Villages {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Villages::All => s.serialize_str("all"),
            Villages::Codes(c) => c.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Villages {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Villages;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("\"all\" or a list of village codes like [\"S01\", \"S02\"]")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Villages, E> {
                if s.trim() == "all" {
                    Ok(Villages::All)
                } else {
                    Err(E::custom(format!(
                        "villages must be \"all\" or a list like [\"S01\", \"S02\"], not \"{s}\" (村范围写 \"all\" 或村代码列表)"
                    )))
                }
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Villages, A::Error> {
                let mut codes = Vec::new();
                while let Some(c) = seq.next_element::<String>()? {
                    codes.push(c);
                }
                Ok(Villages::Codes(codes))
            }
        }
        d.deserialize_any(V)
    }
}

/// A recurring drill (演练) with reminders before each one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrillSchedule {
    pub name: String,
    /// Cron in Asia/Shanghai: "minute hour day month weekday" (5 fields), or
    /// the 6/7-field form with seconds first (and year last).
    pub cron: String,
    /// Which response level the drill exercises.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<u8>,
    #[serde(default = "default_reminders")]
    pub remind_before: Vec<LeadTime>,
    #[serde(default)]
    pub villages: Villages,
    /// Roles taking part (all contacts of the villages if empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn default_reminders() -> Vec<LeadTime> {
    vec![LeadTime(7 * 1440), LeadTime(1440), LeadTime(120)]
}

impl DrillSchedule {
    /// The parsed schedule, or why the expression is not valid.
    pub fn schedule(&self) -> Result<cron::Schedule, String> {
        parse_cron(&self.cron)
    }

    /// The next drill strictly after `after`, in Asia/Shanghai.
    pub fn next_after<Z: TimeZone>(&self, after: &DateTime<Z>) -> Option<DateTime<Tz>> {
        let s = self.schedule().ok()?;
        s.after(&after.with_timezone(&DRILL_TZ)).next()
    }

    /// When to remind before a drill at `at`, earliest first.
    pub fn reminder_times(&self, at: &DateTime<Tz>) -> Vec<(LeadTime, DateTime<Tz>)> {
        let mut r: Vec<_> = self
            .remind_before
            .iter()
            .map(|l| (*l, *at - l.duration()))
            .collect();
        r.sort_by_key(|(_, t)| *t);
        r
    }
}

/// Turns the 5-field crontab form into the seconds-first form `cron` reads.
pub fn parse_cron(expr: &str) -> Result<cron::Schedule, String> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    let full = match fields.len() {
        5 => format!("0 {}", fields.join(" ")),
        6 | 7 => fields.join(" "),
        n => {
            return Err(format!(
                "has {n} fields; write 5: minute hour day month weekday (分 时 日 月 星期)"
            ));
        }
    };
    // Numeric weekdays mean Sunday = 0 in crontab but 1 in `cron`; names are unambiguous.
    let dow_index = if fields.len() == 5 { 4 } else { 5 };
    if let Some(dow) = fields.get(dow_index)
        && dow.chars().any(|c| c.is_ascii_digit())
    {
        return Err(format!(
            "weekday '{dow}' is a number; write weekdays by name, e.g. Mon-Fri or Sat (星期请写英文缩写 Mon…Sun)"
        ));
    }
    cron::Schedule::from_str(&full).map_err(|e| e.to_string())
}

/// A schedule as the office says it: "每年4月10日 9:00", "每年4–10月，每月1日
/// 9:30", "每周一至周五 8:00". A form without such words is shown as written.
pub fn cron_words(expr: &str) -> String {
    let f: Vec<&str> = expr.split_whitespace().collect();
    let [min, hour, day, month, dow] = f[..] else {
        return expr.to_string();
    };
    let time = match (hour.parse::<u32>(), min.parse::<u32>()) {
        (Ok(h), Ok(m)) if h < 24 && m < 60 => format!("{h}:{m:02}"),
        _ => return expr.to_string(),
    };
    let number = |s: &str| s.parse::<u32>().ok();
    let months = match month {
        "*" => Some(None),
        m => {
            if let Some(n) = number(m) {
                Some(Some((format!("{n}月"), true)))
            } else if let Some((a, b)) = m
                .split_once('-')
                .filter(|(a, b)| number(a).is_some() && number(b).is_some())
            {
                Some(Some((format!("{a}–{b}月"), false)))
            } else if m.split(',').all(|x| number(x).is_some()) {
                Some(Some((format!("{}月", m.replace(',', "、")), false)))
            } else {
                m.strip_prefix("*/")
                    .and_then(number)
                    .map(|n| Some((format!("每{n}个月"), false)))
            }
        }
    };
    let Some(months) = months else {
        return expr.to_string();
    };
    let weekday = |d: &str| match d.to_ascii_lowercase().as_str() {
        "mon" => Some("一"),
        "tue" => Some("二"),
        "wed" => Some("三"),
        "thu" => Some("四"),
        "fri" => Some("五"),
        "sat" => Some("六"),
        "sun" => Some("日"),
        _ => None,
    };
    let days = match (day, dow) {
        ("*", "*") => "每天".to_string(),
        ("*", w) => {
            if let Some(one) = weekday(w) {
                format!("每周{one}")
            } else if let Some((a, b)) = w
                .split_once('-')
                .and_then(|(a, b)| Some((weekday(a)?, weekday(b)?)))
            {
                format!("每周{a}至周{b}")
            } else if let Some(list) = w.split(',').map(weekday).collect::<Option<Vec<_>>>() {
                format!("每周{}", list.join("、"))
            } else {
                return expr.to_string();
            }
        }
        (d, "*") if number(d).is_some() => format!("{d}日"),
        _ => return expr.to_string(),
    };
    match (months, days.ends_with('日') && !days.starts_with('每')) {
        (Some((m, true)), true) => format!("每年{m}{days} {time}"),
        (Some((m, false)), true) if m.starts_with('每') => format!("{m}的{days} {time}"),
        (Some((m, false)), true) => format!("每年{m}，每月{days} {time}"),
        (None, true) => format!("每月{days} {time}"),
        (Some((m, _)), false) if m.starts_with('每') => format!("{m}，{days} {time}"),
        (Some((m, _)), false) => format!("每年{m}，{days} {time}"),
        (None, false) => format!("{days} {time}"),
    }
}

/// A reminder lead time written "7d", "24h" or "30m"; kept in minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LeadTime(pub u32);

impl LeadTime {
    pub fn minutes(self) -> u32 {
        self.0
    }
    pub fn duration(self) -> chrono::Duration {
        chrono::Duration::minutes(i64::from(self.0))
    }
}

impl LeadTime {
    /// "7天", "2小时", "30分钟".
    pub fn words(self) -> String {
        let m = self.0;
        if m > 0 && m.is_multiple_of(1440) {
            format!("{}天", m / 1440)
        } else if m > 0 && m.is_multiple_of(60) {
            format!("{}小时", m / 60)
        } else {
            format!("{m}分钟")
        }
    }
}

impl fmt::Display for LeadTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        if m > 0 && m.is_multiple_of(1440) {
            write!(f, "{}d", m / 1440)
        } else if m > 0 && m.is_multiple_of(60) {
            write!(f, "{}h", m / 60)
        } else {
            write!(f, "{m}m")
        }
    }
}

impl FromStr for LeadTime {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let bad = || {
            format!(
                "lead time '{s}' must be a number with d, h or m, e.g. \"7d\", \"2h\", \"30m\" (提前量格式如 7d、2h、30m)"
            )
        };
        let unit = t.chars().last().ok_or_else(bad)?;
        let per = match unit {
            'd' => 1440,
            'h' => 60,
            'm' => 1,
            _ => return Err(bad()),
        };
        let n: u32 = t[..t.len() - 1].trim().parse().map_err(|_| bad())?;
        n.checked_mul(per)
            .filter(|m| *m > 0 && *m <= 366 * 1440)
            .map(LeadTime)
            .ok_or_else(|| {
                format!(
                    "lead time '{s}' must be between 1m and 366d (提前量须在 1 分钟到 366 天之间)"
                )
            })
    }
}

impl Serialize for LeadTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LeadTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

/// An observation from a gauge, a warning feed or the fire line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Observation {
    /// Rainfall over a window (1, 3, 6, 12 or 24 h), optionally at a village gauge.
    Rainfall {
        window_hours: u32,
        mm: f64,
        village: Option<String>,
    },
    RainstormSignal(Colour),
    TyphoonSignal(Colour),
    /// Forest-fire danger rating 1–5.
    FireDanger(u8),
    BurnedArea {
        hectares: f64,
    },
    OutOfControl {
        hours: f64,
    },
}

impl Observation {
    /// The reading in words, Chinese then English: "暴雨预警信号 橙色 / rain-storm signal orange".
    pub fn words(&self) -> String {
        let zh = self.kind().label_zh();
        match self {
            Observation::Rainfall {
                window_hours, mm, ..
            } => format!("{window_hours} 小时{zh} {mm} 毫米 / {window_hours} h rainfall {mm} mm"),
            Observation::RainstormSignal(c) => {
                format!("{zh} {} / rain-storm signal {}", c.label_zh(), c.as_str())
            }
            Observation::TyphoonSignal(c) => {
                format!("{zh} {} / typhoon signal {}", c.label_zh(), c.as_str())
            }
            Observation::FireDanger(r) => format!("{zh} {r} 级 / fire danger {r}"),
            Observation::BurnedArea { hectares } => {
                format!("{zh} {hectares} 公顷 / burned area {hectares} ha")
            }
            Observation::OutOfControl { hours } => {
                format!("{zh} {hours} 小时 / out of control {hours} h")
            }
        }
    }

    pub fn kind(&self) -> ObservationKind {
        match self {
            Observation::Rainfall { .. } => ObservationKind::Rainfall,
            Observation::RainstormSignal(_) => ObservationKind::RainstormSignal,
            Observation::TyphoonSignal(_) => ObservationKind::TyphoonSignal,
            Observation::FireDanger(_) => ObservationKind::FireDanger,
            Observation::BurnedArea { .. } => ObservationKind::BurnedArea,
            Observation::OutOfControl { .. } => ObservationKind::OutOfControl,
        }
    }
}

/// Response levels from least to most severe.
pub const LEVELS: [u8; 4] = [4, 3, 2, 1];

/// "Ⅳ" … "Ⅰ"
pub fn level_roman(level: u8) -> &'static str {
    match level {
        4 => "Ⅳ",
        3 => "Ⅲ",
        2 => "Ⅱ",
        1 => "Ⅰ",
        _ => "?",
    }
}

/// "Ⅳ级（蓝色）" … "Ⅰ级（红色）", as notices show it.
pub fn level_label_zh(level: u8) -> &'static str {
    template::level_zh(Some(i64::from(level)))
}

/// "Level IV (blue)" … "Level I (red)".
pub fn level_label_en(level: u8) -> &'static str {
    template::level_en(Some(i64::from(level)))
}

/// 一般 / 较重 / 严重 / 特别严重
pub fn level_response_zh(level: u8) -> &'static str {
    match level {
        4 => "一般",
        3 => "较重",
        2 => "严重",
        1 => "特别严重",
        _ => "",
    }
}

pub fn level_colour(level: u8) -> Option<Colour> {
    match level {
        4 => Some(Colour::Blue),
        3 => Some(Colour::Yellow),
        2 => Some(Colour::Orange),
        1 => Some(Colour::Red),
        _ => None,
    }
}

/// A level's notify rule with its template filled in, ready to become a notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedNotice {
    pub level: u8,
    pub roles: Vec<String>,
    pub villages: Villages,
    pub channels: Vec<Channel>,
    pub template: String,
    pub title: String,
    pub body: String,
    pub ack_within_minutes: Option<u32>,
    pub escalate_to: Vec<String>,
    pub ladder: Vec<crate::notify::response::ladder::Step>,
}

impl PlannedNotice {
    /// The JSON shape of `notify::intake::alerts::AlertInput`, so the caller can
    /// `serde_json::from_value` it and send it like any notice.
    pub fn to_alert_json(&self, plan_title: &str, exercise: bool) -> serde_json::Value {
        serde_json::json!({
            "title": self.title,
            "body": self.body,
            "level": self.level,
            "exercise": exercise,
            "channels": self.channels,
            "ack_within_minutes": self.ack_within_minutes,
            "ladder": self.ladder,
            "targets": { "villages": self.villages.to_json(), "roles": self.roles },
            "plan": plan_title,
        })
    }
}

impl Plan {
    pub fn level(&self, level: u8) -> Option<&Level> {
        self.levels.iter().find(|l| l.level == level)
    }

    /// The notices a level sends, templates resolved. Rules whose template
    /// is missing are left out (a checked plan has none).
    pub fn notices(&self, level: u8) -> Vec<PlannedNotice> {
        let Some(l) = self.level(level) else {
            return Vec::new();
        };
        l.notify
            .iter()
            .filter_map(|r| {
                let t = self.templates.get(&r.template)?;
                Some(PlannedNotice {
                    level,
                    roles: r.roles.clone(),
                    villages: r.villages.clone(),
                    channels: r.channels.clone(),
                    template: r.template.clone(),
                    title: t.title.clone(),
                    body: t.body.clone(),
                    ack_within_minutes: r.ack_within_minutes,
                    escalate_to: r.escalate_to.clone(),
                    ladder: r.ladder.clone(),
                })
            })
            .collect()
    }

    pub fn warning(&self, id: &str) -> Option<&Warning> {
        self.warnings.iter().find(|w| w.id == id)
    }
}

fn text_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a version such as \"2025.1\"")
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<String, E> {
            Ok(s.to_string())
        }
        fn visit_i64<E: de::Error>(self, n: i64) -> Result<String, E> {
            Ok(n.to_string())
        }
        fn visit_u64<E: de::Error>(self, n: u64) -> Result<String, E> {
            Ok(n.to_string())
        }
        fn visit_f64<E: de::Error>(self, n: f64) -> Result<String, E> {
            Ok(n.to_string())
        }
    }
    d.deserialize_any(V)
}

/// A TOML date (`2025-03-01`) or the same as a string.
fn date<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    struct V;
    fn from_text<E: de::Error>(s: &str) -> Result<NaiveDate, E> {
        NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
            E::custom(format!(
                "'{s}' is not a date; write it as 2025-03-01 (日期格式为 年-月-日)"
            ))
        })
    }
    impl<'de> Visitor<'de> for V {
        type Value = NaiveDate;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a date such as 2025-03-01")
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<NaiveDate, E> {
            from_text(s)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<NaiveDate, A::Error> {
            // toml hands its datetimes over as a one-entry map.
            let dt =
                toml::value::Datetime::deserialize(de::value::MapAccessDeserializer::new(map))?;
            match (dt.date, dt.time) {
                (Some(_), None) => from_text(&dt.to_string()),
                _ => Err(de::Error::custom(format!(
                    "'{dt}' must be a date without a time, e.g. 2025-03-01 (只写日期)"
                ))),
            }
        }
    }
    d.deserialize_any(V)
}
