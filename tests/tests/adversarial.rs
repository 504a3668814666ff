//! The adversarial suite: hostile plugins, hostile input and failing
//! neighbours. Each case checks that the host stays up, that other runs go
//! on unaffected, that the error says what happened, and that nothing is left
//! half-written.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use weft_tests::both_databases;
use weft_tests::receiver::{Answer, Receiver};
use weft_tests::{Host, Options, plugin_wasm};

const T: Duration = Duration::from_secs(60);

async fn healthy(host: &Host) -> String {
    host.create_active(json!({
        "name": "healthy", "trigger": { "type": "manual" },
        "steps": [ { "id": "mark", "type": "update-field", "config": { "set": { "n": "{{ event.n }}" } } } ]
    }))
    .await
}

async fn hostile(host: &Host, name: &str, config: Value) -> String {
    let (status, created) = host
        .post(
            "/api/workflows",
            json!({
                "name": name, "trigger": { "type": "manual" },
                "steps": [ { "id": "attack", "type": "hostile", "config": config } ]
            }),
        )
        .await;
    assert_eq!(status, 201, "{name}: {created}");
    let id =
        created["id"].as_str().unwrap_or_else(|| panic!("{name}: {:.300}", created.to_string())).to_owned();
    assert_eq!(host.put(&format!("/api/workflows/{id}/activate"), json!({})).await.0, 200);
    id
}

/// Runs still unfinished, and finished runs missing what a finished run has.
async fn half_written(host: &Host) -> Vec<String> {
    let (_, runs) = host.get("/api/workflow-runs?limit=200").await;
    let mut bad = Vec::new();
    for run in runs["data"].as_array().unwrap() {
        let status = run["status"].as_str().unwrap_or_default();
        let id = run["id"].as_str().unwrap_or_default();
        match status {
            "COMPLETED" => {}
            "FAILED" if run["error"].as_str().is_some_and(|e| !e.is_empty()) => {}
            other => bad.push(format!("{id}: {other} {run}")),
        }
    }
    bad
}

both_databases! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_plugins_fail_only_their_own_runs_with_the_limit_they_hit() {
    let host = Host::start();
    let (status, body) = host
        .install(
            std::fs::read(plugin_wasm("hostile")).unwrap(),
            "?timeMs=3000&memoryBytes=33554432&outputBytes=65536",
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let cases: Vec<(&str, Value, Option<&[&str]>)> = vec![
        ("loop", json!({ "mode": "loop" }), Some(&["fuel exhausted", "wall-time limit of 3000 ms exceeded"])),
        ("memory", json!({ "mode": "memory-bomb" }), Some(&["memory limit of 33554432 bytes exceeded"])),
        ("recurse", json!({ "mode": "recurse" }), Some(&["stack overflow"])),
        (
            "big output",
            json!({ "mode": "big-output", "bytes": 1_000_000 }),
            Some(&["exceeds the cap of 65536 bytes"]),
        ),
        ("panic", json!({ "mode": "panic", "message": "x".repeat(200_000) }), Some(&["panicked: xxx"])),
        ("sleep", json!({ "mode": "sleep", "ms": 60_000 }), Some(&["wall-time limit of 3000 ms exceeded"])),
        ("ungranted http", json!({ "mode": "http", "url": "http://127.0.0.1:9/" }), Some(&["http"])),
        ("ungranted kv", json!({ "mode": "kv", "key": "k", "value": "v" }), Some(&["kv"])),
        // Walls, not limits: the plugin runs and finds nothing.
        ("file", json!({ "mode": "read-file", "path": "/etc/passwd" }), None),
        ("env", json!({ "mode": "env", "name": "WEFT_ADMIN_TOKEN" }), None),
        ("socket", json!({ "mode": "socket", "addr": host.base.trim_start_matches("http://") }), None),
        ("log flood", json!({ "mode": "chatty", "lines": 20_000 }), None),
    ];
    let ok = healthy(&host).await;
    let mut started = Vec::new();
    for (name, config, _) in &cases {
        let wf = hostile(&host, name, config.clone()).await;
        started.push(host.trigger(&wf, json!({})).await);
    }
    // The neighbours meanwhile: every one completes.
    for n in 0..20 {
        let (status, run) =
            host.post(&format!("/api/workflows/{ok}/trigger?wait=20000"), json!({ "n": n })).await;
        assert_eq!((status, &run["status"]), (200, &json!("COMPLETED")), "{run}");
        assert_eq!(run["context"]["vars"]["n"], n);
    }
    for ((name, _, expected), run) in cases.iter().zip(&started) {
        let wanted = if expected.is_some() { "FAILED" } else { "COMPLETED" };
        let run = host.wait_for(run, wanted, T).await;
        let shown = run.to_string();
        assert!(shown.len() < 1 << 20, "{name}: the run view is {} bytes", shown.len());
        match expected {
            Some(needles) => {
                let error = run["error"].as_str().unwrap_or_default();
                assert!(needles.iter().any(|n| error.contains(n)), "{name}: {error}");
                assert!(error.len() <= 9 << 10, "{name}: an error of {} bytes is stored", error.len());
            }
            None => {
                let output = &run["logs"][0]["result"]["output"];
                match *name {
                    "file" => assert!(output.get("read").is_none(), "{name}: {output}"),
                    // Shown truncated in the run view; whole in the context.
                    "log flood" => {
                        assert_eq!(run["logs"][0]["resultTruncated"], true);
                        assert_eq!(run["context"]["steps"]["attack"], 20_000);
                    }
                    "env" => assert_eq!(output, &json!({ "value": null, "count": 0 })),
                    "socket" => assert!(output["error"].is_string(), "{name}: {output}"),
                    other => unreachable!("{other}"),
                }
            }
        }
    }
    assert_eq!(host.get("/api/health").await.0, 200);
    assert_eq!(half_written(&host).await, Vec::<String>::new());
}
}

