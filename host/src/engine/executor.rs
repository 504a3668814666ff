//! Drives one run: plan, attempt the step in the runtime, apply the result,
//! commit the move (log row + run state in one unit), repeat until the run
//! sleeps, ends, is cancelled, or the host shuts down.

use std::sync::Arc;

use futures_util::future::join_all;
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::definition::{FOR_EACH, StepDef};
use super::machine::{Attempt, Plan, Position, RunState, Snapshot, Status, StepResult};
use super::{Engine, Settled};
use crate::runtime::{SecretScope, StepInput, StepReport};
use crate::store::commit::{WaitOp, Write};
use crate::store::ids::{new_id, now_ms};
use crate::store::runs::{self, LogRow, RunRow};
use crate::store::signals::Signal;
use weft_core::flow::CALL_WORKFLOW;

/// How long a run whose task failed stays unclaimed before any host may try
/// it again, ms: long enough that a run whose writes keep failing does not
/// spin, short enough that a passing fault costs little.
const RETRY_AFTER_FAILURE_MS: i64 = 1_000;

/// Spawns the task that drives `run`, whose claim `run.claim_count` this host
/// holds. `snapshot` saves parsing the definition when the caller has it.
pub(crate) fn spawn(engine: Arc<Engine>, run: RunRow, snapshot: Option<Arc<Snapshot>>) {
    let interrupt = CancellationToken::new();
    engine.driving.lock().unwrap_or_else(|p| p.into_inner()).insert(run.id.clone(), interrupt.clone());
    let tasks = engine.tasks.clone();
    // Everything logged while driving the run carries its ids.
    // At error level, so that it is there even when only errors are logged.
    let span = tracing::error_span!("run", run_id = %run.id, workflow_id = %run.workflow_id);
    let task = async move {
        let (id, claim) = (run.id.clone(), run.claim_count);
        let ended = match engine.slots.clone().acquire_owned().await {
            Ok(_slot) => drive(&engine, run, snapshot, &interrupt).await,
            Err(_) => Err("the engine stopped".to_owned()),
        };
        let settled = match ended {
            Ok(Ended::Settled(settled)) => Some(*settled),
            Ok(Ended::Gone) => None,
            Err(e) => {
                // Hand the run back (a no-op when the claim moved on). Should
                // this write fail too, the lease is no longer renewed: it lapses.
                tracing::error!("run stopped: {e}; handing it back");
                let free_at =
                    (!engine.shutdown.is_cancelled()).then(|| now_ms() as i64 + RETRY_AFTER_FAILURE_MS);
                if let Err(e) = runs::release(engine.store.pool(), &id, claim, free_at).await {
                    tracing::error!("handing the run back failed: {e}; its lease will lapse");
                }
                None
            }
        };
        engine.driving.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
        engine.settled(&id, settled);
    };
    tasks.spawn(task.instrument(span));
}

/// How driving a run ended.
enum Ended {
    /// It finished or went to sleep: the run as last committed, and the logs written.
    Settled(Box<Settled>),
    /// It is no longer this driver's: cancelled, claimed again elsewhere, or
    /// handed back at shutdown.
    Gone,
}

