//! Group commit: writes of many runs gathered into one transaction.
//!
//! Every step attempt is still recorded atomically (its log row and the run's
//! move are one unit: both or neither), but many attempts share one commit, so
//! the disk syncs once per batch instead of once per step.
//!
//! A batch first goes in whole, with its log rows in multi-row inserts. If
//! that fails, the batch goes again with each write in its own savepoint, so
//! a write that fails (a constraint, a trigger, a full disk for its row) fails
//! only its own run and the others commit.

use tokio::sync::{mpsc, oneshot};

use super::runs::{self, LogRow, RunRow};
use super::waits::{self, Delivered, WaitRow};
use super::{Pool, Tx, idempotency};

/// Most writes in one transaction.
const MAX_BATCH: usize = 512;

/// One durable write.
#[derive(Debug)]
pub enum Write {
    /// New runs, all or none, with the idempotency key of the request that
    /// started them.
    Start {
        /// The runs.
        runs: Vec<RunRow>,
        /// The key, when the request had one.
        key: Option<IdempotencyKey>,
        /// An event to deliver to the runs waiting for it, in the same unit.
        deliver: Option<std::sync::Arc<Deliver>>,
    },
    /// A run moved by the driver of its claim (`run.claim_count`), with the
    /// log rows of the move.
    Advance {
        /// New state of the run.
        run: Box<RunRow>,
        /// Rows to append.
        logs: Vec<LogRow>,
        /// What the move does to the run's waiting steps.
        waits: Vec<WaitOp>,
    },
}

/// A change to a run's waiting steps (`run_waits`), made with its move.
#[derive(Debug, Clone)]
pub enum WaitOp {
    /// A step starts waiting.
    Put(Box<WaitRow>),
    /// A `call-workflow` step starts waiting for the child run it starts.
    Call {
        /// Its wait, keyed by the child's id.
        wait: Box<WaitRow>,
        /// The child run, unclaimed.
        child: Box<RunRow>,
    },
    /// A step took its delivery and went on.
    Remove(String),
    /// A step gives up at its timeout: the move applies only if no delivery
    /// came meanwhile; otherwise nothing is written and the run is freed at
    /// once, for a driver to take the delivery.
    Expire(String),
    /// The run ended: none of its waits stay.
    Clear,
    /// The run goes to sleep with steps still waiting: wake it at once if a
    /// delivery came while it ran.
    Recheck,
}

/// An event delivered to waiting runs with the runs it starts; the
/// committer writes which waits it reached into `reached`.
#[derive(Debug)]
pub struct Deliver {
    /// The event's type.
    pub event_type: String,
    /// Its data.
    pub data: serde_json::Value,
    /// When it came, unix ms.
    pub now: i64,
    /// This host's lease owner id and the lease's end: the waiting runs
    /// reached are claimed for it in the same transaction.
    pub claim: (String, i64),
    /// Filled by the commit; read once it is acknowledged.
    pub reached: std::sync::Mutex<Vec<Delivered>>,
    /// The runs claimed for this host, to drive.
    pub claimed: std::sync::Mutex<Vec<RunRow>>,
}

/// An idempotency key to record with the runs it started.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    /// `event`, or `trigger:<workflowId>`.
    pub scope: String,
    /// The client's key.
    pub key: String,
    /// When the request came, unix ms.
    pub created_at: i64,
}

type Ack = oneshot::Sender<Result<bool, String>>;

/// Handle to the committer task.
#[derive(Clone, Debug)]
pub struct Committer {
    tx: mpsc::Sender<(Write, Ack)>,
}

impl Committer {
    /// Starts the committer task on `pool`.
    pub fn start(store: super::Store) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(4096);
        let task = tokio::spawn(run(store, rx));
        (Self { tx }, task)
    }

    /// Makes `write` durable. `Ok(true)` once committed; `Ok(false)` when an
    /// advance no longer applies (run cancelled, or claimed again elsewhere)
    /// and nothing was written; `Err` when this write could not be stored.
    pub async fn commit(&self, write: Write) -> Result<bool, String> {
        let (ack, done) = oneshot::channel();
        self.tx.send((write, ack)).await.map_err(|_| "the committer has stopped".to_owned())?;
        done.await.map_err(|_| "the committer has stopped".to_owned())?
    }
}

async fn run(store: super::Store, mut rx: mpsc::Receiver<(Write, Ack)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let started = std::time::Instant::now();
        let results = apply(store.pool(), &batch).await;
        crate::metrics::commit(batch.len(), started.elapsed());
        store.run_changed();
        for ((_, ack), result) in batch.drain(..).zip(results) {
            let _ = ack.send(result);
        }
    }
}

