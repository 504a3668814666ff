//! `/api/tokens` (admin): create a scoped token (shown once, stored as a
//! hash), list tokens (never their values), revoke one.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json as AxumJson, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::AppState;
use super::auth::{hash, new_token};
use super::error::ApiError;
use super::json::Json;
use super::roles::Role;
use crate::store::ids::{iso, new_id, now_ms};
use crate::store::tokens::{self, TokenRow};

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/tokens", get(list).post(create)).route("/api/tokens/{id}", delete(revoke))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateBody {
    name: String,
    role: Role,
    /// RFC 3339; none = never expires.
    #[serde(default)]
    expires_at: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TokenView {
    id: String,
    name: String,
    role: String,
    created_at: String,
    expires_at: Option<String>,
    last_used_at: Option<String>,
}

fn view(row: &TokenRow) -> TokenView {
    TokenView {
        id: row.id.clone(),
        name: row.name.clone(),
        role: row.role.clone(),
        created_at: iso(row.created_at as u64),
        expires_at: row.expires_at.map(|t| iso(t as u64)),
        last_used_at: row.last_used_at.map(|t| iso(t as u64)),
    }
}

async fn create(
    State(state): State<AppState>,
    Json(body): Json<CreateBody>,
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
    let name = body.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::field("name", format!("must be 1 to 100 characters, got {}", name.len())));
    }
    let now = now_ms() as i64;
    let expires_at = match &body.expires_at {
        None => None,
        Some(text) => {
            let at = chrono::DateTime::parse_from_rfc3339(text)
                .map_err(|e| {
                    ApiError::field("expiresAt", format!("must be an RFC 3339 time, got {text:?}: {e}"))
                })?
                .timestamp_millis();
            if at <= now {
                return Err(ApiError::field("expiresAt", format!("{text} is in the past")));
            }
            Some(at)
        }
    };
    let token = new_token();
    let row = TokenRow {
        id: new_id(),
        name: name.to_owned(),
        role: body.role.as_str().to_owned(),
        created_at: now,
        expires_at,
        last_used_at: None,
    };
    tokens::insert(state.store.pool(), &row, &hash(&token)).await?;
    let mut shown = serde_json::to_value(view(&row)).map_err(ApiError::internal)?;
    shown["token"] = json!(token);
    Ok((StatusCode::CREATED, AxumJson(shown)))
}

async fn list(
    State(state): State<AppState>,
) -> Result<AxumJson<HashMap<&'static str, Vec<TokenView>>>, ApiError> {
    let rows = tokens::list(state.store.pool()).await?;
    Ok(AxumJson(HashMap::from([("data", rows.iter().map(view).collect())])))
}

async fn revoke(State(state): State<AppState>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    if !tokens::delete(state.store.pool(), &id).await? {
        return Err(ApiError::not_found("token", &id));
    }
    Ok(StatusCode::NO_CONTENT)
}
