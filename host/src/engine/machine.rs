//! The run state machine, free of I/O: given a run's definition snapshot and
//! state, what runs next, and how a step's result moves the run.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::definition::{END, FOR_EACH, PARALLEL, StepDef};
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
    /// Most step attempts in the run (`limits.maxSteps`), when not the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<u32>,
    /// How long a run may take (the workflow's `timeout`), when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

/// Step attempts a run may make when its workflow does not say.
pub const DEFAULT_MAX_STEPS: u32 = 10_000;

/// How long a step waits for its plugin to be installed on this host (another
/// host may have installed it a moment ago) before it fails, ms.
pub const UNAVAILABLE_FOR_MS: u64 = 60_000;
/// How often a step waiting for its plugin looks again, ms.
pub const UNAVAILABLE_RETRY_MS: u64 = 1_000;

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
    /// Since when the step's plugin has been missing on the hosts that tried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable_since: Option<u64>,
    /// The step waits for the outside (an event, a decision): it is not
    /// attempted again before `wake_at` (its timeout), or ever without one,
    /// unless a delivery clears this.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub waiting: bool,
    /// The item of the current `for-each` this cursor works on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<usize>,
}

impl Cursor {
    /// Whether the cursor's step may be attempted at `now`.
    fn due(&self, now: u64) -> bool {
        match self.wake_at {
            Some(t) => t <= now,
            None => !self.waiting,
        }
    }
}

impl Cursor {
    fn at(step: Option<String>) -> Self {
        Self { step, attempt: 1, ..Self::default() }
    }
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
    /// Step attempts made so far, against the run's step budget.
    #[serde(default)]
    pub attempts: u32,
    /// Visits of each step that ended (completed, branched, slept, caught or
    /// failed): the visit under way is one more. Retries of a visit share it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub visits: BTreeMap<String, u32>,
    /// When the run was last retried (unix ms): the workflow's `timeout`
    /// counts from then, so a retried run gets its whole time again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retried_at: Option<u64>,
    /// The current `for-each` step's items and what they gave so far; its
    /// cursors are `branches`, one per item in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub each: Option<Each>,
}

/// Where a `for-each` step stands.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Each {
    /// The items, rendered when the step started.
    pub items: Vec<Value>,
    /// Items in progress at once.
    pub concurrency: usize,
    /// The next item to start.
    pub next: usize,
    /// What each ended item's body steps gave (`null` for the others).
    pub outputs: Vec<Value>,
    /// The body steps' outputs of each item in progress.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scopes: BTreeMap<usize, Map<String, Value>>,
    /// Bytes of JSON in `outputs`.
    #[serde(default)]
    pub output_bytes: usize,
}

impl Position {
    /// Whether a step of the run waits for the outside.
    pub fn is_waiting(&self) -> bool {
        std::iter::once(&self.top).chain(self.branches.iter()).any(|c| c.waiting)
    }

    /// The start of a run.
    pub fn start(first: Option<&StepDef>) -> Self {
        Self { top: Cursor::at(first.map(|s| s.id.clone())), ..Self::default() }
    }

    /// The visit of `step` under way, from 1: part of its idempotency key.
    /// In a `for-each` body each item has its own: the visits before this
    /// `for-each` began plus the item's position plus one (a body only goes
    /// forward, so an item visits a step at most once).
    pub fn visit(&self, step: &str, item: Option<usize>) -> u32 {
        let before = self.visits.get(step).copied().unwrap_or(0);
        before.saturating_add(item.map_or(0, |i| u32::try_from(i).unwrap_or(u32::MAX))).saturating_add(1)
    }

    /// The item the cursor of `branch` works on.
    pub fn item_of(&self, branch: Option<usize>) -> Option<usize> {
        branch.and_then(|b| self.branches.get(b)).and_then(|c| c.item)
    }

    /// Resets attempts and waits of unfinished cursors, to retry a failed run.
    pub fn reset_for_retry(&mut self) {
        for cursor in std::iter::once(&mut self.top).chain(self.branches.iter_mut()) {
            if cursor.step.is_some() {
                cursor.attempt = 1;
                cursor.wake_at = None;
                cursor.unavailable_since = None;
                // Its wait ended with the failure: the step waits anew.
                cursor.waiting = false;
            }
        }
    }
}

pub use super::status::RunStatus as Status;

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
    /// Spreads retry backoffs of different runs apart (from the run id).
    pub jitter_seed: u64,
    /// When the run fails for its workflow's `timeout` (unix ms).
    pub deadline: Option<u64>,
}

impl RunState {
    /// The jitter seed of the run `run_id`.
    pub fn seed_of(run_id: &str) -> u64 {
        let mut hasher = std::hash::DefaultHasher::new();
        run_id.hash(&mut hasher);
        hasher.finish()
    }
}

/// One step attempt to make.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt<'a> {
    /// The step.
    pub step: &'a StepDef,
    /// Branch index inside the current parallel step.
    pub branch: Option<usize>,
    /// Attempt number.
    pub attempt: u32,
}

