//! The plugin contract is language-neutral: the Python example
//! (`plugins/examples/python-greeter`) is built with componentize-py by its own
//! `build.sh`, installed into a running host over the API, and run.

use std::process::Command;
use std::time::Duration;

use serde_json::json;
use weft_tests::{Host, pairs, python, trail};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_example_builds_installs_and_runs() {
    let out = tempfile::tempdir().expect("temp dir");
    let wasm = out.path().join("py-greeter.wasm");
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/examples/python-greeter/build.sh");
    let path = format!("{}:{}", python::venv_bin().display(), std::env::var("PATH").unwrap_or_default());
    let status = Command::new("sh").arg(script).arg(&wasm).env("PATH", path).status().expect("run build.sh");
    assert!(status.success(), "build.sh failed: {status}");
    let bytes = std::fs::read(&wasm).expect("built component");

    let host = Host::start();
    let (status, body) = host.install(bytes, "").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!((body["name"].as_str(), body["version"].as_str()), (Some("py-greeter"), Some("0.1.0")));
    assert_eq!(body["configSchema"]["required"], json!(["name"]));

    let wf = host
        .create_active(json!({
            "name": "Python greets",
            "trigger": { "type": "manual" },
            "steps": [ { "id": "greet", "type": "py-greeter", "config": { "name": "{{ event.who }}" } } ]
        }))
        .await;
    let run = host.trigger(&wf, json!({ "who": "Ada" })).await;
    let run = host.wait_for(&run, "COMPLETED", Duration::from_secs(60)).await;
    assert_eq!(trail(&run), pairs(&[("greet", "completed")]));
    assert_eq!(
        run["context"]["steps"]["greet"],
        json!({ "greeting": "Hello, Ada!", "language": "python", "length": 11 })
    );
    let log = &run["logs"][0]["result"];
    assert_eq!(log["plugin"], "py-greeter@0.1.0");
    assert!(log["logs"][0]["message"].as_str().unwrap().starts_with("greeting Ada (run "), "{log}");

    // The plugin's own error comes back as a failed, non-retryable step.
    let run = host.trigger(&wf, json!({ "who": "" })).await;
    let run = host.wait_for(&run, "FAILED", Duration::from_secs(60)).await;
    let error = run["logs"][0]["result"]["error"].as_str().unwrap();
    assert_eq!(error, "plugin `py-greeter@0.1.0`: config.name must be a non-empty string");
}
