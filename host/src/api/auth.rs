//! Authentication of every `/api` route: a bearer token, or the session
//! cookie a browser got for one (`POST /api/session`). Only sha256 hashes of
//! tokens and sessions are kept, in memory and in the database.
//!
//! A request on a session cookie that may change something (any method but
//! GET and HEAD) must also carry `X-Weft-Csrf`: a cross-site form cannot set
//! a header, and the cookie is `SameSite=Strict` besides.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use rand::Rng;
use sha2::{Digest, Sha256};

use super::AppState;
use super::error::ApiError;
use super::roles::{Role, required_role};
use crate::store::ids::{new_id, now_ms};
use crate::store::{Store, tokens};

/// Who is calling: the token's name and role, and what they came with.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The token's name.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// What the request carried, to check again later (long streams).
    pub credential: Credential,
}

/// What a request authenticated with.
#[derive(Debug, Clone)]
pub enum Credential {
    /// The bearer token of this sha256.
    Token(String),
    /// The session cookie of this sha256.
    Session(String),
}

/// How often an open stream checks that its caller is still accepted.
const STREAM_RECHECK: Duration = Duration::from_secs(5);

/// Whether `principal`'s token (or session) is still accepted.
pub async fn still_accepted(state: &AppState, principal: &Principal) -> bool {
    let found = match &principal.credential {
        Credential::Token(h) => state.auth.principal_of_hash(&state.store, h).await,
        Credential::Session(h) => session_of_hash(state, h).await,
    };
    // A database hiccup does not end a stream; a revocation does.
    !matches!(found, Ok(None))
}

/// Completes when `principal` is no longer accepted (token revoked or
/// expired, session ended): an open stream ends then, within
/// [`STREAM_RECHECK`], instead of outliving the credential.
pub async fn revoked(state: AppState, principal: Principal) {
    loop {
        tokio::time::sleep(STREAM_RECHECK).await;
        if !still_accepted(&state, &principal).await {
            return;
        }
    }
}

/// How long an unknown token is answered 401 without asking the database.
const UNKNOWN_FOR: Duration = Duration::from_secs(5);
/// Most unknown tokens remembered at once.
const UNKNOWN_MAX: usize = 4_096;
/// How often a token's `lastUsedAt` is written, at most.
const TOUCH_EVERY_MS: i64 = 60_000;

/// Token checks. Known tokens are read from the database on every request,
/// so a revocation or an expiry takes effect at once on every host; only
/// unknown tokens are remembered (briefly, and a bounded number), so a client
/// retrying a bad token does not cost a query each time.
#[derive(Default, Clone)]
pub struct Auth {
    /// The sha256 of `--admin-token`, which lives outside the database.
    admin: Option<String>,
    unknown: Arc<Mutex<HashMap<String, Instant>>>,
    touched: Arc<Mutex<HashMap<String, i64>>>,
}

