//! The `run_waits` table: one row per step waiting for the outside (an event,
//! a decision), and `wait_paths`, the event paths waiting runs look at.
//!
//! A delivery (an event, a decision) fills the row's `delivery` and wakes
//! the run; the run's driver then takes it and deletes the row. Both hold the
//! row's lock, so a delivery and a driver giving up at its timeout cannot
//! both win: the driver's conditional delete finds the row delivered and its
//! move is not applied (see `commit.rs`).

use sqlx::FromRow;

use super::{Pool, Tx};

/// `kind` of a `wait-for-event` row.
pub const EVENT: &str = "event";
/// `kind` of an `approval` row.
pub const APPROVAL: &str = "approval";
/// `kind` of a `call-workflow` row, whose `correlationKey` is the child run.
pub const CHILD: &str = "child";

/// A waiting step.
#[derive(Debug, Clone, PartialEq, FromRow)]
#[sqlx(rename_all = "camelCase")]
pub struct WaitRow {
    /// The run.
    pub run_id: String,
    /// The waiting step.
    pub step_id: String,
    /// [`EVENT`] or [`APPROVAL`].
    pub kind: String,
    /// The event type an event wait wants.
    pub event: Option<String>,
    /// Where in the event's data its correlation value is (`''`: any event of the type).
    pub event_path: String,
    /// The rendered correlation key (`''` with no correlation).
    pub correlation_key: String,
    /// An approval's rendered message.
    pub message: Option<String>,
    /// When the step began waiting, unix ms.
    pub created_at: i64,
    /// When it gives up, unix ms.
    pub expires_at: Option<i64>,
    /// JSON: the event's data, or the decision.
    pub delivery: Option<String>,
    /// When it was delivered, unix ms.
    pub delivered_at: Option<i64>,
}

const COLUMNS: &str = "\"runId\", \"stepId\", kind, event, \"eventPath\", \"correlationKey\", message, \"createdAt\", \"expiresAt\", delivery, \"deliveredAt\"";

/// The waits of one run.
pub async fn of_run(pool: &Pool, run_id: &str) -> sqlx::Result<Vec<WaitRow>> {
    let sql = format!("SELECT {COLUMNS} FROM run_waits WHERE \"runId\" = $1");
    on_pool!(pool, |p| sqlx::query_as(&sql).bind(run_id).fetch_all(p).await)
}

