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

/// Trims; rejects empty or over-long text.
pub fn required_text(field: &str, v: &str, max_chars: usize) -> FieldResult<String> {
    let t = v.trim();
    if t.is_empty() {
        return err(field, "must not be empty");
    }
    if t.chars().count() > max_chars {
        return err(field, format!("must be at most {max_chars} characters"));
    }
    Ok(t.to_string())
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
