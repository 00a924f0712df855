//! What only some kinds of site carry: a pond's capacity and its three
//! responsible persons (三个责任人), a quarry's mining licence, a fuel
//! station's tanks, a bottled-gas point's licence and cylinders, and a
//! fireworks retail point's sale season. Kept as one JSON column on the
//! site (`details`), typed here; each part is checked against the site's
//! kind, and a failure names its field (`pond.patrol.phone`).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::sites::{InventoryLine, SiteKind};
use crate::validate::{FieldResult, err, optional_date, optional_line, required_text};

/// A named person with a phone (a pond's 责任人).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PondPerson {
    #[serde(default)]
    pub name: String,
    /// Mobile or landline; stored as E.164.
    #[serde(default)]
    pub phone: String,
}

/// 山塘/小水库: capacity, dam height and its three responsible persons
/// (行政责任人, 技术责任人, 巡查责任人), all three required.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PondDetails {
    /// 总库容, 万m³.
    #[serde(default)]
    pub capacity_10k_m3: Option<f64>,
    /// 坝高, m.
    #[serde(default)]
    pub dam_height_m: Option<f64>,
    /// 行政责任人 (usually a township or village leader).
    #[serde(default)]
    pub administrative: Option<PondPerson>,
    /// 技术责任人.
    #[serde(default)]
    pub technical: Option<PondPerson>,
    /// 巡查责任人.
    #[serde(default)]
    pub patrol: Option<PondPerson>,
}

impl PondDetails {
    /// The three persons with their 责任类别, in order.
    pub fn persons(&self) -> [(&'static str, &'static str, Option<&PondPerson>); 3] {
        [
            (
                "administrative",
                "山塘行政责任人",
                self.administrative.as_ref(),
            ),
            ("technical", "山塘技术责任人", self.technical.as_ref()),
            ("patrol", "山塘巡查责任人", self.patrol.as_ref()),
        ]
    }

    /// 山塘 below 10万m³, 小(2)型 to 100万m³, 小(1)型 to 1000万m³.
    pub fn class_zh(&self) -> Option<&'static str> {
        let c = self.capacity_10k_m3?;
        Some(if c < 10.0 {
            "山塘"
        } else if c < 100.0 {
            "小(2)型水库"
        } else if c < 1000.0 {
            "小(1)型水库"
        } else {
            "中型及以上水库"
        })
    }
}

/// 露天 / 地下.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MineType {
    OpenPit,
    Underground,
}

impl MineType {
    pub fn as_str(self) -> &'static str {
        match self {
            MineType::OpenPit => "open_pit",
            MineType::Underground => "underground",
        }
    }
    pub fn parse(s: &str) -> Option<MineType> {
        [MineType::OpenPit, MineType::Underground]
            .into_iter()
            .find(|m| m.as_str() == s || m.label_zh() == s)
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            MineType::OpenPit => "露天",
            MineType::Underground => "地下",
        }
    }
    pub fn label_en(self) -> &'static str {
        match self {
            MineType::OpenPit => "open pit",
            MineType::Underground => "underground",
        }
    }
}

/// 非煤矿山.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MineDetails {
    /// 采矿许可证号.
    #[serde(default)]
    pub mining_licence_no: Option<String>,
    /// 采矿许可证有效期至, YYYY-MM-DD.
    #[serde(default)]
    pub mining_licence_expires: Option<String>,
    #[serde(default)]
    pub mine_type: Option<MineType>,
    /// 是否有尾矿库.
    #[serde(default)]
    pub tailings_pond: bool,
}

/// 加油站.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FuelStationDetails {
    /// 储罐数量.
    #[serde(default)]
    pub tank_count: Option<i64>,
    /// 储罐总容积, m³.
    #[serde(default)]
    pub tank_volume_m3: Option<f64>,
    /// 成品油零售经营批准证书编号.
    #[serde(default)]
    pub retail_licence_no: Option<String>,
}

/// 瓶装燃气供应点.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LpgDetails {
    /// 燃气经营许可证编号.
    #[serde(default)]
    pub gas_licence_no: Option<String>,
    /// 最大储存气瓶数.
    #[serde(default)]
    pub max_cylinders: Option<i64>,
}

/// A fireworks retail point's sale season (e.g. 春节: from 腊月 to 正月十五),
/// as the dates of the year's season.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaleSeason {
    /// 春节, 元旦 …
    #[serde(default)]
    pub name: Option<String>,
    /// First day of sale, YYYY-MM-DD.
    pub from: String,
    /// Last day of sale, YYYY-MM-DD.
    pub to: String,
}

