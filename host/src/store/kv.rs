//! The `plugin_kv` table behind the `kv` capability.

use std::time::{SystemTime, UNIX_EPOCH};

use super::Pool;
use crate::runtime::KvBackend;
use crate::runtime::capability::BoxFuture;

/// [`KvBackend`] on the store.
#[derive(Clone, Debug)]
pub struct StoreKv {
    pool: Pool,
}

impl StoreKv {
    /// A kv backend on this pool.
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn db_error(e: sqlx::Error) -> String {
    tracing::error!("kv: {e}");
    "kv store unavailable".to_owned()
}

impl KvBackend for StoreKv {
    fn get<'a>(&'a self, namespace: &'a str, key: &'a str) -> BoxFuture<'a, Result<Option<String>, String>> {
        Box::pin(async move {
            on_pool!(&self.pool, |p| sqlx::query_scalar(
                "SELECT value FROM plugin_kv WHERE namespace = $1 AND key = $2"
            )
            .bind(namespace)
            .bind(key)
            .fetch_optional(p)
            .await)
            .map_err(db_error)
        })
    }

    fn set<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            on_pool!(&self.pool, |p| sqlx::query(
                "INSERT INTO plugin_kv (namespace, key, value, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(namespace)
            .bind(key)
            .bind(value)
            .bind(now_ms())
            .execute(p)
            .await
            .map(|_| ()))
            .map_err(db_error)
        })
    }

    fn delete<'a>(&'a self, namespace: &'a str, key: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            on_pool!(&self.pool, |p| sqlx::query("DELETE FROM plugin_kv WHERE namespace = $1 AND key = $2")
                .bind(namespace)
                .bind(key)
                .execute(p)
                .await
                .map(|_| ()))
            .map_err(db_error)
        })
    }

    fn list<'a>(&'a self, namespace: &'a str, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, String>> {
        Box::pin(async move {
            // substr() instead of LIKE: no escaping of `%` and `_` in the prefix.
            on_pool!(&self.pool, |p| sqlx::query_scalar(
                "SELECT key FROM plugin_kv WHERE namespace = $1 AND substr(key, 1, length($2)) = $3 ORDER BY key LIMIT 10000",
            )
            .bind(namespace)
            .bind(prefix)
            .bind(prefix)
            .fetch_all(p)
            .await)
            .map_err(db_error)
        })
    }
}
