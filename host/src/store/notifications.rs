//! The `notifications` table.

use serde::Serialize;
use serde_json::Value;
use sqlx::FromRow;

use super::Pool;

use super::ids::iso;

/// A stored notification.
#[derive(Debug, Clone, FromRow)]
#[sqlx(rename_all = "camelCase")]
pub struct NotificationRow {
    /// Id.
    pub id: String,
    /// Short title.
    pub title: String,
    /// Longer text.
    pub body: Option<String>,
    /// info, success, warning, error.
    pub level: String,
    /// A link to open.
    pub link: Option<String>,
    /// JSON.
    pub data: Option<String>,
    /// Workflow of the run that created it.
    pub workflow_id: Option<String>,
    /// Run that created it.
    pub run_id: Option<String>,
    /// Step that created it.
    pub step_id: Option<String>,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms, when read.
    pub read_at: Option<i64>,
}

/// The API view of a notification.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationView {
    /// Id.
    pub id: String,
    title: String,
    body: Option<String>,
    level: String,
    link: Option<String>,
    #[schema(value_type = Option<Object>)]
    data: Option<Value>,
    workflow_id: Option<String>,
    run_id: Option<String>,
    step_id: Option<String>,
    created_at: String,
    read: bool,
    read_at: Option<String>,
}

impl NotificationRow {
    /// The API view.
    pub fn view(&self) -> NotificationView {
        NotificationView {
            id: self.id.clone(),
            title: self.title.clone(),
            body: self.body.clone(),
            level: self.level.clone(),
            link: self.link.clone(),
            data: self.data.as_deref().and_then(|d| serde_json::from_str(d).ok()),
            workflow_id: self.workflow_id.clone(),
            run_id: self.run_id.clone(),
            step_id: self.step_id.clone(),
            created_at: iso(self.created_at as u64),
            read: self.read_at.is_some(),
            read_at: self.read_at.map(|t| iso(t as u64)),
        }
    }
}

const COLUMNS: &str =
    "id, title, body, level, link, data, \"workflowId\", \"runId\", \"stepId\", \"createdAt\", \"readAt\"";

/// Stores a notification.
pub async fn insert(pool: &Pool, row: &NotificationRow) -> sqlx::Result<()> {
    on_pool!(pool, |p| {
        sqlx::query(&format!(
            "INSERT INTO notifications ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(&row.id)
        .bind(&row.title)
        .bind(&row.body)
        .bind(&row.level)
        .bind(&row.link)
        .bind(&row.data)
        .bind(&row.workflow_id)
        .bind(&row.run_id)
        .bind(&row.step_id)
        .bind(row.created_at)
        .bind(row.read_at)
        .execute(p)
        .await
        .map(|_| ())
    })
}

/// A page of notifications, newest first, and the total matching.
pub async fn list(
    pool: &Pool,
    unread_only: bool,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<NotificationRow>, i64)> {
    on_pool!(pool, |p| {
        let filter = if unread_only { "WHERE \"readAt\" IS NULL" } else { "" };
        let rows = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM notifications {filter} ORDER BY \"createdAt\" DESC, id DESC LIMIT $1 OFFSET $2"
    ))
    .bind(limit)
    .bind(offset)
    .fetch_all(p)
    .await?;
        let total =
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM notifications {filter}")).fetch_one(p).await?;
        Ok((rows, total))
    })
}

/// The notifications created after `id`, oldest first (at most `limit`); none
/// when `id` is unknown.
pub async fn after(pool: &Pool, id: &str, limit: i64) -> sqlx::Result<Vec<NotificationRow>> {
    on_pool!(pool, |p| {
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM notifications \
         WHERE (\"createdAt\", id) > (SELECT \"createdAt\", id FROM notifications WHERE id = $1) \
         ORDER BY \"createdAt\", id LIMIT $2"
        ))
        .bind(id)
        .bind(limit)
        .fetch_all(p)
        .await
    })
}

/// One notification.
pub async fn get(pool: &Pool, id: &str) -> sqlx::Result<Option<NotificationRow>> {
    on_pool!(pool, |p| {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM notifications WHERE id = $1"))
            .bind(id)
            .fetch_optional(p)
            .await
    })
}

/// Marks a notification read (keeping the first read time); false when unknown.
pub async fn mark_read(pool: &Pool, id: &str, now: i64) -> sqlx::Result<bool> {
    on_pool!(pool, |p| {
        let done =
            sqlx::query("UPDATE notifications SET \"readAt\" = COALESCE(\"readAt\", $1) WHERE id = $2")
                .bind(now)
                .bind(id)
                .execute(p)
                .await?;
        Ok(done.rows_affected() == 1)
    })
}
