//! Installing plugins into a running host: use at once, versions, errors,
//! deletion, and a second host on the same database.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use weft_tests::both_databases;
use weft_tests::{Host, Options, plugin_wasm};

const T: Duration = Duration::from_secs(20);

fn wasm(name: &str) -> Vec<u8> {
    std::fs::read(plugin_wasm(name)).unwrap()
}

fn greet_workflow(step_type: &str, wait: Option<&str>) -> Value {
    let mut steps =
        vec![json!({ "id": "greet", "type": step_type, "config": { "name": "{{ event.who }}" } })];
    if let Some(duration) = wait {
        steps.insert(0, json!({ "id": "pause", "type": "wait", "config": { "duration": duration } }));
    }
    json!({ "name": "Greet", "trigger": { "type": "manual" }, "steps": steps })
}

async fn run_greeting(host: &Host, workflow: &str) -> Value {
    let (status, run) =
        host.post(&format!("/api/workflows/{workflow}/trigger?wait=10000"), json!({ "who": "ada" })).await;
    assert_eq!((status, &run["status"]), (200, &json!("COMPLETED")), "{run}");
    run["context"]["steps"]["greet"].clone()
}

both_databases! {
#[tokio::test]
async fn an_installed_plugin_is_usable_at_once_and_listed_beside_the_builtins() {
    let host = Host::start();
    let (status, body) = host.install(wasm("greeter-v1"), "?timeMs=5000").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        (&body["name"], &body["version"], &body["builtin"]),
        (&json!("greeter"), &json!("1.0.0"), &json!(false))
    );
    assert_eq!(body["limits"]["timeMs"], 5000);
    assert_eq!(body["configSchema"]["required"], json!(["name"]));
    // The same bytes again: nothing new; with other settings, refused
    // rather than answered as if they applied.
    let (status, _) = host.install(wasm("greeter-v1"), "?timeMs=5000").await;
    assert_eq!(status, 200);
    let (status, body) = host.install(wasm("greeter-v1"), "?timeMs=4000").await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("other settings"), "{body}");

    let (_, list) = host.get("/api/plugins").await;
    let names: Vec<(String, bool)> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap().to_owned(), p["builtin"].as_bool().unwrap()))
        .collect();
    assert!(names.contains(&("greeter".into(), false)), "{names:?}");
    assert!(names.contains(&("condition".into(), true)), "{names:?}");
    let (status, versions) = host.get("/api/plugins/greeter").await;
    assert_eq!((status, versions["versions"].as_array().unwrap().len()), (200, 1));

    let wf = host.create_active(greet_workflow("greeter", None)).await;
    assert_eq!(run_greeting(&host, &wf).await, json!({ "greeting": "hello ada", "version": "1.0.0" }));
}
}

both_databases! {
#[tokio::test]
async fn a_new_version_serves_new_runs_while_a_waiting_run_finishes_on_the_old_one() {
    let host = Host::start();
    assert_eq!(host.install(wasm("greeter-v1"), "").await.0, 201);
    let waiting_wf = host.create_active(greet_workflow("greeter", Some("1s"))).await;
    let pinned = host.create_active(greet_workflow("greeter@1.0.0", None)).await;
    let old_run = host.trigger(&waiting_wf, json!({ "who": "ada" })).await;
    host.wait_for(&old_run, "WAITING", T).await;

    assert_eq!(host.install(wasm("greeter-v2"), "").await.0, 201);
    // Unpinned steps resolve to the newest version at activation.
    let (status, _) = host.put(&format!("/api/workflows/{waiting_wf}/activate"), json!({})).await;
    assert_eq!(status, 200);
    let fresh = host.create_active(greet_workflow("greeter", None)).await;
    assert_eq!(run_greeting(&host, &fresh).await["version"], "2.0.0");
    assert_eq!(run_greeting(&host, &pinned).await["version"], "1.0.0");

    let old = host.wait_for(&old_run, "COMPLETED", T).await;
    assert_eq!(old["context"]["steps"]["greet"]["version"], "1.0.0", "the run in flight kept v1");
    assert_eq!(old["logs"][1]["result"]["plugin"], "greeter@1.0.0");
    let new_run = host.trigger(&waiting_wf, json!({ "who": "bob" })).await;
    let new = host.wait_for(&new_run, "COMPLETED", T).await;
    assert_eq!(new["context"]["steps"]["greet"]["version"], "2.0.0");
}
}

