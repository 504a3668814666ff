//! `GET /metrics`: Prometheus's text format, behind the token check (a
//! viewer token is enough: point Prometheus's `authorization` at one).

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use crate::store::ids::now_ms;

/// Routes of this resource.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(scrape))
}

#[utoipa::path(get, path = "/metrics", tag = "meta", summary = "Prometheus metrics",
    description = "Runs, step attempts (with duration, fuel and peak memory), the queue, group commits, \
plugin compiles and HTTP requests, in Prometheus's text format. The queue depths are read from the database \
at each scrape, so every host reports the whole cluster's.",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)))]
async fn scrape(State(state): State<AppState>) -> Result<Response, ApiError> {
    let (due, waiting) = crate::store::runs::queue_depth(state.store.pool(), now_ms() as i64).await?;
    crate::metrics::queue(due, waiting);
    let text = crate::metrics::handle().map(|h| h.render()).unwrap_or_default();
    Ok(([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response())
}

/// Counts and times every request by its route pattern (never the raw path,
/// which would make a label per id).
pub async fn record(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    // Any token-less client can send any method: only the standard ones
    // become labels.
    let method = match *request.method() {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    };
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let route = route.as_deref().unwrap_or("unmatched");
    crate::metrics::http_request(route, method, response.status().as_u16(), started.elapsed());
    response
}
