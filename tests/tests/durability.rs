//! Durability corner cases, each a scenario that broke an earlier engine:
//! a failed group commit, a driver whose lease lapsed, a stop with a step in
//! flight and a browser connected, cancel during a step, loops, parallel
//! branches, idempotency keys, cron re-arming, and plugin versions pinned by
//! runs.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use weft_tests::both_databases;
use weft_tests::receiver::Receiver;
use weft_tests::{Host, Options, pairs, plugin_wasm, trail};

const T: Duration = Duration::from_secs(30);

fn options(lease_ms: u64) -> Options {
    Options {
        env: vec![
            ("WEFT_LEASE_MS".into(), lease_ms.to_string()),
            // The receivers listen on loopback.
            ("WEFT_HTTP_ALLOW".into(), "127.0.0.1".into()),
        ],
        ..Options::default()
    }
}

fn counter(steps: usize, first: &str) -> Value {
    let mut list =
        vec![json!({ "id": first, "type": "update-field", "config": { "increment": { "count": 1 } } })];
    list.extend((1..steps).map(|i| {
        json!({ "id": format!("s{i}"), "type": "update-field", "config": { "increment": { "count": 1 } } })
    }));
    json!({ "name": "Counter", "trigger": { "type": "manual" }, "steps": list })
}

fn hook(id: &str, url: &str) -> Value {
    json!({ "id": id, "type": "webhook", "config": { "url": url, "body": { "run": "{{ run.id }}" } } })
}

fn steps_of(run: &Value) -> Vec<String> {
    trail(run).into_iter().map(|(step, _)| step).collect()
}

async fn wait_until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + T;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_group_commit_fails_only_its_run_and_every_run_completes() {
    let host = Host::start_with(options(1_000));
    // A fault in the real database: any log row of step `poisoned` fails.
    host.sql(
        "CREATE TRIGGER poison BEFORE INSERT ON workflow_run_logs WHEN NEW.step = 'poisoned' \
         BEGIN SELECT RAISE(ABORT, 'injected fault'); END;",
    )
    .await;
    let healthy = host.create(counter(10, "s0")).await;
    let victim = host.create(counter(3, "poisoned")).await;
    // The victim starts among healthy runs, so that its writes share
    // batches with theirs.
    let mut runs = Vec::new();
    for _ in 0..15 {
        runs.push(host.trigger(&healthy, json!({})).await);
    }
    let victim_run = host.trigger(&victim, json!({})).await;
    for _ in 0..15 {
        runs.push(host.trigger(&healthy, json!({})).await);
    }
    for id in &runs {
        let run = host.wait_for(id, "COMPLETED", T).await;
        assert_eq!(run["context"]["vars"]["count"], json!(10));
        assert_eq!(steps_of(&run).len(), 10);
    }
    // The victim's writes keep failing: it is handed back and tried again,
    // never stuck with a lease nobody will give up, never half-written.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let (_, run) = host.get(&format!("/api/workflow-runs/{victim_run}")).await;
    assert!(trail(&run).is_empty(), "nothing of the poisoned step was written: {run:#}");
    assert_ne!(run["status"], "COMPLETED");
    host.sql("DROP TRIGGER poison;").await;
    let run = host.wait_for(&victim_run, "COMPLETED", T).await;
    assert_eq!(steps_of(&run), ["poisoned", "s1", "s2"]);
    assert_eq!(run["context"]["vars"]["count"], json!(3));
    let held =
        host.sql_value("SELECT CAST(COUNT(*) AS TEXT) FROM workflow_runs WHERE leaseOwner IS NOT NULL").await;
    assert_eq!(held.as_deref(), Some("0"), "no finished run keeps a lease");
}