/// What to do next.
#[derive(Debug, PartialEq)]
pub enum Plan<'a> {
    /// Make these attempts, at once: one step, or the runnable step of
    /// every branch of the current parallel step.
    Run(Vec<Attempt<'a>>),
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
    /// The step's plugin is not installed here (yet): look again shortly,
    /// for a bounded time, without using up an attempt.
    Unavailable(String),
    /// The step waits for the outside until `until` (forever when `None`),
    /// or until a delivery wakes it; `note` goes to the log.
    Suspend {
        /// Its timeout, unix ms.
        until: Option<u64>,
        /// What it waits for, for the log.
        note: Value,
    },
    /// A `for-each` step starts on its items.
    Expand {
        /// The items.
        items: Vec<Value>,
        /// Items in progress at once.
        concurrency: usize,
    },
}

impl Snapshot {
    fn top_index(&self, id: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.id == id)
    }

    fn list(&self, branch: Option<(usize, usize)>) -> &[StepDef] {
        match branch {
            None => &self.steps,
            Some((p, _)) if self.steps[p].step_type == FOR_EACH => {
                self.steps[p].steps.as_deref().unwrap_or(&[])
            }
            Some((p, b)) => {
                self.steps[p].branches.as_ref().and_then(|bs| bs.get(b)).map_or(&[], Vec::as_slice)
            }
        }
    }

    /// Decides what runs next, first settling the run (starting or finishing
    /// parallel steps, deriving status and wake time).
    pub fn plan(&self, state: &mut RunState, now: u64) -> Plan<'_> {
        let plan = self.plan_unbounded(state, now);
        // A run asleep past its deadline wakes at the deadline, to fail then.
        match (plan, state.deadline) {
            (Plan::Sleep(t), Some(deadline)) if t > deadline => {
                state.wake_at = Some(deadline);
                Plan::Sleep(deadline)
            }
            (plan, _) => plan,
        }
    }

    /// Whether the definition has steps that wait for the outside.
    pub fn has_engine_waits(&self) -> bool {
        self.any_step(&|s| weft_core::flow::is_engine_step(&s.step_type))
    }

    /// Whether a step of the definition, branches and bodies included, is `f`.
    fn any_step(&self, f: &dyn Fn(&StepDef) -> bool) -> bool {
        fn any(steps: &[StepDef], f: &dyn Fn(&StepDef) -> bool) -> bool {
            steps.iter().any(|s| {
                f(s) || s.branches.iter().flatten().any(|branch| any(branch, f))
                    || s.steps.as_deref().is_some_and(|body| any(body, f))
            })
        }
        any(&self.steps, f)
    }

    /// Whether the definition has `call-workflow` steps.
    pub fn has_calls(&self) -> bool {
        self.any_step(&|s| s.step_type == weft_core::flow::CALL_WORKFLOW)
    }

    /// The deadline of a run of this workflow started at `started_at`.
    pub fn deadline(&self, started_at: u64) -> Option<u64> {
        let timeout = weft_core::validate::parse_period(self.timeout.as_deref()?).ok()?;
        Some(started_at.saturating_add(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX)))
    }

    fn plan_unbounded(&self, state: &mut RunState, now: u64) -> Plan<'_> {
        self.settle(state, now);
        if state.status.is_final() {
            return Plan::Finished;
        }
        if state.deadline.is_some_and(|deadline| now >= deadline) {
            let timeout = self.timeout.as_deref().unwrap_or("?");
            self.fail(state, format!("the run did not finish within its workflow's timeout of {timeout}"));
            return Plan::Finished;
        }
        let budget = self.max_steps.unwrap_or(DEFAULT_MAX_STEPS);
        if state.position.attempts >= budget {
            self.fail(
                state,
                format!("the run reached its step budget of {budget} attempts (`limits.maxSteps`)"),
            );
            return Plan::Finished;
        }
        let Some(p) = state.position.top.step.as_deref().and_then(|id| self.top_index(id)) else {
            return state.wake_at.map_or(Plan::Finished, Plan::Sleep);
        };
        let top = &self.steps[p];
        if top.step_type == PARALLEL || (top.step_type == FOR_EACH && state.position.each.is_some()) {
            let room = budget - state.position.attempts;
            let runnable: Vec<Attempt<'_>> = state
                .position
                .branches
                .iter()
                .enumerate()
                .filter_map(|(b, cursor)| {
                    let id = cursor.step.as_ref()?;
                    if !cursor.due(now) {
                        return None;
                    }
                    let step = self.list(Some((p, b))).iter().find(|s| &s.id == id)?;
                    Some(Attempt { step, branch: Some(b), attempt: cursor.attempt })
                })
                .take(room as usize)
                .collect();
            if !runnable.is_empty() {
                return Plan::Run(runnable);
            }
            return state.wake_at.map_or(Plan::Finished, Plan::Sleep);
        }
        match state.position.top.wake_at {
            Some(t) if t > now => Plan::Sleep(t),
            None if state.position.top.waiting => Plan::Finished,
            _ => Plan::Run(vec![Attempt { step: top, branch: None, attempt: state.position.top.attempt }]),
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
                // A sleep as the last step holds the run until its time.
                state.wake_at = state.position.top.wake_at.filter(|t| *t > now);
                state.status = if state.wake_at.is_some() { Status::Waiting } else { Status::Completed };
                return;
            };
            let Some(p) = self.top_index(&id) else {
                self.fail(state, format!("step `{id}` is not in the run's definition"));
                return;
            };
            let top = &self.steps[p];
            if top.step_type == FOR_EACH && state.position.each.is_some() {
                if self.settle_each(state, p, now) {
                    continue;
                }
                return;
            }
            if top.step_type != PARALLEL {
                state.wake_at = state.position.top.wake_at.filter(|t| *t > now);
                let asleep = state.wake_at.is_some() || !state.position.top.due(now);
                state.status = if asleep { Status::Waiting } else { Status::Running };
                return;
            }
            if state.position.branches.is_empty() {
                let branches = top.branches.as_deref().unwrap_or(&[]);
                state.position.branches =
                    branches.iter().map(|b| Cursor::at(b.first().map(|s| s.id.clone()))).collect();
            }
            // A branch has ended when it has no step left and no sleep of
            // its last step to finish.
            let ended = |c: &Cursor| c.step.is_none() && c.wake_at.is_none_or(|t| t <= now);
            if state.position.branches.iter().all(ended) {
                // Every branch ended: the parallel step's output gathers the
                // outputs of its branch steps, and the run moves on.
                let mut output = Map::new();
                for step in top.branches.iter().flatten().flatten() {
                    if let Some(v) = state.context["steps"].get(&step.id) {
                        output.insert(step.id.clone(), v.clone());
                    }
                }
                set_output(&mut state.context, &top.id, Value::Object(output));
                state.position.top = Cursor::at(self.after(p));
                state.position.branches.clear();
                continue;
            }
            let runnable = state.position.branches.iter().any(|c| c.step.is_some() && c.due(now));
            state.wake_at =
                state.position.branches.iter().filter(|c| !ended(c)).filter_map(|c| c.wake_at).min();
            state.status = if runnable { Status::Running } else { Status::Waiting };
            if runnable {
                state.wake_at = None;
            }
            return;
        }
    }

    /// Settles a started `for-each` step: ended items give their outputs,
    /// free slots take the next items; true when every item has ended and
    /// the run moved on.
    fn settle_each(&self, state: &mut RunState, p: usize, now: u64) -> bool {
        let top = &self.steps[p];
        let body = top.steps.as_deref().unwrap_or(&[]);
        let ended = |c: &Cursor| c.step.is_none() && c.wake_at.is_none_or(|t| t <= now);
        let Position { each, branches, visits, .. } = &mut state.position;
        let Some(each) = each.as_mut() else { return false };
        for slot in branches.iter_mut() {
            if let Some(i) = slot.item.filter(|_| ended(slot)) {
                *slot = Cursor::default();
                let output = Value::Object(each.scopes.remove(&i).unwrap_or_default());
                each.output_bytes += output.to_string().len();
                if let Some(out) = each.outputs.get_mut(i) {
                    *out = output;
                }
            }
        }
        if each.output_bytes > weft_core::flow::MAX_EACH_OUTPUT_BYTES {
            let ended = each.outputs.iter().filter(|o| !o.is_null()).count();
            let error = format!(
                "the outputs of its items passed {} KiB after {ended} items",
                weft_core::flow::MAX_EACH_OUTPUT_BYTES / 1024
            );
            // Its items' visits end with it, so that a later pass keeps its own.
            end_items(visits, top, each.next);
            let handler = match top.on_error.as_deref() {
                None => {
                    self.fail(state, format!("step `{}`: {error}", top.id));
                    return false;
                }
                Some(END) => None,
                Some(target) => Some(target.to_owned()),
            };
            set_output(&mut state.context, &top.id, json!({ "error": error }));
            state.position.top = Cursor::at(handler);
            state.position.branches.clear();
            state.position.each = None;
            return true;
        }
        let first = body.first().map(|s| s.id.clone());
        while each.next < each.items.len() {
            let slot = match branches.iter().position(|c| c.item.is_none()) {
                Some(slot) => slot,
                None if branches.len() < each.concurrency.max(1) => {
                    branches.push(Cursor::default());
                    branches.len() - 1
                }
                None => break,
            };
            branches[slot] = Cursor { item: Some(each.next), ..Cursor::at(first.clone()) };
            each.scopes.insert(each.next, Map::new());
            each.next += 1;
        }
        if each.next >= each.items.len() && branches.iter().all(|c| c.item.is_none()) {
            let outputs = std::mem::take(&mut each.outputs);
            end_items(visits, top, outputs.len());
            set_output(&mut state.context, &top.id, Value::Array(outputs));
            state.position.top = Cursor::at(self.after(p));
            state.position.branches.clear();
            state.position.each = None;
            return true;
        }
        let busy = |c: &&Cursor| c.item.is_some();
        let runnable = branches.iter().filter(busy).any(|c| c.step.is_some() && c.due(now));
        state.wake_at = if runnable {
            None
        } else {
            branches.iter().filter(busy).filter(|c| !ended(c)).filter_map(|c| c.wake_at).min()
        };
        state.status = if runnable { Status::Running } else { Status::Waiting };
        false
    }

    /// The step after the top-level step `p` (a group that ended).
    fn after(&self, p: usize) -> Option<String> {
        match self.steps[p].next.as_deref() {
            Some(END) => None,
            Some(t) => Some(t.to_owned()),
            None => self.steps.get(p + 1).map(|s| s.id.clone()),
        }
    }

    fn fail(&self, state: &mut RunState, error: String) {
        state.status = Status::Failed;
        state.error = Some(error);
        state.wake_at = None;
    }

    /// Applies a step's result; returns the log action. `attempt` is the
    /// [`Attempt`] of the [`Plan::Run`] that ran the step. A result that
    /// arrives after the run ended (a parallel sibling failed it), or after
    /// its group did, changes nothing and is logged as `ignored`.
    pub fn apply(
        &self,
        state: &mut RunState,
        attempt: &Attempt<'_>,
        result: StepResult,
        now: u64,
    ) -> &'static str {
        if state.status.is_final() {
            return "ignored";
        }
        let (step, branch) = (attempt.step, attempt.branch);
        // Its group ended meanwhile (a loop went to its `onError` while
        // this sibling ran): the result has nowhere to go.
        if branch.is_some_and(|b| b >= state.position.branches.len()) {
            return "ignored";
        }
        let current = match branch {
            None => &state.position.top,
            Some(b) => state.position.branches.get(b).unwrap_or(&state.position.top),
        };
        let unavailable_since = current.unavailable_since;
        let item = state.position.item_of(branch);
        if !matches!(result, StepResult::Unavailable(_) | StepResult::Suspend { .. }) {
            state.position.attempts += 1;
        }
        let scope = branch.and_then(|b| {
            state.position.top.step.as_deref().and_then(|id| self.top_index(id)).map(|p| (p, b))
        });
        let list = self.list(scope);
        let following =
            || list.iter().position(|s| s.id == step.id).and_then(|i| list.get(i + 1)).map(|s| s.id.clone());
        let at = list.iter().position(|s| s.id == step.id);
        let resolve = |target: Option<&str>| -> Result<Option<String>, String> {
            match target {
                Some(END) => Ok(None),
                // A body goes forward only: an item visits each step once.
                Some(t)
                    if item.is_some()
                        && list.iter().position(|s| s.id == t).is_some_and(|i| Some(i) <= at) =>
                {
                    Err(format!(
                        "step `{}`: target `{t}` is not after it in its for-each body, and a body only goes forward",
                        step.id
                    ))
                }
                Some(t) if list.iter().any(|s| s.id == t) => Ok(Some(t.to_owned())),
                Some(t) => Err(format!("step `{}`: target `{t}` names no step", step.id)),
                None => Ok(following()),
            }
        };
        let (message, retryable) = match result {
            StepResult::Ok(outcome) => {
                self.end_visit(state, &step.id, item);
                if let Outcome::SetVars(vars) = &outcome {
                    state.context["vars"] = vars.clone();
                }
                record(state, item, &step.id, outcome.output().clone());
                let (target, wake, action) = match &outcome {
                    Outcome::Branch { target, .. } => (Some(target.as_str()), None, "branched"),
                    Outcome::Sleep { until_ms, .. } => {
                        (step.next.as_deref(), Some(*until_ms).filter(|t| *t > now), "slept")
                    }
                    _ => (step.next.as_deref(), None, "completed"),
                };
                return match resolve(target) {
                    Ok(next) => {
                        self.place(state, branch, Cursor { wake_at: wake, item, ..Cursor::at(next) }, now);
                        action
                    }
                    Err(e) => {
                        self.fail(state, e);
                        "failed"
                    }
                };
            }
            StepResult::Unavailable(message) => {
                let since = unavailable_since.unwrap_or(now);
                if now.saturating_sub(since) < UNAVAILABLE_FOR_MS {
                    let cursor = Cursor {
                        step: Some(step.id.clone()),
                        attempt: attempt.attempt,
                        wake_at: Some(now + UNAVAILABLE_RETRY_MS),
                        unavailable_since: Some(since),
                        waiting: false,
                        item,
                    };
                    self.place(state, branch, cursor, now);
                    return "retrying";
                }
                (format!("{message} (waited {} s for it)", UNAVAILABLE_FOR_MS / 1_000), false)
            }
            StepResult::Suspend { until, .. } => {
                let cursor = Cursor {
                    step: Some(step.id.clone()),
                    attempt: attempt.attempt,
                    wake_at: until,
                    unavailable_since: None,
                    waiting: true,
                    item,
                };
                self.place(state, branch, cursor, now);
                return "waiting";
            }
            StepResult::Expand { items, concurrency } => {
                let outputs = vec![Value::Null; items.len()];
                state.position.each = Some(Each { items, concurrency, outputs, ..Each::default() });
                state.position.branches.clear();
                self.settle(state, now);
                return "expanded";
            }
            StepResult::Err { message, retryable } => (message, retryable),
        };
        let max = step.retry.map_or(1, |r| r.max_attempts);
        if retryable && attempt.attempt < max {
            let wait = step.retry.map_or(0, |r| r.backoff(attempt.attempt + 1));
            let wait = jittered(wait, state.jitter_seed, &step.id, attempt.attempt);
            let cursor = Cursor {
                step: Some(step.id.clone()),
                attempt: attempt.attempt + 1,
                wake_at: Some(now + wait),
                unavailable_since: None,
                waiting: false,
                item,
            };
            self.place(state, branch, cursor, now);
            return "retrying";
        }
        self.end_visit(state, &step.id, item);
        let Some(handler) = step.on_error.as_deref() else {
            self.fail(state, format!("step `{}`: {message}", step.id));
            return "failed";
        };
        record(state, item, &step.id, json!({ "error": message }));
        match resolve(Some(handler)) {
            Ok(next) => {
                self.place(state, branch, Cursor { item, ..Cursor::at(next) }, now);
                "caught"
            }
            Err(e) => {
                self.fail(state, e);
                "failed"
            }
        }
    }

    /// Counts a visit that ended; a body step's visits are counted when its
    /// `for-each` ends, one per item.
    fn end_visit(&self, state: &mut RunState, step: &str, item: Option<usize>) {
        if item.is_none() {
            *state.position.visits.entry(step.to_owned()).or_default() += 1;
        }
    }

    /// Puts `cursor` where the step ran, then settles the run.
    fn place(&self, state: &mut RunState, branch: Option<usize>, cursor: Cursor, now: u64) {
        match branch {
            None => state.position.top = cursor,
            Some(b) => {
                if let Some(slot) = state.position.branches.get_mut(b) {
                    *slot = cursor;
                }
            }
        }
        self.settle(state, now);
    }
}

