//! The engine's own waiting steps, `wait-for-event` and `approval`: no plugin
//! runs for them. The first attempt renders the config and records a wait
//! row (the run sleeps until its timeout, or until woken); a delivery (an
//! event, a decision) fills the row and wakes the run; the next attempt
//! takes the delivery as the step's output, or gives up at the timeout.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{Value, json};
use weft_core::flow::{
    self, APPROVAL, Approval, CALL_WORKFLOW, CallWorkflow, ForEach, MAX_KEY_BYTES, MAX_TEXT_BYTES,
    WAIT_FOR_EVENT, WaitForEvent,
};

use super::Engine;
use super::definition::StepDef;
use super::machine::{Position, StepResult};
use crate::runtime::Outcome;
use crate::store::commit::WaitOp;
use crate::store::runs::RunRow;
use crate::store::waits::{self as rows, WaitRow};
use crate::store::workflows;

/// A run's waits, by step id, as read when its driver took it.
pub(super) type Waits = HashMap<String, WaitRow>;

/// Reads the waits of a run whose position has waiting steps (or, with
/// `calls`, of a run whose definition calls workflows: a retried run takes
/// up the child runs it started), and makes the delivered ones due, so that
/// the plan attempts them now.
pub(super) async fn load(
    engine: &Engine,
    run_id: &str,
    position: &mut Position,
    calls: bool,
) -> Result<Waits, String> {
    let waiting = std::iter::once(&position.top).chain(position.branches.iter()).any(|c| c.waiting);
    if !waiting && !calls {
        return Ok(Waits::new());
    }
    let found = rows::of_run(engine.store.pool(), run_id).await.map_err(|e| e.to_string())?;
    let waits: Waits = found.into_iter().map(|w| (w.step_id.clone(), w)).collect();
    for cursor in std::iter::once(&mut position.top).chain(position.branches.iter_mut()) {
        let delivered = cursor
            .step
            .as_ref()
            .and_then(|s| waits.get(&key(s, cursor.item)))
            .is_some_and(|w| w.delivered_at.is_some());
        if cursor.waiting && delivered {
            cursor.waiting = false;
            cursor.wake_at = None;
        }
    }
    Ok(waits)
}

/// The key of a step's wait: its id, with the item's position inside a
/// `for-each` body (where several items may wait at the same step).
pub(super) fn key(step_id: &str, item: Option<usize>) -> String {
    match item {
        Some(i) => format!("{step_id}#{i}"),
        None => step_id.to_owned(),
    }
}

/// An engine step's config, rendered (secrets are not offered: what these
/// steps render is stored in the clear) and read as `T`.
fn config_of<T: for<'de> Deserialize<'de>, C: serde::Serialize>(
    engine: &Engine,
    step: &StepDef,
    context: &C,
) -> Result<T, String> {
    parse(&engine.templates.render(&step.config, context, None)?)
}

/// The first attempt of a `for-each` step: renders its items.
pub(super) fn expand<C: serde::Serialize>(engine: &Engine, step: &StepDef, context: &C) -> StepResult {
    let fail = |message: String| StepResult::Err { message, retryable: false };
    let c: ForEach = match config_of(engine, step, context) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let max = c.max_items.unwrap_or(flow::DEFAULT_MAX_ITEMS).min(flow::MAX_ITEMS) as usize;
    let items = match c.items {
        Value::Array(items) => items,
        // A missing list is an empty one: there is nothing to do.
        Value::Null => Vec::new(),
        other => {
            let kind = match other {
                Value::Object(_) => "an object",
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                _ => "a boolean",
            };
            return fail(format!("config field `items` is {kind}, and a for-each needs a list"));
        }
    };
    if items.len() > max {
        return fail(format!(
            "config field `items` holds {} items, more than its maxItems of {max}",
            items.len()
        ));
    }
    let concurrency = c.concurrency.unwrap_or(1).clamp(1, flow::MAX_EACH_CONCURRENCY) as usize;
    StepResult::Expand { items, concurrency }
}

