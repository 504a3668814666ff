//! Inbound webhooks: `/hooks/<hook id>` starts a run of the ACTIVE workflow
//! whose trigger is `webhook`, with no API token. The request must pass the
//! workflow's verification (Standard Webhooks, an HMAC-SHA256 header, or a
//! bearer secret, each keyed by a secret from the store); a repeat of its
//! `webhook-id` or `Idempotency-Key` starts no second run; a hook takes a
//! bounded rate. The request (headers without credentials, query, body) is
//! the run's `event`. `respond: when-done` answers with the run's result.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json as AxumJson;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::json::Body;
use crate::effects::signing::{SigningKey, verify_hmac_sha256};
use crate::engine::EngineError;
use crate::engine::definition::{Respond, Trigger, Verify, WebhookTrigger};
use crate::engine::status::WorkflowStatus;
use crate::runtime::SecretsBackend;
use crate::store::workflows;

/// Requests a second a hook accepts when its trigger names no rate.
pub const DEFAULT_RATE: u32 = 50;
/// How long `when-done` waits when the trigger names no timeout, ms.
const DEFAULT_WAIT_MS: u64 = 30_000;
/// How far a Standard Webhooks timestamp may be from now, seconds.
const DEFAULT_TOLERANCE_S: u64 = 300;

/// Headers never put in the run's event: credentials and signatures.
const HIDDEN_HEADERS: [&str; 5] =
    ["authorization", "proxy-authorization", "cookie", "webhook-signature", "x-hub-signature-256"];

/// Per-hook rate buckets.
#[derive(Clone, Default)]
pub struct Hooks {
    buckets: Arc<Mutex<HashMap<String, Bucket>>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Hooks {
    /// Takes one request from `hook`'s bucket of `rate` a second (a burst of
    /// as many); when empty, how long until the next one.
    fn take(&self, hook: &str, rate: u32) -> Result<(), Duration> {
        let rate = f64::from(rate.max(1));
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let bucket = buckets.entry(hook.to_owned()).or_insert(Bucket { tokens: rate, at: now });
        bucket.tokens = (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * rate).min(rate);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
        }
    }
}

/// Routes of this resource (outside the token check).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(receive)).layer(axum::middleware::map_response(
        |mut response: Response| async move {
            // A workflow shapes this answer from outside input, on the web
            // UI's origin: sandboxed, it runs no script and reaches no page
            // of the host, so it cannot act with a signed-in user's session.
            response
                .headers_mut()
                .insert(axum::http::header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(HOOK_CSP));
            response
        },
    ))
}

/// The policy of every answer at `/hooks/...`.
pub const HOOK_CSP: &str = "sandbox; default-src 'none'";

fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no active workflow listens at this URL")
}

fn unverified() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unverified",
        "the request does not pass this hook's verification",
    )
}

#[utoipa::path(method(get, post, put, patch, delete, options), path = "/hooks/{hook}", tag = "hooks",
    summary = "An inbound webhook: starts a run of the workflow listening here",
    description = "No API token: the request must pass the workflow's verification. The method, query, headers \
(credentials removed) and body become the run's `event`. A repeat of `webhook-id` or `Idempotency-Key` starts no \
second run. With `respond: when-done`, the answer is the run's `vars` (or `vars.response`: status, headers, body).",
    params(("hook" = String, Path, description = "The hook id from the workflow's `hook.path`")),
    request_body(content = Object, description = "Any body; JSON is parsed, other types kept as text"),
    responses(
        (status = 202, description = "Run started", body = super::events::StartedRun),
        (status = 200, description = "With `respond: when-done`, what the run answers (any type); or a repeat's run"),
        (status = 401, description = "The request does not pass the hook's verification", body = super::openapi::ErrorBody),
        (status = 404, description = "No ACTIVE workflow listens here", body = super::openapi::ErrorBody),
        (status = 413, description = "The body is over the limit", body = super::openapi::ErrorBody),
        (status = 429, description = "Over the hook's rate; see `Retry-After`", body = super::openapi::ErrorBody),
        (status = 502, description = "With `respond: when-done`, the run failed", body = super::openapi::ErrorBody),
        (status = 503, description = "The hook's secret cannot be read now", body = super::openapi::ErrorBody),
    ))]
