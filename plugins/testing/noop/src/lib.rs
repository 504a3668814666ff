//! Does nothing: the benchmark of dispatch cost, and a mirror of its input.

use weft_sdk::prelude::*;

/// Any config is accepted.
#[derive(Deserialize, JsonSchema)]
pub struct Config {
    /// When true, the output echoes the input's ids.
    #[serde(default)]
    echo: bool,
}

struct Noop;

impl Step for Noop {
    type Config = Config;

    fn info() -> Info {
        Info::new("noop", "0.1.0").description("Does nothing")
    }

    fn run(input: Input<Config>, _host: &dyn Host) -> Result<Outcome, StepError> {
        if input.config.echo {
            return Ok(Outcome::done(json!({
                "runId": input.run_id,
                "stepId": input.step_id,
                "attempt": input.attempt,
                "nowMs": input.now_ms,
            })));
        }
        Ok(Outcome::done(Value::Null))
    }
}

weft_sdk::export_step!(Noop);
