//! The engine: starts runs from triggers, drives each run through the state
//! machine with the plugin runtime, records every move durably, and wakes
//! sleeping runs and cron workflows.
//!
//! A waiting run is a row with a wake time, not a task: the scheduler claims
//! due rows with one conditional update and only then spawns a task for them.

pub mod cron;
pub mod definition;
mod executor;
pub mod machine;
pub mod plugins;
mod scheduler;
pub mod template;
pub mod validate;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use thiserror::Error;
use tokio::sync::{Notify, Semaphore, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::runtime::Runtime;
use crate::store::Store;
use crate::store::commit::{Committer, Write};
use crate::store::ids::{new_id, now_ms};
use crate::store::runs::RunRow;
use crate::store::workflows::{self, WorkflowRow};
use definition::{StepDef, WorkflowSpec};
use machine::{Position, Snapshot, Status};
use validate::ResolvedTypes;

/// A run as committed when this host stopped driving it, with the log rows
/// it wrote: what a synchronous trigger answers, without reading them back.
#[derive(Debug, Clone)]
pub struct Settled {
    /// The run.
    pub run: RunRow,
    /// Its log rows, in order.
    pub logs: Vec<crate::store::runs::LogRow>,
}

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// This host's id in leases.
    pub node_id: String,
    /// How long a claimed run stays this host's without renewal.
    pub lease: Duration,
    /// How often the scheduler looks for due runs and cron fires.
    pub poll: Duration,
    /// Most runs moving at once on this host; more wait their turn.
    pub max_active: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            node_id: new_id(),
            lease: Duration::from_secs(10),
            poll: Duration::from_millis(50),
            max_active: 256,
        }
    }
}

/// Why a run could not start.
#[derive(Debug, Error)]
pub enum EngineError {
    /// The workflow cannot start runs in its status.
    #[error("workflow `{id}` is {status} and cannot be triggered")]
    NotTriggerable {
        /// Workflow id.
        id: String,
        /// Its status.
        status: String,
    },
    /// The stored definition no longer validates (e.g. a plugin was removed).
    #[error("workflow `{0}` is not valid: {1}")]
    Invalid(String, String),
    /// Storage failed.
    #[error("storage error: {0}")]
    Store(String),
}

impl From<sqlx::Error> for EngineError {
    fn from(e: sqlx::Error) -> Self {
        EngineError::Store(e.to_string())
    }
}

/// The workflow engine of one host.
pub struct Engine {
    pub(crate) store: Store,
    pub(crate) runtime: Arc<Runtime>,
    pub(crate) committer: Committer,
    pub(crate) templates: template::Templates,
    pub(crate) config: EngineConfig,
    pub(crate) slots: Arc<Semaphore>,
    pub(crate) tasks: TaskTracker,
    pub(crate) shutdown: CancellationToken,
    pub(crate) wake: Notify,
    watchers: std::sync::Mutex<std::collections::HashMap<String, Vec<oneshot::Sender<Settled>>>>,
}

impl Engine {
    /// Starts the engine: the committer, the scheduler and the lease keeper.
    pub fn start(store: Store, runtime: Arc<Runtime>, config: EngineConfig) -> Arc<Self> {
        let (committer, _task) = Committer::start(store.pool().clone());
        let engine = Arc::new(Self {
            store,
            runtime,
            committer,
            templates: template::Templates::default(),
            slots: Arc::new(Semaphore::new(config.max_active)),
            config,
            tasks: TaskTracker::new(),
            shutdown: CancellationToken::new(),
            wake: Notify::new(),
            watchers: Default::default(),
        });
        scheduler::spawn(engine.clone());
        engine
    }

    /// The plugin runtime.
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// Validates a definition against the installed plugins.
    pub fn validate(&self, spec: &WorkflowSpec) -> Result<ResolvedTypes, Vec<validate::ValidationError>> {
        validate::validate(spec, self.runtime.registry(), self.runtime.limits())
    }

    /// Starts a run of `workflow` with `event` as its trigger payload. The run
    /// is durable when this returns.
    pub async fn start_run(
        self: &Arc<Self>,
        workflow: &WorkflowRow,
        event: Value,
    ) -> Result<RunRow, EngineError> {
        self.start_run_watched(workflow, event, false).await.map(|(run, _)| run)
    }

