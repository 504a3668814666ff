//! `notify`: in-app notifications through the host's
//! [`NotifyBackend`](super::NotifyBackend), stamped with the calling run.

use super::super::bindings::weft::plugin::notify::{Host, Level, Notification};
use super::super::state::StepState;
use super::super::types::LogLevel;
use super::{Capability, NewNotification, not_configured};

/// Largest title, body or link, bytes.
pub const MAX_TEXT_BYTES: usize = 16 * 1024;
/// Largest `data`, bytes of JSON.
pub const MAX_DATA_BYTES: usize = 64 * 1024;

fn check(n: &Notification) -> Result<Option<serde_json::Value>, String> {
    if n.title.trim().is_empty() {
        return Err("notification title must not be empty".into());
    }
    for (field, len) in [
        ("title", n.title.len()),
        ("body", n.body.as_ref().map_or(0, String::len)),
        ("link", n.link.as_ref().map_or(0, String::len)),
    ] {
        if len > MAX_TEXT_BYTES {
            return Err(format!("notification {field} of {len} bytes exceeds {MAX_TEXT_BYTES} bytes"));
        }
    }
    match &n.data {
        None => Ok(None),
        Some(text) if text.len() > MAX_DATA_BYTES => {
            Err(format!("notification data of {} bytes exceeds {MAX_DATA_BYTES} bytes", text.len()))
        }
        Some(text) => {
            serde_json::from_str(text).map(Some).map_err(|e| format!("notification data is not JSON: {e}"))
        }
    }
}

impl Host for StepState {
    #[tracing::instrument(skip(self, n), fields(plugin = %self.caller.plugin, title = %n.title))]
    async fn send(&mut self, n: Notification) -> wasmtime::Result<Result<String, String>> {
        if let Err(e) = self.caller.grants.check(&self.caller.plugin, Capability::Notify) {
            return Ok(Err(e));
        }
        let Some(backend) = self.backends.notify.clone() else {
            return Ok(Err(not_configured(Capability::Notify)));
        };
        let data = match check(&n) {
            Ok(data) => data,
            Err(e) => return Ok(Err(e)),
        };
        let level = match n.level {
            Level::Info => "info",
            Level::Success => "success",
            Level::Warning => "warning",
            Level::Error => "error",
        };
        let title = n.title.clone();
        let result = backend
            .create(NewNotification {
                title: n.title,
                body: n.body,
                level,
                link: n.link,
                data,
                workflow_id: self.origin.workflow_id.clone(),
                run_id: self.origin.run_id.clone(),
                step_id: self.origin.step_id.clone(),
            })
            .await;
        match &result {
            Ok(id) => self.host_log(LogLevel::Info, format!("notification {id} created: {title:?}")),
            Err(e) => self.host_log(LogLevel::Warn, format!("notification {title:?} failed: {e}")),
        }
        Ok(result)
    }
}
