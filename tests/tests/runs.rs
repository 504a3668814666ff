//! Run semantics through the real binary: branches, parallel, durable waits,
//! retries, onError, cancel, retry from the failed step, events, cron, and
//! edits while runs are in flight.

use std::time::Duration;

use serde_json::json;
use weft_tests::both_databases;
use weft_tests::{Host, Options, pairs, trail};

const T: Duration = Duration::from_secs(20);

fn with_flaky() -> Host {
    Host::start_with(Options { plugins: vec!["flaky"], ..Options::default() })
}

both_databases! {
#[tokio::test]
async fn a_condition_branches_on_the_event_and_templates_see_earlier_outputs() {
    let host = Host::start();
    let wf = host
        .create(json!({
            "name": "Welcome",
            "trigger": { "type": "manual" },
            "steps": [
                { "id": "has-email", "type": "condition",
                  "config": { "if": "{{ event.email is defined }}", "then": "send", "else": "skip" } },
                { "id": "send", "type": "update-field", "config": { "set": { "to": "{{ event.email }}", "n": "{{ event.n * 2 }}" } } },
                { "id": "after", "type": "update-field", "config": { "set": { "seen": "{{ steps['has-email'].result }}" } }, "next": "end" },
                { "id": "skip", "type": "update-field", "config": { "set": { "status": "no-email" } } }
            ]
        }))
        .await;
    let with = host.trigger(&wf, json!({ "email": "a@b.example", "n": 21 })).await;
    let run = host.wait_for(&with, "COMPLETED", T).await;
    assert_eq!(
        trail(&run),
        pairs(&[("has-email", "branched"), ("send", "completed"), ("after", "completed")])
    );
    assert_eq!(run["context"]["vars"], json!({ "to": "a@b.example", "n": 42, "seen": true }));
    assert_eq!(run["context"]["steps"]["has-email"], json!({ "result": true }));

    let without = host.trigger(&wf, json!({})).await;
    let run = host.wait_for(&without, "COMPLETED", T).await;
    assert_eq!(trail(&run), pairs(&[("has-email", "branched"), ("skip", "completed")]));
    assert_eq!(run["context"]["vars"], json!({ "status": "no-email" }));
    let log = &run["logs"][0];
    assert_eq!(log["result"]["plugin"], "condition@0.1.0");
    assert!(log["fuel"].as_i64().unwrap() > 0 && log["durationUs"].as_i64().unwrap() > 0, "{log}");
}
}

both_databases! {
#[tokio::test]
async fn parallel_branches_all_end_before_the_run_goes_on() {
    let host = Host::start();
    let wf = host
        .create(json!({
            "name": "Fan out",
            "trigger": { "type": "manual" },
            "steps": [
                { "id": "both", "type": "parallel", "branches": [
                    [ { "id": "slow", "type": "wait", "config": { "duration": "300ms" } },
                      { "id": "a", "type": "condition", "config": { "if": true } } ],
                    [ { "id": "b", "type": "condition", "config": { "if": false } } ]
                ] },
                { "id": "join", "type": "update-field", "config": { "set": { "a": "{{ steps.both.a.result }}", "b": "{{ steps.b.result }}" } } }
            ]
        }))
        .await;
    let run = host.trigger(&wf, json!({})).await;
    let run = host.wait_for(&run, "COMPLETED", T).await;
    let steps: Vec<String> = trail(&run).into_iter().map(|(s, _)| s).collect();
    assert_eq!(steps, ["slow", "b", "a", "join"]);
    assert_eq!(run["context"]["vars"], json!({ "a": true, "b": false }));
}
}

both_databases! {
#[tokio::test]
async fn a_wait_sleeps_in_the_database_then_the_run_goes_on() {
    let host = Host::start();
    let wf = host
        .create(json!({
            "name": "Pause",
            "trigger": { "type": "manual" },
            "steps": [
                { "id": "pause", "type": "wait", "config": { "duration": "1s" } },
                { "id": "done", "type": "update-field", "config": { "set": { "woke": true } } }
            ]
        }))
        .await;
    let id = host.trigger(&wf, json!({})).await;
    let waiting = host.wait_for(&id, "WAITING", T).await;
    assert_eq!(waiting["currentStep"], "done");
    assert!(waiting["wakeAt"].is_string());
    let run = host.wait_for(&id, "COMPLETED", T).await;
    assert_eq!(trail(&run), pairs(&[("pause", "slept"), ("done", "completed")]));
    assert_eq!(run["context"]["vars"], json!({ "woke": true }));
}
}

