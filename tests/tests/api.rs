//! Every endpoint through the real binary: happy paths and errors.

use serde_json::json;
use weft_tests::both_databases;
use weft_tests::{Host, Options, TOKEN};

fn simple() -> serde_json::Value {
    json!({
        "name": "Tag contact",
        "description": "sets a status",
        "trigger": { "type": "manual" },
        "steps": [ { "id": "tag", "type": "update-field", "config": { "set": { "status": "tagged" } } } ]
    })
}

both_databases! {
#[tokio::test]
async fn workflows_are_created_read_listed_edited_and_change_status() {
    let host = Host::start();
    let (status, created) = host.post("/api/workflows", simple()).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["status"], "DRAFT");
    assert_eq!(created["name"], "Tag contact");
    assert_eq!(created["steps"][0]["id"], "tag");
    assert_eq!(created["version"], 1);

    let (status, read) = host.get(&format!("/api/workflows/{id}")).await;
    assert_eq!((status, &read["id"]), (200, &json!(id)));

    // Server-owned fields in a body are ignored, not trusted.
    let mut edited = simple();
    edited["name"] = json!("Tag contact v2");
    edited["id"] = json!("forged");
    edited["status"] = json!("ACTIVE");
    let (status, body) = host.put(&format!("/api/workflows/{id}"), edited).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["id"], &body["name"], &body["status"], &body["version"]),
        (&json!(id), &json!("Tag contact v2"), &json!("DRAFT"), &json!(2))
    );

    let (status, body) = host.put(&format!("/api/workflows/{id}/activate"), json!({})).await;
    assert_eq!((status, &body["status"]), (200, &json!("ACTIVE")), "{body}");
    let (status, body) = host.put(&format!("/api/workflows/{id}/pause"), json!({})).await;
    assert_eq!((status, &body["status"]), (200, &json!("PAUSED")));
    let (status, body) = host.post(&format!("/api/workflows/{id}/trigger"), json!({})).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "conflict");

    let second = host.create(simple()).await;
    let (status, page) = host.get("/api/workflows?status=PAUSED").await;
    assert_eq!(status, 200);
    assert_eq!(page["total"], 1);
    assert_eq!(page["data"][0]["id"], json!(id));
    let (_, page) = host.get("/api/workflows?pageSize=1&page=2").await;
    assert_eq!((&page["total"], &page["page"], &page["pageSize"]), (&json!(2), &json!(2), &json!(1)));
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    let (_, first_page) = host.get("/api/workflows?pageSize=1").await;
    assert_eq!(first_page["data"][0]["id"], json!(second), "newest first");

    let (status, body) = host.put(&format!("/api/workflows/{id}/archive"), json!({})).await;
    assert_eq!((status, &body["status"]), (200, &json!("ARCHIVED")));
    let (status, body) = host.put(&format!("/api/workflows/{id}/activate"), json!({})).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["message"], format!("workflow `{id}` is ARCHIVED and cannot be activated"));
    let (status, _) = host.post(&format!("/api/workflows/{id}/trigger"), json!({})).await;
    assert_eq!(status, 409);
    let (status, _) = host.put(&format!("/api/workflows/{id}"), simple()).await;
    assert_eq!(status, 409);
    let (status, _) = host.put(&format!("/api/workflows/{second}/pause"), json!({})).await;
    assert_eq!(status, 409, "a DRAFT cannot be paused");
}
}

