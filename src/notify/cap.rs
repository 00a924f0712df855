//! Public warnings as OASIS CAP 1.2 messages (ITU-T X.1303; GB/T 35965.1-2018
//! follows it), and an Atom 1.0 feed (RFC 4287) listing the active ones.
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

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, Timelike, Utc};

/// XML namespace of CAP 1.2.
pub const CAP_NAMESPACE: &str = "urn:oasis:names:tc:emergency:cap:1.2";
/// MIME type of a CAP document (used on Atom links and HTTP responses).
pub const CAP_MIME: &str = "application/cap+xml";
/// XML namespace of Atom 1.0.
pub const ATOM_NAMESPACE: &str = "http://www.w3.org/2005/Atom";
/// MIME type of an Atom feed.
pub const ATOM_MIME: &str = "application/atom+xml";

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

// ---------------------------------------------------------------- escaping

fn is_xml_char(c: char) -> bool {
    !matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}')
}

/// Escapes element content: `&`, `<`, `>` and CR (which a parser would
/// otherwise fold into LF). Characters XML 1.0 forbids become U+FFFD.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c if !is_xml_char(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Escapes an attribute value in double or single quotes. On top of
/// [`escape_text`] it escapes both quote marks, and tab and LF (which
/// attribute normalisation would turn into spaces).
pub fn escape_attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if !is_xml_char(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Makes free text usable as a CAP identifier or sender. Each whitespace,
/// `,`, `<`, `&` or control character becomes `-`. Runs of them become a
/// single `-`.
pub fn sanitize_id(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.trim().chars() {
        if c.is_whitespace() || c.is_control() || matches!(c, ',' | '<' | '&') || !is_xml_char(c) {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c);
        }
    }
    out
}

// ------------------------------------------------------------------- times

/// Formats a time as CAP requires: `2026-07-01T14:30:00+08:00`.
///
/// * The time's own offset is kept. Callers convert to the configured zone
///   first, e.g. `t.with_timezone(&tz).fixed_offset()`.
/// * Fractional seconds are dropped (truncated), and a leap second is
///   written as `:59`.
/// * A zero offset is written `-00:00`: CAP forbids `Z` and spells UTC this way.
/// * An offset that is not a whole number of minutes (historic LMT)
///   cannot be written exactly, so such a time is written in UTC instead.
///
/// Years outside 1..=9999 cannot be written in this form; [`validate`]
/// rejects them.
pub fn format_time(t: &DateTime<FixedOffset>) -> String {
    fmt_time(t, "-00:00")
}

/// RFC 3339 time for Atom, the same as [`format_time`] except that UTC is
/// `+00:00`.
fn format_atom_time(t: &DateTime<FixedOffset>) -> String {
    fmt_time(t, "+00:00")
}

fn fmt_time(t: &DateTime<FixedOffset>, utc: &str) -> String {
    let t = if t.offset().local_minus_utc() % 60 != 0 {
        t.with_timezone(&Utc).fixed_offset()
    } else {
        *t
    };
    // with_nanosecond(0) cannot fail: 0 is always in range.
    let t = t.with_nanosecond(0).unwrap_or(t);
    let mut s = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let off = t.offset().local_minus_utc();
    if off == 0 {
        s.push_str(utc);
    } else {
        let sign = if off < 0 { '-' } else { '+' };
        let m = off.unsigned_abs() / 60;
        s.push_str(&format!("{sign}{:02}:{:02}", m / 60, m % 60));
    }
    s
}

fn check_time(field: &str, t: &DateTime<FixedOffset>) -> Result<(), CapError> {
    let s = format_time(t);
    let ok = s.len() == 25 && s.as_bytes()[0].is_ascii_digit() && !s.starts_with("0000");
    if ok {
        Ok(())
    } else {
        Err(CapError::new(
            field,
            format!("year must be 1..=9999, got {s}"),
        ))
    }
}

// -------------------------------------------------------------- validation

fn check_id(field: &str, v: &str) -> Result<(), CapError> {
    if v.is_empty() {
        return Err(CapError::new(field, "must not be empty"));
    }
    if let Some(c) = v.chars().find(|&c| {
        c.is_whitespace() || c.is_control() || matches!(c, ',' | '<' | '&') || !is_xml_char(c)
    }) {
        return Err(CapError::new(
            field,
            format!(
                "'{v}' contains {c:?}; CAP forbids whitespace, ',', '<' and '&' here (see sanitize_id)"
            ),
        ));
    }
    Ok(())
}

