//! A step plugin whose `describe()` traps: the host must refuse to install it.

wit_bindgen::generate!({ path: "../../../wit", world: "weft:plugin/step-plugin@0.1.0" });

use exports::weft::plugin::step::{Guest, Outcome, PluginInfo, StepError, StepInput};

struct BadDescribe;

impl Guest for BadDescribe {
    fn describe() -> PluginInfo {
        panic!("describe is broken")
    }

    fn run(_input: StepInput) -> Result<Outcome, StepError> {
        Ok(Outcome::Done("null".into()))
    }
}

export!(BadDescribe);
