//! `/api/workflow-runs`: list, show with logs, cancel, retry from the failed step.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use super::AppState;
use super::error::ApiError;
use super::page::{Page, Paged, status_filter};
use crate::engine::machine::Position;
use crate::store::ids::{new_id, now_ms};
use crate::store::runs::{self, LogRow, RunView};

const STATUSES: [&str; 6] = ["PENDING", "RUNNING", "WAITING", "COMPLETED", "FAILED", "CANCELLED"];

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/workflow-runs", get(list))
        .route("/api/workflow-runs/{id}", get(show))
        .route("/api/workflow-runs/{id}/cancel", post(cancel))
        .route("/api/workflow-runs/{id}/retry", post(retry))
}

async fn list(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Paged<RunView>>, ApiError> {
    let page = Page::from_query(&query)?;
    let status = status_filter(&query, &STATUSES)?;
    let workflow = query.get("workflowId").map(String::as_str);
    let (rows, total) = runs::list(state.store.pool(), workflow, status, page.size, page.offset()).await?;
    Ok(Json(Paged {
        data: rows.iter().map(|r| r.view(None)).collect(),
        page: page.page,
        page_size: page.size,
        total,
    }))
}

async fn show(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<RunView>, ApiError> {
    let run = runs::get(state.store.pool(), &id).await?.ok_or_else(|| ApiError::not_found("run", &id))?;
    let logs = runs::logs(state.store.pool(), &id).await?;
    Ok(Json(run.view(Some(&logs))))
}

async fn cancel(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<RunView>, ApiError> {
    let pool = state.store.pool();
    let run = runs::get(pool, &id).await?.ok_or_else(|| ApiError::not_found("run", &id))?;
    let now = now_ms() as i64;
    if !runs::cancel(pool, &id, now).await? {
        return Err(ApiError::conflict(format!("run `{id}` is {} and cannot be cancelled", run.status)));
    }
    append_log(&state, &id, run.current_step.as_deref().unwrap_or(""), "cancelled", now).await?;
    show(State(state), Path(id)).await
}

async fn retry(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<RunView>, ApiError> {
    let pool = state.store.pool();
    let run = runs::get(pool, &id).await?.ok_or_else(|| ApiError::not_found("run", &id))?;
    if run.status != "FAILED" {
        return Err(ApiError::conflict(format!(
            "run `{id}` is {}; only a FAILED run can be retried",
            run.status
        )));
    }
    let mut position: Position = serde_json::from_str(&run.position).map_err(ApiError::internal)?;
    position.reset_for_retry();
    position.seq += 1;
    let now = now_ms() as i64;
    let encoded = serde_json::to_string(&position).map_err(ApiError::internal)?;
    if !runs::reopen(pool, &id, &encoded, now).await? {
        return Err(ApiError::conflict(format!("run `{id}` changed while being retried")));
    }
    append_log(&state, &id, run.current_step.as_deref().unwrap_or(""), "retried", now).await?;
    state.engine.nudge();
    show(State(state), Path(id)).await
}

/// A run-level log row written by the API (cancel, retry).
async fn append_log(
    state: &AppState,
    run_id: &str,
    step: &str,
    action: &str,
    now: i64,
) -> Result<(), ApiError> {
    let seq = runs::next_seq(state.store.pool(), run_id).await?;
    let log = LogRow {
        id: new_id(),
        run_id: run_id.to_owned(),
        step: step.to_owned(),
        action: action.to_owned(),
        result: json!({}).to_string(),
        created_at: now,
        seq,
        attempt: 0,
        fuel: 0,
        duration_us: 0,
        peak_memory_bytes: 0,
    };
    let mut conn = state.store.pool().acquire().await?;
    runs::insert_log(&mut conn, &log).await?;
    Ok(())
}
