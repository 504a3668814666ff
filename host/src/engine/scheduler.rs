//! Wakes due runs, fires cron workflows, and keeps this host's leases alive.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::Engine;
use super::cron::Schedule;
use super::definition::Trigger;
use super::executor;
use crate::store::ids::{iso, now_ms};
use crate::store::{runs, workflows};

/// Most runs claimed in one pass.
const CLAIM_BATCH: i64 = 256;

/// The longest the scheduler sleeps between passes. It wakes earlier for
/// the earliest wake, lapsing lease or cron fire in the database, for this
/// host's own new waits, retries and cron edits, and for other hosts'
/// signals; this pass is the safety net for a signal that was lost.
pub const SAFETY_POLL: Duration = Duration::from_secs(1);

pub(crate) fn spawn(engine: Arc<Engine>) {
    // Names this host in `leaseOwner`, for an operator reading the runs table.
    tracing::info!("lease owner id of this host: {}", engine.config.node_id);
    let tasks = engine.tasks.clone();
    let e = engine.clone();
    tasks.spawn(async move { claim_loop(e).await });
    let (store, runtime, stop) = (engine.store.clone(), engine.runtime.clone(), engine.shutdown.clone());
    tasks.spawn(super::plugins::follow(store, runtime, stop));
    tasks.spawn(prune_feed(engine.clone()));
    tasks.spawn(super::retention::sweep_loop(engine.clone()));
    // Not tracked: it must outlive the drivers the tracker waits for.
    tokio::spawn(lease_loop(engine));
}

