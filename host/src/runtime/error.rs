//! Why a plugin did not load, and why a step attempt failed.

use thiserror::Error;

/// A component that cannot become a plugin. Every case is the uploader's fault
/// (a 4xx), except [`LoadError::Internal`].
#[derive(Debug, Error, PartialEq, Eq)]
pub enum LoadError {
    /// The bytes are not WebAssembly at all.
    #[error("not a WebAssembly component: the bytes do not start with the wasm magic number")]
    NotWasm,
    /// A core module was given where a component is needed.
    #[error(
        "a core WebAssembly module, not a component: build for wasm32-wasip2 or wrap it with `wasm-tools component new`"
    )]
    CoreModule,
    /// The component does not compile (corrupt, or uses unsupported features).
    #[error("the component does not compile: {0}")]
    Compile(String),
    /// The component does not implement the `step-plugin` world, or imports
    /// something the host does not provide.
    #[error("the component does not implement weft:plugin/step-plugin@0.1.0: {0}")]
    WrongWorld(String),
    /// `describe()` trapped or failed.
    #[error("describe() failed: {0}")]
    Describe(String),
    /// `describe()` returned something unusable.
    #[error("invalid plugin info: {0}")]
    InvalidInfo(String),
    /// The config schema is not a valid JSON Schema.
    #[error("invalid config schema: {0}")]
    InvalidSchema(String),
    /// A host failure while loading.
    #[error("internal error while loading the plugin: {0}")]
    Internal(String),
}

/// A failed step attempt. The message says which limit or what failed, with
/// the value; [`StepFailure::retryable`] tells the retry policy what to do.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum StepFailure {
    /// The plugin returned a step error.
    #[error("{message}")]
    Failed {
        /// The plugin's message.
        message: String,
        /// The plugin's retry flag.
        retryable: bool,
    },
    /// Fuel ran out.
    #[error("fuel exhausted after {limit} units (fuel limit)")]
    FuelExhausted {
        /// The fuel limit of the attempt.
        limit: u64,
    },
    /// Linear memory or tables wanted to grow past the limit.
    #[error("memory limit of {limit} bytes exceeded (asked for {requested} bytes)")]
    MemoryExceeded {
        /// The memory limit, bytes.
        limit: u64,
        /// The total the plugin asked for, bytes.
        requested: u64,
    },
    /// The attempt ran past its wall-time limit.
    #[error("wall-time limit of {limit_ms} ms exceeded")]
    TimeExceeded {
        /// The limit, ms.
        limit_ms: u64,
    },
    /// The wasm call stack overflowed.
    #[error("stack overflow (unbounded recursion?)")]
    StackOverflow,
    /// The plugin panicked; the message comes from its stderr.
    #[error("panicked: {message}")]
    Panicked {
        /// The panic message.
        message: String,
    },
    /// Any other trap.
    #[error("trapped: {message}")]
    Trapped {
        /// The trap and the end of stderr.
        message: String,
    },
    /// The output was larger than the output cap.
    #[error("output of {size} bytes exceeds the cap of {limit} bytes")]
    OutputTooLarge {
        /// Output size, bytes.
        size: u64,
        /// The cap, bytes.
        limit: u64,
    },
    /// The output is not valid JSON of the right shape.
    #[error("invalid output: {0}")]
    InvalidOutput(String),
    /// The host failed, not the plugin.
    #[error("host error: {0}")]
    Host(String),
}

/// Longest error message a plugin's failure keeps, bytes: an error is stored
/// with every attempt, so it is capped like the output.
pub const MAX_ERROR_BYTES: usize = 8 * 1024;

/// The first cut of a plugin's error, before secret values are redacted from
/// it: long enough that any value starting within [`MAX_ERROR_BYTES`] is
/// still whole (values are at most 64 KiB), so the final cut at
/// [`MAX_ERROR_BYTES`], after redaction, cannot leave part of one.
pub const PRE_REDACTION_ERROR_BYTES: usize = MAX_ERROR_BYTES + 64 * 1024;

/// `message` cut at `max` bytes, saying how much was cut.
pub fn cap_message(mut message: String, max: usize) -> String {
    if message.len() <= max {
        return message;
    }
    let total = message.len();
    let mut end = max;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    message.truncate(end);
    message.push_str(&format!("… ({} more bytes cut)", total - end));
    message
}

impl StepFailure {
    /// Applies `f` to the text a plugin put in the failure.
    pub fn redact(&mut self, f: impl Fn(&str) -> String) {
        match self {
            StepFailure::Failed { message, .. }
            | StepFailure::Panicked { message }
            | StepFailure::Trapped { message } => *message = f(message),
            StepFailure::InvalidOutput(text) | StepFailure::Host(text) => *text = f(text),
            _ => {}
        }
    }

    /// Whether the step's retry policy may try again. Limits of fuel and memory
    /// are deterministic, so retrying cannot help; wall time may be transient.
    pub fn retryable(&self) -> bool {
        match self {
            StepFailure::Failed { retryable, .. } => *retryable,
            StepFailure::TimeExceeded { .. } | StepFailure::Host(_) => true,
            _ => false,
        }
    }
}
