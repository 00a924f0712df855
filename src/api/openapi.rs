//! The OpenAPI 3.1 document. Operations come from the handlers'
//! `#[utoipa::path]` attributes (collected by `api::routes`); this module
//! adds what every operation shares: the bearer scheme, the error answers and
//! the role each operation needs.
//!
//! The role is written once, as the scope of the operation's `bearer`
//! security requirement (OpenAPI 3.1 lets a non-OAuth scheme list the role
//! names it needs there); `finish` copies it into `x-required-role`. A public
//! operation says `security(())` and ends up with `security: []`.

use serde_json::{Value, json};
use utoipa::OpenApi;

use super::error::{ErrorBody, ErrorDetail};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Fenghuo (烽火) API",
        description = "Township emergency registry, ledger and alerting."
    ),
    components(schemas(ErrorBody, ErrorDetail))
)]
struct Base;

pub fn base() -> utoipa::openapi::OpenApi {
    Base::openapi()
}

/// The API's error answers, described on every operation under `/api/v1`.
const ERROR_STATUSES: &[&str] = &["400", "401", "403", "404", "409", "422", "503"];

pub fn finish(doc: utoipa::openapi::OpenApi) -> Value {
    let mut v = serde_json::to_value(doc).unwrap_or_else(|_| json!({}));
    v["openapi"] = json!("3.1.0");
    v["info"]["version"] = json!(env!("CARGO_PKG_VERSION"));
    v["servers"] = json!([{ "url": "/" }]);
    v["security"] = json!([{ "bearer": [] }]);
    v["components"]["securitySchemes"] = json!({
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token (`fenghuo token create`). The role an operation needs is its \
                            requirement's scope and its `x-required-role`: viewer < editor < dispatcher < admin. \
                            Approving or rejecting what awaits sign-off also needs a token with the leader \
                            permission (`fenghuo token create --leader`), not the one that asked."
        },
        "signature": {
            "type": "apiKey",
            "in": "header",
            "name": "X-Fenghuo-Signature",
            "description": "An SMS provider's callback: an HMAC of the body keyed with sms.inbound_token \
                            (or that token in X-Fenghuo-Token) for Aliyun, Tencent and webhook; \
                            X-Twilio-Signature for Twilio."
        }
    });
    v["components"]["responses"] = json!({
        "Error": {
            "description": "An error naming the field at fault",
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } } }
        }
    });
    if let Some(paths) = v["paths"].as_object_mut() {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, op) in item.iter_mut() {
                finish_operation(path, method, op);
            }
        }
    }
    v
}

fn finish_operation(path: &str, method: &str, op: &mut Value) {
    let reqs = op["security"].as_array().cloned().unwrap_or_default();
    let role = reqs
        .iter()
        .find_map(|r| r["bearer"].as_array()?.first()?.as_str())
        .or_else(|| {
            reqs.iter()
                .any(|r| r.get("signature").is_some())
                .then_some("signature")
        })
        .map(str::to_string);
    match &role {
        Some(role) => {
            op["x-required-role"] = json!(role);
        }
        None => {
            op["security"] = json!([]);
            op["x-required-role"] = json!("none");
        }
    }
    op["operationId"] = json!(operation_id(method, path));
    if path.starts_with("/api/v1/")
        && let Some(responses) = op["responses"].as_object_mut()
    {
        for status in ERROR_STATUSES {
            if role.is_none() && (*status == "401" || *status == "403") {
                continue;
            }
            responses
                .entry(status.to_string())
                .or_insert_with(|| json!({ "$ref": "#/components/responses/Error" }));
        }
    }
}

fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_lowercase();
    for seg in path
        .split('/')
        .filter(|s| !s.is_empty() && *s != "api" && *s != "v1")
    {
        id.push('_');
        id.push_str(seg.trim_start_matches('{').trim_end_matches('}'));
    }
    id
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use serde_json::Value;

    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r);
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }

    #[test]
    fn every_operation_is_complete_and_every_reference_resolves() {
        let doc = crate::api::document();
        if let Ok(path) = std::env::var("FENGHUO_DUMP_OPENAPI") {
            let _ = std::fs::write(path, serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        let mut ids = HashSet::new();
        let mut n = 0;
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                n += 1;
                let what = format!("{method} {path}");
                assert!(
                    ids.insert(op["operationId"].to_string()),
                    "{what}: operationId repeated"
                );
                let role = op["x-required-role"].as_str().unwrap_or_default();
                assert!(
                    [
                        "none",
                        "signature",
                        "viewer",
                        "editor",
                        "dispatcher",
                        "admin"
                    ]
                    .contains(&role),
                    "{what}: role {role:?}"
                );
                assert!(
                    op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                    "{what}"
                );
                for seg in path.split('/').filter(|s| s.starts_with('{')) {
                    // "{id}", or "{id}.xlsx" (a file of the record).
                    let name = seg[1..].split('}').next().unwrap_or_default();
                    assert!(
                        op["parameters"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .any(|p| p["name"] == name
                                && p["in"] == "path"
                                && p["schema"].is_object()),
                        "{what}: path parameter {name} not described"
                    );
                }
                if path.starts_with("/api/v1/") && ["post", "put"].contains(&method.as_str()) {
                    let closes = path.ends_with("/close")
                        || path.ends_with("/activate")
                        || path.ends_with("/approve")
                        || path.ends_with("/confirm")
                        || path.ends_with("/lift")
                        || path.ends_with("/reload")
                        || path.ends_with("/read")
                        || path.ends_with("/handled")
                        || path.ends_with("/test");
                    assert!(
                        closes || op["requestBody"].is_object(),
                        "{what}: no request body"
                    );
                }
            }
        }
        assert!(n >= 50, "only {n} operations");
        let mut all = Vec::new();
        refs(&doc, &mut all);
        for r in all {
            let ptr = r.trim_start_matches('#');
            assert!(doc.pointer(ptr).is_some(), "dangling {r}");
        }
    }
}
