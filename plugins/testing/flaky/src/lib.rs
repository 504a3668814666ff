//! Fails a set number of times, then succeeds: for retry tests. The count is
//! kept in the kv store under `key`, so it survives retries from the API.

use weft_sdk::prelude::*;

/// How to fail.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// Counter name.
    key: String,
    /// Calls that fail before the first success.
    fail_times: u32,
    /// Whether the failures are retryable.
    #[serde(default = "yes")]
    retryable: bool,
}

fn yes() -> bool {
    true
}

struct Flaky;

impl Step for Flaky {
    type Config = Config;

    fn info() -> Info {
        Info::new("flaky", "0.1.0").description("Fails a set number of times, then succeeds").capability("kv")
    }

    fn run(input: Input<Config>, host: &dyn Host) -> Result<Outcome, StepError> {
        let c = input.config;
        let calls = host.kv_get(&c.key)?.and_then(|v| v.parse::<u32>().ok()).unwrap_or(0) + 1;
        host.kv_set(&c.key, &calls.to_string())?;
        if calls <= c.fail_times {
            let message = format!("failure {calls} of {}", c.fail_times);
            return Err(if c.retryable { StepError::retryable(message) } else { StepError::fatal(message) });
        }
        Ok(Outcome::done(json!({ "calls": calls, "attempt": input.attempt })))
    }
}

weft_sdk::export_step!(Flaky);
