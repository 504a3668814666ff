//! Steps that wait for the outside, through the real binary: `wait-for-event`
//! (correlated delivery by `POST /api/events`, timeouts, an event before the
//! wait) and `approval` (the inbox, approve and reject with who and why,
//! roles, timeouts), on both databases.

use std::time::Duration;

use serde_json::{Value, json};
use weft_tests::{Host, both_databases};

const T: Duration = Duration::from_secs(20);

/// A workflow that waits for `order.paid` of its own order, then records it.
async fn order_workflow(host: &Host, timeout: &str) -> String {
    host.create_active(json!({
        "name": "Order", "trigger": { "type": "manual" },
        "steps": [
            { "id": "note", "type": "update-field", "config": { "set": { "orderId": "{{ event.orderId }}" } } },
            { "id": "paid", "type": "wait-for-event",
              "config": { "event": "order.paid", "correlate": { "key": "{{ vars.orderId }}", "eventPath": "order.id" },
                          "timeout": timeout, "onTimeout": "remind" } },
            { "id": "ship", "type": "update-field", "config": { "set": { "amount": "{{ steps.paid.amount }}" } }, "next": "end" },
            { "id": "remind", "type": "update-field", "config": { "set": { "reminded": true } } }
        ]
    }))
    .await
}

async fn send(host: &Host, event: Value) -> Value {
    let (status, body) = host.post("/api/events", event).await;
    assert_eq!(status, 202, "{body}");
    body
}

fn delivered_runs(answer: &Value) -> Vec<String> {
    let mut runs: Vec<String> = answer["delivered"]
        .as_array()
        .expect("delivered")
        .iter()
        .map(|d| d["runId"].as_str().expect("runId").to_owned())
        .collect();
    runs.sort();
    runs
}

