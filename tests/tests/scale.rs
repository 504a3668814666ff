//! Scale-out: three `weft serve` processes on one PostgreSQL database.
//!
//! - 2,000 runs of four shapes (a wait, a retried webhook, parallel webhooks,
//!   a chain of webhooks) spread over the hosts, one host `kill -9`ed mid-way
//!   and restarted. Every run completes, each step is recorded once, and the
//!   receiver sees an idempotency key twice only across the kill.
//! - A cron workflow firing every second for 20 s runs each fire time once.
//! - A plugin installed through one host runs on another.
//! - A notification made on one host, and a run change, reach another host's
//!   streams; a cancel through one host interrupts the step another host has
//!   in flight; a host that stops hands its runs to the others at once.
//!
//! The tests of this file run one at a time: each starts three hosts, and
//! the cron test must not be starved of CPU by another.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use weft_tests::receiver::{Answer, Receiver};
use weft_tests::{DATABASE, Database, Host, Options, TOKEN, plugin_wasm};

const T: Duration = Duration::from_secs(30);

/// One test at a time (see the module docs).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn options(lease_ms: u64) -> Options {
    Options {
        env: vec![
            ("WEFT_LEASE_MS".into(), lease_ms.to_string()),
            ("WEFT_HTTP_ALLOW".into(), "127.0.0.1".into()),
        ],
        ..Options::default()
    }
}

/// Three hosts on one fresh PostgreSQL database, each with its own directory.
fn three_hosts(options: &Options) -> [Host; 3] {
    tokio::task::block_in_place(|| {
        let a = Host::start_with(options.clone());
        let b = Host::start_beside(&a, options);
        let c = Host::start_beside(&a, options);
        [a, b, c]
    })
}

async fn on_postgres<F: std::future::Future<Output = ()>>(test: F) {
    let _one_at_a_time = SERIAL.lock().await;
    DATABASE.scope(Database::Postgres, test).await
}

fn hook(id: &str, url: &str) -> Value {
    json!({ "id": id, "type": "webhook", "config": { "url": url, "body": { "run": "{{ run.id }}" } } })
}

fn increment(id: &str) -> Value {
    json!({ "id": id, "type": "update-field", "config": { "increment": { "count": 1 } } })
}

/// The webhook steps of the shapes.
const WEBHOOK_STEPS: [&str; 5] = ["flaky", "left", "right", "h1", "h2"];

/// The four shapes, with the steps each run of them ends.
fn shapes(stable: &str, flaky: &str) -> Vec<(Value, Vec<&'static str>)> {
    let mut retried = hook("flaky", &format!("{flaky}/flaky"));
    retried["retry"] = json!({ "maxAttempts": 10, "backoffMs": 20, "maxBackoffMs": 100 });
    let workflow =
        |name: &str, steps: Value| json!({ "name": name, "trigger": { "type": "manual" }, "steps": steps });
    vec![
        (
            workflow(
                "Waits",
                json!([increment("a"), { "id": "pause", "type": "wait", "config": { "duration": "200ms" } }, increment("b")]),
            ),
            vec!["a", "pause", "b"],
        ),
        (workflow("Retry", json!([retried, increment("after")])), vec!["flaky", "after"]),
        (
            workflow(
                "Fanout",
                json!([{ "id": "p", "type": "parallel", "branches": [
                    [hook("left", &format!("{stable}/left"))],
                    [hook("right", &format!("{stable}/right"))],
                ] }, increment("done")]),
            ),
            vec!["left", "right", "p", "done"],
        ),
        (
            workflow(
                "Chain",
                json!([hook("h1", &format!("{stable}/h1")), hook("h2", &format!("{stable}/h2"))]),
            ),
            vec!["h1", "h2"],
        ),
    ]
}

