//! `/api/notifications`: list (newest first, `unread=true` to filter), mark
//! read, and a Server-Sent Events stream of new notifications.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use super::AppState;
use super::error::ApiError;
use super::page::{Page, Paged};
use crate::store::ids::now_ms;
use crate::store::notifications::{self, NotificationView};

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/notifications", get(list))
        .route("/api/notifications/stream", get(stream))
        .route("/api/notifications/{id}/read", post(mark_read))
}

async fn list(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Paged<NotificationView>>, ApiError> {
    let page = Page::from_query(&query)?;
    let unread = match query.get("unread").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "query parameter `unread` must be true or false, got {other:?}"
            )));
        }
    };
    let (rows, total) = notifications::list(state.store.pool(), unread, page.size, page.offset()).await?;
    Ok(Json(Paged {
        data: rows.iter().map(|r| r.view()).collect(),
        page: page.page,
        page_size: page.size,
        total,
    }))
}

async fn mark_read(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<NotificationView>, ApiError> {
    let pool = state.store.pool();
    if !notifications::mark_read(pool, &id, now_ms() as i64).await? {
        return Err(ApiError::not_found("notification", &id));
    }
    let row = notifications::get(pool, &id).await?.ok_or_else(|| ApiError::not_found("notification", &id))?;
    Ok(Json(row.view()))
}

/// Each notification created by this host from now on, as an SSE `notification`
/// event with the JSON of the notification; a `lagged` event tells a client
/// that fell behind how many it missed (they are in the list).
async fn stream(
    State(state): State<AppState>,
) -> Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>> {
    let events = BroadcastStream::new(state.notifier.subscribe()).map(|item| {
        Ok(match item {
            Ok(n) => {
                let id = n.id.clone();
                Event::default().event("notification").id(id).json_data(&n).unwrap_or_else(|e| {
                    Event::default().event("error").data(format!("notification cannot be encoded: {e}"))
                })
            }
            Err(BroadcastStreamRecvError::Lagged(missed)) => {
                Event::default().event("lagged").data(missed.to_string())
            }
        })
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
