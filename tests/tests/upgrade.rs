//! Upgrades: a database of an earlier Weft, with runs asleep in it, opens
//! under this one, gains the new migrations, and its runs complete.
//!
//! The earlier Weft is commit `6e71879` (the web UI), whose migrations are
//! `0001` to `0007`. On SQLite the database is `tests/fixtures/weft-6e71879.db`,
//! written by that commit's binary (`tests/fixtures/make-earlier-sqlite.py`
//! says how): three runs asleep on a ten-minute wait, long since due, and one
//! completed. PostgreSQL support came later, so there is no earlier
//! PostgreSQL database to keep: the test lets a host of this build put runs to
//! sleep, stops it, and takes the database back to the earlier schema (drops
//! what `0008` to `0011` made and their rows in `_sqlx_migrations`). Either way the test
//! first checks the database has exactly the tables and columns that `0001` to
//! `0007` alone make, applied by sqlx to a second database; then a host of this
//! build opens it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use weft_tests::{Host, both_databases};

const T: Duration = Duration::from_secs(30);

/// What `0008_trust.sql` created.
const ADDED_BY_0008: [&str; 4] = ["secrets", "settings", "workflow_hooks", "audit_log"];

fn migrations(postgres: bool) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("migrations");
    root.join(if postgres { "postgres" } else { "sqlite" })
}

/// The tables and their columns, one `table.column` per line, sorted.
async fn schema(url: &str) -> String {
    use sqlx::Connection as _;
    if url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(url).await.expect("connect");
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT table_name || '.' || column_name || ' ' || data_type FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations' ORDER BY 1",
        )
        .fetch_all(&mut c)
        .await
        .expect("columns");
        rows.join("\n")
    } else {
        let mut c = sqlx::SqliteConnection::connect(url).await.expect("connect");
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT m.name || '.' || p.name || ' ' || p.type FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT IN ('_sqlx_migrations', 'sqlite_sequence') ORDER BY 1",
        )
        .fetch_all(&mut c)
        .await
        .expect("columns");
        rows.join("\n")
    }
}

/// A database with migrations `0001` to `0007` only, applied by sqlx from
/// copies of those files.
async fn earlier_database(url: &str, postgres: bool) {
    use sqlx::Connection as _;
    let dir = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(migrations(postgres)).expect("migrations") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        if name.as_str() < "0008" {
            std::fs::copy(&path, dir.path().join(&name)).expect("copy migration");
        }
    }
    let migrator = sqlx::migrate::Migrator::new(dir.path()).await.expect("earlier migrations");
    assert_eq!(migrator.iter().count(), 7);
    if postgres {
        let mut c = sqlx::PgConnection::connect(url).await.expect("connect");
        migrator.run(&mut c).await.expect("apply the earlier migrations");
    } else {
        let mut c = sqlx::SqliteConnection::connect(&format!("{url}?mode=rwc")).await.expect("connect");
        migrator.run(&mut c).await.expect("apply the earlier migrations");
    }
}

/// What the earlier database holds: the waiting runs (three, each at
/// `count` 1) and the completed one.
struct Earlier {
    waiting: Vec<String>,
    completed: Option<String>,
}

/// The SQLite fixture, copied into a fresh host directory.
fn sqlite_fixture() -> Arc<tempfile::TempDir> {
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join("weft-6e71879.db");
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let db = dir.path().join("weft.db");
    std::fs::copy(&fixture, &db).expect("copy the fixture");
    std::fs::write(dir.path().join("database-url"), format!("sqlite://{}", db.display()))
        .expect("keep the database URL");
    dir
}

