//! `http`: outbound requests. Gated by the grant (and its host list); the
//! transport itself arrives with the side-effects work, so until then a granted
//! call answers "not configured".

use super::super::bindings::weft::plugin::http::{Host, HttpError, Request, Response};
use super::super::state::StepState;
use super::{Capability, not_configured};

fn refuse(message: String) -> wasmtime::Result<Result<Response, HttpError>> {
    Ok(Err(HttpError { message, retryable: false }))
}

impl Host for StepState {
    #[tracing::instrument(skip(self, req), fields(plugin = %self.caller.plugin, method = %req.method, url = %req.url))]
    async fn send(&mut self, req: Request) -> wasmtime::Result<Result<Response, HttpError>> {
        if let Err(e) = self.caller.grants.check(&self.caller.plugin, Capability::Http) {
            return refuse(e);
        }
        let Some(host) = url_host(&req.url) else {
            return refuse(format!("url `{}` is not an absolute http(s) URL", req.url));
        };
        if let Err(e) = self.caller.grants.check_http_host(&self.caller.plugin, &host) {
            return refuse(e);
        }
        refuse(not_configured(Capability::Http))
    }
}

/// The host name of an absolute `http`/`https` URL, without port or userinfo.
pub(crate) fn url_host(url: &str) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::url_host;

    #[test]
    fn url_host_strips_scheme_port_userinfo_and_path() {
        assert_eq!(url_host("https://user@API.example.com:8443/x?y"), Some("api.example.com".into()));
        assert_eq!(url_host("http://[::1]:80/"), Some("::1".into()));
        assert_eq!(url_host("ftp://example.com"), None);
        assert_eq!(url_host("http:///path"), None);
    }
}