async fn claim_loop(engine: Arc<Engine>) {
    // Whether the last pass claimed nothing, found a run due and went again
    // at once.
    let mut retried = false;
    loop {
        let claimed = claim_once(&engine).await;
        if let Err(e) = fire_cron(&engine).await {
            tracing::error!("cron: {e}");
        }
        if claimed >= CLAIM_BATCH as usize {
            continue; // more may be due
        }
        let now = now_ms() as i64;
        let pause = match runs::next_due(engine.store.pool()).await {
            // Due and not claimed: it came due since the claim (go again at
            // once while claims make progress, and once more after one that
            // claimed nothing), or the slots are full or this host drives it
            // (poll).
            Ok(Some(due)) if due <= now => {
                let again = claimed > 0 || !retried;
                retried = claimed == 0;
                if again { Duration::ZERO } else { engine.config.poll }
            }
            Ok(Some(due)) => Duration::from_millis((due - now) as u64).min(SAFETY_POLL),
            Ok(None) => SAFETY_POLL,
            Err(e) => {
                tracing::error!("reading the next due time: {e}");
                engine.config.poll
            }
        };
        if pause.is_zero() {
            continue;
        }
        retried = false;
        tokio::select! {
            _ = engine.shutdown.cancelled() => return,
            _ = engine.wake.notified() => {}
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

async fn claim_once(engine: &Arc<Engine>) -> usize {
    let free = engine.slots.available_permits() as i64;
    if free == 0 || engine.shutdown.is_cancelled() {
        return 0;
    }
    let now = now_ms() as i64;
    let lease_until = now + engine.config.lease.as_millis() as i64;
    let driving = engine.driving_json();
    match runs::claim_due(
        engine.store.pool(),
        &engine.config.node_id,
        now,
        lease_until,
        free.min(CLAIM_BATCH),
        &driving,
    )
    .await
    {
        Ok(rows) => {
            let n = rows.len();
            if n > 0 {
                engine.store.run_changed();
            }
            for row in rows {
                executor::spawn(engine.clone(), row, None);
            }
            n
        }
        Err(e) => {
            tracing::error!("claiming due runs: {e}");
            0
        }
    }
}

/// Starts one run per due cron workflow. Claiming the fire (moving
/// `cronNextAt` on, conditionally) and inserting its run are one transaction,
/// so a fire is neither lost nor run twice, with any number of hosts. Fires
/// missed while no host ran collapse into one, since the next fire is
/// computed from now.
async fn fire_cron(engine: &Arc<Engine>) -> Result<(), sqlx::Error> {
    let now = now_ms();
    for workflow in workflows::cron_due(engine.store.pool(), now as i64).await? {
        let Some(due) = workflow.cron_next_at else { continue };
        let next = match serde_json::from_str::<Trigger>(&workflow.trigger) {
            Ok(Trigger::Cron(c)) => {
                Schedule::parse(&c.expression, c.timezone.as_deref()).map_err(|e| e.message).and_then(|s| {
                    s.next_after(now.max(due as u64))
                        .map(|t| t as i64)
                        .ok_or_else(|| format!("`{}` has no fire time after now", c.expression))
                })
            }
            Ok(_) => Err("the trigger is no longer a cron trigger".to_owned()),
            Err(e) => Err(format!("the trigger does not parse: {e}")),
        };
        if let Err(e) = &next {
            // Loud, and kept on the workflow (the API shows `cronError`).
            tracing::error!("cron workflow `{}` is disarmed: {e}", workflow.id);
        }
        let event = json!({ "scheduledAt": iso(due as u64), "firedAt": iso(now) });
        let prepared = engine.prepare_run(&workflow, event);
        let mut tx = engine.store.pool().begin().await?;
        if !workflows::claim_cron(
            &mut tx,
            &workflow.id,
            due,
            next.as_ref().map(|t| *t).map_err(String::as_str),
        )
        .await?
        {
            continue; // another host fired it
        }
        let (run, snapshot) = match prepared {
            Ok(prepared) => prepared,
            Err(e) => {
                // The tick passes without a run; the next one is armed.
                tx.commit().await?;
                tracing::error!("cron workflow `{}` did not start: {e}", workflow.id);
                continue;
            }
        };
        runs::insert(&mut tx, &run).await?;
        if run.queued == 1 {
            runs::fill_slots(&mut tx, &run).await?;
        }
        tx.commit().await?;
        engine.store.run_changed();
        engine.launch(run, snapshot);
    }
    Ok(())
}

/// Changes of runs the feed keeps for streams that reconnect.
const FEED_KEEP: i64 = 100_000;

/// How long audit entries are kept, ms.
const AUDIT_KEEP_MS: i64 = 90 * 24 * 3_600_000;

/// Keeps the run change feed to its newest [`FEED_KEEP`] changes, and the
/// audit log to its last [`AUDIT_KEEP_MS`].
async fn prune_feed(engine: Arc<Engine>) {
    let mut ticks: u64 = 0;
    loop {
        tokio::select! {
            _ = engine.shutdown.cancelled() => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(10)) => {}
        }
        if let Err(e) = runs::prune_changes(engine.store.pool(), FEED_KEEP).await {
            tracing::warn!("pruning the run change feed: {e}");
        }
        // Once a minute is plenty for a log kept for months.
        if ticks.is_multiple_of(6) {
            let before = crate::store::ids::now_ms() as i64 - AUDIT_KEEP_MS;
            if let Err(e) = crate::store::audit::prune(engine.store.pool(), before).await {
                tracing::warn!("pruning the audit log: {e}");
            }
        }
        ticks += 1;
    }
}

/// Renews the leases of the runs this host drives, until every driver has
/// ended (after a stop, too: the steps in flight still need their runs).
async fn lease_loop(engine: Arc<Engine>) {
    let every = engine.config.lease / 3;
    loop {
        tokio::select! {
            _ = engine.drained.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        let until = now_ms() as i64 + engine.config.lease.as_millis() as i64;
        let driving = engine.driving_json();
        if let Err(e) = runs::renew_leases(engine.store.pool(), &engine.config.node_id, until, &driving).await
        {
            tracing::error!("renewing leases: {e}");
        }
    }
}
