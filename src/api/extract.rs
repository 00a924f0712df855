//! Request extractors: the bearer token and JSON bodies whose errors name the
//! field at fault.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::AppState;
use super::error::ApiError;
use crate::auth::{Actor, Role};
use crate::store::Scope;

impl FromRequestParts<AppState> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(ApiError::unauthorized)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(ApiError::unauthorized)?;
        // One look-up a request: `Scoped` and the handler both ask.
        if let Some(actor) = parts.extensions.get::<Actor>() {
            return Ok(actor.clone());
        }
        let actor = state
            .tokens
            .lookup(&state.system, token)
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        crate::telemetry::http::record_actor(&actor.name);
        parts.extensions.insert(actor.clone());
        Ok(actor)
    }
}

/// The application state as the token's holder may see it: its `db` is
/// limited to their scope (no token: to nothing).
pub struct Scoped(pub AppState);

impl FromRequestParts<AppState> for Scoped {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let actor =
            <Actor as axum::extract::OptionalFromRequestParts<AppState>>::from_request_parts(
                parts, state,
            )
            .await?;
        Ok(Scoped(
            state.acting(actor.map_or_else(Scope::nothing, |a| a.scope)),
        ))
    }
}

impl axum::extract::OptionalFromRequestParts<AppState> for Actor {
    type Rejection = ApiError;

    /// No `Authorization` header: no actor. A header with an unknown token is
    /// still refused (401), so a typo is not mistaken for "signed out".
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        if parts
            .headers
            .contains_key(axum::http::header::AUTHORIZATION)
        {
            <Actor as FromRequestParts<AppState>>::from_request_parts(parts, state)
                .await
                .map(Some)
        } else {
            Ok(None)
        }
    }
}

impl Actor {
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::forbidden(role.as_str()))
        }
    }
}

/// JSON body; a syntax error is 400, a wrong type, missing or unknown field
/// or unknown enum value is 422 naming the field's path.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::bad_request(None, format!("cannot read the body: {e}")))?;
        parse_json(&bytes).map(Body)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(None, "the request needs a JSON body"));
    }
    // Syntax first (400), then shape (422): parsing straight into `T` reports
    // some type errors, such as a number where an enum belongs, as syntax.
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(None, format!("malformed JSON: {e}")))?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        let field = if path == "." {
            missing_field_name(&message)
        } else {
            Some(path)
        };
        let mut err = ApiError::invalid(field.clone().unwrap_or_default(), message);
        err.field = field;
        err
    })
}

fn missing_field_name(msg: &str) -> Option<String> {
    for pre in ["missing field `", "unknown field `"] {
        if let Some(rest) = msg.split(pre).nth(1) {
            return rest.split('`').next().map(str::to_string);
        }
    }
    None
}

/// The `{id}` of a path: a whole number, or a 400 naming `id` (axum's own
/// rejection is plain text, which the document could not describe).
pub struct Id(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<i64>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(id)) => Ok(Id(id)),
            Err(_) => Err(ApiError::bad_request(
                Some("id".into()),
                "the id in the path must be a whole number",
            )),
        }
    }
}
