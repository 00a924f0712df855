//! Writing CAP XML by hand: escaping, CAP and Atom times, and the document
//! in the schema's element order.

use chrono::{DateTime, FixedOffset, Timelike, Utc};

use super::validate::{closed_ring, validate};
use super::*;

// ---------------------------------------------------------------- escaping

pub(super) fn is_xml_char(c: char) -> bool {
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
pub(super) fn format_atom_time(t: &DateTime<FixedOffset>) -> String {
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
pub(super) struct Xml {
    pub(super) out: String,
    depth: usize,
}

impl Xml {
    pub(super) fn new() -> Xml {
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
    pub(super) fn open(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.indent();
        self.out.push('<');
        self.out.push_str(name);
        for (k, v) in attrs {
            self.out.push_str(&format!(" {k}=\"{}\"", escape_attr(v)));
        }
        self.out.push_str(">\n");
        self.depth += 1;
    }
    pub(super) fn close(&mut self, name: &str) {
        self.depth -= 1;
        self.indent();
        self.out.push_str(&format!("</{name}>\n"));
    }
    pub(super) fn leaf(&mut self, name: &str, text: &str) {
        self.indent();
        self.out
            .push_str(&format!("<{name}>{}</{name}>\n", escape_text(text)));
    }
    fn opt(&mut self, name: &str, text: &Option<String>) {
        if let Some(t) = text {
            self.leaf(name, t);
        }
    }
    pub(super) fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::publishing::cap::test_support::*;
    use chrono::TimeZone;

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
    fn scope_private_quotes_addresses() {
        let mut a = sample();
        a.scope = Scope::Private(vec!["a@example.cn".into(), "镇 应急办".into()]);
        let xml = to_xml(&a).unwrap();
        assert!(xml.contains(
            "<scope>Private</scope>\n  <addresses>a@example.cn \"镇 应急办\"</addresses>"
        ));
    }
}