fn check_nonblank(field: &str, v: &str) -> Result<(), CapError> {
    if v.trim().is_empty() {
        Err(CapError::new(field, "must not be empty"))
    } else {
        Ok(())
    }
}

fn check_pairs(field: &str, pairs: &[(String, String)]) -> Result<(), CapError> {
    for (i, (name, _)) in pairs.iter().enumerate() {
        check_nonblank(&format!("{field}[{i}].valueName"), name)?;
    }
    Ok(())
}

/// `xs:language`: `[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*`.
fn is_language_tag(s: &str) -> bool {
    let mut parts = s.split('-');
    let first_ok = parts
        .next()
        .is_some_and(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()));
    first_ok
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// `scheme ":" rest`, with no whitespace anywhere.
fn is_absolute_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let mut sb = scheme.bytes();
    sb.next().is_some_and(|b| b.is_ascii_alphabetic())
        && sb.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        && !rest.is_empty()
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn check_point(field: &str, lat: f64, lon: f64) -> Result<(), CapError> {
    if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
        return Err(CapError::new(
            field,
            format!("latitude {lat} is not within -90..=90"),
        ));
    }
    if !(lon.is_finite() && (-180.0..=180.0).contains(&lon)) {
        return Err(CapError::new(
            field,
            format!("longitude {lon} is not within -180..=180"),
        ));
    }
    Ok(())
}

/// The ring as it will be written: closed, checked.
fn closed_ring(field: &str, ring: &[(f64, f64)]) -> Result<Vec<(f64, f64)>, CapError> {
    for (i, &(lat, lon)) in ring.iter().enumerate() {
        check_point(&format!("{field}[{i}]"), lat, lon)?;
    }
    let mut ring = ring.to_vec();
    if let (Some(&first), Some(&last)) = (ring.first(), ring.last())
        && first != last
    {
        ring.push(first);
    }
    if ring.len() < 4 {
        return Err(CapError::new(
            field,
            format!(
                "a polygon needs at least 4 points, first and last equal (3 corners); got {} after closing",
                ring.len()
            ),
        ));
    }
    Ok(ring)
}

/// Checks everything [`to_xml`] needs for a valid CAP 1.2 document (see the
/// module documentation). Returns the first problem found.
pub fn validate(alert: &Alert) -> Result<(), CapError> {
    check_id("identifier", &alert.identifier)?;
    check_id("sender", &alert.sender)?;
    check_time("sent", &alert.sent)?;
    match &alert.scope {
        Scope::Public => {}
        Scope::Restricted(r) => check_nonblank("restriction", r)?,
        Scope::Private(addrs) => {
            if addrs.is_empty() {
                return Err(CapError::new(
                    "addresses",
                    "a Private alert needs at least one address",
                ));
            }
            for (i, a) in addrs.iter().enumerate() {
                let f = format!("addresses[{i}]");
                check_nonblank(&f, a)?;
                if a.contains('"') {
                    return Err(CapError::new(f, "must not contain '\"'"));
                }
            }
        }
    }
    if alert.msg_type != MsgType::Alert && alert.references.is_empty() {
        return Err(CapError::new(
            "references",
            format!(
                "a {} message must reference the message(s) it refers to",
                alert.msg_type
            ),
        ));
    }
    for (i, r) in alert.references.iter().enumerate() {
        check_id(&format!("references[{i}].sender"), &r.sender)?;
        check_id(&format!("references[{i}].identifier"), &r.identifier)?;
        check_time(&format!("references[{i}].sent"), &r.sent)?;
    }
    for (i, info) in alert.infos.iter().enumerate() {
        validate_info(&format!("info[{i}]"), info)?;
    }
    Ok(())
}

