//! Retention: finished runs past their keep go with their logs, in the
//! background; what is unfinished or kept longer stays; read notifications
//! and idempotency keys past their window go too. `weft db` vacuums and
//! backs up a live SQLite database.

use std::time::{Duration, Instant};

use serde_json::json;
use weft_tests::{Host, Options, both_databases, weft_bin};

const T: Duration = Duration::from_secs(30);

fn host_keeping(retention: &str) -> Host {
    let env = [("WEFT_RETENTION", retention), ("WEFT_RETENTION_SWEEP_MS", "300")];
    Host::start_with(Options {
        env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ..Options::default()
    })
}

fn two_steps(name: &str, retention: Option<&str>) -> serde_json::Value {
    let mut definition = json!({
        "name": name, "trigger": { "type": "manual" },
        "steps": [
            { "id": "a", "type": "update-field", "config": { "set": { "a": 1 } } },
            { "id": "tell", "type": "notification", "config": { "title": "done" } }
        ]
    });
    if let Some(retention) = retention {
        definition["retention"] = json!(retention);
    }
    definition
}

async fn count(host: &Host, query: &str) -> i64 {
    host.sql_value(&format!("SELECT CAST(({query}) AS TEXT)"))
        .await
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("count of {query}"))
}

both_databases! {
#[tokio::test]
async fn finished_runs_past_their_retention_go_with_their_logs_and_the_rest_stays() {
    let host = host_keeping("2s");
    let (status, body) = host.post("/api/workflows", two_steps("Bad", Some("soon"))).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["details"][0]["field"], "retention", "{body}");

    let short = host.create_active(two_steps("Default keep", None)).await;
    let long = host.create_active(two_steps("Kept an hour", Some("1h"))).await;
    let (_, shown) = host.get(&format!("/api/workflows/{long}")).await;
    assert_eq!(shown["retention"], "1h");
    let sleeper = host
        .create_active(json!({
            "name": "Asleep", "trigger": { "type": "manual" },
            "steps": [ { "id": "nap", "type": "wait", "config": { "duration": "1h" } } ]
        }))
        .await;
    let mut gone = Vec::new();
    for _ in 0..3 {
        let run = host.trigger(&short, json!({})).await;
        host.wait_for(&run, "COMPLETED", T).await;
        gone.push(run);
    }
    let mut kept = Vec::new();
    for _ in 0..2 {
        let run = host.trigger(&long, json!({})).await;
        host.wait_for(&run, "COMPLETED", T).await;
        kept.push(run);
    }
    let asleep = host.trigger(&sleeper, json!({})).await;
    host.wait_for(&asleep, "WAITING", T).await;
    // One notification read (it goes), the others unread (they stay).
    let (_, notifications) = host.get("/api/notifications").await;
    let unread_before = notifications["total"].as_i64().expect("total");
    assert_eq!(unread_before, 5, "{notifications}");
    let read = notifications["data"][0]["id"].as_str().expect("id").to_owned();
    let (status, _) = host.post(&format!("/api/notifications/{read}/read"), json!({})).await;
    assert_eq!(status, 200);
    // An idempotency key long past its 24-hour window, and a fresh one.
    host.sql("INSERT INTO idempotency_keys (scope, key, \"runIds\", \"createdAt\") VALUES ('event', 'old', '[]', 0)")
        .await;
    let (status, _) = host.call_headers("POST", "/api/events", json!({ "type": "nothing.listens" }), &[("Idempotency-Key", "fresh")]).await;
    assert_eq!(status, 202);

    let deadline = Instant::now() + T;
    loop {
        let (status, _) = host.get(&format!("/api/workflow-runs/{}", gone[2])).await;
        if status == 404 {
            break;
        }
        assert!(Instant::now() < deadline, "runs past their retention were not deleted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for run in &gone {
        let (status, _) = host.get(&format!("/api/workflow-runs/{run}")).await;
        assert_eq!(status, 404, "run {run} is gone");
        let logs = count(&host, &format!("SELECT COUNT(*) FROM workflow_run_logs WHERE \"runId\" = '{run}'")).await;
        assert_eq!(logs, 0, "its logs went with it");
    }
    for run in kept.iter().chain([&asleep]) {
        let (status, body) = host.get(&format!("/api/workflow-runs/{run}")).await;
        assert_eq!(status, 200, "run {run} stays: {body}");
        assert!(!body["logs"].as_array().expect("logs").is_empty() || body["status"] == "WAITING");
    }
    // Read a moment after the runs finished: it goes a sweep or two later.
    let notifications = loop {
        let (_, notifications) = host.get("/api/notifications").await;
        if notifications["total"] == 4 || Instant::now() > deadline {
            break notifications;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(notifications["total"], 4, "the read one went: {notifications}");
    assert!(notifications["data"].as_array().expect("data").iter().all(|n| n["id"] != read.as_str()));
    assert_eq!(count(&host, "SELECT COUNT(*) FROM idempotency_keys WHERE key = 'old'").await, 0);
    assert_eq!(count(&host, "SELECT COUNT(*) FROM idempotency_keys WHERE key = 'fresh'").await, 1);
    assert!(host.stderr().iter().any(|l| l.contains("retention: deleted what is past its keep")));
}
}

#[tokio::test]
async fn a_new_sqlite_database_frees_pages_and_db_backs_it_up_while_a_host_runs() {
    let host = host_keeping("1s");
    let mode = host.sql_value("SELECT CAST(auto_vacuum AS TEXT) FROM pragma_auto_vacuum").await;
    assert_eq!(mode.as_deref(), Some("2"), "incremental auto-vacuum from the start");
    let workflow = host.create_active(two_steps("Churn", None)).await;
    for _ in 0..20 {
        let run = host.trigger(&workflow, json!({ "padding": "x".repeat(20_000) })).await;
        host.wait_for(&run, "COMPLETED", T).await;
    }
    let deadline = Instant::now() + T;
    while count(&host, "SELECT COUNT(*) FROM workflow_runs").await > 0 {
        assert!(Instant::now() < deadline, "the runs were not deleted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The sweep that deleted them handed their pages back.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let free = count(&host, "SELECT freelist_count FROM pragma_freelist_count").await;
    assert!(free < 10, "{free} free pages left in the file");

    let url = host.database_url();
    let copy = host.dir.path().join("backup.db");
    let backup = std::process::Command::new(weft_bin())
        .args(["db", "backup"])
        .arg(&copy)
        .env("WEFT_DATABASE_URL", &url)
        .output()
        .expect("weft db backup");
    assert!(backup.status.success(), "{}", String::from_utf8_lossy(&backup.stderr));
    assert!(String::from_utf8_lossy(&backup.stdout).contains("backed up"));
    {
        use sqlx::Connection as _;
        let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", copy.display()))
            .await
            .expect("open copy");
        let name: String = sqlx::query_scalar("SELECT name FROM workflows WHERE id = $1")
            .bind(&workflow)
            .fetch_one(&mut c)
            .await
            .expect("the copy holds the workflow");
        assert_eq!(name, "Churn");
        let check: String =
            sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&mut c).await.expect("check");
        assert_eq!(check, "ok");
    }
    let again = std::process::Command::new(weft_bin())
        .args(["db", "backup"])
        .arg(&copy)
        .env("WEFT_DATABASE_URL", &url)
        .output()
        .expect("weft db backup");
    assert!(!again.status.success(), "an existing file is not overwritten");
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));
    let vacuum = std::process::Command::new(weft_bin())
        .args(["db", "vacuum"])
        .env("WEFT_DATABASE_URL", &url)
        .output()
        .expect("vacuum");
    assert!(vacuum.status.success(), "{}", String::from_utf8_lossy(&vacuum.stderr));
    assert!(String::from_utf8_lossy(&vacuum.stdout).contains("vacuumed"));
    // The host goes on after both.
    let run = host.trigger(&workflow, json!({})).await;
    host.wait_for(&run, "COMPLETED", T).await;
}