/// The first attempt of a `call-workflow` step: prepares the child run,
/// which its move inserts (unclaimed) with the step's wait.
pub(super) async fn call<C: serde::Serialize>(
    engine: &Engine,
    parent: &RunRow,
    step: &StepDef,
    key: &str,
    context: &C,
    now: u64,
) -> (StepResult, Option<WaitOp>) {
    let fail = |message: String| (StepResult::Err { message, retryable: false }, None);
    let c: CallWorkflow = match config_of(engine, step, context) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let depth = parent.call_depth + 1;
    if depth > i64::from(flow::MAX_CALL_DEPTH) {
        return fail(format!(
            "the child run would be {depth} calls deep, and calls nest at most {} deep",
            flow::MAX_CALL_DEPTH
        ));
    }
    let pool = engine.store.pool();
    let found = match workflows::get(pool, &c.workflow).await {
        Ok(Some(workflow)) => Ok(vec![workflow]),
        Ok(None) => workflows::by_name(pool, &c.workflow).await,
        Err(e) => Err(e),
    };
    let workflow = match found {
        Ok(mut found) if found.len() == 1 => found.remove(0),
        Ok(found) if found.is_empty() => {
            return fail(format!(
                "config field `workflow`: no workflow has the id or the name {:?}",
                c.workflow
            ));
        }
        Ok(_) => {
            return fail(format!(
                "config field `workflow`: several workflows are named {:?}; name one by its id",
                c.workflow
            ));
        }
        Err(e) => return (StepResult::Err { message: format!("storage error: {e}"), retryable: true }, None),
    };
    let (mut child, _) = match engine.prepare_run(&workflow, c.input) {
        Ok(prepared) => prepared,
        Err(e) => return fail(format!("the child run cannot start: {e}")),
    };
    // A run of its own workflow under its own key, with one slot, would
    // queue behind the slot its parent holds while it waits: for good.
    if child.workflow_id == parent.workflow_id
        && child.concurrency_key.is_some()
        && child.concurrency_key == parent.concurrency_key
        && child.concurrency_limit == Some(1)
    {
        return fail(
            "the child run would wait for the concurrency slot this run holds (`concurrency.limit` 1, the same key)"
                .to_owned(),
        );
    }
    // Unclaimed: any host's scheduler takes it once the move commits.
    child.lease_owner = None;
    child.lease_until = None;
    child.claim_count = 0;
    child.parent_run_id = Some(parent.id.clone());
    child.parent_step = Some(key.to_owned());
    child.call_depth = depth;
    let wait = WaitRow {
        run_id: parent.id.clone(),
        step_id: key.to_owned(),
        kind: rows::CHILD.to_owned(),
        event: None,
        event_path: String::new(),
        correlation_key: child.id.clone(),
        message: None,
        created_at: now as i64,
        expires_at: None,
        delivery: None,
        delivered_at: None,
    };
    let note = json!({ "childRunId": child.id, "workflowId": workflow.id, "workflowName": workflow.name });
    (
        StepResult::Suspend { until: None, note },
        Some(WaitOp::Call { wait: Box::new(wait), child: Box::new(child) }),
    )
}

/// One attempt of an engine waiting step, and the change it makes to the
/// run's waits; `key` names its wait (see [`key`]).
pub(super) fn attempt<C: serde::Serialize>(
    engine: &Engine,
    run_id: &str,
    step: &StepDef,
    key: &str,
    context: &C,
    waits: &Waits,
    now: u64,
) -> (StepResult, Option<WaitOp>) {
    let fail = |message: String| (StepResult::Err { message, retryable: false }, None);
    // Secrets are not offered: a wait's key and message are stored in the clear.
    let config = match engine.templates.render(&step.config, context, None) {
        Ok(config) => config,
        Err(e) => return fail(e),
    };
    match waits.get(key) {
        None => match begin(run_id, step, key, &config, now) {
            Ok((row, note)) => {
                let until = row.expires_at.map(|t| t as u64);
                (StepResult::Suspend { until, note }, Some(WaitOp::Put(Box::new(row))))
            }
            Err(message) => fail(message),
        },
        Some(wait) if wait.delivered_at.is_some() => {
            let result = take(step, &config, wait);
            (result, Some(WaitOp::Remove(key.to_owned())))
        }
        Some(wait) if wait.expires_at.is_some_and(|t| t as u64 <= now) => {
            (give_up(step, &config, wait), Some(WaitOp::Expire(key.to_owned())))
        }
        // Woken before its time with nothing delivered: wait on.
        Some(wait) => {
            let until = wait.expires_at.map(|t| t as u64);
            (StepResult::Suspend { until, note: json!({ "stillWaiting": true }) }, None)
        }
    }
}

fn parse<T: for<'de> Deserialize<'de>>(config: &Value) -> Result<T, String> {
    T::deserialize(config).map_err(|e| format!("config: {e}"))
}

fn expiry(timeout: Option<&str>, now: u64) -> Result<Option<i64>, String> {
    let Some(text) = timeout else { return Ok(None) };
    let period =
        weft_core::validate::parse_period(text).map_err(|e| format!("config field `timeout`: {e}"))?;
    let ms = i64::try_from(period.as_millis()).unwrap_or(i64::MAX);
    Ok(Some((now as i64).saturating_add(ms)))
}

