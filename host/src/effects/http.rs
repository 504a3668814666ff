//! The `http` capability on reqwest. Every connection goes to an address that
//! passed the [`AllowList`] check after DNS resolution (a resolver that only
//! hands reqwest checked addresses, so DNS rebinding cannot slip past it);
//! redirects are followed here, not by reqwest, so each hop is checked against
//! the plugin's host grants too. Proxies from the environment are ignored:
//! they would hide the real destination.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{
    AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HeaderMap, HeaderName, HeaderValue, LOCATION,
};
use reqwest::{Method, Url};

use super::net::{AllowList, Refused};
use super::signing::SigningKey;
use crate::runtime::capability::BoxFuture;
use crate::runtime::{Caller, HttpBackend, HttpError, HttpRequest, HttpResponse, Revealed, Signing};

/// Limits and settings of outbound HTTP.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Special-purpose destinations the operator allows.
    pub allow: AllowList,
    /// The host's webhook signing secret.
    pub secret: Option<SigningKey>,
    /// Largest request body, bytes.
    pub max_request_bytes: usize,
    /// Largest response body kept, bytes; the rest is cut.
    pub max_response_bytes: usize,
    /// Time allowed when the request names none.
    pub default_timeout: Duration,
    /// Most time a request may ask for.
    pub max_timeout: Duration,
    /// Most redirects followed.
    pub max_redirects: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            allow: AllowList::default(),
            secret: None,
            max_request_bytes: 1 << 20,
            max_response_bytes: 1 << 20,
            default_timeout: Duration::from_secs(10),
            max_timeout: Duration::from_secs(60),
            max_redirects: 5,
        }
    }
}

/// Header added when the response body was cut at the cap.
pub const TRUNCATED_HEADER: &str = "x-weft-body-truncated";

/// The `http` backend.
pub struct HttpClient {
    client: reqwest::Client,
    config: Arc<HttpConfig>,
}

/// Resolves with the system resolver and keeps only allowed addresses.
struct CheckedResolver {
    allow: AllowList,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = self.allow.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refused = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|addr| match allow.check(&host, addr.ip()) {
                    Ok(()) => true,
                    Err(e) => {
                        refused.get_or_insert(e);
                        false
                    }
                })
                .collect();
            match (allowed.is_empty(), refused) {
                (true, Some(refused)) => Err(Box::new(refused) as Box<dyn std::error::Error + Send + Sync>),
                _ => Ok(Box::new(allowed.into_iter()) as Addrs),
            }
        })
    }
}

fn fatal(message: String) -> HttpError {
    HttpError { message, retryable: false }
}

