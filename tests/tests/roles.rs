//! Scoped tokens: every route against every role, no token, and a token of
//! another database; revocation and expiry take effect at once; the CLI.

use std::time::Duration;

use serde_json::{Value, json};
use weft_tests::both_databases;
use weft_tests::{Host, TOKEN, weft_bin};

const ROLES: [&str; 4] = ["viewer", "operator", "editor", "admin"];

fn rank(role: &str) -> usize {
    ROLES.iter().position(|r| *r == role).unwrap_or(usize::MAX)
}

/// Every route of the API with the weakest role that may use it. A body is
/// sent where the route reads one; what matters is only whether the role
/// gets past the door (not 401 or 403), not what the handler answers.
fn routes(workflow: &str, run: &str) -> Vec<(&'static str, String, Option<Value>, &'static str)> {
    let w = |p: &str| format!("/api/workflows/{workflow}{p}");
    let r = |p: &str| format!("/api/workflow-runs/{run}{p}");
    let definition = json!({
        "name": "x", "trigger": { "type": "manual" },
        "steps": [ { "id": "a", "type": "update-field", "config": { "set": { "a": 1 } } } ]
    });
    let template = json!({ "slug": "t", "subject": "s", "text": "t" });
    vec![
        ("GET", "/api/workflows".into(), None, "viewer"),
        ("POST", "/api/workflows".into(), Some(definition.clone()), "editor"),
        ("GET", w(""), None, "viewer"),
        ("PUT", w(""), Some(definition), "editor"),
        ("PUT", w("/activate"), None, "editor"),
        ("PUT", w("/pause"), None, "editor"),
        ("PUT", w("/archive"), None, "editor"),
        ("POST", w("/trigger"), Some(json!({})), "operator"),
        ("GET", "/api/workflow-stats?since=2000-01-01T00:00:00Z".into(), None, "viewer"),
        ("GET", "/api/workflow-runs".into(), None, "viewer"),
        ("GET", "/api/workflow-runs/stream".into(), None, "viewer"),
        ("GET", r(""), None, "viewer"),
        ("GET", r("/logs/none"), None, "viewer"),
        ("POST", r("/cancel"), None, "operator"),
        ("POST", r("/retry"), None, "operator"),
        ("POST", r("/approve"), None, "operator"),
        ("POST", r("/reject"), Some(json!({ "comment": "no" })), "operator"),
        ("GET", "/api/approvals".into(), None, "viewer"),
        ("POST", "/api/events".into(), Some(json!({ "type": "nobody.listens", "data": {} })), "operator"),
        ("GET", "/api/plugins".into(), None, "viewer"),
        ("GET", "/api/plugins/wait".into(), None, "viewer"),
        ("POST", "/api/plugins".into(), Some(json!({})), "admin"),
        ("DELETE", "/api/plugins/wait/0.1.0".into(), None, "admin"),
        ("GET", "/api/email-templates".into(), None, "viewer"),
        ("POST", "/api/email-templates".into(), Some(template.clone()), "editor"),
        ("GET", "/api/email-templates/t".into(), None, "viewer"),
        ("PUT", "/api/email-templates/t".into(), Some(template.clone()), "editor"),
        ("DELETE", "/api/email-templates/none".into(), None, "editor"),
        (
            "POST",
            "/api/email-templates/preview".into(),
            Some(json!({ "subject": "s", "data": {} })),
            "editor",
        ),
        ("GET", "/api/notifications".into(), None, "viewer"),
        ("GET", "/api/notifications/stream".into(), None, "viewer"),
        ("POST", "/api/notifications/none/read".into(), None, "operator"),
        ("GET", "/api/step-types".into(), None, "viewer"),
        ("POST", "/api/cron/preview".into(), Some(json!({ "expression": "@daily" })), "viewer"),
        ("GET", "/api/tokens".into(), None, "admin"),
        ("POST", "/api/tokens".into(), Some(json!({ "name": "made", "role": "viewer" })), "admin"),
        ("DELETE", "/api/tokens/none".into(), None, "admin"),
        ("GET", "/api/secrets".into(), None, "admin"),
        ("PUT", "/api/secrets/MADE".into(), Some(json!({ "value": "v4lue", "allowedHosts": [] })), "admin"),
        ("DELETE", "/api/secrets/NONE".into(), None, "admin"),
        ("GET", "/api/audit".into(), None, "admin"),
        ("GET", "/api/health".into(), None, "viewer"),
    ]
}

/// Sends a request and returns its status, without reading the body (a
/// stream's body never ends).
async fn status_of(host: &Host, method: &str, path: &str, body: Option<&Value>, token: Option<&str>) -> u16 {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = host.client().request(method, format!("{}{path}", host.base));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req.json(body);
    }
    let resp =
        tokio::time::timeout(Duration::from_secs(10), req.send()).await.expect("an answer").expect("request");
    resp.status().as_u16()
}

async fn token(host: &Host, name: &str, role: &str) -> String {
    let (status, body) = host.post("/api/tokens", json!({ "name": name, "role": role })).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["role"], role);
    body["token"].as_str().unwrap().to_owned()
}

