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

/// Applies a batch in one transaction; one result per write.
async fn apply(pool: &SqlitePool, batch: &[(Write, Ack)]) -> Vec<Result<bool, String>> {
    let fail_all = |e: sqlx::Error| {
        tracing::error!("group commit of {} writes failed: {e}", batch.len());
        batch.iter().map(|_| Err(format!("database error: {e}"))).collect()
    };
    let mut tx = match pool.begin().await {
        Ok(tx) => tx,
        Err(e) => return fail_all(e),
    };
    let mut results = Vec::with_capacity(batch.len());
    for (write, _) in batch {
        results.push(apply_one(&mut tx, write).await.map_err(|e| {
            tracing::error!("write failed: {e}");
            format!("database error: {e}")
        }));
    }
    match tx.commit().await {
        Ok(()) => results,
        Err(e) => fail_all(e),
    }
}

async fn apply_one(conn: &mut sqlx::SqliteConnection, write: &Write) -> sqlx::Result<bool> {
    match write {
        Write::Insert(run, logs) => {
            runs::insert(conn, run).await?;
            for log in logs {
                runs::insert_log(conn, log).await?;
            }
            Ok(true)
        }
        Write::Advance { run, owner, logs } => {
            // Savepoint: a failed log insert must not leave the run moved.
            sqlx::query("SAVEPOINT advance").execute(&mut *conn).await?;
            let result = async {
                if !runs::advance(conn, run, owner).await? {
                    return Ok(false);
                }
                for log in logs {
                    runs::insert_log(conn, log).await?;
                }
                Ok(true)
            }
            .await;
            match result {
                Ok(applied) => {
                    sqlx::query("RELEASE advance").execute(&mut *conn).await?;
                    Ok(applied)
                }
                Err(e) => {
                    sqlx::query("ROLLBACK TO advance").execute(&mut *conn).await?;
                    sqlx::query("RELEASE advance").execute(&mut *conn).await?;
                    Err(e)
                }
            }
        }
    }
}