/// `wait` spread over 80% to 120% of itself, the same for the same run, step
/// and attempt (so a replayed decision is the same), different across runs:
/// runs that failed together do not all retry at the same millisecond.
fn jittered(wait: u64, seed: u64, step: &str, attempt: u32) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    (seed, step, attempt).hash(&mut hasher);
    let fraction = (hasher.finish() % 10_001) as f64 / 10_000.0;
    (wait as f64 * (0.8 + 0.4 * fraction)).round() as u64
}

/// Ends the visits of a `for-each` step and of its body steps, one per item
/// started: the next pass's items get visit numbers after these.
fn end_items(visits: &mut BTreeMap<String, u32>, each: &StepDef, items: usize) {
    let items = u32::try_from(items).unwrap_or(u32::MAX);
    for step in each.steps.iter().flatten() {
        let seen = visits.entry(step.id.clone()).or_default();
        *seen = seen.saturating_add(items);
    }
    *visits.entry(each.id.clone()).or_default() += 1;
}

/// Stores a step's output: in its item's scope inside a `for-each` body,
/// in the run's `steps` otherwise.
fn record(state: &mut RunState, item: Option<usize>, id: &str, output: Value) {
    match (item, state.position.each.as_mut()) {
        (Some(i), Some(each)) => {
            each.scopes.entry(i).or_default().insert(id.to_owned(), output);
        }
        _ => set_output(&mut state.context, id, output),
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
            max_steps: None,
            timeout: None,
        }
    }

    fn state(snap: &Snapshot) -> RunState {
        RunState {
            status: Status::Pending,
            context: json!({ "event": {}, "steps": {}, "vars": {} }),
            position: Position::start(snap.steps.first()),
            error: None,
            wake_at: None,
            jitter_seed: 7,
            deadline: None,
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
                Plan::Run(attempts) => {
                    let attempts: Vec<(StepDef, Option<usize>, u32)> =
                        attempts.iter().map(|a| (a.step.clone(), a.branch, a.attempt)).collect();
                    for (step, branch, attempt) in attempts {
                        let a = Attempt { step: &step, branch, attempt };
                        let action = snap.apply(st, &a, result(&step.id, attempt), now);
                        trail.push((step.id.clone(), action));
                    }
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
        // Both branches start at once; x2 follows x1 while y1 sleeps.
        let ids: Vec<&str> = trail.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["x1", "y1", "x2", "after"]);
        assert_eq!(st.context["steps"]["p"], json!({ "x1": "x1", "x2": "x2", "y1": "slept" }));
        assert_eq!(st.status, Status::Completed);
    }

    #[test]
    fn a_sleep_makes_the_run_wait_until_its_time() {
        let snap = snapshot(vec![step("w"), step("b")]);
        let mut st = state(&snap);
        let Plan::Run(attempts) = snap.plan(&mut st, 1_000) else { panic!() };
        let (step, branch, attempt) = (attempts[0].step.clone(), attempts[0].branch, attempts[0].attempt);
        let action = snap.apply(
            &mut st,
            &Attempt { step: &step, branch, attempt },
            StepResult::Ok(Outcome::Sleep { until_ms: 9_000, output: json!({}) }),
            1_000,
        );
        assert_eq!((action, st.status, st.wake_at), ("slept", Status::Waiting, Some(9_000)));
        assert_eq!(snap.plan(&mut st, 2_000), Plan::Sleep(9_000));
        assert!(matches!(snap.plan(&mut st, 9_000), Plan::Run { .. }));
    }

    #[test]
    fn a_trailing_wait_holds_the_run_until_its_time() {
        let snap = snapshot(vec![step("a"), step("w")]);
        let mut st = state(&snap);
        for now in [1_000, 1_001] {
            let Plan::Run(attempts) = snap.plan(&mut st, now) else { panic!("expected a step to run") };
            let (step, branch, attempt) = (attempts[0].step.clone(), attempts[0].branch, attempts[0].attempt);
            let result = if step.id == "w" {
                StepResult::Ok(Outcome::Sleep { until_ms: 9_000, output: json!({}) })
            } else {
                done(json!(1))
            };
            snap.apply(&mut st, &Attempt { step: &step, branch, attempt }, result, now);
        }
        assert_eq!((st.status, st.wake_at), (Status::Waiting, Some(9_000)));
        assert_eq!(snap.plan(&mut st, 5_000), Plan::Sleep(9_000));
        assert_eq!(st.status, Status::Waiting);
        assert_eq!(snap.plan(&mut st, 9_000), Plan::Finished);
        assert_eq!(st.status, Status::Completed);
    }

    #[test]
    fn a_trailing_wait_in_a_branch_holds_the_parallel_step() {
        let par: StepDef = serde_json::from_value(json!({
            "id": "p", "type": "parallel",
            "branches": [[{ "id": "x", "type": "noop" }], [{ "id": "y", "type": "noop" }]]
        }))
        .unwrap();
        let snap = snapshot(vec![par, step("after")]);
        let mut st = state(&snap);
        let Plan::Run(attempts) = snap.plan(&mut st, 1_000) else { panic!("expected both branches") };
        let attempts: Vec<(StepDef, Option<usize>, u32)> =
            attempts.iter().map(|a| (a.step.clone(), a.branch, a.attempt)).collect();
        for (step, branch, attempt) in attempts {
            let result = if step.id == "y" {
                StepResult::Ok(Outcome::Sleep { until_ms: 9_000, output: json!({}) })
            } else {
                done(json!(1))
            };
            snap.apply(&mut st, &Attempt { step: &step, branch, attempt }, result, 1_000);
        }
        assert_eq!((st.status, st.wake_at), (Status::Waiting, Some(9_000)));
        assert_eq!(snap.plan(&mut st, 5_000), Plan::Sleep(9_000));
        let Plan::Run(attempts) = snap.plan(&mut st, 9_000) else { panic!("expected `after` to run") };
        assert_eq!(attempts[0].step.id, "after");
    }
}