both_databases! {
#[tokio::test]
async fn bad_requests_get_the_right_status_and_name_the_problem() {
    let host = Host::start();
    // 401 without or with a wrong token; /healthz is open.
    let (status, body) = host.call_with("GET", "/api/workflows", None, None).await;
    assert_eq!((status, &body["error"]["code"]), (401, &json!("unauthorized")));
    let (status, _) = host.call_with("GET", "/api/workflows", None, Some("wrong")).await;
    assert_eq!(status, 401);
    let (status, body) = host.call_with("GET", "/healthz", None, None).await;
    assert_eq!(body, json!({ "status": "ok" }), "no details without a token");
    assert_eq!(status, 200);
    let (status, body) = host.get("/api/health").await;
    assert_eq!((status, &body["status"]), (200, &json!("ok")));
    assert!(body["rssBytes"].as_u64().is_some_and(|b| b > 0) && body["plugins"].as_u64().is_some(), "{body}");
    let (status, _) = host.call_with("GET", "/api/health", None, None).await;
    assert_eq!(status, 401);
    let _ = TOKEN;

    // 404.
    let (status, body) = host.get("/api/workflows/nope").await;
    assert_eq!((status, body["error"]["message"].as_str()), (404, Some("workflow `nope` not found")));
    let (status, _) = host.get("/api/workflow-runs/nope").await;
    assert_eq!(status, 404);
    let (status, _) = host.post("/api/workflow-runs/nope/cancel", json!({})).await;
    assert_eq!(status, 404);

    // 400 malformed JSON, 413 too large.
    let (status, body) =
        host.call_with("POST", "/api/workflows", Some(b"{ not json".to_vec()), Some(TOKEN)).await;
    assert_eq!((status, &body["error"]["code"]), (400, &json!("bad_request")));
    assert!(body["error"]["message"].as_str().unwrap().starts_with("malformed JSON"), "{body}");
    // The host answers 413 without reading the rest of the body; closing with
    // unread bytes may reset the connection before the client reads the
    // answer, so a transport error is tried again.
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat((1 << 20) + 10));
    let mut answer = None;
    for _ in 0..5 {
        if let Some(reply) =
            host.try_call("POST", "/api/workflows", Some(big.clone().into_bytes()), Some(TOKEN)).await
        {
            answer = Some(reply);
            break;
        }
    }
    let (status, body) = answer.expect("an answer to the large body");
    assert_eq!((status, &body["error"]["code"]), (413, &json!("too_large")));
    let (status, body) = host.get("/api/workflows?pageSize=1000").await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["message"],
        "query parameter `pageSize` must be an integer from 1 to 200, got \"1000\""
    );
    let (status, _) = host.get("/api/workflow-runs?status=DONE").await;
    assert_eq!(status, 400);

    // 422, each naming the step and the field.
    let cases = [
        (
            json!({ "name": "x", "trigger": { "type": "manual" }, "steps": [] }),
            "field `steps`: a workflow needs at least one step",
        ),
        (
            json!({ "name": "x", "trigger": { "type": "manual" }, "steps": [ { "id": "a", "type": "teleport" } ] }),
            "step `a`: field `type`: unknown step type `teleport`",
        ),
        (
            json!({ "name": "x", "trigger": { "type": "manual" }, "steps": [
                { "id": "a", "type": "wait", "config": { "duration": "1s" } },
                { "id": "a", "type": "wait", "config": { "duration": "1s" } } ] }),
            "step `a`: field `id`: duplicate step id",
        ),
        (
            json!({ "name": "x", "trigger": { "type": "manual" }, "steps": [
                { "id": "a", "type": "wait", "config": { "duration": "1s" }, "next": "ghost" } ] }),
            "step `a`: field `next`: `ghost` names no step at the top level",
        ),
        (
            json!({ "name": "x", "trigger": { "type": "manual" }, "steps": [
                { "id": "c", "type": "condition", "config": { "if": true, "then": "ghost" } } ] }),
            "step `c`: field `config.then`: `ghost` names no step at the top level",
        ),
        (
            json!({ "name": "x", "trigger": { "type": "manual" }, "steps": [
                { "id": "w", "type": "wait", "config": { "duration": 5 } } ] }),
            "step `w`: field `config.duration`: 5 is not of types \"null\", \"string\"",
        ),
        (
            json!({ "name": "x", "trigger": { "type": "manual" }, "steps": [
                { "id": "h", "type": "webhook", "config": { "method": "POST" } } ] }),
            "step `h`: field `config.url`: \"url\" is a required property",
        ),
        (
            json!({ "name": "x", "trigger": { "type": "cron", "config": { "expression": "every day" } }, "steps": [
                { "id": "w", "type": "wait", "config": { "duration": "1s" } } ] }),
            "field `trigger.config.expression`: `every day` has 2 fields; expected 5, 6 or 7",
        ),
        (
            json!({ "name": "x", "trigger": { "type": "cron", "config": { "expression": "* * * * *", "timezone": "Mars/Base" } }, "steps": [
                { "id": "w", "type": "wait", "config": { "duration": "1s" } } ] }),
            "field `trigger.config.timezone`: `Mars/Base` is not an IANA time zone such as Europe/Paris",
        ),
    ];
    for (definition, expected) in cases {
        let (status, body) = host.post("/api/workflows", definition.clone()).await;
        assert_eq!(status, 422, "{definition}: {body}");
        assert_eq!(
            body["error"]["message"],
            format!("invalid workflow definition: {expected}"),
            "{definition}"
        );
    }
    let (status, body) = host
        .post("/api/workflows", json!({ "name": "x", "trigger": { "type": "webhook" }, "steps": [] }))
        .await;
    assert_eq!(status, 422);
    assert!(body["error"]["message"].as_str().unwrap().starts_with("field `trigger"), "{body}");
    let (status, body) = host.post("/api/events", json!({ "data": {} })).await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["message"], "missing field `type`");
}
}

