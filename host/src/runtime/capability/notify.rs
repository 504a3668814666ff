//! `notify`: gated by the grant; the notification store arrives with the
//! side-effects work, so until then a granted call answers "not configured".

use super::super::bindings::weft::plugin::notify::{Host, Notification};
use super::super::state::StepState;
use super::{Capability, not_configured};

impl Host for StepState {
    #[tracing::instrument(skip(self, n), fields(plugin = %self.caller.plugin, title = %n.title))]
    async fn send(&mut self, n: Notification) -> wasmtime::Result<Result<String, String>> {
        if let Err(e) = self.caller.grants.check(&self.caller.plugin, Capability::Notify) {
            return Ok(Err(e));
        }
        Ok(Err(not_configured(Capability::Notify)))
    }
}
