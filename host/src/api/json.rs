//! The JSON body extractor: 400 for malformed JSON, 413 over the size limit,
//! 422 naming the field for JSON of the wrong shape.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// Largest request body, bytes.
pub const BODY_LIMIT: usize = 1 << 20;

/// A JSON body deserialized into `T`.
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let JsonBytes(bytes) = JsonBytes::from_request(req, state).await?;
        parse(&bytes).map(Json)
    }
}

/// A raw body that says it is JSON (or says nothing): 415 for another
/// content type, so that a form or text is never read as JSON by accident.
pub struct JsonBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let declared =
            req.headers().get(axum::http::header::CONTENT_TYPE).map(|v| v.to_str().unwrap_or("?").to_owned());
        // Read first: an answer with the body unread drops a keep-alive connection.
        let Body(bytes) = Body::from_request(req, state).await?;
        if let Some(declared) = declared {
            let essence = declared.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
            if essence != "application/json" && !essence.ends_with("+json") {
                return Err(ApiError::new(
                    axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    format!("content-type `{declared}`: send the body as application/json"),
                ));
            }
        }
        Ok(JsonBytes(bytes))
    }
}

/// Parses a body: syntax errors are 400, shape errors 422 with the path.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        if path == "." {
            ApiError::invalid(message)
        } else {
            ApiError::invalid(format!("field `{path}`: {message}"))
                .with_details(serde_json::json!([{ "field": path, "message": message }]))
        }
    })
}

/// A raw body within the size limit: 413 in the API's error format when over.
pub struct Body(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state).await.map(Body).map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::too_large(BODY_LIMIT)
            } else {
                ApiError::bad_request(e.body_text())
            }
        })
    }
}
