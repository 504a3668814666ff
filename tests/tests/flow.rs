//! Loops and reuse, through the real binary on both databases: `for-each`
//! (a body per item, in order or a few at a time, each item with its own
//! idempotency key, bounds, the step budget) and `call-workflow` (a child
//! run whose vars are the step's output, failures, cancel cascading).

use std::time::Duration;

use serde_json::{Value, json};
use weft_tests::receiver::Receiver;
use weft_tests::{Host, Options, both_databases};

const T: Duration = Duration::from_secs(30);

fn receiver_host() -> Host {
    let env = vec![
        ("WEFT_HTTP_ALLOW".to_owned(), "127.0.0.1".to_owned()),
        ("WEFT_WEBHOOK_SECRET".to_owned(), "whsec_c2VjcmV0LWtleS1zZWNyZXQta2V5LXNlY3JldA==".to_owned()),
    ];
    Host::start_with(Options { env, ..Options::default() })
}

fn fields(body: &Value) -> Vec<String> {
    body["error"]["details"]
        .as_array()
        .map(|d| {
            d.iter()
                .filter_map(|d| {
                    d["field"].as_str().map(|f| format!("{}:{f}", d["step"].as_str().unwrap_or("")))
                })
                .collect()
        })
        .unwrap_or_default()
}

