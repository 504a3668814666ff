//! The `workflow_runs` and `workflow_run_logs` tables.

use sqlx::{FromRow, SqliteConnection, SqlitePool};

use crate::engine::status::RunStatus;

/// A stored run.
#[derive(Debug, Clone, FromRow)]
#[sqlx(rename_all = "camelCase")]
pub struct RunRow {
    /// Id.
    pub id: String,
    /// The workflow.
    pub workflow_id: String,
    /// Where the run stands.
    pub status: RunStatus,
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
    /// Fencing token: the number of the claim whose driver may write.
    pub claim_count: i64,
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

const COLUMNS: &str = "id, workflowId, status, context, currentStep, startedAt, finishedAt, error, definition, position, wakeAt, leaseOwner, leaseUntil, updatedAt, claimCount";

/// Inserts a run.
pub async fn insert(conn: &mut SqliteConnection, run: &RunRow) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "INSERT INTO workflow_runs ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(&run.id)
    .bind(&run.workflow_id)
    .bind(run.status)
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
    .bind(run.claim_count)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Moves a run by the driver of its claim `run.claim_count`: everything but
/// its identity and definition. Returns false when the run is no longer that
/// driver's to move (cancelled, or claimed again after its lease lapsed),
/// and then writes nothing.
pub async fn advance(conn: &mut SqliteConnection, run: &RunRow) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE workflow_runs SET status = ?, context = ?, currentStep = ?, finishedAt = ?, error = ?, position = ?, \
         wakeAt = ?, leaseOwner = ?, leaseUntil = ?, updatedAt = ? \
         WHERE id = ? AND claimCount = ? AND status IN ('PENDING', 'RUNNING', 'WAITING')",
    )
    .bind(run.status)
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
    .bind(run.claim_count)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
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

/// One log row of a run.
pub async fn log(pool: &SqlitePool, run_id: &str, log_id: &str) -> sqlx::Result<Option<LogRow>> {
    sqlx::query_as(
        "SELECT id, runId, step, action, result, createdAt, seq, attempt, fuel, durationUs, peakMemoryBytes \
         FROM workflow_run_logs WHERE runId = ? AND id = ?",
    )
    .bind(run_id)
    .bind(log_id)
    .fetch_optional(pool)
    .await
}

/// Runs changed after change number `after` up to `upto` (from
/// [`window_end`]), in change order, optionally of one workflow or one run;
/// each with its change number. A run changed several times among them comes
/// once, at its newest change (it is shown as it stands now).
pub async fn changes_between(
    conn: &mut SqliteConnection,
    after: i64,
    upto: i64,
    workflow_id: Option<&str>,
    run_id: Option<&str>,
) -> sqlx::Result<Vec<(i64, RunRow)>> {
    let columns: String = COLUMNS.split(", ").map(|c| format!("r.{c}")).collect::<Vec<_>>().join(", ");
    let rows: Vec<ChangedRun> = sqlx::query_as(&format!(
        "SELECT c.seq AS changeSeq, {columns} FROM \
           (SELECT runId, MAX(seq) AS seq FROM run_changes WHERE seq > ?1 AND seq <= ?4 GROUP BY runId) c \
         JOIN workflow_runs r ON r.id = c.runId \
         WHERE (?2 IS NULL OR r.workflowId = ?2) AND (?3 IS NULL OR r.id = ?3) ORDER BY c.seq"
    ))
    .bind(after)
    .bind(workflow_id)
    .bind(run_id)
    .bind(upto)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|c| (c.change_seq, c.run)).collect())
}

/// The newest change number, and the number of the oldest change kept.
pub async fn change_bounds(conn: &mut SqliteConnection) -> sqlx::Result<(i64, i64)> {
    // Two subqueries, so SQLite reads each end of the index, not the table.
    sqlx::query_as(
        "SELECT COALESCE((SELECT MAX(seq) FROM run_changes), 0), COALESCE((SELECT MIN(seq) FROM run_changes), 0)",
    )
    .fetch_one(conn)
    .await
}

