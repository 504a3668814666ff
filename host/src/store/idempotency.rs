//! The `idempotency_keys` table: requests that carried a key, and the runs
//! they started, so a repeat within the window starts nothing new.

use sqlx::{SqliteConnection, SqlitePool};

/// The runs started under `key` in `scope` at or after `since` (unix ms).
pub async fn find(
    pool: &SqlitePool,
    scope: &str,
    key: &str,
    since: i64,
) -> sqlx::Result<Option<Vec<String>>> {
    let ids: Option<String> = sqlx::query_scalar(
        "SELECT runIds FROM idempotency_keys WHERE scope = ? AND key = ? AND createdAt >= ?",
    )
    .bind(scope)
    .bind(key)
    .bind(since)
    .fetch_optional(pool)
    .await?;
    ids.map(|text| serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))).transpose()
}

/// Records `key` with the runs it started. An earlier record of the key that
/// is older than `since` is replaced; a newer one makes this fail with a
/// constraint error (a concurrent request with the same key won).
pub async fn insert(
    conn: &mut SqliteConnection,
    scope: &str,
    key: &str,
    run_ids: &[&str],
    now: i64,
    since: i64,
) -> sqlx::Result<()> {
    let ids = serde_json::to_string(run_ids).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let done = sqlx::query(
        "INSERT INTO idempotency_keys (scope, key, runIds, createdAt) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (scope, key) DO UPDATE SET runIds = excluded.runIds, createdAt = excluded.createdAt \
         WHERE idempotency_keys.createdAt < ?5",
    )
    .bind(scope)
    .bind(key)
    .bind(ids)
    .bind(now)
    .bind(since)
    .execute(conn)
    .await?;
    if done.rows_affected() == 1 {
        Ok(())
    } else {
        Err(sqlx::Error::Protocol(format!("idempotency key `{key}` was just used by another request")))
    }
}
