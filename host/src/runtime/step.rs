//! One step attempt: a fresh `Store` with its limits, instantiate from the
//! plugin's `InstancePre`, call `run`, and turn whatever happened into an
//! outcome or a precise failure, with the resources used.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::{Store, Trap, UpdateDeadline};
use wasmtime_wasi::WasiCtx;

use super::bindings::{self, wit_types};
use super::capability::Backends;
use super::error::{PRE_REDACTION_ERROR_BYTES, StepFailure, cap_message};
use super::limits::Limits;
use super::output::CapturedOutput;
use super::plugin::Plugin;
use super::state::{Caller, Origin, StepState};
use super::types::{LogLine, Outcome, StepInput, Usage};

/// Bytes of stdout and of stderr kept per attempt.
pub const CAPTURE_BYTES: usize = 64 * 1024;

/// Everything about one attempt: the result, what it used and what it said.
#[derive(Debug, Clone)]
pub struct StepReport {
    /// `name@version` of the plugin.
    pub plugin: String,
    /// The outcome, or why the attempt failed.
    pub result: Result<Outcome, StepFailure>,
    /// Fuel, peak memory and duration.
    pub usage: Usage,
    /// Lines written through `log`.
    pub logs: Vec<LogLine>,
    /// Captured stdout (bounded).
    pub stdout: String,
    /// Captured stderr (bounded).
    pub stderr: String,
}

impl StepReport {
    /// The failure as the run log shows it: "plugin `x@1.0.0`: <failure>".
    pub fn error_message(&self) -> Option<String> {
        self.result.as_ref().err().map(|e| format!("plugin `{}`: {e}", self.plugin))
    }
}

/// What an attempt needs from the runtime.
pub(crate) struct Attempt<'a> {
    pub engine: &'a wasmtime::Engine,
    pub backends: &'a Arc<Backends>,
    pub meter_fuel: bool,
}

/// A store for one attempt of `caller`, with every limit applied.
#[allow(clippy::too_many_arguments)]
pub(crate) fn new_store(
    a: &Attempt<'_>,
    caller: Arc<Caller>,
    limits: &Limits,
    origin: Origin,
    secrets: Arc<super::secrets::SecretScope>,
    stdout: &CapturedOutput,
    stderr: &CapturedOutput,
    started: Instant,
) -> wasmtime::Result<Store<StepState>> {
    // No preopened directories, no environment, no args, no network: the
    // builder inherits nothing and denies sockets unless told otherwise.
    let wasi: WasiCtx = WasiCtx::builder().stdout(stdout.clone()).stderr(stderr.clone()).build();
    let state = StepState::new(wasi, limits.memory_bytes, caller, a.backends.clone(), origin, secrets);
    let mut store = Store::new(a.engine, state);
    store.limiter(|s| &mut s.limiter);
    if a.meter_fuel {
        store.set_fuel(limits.fuel)?;
    }
    let deadline = started + Duration::from_millis(limits.time_ms);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if Instant::now() >= deadline {
            Ok(UpdateDeadline::Interrupt)
        } else {
            // Yield at every tick so other steps on this executor make progress.
            Ok(UpdateDeadline::Yield(1))
        }
    });
    Ok(store)
}

