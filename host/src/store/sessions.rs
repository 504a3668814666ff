//! The `sessions` table: browser sessions given for a token. Only the sha256
//! of the cookie value and of its token are stored.

use sqlx::SqlitePool;

/// Stores a new session.
pub async fn insert(
    pool: &SqlitePool,
    hash: &str,
    token_hash: &str,
    now: i64,
    expires_at: i64,
) -> sqlx::Result<()> {
    // Expired sessions go when new ones come, so the table stays small.
    sqlx::query("DELETE FROM sessions WHERE expiresAt <= ?").bind(now).execute(pool).await?;
    sqlx::query("INSERT INTO sessions (hash, tokenHash, createdAt, expiresAt) VALUES (?, ?, ?, ?)")
        .bind(hash)
        .bind(token_hash)
        .bind(now)
        .bind(expires_at)
        .execute(pool)
        .await
        .map(|_| ())
}

/// The token hash of an unexpired session.
pub async fn token_of(pool: &SqlitePool, hash: &str, now: i64) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT tokenHash FROM sessions WHERE hash = ? AND expiresAt > ?")
        .bind(hash)
        .bind(now)
        .fetch_optional(pool)
        .await
}

/// Ends a session.
pub async fn delete(pool: &SqlitePool, hash: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sessions WHERE hash = ?").bind(hash).execute(pool).await.map(|_| ())
}