async fn receive(
    State(state): State<AppState>,
    Path(hook): Path<String>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let workflow = workflows::by_hook(state.store.pool(), &hook).await?.ok_or_else(not_found)?;
    let trigger: Trigger = serde_json::from_str(&workflow.trigger).map_err(ApiError::internal)?;
    let Trigger::Webhook(config) = trigger else { return Err(not_found()) };
    if workflow.status != WorkflowStatus::Active {
        return Err(not_found());
    }
    if let Err(wait) = state.hooks.take(&hook, config.rate_per_second.unwrap_or(DEFAULT_RATE)) {
        let seconds = wait.as_secs_f64().ceil() as u64;
        return Err(ApiError::too_many(
            "rate_limited",
            format!(
                "this hook takes at most {} requests a second",
                config.rate_per_second.unwrap_or(DEFAULT_RATE)
            ),
            seconds,
        ));
    }
    verify(&state, &workflow.id, &config.verify, &headers, &body).await?;
    let key = dedupe_key(&headers)?;
    let event = event_of(&method, &hook, query.as_deref(), &headers, &body, &config);
    let when_done = config.respond == Respond::WhenDone;
    let (started, settled) =
        state.engine.start_run_watched(&workflow, event, when_done, key.as_deref()).await.map_err(
            |e| match e {
                EngineError::NotTriggerable { .. } => not_found(),
                EngineError::Invalid(..) => ApiError::conflict(e.to_string()),
                EngineError::BadEvent(message) => ApiError::invalid(message),
                EngineError::Store(e) => ApiError::internal(e),
            },
        )?;
    let Some(run) = started.runs.first() else {
        if started.replayed {
            return Err(super::events::deleted_replay());
        }
        return Err(ApiError::internal(format!("hook of `{}` started no run", workflow.id)));
    };
    let accepted = json!({ "id": run.id, "workflowId": run.workflow_id, "status": run.status });
    if started.replayed {
        let mut replayed = accepted;
        replayed["replayed"] = json!(true);
        return Ok((StatusCode::OK, AxumJson(replayed)).into_response());
    }
    let Some(settled) = settled else {
        return Ok((StatusCode::ACCEPTED, AxumJson(accepted)).into_response());
    };
    let wait = Duration::from_millis(config.timeout_ms.unwrap_or(DEFAULT_WAIT_MS));
    let Ok(Ok(settled)) = tokio::time::timeout(wait, settled).await else {
        return Ok((StatusCode::ACCEPTED, AxumJson(accepted)).into_response());
    };
    let run = settled.run;
    if !run.status.is_final() {
        // Asleep (a `wait` step): answered like a timeout.
        return Ok((StatusCode::ACCEPTED, AxumJson(accepted)).into_response());
    }
    if run.status != crate::engine::status::RunStatus::Completed {
        // The run's error stays in the run: the caller is outside the trust boundary.
        return Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "run_failed",
            format!("the workflow run ended {}", run.status),
        )
        .with_details(json!({ "runId": run.id })));
    }
    let context: Value = serde_json::from_str(&run.context).map_err(ApiError::internal)?;
    Ok(result_response(&context["vars"]))
}

/// Checks the request against the trigger's verification.
async fn verify(
    state: &AppState,
    workflow_id: &str,
    verify: &Verify,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), ApiError> {
    let Some(reference) = verify.secret() else { return Ok(()) };
    let Some(name) = Verify::secret_name(reference) else { return Err(unverified()) };
    let secret = state.vault.reveal(name).await.map_err(|e| {
        // The sender cannot fix this; the operator reads it in the log.
        tracing::warn!(workflow = %workflow_id, "hook cannot verify requests: {e}");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "this hook cannot verify requests now")
    })?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let ok = match verify {
        Verify::StandardWebhooks { tolerance_seconds, .. } => {
            let key = SigningKey::parse(&secret.value).map_err(|e| {
                tracing::warn!(workflow = %workflow_id, "hook secret `{name}`: {e}");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "this hook cannot verify requests now",
                )
            })?;
            match (header("webhook-id"), header("webhook-timestamp"), header("webhook-signature")) {
                (Some(id), Some(ts), Some(sig)) => {
                    let now = crate::store::ids::now_ms() / 1000;
                    let tolerance = tolerance_seconds.unwrap_or(DEFAULT_TOLERANCE_S);
                    match ts.trim().parse::<u64>() {
                        Ok(ts) if now.abs_diff(ts) <= tolerance => key.verify(id, ts, body, sig),
                        _ => false,
                    }
                }
                _ => false,
            }
        }
        Verify::HmacSha256 { header: name, .. } => {
            let name = name.as_deref().unwrap_or("x-hub-signature-256");
            header(name).is_some_and(|sig| verify_hmac_sha256(secret.value.as_bytes(), body, sig))
        }
        Verify::Bearer { .. } => header("authorization")
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .is_some_and(|given| constant_time_eq(given.trim().as_bytes(), secret.value.as_bytes())),
        Verify::None => true,
    };
    if ok { Ok(()) } else { Err(unverified()) }
}

