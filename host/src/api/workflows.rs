//! `/api/workflows`: create, read, edit, change status, trigger.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post, put};
use axum::{Json as AxumJson, Router};
use serde::Serialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::json::{JsonBytes, parse};
use super::page::{Page, Paged, status_filter};
use crate::engine::EngineError;
use crate::engine::definition::{Trigger, WorkflowSpec};
use crate::engine::lifecycle::LifecycleError;
use crate::engine::status::WorkflowStatus;
use crate::store::ids::iso;
use crate::store::workflows::{self, WorkflowRow};

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/workflows", get(list).post(create))
        .route("/api/workflows/{id}", get(show).put(edit))
        .route("/api/workflows/{id}/activate", put(activate))
        .route("/api/workflows/{id}/pause", put(pause))
        .route("/api/workflows/{id}/archive", put(archive))
        .route("/api/workflows/{id}/trigger", post(trigger))
        .route("/api/workflow-stats", get(stats))
}

/// A workflow as the API shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct WorkflowView {
    id: String,
    name: String,
    description: Option<String>,
    trigger: Value,
    steps: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    limits: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    layout: Option<Value>,
    status: WorkflowStatus,
    version: i64,
    created_at: String,
    updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_fire_at: Option<String>,
    /// Why an ACTIVE cron workflow does not fire.
    #[serde(skip_serializing_if = "Option::is_none")]
    cron_error: Option<String>,
    /// In lists: the newest run (`null` when none).
    #[serde(skip_serializing_if = "Option::is_none")]
    last_run: Option<Value>,
    /// With a webhook trigger: its URL's path and how it verifies.
    #[serde(skip_serializing_if = "Option::is_none")]
    hook: Option<Value>,
}

fn view(row: &WorkflowRow) -> WorkflowView {
    WorkflowView {
        id: row.id.clone(),
        name: row.name.clone(),
        description: row.description.clone(),
        trigger: serde_json::from_str(&row.trigger).unwrap_or(Value::Null),
        steps: serde_json::from_str(&row.steps).unwrap_or(Value::Null),
        limits: row.limits.as_deref().and_then(|l| serde_json::from_str(l).ok()),
        layout: row.layout.as_deref().and_then(|l| serde_json::from_str(l).ok()),
        status: row.status,
        version: row.version,
        created_at: iso(row.created_at as u64),
        updated_at: iso(row.updated_at as u64),
        next_fire_at: row.cron_next_at.map(|t| iso(t as u64)),
        cron_error: row.cron_error.clone(),
        last_run: None,
        hook: None,
    }
}

/// The `hook` of a workflow with a webhook trigger (its id made on first need).
async fn hook_of(state: &AppState, row: &WorkflowRow) -> Result<Option<Value>, ApiError> {
    let Ok(Trigger::Webhook(config)) = serde_json::from_str::<Trigger>(&row.trigger) else { return Ok(None) };
    let id = workflows::hook_id(state.store.pool(), &row.id).await?;
    let verify = serde_json::to_value(&config.verify).ok().and_then(|v| v.get("type").cloned());
    Ok(Some(json!({ "path": format!("/hooks/{id}"), "verify": verify, "respond": config.respond })))
}

/// A workflow with its version as the `ETag`, for `If-Match` on edits.
async fn tagged(
    state: &AppState,
    row: &WorkflowRow,
) -> Result<([(axum::http::HeaderName, String); 1], AxumJson<WorkflowView>), ApiError> {
    let shown = WorkflowView { hook: hook_of(state, row).await?, ..view(row) };
    Ok(([(axum::http::header::ETAG, format!("\"{}\"", row.version))], AxumJson(shown)))
}

/// The version an `If-Match` header names (`"3"`, `W/"3"` or `3`); none for
/// `*` or no header.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get(axum::http::header::IF_MATCH) else { return Ok(None) };
    let text = value.to_str().unwrap_or("").trim();
    if text == "*" {
        return Ok(None);
    }
    let bare = text.trim_start_matches("W/").trim_matches('"');
    bare.parse::<i64>().map(Some).map_err(|_| {
        ApiError::bad_request(format!(
            "header `If-Match`: expected the workflow's version as its ETag (e.g. \"3\"), got {text:?}"
        ))
    })
}

/// Fields the server owns: ignored in a body, so a client may send back what
/// it read.
const SERVER_OWNED: [&str; 9] =
    ["id", "status", "version", "createdAt", "updatedAt", "nextFireAt", "cronError", "lastRun", "hook"];

fn parse_spec(body: &[u8]) -> Result<WorkflowSpec, ApiError> {
    let mut value: Value = parse(body)?;
    if let Value::Object(map) = &mut value {
        for key in SERVER_OWNED {
            map.remove(key);
        }
    }
    parse(value.to_string().as_bytes())
}

fn lifecycle_error(e: LifecycleError) -> ApiError {
    match e {
        LifecycleError::NotFound(id) => ApiError::not_found("workflow", &id),
        LifecycleError::Invalid(ref errors) => {
            let details = json!(errors);
            ApiError::invalid(e.to_string()).with_details(details)
        }
        LifecycleError::NoLongerValid(ref errors) => {
            let details = json!(errors);
            ApiError::conflict(e.to_string()).with_details(details)
        }
        LifecycleError::Stale { ref current, .. } => {
            let details = json!({ "current": view(current) });
            ApiError::conflict(e.to_string()).with_details(details)
        }
        LifecycleError::WrongState(message) => ApiError::conflict(message),
        LifecycleError::Store(e) => ApiError::internal(e),
        LifecycleError::Corrupt(..) => ApiError::internal(e),
    }
}