/// The end of the next window of at most `limit` changes after `after`
/// (`after` itself when there are none). Read before the window's changes,
/// so a change committed in between falls into the next window.
pub async fn window_end(conn: &mut SqliteConnection, after: i64, limit: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COALESCE(MAX(seq), ?1) FROM (SELECT seq FROM run_changes WHERE seq > ?1 ORDER BY seq LIMIT ?2)",
    )
    .bind(after)
    .bind(limit)
    .fetch_one(conn)
    .await
}

/// Drops all but the newest `keep` changes from the feed.
pub async fn prune_changes(pool: &SqlitePool, keep: i64) -> sqlx::Result<u64> {
    sqlx::query("DELETE FROM run_changes WHERE seq <= (SELECT MAX(seq) FROM run_changes) - ?")
        .bind(keep)
        .execute(pool)
        .await
        .map(|d| d.rows_affected())
}

#[derive(FromRow)]
struct ChangedRun {
    #[sqlx(rename = "changeSeq")]
    change_seq: i64,
    #[sqlx(flatten)]
    run: RunRow,
}

/// The newest run of each of `workflow_ids`: (workflow id, run id, status,
/// started at).
pub async fn last_runs(
    pool: &SqlitePool,
    workflow_ids: &[String],
) -> sqlx::Result<Vec<(String, String, RunStatus, i64)>> {
    if workflow_ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids = serde_json::to_string(workflow_ids).unwrap_or_else(|_| "[]".into());
    // One index probe per workflow on (workflowId, startedAt).
    sqlx::query_as(
        "SELECT w.value, r.id, r.status, r.startedAt FROM json_each(?) w \
         JOIN workflow_runs r ON r.id = (SELECT id FROM workflow_runs WHERE workflowId = w.value \
             ORDER BY startedAt DESC, id DESC LIMIT 1)",
    )
    .bind(ids)
    .fetch_all(pool)
    .await
}

/// Per workflow, the runs started since `since` (unix ms) and how many of
/// them FAILED: (workflow id, runs, failures).
pub async fn stats_since(pool: &SqlitePool, since: i64) -> sqlx::Result<Vec<(String, i64, i64)>> {
    sqlx::query_as(
        "SELECT workflowId, COUNT(*), SUM(status = 'FAILED') FROM workflow_runs WHERE startedAt >= ? \
         GROUP BY workflowId",
    )
    .bind(since)
    .fetch_all(pool)
    .await
}

/// A page of runs, newest first. The filters are added to the SQL only when
/// given, so SQLite can use the (workflowId, status, startedAt) index.
pub async fn list(
    pool: &SqlitePool,
    workflow_id: Option<&str>,
    status: Option<RunStatus>,
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
    for value in [workflow_id, status.map(RunStatus::as_str)].into_iter().flatten() {
        rows = rows.bind(value);
        total = total.bind(value);
    }
    let rows = rows.bind(limit).bind(offset).fetch_all(pool).await?;
    let total = total.fetch_one(pool).await?;
    Ok((rows, total))
}

/// Claims up to `limit` runs that are due: WAITING runs whose time came, and
/// unfinished runs whose lease is free or expired, except those in `driving`
/// (a JSON list of the run ids this host's tasks drive). One conditional
/// update, so two hosts never claim the same run; each claim increments the
/// run's fencing token.
pub async fn claim_due(
    pool: &SqlitePool,
    owner: &str,
    now: i64,
    lease_until: i64,
    limit: i64,
    driving: &str,
) -> sqlx::Result<Vec<RunRow>> {
    sqlx::query_as(&format!(
        "UPDATE workflow_runs SET leaseOwner = ?1, leaseUntil = ?2, claimCount = claimCount + 1, \
           status = CASE WHEN status = 'WAITING' THEN 'RUNNING' ELSE status END, wakeAt = NULL \
         WHERE id IN (SELECT id FROM workflow_runs WHERE \
             ((status = 'WAITING' AND wakeAt <= ?3) OR status IN ('PENDING', 'RUNNING')) \
             AND (leaseUntil IS NULL OR leaseUntil < ?3) \
             AND id NOT IN (SELECT value FROM json_each(?5)) \
           ORDER BY wakeAt LIMIT ?4) \
         RETURNING {COLUMNS}"
    ))
    .bind(owner)
    .bind(lease_until)
    .bind(now)
    .bind(limit)
    .bind(driving)
    .fetch_all(pool)
    .await
}

