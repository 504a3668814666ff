//! `POST /api/events`: start every ACTIVE workflow listening for an event type.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json as AxumJson, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::json::Json;

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/events", post(publish))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Event {
    #[serde(rename = "type")]
    event_type: String,
    #[serde(default)]
    data: Value,
    /// Same as the `Idempotency-Key` header.
    #[serde(default, rename = "idempotencyKey")]
    idempotency_key: Option<String>,
}

/// Starts every listening workflow in one unit (all the runs or none), 202.
/// With an idempotency key (the `idempotencyKey` field or the
/// `Idempotency-Key` header), a repeat within 24 hours starts nothing and
/// answers 200 with the runs the first one started (`"replayed": true`).
async fn publish(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(event): Json<Event>,
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
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
    let runs: Vec<Value> = started
        .runs
        .iter()
        .map(|r| json!({ "id": r.id, "workflowId": r.workflow_id, "status": r.status }))
        .collect();
    let mut answer = json!({ "type": event.event_type, "runs": runs });
    if started.replayed {
        answer["replayed"] = json!(true);
        return Ok((StatusCode::OK, AxumJson(answer)));
    }
    Ok((StatusCode::ACCEPTED, AxumJson(answer)))
}
