//! Glue used by [`crate::export_step!`]; not part of the public API.

use crate::bindings::exports::weft::plugin::step::{
    Outcome as WitOutcome, PluginInfo, StepError as WitError, StepInput,
};
use crate::bindings::weft::plugin::types::{BranchTo, SleepUntil};
use crate::{Input, Outcome, Step, StepError};

pub use crate::bindings::exports::weft::plugin::step::Guest;

/// `describe` for a [`Step`].
pub fn describe<S: Step>() -> PluginInfo {
    let info = S::info();
    let schema = schemars::schema_for!(S::Config);
    PluginInfo {
        name: info.name,
        version: info.version,
        description: info.description,
        config_schema: serde_json::to_string(&schema).unwrap_or_else(|_| "{}".to_owned()),
        capabilities: info.capabilities,
    }
}

/// `run` for a [`Step`]: parse the input, run, encode the outcome.
pub fn run<S: Step>(input: StepInput) -> Result<WitOutcome, WitError> {
    let input = parse_input::<S>(input).map_err(to_wit_error)?;
    S::run(input, &crate::wit_host::WitHost).map(to_wit_outcome).map_err(to_wit_error)
}

/// Parses the JSON parts of a step input into an [`Input`] of the step's config.
pub fn parse_input<S: Step>(input: StepInput) -> Result<Input<S::Config>, StepError> {
    let config = serde_json::from_str(&input.config).map_err(|e| StepError::fatal(format!("config: {e}")))?;
    let context =
        serde_json::from_str(&input.context).map_err(|e| StepError::fatal(format!("context: {e}")))?;
    Ok(Input {
        run_id: input.run_id,
        step_id: input.step_id,
        attempt: input.attempt,
        now_ms: input.now_ms,
        config,
        context,
    })
}

fn to_wit_outcome(outcome: Outcome) -> WitOutcome {
    match outcome {
        Outcome::Done(v) => WitOutcome::Done(v.to_string()),
        Outcome::Branch { target, output } => {
            WitOutcome::Branch(BranchTo { target, output: output.to_string() })
        }
        Outcome::Sleep { until_ms, output } => {
            WitOutcome::Sleep(SleepUntil { until_ms, output: output.to_string() })
        }
        Outcome::SetVars(v) => WitOutcome::SetVars(v.to_string()),
    }
}

fn to_wit_error(e: StepError) -> WitError {
    WitError { message: e.message, retryable: e.retryable }
}

/// Exports a [`Step`](crate::Step) implementation as the plugin's `step` interface.
///
/// Use it once per plugin crate, at the top level:
///
/// ```ignore
/// weft_sdk::export_step!(MyStep);
/// ```
#[macro_export]
macro_rules! export_step {
    ($step:ty) => {
        #[doc(hidden)]
        pub struct __WeftStepExport;

        impl $crate::__private::Guest for __WeftStepExport {
            fn describe() -> $crate::bindings::exports::weft::plugin::step::PluginInfo {
                $crate::__private::describe::<$step>()
            }

            fn run(
                input: $crate::bindings::exports::weft::plugin::step::StepInput,
            ) -> ::core::result::Result<
                $crate::bindings::exports::weft::plugin::step::Outcome,
                $crate::bindings::exports::weft::plugin::step::StepError,
            > {
                $crate::__private::run::<$step>(input)
            }
        }

        $crate::bindings::export!(__WeftStepExport with_types_in $crate::bindings);
    };
}