/// Applies a batch; one result per write.
async fn apply(pool: &Pool, batch: &[(Write, Ack)]) -> Vec<Result<bool, String>> {
    match apply_all(pool, batch).await {
        Ok(results) => results.into_iter().map(Ok).collect(),
        Err(e) => {
            tracing::warn!("group commit of {} writes failed ({e}); committing them one by one", batch.len());
            match apply_each(pool, batch).await {
                Ok(results) => results,
                Err(e) => {
                    tracing::error!("committing {} writes one by one failed: {e}", batch.len());
                    batch.iter().map(|_| Err(format!("database error: {e}"))).collect()
                }
            }
        }
    }
}

/// The fast path: the whole batch in one transaction, the moves in one
/// statement on PostgreSQL, the log rows of every write in a few multi-row
/// inserts after them. The transaction is all or nothing, so each move still
/// lands with its log rows.
async fn apply_all(pool: &Pool, batch: &[(Write, Ack)]) -> sqlx::Result<Vec<bool>> {
    let mut tx = pool.begin().await?;
    let mut results = vec![false; batch.len()];
    // New runs one by one; the moves together, in run order.
    let mut moves: Vec<(usize, &RunRow, &[LogRow], &[WaitOp])> = Vec::new();
    let mut expiring_logs: Vec<&LogRow> = Vec::new();
    for i in in_run_order(batch) {
        match &batch[i].0 {
            Write::Advance { run, logs, waits } if waits.iter().any(|w| matches!(w, WaitOp::Expire(_))) => {
                // Rare (a timeout): alone, so that a delivery can undo it.
                results[i] = advance_waiting(&mut tx, run, waits).await?;
                if results[i] {
                    expiring_logs.extend(logs);
                }
            }
            Write::Advance { run, logs, waits } => moves.push((i, run, logs, waits)),
            write @ Write::Start { .. } => results[i] = apply_one(&mut tx, write).await?.0,
        }
    }
    let runs_moved: Vec<&RunRow> = moves.iter().map(|(_, run, _, _)| *run).collect();
    let applied = runs::advance_many(&mut tx, &runs_moved).await?;
    let mut logs: Vec<&LogRow> = expiring_logs;
    for ((i, run, write_logs, waits), applied) in moves.into_iter().zip(applied) {
        if applied {
            logs.extend(write_logs);
            apply_waits(&mut tx, run, waits).await?;
        }
        results[i] = applied;
    }
    for chunk in logs.chunks(LOGS_PER_INSERT) {
        runs::insert_logs(&mut tx, chunk).await?;
    }
    tx.commit().await?;
    Ok(results)
}

/// The slow path after a failed batch: one transaction, each write in a
/// savepoint of its own, so only the writes that fail are lost.
async fn apply_each(pool: &Pool, batch: &[(Write, Ack)]) -> sqlx::Result<Vec<Result<bool, String>>> {
    let mut tx = pool.begin().await?;
    let mut results: Vec<Result<bool, String>> = vec![Ok(false); batch.len()];
    for i in in_run_order(batch) {
        let write = &batch[i].0;
        tx.execute("SAVEPOINT write").await?;
        let done = match apply_one(&mut tx, write).await {
            Ok((true, logs)) => {
                let logs: Vec<&LogRow> = logs.iter().collect();
                runs::insert_logs(&mut tx, &logs).await.map(|()| true)
            }
            other => other.map(|(applied, _)| applied),
        };
        if let Err(e) = &done {
            tracing::error!("a write of run `{}` failed: {e}", write.run_id());
            tx.execute("ROLLBACK TO SAVEPOINT write").await?;
        }
        tx.execute("RELEASE SAVEPOINT write").await?;
        results[i] = done.map_err(|e| format!("database error: {e}"));
    }
    tx.commit().await?;
    Ok(results)
}

/// The writes of a batch in the order of their run ids: transactions that
/// lock the same rows lock them in one order, so they cannot deadlock.
fn in_run_order(batch: &[(Write, Ack)]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..batch.len()).collect();
    order.sort_by(|a, b| batch[*a].0.run_id().cmp(batch[*b].0.run_id()));
    order
}

