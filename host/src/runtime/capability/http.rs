//! `http`: outbound requests through the host's [`HttpBackend`](super::HttpBackend),
//! which checks destinations after DNS resolution, follows redirects itself,
//! caps sizes and time, and signs. Each call leaves a line in the step log.

use std::collections::BTreeSet;
use std::time::Instant;

use super::super::bindings::weft::plugin::http::{Host, HttpError, Request, Response, Signing};
use super::super::secrets::{BodyEncoding, HANDLE_PREFIX, Revealed, substitute};
use super::super::state::StepState;
use super::super::types::LogLevel;
use super::{Capability, not_configured};

fn refuse(message: String) -> wasmtime::Result<Result<Response, HttpError>> {
    Ok(Err(HttpError { message, retryable: false }))
}

impl Host for StepState {
    #[tracing::instrument(skip(self, req), fields(plugin = %self.caller.plugin, method = %req.method, url = %redact_url(&req.url)))]
    async fn send(&mut self, mut req: Request) -> wasmtime::Result<Result<Response, HttpError>> {
        if let Err(e) = self.caller.grants.check(&self.caller.plugin, Capability::Http) {
            return refuse(e);
        }
        let Some(host) = url_host(&req.url) else {
            return refuse(format!("url `{}` is not an absolute http(s) URL", redact_url(&req.url)));
        };
        if let Err(e) = self.caller.grants.check_http_host(&self.caller.plugin, &host) {
            return refuse(e);
        }
        if matches!(req.sign, Some((Signing::HostSecret, _)))
            && let Err(e) = self.caller.grants.check(&self.caller.plugin, Capability::Sign)
        {
            return refuse(e);
        }
        let Some(backend) = self.backends.http.clone() else {
            return refuse(not_configured(Capability::Http));
        };
        let carried = match self.swap_in_secrets(&mut req, &host).await {
            Ok(carried) => carried,
            Err(e) => return refuse(e),
        };
        let line = format!("http {} {}", req.method.to_ascii_uppercase(), redact_url(&req.url));
        let started = Instant::now();
        let mut result = backend.send(&self.caller, req, &carried).await;
        let ms = started.elapsed().as_millis();
        // What comes back may echo a value (a receiver reflecting a header,
        // now or on a later request): once the attempt revealed any value,
        // everything the plugin gets back is redacted.
        match &mut result {
            Ok(r) => {
                if self.secrets.any_revealed() {
                    let cut = r.headers.iter().any(|(n, _)| n == crate::effects::http::TRUNCATED_HEADER);
                    for (_, value) in &mut r.headers {
                        *value = self.secrets.redact(value).into_owned();
                    }
                    let body = std::mem::take(&mut r.body);
                    r.body = if cut {
                        self.secrets.redact_cut_tail(body)
                    } else {
                        self.secrets.redact_bytes(body)
                    };
                }
                self.host_log(
                    LogLevel::Info,
                    format!("{line} -> {} in {ms} ms ({} bytes)", r.status, r.body.len()),
                );
            }
            Err(e) => {
                e.message = self.secrets.redact(&e.message).into_owned();
                self.host_log(LogLevel::Warn, format!("{line} failed after {ms} ms: {}", e.message));
            }
        }
        Ok(result)
    }
}

impl StepState {
    /// Replaces the secret handles in `req` (headers, body, signing key) by
    /// their values, once each is known to be allowed toward `host`; returns
    /// the secrets the request now carries. Handles in the URL are refused:
    /// URLs are logged.
    async fn swap_in_secrets(
        &mut self,
        req: &mut Request,
        host: &str,
    ) -> Result<Vec<(String, Revealed)>, String> {
        let scope = self.secrets.clone();
        // A value the plugin learned (it should never see one) goes nowhere.
        let plain = std::iter::once(req.url.as_bytes())
            .chain(req.headers.iter().map(|(_, v)| v.as_bytes()))
            .chain(req.body.as_deref())
            .find_map(|text| scope.revealed_in(text));
        if let Some(name) = plain {
            return Err(format!("the request holds the value of secret `{name}`; send its handle instead"));
        }
        if let Some(found) = scope.find(&req.url)?.first() {
            return Err(format!(
                "secret `{}` is in the URL; a secret may go in a header or the body, not the URL",
                found.name
            ));
        }
        let mut names = BTreeSet::new();
        let mut header_hits = Vec::new();
        for (i, (_, value)) in req.headers.iter().enumerate() {
            let found = scope.find(value)?;
            if !found.is_empty() {
                names.extend(found.iter().map(|f| f.name.clone()));
                header_hits.push((i, found));
            }
        }
        let body_hits = match &req.body {
            Some(body) if contains(body, HANDLE_PREFIX.as_bytes()) => {
                let text = std::str::from_utf8(body)
                    .map_err(|_| "the body holds a secret handle but is not UTF-8 text".to_owned())?;
                let found = scope.find(text)?;
                names.extend(found.iter().map(|f| f.name.clone()));
                found
            }
            _ => Vec::new(),
        };
        let sign_name = match &req.sign {
            Some((Signing::Secret(key), _)) => match scope.find(key)?.as_slice() {
                [] => None,
                [one] if one.range == (0..key.len()) => Some(one.name.clone()),
                _ => return Err("a signing secret must be one secret handle and nothing else".to_owned()),
            },
            _ => None,
        };
        names.extend(sign_name.clone());
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let backend = self.backends.secrets.clone().ok_or_else(not_configured_secrets)?;
        let mut carried = Vec::with_capacity(names.len());
        for name in names {
            let revealed = match scope.revealed(&name) {
                Some(r) => r,
                None => {
                    let r = backend.reveal(&name).await?;
                    scope.remember(&name, &r);
                    r
                }
            };
            if !revealed.allows_host(host) {
                let allowed = if revealed.allowed_hosts.is_empty() {
                    "none".to_owned()
                } else {
                    revealed.allowed_hosts.join(", ")
                };
                return Err(format!(
                    "secret `{name}` may not be sent to `{host}` (its allowed hosts: {allowed})"
                ));
            }
            carried.push((name, revealed));
        }
        let value_of = |name: &str| carried.iter().find(|(n, _)| n == name).map(|(_, r)| r.value.clone());
        for (i, found) in header_hits {
            let (_, value) = &mut req.headers[i];
            *value = substitute(value, &found, |n| value_of(n).unwrap_or_default());
        }
        if !body_hits.is_empty()
            && let Some(body) = &mut req.body
        {
            let content_type = req
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
                .map(|(_, v)| v.as_str());
            let encoding = BodyEncoding::of(content_type);
            let text = String::from_utf8_lossy(body).into_owned();
            *body = substitute(&text, &body_hits, |n| encoding.encode(&value_of(n).unwrap_or_default()))
                .into_bytes();
        }
        if let (Some(name), Some((signing, _))) = (sign_name, &mut req.sign) {
            *signing = Signing::Secret(value_of(&name).unwrap_or_default());
        }
        Ok(carried)
    }
}

fn not_configured_secrets() -> String {
    "secrets are not configured on this host".to_owned()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
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
