//! Public warnings as OASIS CAP 1.2 messages (ITU-T X.1303; GB/T 35965.1-2018
//! follows it), and an Atom 1.0 feed (RFC 4287) listing the active ones.
//!
//! This file is the message model; `validate` holds the rules, `xml` the
//! escaping, times and writing, `atom` the feed.
//!
//! The XML is written by hand. [`to_xml`] first runs [`validate`], so every
//! document it returns is valid against the OASIS CAP 1.2 schema and also
//! keeps the rules of the CAP 1.2 text that the schema cannot express:
//!
//! * elements in the schema's order, enumerated values spelled as the schema
//!   spells them;
//! * times as `YYYY-MM-DDThh:mm:ss±hh:mm`: no fractional seconds, no `Z`,
//!   and UTC written `-00:00` as CAP requires (see [`format_time`]);
//! * `identifier`, `sender` and the parts of each `references` triple contain
//!   no whitespace, comma, `<` or `&`. These are **rejected, not silently
//!   rewritten**, because a changed identifier would break later
//!   Update/Cancel references. [`sanitize_id`] is there for callers that
//!   build identifiers from free text;
//! * polygons are rings of WGS 84 `(lat, lon)` points written `lat,lon lat,lon …`.
//!   An open ring is closed by repeating its first point. After that it
//!   needs at least 4 points, so at least 3 distinct corners;
//! * circles are written `lat,lon radius_km`;
//! * an Update, Cancel, Ack or Error message must reference at least one
//!   earlier message (a rule of this module: CAP defines these types by
//!   the messages they reference).
//!
//! `tests/support/validate_cap.py` checks the output independently of this
//! module, against the official XSD.
//!
//! Text is escaped with [`escape_text`] and [`escape_attr`]. Characters that
//! XML 1.0 forbids even as character references (C0 controls other than tab,
//! LF and CR, U+FFFE and U+FFFF) become U+FFFD.

pub mod atom;
pub mod validate;
pub mod xml;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset};

/// XML namespace of CAP 1.2.
pub const CAP_NAMESPACE: &str = "urn:oasis:names:tc:emergency:cap:1.2";
/// MIME type of a CAP document (used on Atom links and HTTP responses).
pub const CAP_MIME: &str = "application/cap+xml";

/// Defines a closed CAP enumeration whose variant names are the schema's
/// spelling, with `as_str`, `Display`, `FromStr` (exact, case-sensitive) and `ALL`.
macro_rules! cap_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in the schema's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value as spelled in CAP XML.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = CapError;
            fn from_str(s: &str) -> Result<Self, CapError> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(CapError::new(
                        stringify!($name),
                        format!("'{s}' is not one of: {}", [$($text),+].join(", ")),
                    )),
                }
            }
        }
    };
}

cap_enum!(
    /// `alert/status`: the message's handling code.
    Status {
        Actual = "Actual",
        Exercise = "Exercise",
        System = "System",
        Test = "Test",
        Draft = "Draft",
    }
);

cap_enum!(
    /// `alert/msgType`.
    MsgType {
        Alert = "Alert",
        Update = "Update",
        Cancel = "Cancel",
        Ack = "Ack",
        Error = "Error",
    }
);

cap_enum!(
    /// `info/category`.
    Category {
        Geo = "Geo",
        Met = "Met",
        Safety = "Safety",
        Security = "Security",
        Rescue = "Rescue",
        Fire = "Fire",
        Health = "Health",
        Env = "Env",
        Transport = "Transport",
        Infra = "Infra",
        Cbrne = "CBRNE",
        Other = "Other",
    }
);

cap_enum!(
    /// `info/responseType`: what the audience is told to do.
    ResponseType {
        Shelter = "Shelter",
        Evacuate = "Evacuate",
        Prepare = "Prepare",
        Execute = "Execute",
        Avoid = "Avoid",
        Monitor = "Monitor",
        Assess = "Assess",
        AllClear = "AllClear",
        None = "None",
    }
);

cap_enum!(
    /// `info/urgency`.
    #[derive(Default)]
    Urgency {
        Immediate = "Immediate",
        Expected = "Expected",
        Future = "Future",
        Past = "Past",
        #[default]
        Unknown = "Unknown",
    }
);

cap_enum!(
    /// `info/severity`.
    #[derive(Default)]
    Severity {
        Extreme = "Extreme",
        Severe = "Severe",
        Moderate = "Moderate",
        Minor = "Minor",
        #[default]
        Unknown = "Unknown",
    }
);

