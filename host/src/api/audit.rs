//! The audit log: every change made through the API that succeeded, with the
//! token's name and role, the time and the target, recorded by one layer
//! around the routes (so no handler can forget it); `GET /api/audit` (admin)
//! reads it, newest first.

use std::collections::HashMap;

use axum::Json as AxumJson;
use axum::body::{Body, to_bytes};
use axum::extract::{MatchedPath, Query, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Principal;
use super::error::ApiError;
use crate::store::audit;
use crate::store::ids::{iso, now_ms};

/// Routes of this resource.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

/// One change made through the API.
#[derive(Serialize, ToSchema)]
pub struct AuditEntry {
    /// Order of recording; pass as `before` for the next page.
    seq: i64,
    /// When, RFC 3339.
    at: String,
    /// The token's name.
    actor: String,
    /// The token's role.
    role: String,
    /// What, e.g. `workflow.edited`.
    action: String,
    /// Which: an id, a name, or `name@version`.
    target: String,
    /// What a creation set (never a secret value).
    #[schema(value_type = Option<Object>)]
    detail: Option<Value>,
}

/// A page of the audit log, newest first.
#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    data: Vec<AuditEntry>,
    /// `before` for the next page; null on the last.
    next: Option<i64>,
}

/// The action a successful request is, and whether its target is in the
/// response (a creation) rather than the path.
fn action_of(method: &Method, route: &str) -> Option<(&'static str, bool)> {
    Some(match (method.as_str(), route) {
        ("POST", "/api/tokens") => ("token.created", true),
        ("DELETE", "/api/tokens/{id}") => ("token.revoked", false),
        ("PUT", "/api/secrets/{name}") => ("secret.set", false),
        ("DELETE", "/api/secrets/{name}") => ("secret.removed", false),
        ("POST", "/api/workflows") => ("workflow.created", true),
        ("PUT", "/api/workflows/{id}") => ("workflow.edited", false),
        ("PUT", "/api/workflows/{id}/activate") => ("workflow.activated", false),
        ("PUT", "/api/workflows/{id}/pause") => ("workflow.paused", false),
        ("PUT", "/api/workflows/{id}/archive") => ("workflow.archived", false),
        ("POST", "/api/plugins") => ("plugin.installed", true),
        ("DELETE", "/api/plugins/{name}/{version}") => ("plugin.removed", false),
        ("POST", "/api/workflow-runs/{id}/cancel") => ("run.cancelled", false),
        ("POST", "/api/workflow-runs/{id}/retry") => ("run.retried", false),
        ("POST", "/api/workflow-runs/bulk-cancel") => ("runs.bulk-cancelled", false),
        ("POST", "/api/workflow-runs/bulk-retry") => ("runs.bulk-retried", false),
        ("POST", "/api/workflow-runs/{id}/approve") => ("run.approved", false),
        ("POST", "/api/workflow-runs/{id}/reject") => ("run.rejected", false),
        ("POST", "/api/email-templates") => ("email-template.created", true),
        ("PUT", "/api/email-templates/{slug}") => ("email-template.edited", false),
        ("DELETE", "/api/email-templates/{slug}") => ("email-template.removed", false),
        _ => return None,
    })
}

/// The path's values where the route has parameters, joined with `@`
/// (`/api/plugins/{name}/{version}` gives `name@version`).
fn target_in_path(route: &str, path: &str) -> String {
    let values: Vec<&str> = route
        .split('/')
        .zip(path.split('/'))
        .filter(|(pattern, _)| pattern.starts_with('{'))
        .map(|(_, value)| value)
        .collect();
    values.join("@")
}

