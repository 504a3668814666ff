//! `email`: gated by the grant; the SMTP transport and stored templates arrive
//! with the side-effects work, so until then a granted call answers "not
//! configured".

use super::super::bindings::weft::plugin::email::{EmailError, Host, Message, Rendered};
use super::super::state::StepState;
use super::{Capability, not_configured};

impl StepState {
    fn email_gate(&self) -> EmailError {
        let message = match self.caller.grants.check(&self.caller.plugin, Capability::Email) {
            Err(e) => e,
            Ok(()) => not_configured(Capability::Email),
        };
        EmailError { message, retryable: false }
    }
}

impl Host for StepState {
    #[tracing::instrument(skip(self, _data), fields(plugin = %self.caller.plugin))]
    async fn render_template(
        &mut self,
        slug: String,
        _data: String,
    ) -> wasmtime::Result<Result<Rendered, EmailError>> {
        Ok(Err(self.email_gate()))
    }

    #[tracing::instrument(skip(self, _msg), fields(plugin = %self.caller.plugin))]
    async fn send(&mut self, _msg: Message) -> wasmtime::Result<Result<String, EmailError>> {
        Ok(Err(self.email_gate()))
    }
}
