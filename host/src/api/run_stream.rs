//! `GET /api/workflow-runs/stream`: Server-Sent Events of run changes, read
//! from the change feed (`run_changes`, numbered in the same transaction as
//! each change), so a client that reconnects with `Last-Event-ID` gets every
//! run that changed while it was away, as it stands now. This host's commits wake the stream;
//! a slow tick picks up what other hosts on the same database commit.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::time::Duration;

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use serde_json::Value;

use super::AppState;
use super::auth::Principal;
use super::error::ApiError;
use super::runs::view;
use crate::store::Store;
use crate::store::runs::{self, RunRow};

/// Changes read from the database at a time.
const BATCH: i64 = 200;
/// How often the feed is read without a wake from this host.
const TICK: Duration = Duration::from_secs(1);
/// Time given to a burst of commits to settle before the feed is read, so a
/// busy host reads it a few times a second, not once per commit.
const SETTLE: Duration = Duration::from_millis(25);

struct Feed {
    store: Store,
    after: i64,
    workflow_id: Option<String>,
    run_id: Option<String>,
    wake: tokio::sync::watch::Receiver<u64>,
    pending: VecDeque<(i64, RunRow)>,
}

/// An SSE `run` event each time a run changes (optionally only runs of one
/// workflow, or one run): `id` is the change number, the data the run as
/// the runs list shows it (no context) with `changeSeq`; changes that come
/// together are sent once per run. Without `Last-Event-ID` it starts from
/// now. The stream ends when the host begins to stop.
#[utoipa::path(get, path = "/api/workflow-runs/stream", tag = "runs", summary = "Stream run changes (SSE)",
    description = "Server-sent events: a `run` event each time a run changes, its id the change number, its data \
the run as the list shows it with `changeSeq`. Reconnect with `Last-Event-ID` to get every run that changed meanwhile.",
    params(
        ("workflowId" = Option<String>, Query, description = "Only runs of this workflow"),
        ("runId" = Option<String>, Query, description = "Only this run"),
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this change number"),
    ),
    responses((status = 200, description = "An event stream", content_type = "text/event-stream", body = String)))]
pub async fn stream(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let wake = state.store.watch_runs();
    let after = match headers.get("last-event-id") {
        Some(value) => value.to_str().ok().and_then(|v| v.trim().parse::<i64>().ok()).ok_or_else(|| {
            ApiError::bad_request("header `Last-Event-ID`: must be a change number from this stream")
        })?,
        None => runs::change_bounds(&mut state.store.pool().begin_read().await?).await?.0,
    };
    let feed = Feed {
        store: state.store.clone(),
        after,
        workflow_id: query.get("workflowId").cloned(),
        run_id: query.get("runId").cloned(),
        wake,
        pending: VecDeque::new(),
    };
    let events = stream::unfold(feed, next_event);
    let events = futures_util::StreamExt::take_until(events, super::stream_end(&state, principal));
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

async fn next_event(mut feed: Feed) -> Option<(Result<Event, Infallible>, Feed)> {
    loop {
        if let Some((seq, run)) = feed.pending.pop_front() {
            return Some((Ok(event(seq, &run)), feed));
        }
        match read(&mut feed).await {
            Ok(Read::Reset(event)) => return Some((Ok(event), feed)),
            // The window moved (maybe past changes another filter wants):
            // read on without waiting.
            Ok(Read::Moved) => continue,
            Ok(Read::CaughtUp) => {}
            Err(e) => tracing::warn!("reading the run change feed: {e}"),
        }
        tokio::select! {
            changed = feed.wake.changed() => {
                if changed.is_err() {
                    return None;
                }
                tokio::time::sleep(SETTLE).await;
            }
            _ = tokio::time::sleep(TICK) => {}
        }
    }
}

enum Read {
    /// Nothing after `after`.
    CaughtUp,
    /// `after` moved on; what matched the filters is in `pending`.
    Moved,
    /// The client must reload what it shows.
    Reset(Event),
}

/// Reads the next window of the feed into `pending`, in one read
/// transaction, so a prune between its reads cannot hide changes. A client
/// that resumes from before the oldest change kept, or from a number the
/// feed never reached (a restored database), gets a `reset` event instead
/// (it should reload what it shows) and goes on from the newest.
async fn read(feed: &mut Feed) -> sqlx::Result<Read> {
    let mut tx = feed.store.pool().begin_read().await?;
    let upto = runs::window_end(&mut tx, feed.after, BATCH).await?;
    let (newest, oldest) = runs::change_bounds(&mut tx).await?;
    if feed.after > newest || (upto != feed.after && feed.after < oldest - 1) {
        feed.after = newest;
        return Ok(Read::Reset(Event::default().event("reset").id(newest.to_string()).data("{}")));
    }
    if upto == feed.after {
        return Ok(Read::CaughtUp);
    }
    let changes =
        runs::changes_between(&mut tx, feed.after, upto, feed.workflow_id.as_deref(), feed.run_id.as_deref())
            .await?;
    tx.commit().await?;
    feed.after = upto;
    feed.pending.extend(changes);
    Ok(Read::Moved)
}

fn event(seq: i64, run: &RunRow) -> Event {
    let mut data = serde_json::to_value(view(run, None)).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut data {
        map.remove("context");
        map.insert("changeSeq".into(), seq.into());
    }
    Event::default().event("run").id(seq.to_string()).data(data.to_string())
}
