//! Persistence on SQLite (WAL) or PostgreSQL, through sqlx with
//! runtime-checked queries.
//!
//! One store serves both databases: the same SQL text runs on each (numbered
//! `$N` parameters, which SQLite reads too, and camelCase names quoted, which
//! SQLite ignores and PostgreSQL needs), and [`on_pool!`] / [`on_tx!`] compile
//! a query once per driver. Where the SQL differs, both versions sit together
//! in the function that runs them.

/// Runs `$body` with `$p` bound to the driver pool of `$pool` (a [`Pool`]).
macro_rules! on_pool {
    ($pool:expr, |$p:ident| $body:expr) => {
        match $pool {
            $crate::store::Pool::Sqlite($p) => $body,
            $crate::store::Pool::Postgres($p) => $body,
        }
    };
}

/// Runs `$body` with `$c` bound to the driver connection of `$tx` (a
/// `&mut` [`Tx`]).
macro_rules! on_tx {
    ($tx:expr, |$c:ident| $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite(t) => {
                let $c: &mut sqlx::SqliteConnection = &mut *t;
                $body
            }
            $crate::store::Tx::Postgres(t) => {
                let $c: &mut sqlx::PgConnection = &mut *t;
                $body
            }
        }
    };
}

pub mod audit;
pub mod commit;
pub mod email_templates;
pub mod idempotency;
pub mod ids;
mod kv;
pub mod notifications;
pub mod plugins;
pub mod retention;
pub mod runs;
pub mod secrets;
pub mod sessions;
pub mod signals;
pub mod tokens;
pub mod waits;
pub mod workflows;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool};

pub use kv::StoreKv;

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

/// A connection pool to one of the two databases.
#[derive(Clone, Debug)]
pub enum Pool {
    /// One SQLite file (one host).
    Sqlite(SqlitePool),
    /// A PostgreSQL database (one or many hosts).
    Postgres(PgPool),
}

