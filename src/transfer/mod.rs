//! Moving people out of danger (不漏一户、不落一人): the danger zones and
//! the households in them, and the transfers an incident orders — out when
//! a zone passes its threshold or a person orders it, back (返回) after the
//! stand-down — with the progress cadres report by SMS keyword, by ticking
//! households on their phone, and shelters by checking people in.
//!
//! - `zones`, `households`: the registers (versioned, audited; households
//!   are personal data and every list read is audited).
//! - `orders`: ordering a transfer (or its return) and telling the people
//!   in charge, each with their own household count and list link; the
//!   thresholds a reading passes; escalation when a zone stays silent.
//! - `keywords`: an SMS report ("已转移 5户12人") read into figures.
//! - `progress`: reports, household ticks, shelter check-ins recorded.
//! - `board`: the live figures per zone and village, and the report table.
//! - `export`: the report as `.xlsx`.

pub mod board;
pub mod export;
pub mod households;
pub mod keywords;
pub mod orders;
pub mod progress;
pub mod zones;

use crate::store::{Db, Result};

/// Whether contact `id` is an active contact of `township` the handle may see.
pub(crate) async fn contact_in(db: &Db, id: i64, township: i64) -> Result<bool> {
    exists_in(db, "contacts", id, township).await
}

/// Whether shelter `id` is a shelter of `township` the handle may see.
pub(crate) async fn shelter_in(db: &Db, id: i64, township: i64) -> Result<bool> {
    exists_in(db, "shelters", id, township).await
}

async fn exists_in(db: &Db, table: &str, id: i64, township: i64) -> Result<bool> {
    let mut tx = db.read().await?;
    // A contact or shelter of the township, not only of the asker's village:
    // a village's zone may name the township's 包村干部 or a shared shelter.
    let row: Option<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id FROM {table} WHERE id = $1 AND township_id = $2 AND archived_at IS NULL AND {}",
        db.township_filter("township_id")
    )))
    .bind(id)
    .bind(township)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row.is_some())
}

/// Households and the people in them.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Count {
    #[serde(default)]
    pub households: i64,
    #[serde(default)]
    pub persons: i64,
}

impl Count {
    pub fn new(households: i64, persons: i64) -> Count {
        Count {
            households,
            persons,
        }
    }
    fn add(&mut self, o: Count) {
        self.households += o.households;
        self.persons += o.persons;
    }
    fn max(self, o: Count) -> Count {
        Count::new(
            self.households.max(o.households),
            self.persons.max(o.persons),
        )
    }
    /// "5户12人".
    pub fn zh(&self) -> String {
        format!("{}户{}人", self.households, self.persons)
    }
}

/// Which way a transfer moves people.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// 转移: out of the zone.
    Out,
    /// 返回: back home after the stand-down.
    Back,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Out => "out",
            Direction::Back => "back",
        }
    }
    pub fn parse(s: &str) -> Direction {
        if s == "back" {
            Direction::Back
        } else {
            Direction::Out
        }
    }
    pub fn zh(self) -> &'static str {
        match self {
            Direction::Out => "转移",
            Direction::Back => "返回",
        }
    }
}

/// A household's state in a transfer.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum HouseholdStatus {
    /// 未报: nothing known yet.
    Unknown,
    /// 已转移.
    Moved,
    /// 已到安置点.
    Shelter,
    /// 拒绝转移.
    Refused,
    /// 外出 (not at home; nobody to move).
    Away,
    /// 已返回 (a return transfer).
    Returned,
}

impl HouseholdStatus {
    pub const ALL: [HouseholdStatus; 6] = [
        HouseholdStatus::Unknown,
        HouseholdStatus::Moved,
        HouseholdStatus::Shelter,
        HouseholdStatus::Refused,
        HouseholdStatus::Away,
        HouseholdStatus::Returned,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            HouseholdStatus::Unknown => "unknown",
            HouseholdStatus::Moved => "moved",
            HouseholdStatus::Shelter => "shelter",
            HouseholdStatus::Refused => "refused",
            HouseholdStatus::Away => "away",
            HouseholdStatus::Returned => "returned",
        }
    }
    pub fn parse(s: &str) -> Option<HouseholdStatus> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s || x.zh() == s)
    }
    pub fn zh(self) -> &'static str {
        match self {
            HouseholdStatus::Unknown => "未报",
            HouseholdStatus::Moved => "已转移",
            HouseholdStatus::Shelter => "已到安置点",
            HouseholdStatus::Refused => "拒绝转移",
            HouseholdStatus::Away => "外出",
            HouseholdStatus::Returned => "已返回",
        }
    }
    pub fn en(self) -> &'static str {
        match self {
            HouseholdStatus::Unknown => "not reported",
            HouseholdStatus::Moved => "moved",
            HouseholdStatus::Shelter => "at shelter",
            HouseholdStatus::Refused => "refused",
            HouseholdStatus::Away => "away",
            HouseholdStatus::Returned => "returned",
        }
    }
    /// The states a cadre may tick for a transfer going this way.
    pub fn choices(d: Direction) -> &'static [HouseholdStatus] {
        match d {
            Direction::Out => &[
                HouseholdStatus::Moved,
                HouseholdStatus::Shelter,
                HouseholdStatus::Refused,
                HouseholdStatus::Away,
                HouseholdStatus::Unknown,
            ],
            Direction::Back => &[
                HouseholdStatus::Returned,
                HouseholdStatus::Away,
                HouseholdStatus::Unknown,
            ],
        }
    }
    /// Whether the household's people are out of danger (or home again on a return).
    pub fn done(self) -> bool {
        matches!(
            self,
            HouseholdStatus::Moved | HouseholdStatus::Shelter | HouseholdStatus::Returned
        )
    }
}
