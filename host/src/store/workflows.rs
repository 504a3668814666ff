//! The `workflows` table.

use sqlx::FromRow;

use super::{Pool, Tx};

use crate::engine::status::WorkflowStatus;

/// A stored workflow.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct WorkflowRow {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Trigger JSON.
    #[sqlx(rename = "trigger")]
    pub trigger: String,
    /// Steps JSON.
    pub steps: String,
    /// Lifecycle status.
    pub status: WorkflowStatus,
    /// Created, unix ms.
    #[sqlx(rename = "createdAt")]
    pub created_at: i64,
    /// Updated, unix ms.
    #[sqlx(rename = "updatedAt")]
    pub updated_at: i64,
    /// Edit counter.
    pub version: i64,
    /// Event type of an event trigger.
    #[sqlx(rename = "eventType")]
    pub event_type: Option<String>,
    /// Step types resolved at activation, JSON.
    #[sqlx(rename = "resolvedTypes")]
    pub resolved_types: Option<String>,
    /// Next cron fire, unix ms.
    #[sqlx(rename = "cronNextAt")]
    pub cron_next_at: Option<i64>,
    /// Why an ACTIVE cron workflow has no next fire.
    #[sqlx(rename = "cronError")]
    pub cron_error: Option<String>,
    /// Run-level limits JSON (`{ "maxSteps": N }`).
    pub limits: Option<String>,
    /// How long finished runs are kept (`30d`), when not the host's default.
    pub retention: Option<String>,
    /// How long a run may take (`1h`).
    pub timeout: Option<String>,
    /// Runs in progress per key, JSON (`{ "limit", "key" }`).
    pub concurrency: Option<String>,
    /// The editor's JSON (node positions), stored as given.
    pub layout: Option<String>,
}

const COLUMNS: &str = r#"id, name, description, "trigger", steps, status, "createdAt", "updatedAt", version, "eventType", "resolvedTypes", "cronNextAt", "cronError", limits, layout, retention, timeout, concurrency"#;

/// Inserts a new workflow.
pub async fn insert(pool: &Pool, row: &WorkflowRow) -> sqlx::Result<()> {
    on_pool!(pool, |p| {
        sqlx::query(&format!(
        "INSERT INTO workflows ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
    ))
    .bind(&row.id)
    .bind(&row.name)
    .bind(&row.description)
    .bind(&row.trigger)
    .bind(&row.steps)
    .bind(row.status)
    .bind(row.created_at)
    .bind(row.updated_at)
    .bind(row.version)
    .bind(&row.event_type)
    .bind(&row.resolved_types)
    .bind(row.cron_next_at)
    .bind(&row.cron_error)
    .bind(&row.limits)
    .bind(&row.layout)
    .bind(&row.retention)
    .bind(&row.timeout)
    .bind(&row.concurrency)
    .execute(p)
    .await
    .map(|_| ())
    })
}

/// Writes every column of an existing workflow, if its version is still
/// `expected_version` (optimistic concurrency); returns whether it was written.
pub async fn update(pool: &Pool, row: &WorkflowRow, expected_version: i64) -> sqlx::Result<bool> {
    on_pool!(pool, |p| {
        let done = sqlx::query(
        r#"UPDATE workflows SET name = $1, description = $2, "trigger" = $3, steps = $4, status = $5, "updatedAt" = $6,
           version = $7, "eventType" = $8, "resolvedTypes" = $9, "cronNextAt" = $10, "cronError" = $11, limits = $12,
           layout = $13, retention = $14, timeout = $15, concurrency = $16 WHERE id = $17 AND version = $18"#,
    )
    .bind(&row.name)
    .bind(&row.description)
    .bind(&row.trigger)
    .bind(&row.steps)
    .bind(row.status)
    .bind(row.updated_at)
    .bind(row.version)
    .bind(&row.event_type)
    .bind(&row.resolved_types)
    .bind(row.cron_next_at)
    .bind(&row.cron_error)
    .bind(&row.limits)
    .bind(&row.layout)
    .bind(&row.retention)
    .bind(&row.timeout)
    .bind(&row.concurrency)
    .bind(&row.id)
    .bind(expected_version)
    .execute(p)
    .await?;
        Ok(done.rows_affected() == 1)
    })
}

/// One workflow.
pub async fn get(pool: &Pool, id: &str) -> sqlx::Result<Option<WorkflowRow>> {
    on_pool!(pool, |p| {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM workflows WHERE id = $1"))
            .bind(id)
            .fetch_optional(p)
            .await
    })
}

