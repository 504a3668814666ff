//! The `email_templates` table.

use serde::Serialize;
use sqlx::FromRow;

use super::Pool;

use super::ids::iso;

/// A stored template.
#[derive(Debug, Clone, FromRow)]
#[sqlx(rename_all = "camelCase")]
pub struct TemplateRow {
    /// Slug: the key steps name it by.
    pub slug: String,
    /// Subject template.
    pub subject: String,
    /// Plain-text body template.
    pub text: Option<String>,
    /// HTML body template.
    pub html: Option<String>,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub updated_at: i64,
}

/// The API view of a template.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateView {
    /// The name email steps use.
    slug: String,
    /// Subject template.
    subject: String,
    /// Plain-text body template.
    text: Option<String>,
    /// HTML body template (values escaped when rendered).
    html: Option<String>,
    /// RFC 3339.
    created_at: String,
    /// RFC 3339.
    updated_at: String,
}

impl TemplateRow {
    /// The API view.
    pub fn view(&self) -> TemplateView {
        TemplateView {
            slug: self.slug.clone(),
            subject: self.subject.clone(),
            text: self.text.clone(),
            html: self.html.clone(),
            created_at: iso(self.created_at as u64),
            updated_at: iso(self.updated_at as u64),
        }
    }
}

const COLUMNS: &str = "slug, subject, text, html, \"createdAt\", \"updatedAt\"";

/// Every template, by slug.
pub async fn list(pool: &Pool) -> sqlx::Result<Vec<TemplateRow>> {
    on_pool!(pool, |p| {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM email_templates ORDER BY slug")).fetch_all(p).await
    })
}

/// One template.
pub async fn get(pool: &Pool, slug: &str) -> sqlx::Result<Option<TemplateRow>> {
    on_pool!(pool, |p| {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM email_templates WHERE slug = $1"))
            .bind(slug)
            .fetch_optional(p)
            .await
    })
}

/// Creates a template; false when the slug is taken.
pub async fn insert(pool: &Pool, row: &TemplateRow) -> sqlx::Result<bool> {
    on_pool!(pool, |p| {
        let done = sqlx::query(&format!(
        "INSERT INTO email_templates ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (slug) DO NOTHING"
    ))
    .bind(&row.slug)
    .bind(&row.subject)
    .bind(&row.text)
    .bind(&row.html)
    .bind(row.created_at)
    .bind(row.updated_at)
    .execute(p)
    .await?;
        Ok(done.rows_affected() == 1)
    })
}

/// Replaces the content of a template; false when there is none.
pub async fn update(pool: &Pool, row: &TemplateRow) -> sqlx::Result<bool> {
    on_pool!(pool, |p| {
        let done = sqlx::query(
        "UPDATE email_templates SET subject = $1, text = $2, html = $3, \"updatedAt\" = $4 WHERE slug = $5",
    )
    .bind(&row.subject)
    .bind(&row.text)
    .bind(&row.html)
    .bind(row.updated_at)
    .bind(&row.slug)
    .execute(p)
    .await?;
        Ok(done.rows_affected() == 1)
    })
}

/// Removes a template; false when there is none.
pub async fn delete(pool: &Pool, slug: &str) -> sqlx::Result<bool> {
    on_pool!(pool, |p| {
        let done = sqlx::query("DELETE FROM email_templates WHERE slug = $1").bind(slug).execute(p).await?;
        Ok(done.rows_affected() == 1)
    })
}
