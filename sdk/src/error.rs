//! Errors a step returns and errors host interfaces return.

use std::fmt;

/// A failed step attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepError {
    /// What went wrong, for the run log.
    pub message: String,
    /// Whether the step's retry policy may try again.
    pub retryable: bool,
}

impl StepError {
    /// A failure that trying again will not fix (bad config, a 404).
    pub fn fatal(message: impl Into<String>) -> Self {
        Self { message: message.into(), retryable: false }
    }

    /// A failure that trying again may fix (a timeout, a 503).
    pub fn retryable(message: impl Into<String>) -> Self {
        Self { message: message.into(), retryable: true }
    }
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StepError {}

/// An error from a host interface, e.g. a capability that was not granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostError {
    /// What went wrong.
    pub message: String,
    /// Whether trying again later may succeed.
    pub retryable: bool,
}

impl HostError {
    /// An error that trying again will not fix.
    pub fn fatal(message: impl Into<String>) -> Self {
        Self { message: message.into(), retryable: false }
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HostError {}

/// A host error becomes a step error with the same message and retry flag, so
/// `?` on a host call does the right thing.
impl From<HostError> for StepError {
    fn from(e: HostError) -> Self {
        Self { message: e.message, retryable: e.retryable }
    }
}