/// Drives the run until it settles or is gone; an error leaves it unsettled.
async fn drive(
    engine: &Engine,
    mut row: RunRow,
    snapshot: Option<Arc<Snapshot>>,
    interrupt: &CancellationToken,
) -> Result<Ended, String> {
    let snapshot = match snapshot {
        Some(s) => s,
        None => Arc::new(
            serde_json::from_str::<Snapshot>(&row.definition).map_err(|e| format!("definition: {e}"))?,
        ),
    };
    let mut state = RunState {
        status: if row.status.is_final() { row.status } else { Status::Running },
        context: serde_json::from_str(&row.context).map_err(|e| format!("context: {e}"))?,
        position: serde_json::from_str::<Position>(&row.position).map_err(|e| format!("position: {e}"))?,
        error: row.error.clone(),
        wake_at: row.wake_at.map(|t| t as u64),
        jitter_seed: RunState::seed_of(&row.id),
        deadline: None,
    };
    state.deadline = snapshot.deadline(state.position.retried_at.unwrap_or(row.started_at as u64));
    let has_waits = snapshot.has_engine_waits();
    let calls = has_waits && snapshot.has_calls() && state.position.attempts > 0;
    let mut waits = super::waits::load(engine, &row.id, &mut state.position, calls).await?;
    let mut wait_ops: Vec<WaitOp> = Vec::new();
    let mut written = Vec::new();
    loop {
        if engine.shutdown.is_cancelled() {
            runs::release(engine.store.pool(), &row.id, row.claim_count, None)
                .await
                .map_err(|e| e.to_string())?;
            // Handed back at once: the other hosts claim it now (sent before
            // the host exits).
            engine.store.signals().send_now(Signal::Wake).await;
            return Ok(Ended::Gone);
        }
        let now = now_ms();
        let (logs, stop) = match snapshot.plan(&mut state, now) {
            Plan::Run(attempts) => {
                let attempts: Vec<(StepDef, Option<usize>, u32)> =
                    attempts.iter().map(|a| (a.step.clone(), a.branch, a.attempt)).collect();
                let running = join_all(attempts.iter().map(|(step, branch, attempt)| {
                    let span = tracing::info_span!("step", step = %step.id, attempt = *attempt);
                    let (snapshot, row, state, waits) = (&snapshot, &row, &state, &waits);
                    async move {
                        let item = state.position.item_of(*branch);
                        if step.step_type == FOR_EACH {
                            let context = attempt_context(snapshot, row, state, step, *attempt, item);
                            return (super::waits::expand(engine, step, &context), None, None);
                        }
                        if weft_core::flow::is_engine_step(&step.step_type) {
                            let context = attempt_context(snapshot, row, state, step, *attempt, item);
                            let key = super::waits::key(&step.id, item);
                            if step.step_type == CALL_WORKFLOW && !waits.contains_key(&key) {
                                let (result, op) =
                                    super::waits::call(engine, row, step, &key, &context, now).await;
                                return (result, None, op);
                            }
                            let (result, op) =
                                super::waits::attempt(engine, &row.id, step, &key, &context, waits, now);
                            return (result, None, op);
                        }
                        let (result, report) =
                            attempt_step(engine, snapshot, row, state, step, *attempt, item, now).await;
                        (result, report, None)
                    }
                    .instrument(span)
                }));
                let results = tokio::select! {
                    biased;
                    _ = interrupt.cancelled() => {
                        tracing::info!("run was cancelled; its step in flight was interrupted");
                        return Ok(Ended::Gone);
                    }
                    results = running => results,
                };
                let now = now_ms();
                let mut logs = Vec::with_capacity(results.len());
                for ((step, branch, attempt), (result, report, op)) in attempts.iter().zip(results) {
                    let item = state.position.item_of(*branch);
                    let outcome = match &result {
                        StepResult::Ok(_) => "ok",
                        StepResult::Err { retryable: true, .. } => "retryable",
                        StepResult::Err { .. } => "error",
                        StepResult::Unavailable(_) => "unavailable",
                        StepResult::Suspend { .. } => "waiting",
                        StepResult::Expand { .. } => "ok",
                    };
                    if let Some(op) = op {
                        match &op {
                            WaitOp::Put(wait) | WaitOp::Call { wait, .. } => {
                                waits.insert(wait.step_id.clone(), (**wait).clone());
                            }
                            WaitOp::Remove(id) | WaitOp::Expire(id) => {
                                waits.remove(id);
                            }
                            WaitOp::Clear | WaitOp::Recheck => {}
                        }
                        wait_ops.push(op);
                    }
                    crate::metrics::step_attempt(&step.step_type, outcome, report.as_ref().map(|r| &r.usage));
                    let mut log_result = log_result(&result, report.as_ref());
                    if let (Some(i), Value::Object(map)) = (item, &mut log_result) {
                        map.insert("item".into(), json!(i));
                    }
                    let a = Attempt { step, branch: *branch, attempt: *attempt };
                    let action = snapshot.apply(&mut state, &a, result, now);
                    state.position.seq += 1;
                    logs.push(log_row(
                        &row.id,
                        &step.id,
                        action,
                        *attempt,
                        log_result,
                        report.as_ref(),
                        state.position.seq,
                        now,
                    ));
                }
                (logs, state.status != Status::Running)
            }
            // Claimed early, or every branch asleep: record the wait, let go.
            Plan::Sleep(_) | Plan::Finished => (Vec::new(), true),
        };
        let now = now_ms() as i64;
        row.status = state.status;
        row.context = state.context.to_string();
        row.position = serde_json::to_string(&state.position).map_err(|e| e.to_string())?;
        row.current_step = state.position.top.step.clone();
        row.error = state.error.clone();
        // A run asleep past its deadline wakes at the deadline, to fail then;
        // so does one waiting for the outside with no timeout of its own.
        state.wake_at = match (state.wake_at, state.deadline) {
            (Some(wake), Some(deadline)) => Some(wake.min(deadline)),
            (None, Some(deadline)) if state.status == Status::Waiting => Some(deadline),
            (wake, _) => wake,
        };
        if has_waits {
            if state.status.is_final() {
                wait_ops.push(WaitOp::Clear);
            } else if state.status == Status::Waiting && state.position.is_waiting() {
                wait_ops.push(WaitOp::Recheck);
            }
        }
        row.wake_at = state.wake_at.map(|t| t as i64);
        row.finished_at = state.status.is_final().then_some(now);
        row.updated_at = now;
        let holding = state.status == Status::Running;
        row.lease_owner = holding.then(|| engine.config.node_id.clone());
        row.lease_until = holding.then(|| now + engine.config.lease.as_millis() as i64);
        let calls: Vec<String> = wait_ops
            .iter()
            .filter_map(|op| match op {
                WaitOp::Call { child, .. } => Some(child.workflow_id.clone()),
                _ => None,
            })
            .collect();
        let applied = engine
            .committer
            .commit(Write::Advance {
                run: Box::new(row.clone()),
                logs: logs.clone(),
                waits: std::mem::take(&mut wait_ops),
            })
            .await?;
        if !applied {
            tracing::info!(
                "run was cancelled, claimed again elsewhere, or delivered to as it gave up; stopping"
            );
            // A run freed for its delivery is claimable at once.
            engine.wake.notify_one();
            return Ok(Ended::Gone);
        }
        written.extend(logs);
        if !calls.is_empty() {
            for workflow in &calls {
                crate::metrics::run_started(workflow);
            }
            // The child runs it started wait, unclaimed, for a scheduler.
            engine.nudge();
        }
        if row.status.is_final() {
            crate::metrics::run_finished(&row.workflow_id, row.status.as_str());
            // Its commit gave its slot to the next queued run, or woke its parent.
            if row.concurrency_key.is_some() || row.parent_run_id.is_some() {
                engine.nudge();
            }
        }
        if row.wake_at.is_some() {
            // The scheduler sleeps until the earliest wake it knows of.
            engine.wake.notify_one();
        }
        if stop {
            return Ok(Ended::Settled(Box::new(Settled { run: row, logs: written })));
        }
    }
}