impl SaleSeason {
    /// Whether `day` is within the season (both ends included).
    pub fn covers(&self, day: NaiveDate) -> bool {
        match (
            NaiveDate::parse_from_str(&self.from, "%Y-%m-%d"),
            NaiveDate::parse_from_str(&self.to, "%Y-%m-%d"),
        ) {
            (Ok(f), Ok(t)) => f <= day && day <= t,
            _ => true,
        }
    }
}

/// The kind-specific details of a site; only the part of its kind may be given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteDetails {
    /// 山塘/小水库 (`pond_reservoir`): required, with its three persons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pond: Option<PondDetails>,
    /// 非煤矿山 (`non_coal_mine`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mine: Option<MineDetails>,
    /// 加油站 (`fuel_station`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuel_station: Option<FuelStationDetails>,
    /// 瓶装燃气供应点 (`lpg_supply_point`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lpg: Option<LpgDetails>,
    /// 烟花爆竹零售 (`fireworks_retail`): the season's dates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sale_season: Option<SaleSeason>,
}

impl SiteDetails {
    /// The stored column; a row stored before there were details reads as none.
    pub fn from_json(s: &str) -> SiteDetails {
        serde_json::from_str(s).unwrap_or_default()
    }
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

fn non_negative(field: &str, v: Option<f64>) -> FieldResult<()> {
    match v {
        Some(x) if !x.is_finite() || x < 0.0 => err(field, "must be a number of at least 0"),
        _ => Ok(()),
    }
}

fn count(field: &str, v: Option<i64>) -> FieldResult<()> {
    match v {
        Some(n) if !(0..=1_000_000).contains(&n) => {
            err(field, "must be a whole number from 0 to 1,000,000")
        }
        _ => Ok(()),
    }
}

fn person(field: &str, p: Option<&PondPerson>) -> FieldResult<PondPerson> {
    let Some(p) = p else {
        return err(
            field,
            "is required for a pond or small reservoir (山塘/小水库须落实行政、技术、巡查三个责任人)",
        );
    };
    let name = required_text(&format!("{field}.name"), &p.name, 64)?;
    let pf = format!("{field}.phone");
    if p.phone.trim().is_empty() {
        return err(pf, "must not be empty: the person must be reachable");
    }
    let phone = crate::phone::Phone::parse(&p.phone).map_err(|e| crate::validate::FieldError {
        field: pf,
        message: e.to_string(),
    })?;
    Ok(PondPerson {
        name,
        phone: phone.as_str().to_string(),
    })
}

/// The details checked against the site's kind, ready to store: a part for
/// another kind is refused, a pond without its three persons is refused,
/// numbers and dates are checked.
pub fn validate(kind: SiteKind, d: &SiteDetails) -> FieldResult<SiteDetails> {
    let only = |field: &str, k: SiteKind, given: bool| -> FieldResult<()> {
        if given && kind != k {
            return err(
                format!("details.{field}"),
                format!(
                    "is only for {} sites ({}), not {}",
                    k.label_en(),
                    k.label_zh(),
                    kind.label_en()
                ),
            );
        }
        Ok(())
    };
    only("pond", SiteKind::PondReservoir, d.pond.is_some())?;
    only("mine", SiteKind::NonCoalMine, d.mine.is_some())?;
    only(
        "fuel_station",
        SiteKind::FuelStation,
        d.fuel_station.is_some(),
    )?;
    only("lpg", SiteKind::LpgSupplyPoint, d.lpg.is_some())?;
    only(
        "sale_season",
        SiteKind::FireworksRetail,
        d.sale_season.is_some(),
    )?;
    let mut out = SiteDetails::default();
    if kind == SiteKind::PondReservoir {
        let p = d.pond.clone().unwrap_or_default();
        non_negative("details.pond.capacity_10k_m3", p.capacity_10k_m3)?;
        non_negative("details.pond.dam_height_m", p.dam_height_m)?;
        out.pond = Some(PondDetails {
            capacity_10k_m3: p.capacity_10k_m3,
            dam_height_m: p.dam_height_m,
            administrative: Some(person(
                "details.pond.administrative",
                p.administrative.as_ref(),
            )?),
            technical: Some(person("details.pond.technical", p.technical.as_ref())?),
            patrol: Some(person("details.pond.patrol", p.patrol.as_ref())?),
        });
    }
    if let Some(m) = &d.mine {
        let expires = optional_date(
            "details.mine.mining_licence_expires",
            &m.mining_licence_expires,
        )?;
        out.mine = Some(MineDetails {
            mining_licence_no: optional_line(
                "details.mine.mining_licence_no",
                &m.mining_licence_no,
                64,
            )?,
            mining_licence_expires: expires.map(|d| d.to_string()),
            mine_type: m.mine_type,
            tailings_pond: m.tailings_pond,
        });
    }
    if let Some(f) = &d.fuel_station {
        count("details.fuel_station.tank_count", f.tank_count)?;
        non_negative("details.fuel_station.tank_volume_m3", f.tank_volume_m3)?;
        out.fuel_station = Some(FuelStationDetails {
            tank_count: f.tank_count,
            tank_volume_m3: f.tank_volume_m3,
            retail_licence_no: optional_line(
                "details.fuel_station.retail_licence_no",
                &f.retail_licence_no,
                64,
            )?,
        });
    }
    if let Some(l) = &d.lpg {
        count("details.lpg.max_cylinders", l.max_cylinders)?;
        out.lpg = Some(LpgDetails {
            gas_licence_no: optional_line("details.lpg.gas_licence_no", &l.gas_licence_no, 64)?,
            max_cylinders: l.max_cylinders,
        });
    }
    if let Some(s) = &d.sale_season {
        let from = crate::validate::date("details.sale_season.from", &s.from)?;
        let to = crate::validate::date("details.sale_season.to", &s.to)?;
        if to < from {
            return err(
                "details.sale_season.to",
                "must not be before details.sale_season.from",
            );
        }
        if (to - from).num_days() > 366 {
            return err(
                "details.sale_season.to",
                "a sale season is at most a year long",
            );
        }
        out.sale_season = Some(SaleSeason {
            name: optional_line("details.sale_season.name", &s.name, 32)?,
            from: from.to_string(),
            to: to.to_string(),
        });
    }
    Ok(out)
}

/// A fireworks retail point holding stock outside its sale season
/// (季节外储存): the season is recorded, `today` is not in it, and the
/// inventory lists something.
pub fn out_of_season_stock(d: &SiteDetails, inventory: &[InventoryLine], today: NaiveDate) -> bool {
    d.sale_season
        .as_ref()
        .is_some_and(|s| !s.covers(today) && inventory.iter().any(|l| l.max_quantity > 0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(name: &str, phone: &str) -> Option<PondPerson> {
        Some(PondPerson {
            name: name.into(),
            phone: phone.into(),
        })
    }

    #[test]
    fn a_pond_needs_its_three_persons() {
        let mut d = SiteDetails {
            pond: Some(PondDetails {
                capacity_10k_m3: Some(3.5),
                dam_height_m: Some(8.0),
                administrative: who("林乡长", "13905951234"),
                technical: who("陈技术", "13905951235"),
                patrol: None,
            }),
            ..Default::default()
        };
        let e = validate(SiteKind::PondReservoir, &d).err();
        assert_eq!(e.map(|e| e.field).as_deref(), Some("details.pond.patrol"));
        if let Some(p) = d.pond.as_mut() {
            p.patrol = who("王巡查", "");
        }
        let e = validate(SiteKind::PondReservoir, &d).err();
        assert_eq!(
            e.map(|e| e.field).as_deref(),
            Some("details.pond.patrol.phone")
        );
        if let Some(p) = d.pond.as_mut() {
            p.patrol = who("王巡查", "139 0595 1236");
        }
        let ok = validate(SiteKind::PondReservoir, &d).expect("valid");
        let pond = ok.pond.expect("pond");
        assert_eq!(
            pond.patrol.as_ref().map(|p| p.phone.as_str()),
            Some("+8613905951236")
        );
        assert_eq!(pond.class_zh(), Some("山塘"));
        // Without any details at all: the first person is named.
        let e = validate(SiteKind::PondReservoir, &SiteDetails::default()).err();
        assert_eq!(
            e.map(|e| e.field).as_deref(),
            Some("details.pond.administrative")
        );
        // A pond's details on a fuel station are refused.
        let e = validate(SiteKind::FuelStation, &d).err();
        assert_eq!(e.map(|e| e.field).as_deref(), Some("details.pond"));
    }

    #[test]
    fn season() {
        let s = SaleSeason {
            name: Some("春节".into()),
            from: "2027-01-15".into(),
            to: "2027-02-20".into(),
        };
        let d = SiteDetails {
            sale_season: Some(s),
            ..Default::default()
        };
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
        let stock = [InventoryLine {
            chemical: "烟花爆竹".into(),
            cas: None,
            un_number: None,
            hazard_class: None,
            gb18218_category: None,
            max_quantity: 10.0,
            unit: "箱".into(),
        }];
        assert!(!out_of_season_stock(&d, &stock, day("2027-02-20")));
        assert!(out_of_season_stock(&d, &stock, day("2027-03-01")));
        assert!(!out_of_season_stock(&d, &[], day("2027-03-01")));
        let mut bad = d.clone();
        if let Some(s) = bad.sale_season.as_mut() {
            s.to = "2027-01-01".into();
        }
        let e = validate(SiteKind::FireworksRetail, &bad).err();
        assert_eq!(
            e.map(|e| e.field).as_deref(),
            Some("details.sale_season.to")
        );
    }
}
