//! The `audit_log` table: who did what, appended once per change.

use serde::Serialize;
use sqlx::FromRow;

use super::Pool;

/// One audit entry.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct AuditRow {
    /// Order of writing.
    pub seq: i64,
    /// When, unix ms.
    pub at: i64,
    /// The token's (or session's token's) name.
    pub actor: String,
    /// Its role.
    pub role: String,
    /// What was done, e.g. `secret.set`.
    pub action: String,
    /// What it was done to.
    pub target: String,
    /// More, as JSON.
    pub detail: Option<String>,
}

/// Appends an entry.
pub async fn record(
    pool: &Pool,
    at: i64,
    actor: &str,
    role: &str,
    action: &str,
    target: &str,
    detail: Option<&str>,
) -> sqlx::Result<()> {
    on_pool!(pool, |p| {
        sqlx::query(
            "INSERT INTO audit_log (at, actor, role, action, target, detail) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(at)
        .bind(actor)
        .bind(role)
        .bind(action)
        .bind(target)
        .bind(detail)
        .execute(p)
        .await
        .map(|_| ())
    })
}

/// Newest first: up to `limit` entries before `before` (a seq), with
/// `action` when given.
pub async fn list(
    pool: &Pool,
    limit: i64,
    before: Option<i64>,
    action: Option<&str>,
) -> sqlx::Result<Vec<AuditRow>> {
    on_pool!(pool, |p| {
        sqlx::query_as(
            "SELECT * FROM audit_log WHERE ($1 IS NULL OR seq < $1) AND ($2 IS NULL OR action = $2) \
         ORDER BY seq DESC LIMIT $3",
        )
        .bind(before)
        .bind(action)
        .bind(limit)
        .fetch_all(p)
        .await
    })
}

/// Removes entries older than `before` (unix ms); returns how many.
pub async fn prune(pool: &Pool, before: i64) -> sqlx::Result<u64> {
    on_pool!(pool, |p| {
        Ok(sqlx::query("DELETE FROM audit_log WHERE at < $1").bind(before).execute(p).await?.rows_affected())
    })
}