/// The run context as an attempt sees it: the stored context with `run` and
/// `workflow` beside it, serialized from a borrow so that an attempt does not
/// copy the whole context (every earlier step's output) first.
struct AttemptContext<'a> {
    base: &'a Value,
    run: Value,
    workflow: Value,
    /// Inside a `for-each` body: the item, and the outputs of the item's
    /// earlier steps, which stand in for `steps.<id>`.
    each: Option<ItemView<'a>>,
}

struct ItemView<'a> {
    item: &'a Value,
    index: usize,
    scope: &'a Map<String, Value>,
}

/// The run's `steps` with an item's own outputs over them.
struct ScopedSteps<'a> {
    steps: &'a Value,
    scope: &'a Map<String, Value>,
}

impl serde::Serialize for ScopedSteps<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut out = serializer.serialize_map(None)?;
        if let Value::Object(map) = self.steps {
            for (key, value) in map.iter().filter(|(k, _)| !self.scope.contains_key(*k)) {
                out.serialize_entry(key, value)?;
            }
        }
        for (key, value) in self.scope {
            out.serialize_entry(key, value)?;
        }
        out.end()
    }
}

impl serde::Serialize for AttemptContext<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let Value::Object(map) = self.base else { return self.base.serialize(serializer) };
        let mut out = serializer.serialize_map(None)?;
        let own = |k: &str| matches!(k, "run" | "workflow" | "item" | "index");
        for (key, value) in map.iter().filter(|(k, _)| !own(k)) {
            match (&self.each, key.as_str()) {
                (Some(each), "steps") => {
                    out.serialize_entry(key, &ScopedSteps { steps: value, scope: each.scope })?
                }
                _ => out.serialize_entry(key, value)?,
            }
        }
        out.serialize_entry("run", &self.run)?;
        out.serialize_entry("workflow", &self.workflow)?;
        if let Some(each) = &self.each {
            out.serialize_entry("item", each.item)?;
            out.serialize_entry("index", &each.index)?;
        }
        out.end()
    }
}

