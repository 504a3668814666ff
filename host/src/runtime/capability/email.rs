//! `email`: stored templates and the SMTP relay, through the host's
//! [`EmailBackend`](super::EmailBackend). Each send leaves a line in the step log.

use super::super::bindings::weft::plugin::email::{EmailError, Host, Message, Rendered};
use super::super::state::StepState;
use super::super::types::LogLevel;
use super::{Capability, EmailBackend, not_configured};

impl StepState {
    fn email_ready(&self) -> Result<std::sync::Arc<dyn EmailBackend>, EmailError> {
        let refuse = |message| EmailError { message, retryable: false };
        self.caller.grants.check(&self.caller.plugin, Capability::Email).map_err(refuse)?;
        self.backends.email.clone().ok_or_else(|| refuse(not_configured(Capability::Email)))
    }
}

impl Host for StepState {
    #[tracing::instrument(skip(self, data), fields(plugin = %self.caller.plugin))]
    async fn render_template(
        &mut self,
        slug: String,
        data: String,
    ) -> wasmtime::Result<Result<Rendered, EmailError>> {
        let backend = match self.email_ready() {
            Ok(backend) => backend,
            Err(e) => return Ok(Err(e)),
        };
        let data = match serde_json::from_str::<serde_json::Value>(&data) {
            Ok(data @ serde_json::Value::Object(_)) => data,
            Ok(_) => {
                let message = "template data must be a JSON object".to_owned();
                return Ok(Err(EmailError { message, retryable: false }));
            }
            Err(e) => {
                let message = format!("template data is not JSON: {e}");
                return Ok(Err(EmailError { message, retryable: false }));
            }
        };
        Ok(backend.render(&slug, data).await)
    }

    #[tracing::instrument(skip(self, msg), fields(plugin = %self.caller.plugin))]
    async fn send(&mut self, msg: Message) -> wasmtime::Result<Result<String, EmailError>> {
        let backend = match self.email_ready() {
            Ok(backend) => backend,
            Err(e) => return Ok(Err(e)),
        };
        let recipients = msg.to.len() + msg.cc.len() + msg.bcc.len();
        let line = format!("email to {} ({recipients} recipients): {:?}", msg.to.join(", "), msg.subject);
        let result = backend.send(msg).await;
        match &result {
            Ok(id) => self.host_log(LogLevel::Info, format!("{line} sent as {id}")),
            Err(e) => self.host_log(LogLevel::Warn, format!("{line} failed: {}", e.message)),
        }
        Ok(result)
    }
}