both_databases! {
#[tokio::test]
async fn a_trigger_with_wait_answers_with_the_finished_run() {
    let host = Host::start();
    let wf = host.create(simple()).await;
    let (status, run) =
        host.post(&format!("/api/workflows/{wf}/trigger?wait=10000"), json!({ "n": 1 })).await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["status"], "COMPLETED");
    assert_eq!(run["context"]["vars"], json!({ "status": "tagged" }));
    assert_eq!(run["logs"][0]["action"], "completed");
    let (status, body) = host.post(&format!("/api/workflows/{wf}/trigger?wait=soon"), json!({})).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["message"],
        "query parameter `wait` must be milliseconds from 0 to 60000, got \"soon\""
    );
}
}

#[tokio::test]
async fn a_first_start_without_a_token_creates_one_prints_it_once_and_stores_its_hash() {
    let mut host = Host::start_with(Options { no_admin_token: true, ..Options::default() });
    let printed = host.stdout();
    let token = printed
        .iter()
        .find_map(|l| l.trim().strip_prefix("weft_").map(|t| format!("weft_{t}")))
        .expect("token line");
    let (status, _) = host.call_with("GET", "/api/workflows", None, Some(&token)).await;
    assert_eq!(status, 200);
    let (status, _) = host.call_with("GET", "/api/workflows", None, Some(TOKEN)).await;
    assert_eq!(status, 401);
    // Only the hash is stored.
    let db = std::fs::read(host.dir.path().join("weft.db")).unwrap();
    let wal = std::fs::read(host.dir.path().join("weft.db-wal")).unwrap_or_default();
    let raw = |bytes: &[u8]| bytes.windows(token.len()).any(|w| w == token.as_bytes());
    assert!(!raw(&db) && !raw(&wal), "the token is stored in clear");

    // A restart prints no new token and accepts the stored one.
    host.terminate();
    let host = Host::start_in(host.dir.clone(), &Options { no_admin_token: true, ..Options::default() });
    assert!(!host.stdout().iter().any(|l| l.trim().starts_with("weft_")));
    let (status, _) = host.call_with("GET", "/api/workflows", None, Some(&token)).await;
    assert_eq!(status, 200);
}

both_databases! {
#[tokio::test]
async fn a_database_migrated_by_a_newer_weft_is_refused_naming_both_versions() {
    let mut host = Host::start();
    // As a later Weft would leave it (portable SQL: SQLite and PostgreSQL).
    host.sql(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99990101, 'from the future', TRUE, '', 0);",
    )
    .await;
    host.terminate();
    let out = std::process::Command::new(weft_tests::weft_bin())
        .arg("serve")
        .env("WEFT_ADDR", "127.0.0.1:0")
        .env("WEFT_DATABASE_URL", host.database_url())
        .env("WEFT_SECRET_KEY", weft_tests::TEST_SECRET_KEY)
        .env("WEFT_ADMIN_TOKEN", TOKEN)
        .env("WEFT_CACHE_DIR", host.dir.path().join("cache"))
        .output()
        .expect("run weft");
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("the database's schema is at migration 99990101 (from the future), newer than this weft knows"),
        "{said}"
    );
}
}