both_databases! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_driver_whose_lease_lapsed_cannot_record_its_step() {
    let receiver = Receiver::start().await;
    receiver.delay(Duration::from_millis(1_500));
    let opts = options(10_000);
    let a = Host::start_with(opts.clone());
    let b = Host::start_in(Arc::clone(&a.dir), &opts);
    let wf = a
        .create(json!({
            "name": "Slow hook", "trigger": { "type": "manual" },
            "steps": [hook("hook", &format!("{}/slow", receiver.base)),
                      { "id": "after", "type": "update-field", "config": { "increment": { "n": 1 } } }]
        }))
        .await;
    let id = a.trigger(&wf, json!({})).await;
    wait_until("the hook is in flight", async || !receiver.seen().is_empty()).await;
    // The lease lapses while the step is in flight (a long stall would do
    // the same): the run is claimable again, by either host.
    a.sql(&format!("UPDATE workflow_runs SET \"leaseUntil\" = 0 WHERE id = '{id}';")).await;
    let run = b.wait_for(&id, "COMPLETED", T).await;
    tokio::time::sleep(Duration::from_millis(2_000)).await; // any stale driver has finished by now
    let (_, run_after) = b.get(&format!("/api/workflow-runs/{id}")).await;
    assert_eq!(run_after["logs"], run["logs"], "nothing was written after completion");
    assert_eq!(steps_of(&run), ["hook", "after"], "each step recorded once");
    assert_eq!(run["context"]["vars"]["n"], json!(1));
    let keys = receiver.keys();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys.values().all(|n| (1..=2).contains(n)), "at least once, at most twice: {keys:?}");
}
}

both_databases! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_with_a_step_in_flight_and_a_browser_connected_records_the_step_and_exits() {
    let receiver = Receiver::start().await;
    receiver.delay(Duration::from_millis(1_500));
    let mut host = Host::start_with(options(10_000));
    let wf = host
        .create(json!({
            "name": "Slow hook", "trigger": { "type": "manual" },
            "steps": [hook("hook", &format!("{}/slow", receiver.base)),
                      { "id": "after", "type": "update-field", "config": { "set": { "done": true } } }]
        }))
        .await;
    let mut stream = host.sse("/api/notifications/stream").await;
    let id = host.trigger(&wf, json!({})).await;
    wait_until("the hook is in flight", async || !receiver.seen().is_empty()).await;
    let status = host.terminate().expect("exit status");
    assert!(status.success(), "graceful stop exited with {status}");
    // The event stream ended with the host instead of holding it up.
    assert!(tokio::time::timeout(Duration::from_secs(5), stream.recv()).await.is_ok_and(|e| e.is_none()));
    let stdout = host.stdout();
    assert!(stdout.iter().any(|l| l == "weft stopped"), "{stdout:?}");
    let dir = Arc::clone(&host.dir);
    let host = Host::start_in(dir, &options(10_000));
    let run = host.wait_for(&id, "COMPLETED", T).await;
    // The step in flight finished and was recorded before the exit: the
    // restarted host did not send it again.
    assert_eq!(trail(&run), pairs(&[("hook", "completed"), ("after", "completed")]));
    assert_eq!(receiver.seen().len(), 1);
}
}

both_databases! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_stops_at_once_and_the_run_resumes_after_its_lease() {
    let receiver = Receiver::start().await;
    receiver.delay(Duration::from_millis(20_000));
    let mut host = Host::start_with(options(1_000));
    let wf = host
        .create(json!({
            "name": "Very slow hook", "trigger": { "type": "manual" },
            "steps": [hook("hook", &format!("{}/slow", receiver.base))]
        }))
        .await;
    let id = host.trigger(&wf, json!({})).await;
    wait_until("the hook is in flight", async || !receiver.seen().is_empty()).await;
    host.signal_term();
    wait_until("the stop began", async || host.stdout().iter().any(|l| l.starts_with("weft stopping"))).await;
    host.signal_term();
    let status = host.wait_exit(Duration::from_secs(5)).expect("exited on the second signal");
    assert_eq!(status.code(), Some(130));
    receiver.delay(Duration::ZERO);
    let dir = Arc::clone(&host.dir);
    let host = Host::start_in(dir, &options(1_000));
    let run = host.wait_for(&id, "COMPLETED", T).await;
    assert_eq!(trail(&run), pairs(&[("hook", "completed")]));
}
}