/// The run part of one write; returns whether it applied and its log rows.
async fn apply_one<'w>(tx: &mut Tx, write: &'w Write) -> sqlx::Result<(bool, &'w [LogRow])> {
    match write {
        Write::Start { runs: new, key, deliver } => {
            for run in new {
                runs::insert(tx, run).await?;
                if run.queued == 1 {
                    runs::fill_slots(tx, run).await?;
                }
            }
            if let Some(k) = key {
                let ids: Vec<&str> = new.iter().map(|r| r.id.as_str()).collect();
                let since = k.created_at - crate::engine::IDEMPOTENCY_WINDOW.as_millis() as i64;
                idempotency::insert(tx, &k.scope, &k.key, &ids, k.created_at, since).await?;
            }
            if let Some(d) = deliver {
                let claim = Some((d.claim.0.as_str(), d.claim.1));
                let (reached, claimed) =
                    waits::deliver_event(tx, &d.event_type, &d.data, d.now, claim).await?;
                *d.reached.lock().unwrap_or_else(|p| p.into_inner()) = reached;
                *d.claimed.lock().unwrap_or_else(|p| p.into_inner()) = claimed;
            }
            Ok((true, &[]))
        }
        Write::Advance { run, logs, waits } => {
            advance_waiting(tx, run, waits).await.map(|applied| (applied, logs.as_slice()))
        }
    }
}

/// One move with its wait changes; an expiry that finds its wait delivered
/// undoes the move and frees the run.
async fn advance_waiting(tx: &mut Tx, run: &RunRow, ops: &[WaitOp]) -> sqlx::Result<bool> {
    if !ops.iter().any(|w| matches!(w, WaitOp::Expire(_))) {
        let applied = runs::advance(tx, run).await?;
        if applied {
            apply_waits(tx, run, ops).await?;
        }
        return Ok(applied);
    }
    tx.execute("SAVEPOINT expire").await?;
    let mut applied = true;
    for op in ops {
        if let WaitOp::Expire(step) = op
            && !waits::expire(tx, &run.id, step).await?
        {
            applied = false;
        }
    }
    applied = applied && runs::advance(tx, run).await?;
    if applied {
        apply_waits(tx, run, ops).await?;
        tx.execute("RELEASE SAVEPOINT expire").await?;
        return Ok(true);
    }
    tx.execute("ROLLBACK TO SAVEPOINT expire").await?;
    tx.execute("RELEASE SAVEPOINT expire").await?;
    // Claimable now by any host, whose driver takes the delivery.
    runs::release_in(tx, &run.id, run.claim_count).await?;
    Ok(false)
}

/// The wait changes of an applied move (expiries were made before it), and
/// the slot of its concurrency key given on when it ended.
async fn apply_waits(tx: &mut Tx, run: &RunRow, ops: &[WaitOp]) -> sqlx::Result<()> {
    if run.status.is_final() && run.concurrency_key.is_some() {
        runs::fill_slots(tx, run).await?;
    }
    if run.status.is_final()
        && let (Some(parent), Some(step)) = (&run.parent_run_id, &run.parent_step)
    {
        let end = child_end(run);
        waits::deliver_child(tx, parent, step, &end, run.updated_at).await?;
    }
    for op in ops {
        match op {
            WaitOp::Put(row) => waits::put(tx, row).await?,
            WaitOp::Call { wait, child } => {
                waits::put(tx, wait).await?;
                runs::insert(tx, child).await?;
                if child.queued == 1 {
                    runs::fill_slots(tx, child).await?;
                }
            }
            WaitOp::Remove(step) => waits::remove(tx, &run.id, step).await?,
            WaitOp::Clear if run.status == crate::engine::machine::Status::Failed => {
                waits::clear_failed(tx, &run.id).await?
            }
            WaitOp::Clear => waits::clear(tx, &run.id).await?,
            WaitOp::Recheck => waits::wake_if_delivered(tx, &run.id, run.updated_at).await?,
            WaitOp::Expire(_) => {}
        }
    }
    Ok(())
}

/// What a child run's end tells its parent: its status, its `vars` (its
/// result) and its error.
fn child_end(run: &RunRow) -> serde_json::Value {
    let vars = serde_json::from_str::<serde_json::Value>(&run.context)
        .ok()
        .and_then(|mut context| context.get_mut("vars").map(serde_json::Value::take))
        .unwrap_or(serde_json::Value::Null);
    serde_json::json!({ "runId": run.id, "status": run.status.as_str(), "vars": vars, "error": run.error })
}

impl Write {
    fn run_id(&self) -> &str {
        match self {
            Write::Start { runs, .. } => runs.first().map_or("", |r| r.id.as_str()),
            Write::Advance { run, .. } => &run.id,
        }
    }
}

/// Log rows per multi-row insert (11 parameters each, well under SQLite's limit).
const LOGS_PER_INSERT: usize = 100;
