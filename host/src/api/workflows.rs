//! `/api/workflows`: create, read, edit, change status, trigger.

use std::collections::HashMap;

use axum::Json as AxumJson;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, edit))
        .routes(routes!(activate))
        .routes(routes!(pause))
        .routes(routes!(archive))
        .routes(routes!(trigger))
        .routes(routes!(stats))
}

/// A workflow as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct WorkflowView {
    id: String,
    name: String,
    description: Option<String>,
    #[schema(value_type = weft_core::definition::TriggerSchema)]
    trigger: Value,
    #[schema(value_type = Vec<weft_core::definition::StepDef>)]
    steps: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<weft_core::definition::WorkflowLimits>)]
    limits: Option<Value>,
    /// How long finished runs are kept, when not the host's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    retention: Option<String>,
    /// How long a run may take.
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout: Option<String>,
    /// Runs in progress per key.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<weft_core::definition::Concurrency>)]
    concurrency: Option<Value>,
    /// What the editor keeps: node positions.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
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
    #[schema(value_type = Option<LastRun>)]
    last_run: Option<Value>,
    /// With a webhook trigger: its URL's path and how it verifies.
    #[serde(skip_serializing_if = "Option::is_none")]
    hook: Option<HookView>,
}

/// The newest run of a workflow.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct LastRun {
    id: String,
    status: crate::engine::status::RunStatus,
    started_at: String,
}

/// Where a webhook-triggered workflow listens.
#[derive(Debug, Clone, Serialize, ToSchema)]
struct HookView {
    /// `/hooks/<id>` on this host.
    path: String,
    /// How requests are verified: `standard-webhooks`, `hmac-sha256`, `bearer` or `none`.
    verify: Option<String>,
    respond: weft_core::definition::Respond,
}

/// Runs started since a time, per workflow.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct WorkflowStats {
    workflow_id: String,
    runs: i64,
    failures: i64,
}

/// Stats of every workflow with runs in the window.
#[derive(Debug, Serialize, ToSchema)]
struct StatsList {
    data: Vec<WorkflowStats>,
}

/// What a trigger answers with 200: the run with its logs (with `wait`), or
/// the run a repeated idempotency key started.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
enum TriggerAnswer {
    Run(Box<super::runs::RunView>),
    Started(super::events::StartedRun),
}

fn view(row: &WorkflowRow) -> WorkflowView {
    WorkflowView {
        id: row.id.clone(),
        name: row.name.clone(),
        description: row.description.clone(),
        trigger: serde_json::from_str(&row.trigger).unwrap_or(Value::Null),
        steps: serde_json::from_str(&row.steps).unwrap_or(Value::Null),
        limits: row.limits.as_deref().and_then(|l| serde_json::from_str(l).ok()),
        retention: row.retention.clone(),
        timeout: row.timeout.clone(),
        concurrency: row.concurrency.as_deref().and_then(|c| serde_json::from_str(c).ok()),
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
async fn hook_of(state: &AppState, row: &WorkflowRow) -> Result<Option<HookView>, ApiError> {
    let Ok(Trigger::Webhook(config)) = serde_json::from_str::<Trigger>(&row.trigger) else { return Ok(None) };
    let id = workflows::hook_id(state.store.pool(), &row.id).await?;
    let verify = serde_json::to_value(&config.verify)
        .ok()
        .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_owned));
    Ok(Some(HookView { path: format!("/hooks/{id}"), verify, respond: config.respond }))
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

#[utoipa::path(get, path = "/api/workflows", tag = "workflows", summary = "List workflows, each with its newest run",
    params(
        ("status" = Option<WorkflowStatus>, Query, description = "Only workflows in this status"),
        ("page" = Option<i64>, Query, description = "From 1"),
        ("pageSize" = Option<i64>, Query, description = "1 to 200 (default 50)"),
    ),
    responses((status = 200, body = Paged<WorkflowView>)))]
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

#[utoipa::path(post, path = "/api/workflows", tag = "workflows", summary = "Create a workflow (DRAFT)",
    description = "Server-owned fields (`id`, `status`, `version`, times, `hook`, ...) are ignored, so what was read can be sent back.",
    request_body = weft_core::definition::WorkflowSpec,
    responses((status = 201, description = "Created; `ETag` is its version", body = WorkflowView,
               headers(("ETag" = String, description = "The version, for `If-Match`")))))]
async fn create(
    State(state): State<AppState>,
    JsonBytes(body): JsonBytes,
) -> Result<(StatusCode, impl axum::response::IntoResponse), ApiError> {
    let spec = parse_spec(&body)?;
    let row = state.engine.create_workflow(&spec).await.map_err(lifecycle_error)?;
    Ok((StatusCode::CREATED, tagged(&state, &row).await?))
}

