//! The rules every CAP document keeps before it is written (see the module
//! documentation of `cap`).

use chrono::{DateTime, FixedOffset};

use super::xml::{format_time, is_xml_char};
use super::*;

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
pub(super) fn closed_ring(field: &str, ring: &[(f64, f64)]) -> Result<Vec<(f64, f64)>, CapError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::publishing::cap::test_support::*;
    use crate::notify::publishing::cap::xml::{sanitize_id, to_xml};
    use chrono::TimeZone;

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
}
