//! `/api/session`: a browser exchanges a token for a session cookie
//! (HttpOnly, SameSite=Strict), so the page never holds the token in its
//! storage or in a URL; `DELETE` signs out.

use axum::Json as AxumJson;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use rand::Rng;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::{CSRF_HEADER, SESSION_COOKIE, bearer, hash, session_cookie, session_principal};
use super::error::ApiError;
use super::json::Json;
use crate::store::ids::now_ms;
use crate::store::sessions;

/// How long a session lasts.
const SESSION_SECONDS: i64 = 12 * 60 * 60;

/// Routes of this resource (they do their own authentication).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create, show, remove))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SignIn {
    /// An API token; the session has its role.
    token: String,
}

/// A session was made.
#[derive(Serialize, ToSchema)]
struct SignedIn {
    ok: bool,
}

/// Who the caller is.
#[derive(Serialize, ToSchema)]
struct Session {
    authenticated: bool,
    /// The token's name, when authenticated.
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    /// The token's role, when authenticated.
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<super::roles::Role>,
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

#[utoipa::path(post, path = "/api/session", tag = "session", summary = "Sign in: exchange a token for a session cookie",
    request_body = SignIn,
    responses((status = 200, description = "Signed in; the cookie is in `Set-Cookie`", body = SignedIn),
              (status = 401, description = "The token is not accepted", body = super::openapi::ErrorBody)))]
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
    Ok(([(SET_COOKIE, cookie(&headers, &value, SESSION_SECONDS))], AxumJson(SignedIn { ok: true })))
}

/// Whether the caller is signed in, and as whom (the page hides what the
/// role may not do).
#[utoipa::path(get, path = "/api/session", tag = "session", summary = "Whether the caller is signed in, and as whom",
    responses((status = 200, body = Session)))]
async fn show(State(state): State<AppState>, headers: HeaderMap) -> Result<impl IntoResponse, ApiError> {
    let principal = match (bearer(&headers), session_cookie(&headers)) {
        (Some(token), _) => state.auth.principal(&state.store, token).await?,
        (None, Some(value)) => session_principal(&state, value).await?,
        (None, None) => None,
    };
    // Signed out is an answer, not an error: the page asks on every visit.
    Ok(AxumJson(match principal {
        Some(p) => Session { authenticated: true, name: Some(p.name), role: Some(p.role) },
        None => Session { authenticated: false, name: None, role: None },
    }))
}

#[utoipa::path(delete, path = "/api/session", tag = "session", summary = "Sign out",
    description = "With a session cookie, needs the `X-Weft-Csrf` header.",
    responses((status = 204, description = "Signed out; the cookie is cleared"),
              (status = 403, description = "A session cookie without `X-Weft-Csrf`", body = super::openapi::ErrorBody)))]
async fn remove(State(state): State<AppState>, headers: HeaderMap) -> Result<impl IntoResponse, ApiError> {
    if let Some(value) = session_cookie(&headers) {
        if !headers.contains_key(CSRF_HEADER) {
            return Err(ApiError::forbidden("csrf", "signing out needs the `X-Weft-Csrf` header"));
        }
        sessions::delete(state.store.pool(), &hash(value)).await?;
    }
    Ok((StatusCode::NO_CONTENT, [(SET_COOKIE, cookie(&headers, "", 0))]))
}
