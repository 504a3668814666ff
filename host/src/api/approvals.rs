//! Approvals: the inbox of runs waiting at an `approval` step, and the
//! decisions (`POST /api/workflow-runs/{id}/approve` and `/reject`).

use std::collections::HashMap;

use axum::Extension;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Principal;
use super::error::ApiError;
use super::json::{JsonBytes, parse};
use crate::store::ids::{iso, now_ms};
use crate::store::runs;
use crate::store::waits::{self, Undecided};

/// Routes of this resource.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(inbox)).routes(routes!(approve)).routes(routes!(reject))
}

/// Most approvals one inbox answer lists.
const MAX_LIMIT: i64 = 500;

/// A run waiting at an approval step.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingView {
    run_id: String,
    /// The approval step.
    step: String,
    /// Its rendered message.
    message: Option<String>,
    workflow_id: String,
    workflow_name: String,
    /// Since when it waits (ISO 8601).
    waiting_since: String,
    /// When it times out, if it does.
    expires_at: Option<String>,
    run_started_at: String,
}

/// The approvals waiting for a decision.
#[derive(Serialize, ToSchema)]
pub struct Inbox {
    data: Vec<PendingView>,
}

#[utoipa::path(get, path = "/api/approvals", tag = "runs", summary = "Runs waiting for an approval",
    description = "Oldest first. Operators and above decide with `approve` or `reject`.",
    params(("limit" = Option<i64>, Query, description = "How many, oldest first (1 to 500; 100 when absent)")),
    responses((status = 200, body = Inbox)))]
async fn inbox(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<axum::Json<Inbox>, ApiError> {
    // Read by hand, so that a bad value is a JSON 422 naming the field.
    let limit = match query.get("limit") {
        None => 100,
        Some(text) => text
            .parse::<i64>()
            .map_err(|_| ApiError::invalid(format!("field `limit`: {text:?} is not a whole number")))?,
    };
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(format!("field `limit`: must be 1 to {MAX_LIMIT}, got {limit}")));
    }
    let pending = waits::pending_approvals(state.store.pool(), limit).await.map_err(ApiError::internal)?;
    let data = pending
        .into_iter()
        .map(|p| PendingView {
            run_id: p.run_id,
            step: p.step_id,
            message: p.message,
            workflow_id: p.workflow_id,
            workflow_name: p.workflow_name,
            waiting_since: iso(p.created_at as u64),
            expires_at: p.expires_at.map(|t| iso(t as u64)),
            run_started_at: iso(p.started_at as u64),
        })
        .collect();
    Ok(axum::Json(Inbox { data }))
}

/// A decision on an approval.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    /// Why (at most 4,096 bytes); the run's step output keeps it.
    #[serde(default)]
    comment: Option<String>,
    /// The approval step, when the run waits at several (parallel branches).
    #[serde(default)]
    step: Option<String>,
}

/// A recorded decision: the run goes on from its approval step.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Decided {
    run_id: String,
    step: String,
    /// `approved` or `rejected`.
    decision: String,
    /// The name of the token (or the user) that decided.
    by: String,
    comment: Option<String>,
    at: String,
}

#[utoipa::path(post, path = "/api/workflow-runs/{id}/approve", tag = "runs", summary = "Approve a run waiting at an approval step",
    description = "The approval step's output is `{ decision: \"approved\", by, comment, at }`, and the run goes on.",
    params(("id" = String, Path)),
    request_body(content = DecisionBody, description = "Optional; `{}` when empty"),
    responses((status = 200, body = Decided),
               (status = 409, description = "The run is not waiting for an approval", body = super::openapi::ErrorBody)))]
async fn approve(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    JsonBytes(body): JsonBytes,
) -> Result<axum::Json<Decided>, ApiError> {
    decide(&state, &principal, &id, "approved", &body).await
}

#[utoipa::path(post, path = "/api/workflow-runs/{id}/reject", tag = "runs", summary = "Reject a run waiting at an approval step",
    description = "The run goes to the step's `onReject` with `{ decision: \"rejected\", by, comment, at }` as its output, or fails when it has none.",
    params(("id" = String, Path)),
    request_body(content = DecisionBody, description = "Optional; `{}` when empty"),
    responses((status = 200, body = Decided),
               (status = 409, description = "The run is not waiting for an approval", body = super::openapi::ErrorBody)))]
async fn reject(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    JsonBytes(body): JsonBytes,
) -> Result<axum::Json<Decided>, ApiError> {
    decide(&state, &principal, &id, "rejected", &body).await
}

async fn decide(
    state: &AppState,
    principal: &Principal,
    id: &str,
    decision: &str,
    body: &[u8],
) -> Result<axum::Json<Decided>, ApiError> {
    let body: DecisionBody =
        if body.iter().all(u8::is_ascii_whitespace) { DecisionBody::default() } else { parse(body)? };
    if let Some(comment) = &body.comment
        && comment.len() > weft_core::flow::MAX_TEXT_BYTES
    {
        return Err(ApiError::invalid(format!(
            "field `comment`: {} bytes, more than {}",
            comment.len(),
            weft_core::flow::MAX_TEXT_BYTES
        )));
    }
    let at = now_ms();
    let now = at as i64;
    let recorded =
        json!({ "decision": decision, "by": principal.name, "comment": body.comment, "at": iso(at) });
    let pool = state.store.pool();
    let outcome =
        waits::decide(pool, id, body.step.as_deref(), &recorded, now).await.map_err(ApiError::internal)?;
    match outcome {
        Ok(done) => {
            state.engine.nudge();
            Ok(axum::Json(Decided {
                run_id: done.run_id,
                step: done.step_id,
                decision: decision.to_owned(),
                by: principal.name.clone(),
                comment: body.comment,
                at: iso(at),
            }))
        }
        Err(Undecided::Ambiguous(steps)) => Err(ApiError::conflict(format!(
            "the run waits at several approval steps ({}): name one in field `step`",
            steps.join(", ")
        ))),
        Err(Undecided::NotWaiting) => {
            if runs::get(pool, id).await.map_err(ApiError::internal)?.is_none() {
                return Err(ApiError::not_found("run", id));
            }
            Err(ApiError::conflict(match &body.step {
                Some(step) => format!("the run is not waiting for a decision at step `{step}`"),
                None => "the run is not waiting for an approval".to_owned(),
            }))
        }
    }
}
