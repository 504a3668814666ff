//! Persistence on SQLite (WAL), through sqlx with runtime-checked queries.

pub mod audit;
pub mod commit;
pub mod email_templates;
pub mod idempotency;
pub mod ids;
mod kv;
pub mod notifications;
pub mod plugins;
pub mod runs;
pub mod secrets;
pub mod sessions;
pub mod tokens;
pub mod workflows;

use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub use kv::SqliteKv;

/// How hard a commit holds on to the disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Durability {
    /// Every acknowledged commit survives power loss (SQLite `synchronous=FULL`:
    /// the WAL is synced at each commit; group commit makes that one sync per
    /// batch of step moves).
    #[default]
    Full,
    /// Survives a crash of the process, not of the machine: the last commits
    /// before a power loss or kernel panic may be lost (`synchronous=NORMAL`,
    /// the WAL is synced at checkpoints only).
    Normal,
}

/// The database of a Weft host.
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
    /// Bumped after this host commits a change to a run, to wake the run
    /// streams (which then read the change feed from the database).
    run_changes: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
}

impl Store {
    /// Opens (creating if needed) the database at `url`, e.g. `sqlite://weft.db`,
    /// in WAL mode with `durability`, and applies the migrations.
    pub async fn open(url: &str, durability: Durability) -> anyhow::Result<Self> {
        let synchronous = match durability {
            Durability::Full => SqliteSynchronous::Full,
            Durability::Normal => SqliteSynchronous::Normal,
        };
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
        sqlx::migrate!("../migrations/sqlite").run(&pool).await?;
        Ok(Self { pool, run_changes: std::sync::Arc::new(tokio::sync::watch::Sender::new(0)) })
    }

    /// Says that this host committed a change to a run.
    pub fn run_changed(&self) {
        self.run_changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Wakes when this host commits a change to a run.
    pub fn watch_runs(&self) -> tokio::sync::watch::Receiver<u64> {
        self.run_changes.subscribe()
    }

    /// The connection pool.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}
