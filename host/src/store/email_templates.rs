//! The `email_templates` table.

use serde::Serialize;
use sqlx::{FromRow, SqlitePool};

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
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateView {
    slug: String,
    subject: String,
    text: Option<String>,
    html: Option<String>,
    created_at: String,
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

const COLUMNS: &str = "slug, subject, text, html, createdAt, updatedAt";

/// Every template, by slug.
pub async fn list(pool: &SqlitePool) -> sqlx::Result<Vec<TemplateRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM email_templates ORDER BY slug")).fetch_all(pool).await
}

/// One template.
pub async fn get(pool: &SqlitePool, slug: &str) -> sqlx::Result<Option<TemplateRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM email_templates WHERE slug = ?"))
        .bind(slug)
        .fetch_optional(pool)
        .await
}

/// Creates a template; false when the slug is taken.
pub async fn insert(pool: &SqlitePool, row: &TemplateRow) -> sqlx::Result<bool> {
    let done = sqlx::query(&format!(
        "INSERT INTO email_templates ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (slug) DO NOTHING"
    ))
    .bind(&row.slug)
    .bind(&row.subject)
    .bind(&row.text)
    .bind(&row.html)
    .bind(row.created_at)
    .bind(row.updated_at)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces the content of a template; false when there is none.
pub async fn update(pool: &SqlitePool, row: &TemplateRow) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE email_templates SET subject = ?, text = ?, html = ?, updatedAt = ? WHERE slug = ?",
    )
    .bind(&row.subject)
    .bind(&row.text)
    .bind(&row.html)
    .bind(row.updated_at)
    .bind(&row.slug)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes a template; false when there is none.
pub async fn delete(pool: &SqlitePool, slug: &str) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM email_templates WHERE slug = ?").bind(slug).execute(pool).await?;
    Ok(done.rows_affected() == 1)
}
