//! The `bindgen!` of `weft:plugin/step-plugin@0.1.0` and the conversions
//! between its types and the host's: WIT types do not leak past this module and
//! the capability modules that implement its imports.

use serde_json::Value;

wasmtime::component::bindgen!({
    path: "../wit",
    world: "weft:plugin/step-plugin@0.1.0",
    imports: { default: async | trappable },
    exports: { default: async },
});

pub use self::weft::plugin::types as wit_types;

use super::types::{Outcome, StepInput};

impl From<&StepInput> for wit_types::StepInput {
    fn from(input: &StepInput) -> Self {
        Self {
            run_id: input.run_id.clone(),
            step_id: input.step_id.clone(),
            attempt: input.attempt,
            now_ms: input.now_ms,
            config: input.config.clone(),
            context: input.context.clone(),
        }
    }
}

/// The JSON texts inside an outcome, for the output size check.
pub fn outcome_len(outcome: &wit_types::Outcome) -> usize {
    match outcome {
        wit_types::Outcome::Done(json) | wit_types::Outcome::SetVars(json) => json.len(),
        wit_types::Outcome::Branch(b) => b.output.len() + b.target.len(),
        wit_types::Outcome::Sleep(s) => s.output.len(),
    }
}

/// A plugin outcome with its JSON parsed; the error names the bad part.
pub fn parse_outcome(outcome: wit_types::Outcome) -> Result<Outcome, String> {
    let parse = |what: &str, text: &str| {
        serde_json::from_str::<Value>(text).map_err(|e| format!("{what} is not valid JSON: {e}"))
    };
    Ok(match outcome {
        wit_types::Outcome::Done(json) => Outcome::Done(parse("output", &json)?),
        wit_types::Outcome::SetVars(json) => match parse("vars", &json)? {
            vars @ Value::Object(_) => Outcome::SetVars(vars),
            other => return Err(format!("vars must be a JSON object, got {other}")),
        },
        wit_types::Outcome::Branch(b) => {
            if b.target.is_empty() {
                return Err("branch target is empty".to_owned());
            }
            Outcome::Branch { target: b.target, output: parse("output", &b.output)? }
        }
        wit_types::Outcome::Sleep(s) => {
            Outcome::Sleep { until_ms: s.until_ms, output: parse("output", &s.output)? }
        }
    })
}
