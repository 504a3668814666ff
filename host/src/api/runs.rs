//! `/api/workflow-runs`: list, show with logs, cancel, retry from the failed step.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;

use super::AppState;
use super::error::ApiError;
use super::page::{Page, Paged, status_filter};
use crate::engine::control::ControlError;
use crate::engine::status::RunStatus;
use crate::store::ids::iso;
use crate::store::runs::{self, LogRow, RunRow};

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/workflow-runs", get(list))
        .route("/api/workflow-runs/stream", get(super::run_stream::stream))
        .route("/api/workflow-runs/{id}", get(show))
        .route("/api/workflow-runs/{id}/logs/{log}", get(show_log))
        .route("/api/workflow-runs/{id}/cancel", post(cancel))
        .route("/api/workflow-runs/{id}/retry", post(retry))
}

/// A run as the API shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunView {
    id: String,
    workflow_id: String,
    status: RunStatus,
    context: Value,
    current_step: Option<String>,
    started_at: String,
    finished_at: Option<String>,
    error: Option<String>,
    wake_at: Option<String>,
    /// The definition the run started with (with its logs only).
    #[serde(skip_serializing_if = "Option::is_none")]
    definition: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    logs: Option<Vec<LogView>>,
}

/// A log row as the API shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct LogView {
    id: String,
    run_id: String,
    seq: i64,
    step: String,
    action: String,
    /// Null when over `RESULT_INLINE_BYTES` in a run's view: read it from
    /// `/logs/:log`.
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

async fn show(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<RunView>, ApiError> {
    let run = runs::get(state.store.pool(), &id).await?.ok_or_else(|| ApiError::not_found("run", &id))?;
    let logs = runs::logs(state.store.pool(), &id).await?;
    Ok(Json(view(&run, Some(&logs))))
}

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

async fn cancel(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<RunView>, ApiError> {
    state.engine.cancel_run(&id).await.map_err(control_error)?;
    show(State(state), Path(id)).await
}

async fn retry(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<RunView>, ApiError> {
    state.engine.retry_run(&id).await.map_err(control_error)?;
    show(State(state), Path(id)).await
}