/// The created thing's id in a response body, and what names it.
fn target_in_body(body: &[u8]) -> (String, Option<Value>) {
    let Ok(value) = serde_json::from_slice::<Value>(body) else { return (String::new(), None) };
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
    if let (Some(name), Some(version)) = (text("name"), text("version")) {
        return (format!("{name}@{version}"), None);
    }
    let target = text("id").or_else(|| text("slug")).unwrap_or_default();
    let mut detail = serde_json::Map::new();
    for key in ["name", "role", "expiresAt"] {
        if let Some(v) = value.get(key).filter(|v| !v.is_null()) {
            detail.insert(key.to_owned(), v.clone());
        }
    }
    (target, (!detail.is_empty()).then_some(Value::Object(detail)))
}

/// Records each successful change. Runs inside the token check, which has
/// put the [`Principal`] on the request.
pub async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned());
    let principal = request.extensions().get::<Principal>().cloned();
    let (Some(route), Some(principal)) = (route, principal) else { return next.run(request).await };
    let Some((action, in_body)) = action_of(request.method(), &route) else { return next.run(request).await };
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    if !response.status().is_success() {
        return response;
    }
    let (response, target, detail) = if in_body {
        let (parts, body) = response.into_parts();
        // The handler's own JSON, already in memory: read whole, so that a
        // large created workflow comes back whole too.
        match to_bytes(body, usize::MAX).await {
            Ok(bytes) => {
                let (target, detail) = target_in_body(&bytes);
                (Response::from_parts(parts, Body::from(bytes)), target, detail)
            }
            Err(e) => {
                tracing::error!("audit: reading the response of {route} failed: {e}");
                (Response::from_parts(parts, Body::empty()), String::new(), None)
            }
        }
    } else {
        (response, target_in_path(&route, &path), None)
    };
    let detail = detail.map(|d| d.to_string());
    if let Err(e) = audit::record(
        state.store.pool(),
        now_ms() as i64,
        &principal.name,
        principal.role.as_str(),
        action,
        &target,
        detail.as_deref(),
    )
    .await
    {
        tracing::error!(action, target, "audit entry could not be written: {e}");
    }
    response
}

#[utoipa::path(get, path = "/api/audit", tag = "audit", summary = "Read the audit log",
    params(
        ("limit" = Option<i64>, Query, description = "Entries, 1 to 1000 (default 100)"),
        ("before" = Option<i64>, Query, description = "Only entries with a smaller `seq`"),
        ("action" = Option<String>, Query, description = "Only this action, e.g. `token.created`"),
    ),
    responses((status = 200, body = AuditPage)))]
async fn list(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<AxumJson<AuditPage>, ApiError> {
    let limit = match query.get("limit") {
        None => 100,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| ApiError::field("limit", format!("must be 1 to 1000, got {v:?}")))?,
    };
    let before = match query.get("before") {
        None => None,
        Some(v) => Some(
            v.parse::<i64>()
                .map_err(|_| ApiError::field("before", format!("must be a sequence number, got {v:?}")))?,
        ),
    };
    let rows =
        audit::list(state.store.pool(), limit, before, query.get("action").map(String::as_str)).await?;
    let next = (rows.len() as i64 == limit).then(|| rows.last().map(|r| r.seq)).flatten();
    let data = rows
        .iter()
        .map(|r| AuditEntry {
            seq: r.seq,
            at: iso(r.at as u64),
            actor: r.actor.clone(),
            role: r.role.clone(),
            action: r.action.clone(),
            target: r.target.clone(),
            detail: r.detail.as_deref().and_then(|d| serde_json::from_str::<Value>(d).ok()),
        })
        .collect();
    Ok(AxumJson(AuditPage { data, next }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_come_from_the_path_or_the_created_body() {
        assert_eq!(
            target_in_path("/api/plugins/{name}/{version}", "/api/plugins/resize/0.2.0"),
            "resize@0.2.0"
        );
        assert_eq!(target_in_path("/api/secrets/{name}", "/api/secrets/API_KEY"), "API_KEY");
        let (target, detail) = target_in_body(br#"{"id":"t1","name":"ci","role":"viewer","token":"wft_x"}"#);
        assert_eq!(target, "t1");
        assert_eq!(detail, Some(serde_json::json!({ "name": "ci", "role": "viewer" })));
    }
}
