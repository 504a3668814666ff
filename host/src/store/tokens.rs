//! The `api_tokens` table: only hashes are stored, with each token's role
//! and expiry.

use sqlx::FromRow;

use super::Pool;

/// A stored token, without its hash.
#[derive(Debug, Clone, FromRow)]
#[sqlx(rename_all = "camelCase")]
pub struct TokenRow {
    /// Id.
    pub id: String,
    /// Who or what it is for.
    pub name: String,
    /// `viewer`, `operator`, `editor` or `admin`.
    pub role: String,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms; none = never.
    pub expires_at: Option<i64>,
    /// Unix ms, to the minute.
    pub last_used_at: Option<i64>,
}

const COLUMNS: &str = "id, name, role, \"createdAt\", \"expiresAt\", \"lastUsedAt\"";

/// The token with this sha256.
pub async fn lookup(pool: &Pool, hash: &str) -> sqlx::Result<Option<TokenRow>> {
    on_pool!(pool, |p| {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM api_tokens WHERE \"tokenHash\" = $1"))
            .bind(hash)
            .fetch_optional(p)
            .await
    })
}

/// How many tokens are stored.
pub async fn count(pool: &Pool) -> sqlx::Result<i64> {
    on_pool!(pool, |p| { sqlx::query_scalar("SELECT COUNT(*) FROM api_tokens").fetch_one(p).await })
}

/// Stores a token hash.
pub async fn insert(pool: &Pool, row: &TokenRow, hash: &str) -> sqlx::Result<()> {
    on_pool!(pool, |p| {
        sqlx::query(
        "INSERT INTO api_tokens (id, name, \"tokenHash\", \"createdAt\", role, \"expiresAt\") VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&row.id)
    .bind(&row.name)
    .bind(hash)
    .bind(row.created_at)
    .bind(&row.role)
    .bind(row.expires_at)
    .execute(p)
    .await
    .map(|_| ())
    })
}

/// Every token, newest first.
pub async fn list(pool: &Pool) -> sqlx::Result<Vec<TokenRow>> {
    on_pool!(pool, |p| {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM api_tokens ORDER BY \"createdAt\" DESC, id DESC"))
            .fetch_all(p)
            .await
    })
}

/// Revokes a token; false when there is none with that id.
pub async fn delete(pool: &Pool, id: &str) -> sqlx::Result<bool> {
    on_pool!(pool, |p| {
        let done = sqlx::query("DELETE FROM api_tokens WHERE id = $1").bind(id).execute(p).await?;
        Ok(done.rows_affected() == 1)
    })
}

/// Records a use of the token `id` at `now`.
pub async fn touch(pool: &Pool, id: &str, now: i64) -> sqlx::Result<()> {
    on_pool!(pool, |p| {
        sqlx::query("UPDATE api_tokens SET \"lastUsedAt\" = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(p)
            .await
            .map(|_| ())
    })
}
