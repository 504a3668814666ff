//! What one host tells the others of its database, so they act at once
//! instead of on their next poll: a run changed (run streams), a run may be
//! claimed (schedulers), a run was cancelled (its driver), the plugins
//! changed (registries), a notification was made (notification streams).
//!
//! On PostgreSQL every host `LISTEN`s on one channel and sends with
//! `pg_notify` after its commit; PostgreSQL delivers to every listening
//! session, the sender's own included, which skips what it sent itself. On
//! SQLite there is one host, and nothing is sent. Signals are hints: the
//! schedulers, registries and run streams also poll slowly, and after a lost
//! connection (when signals may have been missed) every receiver is told
//! [`Signal::Missed`]. The notification stream has no poll: another host's
//! notification missed then is stored, not pushed.

use std::sync::Arc;

use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::{broadcast, watch};

/// The channel every host listens on.
const CHANNEL: &str = "weft";

/// Signals a slow receiver may lag behind; one that lags is told
/// [`Signal::Missed`].
const CAPACITY: usize = 4096;

/// What another host said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// Runs changed: the change feed has news.
    Runs,
    /// A run may be claimable now (a retry, a hand-back at a stop).
    Wake,
    /// This run was cancelled; its driver should drop its step in flight.
    Cancel(String),
    /// A plugin was installed or removed.
    Plugins,
    /// The notification of this id was made.
    Notification(String),
    /// Signals may have been lost (the connection dropped, or a receiver
    /// lagged): act as if everything changed.
    Missed,
}

impl Signal {
    fn encode(&self) -> String {
        match self {
            Signal::Runs => "runs".into(),
            Signal::Wake => "wake".into(),
            Signal::Cancel(id) => format!("cancel {id}"),
            Signal::Plugins => "plugins".into(),
            Signal::Notification(id) => format!("notification {id}"),
            Signal::Missed => "missed".into(),
        }
    }

    fn decode(text: &str) -> Option<Self> {
        let (kind, arg) = text.split_once(' ').unwrap_or((text, ""));
        Some(match kind {
            "runs" => Signal::Runs,
            "wake" => Signal::Wake,
            "cancel" if !arg.is_empty() => Signal::Cancel(arg.to_owned()),
            "plugins" => Signal::Plugins,
            "notification" if !arg.is_empty() => Signal::Notification(arg.to_owned()),
            _ => return None,
        })
    }
}

/// This host's end of the signals.
#[derive(Debug)]
pub struct Signals {
    /// Marks what this host sent, so it skips its own.
    origin: String,
    pg: Option<PgPool>,
    received: broadcast::Sender<Signal>,
    /// Run changes and wakes come in bursts: each is sent once per burst,
    /// by a task that sends again only after its last send.
    runs_out: watch::Sender<u64>,
    wake_out: watch::Sender<u64>,
}

impl Signals {
    /// Signals within this process only (SQLite: one host).
    pub fn local() -> Arc<Self> {
        Arc::new(Self::new(None))
    }

    fn new(pg: Option<PgPool>) -> Self {
        Self {
            origin: crate::store::ids::new_id(),
            pg,
            received: broadcast::channel(CAPACITY).0,
            runs_out: watch::Sender::new(0),
            wake_out: watch::Sender::new(0),
        }
    }

    /// Listens on PostgreSQL before it returns, so nothing sent after a
    /// host has started is missed.
    pub async fn listen(pool: PgPool) -> sqlx::Result<Arc<Self>> {
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen(CHANNEL).await?;
        let signals = Arc::new(Self::new(Some(pool)));
        tokio::spawn(receive(listener, Arc::downgrade(&signals)));
        tokio::spawn(send_bursts(signals.runs_out.subscribe(), Arc::downgrade(&signals), Signal::Runs));
        tokio::spawn(send_bursts(signals.wake_out.subscribe(), Arc::downgrade(&signals), Signal::Wake));
        Ok(signals)
    }

    /// What other hosts say from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Signal> {
        self.received.subscribe()
    }

    /// Tells the other hosts, after this host's commit.
    pub fn send(&self, signal: Signal) {
        match signal {
            Signal::Runs => self.runs_out.send_modify(|n| *n = n.wrapping_add(1)),
            Signal::Wake => self.wake_out.send_modify(|n| *n = n.wrapping_add(1)),
            signal => {
                if let Some(pool) = self.pg.clone() {
                    let payload = format!("{} {}", self.origin, signal.encode());
                    tokio::spawn(async move { notify(&pool, &payload).await });
                }
            }
        }
    }
}

impl Signals {
    /// Like [`Signals::send`], and returns once it is sent: for a host that
    /// is about to exit.
    pub async fn send_now(&self, signal: Signal) {
        if let Some(pool) = &self.pg {
            notify(pool, &format!("{} {}", self.origin, signal.encode())).await;
        }
    }
}

async fn notify(pool: &PgPool, payload: &str) {
    if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(payload).execute(pool).await {
        // The others still find the change on their next poll.
        tracing::warn!("signalling the other hosts: {e}");
    }
}

async fn send_bursts(mut bumps: watch::Receiver<u64>, signals: std::sync::Weak<Signals>, signal: Signal) {
    while bumps.changed().await.is_ok() {
        let Some(s) = signals.upgrade() else { return };
        let Some(pool) = s.pg.clone() else { return };
        let payload = format!("{} {}", s.origin, signal.encode());
        drop(s);
        notify(&pool, &payload).await;
    }
}

async fn receive(mut listener: PgListener, signals: std::sync::Weak<Signals>) {
    loop {
        let next = listener.try_recv().await;
        let Some(s) = signals.upgrade() else { return };
        let signal = match next {
            Ok(Some(n)) => {
                let Some((origin, text)) = n.payload().split_once(' ') else { continue };
                if origin == s.origin {
                    continue;
                }
                match Signal::decode(text) {
                    Some(signal) => signal,
                    None => continue, // from a newer Weft: its hosts also poll
                }
            }
            // The connection dropped; the next call reconnects.
            Ok(None) => Signal::Missed,
            Err(e) => {
                tracing::warn!("listening for the other hosts: {e}");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                Signal::Missed
            }
        };
        let _ = s.received.send(signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_signal_decodes_to_itself() {
        for signal in [
            Signal::Runs,
            Signal::Wake,
            Signal::Cancel("r1".into()),
            Signal::Plugins,
            Signal::Notification("n1".into()),
        ] {
            assert_eq!(Signal::decode(&signal.encode()), Some(signal));
        }
        assert_eq!(Signal::decode("cancel"), None);
        assert_eq!(Signal::decode("something-new x"), None);
    }
}
