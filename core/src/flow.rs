//! Steps the engine runs itself, without a plugin, because what they wait for
//! only the host sees: an outside event (`wait-for-event`) or a person's
//! decision (`approval`). A waiting step is a row in the database, not a task.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::validate::{TARGET_KEYWORD, is_template, parse_period};

/// Waits until an event of a type (with a matching correlation value) comes
/// to `POST /api/events`.
pub const WAIT_FOR_EVENT: &str = "wait-for-event";
/// Waits until a person approves or rejects the run.
pub const APPROVAL: &str = "approval";
/// Starts a run of another workflow (a child run) and waits for its end.
pub const CALL_WORKFLOW: &str = "call-workflow";
/// Runs its body steps once per item of a list.
pub use crate::definition::FOR_EACH;

/// Most items a `for-each` may take (`maxItems` is at most this).
pub const MAX_ITEMS: u32 = 10_000;
/// Items a `for-each` takes when its `maxItems` does not say.
pub const DEFAULT_MAX_ITEMS: u32 = 1_000;
/// Most items of one `for-each` in progress at once.
pub const MAX_EACH_CONCURRENCY: u32 = 100;
/// Most bytes of JSON the collected outputs of one `for-each` may take.
pub const MAX_EACH_OUTPUT_BYTES: usize = 1 << 20;
/// How deep child runs may nest (a run started by `call-workflow` is one deeper).
pub const MAX_CALL_DEPTH: u32 = 8;

/// Longest correlation key, in bytes.
pub const MAX_KEY_BYTES: usize = 512;
/// Longest `eventPath`, in bytes.
pub const MAX_PATH_BYTES: usize = 256;
/// Longest approval message or decision comment, in bytes.
pub const MAX_TEXT_BYTES: usize = 4_096;

/// Whether the engine runs steps of this type itself.
pub fn is_engine_step(step_type: &str) -> bool {
    matches!(step_type, WAIT_FOR_EVENT | APPROVAL | CALL_WORKFLOW)
}

/// `for-each`'s config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForEach {
    /// The list: a template such as `{{ event.orders }}`, or a literal list.
    pub items: Value,
    /// Items in progress at once, 1 (one after the other) when absent.
    #[serde(default)]
    pub concurrency: Option<u32>,
    /// Most items taken; more fail the step. [`DEFAULT_MAX_ITEMS`] when absent.
    #[serde(default)]
    pub max_items: Option<u32>,
}

/// `call-workflow`'s config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CallWorkflow {
    /// The workflow to run: its id, or its exact name.
    pub workflow: String,
    /// The child run's `event`.
    #[serde(default)]
    pub input: Value,
}

/// `wait-for-event`'s config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WaitForEvent {
    /// The event type, e.g. `order.paid`.
    pub event: String,
    /// Which event of that type: the one whose value at `eventPath` equals `key`.
    #[serde(default)]
    pub correlate: Option<Correlate>,
    /// How long to wait, e.g. `1h`; forever when absent.
    #[serde(default)]
    pub timeout: Option<String>,
    /// The step to go to when the timeout passes; the run fails when absent.
    #[serde(default)]
    pub on_timeout: Option<String>,
}

/// How a waiting run names the event it wants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Correlate {
    /// Rendered when the step starts waiting, e.g. `{{ vars.orderId }}`.
    pub key: Value,
    /// Where the event's data holds the value, dotted: `orderId`, `order.id`, `items.0.sku`.
    pub event_path: String,
}

/// `approval`'s config.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Approval {
    /// What the approver reads (a template).
    #[serde(default)]
    pub message: Option<String>,
    /// How long to wait for a decision; forever when absent.
    #[serde(default)]
    pub timeout: Option<String>,
    /// The step to go to when the timeout passes; the run fails when absent.
    #[serde(default)]
    pub on_timeout: Option<String>,
    /// The step to go to on a rejection; the run fails when absent.
    #[serde(default)]
    pub on_reject: Option<String>,
}

