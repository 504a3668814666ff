//! [`Host`] over the component's imports: what a plugin talks to inside Weft.

use serde_json::Value;

use crate::bindings::weft::plugin::{email, http, kv, log, notify};
use crate::{
    EmailMessage, Host, HostError, HttpRequest, HttpResponse, Level, Notification, NotificationLevel,
    RenderedEmail, Signing,
};

/// The real host, reached through the `weft:plugin` imports.
pub(crate) struct WitHost;

fn plain(message: String) -> HostError {
    HostError { message, retryable: false }
}

impl Host for WitHost {
    fn log(&self, level: Level, message: &str) {
        let level = match level {
            Level::Trace => log::Level::Trace,
            Level::Debug => log::Level::Debug,
            Level::Info => log::Level::Info,
            Level::Warn => log::Level::Warn,
            Level::Error => log::Level::Error,
        };
        log::log(level, message);
    }

    fn kv_get(&self, key: &str) -> Result<Option<String>, HostError> {
        kv::get(key).map_err(plain)
    }

    fn kv_set(&self, key: &str, value: &str) -> Result<(), HostError> {
        kv::set(key, value).map_err(plain)
    }

    fn kv_delete(&self, key: &str) -> Result<(), HostError> {
        kv::delete(key).map_err(plain)
    }

    fn kv_list(&self, prefix: &str) -> Result<Vec<String>, HostError> {
        kv::list_keys(prefix).map_err(plain)
    }

    fn http_send(&self, request: &HttpRequest) -> Result<HttpResponse, HostError> {
        let sign = request.sign.as_ref().map(|(signing, id)| {
            let signing = match signing {
                Signing::HostSecret => http::Signing::HostSecret,
                Signing::Secret(s) => http::Signing::Secret(s.clone()),
            };
            (signing, id.clone())
        });
        let req = http::Request {
            method: request.method.clone(),
            url: request.url.clone(),
            headers: request.headers.clone(),
            body: request.body.clone(),
            timeout_ms: request.timeout_ms,
            sign,
        };
        http::send(&req)
            .map(|r| HttpResponse { status: r.status, headers: r.headers, body: r.body })
            .map_err(|e| HostError { message: e.message, retryable: e.retryable })
    }

    fn email_render(&self, slug: &str, data: &Value) -> Result<RenderedEmail, HostError> {
        email::render_template(slug, &data.to_string())
            .map(|r| RenderedEmail { subject: r.subject, text: r.text, html: r.html })
            .map_err(|e| HostError { message: e.message, retryable: e.retryable })
    }

    fn email_send(&self, message: &EmailMessage) -> Result<String, HostError> {
        let msg = email::Message {
            from: message.from.clone(),
            to: message.to.clone(),
            cc: message.cc.clone(),
            bcc: message.bcc.clone(),
            reply_to: message.reply_to.clone(),
            subject: message.subject.clone(),
            text: message.text.clone(),
            html: message.html.clone(),
        };
        email::send(&msg).map_err(|e| HostError { message: e.message, retryable: e.retryable })
    }

    fn notify(&self, notification: &Notification) -> Result<String, HostError> {
        let level = match notification.level {
            NotificationLevel::Info => notify::Level::Info,
            NotificationLevel::Success => notify::Level::Success,
            NotificationLevel::Warning => notify::Level::Warning,
            NotificationLevel::Error => notify::Level::Error,
        };
        let n = notify::Notification {
            title: notification.title.clone(),
            body: notification.body.clone(),
            level,
            link: notification.link.clone(),
            data: notification.data.as_ref().map(Value::to_string),
        };
        notify::send(&n).map_err(plain)
    }
}
