//! `/api/workflow-runs`: list, show with logs, cancel, retry from the failed step.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::json::Json as JsonBody;
use super::page::{Page, Paged, status_filter};
use crate::engine::control::ControlError;
use crate::engine::status::RunStatus;
use crate::store::ids::iso;
use crate::store::runs::{self, LogRow, RunRow};

/// Routes of this resource.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(super::run_stream::stream))
        .routes(routes!(show))
        .routes(routes!(show_log))
        .routes(routes!(cancel))
        .routes(routes!(retry))
        .routes(routes!(bulk_cancel))
        .routes(routes!(bulk_retry))
}

/// Most runs one bulk operation takes.
const BULK_LIMIT: i64 = 10_000;

/// Which runs a bulk operation takes: at least one filter, so that an empty
/// body never means every run.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BulkFilter {
    /// Only runs of this workflow.
    workflow_id: Option<String>,
    /// Only runs in this status: for a cancel PENDING, RUNNING or WAITING
    /// (all three when absent); for a retry FAILED.
    status: Option<RunStatus>,
    /// Only runs started at or after this time (RFC 3339).
    started_after: Option<String>,
    /// Only runs started before this time (RFC 3339).
    started_before: Option<String>,
    /// Most runs taken, 1 to 10,000 (default 10,000), oldest first.
    limit: Option<i64>,
}

/// What a bulk operation did.
#[derive(Debug, Serialize, ToSchema)]
struct BulkResult {
    /// Runs the filter matched.
    matched: usize,
    /// Runs cancelled (or retried), oldest first.
    changed: Vec<String>,
    /// Runs that changed state in the meantime (finished, already retried).
    skipped: Vec<String>,
}

fn time_field(field: &str, value: &Option<String>) -> Result<Option<i64>, ApiError> {
    value
        .as_deref()
        .map(|text| {
            chrono::DateTime::parse_from_rfc3339(text)
                .map(|t| t.timestamp_millis())
                .map_err(|e| ApiError::field(field, format!("must be an RFC 3339 time, got {text:?}: {e}")))
        })
        .transpose()
}

/// The runs `filter` takes among `allowed` statuses.
async fn matching(
    state: &AppState,
    filter: &BulkFilter,
    allowed: &[RunStatus],
) -> Result<Vec<String>, ApiError> {
    if filter.workflow_id.is_none()
        && filter.status.is_none()
        && filter.started_after.is_none()
        && filter.started_before.is_none()
    {
        return Err(ApiError::invalid(
            "give at least one filter (workflowId, status, startedAfter, startedBefore): an empty filter would take every run",
        ));
    }
    let statuses = match filter.status {
        Some(status) if allowed.contains(&status) => vec![status],
        Some(status) => {
            let names: Vec<&str> = allowed.iter().map(|s| s.as_str()).collect();
            return Err(ApiError::field(
                "status",
                format!("{status} cannot be taken here (expected {})", names.join(", ")),
            ));
        }
        None => allowed.to_vec(),
    };
    let limit = filter.limit.unwrap_or(BULK_LIMIT);
    if !(1..=BULK_LIMIT).contains(&limit) {
        return Err(ApiError::field("limit", format!("must be from 1 to {BULK_LIMIT}, got {limit}")));
    }
    let after = time_field("startedAfter", &filter.started_after)?;
    let before = time_field("startedBefore", &filter.started_before)?;
    Ok(runs::ids_matching(state.store.pool(), &statuses, filter.workflow_id.as_deref(), after, before, limit)
        .await?)
}

/// Applies `one` to each run; a run that changed state meanwhile is skipped.
async fn each<F, Fut>(ids: Vec<String>, one: F) -> Result<BulkResult, ApiError>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<(), ControlError>>,
{
    let matched = ids.len();
    let (mut changed, mut skipped) = (Vec::new(), Vec::new());
    for id in ids {
        match one(id.clone()).await {
            Ok(()) => changed.push(id),
            Err(ControlError::WrongState { .. } | ControlError::NotFound(_)) => skipped.push(id),
            Err(e) => return Err(control_error(e)),
        }
    }
    Ok(BulkResult { matched, changed, skipped })
}

