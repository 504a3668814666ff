//! A real HTTP server on loopback that records every request and answers
//! from a script (then 200 with a JSON body), optionally after a delay.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// A request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Method.
    pub method: String,
    /// Path and query.
    pub uri: String,
    /// Headers, lowercase names.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Seen {
    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A scripted answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// JSON body.
    pub body: String,
}

impl Answer {
    /// `status` with a JSON body.
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
        }
    }

    /// A 302 to `location`.
    pub fn redirect(location: &str) -> Self {
        Self { status: 302, headers: vec![("location".into(), location.into())], body: String::new() }
    }
}

#[derive(Default)]
struct Shared {
    seen: Vec<Seen>,
    script: VecDeque<Answer>,
    delay: Duration,
    in_flight: usize,
    most_in_flight: usize,
}

/// The running receiver.
pub struct Receiver {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Port.
    pub port: u16,
    shared: Arc<Mutex<Shared>>,
}

async fn record(
    State(shared): State<Arc<Mutex<Shared>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (delay, answer) = {
        let mut guard = shared.lock().unwrap_or_else(|p| p.into_inner());
        guard.seen.push(Seen {
            method: method.to_string(),
            uri: uri.to_string(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect(),
            body: body.to_vec(),
        });
        guard.in_flight += 1;
        guard.most_in_flight = guard.most_in_flight.max(guard.in_flight);
        let answer = guard
            .script
            .pop_front()
            .unwrap_or_else(|| Answer::json(200, serde_json::json!({ "ok": true, "crmId": "crm-42" })));
        (guard.delay, answer)
    };
    tokio::time::sleep(delay).await;
    shared.lock().unwrap_or_else(|p| p.into_inner()).in_flight -= 1;
    let mut response =
        (StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK), answer.body).into_response();
    for (name, value) in answer.headers {
        if let (Ok(name), Ok(value)) =
            (axum::http::HeaderName::from_bytes(name.as_bytes()), axum::http::HeaderValue::from_str(&value))
        {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

impl Receiver {
    /// Starts on a free port of 127.0.0.1, in the test's runtime.
    pub async fn start() -> Self {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let app = Router::new().fallback(record).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind receiver");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { base: format!("http://127.0.0.1:{port}"), port, shared }
    }

    /// Queues answers for the next requests.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.shared.lock().unwrap_or_else(|p| p.into_inner()).script.extend(answers);
    }

    /// Answers every request only after `delay` (it is recorded on arrival).
    pub fn delay(&self, delay: Duration) {
        self.shared.lock().unwrap_or_else(|p| p.into_inner()).delay = delay;
    }

    /// The most requests that were being answered at the same time.
    pub fn most_in_flight(&self) -> usize {
        self.shared.lock().unwrap_or_else(|p| p.into_inner()).most_in_flight
    }

    /// How many requests carried each `Idempotency-Key`.
    pub fn keys(&self) -> std::collections::BTreeMap<String, usize> {
        let mut keys = std::collections::BTreeMap::new();
        for seen in self.seen() {
            if let Some(key) = seen.header("idempotency-key") {
                *keys.entry(key.to_owned()).or_default() += 1;
            }
        }
        keys
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner()).seen.clone()
    }
}
