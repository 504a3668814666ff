//! Authentication of every `/api` route: a bearer token, or the session
//! cookie a browser got for one (`POST /api/session`). Only sha256 hashes of
//! tokens and sessions are kept, in memory and in the database.
//!
//! A request on a session cookie that may change something (any method but
//! GET and HEAD) must also carry `X-Weft-Csrf`: a cross-site form cannot set
//! a header, and the cookie is `SameSite=Strict` besides.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use rand::Rng;
use sha2::{Digest, Sha256};
use tokio::sync::RwLock;

use super::AppState;
use super::error::ApiError;
use crate::store::ids::{new_id, now_ms};
use crate::store::{Store, tokens};

/// The accepted token hashes.
#[derive(Default, Clone)]
pub struct Auth {
    hashes: Arc<RwLock<HashSet<String>>>,
}

/// The sha256 of a token, hex.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Auth {
    /// Loads the token hashes. With `admin_token`, that token is accepted; with
    /// none and no token stored, a new admin token is created, returned (to be
    /// printed once) and only its hash stored.
    pub async fn init(store: &Store, admin_token: Option<&str>) -> anyhow::Result<(Self, Option<String>)> {
        let auth = Auth::default();
        let mut created = None;
        if let Some(token) = admin_token {
            auth.hashes.write().await.insert(hash(token));
        } else if tokens::count(store.pool()).await? == 0 {
            let bytes: [u8; 24] = rand::rng().random();
            let token = format!("weft_{}", hex::encode(bytes));
            tokens::insert(store.pool(), &new_id(), "admin", &hash(&token), now_ms() as i64).await?;
            created = Some(token);
        }
        Ok((auth, created))
    }

    /// Whether `token` is accepted.
    pub async fn accepts(&self, store: &Store, token: &str) -> bool {
        self.accepts_hash(store, hash(token)).await
    }

    /// Whether the token of sha256 `h` is accepted.
    pub async fn accepts_hash(&self, store: &Store, h: String) -> bool {
        if self.hashes.read().await.contains(&h) {
            return true;
        }
        // Tokens created by another host on the same database.
        match tokens::exists(store.pool(), &h).await {
            Ok(true) => {
                self.hashes.write().await.insert(h);
                true
            }
            _ => false,
        }
    }
}

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "weft_session";
/// The header a cookie-authenticated write must carry.
pub const CSRF_HEADER: &str = "x-weft-csrf";

/// The value of the session cookie, if the request has one.
pub fn session_cookie(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty())
}

/// Whether the session cookie `value` is a live session of an accepted token.
pub async fn session_accepted(state: &AppState, value: &str) -> Result<bool, ApiError> {
    let token_hash =
        crate::store::sessions::token_of(state.store.pool(), &hash(value), now_ms() as i64).await?;
    Ok(match token_hash {
        Some(h) => state.auth.accepts_hash(&state.store, h).await,
        None => false,
    })
}

/// Middleware: 401 unless the request carries an accepted bearer token or a
/// live session cookie; 403 for a write on a cookie without `X-Weft-Csrf`.
pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let headers = request.headers();
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    if let Some(token) = token {
        return if state.auth.accepts(&state.store, token).await {
            Ok(next.run(request).await)
        } else {
            Err(ApiError::unauthorized())
        };
    }
    let Some(cookie) = session_cookie(headers) else { return Err(ApiError::unauthorized()) };
    if !session_accepted(&state, cookie).await? {
        return Err(ApiError::unauthorized());
    }
    let reads = matches!(*request.method(), axum::http::Method::GET | axum::http::Method::HEAD);
    if !reads && !headers.contains_key(CSRF_HEADER) {
        return Err(ApiError::forbidden(
            "csrf",
            "a request on a session cookie that changes something needs the `X-Weft-Csrf` header",
        ));
    }
    Ok(next.run(request).await)
}
