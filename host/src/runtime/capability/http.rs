//! `http`: outbound requests through the host's [`HttpBackend`](super::HttpBackend),
//! which checks destinations after DNS resolution, follows redirects itself,
//! caps sizes and time, and signs. Each call leaves a line in the step log.

use std::time::Instant;

use super::super::bindings::weft::plugin::http::{Host, HttpError, Request, Response};
use super::super::state::StepState;
use super::super::types::LogLevel;
use super::{Capability, not_configured};

fn refuse(message: String) -> wasmtime::Result<Result<Response, HttpError>> {
    Ok(Err(HttpError { message, retryable: false }))
}

impl Host for StepState {
    #[tracing::instrument(skip(self, req), fields(plugin = %self.caller.plugin, method = %req.method, url = %redact_url(&req.url)))]
    async fn send(&mut self, req: Request) -> wasmtime::Result<Result<Response, HttpError>> {
        if let Err(e) = self.caller.grants.check(&self.caller.plugin, Capability::Http) {
            return refuse(e);
        }
        let Some(host) = url_host(&req.url) else {
            return refuse(format!("url `{}` is not an absolute http(s) URL", redact_url(&req.url)));
        };
        if let Err(e) = self.caller.grants.check_http_host(&self.caller.plugin, &host) {
            return refuse(e);
        }
        let Some(backend) = self.backends.http.clone() else {
            return refuse(not_configured(Capability::Http));
        };
        let line = format!("http {} {}", req.method.to_ascii_uppercase(), redact_url(&req.url));
        let started = Instant::now();
        let result = backend.send(&self.caller, req).await;
        let ms = started.elapsed().as_millis();
        match &result {
            Ok(r) => self.host_log(
                LogLevel::Info,
                format!("{line} -> {} in {ms} ms ({} bytes)", r.status, r.body.len()),
            ),
            Err(e) => self.host_log(LogLevel::Warn, format!("{line} failed after {ms} ms: {}", e.message)),
        }
        Ok(result)
    }
}

/// The host name of an absolute `http`/`https` URL, without port or userinfo.
pub fn url_host(url: &str) -> Option<String> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit('@').next()?;
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        host_port.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// `url` with any userinfo replaced, for logs: credentials never reach them.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::{redact_url, url_host};

    #[test]
    fn url_host_strips_scheme_port_userinfo_and_path() {
        assert_eq!(url_host("https://user@API.example.com:8443/x?y"), Some("api.example.com".into()));
        assert_eq!(url_host("http://[::1]:80/"), Some("::1".into()));
        assert_eq!(url_host("ftp://example.com"), None);
        assert_eq!(url_host("http:///path"), None);
    }

    #[test]
    fn redact_url_hides_userinfo_only() {
        assert_eq!(redact_url("https://u:pw@h.example/a?b@c"), "https://***@h.example/a?b@c");
        assert_eq!(redact_url("https://h.example/a?b@c"), "https://h.example/a?b@c");
    }
}