/// What the templates of an attempt of `step` see.
fn attempt_context<'a>(
    snapshot: &Snapshot,
    row: &RunRow,
    state: &'a RunState,
    step: &StepDef,
    attempt: u32,
    item: Option<usize>,
) -> AttemptContext<'a> {
    let visit = state.position.visit(&step.id, item);
    let each = item.and_then(|index| {
        let each = state.position.each.as_ref()?;
        static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);
        Some(ItemView {
            item: each.items.get(index)?,
            index,
            scope: each.scopes.get(&index).unwrap_or(&EMPTY),
        })
    });
    AttemptContext {
        base: &state.context,
        run: json!({ "id": row.id, "startedAt": row.started_at, "attempt": attempt, "visit": visit }),
        workflow: json!({ "id": snapshot.workflow_id, "name": snapshot.workflow_name }),
        each,
    }
}

/// Renders the step's config, checks it, and runs the plugin.
#[allow(clippy::too_many_arguments)]
async fn attempt_step(
    engine: &Engine,
    snapshot: &Snapshot,
    row: &RunRow,
    state: &RunState,
    step: &StepDef,
    attempt: u32,
    item: Option<usize>,
    now: u64,
) -> (StepResult, Option<StepReport>) {
    let fail = |message: String| (StepResult::Err { message, retryable: false }, None);
    let plugin_id = snapshot.resolved.get(&step.step_type).map(String::as_str).unwrap_or(&step.step_type);
    let Some(plugin) = engine.runtime.registry().resolve(plugin_id) else {
        let message = format!("plugin `{plugin_id}` is not installed on this host");
        return (StepResult::Unavailable(message), None);
    };
    let context = attempt_context(snapshot, row, state, step, attempt, item);
    let secrets = SecretScope::new();
    let config = match engine.templates.render(&step.config, &context, Some(&secrets)) {
        Ok(config) => config,
        Err(e) => return fail(e),
    };
    if !secrets.is_empty() {
        let Some(vault) = engine.runtime.backends().secrets.clone() else {
            return fail("the config names secrets, and secrets are not configured on this host".to_owned());
        };
        match vault.missing(&secrets.names()).await {
            Ok(missing) if missing.is_empty() => {}
            Ok(missing) => {
                let names: Vec<String> = missing.iter().map(|n| format!("`{n}`")).collect();
                return fail(format!(
                    "the config names secret {}, which is not set on this host",
                    names.join(", ")
                ));
            }
            Err(e) => return (StepResult::Err { message: e, retryable: true }, None),
        }
    }
    let errors = plugin.validate_config(&config);
    if !errors.is_empty() {
        return fail(format!("config does not match the schema of `{}`: {}", plugin.id(), errors.join("; ")));
    }
    let input = StepInput {
        workflow_id: snapshot.workflow_id.clone(),
        run_id: row.id.clone(),
        step_id: step.id.clone(),
        attempt,
        now_ms: now,
        config: config.to_string(),
        context: match serde_json::to_string(&context) {
            Ok(text) => text,
            Err(e) => return fail(format!("run context cannot be encoded: {e}")),
        },
        secrets: Some(secrets.clone()),
    };
    let limits = step.limits.unwrap_or_default();
    let mut report = engine.runtime.run_step(&plugin, &input, &limits).await;
    redact_report(&secrets, &mut report);
    let result = match &report.result {
        Ok(outcome) => StepResult::Ok(outcome.clone()),
        Err(failure) => StepResult::Err {
            message: report.error_message().unwrap_or_else(|| failure.to_string()),
            retryable: failure.retryable(),
        },
    };
    tracing::debug!(
        plugin = %report.plugin,
        ok = report.result.is_ok(),
        fuel = report.usage.fuel,
        duration_us = report.usage.duration.as_micros() as u64,
        peak_memory_bytes = report.usage.peak_memory_bytes,
        "step attempt ended"
    );
    (result, Some(report))
}