cap_enum!(
    /// `info/certainty`.
    #[derive(Default)]
    Certainty {
        Observed = "Observed",
        Likely = "Likely",
        Possible = "Possible",
        Unlikely = "Unlikely",
        #[default]
        Unknown = "Unknown",
    }
);

/// Maps the office's warning level to CAP severity, following China's
/// four-colour scale as GB/T 35965.1 uses it:
///
/// | level | colour | severity |
/// |---|---|---|
/// | `Some(1)` | Ⅰ red | `Extreme` |
/// | `Some(2)` | Ⅱ orange | `Severe` |
/// | `Some(3)` | Ⅲ yellow | `Moderate` |
/// | `Some(4)` | Ⅳ blue | `Minor` |
/// | `None` | plain notice, no graded warning | `Minor` |
/// | any other number | invalid level | `Unknown` |
///
/// A plain notice maps to `Minor` ("minimal to no known threat to life or
/// property" in CAP). `Unknown` is kept for a level we cannot interpret,
/// so a bad level is never shown as a low severity by mistake.
pub fn severity_for_level(level: Option<u8>) -> Severity {
    match level {
        Some(1) => Severity::Extreme,
        Some(2) => Severity::Severe,
        Some(3) => Severity::Moderate,
        Some(4) | None => Severity::Minor,
        Some(_) => Severity::Unknown,
    }
}

/// `alert/scope`, together with the element that each scope requires.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Scope {
    /// For general dissemination to unrestricted audiences.
    #[default]
    Public,
    /// For users with a known operational requirement; the text becomes
    /// `<restriction>`.
    Restricted(String),
    /// For the listed addressees only; they become `<addresses>`, and an
    /// address that contains whitespace is put in double quotes.
    Private(Vec<String>),
}

impl Scope {
    /// The value as spelled in CAP XML.
    pub fn as_str(&self) -> &'static str {
        match self {
            Scope::Public => "Public",
            Scope::Restricted(_) => "Restricted",
            Scope::Private(_) => "Private",
        }
    }
}

/// One earlier message referred to by `alert/references`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub sender: String,
    pub identifier: String,
    pub sent: DateTime<FixedOffset>,
}

impl Reference {
    /// The reference to an alert that this crate built: its sender,
    /// identifier and sent time.
    pub fn to(alert: &Alert) -> Reference {
        Reference {
            sender: alert.sender.clone(),
            identifier: alert.identifier.clone(),
            sent: alert.sent,
        }
    }
}

/// `info/area`. Coordinates are WGS 84 decimal degrees.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Area {
    /// Text description of the area (required).
    pub area_desc: String,
    /// Rings of `(lat, lon)`. A ring that is not closed is closed when
    /// written. A closed ring needs at least 4 points.
    pub polygons: Vec<Vec<(f64, f64)>>,
    /// `(lat, lon, radius_km)`.
    pub circles: Vec<(f64, f64, f64)>,
    /// `(valueName, value)`, e.g. `("GB/T 2260", "330106")`.
    pub geocodes: Vec<(String, String)>,
    /// Altitude in feet above mean sea level, as CAP defines it.
    pub altitude: Option<f64>,
    /// Ceiling in feet above mean sea level. Needs `altitude`.
    pub ceiling: Option<f64>,
}

/// `alert/info`: one language's version of the warning.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Info {
    /// RFC 3066 tag, e.g. `zh-CN` (required here, although CAP would
    /// default to `en-US`).
    pub language: String,
    /// At least one.
    pub categories: Vec<Category>,
    /// Type of event, e.g. `暴雨` (required).
    pub event: String,
    pub response_types: Vec<ResponseType>,
    pub urgency: Urgency,
    pub severity: Severity,
    pub certainty: Certainty,
    pub audience: Option<String>,
    /// `(valueName, value)`.
    pub event_codes: Vec<(String, String)>,
    pub effective: Option<DateTime<FixedOffset>>,
    pub onset: Option<DateTime<FixedOffset>>,
    pub expires: Option<DateTime<FixedOffset>>,
    pub sender_name: Option<String>,
    pub headline: Option<String>,
    pub description: Option<String>,
    pub instruction: Option<String>,
    /// Absolute URI with more information.
    pub web: Option<String>,
    pub contact: Option<String>,
    /// `(valueName, value)`.
    pub parameters: Vec<(String, String)>,
    pub areas: Vec<Area>,
}

