//! `update-field`: set, increment and unset fields of the run's `vars`.
//!
//! Paths are dotted (`customer.address.city`); `set` creates missing objects
//! on the way. Operations apply in the order set, increment, unset.

use std::collections::BTreeMap;

use weft_sdk::prelude::*;
use weft_sdk::serde_json::{Map, Number};

/// Config of an update-field step.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Fields to set, by dotted path.
    #[serde(default)]
    set: BTreeMap<String, Value>,
    /// Numeric fields to add to, by dotted path; a missing field counts as 0.
    #[serde(default)]
    increment: BTreeMap<String, Number>,
    /// Fields to remove, by dotted path; a missing field is not an error.
    #[serde(default)]
    unset: Vec<String>,
}

struct UpdateField;

impl Step for UpdateField {
    type Config = Config;

    fn info() -> Info {
        Info::new("update-field", env!("CARGO_PKG_VERSION"))
            .description("Sets, increments and unsets fields of the run's vars")
    }

    fn run(input: Input<Config>, _host: &dyn Host) -> Result<Outcome, StepError> {
        let mut vars = Value::Object(input.vars());
        for (path, value) in input.config.set {
            *slot(&mut vars, &path, "set")? = value;
        }
        for (path, by) in input.config.increment {
            let field = slot(&mut vars, &path, "increment")?;
            *field = add(field, &by).ok_or_else(|| {
                StepError::fatal(format!(
                    "config field `increment.{path}`: the current value {field} is not a number"
                ))
            })?;
        }
        for path in input.config.unset {
            unset(&mut vars, &path);
        }
        Ok(Outcome::set_vars(vars))
    }
}

/// The field at `path`, created (as null) with any missing parent objects.
fn slot<'a>(root: &'a mut Value, path: &str, op: &str) -> Result<&'a mut Value, StepError> {
    let mut current = root;
    for part in path.split('.') {
        if part.is_empty() {
            return Err(StepError::fatal(format!("config field `{op}`: `{path}` has an empty segment")));
        }
        if current.is_null() {
            *current = Value::Object(Map::new());
        }
        current = match current {
            Value::Object(map) => map.entry(part).or_insert(Value::Null),
            other => {
                return Err(StepError::fatal(format!(
                    "config field `{op}.{path}`: `{part}` is inside {other}, which is not an object"
                )));
            }
        };
    }
    Ok(current)
}

fn add(current: &Value, by: &Number) -> Option<Value> {
    let current = match current {
        Value::Null => Number::from(0),
        Value::Number(n) => n.clone(),
        _ => return None,
    };
    if let (Some(a), Some(b)) = (current.as_i64(), by.as_i64())
        && let Some(sum) = a.checked_add(b)
    {
        return Some(Value::from(sum));
    }
    Number::from_f64(current.as_f64()? + by.as_f64()?).map(Value::Number)
}

fn unset(root: &mut Value, path: &str) {
    let (parent, leaf) = match path.rsplit_once('.') {
        Some((parent, leaf)) => (parent, leaf),
        None => ("", path),
    };
    let mut current = root;
    if !parent.is_empty() {
        for part in parent.split('.') {
            current = match current {
                Value::Object(map) => match map.get_mut(part) {
                    Some(next) => next,
                    None => return,
                },
                _ => return,
            };
        }
    }
    if let Value::Object(map) = current {
        map.remove(leaf);
    }
}

weft_sdk::export_step!(UpdateField);
