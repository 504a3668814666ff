//! Side effects through the real binary: email over a real SMTP server,
//! signed webhooks to a real HTTP receiver, notifications over SSE, the
//! outbound address policy, and secrets kept out of every output. Everything
//! listens on 127.0.0.1; no test sends a packet anywhere else.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use weft_tests::both_databases;
use weft_tests::receiver::{Answer, Receiver, Seen};
use weft_tests::smtp::SmtpSink;
use weft_tests::{Host, Options, pairs, trail};

const T: Duration = Duration::from_secs(30);
const SECRET_KEY: &str = "c2VjcmV0LXNpZ25pbmcta2V5LWZvci10ZXN0cw==";
const SMTP_PASSWORD: &str = "smtp-pa55word-do-not-leak";

fn webhook_secret() -> String {
    format!("whsec_{SECRET_KEY}")
}

fn env(pairs: &[(&str, String)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

/// Checks a Standard Webhooks signature the way a receiver would.
fn verify(seen: &Seen, secret_b64: &str) -> bool {
    let (Some(id), Some(ts), Some(sig)) =
        (seen.header("webhook-id"), seen.header("webhook-timestamp"), seen.header("webhook-signature"))
    else {
        return false;
    };
    let key = STANDARD.decode(secret_b64).expect("key");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("hmac");
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(&seen.body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    sig.split(' ').any(|s| s == expected)
}

fn welcome_template() -> Value {
    json!({
        "slug": "welcome",
        "subject": "Welcome, {{ name }}!",
        "text": "Hi {{ name }}, your plan is {{ event.plan }}.",
        "html": "<p>Hi <b>{{ name }}</b>, plan {{ event.plan }}</p>"
    })
}

fn last_error(run: &Value) -> String {
    let logs = run["logs"].as_array().cloned().unwrap_or_default();
    logs.iter().rev().find_map(|l| l["result"]["error"].as_str().map(str::to_owned)).unwrap_or_default()
}

both_databases! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_templates_are_managed_over_the_api_and_checked_when_saved() {
    let host = Host::start();
    let (status, body) = host.post("/api/email-templates", welcome_template()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["slug"], "welcome");

    let (status, body) = host.post("/api/email-templates", welcome_template()).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["message"], "email template `welcome` already exists");

    let broken = json!({ "slug": "broken", "subject": "ok", "html": "<p>{{ name </p>" });
    let (status, body) = host.post("/api/email-templates", broken).await;
    assert_eq!(status, 422, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("field `html`: template does not compile"), "{message}");

    let (status, body) =
        host.post("/api/email-templates", json!({ "slug": "Bad Slug", "subject": "x", "text": "y" })).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().starts_with("field `slug`"), "{body}");
    let (status, body) = host.post("/api/email-templates", json!({ "slug": "empty", "subject": "x" })).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().starts_with("field `text`"), "{body}");

    let (status, body) = host
        .put("/api/email-templates/welcome", json!({ "subject": "Hello {{ name }}", "text": "Plain only" }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["subject"], "Hello {{ name }}");
    assert_eq!(body["html"], Value::Null);
    let (status, list) = host.get("/api/email-templates").await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");

    let (status, _) = host.call("DELETE", "/api/email-templates/welcome", None).await;
    assert_eq!(status, 204);
    let (status, body) = host.get("/api/email-templates/welcome").await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = host.put("/api/email-templates/nope", json!({ "subject": "x", "text": "y" })).await;
    assert_eq!(status, 404);
}
}

both_databases! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_builtin_is_granted_only_the_interface_it_needs() {
    let host = Host::start();
    for (name, grants) in [
        ("email", json!(["email"])),
        ("webhook", json!(["http", "sign"])),
        ("notification", json!(["notify"])),
        ("condition", json!([])),
        ("update-field", json!([])),
        ("wait", json!([])),
    ] {
        let (status, body) = host.get(&format!("/api/plugins/{name}")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["versions"][0]["grants"], grants, "{name}");
        assert_eq!(body["versions"][0]["builtin"], true, "{name}");
    }
}
}

