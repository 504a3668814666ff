//! The `api_tokens` table: only hashes are stored.

use sqlx::SqlitePool;

/// Whether a token with this sha256 exists.
pub async fn exists(pool: &SqlitePool, hash: &str) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_tokens WHERE tokenHash = ?")
        .bind(hash)
        .fetch_one(pool)
        .await?;
    Ok(n > 0)
}

/// How many tokens are stored.
pub async fn count(pool: &SqlitePool) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM api_tokens").fetch_one(pool).await
}

/// Stores a token hash under a name.
pub async fn insert(pool: &SqlitePool, id: &str, name: &str, hash: &str, now: i64) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO api_tokens (id, name, tokenHash, createdAt) VALUES (?, ?, ?, ?)")
        .bind(id)
        .bind(name)
        .bind(hash)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ())
}
