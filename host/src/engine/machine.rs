//! The run state machine, free of I/O: given a run's definition snapshot and
//! state, what runs next, and how a step's result moves the run.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::definition::{END, PARALLEL, StepDef};
use super::validate::ResolvedTypes;
use crate::runtime::Outcome;

/// What a run carries from the workflow it started with: edits to the
/// workflow never reach runs in flight.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// The workflow.
    pub workflow_id: String,
    /// Its name then.
    pub workflow_name: String,
    /// Its version then.
    pub version: i64,
    /// The steps.
    pub steps: Vec<StepDef>,
    /// Step type → `name@version`, fixed when the run started.
    pub resolved: ResolvedTypes,
}

/// Where one thread of a run stands.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cursor {
    /// The step to attempt; `None` when finished.
    pub step: Option<String>,
    /// Its attempt number, from 1.
    pub attempt: u32,
    /// Not before this time (a sleep or a retry backoff), unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wake_at: Option<u64>,
}

/// A run's position: the top-level cursor and, while a parallel step runs,
/// one cursor per branch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Position {
    /// The top-level cursor.
    #[serde(flatten)]
    pub top: Cursor,
    /// Branch cursors of the current parallel step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub branches: Vec<Cursor>,
    /// Number of log rows written so far.
    #[serde(default)]
    pub seq: u32,
    /// The branch whose turn is next: branches take turns step by step.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub turn: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Position {
    /// The start of a run.
    pub fn start(first: Option<&StepDef>) -> Self {
        Self {
            top: Cursor { step: first.map(|s| s.id.clone()), attempt: 1, wake_at: None },
            ..Self::default()
        }
    }

    /// Resets attempts and waits of unfinished cursors, to retry a failed run.
    pub fn reset_for_retry(&mut self) {
        for cursor in std::iter::once(&mut self.top).chain(self.branches.iter_mut()) {
            if cursor.step.is_some() {
                cursor.attempt = 1;
                cursor.wake_at = None;
            }
        }
    }
}

/// Status of a run, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Created, nothing attempted.
    Pending,
    /// Moving.
    Running,
    /// Sleeping until a time.
    Waiting,
    /// Reached the end.
    Completed,
    /// Failed for good.
    Failed,
    /// Cancelled.
    Cancelled,
}

impl Status {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::Running => "RUNNING",
            Status::Waiting => "WAITING",
            Status::Completed => "COMPLETED",
            Status::Failed => "FAILED",
            Status::Cancelled => "CANCELLED",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "PENDING" => Status::Pending,
            "RUNNING" => Status::Running,
            "WAITING" => Status::Waiting,
            "COMPLETED" => Status::Completed,
            "FAILED" => Status::Failed,
            "CANCELLED" => Status::Cancelled,
            _ => return None,
        })
    }

    /// Whether the run is over.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Completed | Status::Failed | Status::Cancelled)
    }
}

/// The mutable part of a run.
#[derive(Debug, Clone)]
pub struct RunState {
    /// Status.
    pub status: Status,
    /// `{ event, steps, vars }`.
    pub context: Value,
    /// Cursors.
    pub position: Position,
    /// Why it failed.
    pub error: Option<String>,
    /// When a WAITING run is due.
    pub wake_at: Option<u64>,
}

/// What to do next.
#[derive(Debug, PartialEq)]
pub enum Plan<'a> {
    /// Attempt this step (in this branch of the current parallel step).
    Run {
        /// The step.
        step: &'a StepDef,
        /// Branch index inside the current parallel step.
        branch: Option<usize>,
        /// Attempt number.
        attempt: u32,
    },
    /// Nothing to do before this time.
    Sleep(u64),
    /// The run is over.
    Finished,
}

/// A step's result as the machine sees it.
#[derive(Debug, Clone)]
pub enum StepResult {
    /// The plugin's outcome.
    Ok(Outcome),
    /// A failure, with whether a retry may help.
    Err {
        /// Message for the run log and the run error.
        message: String,
        /// Whether the retry policy applies.
        retryable: bool,
    },
}