both_databases! {
#[tokio::test]
async fn every_install_error_has_its_status_and_names_the_problem() {
    let host = Host::start();
    let message = |body: &Value| body["error"]["message"].as_str().unwrap_or("").to_owned();

    let (status, body) = host.install(b"hello".to_vec(), "").await;
    assert_eq!(status, 400);
    assert_eq!(
        message(&body),
        "plugin rejected: not a WebAssembly component: the bytes do not start with the wasm magic number"
    );

    let (status, body) = host.install(b"\0asm\x01\0\0\0".to_vec(), "").await;
    assert_eq!(status, 422);
    assert!(
        message(&body).starts_with("plugin rejected: a core WebAssembly module, not a component"),
        "{body}"
    );

    let mut corrupt = wasm("greeter-v1");
    corrupt.truncate(corrupt.len() / 2);
    let (status, body) = host.install(corrupt, "").await;
    assert_eq!(status, 422);
    assert!(message(&body).starts_with("plugin rejected: the component does not compile: "), "{body}");

    let (status, body) = host.install(wasm("other-world"), "").await;
    assert_eq!(status, 422);
    assert!(
        message(&body)
            .starts_with("plugin rejected: the component does not implement weft:plugin/step-plugin@0.1.0"),
        "{body}"
    );

    let (status, body) = host.install(wasm("bad-describe"), "").await;
    assert_eq!(
        (status, message(&body)),
        (422, "plugin rejected: describe() failed: panicked: describe is broken".to_owned())
    );

    let (status, body) = host.install(wasm("bad-schema"), "").await;
    assert_eq!(status, 422);
    assert!(message(&body).starts_with("plugin rejected: invalid config schema: "), "{body}");

    let (status, body) = host.install(wasm("greeter-v1"), "?grant=filesystem").await;
    assert_eq!(status, 422);
    assert_eq!(
        message(&body),
        "grant: unknown capability `filesystem` (known: log, kv, http, http:HOST, email, notify, sign)"
    );
    let (status, body) = host.install(wasm("greeter-v1"), "?fuel=lots").await;
    assert_eq!(
        (status, message(&body)),
        (400, "query parameter `fuel` must be a positive integer, got \"lots\"".to_owned())
    );

    // Nothing of the above was installed.
    let (_, list) = host.get("/api/plugins").await;
    assert!(list["data"].as_array().unwrap().iter().all(|p| p["builtin"] == true), "{list}");

    assert_eq!(host.install(wasm("greeter-v1"), "").await.0, 201);
    // Same name and version, other bytes (an extra custom section).
    let mut other = wasm("greeter-v1");
    other.extend_from_slice(&[0x00, 0x02, 0x01, b'x']);
    let (status, body) = host.install(other, "").await;
    assert_eq!(status, 409);
    assert!(
        message(&body).starts_with("plugin `greeter@1.0.0` is already installed with different bytes"),
        "{body}"
    );
}
}

