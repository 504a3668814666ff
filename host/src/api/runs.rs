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
        .route("/api/workflow-runs/{id}", get(show))
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
    #[serde(skip_serializing_if = "Option::is_none")]
    logs: Option<Vec<LogView>>,
}

/// A log row as the API shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct LogView {
    id: String,
    run_id: String,
    step: String,
    action: String,
    result: Value,
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
        logs: logs.map(|rows| rows.iter().map(log_view).collect()),
    }
}

fn log_view(log: &LogRow) -> LogView {
    LogView {
        id: log.id.clone(),
        run_id: log.run_id.clone(),
        step: log.step.clone(),
        action: log.action.clone(),
        result: serde_json::from_str(&log.result).unwrap_or(Value::Null),
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
