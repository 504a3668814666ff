//! Drives one run: plan, attempt the step in the runtime, apply the result,
//! commit the move (log row + run state in one unit), repeat until the run
//! sleeps, ends, is cancelled, or the host shuts down.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::definition::StepDef;
use super::machine::{Plan, Position, RunState, Snapshot, Status, StepResult};
use super::{Engine, Settled};
use crate::runtime::{StepInput, StepReport};
use crate::store::commit::Write;
use crate::store::ids::{new_id, now_ms};
use crate::store::runs::{self, LogRow, RunRow};

/// Spawns the task that drives `run`, which this host holds the lease of.
/// `snapshot` saves parsing the definition when the caller has it.
pub(crate) fn spawn(engine: Arc<Engine>, run: RunRow, snapshot: Option<Arc<Snapshot>>) {
    let tasks = engine.tasks.clone();
    tasks.spawn(async move {
        let Ok(_slot) = engine.slots.clone().acquire_owned().await else { return };
        let id = run.id.clone();
        let settled = match drive(&engine, run, snapshot).await {
            Ok(settled) => settled,
            Err(e) => {
                tracing::error!(run = %id, "run stopped: {e}");
                None
            }
        };
        engine.settled(&id, settled);
    });
}

/// Returns the run as last committed and the logs written, unless it was
/// cancelled, taken over or released.
async fn drive(
    engine: &Engine,
    mut row: RunRow,
    snapshot: Option<Arc<Snapshot>>,
) -> Result<Option<Settled>, String> {
    let snapshot = match snapshot {
        Some(s) => s,
        None => Arc::new(
            serde_json::from_str::<Snapshot>(&row.definition).map_err(|e| format!("definition: {e}"))?,
        ),
    };
    let mut state = RunState {
        status: Status::parse(&row.status).unwrap_or(Status::Running),
        context: serde_json::from_str(&row.context).map_err(|e| format!("context: {e}"))?,
        position: serde_json::from_str::<Position>(&row.position).map_err(|e| format!("position: {e}"))?,
        error: row.error.clone(),
        wake_at: row.wake_at.map(|t| t as u64),
    };
    let owner = engine.config.node_id.clone();
    let mut written = Vec::new();
    loop {
        if engine.shutdown.is_cancelled() {
            runs::release(engine.store.pool(), &row.id, &owner).await.map_err(|e| e.to_string())?;
            return Ok(None);
        }
        let now = now_ms();
        let (logs, stop) = match snapshot.plan(&mut state, now) {
            Plan::Run { step, branch, attempt } => {
                let step = step.clone();
                let (result, report) =
                    attempt_step(engine, &snapshot, &row, &state, &step, attempt, now).await;
                let log_result = log_result(&result, report.as_ref());
                let now = now_ms();
                let action = snapshot.apply(&mut state, &step, branch, attempt, result, now);
                state.position.seq += 1;
                let log = log_row(
                    &row.id,
                    &step.id,
                    action,
                    attempt,
                    log_result,
                    report.as_ref(),
                    state.position.seq,
                    now,
                );
                (vec![log], state.status != Status::Running)
            }
            // Claimed early, or every branch asleep: record the wait, let go.
            Plan::Sleep(_) | Plan::Finished => (Vec::new(), true),
        };
        let now = now_ms() as i64;
        row.status = state.status.as_str().to_owned();
        row.context = state.context.to_string();
        row.position = serde_json::to_string(&state.position).map_err(|e| e.to_string())?;
        row.current_step = state.position.top.step.clone();
        row.error = state.error.clone();
        row.wake_at = state.wake_at.map(|t| t as i64);
        row.finished_at = state.status.is_final().then_some(now);
        row.updated_at = now;
        let holding = state.status == Status::Running;
        row.lease_owner = holding.then(|| owner.clone());
        row.lease_until = holding.then(|| now + engine.config.lease.as_millis() as i64);
        let applied = engine
            .committer
            .commit(Write::Advance { run: row.clone(), owner: owner.clone(), logs: logs.clone() })
            .await?;
        if !applied {
            tracing::info!(run = %row.id, "run was cancelled or taken over; stopping");
            return Ok(None);
        }
        written.extend(logs);
        if stop {
            return Ok(Some(Settled { run: row, logs: written }));
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
}

impl serde::Serialize for AttemptContext<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let Value::Object(map) = self.base else { return self.base.serialize(serializer) };
        let mut out = serializer.serialize_map(None)?;
        for (key, value) in map.iter().filter(|(k, _)| !matches!(k.as_str(), "run" | "workflow")) {
            out.serialize_entry(key, value)?;
        }
        out.serialize_entry("run", &self.run)?;
        out.serialize_entry("workflow", &self.workflow)?;
        out.end()
    }
}

/// Renders the step's config, checks it, and runs the plugin.
async fn attempt_step(
    engine: &Engine,
    snapshot: &Snapshot,
    row: &RunRow,
    state: &RunState,
    step: &StepDef,
    attempt: u32,
    now: u64,
) -> (StepResult, Option<StepReport>) {
    let fail = |message: String| (StepResult::Err { message, retryable: false }, None);
    let plugin_id = snapshot.resolved.get(&step.step_type).map(String::as_str).unwrap_or(&step.step_type);
    let Some(plugin) = engine.runtime.registry().resolve(plugin_id) else {
        return fail(format!("plugin `{plugin_id}` is not installed"));
    };
    let context = AttemptContext {
        base: &state.context,
        run: json!({ "id": row.id, "startedAt": row.started_at, "attempt": attempt }),
        workflow: json!({ "id": snapshot.workflow_id, "name": snapshot.workflow_name }),
    };
    let config = match engine.templates.render(&step.config, &context) {
        Ok(config) => config,
        Err(e) => return fail(e),
    };
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
    };
    let limits = step.limits.unwrap_or_default();
    let report = engine.runtime.run_step(&plugin, &input, &limits).await;
    let result = match &report.result {
        Ok(outcome) => StepResult::Ok(outcome.clone()),
        Err(failure) => StepResult::Err {
            message: report.error_message().unwrap_or_else(|| failure.to_string()),
            retryable: failure.retryable(),
        },
    };
    (result, Some(report))
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
