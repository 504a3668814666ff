//! `/api/session`: a browser exchanges a token for a session cookie
//! (HttpOnly, SameSite=Strict), so the page never holds the token in its
//! storage or in a URL; `DELETE` signs out.

use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json as AxumJson, Router};
use rand::Rng;
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::auth::{CSRF_HEADER, SESSION_COOKIE, hash, session_accepted, session_cookie};
use super::error::ApiError;
use super::json::Json;
use crate::store::ids::now_ms;
use crate::store::sessions;

/// How long a session lasts.
const SESSION_SECONDS: i64 = 12 * 60 * 60;

/// Routes of this resource (they do their own authentication).
pub fn router() -> Router<AppState> {
    Router::new().route("/api/session", post(create).get(show).delete(remove))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    token: String,
}

/// `Secure` only behind a TLS-terminating proxy: the host itself speaks
/// plain HTTP, where a browser would drop a `Secure` cookie.
fn cookie(headers: &HeaderMap, value: &str, max_age: i64) -> String {
    let secure = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) == Some("https");
    format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    )
}

async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<SignIn>,
) -> Result<impl IntoResponse, ApiError> {
    let token = body.token.trim();
    if token.is_empty() || !state.auth.accepts(&state.store, token).await {
        return Err(ApiError::unauthorized());
    }
    let bytes: [u8; 32] = rand::rng().random();
    let value = hex::encode(bytes);
    let now = now_ms() as i64;
    sessions::insert(state.store.pool(), &hash(&value), &hash(token), now, now + SESSION_SECONDS * 1000)
        .await?;
    Ok(([(SET_COOKIE, cookie(&headers, &value, SESSION_SECONDS))], AxumJson(json!({ "ok": true }))))
}

async fn show(State(state): State<AppState>, headers: HeaderMap) -> Result<impl IntoResponse, ApiError> {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let ok = match (bearer, session_cookie(&headers)) {
        (Some(token), _) => state.auth.accepts(&state.store, token).await,
        (None, Some(value)) => session_accepted(&state, value).await?,
        (None, None) => false,
    };
    if !ok {
        return Err(ApiError::unauthorized());
    }
    Ok(AxumJson(json!({ "authenticated": true })))
}

async fn remove(State(state): State<AppState>, headers: HeaderMap) -> Result<impl IntoResponse, ApiError> {
    if let Some(value) = session_cookie(&headers) {
        if !headers.contains_key(CSRF_HEADER) {
            return Err(ApiError::forbidden("csrf", "signing out needs the `X-Weft-Csrf` header"));
        }
        sessions::delete(state.store.pool(), &hash(value)).await?;
    }
    Ok((StatusCode::NO_CONTENT, [(SET_COOKIE, cookie(&headers, "", 0))]))
}