both_databases! {
#[tokio::test]
async fn a_plugin_in_use_or_built_in_cannot_be_deleted() {
    let host = Host::start();
    assert_eq!(host.install(wasm("greeter-v1"), "").await.0, 201);
    let wf = host.create_active(greet_workflow("greeter", None)).await;

    let (status, body) = host.call("DELETE", "/api/plugins/email/0.1.0", None).await;
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (409, Some("`email` is a built-in plugin; choose another name"))
    );
    let (status, body) = host.call("DELETE", "/api/plugins/greeter/1.0.0", None).await;
    assert_eq!(status, 409);
    assert_eq!(
        body["error"]["message"],
        format!("plugin `greeter@1.0.0` is still used by workflow `{wf}` (ACTIVE)")
    );
    // Paused, it would run the version again when activated.
    host.put(&format!("/api/workflows/{wf}/pause"), json!({})).await;
    let (status, _) = host.call("DELETE", "/api/plugins/greeter/1.0.0", None).await;
    assert_eq!(status, 409);

    host.put(&format!("/api/workflows/{wf}/archive"), json!({})).await;
    let (status, _) = host.call("DELETE", "/api/plugins/greeter/1.0.0", None).await;
    assert_eq!(status, 204);
    let (status, _) = host.get("/api/plugins/greeter").await;
    assert_eq!(status, 404);
    let (status, _) = host.call("DELETE", "/api/plugins/greeter/1.0.0", None).await;
    assert_eq!(status, 404);
    let (status, body) = host.post("/api/workflows", greet_workflow("greeter", None)).await;
    assert_eq!(status, 422, "a workflow whose plugin is gone: {body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("unknown step type `greeter`"), "{body}");
}
}

both_databases! {
#[tokio::test]
async fn a_second_host_on_the_same_database_sees_an_install_without_a_restart() {
    let first = Host::start();
    let second = Host::start_in(Arc::clone(&first.dir), &Options::default());
    assert_eq!(first.install(wasm("greeter-v1"), "").await.0, 201);
    let deadline = Instant::now() + T;
    loop {
        let (status, _) = second.get("/api/plugins/greeter").await;
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the second host never saw the plugin");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let wf = second.create_active(greet_workflow("greeter", None)).await;
    assert_eq!(run_greeting(&second, &wf).await["version"], "1.0.0");
}
}

both_databases! {
#[tokio::test]
async fn a_multipart_install_takes_grants_and_limits_from_its_settings_part() {
    let host = Host::start();
    let message = |body: &Value| body["error"]["message"].as_str().unwrap_or("").to_owned();
    let settings =
        r#"{ "grants": ["kv", "http:api.example.com"], "limits": { "fuel": 5000000000, "timeMs": 2000 } }"#;
    let (status, body) = host.install_multipart(wasm("greeter-v1"), Some(settings), "").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["grants"], json!(["kv", "http:api.example.com"]));
    assert_eq!(body["limits"]["fuel"], 5_000_000_000u64);
    assert_eq!(body["limits"]["timeMs"], 2000);
    let wf = host.create_active(greet_workflow("greeter@1.0.0", None)).await;
    assert_eq!(run_greeting(&host, &wf).await["greeting"], "hello ada");

    // Without a settings part the query parameters apply.
    let (status, body) = host.install_multipart(wasm("greeter-v2"), None, "?grant=kv").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["grants"], json!(["kv"]));

    let (status, body) = host.install_multipart(wasm("noop"), Some(r#"{ "grants": ["disk"] }"#), "").await;
    assert_eq!(status, 422, "{body}");
    assert!(message(&body).contains("unknown capability `disk`"), "{body}");
    let (status, body) =
        host.install_multipart(wasm("noop"), Some(r#"{ "limits": { "fuel": "lots" } }"#), "").await;
    assert_eq!(status, 422, "{body}");
    assert!(message(&body).starts_with("part `settings`: field `limits.fuel`"), "{body}");
    let (status, body) = host.install_multipart(wasm("noop"), Some("{ not json"), "").await;
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).starts_with("part `settings`: malformed JSON"), "{body}");
    let (status, body) = host.install_multipart(wasm("noop"), Some("{}"), "?grant=kv").await;
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).contains("not both"), "{body}");

    let form = "--b\r\ncontent-disposition: form-data; name=\"settings\"\r\n\r\n{}\r\n--b--\r\n";
    let (status, body) = host
        .call_raw("POST", "/api/plugins", form.as_bytes().to_vec(), "multipart/form-data; boundary=b")
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(message(&body), "multipart body: part `component` is missing");
    let (_, list) = host.get("/api/plugins/noop").await;
    assert_eq!(list["error"]["code"], "not_found", "nothing was half-installed: {list}");
}
}

