//! Deleting what is past its keep: finished runs with their logs, read
//! notifications, idempotency keys past their window. Each call deletes one
//! small batch, so the hot path never waits long behind a sweep.

use super::{Pool, Tx};

/// `$first, $first+1, ...` for `n` values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// Ids of up to `limit` runs that finished before `cutoff` (unix ms): of
/// `workflow` when given, else of every workflow but those in `except`
/// (which keep their runs for a time of their own).
pub async fn finished_before(
    pool: &Pool,
    workflow: Option<&str>,
    except: &[String],
    cutoff: i64,
    limit: i64,
) -> sqlx::Result<Vec<String>> {
    let mut sql = String::from(
        "SELECT id FROM workflow_runs WHERE \"finishedAt\" < $1 \
         AND status IN ('COMPLETED', 'FAILED', 'CANCELLED')",
    );
    let mut values: Vec<&str> = Vec::new();
    if let Some(id) = workflow {
        values.push(id);
        sql.push_str(" AND \"workflowId\" = $3");
    } else if !except.is_empty() {
        values.extend(except.iter().map(String::as_str));
        sql.push_str(&format!(" AND \"workflowId\" NOT IN ({})", placeholders(3, except.len())));
    }
    sql.push_str(" ORDER BY \"finishedAt\" LIMIT $2");
    on_pool!(pool, |p| {
        let mut query = sqlx::query_scalar(&sql).bind(cutoff).bind(limit);
        for value in &values {
            query = query.bind(*value);
        }
        query.fetch_all(p).await
    })
}

/// Deletes the runs of `ids` that still finished before `cutoff` (a FAILED
/// run retried meanwhile is kept, even if it failed again since), with their
/// logs, in one transaction; returns how many.
pub async fn delete_runs(pool: &Pool, ids: &[String], cutoff: i64) -> sqlx::Result<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let mut tx = pool.begin().await?;
    let list = placeholders(1, ids.len());
    // The runs to delete: on PostgreSQL locked first, so that no retry can
    // reopen one between its logs going and itself going. On SQLite the first
    // statement writes, so this transaction is the one writer from its start
    // (a read first would fail to become a write once the committer wrote).
    let finished: Vec<String> = if matches!(tx, Tx::Postgres(_)) {
        let select = format!(
            "SELECT id FROM workflow_runs WHERE id IN ({list}) AND \"finishedAt\" < ${} FOR UPDATE",
            ids.len() + 1
        );
        on_tx!(&mut tx, |c| {
            let mut query = sqlx::query_scalar(&select);
            for id in ids {
                query = query.bind(id);
            }
            query.bind(cutoff).fetch_all(&mut *c).await
        })?
    } else {
        ids.to_vec()
    };
    if finished.is_empty() {
        tx.commit().await?;
        return Ok(0);
    }
    let list = placeholders(1, finished.len());
    let n = finished.len() + 1;
    let still_finished =
        format!("SELECT id FROM workflow_runs WHERE id IN ({list}) AND \"finishedAt\" < ${n}");
    let deleted = on_tx!(&mut tx, |c| {
        let logs = format!("DELETE FROM workflow_run_logs WHERE \"runId\" IN ({still_finished})");
        let mut query = sqlx::query(&logs);
        for id in &finished {
            query = query.bind(id);
        }
        query.bind(cutoff).execute(&mut *c).await?;
        // A run's waits go as it ends; this keeps none behind a deleted run.
        let waits = format!("DELETE FROM run_waits WHERE \"runId\" IN ({still_finished})");
        let mut query = sqlx::query(&waits);
        for id in &finished {
            query = query.bind(id);
        }
        query.bind(cutoff).execute(&mut *c).await?;
        let runs = format!("DELETE FROM workflow_runs WHERE id IN ({list}) AND \"finishedAt\" < ${n}");
        let mut query = sqlx::query(&runs);
        for id in &finished {
            query = query.bind(id);
        }
        query.bind(cutoff).execute(&mut *c).await.map(|done| done.rows_affected())
    })?;
    tx.commit().await?;
    Ok(deleted)
}

/// Deletes up to `limit` notifications read before `cutoff`.
pub async fn delete_read_notifications(pool: &Pool, cutoff: i64, limit: i64) -> sqlx::Result<u64> {
    on_pool!(pool, |p| {
        sqlx::query(
            "DELETE FROM notifications WHERE id IN \
             (SELECT id FROM notifications WHERE \"readAt\" < $1 ORDER BY \"readAt\" LIMIT $2)",
        )
        .bind(cutoff)
        .bind(limit)
        .execute(p)
        .await
        .map(|done| done.rows_affected())
    })
}

/// Deletes up to `limit` idempotency keys recorded before `cutoff` (past
/// their window, they can no longer match a request).
pub async fn delete_idempotency_keys(pool: &Pool, cutoff: i64, limit: i64) -> sqlx::Result<u64> {
    on_pool!(pool, |p| {
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE (scope, key) IN \
             (SELECT scope, key FROM idempotency_keys WHERE \"createdAt\" < $1 ORDER BY \"createdAt\" LIMIT $2)",
        )
        .bind(cutoff)
        .bind(limit)
        .execute(p)
        .await
        .map(|done| done.rows_affected())
    })
}

/// Workflows that keep their runs for a time of their own: id and duration text.
pub async fn overrides(pool: &Pool) -> sqlx::Result<Vec<(String, String)>> {
    on_pool!(pool, |p| {
        sqlx::query_as("SELECT id, retention FROM workflows WHERE retention IS NOT NULL").fetch_all(p).await
    })
}

/// Returns the free pages of a SQLite database to the file system (the
/// database uses incremental auto-vacuum); nothing on PostgreSQL, whose
/// autovacuum does this.
pub async fn reclaim(pool: &Pool) -> sqlx::Result<()> {
    if let Pool::Sqlite(p) = pool {
        sqlx::query("PRAGMA incremental_vacuum").execute(p).await?;
    }
    Ok(())
}
