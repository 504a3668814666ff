//! What the web UI stands on, through the real binary: the embedded page and
//! its headers, browser sessions, and the endpoints the editor and the run
//! views use (step types, cron preview, layout, `If-Match`, the run stream,
//! large results, email preview).

use std::time::Duration;

use serde_json::{Value, json};
use weft_tests::both_databases;
use weft_tests::{Host, TOKEN};

async fn get(host: &Host, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = host.client().get(format!("{}{path}", host.base));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.send().await.expect("request")
}

fn header<'a>(resp: &'a reqwest::Response, name: &str) -> &'a str {
    resp.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

both_databases! {
#[tokio::test]
async fn the_page_is_served_with_its_headers_and_the_api_keeps_its_404s() {
    let host = Host::start();
    let index = get(&host, "/", &[]).await;
    assert_eq!(index.status().as_u16(), 200);
    assert!(header(&index, "content-type").starts_with("text/html"), "{:?}", index.headers());
    assert_eq!(header(&index, "content-security-policy"), "default-src 'self'");
    assert_eq!(header(&index, "cache-control"), "no-cache");
    assert_eq!(header(&index, "x-content-type-options"), "nosniff");
    assert_eq!(header(&index, "x-frame-options"), "DENY");
    let etag = header(&index, "etag").to_owned();
    assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");
    let html = index.text().await.expect("body");
    assert!(html.contains("<html") || html.contains("<!doctype"), "{html}");

    // Revalidation by ETag.
    let again = get(&host, "/", &[("if-none-match", &etag)]).await;
    assert_eq!(again.status().as_u16(), 304);

    // The page's own routes load the page (a reload of /runs/123 works).
    let deep = get(&host, "/runs/some-run", &[]).await;
    assert_eq!(deep.status().as_u16(), 200);
    assert_eq!(header(&deep, "etag"), etag);

    // Hashed files are immutable for a year; a missing one is a plain 404.
    let script = html.split('"').find(|s| s.starts_with("/assets/") && s.ends_with(".js")).map(str::to_owned);
    if let Some(script) = script {
        let file = get(&host, &script, &[("accept-encoding", "gzip")]).await;
        assert_eq!(file.status().as_u16(), 200);
        assert_eq!(header(&file, "cache-control"), "public, max-age=31536000, immutable");
        assert!(header(&file, "content-type").contains("javascript"), "{:?}", file.headers());
        assert_eq!(header(&file, "content-encoding"), "gzip");
    }
    let missing = get(&host, "/assets/gone-1234.js", &[]).await;
    assert_eq!(missing.status().as_u16(), 404);

    // The API's unknown routes stay JSON 404s, signed in or not.
    for path in ["/api/nothing-here", "/hooks/nothing-here"] {
        let resp = get(&host, path, &[("authorization", &format!("Bearer {TOKEN}"))]).await;
        assert_eq!(resp.status().as_u16(), 404, "{path}");
        let body: Value = resp.json().await.expect("json");
        assert_eq!(body["error"]["code"], "not_found", "{path}: {body}");
    }
    let (status, body) = host.call("POST", "/some/page", Some(json!({}))).await;
    assert_eq!((status, &body["error"]["code"]), (404, &json!("not_found")));
}
}

fn session_of(resp: &reqwest::Response) -> (String, String) {
    let set = header(resp, "set-cookie").to_owned();
    let value = set.split(';').next().and_then(|p| p.strip_prefix("weft_session=")).unwrap_or("").to_owned();
    (value, set)
}

