//! The `workflow_runs` and `workflow_run_logs` tables.

use sqlx::FromRow;

use super::{Pool, Tx};

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
    /// The workflow's concurrency key, rendered for this run.
    pub concurrency_key: Option<String>,
    /// Runs in progress its key allows.
    pub concurrency_limit: Option<i64>,
    /// 1 while the run waits PENDING for a slot of its key.
    pub queued: i64,
    /// The run whose `call-workflow` step started this one.
    pub parent_run_id: Option<String>,
    /// That step's wait, which this run's end is delivered to.
    pub parent_step: Option<String>,
    /// Calls between this run and a run nobody called (0 for that one).
    pub call_depth: i64,
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

pub(crate) const COLUMNS: &str = "id, \"workflowId\", status, context, \"currentStep\", \"startedAt\", \"finishedAt\", error, definition, position, \"wakeAt\", \"leaseOwner\", \"leaseUntil\", \"updatedAt\", \"claimCount\", \"concurrencyKey\", \"concurrencyLimit\", queued, \"parentRunId\", \"parentStep\", \"callDepth\"";

impl RunRow {
    /// A row that only names a run (the rest empty), for code that needs a
    /// few of its columns.
    fn named(id: &str) -> Self {
        RunRow {
            id: id.to_owned(),
            workflow_id: String::new(),
            status: RunStatus::Pending,
            context: String::new(),
            current_step: None,
            started_at: 0,
            finished_at: None,
            error: None,
            definition: String::new(),
            position: String::new(),
            wake_at: None,
            lease_owner: None,
            lease_until: None,
            updated_at: 0,
            claim_count: 0,
            concurrency_key: None,
            concurrency_limit: None,
            queued: 0,
            parent_run_id: None,
            parent_step: None,
            call_depth: 0,
        }
    }
}

/// Inserts a run.
pub async fn insert(tx: &mut Tx, run: &RunRow) -> sqlx::Result<()> {
    on_tx!(tx, |c| {
        sqlx::query(&format!(
        "INSERT INTO workflow_runs ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)"
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
    .bind(&run.concurrency_key)
    .bind(run.concurrency_limit)
    .bind(run.queued)
    .bind(&run.parent_run_id)
    .bind(&run.parent_step)
    .bind(run.call_depth)
    .execute(&mut *c)
    .await
    .map(|_| ())
    })
}

/// Gives the free slots of a run's concurrency key to the runs queued for
/// it, oldest first (trigger order); returns the ids admitted. Called in the
/// transaction that queues a run or ends (or reopens) one that held a slot.
/// On PostgreSQL the key is locked for the transaction first, so that two
/// hosts counting at once cannot both fill the last slot.
pub async fn fill_slots(tx: &mut Tx, run: &RunRow) -> sqlx::Result<Vec<String>> {
    let (Some(key), Some(limit)) = (&run.concurrency_key, run.concurrency_limit) else {
        return Ok(Vec::new());
    };
    let postgres = matches!(tx, Tx::Postgres(_));
    on_tx!(tx, |c| {
        if postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(format!("{}\u{1f}{key}", run.workflow_id))
                .execute(&mut *c)
                .await?;
        }
        let busy: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM workflow_runs WHERE \"workflowId\" = $1 AND \"concurrencyKey\" = $2 \
             AND queued = 0 AND \"finishedAt\" IS NULL",
        )
        .bind(&run.workflow_id)
        .bind(key)
        .fetch_one(&mut *c)
        .await?;
        let free = limit - busy;
        if free <= 0 {
            return Ok(Vec::new());
        }
        sqlx::query_scalar(
            "UPDATE workflow_runs SET queued = 0 WHERE id IN (SELECT id FROM workflow_runs \
               WHERE \"workflowId\" = $1 AND \"concurrencyKey\" = $2 AND queued = 1 AND \"finishedAt\" IS NULL \
               ORDER BY \"startedAt\", id LIMIT $3) RETURNING id",
        )
        .bind(&run.workflow_id)
        .bind(key)
        .bind(free)
        .fetch_all(&mut *c)
        .await
    })
}