/// Extends `owner`'s leases on the runs its tasks drive (`driving`, a JSON
/// list of ids); a run whose task ended without settling it is not renewed,
/// so its lease lapses and another claim picks it up.
pub async fn renew_leases(
    pool: &SqlitePool,
    owner: &str,
    lease_until: i64,
    driving: &str,
) -> sqlx::Result<u64> {
    sqlx::query(
        "UPDATE workflow_runs SET leaseUntil = ? WHERE leaseOwner = ? AND status IN ('PENDING', 'RUNNING') \
         AND id IN (SELECT value FROM json_each(?))",
    )
    .bind(lease_until)
    .bind(owner)
    .bind(driving)
    .execute(pool)
    .await
    .map(|d| d.rows_affected())
}

/// Hands back the claim `claim` of a run without moving it: claimable by any
/// host from `free_at` (now for a graceful stop; a little later after a
/// failure, so a run that keeps failing to commit does not spin).
pub async fn release(pool: &SqlitePool, id: &str, claim: i64, free_at: Option<i64>) -> sqlx::Result<()> {
    sqlx::query("UPDATE workflow_runs SET leaseOwner = NULL, leaseUntil = ? WHERE id = ? AND claimCount = ?")
        .bind(free_at)
        .bind(id)
        .bind(claim)
        .execute(pool)
        .await
        .map(|_| ())
}

/// Cancels an unfinished run and logs it, in one transaction; false when
/// the run is unknown or already over. The cancel takes the run from whoever
/// drives it: its claim changes, so their next write is refused.
pub async fn cancel(pool: &SqlitePool, id: &str, log_id: &str, now: i64) -> sqlx::Result<bool> {
    let mut tx = pool.begin().await?;
    let step: Option<Option<String>> = sqlx::query_scalar(
        "UPDATE workflow_runs SET status = 'CANCELLED', finishedAt = ?1, updatedAt = ?1, wakeAt = NULL, \
         leaseOwner = NULL, leaseUntil = NULL, claimCount = claimCount + 1 \
         WHERE id = ?2 AND status IN ('PENDING', 'RUNNING', 'WAITING') RETURNING currentStep",
    )
    .bind(now)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(step) = step else { return Ok(false) };
    insert_run_log(&mut tx, id, log_id, step.as_deref().unwrap_or(""), "cancelled", None, now).await?;
    tx.commit().await?;
    Ok(true)
}

/// Puts the FAILED run `run` back to PENDING at its failed step, with
/// `position` (its cursors reset), and logs `retried` at `seq`, in one
/// transaction; false when the run changed since `run` was read.
pub async fn reopen(
    pool: &SqlitePool,
    run: &RunRow,
    position: &str,
    seq: i64,
    log_id: &str,
    now: i64,
) -> sqlx::Result<bool> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query(
        "UPDATE workflow_runs SET status = 'PENDING', finishedAt = NULL, error = NULL, position = ?1, \
         wakeAt = NULL, leaseOwner = NULL, leaseUntil = NULL, claimCount = claimCount + 1, updatedAt = ?2 \
         WHERE id = ?3 AND status = 'FAILED' AND claimCount = ?4",
    )
    .bind(position)
    .bind(now)
    .bind(&run.id)
    .bind(run.claim_count)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    let step = run.current_step.as_deref().unwrap_or("");
    insert_run_log(&mut tx, &run.id, log_id, step, "retried", Some(seq), now).await?;
    tx.commit().await?;
    Ok(true)
}

/// A run-level log row (cancel, retry) at `seq`, or after the last one.
async fn insert_run_log(
    conn: &mut SqliteConnection,
    run_id: &str,
    log_id: &str,
    step: &str,
    action: &str,
    seq: Option<i64>,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO workflow_run_logs (id, runId, step, action, result, createdAt, seq) \
         VALUES (?1, ?2, ?3, ?4, '{}', ?5, COALESCE(?6, (SELECT COALESCE(MAX(seq), 0) + 1 FROM workflow_run_logs WHERE runId = ?2)))",
    )
    .bind(log_id)
    .bind(run_id)
    .bind(step)
    .bind(action)
    .bind(now)
    .bind(seq)
    .execute(conn)
    .await
    .map(|_| ())
}