/// Records a step that starts waiting (again, after a move that was not applied).
pub async fn put(tx: &mut Tx, row: &WaitRow) -> sqlx::Result<()> {
    on_tx!(tx, |c| {
        sqlx::query(
            "INSERT INTO run_waits (\"runId\", \"stepId\", kind, event, \"eventPath\", \"correlationKey\", message, \"createdAt\", \"expiresAt\") \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (\"runId\", \"stepId\") DO UPDATE SET kind = $3, event = $4, \"eventPath\" = $5, \
               \"correlationKey\" = $6, message = $7, \"createdAt\" = $8, \"expiresAt\" = $9, delivery = NULL, \"deliveredAt\" = NULL",
        )
        .bind(&row.run_id)
        .bind(&row.step_id)
        .bind(&row.kind)
        .bind(&row.event)
        .bind(&row.event_path)
        .bind(&row.correlation_key)
        .bind(&row.message)
        .bind(row.created_at)
        .bind(row.expires_at)
        .execute(&mut *c)
        .await?;
        if let Some(event) = &row.event {
            sqlx::query(
                "INSERT INTO wait_paths (event, \"eventPath\") VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(event)
            .bind(&row.event_path)
            .execute(&mut *c)
            .await?;
        }
        Ok(())
    })
}

/// Deletes a wait that went on (delivered, or its step ended otherwise).
pub async fn remove(tx: &mut Tx, run_id: &str, step_id: &str) -> sqlx::Result<()> {
    on_tx!(tx, |c| {
        sqlx::query("DELETE FROM run_waits WHERE \"runId\" = $1 AND \"stepId\" = $2")
            .bind(run_id)
            .bind(step_id)
            .execute(&mut *c)
            .await
            .map(|_| ())
    })
}

/// Deletes a wait whose timeout passed, unless it was delivered meanwhile:
/// false then (the delivery wins).
pub async fn expire(tx: &mut Tx, run_id: &str, step_id: &str) -> sqlx::Result<bool> {
    on_tx!(tx, |c| {
        // The delete first: on PostgreSQL it waits for a delivery holding the
        // row and then sees it delivered; a read first would not.
        let deleted = sqlx::query(
            "DELETE FROM run_waits WHERE \"runId\" = $1 AND \"stepId\" = $2 AND \"deliveredAt\" IS NULL",
        )
        .bind(run_id)
        .bind(step_id)
        .execute(&mut *c)
        .await?
        .rows_affected();
        if deleted == 1 {
            return Ok(true);
        }
        let delivered: Option<i64> = sqlx::query_scalar(
            "SELECT \"deliveredAt\" FROM run_waits WHERE \"runId\" = $1 AND \"stepId\" = $2 AND \"deliveredAt\" IS NOT NULL",
        )
        .bind(run_id)
        .bind(step_id)
        .fetch_optional(&mut *c)
        .await?;
        Ok(delivered.is_none())
    })
}

/// Deletes every wait of a run that ended.
pub async fn clear(tx: &mut Tx, run_id: &str) -> sqlx::Result<()> {
    on_tx!(tx, |c| {
        sqlx::query("DELETE FROM run_waits WHERE \"runId\" = $1")
            .bind(run_id)
            .execute(&mut *c)
            .await
            .map(|_| ())
    })
}

/// Deletes the waits of a run that FAILED but those for its child runs:
/// the children go on, and a retry of the run takes up the same children
/// (and their ends, when they came meanwhile) instead of starting new ones.
pub async fn clear_failed(tx: &mut Tx, run_id: &str) -> sqlx::Result<()> {
    on_tx!(tx, |c| {
        sqlx::query("DELETE FROM run_waits WHERE \"runId\" = $1 AND kind <> 'child'")
            .bind(run_id)
            .execute(&mut *c)
            .await
            .map(|_| ())
    })
}

/// Wakes the WAITING run `run_id` now if one of its waits was delivered (it
/// went to sleep while a delivery came).
pub async fn wake_if_delivered(tx: &mut Tx, run_id: &str, now: i64) -> sqlx::Result<()> {
    on_tx!(tx, |c| {
        sqlx::query(
            "UPDATE workflow_runs SET \"wakeAt\" = $1 WHERE id = $2 AND status = 'WAITING' \
             AND EXISTS (SELECT 1 FROM run_waits WHERE \"runId\" = $2 AND \"deliveredAt\" IS NOT NULL)",
        )
        .bind(now)
        .bind(run_id)
        .execute(&mut *c)
        .await
        .map(|_| ())
    })
}

/// A wait a delivery reached.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
#[sqlx(rename_all = "camelCase")]
pub struct Delivered {
    /// The run.
    pub run_id: String,
    /// Its waiting step.
    pub step_id: String,
}

/// Delivers an event: every unfinished run with a `wait-for-event` step
/// waiting for `event_type` whose correlation value is the event's value
/// at its path gets `data`, and is woken. One index lookup per event path
/// waiting runs use for this type (a handful), never a scan of the waits.
pub async fn deliver_event(
    tx: &mut Tx,
    event_type: &str,
    data: &serde_json::Value,
    now: i64,
    claim: Option<(&str, i64)>,
) -> sqlx::Result<(Vec<Delivered>, Vec<super::runs::RunRow>)> {
    // On SQLite the first statement writes (a no-op), so that this
    // transaction is the one writer from its start: one that read first
    // could not become a writer once another connection had written.
    let paths_sql = if matches!(tx, Tx::Postgres(_)) {
        "SELECT \"eventPath\" FROM wait_paths WHERE event = $1"
    } else {
        "UPDATE wait_paths SET event = event WHERE event = $1 RETURNING \"eventPath\""
    };
    let paths: Vec<String> =
        on_tx!(tx, |c| sqlx::query_scalar(paths_sql).bind(event_type).fetch_all(&mut *c).await?);
    let text = data.to_string();
    let mut delivered = Vec::new();
    for path in paths {
        let key = if path.is_empty() {
            String::new()
        } else {
            match weft_core::flow::value_at(data, &path).and_then(weft_core::flow::key_text) {
                Some(key) => key,
                None => continue,
            }
        };
        let reached: Vec<Delivered> = on_tx!(tx, |c| {
            sqlx::query_as(
                "UPDATE run_waits SET delivery = $1, \"deliveredAt\" = $2 \
                 WHERE event = $3 AND \"eventPath\" = $4 AND \"correlationKey\" = $5 AND \"deliveredAt\" IS NULL \
                   AND EXISTS (SELECT 1 FROM workflow_runs r WHERE r.id = run_waits.\"runId\" AND r.status IN ('PENDING', 'RUNNING', 'WAITING')) \
                 RETURNING \"runId\", \"stepId\"",
            )
            .bind(&text)
            .bind(now)
            .bind(event_type)
            .bind(&path)
            .bind(&key)
            .fetch_all(&mut *c)
            .await?
        });
        delivered.extend(reached);
    }
    delivered.sort_by(|a, b| (&a.run_id, &a.step_id).cmp(&(&b.run_id, &b.step_id)));
    let claimed = match claim {
        Some((owner, lease_until)) => claim_delivered(tx, &delivered, owner, lease_until).await?,
        None => Vec::new(),
    };
    wake(tx, &delivered, now).await?;
    Ok((delivered, claimed))
}

/// Delivers a child run's end to the `call-workflow` wait `step` of its
/// parent, and wakes the parent; nothing when that wait is gone (the parent
/// ended, or was retried and called another child).
pub async fn deliver_child(
    tx: &mut Tx,
    parent: &str,
    step: &str,
    end: &serde_json::Value,
    now: i64,
) -> sqlx::Result<()> {
    let child = end["runId"].as_str().unwrap_or_default();
    if matches!(tx, Tx::Postgres(_)) {
        // The parent's run row first, then its wait: the order in which the
        // parent's own commits lock them, so the two cannot deadlock.
        on_tx!(tx, |c| {
            sqlx::query("SELECT id FROM workflow_runs WHERE id = $1 FOR UPDATE")
                .bind(parent)
                .execute(&mut *c)
                .await
                .map(|_| ())?
        });
    }
    let reached: Option<Delivered> = on_tx!(tx, |c| {
        sqlx::query_as(
            "UPDATE run_waits SET delivery = $1, \"deliveredAt\" = $2 \
             WHERE \"runId\" = $3 AND \"stepId\" = $4 AND kind = 'child' AND \"correlationKey\" = $5 AND \"deliveredAt\" IS NULL \
             RETURNING \"runId\", \"stepId\"",
        )
        .bind(end.to_string())
        .bind(now)
        .bind(parent)
        .bind(step)
        .bind(child)
        .fetch_optional(&mut *c)
        .await?
    });
    match reached {
        Some(delivered) => wake(tx, std::slice::from_ref(&delivered), now).await,
        None => Ok(()),
    }
}

/// Records a decision on the approval `step` of `run_id` (the only one
/// waiting when `step` is `None`). `Ok(None)`: no such approval waits.
pub async fn decide(
    pool: &Pool,
    run_id: &str,
    step: Option<&str>,
    decision: &serde_json::Value,
    now: i64,
) -> sqlx::Result<Result<Delivered, Undecided>> {
    let mut tx = pool.begin().await?;
    let waiting: Vec<String> = on_tx!(&mut tx, |c| {
        sqlx::query_scalar(
            "UPDATE run_waits SET \"createdAt\" = \"createdAt\" WHERE \"runId\" = $1 AND kind = 'approval' \
             AND \"deliveredAt\" IS NULL AND EXISTS (SELECT 1 FROM workflow_runs r WHERE r.id = run_waits.\"runId\" AND r.status IN ('PENDING', 'RUNNING', 'WAITING')) \
             RETURNING \"stepId\"",
        )
        .bind(run_id)
        .fetch_all(&mut *c)
        .await?
    });
    let chosen = match (step, waiting.as_slice()) {
        (Some(s), _) if waiting.iter().any(|w| w == s) => s.to_owned(),
        (None, [only]) => only.clone(),
        (None, [_, _, ..]) => return Ok(Err(Undecided::Ambiguous(waiting))),
        _ => return Ok(Err(Undecided::NotWaiting)),
    };
    on_tx!(&mut tx, |c| {
        sqlx::query(
            "UPDATE run_waits SET delivery = $1, \"deliveredAt\" = $2 WHERE \"runId\" = $3 AND \"stepId\" = $4",
        )
        .bind(decision.to_string())
        .bind(now)
        .bind(run_id)
        .bind(&chosen)
        .execute(&mut *c)
        .await
        .map(|_| ())?
    });
    let delivered = Delivered { run_id: run_id.to_owned(), step_id: chosen };
    wake(&mut tx, std::slice::from_ref(&delivered), now).await?;
    tx.commit().await?;
    Ok(Ok(delivered))
}

/// Why a decision was not recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undecided {
    /// The run has no approval step waiting (that one, when named).
    NotWaiting,
    /// Several approval steps wait: these; the decision must name one.
    Ambiguous(Vec<String>),
}