/// Moves a run by the driver of its claim `run.claim_count`: everything but
/// its identity and definition. Returns false when the run is no longer that
/// driver's to move (cancelled, or claimed again after its lease lapsed),
/// and then writes nothing.
pub async fn advance(tx: &mut Tx, run: &RunRow) -> sqlx::Result<bool> {
    on_tx!(tx, |c| {
        let done = sqlx::query(
        "UPDATE workflow_runs SET status = $1, context = $2, \"currentStep\" = $3, \"finishedAt\" = $4, error = $5, position = $6, \
         \"wakeAt\" = $7, \"leaseOwner\" = $8, \"leaseUntil\" = $9, \"updatedAt\" = $10 \
         WHERE id = $11 AND \"claimCount\" = $12 AND status IN ('PENDING', 'RUNNING', 'WAITING')",
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
    .execute(&mut *c)
    .await?;
        Ok(done.rows_affected() == 1)
    })
}

/// The fewest moves [`advance_many`] sends as one statement on PostgreSQL.
const MOVES_IN_ONE_STATEMENT: usize = 4;

/// Moves many runs, each by the driver of its claim, as [`advance`] does;
/// one flag per run, in order. On PostgreSQL one statement moves them all
/// (a round trip per batch instead of per move, which is most of a commit's
/// time there); on SQLite, in process, one statement per run costs no more.
pub async fn advance_many(tx: &mut Tx, runs: &[&RunRow]) -> sqlx::Result<Vec<bool>> {
    // A run twice in one statement would move once: such a batch goes row by
    // row. So do small ones: the single-row statement keeps one cached plan,
    // while the batched one is planned at each execution, which costs more
    // than the round trips it saves on a few rows.
    let batched = runs.len() >= MOVES_IN_ONE_STATEMENT
        && runs.iter().map(|r| r.id.as_str()).collect::<std::collections::HashSet<_>>().len() == runs.len();
    let c = match tx {
        Tx::Postgres(c) if batched => c,
        _ => {
            let mut applied = Vec::with_capacity(runs.len());
            for run in runs {
                applied.push(advance(tx, run).await?);
            }
            return Ok(applied);
        }
    };
    // Borrowed columns: a move's context is not copied to be sent.
    let text = |f: fn(&RunRow) -> &str| runs.iter().map(|r| f(r)).collect::<Vec<&str>>();
    let maybe = |f: fn(&RunRow) -> Option<&str>| runs.iter().map(|r| f(r)).collect::<Vec<Option<&str>>>();
    let num = |f: fn(&RunRow) -> Option<i64>| runs.iter().map(|r| f(r)).collect::<Vec<_>>();
    let moved: Vec<String> = sqlx::query_scalar(
        "UPDATE workflow_runs AS r SET status = v.status, context = v.context, \"currentStep\" = v.step, \
         \"finishedAt\" = v.finished, error = v.error, position = v.position, \"wakeAt\" = v.wake, \
         \"leaseOwner\" = v.owner, \"leaseUntil\" = v.until, \"updatedAt\" = v.updated \
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], \
                     $8::bigint[], $9::text[], $10::bigint[], $11::bigint[], $12::bigint[]) \
              AS v(id, status, context, step, finished, error, position, wake, owner, until, updated, claim) \
         WHERE r.id = v.id AND r.\"claimCount\" = v.claim AND r.status IN ('PENDING', 'RUNNING', 'WAITING') \
         RETURNING r.id",
    )
    .bind(text(|r| &r.id))
    .bind(text(|r| r.status.as_str()))
    .bind(text(|r| &r.context))
    .bind(maybe(|r| r.current_step.as_deref()))
    .bind(num(|r| r.finished_at))
    .bind(maybe(|r| r.error.as_deref()))
    .bind(text(|r| &r.position))
    .bind(num(|r| r.wake_at))
    .bind(maybe(|r| r.lease_owner.as_deref()))
    .bind(num(|r| r.lease_until))
    .bind(num(|r| Some(r.updated_at)))
    .bind(num(|r| Some(r.claim_count)))
    .fetch_all(&mut **c)
    .await?;
    let moved: std::collections::HashSet<String> = moved.into_iter().collect();
    Ok(runs.iter().map(|r| moved.contains(&r.id)).collect())
}

/// Appends log rows in one statement.
pub async fn insert_logs(tx: &mut Tx, logs: &[&LogRow]) -> sqlx::Result<()> {
    on_tx!(tx, |c| {
        if logs.is_empty() {
            return Ok(());
        }
        let mut qb = sqlx::QueryBuilder::new(
            "INSERT INTO workflow_run_logs (id, \"runId\", step, action, result, \"createdAt\", seq, attempt, fuel, \"durationUs\", \"peakMemoryBytes\") ",
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
        qb.build().execute(&mut *c).await.map(|_| ())
    })
}

/// One run.
pub async fn get(pool: &Pool, id: &str) -> sqlx::Result<Option<RunRow>> {
    on_pool!(pool, |p| {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM workflow_runs WHERE id = $1"))
            .bind(id)
            .fetch_optional(p)
            .await
    })
}

/// A run's logs in order.
pub async fn logs(pool: &Pool, run_id: &str) -> sqlx::Result<Vec<LogRow>> {
    on_pool!(pool, |p| {
        sqlx::query_as(
        "SELECT id, \"runId\", step, action, result, \"createdAt\", seq, attempt, fuel, \"durationUs\", \"peakMemoryBytes\" \
         FROM workflow_run_logs WHERE \"runId\" = $1 ORDER BY seq, \"createdAt\"",
    )
    .bind(run_id)
    .fetch_all(p)
    .await
    })
}

/// One log row of a run.
pub async fn log(pool: &Pool, run_id: &str, log_id: &str) -> sqlx::Result<Option<LogRow>> {
    on_pool!(pool, |p| {
        sqlx::query_as(
        "SELECT id, \"runId\", step, action, result, \"createdAt\", seq, attempt, fuel, \"durationUs\", \"peakMemoryBytes\" \
         FROM workflow_run_logs WHERE \"runId\" = $1 AND id = $2",
    )
    .bind(run_id)
    .bind(log_id)
    .fetch_optional(p)
    .await
    })
}

/// Runs changed after change number `after` up to `upto` (from
/// [`window_end`]), in change order, optionally of one workflow or one run;
/// each with its change number. A run changed several times among them comes
/// once, at its newest change (it is shown as it stands now).
pub async fn changes_between(
    tx: &mut Tx,
    after: i64,
    upto: i64,
    workflow_id: Option<&str>,
    run_id: Option<&str>,
) -> sqlx::Result<Vec<(i64, RunRow)>> {
    on_tx!(tx, |c| {
        let columns: String = COLUMNS.split(", ").map(|c| format!("r.{c}")).collect::<Vec<_>>().join(", ");
        let rows: Vec<ChangedRun> = sqlx::query_as(&format!(
        "SELECT c.seq AS \"changeSeq\", {columns} FROM \
           (SELECT \"runId\", MAX(seq) AS seq FROM run_changes WHERE seq > $1 AND seq <= $4 GROUP BY \"runId\") c \
         JOIN workflow_runs r ON r.id = c.\"runId\" \
         WHERE ($2 IS NULL OR r.\"workflowId\" = $2) AND ($3 IS NULL OR r.id = $3) ORDER BY c.seq"
    ))
    .bind(after)
    .bind(workflow_id)
    .bind(run_id)
    .bind(upto)
    .fetch_all(&mut *c)
    .await?;
        Ok(rows.into_iter().map(|c| (c.change_seq, c.run)).collect())
    })
}

/// The newest change number, and the number of the oldest change kept.
pub async fn change_bounds(tx: &mut Tx) -> sqlx::Result<(i64, i64)> {
    on_tx!(tx, |c| {
        // Two subqueries, so SQLite reads each end of the index, not the table.
        sqlx::query_as(
        "SELECT COALESCE((SELECT MAX(seq) FROM run_changes), 0), COALESCE((SELECT MIN(seq) FROM run_changes), 0)",
    )
    .fetch_one(&mut *c)
    .await
    })
}

/// The end of the next window of at most `limit` changes after `after`
/// (`after` itself when there are none). Read before the window's changes,
/// so a change committed in between falls into the next window.
pub async fn window_end(tx: &mut Tx, after: i64, limit: i64) -> sqlx::Result<i64> {
    on_tx!(tx, |c| {
        sqlx::query_scalar(
            "SELECT COALESCE(MAX(seq), $1) FROM \
             (SELECT seq FROM run_changes WHERE seq > $1 ORDER BY seq LIMIT $2) w",
        )
        .bind(after)
        .bind(limit)
        .fetch_one(&mut *c)
        .await
    })
}

/// Drops all but the newest `keep` changes from the feed.
pub async fn prune_changes(pool: &Pool, keep: i64) -> sqlx::Result<u64> {
    on_pool!(pool, |p| {
        sqlx::query("DELETE FROM run_changes WHERE seq <= (SELECT MAX(seq) FROM run_changes) - $1")
            .bind(keep)
            .execute(p)
            .await
            .map(|d| d.rows_affected())
    })
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
    pool: &Pool,
    workflow_ids: &[String],
) -> sqlx::Result<Vec<(String, String, RunStatus, i64)>> {
    if workflow_ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids = serde_json::to_string(workflow_ids).unwrap_or_else(|_| "[]".into());
    // One index probe per workflow on (workflowId, startedAt).
    let sql = format!(
        "SELECT w.value, r.id, r.status, r.\"startedAt\" FROM {} \
         JOIN workflow_runs r ON r.id = (SELECT id FROM workflow_runs WHERE \"workflowId\" = w.value \
             ORDER BY \"startedAt\" DESC, id DESC LIMIT 1)",
        json_list(pool, 1, "w")
    );
    on_pool!(pool, |p| sqlx::query_as(&sql).bind(&ids).fetch_all(p).await)
}

/// Per workflow, the runs started since `since` (unix ms) and how many of
/// them FAILED: (workflow id, runs, failures).
pub async fn stats_since(pool: &Pool, since: i64) -> sqlx::Result<Vec<(String, i64, i64)>> {
    on_pool!(pool, |p| {
        sqlx::query_as(
            "SELECT \"workflowId\", COUNT(*), COUNT(*) FILTER (WHERE status = 'FAILED') FROM workflow_runs \
             WHERE \"startedAt\" >= $1 GROUP BY \"workflowId\"",
        )
        .bind(since)
        .fetch_all(p)
        .await
    })
}

/// Ids of up to `limit` runs in one of `statuses`, of `workflow` when given,
/// started within `[after, before)` when given, oldest first.
pub async fn ids_matching(
    pool: &Pool,
    statuses: &[RunStatus],
    workflow: Option<&str>,
    after: Option<i64>,
    before: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<String>> {
    let list: Vec<String> = statuses.iter().map(|s| format!("'{}'", s.as_str())).collect();
    let mut sql = format!(
        "SELECT id FROM workflow_runs WHERE status IN ({}) AND \"startedAt\" >= $1 AND \"startedAt\" < $2",
        list.join(", ")
    );
    if workflow.is_some() {
        sql.push_str(" AND \"workflowId\" = $4");
    }
    sql.push_str(" ORDER BY \"startedAt\", id LIMIT $3");
    on_pool!(pool, |p| {
        let mut query = sqlx::query_scalar(&sql)
            .bind(after.unwrap_or(i64::MIN))
            .bind(before.unwrap_or(i64::MAX))
            .bind(limit);
        if let Some(workflow) = workflow {
            query = query.bind(workflow);
        }
        query.fetch_all(p).await
    })
}

/// Runs due to be driven that no host holds (the queue), and runs asleep.
pub async fn queue_depth(pool: &Pool, now: i64) -> sqlx::Result<(i64, i64)> {
    on_pool!(pool, |p| {
        sqlx::query_as(
            "SELECT \
               COUNT(*) FILTER (WHERE (status IN ('PENDING', 'RUNNING') OR (status = 'WAITING' AND \"wakeAt\" <= $1)) \
                                  AND (\"leaseUntil\" IS NULL OR \"leaseUntil\" < $1)), \
               COUNT(*) FILTER (WHERE status = 'WAITING') \
             FROM workflow_runs WHERE status IN ('PENDING', 'RUNNING', 'WAITING')",
        )
        .bind(now)
        .fetch_one(p)
        .await
    })
}

/// A page of runs, newest first. The filters are added to the SQL only when
/// given, so SQLite can use the (workflowId, status, startedAt) index.
pub async fn list(
    pool: &Pool,
    workflow_id: Option<&str>,
    status: Option<RunStatus>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<RunRow>, i64)> {
    let mut conditions = Vec::new();
    let mut values = Vec::new();
    if let Some(id) = workflow_id {
        values.push(id);
        conditions.push(format!("\"workflowId\" = ${}", values.len()));
    }
    if let Some(status) = status {
        values.push(status.as_str());
        conditions.push(format!("status = ${}", values.len()));
    }
    let filter =
        if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
    let n = values.len();
    let select = format!(
        "SELECT {COLUMNS} FROM workflow_runs {filter} ORDER BY \"startedAt\" DESC, id DESC LIMIT ${} OFFSET ${}",
        n + 1,
        n + 2
    );
    let count = format!("SELECT COUNT(*) FROM workflow_runs {filter}");
    on_pool!(pool, |p| {
        let mut rows = sqlx::query_as(&select);
        let mut total = sqlx::query_scalar(&count);
        for value in &values {
            rows = rows.bind(*value);
            total = total.bind(*value);
        }
        let rows = rows.bind(limit).bind(offset).fetch_all(p).await?;
        let total = total.fetch_one(p).await?;
        Ok((rows, total))
    })
}

/// Claims up to `limit` runs that are due: WAITING runs whose time came, and
/// unfinished runs whose lease is free or expired, except those in `driving`
/// (a JSON list of the run ids this host's tasks drive). One conditional
/// update, so two hosts never claim the same run; each claim increments the
/// run's fencing token.
pub async fn claim_due(
    pool: &Pool,
    owner: &str,
    now: i64,
    lease_until: i64,
    limit: i64,
    driving: &str,
) -> sqlx::Result<Vec<RunRow>> {
    // On PostgreSQL, hosts claiming at once skip each other's rows instead of
    // waiting on them; SQLite has one writer at a time.
    let skip_locked = if pool.is_postgres() { "FOR UPDATE SKIP LOCKED" } else { "" };
    let sql = format!(
        "UPDATE workflow_runs SET \"leaseOwner\" = $1, \"leaseUntil\" = $2, \"claimCount\" = \"claimCount\" + 1, \
           status = CASE WHEN status = 'WAITING' THEN 'RUNNING' ELSE status END, \"wakeAt\" = NULL \
         WHERE id IN (SELECT id FROM workflow_runs WHERE \
             ((status = 'WAITING' AND \"wakeAt\" <= $3) OR (status = 'PENDING' AND queued = 0) OR status = 'RUNNING') \
             AND (\"leaseUntil\" IS NULL OR \"leaseUntil\" < $3) \
             AND id NOT IN (SELECT value FROM {}) \
           ORDER BY \"wakeAt\" NULLS FIRST LIMIT $4 {skip_locked}) \
         RETURNING {COLUMNS}",
        json_list(pool, 5, "j")
    );
    on_pool!(pool, |p| {
        sqlx::query_as(&sql)
            .bind(owner)
            .bind(lease_until)
            .bind(now)
            .bind(limit)
            .bind(driving)
            .fetch_all(p)
            .await
    })
}

/// The earliest time something becomes claimable, if anything will: a
/// waiting run wakes, a lease lapses (claimable the ms after), an active
/// cron workflow fires; a run without a lease (retried, handed back) is
/// claimable now (0). The runs are read through the `(status, wakeAt)`
/// index and `workflow_runs_admitted` (which leaves out runs queued for a
/// concurrency slot); the cron workflows are few.
pub async fn next_due(pool: &Pool) -> sqlx::Result<Option<i64>> {
    let times: (Option<i64>, Option<i64>, Option<i64>, Option<i64>) = on_pool!(pool, |p| {
        sqlx::query_as(
            "SELECT (SELECT MIN(\"wakeAt\") FROM workflow_runs WHERE status = 'WAITING'), \
                    (SELECT MIN(\"leaseUntil\") + 1 FROM workflow_runs WHERE status IN ('PENDING', 'RUNNING') AND queued = 0), \
                    (SELECT MIN(\"cronNextAt\") FROM workflows WHERE status = 'ACTIVE'), \
                    (SELECT CAST(0 AS BIGINT) FROM workflow_runs WHERE status IN ('PENDING', 'RUNNING') AND \"leaseUntil\" IS NULL AND queued = 0 LIMIT 1)",
        )
        .fetch_one(p)
        .await
    })?;
    Ok([times.0, times.1, times.2, times.3].into_iter().flatten().min())
}

/// Extends `owner`'s leases on the runs its tasks drive (`driving`, a JSON
/// list of ids); a run whose task ended without settling it is not renewed,
/// so its lease lapses and another claim picks it up. On PostgreSQL a row
/// locked by a commit is skipped rather than waited for (a commit that moves
/// a held run renews its lease itself): a renewal that waited could deadlock
/// with a batch locking the same rows in another order, and lose the leases.
pub async fn renew_leases(pool: &Pool, owner: &str, lease_until: i64, driving: &str) -> sqlx::Result<u64> {
    let skip_locked = if pool.is_postgres() { "FOR UPDATE SKIP LOCKED" } else { "" };
    let sql = format!(
        "UPDATE workflow_runs SET \"leaseUntil\" = $1 WHERE id IN (SELECT id FROM workflow_runs \
         WHERE \"leaseOwner\" = $2 AND status IN ('PENDING', 'RUNNING') AND id IN (SELECT value FROM {}) \
         {skip_locked})",
        json_list(pool, 3, "j")
    );
    on_pool!(pool, |p| {
        sqlx::query(&sql)
            .bind(lease_until)
            .bind(owner)
            .bind(driving)
            .execute(p)
            .await
            .map(|d| d.rows_affected())
    })
}

/// The rows (`value`) of a JSON list of strings bound as parameter `$n`:
/// SQLite's `json_each`, PostgreSQL's `json_array_elements_text`.
fn json_list(pool: &Pool, n: usize, alias: &str) -> String {
    if pool.is_postgres() {
        format!("json_array_elements_text(${n}::json) AS {alias}(value)")
    } else {
        format!("json_each(${n}) AS {alias}")
    }
}

/// Frees the claim `claim` of a run inside a transaction: claimable now.
pub async fn release_in(tx: &mut Tx, id: &str, claim: i64) -> sqlx::Result<()> {
    on_tx!(tx, |c| {
        sqlx::query(
            "UPDATE workflow_runs SET \"leaseOwner\" = NULL, \"leaseUntil\" = NULL WHERE id = $1 AND \"claimCount\" = $2",
        )
        .bind(id)
        .bind(claim)
        .execute(&mut *c)
        .await
        .map(|_| ())
    })
}

/// Hands back the claim `claim` of a run without moving it: claimable by any
/// host from `free_at` (now for a graceful stop; a little later after a
/// failure, so a run that keeps failing to commit does not spin).
pub async fn release(pool: &Pool, id: &str, claim: i64, free_at: Option<i64>) -> sqlx::Result<()> {
    on_pool!(pool, |p| {
        sqlx::query("UPDATE workflow_runs SET \"leaseOwner\" = NULL, \"leaseUntil\" = $1 WHERE id = $2 AND \"claimCount\" = $3")
        .bind(free_at)
        .bind(id)
        .bind(claim)
        .execute(p)
        .await
        .map(|_| ())
    })
}

/// A run a cancel ended.
#[derive(Debug, Clone)]
pub struct Cancelled {
    /// The run.
    pub id: String,
    /// Its workflow.
    pub workflow_id: String,
}

/// Cancels an unfinished run and the unfinished runs it started with
/// `call-workflow` (theirs too, and so on), and logs each, in one
/// transaction; empty when the run is unknown or already over. A cancel
/// takes each run from whoever drives it: its claim changes, so their next
/// write is refused. A child run cancelled on its own tells its parent.
pub async fn cancel(pool: &Pool, id: &str, log_id: &str, now: i64) -> sqlx::Result<Vec<Cancelled>> {
    let mut tx = pool.begin().await?;
    let mut done = Vec::new();
    let mut todo = vec![(id.to_owned(), log_id.to_owned())];
    while let Some((id, log_id)) = todo.pop() {
        type Row = (Option<String>, String, Option<String>, Option<i64>, Option<String>, Option<String>);
        let found: Option<Row> = on_tx!(&mut tx, |c| {
            sqlx::query_as(
                "UPDATE workflow_runs SET status = 'CANCELLED', \"finishedAt\" = $1, \"updatedAt\" = $1, \"wakeAt\" = NULL, \
                 \"leaseOwner\" = NULL, \"leaseUntil\" = NULL, \"claimCount\" = \"claimCount\" + 1 \
                 WHERE id = $2 AND status IN ('PENDING', 'RUNNING', 'WAITING') \
                 RETURNING \"currentStep\", \"workflowId\", \"concurrencyKey\", \"concurrencyLimit\", \"parentRunId\", \"parentStep\"",
            )
            .bind(now)
            .bind(&id)
            .fetch_optional(&mut *c)
            .await?
        });
        let Some((step, workflow_id, concurrency_key, concurrency_limit, parent, parent_step)) = found else {
            continue;
        };
        super::waits::clear(&mut tx, &id).await?;
        let slot = RunRow {
            workflow_id: workflow_id.clone(),
            concurrency_key,
            concurrency_limit,
            ..RunRow::named(&id)
        };
        fill_slots(&mut tx, &slot).await?;
        insert_run_log(&mut tx, &id, &log_id, step.as_deref().unwrap_or(""), "cancelled", None, now).await?;
        if let (Some(parent), Some(parent_step)) = (parent, parent_step) {
            let end =
                serde_json::json!({ "runId": id, "status": "CANCELLED", "vars": null, "error": "cancelled" });
            super::waits::deliver_child(&mut tx, &parent, &parent_step, &end, now).await?;
        }
        let children: Vec<String> = on_tx!(&mut tx, |c| {
            sqlx::query_scalar(
                "SELECT id FROM workflow_runs WHERE \"parentRunId\" = $1 AND status IN ('PENDING', 'RUNNING', 'WAITING') ORDER BY id",
            )
            .bind(&id)
            .fetch_all(&mut *c)
            .await?
        });
        todo.extend(children.into_iter().map(|child| (child, super::ids::new_id())));
        done.push(Cancelled { id, workflow_id });
    }
    tx.commit().await?;
    Ok(done)
}

/// Puts the FAILED run `run` back to PENDING at its failed step, with
/// `position` (its cursors reset), and logs `retried` at `seq`, in one
/// transaction; false when the run changed since `run` was read.
pub async fn reopen(
    pool: &Pool,
    run: &RunRow,
    position: &str,
    seq: i64,
    log_id: &str,
    now: i64,
) -> sqlx::Result<bool> {
    let mut tx = pool.begin().await?;
    let done = on_tx!(&mut tx, |c| {
        sqlx::query(
            "UPDATE workflow_runs SET status = 'PENDING', \"finishedAt\" = NULL, error = NULL, position = $1, \
             \"wakeAt\" = NULL, \"leaseOwner\" = NULL, \"leaseUntil\" = NULL, \"claimCount\" = \"claimCount\" + 1, \
             \"updatedAt\" = $2, queued = CASE WHEN \"concurrencyKey\" IS NULL THEN 0 ELSE 1 END \
             WHERE id = $3 AND status = 'FAILED' AND \"claimCount\" = $4",
        )
        .bind(position)
        .bind(now)
        .bind(&run.id)
        .bind(run.claim_count)
        .execute(&mut *c)
        .await?
        .rows_affected()
    });
    if done != 1 {
        return Ok(false);
    }
    // A retried run waits for a slot of its key like a new one.
    fill_slots(&mut tx, run).await?;
    let step = run.current_step.as_deref().unwrap_or("");
    insert_run_log(&mut tx, &run.id, log_id, step, "retried", Some(seq), now).await?;
    tx.commit().await?;
    Ok(true)
}

/// A run-level log row (cancel, retry) at `seq`, or after the last one.
async fn insert_run_log(
    tx: &mut Tx,
    run_id: &str,
    log_id: &str,
    step: &str,
    action: &str,
    seq: Option<i64>,
    now: i64,
) -> sqlx::Result<()> {
    on_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO workflow_run_logs (id, \"runId\", step, action, result, \"createdAt\", seq) \
         VALUES ($1, $2, $3, $4, '{}', $5, COALESCE($6, (SELECT COALESCE(MAX(seq), 0) + 1 FROM workflow_run_logs WHERE \"runId\" = $2)))",
    )
    .bind(log_id)
    .bind(run_id)
    .bind(step)
    .bind(action)
    .bind(now)
    .bind(seq)
    .execute(&mut *c)
    .await
    .map(|_| ())
    })
}