#[cfg(test)]
mod each_tests {
    use super::budget_tests::{snap as snap_limited, start};
    use super::*;

    fn snap(steps: Value) -> Snapshot {
        snap_limited(steps, None)
    }

    /// Runs the plan to its end; `result` gets the step, its item and visit.
    /// Returns each attempt's `(step, item, visit)` in order.
    fn run(
        s: &Snapshot,
        st: &mut RunState,
        mut result: impl FnMut(&StepDef, Option<usize>) -> StepResult,
    ) -> Vec<(String, Option<usize>, u32)> {
        let mut trail = Vec::new();
        let mut now = 1_000;
        for _ in 0..1_000 {
            match s.plan(st, now) {
                Plan::Run(attempts) => {
                    let attempts: Vec<(StepDef, Option<usize>, u32)> =
                        attempts.iter().map(|a| (a.step.clone(), a.branch, a.attempt)).collect();
                    for (step, branch, attempt) in attempts {
                        let item = st.position.item_of(branch);
                        trail.push((step.id.clone(), item, st.position.visit(&step.id, item)));
                        let r = result(&step, item);
                        s.apply(st, &Attempt { step: &step, branch, attempt }, r, now);
                    }
                }
                Plan::Sleep(t) => now = t,
                Plan::Finished => break,
            }
        }
        trail
    }