impl HttpClient {
    /// A client with `config`.
    pub fn new(config: HttpConfig) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(CheckedResolver { allow: config.allow.clone() }))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("weft/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client, config: Arc::new(config) })
    }

    async fn send_request(
        &self,
        caller: &Caller,
        req: HttpRequest,
        carried: &[(String, Revealed)],
    ) -> Result<HttpResponse, HttpError> {
        let method = Method::from_bytes(req.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| fatal(format!("`{}` is not an HTTP method", req.method)))?;
        let url = Url::parse(&req.url).map_err(|e| fatal(format!("url is not valid: {e}")))?;
        let body = req.body;
        let body_len = body.as_ref().map_or(0, Vec::len);
        if body_len > self.config.max_request_bytes {
            return Err(fatal(format!(
                "request body of {body_len} bytes exceeds the cap of {} bytes",
                self.config.max_request_bytes
            )));
        }
        let mut headers = HeaderMap::new();
        for (name, value) in &req.headers {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| fatal(format!("header name `{name}` is not valid")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| fatal(format!("value of header `{name}` is not valid")))?;
            headers.append(header, value);
        }
        if let Some((signing, id)) = &req.sign {
            let key = match signing {
                Signing::HostSecret => self.config.secret.clone(),
                Signing::Secret(secret) => Some(SigningKey::parse(secret).map_err(fatal)?),
            };
            if let Some(key) = key {
                let timestamp =
                    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
                let signature = key.sign(id, timestamp, body.as_deref().unwrap_or_default());
                let id = HeaderValue::from_str(id)
                    .map_err(|_| fatal(format!("webhook id `{id}` is not valid")))?;
                headers.insert("webhook-id", id);
                headers.insert("webhook-timestamp", HeaderValue::from(timestamp));
                // Base64 is always a valid header value.
                if let Ok(signature) = HeaderValue::from_str(&signature) {
                    headers.insert("webhook-signature", signature);
                }
            }
        }
        let timeout = req
            .timeout_ms
            .map_or(self.config.default_timeout, |ms| Duration::from_millis(u64::from(ms)))
            .min(self.config.max_timeout);
        let exchange = self.follow(caller, carried, method, url, headers, body);
        match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(HttpError {
                message: format!("no complete response within {} ms", timeout.as_millis()),
                retryable: true,
            }),
        }
    }

    /// Sends, following redirects, each hop checked.
    async fn follow(
        &self,
        caller: &Caller,
        carried: &[(String, Revealed)],
        mut method: Method,
        mut url: Url,
        mut headers: HeaderMap,
        mut body: Option<Vec<u8>>,
    ) -> Result<HttpResponse, HttpError> {
        let mut hops = 0;
        loop {
            self.check_url(caller, &url)?;
            // A redirect must not take a secret's value where it may not go.
            let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
            if let Some((name, _)) = carried.iter().find(|(_, r)| !r.allows_host(host)) {
                return Err(fatal(format!(
                    "secret `{name}` may not be sent to `{host}`, where a redirect led"
                )));
            }
            let mut request = self.client.request(method.clone(), url.clone()).headers(headers.clone());
            if let Some(body) = &body {
                request = request.body(body.clone());
            }
            let response = request.send().await.map_err(|e| transport_error(&url, &e))?;
            let status = response.status();
            let location = response.headers().get(LOCATION).and_then(|l| l.to_str().ok());
            let Some(location) = location.filter(|_| status.is_redirection()) else {
                return self.read(response).await;
            };
            hops += 1;
            if hops > self.config.max_redirects {
                return Err(fatal(format!("more than {} redirects", self.config.max_redirects)));
            }
            let next = url
                .join(location)
                .map_err(|e| fatal(format!("redirect to `{location}` is not a valid URL: {e}")))?;
            // 303 always, and 301/302 after POST, turn into a GET without body.
            let to_get =
                status.as_u16() == 303 || (matches!(status.as_u16(), 301 | 302) && method == Method::POST);
            if to_get {
                method = if method == Method::HEAD { Method::HEAD } else { Method::GET };
                body = None;
                headers.remove(CONTENT_TYPE);
                headers.remove(CONTENT_LENGTH);
            }
            // A secret sent over TLS is not resent in the clear.
            if !carried.is_empty() && url.scheme() == "https" && next.scheme() != "https" {
                return Err(fatal(format!(
                    "a redirect from https to `{}` would send secret `{}` unencrypted",
                    next.scheme(),
                    carried[0].0
                )));
            }
            if next.origin() != url.origin() {
                headers.remove(AUTHORIZATION);
                headers.remove(COOKIE);
            }
            url = next;
        }
    }

    /// The scheme, the plugin's host grants and, for an address literal, the
    /// allow-list; names are checked by the resolver.
    fn check_url(&self, caller: &Caller, url: &Url) -> Result<(), HttpError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(fatal(format!("url scheme `{}` is not http or https", url.scheme())));
        }
        let host = url.host_str().ok_or_else(|| fatal("url has no host".into()))?;
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        caller.grants.check_http_host(&caller.plugin, bare).map_err(fatal)?;
        if let Ok(ip) = bare.parse::<IpAddr>() {
            self.config.allow.check(bare, ip).map_err(|e| fatal(e.0))?;
        }
        Ok(())
    }

    async fn read(&self, mut response: reqwest::Response) -> Result<HttpResponse, HttpError> {
        let status = response.status().as_u16();
        let mut headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let cap = self.config.max_response_bytes;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| transport_error(response.url(), &e))? {
            let room = cap - body.len();
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                headers.push((TRUNCATED_HEADER.to_owned(), cap.to_string()));
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse { status, headers, body })
    }
}

/// A transport failure as the plugin sees it: a refused destination is final
/// and says why; timeouts and connection failures may pass.
fn transport_error(url: &Url, e: &reqwest::Error) -> HttpError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut root = e.to_string();
    while let Some(err) = source {
        if let Some(refused) = err.downcast_ref::<Refused>() {
            return fatal(refused.0.clone());
        }
        root = err.to_string();
        source = err.source();
    }
    let host = url.host_str().unwrap_or_default();
    if e.is_builder() {
        return fatal(format!("request to {host} is not valid: {root}"));
    }
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "transport error"
    };
    HttpError { message: format!("{host}: {what}: {root}"), retryable: true }
}

impl HttpBackend for HttpClient {
    fn send<'a>(
        &'a self,
        caller: &'a Caller,
        req: HttpRequest,
        carried: &'a [(String, Revealed)],
    ) -> BoxFuture<'a, Result<HttpResponse, HttpError>> {
        Box::pin(self.send_request(caller, req, carried))
    }
}
