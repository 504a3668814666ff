//! The engine: starts runs from triggers, drives each run through the state
//! machine with the plugin runtime, records every move durably, and wakes
//! sleeping runs and cron workflows.
//!
//! A waiting run is a row with a wake time, not a task: the scheduler claims
//! due rows with one conditional update and only then spawns a task for them.
//!
//! Every claim of a run increments its fencing token (`claimCount`), and every
//! write of its driver is conditional on it, so a driver whose lease lapsed
//! and was claimed again cannot commit. Leases are renewed only for the runs
//! a live task of this host drives; a task that ends without settling its run
//! hands it back.

pub mod control;
pub use weft_core::{cron, definition, template};
mod executor;
pub mod lifecycle;
pub mod machine;
pub mod plugins;
pub mod retention;
mod scheduler;
pub mod status;
pub mod validate;
mod waits;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use thiserror::Error;
use tokio::sync::{Notify, Semaphore, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::runtime::Runtime;
use crate::store::Store;
use crate::store::commit::{Committer, Deliver, IdempotencyKey, Write};
use crate::store::ids::{new_id, now_ms};
use crate::store::runs::RunRow;
use crate::store::signals::Signal;
use crate::store::workflows::{self, WorkflowRow};
use crate::store::{idempotency, runs};
use definition::{StepDef, WorkflowLimits, WorkflowSpec};
use machine::{Position, Snapshot};
use status::{RunStatus, WorkflowStatus};
use validate::ResolvedTypes;

/// How long an idempotency key holds: a repeat within it returns the runs the
/// first request started.
pub const IDEMPOTENCY_WINDOW: Duration = Duration::from_secs(24 * 3600);

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
    /// How soon the scheduler looks again when runs are due but none could
    /// be claimed (this host's slots are full, or another host holds them).
    pub poll: Duration,
    /// Most runs moving at once on this host; more wait their turn.
    pub max_active: usize,
    /// How long finished runs (and read notifications) are kept; forever
    /// when `None`. A workflow's own `retention` wins for its runs.
    pub retention: Option<Duration>,
    /// How often the retention sweep runs.
    pub retention_sweep: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            node_id: new_id(),
            lease: Duration::from_secs(10),
            poll: Duration::from_millis(50),
            max_active: 256,
            retention: None,
            retention_sweep: Duration::from_secs(60),
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
        status: WorkflowStatus,
    },
    /// The stored definition no longer validates (e.g. a plugin was removed).
    #[error("workflow `{0}` is not valid: {1}")]
    Invalid(String, String),
    /// The event cannot start a run of this workflow (its concurrency key
    /// renders to nothing from it).
    #[error("{0}")]
    BadEvent(String),
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
    /// Cancelled when the host stops: no more claims, streams end, drivers
    /// hand their runs back after the step in flight.
    pub(crate) shutdown: CancellationToken,
    /// Cancelled once every driver has ended: stops the lease keeper.
    pub(crate) drained: CancellationToken,
    pub(crate) wake: Notify,
    /// The runs this host's tasks drive, each with the token that interrupts
    /// its step in flight (a cancel).
    pub(crate) driving: std::sync::Mutex<HashMap<String, CancellationToken>>,
    watchers: std::sync::Mutex<HashMap<String, Vec<oneshot::Sender<Settled>>>>,
}

/// What a trigger started.
#[derive(Debug, Clone)]
pub struct Started {
    /// The runs, in start order.
    pub runs: Vec<RunRow>,
    /// Whether an earlier request with the same idempotency key started them.
    pub replayed: bool,
    /// The waiting steps an event was delivered to, by run id.
    pub delivered: Vec<crate::store::waits::Delivered>,
}

impl Engine {
    /// Starts the engine: the committer, the scheduler and the lease keeper.
    pub fn start(store: Store, runtime: Arc<Runtime>, config: EngineConfig) -> Arc<Self> {
        let (committer, _task) = Committer::start(store.clone());
        let engine = Arc::new(Self {
            store,
            runtime,
            committer,
            templates: template::Templates::default(),
            slots: Arc::new(Semaphore::new(config.max_active)),
            config,
            tasks: TaskTracker::new(),
            shutdown: CancellationToken::new(),
            drained: CancellationToken::new(),
            wake: Notify::new(),
            driving: Default::default(),
            watchers: Default::default(),
        });
        scheduler::spawn(engine.clone());
        engine.tasks.spawn(engine.clone().follow_signals());
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
        self.start_run_watched(workflow, event, false, None).await.map(|(started, _)| started.runs[0].clone())
    }

