//! Concurrency per key through the real binary, on both databases: at most
//! `limit` runs of a key in progress (waits included), the others PENDING and
//! admitted in trigger order as slots free up (a run ends, is cancelled).

use std::time::Duration;

use serde_json::{Value, json};
use weft_tests::{Host, both_databases};

const T: Duration = Duration::from_secs(20);

async fn shown(host: &Host, run: &str) -> Value {
    let (status, body) = host.get(&format!("/api/workflow-runs/{run}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Asserts the run is still PENDING for a slot, a moment after the change
/// that could have admitted it.
async fn assert_queued(host: &Host, run: &str) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let body = shown(host, run).await;
    assert_eq!(
        (body["status"].as_str(), body["queued"].as_bool()),
        (Some("PENDING"), Some(true)),
        "{body:#}"
    );
}

both_databases! {
#[tokio::test]
async fn one_run_per_key_at_a_time_in_trigger_order() {
    let host = Host::start();
    let (status, body) = host
        .post("/api/workflows", json!({ "name": "Bad", "trigger": { "type": "manual" },
            "concurrency": { "limit": 0 }, "steps": [] }))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["details"].as_array().expect("details").iter().any(|d| d["field"] == "concurrency.limit"), "{body}");

    // An approval holds each run in progress until it is decided.
    let workflow = host
        .create_active(json!({ "name": "Per customer", "trigger": { "type": "manual" },
            "concurrency": { "limit": 1, "key": "{{ event.customer }}" },
            "steps": [
                { "id": "hold", "type": "approval", "config": {} },
                { "id": "done", "type": "update-field", "config": { "set": { "done": true } } }
            ] }))
        .await;
    let (_, definition) = host.get(&format!("/api/workflows/{workflow}")).await;
    assert_eq!(definition["concurrency"], json!({ "limit": 1, "key": "{{ event.customer }}" }));
    let a1 = host.trigger(&workflow, json!({ "customer": "a" })).await;
    let a2 = host.trigger(&workflow, json!({ "customer": "a" })).await;
    let a3 = host.trigger(&workflow, json!({ "customer": "a" })).await;
    let b1 = host.trigger(&workflow, json!({ "customer": "b" })).await;
    host.wait_for(&a1, "WAITING", T).await;
    // Another key has its own slot.
    let b = host.wait_for(&b1, "WAITING", T).await;
    assert_eq!(b["concurrencyKey"], "b");
    assert_queued(&host, &a2).await;
    assert_queued(&host, &a3).await;

    // The slot goes to the oldest queued run of the key when one ends.
    let (status, _) = host.post(&format!("/api/workflow-runs/{a1}/approve"), json!({})).await;
    assert_eq!(status, 200);
    host.wait_for(&a1, "COMPLETED", T).await;
    host.wait_for(&a2, "WAITING", T).await;
    assert_queued(&host, &a3).await;
    // ... and when one is cancelled.
    let (status, _) = host.post(&format!("/api/workflow-runs/{a2}/cancel"), json!({})).await;
    assert_eq!(status, 200);
    host.wait_for(&a3, "WAITING", T).await;
    let (status, _) = host.post(&format!("/api/workflow-runs/{a3}/approve"), json!({})).await;
    assert_eq!(status, 200);
    host.wait_for(&a3, "COMPLETED", T).await;

    // A key that renders to nothing starts no run, and says which field.
    let (status, body) = host.post(&format!("/api/workflows/{workflow}/trigger"), json!({})).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("concurrency.key"), "{body}");
}

#[tokio::test]
async fn a_limit_without_a_key_bounds_the_whole_workflow() {
    let host = Host::start();
    host.create_active(json!({ "name": "Two at a time", "trigger": { "type": "event", "config": { "event": "job.new" } },
            "concurrency": { "limit": 2 },
            "steps": [{ "id": "hold", "type": "approval", "config": {} }] }))
    .await;
    let mut runs = Vec::new();
    for n in 0..3 {
        let (status, body) = host.post("/api/events", json!({ "type": "job.new", "data": { "n": n } })).await;
        assert_eq!(status, 202, "{body}");
        runs.push(body["runs"][0]["id"].as_str().expect("run").to_owned());
    }
    host.wait_for(&runs[0], "WAITING", T).await;
    host.wait_for(&runs[1], "WAITING", T).await;
    assert_queued(&host, &runs[2]).await;
    let (status, _) = host.post(&format!("/api/workflow-runs/{}/reject", runs[1]), json!({})).await;
    assert_eq!(status, 200);
    host.wait_for(&runs[1], "FAILED", T).await;
    host.wait_for(&runs[2], "WAITING", T).await;
    // A retried run waits for a slot like a new one: both are taken.
    let (status, _) = host.post(&format!("/api/workflow-runs/{}/retry", runs[1]), json!({})).await;
    assert_eq!(status, 200);
    assert_queued(&host, &runs[1]).await;
    let (status, _) = host.post(&format!("/api/workflow-runs/{}/approve", runs[0]), json!({})).await;
    assert_eq!(status, 200);
    host.wait_for(&runs[1], "WAITING", T).await;
}
}