both_databases! {
#[tokio::test]
async fn an_event_reaches_only_the_run_whose_key_it_carries() {
    let host = Host::start();
    let (status, body) = host
        .post("/api/workflows", json!({ "name": "Bad", "trigger": { "type": "manual" }, "steps": [
            { "id": "w", "type": "wait-for-event", "config": { "event": "x", "correlate": { "key": "k", "eventPath": "a..b" }, "onTimeout": "nowhere" } }
        ] }))
        .await;
    assert_eq!(status, 422, "{body}");
    let fields: Vec<&str> = body["error"]["details"].as_array().expect("details").iter().filter_map(|d| d["field"].as_str()).collect();
    assert!(fields.contains(&"config.correlate.eventPath") && fields.contains(&"config.onTimeout"), "{body}");

    let workflow = order_workflow(&host, "1h").await;
    // Sent before run 3 waits: never delivered to it.
    let early = send(&host, json!({ "type": "order.paid", "data": { "order": { "id": 3 } } })).await;
    assert_eq!(early["delivered"], json!([]), "{early}");
    let one = host.trigger(&workflow, json!({ "orderId": 1 })).await;
    let two = host.trigger(&workflow, json!({ "orderId": 2 })).await;
    let three = host.trigger(&workflow, json!({ "orderId": 3 })).await;
    for run in [&one, &two, &three] {
        let waiting = host.wait_for(run, "WAITING", T).await;
        assert_eq!(waiting["currentStep"], "paid");
    }
    // A listener of the same event starts beside the delivery, in one answer.
    let listener = host
        .create_active(json!({ "name": "Ledger", "trigger": { "type": "event", "config": { "event": "order.paid" } },
            "steps": [{ "id": "log", "type": "update-field", "config": { "set": { "seen": "{{ event.order.id }}" } } }] }))
        .await;
    // The key rendered from a number matches the event's string.
    let answer = send(&host, json!({ "type": "order.paid", "data": { "order": { "id": "2" }, "amount": 30 } })).await;
    assert_eq!(delivered_runs(&answer), vec![two.clone()], "{answer}");
    assert_eq!(answer["delivered"][0]["step"], "paid");
    assert_eq!(answer["runs"][0]["workflowId"], listener, "{answer}");
    let done = host.wait_for(&two, "COMPLETED", T).await;
    assert_eq!(done["context"]["steps"]["paid"], json!({ "order": { "id": "2" }, "amount": 30 }), "{done:#}");
    assert_eq!(done["context"]["vars"]["amount"], 30);
    // Delivered once: the same event again reaches nobody.
    let again = send(&host, json!({ "type": "order.paid", "data": { "order": { "id": 2 } } })).await;
    assert_eq!(again["delivered"], json!([]), "{again}");
    // The others still wait; run 3 missed its early event.
    for run in [&one, &three] {
        let (_, shown) = host.get(&format!("/api/workflow-runs/{run}")).await;
        assert_eq!(shown["status"], "WAITING", "{shown:#}");
    }
    // A cancelled run leaves no wait behind.
    let (status, _) = host.post(&format!("/api/workflow-runs/{three}/cancel"), json!({})).await;
    assert_eq!(status, 200);
    let late = send(&host, json!({ "type": "order.paid", "data": { "order": { "id": 3 } } })).await;
    assert_eq!(late["delivered"], json!([]), "{late}");
    let first = send(&host, json!({ "type": "order.paid", "data": { "order": { "id": 1 }, "amount": 5 } })).await;
    assert_eq!(delivered_runs(&first), vec![one.clone()]);
    host.wait_for(&one, "COMPLETED", T).await;
}

#[tokio::test]
async fn a_wait_times_out_to_its_branch_or_fails() {
    let host = Host::start();
    let workflow = order_workflow(&host, "1s").await;
    let run = host.trigger(&workflow, json!({ "orderId": 9 })).await;
    let done = host.wait_for(&run, "COMPLETED", T).await;
    assert_eq!(done["context"]["steps"]["paid"], json!({ "timedOut": true }), "{done:#}");
    assert_eq!(done["context"]["vars"]["reminded"], true);
    let late = send(&host, json!({ "type": "order.paid", "data": { "order": { "id": 9 } } })).await;
    assert_eq!(late["delivered"], json!([]));

    let strict = host
        .create_active(json!({ "name": "Strict", "trigger": { "type": "manual" },
            "steps": [{ "id": "paid", "type": "wait-for-event",
                        "config": { "event": "order.paid", "correlate": { "key": "{{ event.id }}", "eventPath": "id" }, "timeout": "1s" } }] }))
        .await;
    let run = host.trigger(&strict, json!({ "id": "a-1" })).await;
    let failed = host.wait_for(&run, "FAILED", T).await;
    assert_eq!(failed["error"], "step `paid`: no `order.paid` event with id = \"a-1\" came within 1s", "{failed:#}");
    // A key that renders to nothing fails the step, naming the field.
    let run = host.trigger(&strict, json!({})).await;
    let failed = host.wait_for(&run, "FAILED", T).await;
    assert!(failed["error"].as_str().expect("error").contains("`correlate.key`"), "{failed:#}");
}

#[tokio::test]
async fn an_approval_waits_in_the_inbox_for_an_operator() {
    let host = Host::start();
    let workflow = host
        .create_active(json!({ "name": "Refunds", "trigger": { "type": "manual" },
            "steps": [
                { "id": "ask", "type": "approval", "config": { "message": "Refund {{ event.amount }} EUR?", "onReject": "refused" } },
                { "id": "pay", "type": "update-field", "config": { "set": { "paid": true } }, "next": "end" },
                { "id": "refused", "type": "update-field", "config": { "set": { "paid": false } } }
            ] }))
        .await;
    let yes = host.trigger(&workflow, json!({ "amount": 40 })).await;
    let no = host.trigger(&workflow, json!({ "amount": 900 })).await;
    host.wait_for(&yes, "WAITING", T).await;
    host.wait_for(&no, "WAITING", T).await;
    for bad in ["0", "501", "9223372036854775808", "many"] {
        let (status, body) = host.get(&format!("/api/approvals?limit={bad}")).await;
        assert_eq!(status, 422, "{body}");
        assert!(body["error"]["message"].as_str().unwrap_or("").contains("`limit`"), "{body}");
    }
    let (status, inbox) = host.get("/api/approvals").await;
    assert_eq!(status, 200, "{inbox}");
    let listed: Vec<(&str, &str)> = inbox["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|a| (a["runId"].as_str().unwrap_or(""), a["message"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(listed, [(yes.as_str(), "Refund 40 EUR?"), (no.as_str(), "Refund 900 EUR?")]);
    assert_eq!(inbox["data"][0]["workflowName"], "Refunds");

    // A viewer may read the inbox, not decide.
    let (_, viewer) = host.post("/api/tokens", json!({ "name": "auditor", "role": "viewer" })).await;
    let viewer = viewer["token"].as_str().expect("token").to_owned();
    let (status, _) = host.call_with("POST", &format!("/api/workflow-runs/{yes}/approve"), None, Some(&viewer)).await;
    assert_eq!(status, 403);
    let (_, operator) = host.post("/api/tokens", json!({ "name": "dana", "role": "operator" })).await;
    let operator = operator["token"].as_str().expect("token").to_owned();
    let body = json!({ "comment": "within budget" }).to_string().into_bytes();
    let (status, decided) =
        host.call_with("POST", &format!("/api/workflow-runs/{yes}/approve"), Some(body), Some(&operator)).await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!((decided["decision"].as_str(), decided["by"].as_str()), (Some("approved"), Some("dana")));
    let done = host.wait_for(&yes, "COMPLETED", T).await;
    let output = &done["context"]["steps"]["ask"];
    assert_eq!((output["decision"].as_str(), output["by"].as_str()), (Some("approved"), Some("dana")), "{done:#}");
    assert_eq!(output["comment"], "within budget");
    assert_eq!(done["context"]["vars"]["paid"], true);
    // Decided once.
    let (status, body) = host.post(&format!("/api/workflow-runs/{yes}/approve"), json!({})).await;
    assert_eq!(status, 409, "{body}");
    let (status, _) = host.post("/api/workflow-runs/no-such-run/approve", json!({})).await;
    assert_eq!(status, 404);
    let long = "x".repeat(5_000);
    let (status, body) = host.post(&format!("/api/workflow-runs/{no}/reject"), json!({ "comment": long })).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or("").contains("`comment`"), "{body}");

    let (status, _) = host.post(&format!("/api/workflow-runs/{no}/reject"), json!({ "comment": "too much" })).await;
    assert_eq!(status, 200);
    let refused = host.wait_for(&no, "COMPLETED", T).await;
    assert_eq!(refused["context"]["steps"]["ask"]["decision"], "rejected");
    assert_eq!(refused["context"]["vars"]["paid"], false);
    let (_, inbox) = host.get("/api/approvals").await;
    assert_eq!(inbox["data"], json!([]));
    let (_, audit) = host.get("/api/audit").await;
    let actions: Vec<&str> = audit["data"].as_array().expect("audit").iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"run.approved") && actions.contains(&"run.rejected"), "{actions:?}");
}