    /// Like [`Engine::start_run`]; with `watch`, also returns a receiver that
    /// resolves when this host stops driving the run: it ended, went to sleep,
    /// or was handed over. With `key`, a repeat of the key for this workflow
    /// within [`IDEMPOTENCY_WINDOW`] returns the run already started.
    pub async fn start_run_watched(
        self: &Arc<Self>,
        workflow: &WorkflowRow,
        event: Value,
        watch: bool,
        key: Option<&str>,
    ) -> Result<(Started, Option<oneshot::Receiver<Settled>>), EngineError> {
        let scope = format!("trigger:{}", workflow.id);
        if let Some(key) = key
            && let Some(started) = self.replay(&scope, key).await?
        {
            return Ok((started, None));
        }
        let (run, snapshot) = self.prepare_run(workflow, event)?;
        let key = key.map(|key| IdempotencyKey { scope, key: key.to_owned(), created_at: run.started_at });
        let receiver = watch.then(|| self.watch(&run.id));
        match self.commit_start(vec![run.clone()], key.clone()).await {
            Ok(()) => {}
            Err(e) => {
                self.settled(&run.id, None);
                return match key.as_ref().map(|k| self.replay(&k.scope, &k.key)) {
                    Some(replay) => replay.await?.map(|s| (s, None)).ok_or(e),
                    None => Err(e),
                };
            }
        }
        self.launch(run.clone(), snapshot);
        Ok((Started { runs: vec![run], replayed: false, delivered: Vec::new() }, receiver))
    }

