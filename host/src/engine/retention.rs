//! The retention sweep: every `retention_sweep`, deletes (in small batches)
//! finished runs past their workflow's `retention` (or the host's
//! `--retention`), with their logs; notifications read longer ago than the
//! host's retention; and idempotency keys past their 24-hour window. Then a
//! SQLite database returns its free pages to the file system. Every host
//! sweeps; a run deleted twice is deleted once.

use std::sync::Arc;
use std::time::Duration;

use super::Engine;
use crate::store::ids::now_ms;
use crate::store::retention as store;

/// Rows deleted per statement.
const BATCH: i64 = 500;
/// Pause between two batches, for the hot path's writes.
const BREATHE: Duration = Duration::from_millis(10);

/// What one sweep deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Runs, with their logs.
    pub runs: u64,
    /// Read notifications.
    pub notifications: u64,
    /// Idempotency keys.
    pub keys: u64,
}

pub(super) async fn sweep_loop(engine: Arc<Engine>) {
    loop {
        tokio::select! {
            _ = engine.shutdown.cancelled() => return,
            _ = tokio::time::sleep(engine.config.retention_sweep) => {}
        }
        match sweep(&engine).await {
            Ok(swept) if swept != Swept::default() => tracing::info!(
                runs = swept.runs,
                notifications = swept.notifications,
                idempotency_keys = swept.keys,
                "retention: deleted what is past its keep"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!("retention sweep: {e}"),
        }
    }
}

/// One sweep; stops early when the host stops.
pub async fn sweep(engine: &Engine) -> sqlx::Result<Swept> {
    let pool = engine.store.pool();
    let now = now_ms() as i64;
    let mut swept = Swept::default();
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    // Workflows with a retention of their own; one that does not parse (it
    // was validated when saved) keeps its runs.
    let mut own = Vec::new();
    let mut exempt = Vec::new();
    for (id, text) in store::overrides(pool).await? {
        match weft_core::validate::parse_period(&text) {
            Ok(keep) => own.push((id.clone(), keep)),
            Err(e) => {
                tracing::warn!(workflow = %id, "retention {text:?} is not a duration ({e}); its runs are kept")
            }
        }
        exempt.push(id);
    }
    let mut groups: Vec<(Option<&str>, i64)> =
        own.iter().map(|(id, keep)| (Some(id.as_str()), now.saturating_sub(ms(*keep)))).collect();
    if let Some(keep) = engine.config.retention {
        groups.push((None, now.saturating_sub(ms(keep))));
    }
    for (workflow, cutoff) in groups {
        loop {
            if engine.shutdown.is_cancelled() {
                return Ok(swept);
            }
            let ids = store::finished_before(pool, workflow, &exempt, cutoff, BATCH).await?;
            swept.runs += store::delete_runs(pool, &ids, cutoff).await?;
            if (ids.len() as i64) < BATCH {
                break;
            }
            tokio::time::sleep(BREATHE).await;
        }
    }
    if let Some(keep) = engine.config.retention {
        let cutoff = now.saturating_sub(ms(keep));
        loop {
            let deleted = store::delete_read_notifications(pool, cutoff, BATCH).await?;
            swept.notifications += deleted;
            if (deleted as i64) < BATCH || engine.shutdown.is_cancelled() {
                break;
            }
            tokio::time::sleep(BREATHE).await;
        }
    }
    let cutoff = now.saturating_sub(ms(super::IDEMPOTENCY_WINDOW));
    loop {
        let deleted = store::delete_idempotency_keys(pool, cutoff, BATCH).await?;
        swept.keys += deleted;
        if (deleted as i64) < BATCH || engine.shutdown.is_cancelled() {
            break;
        }
        tokio::time::sleep(BREATHE).await;
    }
    if swept != Swept::default() {
        store::reclaim(pool).await?;
    }
    Ok(swept)
}
