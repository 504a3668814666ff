//! `condition`: go to `then` when `if` is truthy, to `else` otherwise.
//!
//! The host renders templates first, so `"if": "{{ event.email is defined }}"`
//! arrives as a boolean. Falsy values: a missing `if`, `null`, `false`, `0`, `""`,
//! `"false"`, `"0"`, `[]` and `{}`. A missing `then`/`else` means "go on to the
//! next step".

use weft_sdk::prelude::*;

/// Config of a condition step.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The value to test, usually a template such as `{{ event.email is defined }}`.
    #[serde(rename = "if", default)]
    condition: Value,
    /// Step to go to when the value is truthy (or `end`).
    #[schemars(extend("x-weft-target" = true))]
    then: Option<String>,
    /// Step to go to when the value is falsy (or `end`).
    #[schemars(extend("x-weft-target" = true))]
    #[serde(rename = "else")]
    otherwise: Option<String>,
}

/// Whether a JSON value counts as true.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !(s.is_empty() || s == "false" || s == "0"),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
    }
}

struct Condition;

impl Step for Condition {
    type Config = Config;

    fn info() -> Info {
        Info::new("condition", env!("CARGO_PKG_VERSION"))
            .description("Branches on a value: `then` when truthy, `else` otherwise")
    }

    fn run(input: Input<Config>, _host: &dyn Host) -> Result<Outcome, StepError> {
        let result = truthy(&input.config.condition);
        let target = if result { input.config.then } else { input.config.otherwise };
        let output = json!({ "result": result });
        Ok(match target {
            Some(target) => Outcome::branch(target, output),
            None => Outcome::done(output),
        })
    }
}

weft_sdk::export_step!(Condition);
