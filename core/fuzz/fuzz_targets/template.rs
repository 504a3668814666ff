//! A step config's template against a run context: any text renders or
//! fails with an error, within the fuel and the output cap, and `secrets`
//! only ever yields handles.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use weft_core::secrets::SecretScope;
use weft_core::template::{MAX_RENDERED_BYTES, Templates};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    thread_local! { static TEMPLATES: Templates = Templates::default(); }
    let context = json!({
        "event": { "name": "ada", "items": [1, 2, 3], "nested": { "a": { "b": "c" } } },
        "steps": { "fetch": { "status": 200, "body": { "id": 7 } } },
        "vars": { "n": 3 },
    });
    let config = json!({ "field": text, "list": [text] });
    let scope = SecretScope::new();
    let rendered = TEMPLATES.with(|t| t.render(&config, &context, Some(&scope)));
    let size = |v: &Value| match v {
        Value::String(s) => s.len(),
        other => other.to_string().len(),
    };
    if let Ok(rendered) = rendered {
        assert!(size(&rendered["field"]) <= MAX_RENDERED_BYTES, "output over the cap");
        assert!(size(&rendered["list"][0]) <= MAX_RENDERED_BYTES, "output over the cap");
    }
});
