//! Time: stored as UTC milliseconds, shown in the configured zone.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// RFC 3339 in the zone, e.g. `2026-11-26T20:46:42+08:00`.
pub fn fmt_ms(ms: i64, tz: Tz) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) => t
            .with_timezone(&tz)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        None => String::new(),
    }
}

pub fn fmt_opt(ms: Option<i64>, tz: Tz) -> Option<String> {
    ms.map(|m| fmt_ms(m, tz))
}

/// Today's date in the zone: what "today" means for deadlines and licences.
pub fn today(tz: Tz) -> NaiveDate {
    Utc::now().with_timezone(&tz).date_naive()
}

/// Parses RFC 3339 (any offset) to UTC milliseconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.timestamp_millis())
}

/// An IANA time zone named in a request (`Asia/Shanghai`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zone(pub Tz);

impl serde::Serialize for Zone {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.name())
    }
}

impl<'de> serde::Deserialize<'de> for Zone {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        s.parse::<Tz>()
            .map(Zone)
            .map_err(|_| serde::de::Error::custom(format!("'{s}' is not an IANA time zone")))
    }
}

impl utoipa::PartialSchema for Zone {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(chrono_tz::TZ_VARIANTS.iter().map(|t| t.name())))
            .description(Some("An IANA time zone, e.g. Asia/Shanghai"))
            .into()
    }
}

impl utoipa::ToSchema for Zone {}