/// A transaction on either database.
#[derive(Debug)]
pub enum Tx {
    /// On SQLite.
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    /// On PostgreSQL.
    Postgres(sqlx::Transaction<'static, Postgres>),
}

impl Pool {
    /// Starts a transaction.
    pub async fn begin(&self) -> sqlx::Result<Tx> {
        Ok(match self {
            Pool::Sqlite(p) => Tx::Sqlite(p.begin().await?),
            Pool::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// Starts a transaction whose reads all see one snapshot (SQLite's
    /// transactions always do; PostgreSQL's need REPEATABLE READ for it).
    pub async fn begin_read(&self) -> sqlx::Result<Tx> {
        let mut tx = self.begin().await?;
        if let Tx::Postgres(_) = tx {
            tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY").await?;
        }
        Ok(tx)
    }

    /// Whether this is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self, Pool::Postgres(_))
    }

    /// One round trip: the database answers.
    pub async fn ping(&self) -> sqlx::Result<()> {
        on_pool!(self, |p| sqlx::query("SELECT 1").execute(p).await.map(|_| ()))
    }
}

impl Tx {
    /// Commits.
    pub async fn commit(self) -> sqlx::Result<()> {
        match self {
            Tx::Sqlite(t) => t.commit().await,
            Tx::Postgres(t) => t.commit().await,
        }
    }

    /// Runs one statement without results (a savepoint, say).
    pub async fn execute(&mut self, sql: &str) -> sqlx::Result<()> {
        on_tx!(self, |c| sqlx::query(sql).execute(&mut *c).await.map(|_| ()))
    }
}

/// Settings of a PostgreSQL pool.
#[derive(Debug, Clone, Copy)]
pub struct PgSettings {
    /// Most connections this host opens.
    pub max_connections: u32,
}

impl Default for PgSettings {
    fn default() -> Self {
        Self { max_connections: 16 }
    }
}

/// Whether `url` names a PostgreSQL database.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The database of a Weft host.
#[derive(Clone, Debug)]
pub struct Store {
    pool: Pool,
    /// Bumped after a host commits a change to a run, to wake the run
    /// streams (which then read the change feed from the database).
    run_changes: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
    signals: std::sync::Arc<signals::Signals>,
}

impl Store {
    /// Opens the database at `url`: `sqlite://weft.db` (created if needed,
    /// in WAL mode with `durability`) or `postgres://...`, and applies the
    /// migrations. A database whose schema is newer than this build knows is
    /// refused, naming both versions.
    pub async fn open(url: &str, durability: Durability) -> anyhow::Result<Self> {
        Self::open_with(url, durability, PgSettings::default()).await
    }

    /// [`Store::open`] with the settings of a PostgreSQL pool.
    pub async fn open_with(url: &str, durability: Durability, pg: PgSettings) -> anyhow::Result<Self> {
        let (pool, signals) = if is_postgres_url(url) {
            // `synchronous_commit=off` is PostgreSQL's counterpart of SQLite's
            // NORMAL: a crash of the server may lose the last commits, never
            // corrupt the database.
            let synchronous = match durability {
                Durability::Full => "on",
                Durability::Normal => "off",
            };
            let options = PgConnectOptions::from_str(url)?
                .application_name("weft")
                .options([("synchronous_commit", synchronous)]);
            let pool = PgPoolOptions::new()
                .max_connections(pg.max_connections)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await
                .map_err(|e| anyhow::anyhow!("could not connect to PostgreSQL: {e}"))?;
            let migrator = sqlx::migrate!("../migrations/postgres");
            check_schema(&Pool::Postgres(pool.clone()), &migrator).await?;
            migrator.run(&pool).await?;
            let signals = signals::Signals::listen(pool.clone())
                .await
                .map_err(|e| anyhow::anyhow!("could not listen for the other hosts: {e}"))?;
            (Pool::Postgres(pool), signals)
        } else {
            let synchronous = match durability {
                Durability::Full => SqliteSynchronous::Full,
                Durability::Normal => SqliteSynchronous::Normal,
            };
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                // Before any table exists, so that a new database hands the
                // pages retention frees back to the file system.
                .auto_vacuum(sqlx::sqlite::SqliteAutoVacuum::Incremental)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(synchronous)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true);
            let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
            let migrator = sqlx::migrate!("../migrations/sqlite");
            check_schema(&Pool::Sqlite(pool.clone()), &migrator).await?;
            migrator.run(&pool).await?;
            incremental_auto_vacuum(&pool).await?;
            (Pool::Sqlite(pool), signals::Signals::local())
        };
        let run_changes = std::sync::Arc::new(tokio::sync::watch::Sender::new(0u64));
        tokio::spawn(follow_run_changes(signals.subscribe(), std::sync::Arc::downgrade(&run_changes)));
        Ok(Self { pool, run_changes, signals })
    }

    /// Says that this host committed a change to a run (to this host's
    /// streams and the other hosts').
    pub fn run_changed(&self) {
        self.run_changes.send_modify(|n| *n = n.wrapping_add(1));
        self.signals.send(signals::Signal::Runs);
    }

    /// Wakes when a host commits a change to a run.
    pub fn watch_runs(&self) -> tokio::sync::watch::Receiver<u64> {
        self.run_changes.subscribe()
    }

    /// Signals between the hosts of this database.
    pub fn signals(&self) -> &signals::Signals {
        &self.signals
    }

    /// The connection pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }
}

/// A SQLite database made before Weft set incremental auto-vacuum has none:
/// one full `VACUUM` (a rewrite of the file, once) switches it on.
async fn incremental_auto_vacuum(pool: &sqlx::SqlitePool) -> anyhow::Result<()> {
    let mode: i64 = sqlx::query_scalar("PRAGMA auto_vacuum").fetch_one(pool).await?;
    if mode != 2 {
        tracing::info!(
            "switching the database to incremental auto-vacuum, so that retention returns space to the \
             file system: one full VACUUM, once (it takes a while on a large database)"
        );
        let started = std::time::Instant::now();
        let mut conn = pool.acquire().await?;
        sqlx::query("PRAGMA auto_vacuum = INCREMENTAL").execute(&mut *conn).await?;
        sqlx::query("VACUUM").execute(&mut *conn).await?;
        tracing::info!("database vacuumed in {} ms", started.elapsed().as_millis());
    }
    Ok(())
}

/// Wakes this host's run streams when another host changed runs.
async fn follow_run_changes(
    mut signals: tokio::sync::broadcast::Receiver<signals::Signal>,
    changes: std::sync::Weak<tokio::sync::watch::Sender<u64>>,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        let wake = match signals.recv().await {
            Ok(signal) => matches!(signal, signals::Signal::Runs | signals::Signal::Missed),
            Err(RecvError::Lagged(_)) => true,
            Err(RecvError::Closed) => return,
        };
        let Some(changes) = changes.upgrade() else { return };
        if wake {
            changes.send_modify(|n| *n = n.wrapping_add(1));
        }
    }
}

/// Refuses a database migrated past what `migrator` knows: a newer Weft made
/// it, and this one would misread it.
async fn check_schema(pool: &Pool, migrator: &sqlx::migrate::Migrator) -> anyhow::Result<()> {
    let known = migrator.iter().map(|m| m.version).max().unwrap_or(0);
    // No table yet means a new database.
    let newest: Option<(i64, String)> = on_pool!(pool, |p| {
        match sqlx::query_as(
            "SELECT version, description FROM _sqlx_migrations WHERE success ORDER BY version DESC LIMIT 1",
        )
        .fetch_optional(p)
        .await
        {
            Ok(row) => row,
            Err(sqlx::Error::Database(_)) => None,
            Err(e) => return Err(e.into()),
        }
    });
    if let Some((version, description)) = newest
        && version > known
    {
        anyhow::bail!(
            "the database's schema is at migration {version} ({description}), newer than this weft knows \
             (up to {known}): run a weft at least as new as the one that migrated it"
        );
    }
    Ok(())
}