/// Equal bytes, in time that depends on the lengths only.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    // Comparing digests makes the time independent of where they differ.
    let (da, db) = (Sha256::digest(a), Sha256::digest(b));
    da.iter().zip(db.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The sender's delivery id: `webhook-id`, else `Idempotency-Key`.
fn dedupe_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    for name in ["webhook-id", "idempotency-key"] {
        if let Some(value) = headers.get(name) {
            let text = value
                .to_str()
                .map_err(|_| ApiError::bad_request(format!("header `{name}`: must be visible ASCII")))?;
            return super::workflows::check_key(text, &format!("header `{name}`")).map(Some);
        }
    }
    Ok(None)
}

/// The run's event: method, query, headers without credentials, and the
/// body (parsed as JSON or a form when it says so, else text).
fn event_of(
    method: &Method,
    hook: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
    config: &WebhookTrigger,
) -> Value {
    let hidden_extra = match &config.verify {
        Verify::HmacSha256 { header: Some(h), .. } => Some(h.to_ascii_lowercase()),
        _ => None,
    };
    let mut shown = Map::new();
    for (name, value) in headers {
        let name = name.as_str();
        if HIDDEN_HEADERS.contains(&name) || hidden_extra.as_deref() == Some(name) {
            continue;
        }
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match shown.get_mut(name) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&value);
            }
            _ => {
                shown.insert(name.to_owned(), Value::String(value));
            }
        }
    }
    let query_map: Map<String, Value> = url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let parsed = if body.is_empty() {
        Value::Null
    } else if essence == "application/json" || essence.ends_with("+json") {
        serde_json::from_slice(body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
    } else if essence == "application/x-www-form-urlencoded" {
        Value::Object(
            url::form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect(),
        )
    } else {
        Value::String(String::from_utf8_lossy(body).into_owned())
    };
    json!({
        "method": method.as_str(),
        "path": format!("/hooks/{hook}"),
        "query": query_map,
        "headers": shown,
        "body": parsed,
    })
}

/// The HTTP answer for a completed run: `vars.response` as `{ status,
/// headers, body }` when the workflow set one, else `vars` as JSON.
fn result_response(vars: &Value) -> Response {
    let Some(spec) = vars.get("response").and_then(Value::as_object) else {
        let vars = if vars.is_null() { json!({}) } else { vars.clone() };
        return (StatusCode::OK, AxumJson(vars)).into_response();
    };
    let status = spec
        .get("status")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let body = spec.get("body").cloned().unwrap_or(Value::Null);
    let (mut response, default_type) = match &body {
        Value::String(text) => (text.clone().into_response(), "text/plain; charset=utf-8"),
        Value::Null => (().into_response(), ""),
        other => (other.to_string().into_response(), "application/json"),
    };
    *response.status_mut() = status;
    let out = response.headers_mut();
    if !default_type.is_empty() {
        out.insert(axum::http::header::CONTENT_TYPE, HeaderValue::from_static(default_type));
    }
    if let Some(headers) = spec.get("headers").and_then(Value::as_object) {
        for (name, value) in headers {
            // A lone `{{ expr }}` renders typed: a number is a header too.
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(_) | Value::Bool(_) => value.to_string(),
                _ => continue,
            };
            let (Ok(name), Ok(value)) =
                (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&text))
            else {
                continue;
            };
            // The host owns framing, cookies on its origin and its security
            // headers.
            if matches!(
                name.as_str(),
                "content-length"
                    | "transfer-encoding"
                    | "connection"
                    | "set-cookie"
                    | "content-security-policy"
                    | "x-content-type-options"
                    | "x-frame-options"
                    | "referrer-policy"
            ) {
                continue;
            }
            out.insert(name, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_says_when() {
        let hooks = Hooks::default();
        assert!(hooks.take("h", 2).is_ok());
        assert!(hooks.take("h", 2).is_ok());
        let wait = hooks.take("h", 2).unwrap_err();
        assert!(wait <= Duration::from_millis(500), "{wait:?}");
        assert!(hooks.take("other", 2).is_ok());
    }

    #[test]
    fn the_response_is_vars_or_the_response_the_workflow_set() {
        let plain = result_response(&json!({ "ok": true }));
        assert_eq!(plain.status(), StatusCode::OK);
        let custom = result_response(&json!({ "response": {
            "status": 201, "headers": { "x-id": "7", "content-length": "1" }, "body": "made" } }));
        assert_eq!(custom.status(), StatusCode::CREATED);
        assert_eq!(custom.headers()["x-id"], "7");
        assert_eq!(custom.headers()["content-type"], "text/plain; charset=utf-8");
    }
}