/// A whole CAP 1.2 message.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Unique for this sender. No whitespace, `,`, `<` or `&`.
    pub identifier: String,
    /// Globally unique sender, e.g. a domain or e-mail address. Same
    /// character rules as `identifier`.
    pub sender: String,
    pub sent: DateTime<FixedOffset>,
    pub status: Status,
    pub msg_type: MsgType,
    pub scope: Scope,
    pub note: Option<String>,
    /// Required (non-empty) for Update, Cancel, Ack and Error.
    pub references: Vec<Reference>,
    /// Whitespace-separated incident names, written as given.
    pub incidents: Option<String>,
    pub infos: Vec<Info>,
}

/// Why an [`Alert`] cannot be written as valid CAP. `field` is a path such
/// as `info[0].area[1].polygon[0]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapError {
    pub field: String,
    pub message: String,
}

impl CapError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> CapError {
        CapError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for CapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CAP {}: {}", self.field, self.message)
    }
}

impl std::error::Error for CapError {}

#[cfg(test)]
mod test_support {
    use super::*;
    use chrono::TimeZone;

    pub(super) fn cst(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<FixedOffset> {
        FixedOffset::east_opt(8 * 3600)
            .unwrap()
            .with_ymd_and_hms(y, mo, d, h, mi, s)
            .unwrap()
    }

    pub(super) fn sample() -> Alert {
        Alert {
            identifier: "fenghuo-2026-0001".into(),
            sender: "yjb@example.gov.cn".into(),
            sent: cst(2026, 7, 1, 14, 30, 0),
            status: Status::Actual,
            msg_type: MsgType::Alert,
            scope: Scope::Public,
            note: Some("a < b & c".into()),
            references: vec![],
            incidents: None,
            infos: vec![Info {
                language: "zh-CN".into(),
                categories: vec![Category::Met, Category::Safety],
                event: "暴雨".into(),
                response_types: vec![ResponseType::Prepare],
                urgency: Urgency::Expected,
                severity: severity_for_level(3),
                certainty: Certainty::Likely,
                event_codes: vec![("GB/T 35965.1".into(), "11B03".into())],
                effective: Some(cst(2026, 7, 1, 14, 30, 0)),
                expires: Some(cst(2026, 7, 2, 14, 30, 0)),
                sender_name: Some("某镇应急办".into()),
                headline: Some("暴雨黄色预警".into()),
                description: Some("预计未来6小时降雨量将达50毫米以上".into()),
                instruction: Some("请远离河道 <注意> & 安全".into()),
                web: Some("https://example.gov.cn/a?x=1&y=2".into()),
                parameters: vec![("level".into(), "3".into())],
                areas: vec![Area {
                    area_desc: "河东村".into(),
                    polygons: vec![vec![
                        (30.1, 120.1),
                        (30.2, 120.1),
                        (30.2, 120.2),
                        (30.1, 120.1),
                    ]],
                    circles: vec![(30.15, 120.15, 2.5)],
                    geocodes: vec![("GB/T 2260".into(), "330106".into())],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn severity_for_level(l: u8) -> Severity {
        super::severity_for_level(Some(l))
    }

    /// Positions of `<tag>` / `<tag ` openings, asserting each exists and
    /// they appear in the given order.
    pub(super) fn assert_order(xml: &str, tags: &[&str]) {
        let mut last = 0;
        for t in tags {
            let pos = xml[last..]
                .find(&format!("<{t}>"))
                .or_else(|| xml[last..].find(&format!("<{t} ")))
                .unwrap_or_else(|| panic!("<{t}> missing or out of order in\n{xml}"));
            last += pos + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip() {
        for c in Category::ALL {
            assert_eq!(c.as_str().parse::<Category>().unwrap(), *c);
        }
        assert_eq!(Category::Cbrne.as_str(), "CBRNE");
        assert_eq!(
            "AllClear".parse::<ResponseType>().unwrap(),
            ResponseType::AllClear
        );
        assert!("actual".parse::<Status>().is_err());
        assert_eq!(Severity::default(), Severity::Unknown);
    }

    #[test]
    fn levels_map_to_severity() {
        assert_eq!(super::severity_for_level(Some(1)), Severity::Extreme);
        assert_eq!(super::severity_for_level(Some(2)), Severity::Severe);
        assert_eq!(super::severity_for_level(Some(3)), Severity::Moderate);
        assert_eq!(super::severity_for_level(Some(4)), Severity::Minor);
        assert_eq!(super::severity_for_level(None), Severity::Minor);
        assert_eq!(super::severity_for_level(Some(0)), Severity::Unknown);
        assert_eq!(super::severity_for_level(Some(5)), Severity::Unknown);
    }
}