both_databases! {
#[tokio::test]
async fn a_session_cookie_stands_in_for_the_token_and_writes_need_the_csrf_header() {
    let host = Host::start();
    let url = |p: &str| format!("{}{p}", host.base);
    let client = host.client();

    let wrong =
        client.post(url("/api/session")).json(&json!({ "token": "weft_wrong" })).send().await.unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());

    let ok = client.post(url("/api/session")).json(&json!({ "token": TOKEN })).send().await.unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let (value, set) = session_of(&ok);
    assert_eq!(value.len(), 64, "{set}");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(set.contains(flag), "{flag} missing from {set}");
    }
    assert!(!set.contains(TOKEN), "the cookie is not the token");
    let cookie = format!("weft_session={value}");

    let read = client.get(url("/api/workflows")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(read.status().as_u16(), 200);
    let me = client.get(url("/api/session")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(me.status().as_u16(), 200);

    let definition = json!({
        "name": "c",
        "trigger": { "type": "manual" },
        "steps": [ { "id": "a", "type": "update-field", "config": { "set": { "a": 1 } } } ]
    });
    let forged =
        client.post(url("/api/workflows")).header("cookie", &cookie).json(&definition).send().await.unwrap();
    assert_eq!(forged.status().as_u16(), 403);
    let body: Value = forged.json().await.unwrap();
    assert_eq!(body["error"]["code"], "csrf");
    let (_, page) = host.get("/api/workflows").await;
    assert_eq!(page["total"], 0, "nothing was created by the refused write");

    let written = client
        .post(url("/api/workflows"))
        .header("cookie", &cookie)
        .header("x-weft-csrf", "1")
        .json(&definition)
        .send()
        .await
        .unwrap();
    assert_eq!(written.status().as_u16(), 201);

    // Sign-out ends the session on the server, not only in the browser.
    let out = client
        .delete(url("/api/session"))
        .header("cookie", &cookie)
        .header("x-weft-csrf", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(out.status().as_u16(), 204);
    assert!(header(&out, "set-cookie").contains("Max-Age=0"));
    let after = client.get(url("/api/workflows")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(after.status().as_u16(), 401);
    let forged_cookie =
        client.get(url("/api/workflows")).header("cookie", "weft_session=abc").send().await.unwrap();
    assert_eq!(forged_cookie.status().as_u16(), 401);
}
}

both_databases! {
#[tokio::test]
async fn step_types_list_the_engine_and_plugin_types_with_their_targets() {
    let host = Host::start();
    let (status, body) = host.get("/api/step-types").await;
    assert_eq!(status, 200, "{body}");
    let types = body["data"].as_array().unwrap();
    let find = |name: &str| types.iter().find(|t| t["type"] == name).cloned().unwrap_or(Value::Null);
    assert_eq!(find("parallel")["kind"], "engine");
    let condition = find("condition");
    assert_eq!(condition["kind"], "plugin");
    assert_eq!(condition["builtin"], true);
    assert_eq!(condition["targets"], json!(["else", "then"]));
    assert!(condition["configSchema"]["properties"].is_object(), "{condition}");
    assert_eq!(find("email")["targets"], json!([]));
    for builtin in ["email", "webhook", "notification", "wait", "update-field"] {
        assert_eq!(find(builtin)["versions"], json!(["0.1.0"]), "{builtin}");
    }
}
}

both_databases! {
#[tokio::test]
async fn cron_preview_gives_the_hosts_fire_times_and_names_a_bad_field() {
    let host = Host::start();
    // Monday to Friday at 09:00 in Paris, from a Saturday in winter (UTC+1).
    let (status, body) = host
        .post(
            "/api/cron/preview",
            json!({ "expression": "0 9 * * 1-5", "timezone": "Europe/Paris", "count": 3, "after": "2026-12-05T12:00:00Z" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["next"],
        json!(["2026-12-07T08:00:00.000Z", "2026-12-08T08:00:00.000Z", "2026-12-09T08:00:00.000Z"])
    );
    let (status, body) = host.post("/api/cron/preview", json!({ "expression": "0 9 * *" })).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["details"][0]["field"], "expression");
    let (status, body) =
        host.post("/api/cron/preview", json!({ "expression": "@daily", "timezone": "Mars/Olympus" })).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["details"][0]["field"], "timezone");
}
}

both_databases! {
#[tokio::test]
async fn layout_is_kept_and_if_match_refuses_a_save_over_a_newer_version() {
    let host = Host::start();
    let layout = json!({ "nodes": { "tag": { "x": 120.5, "y": -40 } }, "anything": [1, "two"] });
    let definition = json!({
        "name": "Laid out",
        "trigger": { "type": "manual" },
        "steps": [ { "id": "tag", "type": "update-field", "config": { "set": { "a": 1 } } } ],
        "layout": layout,
    });
    let (status, created) = host.post("/api/workflows", definition.clone()).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["layout"], layout);
    let id = created["id"].as_str().unwrap().to_owned();

    let read =
        get(&host, &format!("/api/workflows/{id}"), &[("authorization", &format!("Bearer {TOKEN}"))]).await;
    assert_eq!(header(&read, "etag"), "\"1\"");

    // Two editors read version 1; the first saves, the second is refused
    // and shown what is there now.
    let mut first = definition.clone();
    first["name"] = json!("First save");
    let (status, saved) =
        host.call_headers("PUT", &format!("/api/workflows/{id}"), first, &[("if-match", "\"1\"")]).await;
    assert_eq!((status, &saved["version"]), (200, &json!(2)), "{saved}");
    let mut second = definition.clone();
    second["name"] = json!("Second save");
    let (status, refused) = host
        .call_headers("PUT", &format!("/api/workflows/{id}"), second.clone(), &[("if-match", "\"1\"")])
        .await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["details"]["current"]["name"], "First save");
    assert_eq!(refused["error"]["details"]["current"]["version"], 2);
    let (_, stored) = host.get(&format!("/api/workflows/{id}")).await;
    assert_eq!(stored["name"], "First save", "the refused save changed nothing");

    // An edit without `layout` (a file applied from the CLI) keeps it.
    let mut bare = definition.clone();
    bare.as_object_mut().unwrap().remove("layout");
    let (status, kept) = host.put(&format!("/api/workflows/{id}"), bare).await;
    assert_eq!((status, &kept["layout"]), (200, &layout), "{kept}");

    let (status, body) = host
        .call_headers("PUT", &format!("/api/workflows/{id}"), second, &[("if-match", "version one")])
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("If-Match"), "{body}");
}
}