both_databases! {
#[tokio::test]
async fn retries_succeed_or_fail_into_on_error() {
    let host = with_flaky();
    let retry = json!({ "maxAttempts": 3, "backoffMs": 50, "multiplier": 2 });
    let ok = host
        .create(json!({
            "name": "Flaky ok", "trigger": { "type": "manual" },
            "steps": [ { "id": "call", "type": "flaky", "config": { "key": "ok", "failTimes": 2 }, "retry": retry } ]
        }))
        .await;
    let run = host.trigger(&ok, json!({})).await;
    let run = host.wait_for(&run, "COMPLETED", T).await;
    assert_eq!(trail(&run), pairs(&[("call", "retrying"), ("call", "retrying"), ("call", "completed")]));
    assert_eq!(run["context"]["steps"]["call"], json!({ "calls": 3, "attempt": 3 }));
    assert_eq!(run["logs"][0]["result"]["error"], "plugin `flaky@0.1.0`: failure 1 of 2");

    let caught = host
        .create(json!({
            "name": "Flaky caught", "trigger": { "type": "manual" },
            "steps": [
                { "id": "call", "type": "flaky", "config": { "key": "bad", "failTimes": 9 }, "retry": retry, "onError": "alert" },
                { "id": "never", "type": "update-field", "config": { "set": { "x": 1 } }, "next": "end" },
                { "id": "alert", "type": "update-field", "config": { "set": { "alerted": "{{ steps.call.error }}" } } }
            ]
        }))
        .await;
    let run = host.trigger(&caught, json!({})).await;
    let run = host.wait_for(&run, "COMPLETED", T).await;
    assert_eq!(
        trail(&run),
        pairs(&[("call", "retrying"), ("call", "retrying"), ("call", "caught"), ("alert", "completed")])
    );
    assert_eq!(run["context"]["vars"], json!({ "alerted": "plugin `flaky@0.1.0`: failure 3 of 9" }));
}
}

