//! Group commit: writes of many runs gathered into one SQLite transaction.
//!
//! Every step attempt is still recorded atomically (its log row and the run's
//! move are one unit: both or neither), but many attempts share one commit, so
//! the disk syncs once per batch instead of once per step.

use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};

use super::runs::{self, LogRow, RunRow};

/// Most writes in one transaction.
const MAX_BATCH: usize = 512;

/// One durable write.
#[derive(Debug)]
pub enum Write {
    /// A new run, and its first log rows.
    Insert(RunRow, Vec<LogRow>),
    /// A run moved by `owner`, with the log rows of the move.
    Advance {
        /// New state of the run.
        run: RunRow,
        /// The host holding the lease.
        owner: String,
        /// Rows to append.
        logs: Vec<LogRow>,
    },
}

type Ack = oneshot::Sender<Result<bool, String>>;

/// Handle to the committer task.
#[derive(Clone, Debug)]
pub struct Committer {
    tx: mpsc::Sender<(Write, Ack)>,
}

impl Committer {
    /// Starts the committer task on `pool`.
    pub fn start(pool: SqlitePool) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(4096);
        let task = tokio::spawn(run(pool, rx));
        (Self { tx }, task)
    }

    /// Makes `write` durable. `Ok(true)` once committed; `Ok(false)` when an
    /// advance no longer applies (run cancelled or lease lost) and nothing was
    /// written.
    pub async fn commit(&self, write: Write) -> Result<bool, String> {
        let (ack, done) = oneshot::channel();
        self.tx.send((write, ack)).await.map_err(|_| "the committer has stopped".to_owned())?;
        done.await.map_err(|_| "the committer has stopped".to_owned())?
    }
}

async fn run(pool: SqlitePool, mut rx: mpsc::Receiver<(Write, Ack)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let results = apply(&pool, &batch).await;
        for ((_, ack), result) in batch.drain(..).zip(results) {
            let _ = ack.send(result);
        }
    }
}

/// Applies a batch in one transaction; one result per write. The log rows of
/// the whole batch go in a few multi-row inserts after the run updates: the
/// transaction is all or nothing, so each move still lands with its log rows.
async fn apply(pool: &SqlitePool, batch: &[(Write, Ack)]) -> Vec<Result<bool, String>> {
    match apply_all(pool, batch).await {
        Ok(results) => results.into_iter().map(Ok).collect(),
        Err(e) => {
            tracing::error!("group commit of {} writes failed: {e}", batch.len());
            batch.iter().map(|_| Err(format!("database error: {e}"))).collect()
        }
    }
}

async fn apply_all(pool: &SqlitePool, batch: &[(Write, Ack)]) -> sqlx::Result<Vec<bool>> {
    let mut tx = pool.begin().await?;
    let mut results = Vec::with_capacity(batch.len());
    let mut logs: Vec<&LogRow> = Vec::new();
    for (write, _) in batch {
        let applied = match write {
            Write::Insert(run, run_logs) => {
                runs::insert(&mut tx, run).await?;
                logs.extend(run_logs);
                true
            }
            Write::Advance { run, owner, logs: run_logs } => {
                let applied = runs::advance(&mut tx, run, owner).await?;
                if applied {
                    logs.extend(run_logs);
                }
                applied
            }
        };
        results.push(applied);
    }
    for chunk in logs.chunks(LOGS_PER_INSERT) {
        runs::insert_logs(&mut tx, chunk).await?;
    }
    tx.commit().await?;
    Ok(results)
}

/// Log rows per multi-row insert (11 parameters each, well under SQLite's limit).
const LOGS_PER_INSERT: usize = 100;
