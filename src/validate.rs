//! Field validation shared by every write path: each failure names its field.

use chrono::NaiveDate;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

pub type FieldResult<T> = Result<T, FieldError>;

pub fn err<T>(field: impl Into<String>, message: impl Into<String>) -> FieldResult<T> {
    Err(FieldError {
        field: field.into(),
        message: message.into(),
    })
}

/// A single line (a title, a name, a code): trims; rejects empty or
/// over-long text and any control character — a line break in a title would
/// reach an SMS, a spool file's headers and CAP as a second line.
pub fn required_text(field: &str, v: &str, max_chars: usize) -> FieldResult<String> {
    let t = v.trim();
    if t.is_empty() {
        return err(field, "must not be empty");
    }
    if t.chars().count() > max_chars {
        return err(field, format!("must be at most {max_chars} characters"));
    }
    one_line(field, t)?;
    Ok(t.to_string())
}

/// An optional single line: like [`optional_text`], and no control characters.
pub fn optional_line(
    field: &str,
    v: &Option<String>,
    max_chars: usize,
) -> FieldResult<Option<String>> {
    let t = optional_text(field, v, max_chars)?;
    if let Some(line) = &t {
        one_line(field, line)?;
    }
    Ok(t)
}

fn one_line(field: &str, t: &str) -> FieldResult<()> {
    if t.chars().any(char::is_control) {
        return err(
            field,
            "must be one line without control characters (no line breaks or tabs)",
        );
    }
    Ok(())
}

/// Trims; empty becomes None.
pub fn optional_text(
    field: &str,
    v: &Option<String>,
    max_chars: usize,
) -> FieldResult<Option<String>> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) if t.chars().count() > max_chars => {
            err(field, format!("must be at most {max_chars} characters"))
        }
        Some(t) => Ok(Some(t.to_string())),
    }
}

/// A calendar date written `YYYY-MM-DD`.
pub fn date(field: &str, v: &str) -> FieldResult<NaiveDate> {
    NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d").map_err(|_| FieldError {
        field: field.into(),
        message: format!("'{v}' is not a date written YYYY-MM-DD"),
    })
}

pub fn optional_date(field: &str, v: &Option<String>) -> FieldResult<Option<NaiveDate>> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => date(field, t).map(Some),
    }
}

/// A plausible e-mail address (one @, a dot in the domain, no spaces).
pub fn email(field: &str, v: &Option<String>) -> FieldResult<Option<String>> {
    let Some(t) = optional_text(field, v, 254)? else {
        return Ok(None);
    };
    let ok = match t.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !t.contains(char::is_whitespace)
                && !domain.contains('@')
        }
        None => false,
    };
    if ok {
        Ok(Some(t))
    } else {
        err(field, format!("'{t}' is not an e-mail address"))
    }
}

