//! The `workflow_runs` and `workflow_run_logs` tables.

use serde::Serialize;
use serde_json::Value;
use sqlx::{FromRow, SqliteConnection, SqlitePool};

use super::ids::iso;

/// A stored run.
#[derive(Debug, Clone, FromRow)]
#[sqlx(rename_all = "camelCase")]
pub struct RunRow {
    /// Id.
    pub id: String,
    /// The workflow.
    pub workflow_id: String,
    /// PENDING, RUNNING, WAITING, COMPLETED, FAILED or CANCELLED.
    pub status: String,
    /// Context JSON.
    pub context: String,
    /// The step being attempted or next.
    pub current_step: Option<String>,
    /// Started, unix ms.
    pub started_at: i64,
    /// Finished, unix ms.
    pub finished_at: Option<i64>,
    /// Why it failed.
    pub error: Option<String>,
    /// Definition snapshot JSON.
    pub definition: String,
    /// Cursor JSON.
    pub position: String,
    /// Due time of a WAITING run.
    pub wake_at: Option<i64>,
    /// Host holding the run.
    pub lease_owner: Option<String>,
    /// Lease expiry.
    pub lease_until: Option<i64>,
    /// Last write, unix ms.
    pub updated_at: i64,
}

/// One log row.
#[derive(Debug, Clone, FromRow)]
#[sqlx(rename_all = "camelCase")]
pub struct LogRow {
    /// Id.
    pub id: String,
    /// The run.
    pub run_id: String,
    /// Step id.
    pub step: String,
    /// completed, branched, slept, retrying, failed, caught, cancelled, retried.
    pub action: String,
    /// JSON.
    pub result: String,
    /// Unix ms.
    pub created_at: i64,
    /// Order in the run.
    pub seq: i64,
    /// Attempt number.
    pub attempt: i64,
    /// Fuel consumed.
    pub fuel: i64,
    /// Duration, microseconds.
    pub duration_us: i64,
    /// Peak memory, bytes.
    pub peak_memory_bytes: i64,
}

/// A run as the API shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunView {
    id: String,
    workflow_id: String,
    status: String,
    context: Value,
    current_step: Option<String>,
    started_at: String,
    finished_at: Option<String>,
    error: Option<String>,
    wake_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    logs: Option<Vec<LogView>>,
}

/// A log row as the API shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogView {
    id: String,
    run_id: String,
    step: String,
    action: String,
    result: Value,
    created_at: String,
    attempt: i64,
    fuel: i64,
    duration_us: i64,
    peak_memory_bytes: i64,
}

impl RunRow {
    /// The API view, with logs when given.
    pub fn view(&self, logs: Option<&[LogRow]>) -> RunView {
        RunView {
            id: self.id.clone(),
            workflow_id: self.workflow_id.clone(),
            status: self.status.clone(),
            context: serde_json::from_str(&self.context).unwrap_or(Value::Null),
            current_step: self.current_step.clone(),
            started_at: iso(self.started_at as u64),
            finished_at: self.finished_at.map(|t| iso(t as u64)),
            error: self.error.clone(),
            wake_at: self.wake_at.filter(|_| self.status == "WAITING").map(|t| iso(t as u64)),
            logs: logs.map(|rows| rows.iter().map(LogRow::view).collect()),
        }
    }
}

impl LogRow {
    fn view(&self) -> LogView {
        LogView {
            id: self.id.clone(),
            run_id: self.run_id.clone(),
            step: self.step.clone(),
            action: self.action.clone(),
            result: serde_json::from_str(&self.result).unwrap_or(Value::Null),
            created_at: iso(self.created_at as u64),
            attempt: self.attempt,
            fuel: self.fuel,
            duration_us: self.duration_us,
            peak_memory_bytes: self.peak_memory_bytes,
        }
    }
}

const COLUMNS: &str = "id, workflowId, status, context, currentStep, startedAt, finishedAt, error, definition, position, wakeAt, leaseOwner, leaseUntil, updatedAt";

/// Inserts a run.
pub async fn insert(conn: &mut SqliteConnection, run: &RunRow) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "INSERT INTO workflow_runs ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(&run.id)
    .bind(&run.workflow_id)
    .bind(&run.status)
    .bind(&run.context)
    .bind(&run.current_step)
    .bind(run.started_at)
    .bind(run.finished_at)
    .bind(&run.error)
    .bind(&run.definition)
    .bind(&run.position)
    .bind(run.wake_at)
    .bind(&run.lease_owner)
    .bind(run.lease_until)
    .bind(run.updated_at)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Moves a run held by `owner`: everything but its identity and definition.
/// Returns false when the run is no longer this host's to move (cancelled, or
/// the lease was lost), and then writes nothing.
pub async fn advance(conn: &mut SqliteConnection, run: &RunRow, owner: &str) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE workflow_runs SET status = ?, context = ?, currentStep = ?, finishedAt = ?, error = ?, position = ?, \
         wakeAt = ?, leaseOwner = ?, leaseUntil = ?, updatedAt = ? \
         WHERE id = ? AND leaseOwner = ? AND status IN ('PENDING', 'RUNNING', 'WAITING')",
    )
    .bind(&run.status)
    .bind(&run.context)
    .bind(&run.current_step)
    .bind(run.finished_at)
    .bind(&run.error)
    .bind(&run.position)
    .bind(run.wake_at)
    .bind(&run.lease_owner)
    .bind(run.lease_until)
    .bind(run.updated_at)
    .bind(&run.id)
    .bind(owner)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Appends a log row.
pub async fn insert_log(conn: &mut SqliteConnection, log: &LogRow) -> sqlx::Result<()> {
    insert_logs(conn, &[log]).await
}