/// The sha256 of a token, hex.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Auth {
    /// With `admin_token`, that token is accepted as admin; with none and no
    /// token stored, a new admin token is created, returned (to be printed
    /// once) and only its hash stored.
    pub async fn init(store: &Store, admin_token: Option<&str>) -> anyhow::Result<(Self, Option<String>)> {
        let mut auth = Auth::default();
        let mut created = None;
        if let Some(token) = admin_token {
            auth.admin = Some(hash(token));
        } else if tokens::count(store.pool()).await? == 0 {
            let token = new_token();
            let row = tokens::TokenRow {
                id: new_id(),
                name: "admin".into(),
                role: Role::Admin.as_str().into(),
                created_at: now_ms() as i64,
                expires_at: None,
                last_used_at: None,
            };
            tokens::insert(store.pool(), &row, &hash(&token)).await?;
            created = Some(token);
        }
        Ok((auth, created))
    }

    /// Who `token` is, if it is accepted.
    pub async fn principal(&self, store: &Store, token: &str) -> Result<Option<Principal>, ApiError> {
        self.principal_of_hash(store, &hash(token)).await
    }

    /// Who the token of sha256 `h` is, if it is accepted.
    pub async fn principal_of_hash(&self, store: &Store, h: &str) -> Result<Option<Principal>, ApiError> {
        if self.admin.as_deref() == Some(h) {
            return Ok(Some(Principal {
                name: "admin (--admin-token)".into(),
                role: Role::Admin,
                credential: Credential::Token(h.to_owned()),
            }));
        }
        let now = Instant::now();
        {
            let unknown = self.unknown.lock().unwrap_or_else(|p| p.into_inner());
            if unknown.get(h).is_some_and(|since| now.duration_since(*since) < UNKNOWN_FOR) {
                return Ok(None);
            }
        }
        let Some(row) = tokens::lookup(store.pool(), h).await? else {
            let mut unknown = self.unknown.lock().unwrap_or_else(|p| p.into_inner());
            if unknown.len() >= UNKNOWN_MAX {
                unknown.retain(|_, since| now.duration_since(*since) < UNKNOWN_FOR);
                if unknown.len() >= UNKNOWN_MAX {
                    unknown.clear();
                }
            }
            unknown.insert(h.to_owned(), now);
            return Ok(None);
        };
        let ms = now_ms() as i64;
        if row.expires_at.is_some_and(|t| t <= ms) {
            return Ok(None);
        }
        let role: Role = row.role.parse().map_err(ApiError::internal)?;
        self.touch(store, &row.id, ms).await;
        Ok(Some(Principal { name: row.name, role, credential: Credential::Token(h.to_owned()) }))
    }

    async fn touch(&self, store: &Store, id: &str, now: i64) {
        {
            let mut touched = self.touched.lock().unwrap_or_else(|p| p.into_inner());
            if touched.get(id).is_some_and(|t| now - t < TOUCH_EVERY_MS) {
                return;
            }
            touched.insert(id.to_owned(), now);
        }
        if let Err(e) = tokens::touch(store.pool(), id, now).await {
            tracing::warn!("recording the use of token `{id}`: {e}");
        }
    }
}

/// A new random token: `weft_` and 48 hex digits.
pub fn new_token() -> String {
    let bytes: [u8; 24] = rand::rng().random();
    format!("weft_{}", hex::encode(bytes))
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

/// Who the session cookie `value` stands for: a live session of an accepted
/// token.
pub async fn session_principal(state: &AppState, value: &str) -> Result<Option<Principal>, ApiError> {
    session_of_hash(state, &hash(value)).await
}

async fn session_of_hash(state: &AppState, session_hash: &str) -> Result<Option<Principal>, ApiError> {
    let token_hash =
        crate::store::sessions::token_of(state.store.pool(), session_hash, now_ms() as i64).await?;
    let Some(h) = token_hash else { return Ok(None) };
    let principal = state.auth.principal_of_hash(&state.store, &h).await?;
    Ok(principal.map(|p| Principal { credential: Credential::Session(session_hash.to_owned()), ..p }))
}

/// The bearer token of a request.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Middleware: 401 unless the request carries an accepted bearer token or a
/// live session cookie; 403 for a write on a cookie without `X-Weft-Csrf`,
/// and 403 naming the role needed when the token's role is below the
/// route's ([`required_role`]). The caller's [`Principal`] goes into the
/// request's extensions.
pub async fn require_token(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let headers = request.headers();
    let principal = match bearer(headers) {
        Some(token) => state.auth.principal(&state.store, token).await?,
        None => {
            let Some(cookie) = session_cookie(headers) else { return Err(ApiError::unauthorized()) };
            let principal = session_principal(&state, cookie).await?;
            let reads = matches!(*request.method(), axum::http::Method::GET | axum::http::Method::HEAD);
            if principal.is_some() && !reads && !headers.contains_key(CSRF_HEADER) {
                return Err(ApiError::forbidden(
                    "csrf",
                    "a request on a session cookie that changes something needs the `X-Weft-Csrf` header",
                ));
            }
            principal
        }
    };
    let Some(principal) = principal else { return Err(ApiError::unauthorized()) };
    let route = request.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned()).unwrap_or_default();
    let needed = required_role(request.method(), &route);
    if principal.role < needed {
        return Err(ApiError::forbidden(
            "forbidden",
            format!(
                "{} {route} needs the `{needed}` role; token `{}` has `{}`",
                request.method(),
                principal.name,
                principal.role
            ),
        )
        .with_details(serde_json::json!({ "required": needed, "role": principal.role })));
    }
    request.extensions_mut().insert(principal);
    Ok(next.run(request).await)
}