    /// Like [`Engine::start_run`]; with `watch`, also returns a receiver that
    /// resolves when this host stops driving the run: it ended, went to sleep,
    /// or was handed over.
    pub async fn start_run_watched(
        self: &Arc<Self>,
        workflow: &WorkflowRow,
        event: Value,
        watch: bool,
    ) -> Result<(RunRow, Option<oneshot::Receiver<Settled>>), EngineError> {
        if !matches!(workflow.status.as_str(), "DRAFT" | "ACTIVE") {
            return Err(EngineError::NotTriggerable {
                id: workflow.id.clone(),
                status: workflow.status.clone(),
            });
        }
        let steps: Vec<StepDef> = serde_json::from_str(&workflow.steps)
            .map_err(|e| EngineError::Invalid(workflow.id.clone(), e.to_string()))?;
        // ACTIVE workflows run the versions fixed at activation; drafts resolve now.
        let resolved: ResolvedTypes = match workflow.resolved_types.as_deref().map(serde_json::from_str) {
            Some(Ok(resolved)) if workflow.status == "ACTIVE" => resolved,
            _ => {
                let spec = WorkflowSpec {
                    name: workflow.name.clone(),
                    description: None,
                    trigger: serde_json::from_str(&workflow.trigger)
                        .map_err(|e| EngineError::Invalid(workflow.id.clone(), e.to_string()))?,
                    steps: steps.clone(),
                };
                self.validate(&spec).map_err(|errors| {
                    let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
                    EngineError::Invalid(workflow.id.clone(), list.join("; "))
                })?
            }
        };
        let snapshot = Snapshot {
            workflow_id: workflow.id.clone(),
            workflow_name: workflow.name.clone(),
            version: workflow.version,
            steps,
            resolved,
        };
        let now = now_ms() as i64;
        let position = Position::start(snapshot.steps.first());
        let run = RunRow {
            id: new_id(),
            workflow_id: workflow.id.clone(),
            status: Status::Pending.as_str().to_owned(),
            context: json!({ "event": event, "steps": {}, "vars": {} }).to_string(),
            current_step: position.top.step.clone(),
            started_at: now,
            finished_at: None,
            error: None,
            definition: serde_json::to_string(&snapshot).map_err(|e| EngineError::Store(e.to_string()))?,
            position: serde_json::to_string(&position).map_err(|e| EngineError::Store(e.to_string()))?,
            wake_at: None,
            lease_owner: Some(self.config.node_id.clone()),
            lease_until: Some(now + self.config.lease.as_millis() as i64),
            updated_at: now,
        };
        self.committer.commit(Write::Insert(run.clone(), Vec::new())).await.map_err(EngineError::Store)?;
        let settled = watch.then(|| {
            let (tx, rx) = oneshot::channel();
            self.watchers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(run.id.clone())
                .or_default()
                .push(tx);
            rx
        });
        executor::spawn(self.clone(), run.clone(), Some(Arc::new(snapshot)));
        Ok((run, settled))
    }

    /// Wakes whoever watches `run_id` (see [`Engine::start_run_watched`]).
    /// `settled` is the run as last committed with the log rows this host
    /// wrote for it, or `None` when driving it stopped on an error.
    pub(crate) fn settled(&self, run_id: &str, settled: Option<Settled>) {
        let senders = self.watchers.lock().unwrap_or_else(|p| p.into_inner()).remove(run_id);
        let Some(settled) = settled else { return };
        for tx in senders.into_iter().flatten() {
            let _ = tx.send(settled.clone());
        }
    }

    /// Starts every ACTIVE workflow listening for `event_type`, with `data` as
    /// the payload; returns the runs started.
    pub async fn trigger_event(
        self: &Arc<Self>,
        event_type: &str,
        data: Value,
    ) -> Result<Vec<RunRow>, EngineError> {
        let listeners = workflows::listening(self.store.pool(), event_type).await?;
        let mut runs = Vec::with_capacity(listeners.len());
        for workflow in listeners {
            match self.start_run(&workflow, data.clone()).await {
                Ok(run) => runs.push(run),
                Err(e) => {
                    tracing::warn!("event `{event_type}` did not start workflow `{}`: {e}", workflow.id)
                }
            }
        }
        Ok(runs)
    }

    /// Asks the scheduler to look for due runs now (e.g. after a retry).
    pub fn nudge(&self) {
        self.wake.notify_one();
    }

    /// Stops claiming work, lets every step in flight finish and be recorded
    /// (each run task awaits its own commit), and hands back the leases of
    /// unfinished runs.
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}