pub fn lon_lat(field: &str, lon: f64, lat: f64) -> FieldResult<()> {
    if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
        return err(field, "longitude must be between -180 and 180");
    }
    if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
        return err(field, "latitude must be between -90 and 90");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fails<T: std::fmt::Debug>(r: FieldResult<T>) -> (String, String) {
        let e = r.unwrap_err();
        (e.field, e.message)
    }

    fn pair(field: &str, message: &str) -> (String, String) {
        (field.to_string(), message.to_string())
    }

    fn some(s: &str) -> Option<String> {
        Some(s.to_string())
    }

    #[test]
    fn required_text_is_trimmed() {
        assert_eq!(required_text("name", "  张三 \n", 10).unwrap(), "张三");
    }

    #[test]
    fn required_text_refuses_blank() {
        for v in ["", "   ", "\t\n"] {
            assert_eq!(
                fails(required_text("name", v, 10)),
                pair("name", "must not be empty")
            );
        }
    }

    #[test]
    fn required_text_allows_exactly_the_limit_in_characters_not_bytes() {
        // Five Chinese characters are 15 bytes but 5 characters.
        assert_eq!(
            required_text("name", "湖上乡应急", 5).unwrap(),
            "湖上乡应急"
        );
        assert_eq!(
            fails(required_text("name", "湖上乡应急办", 5)),
            pair("name", "must be at most 5 characters")
        );
        assert_eq!(
            fails(required_text("name", "湖上乡应急办公", 5)),
            pair("name", "must be at most 5 characters")
        );
        // Shorter than the limit is fine too.
        assert_eq!(required_text("name", "湖上", 5).unwrap(), "湖上");
    }

    #[test]
    fn optional_text_blank_is_none_and_text_is_trimmed() {
        assert_eq!(optional_text("note", &None, 5).unwrap(), None);
        assert_eq!(optional_text("note", &some(""), 5).unwrap(), None);
        assert_eq!(optional_text("note", &some("  \t"), 5).unwrap(), None);
        assert_eq!(
            optional_text("note", &some(" 请注意 "), 5).unwrap(),
            some("请注意")
        );
    }

    #[test]
    fn optional_text_allows_exactly_the_limit() {
        assert_eq!(
            optional_text("note", &some("湖上乡应急"), 5).unwrap(),
            some("湖上乡应急")
        );
        assert_eq!(
            fails(optional_text("note", &some("湖上乡应急办"), 5)),
            pair("note", "must be at most 5 characters")
        );
        assert_eq!(
            fails(optional_text("note", &some("湖上乡应急办公"), 5)),
            pair("note", "must be at most 5 characters")
        );
    }

    #[test]
    fn dates_are_year_month_day() {
        assert_eq!(
            date("drill_on", " 2024-02-29 ").unwrap(),
            NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()
        );
        for v in ["2023-02-29", "29.02.2024", "2024/02/29", ""] {
            assert_eq!(
                fails(date("drill_on", v)),
                pair(
                    "drill_on",
                    &format!("'{v}' is not a date written YYYY-MM-DD")
                )
            );
        }
    }

    #[test]
    fn optional_dates_blank_is_none() {
        assert_eq!(optional_date("due", &None).unwrap(), None);
        assert_eq!(optional_date("due", &some("  ")).unwrap(), None);
        assert_eq!(
            optional_date("due", &some("2025-11-26")).unwrap(),
            NaiveDate::from_ymd_opt(2025, 11, 26)
        );
        assert_eq!(
            fails(optional_date("due", &some("2025-13-01"))),
            pair("due", "'2025-13-01' is not a date written YYYY-MM-DD")
        );
    }

    #[test]
    fn plausible_email_addresses_are_kept_trimmed() {
        assert_eq!(email("email", &None).unwrap(), None);
        assert_eq!(email("email", &some("  ")).unwrap(), None);
        for v in ["wang@example.com", "yjb.hushang@mail.gov.cn", "a@b.c"] {
            assert_eq!(email("email", &some(&format!(" {v} "))).unwrap(), some(v));
        }
    }

    #[test]
    fn implausible_email_addresses_are_refused() {
        for v in [
            "wang.example.com",  // no @
            "@example.com",      // nothing before the @
            "wang@localhost",    // no dot in the domain
            "wang@.example.com", // domain starts with a dot
            "wang@example.com.", // domain ends with a dot
            "wang li@example.com",
            "wang@exa mple.com",
            "wang@li@example.com",
        ] {
            assert_eq!(
                fails(email("email", &some(v))),
                pair("email", &format!("'{v}' is not an e-mail address")),
                "{v}"
            );
        }
    }

    #[test]
    fn email_addresses_over_254_characters_are_refused() {
        let long = format!("{}@example.com", "a".repeat(243));
        assert_eq!(long.len(), 255);
        assert_eq!(
            fails(email("email", &some(&long))),
            pair("email", "must be at most 254 characters")
        );
        let longest = &long[1..];
        assert_eq!(email("email", &some(longest)).unwrap(), some(longest));
    }

    #[test]
    fn coordinates_anywhere_on_earth_are_accepted() {
        for (lon, lat) in [
            (118.6, 24.9),
            (-73.99, 40.73),
            (151.2, -33.87),
            (-180.0, -90.0),
            (180.0, 90.0),
            (0.0, 0.0),
        ] {
            assert!(lon_lat("at", lon, lat).is_ok(), "{lon} {lat}");
        }
    }

    #[test]
    fn coordinates_off_the_map_are_refused() {
        let lon_msg = pair("at", "longitude must be between -180 and 180");
        let lat_msg = pair("at", "latitude must be between -90 and 90");
        for lon in [
            180.01,
            -180.01,
            360.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            assert_eq!(fails(lon_lat("at", lon, 25.0)), lon_msg, "{lon}");
        }
        for lat in [
            90.01,
            -90.01,
            118.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            assert_eq!(fails(lon_lat("at", 118.0, lat)), lat_msg, "{lat}");
        }
        // Swapped coordinates: a Chinese longitude is no latitude.
        assert_eq!(fails(lon_lat("at", 24.9, 118.6)), lat_msg);
    }

    #[test]
    fn field_errors_read_field_then_message() {
        let e = required_text("plan.title", "", 10).unwrap_err();
        assert_eq!(e.to_string(), "plan.title: must not be empty");
    }
}
