//! The REST API: one router per resource, merged here, behind bearer auth.

mod approvals;
mod assets;
mod audit;
pub mod auth;
mod cron;
mod email_templates;
pub mod error;
mod events;
mod health;
pub mod hooks;
pub mod json;
mod metrics;
mod notifications;
pub mod openapi;
mod page;
mod plugins;
pub mod roles;
mod run_stream;
mod runs;
mod secrets;
mod session;
mod step_types;
mod tokens;
mod workflows;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::{Extension, Router};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::effects::Notifier;
use crate::engine::Engine;
use crate::store::Store;

/// What every handler gets.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// The engine.
    pub engine: Arc<Engine>,
    /// Accepted tokens.
    pub auth: auth::Auth,
    /// Notifications, for the SSE stream.
    pub notifier: Notifier,
    /// The secrets store.
    pub vault: crate::effects::Vault,
    /// Inbound webhook limits and rate buckets.
    pub hooks: hooks::Hooks,
}

/// When an event stream ends: when the host begins to stop (a stop never
/// waits on an open browser tab), or when its caller's token or session is
/// no longer accepted (a revocation reaches open streams too).
fn stream_end(state: &AppState, principal: auth::Principal) -> impl std::future::Future<Output = ()> + use<> {
    let stopping = state.engine.stopping().cancelled_owned();
    let revoked = auth::revoked(state.clone(), principal);
    async move {
        tokio::select! {
            _ = stopping => {}
            _ = revoked => {}
        }
    }
}

/// Every route behind the token check (with its OpenAPI entry).
fn authed_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(workflows::router())
        .merge(runs::router())
        .merge(approvals::router())
        .merge(plugins::router())
        .merge(events::router())
        .merge(email_templates::router())
        .merge(notifications::router())
        .merge(step_types::router())
        .merge(cron::router())
        .merge(tokens::router())
        .merge(secrets::router())
        .merge(audit::router())
        .merge(health::details_router())
        .merge(metrics::router())
}

/// The routes that authenticate by themselves, or not at all.
fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(hooks::router())
        .merge(session::router())
        .merge(health::router())
        .routes(routes!(openapi::serve))
}

/// The OpenAPI document of every route, as generated (see [`openapi::finish`]).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = authed_routes().into_openapi();
    doc.merge(public_routes().into_openapi());
    doc
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let (api, mut doc) = authed_routes().split_for_parts();
    let (public, public_doc) = public_routes().split_for_parts();
    doc.merge(public_doc);
    let api = api
        .route_layer(middleware::from_fn_with_state(state.clone(), audit::record))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::require_token));
    Router::new()
        .merge(api)
        .merge(public)
        .layer(Extension(openapi::document(doc)))
        .layer(middleware::from_fn(metrics::record))
        .fallback(assets::serve)
        .layer(DefaultBodyLimit::max(json::BODY_LIMIT))
        .layer(middleware::map_response(|mut response: axum::response::Response| async move {
            assets::security_headers(response.headers_mut());
            response
        }))
        // Server-sent events are never compressed (tower-http's default
        // predicate), so they reach the browser as they are written.
        .layer(tower_http::compression::CompressionLayer::new())
        .with_state(state)
}