impl Snapshot {
    fn top_index(&self, id: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.id == id)
    }

    fn list(&self, branch: Option<(usize, usize)>) -> &[StepDef] {
        match branch {
            None => &self.steps,
            Some((p, b)) => {
                self.steps[p].branches.as_ref().and_then(|bs| bs.get(b)).map_or(&[], Vec::as_slice)
            }
        }
    }

    /// Decides what runs next, first settling the run (starting or finishing
    /// parallel steps, deriving status and wake time).
    pub fn plan(&self, state: &mut RunState, now: u64) -> Plan<'_> {
        self.settle(state, now);
        if state.status.is_final() {
            return Plan::Finished;
        }
        let Some(p) = state.position.top.step.as_deref().and_then(|id| self.top_index(id)) else {
            return Plan::Finished;
        };
        let top = &self.steps[p];
        if top.step_type == PARALLEL {
            let n = state.position.branches.len();
            for b in (0..n).map(|i| (state.position.turn + i) % n) {
                let cursor = &state.position.branches[b];
                if let Some(id) = &cursor.step
                    && cursor.wake_at.is_none_or(|t| t <= now)
                    && let Some(step) = self.list(Some((p, b))).iter().find(|s| &s.id == id)
                {
                    return Plan::Run { step, branch: Some(b), attempt: cursor.attempt };
                }
            }
            return state.wake_at.map_or(Plan::Finished, Plan::Sleep);
        }
        match state.position.top.wake_at {
            Some(t) if t > now => Plan::Sleep(t),
            _ => Plan::Run { step: top, branch: None, attempt: state.position.top.attempt },
        }
    }

    /// Brings status, parallel cursors and the wake time in line with the position.
    pub fn settle(&self, state: &mut RunState, now: u64) {
        loop {
            if state.status.is_final() {
                state.wake_at = None;
                return;
            }
            let Some(id) = state.position.top.step.clone() else {
                state.status = Status::Completed;
                state.wake_at = None;
                return;
            };
            let Some(p) = self.top_index(&id) else {
                self.fail(state, format!("step `{id}` is not in the run's definition"));
                return;
            };
            let top = &self.steps[p];
            if top.step_type != PARALLEL {
                state.wake_at = state.position.top.wake_at.filter(|t| *t > now);
                state.status = if state.wake_at.is_some() { Status::Waiting } else { Status::Running };
                return;
            }
            if state.position.branches.is_empty() {
                let branches = top.branches.as_deref().unwrap_or(&[]);
                state.position.branches = branches
                    .iter()
                    .map(|b| Cursor { step: b.first().map(|s| s.id.clone()), attempt: 1, wake_at: None })
                    .collect();
            }
            if state.position.branches.iter().all(|c| c.step.is_none()) {
                // Every branch ended: the parallel step's output gathers the
                // outputs of its branch steps, and the run moves on.
                let mut output = Map::new();
                for step in top.branches.iter().flatten().flatten() {
                    if let Some(v) = state.context["steps"].get(&step.id) {
                        output.insert(step.id.clone(), v.clone());
                    }
                }
                set_output(&mut state.context, &top.id, Value::Object(output));
                let next = match top.next.as_deref() {
                    Some(END) => None,
                    Some(t) => Some(t.to_owned()),
                    None => self.steps.get(p + 1).map(|s| s.id.clone()),
                };
                state.position.top = Cursor { step: next, attempt: 1, wake_at: None };
                state.position.branches.clear();
                state.position.turn = 0;
                continue;
            }
            let runnable = state
                .position
                .branches
                .iter()
                .any(|c| c.step.is_some() && c.wake_at.is_none_or(|t| t <= now));
            state.wake_at =
                state.position.branches.iter().filter(|c| c.step.is_some()).filter_map(|c| c.wake_at).min();
            state.status = if runnable { Status::Running } else { Status::Waiting };
            if runnable {
                state.wake_at = None;
            }
            return;
        }
    }

    fn fail(&self, state: &mut RunState, error: String) {
        state.status = Status::Failed;
        state.error = Some(error);
        state.wake_at = None;
    }

    /// Applies a step's result; returns the log action. `branch` and
    /// `attempt` are those of the [`Plan::Run`] that ran the step.
    pub fn apply(
        &self,
        state: &mut RunState,
        step: &StepDef,
        branch: Option<usize>,
        attempt: u32,
        result: StepResult,
        now: u64,
    ) -> &'static str {
        let scope = branch.and_then(|b| {
            state.position.top.step.as_deref().and_then(|id| self.top_index(id)).map(|p| (p, b))
        });
        let list = self.list(scope);
        let following =
            || list.iter().position(|s| s.id == step.id).and_then(|i| list.get(i + 1)).map(|s| s.id.clone());
        let resolve = |target: Option<&str>| -> Result<Option<String>, String> {
            match target {
                Some(END) => Ok(None),
                Some(t) if list.iter().any(|s| s.id == t) => Ok(Some(t.to_owned())),
                Some(t) => Err(format!("step `{}`: target `{t}` names no step", step.id)),
                None => Ok(following()),
            }
        };
        let (cursor, action) = match result {
            StepResult::Ok(outcome) => {
                if let Outcome::SetVars(vars) = &outcome {
                    state.context["vars"] = vars.clone();
                }
                set_output(&mut state.context, &step.id, outcome.output().clone());
                let (target, wake, action) = match &outcome {
                    Outcome::Branch { target, .. } => (Some(target.as_str()), None, "branched"),
                    Outcome::Sleep { until_ms, .. } => {
                        (step.next.as_deref(), Some(*until_ms).filter(|t| *t > now), "slept")
                    }
                    _ => (step.next.as_deref(), None, "completed"),
                };
                match resolve(target) {
                    Ok(next) => (Cursor { step: next, attempt: 1, wake_at: wake }, action),
                    Err(e) => {
                        self.fail(state, e);
                        return "failed";
                    }
                }
            }
            StepResult::Err { message, retryable } => {
                let max = step.retry.map_or(1, |r| r.max_attempts);
                if retryable && attempt < max {
                    let wait = step.retry.map_or(0, |r| r.backoff(attempt + 1));
                    let cursor = Cursor {
                        step: Some(step.id.clone()),
                        attempt: attempt + 1,
                        wake_at: Some(now + wait),
                    };
                    (cursor, "retrying")
                } else if let Some(handler) = step.on_error.as_deref() {
                    set_output(&mut state.context, &step.id, json!({ "error": message }));
                    match resolve(Some(handler)) {
                        Ok(next) => (Cursor { step: next, attempt: 1, wake_at: None }, "caught"),
                        Err(e) => {
                            self.fail(state, e);
                            return "failed";
                        }
                    }
                } else {
                    self.fail(state, format!("step `{}`: {message}", step.id));
                    return "failed";
                }
            }
        };
        match branch {
            None => state.position.top = cursor,
            Some(b) => {
                if let Some(slot) = state.position.branches.get_mut(b) {
                    *slot = cursor;
                }
                state.position.turn = b + 1;
            }
        }
        self.settle(state, now);
        action
    }
}