/// A PostgreSQL database at the earlier schema with three runs asleep: made
/// by this build, then stripped of what `0008` to `0011` added.
async fn postgres_earlier() -> (Arc<tempfile::TempDir>, Earlier) {
    let mut host = Host::start();
    let workflow = host
        .create_active(json!({
            "name": "Sleeps through an upgrade", "trigger": { "type": "manual" },
            "steps": [
                { "id": "a", "type": "update-field", "config": { "increment": { "count": 1 } } },
                { "id": "pause", "type": "wait", "config": { "duration": "3s" } },
                { "id": "b", "type": "update-field", "config": { "increment": { "count": 1 } } },
            ],
        }))
        .await;
    let mut waiting = Vec::new();
    for n in 0..3 {
        waiting.push(host.trigger(&workflow, json!({ "n": n })).await);
    }
    for run in &waiting {
        host.wait_for(run, "WAITING", T).await;
    }
    assert!(tokio::task::block_in_place(|| host.terminate()).is_some_and(|s| s.success()));
    // What 0011 added, then 0010, then 0009, then 0008.
    let mut downgrade = String::from(
        "DROP INDEX workflow_runs_parent;\nALTER TABLE workflow_runs DROP COLUMN \"parentRunId\";\n\
         ALTER TABLE workflow_runs DROP COLUMN \"parentStep\";\nALTER TABLE workflow_runs DROP COLUMN \"callDepth\";\n\
         DROP TABLE run_waits;\nDROP TABLE wait_paths;\nDROP INDEX workflow_runs_slots;\nDROP INDEX workflow_runs_admitted;\n\
         ALTER TABLE workflows DROP COLUMN concurrency;\nALTER TABLE workflow_runs DROP COLUMN \"concurrencyKey\";\n\
         ALTER TABLE workflow_runs DROP COLUMN \"concurrencyLimit\";\nALTER TABLE workflow_runs DROP COLUMN queued;\n\
         DROP INDEX workflow_runs_finished;\nDROP INDEX notifications_read;\nALTER TABLE workflows DROP COLUMN retention;\nALTER TABLE workflows DROP COLUMN timeout;\n",
    );
    downgrade.extend(ADDED_BY_0008.iter().map(|t| format!("DROP TABLE {t};\n")));
    downgrade.push_str("DELETE FROM _sqlx_migrations WHERE version >= 8;\n");
    host.sql(&downgrade).await;
    let dir = Arc::clone(&host.dir);
    drop(host);
    (dir, Earlier { waiting, completed: None })
}

async fn ids(url: &str, status: &str) -> Vec<String> {
    use sqlx::Connection as _;
    let query = format!("SELECT id FROM workflow_runs WHERE status = '{status}' ORDER BY id");
    if url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(url).await.expect("connect");
        sqlx::query_scalar(&query).fetch_all(&mut c).await.expect("runs")
    } else {
        let mut c = sqlx::SqliteConnection::connect(url).await.expect("connect");
        sqlx::query_scalar(&query).fetch_all(&mut c).await.expect("runs")
    }
}

both_databases! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_of_an_earlier_weft_upgrades_with_its_waiting_runs_and_they_complete() {
    let postgres = weft_tests::database() == weft_tests::Database::Postgres;
    let (dir, earlier) = if postgres {
        postgres_earlier().await
    } else {
        let dir = sqlite_fixture();
        let url = weft_tests::database_url(&dir);
        let completed = ids(&url, "COMPLETED").await;
        assert_eq!(completed.len(), 1, "the fixture holds one completed run");
        (dir, Earlier { waiting: ids(&url, "WAITING").await, completed: completed.into_iter().next() })
    };
    let url = weft_tests::database_url(&dir);
    assert_eq!(earlier.waiting.len(), 3, "three runs asleep in the earlier database");
    assert_eq!(ids(&url, "WAITING").await, { let mut w = earlier.waiting.clone(); w.sort(); w });

    let reference = tempfile::tempdir().expect("temp dir");
    let reference_url = if postgres {
        weft_tests::postgres::fresh_database()
    } else {
        format!("sqlite://{}", reference.path().join("earlier.db").display())
    };
    earlier_database(&reference_url, postgres).await;
    let schema_before = schema(&reference_url).await;
    assert_eq!(schema(&url).await, schema_before, "the database has the earlier schema");

    let host = tokio::task::block_in_place(|| Host::start_in(dir, &weft_tests::Options::default()));
    let applied = host.sql_value("SELECT CAST(MAX(version) AS TEXT) FROM _sqlx_migrations").await;
    assert_eq!(applied.as_deref(), Some("11"), "the new migrations were applied");
    if !postgres {
        // Made before incremental auto-vacuum: one full VACUUM switched it on, said in the log.
        let mode = host.sql_value("SELECT CAST(auto_vacuum AS TEXT) FROM pragma_auto_vacuum").await;
        assert_eq!(mode.as_deref(), Some("2"));
        assert!(
            host.stderr().iter().any(|l| l.contains("switching the database to incremental auto-vacuum")),
            "the log says so"
        );
    }
    assert_ne!(schema(&host.database_url()).await, schema_before);
    for run in &earlier.waiting {
        let done = host.wait_for(run, "COMPLETED", T).await;
        assert_eq!(done["context"]["vars"]["count"], 2, "{done:#}");
        let logs = done["logs"].as_array().expect("logs");
        for step in ["a", "b"] {
            let n = logs.iter().filter(|l| l["step"] == step).count();
            assert_eq!(n, 1, "step {step} recorded once: {done:#}");
        }
    }
    if let Some(run) = &earlier.completed {
        let (status, body) = host.get(&format!("/api/workflow-runs/{run}")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "COMPLETED");
        assert_eq!(body["context"]["vars"]["done"], true, "{body:#}");
    }
    // What the new migration added works on the upgraded database.
    let (status, body) =
        host.put("/api/secrets/AFTER_UPGRADE", json!({ "value": "v", "allowedHosts": ["example.com"] })).await;
    assert!(status == 200 || status == 201, "{status} {body}");
}
}