both_databases! {
#[tokio::test]
async fn every_route_answers_each_role_by_the_table() {
    let host = Host::start();
    let workflow = host
        .create_active(json!({
            "name": "w", "trigger": { "type": "manual" },
            "steps": [ { "id": "a", "type": "update-field", "config": { "set": { "a": 1 } } } ]
        }))
        .await;
    let run = host.trigger(&workflow, json!({})).await;
    let mut tokens = Vec::new();
    for role in ROLES {
        tokens.push((role, token(&host, &format!("{role} token"), role).await));
    }
    let other = Host::start();
    let foreign = token(&other, "elsewhere", "admin").await;

    for (method, path, body, needed) in routes(&workflow, &run) {
        assert_eq!(
            status_of(&host, method, &path, body.as_ref(), None).await,
            401,
            "{method} {path} without a token"
        );
        assert_eq!(
            status_of(&host, method, &path, body.as_ref(), Some(&foreign)).await,
            401,
            "{method} {path} with another database's token"
        );
        for (role, token) in &tokens {
            let status = status_of(&host, method, &path, body.as_ref(), Some(token)).await;
            if rank(role) < rank(needed) {
                assert_eq!(status, 403, "{method} {path} as {role} (needs {needed})");
            } else {
                assert!(status != 401 && status != 403, "{method} {path} as {role}: {status}");
            }
        }
    }
    // The 403 names the role needed and the one held.
    let viewer = &tokens[0].1;
    let (status, body) = host.call_with("POST", "/api/workflows", Some(b"{}".to_vec()), Some(viewer)).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["details"], json!({ "required": "editor", "role": "viewer" }));
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("needs the `editor` role") && message.contains("viewer token"), "{message}");
}
}

both_databases! {
#[tokio::test]
async fn a_revoked_or_expired_token_stops_working_at_once_on_every_host() {
    let host = Host::start();
    let second = Host::start_in(host.dir.clone(), &Default::default());
    let viewer = token(&host, "soon revoked", "viewer").await;
    assert_eq!(status_of(&second, "GET", "/api/workflows", None, Some(&viewer)).await, 200);
    let (_, list) = host.get("/api/tokens").await;
    let entry =
        list["data"].as_array().unwrap().iter().find(|t| t["name"] == "soon revoked").cloned().unwrap();
    assert!(entry.get("token").is_none() && entry.get("tokenHash").is_none(), "{entry}");
    assert!(entry["lastUsedAt"].is_string(), "the use was recorded: {entry}");
    let (status, _) =
        host.call("DELETE", &format!("/api/tokens/{}", entry["id"].as_str().unwrap()), None).await;
    assert_eq!(status, 204);
    assert_eq!(status_of(&second, "GET", "/api/workflows", None, Some(&viewer)).await, 401);
    assert_eq!(status_of(&host, "GET", "/api/workflows", None, Some(&viewer)).await, 401);

    let soon = chrono_in(Duration::from_secs(2));
    let (status, body) =
        host.post("/api/tokens", json!({ "name": "brief", "role": "viewer", "expiresAt": soon })).await;
    assert_eq!(status, 201, "{body}");
    let brief = body["token"].as_str().unwrap().to_owned();
    assert_eq!(status_of(&second, "GET", "/api/workflows", None, Some(&brief)).await, 200);
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(status_of(&second, "GET", "/api/workflows", None, Some(&brief)).await, 401);

    let (status, body) = host.post("/api/tokens", json!({ "name": "x", "role": "root" })).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("role"), "{body}");
    let (status, body) = host
        .post("/api/tokens", json!({ "name": "x", "role": "viewer", "expiresAt": "2001-01-01T00:00:00Z" }))
        .await;
    assert_eq!((status, &body["error"]["details"][0]["field"]), (422, &json!("expiresAt")), "{body}");
}
}

fn chrono_in(d: Duration) -> String {
    let at = std::time::SystemTime::now() + d;
    let ms = at.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let secs = ms / 1000;
    let nanos = ((ms % 1000) * 1_000_000) as u32;
    // RFC 3339 in UTC without pulling chrono into the tests.
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, dd) = civil(days);
    format!(
        "{y:04}-{m:02}-{dd:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        nanos / 1_000_000
    )
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

both_databases! {
#[tokio::test]
async fn the_cli_creates_lists_and_revokes_tokens() {
    let host = Host::start();
    let weft = |args: &[&str]| {
        let out = std::process::Command::new(weft_bin())
            .args(args)
            .env("WEFT_SERVER", &host.base)
            .env("WEFT_TOKEN", TOKEN)
            .output()
            .expect("run weft");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let created = weft(&["token", "create", "--name", "ci deploys", "--role", "operator"]);
    let secret =
        created.split_whitespace().find(|w| w.starts_with("weft_")).expect("the token is printed").to_owned();
    assert_eq!(
        status_of(&host, "POST", "/api/events", Some(&json!({ "type": "t", "data": {} })), Some(&secret))
            .await,
        202
    );
    let listed = weft(&["token", "list"]);
    let line = listed.lines().find(|l| l.contains("ci deploys")).expect("listed").to_owned();
    assert!(line.contains("operator") && !listed.contains(&secret), "{listed}");
    let id = line.split_whitespace().next().unwrap().to_owned();
    assert!(weft(&["token", "revoke", &id]).contains(&id));
    assert_eq!(status_of(&host, "GET", "/api/workflows", None, Some(&secret)).await, 401);
}
}
