//! Cancel and retry of runs: each is one write (the run's new state and its
//! log row in one transaction), and a cancel interrupts the step in flight
//! when this host drives the run.

use thiserror::Error;

use super::Engine;
use super::machine::Position;
use super::status::RunStatus;
use crate::store::ids::{new_id, now_ms};
use crate::store::runs::{self, RunRow};
use crate::store::signals::Signal;

/// Why a cancel or retry was refused.
#[derive(Debug, Error)]
pub enum ControlError {
    /// No such run.
    #[error("run `{0}` not found")]
    NotFound(String),
    /// The run's status does not allow it.
    #[error("run `{id}` is {status}; {what}")]
    WrongState {
        /// Run id.
        id: String,
        /// Its status.
        status: RunStatus,
        /// What would be allowed.
        what: &'static str,
    },
    /// Storage failed.
    #[error("storage error: {0}")]
    Store(#[from] sqlx::Error),
    /// The stored position does not decode.
    #[error("run `{0}` is corrupt: {1}")]
    Corrupt(String, String),
}

impl Engine {
    /// Cancels an unfinished run; the step in flight, if this host runs it, is
    /// interrupted and its result dropped (another host's driver finds its
    /// next write refused).
    pub async fn cancel_run(&self, id: &str) -> Result<(), ControlError> {
        let cancelled = runs::cancel(self.store.pool(), id, &new_id(), now_ms() as i64).await?;
        if !cancelled.is_empty() {
            self.store.run_changed();
            for run in &cancelled {
                crate::metrics::run_finished(&run.workflow_id, RunStatus::Cancelled.as_str());
                self.interrupt(&run.id);
                self.store.signals().send(Signal::Cancel(run.id.clone()));
            }
            // A slot given on, or a parent told its child was cancelled.
            self.nudge();
            return Ok(());
        }
        let run = self.run_row(id).await?;
        Err(ControlError::WrongState {
            id: id.to_owned(),
            status: run.status,
            what: "only an unfinished run can be cancelled",
        })
    }

    /// Resumes a FAILED run at its failed step, attempts counted afresh.
    pub async fn retry_run(&self, id: &str) -> Result<(), ControlError> {
        let run = self.run_row(id).await?;
        let wrong = |status| ControlError::WrongState {
            id: id.to_owned(),
            status,
            what: "only a FAILED run can be retried",
        };
        if run.status != RunStatus::Failed {
            return Err(wrong(run.status));
        }
        let corrupt = |e: serde_json::Error| ControlError::Corrupt(id.to_owned(), e.to_string());
        let mut position: Position = serde_json::from_str(&run.position).map_err(corrupt)?;
        position.reset_for_retry();
        position.retried_at = Some(now_ms());
        position.seq += 1;
        let encoded = serde_json::to_string(&position).map_err(corrupt)?;
        let now = now_ms() as i64;
        if !runs::reopen(self.store.pool(), &run, &encoded, i64::from(position.seq), &new_id(), now).await? {
            return Err(wrong(self.run_row(id).await?.status));
        }
        self.store.run_changed();
        self.nudge();
        Ok(())
    }

    async fn run_row(&self, id: &str) -> Result<RunRow, ControlError> {
        runs::get(self.store.pool(), id).await?.ok_or_else(|| ControlError::NotFound(id.to_owned()))
    }
}