both_databases! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cron_expression_that_stops_parsing_is_shown_not_silently_dropped() {
    let host = Host::start();
    let wf = host
        .create_active(json!({
            "name": "Every second", "trigger": { "type": "cron", "config": { "expression": "* * * * * *" } },
            "steps": [{ "id": "a", "type": "update-field", "config": {} }]
        }))
        .await;
    // As if stored by an older host that accepted it.
    host.sql(&format!(
        r#"UPDATE workflows SET "trigger" = '{{"type":"cron","config":{{"expression":"61 * * * *"}}}}' WHERE id = '{wf}';"#
    ))
    .await;
    let mut shown = Value::Null;
    wait_until("the API shows the cron error", async || {
        shown = host.get(&format!("/api/workflows/{wf}")).await.1;
        shown["cronError"].is_string()
    })
    .await;
    assert!(
        shown["cronError"].as_str().unwrap_or("").starts_with("`61 * * * *` is not a valid cron expression"),
        "{shown}"
    );
    assert!(shown.get("nextFireAt").is_none(), "{shown}");
    assert!(host.stderr().iter().any(|l| l.contains(&format!("cron workflow `{wf}` is disarmed"))));
}
}

both_databases! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_interrupts_the_step_in_flight_and_drops_its_result() {
    let receiver = Receiver::start().await;
    receiver.delay(Duration::from_millis(3_000));
    let host = Host::start_with(options(10_000));
    let wf = host
        .create(json!({
            "name": "Slow hook", "trigger": { "type": "manual" },
            "steps": [hook("hook", &format!("{}/slow", receiver.base))]
        }))
        .await;
    let id = host.trigger(&wf, json!({})).await;
    wait_until("the hook is in flight", async || !receiver.seen().is_empty()).await;
    let (status, body) = host.post(&format!("/api/workflow-runs/{id}/cancel"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "CANCELLED");
    tokio::time::sleep(Duration::from_millis(3_500)).await; // past the receiver's answer
    let (_, run) = host.get(&format!("/api/workflow-runs/{id}")).await;
    assert_eq!(trail(&run), pairs(&[("hook", "cancelled")]));
    assert_eq!(run["status"], "CANCELLED");
    assert!(run["context"]["steps"].get("hook").is_none(), "{:#}", run["context"]);
    assert!(host.stderr().iter().any(|l| l.contains("its step in flight was interrupted")));
}
}

both_databases! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_branches_call_their_webhooks_at_the_same_time() {
    let receiver = Receiver::start().await;
    receiver.delay(Duration::from_millis(1_000));
    let host = Host::start_with(options(10_000));
    let url = format!("{}/slow", receiver.base);
    let wf = host
        .create(json!({
            "name": "Fan out", "trigger": { "type": "manual" },
            "steps": [{ "id": "both", "type": "parallel",
                        "branches": [[hook("left", &url)], [hook("right", &url)]] }]
        }))
        .await;
    let id = host.trigger(&wf, json!({})).await;
    let run = host.wait_for(&id, "COMPLETED", T).await;
    assert_eq!(receiver.most_in_flight(), 2, "both branches were in flight at once");
    let steps: BTreeSet<String> = steps_of(&run).into_iter().collect();
    assert_eq!(steps, BTreeSet::from(["left".to_owned(), "right".to_owned()]));
    assert_eq!(run["context"]["steps"]["both"]["left"]["status"], json!(200));
}
}

