//! What an operator runs Weft with: the OpenAPI document, Prometheus metrics.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};
use weft_tests::{Host, Options, TOKEN};

const T: Duration = Duration::from_secs(30);

/// Methods a path may answer.
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// The schema of `name` in the document, resolvable on its own.
fn schema(doc: &Value, name: &str) -> jsonschema::Validator {
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": format!("#/components/schemas/{name}"),
        "components": doc["components"],
    });
    jsonschema::validator_for(&root).unwrap_or_else(|e| panic!("schema {name}: {e}"))
}

fn conforms(doc: &Value, name: &str, value: &Value) {
    let validator = schema(doc, name);
    let errors: Vec<String> =
        validator.iter_errors(value).map(|e| format!("{}: {e}", e.instance_path)).collect();
    assert!(errors.is_empty(), "{name} does not match its schema: {errors:?}\n{value:#}");
}

#[tokio::test]
async fn the_openapi_document_and_the_router_list_the_same_routes() {
    let host = Host::start();
    let (status, doc) = host.call_with("GET", "/api/openapi.json", None, None).await;
    assert_eq!(status, 200, "served without a token");
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().expect("paths");
    let mut operations = 0;
    for (path, item) in paths {
        let concrete = path.replace('{', "x-").replace('}', "");
        let documented: Vec<String> =
            item.as_object().expect("item").keys().map(|m| m.to_uppercase()).collect();
        for method in METHODS {
            // Without a token: a documented route answers 401 (the token
            // check runs on matched routes only), or its own answer when it
            // is public; the fallback's 404 would say `route ... not found`.
            let (status, body) = host.call_with(method, &concrete, None, None).await;
            let message = body["error"]["message"].as_str().unwrap_or_default();
            if documented.iter().any(|m| m == method) {
                operations += 1;
                assert_ne!(status, 405, "{method} {path} is documented but not routed");
                assert!(
                    !message.starts_with("route `"),
                    "{method} {path} is documented but not routed: {body}"
                );
                let op = &item[method.to_lowercase()];
                if op.get("x-weft-role").is_some() {
                    assert_eq!(status, 401, "{method} {path} needs a token: {body}");
                    assert!(op["responses"]["401"].is_object(), "{method} {path} documents its 401");
                }
            } else {
                // With a token, past the token check: 405 (or the fallback).
                let (status, body) = host.call_with(method, &concrete, None, Some(TOKEN)).await;
                let message = body["error"]["message"].as_str().unwrap_or_default();
                assert!(
                    status == 405 || message.starts_with("route `"),
                    "{method} {path} is routed but not documented: {status} {body}"
                );
            }
        }
    }
    assert!(operations >= 40, "{operations} operations");
    // Every operation has an id, a tag and a summary, and every error it
    // documents has the one error shape.
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("item") {
            assert!(op["operationId"].is_string() && op["tags"][0].is_string(), "{method} {path}");
            assert!(op["summary"].is_string(), "{method} {path} has a summary");
            for (status, response) in op["responses"].as_object().expect("responses") {
                // Health answers 503 with its own shape, for load balancers.
                let health = path.ends_with("health") || path == "/healthz";
                if status.starts_with('4') || (status.starts_with('5') && !health) {
                    let schema = &response["content"]["application/json"]["schema"]["$ref"];
                    assert_eq!(schema, "#/components/schemas/Error", "{method} {path} {status}");
                }
            }
        }
    }
}

#[tokio::test]
async fn real_answers_match_the_documented_schemas() {
    let host = Host::start();
    let (_, doc) = host.call_with("GET", "/api/openapi.json", None, None).await;
    let definition = json!({
        "name": "Documented",
        "trigger": { "type": "manual" },
        "steps": [
            { "id": "set", "type": "update-field", "config": { "set": { "done": true } },
              "retry": { "maxAttempts": 2 } },
            { "id": "both", "type": "parallel", "branches": [
                [ { "id": "a", "type": "update-field", "config": { "set": { "a": 1 } } } ],
                [ { "id": "b", "type": "update-field", "config": { "set": { "b": 2 } } } ]
            ] }
        ]
    });
    // A definition the host accepts is one the document describes.
    conforms(&doc, "WorkflowSpec", &definition);
    let id = host.create_active(definition).await;
    let (status, workflow) = host.get(&format!("/api/workflows/{id}")).await;
    assert_eq!(status, 200);
    conforms(&doc, "WorkflowView", &workflow);
    let (status, ran) =
        host.post(&format!("/api/workflows/{id}/trigger?wait=10000"), json!({ "x": 1 })).await;
    assert_eq!((status, ran["status"].as_str()), (200, Some("COMPLETED")), "{ran}");
    conforms(&doc, "TriggerAnswer", &ran);
    conforms(&doc, "RunView", &ran);
    let run = ran["id"].as_str().expect("run id");
    let (_, started) = host.post(&format!("/api/workflows/{id}/trigger"), json!({})).await;
    conforms(&doc, "StartedRun", &started);
    for (path, name) in [
        ("/api/workflows".to_owned(), "Paged_WorkflowView"),
        ("/api/workflow-runs".to_owned(), "Paged_RunView"),
        (format!("/api/workflow-runs/{run}"), "RunView"),
        ("/api/step-types".to_owned(), "StepTypes"),
        ("/api/plugins".to_owned(), "PluginList"),
        ("/api/plugins/email".to_owned(), "PluginVersions"),
        ("/api/tokens".to_owned(), "TokenList"),
        ("/api/secrets".to_owned(), "SecretList"),
        ("/api/audit".to_owned(), "AuditPage"),
        ("/api/health".to_owned(), "HealthDetails"),
        ("/api/session".to_owned(), "Session"),
        ("/api/notifications".to_owned(), "Paged_NotificationView"),
    ] {
        let (status, body) = host.get(&path).await;
        assert_eq!(status, 200, "{path}: {body}");
        conforms(&doc, name, &body);
    }
    let (status, error) = host.post("/api/workflows", json!({ "name": "x" })).await;
    assert_eq!(status, 422);
    conforms(&doc, "Error", &error);
    let (_, token) = host.post("/api/tokens", json!({ "name": "ci", "role": "viewer" })).await;
    conforms(&doc, "CreatedToken", &token);
    let (_, preview) = host.post("/api/cron/preview", json!({ "expression": "0 9 * * 1-5" })).await;
    conforms(&doc, "Preview", &preview);
    let (status, _) = host.call_with("GET", "/api/openapi.json", None, Some(TOKEN)).await;
    assert_eq!(status, 200);
}