    fn each(body: Value) -> Snapshot {
        snap(json!([
            { "id": "each", "type": "for-each", "config": { "items": "{{ event.xs }}" }, "steps": body },
            { "id": "after", "type": "noop" }
        ]))
    }

    fn expand(n: usize, concurrency: usize) -> impl FnMut(&StepDef, Option<usize>) -> StepResult {
        move |step, item| {
            if step.id == "each" {
                StepResult::Expand { items: (0..n).map(|i| json!(i * 10)).collect(), concurrency }
            } else {
                StepResult::Ok(Outcome::Done(json!({ "step": step.id, "item": item })))
            }
        }
    }

    #[test]
    fn the_body_runs_once_per_item_in_order_and_collects_outputs() {
        let s = each(json!([{ "id": "a", "type": "noop" }, { "id": "b", "type": "noop" }]));
        let mut st = start(&s);
        let trail = run(&s, &mut st, expand(3, 1));
        let steps: Vec<(&str, Option<usize>)> = trail.iter().map(|(id, i, _)| (id.as_str(), *i)).collect();
        assert_eq!(
            steps,
            [
                ("each", None),
                ("a", Some(0)),
                ("b", Some(0)),
                ("a", Some(1)),
                ("b", Some(1)),
                ("a", Some(2)),
                ("b", Some(2)),
                ("after", None)
            ]
        );
        assert_eq!(st.status, Status::Completed);
        let out = &st.context["steps"]["each"];
        assert_eq!(out.as_array().map(Vec::len), Some(3));
        assert_eq!(out[2]["b"], json!({ "step": "b", "item": 2 }));
        // Body outputs stay in their items, not in the run's `steps`.
        assert!(st.context["steps"].get("a").is_none());
        assert_eq!(st.position.attempts, 8);
        assert!(st.position.each.is_none() && st.position.branches.is_empty());
    }

