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
use super::auth::{CSRF_HEADER, SESSION_COOKIE, bearer, hash, session_cookie, session_principal};
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
    if token.is_empty() || state.auth.principal(&state.store, token).await?.is_none() {
        return Err(ApiError::unauthorized());
    }
    let bytes: [u8; 32] = rand::rng().random();
    let value = hex::encode(bytes);
    let now = now_ms() as i64;
    sessions::insert(state.store.pool(), &hash(&value), &hash(token), now, now + SESSION_SECONDS * 1000)
        .await?;
    Ok(([(SET_COOKIE, cookie(&headers, &value, SESSION_SECONDS))], AxumJson(json!({ "ok": true }))))
}

/// Whether the caller is signed in, and as whom (the page hides what the
/// role may not do).
async fn show(State(state): State<AppState>, headers: HeaderMap) -> Result<impl IntoResponse, ApiError> {
    let principal = match (bearer(&headers), session_cookie(&headers)) {
        (Some(token), _) => state.auth.principal(&state.store, token).await?,
        (None, Some(value)) => session_principal(&state, value).await?,
        (None, None) => None,
    };
    // Signed out is an answer, not an error: the page asks on every visit.
    Ok(AxumJson(match principal {
        Some(p) => json!({ "authenticated": true, "name": p.name, "role": p.role }),
        None => json!({ "authenticated": false }),
    }))
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
