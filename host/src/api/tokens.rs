//! `/api/tokens` (admin): create a scoped token (shown once, stored as a
//! hash), list tokens (never their values), revoke one.

use axum::Json as AxumJson;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::{hash, new_token};
use super::error::ApiError;
use super::json::Json;
use super::roles::Role;
use crate::store::ids::{iso, new_id, now_ms};
use crate::store::tokens::{self, TokenRow};

/// Routes of this resource.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(revoke))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateBody {
    /// 1 to 100 characters; the audit log names actors by it.
    name: String,
    role: Role,
    /// RFC 3339; none = never expires.
    #[serde(default)]
    expires_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct TokenView {
    id: String,
    name: String,
    role: String,
    created_at: String,
    expires_at: Option<String>,
    /// Written at most once a minute.
    last_used_at: Option<String>,
}

/// A new token, its value shown this once.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct CreatedToken {
    #[serde(flatten)]
    view: TokenView,
    /// The token: only its hash is kept.
    token: String,
}

/// Every token (never values).
#[derive(Debug, Serialize, ToSchema)]
struct TokenList {
    data: Vec<TokenView>,
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

#[utoipa::path(post, path = "/api/tokens", tag = "tokens", summary = "Create a token",
    request_body = CreateBody, responses((status = 201, body = CreatedToken)))]
async fn create(
    State(state): State<AppState>,
    Json(body): Json<CreateBody>,
) -> Result<(StatusCode, AxumJson<CreatedToken>), ApiError> {
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
    Ok((StatusCode::CREATED, AxumJson(CreatedToken { view: view(&row), token })))
}

#[utoipa::path(get, path = "/api/tokens", tag = "tokens", summary = "List tokens (never their values)",
    responses((status = 200, body = TokenList)))]
async fn list(State(state): State<AppState>) -> Result<AxumJson<TokenList>, ApiError> {
    let rows = tokens::list(state.store.pool()).await?;
    Ok(AxumJson(TokenList { data: rows.iter().map(view).collect() }))
}

#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "tokens", summary = "Revoke a token",
    description = "Open streams on it end within 5 s.",
    params(("id" = String, Path)), responses((status = 204, description = "Revoked")))]
async fn revoke(State(state): State<AppState>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    if !tokens::delete(state.store.pool(), &id).await? {
        return Err(ApiError::not_found("token", &id));
    }
    Ok(StatusCode::NO_CONTENT)
}
