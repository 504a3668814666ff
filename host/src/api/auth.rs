//! Bearer-token authentication of every `/api` route. Only sha256 hashes of
//! tokens are kept, in memory and in the database.

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

    async fn accepts(&self, store: &Store, token: &str) -> bool {
        let h = hash(token);
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

/// Middleware: 401 unless the request carries an accepted bearer token.
pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let token = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    match token {
        Some(token) if state.auth.accepts(&state.store, token).await => Ok(next.run(request).await),
        _ => Err(ApiError::unauthorized()),
    }
}