#[utoipa::path(post, path = "/api/workflow-runs/bulk-cancel", tag = "runs", summary = "Cancel every unfinished run a filter matches",
    description = "For the day after an outage: e.g. every WAITING run of a workflow started before a time. Steps in flight are interrupted.",
    request_body = BulkFilter, responses((status = 200, body = BulkResult)))]
async fn bulk_cancel(
    State(state): State<AppState>,
    JsonBody(filter): JsonBody<BulkFilter>,
) -> Result<Json<BulkResult>, ApiError> {
    let mut ids =
        matching(&state, &filter, &[RunStatus::Pending, RunStatus::Running, RunStatus::Waiting]).await?;
    // Newest first: a run queued for a concurrency slot is cancelled before
    // an older run's cancel could give it the slot (and start it).
    ids.reverse();
    let engine = state.engine.clone();
    let mut done = each(ids, |id| {
        let engine = engine.clone();
        async move { engine.cancel_run(&id).await }
    })
    .await?;
    done.changed.reverse();
    done.skipped.reverse();
    Ok(Json(done))
}

#[utoipa::path(post, path = "/api/workflow-runs/bulk-retry", tag = "runs", summary = "Retry every FAILED run a filter matches",
    description = "Each resumes at its failed step, as a single retry does.",
    request_body = BulkFilter, responses((status = 200, body = BulkResult)))]
async fn bulk_retry(
    State(state): State<AppState>,
    JsonBody(filter): JsonBody<BulkFilter>,
) -> Result<Json<BulkResult>, ApiError> {
    let ids = matching(&state, &filter, &[RunStatus::Failed]).await?;
    let engine = state.engine.clone();
    Ok(Json(
        each(ids, |id| {
            let engine = engine.clone();
            async move { engine.retry_run(&id).await }
        })
        .await?,
    ))
}

/// A run as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunView {
    id: String,
    workflow_id: String,
    status: RunStatus,
    /// `event`, `vars` and `steps.<id>` outputs so far.
    #[schema(value_type = Object)]
    context: Value,
    current_step: Option<String>,
    started_at: String,
    finished_at: Option<String>,
    error: Option<String>,
    wake_at: Option<String>,
    /// A PENDING run waiting for a slot of its workflow's concurrency key.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    queued: bool,
    /// Its concurrency key, when its workflow has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    concurrency_key: Option<String>,
    /// The run whose `call-workflow` step started this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_run_id: Option<String>,
    /// The definition the run started with (with its logs only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    definition: Option<Value>,
    /// Each step attempt and move, in order (a single run's view only).
    #[serde(skip_serializing_if = "Option::is_none")]
    logs: Option<Vec<LogView>>,
}

/// A log row as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct LogView {
    id: String,
    run_id: String,
    seq: i64,
    step: String,
    action: String,
    /// Null when over `RESULT_INLINE_BYTES` in a run's view: read it from
    /// `/logs/:log`.
    #[schema(value_type = Object, nullable)]
    result: Value,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    result_truncated: bool,
    result_bytes: usize,
    created_at: String,
    attempt: i64,
    fuel: i64,
    duration_us: i64,
    peak_memory_bytes: i64,
}

/// The API view of a run, with logs when given.
pub fn view(run: &RunRow, logs: Option<&[LogRow]>) -> RunView {
    RunView {
        id: run.id.clone(),
        workflow_id: run.workflow_id.clone(),
        status: run.status,
        context: serde_json::from_str(&run.context).unwrap_or(Value::Null),
        current_step: run.current_step.clone(),
        started_at: iso(run.started_at as u64),
        finished_at: run.finished_at.map(|t| iso(t as u64)),
        error: run.error.clone(),
        wake_at: run.wake_at.filter(|_| run.status == RunStatus::Waiting).map(|t| iso(t as u64)),
        queued: run.queued == 1 && run.status == RunStatus::Pending,
        concurrency_key: run.concurrency_key.clone(),
        parent_run_id: run.parent_run_id.clone(),
        definition: logs.and_then(|_| serde_json::from_str(&run.definition).ok()),
        logs: logs.map(|rows| rows.iter().map(|l| log_view(l, RESULT_INLINE_BYTES)).collect()),
    }
}

/// Largest attempt result shown inline in a run's view; larger ones are
/// loaded one at a time, so a run page with big outputs opens quickly.
const RESULT_INLINE_BYTES: usize = 16 * 1024;