/// Wakes the runs of `delivered`: a WAITING one is due now; another is only
/// locked (by primary key: a status filter would make SQLite walk every
/// waiting run), so that its driver's next commit (which re-checks for
/// deliveries when it goes to sleep) comes after this one.
async fn wake(tx: &mut Tx, delivered: &[Delivered], now: i64) -> sqlx::Result<()> {
    let mut ids: Vec<&str> = delivered.iter().map(|d| d.run_id.as_str()).collect();
    ids.dedup();
    let list = if matches!(tx, Tx::Postgres(_)) {
        "json_array_elements_text($2::json) AS j(value)"
    } else {
        "json_each($2) AS j"
    };
    let sql = format!(
        "UPDATE workflow_runs SET \"wakeAt\" = CASE WHEN status = 'WAITING' THEN $1 ELSE \"wakeAt\" END \
         WHERE id IN (SELECT value FROM {list})"
    );
    for chunk in ids.chunks(500) {
        let list = serde_json::to_string(chunk).unwrap_or_else(|_| "[]".to_owned());
        on_tx!(tx, |c| sqlx::query(&sql).bind(now).bind(&list).execute(&mut *c).await.map(|_| ())?);
    }
    Ok(())
}

/// Claims the WAITING runs of `delivered` for `owner` in the delivering
/// transaction, so that this host drives them at once (no scheduler pass,
/// no claim transaction of its own); the others are woken by [`wake`].
/// (`status || ''` keeps SQLite from reading the runs by status, which
/// would walk every waiting run, instead of by id.)
async fn claim_delivered(
    tx: &mut Tx,
    delivered: &[Delivered],
    owner: &str,
    lease_until: i64,
) -> sqlx::Result<Vec<super::runs::RunRow>> {
    let mut ids: Vec<&str> = delivered.iter().map(|d| d.run_id.as_str()).collect();
    ids.dedup();
    let list = if matches!(tx, Tx::Postgres(_)) {
        "json_array_elements_text($3::json) AS j(value)"
    } else {
        "json_each($3) AS j"
    };
    let sql = format!(
        "UPDATE workflow_runs SET status = 'RUNNING', \"wakeAt\" = NULL, \"leaseOwner\" = $1, \"leaseUntil\" = $2, \
           \"claimCount\" = \"claimCount\" + 1 \
         WHERE id IN (SELECT value FROM {list}) AND status || '' = 'WAITING' RETURNING {}",
        super::runs::COLUMNS
    );
    let mut claimed = Vec::new();
    for chunk in ids.chunks(500) {
        let list = serde_json::to_string(chunk).unwrap_or_else(|_| "[]".to_owned());
        let rows: Vec<super::runs::RunRow> = on_tx!(tx, |c| sqlx::query_as(&sql)
            .bind(owner)
            .bind(lease_until)
            .bind(&list)
            .fetch_all(&mut *c)
            .await?);
        claimed.extend(rows);
    }
    Ok(claimed)
}