/// Triggers `count` runs over `bases` (round robin), `concurrency` at a time;
/// returns the ids of the runs the hosts accepted.
async fn trigger_many(
    bases: &[String],
    workflows: &[String],
    count: usize,
    concurrency: usize,
) -> Vec<String> {
    use futures_util::StreamExt;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("client");
    futures_util::stream::iter(0..count)
        .map(|i| {
            let url = format!(
                "{}/api/workflows/{}/trigger",
                bases[i % bases.len()],
                workflows[i % workflows.len()]
            );
            let client = client.clone();
            async move {
                let resp = client.post(url).bearer_auth(TOKEN).json(&json!({ "n": i })).send().await;
                let resp = resp.unwrap_or_else(|e| panic!("trigger {i}: {e}"));
                let status = resp.status().as_u16();
                let body: Value = resp.json().await.unwrap_or(Value::Null);
                assert_eq!(status, 202, "trigger {i}: {body}");
                body["id"].as_str().map(str::to_owned).unwrap_or_else(|| panic!("trigger {i}: {body}"))
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await
}

/// Checks that each step of a completed run was recorded as ended once, with
/// attempts 1, 2, .. in order; returns the recorded attempts of each step.
fn recorded_once(run: &Value, expected: &[&str]) -> BTreeMap<String, usize> {
    assert_eq!(run["status"], "COMPLETED", "every run completes: {run:#}");
    let mut attempts: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
    for row in run["logs"].as_array().cloned().unwrap_or_default() {
        let step = row["step"].as_str().unwrap_or_default().to_owned();
        let attempt = row["attempt"].as_i64().unwrap_or(-1);
        attempts
            .entry(step)
            .or_default()
            .push((attempt, row["action"].as_str().unwrap_or_default().to_owned()));
    }
    let mut steps: Vec<&str> = attempts.keys().map(String::as_str).collect();
    steps.sort();
    let mut want = expected.to_vec();
    want.sort();
    // The parallel step itself writes no log row.
    want.retain(|s| *s != "p");
    assert_eq!(steps, want, "the steps recorded: {run:#}");
    let mut out = BTreeMap::new();
    for (step, rows) in attempts {
        let numbers: Vec<i64> = rows.iter().map(|(a, _)| *a).collect();
        assert_eq!(numbers, (1..=rows.len() as i64).collect::<Vec<_>>(), "step `{step}` attempts: {run:#}");
        let (_, before) = rows.split_last().expect("a row");
        assert!(before.iter().all(|(_, a)| a == "retrying"), "step `{step}` ended twice: {run:#}");
        out.insert(step, rows.len());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_runs_over_three_hosts_survive_a_kill_9_with_each_step_recorded_once() {
    on_postgres(async {
        let started = Instant::now();
        // Slow enough that webhooks are in flight at the kill.
        let stable = Receiver::start().await;
        stable.delay(Duration::from_millis(40));
        let flaky = Receiver::start().await;
        // The first requests fail: runs of the retry shape retry.
        flaky.script((0..20).map(|_| Answer::json(500, json!({ "error": "flaky" }))));

        let opts = options(1_000);
        let [a, b, mut c] = three_hosts(&opts);
        let mut workflows = Vec::new();
        let mut steps_of = BTreeMap::new();
        for (definition, steps) in shapes(&stable.base, &flaky.base) {
            let id = a.create_active(definition).await;
            steps_of.insert(id.clone(), steps);
            workflows.push(id);
        }
        let all = [a.base.clone(), b.base.clone(), c.base.clone()];
        let mut accepted = trigger_many(&all, &workflows, 1_000, 48).await;
        let owner_c = c
            .stderr()
            .iter()
            .find_map(|l| {
                let id = l.split("lease owner id of this host: ").nth(1)?;
                Some(id.chars().take_while(char::is_ascii_alphanumeric).collect::<String>())
            })
            .expect("the third host names its lease owner id");
        // Mid-way: the third host dies with runs in flight.
        c.kill9();
        let held_by_c = a
            .sql_value(&format!(
                "SELECT string_agg(id || ' ' || \"claimCount\", ',') FROM workflow_runs \
                 WHERE \"leaseOwner\" = '{owner_c}' AND status IN ('PENDING', 'RUNNING')"
            ))
            .await
            .unwrap_or_default();
        let held_by_c: Vec<(String, i64)> = held_by_c
            .split(',')
            .filter_map(|r| r.split_once(' '))
            .map(|(id, n)| (id.to_owned(), n.parse().expect("claim count")))
            .collect();
        assert!(!held_by_c.is_empty(), "the kill caught runs in the third host's hands");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mark = stable.seen().len();
        let flaky_mark = flaky.seen().len();
        let survivors = [a.base.clone(), b.base.clone()];
        let (more, restarted) = tokio::join!(
            trigger_many(&survivors, &workflows, 1_000, 48),
            tokio::task::spawn_blocking({
                let dir = Arc::clone(&c.dir);
                let opts = opts.clone();
                move || Host::start_in(dir, &opts)
            })
        );
        accepted.extend(more);
        let c = restarted.expect("restart the killed host");
        assert_eq!(accepted.len(), 2_000);

        // Every run in the database ends.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let open = a
                .sql_value("SELECT COUNT(*)::text FROM workflow_runs WHERE status NOT IN ('COMPLETED', 'FAILED', 'CANCELLED')")
                .await;
            if open.as_deref() == Some("0") {
                break;
            }
            assert!(Instant::now() < deadline, "{open:?} runs never finished");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // The dead host's runs were claimed again, by the others or by its restart.
        for (id, before) in &held_by_c {
            let now = a.sql_value(&format!("SELECT \"claimCount\"::text FROM workflow_runs WHERE id = '{id}'")).await;
            let now: i64 = now.as_deref().unwrap_or("0").parse().expect("claim count");
            assert!(now > *before, "run {id} of the killed host was not claimed again ({before} then, {now} now)");
        }
        let total = a.sql_value("SELECT COUNT(*)::text FROM workflow_runs").await;
        assert_eq!(total.as_deref(), Some("2000"), "one run per accepted trigger");
        let duplicates = a
            .sql_value(
                "SELECT COUNT(*)::text FROM (SELECT \"runId\", seq FROM workflow_run_logs \
                 GROUP BY \"runId\", seq HAVING COUNT(*) > 1) d",
            )
            .await;
        assert_eq!(duplicates.as_deref(), Some("0"), "a run has two log rows at one position");
        let held = a.sql_value("SELECT COUNT(*)::text FROM workflow_runs WHERE \"leaseOwner\" IS NOT NULL").await;
        assert_eq!(held.as_deref(), Some("0"), "a finished run still holds a lease");

        // Each run: completed, each step recorded once; read through all three hosts.
        let hosts = [&a, &b, &c];
        let mut recorded: BTreeMap<String, usize> = BTreeMap::new();
        let mut retried = 0;
        for (i, id) in accepted.iter().enumerate() {
            let (code, run) = hosts[i % 3].get(&format!("/api/workflow-runs/{id}")).await;
            assert_eq!(code, 200, "{run}");
            let steps = &steps_of[run["workflowId"].as_str().unwrap_or_default()];
            for (step, attempts) in recorded_once(&run, steps) {
                retried += usize::from(attempts > 1);
                if WEBHOOK_STEPS.contains(&step.as_str()) {
                    recorded.insert(format!("{id}/{step}/1"), attempts);
                }
            }
        }
        assert!(retried > 0, "the scripted 500s made runs retry");

        // Each recorded attempt reached its receiver; a key was sent once
        // more than recorded only when the kill cut its request off.
        let mut twice = 0;
        for (receiver, mark, name) in [(&stable, mark, "stable"), (&flaky, flaky_mark, "flaky")] {
            let mut at: BTreeMap<String, Vec<usize>> = BTreeMap::new();
            for (i, seen) in receiver.seen().iter().enumerate() {
                at.entry(seen.header("idempotency-key").unwrap_or("<none>").to_owned()).or_default().push(i);
            }
            for (key, indexes) in at {
                let Some(&logged) = recorded.get(&key) else {
                    panic!("the {name} receiver saw key {key} of no recorded webhook step");
                };
                let seen = indexes.len();
                assert!(seen >= logged, "key {key}: {logged} attempts recorded, {seen} requests seen");
                assert!(seen <= logged + 1, "key {key}: {seen} requests for {logged} recorded attempts");
                if seen > logged {
                    assert!(
                        indexes[0] < mark && indexes[seen - 1] >= mark,
                        "key {key} was sent again, but not across the kill ({indexes:?}, kill at {mark})"
                    );
                    twice += 1;
                }
            }
        }
        let (stable_keys, flaky_keys) = (stable.keys(), flaky.keys());
        for key in recorded.keys() {
            let sent = stable_keys.get(key).or_else(|| flaky_keys.get(key)).copied().unwrap_or(0);
            assert!(sent > 0, "recorded webhook step {key} never reached its receiver");
        }
        println!(
            "scale: 2,000 runs over 3 hosts, one killed; {retried} steps retried, \
             {twice} webhook keys sent again across the kill; took {:.1} s",
            started.elapsed().as_secs_f64()
        );
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cron_firing_every_second_on_three_hosts_runs_each_fire_time_once() {
    on_postgres(async {
        let [a, b, c] = three_hosts(&options(10_000));
        let id = a
            .create_active(json!({
                "name": "Every second",
                "trigger": { "type": "cron", "config": { "expression": "* * * * * *" } },
                "steps": [increment("tick")],
            }))
            .await;
        tokio::time::sleep(Duration::from_secs(20)).await;
        let (status, body) = b.put(&format!("/api/workflows/{id}/pause"), json!({})).await;
        assert_eq!(status, 200, "{body}");
        // A fire claimed just before the pause may still be finishing.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let times = c
            .sql_value(&format!(
                "SELECT string_agg((extract(epoch FROM ((context::jsonb)->'event'->>'scheduledAt')::timestamptz) \
                 * 1000)::bigint::text, ',') FROM workflow_runs WHERE \"workflowId\" = '{id}'"
            ))
            .await
            .unwrap_or_default();
        let mut fired: Vec<i64> = times
            .split(',')
            .map(|t| t.parse().unwrap_or_else(|e| panic!("scheduledAt `{t}`: {e}")))
            .collect();
        let distinct: BTreeSet<i64> = fired.iter().copied().collect();
        assert_eq!(distinct.len(), fired.len(), "a fire time ran twice: {times}");
        fired.sort();
        assert!(fired.len() >= 18, "{} fires in 20 s: {times}", fired.len());
        for pair in fired.windows(2) {
            assert_eq!(pair[1] - pair[0], 1_000, "every second fired, none skipped: {times}");
        }
        assert!(fired.iter().all(|t| t % 1_000 == 0), "fire times fall on whole seconds: {times}");
        println!("scale: cron fired {} times over 20 s on 3 hosts, each second once", fired.len());
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_installed_through_one_host_runs_on_another() {
    on_postgres(async {
        let [a, b, _c] = three_hosts(&Options::default());
        let bytes = std::fs::read(plugin_wasm("greeter-v1")).expect("greeter-v1 component");
        let installed = Instant::now();
        let (status, body) = a.install(bytes, "").await;
        assert_eq!(status, 201, "{body}");
        let deadline = Instant::now() + T;
        while b.get("/api/plugins/greeter").await.0 != 200 {
            assert!(Instant::now() < deadline, "the other host never loaded the plugin");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let seen_after = installed.elapsed();
        let workflow = b
            .create_active(json!({
                "name": "Greet", "trigger": { "type": "manual" },
                "steps": [{ "id": "greet", "type": "greeter", "config": { "name": "ada" } }],
            }))
            .await;
        let (status, run) = b.post(&format!("/api/workflows/{workflow}/trigger?wait=10000"), json!({})).await;
        assert_eq!((status, &run["status"]), (200, &json!("COMPLETED")), "{run}");
        assert_eq!(run["context"]["steps"]["greet"]["version"], "1.0.0", "{run}");
        println!("scale: a plugin installed through one host was listed on another after {seen_after:?}");
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_and_run_changes_reach_the_streams_of_another_host() {
    on_postgres(async {
        let [a, b, _c] = three_hosts(&Options::default());
        let mut notes = b.sse("/api/notifications/stream").await;
        let mut changes = b.sse("/api/workflow-runs/stream").await;
        let workflow = a
            .create_active(json!({
                "name": "Tell", "trigger": { "type": "manual" },
                "steps": [{ "id": "tell", "type": "notification", "config": { "title": "from host a" } }],
            }))
            .await;
        let run = a.trigger(&workflow, json!({})).await;
        // Notifications have no poll behind them: only the signal brings it.
        let (event, data) =
            tokio::time::timeout(T, notes.recv()).await.expect("a notification").expect("stream");
        assert_eq!(event, "notification");
        let n: Value = serde_json::from_str(&data).expect("notification JSON");
        assert_eq!((&n["title"], &n["runId"]), (&json!("from host a"), &json!(run)), "{n}");
        let deadline = Instant::now() + T;
        loop {
            let (event, data) = tokio::time::timeout_at(deadline.into(), changes.recv())
                .await
                .expect("the run's change on the other host's stream")
                .expect("stream");
            let change: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
            if event == "run" && change["id"] == run && change["status"] == "COMPLETED" {
                break;
            }
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_through_one_host_interrupts_the_step_another_host_has_in_flight() {
    on_postgres(async {
        let receiver = Receiver::start().await;
        receiver.delay(Duration::from_secs(8));
        let [a, b, _c] = three_hosts(&options(10_000));
        let workflow = a
            .create_active(json!({
                "name": "Slow", "trigger": { "type": "manual" },
                "steps": [hook("slow", &format!("{}/slow", receiver.base))],
            }))
            .await;
        let run = a.trigger(&workflow, json!({})).await;
        let deadline = Instant::now() + T;
        while receiver.most_in_flight() == 0 {
            assert!(Instant::now() < deadline, "the webhook never went out");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let (status, body) = b.post(&format!("/api/workflow-runs/{run}/cancel"), json!({})).await;
        assert_eq!(status, 200, "{body}");
        // Without the signal, host a would wait out the 8 s answer and find
        // its write refused; with it, the step is dropped at once.
        let deadline = Instant::now() + Duration::from_secs(6);
        while !a.stderr().iter().any(|l| l.contains(&run) && l.contains("step in flight was interrupted")) {
            assert!(Instant::now() < deadline, "host a never interrupted the step: {:#?}", a.stderr());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let run = a.wait_for(&run, "CANCELLED", T).await;
        let completed = run["logs"].as_array().is_some_and(|l| l.iter().any(|r| r["action"] == "completed"));
        assert!(!completed, "the interrupted step recorded nothing: {run:#}");
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_stops_hands_its_runs_to_the_others_at_once() {
    on_postgres(async {
        let receiver = Receiver::start().await;
        receiver.delay(Duration::from_millis(1_500));
        // A lease far longer than the test waits: only a hand-back explains
        // another host finishing the run in time.
        let opts = options(60_000);
        let [mut a, b, _c] = three_hosts(&opts);
        let workflow = a
            .create_active(json!({
                "name": "Handed over", "trigger": { "type": "manual" },
                "steps": [hook("slow", &format!("{}/slow", receiver.base)), increment("after")],
            }))
            .await;
        let run = a.trigger(&workflow, json!({})).await;
        let deadline = Instant::now() + T;
        while receiver.most_in_flight() == 0 {
            assert!(Instant::now() < deadline, "the webhook never went out");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        a.signal_term();
        let exited = tokio::task::block_in_place(|| a.wait_exit(Duration::from_secs(20)));
        assert!(exited.is_some_and(|s| s.success()), "host a stops gracefully");
        let done = b.wait_for(&run, "COMPLETED", Duration::from_secs(20)).await;
        assert_eq!(done["context"]["vars"]["count"], 1, "{done:#}");
        assert_eq!(
            receiver.keys().values().copied().collect::<Vec<_>>(),
            [1],
            "the step in flight was recorded once"
        );
    })
    .await
}