/// A host whose installs compile (the shared test cache would answer instead).
fn compiling_host(env: &[(&str, &str)]) -> Host {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
    env.push(("WEFT_CACHE_DIR".into(), dir.path().join("cache").display().to_string()));
    Host::start_in(dir, &Options { env, ..Options::default() })
}

async fn installed_names(host: &Host) -> Vec<String> {
    let (_, list) = host.get("/api/plugins").await;
    list["data"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_owned()).collect()
}

both_databases! {
#[tokio::test]
async fn a_compile_over_the_hosts_time_or_memory_limit_is_refused_and_nothing_is_stored() {
    let cases = [
        ("WEFT_COMPILE_TIMEOUT_MS", "1", "compiling took longer than the host's limit of 0.001 s"),
        (
            "WEFT_COMPILE_MEMORY_BYTES",
            "33554432",
            "compiling needs more than the host's limit of 33554432 bytes of memory",
        ),
    ];
    for (name, value, expected) in cases {
        let host = compiling_host(&[(name, value)]);
        let (status, body) = host.install(wasm("greeter-v1"), "").await;
        assert_eq!(status, 422, "{name}={value}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{name}={value}: {message}");
        assert!(!installed_names(&host).await.contains(&"greeter".to_owned()));
        assert_eq!(host.get("/api/plugins/greeter").await.0, 404);
        // The child died, not the host: it still runs built-in steps.
        let wf = host
            .create_active(json!({
                "name": "Still up", "trigger": { "type": "manual" },
                "steps": [{ "id": "check", "type": "condition", "config": { "if": "{{ true }}" } }]
            }))
            .await;
        let (status, run) = host.post(&format!("/api/workflows/{wf}/trigger?wait=10000"), json!({})).await;
        assert_eq!((status, &run["status"]), (200, &json!("COMPLETED")), "{run}");
    }
}
}

both_databases! {
#[tokio::test]
async fn installs_compile_one_at_a_time_and_the_same_bytes_again_compile_nothing() {
    let host = compiling_host(&[("WEFT_INSTALL_QUEUE", "0"), ("WEFT_COMPILER", "fast")]);
    // The built-ins' compile lines come before the line saying they loaded.
    let mut builtins = None;
    for _ in 0..200 {
        let lines = host.stderr();
        if lines.iter().any(|l| l.contains("built-in and")) {
            builtins = Some(lines.iter().filter(|l| l.contains("in a child process in")).count());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let builtins = builtins.expect("the host says its built-ins loaded");
    let bytes = wasm("greeter-v1");
    let send = || {
        host.client()
            .post(format!("{}/api/plugins", host.base))
            .bearer_auth(weft_tests::TOKEN)
            .header("content-type", "application/wasm")
            .body(bytes.clone())
            .send()
    };
    let (a, b, c) = tokio::join!(send(), send(), send());
    let mut statuses = Vec::new();
    for answer in [a, b, c] {
        let answer = answer.unwrap();
        let status = answer.status().as_u16();
        if status == 429 {
            assert_eq!(answer.headers()["retry-after"], "2");
            let body: Value = answer.json().await.unwrap();
            assert_eq!(body["error"]["code"], "busy", "{body}");
        }
        statuses.push(status);
    }
    statuses.sort();
    // One compiles; with no queue, those arriving meanwhile are turned away.
    assert_eq!(statuses[0], 201, "{statuses:?}");
    assert!(statuses[1..].iter().all(|s| *s == 429 || *s == 200), "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");

    // Built-ins compiled in child processes too, before the host answered.
    let compiles = || host.stderr().iter().filter(|l| l.contains("in a child process in")).count() - builtins;
    assert_eq!(compiles(), 1, "{:?}", host.stderr());
    let (status, body) = host.install(bytes.clone(), "").await;
    assert_eq!((status, &body["name"]), (200, &json!("greeter")), "{body}");
    assert_eq!(compiles(), 1, "the same bytes again compile nothing");
    let wf = host.create_active(greet_workflow("greeter", None)).await;
    assert_eq!(run_greeting(&host, &wf).await["greeting"], "hello ada");
}
}