    #[test]
    fn items_run_a_few_at_a_time_with_their_own_visits() {
        let s = each(json!([{ "id": "a", "type": "noop" }]));
        let mut st = start(&s);
        let mut first = start(&s);
        let Plan::Run(attempts) = s.plan(&mut first, 1_000) else { panic!("expected the for-each") };
        let (step, branch, attempt) = (attempts[0].step.clone(), attempts[0].branch, attempts[0].attempt);
        s.apply(&mut first, &Attempt { step: &step, branch, attempt }, expand(5, 2)(&step, None), 1_000);
        let Plan::Run(together) = s.plan(&mut first, 1_000) else { panic!("expected items") };
        assert_eq!(together.len(), 2, "two items at once");
        let trail = run(&s, &mut st, expand(5, 2));
        // Two at once: the plans run items 0 and 1 together, then 2 and 3.
        let firsts: Vec<Option<usize>> = trail.iter().filter(|t| t.0 == "a").map(|t| t.1).collect();
        assert_eq!(firsts, [Some(0), Some(1), Some(2), Some(3), Some(4)]);
        assert!(st.position.branches.is_empty());
        let visits: Vec<u32> = trail.iter().filter(|t| t.0 == "a").map(|t| t.2).collect();
        assert_eq!(visits, [1, 2, 3, 4, 5]);
        // A second pass over the loop gets visits after the first's.
        st.position.top = Cursor::at(Some("each".into()));
        st.status = Status::Running;
        let again = run(&s, &mut st, expand(2, 2));
        let visits: Vec<u32> = again.iter().filter(|t| t.0 == "a").map(|t| t.2).collect();
        assert_eq!(visits, [6, 7]);
    }