/// The JSON Schema of an engine step's config (for forms and the step-type
/// list), or `None` for another type.
pub fn config_schema(step_type: &str) -> Option<Value> {
    let duration = json!({ "type": "string", "description": "A duration such as `30m`, `1h` or `7d`" });
    let target = |what: &str| json!({ "type": "string", "description": what, TARGET_KEYWORD: true });
    match step_type {
        WAIT_FOR_EVENT => Some(json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["event"],
            "properties": {
                "event": { "type": "string", "minLength": 1, "description": "The event type to wait for, e.g. `order.paid`" },
                "correlate": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["key", "eventPath"],
                    "description": "Only the event whose value at `eventPath` equals `key`",
                    "properties": {
                        "key": { "type": ["string", "number", "boolean"], "description": "Rendered when the step starts waiting, e.g. `{{ vars.orderId }}`" },
                        "eventPath": { "type": "string", "minLength": 1, "description": "Dotted path into the event's data, e.g. `orderId`" }
                    }
                },
                "timeout": duration,
                "onTimeout": target("Step to go to when the timeout passes (the run fails when absent)")
            }
        })),
        APPROVAL => Some(json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "message": { "type": "string", "description": "What the approver reads (a template)" },
                "timeout": duration,
                "onTimeout": target("Step to go to when the timeout passes (the run fails when absent)"),
                "onReject": target("Step to go to on a rejection (the run fails when absent)")
            }
        })),
        FOR_EACH => Some(json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["items"],
            "properties": {
                "items": { "type": ["string", "array"], "description": "The list, e.g. `{{ event.orders }}`; body steps see each element as `item` and its position as `index`" },
                "concurrency": { "type": "integer", "minimum": 1, "maximum": MAX_EACH_CONCURRENCY, "description": "Items in progress at once (1 when absent: one after the other)" },
                "maxItems": { "type": "integer", "minimum": 1, "maximum": MAX_ITEMS, "description": format!("Most items taken; a longer list fails the step ({DEFAULT_MAX_ITEMS} when absent)") }
            }
        })),
        CALL_WORKFLOW => Some(json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["workflow"],
            "properties": {
                "workflow": { "type": "string", "minLength": 1, "description": "The workflow to run: its id or its exact name" },
                "input": { "description": "The child run's `event` (templates rendered)" }
            }
        })),
        _ => None,
    }
}

/// One-line description of an engine step type.
pub fn description(step_type: &str) -> &'static str {
    match step_type {
        WAIT_FOR_EVENT => {
            "Waits for an event sent to the host, matched by a correlation key; its data is the output"
        }
        APPROVAL => "Waits for a person with operator rights to approve or reject the run",
        FOR_EACH => {
            "Runs its steps once per item of a list, in order or a few at a time, and collects their outputs"
        }
        CALL_WORKFLOW => "Starts a run of another workflow and waits for it to end; its vars are the output",
        _ => "",
    }
}

/// The errors of an engine step's config, as `(field, message)`, fields
/// under `config.`; `targets` says whether a step id exists in the list.
pub fn config_errors(
    step_type: &str,
    config: &Value,
    target_ok: &dyn Fn(&str) -> bool,
) -> Vec<(String, String)> {
    let mut errors = Vec::new();
    let check_timeout = |timeout: &Option<String>, errors: &mut Vec<(String, String)>| {
        if let Some(text) = timeout
            && let Err(e) = parse_period(text)
        {
            errors.push(("config.timeout".to_owned(), e));
        }
    };
    let check_target = |field: &str, target: &Option<String>, errors: &mut Vec<(String, String)>| {
        if let Some(t) = target
            && !is_template(t)
            && !target_ok(t)
        {
            errors.push((format!("config.{field}"), format!("`{t}` names no step in its list")));
        }
    };
    let shape = |e: serde_json::Error| ("config".to_owned(), e.to_string());
    match step_type {
        WAIT_FOR_EVENT => match WaitForEvent::deserialize(config) {
            Ok(c) => {
                if c.event.trim().is_empty() {
                    errors.push(("config.event".to_owned(), "must not be empty".to_owned()));
                }
                if let Some(correlate) = &c.correlate {
                    if let Err(e) = check_path(&correlate.event_path) {
                        errors.push(("config.correlate.eventPath".to_owned(), e));
                    }
                    if key_text(&correlate.key).is_none() {
                        errors.push((
                            "config.correlate.key".to_owned(),
                            "must be a string, a number or a boolean".to_owned(),
                        ));
                    }
                }
                check_timeout(&c.timeout, &mut errors);
                check_target("onTimeout", &c.on_timeout, &mut errors);
            }
            Err(e) => errors.push(shape(e)),
        },
        APPROVAL => match Approval::deserialize(config) {
            Ok(c) => {
                check_timeout(&c.timeout, &mut errors);
                check_target("onTimeout", &c.on_timeout, &mut errors);
                check_target("onReject", &c.on_reject, &mut errors);
            }
            Err(e) => errors.push(shape(e)),
        },
        FOR_EACH => match ForEach::deserialize(config) {
            Ok(c) => {
                match &c.items {
                    Value::String(s) if is_template(s) => {}
                    Value::Array(items) if items.len() <= MAX_ITEMS as usize => {}
                    Value::Array(_) => {
                        errors.push(("config.items".to_owned(), format!("holds more than {MAX_ITEMS} items")))
                    }
                    _ => errors.push((
                        "config.items".to_owned(),
                        "must be a template such as `{{ event.orders }}` or a list".to_owned(),
                    )),
                }
                if c.concurrency.is_some_and(|n| !(1..=MAX_EACH_CONCURRENCY).contains(&n)) {
                    errors.push((
                        "config.concurrency".to_owned(),
                        format!("must be from 1 to {MAX_EACH_CONCURRENCY}"),
                    ));
                }
                if c.max_items.is_some_and(|n| !(1..=MAX_ITEMS).contains(&n)) {
                    errors.push(("config.maxItems".to_owned(), format!("must be from 1 to {MAX_ITEMS}")));
                }
            }
            Err(e) => errors.push(shape(e)),
        },
        CALL_WORKFLOW => match CallWorkflow::deserialize(config) {
            Ok(c) if c.workflow.trim().is_empty() => {
                errors.push(("config.workflow".to_owned(), "must not be empty".to_owned()))
            }
            Ok(_) => {}
            Err(e) => errors.push(shape(e)),
        },
        _ => {}
    }
    errors
}

