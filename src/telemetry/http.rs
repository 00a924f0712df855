//! Every HTTP request: a request id (`X-Request-Id`: the caller's when it is
//! a plain short token, else a new UUID), echoed in the response and in error
//! bodies; a tracing span carrying it with the route template and, once
//! known, the actor, so every log line of the request names them; and the
//! request counted and timed in the metrics by route template and status.
//!
//! The layers, outermost first (see [`layer`]): [`drop_unusable_id`],
//! tower-http's `SetRequestId` and `PropagateRequestId`, then [`observe`].

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    static CURRENT: String;
}

/// The id of the request being answered (for error bodies), if any.
pub fn request_id() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Records who is acting in the request's span (an API token's name,
/// `web:USER` on the dashboard): every later log line of the request carries it.
pub fn record_actor(actor: &str) {
    tracing::Span::current().record("actor", actor);
}

/// A caller's id is kept when it is 1–64 letters, digits, `-`, `_` or `.`:
/// it goes into logs and pages, so nothing else is taken from outside.
fn usable(v: &HeaderValue) -> bool {
    let b = v.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// Removes an `X-Request-Id` the daemon will not repeat, so that a new one is made.
pub async fn drop_unusable_id(mut req: Request, next: Next) -> Response {
    let bad = req
        .headers()
        .get_all(&REQUEST_ID)
        .iter()
        .enumerate()
        .any(|(i, v)| i > 0 || !usable(v));
    if bad {
        req.headers_mut().remove(&REQUEST_ID);
    }
    next.run(req).await
}

/// The request's span, task-local id and metrics.
pub async fn observe(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    // The route template (`/api/v1/alerts/{id}`), never the path itself: the
    // path may carry an answer token. Unknown paths are one value.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_string();
    let method: &'static str = match req.method().as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    };
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method,
        route = %route,
        actor = tracing::field::Empty,
    );
    let resp = CURRENT
        .scope(id, next.run(req).instrument(span.clone()))
        .await;
    let took = started.elapsed().as_secs_f64();
    let status = resp.status();
    let m = super::metrics();
    super::inc(
        &m.http_requests,
        &[
            ("method", method),
            ("route", route.as_str()),
            ("status", status.as_str()),
        ],
    );
    super::observe(
        &m.http_seconds,
        &[
            ("method", method),
            ("route", route.as_str()),
            ("status", status.as_str()),
        ],
        took,
    );
    let ms = (took * 1000.0).round();
    span.in_scope(|| {
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), ms, "request failed");
        } else if status.is_client_error() {
            tracing::info!(status = status.as_u16(), ms, "request refused");
        } else {
            tracing::debug!(status = status.as_u16(), ms, "request answered");
        }
    });
    resp
}

/// Adds the request-id and observing layers to the daemon's router.
pub fn layer(router: axum::Router) -> axum::Router {
    use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
    router
        .layer(axum::middleware::from_fn(observe))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(axum::middleware::from_fn(drop_unusable_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_short_ids_are_kept() {
        for ok in ["abc", "0f8fad5b-d9cb-469f-a165-70867728950e", "a.b_c-1"] {
            assert!(usable(&HeaderValue::from_static(ok)), "{ok}");
        }
        let long = "a".repeat(65);
        for bad in ["", "a b", "<script>", "x\u{7f}", long.as_str()] {
            let v =
                HeaderValue::from_bytes(bad.as_bytes()).unwrap_or(HeaderValue::from_static(" "));
            assert!(!usable(&v), "{bad:?}");
        }
    }
}