    /// The runs an earlier request with `key` started, if within the window.
    async fn replay(&self, scope: &str, key: &str) -> Result<Option<Started>, EngineError> {
        let since = now_ms() as i64 - IDEMPOTENCY_WINDOW.as_millis() as i64;
        let Some(ids) = idempotency::find(self.store.pool(), scope, key, since).await? else {
            return Ok(None);
        };
        let mut runs = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(run) = runs::get(self.store.pool(), &id).await? {
                runs.push(run);
            }
        }
        Ok(Some(Started { runs, replayed: true, delivered: Vec::new() }))
    }

    /// Inserts runs (and their idempotency key) in one unit: all or none.
    async fn commit_start(&self, runs: Vec<RunRow>, key: Option<IdempotencyKey>) -> Result<(), EngineError> {
        self.commit_start_delivering(runs, key, None).await
    }

    /// [`Engine::commit_start`], delivering an event in the same unit.
    async fn commit_start_delivering(
        &self,
        runs: Vec<RunRow>,
        key: Option<IdempotencyKey>,
        deliver: Option<Arc<Deliver>>,
    ) -> Result<(), EngineError> {
        let workflows: Vec<String> = runs.iter().map(|r| r.workflow_id.clone()).collect();
        self.committer.commit(Write::Start { runs, key, deliver }).await.map_err(EngineError::Store)?;
        for workflow in &workflows {
            crate::metrics::run_started(workflow);
        }
        Ok(())
    }

    fn watch(&self, run_id: &str) -> oneshot::Receiver<Settled> {
        let (tx, rx) = oneshot::channel();
        self.watchers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(run_id.to_owned())
            .or_default()
            .push(tx);
        rx
    }

    /// The row of a new run of `workflow`, held by this host (its first
    /// claim), and the snapshot it runs.
    pub(crate) fn prepare_run(
        &self,
        workflow: &WorkflowRow,
        event: Value,
    ) -> Result<(RunRow, Snapshot), EngineError> {
        if !matches!(workflow.status, WorkflowStatus::Draft | WorkflowStatus::Active) {
            return Err(EngineError::NotTriggerable { id: workflow.id.clone(), status: workflow.status });
        }
        let invalid = |e: String| EngineError::Invalid(workflow.id.clone(), e);
        let steps: Vec<StepDef> =
            serde_json::from_str(&workflow.steps).map_err(|e| invalid(e.to_string()))?;
        let limits: WorkflowLimits = match &workflow.limits {
            Some(text) => serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?,
            None => WorkflowLimits::default(),
        };
        // ACTIVE workflows run the versions fixed at activation; drafts resolve now.
        let resolved: ResolvedTypes = match workflow.resolved_types.as_deref().map(serde_json::from_str) {
            Some(Ok(resolved)) if workflow.status == WorkflowStatus::Active => resolved,
            _ => {
                let spec = WorkflowSpec {
                    name: workflow.name.clone(),
                    description: None,
                    trigger: serde_json::from_str(&workflow.trigger).map_err(|e| invalid(e.to_string()))?,
                    steps: steps.clone(),
                    limits: Some(limits),
                    retention: None,
                    timeout: None,
                    concurrency: None,
                    layout: None,
                };
                self.validate(&spec).map_err(|errors| {
                    let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
                    invalid(list.join("; "))
                })?
            }
        };
        let snapshot = Snapshot {
            workflow_id: workflow.id.clone(),
            workflow_name: workflow.name.clone(),
            version: workflow.version,
            steps,
            resolved,
            max_steps: limits.max_steps,
            timeout: workflow.timeout.clone(),
        };
        let slot = match workflow.concurrency.as_deref() {
            None => None,
            Some(text) => {
                let c: weft_core::definition::Concurrency =
                    serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
                let key = match &c.key {
                    None => String::new(),
                    Some(template) => {
                        let value = self
                            .templates
                            .render(&json!(template), &json!({ "event": &event }), None)
                            .map_err(|e| EngineError::BadEvent(format!("field `concurrency.key`: {e}")))?;
                        weft_core::flow::key_text(&value).ok_or_else(|| {
                            EngineError::BadEvent(format!(
                                "field `concurrency.key` of the workflow rendered to {value} from this event; \
                                 a key must be a string, a number or a boolean"
                            ))
                        })?
                    }
                };
                if key.len() > weft_core::flow::MAX_KEY_BYTES {
                    return Err(EngineError::BadEvent(format!(
                        "field `concurrency.key` of the workflow rendered to {} bytes from this event, more than {}",
                        key.len(),
                        weft_core::flow::MAX_KEY_BYTES
                    )));
                }
                Some((key, i64::from(c.limit)))
            }
        };
        let now = now_ms() as i64;
        let position = Position::start(snapshot.steps.first());
        // A run with a concurrency key starts queued, unclaimed: the commit
        // that inserts it admits it if its key has a free slot.
        let leased = slot.is_none();
        let run = RunRow {
            id: new_id(),
            workflow_id: workflow.id.clone(),
            status: RunStatus::Pending,
            context: json!({ "event": event, "steps": {}, "vars": {} }).to_string(),
            current_step: position.top.step.clone(),
            started_at: now,
            finished_at: None,
            error: None,
            definition: serde_json::to_string(&snapshot).map_err(|e| EngineError::Store(e.to_string()))?,
            position: serde_json::to_string(&position).map_err(|e| EngineError::Store(e.to_string()))?,
            wake_at: None,
            lease_owner: leased.then(|| self.config.node_id.clone()),
            lease_until: leased.then(|| now + self.config.lease.as_millis() as i64),
            updated_at: now,
            claim_count: if leased { 1 } else { 0 },
            queued: i64::from(!leased),
            concurrency_limit: slot.as_ref().map(|(_, limit)| *limit),
            concurrency_key: slot.map(|(key, _)| key),
            parent_run_id: None,
            parent_step: None,
            call_depth: 0,
        };
        Ok((run, snapshot))
    }

    /// Drives a run this host just started; a run queued for a slot of its
    /// concurrency key is left to the schedulers, which claim it once admitted
    /// (perhaps at once: the commit that queued it may have admitted it).
    pub(crate) fn launch(self: &Arc<Self>, run: RunRow, snapshot: Snapshot) {
        if run.queued == 1 {
            self.nudge();
        } else {
            executor::spawn(self.clone(), run, Some(Arc::new(snapshot)));
        }
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
    /// the payload, in one unit: all the runs or none. With `key`, a repeat
    /// within [`IDEMPOTENCY_WINDOW`] returns the runs the first one started.
    pub async fn trigger_event(
        self: &Arc<Self>,
        event_type: &str,
        data: Value,
        key: Option<&str>,
    ) -> Result<Started, EngineError> {
        const SCOPE: &str = "event";
        if let Some(key) = key
            && let Some(started) = self.replay(SCOPE, key).await?
        {
            return Ok(started);
        }
        let listeners = workflows::listening(self.store.pool(), event_type).await?;
        let mut prepared = Vec::with_capacity(listeners.len());
        for workflow in &listeners {
            match self.prepare_run(workflow, data.clone()) {
                Ok(run) => prepared.push(run),
                // A listener whose definition no longer holds cannot run; the
                // others still start.
                Err(e) => {
                    tracing::warn!("event `{event_type}` did not start workflow `{}`: {e}", workflow.id)
                }
            }
        }
        let now = now_ms() as i64;
        let key =
            key.map(|key| IdempotencyKey { scope: SCOPE.to_owned(), key: key.to_owned(), created_at: now });
        let rows: Vec<RunRow> = prepared.iter().map(|(run, _)| run.clone()).collect();
        let deliver = Arc::new(Deliver {
            event_type: event_type.to_owned(),
            data,
            now,
            claim: (self.config.node_id.clone(), now + self.config.lease.as_millis() as i64),
            reached: Default::default(),
            claimed: Default::default(),
        });
        if let Err(e) = self.commit_start_delivering(rows.clone(), key.clone(), Some(deliver.clone())).await {
            // A concurrent request with the same key may have won.
            return match &key {
                Some(k) => self.replay(&k.scope, &k.key).await?.ok_or(e),
                None => Err(e),
            };
        }
        let delivered = std::mem::take(&mut *deliver.reached.lock().unwrap_or_else(|p| p.into_inner()));
        let claimed = std::mem::take(&mut *deliver.claimed.lock().unwrap_or_else(|p| p.into_inner()));
        if delivered.len() > claimed.len() {
            // Runs running elsewhere take their delivery when they sleep next.
            self.nudge();
        }
        for run in claimed {
            executor::spawn(self.clone(), run, None);
        }
        for (run, snapshot) in prepared {
            self.launch(run, snapshot);
        }
        Ok(Started { runs: rows, replayed: false, delivered })
    }

    /// Interrupts the step in flight of `run_id` if this host drives it (the
    /// run was cancelled): its result is dropped, nothing of it is recorded.
    pub fn interrupt(&self, run_id: &str) {
        if let Some(token) = self.driving.lock().unwrap_or_else(|p| p.into_inner()).get(run_id) {
            token.cancel();
        }
    }

    /// The ids of the runs this host's tasks drive, as a JSON list.
    pub(crate) fn driving_json(&self) -> String {
        let driving = self.driving.lock().unwrap_or_else(|p| p.into_inner());
        serde_json::to_string(&driving.keys().collect::<Vec<_>>()).unwrap_or_else(|_| "[]".to_owned())
    }

    /// Asks the schedulers of every host to look for due runs now (e.g.
    /// after a retry).
    pub fn nudge(&self) {
        self.wake.notify_one();
        self.store.signals().send(Signal::Wake);
    }

    /// Acts on what the other hosts of the database say: a wake makes the
    /// scheduler look for due runs, a cancel interrupts the step in flight
    /// of a run this host drives.
    async fn follow_signals(self: Arc<Self>) {
        use tokio::sync::broadcast::error::RecvError;
        let mut signals = self.store.signals().subscribe();
        loop {
            let signal = tokio::select! {
                _ = self.shutdown.cancelled() => return,
                signal = signals.recv() => signal,
            };
            match signal {
                Ok(Signal::Wake | Signal::Missed) | Err(RecvError::Lagged(_)) => self.wake.notify_one(),
                Ok(Signal::Cancel(id)) => self.interrupt(&id),
                Ok(_) => {}
                Err(RecvError::Closed) => return,
            }
        }
    }

    /// Stops claiming work at once and ends the live streams; every driver
    /// lets its step in flight finish and be recorded, then hands its run
    /// back. Returns when they all have; the lease keeper renews the leases of
    /// the runs still being driven until then.
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        self.tasks.close();
        self.tasks.wait().await;
        self.drained.cancel();
    }

    /// A token cancelled when the host begins to stop: long-lived responses
    /// (event streams) end on it.
    pub fn stopping(&self) -> CancellationToken {
        self.shutdown.clone()
    }
}
