//! The `api_tokens` table: only hashes are stored, with each token's role
//! and expiry.

use sqlx::{FromRow, SqlitePool};

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

const COLUMNS: &str = "id, name, role, createdAt, expiresAt, lastUsedAt";

/// The token with this sha256.
pub async fn lookup(pool: &SqlitePool, hash: &str) -> sqlx::Result<Option<TokenRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM api_tokens WHERE tokenHash = ?"))
        .bind(hash)
        .fetch_optional(pool)
        .await
}

/// How many tokens are stored.
pub async fn count(pool: &SqlitePool) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM api_tokens").fetch_one(pool).await
}

/// Stores a token hash.
pub async fn insert(pool: &SqlitePool, row: &TokenRow, hash: &str) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO api_tokens (id, name, tokenHash, createdAt, role, expiresAt) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&row.id)
    .bind(&row.name)
    .bind(hash)
    .bind(row.created_at)
    .bind(&row.role)
    .bind(row.expires_at)
    .execute(pool)
    .await
    .map(|_| ())
}

/// Every token, newest first.
pub async fn list(pool: &SqlitePool) -> sqlx::Result<Vec<TokenRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM api_tokens ORDER BY createdAt DESC, id DESC"))
        .fetch_all(pool)
        .await
}

/// Revokes a token; false when there is none with that id.
pub async fn delete(pool: &SqlitePool, id: &str) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM api_tokens WHERE id = ?").bind(id).execute(pool).await?;
    Ok(done.rows_affected() == 1)
}

/// Records a use of the token `id` at `now`.
pub async fn touch(pool: &SqlitePool, id: &str, now: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE api_tokens SET lastUsedAt = ? WHERE id = ?")
        .bind(now)
        .bind(id)
        .execute(pool)
        .await
        .map(|_| ())
}