both_databases! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_step_sends_a_stored_template_through_a_real_smtp_server() {
    let smtp = SmtpSink::start();
    let host = Host::start_with(Options { env: smtp.env(), ..Options::default() });
    let (status, body) = host.post("/api/email-templates", welcome_template()).await;
    assert_eq!(status, 201, "{body}");
    let wf = host
        .create_active(json!({
            "name": "Welcome mail",
            "trigger": { "type": "manual" },
            "steps": [ { "id": "send", "type": "email", "config": {
                "templateSlug": "welcome",
                "data": { "name": "{{ event.name }}" },
                "to": "{{ event.email }}",
                "cc": ["boss@example.test"],
                "bcc": "audit@example.test",
                "replyTo": "help@example.test"
            } } ]
        }))
        .await;
    let run = host
        .trigger(&wf, json!({ "name": "Ada <Lovelace>", "email": "ada@example.test", "plan": "pro" }))
        .await;
    let run = host.wait_for(&run, "COMPLETED", T).await;
    let message = smtp.next_message(T).expect("a message reached the SMTP server");

    let mut rcpt: Vec<&str> =
        message["rcptTos"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    rcpt.sort();
    assert_eq!(rcpt, ["ada@example.test", "audit@example.test", "boss@example.test"]);
    assert_eq!(message["mailFrom"], "weft@example.test");
    assert_eq!(message["to"], "ada@example.test");
    assert_eq!(message["cc"], "boss@example.test");
    assert_eq!(message["bcc"], "", "Bcc must not be in the headers");
    assert_eq!(message["replyTo"], "help@example.test");
    assert_eq!(message["subject"], "Welcome, Ada <Lovelace>!");
    assert_eq!(message["text"].as_str().map(str::trim_end), Some("Hi Ada <Lovelace>, your plan is pro."));
    // The HTML body is auto-escaped; the text body and subject are not.
    assert_eq!(
        message["html"].as_str().map(str::trim_end),
        Some("<p>Hi <b>Ada &lt;Lovelace&gt;</b>, plan pro</p>")
    );
    let output = &run["context"]["steps"]["send"];
    assert_eq!(output["subject"], "Welcome, Ada <Lovelace>!");
    let id = output["messageId"].as_str().unwrap();
    assert!(message["messageId"].as_str().unwrap().contains(id), "{message} vs {id}");
    let logs = run["logs"][0]["result"]["logs"].to_string();
    assert!(logs.contains("email to ada@example.test (3 recipients)"), "{logs}");
}
}

both_databases! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_failures_retry_when_temporary_and_fail_at_once_when_final() {
    let smtp = SmtpSink::start();
    let host = Host::start_with(Options { env: smtp.env(), ..Options::default() });
    let mail = |to: &str| {
        json!({
            "name": format!("mail {to}"),
            "trigger": { "type": "manual" },
            "steps": [ { "id": "send", "type": "email",
                "config": { "to": to, "subject": "Hi", "text": "Body" },
                "retry": { "maxAttempts": 3, "backoffMs": 20 } } ]
        })
    };
    // 451: retried, then failed with the reply in the error.
    let wf = host.create_active(mail("tempfail@example.test")).await;
    let run = host.trigger(&wf, json!({})).await;
    let run = host.wait_for(&run, "FAILED", T).await;
    assert_eq!(trail(&run), pairs(&[("send", "retrying"), ("send", "retrying"), ("send", "failed")]));
    let error = last_error(&run);
    assert!(error.contains("451") && error.contains("try again later"), "{error}");

    // 550: final at the first attempt.
    let wf = host.create_active(mail("reject@example.test")).await;
    let run = host.trigger(&wf, json!({})).await;
    let run = host.wait_for(&run, "FAILED", T).await;
    assert_eq!(trail(&run), pairs(&[("send", "failed")]));
    let error = last_error(&run);
    assert!(error.contains("550") && error.contains("No such user"), "{error}");

    // An invalid address never reaches the server.
    let wf = host.create_active(mail("not an address")).await;
    let run = host.trigger(&wf, json!({})).await;
    let run = host.wait_for(&run, "FAILED", T).await;
    assert_eq!(trail(&run), pairs(&[("send", "failed")]));
    let error = last_error(&run);
    assert!(error.contains("`to` address `not an address` is not valid"), "{error}");
    assert!(smtp.next_message(Duration::from_millis(200)).is_none());
}
}