/// Runs one attempt of `plugin`.
pub(crate) async fn run(a: Attempt<'_>, plugin: &Plugin, input: &StepInput, limits: Limits) -> StepReport {
    let started = Instant::now();
    let stdout = CapturedOutput::new(CAPTURE_BYTES);
    let stderr = CapturedOutput::new(CAPTURE_BYTES);
    let secrets = input.secrets.clone().unwrap_or_default();
    let mut store = match new_store(
        &a,
        plugin.caller.clone(),
        &limits,
        Origin::of(input),
        secrets,
        &stdout,
        &stderr,
        started,
    ) {
        Ok(store) => store,
        Err(e) => {
            return StepReport {
                plugin: plugin.id().to_owned(),
                result: Err(StepFailure::Host(e.to_string())),
                usage: Usage::default(),
                logs: Vec::new(),
                stdout: String::new(),
                stderr: String::new(),
            };
        }
    };
    let wit_input = wit_types::StepInput::from(input);
    let call = async {
        let instance = plugin.pre.instantiate_async(&mut store).await?;
        instance.weft_plugin_step().call_run(&mut store, &wit_input).await
    };
    // The epoch deadline stops wasm code; this timeout stops host calls too
    // (a WASI sleep, a slow HTTP response).
    let called = tokio::time::timeout(Duration::from_millis(limits.time_ms), call).await;
    let duration = started.elapsed();

    let stderr_text = stderr.text();
    let result = match called {
        Err(_elapsed) => Err(StepFailure::TimeExceeded { limit_ms: limits.time_ms }),
        Ok(Err(error)) => Err(classify_trap(&error, &store, &limits, &stderr_text)),
        Ok(Ok(Err(e))) => Err(StepFailure::Failed {
            message: cap_message(e.message, PRE_REDACTION_ERROR_BYTES),
            retryable: e.retryable,
        }),
        Ok(Ok(Ok(outcome))) => {
            let size = bindings::outcome_len(&outcome) as u64;
            if size > limits.output_bytes {
                Err(StepFailure::OutputTooLarge { size, limit: limits.output_bytes })
            } else {
                bindings::parse_outcome(outcome).map_err(StepFailure::InvalidOutput)
            }
        }
    };
    let fuel = if a.meter_fuel { limits.fuel.saturating_sub(store.get_fuel().unwrap_or(0)) } else { 0 };
    let state = store.into_data();
    let mut logs = state.logs;
    if state.logs_dropped > 0 {
        logs.push(LogLine {
            level: super::types::LogLevel::Warn,
            message: format!("{} more log lines dropped", state.logs_dropped),
        });
    }
    StepReport {
        plugin: plugin.id().to_owned(),
        result,
        usage: Usage { fuel, peak_memory_bytes: state.limiter.peak, duration },
        logs,
        stdout: stdout.text(),
        stderr: stderr_text,
    }
}

/// Names the limit or the trap behind a wasmtime error.
pub(crate) fn classify_trap(
    error: &wasmtime::Error,
    store: &Store<StepState>,
    limits: &Limits,
    stderr: &str,
) -> StepFailure {
    if let Some(requested) = store.data().limiter.exceeded {
        return StepFailure::MemoryExceeded { limit: limits.memory_bytes, requested };
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => StepFailure::FuelExhausted { limit: limits.fuel },
        Some(Trap::Interrupt) => StepFailure::TimeExceeded { limit_ms: limits.time_ms },
        Some(Trap::StackOverflow) => StepFailure::StackOverflow,
        Some(trap) => match panic_message(stderr) {
            Some(message) => {
                StepFailure::Panicked { message: cap_message(message, PRE_REDACTION_ERROR_BYTES) }
            }
            None => StepFailure::Trapped { message: with_stderr(&trap.to_string(), stderr) },
        },
        None => StepFailure::Trapped { message: with_stderr(&format!("{error:#}"), stderr) },
    }
}

/// The message of a Rust panic from the standard hook's output:
/// "thread '…' panicked at src/lib.rs:1:2:\n<message>\nnote: …".
fn panic_message(stderr: &str) -> Option<String> {
    let after = &stderr[stderr.find("panicked at ")?..];
    let body = after.split_once('\n')?.1;
    let message: Vec<&str> = body.lines().take_while(|l| !l.starts_with("note: ")).collect();
    Some(message.join("\n").trim().to_owned())
}

fn with_stderr(message: &str, stderr: &str) -> String {
    let tail = stderr.trim();
    if tail.is_empty() {
        return message.to_owned();
    }
    let start = tail.char_indices().rev().nth(499).map(|(i, _)| i).unwrap_or(0);
    format!("{message}; stderr: {}", &tail[start..])
}

#[cfg(test)]
mod tests {
    use super::panic_message;

    #[test]
    fn panic_message_reads_the_standard_hook() {
        let stderr =
            "\nthread '<unnamed>' panicked at src/lib.rs:9:5:\nboom: 42\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(panic_message(stderr), Some("boom: 42".to_owned()));
        assert_eq!(panic_message("nothing here"), None);
    }
}
