//! `/api/workflows`: create, read, edit, change status, trigger.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json as AxumJson, Router};
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::json::{Body, parse};
use super::page::{Page, Paged, status_filter};
use crate::engine::EngineError;
use crate::engine::cron::Schedule;
use crate::engine::definition::{Trigger, WorkflowSpec};
use crate::engine::validate::ValidationError;
use crate::store::ids::{new_id, now_ms};
use crate::store::workflows::{self, STATUSES, WorkflowRow, WorkflowView};

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/workflows", get(list).post(create))
        .route("/api/workflows/{id}", get(show).put(edit))
        .route("/api/workflows/{id}/activate", put(activate))
        .route("/api/workflows/{id}/pause", put(pause))
        .route("/api/workflows/{id}/archive", put(archive))
        .route("/api/workflows/{id}/trigger", post(trigger))
}

/// Fields the server owns: ignored in a body, so a client may send back what
/// it read.
const SERVER_OWNED: [&str; 6] = ["id", "status", "version", "createdAt", "updatedAt", "nextFireAt"];

fn parse_spec(body: &[u8]) -> Result<WorkflowSpec, ApiError> {
    let mut value: Value = parse(body)?;
    if let Value::Object(map) = &mut value {
        for key in SERVER_OWNED {
            map.remove(key);
        }
    }
    parse(value.to_string().as_bytes())
}

fn invalid(errors: Vec<ValidationError>, status: StatusCode) -> ApiError {
    let message = errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
    let details = json!(errors);
    let error = if status == StatusCode::CONFLICT {
        ApiError::conflict(format!("the workflow is not valid: {message}"))
    } else {
        ApiError::invalid(format!("invalid workflow definition: {message}"))
    };
    error.with_details(details)
}

async fn load(state: &AppState, id: &str) -> Result<WorkflowRow, ApiError> {
    workflows::get(state.store.pool(), id).await?.ok_or_else(|| ApiError::not_found("workflow", id))
}