both_databases! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_gets_a_4xx_naming_the_problem_and_stores_nothing() {
    let host = Host::start();
    let step = json!({ "id": "a", "type": "update-field", "config": { "set": { "x": 1 } } });
    let with = |trigger: Value, steps: Value| json!({ "name": "w", "trigger": trigger, "steps": steps });
    let manual = json!({ "type": "manual" });
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "unknown step type",
            with(manual.clone(), json!([{ "id": "a", "type": "nope", "config": {} }])),
            422,
            "unknown step type `nope`",
        ),
        (
            "dangling target",
            with(
                manual.clone(),
                json!([{ "id": "a", "type": "update-field", "config": { "set": {} }, "next": "ghost" }]),
            ),
            422,
            "`ghost` names no step",
        ),
        (
            "bad cron",
            with(json!({ "type": "cron", "config": { "expression": "61 * * * *" } }), json!([step])),
            422,
            "trigger.config.expression",
        ),
        (
            "empty cron list item",
            with(json!({ "type": "cron", "config": { "expression": "* ,, * * *" } }), json!([step])),
            422,
            "empty item",
        ),
        (
            "bad time zone",
            with(
                json!({ "type": "cron", "config": { "expression": "0 9 * * *", "timezone": "Mars/Olympus" } }),
                json!([step]),
            ),
            422,
            "trigger.config.timezone",
        ),
        ("unknown trigger", with(json!({ "type": "telepathy" }), json!([step])), 422, "trigger"),
        ("wrong type", json!({ "name": 7, "trigger": manual, "steps": [step] }), 422, "name"),
    ];
    for (name, body, status, needle) in cases {
        let (got, answer) = host.post("/api/workflows", body).await;
        assert_eq!(got, status, "{name}: {answer}");
        assert!(answer.to_string().contains(needle), "{name}: {answer}");
    }

    // Bytes no JSON parser should choke on: deep nesting, truncation, a lie
    // in the content type, a body over the cap.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let raw: Vec<(&str, Vec<u8>, &str, u16)> = vec![
        ("deep nesting", deep.into_bytes(), "application/json", 400),
        ("truncated", br#"{"name": "w", "trigger": {"#.to_vec(), "application/json", 400),
        ("not utf-8", vec![0xff, 0xfe, 0x00], "application/json", 400),
        ("form posing as json", b"name=w&steps=1".to_vec(), "application/json", 400),
        (
            "json posing as text",
            serde_json::to_vec(&with(manual.clone(), json!([step]))).unwrap(),
            "text/plain",
            415,
        ),
    ];
    for (name, bytes, content_type, status) in raw {
        let (got, answer) = host.call_raw("POST", "/api/workflows", bytes, content_type).await;
        assert_eq!(got, status, "{name}: {answer}");
        assert!(answer["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{name}: {answer}");
    }
    // Over the cap: 413, or the connection closed while the client still
    // writes (the server stops reading at the cap).
    let over =
        host.try_call("POST", "/api/workflows", Some(vec![b' '; 8 << 20]), Some(weft_tests::TOKEN)).await;
    assert!(over.as_ref().is_none_or(|(status, _)| *status == 413), "{over:?}");
    // A body that trickles in and stops: the request is dropped, the host serves on.
    let slow =
        futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"{\"name\": "))]);
    let _ = tokio::time::timeout(
        Duration::from_secs(2),
        host.client()
            .post(format!("{}/api/workflows", host.base))
            .bearer_auth(weft_tests::TOKEN)
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(slow.chain(futures_util::stream::pending())))
            .send(),
    )
    .await;

    let (_, list) = host.get("/api/workflows").await;
    assert_eq!(list["total"], 0, "nothing was stored: {list}");
    assert_eq!(host.get("/api/health").await.0, 200);

    // Fields the server owns are ignored, so a client may send back what it
    // read: they cannot make a workflow active or choose its id.
    let owned = json!({ "name": "w", "trigger": manual, "steps": [step], "status": "ACTIVE", "id": "mine", "version": 99 });
    let (status, created) = host.post("/api/workflows", owned).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!((&created["status"], &created["version"]), (&json!("DRAFT"), &json!(1)));
    assert_ne!(created["id"], "mine");
}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_receiver_or_a_busy_database_slows_runs_down_but_loses_none() {
    let receiver = Receiver::start().await;
    let host = Host::start_with(Options {
        env: vec![("WEFT_HTTP_ALLOW".into(), "127.0.0.1".into())],
        ..Options::default()
    });
    let call = |retry: Value, timeout_ms: u64| {
        json!({
            "name": "call", "trigger": { "type": "manual" },
            "steps": [ { "id": "hook", "type": "webhook", "retry": retry,
                         "config": { "url": format!("{}/in", receiver.base), "timeoutMs": timeout_ms } } ]
        })
    };
    // 429 then 503 are retried; the third answer is kept.
    receiver.script([
        Answer::json(429, json!({ "slow": "down" })),
        Answer::json(503, json!({})),
        Answer::json(200, json!({ "ok": true })),
    ]);
    let wf = host.create_active(call(json!({ "maxAttempts": 3, "backoffMs": 20 }), 5_000)).await;
    let run = host.trigger(&wf, json!({})).await;
    let run = host.wait_for(&run, "COMPLETED", T).await;
    assert_eq!(run["logs"].as_array().unwrap().len(), 3, "{run}");
    assert_eq!(receiver.seen().len(), 3);

    // A receiver slower than the step's timeout fails the step, naming the timeout.
    receiver.delay(Duration::from_secs(3));
    let wf = host.create_active(call(json!({ "maxAttempts": 1 }), 300)).await;
    let run = host.trigger(&wf, json!({})).await;
    let run = host.wait_for(&run, "FAILED", T).await;
    let error = run["error"].as_str().unwrap_or_default();
    assert!(error.contains("no complete response within 300 ms"), "{error}");
    receiver.delay(Duration::ZERO);

    // The database is held by another writer for two seconds: runs started
    // meanwhile wait for it, and every one completes exactly once.
    let ok = healthy(&host).await;
    let db = host.dir.path().join("weft.db");
    let holder = tokio::spawn(async move {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display())).await.unwrap();
        sqlx::query("BEGIN IMMEDIATE").execute(&mut conn).await.unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
        sqlx::query("COMMIT").execute(&mut conn).await.unwrap();
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut runs = Vec::new();
    for n in 0..5 {
        let (status, run) = host.post(&format!("/api/workflows/{ok}/trigger"), json!({ "n": n })).await;
        assert!(status == 202 || status == 200 || status == 201, "{status}: {run}");
        runs.push(run["id"].as_str().unwrap().to_owned());
    }
    holder.await.unwrap();
    for run in &runs {
        host.wait_for(run, "COMPLETED", T).await;
    }
    let (_, list) = host.get(&format!("/api/workflow-runs?workflowId={ok}")).await;
    assert_eq!(list["total"], 5);
    assert_eq!(half_written(&host).await, Vec::<String>::new());
}