both_databases! {
#[tokio::test]
async fn the_run_stream_carries_each_change_and_resumes_from_last_event_id() {
    let host = Host::start();
    let workflow = host
        .create_active(json!({
            "name": "Streamed",
            "trigger": { "type": "manual" },
            "steps": [
                { "id": "a", "type": "update-field", "config": { "set": { "a": 1 } } },
                { "id": "b", "type": "update-field", "config": { "set": { "b": 2 } } }
            ]
        }))
        .await;
    let mut events = host.sse(&format!("/api/workflow-runs/stream?workflowId={workflow}")).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let run = host.trigger(&workflow, json!({})).await;
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.iter().any(|(_, v): &(String, Value)| v["status"] == "COMPLETED") {
        let (event, data) =
            tokio::time::timeout_at(deadline, events.recv()).await.expect("a run event").unwrap();
        assert_eq!(event, "run");
        let value: Value = serde_json::from_str(&data).unwrap();
        assert_eq!(value["id"], json!(run));
        assert!(value.get("context").is_none(), "{value}");
        seen.push((value["changeSeq"].to_string(), value));
    }
    let seqs: Vec<i64> = seen.iter().map(|(_, v)| v["changeSeq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "change numbers grow: {seqs:?}");

    // The feed keeps each run's newest change: a client that resumes from
    // before it gets the run as it stands now, once.
    let mut resumed = host.sse_after("/api/workflow-runs/stream", Some("0")).await;
    let (_, data) =
        tokio::time::timeout(Duration::from_secs(5), resumed.recv()).await.expect("replay").unwrap();
    let value: Value = serde_json::from_str(&data).unwrap();
    assert_eq!((value["id"].clone(), value["status"].clone()), (json!(run), json!("COMPLETED")));
    assert_eq!(value["changeSeq"].as_i64(), seqs.last().copied());
    // One that saw it gets nothing again, and then the next run.
    let last = seqs.last().unwrap().to_string();
    let mut caught_up = host.sse_after("/api/workflow-runs/stream", Some(&last)).await;
    assert!(tokio::time::timeout(Duration::from_millis(1_500), caught_up.recv()).await.is_err());
    let next = host.trigger(&workflow, json!({})).await;
    let (_, data) =
        tokio::time::timeout(Duration::from_secs(5), caught_up.recv()).await.expect("next").unwrap();
    let value: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(value["id"], json!(next));
    assert!(value["changeSeq"].as_i64() > seqs.last().copied());
}
}

both_databases! {
#[tokio::test]
async fn a_stream_resumed_from_a_number_the_feed_never_reached_says_reset() {
    // As after a restore of an older database: the client cannot be brought
    // up to date change by change, so it is told to reload.
    let host = Host::start();
    let workflow = host
        .create_active(json!({
            "name": "Reset",
            "trigger": { "type": "manual" },
            "steps": [ { "id": "a", "type": "update-field", "config": { "set": { "a": 1 } } } ]
        }))
        .await;
    let run = host.trigger(&workflow, json!({})).await;
    host.wait_for(&run, "COMPLETED", Duration::from_secs(10)).await;
    let mut events = host.sse_after("/api/workflow-runs/stream", Some("999999999")).await;
    let (event, _) =
        tokio::time::timeout(Duration::from_secs(5), events.recv()).await.expect("reset").unwrap();
    assert_eq!(event, "reset");
    // Then it goes on from the newest change.
    let next = host.trigger(&workflow, json!({})).await;
    let (event, data) =
        tokio::time::timeout(Duration::from_secs(5), events.recv()).await.expect("next").unwrap();
    assert_eq!(event, "run");
    assert_eq!(serde_json::from_str::<Value>(&data).unwrap()["id"], json!(next));
}
}

both_databases! {
#[tokio::test]
async fn large_attempt_results_load_on_their_own() {
    let host = Host::start();
    let big = "x".repeat(40_000);
    let workflow = host
        .create_active(json!({
            "name": "Big",
            "trigger": { "type": "manual" },
            "steps": [ { "id": "big", "type": "update-field", "config": { "set": { "blob": big } } } ]
        }))
        .await;
    let run = host.trigger(&workflow, json!({})).await;
    let done = host.wait_for(&run, "COMPLETED", Duration::from_secs(10)).await;
    let log = done["logs"].as_array().unwrap().iter().find(|l| l["step"] == "big").cloned().unwrap();
    assert_eq!(log["resultTruncated"], true, "{log}");
    assert_eq!(log["result"], Value::Null);
    assert!(log["resultBytes"].as_u64().unwrap() > 40_000);
    assert_eq!(done["definition"]["steps"][0]["id"], "big");
    let (status, full) =
        host.get(&format!("/api/workflow-runs/{run}/logs/{}", log["id"].as_str().unwrap())).await;
    assert_eq!(status, 200, "{full}");
    assert_eq!(full["result"]["output"]["blob"].as_str().map(str::len), Some(40_000));
    let (status, _) = host.get(&format!("/api/workflow-runs/{run}/logs/nope")).await;
    assert_eq!(status, 404);
}
}

both_databases! {
#[tokio::test]
async fn the_dashboard_sees_last_runs_and_todays_counts_and_templates_preview() {
    let host = Host::start();
    let workflow = host
        .create_active(json!({
            "name": "Counted",
            "trigger": { "type": "manual" },
            "steps": [ { "id": "a", "type": "update-field", "config": { "set": { "a": 1 } } } ]
        }))
        .await;
    let mut last = String::new();
    for _ in 0..3 {
        last = host.trigger(&workflow, json!({})).await;
        host.wait_for(&last, "COMPLETED", Duration::from_secs(10)).await;
    }
    let (_, page) = host.get("/api/workflows").await;
    assert_eq!(page["data"][0]["lastRun"]["id"], json!(last));
    assert_eq!(page["data"][0]["lastRun"]["status"], "COMPLETED");
    let (status, stats) = host.get("/api/workflow-stats?since=2000-01-01T00:00:00Z").await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["data"], json!([{ "workflowId": workflow, "runs": 3, "failures": 0 }]));
    let (status, _) = host.get("/api/workflow-stats?since=yesterday").await;
    assert_eq!(status, 400);

    let (status, preview) = host
        .post(
            "/api/email-templates/preview",
            json!({ "subject": "Hi {{ name }}\nthere", "html": "<p>{{ name }}</p>", "data": { "name": "<Ada>" } }),
        )
        .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview, json!({ "subject": "Hi <Ada> there", "text": null, "html": "<p>&lt;Ada&gt;</p>" }));
    let (status, body) =
        host.post("/api/email-templates/preview", json!({ "subject": "{{ broken", "data": {} })).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["details"][0]["field"], "subject");
    // A loop bomb runs out of fuel instead of holding the host, and a
    // template that writes too much is cut off while it writes.
    let bomb =
        "{% for a in range(100000) %}{% for b in range(100000) %}{% set c = b %}{% endfor %}{% endfor %}";
    let (status, body) =
        host.post("/api/email-templates/preview", json!({ "subject": "s", "text": bomb })).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("fuel"), "{body}");
    let flood = "{% set a = 'x' * 10000000 %}{% for i in range(1000) %}{{ a }}{% endfor %}";
    let (status, body) =
        host.post("/api/email-templates/preview", json!({ "subject": "s", "text": flood })).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("renders to more than"), "{body}");
    let (status, body) =
        host.post("/api/email-templates", json!({ "slug": "preview", "subject": "s", "text": "t" })).await;
    assert_eq!((status, &body["error"]["details"][0]["field"]), (422, &json!("slug")), "{body}");
}
}

both_databases! {
#[tokio::test]
async fn an_open_stream_ends_when_its_token_is_revoked() {
    let host = Host::start();
    let (status, made) = host.post("/api/tokens", json!({ "name": "watcher", "role": "viewer" })).await;
    assert_eq!(status, 201, "{made}");
    let token = made["token"].as_str().unwrap();
    let mut resp = host
        .client()
        .get(format!("{}/api/workflow-runs/stream", host.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("stream");
    assert_eq!(resp.status().as_u16(), 200);
    let (status, _) =
        host.call("DELETE", &format!("/api/tokens/{}", made["id"].as_str().unwrap()), None).await;
    assert_eq!(status, 204);
    // The stream ends within its 5 s re-check; keep-alive comments may come first.
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(Some(_)) = resp.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the stream outlived its token");
}
}