both_databases! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_condition_loop_ends_failed_at_the_step_budget_with_one_key_per_visit() {
    let receiver = Receiver::start().await;
    let host = Host::start_with(options(10_000));
    let wf = host
        .create(json!({
            "name": "Loop", "trigger": { "type": "manual" }, "limits": { "maxSteps": 9 },
            "steps": [
                hook("hook", &format!("{}/loop", receiver.base)),
                { "id": "count", "type": "update-field", "config": { "increment": { "n": 1 } } },
                { "id": "again", "type": "condition",
                  "config": { "if": "{{ vars.n < 100 }}", "then": "hook", "else": "end" } }
            ]
        }))
        .await;
    let id = host.trigger(&wf, json!({})).await;
    let run = host.wait_for(&id, "FAILED", T).await;
    assert_eq!(run["error"], "the run reached its step budget of 9 attempts (`limits.maxSteps`)");
    assert_eq!(trail(&run).len(), 9);
    let keys: Vec<String> = receiver.keys().into_keys().collect();
    assert_eq!(keys, (1..=3).map(|v| format!("{id}/hook/{v}")).collect::<Vec<_>>());
    let (status, body) = host
        .post(
            "/api/workflows",
            json!({ "name": "x", "trigger": { "type": "manual" }, "limits": { "maxSteps": 0 },
                                        "steps": [{ "id": "a", "type": "update-field", "config": {} }] }),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["details"][0]["field"], "limits.maxSteps");
}
}

both_databases! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_starts_each_event_and_trigger_once() {
    let host = Host::start();
    let listener = json!({ "name": "L", "trigger": { "type": "event", "config": { "event": "order.paid" } },
                           "steps": [{ "id": "a", "type": "update-field", "config": {} }] });
    let first = host.create_active(listener.clone()).await;
    let second = host.create_active(listener).await;
    let event = json!({ "type": "order.paid", "data": { "id": 7 }, "idempotencyKey": "order-7" });
    let (status, started) = host.post("/api/events", event.clone()).await;
    assert_eq!(status, 202, "{started}");
    assert_eq!(started["runs"].as_array().map(Vec::len), Some(2));
    let (status, again) = host.post("/api/events", event).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["replayed"], json!(true));
    assert_eq!(
        again["runs"].as_array().map(|r| r.iter().map(|r| r["id"].clone()).collect::<Vec<_>>()),
        started["runs"].as_array().map(|r| r.iter().map(|r| r["id"].clone()).collect::<Vec<_>>())
    );
    for wf in [&first, &second] {
        let (_, runs) = host.get(&format!("/api/workflow-runs?workflowId={wf}")).await;
        assert_eq!(runs["total"], json!(1), "one run of {wf}");
    }
    // The same key in the header of a manual trigger, per workflow.
    let manual = host
        .create(json!({ "name": "M", "trigger": { "type": "manual" },
                                     "steps": [{ "id": "a", "type": "update-field", "config": {} }] }))
        .await;
    let mut ids = Vec::new();
    for expected in [202, 200] {
        let (status, body) = host
            .call_headers(
                "POST",
                &format!("/api/workflows/{manual}/trigger"),
                json!({}),
                &[("idempotency-key", "order-7")],
            )
            .await;
        assert_eq!(status, expected, "{body}");
        ids.push(body["id"].clone());
    }
    assert_eq!(ids[0], ids[1]);
    let (status, body) = host
        .call_headers(
            "POST",
            "/api/events",
            json!({ "type": "order.paid", "idempotencyKey": "a" }),
            &[("idempotency-key", "b")],
        )
        .await;
    assert_eq!(status, 400, "{body}");
}
}