#[tokio::test]
async fn a_rejection_without_its_branch_fails_and_an_approval_can_time_out() {
    let host = Host::start();
    let workflow = host
        .create_active(json!({ "name": "Gate", "trigger": { "type": "manual" },
            "steps": [{ "id": "ask", "type": "approval", "config": {} }] }))
        .await;
    let run = host.trigger(&workflow, json!({})).await;
    host.wait_for(&run, "WAITING", T).await;
    let weft = |args: &[&str]| {
        let out = std::process::Command::new(weft_tests::weft_bin())
            .args(["--server", &host.base, "--token", weft_tests::TOKEN, "run"])
            .args(args)
            .output()
            .expect("weft run");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let listed = weft(&["approvals"]);
    assert!(listed.contains(&run) && listed.contains("Gate"), "{listed}");
    let said = weft(&["reject", &run, "--comment", "no way"]);
    assert!(said.contains("rejected at step ask"), "{said}");
    let failed = host.wait_for(&run, "FAILED", T).await;
    assert_eq!(failed["error"], "step `ask`: rejected by admin (--admin-token): no way", "{failed:#}");

    let timed = host
        .create_active(json!({ "name": "Timed", "trigger": { "type": "manual" },
            "steps": [{ "id": "ask", "type": "approval", "config": { "timeout": "1s" } }] }))
        .await;
    let run = host.trigger(&timed, json!({})).await;
    let failed = host.wait_for(&run, "FAILED", T).await;
    assert_eq!(failed["error"], "step `ask`: no decision came within 1s", "{failed:#}");
    // A retry waits again, with a new row in the inbox.
    let (status, _) = host.post(&format!("/api/workflow-runs/{run}/retry"), json!({})).await;
    assert_eq!(status, 200);
    host.wait_for(&run, "WAITING", T).await;
    let (_, inbox) = host.get("/api/approvals").await;
    assert_eq!(inbox["data"][0]["runId"], run.as_str(), "{inbox}");
    let (status, _) = host.post(&format!("/api/workflow-runs/{run}/approve"), json!({})).await;
    assert_eq!(status, 200);
    host.wait_for(&run, "COMPLETED", T).await;
}
}
