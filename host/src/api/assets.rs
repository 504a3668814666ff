//! The web UI: the built files of `ui/` (committed in `host/assets/ui`),
//! embedded in the binary and served at `/`. Hashed files under `assets/`
//! are cached for a year; `index.html` is revalidated by its ETag. Any
//! other path that is not the API's answers `index.html`, so the page's
//! own routes load on a reload, while `/api/...` and `/hooks/...` keep
//! their JSON 404s.

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use super::error::ApiError;

#[derive(RustEmbed)]
#[folder = "assets/ui/"]
struct Ui;

/// The page may load only what the host itself serves: no CDN, no outside
/// fonts, no inline scripts.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'";

/// Headers every response of the host carries. A route with a stricter
/// policy of its own (the inbound hooks) keeps it.
pub fn security_headers(headers: &mut HeaderMap) {
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

/// Serves a file of the UI, `index.html` for the page's own routes, or the
/// API's 404 for what belongs to the API.
pub async fn serve(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    let api = path == "/api" || path.starts_with("/api/") || path == "/hooks" || path.starts_with("/hooks/");
    if api || !matches!(method, Method::GET | Method::HEAD) {
        return ApiError::not_found("route", &format!("{method} {path}")).into_response();
    }
    let name = path.trim_start_matches('/');
    let name = if name.is_empty() { "index.html" } else { name };
    if let Some(file) = Ui::get(name) {
        return file_response(name, file, &headers);
    }
    // A missing hashed file is a 404, not the page: a stale tab must not
    // parse HTML as a script.
    if name.starts_with("assets/") {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    match Ui::get("index.html") {
        Some(file) => file_response("index.html", file, &headers),
        None => (StatusCode::NOT_FOUND, "the web UI is not built into this host").into_response(),
    }
}

fn file_response(name: &str, file: rust_embed::EmbeddedFile, request: &HeaderMap) -> Response {
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let cache = if name.starts_with("assets/") { "public, max-age=31536000, immutable" } else { "no-cache" };
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if fresh {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    if let Ok(v) = HeaderValue::from_str(file.metadata.mimetype()) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    (headers, file.data.into_owned()).into_response()
}
