//! The `plugins` table: installed components and their settings.

use sqlx::FromRow;

use super::Pool;

/// An installed plugin, without its bytes.
#[derive(Debug, Clone, FromRow)]
#[sqlx(rename_all = "camelCase")]
pub struct PluginRow {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Description.
    pub description: String,
    /// Config schema JSON.
    pub config_schema: String,
    /// Requested capabilities, JSON list.
    pub requested: String,
    /// Granted capabilities, JSON list.
    pub granted: String,
    /// Limit overrides, JSON.
    pub limits: String,
    /// Hex sha256 of the component.
    pub sha256: String,
    /// Component size, bytes.
    pub size: i64,
    /// Unix ms.
    pub installed_at: i64,
}

const COLUMNS: &str =
    "name, version, description, \"configSchema\", requested, granted, limits, sha256, size, \"installedAt\"";

/// Stores a plugin with its component bytes.
pub async fn insert(pool: &Pool, row: &PluginRow, component: &[u8]) -> sqlx::Result<()> {
    on_pool!(pool, |p| {
        sqlx::query(&format!(
            "INSERT INTO plugins ({COLUMNS}, component) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(&row.name)
        .bind(&row.version)
        .bind(&row.description)
        .bind(&row.config_schema)
        .bind(&row.requested)
        .bind(&row.granted)
        .bind(&row.limits)
        .bind(&row.sha256)
        .bind(row.size)
        .bind(row.installed_at)
        .bind(component)
        .execute(p)
        .await
        .map(|_| ())
    })
}

/// Every installed plugin, by name and version.
pub async fn list(pool: &Pool) -> sqlx::Result<Vec<PluginRow>> {
    on_pool!(pool, |p| {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM plugins ORDER BY name, \"installedAt\""))
            .fetch_all(p)
            .await
    })
}

/// One version.
pub async fn get(pool: &Pool, name: &str, version: &str) -> sqlx::Result<Option<PluginRow>> {
    on_pool!(pool, |p| {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM plugins WHERE name = $1 AND version = $2"))
            .bind(name)
            .bind(version)
            .fetch_optional(p)
            .await
    })
}

/// The version installed with exactly these bytes, if any.
pub async fn by_sha256(pool: &Pool, sha256: &str) -> sqlx::Result<Option<PluginRow>> {
    on_pool!(pool, |p| {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM plugins WHERE sha256 = $1 LIMIT 1"))
            .bind(sha256)
            .fetch_optional(p)
            .await
    })
}

/// The component bytes of one version.
pub async fn component(pool: &Pool, name: &str, version: &str) -> sqlx::Result<Option<Vec<u8>>> {
    on_pool!(pool, |p| {
        sqlx::query_scalar("SELECT component FROM plugins WHERE name = $1 AND version = $2")
            .bind(name)
            .bind(version)
            .fetch_optional(p)
            .await
    })
}

/// Removes one version; returns whether it existed.
pub async fn delete(pool: &Pool, name: &str, version: &str) -> sqlx::Result<bool> {
    on_pool!(pool, |p| {
        let done = sqlx::query("DELETE FROM plugins WHERE name = $1 AND version = $2")
            .bind(name)
            .bind(version)
            .execute(p)
            .await?;
        Ok(done.rows_affected() == 1)
    })
}

/// What still needs `name@version`, as `workflow `id` (STATUS)` and
/// `run `id` (STATUS)`: workflows that are not archived and pin it (at
/// activation or in a step type), or use the name unpinned when it is the
/// only version (`only_version`); and runs that are unfinished or FAILED
/// (a retry resumes them) whose snapshot resolved it. At most `limit`.
pub async fn users(
    pool: &Pool,
    name: &str,
    version: &str,
    only_version: bool,
    limit: i64,
) -> sqlx::Result<Vec<String>> {
    let pinned = serde_json::to_string(&format!("{name}@{version}")).unwrap_or_default();
    let unpinned = format!("\"type\":{}", serde_json::to_string(name).unwrap_or_default());
    // The position of a substring: `instr` on SQLite, `strpos` on PostgreSQL.
    let find = if pool.is_postgres() { "strpos" } else { "instr" };
    let sql = format!(
        "SELECT 'workflow', id, status FROM workflows WHERE status != 'ARCHIVED' AND \
           ({find}(COALESCE(\"resolvedTypes\", ''), $1) > 0 OR {find}(steps, $1) > 0 \
            OR ($2 AND {find}(steps, $3) > 0)) \
         UNION ALL \
         SELECT 'run', id, status FROM workflow_runs WHERE status IN ('PENDING', 'RUNNING', 'WAITING', 'FAILED') \
           AND {find}(definition, $1) > 0 \
         LIMIT $4"
    );
    let rows: Vec<(String, String, String)> = on_pool!(pool, |p| {
        sqlx::query_as(&sql).bind(&pinned).bind(only_version).bind(&unpinned).bind(limit).fetch_all(p).await?
    });
    Ok(rows.into_iter().map(|(kind, id, status)| format!("{kind} `{id}` ({status})")).collect())
}