both_databases! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_down_gives_retries_then_a_failed_step_with_the_smtp_error() {
    // A port nothing listens on: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let host = Host::start_with(Options {
        env: env(&[
            ("WEFT_SMTP_HOST", "127.0.0.1".into()),
            ("WEFT_SMTP_PORT", port.to_string()),
            ("WEFT_SMTP_TLS", "none".into()),
        ]),
        ..Options::default()
    });
    let wf = host
        .create_active(json!({
            "name": "mail", "trigger": { "type": "manual" },
            "steps": [ { "id": "send", "type": "email",
                "config": { "to": "a@example.test", "subject": "Hi", "text": "Body" },
                "retry": { "maxAttempts": 2, "backoffMs": 20 } } ]
        }))
        .await;
    let run = host.trigger(&wf, json!({})).await;
    let run = host.wait_for(&run, "FAILED", T).await;
    assert_eq!(trail(&run), pairs(&[("send", "retrying"), ("send", "failed")]));
    let error = last_error(&run);
    assert!(error.starts_with("plugin `email@0.1.0`: email: SMTP:"), "{error}");
    assert!(error.to_lowercase().contains("connect"), "{error}");
    assert_eq!(run["logs"][0]["result"]["retryable"], true);
}
}

fn receiver_host(extra: &[(&str, String)]) -> Host {
    let mut vars =
        vec![("WEFT_HTTP_ALLOW", "127.0.0.1".to_owned()), ("WEFT_WEBHOOK_SECRET", webhook_secret())];
    vars.extend(extra.iter().cloned());
    Host::start_with(Options { env: env(&vars), ..Options::default() })
}

fn hook_workflow(url: &str, retry: Value) -> Value {
    json!({
        "name": "hook", "trigger": { "type": "manual" },
        "steps": [
            { "id": "hook", "type": "webhook", "retry": retry, "config": {
                "method": "put",
                "url": url,
                "headers": { "x-source": "weft-{{ event.kind }}" },
                "query": { "q": "a b", "n": 3 },
                "body": { "id": "{{ event.id }}", "tags": ["x", "y"] } } },
            { "id": "keep", "type": "update-field", "config": { "set": { "crm": "{{ steps.hook.body.crmId }}" } } }
        ]
    })
}

both_databases! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_is_sent_signed_with_its_idempotency_key_and_the_response_is_the_output() {
    let receiver = Receiver::start().await;
    let host = receiver_host(&[]);
    let url = format!("{}/hooks/{{{{ event.id }}}}", receiver.base);
    let wf = host.create_active(hook_workflow(&url, json!({ "maxAttempts": 1 }))).await;
    let run_id = host.trigger(&wf, json!({ "id": "c-7", "kind": "crm" })).await;
    let run = host.wait_for(&run_id, "COMPLETED", T).await;

    let seen = receiver.seen();
    assert_eq!(seen.len(), 1);
    let req = &seen[0];
    assert_eq!(req.method, "PUT");
    assert_eq!(req.uri, "/hooks/c-7?n=3&q=a%20b");
    assert_eq!(req.header("x-source"), Some("weft-crm"));
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(
        serde_json::from_slice::<Value>(&req.body).unwrap(),
        json!({ "id": "c-7", "tags": ["x", "y"] })
    );
    let key = format!("{run_id}/hook/1");
    assert_eq!(req.header("idempotency-key"), Some(key.as_str()));
    assert_eq!(req.header("webhook-id"), Some(key.as_str()));
    assert!(verify(req, SECRET_KEY), "signature does not verify: {req:?}");
    assert!(!verify(req, "b3RoZXIta2V5LW90aGVyLWtleS1vdGhlcg=="), "a wrong key must not verify");

    let output = &run["context"]["steps"]["hook"];
    assert_eq!(output["status"], 200);
    assert_eq!(output["body"], json!({ "ok": true, "crmId": "crm-42" }));
    assert_eq!(output["headers"]["content-type"], "application/json");
    assert_eq!(run["context"]["vars"]["crm"], "crm-42");
    let logs = run["logs"][0]["result"]["logs"].to_string();
    assert!(logs.contains(&format!("http PUT {}/hooks/c-7?n=3&q=a%20b -> 200", receiver.base)), "{logs}");
}
}