both_databases! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn for_each_runs_its_body_per_item_and_collects_the_outputs() {
    let receiver = Receiver::start().await;
    receiver.delay(Duration::from_millis(100));
    let host = receiver_host();
    let workflow = host
        .create_active(json!({
            "name": "Per order", "trigger": { "type": "manual" },
            "steps": [
                { "id": "each", "type": "for-each", "config": { "items": "{{ event.orders }}", "concurrency": 2 },
                  "steps": [
                    { "id": "send", "type": "webhook", "config": {
                        "method": "post", "url": format!("{}/orders/{{{{ item.sku }}}}", receiver.base),
                        "body": { "sku": "{{ item.sku }}", "at": "{{ index }}" } } },
                    { "id": "note", "type": "update-field",
                      "config": { "set": { "last": "{{ item.sku }}", "status": "{{ steps.send.status }}" } } }
                  ] },
                { "id": "after", "type": "update-field", "config": { "set": { "sent": "{{ steps.each[0].send.status }}" } } }
            ]
        }))
        .await;
    let orders: Vec<Value> = (0..5).map(|i| json!({ "sku": format!("sku-{i}") })).collect();
    let run = host.trigger(&workflow, json!({ "orders": orders })).await;
    let done = host.wait_for(&run, "COMPLETED", T).await;

    let seen = receiver.seen();
    let mut uris: Vec<&str> = seen.iter().map(|s| s.uri.as_str()).collect();
    uris.sort();
    assert_eq!(uris, ["/orders/sku-0", "/orders/sku-1", "/orders/sku-2", "/orders/sku-3", "/orders/sku-4"]);
    // Two at a time: never more in flight, and more than one.
    assert_eq!(receiver.most_in_flight(), 2);
    // Each item's request has its own idempotency key.
    let mut keys: Vec<String> = seen.iter().filter_map(|s| s.header("idempotency-key").map(str::to_owned)).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 5, "{keys:?}");
    let body: Value = serde_json::from_slice(&seen[0].body).expect("json body");
    assert!(body["sku"].as_str().is_some_and(|s| s.starts_with("sku-")), "{body}");

    let output = &done["context"]["steps"]["each"];
    assert_eq!(output.as_array().map(Vec::len), Some(5), "{output}");
    for item in output.as_array().expect("list") {
        assert_eq!(item["send"]["status"], 200, "{item}");
        assert!(item["note"].is_object(), "{item}");
    }
    assert_eq!(done["context"]["vars"]["sent"], 200);
    // Body steps' outputs stay in their items.
    assert!(done["context"]["steps"].get("send").is_none(), "{}", done["context"]["steps"]);
    // The log says which item each body attempt was for.
    let items: Vec<i64> = done["logs"]
        .as_array()
        .expect("logs")
        .iter()
        .filter(|l| l["step"] == "send")
        .filter_map(|l| l["result"]["item"].as_i64())
        .collect();
    let mut sorted = items.clone();
    sorted.sort();
    assert_eq!(sorted, [0, 1, 2, 3, 4]);
    let expanded = done["logs"].as_array().expect("logs").iter().find(|l| l["step"] == "each").expect("each");
    assert_eq!(expanded["action"], "expanded");
    assert_eq!(expanded["result"]["output"]["items"], 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn for_each_is_bounded_and_checked() {
    let host = Host::start();
    let (status, body) = host
        .post("/api/workflows", json!({ "name": "Bad", "trigger": { "type": "manual" }, "steps": [
            { "id": "each", "type": "for-each", "config": { "items": 3, "concurrency": 0 }, "steps": [
                { "id": "a", "type": "update-field", "config": { "set": { "x": 1 } } },
                { "id": "b", "type": "update-field", "config": { "set": { "x": 2 } }, "next": "a" },
                { "id": "inner", "type": "for-each", "config": { "items": [] }, "steps": [
                    { "id": "c", "type": "update-field", "config": {} }
                ] }
            ] },
            { "id": "empty", "type": "for-each", "config": { "items": [] } },
            { "id": "par", "type": "parallel", "branches": [[
                { "id": "d", "type": "for-each", "config": { "items": [] }, "steps": [{ "id": "e", "type": "update-field", "config": {} }] }
            ]] }
        ] }))
        .await;
    assert_eq!(status, 422, "{body}");
    let got = fields(&body);
    for want in ["each:config.items", "each:config.concurrency", "b:next", "inner:type", "empty:steps", "d:type"] {
        assert!(got.iter().any(|f| f == want), "{want} missing from {got:?}: {body}");
    }
    let backwards = body["error"]["details"].as_array().expect("details").iter().find(|d| d["step"] == "b").expect("b");
    assert!(backwards["message"].as_str().is_some_and(|m| m.contains("after it in its for-each body")), "{backwards}");

    let workflow = host
        .create_active(json!({
            "name": "Bounded", "trigger": { "type": "manual" }, "limits": { "maxSteps": 6 },
            "steps": [
                { "id": "each", "type": "for-each", "config": { "items": "{{ event.xs }}", "maxItems": 3 },
                  "steps": [{ "id": "count", "type": "update-field", "config": { "increment": { "n": 1 } } }] }
            ]
        }))
        .await;
    let run = host.trigger(&workflow, json!({ "xs": [1, 2, 3, 4] })).await;
    let failed = host.wait_for(&run, "FAILED", T).await;
    assert_eq!(
        failed["error"],
        "step `each`: config field `items` holds 4 items, more than its maxItems of 3",
        "{failed}"
    );
    let run = host.trigger(&workflow, json!({ "xs": "abc" })).await;
    let failed = host.wait_for(&run, "FAILED", T).await;
    assert!(failed["error"].as_str().is_some_and(|e| e.contains("is a string, and a for-each needs a list")), "{failed}");
    let run = host.trigger(&workflow, json!({ "xs": [] })).await;
    let done = host.wait_for(&run, "COMPLETED", T).await;
    assert_eq!(done["context"]["steps"]["each"], json!([]));
    let run = host.trigger(&workflow, json!({ "xs": [1, 2, 3] })).await;
    let done = host.wait_for(&run, "COMPLETED", T).await;
    assert_eq!(done["context"]["vars"]["n"], 3);

    // Each item's steps count against the run's step budget: 1 + 3 x 2 > 6.
    let budget = host
        .create_active(json!({
            "name": "Budget", "trigger": { "type": "manual" }, "limits": { "maxSteps": 6 },
            "steps": [
                { "id": "each", "type": "for-each", "config": { "items": "{{ event.xs }}" },
                  "steps": [
                    { "id": "one", "type": "update-field", "config": { "increment": { "n": 1 } } },
                    { "id": "two", "type": "update-field", "config": { "increment": { "n": 1 } } }
                  ] }
            ]
        }))
        .await;
    let run = host.trigger(&budget, json!({ "xs": [1, 2, 3] })).await;
    let failed = host.wait_for(&run, "FAILED", T).await;
    assert_eq!(failed["error"], "the run reached its step budget of 6 attempts (`limits.maxSteps`)");
    assert_eq!(failed["context"]["vars"]["n"], 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_workflow_runs_a_child_and_takes_its_vars() {
    let host = Host::start();
    let child = host
        .create_active(json!({
            "name": "Price", "trigger": { "type": "manual" },
            "steps": [
                { "id": "price", "type": "update-field", "config": { "set": { "total": "{{ event.qty }}", "sku": "{{ event.sku }}" } } },
                { "id": "check", "type": "condition", "config": { "if": "{{ event.qty > 100 }}", "then": "refuse", "else": "end" } },
                { "id": "refuse", "type": "webhook", "config": { "method": "post", "url": "http://127.0.0.1:9/nothing" } }
            ]
        }))
        .await;
    let parent = host
        .create_active(json!({
            "name": "Order", "trigger": { "type": "manual" },
            "steps": [
                { "id": "quote", "type": "call-workflow", "config": { "workflow": "Price", "input": { "sku": "{{ event.sku }}", "qty": "{{ event.qty }}" } } },
                { "id": "keep", "type": "update-field", "config": { "set": { "total": "{{ steps.quote.vars.total }}", "child": "{{ steps.quote.runId }}" } } }
            ]
        }))
        .await;
    let run = host.trigger(&parent, json!({ "sku": "a", "qty": 3 })).await;
    let done = host.wait_for(&run, "COMPLETED", T).await;
    let quote = &done["context"]["steps"]["quote"];
    assert_eq!(quote["status"], "COMPLETED", "{quote}");
    assert_eq!(quote["vars"]["sku"], "a");
    let child_id = quote["runId"].as_str().expect("child id").to_owned();
    assert_eq!(done["context"]["vars"]["child"], child_id.as_str());
    // The parent's log names the child it waits for; the child names its parent.
    let waiting = done["logs"].as_array().expect("logs").iter().find(|l| l["action"] == "waiting").expect("waiting");
    assert_eq!(waiting["result"]["waitingFor"]["childRunId"], child_id.as_str());
    assert_eq!(waiting["result"]["waitingFor"]["workflowId"], child.as_str());
    let (_, child_run) = host.get(&format!("/api/workflow-runs/{child_id}")).await;
    assert_eq!(child_run["parentRunId"], run.as_str());
    assert_eq!(child_run["status"], "COMPLETED");

    // A child that fails fails the step, with the child's error.
    let run = host.trigger(&parent, json!({ "sku": "b", "qty": 500 })).await;
    let failed = host.wait_for(&run, "FAILED", T).await;
    let error = failed["error"].as_str().expect("error");
    assert!(error.starts_with("step `quote`: child run ") && error.contains(" failed: step `refuse`"), "{error}");

    // By id, into a loop: a child per item.
    let fan = host
        .create_active(json!({
            "name": "Fan out", "trigger": { "type": "manual" },
            "steps": [
                { "id": "each", "type": "for-each", "config": { "items": "{{ event.skus }}", "concurrency": 3 },
                  "steps": [{ "id": "quote", "type": "call-workflow", "config": { "workflow": child, "input": { "sku": "{{ item }}", "qty": "{{ index }}" } } }] }
            ]
        }))
        .await;
    let run = host.trigger(&fan, json!({ "skus": ["x", "y", "z", "w"] })).await;
    let done = host.wait_for(&run, "COMPLETED", T).await;
    let skus: Vec<&str> = done["context"]["steps"]["each"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|i| i["quote"]["vars"]["sku"].as_str())
        .collect();
    assert_eq!(skus, ["x", "y", "z", "w"]);

    // A workflow calling itself stops at the depth bound.
    let forever = host
        .create_active(json!({ "name": "Forever", "trigger": { "type": "manual" },
            "steps": [{ "id": "again", "type": "call-workflow", "config": { "workflow": "Forever" } }] }))
        .await;
    let run = host.trigger(&forever, json!({})).await;
    let failed = host.wait_for(&run, "FAILED", T).await;
    let error = failed["error"].as_str().expect("error");
    assert!(error.contains("calls nest at most 8 deep"), "{error}");

    let nowhere = host
        .create_active(json!({ "name": "Nowhere", "trigger": { "type": "manual" },
            "steps": [{ "id": "call", "type": "call-workflow", "config": { "workflow": "No such workflow" } }] }))
        .await;
    let run = host.trigger(&nowhere, json!({})).await;
    let failed = host.wait_for(&run, "FAILED", T).await;
    assert!(failed["error"].as_str().is_some_and(|e| e.contains("no workflow has the id or the name")), "{failed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_parent_cancels_its_children_and_a_cancelled_child_fails_its_step() {
    let host = Host::start();
    host.create_active(json!({
        "name": "Slow", "trigger": { "type": "manual" },
        "steps": [{ "id": "approve", "type": "approval", "config": { "message": "go on?" } }]
    }))
    .await;
    let parent = host
        .create_active(json!({
            "name": "Waits on slow", "trigger": { "type": "manual" },
            "steps": [{ "id": "call", "type": "call-workflow", "config": { "workflow": "Slow" } }]
        }))
        .await;
    let children_of = |done: &Value| -> String {
        let waiting = done["logs"].as_array().expect("logs").iter().find(|l| l["action"] == "waiting").expect("waiting");
        waiting["result"]["waitingFor"]["childRunId"].as_str().expect("child").to_owned()
    };
    let run = host.trigger(&parent, json!({})).await;
    let waiting = host.wait_for(&run, "WAITING", T).await;
    let child = children_of(&waiting);
    host.wait_for(&child, "WAITING", T).await;
    let (status, body) = host.post(&format!("/api/workflow-runs/{run}/cancel"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    let cancelled = host.wait_for(&child, "CANCELLED", T).await;
    assert_eq!(cancelled["parentRunId"], run.as_str());
    let (_, approvals) = host.get("/api/approvals").await;
    assert_eq!(approvals["data"], json!([]), "the cancelled child no longer waits: {approvals}");

    // The other way round: the child cancelled on its own fails its parent's step.
    let run = host.trigger(&parent, json!({})).await;
    let waiting = host.wait_for(&run, "WAITING", T).await;
    let child = children_of(&waiting);
    host.wait_for(&child, "WAITING", T).await;
    let (status, body) = host.post(&format!("/api/workflow-runs/{child}/cancel"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    let failed = host.wait_for(&run, "FAILED", T).await;
    assert_eq!(failed["error"], format!("step `call`: child run {child} cancelled: cancelled"));

    // And a child approved finishes its parent.
    let run = host.trigger(&parent, json!({})).await;
    let waiting = host.wait_for(&run, "WAITING", T).await;
    let child = children_of(&waiting);
    host.wait_for(&child, "WAITING", T).await;
    let (status, body) = host.post(&format!("/api/workflow-runs/{child}/approve"), json!({ "comment": "fine" })).await;
    assert_eq!(status, 200, "{body}");
    let done = host.wait_for(&run, "COMPLETED", T).await;
    assert_eq!(done["context"]["steps"]["call"]["status"], "COMPLETED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_wait_on_their_own_inside_a_for_each() {
    let host = Host::start();
    let workflow = host
        .create_active(json!({
            "name": "Per refund", "trigger": { "type": "manual" },
            "steps": [
                { "id": "each", "type": "for-each", "config": { "items": "{{ event.refunds }}", "concurrency": 2 },
                  "steps": [{ "id": "ok", "type": "approval", "config": { "message": "Refund {{ item }} EUR?" } }] }
            ]
        }))
        .await;
    let run = host.trigger(&workflow, json!({ "refunds": [10, 20] })).await;
    host.wait_for(&run, "WAITING", T).await;
    let mut steps = Vec::new();
    for _ in 0..100 {
        let (_, inbox) = host.get("/api/approvals").await;
        steps = inbox["data"].as_array().expect("data").iter().map(|a| (a["step"].as_str().unwrap_or("").to_owned(), a["message"].clone())).collect();
        if steps.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    steps.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(steps, [("ok#0".to_owned(), json!("Refund 10 EUR?")), ("ok#1".to_owned(), json!("Refund 20 EUR?"))]);
    // Two wait: a decision must say which.
    let (status, body) = host.post(&format!("/api/workflow-runs/{run}/approve"), json!({})).await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = host.post(&format!("/api/workflow-runs/{run}/reject"), json!({ "step": "ok#1", "comment": "no" })).await;
    assert_eq!(status, 200, "{body}");
    let failed = host.wait_for(&run, "FAILED", T).await;
    assert!(failed["error"].as_str().is_some_and(|e| e.contains("rejected by")), "{failed}");

    let run = host.trigger(&workflow, json!({ "refunds": [1, 2] })).await;
    host.wait_for(&run, "WAITING", T).await;
    for step in ["ok#1", "ok#0"] {
        let mut answer = (0, Value::Null);
        for _ in 0..100 {
            answer = host.post(&format!("/api/workflow-runs/{run}/approve"), json!({ "step": step })).await;
            if answer.0 == 200 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(answer.0, 200, "{}", answer.1);
    }
    let done = host.wait_for(&run, "COMPLETED", T).await;
    let decisions: Vec<&str> =
        done["context"]["steps"]["each"].as_array().expect("list").iter().filter_map(|i| i["ok"]["decision"].as_str()).collect();
    assert_eq!(decisions, ["approved", "approved"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_parent_takes_up_the_child_it_started_before_failing() {
    let receiver = Receiver::start().await;
    // The first call fails for good (404), the ones after it succeed.
    receiver.script([weft_tests::receiver::Answer::json(404, json!({ "error": "not yet" }))]);
    let host = receiver_host();
    let slow = host
        .create_active(json!({
            "name": "Slow", "trigger": { "type": "manual" },
            "steps": [{ "id": "approve", "type": "approval", "config": {} },
                      { "id": "done", "type": "update-field", "config": { "set": { "done": true } } }]
        }))
        .await;
    let parent = host
        .create_active(json!({
            "name": "Two items", "trigger": { "type": "manual" },
            "steps": [
                { "id": "each", "type": "for-each", "config": { "items": "{{ event.kinds }}", "concurrency": 2 },
                  "steps": [
                    { "id": "check", "type": "condition", "config": { "if": "{{ item == 'hook' }}", "then": "hook", "else": "call" } },
                    { "id": "call", "type": "call-workflow", "config": { "workflow": slow }, "next": "end" },
                    { "id": "hook", "type": "webhook", "config": { "method": "post", "url": format!("{}/x", receiver.base) } }
                  ] }
            ]
        }))
        .await;
    let run = host.trigger(&parent, json!({ "kinds": ["call", "hook"] })).await;
    // The hook item fails the run while the call item waits for its child.
    let failed = host.wait_for(&run, "FAILED", T).await;
    let child = failed["logs"]
        .as_array()
        .expect("logs")
        .iter()
        .find_map(|l| l["result"]["waitingFor"]["childRunId"].as_str())
        .expect("the child started")
        .to_owned();
    host.wait_for(&child, "WAITING", T).await;
    // The child goes on; its end reaches the failed parent's kept wait.
    let (status, body) = host.post(&format!("/api/workflow-runs/{child}/approve"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    host.wait_for(&child, "COMPLETED", T).await;
    let (status, body) = host.post(&format!("/api/workflow-runs/{run}/retry"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    let done = host.wait_for(&run, "COMPLETED", T).await;
    let items = done["context"]["steps"]["each"].as_array().expect("list");
    assert_eq!(items[0]["call"]["runId"], child.as_str(), "{done}");
    assert_eq!(items[0]["call"]["vars"]["done"], true);
    assert_eq!(items[1]["hook"]["status"], 200);
    // No second child was started.
    let (_, children) = host.get(&format!("/api/workflow-runs?workflowId={slow}")).await;
    assert_eq!(children["data"].as_array().map(Vec::len), Some(1), "{children}");

    // A call of its own workflow behind its own single slot fails at once.
    let selfish = host
        .create_active(json!({
            "name": "Selfish", "trigger": { "type": "manual" }, "concurrency": { "limit": 1 },
            "steps": [{ "id": "again", "type": "call-workflow", "config": { "workflow": "Selfish" } }]
        }))
        .await;
    let run = host.trigger(&selfish, json!({})).await;
    let failed = host.wait_for(&run, "FAILED", T).await;
    assert!(failed["error"].as_str().is_some_and(|e| e.contains("would wait for the concurrency slot this run holds")), "{failed}");
}
}