/// Removes every secret value the attempt revealed from what it leaves
/// behind: a receiver may have echoed one into a place the capability did
/// not see, or a plugin may quote one in its error.
fn redact_report(secrets: &SecretScope, report: &mut StepReport) {
    match &mut report.result {
        Ok(outcome) => match outcome {
            crate::runtime::Outcome::Done(v) | crate::runtime::Outcome::SetVars(v) => secrets.redact_json(v),
            crate::runtime::Outcome::Branch { output, .. }
            | crate::runtime::Outcome::Sleep { output, .. } => secrets.redact_json(output),
        },
        // Redacted, then cut: a cut first could leave the start of a value.
        Err(failure) => failure.redact(|text| {
            crate::runtime::cap_message(secrets.redact(text).into_owned(), crate::runtime::MAX_ERROR_BYTES)
        }),
    }
    for line in &mut report.logs {
        line.message = secrets.redact(&line.message).into_owned();
    }
    report.stdout = secrets.redact(&report.stdout).into_owned();
    report.stderr = secrets.redact(&report.stderr).into_owned();
}

/// The `result` column of a log row: output or error, plugin logs and usage.
fn log_result(result: &StepResult, report: Option<&StepReport>) -> Value {
    let mut out = Map::new();
    match result {
        StepResult::Ok(outcome) => {
            out.insert("output".into(), outcome.output().clone());
            if let crate::runtime::Outcome::Branch { target, .. } = outcome {
                out.insert("target".into(), json!(target));
            }
            if let crate::runtime::Outcome::Sleep { until_ms, .. } = outcome {
                out.insert("until".into(), json!(until_ms));
            }
        }
        StepResult::Err { message, retryable } => {
            out.insert("error".into(), json!(message));
            out.insert("retryable".into(), json!(retryable));
        }
        StepResult::Unavailable(message) => {
            out.insert("error".into(), json!(message));
            out.insert("retryable".into(), json!(true));
        }
        StepResult::Suspend { note, .. } => {
            out.insert("waitingFor".into(), note.clone());
        }
        StepResult::Expand { items, concurrency } => {
            out.insert("output".into(), json!({ "items": items.len(), "concurrency": concurrency }));
        }
    }
    if let Some(report) = report {
        out.insert("plugin".into(), json!(report.plugin));
        if !report.logs.is_empty() {
            out.insert("logs".into(), json!(report.logs));
        }
        if !report.stdout.is_empty() {
            out.insert("stdout".into(), json!(report.stdout));
        }
        if !report.stderr.is_empty() {
            out.insert("stderr".into(), json!(report.stderr));
        }
    }
    Value::Object(out)
}

#[allow(clippy::too_many_arguments)]
fn log_row(
    run_id: &str,
    step: &str,
    action: &str,
    attempt: u32,
    result: Value,
    report: Option<&StepReport>,
    seq: u32,
    now: u64,
) -> LogRow {
    let usage = report.map(|r| r.usage).unwrap_or_default();
    LogRow {
        id: new_id(),
        run_id: run_id.to_owned(),
        step: step.to_owned(),
        action: action.to_owned(),
        result: result.to_string(),
        created_at: now as i64,
        seq: i64::from(seq),
        attempt: i64::from(attempt),
        fuel: usage.fuel as i64,
        duration_us: usage.duration.as_micros() as i64,
        peak_memory_bytes: usage.peak_memory_bytes as i64,
    }
}
