//! `/api/notifications`: list (newest first, `unread=true` to filter), mark
//! read, and a Server-Sent Events stream of new notifications that resumes
//! from `Last-Event-ID`.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::time::Duration;

use axum::Extension;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::{Stream, StreamExt};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Principal;
use super::error::ApiError;
use super::page::{Page, Paged};
use crate::store::ids::now_ms;
use crate::store::notifications::{self, NotificationView};

/// Routes of this resource.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(stream)).routes(routes!(mark_read))
}

#[utoipa::path(get, path = "/api/notifications", tag = "notifications", summary = "List notifications, newest first",
    params(
        ("unread" = Option<bool>, Query, description = "Only unread ones"),
        ("page" = Option<i64>, Query, description = "From 1"),
        ("pageSize" = Option<i64>, Query, description = "1 to 200 (default 50)"),
    ),
    responses((status = 200, body = Paged<NotificationView>)))]
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

#[utoipa::path(post, path = "/api/notifications/{id}/read", tag = "notifications", summary = "Mark a notification read",
    params(("id" = String, Path)), responses((status = 200, body = NotificationView)))]
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

/// Most notifications replayed to a client that reconnects.
const REPLAY_LIMIT: i64 = 1_000;

fn event(n: &NotificationView) -> Event {
    Event::default().event("notification").id(n.id.clone()).json_data(n).unwrap_or_else(|e| {
        Event::default().event("error").data(format!("notification cannot be encoded: {e}"))
    })
}

/// Each notification created by any host from now on, as an SSE `notification`
/// event with the JSON of the notification. A client that reconnects with
/// `Last-Event-ID` first gets what was stored after that id (up to 1,000). A
/// `lagged` event tells a client that fell behind how many it missed (they are
/// in the list). The stream ends when the host stops.
#[utoipa::path(get, path = "/api/notifications/stream", tag = "notifications", summary = "Stream new notifications (SSE)",
    description = "Server-sent events: one `notification` event per new notification, its data the notification's JSON, \
its id the notification's. Reconnecting with `Last-Event-ID` first replays what came after it (up to 1,000).",
    params(("Last-Event-ID" = Option<String>, Header, description = "Resume after this notification")),
    responses((status = 200, description = "An event stream", content_type = "text/event-stream", body = String)))]
async fn stream(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    // Subscribe before reading the backlog, so nothing falls between the two.
    let live = BroadcastStream::new(state.notifier.subscribe());
    let backlog = match headers.get("last-event-id").and_then(|v| v.to_str().ok()) {
        Some(last) => notifications::after(state.store.pool(), last, REPLAY_LIMIT).await?,
        None => Vec::new(),
    };
    let replayed: HashSet<String> = backlog.iter().map(|r| r.id.clone()).collect();
    let backlog = tokio_stream::iter(backlog.into_iter().map(|row| Ok(event(&row.view()))));
    let live = live.filter_map(move |item| match item {
        Ok(n) if replayed.contains(&n.id) => None,
        Ok(n) => Some(Ok(event(&n))),
        Err(BroadcastStreamRecvError::Lagged(missed)) => {
            Some(Ok(Event::default().event("lagged").data(missed.to_string())))
        }
    });
    let events =
        futures_util::StreamExt::take_until(backlog.chain(live), super::stream_end(&state, principal));
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