async fn list(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<AxumJson<Paged<WorkflowView>>, ApiError> {
    let page = Page::from_query(&query)?;
    let status = status_filter::<WorkflowStatus>(&query)?;
    let pool = state.store.pool();
    let (rows, total) = workflows::list(pool, status, page.size, page.offset()).await?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let last: HashMap<String, Value> = crate::store::runs::last_runs(pool, &ids)
        .await?
        .into_iter()
        .map(|(workflow, id, status, started)| {
            (workflow, json!({ "id": id, "status": status, "startedAt": iso(started as u64) }))
        })
        .collect();
    let mut data = Vec::with_capacity(rows.len());
    for row in &rows {
        data.push(WorkflowView {
            last_run: Some(last.get(&row.id).cloned().unwrap_or(Value::Null)),
            hook: hook_of(&state, row).await?,
            ..view(row)
        });
    }
    Ok(AxumJson(Paged { data, page: page.page, page_size: page.size, total }))
}

async fn create(
    State(state): State<AppState>,
    JsonBytes(body): JsonBytes,
) -> Result<(StatusCode, impl axum::response::IntoResponse), ApiError> {
    let spec = parse_spec(&body)?;
    let row = state.engine.create_workflow(&spec).await.map_err(lifecycle_error)?;
    Ok((StatusCode::CREATED, tagged(&state, &row).await?))
}

async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let row =
        workflows::get(state.store.pool(), &id).await?.ok_or_else(|| ApiError::not_found("workflow", &id))?;
    tagged(&state, &row).await
}

/// Replaces the definition. With `If-Match: "<version>"`, only when nobody
/// saved a newer version since: else 409 with the current workflow in
/// `details.current`, so an editor shows what changed instead of
/// overwriting it.
async fn edit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBytes(body): JsonBytes,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let expected = if_match(&headers)?;
    let spec = parse_spec(&body)?;
    let row = state.engine.edit_workflow(&id, &spec, expected).await.map_err(lifecycle_error)?;
    tagged(&state, &row).await
}

/// `GET /api/workflow-stats?since=ISO`: per workflow, the runs started
/// since then and how many FAILED (the dashboard passes local midnight).
async fn stats(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<AxumJson<Value>, ApiError> {
    let since = match query.get("since") {
        None => return Err(ApiError::bad_request("query parameter `since` is required (an RFC 3339 time)")),
        Some(v) => chrono::DateTime::parse_from_rfc3339(v).map_err(|e| {
            ApiError::bad_request(format!("query parameter `since` must be an RFC 3339 time, got {v:?}: {e}"))
        })?,
    };
    let rows = crate::store::runs::stats_since(state.store.pool(), since.timestamp_millis()).await?;
    let data: Vec<Value> = rows
        .into_iter()
        .map(|(workflow, runs, failures)| json!({ "workflowId": workflow, "runs": runs, "failures": failures }))
        .collect();
    Ok(AxumJson(json!({ "data": data })))
}

async fn activate(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<AxumJson<WorkflowView>, ApiError> {
    let row = state.engine.activate_workflow(&id).await.map_err(lifecycle_error)?;
    Ok(AxumJson(view(&row)))
}

async fn pause(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<AxumJson<WorkflowView>, ApiError> {
    let row = state.engine.pause_workflow(&id).await.map_err(lifecycle_error)?;
    Ok(AxumJson(view(&row)))
}

async fn archive(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<AxumJson<WorkflowView>, ApiError> {
    let row = state.engine.archive_workflow(&id).await.map_err(lifecycle_error)?;
    Ok(AxumJson(view(&row)))
}

/// The `Idempotency-Key` header, checked.
pub(super) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else { return Ok(None) };
    let key = value
        .to_str()
        .map_err(|_| ApiError::bad_request("header `Idempotency-Key`: must be visible ASCII"))?;
    check_key(key, "header `Idempotency-Key`").map(Some)
}

/// An idempotency key: 1 to 255 visible characters.
pub(super) fn check_key(key: &str, what: &str) -> Result<String, ApiError> {
    if key.is_empty() || key.len() > 255 {
        return Err(ApiError::bad_request(format!("{what}: must be 1 to 255 characters, got {}", key.len())));
    }
    Ok(key.to_owned())
}

/// Longest `?wait=` of a trigger, ms.
const MAX_WAIT_MS: u64 = 60_000;

/// Starts a run; 202 with its id and status. With `?wait=MS`, answers when the
/// run has ended or gone to sleep (200 with the run and its logs), or after
/// MS milliseconds (202), like a synchronous webhook.
///
/// With an `Idempotency-Key` header, a repeat of the key within 24 hours
/// starts nothing and answers 200 with the run the first request started
/// (`"replayed": true`).
async fn trigger(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    JsonBytes(body): JsonBytes,
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
    let key = idempotency_key(&headers)?;
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
    let workflow =
        workflows::get(state.store.pool(), &id).await?.ok_or_else(|| ApiError::not_found("workflow", &id))?;
    let (started, settled) =
        state.engine.start_run_watched(&workflow, payload, wait.is_some(), key.as_deref()).await.map_err(
            |e| match e {
                EngineError::NotTriggerable { .. } | EngineError::Invalid(..) => {
                    ApiError::conflict(e.to_string())
                }
                EngineError::Store(e) => ApiError::internal(e),
            },
        )?;
    let Some(run) = started.runs.first() else {
        return Err(ApiError::internal(format!("trigger of `{id}` started no run")));
    };
    if started.replayed {
        let replayed =
            json!({ "id": run.id, "workflowId": run.workflow_id, "status": run.status, "replayed": true });
        return Ok((StatusCode::OK, AxumJson(replayed)));
    }
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
    let view = serde_json::to_value(super::runs::view(&row, Some(&logs))).map_err(ApiError::internal)?;
    Ok((StatusCode::OK, AxumJson(view)))
}