both_databases! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_is_retried_to_success_with_the_same_message_id_and_a_404_fails_at_once() {
    let receiver = Receiver::start().await;
    let host = receiver_host(&[]);
    let retry = json!({ "maxAttempts": 3, "backoffMs": 20 });
    let wf = host.create_active(hook_workflow(&format!("{}/flaky", receiver.base), retry.clone())).await;

    receiver.script([Answer::json(500, json!({ "error": "busy" }))]);
    let run = host.trigger(&wf, json!({ "id": "1" })).await;
    let run = host.wait_for(&run, "COMPLETED", T).await;
    assert_eq!(trail(&run), pairs(&[("hook", "retrying"), ("hook", "completed"), ("keep", "completed")]));
    let seen = receiver.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].header("webhook-id"), seen[1].header("webhook-id"));
    assert_eq!(seen[0].header("idempotency-key"), seen[1].header("idempotency-key"));
    assert!(verify(&seen[1], SECRET_KEY));
    let first = run["logs"][0]["result"]["error"].as_str().unwrap();
    assert!(first.contains("answered HTTP 500"), "{first}");

    receiver.script([Answer::json(404, json!({ "error": "no such hook" }))]);
    let run = host.trigger(&wf, json!({ "id": "2" })).await;
    let run = host.wait_for(&run, "FAILED", T).await;
    assert_eq!(trail(&run), pairs(&[("hook", "failed")]));
    assert_eq!(receiver.seen().len(), 3);
    let error = last_error(&run);
    assert!(error.contains("answered HTTP 404") && error.contains("no such hook"), "{error}");
}
}

both_databases! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_outside_the_allow_list_is_refused() {
    let receiver = Receiver::start().await;
    let host = receiver_host(&[]);
    let wf = host
        .create_active(hook_workflow(&format!("{}/moved", receiver.base), json!({ "maxAttempts": 3 })))
        .await;
    receiver.script([Answer::redirect(&format!("http://127.0.0.2:{}/elsewhere", receiver.port))]);
    let run = host.trigger(&wf, json!({ "id": "1" })).await;
    let run = host.wait_for(&run, "FAILED", T).await;
    assert_eq!(trail(&run), pairs(&[("hook", "failed")]), "a refused destination is not retried");
    let error = last_error(&run);
    assert!(error.contains("destination 127.0.0.2 of `127.0.0.2` is a loopback address; refused"), "{error}");
    assert_eq!(receiver.seen().len(), 1);
}
}

both_databases! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_allow_list_loopback_is_refused_and_the_receiver_sees_nothing() {
    let receiver = Receiver::start().await;
    let host = Host::start();
    for (url, shown) in [
        (format!("{}/x", receiver.base), "destination 127.0.0.1 of `127.0.0.1` is a loopback address"),
        // A name goes through the checking resolver instead.
        (format!("http://localhost:{}/y", receiver.port), "of `localhost` is a loopback address"),
    ] {
        let wf = host.create_active(hook_workflow(&url, json!({ "maxAttempts": 2 }))).await;
        let run = host.trigger(&wf, json!({ "id": "1" })).await;
        let run = host.wait_for(&run, "FAILED", T).await;
        assert_eq!(trail(&run), pairs(&[("hook", "failed")]));
        let error = last_error(&run);
        assert!(error.contains(shown) && error.contains("WEFT_HTTP_ALLOW"), "{error}");
    }
    assert!(receiver.seen().is_empty(), "{:?}", receiver.seen());
}
}

