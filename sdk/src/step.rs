//! The trait a plugin implements.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use crate::{Host, Info, Input, Outcome, StepError};

/// A step type. Implement it for a unit struct and export it with
/// [`export_step!`](crate::export_step).
pub trait Step {
    /// The step's config, deserialized from the rendered config JSON. Its JSON
    /// Schema, generated from the type, is what the host validates workflow
    /// definitions against, so doc comments on its fields become descriptions.
    type Config: DeserializeOwned + JsonSchema;

    /// Name, version, description and requested capabilities.
    fn info() -> Info;

    /// Run one attempt. Return [`StepError::retryable`] for failures worth
    /// retrying (a timeout, a 503) and [`StepError::fatal`] for the others.
    fn run(input: Input<Self::Config>, host: &dyn Host) -> Result<Outcome, StepError>;
}
