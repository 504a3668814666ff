//! The `idempotency_keys` table: requests that carried a key, and the runs
//! they started, so a repeat within the window starts nothing new.

use super::{Pool, Tx};

/// The runs started under `key` in `scope` at or after `since` (unix ms).
pub async fn find(pool: &Pool, scope: &str, key: &str, since: i64) -> sqlx::Result<Option<Vec<String>>> {
    on_pool!(pool, |p| {
        let ids: Option<String> = sqlx::query_scalar(
            "SELECT \"runIds\" FROM idempotency_keys WHERE scope = $1 AND key = $2 AND \"createdAt\" >= $3",
        )
        .bind(scope)
        .bind(key)
        .bind(since)
        .fetch_optional(p)
        .await?;
        ids.map(|text| serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))).transpose()
    })
}

/// Records `key` with the runs it started. An earlier record of the key that
/// is older than `since` is replaced; a newer one makes this fail with a
/// constraint error (a concurrent request with the same key won).
pub async fn insert(
    tx: &mut Tx,
    scope: &str,
    key: &str,
    run_ids: &[&str],
    now: i64,
    since: i64,
) -> sqlx::Result<()> {
    on_tx!(tx, |c| {
        let ids = serde_json::to_string(run_ids).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        let done = sqlx::query(
        "INSERT INTO idempotency_keys (scope, key, \"runIds\", \"createdAt\") VALUES ($1, $2, $3, $4) \
         ON CONFLICT (scope, key) DO UPDATE SET \"runIds\" = excluded.\"runIds\", \"createdAt\" = excluded.\"createdAt\" \
         WHERE idempotency_keys.\"createdAt\" < $5",
    )
    .bind(scope)
    .bind(key)
    .bind(ids)
    .bind(now)
    .bind(since)
    .execute(&mut *c)
    .await?;
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(sqlx::Error::Protocol(format!("idempotency key `{key}` was just used by another request")))
        }
    })
}