both_databases! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_from_a_running_workflow_reaches_the_sse_stream() {
    let host = Host::start();
    let mut events = host.sse("/api/notifications/stream").await;
    let wf = host
        .create_active(json!({
            "name": "notify", "trigger": { "type": "manual" },
            "steps": [ { "id": "tell", "type": "notification", "config": {
                "title": "Deal {{ event.deal }} won", "body": "Worth {{ event.amount }}", "level": "success",
                "link": "/deals/{{ event.deal }}", "data": { "amount": "{{ event.amount }}" } } } ]
        }))
        .await;
    let run = host.trigger(&wf, json!({ "deal": "D-1", "amount": 1200 })).await;
    let (event, data) =
        tokio::time::timeout(T, events.recv()).await.expect("an SSE event").expect("stream open");
    assert_eq!(event, "notification");
    let n: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(n["title"], "Deal D-1 won");
    assert_eq!(n["body"], "Worth 1200");
    assert_eq!(n["level"], "success");
    assert_eq!(n["link"], "/deals/D-1");
    assert_eq!(n["data"], json!({ "amount": 1200 }));
    assert_eq!(n["workflowId"], wf.as_str());
    assert_eq!(n["runId"], run.as_str());
    assert_eq!(n["read"], false);
    let run = host.wait_for(&run, "COMPLETED", T).await;
    assert_eq!(run["context"]["steps"]["tell"]["notificationId"], n["id"]);

    // A client that reconnects after the first gets the ones it missed.
    let second = host.trigger(&wf, json!({ "deal": "D-2", "amount": 5 })).await;
    host.wait_for(&second, "COMPLETED", T).await;
    let mut resumed = host.sse_after("/api/notifications/stream", n["id"].as_str()).await;
    let (_, data) = tokio::time::timeout(T, resumed.recv()).await.expect("a replayed event").expect("open");
    let replayed: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(
        (replayed["title"].as_str(), replayed["runId"].as_str()),
        (Some("Deal D-2 won"), Some(second.as_str()))
    );
    assert!(tokio::time::timeout(Duration::from_millis(300), resumed.recv()).await.is_err(), "nothing else");

    let (status, page) = host.get("/api/notifications?unread=true").await;
    assert_eq!(status, 200);
    assert_eq!(page["total"], 2);
    assert_eq!(page["data"][1]["id"], n["id"]);
    let id = n["id"].as_str().unwrap();
    let (status, read) = host.post(&format!("/api/notifications/{id}/read"), json!({})).await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["read"], true);
    let (_, page) = host.get("/api/notifications?unread=true").await;
    assert_eq!(page["total"], 1);
    assert_eq!(page["data"][0]["title"], "Deal D-2 won");
    let (_, page) = host.get("/api/notifications?pageSize=1&page=2").await;
    assert_eq!((page["total"].as_i64(), page["data"][0]["id"].as_str()), (Some(2), n["id"].as_str()));
    let (status, _) = host.post("/api/notifications/nope/read", json!({})).await;
    assert_eq!(status, 404);
    let (status, body) = host.get("/api/notifications?unread=maybe").await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap().contains("`unread`"), "{body}");
}
}