async fn list(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<AxumJson<Paged<WorkflowView>>, ApiError> {
    let page = Page::from_query(&query)?;
    let status = status_filter(&query, &STATUSES)?;
    let (rows, total) = workflows::list(state.store.pool(), status, page.size, page.offset()).await?;
    Ok(AxumJson(Paged {
        data: rows.iter().map(WorkflowRow::view).collect(),
        page: page.page,
        page_size: page.size,
        total,
    }))
}

async fn create(
    State(state): State<AppState>,
    Body(body): Body,
) -> Result<(StatusCode, AxumJson<WorkflowView>), ApiError> {
    let spec = parse_spec(&body)?;
    state.engine.validate(&spec).map_err(|e| invalid(e, StatusCode::UNPROCESSABLE_ENTITY))?;
    let now = now_ms() as i64;
    let row = WorkflowRow {
        id: new_id(),
        name: spec.name.clone(),
        description: spec.description.clone(),
        trigger: serde_json::to_string(&spec.trigger).map_err(ApiError::internal)?,
        steps: serde_json::to_string(&spec.steps).map_err(ApiError::internal)?,
        status: "DRAFT".into(),
        created_at: now,
        updated_at: now,
        version: 1,
        event_type: spec.event_type().map(str::to_owned),
        resolved_types: None,
        cron_next_at: None,
    };
    workflows::insert(state.store.pool(), &row).await?;
    Ok((StatusCode::CREATED, AxumJson(row.view())))
}

async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<AxumJson<WorkflowView>, ApiError> {
    Ok(AxumJson(load(&state, &id).await?.view()))
}

async fn edit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<AxumJson<WorkflowView>, ApiError> {
    let spec = parse_spec(&body)?;
    let resolved = state.engine.validate(&spec).map_err(|e| invalid(e, StatusCode::UNPROCESSABLE_ENTITY))?;
    let current = load(&state, &id).await?;
    if current.status == "ARCHIVED" {
        return Err(ApiError::conflict(format!("workflow `{id}` is ARCHIVED and cannot be edited")));
    }
    let mut row = current.clone();
    row.name = spec.name.clone();
    row.description = spec.description.clone();
    row.trigger = serde_json::to_string(&spec.trigger).map_err(ApiError::internal)?;
    row.steps = serde_json::to_string(&spec.steps).map_err(ApiError::internal)?;
    row.event_type = spec.event_type().map(str::to_owned);
    row.version += 1;
    row.updated_at = now_ms() as i64;
    if row.status == "ACTIVE" {
        row.resolved_types = Some(serde_json::to_string(&resolved).map_err(ApiError::internal)?);
        row.cron_next_at = next_fire(&spec.trigger);
    }
    save(&state, &row, current.version).await
}

async fn save(
    state: &AppState,
    row: &WorkflowRow,
    expected_version: i64,
) -> Result<AxumJson<WorkflowView>, ApiError> {
    if !workflows::update(state.store.pool(), row, expected_version).await? {
        return Err(ApiError::conflict(format!(
            "workflow `{}` was changed concurrently; read it again",
            row.id
        )));
    }
    Ok(AxumJson(row.view()))
}

fn next_fire(trigger: &Trigger) -> Option<i64> {
    match trigger {
        Trigger::Cron(c) => Schedule::parse(&c.expression, c.timezone.as_deref())
            .ok()
            .and_then(|s| s.next_after(now_ms()))
            .map(|t| t as i64),
        _ => None,
    }
}

async fn activate(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<AxumJson<WorkflowView>, ApiError> {
    let current = load(&state, &id).await?;
    if current.status == "ARCHIVED" {
        return Err(ApiError::conflict(format!("workflow `{id}` is ARCHIVED and cannot be activated")));
    }
    let spec = WorkflowSpec {
        name: current.name.clone(),
        description: current.description.clone(),
        trigger: serde_json::from_str(&current.trigger).map_err(ApiError::internal)?,
        steps: serde_json::from_str(&current.steps).map_err(ApiError::internal)?,
    };
    // Plugins may have changed since the last save: validate again.
    let resolved = state.engine.validate(&spec).map_err(|e| invalid(e, StatusCode::CONFLICT))?;
    let mut row = current.clone();
    row.status = "ACTIVE".into();
    row.resolved_types = Some(serde_json::to_string(&resolved).map_err(ApiError::internal)?);
    if current.status != "ACTIVE" || row.cron_next_at.is_none() {
        row.cron_next_at = next_fire(&spec.trigger);
    }
    row.updated_at = now_ms() as i64;
    save(&state, &row, current.version).await
}

async fn pause(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<AxumJson<WorkflowView>, ApiError> {
    let current = load(&state, &id).await?;
    match current.status.as_str() {
        "PAUSED" => Ok(AxumJson(current.view())),
        "ACTIVE" => {
            let mut row = current.clone();
            row.status = "PAUSED".into();
            row.cron_next_at = None;
            row.updated_at = now_ms() as i64;
            save(&state, &row, current.version).await
        }
        other => Err(ApiError::conflict(format!(
            "workflow `{id}` is {other}; only an ACTIVE workflow can be paused"
        ))),
    }
}

async fn archive(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<AxumJson<WorkflowView>, ApiError> {
    let current = load(&state, &id).await?;
    if current.status == "ARCHIVED" {
        return Ok(AxumJson(current.view()));
    }
    let mut row = current.clone();
    row.status = "ARCHIVED".into();
    row.cron_next_at = None;
    row.updated_at = now_ms() as i64;
    save(&state, &row, current.version).await
}

/// Longest `?wait=` of a trigger, ms.
const MAX_WAIT_MS: u64 = 60_000;

/// Starts a run; 202 with its id and status. With `?wait=MS`, answers when the
/// run has ended or gone to sleep (200 with the run and its logs), or after
/// MS milliseconds (202), like a synchronous webhook.
async fn trigger(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    Body(body): Body,
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
    let wait = match query.get("wait") {
        None => None,
        Some(v) => match v.parse::<u64>() {
            Ok(ms) if ms <= MAX_WAIT_MS => Some(std::time::Duration::from_millis(ms)),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "query parameter `wait` must be milliseconds from 0 to {MAX_WAIT_MS}, got {v:?}"
                )));
            }
        },
    };
    let payload: Value = if body.iter().all(u8::is_ascii_whitespace) { json!({}) } else { parse(&body)? };
    let workflow = load(&state, &id).await?;
    let (run, settled) =
        state.engine.start_run_watched(&workflow, payload, wait.is_some()).await.map_err(|e| match e {
            EngineError::NotTriggerable { .. } | EngineError::Invalid(..) => {
                ApiError::conflict(e.to_string())
            }
            EngineError::Store(e) => ApiError::internal(e),
        })?;
    let started = json!({ "id": run.id, "workflowId": run.workflow_id, "status": run.status });
    let (Some(wait), Some(settled)) = (wait, settled) else {
        return Ok((StatusCode::ACCEPTED, AxumJson(started)));
    };
    let settled = match tokio::time::timeout(wait, settled).await {
        Err(_elapsed) => return Ok((StatusCode::ACCEPTED, AxumJson(started))),
        Ok(settled) => settled.ok(),
    };
    let (row, logs) = match settled {
        Some(s) => (s.run, s.logs),
        // The run stopped on an error: read what was committed.
        None => {
            let pool = state.store.pool();
            let row = crate::store::runs::get(pool, &run.id)
                .await?
                .ok_or_else(|| ApiError::not_found("run", &run.id))?;
            let logs = crate::store::runs::logs(pool, &run.id).await?;
            (row, logs)
        }
    };
    let view = serde_json::to_value(row.view(Some(&logs))).map_err(ApiError::internal)?;
    Ok((StatusCode::OK, AxumJson(view)))
}
