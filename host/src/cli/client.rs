//! The HTTP client of the commands that talk to a host.

use anyhow::{Context, bail};
use clap::Args;
use serde_json::Value;

/// Where the host is, and the token to use.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// The host's base URL.
    #[arg(long, env = "WEFT_SERVER", default_value = "http://127.0.0.1:8080", global = true)]
    pub server: String,
    /// API token.
    #[arg(long, env = "WEFT_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
}

/// A client of one host.
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    /// A client for `args`; fails without a token.
    pub fn new(args: &ServerArgs) -> anyhow::Result<Self> {
        let token = args.token.clone().context("no API token: pass --token or set WEFT_TOKEN")?;
        Ok(Self { http: reqwest::Client::new(), base: args.server.trim_end_matches('/').to_owned(), token })
    }

    /// Sends a request; errors carry the host's error message.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Body>,
    ) -> anyhow::Result<Value> {
        let mut req =
            self.http.request(method.clone(), format!("{}{path}", self.base)).bearer_auth(&self.token);
        match body {
            Some(Body::Json(v)) => req = req.json(&v),
            Some(Body::Wasm(bytes)) => req = req.header("content-type", "application/wasm").body(bytes),
            None => {}
        }
        let resp = req.send().await.with_context(|| format!("{method} {}{path}", self.base))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let value: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if !status.is_success() {
            let message =
                value["error"]["message"].as_str().map(str::to_owned).unwrap_or_else(|| value.to_string());
            bail!("{method} {path}: HTTP {}: {message}", status.as_u16());
        }
        Ok(value)
    }
}

/// A request body.
pub enum Body {
    /// JSON.
    Json(Value),
    /// A component.
    Wasm(Vec<u8>),
}

/// Prints rows as aligned columns under a header.
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let widths: Vec<usize> = header
        .iter()
        .enumerate()
        .map(|(i, h)| {
            rows.iter().map(|r| r.get(i).map_or(0, |c| c.chars().count())).max().unwrap_or(0).max(h.len())
        })
        .collect();
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths.get(i).copied().unwrap_or(0)))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row.clone());
    }
}

/// A JSON value as a short cell.
pub fn cell(value: &Value, max: usize) -> String {
    let text = match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() > max {
        format!("{}…", text.chars().take(max).collect::<String>())
    } else {
        text
    }
}
