//! The `notify` capability: notifications stored in the database and published
//! to the subscribers (the SSE stream of the API) of this host and, through
//! the database's signals, of every other host.

use tokio::sync::broadcast;

use crate::runtime::capability::BoxFuture;
use crate::runtime::{NewNotification, NotifyBackend};
use crate::store::Store;
use crate::store::ids::{new_id, now_ms};
use crate::store::notifications::{self, NotificationRow, NotificationView};
use crate::store::signals::Signal;

/// Notifications a slow subscriber may lag behind before it misses some.
const CHANNEL_CAPACITY: usize = 1024;

/// Stores notifications and publishes each new one.
#[derive(Clone)]
pub struct Notifier {
    store: Store,
    tx: broadcast::Sender<NotificationView>,
}

impl Notifier {
    /// A notifier on the database, which also publishes the notifications
    /// other hosts make.
    pub fn new(store: Store) -> Self {
        let notifier = Self { store, tx: broadcast::channel(CHANNEL_CAPACITY).0 };
        tokio::spawn(notifier.clone().follow_other_hosts());
        notifier
    }

    async fn follow_other_hosts(self) {
        use tokio::sync::broadcast::error::RecvError;
        let mut signals = self.store.signals().subscribe();
        loop {
            match signals.recv().await {
                Ok(Signal::Notification(id)) => match notifications::get(self.store.pool(), &id).await {
                    Ok(Some(row)) => {
                        let _ = self.tx.send(row.view());
                    }
                    Ok(None) => {} // read and pruned already
                    Err(e) => tracing::warn!("reading another host's notification `{id}`: {e}"),
                },
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            }
        }
    }

    /// New notifications from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<NotificationView> {
        self.tx.subscribe()
    }

    async fn create_notification(&self, n: NewNotification) -> Result<String, String> {
        let row = NotificationRow {
            id: new_id(),
            title: n.title,
            body: n.body,
            level: n.level.to_owned(),
            link: n.link,
            data: n.data.map(|d| d.to_string()),
            workflow_id: Some(n.workflow_id).filter(|s| !s.is_empty()),
            run_id: Some(n.run_id).filter(|s| !s.is_empty()),
            step_id: Some(n.step_id).filter(|s| !s.is_empty()),
            created_at: now_ms() as i64,
            read_at: None,
        };
        notifications::insert(self.store.pool(), &row).await.map_err(|e| {
            tracing::error!("notifications: {e}");
            "notification store unavailable".to_owned()
        })?;
        // No subscriber is not an error: the row is stored.
        let _ = self.tx.send(row.view());
        self.store.signals().send(Signal::Notification(row.id.clone()));
        Ok(row.id)
    }
}

impl NotifyBackend for Notifier {
    fn create(&self, n: NewNotification) -> BoxFuture<'_, Result<String, String>> {
        Box::pin(self.create_notification(n))
    }
}
