//! `POST /api/events`: start every ACTIVE workflow listening for an event type.

use axum::Json as AxumJson;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::json::Json;
use crate::engine::status::RunStatus;

/// Routes of this resource.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(publish))
}

/// A repeated idempotency key whose runs retention has deleted since: the
/// repeat still starts nothing, and says why it cannot show them.
pub(super) fn deleted_replay() -> ApiError {
    ApiError::conflict(
        "this idempotency key was used within the last 24 hours, and the runs it started have been \
         deleted by retention since; nothing was started",
    )
}

/// A run an event started.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StartedRun {
    pub(super) id: String,
    pub(super) workflow_id: String,
    pub(super) status: RunStatus,
    /// A repeat of an idempotency key: this run was started by the first request.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(super) replayed: bool,
}

/// What an event started.
#[derive(Serialize, ToSchema)]
pub struct Published {
    /// The event's type.
    #[serde(rename = "type")]
    event_type: String,
    /// One run per listening ACTIVE workflow.
    runs: Vec<StartedRun>,
    /// The waiting `wait-for-event` steps the event was delivered to (none
    /// for a repeat of an idempotency key: it delivers nothing again).
    delivered: Vec<DeliveredTo>,
    /// With an idempotency key seen before: nothing was started again.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    replayed: bool,
}

/// A waiting step an event reached: its run goes on with the event's data
/// as the step's output.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveredTo {
    run_id: String,
    step: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Event {
    /// E.g. `order.paid`: starts the workflows whose event trigger names it.
    #[serde(rename = "type")]
    event_type: String,
    /// The runs' `event`; `{}` when absent.
    #[serde(default)]
    #[schema(value_type = Object)]
    data: Value,
    /// Same as the `Idempotency-Key` header.
    #[serde(default, rename = "idempotencyKey")]
    idempotency_key: Option<String>,
}

/// Starts every listening workflow and delivers the event to every run
/// waiting for it (a `wait-for-event` step whose correlation key equals
/// the event's value at its path), in one unit, 202.
/// With an idempotency key (the `idempotencyKey` field or the
/// `Idempotency-Key` header), a repeat within 24 hours starts nothing and
/// answers 200 with the runs the first one started (`"replayed": true`).
#[utoipa::path(post, path = "/api/events", tag = "events", summary = "Send an event",
    request_body = Event,
    params(("Idempotency-Key" = Option<String>, Header, description = "A repeat within 24 hours starts nothing")),
    responses((status = 202, description = "Runs started and waiting runs delivered to", body = Published),
               (status = 200, description = "A repeat of an idempotency key: the runs the first one started", body = Published)))]
async fn publish(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(event): Json<Event>,
) -> Result<(StatusCode, AxumJson<Published>), ApiError> {
    if event.event_type.trim().is_empty() {
        return Err(ApiError::invalid("field `type`: must not be empty"));
    }
    let key = match (&event.idempotency_key, super::workflows::idempotency_key(&headers)?) {
        (Some(body), Some(header)) if *body != header => {
            return Err(ApiError::bad_request(
                "field `idempotencyKey` and header `Idempotency-Key` differ; send one",
            ));
        }
        (Some(body), _) => Some(super::workflows::check_key(body, "field `idempotencyKey`")?),
        (None, header) => header,
    };
    let data = if event.data.is_null() { json!({}) } else { event.data };
    let started = state
        .engine
        .trigger_event(&event.event_type, data, key.as_deref())
        .await
        .map_err(ApiError::internal)?;
    let runs = started
        .runs
        .iter()
        .map(|r| StartedRun {
            id: r.id.clone(),
            workflow_id: r.workflow_id.clone(),
            status: r.status,
            replayed: false,
        })
        .collect();
    let status = if started.replayed { StatusCode::OK } else { StatusCode::ACCEPTED };
    let delivered =
        started.delivered.into_iter().map(|d| DeliveredTo { run_id: d.run_id, step: d.step_id }).collect();
    Ok((
        status,
        AxumJson(Published { event_type: event.event_type, runs, delivered, replayed: started.replayed }),
    ))
}
