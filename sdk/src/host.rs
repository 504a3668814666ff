//! The host interfaces a plugin can call, as one trait.

use serde_json::Value;

use crate::HostError;

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Very detailed.
    Trace,
    /// Detail for debugging.
    Debug,
    /// Normal progress.
    Info,
    /// Something odd that did not stop the step.
    Warn,
    /// Something failed.
    Error,
}

/// How the host signs an outbound request (Standard Webhooks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signing {
    /// With the host's configured webhook secret.
    HostSecret,
    /// With this `whsec_` secret.
    Secret(String),
}

/// An outbound HTTP request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpRequest {
    /// Method, e.g. `POST`.
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Headers, in order.
    pub headers: Vec<(String, String)>,
    /// Body, if any.
    pub body: Option<Vec<u8>>,
    /// Total time allowed (capped by the host).
    pub timeout_ms: Option<u32>,
    /// Sign the request, with a message id that stays the same across retries.
    pub sign: Option<(Signing, String)>,
}

/// The response to an [`HttpRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers, in order.
    pub headers: Vec<(String, String)>,
    /// Body (cut at the host's cap).
    pub body: Vec<u8>,
}

/// An email message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EmailMessage {
    /// Sender; the host's default when `None`.
    pub from: Option<String>,
    /// Recipients.
    pub to: Vec<String>,
    /// Carbon-copy recipients.
    pub cc: Vec<String>,
    /// Blind carbon-copy recipients.
    pub bcc: Vec<String>,
    /// Reply-To address.
    pub reply_to: Option<String>,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub text: Option<String>,
    /// HTML body.
    pub html: Option<String>,
}

/// A stored email template, rendered.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RenderedEmail {
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub text: Option<String>,
    /// HTML body.
    pub html: Option<String>,
}

/// Importance of a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NotificationLevel {
    /// Neutral news.
    #[default]
    Info,
    /// Something went well.
    Success,
    /// Needs attention.
    Warning,
    /// Something failed.
    Error,
}

/// An in-app notification.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Notification {
    /// Short title.
    pub title: String,
    /// Longer text.
    pub body: Option<String>,
    /// Importance.
    pub level: NotificationLevel,
    /// A link to open.
    pub link: Option<String>,
    /// Extra data.
    pub data: Option<Value>,
}

/// The host, as seen from a plugin. Every call except [`Host::log`] needs a
/// capability; a call without it returns a [`HostError`] naming the capability.
pub trait Host {
    /// Append a line to the attempt's log.
    fn log(&self, level: Level, message: &str);
    /// Read a key of the plugin's key-value store (`kv`).
    fn kv_get(&self, key: &str) -> Result<Option<String>, HostError>;
    /// Write a key (`kv`).
    fn kv_set(&self, key: &str, value: &str) -> Result<(), HostError>;
    /// Delete a key (`kv`).
    fn kv_delete(&self, key: &str) -> Result<(), HostError>;
    /// Keys starting with `prefix`, ascending (`kv`).
    fn kv_list(&self, prefix: &str) -> Result<Vec<String>, HostError>;
    /// Send an HTTP request (`http`).
    fn http_send(&self, request: &HttpRequest) -> Result<HttpResponse, HostError>;
    /// Render a stored email template with data (`email`).
    fn email_render(&self, slug: &str, data: &Value) -> Result<RenderedEmail, HostError>;
    /// Send an email; returns its message id (`email`).
    fn email_send(&self, message: &EmailMessage) -> Result<String, HostError>;
    /// Create a notification; returns its id (`notify`).
    fn notify(&self, notification: &Notification) -> Result<String, HostError>;
}