fn log_view(log: &LogRow, inline: usize) -> LogView {
    let truncated = log.result.len() > inline;
    LogView {
        id: log.id.clone(),
        run_id: log.run_id.clone(),
        seq: log.seq,
        step: log.step.clone(),
        action: log.action.clone(),
        result: if truncated {
            Value::Null
        } else {
            serde_json::from_str(&log.result).unwrap_or(Value::Null)
        },
        result_truncated: truncated,
        result_bytes: log.result.len(),
        created_at: iso(log.created_at as u64),
        attempt: log.attempt,
        fuel: log.fuel,
        duration_us: log.duration_us,
        peak_memory_bytes: log.peak_memory_bytes,
    }
}

#[utoipa::path(get, path = "/api/workflow-runs", tag = "runs", summary = "List runs, newest first",
    params(
        ("workflowId" = Option<String>, Query, description = "Only runs of this workflow"),
        ("status" = Option<RunStatus>, Query, description = "Only runs in this status"),
        ("page" = Option<i64>, Query, description = "From 1"),
        ("pageSize" = Option<i64>, Query, description = "1 to 200 (default 50)"),
    ),
    responses((status = 200, body = Paged<RunView>)))]
async fn list(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Paged<RunView>>, ApiError> {
    let page = Page::from_query(&query)?;
    let status = status_filter::<RunStatus>(&query)?;
    let workflow = query.get("workflowId").map(String::as_str);
    let (rows, total) = runs::list(state.store.pool(), workflow, status, page.size, page.offset()).await?;
    Ok(Json(Paged {
        data: rows.iter().map(|r| view(r, None)).collect(),
        page: page.page,
        page_size: page.size,
        total,
    }))
}

#[utoipa::path(get, path = "/api/workflow-runs/{id}", tag = "runs", summary = "A run with its definition and logs",
    params(("id" = String, Path)), responses((status = 200, body = RunView)))]
async fn show(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<RunView>, ApiError> {
    let run = runs::get(state.store.pool(), &id).await?.ok_or_else(|| ApiError::not_found("run", &id))?;
    let logs = runs::logs(state.store.pool(), &id).await?;
    Ok(Json(view(&run, Some(&logs))))
}

#[utoipa::path(get, path = "/api/workflow-runs/{id}/logs/{log}", tag = "runs", summary = "One log row, its result in full",
    params(("id" = String, Path), ("log" = String, Path)), responses((status = 200, body = LogView)))]
async fn show_log(
    State(state): State<AppState>,
    Path((id, log)): Path<(String, String)>,
) -> Result<Json<LogView>, ApiError> {
    let row = runs::log(state.store.pool(), &id, &log)
        .await?
        .ok_or_else(|| ApiError::not_found("log", &format!("{id}/{log}")))?;
    Ok(Json(log_view(&row, usize::MAX)))
}

fn control_error(e: ControlError) -> ApiError {
    match e {
        ControlError::NotFound(id) => ApiError::not_found("run", &id),
        ControlError::WrongState { .. } => ApiError::conflict(e.to_string()),
        ControlError::Store(e) => ApiError::internal(e),
        ControlError::Corrupt(..) => ApiError::internal(e),
    }
}

#[utoipa::path(post, path = "/api/workflow-runs/{id}/cancel", tag = "runs", summary = "Cancel a run",
    description = "A step in flight is interrupted, on whichever host runs it.",
    params(("id" = String, Path)),
    responses((status = 200, body = RunView), (status = 409, description = "The run has ended", body = super::openapi::ErrorBody)))]
async fn cancel(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<RunView>, ApiError> {
    state.engine.cancel_run(&id).await.map_err(control_error)?;
    show(State(state), Path(id)).await
}

#[utoipa::path(post, path = "/api/workflow-runs/{id}/retry", tag = "runs", summary = "Retry a failed run from its failed step",
    params(("id" = String, Path)),
    responses((status = 200, body = RunView), (status = 409, description = "The run has not failed", body = super::openapi::ErrorBody)))]
async fn retry(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<RunView>, ApiError> {
    state.engine.retry_run(&id).await.map_err(control_error)?;
    show(State(state), Path(id)).await
}