/// Up to two DRAFT or ACTIVE workflows named `name` (two say the name is
/// ambiguous; archived and paused ones do not count).
pub async fn by_name(pool: &Pool, name: &str) -> sqlx::Result<Vec<WorkflowRow>> {
    on_pool!(pool, |p| {
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM workflows WHERE name = $1 AND status IN ('DRAFT', 'ACTIVE') ORDER BY id LIMIT 2"
        ))
            .bind(name)
            .fetch_all(p)
            .await
    })
}

/// A page of workflows, newest first, optionally with one status.
pub async fn list(
    pool: &Pool,
    status: Option<WorkflowStatus>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<WorkflowRow>, i64)> {
    on_pool!(pool, |p| {
        let rows = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM workflows WHERE ($1 IS NULL OR status = $1) ORDER BY \"createdAt\" DESC, id DESC LIMIT $2 OFFSET $3"
    ))
    .bind(status)
    .bind(limit)
    .bind(offset)
    .fetch_all(p)
    .await?;
        let total = sqlx::query_scalar("SELECT COUNT(*) FROM workflows WHERE ($1 IS NULL OR status = $1)")
            .bind(status)
            .fetch_one(p)
            .await?;
        Ok((rows, total))
    })
}

/// ACTIVE workflows listening for an event type.
pub async fn listening(pool: &Pool, event_type: &str) -> sqlx::Result<Vec<WorkflowRow>> {
    on_pool!(pool, |p| {
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM workflows WHERE \"eventType\" = $1 AND status = 'ACTIVE'"
        ))
        .bind(event_type)
        .fetch_all(p)
        .await
    })
}

/// ACTIVE cron workflows whose next fire is due.
pub async fn cron_due(pool: &Pool, now: i64) -> sqlx::Result<Vec<WorkflowRow>> {
    on_pool!(pool, |p| {
        sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM workflows WHERE \"cronNextAt\" IS NOT NULL AND \"cronNextAt\" <= $1 AND status = 'ACTIVE' LIMIT 100"
    ))
    .bind(now)
    .fetch_all(p)
    .await
    })
}

/// Claims a cron fire: moves `cronNextAt` from `due` to `next` (or records
/// `error` when there is no next), only if no one else did, and bumps the
/// version so that an edit or activation that read the workflow before the
/// claim cannot write the fired tick back. Runs inside the caller's
/// transaction, which also inserts the fire's run. Returns whether this host
/// won the fire.
pub async fn claim_cron(tx: &mut Tx, id: &str, due: i64, next: Result<i64, &str>) -> sqlx::Result<bool> {
    on_tx!(tx, |c| {
        let done = sqlx::query(
            "UPDATE workflows SET \"cronNextAt\" = $1, \"cronError\" = $2, version = version + 1 \
         WHERE id = $3 AND \"cronNextAt\" = $4 AND status = 'ACTIVE'",
        )
        .bind(next.ok())
        .bind(next.err())
        .bind(id)
        .bind(due)
        .execute(&mut *c)
        .await?;
        Ok(done.rows_affected() == 1)
    })
}

/// Id, name, trigger and steps of every workflow not archived: for finding
/// which ones name a secret.
pub async fn all_definitions(pool: &Pool) -> sqlx::Result<Vec<(String, String, String, String)>> {
    on_pool!(pool, |p| {
        sqlx::query_as(
            r#"SELECT id, name, "trigger", steps FROM workflows WHERE status <> 'ARCHIVED' ORDER BY name"#,
        )
        .fetch_all(p)
        .await
    })
}

/// The hook id of a workflow's inbound webhook URL, made on first need and
/// kept for the workflow's life.
pub async fn hook_id(pool: &Pool, workflow_id: &str) -> sqlx::Result<String> {
    on_pool!(pool, |p| {
        let fresh = hex::encode(rand::random::<[u8; 20]>());
        sqlx::query(
        "INSERT INTO workflow_hooks (\"workflowId\", \"hookId\") VALUES ($1, $2) ON CONFLICT (\"workflowId\") DO NOTHING",
    )
    .bind(workflow_id)
    .bind(&fresh)
    .execute(p)
    .await?;
        sqlx::query_scalar("SELECT \"hookId\" FROM workflow_hooks WHERE \"workflowId\" = $1")
            .bind(workflow_id)
            .fetch_one(p)
            .await
    })
}

/// The workflow behind a hook id.
pub async fn by_hook(pool: &Pool, hook_id: &str) -> sqlx::Result<Option<WorkflowRow>> {
    on_pool!(pool, |p| {
        sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM workflows WHERE id = (SELECT \"workflowId\" FROM workflow_hooks WHERE \"hookId\" = $1)"
    ))
    .bind(hook_id)
    .fetch_optional(p)
    .await
    })
}