fn validate_info(p: &str, info: &Info) -> Result<(), CapError> {
    if !is_language_tag(&info.language) {
        return Err(CapError::new(
            format!("{p}.language"),
            format!("'{}' is not a language tag such as zh-CN", info.language),
        ));
    }
    if info.categories.is_empty() {
        return Err(CapError::new(
            format!("{p}.category"),
            "at least one category is required",
        ));
    }
    check_nonblank(&format!("{p}.event"), &info.event)?;
    check_pairs(&format!("{p}.eventCode"), &info.event_codes)?;
    for (name, t) in [
        ("effective", &info.effective),
        ("onset", &info.onset),
        ("expires", &info.expires),
    ] {
        if let Some(t) = t {
            check_time(&format!("{p}.{name}"), t)?;
        }
    }
    if let (Some(eff), Some(exp)) = (info.effective, info.expires)
        && exp < eff
    {
        return Err(CapError::new(
            format!("{p}.expires"),
            "is earlier than effective",
        ));
    }
    if let Some(web) = &info.web
        && !is_absolute_uri(web)
    {
        return Err(CapError::new(
            format!("{p}.web"),
            format!("'{web}' is not an absolute URI"),
        ));
    }
    check_pairs(&format!("{p}.parameter"), &info.parameters)?;
    for (j, area) in info.areas.iter().enumerate() {
        let a = format!("{p}.area[{j}]");
        check_nonblank(&format!("{a}.areaDesc"), &area.area_desc)?;
        for (k, ring) in area.polygons.iter().enumerate() {
            closed_ring(&format!("{a}.polygon[{k}]"), ring)?;
        }
        for (k, &(lat, lon, r)) in area.circles.iter().enumerate() {
            let f = format!("{a}.circle[{k}]");
            check_point(&f, lat, lon)?;
            if !(r.is_finite() && r >= 0.0) {
                return Err(CapError::new(
                    f,
                    format!("radius {r} km must be finite and >= 0"),
                ));
            }
        }
        check_pairs(&format!("{a}.geocode"), &area.geocodes)?;
        for (name, v) in [("altitude", area.altitude), ("ceiling", area.ceiling)] {
            if v.is_some_and(|v| !v.is_finite()) {
                return Err(CapError::new(
                    format!("{a}.{name}"),
                    "must be a finite number",
                ));
            }
        }
        if area.ceiling.is_some() && area.altitude.is_none() {
            return Err(CapError::new(
                format!("{a}.ceiling"),
                "CAP allows ceiling only with altitude",
            ));
        }
    }
    Ok(())
}

// ----------------------------------------------------------------- writing

