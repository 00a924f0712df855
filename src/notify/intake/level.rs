//! A warning level as people write it: 1–4, Ⅳ/Ⅲ/Ⅱ/Ⅰ, IV/III/II/I,
//! blue/yellow/orange/red (or 蓝/黄/橙/红). Parsed once, where a request or a
//! form comes in; inside the daemon a level is a number from 1 (Ⅰ, red, the
//! most severe) to 4 (Ⅳ, blue).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Level(u8);

/// What a refused level is told.
pub const LEVEL_FORMS: &str = "use 1–4, Ⅳ/Ⅲ/Ⅱ/Ⅰ, IV/III/II/I, blue/yellow/orange/red";

/// The written forms, by level.
const WORDS: [(u8, &[&str]); 4] = [
    (4, &["4", "iv", "ⅳ", "blue", "蓝", "蓝色"]),
    (3, &["3", "iii", "ⅲ", "yellow", "黄", "黄色"]),
    (2, &["2", "ii", "ⅱ", "orange", "橙", "橙色"]),
    (1, &["1", "i", "ⅰ", "red", "红", "红色"]),
];

impl Level {
    /// Ⅳ, blue: the level a drill runs at.
    pub const IV: Level = Level(4);

    pub fn new(n: i64) -> Option<Level> {
        (1..=4)
            .contains(&n)
            .then(|| Level(u8::try_from(n).unwrap_or(4)))
    }
    /// 1 (Ⅰ) … 4 (Ⅳ).
    pub fn get(self) -> i64 {
        i64::from(self.0)
    }
    /// A written level: `Ok(None)` for a plain notice ("notice" or blank).
    pub fn parse_or_notice(s: &str) -> Result<Option<Level>, String> {
        let s = s.trim().to_lowercase();
        if s.is_empty() || s == "notice" {
            return Ok(None);
        }
        WORDS
            .iter()
            .find(|(_, words)| words.contains(&s.as_str()))
            .map(|(n, _)| Some(Level(*n)))
            .ok_or_else(|| format!("{LEVEL_FORMS}, or notice"))
    }
    /// A level in a JSON value (a number or any written form); `Ok(None)`
    /// for null or a plain notice.
    pub fn from_value(v: &Value) -> Result<Option<Level>, String> {
        match v {
            Value::Null => Ok(None),
            Value::Number(n) => n
                .as_i64()
                .and_then(Level::new)
                .map(Some)
                .ok_or_else(|| format!("{LEVEL_FORMS}, or notice")),
            Value::String(s) => Level::parse_or_notice(s),
            _ => Err(format!("{LEVEL_FORMS}, or notice")),
        }
    }
}

impl Serialize for Level {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.0)
    }
}

/// A level that must be given (an incident's): "notice" is refused.
impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        match Level::from_value(&v) {
            Ok(Some(l)) => Ok(l),
            _ => Err(serde::de::Error::custom(LEVEL_FORMS)),
        }
    }
}

/// For a notice's optional level: absent, null, blank or "notice" is none.
pub fn notice_or_level<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Level>, D::Error> {
    let v = Value::deserialize(d)?;
    Level::from_value(&v).map_err(serde::de::Error::custom)
}

fn written_forms() -> Vec<&'static str> {
    WORDS.iter().flat_map(|(_, w)| w.iter().copied()).collect()
}

impl utoipa::PartialSchema for Level {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    .maximum(Some(4)),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(written_forms())),
            )
            .description(Some(
                "A warning level: 1 (Ⅰ, red, most severe) … 4 (Ⅳ, blue), or written as \
                 Ⅳ/Ⅲ/Ⅱ/Ⅰ, IV/III/II/I, blue/yellow/orange/red",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Level {}

/// The schema of a notice's level: a level, "notice", or null.
pub struct NoticeLevel;

impl utoipa::PartialSchema for NoticeLevel {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(<Level as utoipa::PartialSchema>::schema())
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["notice"])),
            )
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .description(Some(
                "A warning level, or \"notice\" / null for a plain notice",
            ))
            .into()
    }
}

impl utoipa::ToSchema for NoticeLevel {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_written_form_parses() {
        for (v, want) in [
            (serde_json::json!(1), Some(1)),
            (serde_json::json!("Ⅳ"), Some(4)),
            (serde_json::json!(" IV "), Some(4)),
            (serde_json::json!("orange"), Some(2)),
            (serde_json::json!("黄色"), Some(3)),
            (serde_json::json!("notice"), None),
            (Value::Null, None),
        ] {
            assert_eq!(
                Level::from_value(&v).map(|l| l.map(Level::get)),
                Ok(want),
                "{v}"
            );
        }
        for bad in [
            serde_json::json!(0),
            serde_json::json!(5),
            serde_json::json!("purple"),
            serde_json::json!(true),
        ] {
            assert!(Level::from_value(&bad).is_err(), "{bad}");
        }
        assert!(serde_json::from_value::<Level>(serde_json::json!("notice")).is_err());
    }
}
