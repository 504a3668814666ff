//! The `sessions` table: browser sessions given for a token. Only the sha256
//! of the cookie value and of its token are stored.

use super::Pool;

/// Stores a new session.
pub async fn insert(
    pool: &Pool,
    hash: &str,
    token_hash: &str,
    now: i64,
    expires_at: i64,
) -> sqlx::Result<()> {
    on_pool!(pool, |p| {
        // Expired sessions go when new ones come, so the table stays small.
        sqlx::query("DELETE FROM sessions WHERE \"expiresAt\" <= $1").bind(now).execute(p).await?;
        sqlx::query("INSERT INTO sessions (hash, \"tokenHash\", \"createdAt\", \"expiresAt\") VALUES ($1, $2, $3, $4)")
        .bind(hash)
        .bind(token_hash)
        .bind(now)
        .bind(expires_at)
        .execute(p)
        .await
        .map(|_| ())
    })
}

/// The token hash of an unexpired session.
pub async fn token_of(pool: &Pool, hash: &str, now: i64) -> sqlx::Result<Option<String>> {
    on_pool!(pool, |p| {
        sqlx::query_scalar("SELECT \"tokenHash\" FROM sessions WHERE hash = $1 AND \"expiresAt\" > $2")
            .bind(hash)
            .bind(now)
            .fetch_optional(p)
            .await
    })
}

/// Ends a session.
pub async fn delete(pool: &Pool, hash: &str) -> sqlx::Result<()> {
    on_pool!(pool, |p| {
        sqlx::query("DELETE FROM sessions WHERE hash = $1").bind(hash).execute(p).await.map(|_| ())
    })
}
