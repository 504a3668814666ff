//! Validation of a workflow definition (`weft_core::validate`), against the
//! plugins loaded in this host's registry.

use std::sync::Arc;

use serde_json::Value;
pub use weft_core::validate::*;

use crate::runtime::{LimitOverrides, Plugin, Registry};

impl StepType for Plugin {
    fn id(&self) -> &str {
        Plugin::id(self)
    }

    fn limits(&self) -> &LimitOverrides {
        Plugin::limits(self)
    }

    fn config_schema(&self) -> &Value {
        &self.info().config_schema
    }

    fn config_errors(&self, config: &Value) -> Vec<(String, String)> {
        self.validate_config_detailed(config)
    }
}

impl Catalog for Registry {
    type Step = Arc<Plugin>;

    fn resolve(&self, wanted: &str) -> Option<Arc<Plugin>> {
        Registry::resolve(self, wanted)
    }
}