fn check_path(path: &str) -> Result<(), String> {
    // A path per run would add a lookup to every event of the type.
    if is_template(path) {
        return Err("must be a fixed path, not a template".to_owned());
    }
    if path.is_empty() || path.len() > MAX_PATH_BYTES {
        return Err(format!("must be 1 to {MAX_PATH_BYTES} bytes"));
    }
    if path.split('.').any(str::is_empty) {
        return Err(format!("{path:?} has an empty segment: write `a.b`, not `a..b` or `.a`"));
    }
    Ok(())
}

/// The value at a dotted `path` in `data` (a number segment indexes a list).
pub fn value_at<'a>(data: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(data, |v, segment| match v {
        Value::Object(map) => map.get(segment),
        Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

/// A correlation value as stored and compared: a string as it is, a number
/// or a boolean as JSON writes it (so `42` and `"42"` match); nothing else.
pub fn key_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_reads_objects_and_lists() {
        let data = json!({ "order": { "id": 7, "items": [{ "sku": "a" }] } });
        assert_eq!(value_at(&data, "order.id"), Some(&json!(7)));
        assert_eq!(value_at(&data, "order.items.0.sku"), Some(&json!("a")));
        assert_eq!(value_at(&data, "order.items.1.sku"), None);
        assert_eq!(value_at(&data, "order.id.x"), None);
    }

    #[test]
    fn numbers_and_strings_correlate_alike() {
        assert_eq!(key_text(&json!(42)), key_text(&json!("42")));
        assert_eq!(key_text(&json!(null)), None);
        assert_eq!(key_text(&json!({ "a": 1 })), None);
    }

    #[test]
    fn config_errors_name_their_field() {
        let ok = |t: &str| t == "remind";
        let bad = json!({ "event": " ", "correlate": { "key": "{{ vars.id }}", "eventPath": "a..b" }, "timeout": "soon", "onTimeout": "nowhere" });
        let fields: Vec<String> = config_errors(WAIT_FOR_EVENT, &bad, &ok).into_iter().map(|e| e.0).collect();
        assert_eq!(
            fields,
            ["config.event", "config.correlate.eventPath", "config.timeout", "config.onTimeout"]
        );
        let good = json!({ "event": "order.paid", "correlate": { "key": "{{ vars.id }}", "eventPath": "orderId" }, "timeout": "1h", "onTimeout": "remind" });
        assert!(config_errors(WAIT_FOR_EVENT, &good, &ok).is_empty());
        let templated = json!({ "event": "e", "correlate": { "key": "k", "eventPath": "{{ vars.path }}" } });
        assert_eq!(config_errors(WAIT_FOR_EVENT, &templated, &ok)[0].0, "config.correlate.eventPath");
        let unknown = config_errors(APPROVAL, &json!({ "approvers": [] }), &ok);
        assert_eq!(unknown[0].0, "config");
        assert!(unknown[0].1.contains("approvers"), "{unknown:?}");
    }
}
