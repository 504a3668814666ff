//! Trust boundaries: secrets as handles (the value reaches only an allowed
//! host, never the run, the plugin or the log), inbound webhooks verified by
//! a secret, the audit log, and a host that refuses another database's key.

use std::time::Duration;

use serde_json::{Value, json};
use weft_tests::both_databases;
use weft_tests::receiver::{Answer, Receiver};
use weft_tests::{Host, Options, weft_bin};

const VALUE: &str = "tok-9f3e1c7a5b2d4e6f";

fn host_with_http() -> Host {
    Host::start_with(Options {
        env: vec![("WEFT_HTTP_ALLOW".into(), "127.0.0.1".into())],
        ..Options::default()
    })
}

fn call_workflow(url: &str) -> Value {
    json!({
        "name": "call", "trigger": { "type": "manual" },
        "steps": [ { "id": "hook", "type": "webhook", "config": {
            "url": url,
            "headers": { "Authorization": "Bearer {{ secrets.API_TOKEN }}" },
            "body": { "token": "{{ secrets.API_TOKEN }}", "id": "{{ event.id }}" } } } ]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_reaches_only_its_allowed_host_and_never_the_run() {
    let receiver = Receiver::start().await;
    let host = host_with_http();
    let (status, set) =
        host.put("/api/secrets/API_TOKEN", json!({ "value": VALUE, "allowedHosts": ["127.0.0.1"] })).await;
    assert_eq!(status, 201, "{set}");
    assert!(!set.to_string().contains(VALUE), "{set}");

    // The receiver echoes the token back: the step output holds it redacted.
    receiver.script([Answer::json(200, json!({ "echo": VALUE }))]);
    let wf = host.create_active(call_workflow(&format!("{}/in", receiver.base))).await;
    let run = host.trigger(&wf, json!({ "id": "c-1" })).await;
    let run = host.wait_for(&run, "COMPLETED", Duration::from_secs(20)).await;
    let seen = receiver.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("authorization"), Some(format!("Bearer {VALUE}").as_str()));
    let body: Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(body, json!({ "token": VALUE, "id": "c-1" }));
    assert_eq!(run["logs"][0]["result"]["output"]["body"]["echo"], "[secret API_TOKEN]", "{run}");

    // Nowhere in what the API shows, nor in what the host printed, nor in
    // the database but sealed.
    for path in
        ["/api/secrets", &format!("/api/workflow-runs/{}", run["id"].as_str().unwrap()), "/api/workflows"]
    {
        let (_, shown) = host.get(path).await;
        assert!(!shown.to_string().contains(VALUE), "{path}: {shown}");
    }
    let (_, list) = host.get("/api/secrets").await;
    assert_eq!(list["data"][0]["name"], "API_TOKEN");
    assert_eq!(list["data"][0]["usedBy"][0]["id"], wf.as_str());
    assert!(list["data"][0].get("value").is_none());
    let context = host.sql_value("SELECT group_concat(context) FROM workflow_runs").await.unwrap_or_default();
    let logs = host.sql_value("SELECT group_concat(result) FROM workflow_run_logs").await.unwrap_or_default();
    assert!(!context.contains(VALUE) && !logs.contains(VALUE));
    assert!(!host.stdout().join("\n").contains(VALUE) && !host.stderr().join("\n").contains(VALUE));

    // Toward a host the secret does not allow, the call fails naming it, and
    // nothing is sent.
    let (status, _) = host
        .put("/api/secrets/API_TOKEN", json!({ "value": VALUE, "allowedHosts": ["api.example.com"] }))
        .await;
    assert_eq!(status, 200);
    let run = host.trigger(&wf, json!({ "id": "c-2" })).await;
    let run = host.wait_for(&run, "FAILED", Duration::from_secs(20)).await;
    let error = run["error"].as_str().unwrap_or_default();
    assert!(error.contains("secret `API_TOKEN` may not be sent to `127.0.0.1`"), "{error}");
    assert_eq!(receiver.seen().len(), 1);

    // A secret that is not set fails the step by name.
    let wf = host
        .create_active(json!({
            "name": "missing", "trigger": { "type": "manual" },
            "steps": [ { "id": "hook", "type": "webhook", "config": {
                "url": format!("{}/in", receiver.base), "headers": { "x-key": "{{ secrets.NOPE }}" } } } ]
        }))
        .await;
    let run = host.trigger(&wf, json!({})).await;
    let run = host.wait_for(&run, "FAILED", Duration::from_secs(20)).await;
    assert!(run["error"].as_str().unwrap_or_default().contains("secret `NOPE`, which is not set"), "{run}");

    // Bad input names the field.
    let (status, body) = host.put("/api/secrets/1bad", json!({ "value": "x" })).await;
    assert_eq!((status, body["error"]["details"][0]["field"].as_str()), (422, Some("name")), "{body}");
    let (status, body) =
        host.put("/api/secrets/OK", json!({ "value": "x", "allowedHosts": ["https://a.b"] })).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("allowedHosts[0]"), "{body}");

    // Who did it is in the audit log.
    let (status, audit) = host.get("/api/audit").await;
    assert_eq!(status, 200);
    let actions: Vec<&str> =
        audit["data"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"secret.set") && actions.contains(&"workflow.created"), "{audit}");
    assert!(!audit.to_string().contains(VALUE));
}

