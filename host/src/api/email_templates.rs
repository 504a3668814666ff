//! `/api/email-templates`: the templates email steps render by slug. Each part
//! is checked to compile when saved, so a step never meets a broken template.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json as AxumJson, Router};
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use super::json::Json;
use crate::effects::email::{check_template, template_env};
use crate::store::email_templates::{self, TemplateRow, TemplateView};
use crate::store::ids::now_ms;

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/email-templates", get(list).post(create))
        .route("/api/email-templates/preview", post(preview))
        .route("/api/email-templates/{slug}", get(show).put(update).delete(remove))
}

/// A template to render with sample data.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PreviewBody {
    subject: String,
    text: Option<String>,
    html: Option<String>,
    #[serde(default)]
    data: serde_json::Value,
}

/// Renders a template as an email step would (HTML escaped, the subject on
/// one line) without storing it; a part that does not compile or render is
/// a 422 naming it.
async fn preview(Json(body): Json<PreviewBody>) -> Result<AxumJson<serde_json::Value>, ApiError> {
    check_template(&body.subject, body.text.as_deref(), body.html.as_deref())
        .map_err(|(field, e)| ApiError::field(&field, format!("template does not compile: {e}")))?;
    let row = TemplateRow {
        slug: "preview".into(),
        subject: body.subject,
        text: body.text,
        html: body.html,
        created_at: 0,
        updated_at: 0,
    };
    let data = body.data;
    // Off the async workers: a heavy template costs a blocking thread, metered by fuel.
    let rendered =
        tokio::task::spawn_blocking(move || crate::effects::email::render(&template_env(), &row, &data))
            .await
            .map_err(ApiError::internal)?
            .map_err(|e| ApiError::invalid(e.message))?;
    Ok(AxumJson(serde_json::json!({
        "subject": rendered.subject,
        "text": rendered.text,
        "html": rendered.html,
    })))
}

/// The body of a create; `slug` is taken from the path on update.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TemplateBody {
    slug: Option<String>,
    subject: String,
    text: Option<String>,
    html: Option<String>,
}

fn check_slug(slug: &str) -> Result<(), ApiError> {
    // `preview` is the path of the preview route.
    let ok = slug != "preview"
        && !slug.is_empty()
        && slug.len() <= 64
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::field(
            "slug",
            format!("{slug:?} must be 1 to 64 characters of a-z, 0-9, `-` and `_`, and not `preview`"),
        ))
    }
}

fn row(slug: String, body: TemplateBody, created_at: i64) -> Result<TemplateRow, ApiError> {
    if body.subject.trim().is_empty() {
        return Err(ApiError::field("subject", "must not be empty"));
    }
    if body.text.is_none() && body.html.is_none() {
        return Err(ApiError::field("text", "a template needs `text`, `html` or both"));
    }
    check_template(&body.subject, body.text.as_deref(), body.html.as_deref())
        .map_err(|(field, e)| ApiError::field(&field, format!("template does not compile: {e}")))?;
    Ok(TemplateRow {
        slug,
        subject: body.subject,
        text: body.text,
        html: body.html,
        created_at,
        updated_at: now_ms() as i64,
    })
}

async fn list(State(state): State<AppState>) -> Result<AxumJson<Vec<TemplateView>>, ApiError> {
    let rows = email_templates::list(state.store.pool()).await?;
    Ok(AxumJson(rows.iter().map(TemplateRow::view).collect()))
}

async fn create(
    State(state): State<AppState>,
    Json(body): Json<TemplateBody>,
) -> Result<(StatusCode, AxumJson<TemplateView>), ApiError> {
    let slug = body.slug.clone().ok_or_else(|| ApiError::field("slug", "is required"))?;
    check_slug(&slug)?;
    let row = row(slug, body, now_ms() as i64)?;
    if !email_templates::insert(state.store.pool(), &row).await? {
        return Err(ApiError::conflict(format!("email template `{}` already exists", row.slug)));
    }
    Ok((StatusCode::CREATED, AxumJson(row.view())))
}

async fn show(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<AxumJson<TemplateView>, ApiError> {
    let row = email_templates::get(state.store.pool(), &slug)
        .await?
        .ok_or_else(|| ApiError::not_found("email template", &slug))?;
    Ok(AxumJson(row.view()))
}

async fn update(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Json(body): Json<TemplateBody>,
) -> Result<AxumJson<TemplateView>, ApiError> {
    if let Some(other) = body.slug.as_deref().filter(|s| *s != slug) {
        return Err(ApiError::field(
            "slug",
            format!("{other:?} differs from the path's {slug:?}; slugs cannot change"),
        ));
    }
    let pool = state.store.pool();
    let existing = email_templates::get(pool, &slug)
        .await?
        .ok_or_else(|| ApiError::not_found("email template", &slug))?;
    let row = row(slug.clone(), body, existing.created_at)?;
    if !email_templates::update(pool, &row).await? {
        return Err(ApiError::not_found("email template", &slug));
    }
    Ok(AxumJson(row.view()))
}

async fn remove(State(state): State<AppState>, Path(slug): Path<String>) -> Result<StatusCode, ApiError> {
    if !email_templates::delete(state.store.pool(), &slug).await? {
        return Err(ApiError::not_found("email template", &slug));
    }
    Ok(StatusCode::NO_CONTENT)
}