both_databases! {
/// The whole scenario through the real binary, with a logged-in SMTP relay
/// and a signing secret, then a search for those secrets everywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_created_runs_email_wait_webhook_update_and_notification_end_to_end() {
    let smtp = SmtpSink::start_with_login(Some(("weft", SMTP_PASSWORD)));
    let receiver = Receiver::start().await;
    let mut vars = smtp.env();
    vars.extend(env(&[
        ("WEFT_SMTP_USER", "weft".into()),
        ("WEFT_SMTP_PASSWORD", SMTP_PASSWORD.into()),
        ("WEFT_HTTP_ALLOW", "127.0.0.1".into()),
        ("WEFT_WEBHOOK_SECRET", webhook_secret()),
        ("RUST_LOG", "weft=debug,info".into()),
    ]));
    let host = Host::start_with(Options { env: vars, ..Options::default() });
    let mut events = host.sse("/api/notifications/stream").await;
    let (status, body) = host.post("/api/email-templates", welcome_template()).await;
    assert_eq!(status, 201, "{body}");
    let wf = host
        .create_active(json!({
            "name": "Onboarding",
            "trigger": { "type": "event", "config": { "event": "contact.created" } },
            "steps": [
                { "id": "has-email", "type": "condition",
                  "config": { "if": "{{ event.email is defined }}", "then": "send", "else": "skip" } },
                { "id": "send", "type": "email",
                  "config": { "templateSlug": "welcome", "to": "{{ event.email }}", "data": { "name": "{{ event.name }}" } } },
                { "id": "pause", "type": "wait", "config": { "duration": "1s" } },
                { "id": "crm", "type": "webhook",
                  "config": { "url": format!("{}/contacts", receiver.base), "body": { "id": "{{ event.id }}", "email": "{{ event.email }}" } } },
                { "id": "mark", "type": "update-field", "config": { "set": { "crmId": "{{ steps.crm.body.crmId }}", "status": "welcomed" } } },
                { "id": "tell", "type": "notification",
                  "config": { "title": "{{ event.name }} joined", "level": "success" }, "next": "end" },
                { "id": "skip", "type": "update-field", "config": { "set": { "status": "no-email" } } }
            ]
        }))
        .await;
    let event = json!({ "type": "contact.created", "data": { "id": "c-1", "name": "Grace", "email": "grace@example.test", "plan": "team" } });
    let (status, body) = host.post("/api/events", event).await;
    assert_eq!(status, 202, "{body}");
    let run_id = body["runs"][0]["id"].as_str().unwrap().to_owned();
    let run = host.wait_for(&run_id, "COMPLETED", T).await;

    assert_eq!(
        trail(&run),
        pairs(&[
            ("has-email", "branched"),
            ("send", "completed"),
            ("pause", "slept"),
            ("crm", "completed"),
            ("mark", "completed"),
            ("tell", "completed"),
        ])
    );
    assert_eq!(run["context"]["vars"], json!({ "crmId": "crm-42", "status": "welcomed" }));

    let mail = smtp.next_message(T).expect("the welcome email");
    assert_eq!(mail["rcptTos"], json!(["grace@example.test"]));
    assert_eq!(mail["subject"], "Welcome, Grace!");
    assert_eq!(mail["text"].as_str().map(str::trim_end), Some("Hi Grace, your plan is team."));
    assert_eq!(mail["html"].as_str().map(str::trim_end), Some("<p>Hi <b>Grace</b>, plan team</p>"));
    assert!(smtp.next_message(Duration::from_millis(200)).is_none(), "exactly one email");

    let seen = receiver.seen();
    assert_eq!(seen.len(), 1, "exactly one webhook");
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].uri, "/contacts");
    assert_eq!(
        serde_json::from_slice::<Value>(&seen[0].body).unwrap(),
        json!({ "id": "c-1", "email": "grace@example.test" })
    );
    assert_eq!(seen[0].header("idempotency-key"), Some(format!("{run_id}/crm/1").as_str()));
    assert!(verify(&seen[0], SECRET_KEY));

    let (kind, data) = tokio::time::timeout(T, events.recv()).await.expect("an SSE event").expect("open");
    assert_eq!(kind, "notification");
    let n: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(n["title"], "Grace joined");
    assert_eq!((n["runId"].as_str(), n["workflowId"].as_str()), (Some(run_id.as_str()), Some(wf.as_str())));
    assert!(
        tokio::time::timeout(Duration::from_millis(300), events.recv()).await.is_err(),
        "exactly one notification"
    );

    // No secret anywhere: run logs, API responses, stdout, stderr.
    let mut outputs = vec![run.to_string()];
    let mut paths: Vec<String> = [
        "/api/workflow-runs",
        "/api/workflows",
        "/api/workflow-stats?since=2000-01-01T00:00:00Z",
        "/api/notifications",
        "/api/plugins",
        "/api/plugins/webhook",
        "/api/step-types",
        "/api/email-templates",
        "/api/email-templates/welcome",
        "/api/tokens",
        "/api/secrets",
        "/api/audit",
        "/api/health",
        "/healthz",
    ]
    .map(str::to_owned)
    .into();
    paths.push(format!("/api/workflows/{wf}"));
    paths.push(format!("/api/workflow-runs/{run_id}"));
    for log in run["logs"].as_array().into_iter().flatten() {
        paths.push(format!("/api/workflow-runs/{run_id}/logs/{}", log["id"].as_str().unwrap()));
    }
    for path in &paths {
        let (status, body) = host.get(path).await;
        assert_eq!(status, 200, "{path} is a real endpoint: {body}");
        outputs.push(body.to_string());
    }
    outputs.extend(host.stdout());
    outputs.extend(host.stderr());
    let everything = outputs.join("\n");
    assert!(everything.contains("grace@example.test"), "the search covers the run's data");
    for secret in [SMTP_PASSWORD, SECRET_KEY, &webhook_secret()] {
        assert!(!everything.contains(secret), "secret {secret:?} leaked");
    }
}
}
