//! `/api/email-templates`: the templates email steps render by slug. Each part
//! is checked to compile when saved, so a step never meets a broken template.

use axum::Json as AxumJson;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::json::Json;
use crate::effects::email::{check_template, template_env};
use crate::store::email_templates::{self, TemplateRow, TemplateView};
use crate::store::ids::now_ms;

/// Routes of this resource.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(preview))
        .routes(routes!(show, update, remove))
}

/// A rendered email.
#[derive(Serialize, ToSchema)]
pub struct Rendered {
    subject: String,
    text: Option<String>,
    html: Option<String>,
}

/// A template to render with sample data.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PreviewBody {
    /// Subject template.
    subject: String,
    /// Plain-text body template.
    text: Option<String>,
    /// HTML body template.
    html: Option<String>,
    /// What the templates see.
    #[serde(default)]
    #[schema(value_type = Object)]
    data: serde_json::Value,
}

/// Renders a template as an email step would (HTML escaped, the subject on
/// one line) without storing it; a part that does not compile or render is
/// a 422 naming it.
#[utoipa::path(post, path = "/api/email-templates/preview", tag = "email-templates",
    summary = "Render a template without saving it", request_body = PreviewBody,
    responses((status = 200, body = Rendered)))]
async fn preview(Json(body): Json<PreviewBody>) -> Result<AxumJson<Rendered>, ApiError> {
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
    Ok(AxumJson(Rendered { subject: rendered.subject, text: rendered.text, html: rendered.html }))
}

/// The body of a create; `slug` is taken from the path on update.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TemplateBody {
    /// 1 to 64 of a-z, 0-9, `-` and `_`; required on create, the path's on update.
    slug: Option<String>,
    /// Subject template.
    subject: String,
    /// Plain-text body template (this, `html` or both).
    text: Option<String>,
    /// HTML body template.
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

#[utoipa::path(get, path = "/api/email-templates", tag = "email-templates", summary = "List email templates",
    responses((status = 200, body = Vec<TemplateView>)))]
async fn list(State(state): State<AppState>) -> Result<AxumJson<Vec<TemplateView>>, ApiError> {
    let rows = email_templates::list(state.store.pool()).await?;
    Ok(AxumJson(rows.iter().map(TemplateRow::view).collect()))
}

#[utoipa::path(post, path = "/api/email-templates", tag = "email-templates", summary = "Create an email template",
    request_body = TemplateBody,
    responses((status = 201, body = TemplateView), (status = 409, description = "The slug is taken", body = super::openapi::ErrorBody)))]
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

#[utoipa::path(get, path = "/api/email-templates/{slug}", tag = "email-templates", summary = "Read an email template",
    params(("slug" = String, Path)), responses((status = 200, body = TemplateView)))]
async fn show(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<AxumJson<TemplateView>, ApiError> {
    let row = email_templates::get(state.store.pool(), &slug)
        .await?
        .ok_or_else(|| ApiError::not_found("email template", &slug))?;
    Ok(AxumJson(row.view()))
}

#[utoipa::path(put, path = "/api/email-templates/{slug}", tag = "email-templates", summary = "Replace an email template",
    params(("slug" = String, Path)), request_body = TemplateBody, responses((status = 200, body = TemplateView)))]
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

#[utoipa::path(delete, path = "/api/email-templates/{slug}", tag = "email-templates", summary = "Delete an email template",
    params(("slug" = String, Path)), responses((status = 204, description = "Deleted")))]
async fn remove(State(state): State<AppState>, Path(slug): Path<String>) -> Result<StatusCode, ApiError> {
    if !email_templates::delete(state.store.pool(), &slug).await? {
        return Err(ApiError::not_found("email template", &slug));
    }
    Ok(StatusCode::NO_CONTENT)
}