/// A pending approval, with what the inbox shows of its run.
#[derive(Debug, Clone, FromRow)]
#[sqlx(rename_all = "camelCase")]
pub struct PendingApproval {
    /// The run.
    pub run_id: String,
    /// The approval step.
    pub step_id: String,
    /// Its rendered message.
    pub message: Option<String>,
    /// Since when it waits, unix ms.
    pub created_at: i64,
    /// When it times out, unix ms.
    pub expires_at: Option<i64>,
    /// The run's workflow.
    pub workflow_id: String,
    /// Its name.
    pub workflow_name: String,
    /// When the run started, unix ms.
    pub started_at: i64,
}

/// Approvals waiting for a decision, oldest first (through the partial
/// index of undecided approvals).
pub async fn pending_approvals(pool: &Pool, limit: i64) -> sqlx::Result<Vec<PendingApproval>> {
    on_pool!(pool, |p| {
        sqlx::query_as(
            "SELECT a.\"runId\", a.\"stepId\", a.message, a.\"createdAt\", a.\"expiresAt\", \
                    r.\"workflowId\", w.name AS \"workflowName\", r.\"startedAt\" \
             FROM run_waits a JOIN workflow_runs r ON r.id = a.\"runId\" JOIN workflows w ON w.id = r.\"workflowId\" \
             WHERE a.kind = 'approval' AND a.\"deliveredAt\" IS NULL AND r.status IN ('PENDING', 'RUNNING', 'WAITING') \
             ORDER BY a.\"createdAt\", a.\"runId\" LIMIT $1",
        )
        .bind(limit)
        .fetch_all(p)
        .await
    })
}
