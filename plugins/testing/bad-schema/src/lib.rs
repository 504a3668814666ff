//! A step plugin whose config schema is not a JSON Schema: the host must
//! refuse to install it.

wit_bindgen::generate!({ path: "../../../wit", world: "weft:plugin/step-plugin@0.1.0" });

use exports::weft::plugin::step::{Guest, Outcome, PluginInfo, StepError, StepInput};

struct BadSchema;

impl Guest for BadSchema {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "bad-schema".into(),
            version: "0.1.0".into(),
            description: "Declares an invalid schema".into(),
            config_schema: r#"{ "type": "no-such-type" }"#.into(),
            capabilities: Vec::new(),
        }
    }

    fn run(_input: StepInput) -> Result<Outcome, StepError> {
        Ok(Outcome::Done("null".into()))
    }
}

export!(BadSchema);
