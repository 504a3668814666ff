//! `GET /healthz`: unauthenticated liveness and readiness (the database
//! answers), and nothing else. `GET /api/health` (any token) adds the details:
//! plugin count and resident memory.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;

/// Routes of this resource.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health))
}

/// The detailed health, behind the token check.
pub fn details_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(details))
}

/// Whether the host can serve.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` when the database does not answer (with 503).
    status: String,
}

/// Health with details.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthDetails {
    /// `ok`, or `unavailable` when the database does not answer (with 503).
    status: String,
    /// Plugins loaded (every version), with 200.
    #[serde(skip_serializing_if = "Option::is_none")]
    plugins: Option<usize>,
    /// Resident memory of the host process, bytes (Linux), with 200.
    #[serde(skip_serializing_if = "Option::is_none")]
    rss_bytes: Option<u64>,
}

#[utoipa::path(get, path = "/healthz", tag = "meta", summary = "Liveness and readiness",
    description = "Unauthenticated: 200 when the database answers.",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let (status, ok) = check(&state).await;
    (status, Json(Health { status: ok.to_owned() }))
}

#[utoipa::path(get, path = "/api/health", tag = "meta", summary = "Health with details",
    responses((status = 200, body = HealthDetails), (status = 503, body = HealthDetails)))]
async fn details(State(state): State<AppState>) -> (StatusCode, Json<HealthDetails>) {
    let (status, ok) = check(&state).await;
    let up = status == StatusCode::OK;
    let shown = HealthDetails {
        status: ok.to_owned(),
        plugins: up.then(|| state.engine.runtime().registry().list().len()),
        rss_bytes: if up { rss_bytes() } else { None },
    };
    (status, Json(shown))
}

async fn check(state: &AppState) -> (StatusCode, &'static str) {
    match state.store.pool().ping().await {
        Ok(_) => (StatusCode::OK, "ok"),
        Err(e) => {
            tracing::error!("health check: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        }
    }
}

/// Resident memory of this process (Linux), for load tests and dashboards.
fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
