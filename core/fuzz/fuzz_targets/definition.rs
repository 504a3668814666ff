//! A workflow definition as the API reads it: any bytes either fail to
//! parse or parse into a definition that validates without panicking and
//! survives a round trip through JSON unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use weft_core::definition::WorkflowSpec;
use weft_core::limits::{HostLimits, LimitOverrides};
use weft_core::validate::{Catalog, StepType, validate};

struct Fixture {
    id: &'static str,
    schema: Value,
    limits: LimitOverrides,
}

impl StepType for Fixture {
    fn id(&self) -> &str {
        self.id
    }
    fn limits(&self) -> &LimitOverrides {
        &self.limits
    }
    fn config_schema(&self) -> &Value {
        &self.schema
    }
    fn config_errors(&self, config: &Value) -> Vec<(String, String)> {
        let required = self.schema["required"].as_array().cloned().unwrap_or_default();
        required
            .iter()
            .filter_map(Value::as_str)
            .filter(|name| config.get(name).is_none())
            .map(|name| (String::new(), format!("`{name}` is required")))
            .collect()
    }
}

struct Fixtures;

impl Catalog for Fixtures {
    type Step = Box<Fixture>;
    fn resolve(&self, wanted: &str) -> Option<Box<Fixture>> {
        let name = wanted.split('@').next().unwrap_or(wanted);
        let (id, schema) = match name {
            "email" => ("email@0.1.0", json!({ "type": "object", "required": ["to"] })),
            "condition" => (
                "condition@0.1.0",
                json!({ "type": "object", "required": ["if"], "properties": {
                    "then": { "type": "string", "x-weft-target": true },
                    "else": { "type": "string", "x-weft-target": true } } }),
            ),
            "wait" => ("wait@0.1.0", json!({ "type": "object" })),
            _ => return None,
        };
        Some(Box::new(Fixture {
            id,
            schema,
            limits: LimitOverrides { fuel: Some(1_000_000), ..Default::default() },
        }))
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = serde_json::from_slice::<WorkflowSpec>(data) else { return };
    let _ = validate(&spec, &Fixtures, &HostLimits::default());
    let text = serde_json::to_string(&spec).expect("a parsed definition serializes");
    let again: WorkflowSpec = serde_json::from_str(&text).expect("a serialized definition parses");
    assert_eq!(spec, again, "a definition survives a round trip");
});