/// The wait row of a step that starts waiting, and what the log says of it.
fn begin(
    run_id: &str,
    step: &StepDef,
    key: &str,
    config: &Value,
    now: u64,
) -> Result<(WaitRow, Value), String> {
    let mut row = WaitRow {
        run_id: run_id.to_owned(),
        step_id: key.to_owned(),
        kind: String::new(),
        event: None,
        event_path: String::new(),
        correlation_key: String::new(),
        message: None,
        created_at: now as i64,
        expires_at: None,
        delivery: None,
        delivered_at: None,
    };
    match step.step_type.as_str() {
        WAIT_FOR_EVENT => {
            let c: WaitForEvent = parse(config)?;
            if c.event.is_empty() || c.event.len() > weft_core::flow::MAX_PATH_BYTES {
                return Err(format!(
                    "config field `event` must be 1 to {} bytes",
                    weft_core::flow::MAX_PATH_BYTES
                ));
            }
            row.kind = rows::EVENT.to_owned();
            row.expires_at = expiry(c.timeout.as_deref(), now)?;
            if let Some(correlate) = &c.correlate {
                let key = flow::key_text(&correlate.key).ok_or_else(|| {
                    format!(
                        "config field `correlate.key` is {}, and a correlation key must be a string, a number or a boolean",
                        correlate.key
                    )
                })?;
                if key.len() > MAX_KEY_BYTES {
                    return Err(format!(
                        "config field `correlate.key` is {} bytes, more than {MAX_KEY_BYTES}",
                        key.len()
                    ));
                }
                if correlate.event_path.is_empty()
                    || correlate.event_path.len() > weft_core::flow::MAX_PATH_BYTES
                {
                    return Err(format!(
                        "config field `correlate.eventPath` must be 1 to {} bytes",
                        weft_core::flow::MAX_PATH_BYTES
                    ));
                }
                row.event_path = correlate.event_path.clone();
                row.correlation_key = key;
            }
            let note = json!({ "event": c.event, "eventPath": row.event_path, "key": row.correlation_key, "expiresAt": row.expires_at });
            row.event = Some(c.event);
            Ok((row, note))
        }
        APPROVAL => {
            let c: Approval = parse(config)?;
            row.kind = rows::APPROVAL.to_owned();
            row.expires_at = expiry(c.timeout.as_deref(), now)?;
            row.message = c.message.map(|m| cut(m, MAX_TEXT_BYTES));
            let note = json!({ "approval": row.message, "expiresAt": row.expires_at });
            Ok((row, note))
        }
        other => Err(format!("`{other}` is not a waiting step")),
    }
}

/// A delivered wait's result: the event's data, or the decision.
fn take(step: &StepDef, config: &Value, wait: &WaitRow) -> StepResult {
    let delivery: Value = match wait.delivery.as_deref().map(serde_json::from_str).transpose() {
        Ok(value) => value.unwrap_or(Value::Null),
        Err(e) => return StepResult::Err { message: format!("stored delivery: {e}"), retryable: false },
    };
    if step.step_type == CALL_WORKFLOW {
        return match delivery["status"].as_str() {
            Some("COMPLETED") => StepResult::Ok(Outcome::Done(delivery)),
            status => {
                let child = delivery["runId"].as_str().unwrap_or("?");
                let status = status.unwrap_or("?").to_lowercase();
                let message = match delivery["error"].as_str() {
                    Some(error) => format!("child run {child} {status}: {error}"),
                    None => format!("child run {child} {status}"),
                };
                StepResult::Err { message, retryable: false }
            }
        };
    }
    if step.step_type != APPROVAL || delivery["decision"] == "approved" {
        return StepResult::Ok(Outcome::Done(delivery));
    }
    let on_reject = parse::<Approval>(config).ok().and_then(|c| c.on_reject);
    match on_reject {
        Some(target) => StepResult::Ok(Outcome::Branch { target, output: delivery }),
        None => {
            let by = delivery["by"].as_str().unwrap_or("someone");
            let message = match delivery["comment"].as_str() {
                Some(comment) if !comment.is_empty() => format!("rejected by {by}: {comment}"),
                _ => format!("rejected by {by}"),
            };
            StepResult::Err { message, retryable: false }
        }
    }
}

/// A wait whose timeout passed with nothing delivered.
fn give_up(step: &StepDef, config: &Value, wait: &WaitRow) -> StepResult {
    let waited = wait.expires_at.unwrap_or(wait.created_at) - wait.created_at;
    let waited = humantime::format_duration(std::time::Duration::from_secs((waited.max(0) / 1_000) as u64));
    let (on_timeout, message) = if step.step_type == APPROVAL {
        let c = parse::<Approval>(config).unwrap_or_default();
        (c.on_timeout, format!("no decision came within {waited}"))
    } else {
        let on_timeout = parse::<WaitForEvent>(config).ok().and_then(|c| c.on_timeout);
        let event = wait.event.as_deref().unwrap_or("?");
        let which = if wait.event_path.is_empty() {
            String::new()
        } else {
            format!(" with {} = {:?}", wait.event_path, wait.correlation_key)
        };
        (on_timeout, format!("no `{event}` event{which} came within {waited}"))
    };
    match on_timeout {
        Some(target) => StepResult::Ok(Outcome::Branch { target, output: json!({ "timedOut": true }) }),
        None => StepResult::Err { message, retryable: false },
    }
}

/// `text` cut to at most `max` bytes, on a character boundary.
pub(crate) fn cut(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}
