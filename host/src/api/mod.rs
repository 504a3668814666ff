//! The REST API: one router per resource, merged here, behind bearer auth.

pub mod auth;
mod email_templates;
pub mod error;
mod events;
mod health;
pub mod json;
mod notifications;
mod page;
mod plugins;
mod runs;
mod workflows;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;

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
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .merge(workflows::router())
        .merge(runs::router())
        .merge(plugins::router())
        .merge(events::router())
        .merge(email_templates::router())
        .merge(notifications::router())
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::require_token));
    Router::new()
        .merge(api)
        .merge(health::router())
        .fallback(|method: axum::http::Method, uri: axum::http::Uri| async move {
            error::ApiError::not_found("route", &format!("{method} {}", uri.path()))
        })
        .layer(DefaultBodyLimit::max(json::BODY_LIMIT))
        .with_state(state)
}
