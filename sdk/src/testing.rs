//! Run a step natively, in a unit test, against a fake host.
//!
//! ```
//! use weft_sdk::prelude::*;
//! use weft_sdk::testing::{FakeHost, run_step};
//!
//! #[derive(Deserialize, JsonSchema)]
//! struct Config { n: i64 }
//! struct Double;
//! impl Step for Double {
//!     type Config = Config;
//!     fn info() -> Info { Info::new("double", "0.1.0") }
//!     fn run(input: Input<Config>, _host: &dyn Host) -> Result<Outcome, StepError> {
//!         Ok(Outcome::done(json!({ "n": input.config.n * 2 })))
//!     }
//! }
//!
//! let host = FakeHost::new();
//! let outcome = run_step::<Double>(&host, json!({ "n": 21 }), json!({}));
//! assert_eq!(outcome, Ok(Outcome::done(json!({ "n": 42 }))));
//! ```

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde_json::Value;

use crate::{
    EmailMessage, Host, HostError, HttpRequest, HttpResponse, Input, Level, Notification, Outcome,
    RenderedEmail, Step, StepError,
};

/// An in-memory host that records every call. Capabilities are all granted
/// unless [`FakeHost::with_grants`] narrows them, mirroring the real host's
/// "not granted" errors.
#[derive(Default)]
pub struct FakeHost {
    grants: Option<BTreeSet<String>>,
    /// Log lines written by the step.
    pub logs: RefCell<Vec<(Level, String)>>,
    /// The key-value store.
    pub kv: RefCell<BTreeMap<String, String>>,
    /// Requests sent, in order.
    pub http_requests: RefCell<Vec<HttpRequest>>,
    http_responses: RefCell<VecDeque<Result<HttpResponse, HostError>>>,
    /// Emails sent, in order.
    pub emails: RefCell<Vec<EmailMessage>>,
    templates: BTreeMap<String, RenderedEmail>,
    /// Notifications created, in order.
    pub notifications: RefCell<Vec<Notification>>,
}

impl FakeHost {
    /// A host that grants every capability.
    pub fn new() -> Self {
        Self::default()
    }

    /// A host that grants only these capabilities (`kv`, `http`, `email`, `notify`).
    pub fn with_grants(grants: &[&str]) -> Self {
        Self { grants: Some(grants.iter().map(|g| g.to_string()).collect()), ..Self::default() }
    }

    /// Queue the result of the next [`Host::http_send`]; without one, a 200
    /// with an empty body is returned.
    pub fn respond_http(&self, response: Result<HttpResponse, HostError>) {
        self.http_responses.borrow_mut().push_back(response);
    }

    /// Store a template that [`Host::email_render`] returns as is.
    pub fn template(mut self, slug: &str, rendered: RenderedEmail) -> Self {
        self.templates.insert(slug.to_owned(), rendered);
        self
    }

    fn check(&self, capability: &str) -> Result<(), HostError> {
        match &self.grants {
            Some(grants) if !grants.contains(capability) => {
                Err(HostError::fatal(format!("capability `{capability}` is not granted to this plugin")))
            }
            _ => Ok(()),
        }
    }
}

impl Host for FakeHost {
    fn log(&self, level: Level, message: &str) {
        self.logs.borrow_mut().push((level, message.to_owned()));
    }

    fn kv_get(&self, key: &str) -> Result<Option<String>, HostError> {
        self.check("kv")?;
        Ok(self.kv.borrow().get(key).cloned())
    }

    fn kv_set(&self, key: &str, value: &str) -> Result<(), HostError> {
        self.check("kv")?;
        self.kv.borrow_mut().insert(key.to_owned(), value.to_owned());
        Ok(())
    }

    fn kv_delete(&self, key: &str) -> Result<(), HostError> {
        self.check("kv")?;
        self.kv.borrow_mut().remove(key);
        Ok(())
    }

    fn kv_list(&self, prefix: &str) -> Result<Vec<String>, HostError> {
        self.check("kv")?;
        Ok(self.kv.borrow().keys().filter(|k| k.starts_with(prefix)).cloned().collect())
    }

    fn http_send(&self, request: &HttpRequest) -> Result<HttpResponse, HostError> {
        self.check("http")?;
        self.http_requests.borrow_mut().push(request.clone());
        self.http_responses
            .borrow_mut()
            .pop_front()
            .unwrap_or(Ok(HttpResponse { status: 200, ..HttpResponse::default() }))
    }

    fn email_render(&self, slug: &str, _data: &Value) -> Result<RenderedEmail, HostError> {
        self.check("email")?;
        self.templates
            .get(slug)
            .cloned()
            .ok_or_else(|| HostError::fatal(format!("email template `{slug}` not found")))
    }

    fn email_send(&self, message: &EmailMessage) -> Result<String, HostError> {
        self.check("email")?;
        let mut emails = self.emails.borrow_mut();
        emails.push(message.clone());
        Ok(format!("fake-message-{}", emails.len()))
    }

    fn notify(&self, notification: &Notification) -> Result<String, HostError> {
        self.check("notify")?;
        let mut notifications = self.notifications.borrow_mut();
        notifications.push(notification.clone());
        Ok(format!("fake-notification-{}", notifications.len()))
    }
}

/// Runs `S` once with this config and context, as attempt 1 of step `step` of
/// run `run-test` at time 0. The config goes through JSON deserialization
/// exactly as inside Weft.
pub fn run_step<S: Step>(host: &FakeHost, config: Value, context: Value) -> Result<Outcome, StepError> {
    run_input::<S>(
        host,
        Input {
            run_id: "run-test".to_owned(),
            step_id: "step".to_owned(),
            attempt: 1,
            now_ms: 0,
            config,
            context,
        },
    )
}

/// Runs `S` once with a full input whose config is still JSON.
pub fn run_input<S: Step>(host: &FakeHost, input: Input<Value>) -> Result<Outcome, StepError> {
    let config =
        serde_json::from_value(input.config).map_err(|e| StepError::fatal(format!("config: {e}")))?;
    S::run(
        Input {
            run_id: input.run_id,
            step_id: input.step_id,
            attempt: input.attempt,
            now_ms: input.now_ms,
            config,
            context: input.context,
        },
        host,
    )
}

/// The JSON Schema the host will see for `S`'s config.
pub fn config_schema<S: Step>() -> Value {
    serde_json::to_value(schemars::schema_for!(S::Config)).unwrap_or(Value::Null)
}