both_databases! {
#[tokio::test]
async fn a_failed_run_is_retried_from_its_failed_step() {
    let host = with_flaky();
    let wf = host
        .create(json!({
            "name": "Fails once", "trigger": { "type": "manual" },
            "steps": [
                { "id": "first", "type": "update-field", "config": { "increment": { "firsts": 1 } } },
                { "id": "call", "type": "flaky", "config": { "key": "once", "failTimes": 1, "retryable": false } },
                { "id": "last", "type": "update-field", "config": { "set": { "done": true } } }
            ]
        }))
        .await;
    let id = host.trigger(&wf, json!({})).await;
    let failed = host.wait_for(&id, "FAILED", T).await;
    assert_eq!(failed["error"], "step `call`: plugin `flaky@0.1.0`: failure 1 of 1");
    assert_eq!(failed["currentStep"], "call");
    let (status, body) = host.post(&format!("/api/workflow-runs/{id}/cancel"), json!({})).await;
    assert_eq!(status, 409, "{body}");

    let (status, body) = host.post(&format!("/api/workflow-runs/{id}/retry"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    let run = host.wait_for(&id, "COMPLETED", T).await;
    assert_eq!(
        trail(&run),
        pairs(&[
            ("first", "completed"),
            ("call", "failed"),
            ("call", "retried"),
            ("call", "completed"),
            ("last", "completed")
        ])
    );
    assert_eq!(run["context"]["vars"], json!({ "firsts": 1, "done": true }), "the first step ran once");
    let (status, _) = host.post(&format!("/api/workflow-runs/{id}/retry"), json!({})).await;
    assert_eq!(status, 409, "only a FAILED run can be retried");
}
}

both_databases! {
#[tokio::test]
async fn a_waiting_run_can_be_cancelled() {
    let host = Host::start();
    let wf = host
        .create(json!({
            "name": "Long wait", "trigger": { "type": "manual" },
            "steps": [
                { "id": "pause", "type": "wait", "config": { "duration": "1h" } },
                { "id": "never", "type": "update-field", "config": { "set": { "x": 1 } } }
            ]
        }))
        .await;
    let id = host.trigger(&wf, json!({})).await;
    host.wait_for(&id, "WAITING", T).await;
    let (status, body) = host.post(&format!("/api/workflow-runs/{id}/cancel"), json!({})).await;
    assert_eq!((status, &body["status"]), (200, &json!("CANCELLED")), "{body}");
    assert_eq!(trail(&body), pairs(&[("pause", "slept"), ("never", "cancelled")]));
    let (status, _) = host.post(&format!("/api/workflow-runs/{id}/cancel"), json!({})).await;
    assert_eq!(status, 409);
    let (status, page) = host.get(&format!("/api/workflow-runs?workflowId={wf}&status=CANCELLED")).await;
    assert_eq!((status, &page["total"]), (200, &json!(1)));
}
}

both_databases! {
#[tokio::test]
async fn an_event_starts_every_active_listener_and_not_a_paused_one() {
    let host = Host::start();
    let listener = |name: &str| {
        json!({
            "name": name, "trigger": { "type": "event", "config": { "event": "contact.created" } },
            "steps": [ { "id": "tag", "type": "update-field", "config": { "set": { "who": "{{ event.email }}" } } } ]
        })
    };
    let one = host.create_active(listener("one")).await;
    let two = host.create_active(listener("two")).await;
    let paused = host.create_active(listener("paused")).await;
    host.put(&format!("/api/workflows/{paused}/pause"), json!({})).await;
    let _draft = host.create(listener("draft")).await;
    let _other = host
        .create_active(json!({
            "name": "other", "trigger": { "type": "event", "config": { "event": "deal.won" } },
            "steps": [ { "id": "tag", "type": "update-field", "config": {} } ]
        }))
        .await;

    let (status, body) = host
        .post("/api/events", json!({ "type": "contact.created", "data": { "email": "e@x.example" } }))
        .await;
    assert_eq!(status, 202, "{body}");
    let mut started: Vec<String> = body["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["workflowId"].as_str().unwrap().to_owned())
        .collect();
    started.sort();
    let mut expected = vec![one, two];
    expected.sort();
    assert_eq!(started, expected);
    for r in body["runs"].as_array().unwrap() {
        let run = host.wait_for(r["id"].as_str().unwrap(), "COMPLETED", T).await;
        assert_eq!(run["context"]["vars"], json!({ "who": "e@x.example" }));
    }
}
}

both_databases! {
#[tokio::test]
async fn a_cron_workflow_fires_exactly_once_per_tick() {
    let host = Host::start();
    let wf = host
        .create_active(json!({
            "name": "Every second", "trigger": { "type": "cron", "config": { "expression": "* * * * * *" } },
            "steps": [ { "id": "tick", "type": "update-field", "config": { "set": { "at": "{{ event.scheduledAt }}" } } } ]
        }))
        .await;
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    host.put(&format!("/api/workflows/{wf}/pause"), json!({})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, page) = host.get(&format!("/api/workflow-runs?workflowId={wf}&pageSize=200")).await;
    let runs = page["data"].as_array().unwrap();
    assert!((3..=4).contains(&runs.len()), "{} runs in 3.5 s", runs.len());
    let mut ticks = Vec::new();
    for run in runs {
        let run = host.wait_for(run["id"].as_str().unwrap(), "COMPLETED", T).await;
        ticks.push(run["context"]["event"]["scheduledAt"].as_str().unwrap().to_owned());
    }
    ticks.sort();
    let mut unique = ticks.clone();
    unique.dedup();
    assert_eq!(ticks, unique, "a tick fired twice");
    for pair in ticks.windows(2) {
        let secs = |s: &str| s[17..19].parse::<u32>().unwrap();
        assert_eq!(
            (secs(&pair[1]) + 60 - secs(&pair[0])) % 60,
            1,
            "ticks {pair:?} are not consecutive seconds"
        );
    }
}
}

both_databases! {
#[tokio::test]
async fn editing_a_workflow_does_not_change_runs_in_flight() {
    let host = Host::start();
    let definition = |value: &str| {
        json!({
            "name": "Edited", "trigger": { "type": "manual" },
            "steps": [
                { "id": "pause", "type": "wait", "config": { "duration": "700ms" } },
                { "id": "mark", "type": "update-field", "config": { "set": { "version": value } } }
            ]
        })
    };
    let wf = host.create_active(definition("v1")).await;
    let old = host.trigger(&wf, json!({})).await;
    host.wait_for(&old, "WAITING", T).await;
    let (status, body) = host.put(&format!("/api/workflows/{wf}"), definition("v2")).await;
    assert_eq!(status, 200, "{body}");
    let new = host.trigger(&wf, json!({})).await;
    let old = host.wait_for(&old, "COMPLETED", T).await;
    let new = host.wait_for(&new, "COMPLETED", T).await;
    assert_eq!(old["context"]["vars"], json!({ "version": "v1" }));
    assert_eq!(new["context"]["vars"], json!({ "version": "v2" }));
}
}

both_databases! {
#[tokio::test]
async fn cron_fires_missed_while_the_host_was_down_run_once_at_start() {
    let mut host = Host::start();
    let wf = host
        .create_active(json!({
            "name": "Every second", "trigger": { "type": "cron", "config": { "expression": "* * * * * *" } },
            "steps": [ { "id": "tick", "type": "update-field", "config": {} } ]
        }))
        .await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    host.kill9();
    let down_from = chrono_now();
    std::thread::sleep(Duration::from_millis(3_000));
    // Ticks due before the restart began were missed; the catch-up run
    // carries the first of them, and ticks after it are the host's own.
    let up_at = chrono_now();
    let host = Host::start_in(host.dir.clone(), &Options::default());
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    host.put(&format!("/api/workflows/{wf}/pause"), json!({})).await;
    let (_, page) = host.get(&format!("/api/workflow-runs?workflowId={wf}&pageSize=200")).await;
    // By when each fire was made, not when the kill was: a tick due a few ms
    // before the kill may have been left unfired by the dying host.
    let times = |run: &serde_json::Value| {
        let event = &run["context"]["event"];
        (event["scheduledAt"].as_str().unwrap_or_default().to_owned(), event["firedAt"].as_str().unwrap_or_default().to_owned())
    };
    let runs: Vec<(String, String)> = page["data"].as_array().expect("runs").iter().map(times).collect();
    let last_before_kill =
        runs.iter().filter(|(_, fired)| fired.as_str() < down_from.as_str()).map(|(at, _)| at.clone()).max();
    let caught_up: Vec<&(String, String)> =
        runs.iter().filter(|(at, fired)| fired.as_str() >= up_at.as_str() && at.as_str() < up_at.as_str()).collect();
    let missed = caught_up.len();
    if let (Some(last), Some((at, _))) = (&last_before_kill, caught_up.first()) {
        assert!(at > last, "the catch-up run is a tick the host had not run: {page:#}");
    }
    assert_eq!(missed, 1, "the ticks missed while down ran once: {page:#}");
}
}

/// Now as the API formats times (RFC 3339, ms, UTC), to compare strings.
fn chrono_now() -> String {
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    weft::store::ids::iso(ms)
}

both_databases! {
#[tokio::test]
async fn bulk_cancel_and_retry_take_the_runs_a_filter_matches_and_no_others() {
    let host = with_flaky();
    let sleep = json!([ { "id": "nap", "type": "wait", "config": { "duration": "1h" } } ]);
    let sleeper = host.create_active(json!({ "name": "Sleeper", "trigger": { "type": "manual" }, "steps": sleep })).await;
    let other = host.create_active(json!({ "name": "Other", "trigger": { "type": "manual" }, "steps": sleep })).await;
    let mut asleep = Vec::new();
    for _ in 0..4 {
        let run = host.trigger(&sleeper, json!({})).await;
        host.wait_for(&run, "WAITING", T).await;
        asleep.push(run);
    }
    let untouched = host.trigger(&other, json!({})).await;
    host.wait_for(&untouched, "WAITING", T).await;

    let (status, body) = host.post("/api/workflow-runs/bulk-cancel", json!({})).await;
    assert_eq!(status, 422, "an empty filter takes nothing: {body}");
    let (status, body) = host.post("/api/workflow-runs/bulk-cancel", json!({ "status": "COMPLETED" })).await;
    assert_eq!((status, &body["error"]["details"][0]["field"]), (422, &json!("status")), "{body}");
    let (status, body) = host.post("/api/workflow-runs/bulk-cancel", json!({ "startedAfter": "yesterday" })).await;
    assert_eq!((status, &body["error"]["details"][0]["field"]), (422, &json!("startedAfter")), "{body}");
    let (_, viewer) = host.post("/api/tokens", json!({ "name": "v", "role": "viewer" })).await;
    let (status, _) = host
        .call_with(
            "POST",
            "/api/workflow-runs/bulk-cancel",
            Some(json!({ "workflowId": sleeper }).to_string().into_bytes()),
            viewer["token"].as_str(),
        )
        .await;
    assert_eq!(status, 403, "operators and above");

    // Started before the third: the first two only.
    let (_, third) = host.get(&format!("/api/workflow-runs/{}", asleep[2])).await;
    let (status, done) = host
        .post(
            "/api/workflow-runs/bulk-cancel",
            json!({ "workflowId": sleeper, "startedBefore": third["startedAt"] }),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!((&done["matched"], &done["changed"]), (&json!(2), &json!([asleep[0], asleep[1]])), "{done}");
    // The rest of the workflow's, from the command line.
    let out = std::process::Command::new(weft_tests::weft_bin())
        .args(["--server", &host.base, "--token", weft_tests::TOKEN, "run", "bulk-cancel", "--workflow", &sleeper])
        .output()
        .expect("weft run bulk-cancel");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 matched, 2 cancelled"), "{}", String::from_utf8_lossy(&out.stdout));
    for run in &asleep {
        let (_, body) = host.get(&format!("/api/workflow-runs/{run}")).await;
        assert_eq!(body["status"], "CANCELLED", "{body}");
    }
    let (_, body) = host.get(&format!("/api/workflow-runs/{untouched}")).await;
    assert_eq!(body["status"], "WAITING", "another workflow's run is not taken");

    let failing = host
        .create_active(json!({
            "name": "Fails once", "trigger": { "type": "manual" },
            "steps": [ { "id": "call", "type": "flaky", "config": { "key": "{{ event.k }}", "failTimes": 1, "retryable": false } } ]
        }))
        .await;
    let mut failed = Vec::new();
    for k in ["bulk-a", "bulk-b"] {
        let run = host.trigger(&failing, json!({ "k": k })).await;
        host.wait_for(&run, "FAILED", T).await;
        failed.push(run);
    }
    let (status, done) = host.post("/api/workflow-runs/bulk-retry", json!({ "workflowId": failing })).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["changed"].as_array().map(Vec::len), Some(2), "{done}");
    for run in &failed {
        host.wait_for(run, "COMPLETED", T).await;
    }
    let (_, done) = host.post("/api/workflow-runs/bulk-retry", json!({ "workflowId": failing })).await;
    assert_eq!(done["matched"], 0, "nothing FAILED is left: {done}");
}
}

both_databases! {
#[tokio::test]
async fn a_run_past_its_workflow_timeout_fails_even_while_it_sleeps() {
    let host = Host::start();
    let (status, body) = host
        .post("/api/workflows", json!({ "name": "Bad", "trigger": { "type": "manual" }, "timeout": "never", "steps": [] }))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["details"].as_array().expect("details").iter().any(|d| d["field"] == "timeout"), "{body}");
    let workflow = host
        .create_active(json!({
            "name": "Bounded", "trigger": { "type": "manual" }, "timeout": "2s",
            "steps": [
                { "id": "first", "type": "update-field", "config": { "set": { "a": 1 } } },
                { "id": "nap", "type": "wait", "config": { "duration": "1h" } },
                { "id": "never", "type": "update-field", "config": { "set": { "b": 2 } } }
            ]
        }))
        .await;
    let (_, shown) = host.get(&format!("/api/workflows/{workflow}")).await;
    assert_eq!(shown["timeout"], "2s");
    let run = host.trigger(&workflow, json!({})).await;
    host.wait_for(&run, "WAITING", T).await;
    let failed = host.wait_for(&run, "FAILED", T).await;
    assert_eq!(
        failed["error"], "the run did not finish within its workflow's timeout of 2s",
        "{failed:#}"
    );
    assert!(failed["context"]["steps"].get("never").is_none(), "no step after the timeout");
    // It woke at its deadline (within wait_for's 20 s), not at the end of its hour.
    // A retry gets the whole timeout again, counted from the retry (from its
    // start, it would fail at once): it goes on at the step it had not reached.
    let (status, body) = host.post(&format!("/api/workflow-runs/{run}/retry"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    let done = host.wait_for(&run, "COMPLETED", T).await;
    assert_eq!(done["context"]["steps"]["never"]["b"], 2, "{done:#}");
}
}
