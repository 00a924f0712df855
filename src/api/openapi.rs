//! The OpenAPI 3.1 document, generated from the route table in `api::routes`
//! so that every mounted endpoint is described.

use serde_json::{Map, Value, json};

use super::Endpoint;

pub fn document(endpoints: &[Endpoint]) -> Value {
    let mut paths = Map::new();
    for e in endpoints {
        let entry = paths
            .entry(e.path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        let mut params: Vec<Value> = path_params(e.path)
            .into_iter()
            .map(|p| json!({ "name": p, "in": "path", "required": true, "schema": { "type": "integer" } }))
            .collect();
        params.extend(
            e.query
                .iter()
                .map(|q| json!({ "name": q, "in": "query", "required": false, "schema": { "type": "string" } })),
        );
        let mut op = json!({
            "summary": e.summary,
            "operationId": operation_id(e),
            "parameters": params,
            "responses": {
                "200": { "description": "OK" },
                "400": { "$ref": "#/components/responses/Error" },
                "401": { "$ref": "#/components/responses/Error" },
                "403": { "$ref": "#/components/responses/Error" },
                "404": { "$ref": "#/components/responses/Error" },
                "409": { "$ref": "#/components/responses/Error" },
                "422": { "$ref": "#/components/responses/Error" }
            },
            "x-required-role": e.role,
        });
        if e.role == "none" {
            op["security"] = json!([]);
        }
        if let Some(b) = e.body {
            op["requestBody"] = json!({
                "required": true,
                "description": b,
                "content": { "application/json": { "schema": { "type": "object" } } }
            });
        }
        if let Value::Object(m) = entry {
            m.insert(e.method.to_lowercase(), op);
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Fenghuo (烽火) API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Township emergency registry, ledger and alerting."
        },
        "servers": [{ "url": "/" }],
        "security": [{ "bearer": [] }],
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "responses": {
                "Error": {
                    "description": "An error naming the field at fault",
                    "content": { "application/json": { "schema": {
                        "type": "object",
                        "properties": { "error": { "type": "object", "properties": {
                            "code": { "type": "string" },
                            "field": { "type": "string" },
                            "message": { "type": "string" }
                        }}}
                    }}}
                }
            }
        },
        "paths": paths,
    })
}

fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

fn operation_id(e: &Endpoint) -> String {
    let mut id = e.method.to_lowercase();
    for seg in e
        .path
        .split('/')
        .filter(|s| !s.is_empty() && *s != "api" && *s != "v1")
    {
        id.push('_');
        id.push_str(seg.trim_start_matches('{').trim_end_matches('}'));
    }
    id
}
