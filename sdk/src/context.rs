//! The input of one attempt.

use serde_json::Value;

/// One attempt of one step: ids, the typed config and the run context.
#[derive(Debug, Clone)]
pub struct Input<C> {
    /// Id of the run.
    pub run_id: String,
    /// Id of the step in the workflow.
    pub step_id: String,
    /// Attempt number, from 1.
    pub attempt: u32,
    /// The host's clock at the start of the attempt, unix ms.
    pub now_ms: u64,
    /// The rendered config.
    pub config: C,
    /// The run context: `event`, `steps`, `vars`, `run`, `workflow`.
    pub context: Value,
}

impl<C> Input<C> {
    /// The context value at a dotted path such as `steps.fetch.body.id`;
    /// `None` when any part is missing. Array items are addressed by index.
    pub fn get(&self, path: &str) -> Option<&Value> {
        lookup(&self.context, path)
    }

    /// The run's `vars` object (empty when none were set).
    pub fn vars(&self) -> serde_json::Map<String, Value> {
        match self.context.get("vars") {
            Some(Value::Object(map)) => map.clone(),
            _ => serde_json::Map::new(),
        }
    }

    /// The idempotency key of this attempt's side effects:
    /// `run-id/step-id/visit`, the same across the retries of one visit of
    /// the step and different when a run visits the step again (a loop).
    /// `run-id/step-id` when the host does not count visits.
    pub fn idempotency_key(&self) -> String {
        match self.context.pointer("/run/visit").and_then(Value::as_u64) {
            Some(visit) => format!("{}/{}/{visit}", self.run_id, self.step_id),
            None => format!("{}/{}", self.run_id, self.step_id),
        }
    }
}

/// The value at a dotted path inside `root`.
pub fn lookup<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        return Some(root);
    }
    path.split('.').try_fold(root, |value, part| match value {
        Value::Object(map) => map.get(part),
        Value::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_idempotency_key_names_the_visit() {
        let input = |context| Input {
            run_id: "r".to_owned(),
            step_id: "s".to_owned(),
            attempt: 3,
            now_ms: 0,
            config: (),
            context,
        };
        assert_eq!(input(json!({ "run": { "visit": 2 } })).idempotency_key(), "r/s/2");
        assert_eq!(input(json!({})).idempotency_key(), "r/s");
    }

    #[test]
    fn lookup_walks_objects_and_arrays() {
        let root = json!({ "steps": { "a": { "items": [ { "id": 7 } ] } } });
        assert_eq!(lookup(&root, "steps.a.items.0.id"), Some(&json!(7)));
        assert_eq!(lookup(&root, "steps.b"), None);
        assert_eq!(lookup(&root, "steps.a.items.x"), None);
    }
}
