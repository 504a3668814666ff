//! `POST /api/cron/preview`: the next fire times of a cron expression in a
//! time zone, computed by the same code that fires them, so an editor never
//! guesses.

use axum::Json as AxumJson;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::json::Json;
use crate::engine::cron::Schedule;
use crate::store::ids::{iso, now_ms};

/// Most fire times in one preview.
const MAX_COUNT: usize = 50;

/// Routes of this resource.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(preview))
}

/// The next fire times.
#[derive(Serialize, ToSchema)]
pub struct Preview {
    /// RFC 3339 times, soonest first; fewer than asked when the schedule ends.
    next: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PreviewBody {
    /// As in a cron trigger: 5 fields, 6 with seconds first, 7 with a year last, or `@daily`.
    expression: String,
    /// IANA time zone; UTC when absent.
    #[serde(default)]
    timezone: Option<String>,
    /// How many fire times, 1 to 50 (default 5).
    #[serde(default)]
    count: Option<usize>,
    /// Start after this time (RFC 3339) instead of now.
    #[serde(default)]
    after: Option<String>,
}

#[utoipa::path(post, path = "/api/cron/preview", tag = "workflows", summary = "Next fire times of a cron schedule",
    request_body = PreviewBody, responses((status = 200, body = Preview)))]
async fn preview(Json(body): Json<PreviewBody>) -> Result<AxumJson<Preview>, ApiError> {
    let count = body.count.unwrap_or(5);
    if !(1..=MAX_COUNT).contains(&count) {
        return Err(ApiError::field("count", format!("must be from 1 to {MAX_COUNT}, got {count}")));
    }
    let mut at = match &body.after {
        None => now_ms(),
        Some(text) => chrono::DateTime::parse_from_rfc3339(text)
            .ok()
            .and_then(|t| u64::try_from(t.timestamp_millis()).ok())
            .ok_or_else(|| ApiError::field("after", format!("must be an RFC 3339 time, got {text:?}")))?,
    };
    let schedule = Schedule::parse(&body.expression, body.timezone.as_deref()).map_err(|e| {
        let field = e.field.rsplit('.').next().unwrap_or(e.field);
        ApiError::field(field, e.message)
    })?;
    let mut next = Vec::with_capacity(count);
    while next.len() < count {
        let Some(fire) = schedule.next_after(at) else { break };
        next.push(iso(fire));
        at = fire;
    }
    Ok(AxumJson(Preview { next }))
}
