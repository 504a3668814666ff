//! `GET /healthz`: unauthenticated liveness and readiness (the database
//! answers), and nothing else. `GET /api/health` (any token) adds the details:
//! plugin count and resident memory.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::AppState;

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(health))
}

/// The detailed health, behind the token check.
pub fn details_router() -> Router<AppState> {
    Router::new().route("/api/health", get(details))
}

async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    check(&state, json!({ "status": "ok" })).await
}

async fn details(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let shown = json!({
        "status": "ok",
        "plugins": state.engine.runtime().registry().list().len(),
        "rssBytes": rss_bytes(),
    });
    check(&state, shown).await
}

async fn check(state: &AppState, ok: Value) -> (StatusCode, Json<Value>) {
    match state.store.pool().ping().await {
        Ok(_) => (StatusCode::OK, Json(ok)),
        Err(e) => {
            tracing::error!("health check: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable" })))
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
