//! `webhook`: send an HTTP request through the host and put the response in
//! the step output as `{ status, headers, body }` (body parsed when JSON).
//!
//! Every request carries `Idempotency-Key: <run-id>/<step-id>/<visit>` and is signed
//! (Standard Webhooks) with the step's `secret`, or with the host's secret when
//! the host has one. 5xx and 429 are retryable; other 4xx are not.
//!
//! Credentials come from the secrets store: `"secret": "{{ secrets.HOOK_KEY }}"`
//! or `"headers": { "Authorization": "Bearer {{ secrets.API_TOKEN }}" }` give
//! this plugin handles, which the host swaps for the values on the way out.

use std::collections::BTreeMap;

use weft_sdk::prelude::*;
use weft_sdk::serde_json::Map;
use weft_sdk::{HttpResponse, Signing};

/// Config of a webhook step.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// HTTP method (default `POST`).
    #[serde(default = "default_method")]
    method: String,
    /// Absolute `http` or `https` URL.
    url: String,
    /// Extra request headers.
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// Query parameters appended to the URL.
    #[serde(default)]
    query: BTreeMap<String, Value>,
    /// Body: a string is sent as text, anything else as JSON.
    body: Option<Value>,
    /// Total time allowed in milliseconds (capped by the host).
    timeout_ms: Option<u32>,
    /// A `whsec_` signing secret for this step, instead of the host's:
    /// `{{ secrets.NAME }}`.
    secret: Option<String>,
}

fn default_method() -> String {
    "POST".to_owned()
}

struct Webhook;

impl Step for Webhook {
    type Config = Config;

    fn info() -> Info {
        Info::new("webhook", env!("CARGO_PKG_VERSION"))
            .description("Sends a signed HTTP request and returns the response")
            .capability("http")
            .capability("sign")
    }

    fn run(input: Input<Config>, host: &dyn Host) -> Result<Outcome, StepError> {
        let key = input.idempotency_key();
        let c = input.config;
        let method = c.method.to_ascii_uppercase();
        let url = with_query(&c.url, &c.query);
        let mut headers: Vec<(String, String)> = c.headers.into_iter().collect();
        let has = |headers: &[(String, String)], name: &str| {
            headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
        };
        let body = match c.body {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => {
                if !has(&headers, "content-type") {
                    headers.push(("content-type".into(), "text/plain; charset=utf-8".into()));
                }
                Some(text.into_bytes())
            }
            Some(json) => {
                if !has(&headers, "content-type") {
                    headers.push(("content-type".into(), "application/json".into()));
                }
                Some(json.to_string().into_bytes())
            }
        };
        if !has(&headers, "idempotency-key") {
            headers.push(("idempotency-key".into(), key.clone()));
        }
        let signing = match c.secret {
            Some(secret) => Signing::Secret(secret),
            None => Signing::HostSecret,
        };
        let response = host.http_send(&HttpRequest {
            method: method.clone(),
            url: url.clone(),
            headers,
            body,
            timeout_ms: c.timeout_ms,
            sign: Some((signing, key)),
        })?;
        let status = response.status;
        let output = output(response);
        if status >= 400 {
            let snippet: String = output["body"].to_string().chars().take(200).collect();
            let message = format!("{method} {} answered HTTP {status}: {snippet}", redact(&url));
            return Err(if status >= 500 || status == 429 {
                StepError::retryable(message)
            } else {
                StepError::fatal(message)
            });
        }
        Ok(Outcome::done(output))
    }
}

fn output(response: HttpResponse) -> Value {
    let mut headers = Map::new();
    for (name, value) in response.headers {
        headers.insert(name.to_ascii_lowercase(), Value::String(value));
    }
    let body = weft_sdk::serde_json::from_slice::<Value>(&response.body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&response.body).into_owned()));
    json!({ "status": response.status, "headers": headers, "body": body })
}

fn with_query(url: &str, query: &BTreeMap<String, Value>) -> String {
    if query.is_empty() {
        return url.to_owned();
    }
    let pairs: Vec<String> = query
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            format!("{}={}", encode(k), encode(&v))
        })
        .collect();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{}", pairs.join("&"))
}

/// `url` without user info and query, for errors: either may hold a credential.
fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let path = rest[end..].split(['?', '#']).next().unwrap_or("");
    let query = if rest[end..].contains('?') { "?…" } else { "" };
    let userinfo = if authority.contains('@') { "***@" } else { "" };
    format!("{scheme}://{userinfo}{host}{path}{query}")
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

weft_sdk::export_step!(Webhook);