fn set_output(context: &mut Value, id: &str, output: Value) {
    if !context.get("steps").is_some_and(Value::is_object) {
        context["steps"] = Value::Object(Map::new());
    }
    context["steps"][id] = output;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::definition::RetryPolicy;

    fn step(id: &str) -> StepDef {
        serde_json::from_value(json!({ "id": id, "type": "noop" })).unwrap()
    }

    fn snapshot(steps: Vec<StepDef>) -> Snapshot {
        Snapshot {
            workflow_id: "w".into(),
            workflow_name: "w".into(),
            version: 1,
            steps,
            resolved: Default::default(),
        }
    }

    fn state(snap: &Snapshot) -> RunState {
        RunState {
            status: Status::Pending,
            context: json!({ "event": {}, "steps": {}, "vars": {} }),
            position: Position::start(snap.steps.first()),
            error: None,
            wake_at: None,
        }
    }

    fn run_all(
        snap: &Snapshot,
        st: &mut RunState,
        mut result: impl FnMut(&str, u32) -> StepResult,
    ) -> Vec<(String, &'static str)> {
        let mut trail = Vec::new();
        let mut now = 1_000;
        for _ in 0..100 {
            match snap.plan(st, now) {
                Plan::Run { step, branch, attempt } => {
                    let step = step.clone();
                    let action = snap.apply(st, &step, branch, attempt, result(&step.id, attempt), now);
                    trail.push((step.id.clone(), action));
                }
                Plan::Sleep(t) => now = t,
                Plan::Finished => break,
            }
        }
        trail
    }

    fn done(v: Value) -> StepResult {
        StepResult::Ok(Outcome::Done(v))
    }

    #[test]
    fn steps_run_in_order_and_next_end_finishes() {
        let mut b = step("b");
        b.next = Some("end".into());
        let snap = snapshot(vec![step("a"), b, step("c")]);
        let mut st = state(&snap);
        let trail = run_all(&snap, &mut st, |id, _| done(json!(id)));
        assert_eq!(trail, [("a".into(), "completed"), ("b".into(), "completed")]);
        assert_eq!(st.status, Status::Completed);
        assert_eq!(st.context["steps"], json!({ "a": "a", "b": "b" }));
    }

    #[test]
    fn a_retryable_error_retries_with_backoff_then_goes_to_on_error() {
        let mut a = step("a");
        a.retry =
            Some(RetryPolicy { max_attempts: 3, backoff_ms: 100, multiplier: 2.0, max_backoff_ms: 10_000 });
        a.on_error = Some("handler".into());
        let mut b = step("b");
        b.next = Some("end".into());
        let snap = snapshot(vec![a, b, step("handler")]);
        let mut st = state(&snap);
        let trail = run_all(&snap, &mut st, |id, _| {
            if id == "a" {
                StepResult::Err { message: "503".into(), retryable: true }
            } else {
                done(json!(null))
            }
        });
        assert_eq!(
            trail,
            [
                ("a".into(), "retrying"),
                ("a".into(), "retrying"),
                ("a".into(), "caught"),
                ("handler".into(), "completed")
            ]
        );
        assert_eq!(st.status, Status::Completed);
        assert_eq!(st.context["steps"]["a"], json!({ "error": "503" }));
    }

    #[test]
    fn a_final_failure_without_handler_fails_the_run_and_retry_resumes_there() {
        let snap = snapshot(vec![step("a"), step("b")]);
        let mut st = state(&snap);
        let mut fail = true;
        let trail = run_all(&snap, &mut st, |id, _| {
            if id == "b" && fail {
                StepResult::Err { message: "boom".into(), retryable: false }
            } else {
                done(json!(1))
            }
        });
        assert_eq!(trail, [("a".into(), "completed"), ("b".into(), "failed")]);
        assert_eq!((st.status, st.error.as_deref()), (Status::Failed, Some("step `b`: boom")));
        fail = false;
        st.status = Status::Pending;
        st.error = None;
        st.position.reset_for_retry();
        let trail = run_all(&snap, &mut st, |_, _| if fail { unreachable!() } else { done(json!(2)) });
        assert_eq!(trail, [("b".into(), "completed")]);
        assert_eq!(st.status, Status::Completed);
    }

    #[test]
    fn parallel_branches_all_finish_before_the_run_goes_on() {
        let par: StepDef = serde_json::from_value(json!({
            "id": "p", "type": "parallel",
            "branches": [[{ "id": "x1", "type": "noop" }, { "id": "x2", "type": "noop" }], [{ "id": "y1", "type": "noop" }]]
        }))
        .unwrap();
        let snap = snapshot(vec![par, step("after")]);
        let mut st = state(&snap);
        let trail = run_all(&snap, &mut st, |id, _| {
            if id == "y1" {
                StepResult::Ok(Outcome::Sleep { until_ms: 5_000, output: json!("slept") })
            } else {
                done(json!(id))
            }
        });
        let ids: Vec<&str> = trail.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["x1", "y1", "x2", "after"]);
        assert_eq!(st.context["steps"]["p"], json!({ "x1": "x1", "x2": "x2", "y1": "slept" }));
        assert_eq!(st.status, Status::Completed);
    }

    #[test]
    fn a_sleep_makes_the_run_wait_until_its_time() {
        let snap = snapshot(vec![step("w"), step("b")]);
        let mut st = state(&snap);
        let Plan::Run { step, branch, attempt } = snap.plan(&mut st, 1_000) else { panic!() };
        let step = step.clone();
        let action = snap.apply(
            &mut st,
            &step,
            branch,
            attempt,
            StepResult::Ok(Outcome::Sleep { until_ms: 9_000, output: json!({}) }),
            1_000,
        );
        assert_eq!((action, st.status, st.wake_at), ("slept", Status::Waiting, Some(9_000)));
        assert_eq!(snap.plan(&mut st, 2_000), Plan::Sleep(9_000));
        assert!(matches!(snap.plan(&mut st, 9_000), Plan::Run { .. }));
    }
}