/// Decimal degrees / km with at most 6 decimals (about 0.1 m), with no
/// trailing zeros and no exponent; `-0` is written `0`.
fn num(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

fn polygon_text(ring: &[(f64, f64)]) -> String {
    ring.iter()
        .map(|&(lat, lon)| format!("{},{}", num(lat), num(lon)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn circle_text(&(lat, lon, r): &(f64, f64, f64)) -> String {
    format!("{},{} {}", num(lat), num(lon), num(r))
}

fn references_text(refs: &[Reference]) -> String {
    refs.iter()
        .map(|r| format!("{},{},{}", r.sender, r.identifier, format_time(&r.sent)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn addresses_text(addrs: &[String]) -> String {
    addrs
        .iter()
        .map(|a| {
            if a.chars().any(char::is_whitespace) {
                format!("\"{a}\"")
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Indented XML writer.
struct Xml {
    out: String,
    depth: usize,
}

impl Xml {
    fn new() -> Xml {
        Xml {
            out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
            depth: 0,
        }
    }
    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
    }
    /// `attrs` values are escaped here.
    fn open(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.indent();
        self.out.push('<');
        self.out.push_str(name);
        for (k, v) in attrs {
            self.out.push_str(&format!(" {k}=\"{}\"", escape_attr(v)));
        }
        self.out.push_str(">\n");
        self.depth += 1;
    }
    fn close(&mut self, name: &str) {
        self.depth -= 1;
        self.indent();
        self.out.push_str(&format!("</{name}>\n"));
    }
    fn leaf(&mut self, name: &str, text: &str) {
        self.indent();
        self.out
            .push_str(&format!("<{name}>{}</{name}>\n", escape_text(text)));
    }
    fn opt(&mut self, name: &str, text: &Option<String>) {
        if let Some(t) = text {
            self.leaf(name, t);
        }
    }
    fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.indent();
        self.out.push('<');
        self.out.push_str(name);
        for (k, v) in attrs {
            self.out.push_str(&format!(" {k}=\"{}\"", escape_attr(v)));
        }
        self.out.push_str("/>\n");
    }
    fn pairs(&mut self, name: &str, pairs: &[(String, String)]) {
        for (n, v) in pairs {
            self.open(name, &[]);
            self.leaf("valueName", n);
            self.leaf("value", v);
            self.close(name);
        }
    }
}

/// Writes the whole CAP 1.2 document (XML declaration, default namespace
/// [`CAP_NAMESPACE`]), in the schema's element order. Calls [`validate`]
/// first and returns its error if the alert cannot be written validly.
pub fn to_xml(alert: &Alert) -> Result<String, CapError> {
    validate(alert)?;
    let mut x = Xml::new();
    x.open("alert", &[("xmlns", CAP_NAMESPACE)]);
    x.leaf("identifier", &alert.identifier);
    x.leaf("sender", &alert.sender);
    x.leaf("sent", &format_time(&alert.sent));
    x.leaf("status", alert.status.as_str());
    x.leaf("msgType", alert.msg_type.as_str());
    x.leaf("scope", alert.scope.as_str());
    match &alert.scope {
        Scope::Public => {}
        Scope::Restricted(r) => x.leaf("restriction", r),
        Scope::Private(a) => x.leaf("addresses", &addresses_text(a)),
    }
    x.opt("note", &alert.note);
    if !alert.references.is_empty() {
        x.leaf("references", &references_text(&alert.references));
    }
    x.opt("incidents", &alert.incidents);
    for info in &alert.infos {
        write_info(&mut x, info);
    }
    x.close("alert");
    Ok(x.out)
}

fn write_info(x: &mut Xml, info: &Info) {
    x.open("info", &[]);
    x.leaf("language", &info.language);
    for c in &info.categories {
        x.leaf("category", c.as_str());
    }
    x.leaf("event", &info.event);
    for r in &info.response_types {
        x.leaf("responseType", r.as_str());
    }
    x.leaf("urgency", info.urgency.as_str());
    x.leaf("severity", info.severity.as_str());
    x.leaf("certainty", info.certainty.as_str());
    x.opt("audience", &info.audience);
    x.pairs("eventCode", &info.event_codes);
    for (name, t) in [
        ("effective", &info.effective),
        ("onset", &info.onset),
        ("expires", &info.expires),
    ] {
        if let Some(t) = t {
            x.leaf(name, &format_time(t));
        }
    }
    x.opt("senderName", &info.sender_name);
    x.opt("headline", &info.headline);
    x.opt("description", &info.description);
    x.opt("instruction", &info.instruction);
    x.opt("web", &info.web);
    x.opt("contact", &info.contact);
    x.pairs("parameter", &info.parameters);
    for area in &info.areas {
        x.open("area", &[]);
        x.leaf("areaDesc", &area.area_desc);
        for ring in &area.polygons {
            // validate() has accepted every ring, so closing cannot fail.
            if let Ok(ring) = closed_ring("polygon", ring) {
                x.leaf("polygon", &polygon_text(&ring));
            }
        }
        for c in &area.circles {
            x.leaf("circle", &circle_text(c));
        }
        x.pairs("geocode", &area.geocodes);
        if let Some(a) = area.altitude {
            x.leaf("altitude", &num(a));
        }
        if let Some(c) = area.ceiling {
            x.leaf("ceiling", &num(c));
        }
        x.close("area");
    }
    x.close("info");
}

// -------------------------------------------------------------------- Atom

/// One active warning in the Atom feed.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEntry {
    /// Permanent absolute IRI, e.g. `urn:uuid:…` or `tag:…`.
    pub id: String,
    pub title: String,
    pub updated: DateTime<FixedOffset>,
    pub summary: String,
    /// Where the CAP document is served.
    pub cap_url: String,
}

/// Writes an Atom 1.0 feed (RFC 4287). `feed_id` is a permanent absolute
/// IRI and `self_url` is the feed's own URL. `author` is the feed-level
/// author name: RFC 4287 requires one, and the entries have none. Each
/// entry gets `<link rel="alternate" type="application/cap+xml">` to its
/// CAP document. Times use the offset they carry (UTC as `+00:00`),
/// without fractional seconds. All text is escaped.
pub fn atom_feed(
    feed_id: &str,
    title: &str,
    author: &str,
    self_url: &str,
    updated: DateTime<FixedOffset>,
    entries: &[FeedEntry],
) -> String {
    let mut x = Xml::new();
    x.open("feed", &[("xmlns", ATOM_NAMESPACE)]);
    x.leaf("id", feed_id);
    x.leaf("title", title);
    x.leaf("updated", &format_atom_time(&updated));
    x.open("author", &[]);
    x.leaf("name", author);
    x.close("author");
    x.empty(
        "link",
        &[("rel", "self"), ("type", ATOM_MIME), ("href", self_url)],
    );
    for e in entries {
        x.open("entry", &[]);
        x.leaf("id", &e.id);
        x.leaf("title", &e.title);
        x.leaf("updated", &format_atom_time(&e.updated));
        x.leaf("summary", &e.summary);
        x.empty(
            "link",
            &[
                ("rel", "alternate"),
                ("type", CAP_MIME),
                ("href", &e.cap_url),
            ],
        );
        x.close("entry");
    }
    x.close("feed");
    x.out
}

// ------------------------------------------------------------------- tests

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn cst(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<FixedOffset> {
        FixedOffset::east_opt(8 * 3600)
            .unwrap()
            .with_ymd_and_hms(y, mo, d, h, mi, s)
            .unwrap()
    }

    fn sample() -> Alert {
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
    fn assert_order(xml: &str, tags: &[&str]) {
        let mut last = 0;
        for t in tags {
            let pos = xml[last..]
                .find(&format!("<{t}>"))
                .or_else(|| xml[last..].find(&format!("<{t} ")))
                .unwrap_or_else(|| panic!("<{t}> missing or out of order in\n{xml}"));
            last += pos + 1;
        }
    }

    #[test]
    fn time_format_uses_offset_no_fraction_no_z() {
        assert_eq!(
            format_time(&cst(2026, 7, 1, 14, 30, 0)),
            "2026-07-01T14:30:00+08:00"
        );
        let frac = cst(2026, 7, 1, 14, 30, 5)
            .with_nanosecond(987_654_321)
            .unwrap();
        assert_eq!(format_time(&frac), "2026-07-01T14:30:05+08:00");
        let utc = Utc
            .with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
            .unwrap()
            .fixed_offset();
        assert_eq!(format_time(&utc), "2026-01-02T03:04:05-00:00");
        let west = FixedOffset::west_opt(5 * 3600 + 30 * 60)
            .unwrap()
            .with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
            .unwrap();
        assert_eq!(format_time(&west), "2026-01-02T03:04:05-05:30");
        // Offset with seconds (LMT): written in UTC.
        let lmt = FixedOffset::east_opt(8 * 3600 + 5 * 60 + 43)
            .unwrap()
            .with_ymd_and_hms(1900, 1, 1, 8, 5, 43)
            .unwrap();
        assert_eq!(format_time(&lmt), "1900-01-01T00:00:00-00:00");
        // Named zone converted by the caller keeps +08:00.
        let z = Utc.with_ymd_and_hms(2026, 7, 1, 6, 30, 0).unwrap();
        let shanghai = z.with_timezone(&FixedOffset::east_opt(8 * 3600).unwrap());
        assert_eq!(format_time(&shanghai), "2026-07-01T14:30:00+08:00");
    }

    #[test]
    fn escaping_text_and_attributes() {
        assert_eq!(escape_text("a<b>&c\"d'e"), "a&lt;b&gt;&amp;c\"d'e");
        assert_eq!(escape_text("]]>"), "]]&gt;");
        assert_eq!(escape_text("x\r\ny\tz"), "x&#13;\ny\tz");
        assert_eq!(
            escape_text("bell\u{7}nul\u{0}\u{FFFF}"),
            "bell\u{FFFD}nul\u{FFFD}\u{FFFD}"
        );
        assert_eq!(escape_text("暴雨预警"), "暴雨预警");
        assert_eq!(
            escape_attr("a\"b'c<d&e\tf\ng"),
            "a&quot;b&apos;c&lt;d&amp;e&#9;f&#10;g"
        );
        let xml = to_xml(&sample()).unwrap();
        assert!(xml.contains("<note>a &lt; b &amp; c</note>"));
        assert!(xml.contains("<instruction>请远离河道 &lt;注意&gt; &amp; 安全</instruction>"));
        assert!(xml.contains("<web>https://example.gov.cn/a?x=1&amp;y=2</web>"));
    }

    #[test]
    fn document_header_and_namespace() {
        let xml = to_xml(&sample()).unwrap();
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">\n"));
        assert!(xml.ends_with("</alert>\n"));
    }

    #[test]
    fn elements_follow_schema_order() {
        let mut a = sample();
        a.msg_type = MsgType::Update;
        a.scope = Scope::Restricted("仅限镇应急办".into());
        a.incidents = Some("flood-2026-07".into());
        a.references = vec![Reference {
            sender: a.sender.clone(),
            identifier: "fenghuo-2026-0000".into(),
            sent: cst(2026, 7, 1, 12, 0, 0),
        }];
        a.infos[0].audience = Some("全体村民".into());
        a.infos[0].onset = Some(cst(2026, 7, 1, 16, 0, 0));
        a.infos[0].contact = Some("0571-00000000".into());
        a.infos[0].areas[0].altitude = Some(0.0);
        a.infos[0].areas[0].ceiling = Some(1000.0);
        let xml = to_xml(&a).unwrap();
        assert_order(
            &xml,
            &[
                "alert",
                "identifier",
                "sender",
                "sent",
                "status",
                "msgType",
                "scope",
                "restriction",
                "note",
                "references",
                "incidents",
                "info",
                "language",
                "category",
                "category",
                "event",
                "responseType",
                "urgency",
                "severity",
                "certainty",
                "audience",
                "eventCode",
                "effective",
                "onset",
                "expires",
                "senderName",
                "headline",
                "description",
                "instruction",
                "web",
                "contact",
                "parameter",
                "area",
                "areaDesc",
                "polygon",
                "circle",
                "geocode",
                "altitude",
                "ceiling",
            ],
        );
        assert!(xml.contains("<references>yjb@example.gov.cn,fenghuo-2026-0000,2026-07-01T12:00:00+08:00</references>"));
        assert!(xml.contains("<msgType>Update</msgType>"));
        assert!(xml.contains("<severity>Moderate</severity>"));
        assert!(xml.contains("<category>Met</category>\n    <category>Safety</category>"));
    }

    #[test]
    fn polygon_and_circle_formatting() {
        let xml = to_xml(&sample()).unwrap();
        assert!(xml.contains("<polygon>30.1,120.1 30.2,120.1 30.2,120.2 30.1,120.1</polygon>"));
        assert!(xml.contains("<circle>30.15,120.15 2.5</circle>"));
        assert_eq!(num(120.0), "120");
        assert_eq!(num(-0.0), "0");
        assert_eq!(num(30.123456789), "30.123457");
        assert_eq!(num(1e-7), "0");
        // An open ring is closed.
        let mut a = sample();
        a.infos[0].areas[0].polygons = vec![vec![(30.0, 120.0), (30.0, 121.0), (31.0, 121.0)]];
        let xml = to_xml(&a).unwrap();
        assert!(xml.contains("<polygon>30,120 30,121 31,121 30,120</polygon>"));
    }

    #[test]
    fn bad_polygons_and_circles_are_rejected() {
        let mut a = sample();
        a.infos[0].areas[0].polygons = vec![vec![(30.0, 120.0), (30.0, 121.0), (30.0, 120.0)]];
        let e = to_xml(&a).unwrap_err();
        assert_eq!(e.field, "info[0].area[0].polygon[0]");
        a.infos[0].areas[0].polygons = vec![vec![]];
        assert!(to_xml(&a).is_err());
        a.infos[0].areas[0].polygons = vec![vec![(91.0, 120.0), (30.0, 121.0), (31.0, 121.0)]];
        assert_eq!(
            to_xml(&a).unwrap_err().field,
            "info[0].area[0].polygon[0][0]"
        );
        a.infos[0].areas[0].polygons = vec![vec![(30.0, f64::NAN), (30.0, 121.0), (31.0, 121.0)]];
        assert!(to_xml(&a).is_err());
        a.infos[0].areas[0].polygons.clear();
        a.infos[0].areas[0].circles = vec![(30.0, 120.0, -1.0)];
        assert_eq!(to_xml(&a).unwrap_err().field, "info[0].area[0].circle[0]");
    }

    #[test]
    fn identifiers_are_checked_and_sanitised() {
        for bad in ["", "a b", "a,b", "a<b", "a&b", "a\tb", "甲\u{3000}乙"] {
            let mut a = sample();
            a.identifier = bad.into();
            assert_eq!(to_xml(&a).unwrap_err().field, "identifier", "{bad:?}");
            let mut a = sample();
            a.sender = bad.into();
            assert_eq!(to_xml(&a).unwrap_err().field, "sender", "{bad:?}");
        }
        assert_eq!(sanitize_id(" 暴雨 预警, 1 & <2> "), "暴雨-预警-1-2>");
        let mut a = sample();
        a.identifier = sanitize_id("河东村 2026,07 <1>");
        assert!(to_xml(&a).is_ok());
    }

    #[test]
    fn updates_need_references() {
        let mut a = sample();
        a.msg_type = MsgType::Cancel;
        assert_eq!(to_xml(&a).unwrap_err().field, "references");
        let orig = sample();
        a.identifier = "fenghuo-2026-0002".into();
        a.references = vec![Reference::to(&orig), Reference::to(&orig)];
        let xml = to_xml(&a).unwrap();
        let one = "yjb@example.gov.cn,fenghuo-2026-0001,2026-07-01T14:30:00+08:00";
        assert!(xml.contains(&format!("<references>{one} {one}</references>")));
        a.references[0].identifier = "bad id".into();
        assert_eq!(to_xml(&a).unwrap_err().field, "references[0].identifier");
    }

    #[test]
    fn info_checks() {
        let mut a = sample();
        a.infos[0].categories.clear();
        assert_eq!(to_xml(&a).unwrap_err().field, "info[0].category");
        let mut a = sample();
        a.infos[0].language = "zh_CN".into();
        assert_eq!(to_xml(&a).unwrap_err().field, "info[0].language");
        let mut a = sample();
        a.infos[0].web = Some("/relative".into());
        assert_eq!(to_xml(&a).unwrap_err().field, "info[0].web");
        let mut a = sample();
        a.infos[0].expires = Some(cst(2026, 6, 30, 0, 0, 0));
        assert_eq!(to_xml(&a).unwrap_err().field, "info[0].expires");
        let mut a = sample();
        a.infos[0].areas[0].ceiling = Some(10.0);
        assert_eq!(to_xml(&a).unwrap_err().field, "info[0].area[0].ceiling");
        let mut a = sample();
        a.sent = FixedOffset::east_opt(0)
            .unwrap()
            .with_ymd_and_hms(10000, 1, 1, 0, 0, 0)
            .unwrap();
        assert_eq!(to_xml(&a).unwrap_err().field, "sent");
        let mut a = sample();
        a.scope = Scope::Private(vec![]);
        assert_eq!(to_xml(&a).unwrap_err().field, "addresses");
    }

    #[test]
    fn scope_private_quotes_addresses() {
        let mut a = sample();
        a.scope = Scope::Private(vec!["a@example.cn".into(), "镇 应急办".into()]);
        let xml = to_xml(&a).unwrap();
        assert!(xml.contains(
            "<scope>Private</scope>\n  <addresses>a@example.cn \"镇 应急办\"</addresses>"
        ));
    }

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

    #[test]
    fn atom_feed_shape() {
        let entries = [FeedEntry {
            id: "urn:uuid:6f1c2d3e-0000-4000-8000-000000000001".into(),
            title: "暴雨黄色预警 <河东村> & 河西村".into(),
            updated: cst(2026, 7, 1, 14, 30, 0),
            summary: "请远离河道".into(),
            cap_url: "https://example.gov.cn/cap/1.xml?a=1&b=2".into(),
        }];
        let xml = atom_feed(
            "tag:example.gov.cn,2026:alerts",
            "某镇预警",
            "某镇应急办",
            "https://example.gov.cn/alerts.atom",
            cst(2026, 7, 1, 14, 31, 0),
            &entries,
        );
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">"));
        assert!(xml.contains("<updated>2026-07-01T14:31:00+08:00</updated>"));
        assert!(xml.contains("<title>暴雨黄色预警 &lt;河东村&gt; &amp; 河西村</title>"));
        assert!(xml.contains(
            "<link rel=\"alternate\" type=\"application/cap+xml\" href=\"https://example.gov.cn/cap/1.xml?a=1&amp;b=2\"/>"
        ));
        assert!(xml.contains("<link rel=\"self\" type=\"application/atom+xml\" href=\"https://example.gov.cn/alerts.atom\"/>"));
        assert_order(
            &xml,
            &[
                "feed", "id", "title", "updated", "author", "name", "link", "entry", "id", "title",
                "updated", "summary", "link",
            ],
        );
        let utc = Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .unwrap()
            .fixed_offset();
        assert!(
            atom_feed("urn:x:y", "t", "a", "https://e/", utc, &[])
                .contains("<updated>2026-01-01T00:00:00+00:00</updated>")
        );
    }
}