#[utoipa::path(get, path = "/api/workflows/{id}", tag = "workflows", summary = "Read a workflow",
    params(("id" = String, Path)),
    responses((status = 200, body = WorkflowView, headers(("ETag" = String, description = "The version, for `If-Match`")))))]
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
#[utoipa::path(put, path = "/api/workflows/{id}", tag = "workflows", summary = "Replace a workflow's definition",
    params(("id" = String, Path), ("If-Match" = Option<String>, Header, description = "Only if this is still the version (its ETag)")),
    request_body = weft_core::definition::WorkflowSpec,
    responses((status = 200, body = WorkflowView, headers(("ETag" = String, description = "The new version"))),
              (status = 409, description = "A newer version was saved (`details.current`), or an ACTIVE workflow's edit is invalid", body = super::openapi::ErrorBody)))]
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
#[utoipa::path(get, path = "/api/workflow-stats", tag = "workflows", summary = "Runs and failures per workflow since a time",
    params(("since" = String, Query, description = "RFC 3339")),
    responses((status = 200, body = StatsList)))]
async fn stats(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<AxumJson<StatsList>, ApiError> {
    let since = match query.get("since") {
        None => return Err(ApiError::bad_request("query parameter `since` is required (an RFC 3339 time)")),
        Some(v) => chrono::DateTime::parse_from_rfc3339(v).map_err(|e| {
            ApiError::bad_request(format!("query parameter `since` must be an RFC 3339 time, got {v:?}: {e}"))
        })?,
    };
    let rows = crate::store::runs::stats_since(state.store.pool(), since.timestamp_millis()).await?;
    let data = rows
        .into_iter()
        .map(|(workflow_id, runs, failures)| WorkflowStats { workflow_id, runs, failures })
        .collect();
    Ok(AxumJson(StatsList { data }))
}

#[utoipa::path(put, path = "/api/workflows/{id}/activate", tag = "workflows", summary = "Activate: its trigger starts runs",
    params(("id" = String, Path)),
    responses((status = 200, body = WorkflowView), (status = 409, description = "Archived, or no longer valid", body = super::openapi::ErrorBody)))]
async fn activate(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<AxumJson<WorkflowView>, ApiError> {
    let row = state.engine.activate_workflow(&id).await.map_err(lifecycle_error)?;
    Ok(AxumJson(view(&row)))
}

#[utoipa::path(put, path = "/api/workflows/{id}/pause", tag = "workflows", summary = "Pause: its trigger starts nothing; runs go on",
    params(("id" = String, Path)),
    responses((status = 200, body = WorkflowView), (status = 409, description = "Not ACTIVE", body = super::openapi::ErrorBody)))]
async fn pause(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<AxumJson<WorkflowView>, ApiError> {
    let row = state.engine.pause_workflow(&id).await.map_err(lifecycle_error)?;
    Ok(AxumJson(view(&row)))
}

#[utoipa::path(put, path = "/api/workflows/{id}/archive", tag = "workflows", summary = "Archive: read-only from now on",
    params(("id" = String, Path)),
    responses((status = 200, body = WorkflowView), (status = 409, description = "In the wrong state", body = super::openapi::ErrorBody)))]
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
#[utoipa::path(post, path = "/api/workflows/{id}/trigger", tag = "workflows", summary = "Start a run",
    params(
        ("id" = String, Path),
        ("wait" = Option<u64>, Query, description = "Answer when the run has ended or gone to sleep, within this many ms (0 to 60000)"),
        ("Idempotency-Key" = Option<String>, Header, description = "A repeat within 24 hours starts nothing"),
    ),
    request_body(content = Object, description = "The run's `event`; `{}` when empty"),
    responses(
        (status = 202, description = "Started", body = super::events::StartedRun),
        (status = 200, description = "With `wait`: the run with its logs; or a repeated idempotency key's run", body = TriggerAnswer),
        (status = 409, description = "The workflow is not ACTIVE or has no manual trigger", body = super::openapi::ErrorBody),
    ))]
async fn trigger(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    JsonBytes(body): JsonBytes,
) -> Result<(StatusCode, AxumJson<TriggerAnswer>), ApiError> {
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
                EngineError::BadEvent(message) => ApiError::invalid(message),
                EngineError::Store(e) => ApiError::internal(e),
            },
        )?;
    let Some(run) = started.runs.first() else {
        if started.replayed {
            return Err(super::events::deleted_replay());
        }
        return Err(ApiError::internal(format!("trigger of `{id}` started no run")));
    };
    let answer = |replayed| {
        TriggerAnswer::Started(super::events::StartedRun {
            id: run.id.clone(),
            workflow_id: run.workflow_id.clone(),
            status: run.status,
            replayed,
        })
    };
    if started.replayed {
        return Ok((StatusCode::OK, AxumJson(answer(true))));
    }
    let (Some(wait), Some(settled)) = (wait, settled) else {
        return Ok((StatusCode::ACCEPTED, AxumJson(answer(false))));
    };
    let settled = match tokio::time::timeout(wait, settled).await {
        Err(_elapsed) => return Ok((StatusCode::ACCEPTED, AxumJson(answer(false)))),
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
    Ok((StatusCode::OK, AxumJson(TriggerAnswer::Run(Box::new(super::runs::view(&row, Some(&logs)))))))
}