    #[test]
    fn an_empty_list_moves_on_at_once() {
        let s = each(json!([{ "id": "a", "type": "noop" }]));
        let mut st = start(&s);
        let trail = run(&s, &mut st, expand(0, 1));
        assert_eq!(trail.iter().map(|t| t.0.as_str()).collect::<Vec<_>>(), ["each", "after"]);
        assert_eq!(st.context["steps"]["each"], json!([]));
    }

    #[test]
    fn a_failing_item_fails_the_run_unless_caught_in_the_body() {
        let s = each(json!([{ "id": "a", "type": "noop" }]));
        let mut st = start(&s);
        let mut inner = expand(3, 1);
        run(&s, &mut st, |step, item| {
            if item == Some(1) {
                StepResult::Err { message: "boom".into(), retryable: false }
            } else {
                inner(step, item)
            }
        });
        assert_eq!((st.status, st.error.as_deref()), (Status::Failed, Some("step `a`: boom")));

        let s = each(json!([{ "id": "a", "type": "noop", "onError": "end" }, { "id": "b", "type": "noop" }]));
        let mut st = start(&s);
        let mut inner = expand(2, 1);
        let trail = run(&s, &mut st, |step, item| {
            if step.id == "a" && item == Some(0) {
                StepResult::Err { message: "boom".into(), retryable: false }
            } else {
                inner(step, item)
            }
        });
        assert_eq!(st.status, Status::Completed);
        // Item 0 ended at its handler (`end`), item 1 ran both steps.
        assert_eq!(trail.iter().filter(|t| t.0 == "b").count(), 1);
        assert_eq!(st.context["steps"]["each"][0]["a"], json!({ "error": "boom" }));
    }

    #[test]
    fn a_body_only_goes_forward() {
        let s = each(json!([{ "id": "a", "type": "noop" }, { "id": "b", "type": "noop" }]));
        let mut st = start(&s);
        let mut inner = expand(1, 1);
        run(&s, &mut st, |step, item| {
            if step.id == "b" {
                StepResult::Ok(Outcome::Branch { target: "a".into(), output: json!(null) })
            } else {
                inner(step, item)
            }
        });
        assert_eq!(st.status, Status::Failed);
        assert!(st.error.as_deref().is_some_and(|e| e.contains("only goes forward")), "{:?}", st.error);
    }

    #[test]
    fn outputs_past_the_cap_fail_the_step() {
        let s = each(json!([{ "id": "a", "type": "noop" }]));
        let mut st = start(&s);
        let big = "x".repeat(300 * 1024);
        run(&s, &mut st, |step, _| {
            if step.id == "each" {
                StepResult::Expand { items: vec![json!(1); 10], concurrency: 1 }
            } else {
                StepResult::Ok(Outcome::Done(json!(big)))
            }
        });
        assert_eq!(st.status, Status::Failed);
        assert_eq!(
            st.error.as_deref(),
            Some("step `each`: the outputs of its items passed 1024 KiB after 4 items")
        );
        // With `onError`, the cap goes to the handler like any step failure.
        let mut s = s;
        s.steps[0].on_error = Some("after".into());
        let mut st = start(&s);
        let trail = run(&s, &mut st, |step, _| {
            if step.id == "each" {
                StepResult::Expand { items: vec![json!(1); 10], concurrency: 1 }
            } else {
                StepResult::Ok(Outcome::Done(json!(big)))
            }
        });
        assert_eq!(st.status, Status::Completed, "{:?}", st.error);
        assert_eq!(trail.last().map(|t| t.0.as_str()), Some("after"));
        assert_eq!(
            st.context["steps"]["each"]["error"],
            "the outputs of its items passed 1024 KiB after 4 items"
        );

        // Two at once: the first item passes the cap; its sibling's result,
        // applied after the loop went to its handler, is ignored.
        let mut st = start(&s);
        let Plan::Run(first) = s.plan(&mut st, 1_000) else { panic!("expected the for-each") };
        let (step, branch, attempt) = (first[0].step.clone(), first[0].branch, first[0].attempt);
        let expand = StepResult::Expand { items: vec![json!(1); 2], concurrency: 2 };
        s.apply(&mut st, &Attempt { step: &step, branch, attempt }, expand, 1_000);
        let Plan::Run(both) = s.plan(&mut st, 1_000) else { panic!("expected two items") };
        let both: Vec<(StepDef, Option<usize>, u32)> =
            both.iter().map(|a| (a.step.clone(), a.branch, a.attempt)).collect();
        let huge = json!("x".repeat(1_100 * 1024));
        let actions: Vec<&str> = both
            .iter()
            .map(|(step, branch, attempt)| {
                let a = Attempt { step, branch: *branch, attempt: *attempt };
                s.apply(&mut st, &a, StepResult::Ok(Outcome::Done(huge.clone())), 1_000)
            })
            .collect();
        assert_eq!(actions, ["completed", "ignored"]);
        assert_eq!(st.position.top.step.as_deref(), Some("after"));
        assert!(st.context["steps"].get("a").is_none(), "a late body result stays out of the run's steps");
    }