/// Prometheus text: each sample's value by its name and sorted labels, e.g.
/// `weft_runs_started_total{workflow="x"}`.
fn samples(text: &str) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let Some((series, value)) = line.rsplit_once(' ') else { continue };
        let Ok(value) = value.parse::<f64>() else { continue };
        let key = match series.split_once('{') {
            None => series.to_owned(),
            Some((name, labels)) => {
                let mut labels: Vec<&str> = labels.trim_end_matches('}').split(',').collect();
                labels.sort_unstable();
                format!("{name}{{{}}}", labels.join(","))
            }
        };
        out.insert(key, value);
    }
    out
}

async fn scrape(host: &Host, token: Option<&str>) -> (u16, String) {
    let mut request = host.client().get(format!("{}/metrics", host.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("scrape");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

#[tokio::test]
async fn metrics_count_runs_attempts_and_requests_by_the_right_amounts() {
    let host = Host::start_with(Options { plugins: vec!["flaky"], ..Options::default() });
    let (status, _) = scrape(&host, None).await;
    assert_eq!(status, 401, "metrics need a token");
    let (_, viewer) = host.post("/api/tokens", json!({ "name": "prometheus", "role": "viewer" })).await;
    let viewer = viewer["token"].as_str().expect("token").to_owned();

    let ok = host
        .create_active(json!({
            "name": "Two steps", "trigger": { "type": "manual" },
            "steps": [
                { "id": "a", "type": "update-field", "config": { "set": { "a": 1 } } },
                { "id": "b", "type": "update-field", "config": { "set": { "b": 2 } } }
            ]
        }))
        .await;
    let retried = host
        .create_active(json!({
            "name": "Retried", "trigger": { "type": "manual" },
            "steps": [ { "id": "call", "type": "flaky", "config": { "key": "m1", "failTimes": 1 },
                         "retry": { "maxAttempts": 2, "backoffMs": 10 } } ]
        }))
        .await;
    let failing = host
        .create_active(json!({
            "name": "Failing", "trigger": { "type": "manual" },
            "steps": [ { "id": "call", "type": "flaky", "config": { "key": "m2", "failTimes": 9, "retryable": false } } ]
        }))
        .await;
    let sleeper = host
        .create_active(json!({
            "name": "Sleeper", "trigger": { "type": "manual" },
            "steps": [ { "id": "nap", "type": "wait", "config": { "duration": "1h" } } ]
        }))
        .await;
    let (_, before) = scrape(&host, Some(&viewer)).await;
    let before = samples(&before);
    for _ in 0..3 {
        let (status, run) = host.post(&format!("/api/workflows/{ok}/trigger?wait=10000"), json!({})).await;
        assert_eq!((status, run["status"].as_str()), (200, Some("COMPLETED")), "{run}");
    }
    let run = host.trigger(&retried, json!({})).await;
    host.wait_for(&run, "COMPLETED", T).await;
    let run = host.trigger(&failing, json!({})).await;
    host.wait_for(&run, "FAILED", T).await;
    let asleep = host.trigger(&sleeper, json!({})).await;
    host.wait_for(&asleep, "WAITING", T).await;
    let cancelled = host.trigger(&sleeper, json!({})).await;
    host.wait_for(&cancelled, "WAITING", T).await;
    let (status, _) = host.post(&format!("/api/workflow-runs/{cancelled}/cancel"), json!({})).await;
    assert_eq!(status, 200);

    // Any method a client makes up is one label, not one each.
    for method in ["FOO1", "FOO2"] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        host.client().request(method, format!("{}/healthz", host.base)).send().await.expect("request");
    }
    let (status, text) = scrape(&host, Some(&viewer)).await;
    assert_eq!(status, 200);
    assert!(!text.contains("FOO1") && text.contains("method=\"OTHER\""), "{text}");
    let after = samples(&text);
    let moved = |key: &str| after.get(key).copied().unwrap_or(0.0) - before.get(key).copied().unwrap_or(0.0);
    let value = |key: &str| after.get(key).copied().unwrap_or_else(|| panic!("no {key} in:\n{text}"));
    assert_eq!(moved(&format!("weft_runs_started_total{{workflow=\"{ok}\"}}")), 3.0);
    assert_eq!(moved(&format!("weft_runs_started_total{{workflow=\"{sleeper}\"}}")), 2.0);
    assert_eq!(moved(&format!("weft_runs_finished_total{{status=\"COMPLETED\",workflow=\"{ok}\"}}")), 3.0);
    assert_eq!(
        moved(&format!("weft_runs_finished_total{{status=\"COMPLETED\",workflow=\"{retried}\"}}")),
        1.0
    );
    assert_eq!(moved(&format!("weft_runs_finished_total{{status=\"FAILED\",workflow=\"{failing}\"}}")), 1.0);
    assert_eq!(
        moved(&format!("weft_runs_finished_total{{status=\"CANCELLED\",workflow=\"{sleeper}\"}}")),
        1.0
    );
    assert_eq!(moved("weft_step_attempts_total{outcome=\"ok\",type=\"update-field\"}"), 6.0);
    assert_eq!(moved("weft_step_attempts_total{outcome=\"retryable\",type=\"flaky\"}"), 1.0);
    assert_eq!(moved("weft_step_attempts_total{outcome=\"ok\",type=\"flaky\"}"), 1.0);
    assert_eq!(moved("weft_step_attempts_total{outcome=\"error\",type=\"flaky\"}"), 1.0);
    assert_eq!(moved("weft_step_duration_seconds_count{type=\"update-field\"}"), 6.0);
    assert_eq!(moved("weft_step_fuel_count{type=\"flaky\"}"), 3.0);
    assert!(value("weft_step_peak_memory_bytes_sum{type=\"flaky\"}") > 0.0);
    assert_eq!(
        moved(
            "weft_http_requests_total{method=\"POST\",route=\"/api/workflows/{id}/trigger\",status=\"200\"}"
        ),
        3.0
    );
    assert!(
        value(
            "weft_http_request_duration_seconds_count{method=\"POST\",route=\"/api/workflows/{id}/trigger\"}"
        ) >= 3.0
    );
    // The one run asleep on its hour-long wait; none due.
    assert_eq!(value("weft_runs_waiting"), 1.0);
    assert_eq!(value("weft_runs_due"), 0.0);
    assert!(value("weft_commit_batch_writes_count") >= 8.0, "every start and move is committed");
    assert!(value("weft_commit_duration_seconds_count") >= 8.0);
    assert!(text.contains("weft_plugin_compile_seconds_count{tier="), "{text}");
    assert!(text.contains("# HELP weft_runs_due "), "described");
}

#[tokio::test]
async fn json_logs_carry_the_run_workflow_step_and_attempt_of_each_line() {
    let env = [("WEFT_LOG_FORMAT", "json"), ("RUST_LOG", "weft=debug,warn")];
    let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let host = Host::start_with(Options { plugins: vec!["flaky"], env, ..Options::default() });
    let workflow = host
        .create_active(json!({
            "name": "Logged", "trigger": { "type": "manual" },
            "steps": [ { "id": "call", "type": "flaky", "config": { "key": "log", "failTimes": 1 },
                         "retry": { "maxAttempts": 2, "backoffMs": 10 } } ]
        }))
        .await;
    let run = host.trigger(&workflow, json!({})).await;
    host.wait_for(&run, "COMPLETED", T).await;
    let deadline = std::time::Instant::now() + T;
    let attempts = loop {
        let lines = host.stderr();
        let parsed: Vec<Value> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
            .collect();
        let attempts: Vec<Value> =
            parsed.into_iter().filter(|l| l["fields"]["message"] == "step attempt ended").collect();
        if attempts.len() >= 2 || std::time::Instant::now() > deadline {
            break attempts;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(attempts.len(), 2, "one line per attempt: {attempts:?}");
    for (i, line) in attempts.iter().enumerate() {
        let spans = line["spans"].as_array().expect("spans");
        let run_span = spans.iter().find(|s| s["name"] == "run").expect("run span");
        let step_span = spans.iter().find(|s| s["name"] == "step").expect("step span");
        assert_eq!(run_span["run_id"], run.as_str());
        assert_eq!(run_span["workflow_id"], workflow.as_str());
        assert_eq!(step_span["step"], "call");
        assert_eq!(step_span["attempt"], i as u64 + 1);
        assert_eq!(line["fields"]["ok"], i == 1, "the first attempt failed, the second passed");
        assert_eq!(line["level"], "DEBUG");
    }
}
