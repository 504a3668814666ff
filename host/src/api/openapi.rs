//! `GET /api/openapi.json`: the API's OpenAPI 3.1 document, generated from
//! the handlers' `#[utoipa::path]` attributes and the types they take and
//! answer. The router is built from the same attributes (`utoipa_axum`'s
//! `routes!`), so a route cannot exist without its entry, nor an entry
//! without its route.
//!
//! What every operation shares is added here, from the code that enforces
//! it: the role each route needs comes from [`super::roles::required_role`],
//! and the error answers from what the extractors and middleware return.

use axum::Extension;
use axum::http::Method;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use bytes::Bytes;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::{PartialSchema, ToSchema};

use super::roles::required_role;

/// Paths that do their own authentication, or none.
const PUBLIC: [&str; 4] = ["/healthz", "/hooks/{hook}", "/api/session", "/api/openapi.json"];

/// The document, serialized once at start.
#[derive(Clone)]
pub struct Document(pub Bytes);

/// The API's error answer.
#[derive(Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    error: ErrorDetail,
}

/// What went wrong.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `bad_request`, `not_found`, `invalid`, ...
    code: String,
    /// For people: says which field or value is wrong.
    message: String,
    /// With `invalid`: `[{ field, message }]`, one per problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<FieldError>>)]
    details: Option<Value>,
}

/// One invalid field.
#[derive(Serialize, ToSchema)]
pub struct FieldError {
    /// Where, e.g. `steps[0].config.to`.
    field: String,
    /// What is wrong with it.
    message: String,
}

#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "meta",
    summary = "This document",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object))
)]
pub async fn serve(Extension(Document(doc)): Extension<Document>) -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], doc)
}

/// The finished document: the generated one plus what every operation shares.
pub fn finish(mut doc: utoipa::openapi::OpenApi) -> Value {
    doc.info = utoipa::openapi::InfoBuilder::new()
        .title("Weft")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "The REST API of a Weft host. Authenticate with `Authorization: Bearer <token>` (from \
             `WEFT_ADMIN_TOKEN` or `POST /api/tokens`), or with the session cookie of `POST /api/session` \
             (then writes also carry `X-Weft-Csrf`). Each operation's `x-weft-role` is the least role it \
             needs: viewer < operator < editor < admin. Errors are `{ \"error\": { code, message, details } }`.",
        ))
        .license(Some(utoipa::openapi::License::new("Apache-2.0")))
        .build();
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, schema) in [
        ("Error", ErrorBody::schema()),
        ("ErrorDetail", ErrorDetail::schema()),
        ("FieldError", FieldError::schema()),
    ] {
        components.schemas.insert(name.to_owned(), schema);
    }
    let mut value = serde_json::to_value(&doc).unwrap_or(Value::Null);
    value["components"]["securitySchemes"] = json!({
        "bearer": { "type": "http", "scheme": "bearer", "description": "An API token" },
        "session": { "type": "apiKey", "in": "cookie", "name": super::auth::SESSION_COOKIE,
                     "description": "A browser session from `POST /api/session`" },
    });
    adjust_schemas(&mut value["components"]["schemas"]);
    if let Some(paths) = value.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else { continue };
            for (method, operation) in item.iter_mut() {
                let Ok(method) = method.to_ascii_uppercase().parse::<Method>() else { continue };
                shared(path, &method, operation);
            }
        }
    }
    value
}

/// What the derive cannot say: a manual trigger's `config` may be left out
/// (it is then not stored), and a trigger's 200 is a run or a started run,
/// of which a run matches both (`anyOf`, not `oneOf`).
fn adjust_schemas(schemas: &mut Value) {
    if let Some(variants) = schemas["TriggerSchema"]["oneOf"].as_array_mut() {
        for variant in variants {
            if variant["properties"]["type"]["enum"] == json!(["manual"]) {
                variant["required"] = json!(["type"]);
            }
        }
    }
    if let Some(answer) = schemas.get_mut("TriggerAnswer").and_then(Value::as_object_mut)
        && let Some(variants) = answer.remove("oneOf")
    {
        answer.insert("anyOf".to_owned(), variants);
    }
}

fn error(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } },
    })
}

/// Adds to one operation its role, security and the errors every
/// operation of its kind can answer.
fn shared(path: &str, method: &Method, operation: &mut Value) {
    let public = PUBLIC.contains(&path);
    let has_body = operation.get("requestBody").is_some();
    let has_query =
        operation["parameters"].as_array().is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
    let responses = &mut operation["responses"];
    let mut add = |status: &str, description: &str| {
        if responses.get(status).is_none() {
            responses[status] = error(description);
        }
    };
    if !public {
        add("401", "No valid token or session");
        add("403", "The token's role is below the one this operation needs");
    }
    if has_body {
        add("400", "Malformed JSON or a bad parameter");
        add("413", "The body is over the size limit");
        add("415", "The body is not `application/json`");
        add("422", "The body is JSON of the wrong shape, or invalid; `details` names each field");
    } else if has_query {
        add("400", "A bad query parameter, named in the message");
        add("422", "A query parameter out of range, named in `details`");
    }
    if path.contains('{') {
        add("404", "Not found");
    }
    add("500", "Internal error; the host's log says more");
    if !public {
        let role = required_role(method, path);
        operation["x-weft-role"] = json!(role.as_str());
        operation["security"] = json!([{ "bearer": [] }, { "session": [] }]);
        let note = format!("Needs the `{role}` role or above.");
        operation["description"] = match operation["description"].as_str() {
            Some(text) if !text.is_empty() => json!(format!("{text}\n\n{note}")),
            _ => json!(note),
        };
    }
}

/// The document as the host serves it.
pub fn document(doc: utoipa::openapi::OpenApi) -> Document {
    Document(Bytes::from(serde_json::to_vec(&finish(doc)).unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_names_its_role_and_errors() {
        let doc = finish(super::super::openapi());
        let paths = doc["paths"].as_object().expect("paths");
        assert!(paths.len() > 20, "{} paths", paths.len());
        let op = &doc["paths"]["/api/workflows/{id}/trigger"]["post"];
        assert_eq!(op["x-weft-role"], "operator");
        assert!(op["responses"]["404"].is_object() && op["responses"]["401"].is_object());
        assert!(doc["paths"]["/healthz"]["get"].get("x-weft-role").is_none());
        assert_eq!(doc["openapi"], "3.1.0");
        assert!(doc["components"]["schemas"]["TriggerAnswer"]["anyOf"].is_array());
    }

    /// The router and the document are built from the same `routes!`
    /// entries: a route added another way would be missing from the document.
    #[test]
    fn every_route_is_registered_with_its_document_entry() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).expect("src/api") {
            let path = entry.expect("entry").path();
            if path.ends_with("openapi.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("source");
            for pattern in [".route(", ".route_service(", ".nest(", ".nest_service(", "axum::routing"] {
                assert!(
                    !text.contains(pattern),
                    "{} uses `{pattern}`: register routes with `routes!`",
                    path.display()
                );
            }
            checked += 1;
        }
        assert!(checked > 20, "{checked} files");
    }
}
