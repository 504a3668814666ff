//! Host capabilities: one module per WIT interface the plugins import. Each
//! checks the caller's grants first; a guest mistake returns an error value,
//! only a host bug traps (the outer `wasmtime::Result`).

mod email;
mod grants;
mod http;
mod kv;
mod log;
mod notify;

use std::sync::Arc;

pub use grants::{Capability, Grants};

pub use super::bindings::weft::plugin::email::{
    EmailError, Message as EmailMessage, Rendered as RenderedEmail,
};
pub use super::bindings::weft::plugin::http::{
    HttpError, Request as HttpRequest, Response as HttpResponse, Signing,
};
use super::state::{Caller, StepState};

pub use weft_core::secrets::BoxFuture;

/// Durable storage behind the `kv` interface, namespaced by plugin name.
pub trait KvBackend: Send + Sync {
    /// The value of `key` in `namespace`.
    fn get<'a>(&'a self, namespace: &'a str, key: &'a str) -> BoxFuture<'a, Result<Option<String>, String>>;
    /// Stores `value` under `key`.
    fn set<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<(), String>>;
    /// Removes `key`.
    fn delete<'a>(&'a self, namespace: &'a str, key: &'a str) -> BoxFuture<'a, Result<(), String>>;
    /// Keys starting with `prefix`, ascending.
    fn list<'a>(&'a self, namespace: &'a str, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, String>>;
}

/// Outbound HTTP behind the `http` interface. The capability has checked the
/// grant; the backend checks the host list of `caller` again on every redirect.
pub trait HttpBackend: Send + Sync {
    /// Sends `req` and reads its response. `carried` are the secrets whose
    /// values `req` carries: every hop, redirects included, must go to a host
    /// each of them allows.
    fn send<'a>(
        &'a self,
        caller: &'a Caller,
        req: HttpRequest,
        carried: &'a [(String, super::secrets::Revealed)],
    ) -> BoxFuture<'a, Result<HttpResponse, HttpError>>;
}

/// Stored templates and the SMTP relay behind the `email` interface.
pub trait EmailBackend: Send + Sync {
    /// Renders the stored template `slug` with `data` (a JSON object).
    fn render<'a>(
        &'a self,
        slug: &'a str,
        data: serde_json::Value,
    ) -> BoxFuture<'a, Result<RenderedEmail, EmailError>>;
    /// Sends `msg`; returns its message id.
    fn send<'a>(&'a self, msg: EmailMessage) -> BoxFuture<'a, Result<String, EmailError>>;
}

/// A notification to store, with where it came from.
#[derive(Debug, Clone)]
pub struct NewNotification {
    /// Short title.
    pub title: String,
    /// Longer text.
    pub body: Option<String>,
    /// `info`, `success`, `warning` or `error`.
    pub level: &'static str,
    /// A link to open.
    pub link: Option<String>,
    /// Extra JSON data.
    pub data: Option<serde_json::Value>,
    /// The workflow of the run that created it.
    pub workflow_id: String,
    /// The run that created it.
    pub run_id: String,
    /// The step that created it.
    pub step_id: String,
}

/// The notification store behind the `notify` interface.
pub trait NotifyBackend: Send + Sync {
    /// Stores (and publishes) a notification; returns its id.
    fn create(&self, n: NewNotification) -> BoxFuture<'_, Result<String, String>>;
}

/// The implementations behind the capabilities. A capability without one
/// answers "not configured on this host" to plugins granted it.
#[derive(Default, Clone)]
pub struct Backends {
    /// The `kv` store.
    pub kv: Option<Arc<dyn KvBackend>>,
    /// Outbound HTTP.
    pub http: Option<Arc<dyn HttpBackend>>,
    /// Email templates and SMTP.
    pub email: Option<Arc<dyn EmailBackend>>,
    /// In-app notifications.
    pub notify: Option<Arc<dyn NotifyBackend>>,
    /// The secrets store, for handles.
    pub secrets: Option<Arc<dyn super::secrets::SecretsBackend>>,
}

fn not_configured(capability: Capability) -> String {
    format!("capability `{capability}` is not configured on this host")
}

impl super::bindings::weft::plugin::types::Host for StepState {}
