//! Durability: `kill -9` the host while runs wait and while they move between
//! steps, restart it on the same database, and every run completes with each
//! step recorded once. Also a graceful stop in the middle of a run.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use weft_tests::{Host, Options, trail};

const T: Duration = Duration::from_secs(30);
const STEPS: usize = 40;

fn options() -> Options {
    // A short lease, so the restarted host takes the dead host's runs over quickly.
    Options { env: vec![("WEFT_LEASE_MS".into(), "1000".into())], ..Options::default() }
}

fn counting_workflow(wait: Option<&str>) -> Value {
    let mut steps: Vec<Value> = (0..STEPS)
        .map(|i| json!({ "id": format!("s{i}"), "type": "update-field", "config": { "increment": { "count": 1 } } }))
        .collect();
    if let Some(duration) = wait {
        steps.insert(STEPS / 2, json!({ "id": "pause", "type": "wait", "config": { "duration": duration } }));
    }
    json!({ "name": "Counter", "trigger": { "type": "manual" }, "steps": steps })
}

fn assert_each_step_once(run: &Value) {
    let steps: Vec<String> = trail(run).into_iter().map(|(step, _)| step).collect();
    let mut sorted = steps.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), steps.len(), "a step was recorded twice: {steps:?}");
    // The context moves with the log in one transaction, so the count proves
    // no recorded increment was lost or applied twice.
    assert_eq!(run["context"]["vars"]["count"], json!(STEPS), "{:#}", run["context"]);
}

#[tokio::test]
async fn a_run_waiting_when_the_host_is_killed_completes_after_restart() {
    let mut host = Host::start_with(options());
    let wf = host.create(counting_workflow(Some("1500ms"))).await;
    let id = host.trigger(&wf, json!({})).await;
    host.wait_for(&id, "WAITING", T).await;
    host.kill9();
    let dir = Arc::clone(&host.dir);
    let host = Host::start_in(dir, &options());
    let run = host.wait_for(&id, "COMPLETED", T).await;
    assert_eq!(trail(&run).len(), STEPS + 1);
    assert_each_step_once(&run);
}

#[tokio::test]
async fn a_run_moving_between_steps_when_the_host_is_killed_loses_nothing() {
    let mut host = Host::start_with(options());
    let wf = host.create(counting_workflow(None)).await;
    let ids: Vec<String> = {
        let mut ids = Vec::new();
        for _ in 0..5 {
            ids.push(host.trigger(&wf, json!({})).await);
        }
        ids
    };
    // Kill as soon as the first run is part-way through.
    loop {
        let (_, run) = host.get(&format!("/api/workflow-runs/{}", ids[0])).await;
        let logged = run["logs"].as_array().map_or(0, Vec::len);
        if logged >= 3 || run["status"] == "COMPLETED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    host.kill9();
    let dir = Arc::clone(&host.dir);
    let host = Host::start_in(dir, &options());
    for id in &ids {
        let run = host.wait_for(id, "COMPLETED", T).await;
        assert_each_step_once(&run);
    }
}

#[tokio::test]
async fn a_graceful_stop_finishes_the_step_in_flight_and_resumes_on_start() {
    let mut host = Host::start_with(options());
    let wf = host.create(counting_workflow(Some("800ms"))).await;
    let id = host.trigger(&wf, json!({})).await;
    host.wait_for(&id, "WAITING", T).await;
    let status = host.terminate().expect("exit status");
    assert!(status.success(), "graceful stop exited with {status}");
    let dir = Arc::clone(&host.dir);
    let host = Host::start_in(dir, &Options::default());
    let run = host.wait_for(&id, "COMPLETED", T).await;
    assert_each_step_once(&run);
}
