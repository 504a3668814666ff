//! Host-side types of the plugin contract, free of wasmtime and WIT.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

/// One attempt of one step, as the engine hands it to the runtime. `config` and
/// `context` are JSON text, rendered and serialized once by the engine.
#[derive(Debug, Clone, Default)]
pub struct StepInput {
    /// Workflow id (host side only: capabilities record it, the plugin sees the context).
    pub workflow_id: String,
    /// Run id.
    pub run_id: String,
    /// Step id in the definition.
    pub step_id: String,
    /// Attempt number, from 1.
    pub attempt: u32,
    /// The host clock at the start of the attempt, unix ms.
    pub now_ms: u64,
    /// Rendered config, JSON text.
    pub config: String,
    /// Run context, JSON text.
    pub context: String,
    /// The secret handles minted while rendering `config` (host side only).
    pub secrets: Option<std::sync::Arc<super::secrets::SecretScope>>,
}

/// What a successful attempt asks the engine to do next.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Outcome {
    /// Store the output and go on to the next step.
    Done(Value),
    /// Store the output and go on at `target` (a step id or `end`).
    Branch {
        /// Next step id, or `end`.
        target: String,
        /// The step output.
        output: Value,
    },
    /// Store the output and sleep until `until_ms`.
    Sleep {
        /// Wake time, unix ms.
        until_ms: u64,
        /// The step output.
        output: Value,
    },
    /// Replace the run's `vars` with this object, which is also the output.
    SetVars(Value),
}

impl Outcome {
    /// The step output stored at `steps.<id>`.
    pub fn output(&self) -> &Value {
        match self {
            Outcome::Done(v) | Outcome::SetVars(v) => v,
            Outcome::Branch { output, .. } | Outcome::Sleep { output, .. } => output,
        }
    }
}

/// What a plugin says about itself, checked by the host at load.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginInfo {
    /// Step type name.
    pub name: String,
    /// Semantic version.
    pub version: String,
    /// One line.
    pub description: String,
    /// JSON Schema of the config.
    pub config_schema: Value,
    /// Requested capabilities.
    pub capabilities: Vec<String>,
}

/// What an attempt used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// Fuel consumed (0 when fuel metering is off).
    pub fuel: u64,
    /// Peak linear memory, bytes.
    pub peak_memory_bytes: u64,
    /// Wall time, instantiation included.
    #[serde(serialize_with = "as_micros", rename = "durationUs")]
    pub duration: Duration,
}

fn as_micros<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// Severity of a plugin log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Trace.
    Trace,
    /// Debug.
    Debug,
    /// Info.
    Info,
    /// Warn.
    Warn,
    /// Error.
    Error,
}

/// One line a plugin wrote through the `log` interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// Severity.
    pub level: LogLevel,
    /// Text, cut at the host's line cap.
    pub message: String,
}
