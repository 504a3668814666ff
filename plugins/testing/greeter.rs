// Shared by greeter-v1 and greeter-v2: one plugin, two versions.

use weft_sdk::prelude::*;

/// Who to greet.
#[derive(Deserialize, JsonSchema)]
pub struct Config {
    /// A name.
    name: String,
}

struct Greeter;

impl Step for Greeter {
    type Config = Config;

    fn info() -> Info {
        Info::new("greeter", VERSION).description("Greets, and says which version did")
    }

    fn run(input: Input<Config>, _host: &dyn Host) -> Result<Outcome, StepError> {
        Ok(Outcome::done(json!({ "greeting": format!("hello {}", input.config.name), "version": VERSION })))
    }
}

weft_sdk::export_step!(Greeter);
