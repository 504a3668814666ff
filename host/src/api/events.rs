//! `POST /api/events`: start every ACTIVE workflow listening for an event type.

use axum::extract::State;
use axum::http::StatusCode;
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
}

async fn publish(
    State(state): State<AppState>,
    Json(event): Json<Event>,
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
    if event.event_type.trim().is_empty() {
        return Err(ApiError::invalid("field `type`: must not be empty"));
    }
    let data = if event.data.is_null() { json!({}) } else { event.data };
    let runs = state.engine.trigger_event(&event.event_type, data).await.map_err(ApiError::internal)?;
    let runs: Vec<Value> =
        runs.iter().map(|r| json!({ "id": r.id, "workflowId": r.workflow_id, "status": r.status })).collect();
    Ok((StatusCode::ACCEPTED, AxumJson(json!({ "type": event.event_type, "runs": runs }))))
}