both_databases! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activating_an_active_cron_workflow_between_fires_never_fires_a_tick_twice() {
    let host = Host::start();
    let wf = host
        .create_active(json!({
            "name": "Every second", "trigger": { "type": "cron", "config": { "expression": "* * * * * *" } },
            "steps": [{ "id": "a", "type": "update-field", "config": {} }]
        }))
        .await;
    let until = Instant::now() + Duration::from_millis(3_500);
    while Instant::now() < until {
        let (status, body) = host.put(&format!("/api/workflows/{wf}/activate"), json!({})).await;
        assert_eq!(status, 200, "{body}");
    }
    host.put(&format!("/api/workflows/{wf}/pause"), json!({})).await;
    let (_, runs) = host.get(&format!("/api/workflow-runs?workflowId={wf}&pageSize=100")).await;
    let fired: Vec<String> = runs["data"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|r| r["context"]["event"]["scheduledAt"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let distinct: BTreeSet<&String> = fired.iter().collect();
    assert!(fired.len() >= 2, "it fired: {fired:?}");
    assert_eq!(distinct.len(), fired.len(), "a tick fired twice: {fired:?}");
}
}

both_databases! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crontab_weekdays_mean_what_crontab_says() {
    let host = Host::start();
    for (expression, ok) in [
        ("* * * * 0", true),
        ("* * * * 7", true),
        ("0 9 * * mon-fri", true),
        ("@daily", true),
        ("*/5 * * * * *", true),
        ("* * * * 8", false),
        ("@reboot", false),
    ] {
        let (status, body) = host
            .post(
                "/api/workflows",
                json!({ "name": "c", "trigger": { "type": "cron", "config": { "expression": expression } },
                                            "steps": [{ "id": "a", "type": "update-field", "config": {} }] }),
            )
            .await;
        assert_eq!(status == 201, ok, "{expression}: {body}");
        if !ok {
            assert_eq!(body["error"]["details"][0]["field"], "trigger.config.expression", "{body}");
        }
    }
}
}

both_databases! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_version_stays_while_runs_or_workflows_need_it_and_edits_keep_pins() {
    let host = Host::start_with(options(10_000));
    let v1 = std::fs::read(plugin_wasm("greeter-v1")).expect("v1");
    let v2 = std::fs::read(plugin_wasm("greeter-v2")).expect("v2");
    let (status, body) = host.install(v1, "").await;
    assert_eq!(status, 201, "{body}");
    let definition = |wait: &str| {
        json!({ "name": "Greet", "trigger": { "type": "manual" },
                "steps": [{ "id": "pause", "type": "wait", "config": { "duration": wait } },
                          { "id": "hi", "type": "greeter", "config": { "name": "Ada" } }] })
    };
    let wf = host.create_active(definition("1h")).await;
    let waiting = host.trigger(&wf, json!({})).await;
    host.wait_for(&waiting, "WAITING", T).await;
    let (status, body) = host.install(v2, "").await;
    assert_eq!(status, 201, "{body}");
    // An edit keeps the version pinned at activation.
    let (status, body) = host.put(&format!("/api/workflows/{wf}"), definition("10ms")).await;
    assert_eq!(status, 200, "{body}");
    let edited = host.trigger(&wf, json!({})).await;
    let run = host.wait_for(&edited, "COMPLETED", T).await;
    assert_eq!(run["logs"][1]["result"]["plugin"], "greeter@1.0.0", "{run:#}");
    // Paused, the workflow still pins 1.0.0, and so does the waiting run.
    host.put(&format!("/api/workflows/{wf}/pause"), json!({})).await;
    let (status, body) = host.call("DELETE", "/api/plugins/greeter/1.0.0", None).await;
    assert_eq!(status, 409, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(&format!("workflow `{wf}` (PAUSED)")), "{message}");
    assert!(message.contains(&format!("run `{waiting}` (WAITING)")), "{message}");
    // Activation moves the workflow to the newest version.
    host.put(&format!("/api/workflows/{wf}/activate"), json!({})).await;
    host.post(&format!("/api/workflow-runs/{waiting}/cancel"), json!({})).await;
    let (status, body) = host.call("DELETE", "/api/plugins/greeter/1.0.0", None).await;
    assert_eq!(status, 204, "{body}");
}
}
