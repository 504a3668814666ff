//! What a successful attempt asks the engine to do next.

use serde_json::Value;

/// The result of a successful attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Store the output at `steps.<id>` and go on to the next step.
    Done(Value),
    /// Store the output and go on at `target` (a step id, or `end`).
    Branch {
        /// Id of the next step, or `end`.
        target: String,
        /// The step's output.
        output: Value,
    },
    /// Store the output and sleep durably until `until_ms` (unix ms).
    Sleep {
        /// Wake time in unix milliseconds.
        until_ms: u64,
        /// The step's output.
        output: Value,
    },
    /// Replace the run's `vars` with this object (also the step's output).
    SetVars(Value),
}

impl Outcome {
    /// Go on to the next step with this output.
    pub fn done(output: Value) -> Self {
        Self::Done(output)
    }

    /// Go on at `target` with this output.
    pub fn branch(target: impl Into<String>, output: Value) -> Self {
        Self::Branch { target: target.into(), output }
    }

    /// Sleep until `until_ms` (unix ms), then go on to the next step.
    pub fn sleep_until(until_ms: u64, output: Value) -> Self {
        Self::Sleep { until_ms, output }
    }

    /// Replace the run's `vars` with `vars`.
    pub fn set_vars(vars: Value) -> Self {
        Self::SetVars(vars)
    }
}