/// Appends log rows in one statement.
pub async fn insert_logs(conn: &mut SqliteConnection, logs: &[&LogRow]) -> sqlx::Result<()> {
    if logs.is_empty() {
        return Ok(());
    }
    let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
        "INSERT INTO workflow_run_logs (id, runId, step, action, result, createdAt, seq, attempt, fuel, durationUs, peakMemoryBytes) ",
    );
    qb.push_values(logs, |mut b, log| {
        b.push_bind(&log.id)
            .push_bind(&log.run_id)
            .push_bind(&log.step)
            .push_bind(&log.action)
            .push_bind(&log.result)
            .push_bind(log.created_at)
            .push_bind(log.seq)
            .push_bind(log.attempt)
            .push_bind(log.fuel)
            .push_bind(log.duration_us)
            .push_bind(log.peak_memory_bytes);
    });
    qb.build().execute(conn).await.map(|_| ())
}

/// One run.
pub async fn get(pool: &SqlitePool, id: &str) -> sqlx::Result<Option<RunRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM workflow_runs WHERE id = ?"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// A run's logs in order.
pub async fn logs(pool: &SqlitePool, run_id: &str) -> sqlx::Result<Vec<LogRow>> {
    sqlx::query_as(
        "SELECT id, runId, step, action, result, createdAt, seq, attempt, fuel, durationUs, peakMemoryBytes \
         FROM workflow_run_logs WHERE runId = ? ORDER BY seq, createdAt",
    )
    .bind(run_id)
    .fetch_all(pool)
    .await
}

/// The next log sequence number of a run.
pub async fn next_seq(pool: &SqlitePool, run_id: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) + 1 FROM workflow_run_logs WHERE runId = ?")
        .bind(run_id)
        .fetch_one(pool)
        .await
}

/// A page of runs, newest first. The filters are added to the SQL only when
/// given, so SQLite can use the (workflowId, status, startedAt) index.
pub async fn list(
    pool: &SqlitePool,
    workflow_id: Option<&str>,
    status: Option<&str>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<RunRow>, i64)> {
    let mut conditions = Vec::new();
    if workflow_id.is_some() {
        conditions.push("workflowId = ?");
    }
    if status.is_some() {
        conditions.push("status = ?");
    }
    let filter =
        if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
    let select = format!(
        "SELECT {COLUMNS} FROM workflow_runs {filter} ORDER BY startedAt DESC, id DESC LIMIT ? OFFSET ?"
    );
    let mut rows = sqlx::query_as(&select);
    let count = format!("SELECT COUNT(*) FROM workflow_runs {filter}");
    let mut total = sqlx::query_scalar(&count);
    for value in [workflow_id, status].into_iter().flatten() {
        rows = rows.bind(value);
        total = total.bind(value);
    }
    let rows = rows.bind(limit).bind(offset).fetch_all(pool).await?;
    let total = total.fetch_one(pool).await?;
    Ok((rows, total))
}

/// Claims up to `limit` runs that are due: WAITING runs whose time came, and
/// unfinished runs whose lease is free or expired. One conditional update, so
/// two hosts never claim the same run.
pub async fn claim_due(
    pool: &SqlitePool,
    owner: &str,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> sqlx::Result<Vec<RunRow>> {
    sqlx::query_as(&format!(
        "UPDATE workflow_runs SET leaseOwner = ?1, leaseUntil = ?2, \
           status = CASE WHEN status = 'WAITING' THEN 'RUNNING' ELSE status END, wakeAt = NULL \
         WHERE id IN (SELECT id FROM workflow_runs WHERE \
             (status = 'WAITING' AND wakeAt <= ?3 AND (leaseOwner IS NULL OR leaseUntil < ?3)) \
          OR (status IN ('PENDING', 'RUNNING') AND (leaseOwner IS NULL OR leaseUntil < ?3)) \
           ORDER BY wakeAt LIMIT ?4) \
         RETURNING {COLUMNS}"
    ))
    .bind(owner)
    .bind(lease_until)
    .bind(now)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Extends the leases of every run `owner` holds.
pub async fn renew_leases(pool: &SqlitePool, owner: &str, lease_until: i64) -> sqlx::Result<u64> {
    sqlx::query(
        "UPDATE workflow_runs SET leaseUntil = ? WHERE leaseOwner = ? AND status IN ('PENDING', 'RUNNING')",
    )
    .bind(lease_until)
    .bind(owner)
    .execute(pool)
    .await
    .map(|d| d.rows_affected())
}

/// Gives up `owner`'s lease on a run without moving it (graceful shutdown).
pub async fn release(pool: &SqlitePool, id: &str, owner: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE workflow_runs SET leaseOwner = NULL, leaseUntil = NULL WHERE id = ? AND leaseOwner = ?",
    )
    .bind(id)
    .bind(owner)
    .execute(pool)
    .await
    .map(|_| ())
}

/// Cancels an unfinished run; false when it had already finished.
pub async fn cancel(pool: &SqlitePool, id: &str, now: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE workflow_runs SET status = 'CANCELLED', finishedAt = ?1, updatedAt = ?1, wakeAt = NULL, \
         leaseOwner = NULL, leaseUntil = NULL WHERE id = ?2 AND status IN ('PENDING', 'RUNNING', 'WAITING')",
    )
    .bind(now)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Puts a FAILED run back to PENDING at its failed step with a new position;
/// false when it is not FAILED.
pub async fn reopen(pool: &SqlitePool, id: &str, position: &str, now: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE workflow_runs SET status = 'PENDING', finishedAt = NULL, error = NULL, position = ?1, \
         wakeAt = NULL, leaseOwner = NULL, leaseUntil = NULL, updatedAt = ?2 WHERE id = ?3 AND status = 'FAILED'",
    )
    .bind(position)
    .bind(now)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}