both_databases! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbound_webhook_starts_a_run_only_when_verified_and_answers_with_its_result() {
    let host = Host::start();
    let (status, _) = host.put("/api/secrets/HOOK_TOKEN", json!({ "value": "hook-s3cret-value" })).await;
    assert_eq!(status, 201);
    let (status, created) = host
        .post(
            "/api/workflows",
            json!({
                "name": "inbound",
                "trigger": { "type": "webhook", "config": {
                    "verify": { "type": "bearer", "secret": "{{ secrets.HOOK_TOKEN }}" }, "respond": "when-done" } },
                "steps": [ { "id": "answer", "type": "update-field", "config": { "set": {
                    "response": { "status": 201, "headers": { "x-order": "{{ event.body.order }}",
                                  "set-cookie": "weft_session=forged", "content-security-policy": "default-src *" },
                                  "body": { "got": "{{ event.body.order }}", "q": "{{ event.query.src }}" } } } } } ]
            }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let path = created["hook"]["path"].as_str().expect("a hook path").to_owned();
    assert!(path.len() > "/hooks/".len() + 30, "{path}");
    let (status, _) = host.put(&format!("/api/workflows/{id}/activate"), json!({})).await;
    assert_eq!(status, 200);

    let url = format!("{}{path}?src=shop", host.base);
    let send = |token: Option<&str>, key: &str| {
        let mut req = host
            .client()
            .post(&url)
            .header("content-type", "application/json")
            .header("idempotency-key", key)
            .body(r#"{"order": 42}"#);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send()
    };
    let resp = send(None, "d-1").await.unwrap();
    assert_eq!(resp.status(), 401);
    let resp = send(Some("wrong"), "d-1").await.unwrap();
    assert_eq!(resp.status(), 401);
    let (_, runs) = host.get(&format!("/api/workflow-runs?workflowId={id}")).await;
    assert_eq!(runs["total"], 0, "a request that fails verification starts nothing");

    let resp = send(Some("hook-s3cret-value"), "d-1").await.unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["x-order"], "42");
    // Shaped by the workflow, on the UI's origin: no cookie, and sandboxed.
    assert!(resp.headers().get("set-cookie").is_none(), "{:?}", resp.headers());
    assert_eq!(resp.headers()["content-security-policy"], "sandbox; default-src 'none'");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body, json!({ "got": 42, "q": "shop" }));

    // A redelivery starts no second run.
    let resp = send(Some("hook-s3cret-value"), "d-1").await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["replayed"], true);
    let (_, runs) = host.get(&format!("/api/workflow-runs?workflowId={id}")).await;
    assert_eq!(runs["total"], 1);

    // The event holds the request without its credentials.
    let (_, run) = host.get(&format!("/api/workflow-runs/{}", runs["data"][0]["id"].as_str().unwrap())).await;
    let event = &run["context"]["event"];
    assert_eq!(event["body"], json!({ "order": 42 }), "{run}");
    assert!(event["headers"].get("authorization").is_none(), "{event}");
    assert!(!run.to_string().contains("hook-s3cret-value"));

    // An unknown hook is a 404; a literal secret in a trigger is refused.
    let resp = host.client().post(format!("{}/hooks/nope", host.base)).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    let (status, body) = host
        .post(
            "/api/workflows",
            json!({ "name": "bad", "trigger": { "type": "webhook", "config": {
                "verify": { "type": "bearer", "secret": "plain-text" } } }, "steps": [] }),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("trigger.config.verify.secret"), "{body}");
}
}