    #[test]
    fn body_attempts_count_against_the_step_budget() {
        let mut s = each(json!([{ "id": "a", "type": "noop" }]));
        s.max_steps = Some(4);
        let mut st = start(&s);
        run(&s, &mut st, expand(10, 1));
        assert_eq!(st.status, Status::Failed);
        assert_eq!(st.position.attempts, 4);
    }
}

#[cfg(test)]
mod budget_tests {
    use super::*;

    pub(super) fn snap(steps: serde_json::Value, max_steps: Option<u32>) -> Snapshot {
        Snapshot {
            workflow_id: "w".into(),
            workflow_name: "w".into(),
            version: 1,
            steps: serde_json::from_value(steps).unwrap(),
            resolved: Default::default(),
            max_steps,
            timeout: None,
        }
    }

    pub(super) fn start(s: &Snapshot) -> RunState {
        RunState {
            status: Status::Pending,
            context: json!({ "event": {}, "steps": {}, "vars": {} }),
            position: Position::start(s.steps.first()),
            error: None,
            wake_at: None,
            jitter_seed: RunState::seed_of("run-1"),
            deadline: None,
        }
    }

    fn step_once(s: &Snapshot, st: &mut RunState, now: u64, result: StepResult) -> Vec<&'static str> {
        let Plan::Run(attempts) = s.plan(st, now) else { return Vec::new() };
        let attempts: Vec<(StepDef, Option<usize>, u32)> =
            attempts.iter().map(|a| (a.step.clone(), a.branch, a.attempt)).collect();
        attempts
            .iter()
            .map(|(step, branch, attempt)| {
                s.apply(st, &Attempt { step, branch: *branch, attempt: *attempt }, result.clone(), now)
            })
            .collect()
    }

    #[test]
    fn a_condition_loop_ends_failed_at_the_step_budget() {
        let s = snap(json!([{ "id": "again", "type": "noop", "next": "again" }]), Some(5));
        let mut st = start(&s);
        let mut n = 0;
        while !step_once(&s, &mut st, 1_000, StepResult::Ok(Outcome::Done(json!(1)))).is_empty() {
            n += 1;
        }
        assert_eq!(n, 5);
        assert_eq!(st.status, Status::Failed);
        assert_eq!(
            st.error.as_deref(),
            Some("the run reached its step budget of 5 attempts (`limits.maxSteps`)")
        );
    }

    #[test]
    fn a_step_visited_twice_has_two_visits_and_retries_keep_theirs() {
        let s = snap(
            json!([{ "id": "a", "type": "noop", "next": "a", "retry": { "maxAttempts": 3, "backoffMs": 0 } }]),
            Some(4),
        );
        let mut st = start(&s);
        assert_eq!(st.position.visit("a", None), 1);
        step_once(&s, &mut st, 1_000, StepResult::Err { message: "x".into(), retryable: true });
        assert_eq!((st.position.visit("a", None), st.position.top.attempt), (1, 2));
        step_once(&s, &mut st, 1_000, StepResult::Ok(Outcome::Done(json!(1))));
        assert_eq!((st.position.visit("a", None), st.position.top.attempt), (2, 1));
    }

    #[test]
    fn retry_backoff_is_jittered_within_a_fifth_and_the_same_on_replay() {
        let s = snap(
            json!([{ "id": "a", "type": "noop", "retry": { "maxAttempts": 2, "backoffMs": 10000 } }]),
            None,
        );
        let mut waits = std::collections::BTreeSet::new();
        for run in 0..20 {
            let mut st = start(&s);
            st.jitter_seed = RunState::seed_of(&format!("run-{run}"));
            step_once(&s, &mut st, 1_000, StepResult::Err { message: "x".into(), retryable: true });
            let wait = st.wake_at.unwrap() - 1_000;
            assert!((8_000..=12_000).contains(&wait), "{wait}");
            let mut again = start(&s);
            again.jitter_seed = st.jitter_seed;
            step_once(&s, &mut again, 1_000, StepResult::Err { message: "x".into(), retryable: true });
            assert_eq!(again.wake_at, st.wake_at);
            waits.insert(wait);
        }
        assert!(waits.len() > 10, "jitter spreads runs apart: {waits:?}");
    }

    #[test]
    fn a_missing_plugin_is_looked_for_again_then_fails_after_a_minute() {
        let s = snap(json!([{ "id": "a", "type": "gone" }]), None);
        let mut st = start(&s);
        let missing = || StepResult::Unavailable("plugin `gone` is not installed".into());
        assert_eq!(step_once(&s, &mut st, 1_000, missing()), ["retrying"]);
        assert_eq!((st.status, st.wake_at, st.position.attempts), (Status::Waiting, Some(2_000), 0));
        assert_eq!(step_once(&s, &mut st, 2_000, missing()), ["retrying"]);
        assert_eq!(step_once(&s, &mut st, 61_000, missing()), ["failed"]);
        assert_eq!(
            st.error.as_deref(),
            Some("step `a`: plugin `gone` is not installed (waited 60 s for it)")
        );
    }
}
