//! Query strings parsed into typed structs (each also `IntoParams`, so the
//! document shows the same names and types the handler reads). A bad value
//! or an unknown name is a 422 naming the parameter.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::error::ApiError;

/// The query string as `T`.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parse(parts.uri.query().unwrap_or("")).map(Params)
    }
}

/// Parses a raw query string; the first of a repeated name counts. Unknown
/// names are refused (`deny_unknown_fields` on every query struct): a typo
/// would otherwise silently widen a filter. A blank value is refused where a
/// number, a flag or one of a set of words belongs, as the document says;
/// blank text is no text.
pub fn parse<T: DeserializeOwned>(raw: &str) -> Result<T, ApiError> {
    let mut map = Map::new();
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        map.entry(k.into_owned())
            .or_insert(Value::String(v.into_owned()));
    }
    serde_path_to_error::deserialize(Value::Object(map)).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        if let Some(rest) = message.strip_prefix("unknown field `") {
            let (name, known) = rest.split_once('`').unwrap_or((rest, ""));
            let known = known
                .trim_start_matches(", expected one of ")
                .trim_start_matches(", expected ")
                .replace('`', "");
            let known = if known.starts_with("there are no fields") {
                "none".to_string()
            } else {
                known
            };
            return ApiError::invalid(name, format!("unknown query parameter; known: {known}"));
        }
        ApiError::invalid(path, message)
    })
}

/// Text; blank is none.
pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.filter(|v| !v.trim().is_empty()))
}

/// A whole number.
pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let Some(v) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    v.trim()
        .parse::<i64>()
        .map(Some)
        .map_err(|_| D::Error::custom(format!("'{v}' is not a whole number")))
}

/// A finite number.
pub fn float<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let Some(v) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(Some)
        .ok_or_else(|| D::Error::custom(format!("'{v}' is not a number")))
}

/// true/false (also 1/0, yes/no).
pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    match Option::<String>::deserialize(d)?.as_deref() {
        None => Ok(None),
        Some("1" | "true" | "yes") => Ok(Some(true)),
        Some("0" | "false" | "no") => Ok(Some(false)),
        Some(v) => Err(D::Error::custom(format!("'{v}' is not true or false"))),
    }
}

/// The search text `q`: one line of at most `max` characters (the
/// `limits.search_chars` setting); blank is none.
pub fn search(q: &Option<String>, max: usize) -> Result<Option<String>, ApiError> {
    Ok(crate::validate::optional_line("q", q, max)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Q {
        #[serde(default, deserialize_with = "int")]
        page: Option<i64>,
        #[serde(default, deserialize_with = "flag")]
        active: Option<bool>,
        #[serde(default, deserialize_with = "text")]
        q: Option<String>,
    }

    #[test]
    fn values_are_typed_and_errors_name_the_parameter() {
        let q: Q = parse("page=%202&active=yes&q=").expect("parses");
        assert_eq!((q.page, q.active, q.q), (Some(2), Some(true), None));
        let e = parse::<Q>("page=").expect_err("refused");
        assert_eq!(e.field.as_deref(), Some("page"));
        let e = parse::<Q>("page=two").expect_err("refused");
        assert_eq!(e.field.as_deref(), Some("page"));
        assert!(
            e.message.contains("'two' is not a whole number"),
            "{}",
            e.message
        );
        let e = parse::<Q>("pgae=2").expect_err("refused");
        assert_eq!(e.field.as_deref(), Some("pgae"));
        assert!(
            e.message.contains("known: page, active, q"),
            "{}",
            e.message
        );
        let e = parse::<Q>("active=maybe").expect_err("refused");
        assert_eq!(e.field.as_deref(), Some("active"));
    }
}