#[tokio::test]
async fn a_host_refuses_to_start_with_another_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/weft.db", dir.path().display());
    let start = |key: &str| {
        let mut child = std::process::Command::new(weft_bin())
            .args(["serve", "--addr", "127.0.0.1:0", "--database-url", &db])
            .env("WEFT_SECRET_KEY", key)
            .env("WEFT_ADMIN_TOKEN", "t")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_secs(3));
        let exited = child.try_wait().unwrap();
        if exited.is_none() {
            child.kill().unwrap();
        }
        let out = child.wait_with_output().unwrap();
        (exited, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let first = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let (exited, _) = start(first);
    assert!(exited.is_none(), "the first key is taken");
    let (exited, stderr) = start("ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=");
    assert!(exited.is_some_and(|s| !s.success()), "{stderr}");
    assert!(stderr.contains("the secret key does not match this database"), "{stderr}");
}

/// Every byte of the database files: a value found there is stored unsealed.
fn database_bytes(host: &Host) -> Vec<u8> {
    let mut all = Vec::new();
    for name in ["weft.db", "weft.db-wal"] {
        all.extend(std::fs::read(host.dir.path().join(name)).unwrap_or_default());
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_plugin_that_dumps_everything_it_can_see_finds_no_secret_value() {
    let receiver = Receiver::start().await;
    let host = host_with_http();
    let (status, _) = host
        .put("/api/secrets/API_TOKEN", json!({ "value": VALUE, "allowedHosts": ["api.example.com"] }))
        .await;
    assert_eq!(status, 201);
    let template = json!({ "slug": "leak", "subject": "s", "text": "secret: {{ secret }}" });
    assert_eq!(host.post("/api/email-templates", template).await.0, 201);
    let (status, body) = host
        .install(
            std::fs::read(weft_tests::plugin_wasm("hostile")).unwrap(),
            "?grant=http&grant=kv&grant=email",
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let dump = |fail: bool| {
        json!({
            "name": format!("dump {fail}"), "trigger": { "type": "manual" },
            "steps": [ { "id": "dump", "type": "hostile", "config": {
                "mode": "dump", "secret": "{{ secrets.API_TOKEN }}", "template": "leak", "fail": fail,
                "exfiltrate": format!("{}/steal", receiver.base) } } ]
        })
    };

    let wf = host.create_active(dump(false)).await;
    let run = host.trigger(&wf, json!({ "note": "an ordinary event" })).await;
    let run = host.wait_for(&run, "COMPLETED", Duration::from_secs(20)).await;
    let output = &run["logs"][0]["result"]["output"];
    // The plugin saw a handle, and the rendered email kept it.
    let handle = output["dump"]["secret"].as_str().unwrap();
    assert!(handle.starts_with("weft-secret-API_TOKEN-"), "{output}");
    assert!(output["dump"]["email"]["text"].as_str().unwrap().contains(handle), "{output}");
    assert_eq!(output["dump"]["context"]["event"]["note"], "an ordinary event");
    // Sending the handle to its own server fails naming the secret; without
    // it, the server gets the dump.
    let refused = output["withSecret"]["error"].as_str().unwrap_or_default();
    assert!(refused.contains("secret `API_TOKEN` may not be sent to `127.0.0.1`"), "{output}");
    assert_eq!(output["without"], 200, "{output}");

    let wf = host.create_active(dump(true)).await;
    let failed = host.trigger(&wf, json!({})).await;
    let failed = host.wait_for(&failed, "FAILED", Duration::from_secs(20)).await;
    assert!(failed["error"].as_str().unwrap_or_default().contains("dump:"), "{failed}");

    let seen = receiver.seen();
    assert_eq!(seen.len(), 2, "one dump from each run, both without the handle");
    for request in &seen {
        assert!(!contains(&request.body, VALUE) && !contains(&request.body, "weft-secret-"));
        assert_eq!(request.header("x-dump"), Some("-"));
    }
    for shown in [&run, &failed] {
        assert!(!shown.to_string().contains(VALUE), "{shown}");
    }
    assert!(!host.stdout().join("\n").contains(VALUE) && !host.stderr().join("\n").contains(VALUE));
    assert!(!contains(&database_bytes(&host), VALUE), "the value is stored only sealed");
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

async fn hook_workflow(host: &Host, name: &str, verify: Value) -> String {
    let (status, created) = host
        .post(
            "/api/workflows",
            json!({ "name": name, "trigger": { "type": "webhook", "config": { "verify": verify } },
                    "steps": [ { "id": "note", "type": "update-field", "config": { "set": { "got": "{{ event.body }}" } } } ] }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    assert_eq!(host.put(&format!("/api/workflows/{id}/activate"), json!({})).await.0, 200);
    format!("{}{}", host.base, created["hook"]["path"].as_str().unwrap())
}

async fn runs_of_hooks(host: &Host) -> u64 {
    host.sql_value("SELECT CAST(count(*) AS TEXT) FROM workflow_runs").await.unwrap().parse().unwrap()
}

both_databases! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_hooks_verify_standard_webhooks_and_hmac_signatures_and_weft_signs_what_weft_verifies() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let host = host_with_http();
    let key = b"a-signing-key-of-32-bytes-length";
    let whsec = format!("whsec_{}", b64.encode(key));
    for (name, value) in [("SIGNING", whsec.as_str()), ("GITHUB", "It's a Secret to Everybody")] {
        let (status, _) = host
            .put(&format!("/api/secrets/{name}"), json!({ "value": value, "allowedHosts": ["127.0.0.1"] }))
            .await;
        assert_eq!(status, 201);
    }
    let standard = hook_workflow(
        &host,
        "standard",
        json!({ "type": "standard-webhooks", "secret": "{{ secrets.SIGNING }}" }),
    )
    .await;
    let github = hook_workflow(
        &host,
        "github",
        json!({ "type": "hmac-sha256", "secret": "{{ secrets.GITHUB }}", "header": "X-Signature" }),
    )
    .await;

    // Standard Webhooks: a good signature starts a run (202 with its id); a
    // bad one, an old timestamp or a missing header start nothing.
    let body = br#"{"order":7}"#;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let sign = |id: &str, ts: u64| {
        format!(
            "v1,{}",
            b64.encode(hmac_sha256(key, &[id.as_bytes(), b".", ts.to_string().as_bytes(), b".", body]))
        )
    };
    let send = |url: String, headers: Vec<(&'static str, String)>| {
        let mut req = host.client().post(url).header("content-type", "application/json").body(body.to_vec());
        for (name, value) in headers {
            req = req.header(name, value);
        }
        async move { req.send().await.unwrap() }
    };
    let standard_headers = |id: &str, ts: u64, sig: String| {
        vec![("webhook-id", id.to_owned()), ("webhook-timestamp", ts.to_string()), ("webhook-signature", sig)]
    };
    for (id, ts, sig) in [
        ("msg-1", now, sign("msg-1", now + 1)),
        ("msg-1", now - 3600, sign("msg-1", now - 3600)),
        ("msg-1", now, format!("v1,{}", b64.encode([0u8; 32]))),
    ] {
        let resp = send(standard.clone(), standard_headers(id, ts, sig)).await;
        assert_eq!(resp.status(), 401);
    }
    assert_eq!(send(standard.clone(), vec![]).await.status(), 401);
    assert_eq!(runs_of_hooks(&host).await, 0, "nothing verified, nothing started");
    let resp = send(standard.clone(), standard_headers("msg-1", now, sign("msg-1", now))).await;
    assert_eq!(resp.status(), 202);
    let accepted: Value = resp.json().await.unwrap();
    let run = host.wait_for(accepted["id"].as_str().unwrap(), "COMPLETED", Duration::from_secs(20)).await;
    assert_eq!(run["context"]["vars"]["got"], json!({ "order": 7 }), "{run}");
    // The same delivery again: verified, and no second run.
    let resp = send(standard.clone(), standard_headers("msg-1", now, sign("msg-1", now))).await;
    assert!(resp.status().is_success());
    assert_eq!(runs_of_hooks(&host).await, 1);

    // HMAC-SHA256 of the body in a named header (GitHub's style).
    let good = format!("sha256={}", hex_of(&hmac_sha256(b"It's a Secret to Everybody", &[body])));
    assert_eq!(send(github.clone(), vec![("x-signature", "sha256=00".into())]).await.status(), 401);
    assert_eq!(send(github.clone(), vec![("x-hub-signature-256", good.clone())]).await.status(), 401);
    let resp = send(github.clone(), vec![("x-signature", good)]).await;
    assert_eq!(resp.status(), 202);
    let accepted: Value = resp.json().await.unwrap();
    let run = host.wait_for(accepted["id"].as_str().unwrap(), "COMPLETED", Duration::from_secs(20)).await;
    assert!(run["context"]["event"]["headers"].get("x-signature").is_none(), "{run}");

    // Weft's webhook step, signing with the same secret through its handle,
    // is verified by Weft's own hook.
    let caller = host
        .create_active(json!({
            "name": "caller", "trigger": { "type": "manual" },
            "steps": [ { "id": "call", "type": "webhook", "config": {
                "url": standard, "secret": "{{ secrets.SIGNING }}", "body": { "order": 8 } } } ]
        }))
        .await;
    let (status, called) = host.post(&format!("/api/workflows/{caller}/trigger?wait=20000"), json!({})).await;
    assert_eq!((status, &called["status"]), (200, &json!("COMPLETED")), "{called}");
    let output = &called["logs"][0]["result"]["output"];
    assert_eq!(output["status"], 202, "{output}");
    let started = output["body"]["id"].as_str().unwrap();
    let run = host.wait_for(started, "COMPLETED", Duration::from_secs(20)).await;
    assert_eq!(run["context"]["vars"]["got"], json!({ "order": 8 }), "{run}");
    assert!(!called.to_string().contains(&whsec));
}
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_opens_every_secret_and_smtp_takes_its_password_from_the_store() {
    const PASSWORD: &str = "smtp-pw-5e1d7c9a";
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let mut first = Host::start_in(dir.clone(), &Options::default());
    let (status, _) = first
        .put("/api/secrets/SMTP_PASS", json!({ "value": PASSWORD, "allowedHosts": ["127.0.0.1"] }))
        .await;
    assert_eq!(status, 201);
    let (_, before) = first.get("/api/secrets").await;
    first.terminate();

    let key_file = dir.path().join("weft.db.secret-key");
    let old_key = std::fs::read(&key_file).unwrap();
    let rotated = std::process::Command::new(weft_bin())
        .args(["secret", "rotate-key", "--database-url"])
        .arg(format!("sqlite://{}", dir.path().join("weft.db").display()))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&rotated.stdout);
    assert!(rotated.status.success(), "{said} {}", String::from_utf8_lossy(&rotated.stderr));
    assert!(said.contains("re-sealed 1 secrets"), "{said}");
    assert_ne!(std::fs::read(&key_file).unwrap(), old_key, "the key file holds the new key");

    // The host starts on the new key and logs in to SMTP with the stored password.
    let smtp = weft_tests::smtp::SmtpSink::start_with_login(Some(("weft", PASSWORD)));
    let mut env = smtp.env();
    env.push(("WEFT_SMTP_USER".into(), "weft".into()));
    env.push(("WEFT_SMTP_PASSWORD_SECRET".into(), "SMTP_PASS".into()));
    let host = Host::start_in(dir, &Options { env, ..Options::default() });
    let (_, after) = host.get("/api/secrets").await;
    assert_ne!(before["keyFingerprint"], after["keyFingerprint"], "{before} {after}");
    let wf = host
        .create_active(json!({
            "name": "mail", "trigger": { "type": "manual" },
            "steps": [ { "id": "send", "type": "email",
                         "config": { "to": "ada@example.test", "subject": "Hi", "text": "Body" } } ]
        }))
        .await;
    let (status, run) = host.post(&format!("/api/workflows/{wf}/trigger?wait=20000"), json!({})).await;
    assert_eq!((status, &run["status"]), (200, &json!("COMPLETED")), "{run}");
    let message = smtp.next_message(Duration::from_secs(10)).expect("the SMTP server got the message");
    assert!(message.to_string().contains("ada@example.test"), "{message}");
    assert!(!host.stderr().join("\n").contains(PASSWORD));
}
