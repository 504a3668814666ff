//! `weft db`: maintenance of a database, beside a running host or not.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use sqlx::ConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;

/// `weft db ...`.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Rewrite the database at its smallest (SQLite: `VACUUM`, which holds
    /// the database for its length; PostgreSQL: `VACUUM (ANALYZE)`).
    Vacuum {
        /// The database.
        #[arg(long, env = "WEFT_DATABASE_URL", default_value = "sqlite://weft.db")]
        database_url: String,
    },
    /// Write a consistent copy of a SQLite database to FILE, while hosts use
    /// it (`VACUUM INTO`: one snapshot, compacted). For PostgreSQL, use `pg_dump`.
    Backup {
        /// Where the copy goes; must not exist.
        file: PathBuf,
        /// The database.
        #[arg(long, env = "WEFT_DATABASE_URL", default_value = "sqlite://weft.db")]
        database_url: String,
    },
}

/// Runs a `weft db` command.
pub async fn run(command: DbCommand) -> anyhow::Result<()> {
    match command {
        DbCommand::Vacuum { database_url } => vacuum(&database_url).await,
        DbCommand::Backup { file, database_url } => backup(&database_url, &file).await,
    }
}

async fn sqlite(url: &str) -> anyhow::Result<sqlx::SqliteConnection> {
    SqliteConnectOptions::from_str(url)?
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(30))
        .connect()
        .await
        .with_context(|| format!("could not open {url}"))
}

fn size(path: &Path) -> String {
    std::fs::metadata(path).map(|m| format!("{:.1} MiB", m.len() as f64 / 1048576.0)).unwrap_or_default()
}

fn sqlite_file(url: &str) -> PathBuf {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    PathBuf::from(path.split('?').next().unwrap_or(path))
}

async fn vacuum(url: &str) -> anyhow::Result<()> {
    if crate::store::is_postgres_url(url) {
        let mut conn = sqlx::postgres::PgConnectOptions::from_str(url)?
            .connect()
            .await
            .context("could not connect to PostgreSQL")?;
        sqlx::query("VACUUM (ANALYZE)").execute(&mut conn).await?;
        println!("vacuumed and analysed");
        return Ok(());
    }
    let file = sqlite_file(url);
    let before = size(&file);
    let mut conn = sqlite(url).await?;
    // A database made before incremental auto-vacuum gets it now too.
    sqlx::query("PRAGMA auto_vacuum = INCREMENTAL").execute(&mut conn).await?;
    sqlx::query("VACUUM").execute(&mut conn).await?;
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut conn).await?;
    println!("vacuumed {}: {before} before, {} now", file.display(), size(&file));
    Ok(())
}

async fn backup(url: &str, file: &Path) -> anyhow::Result<()> {
    if crate::store::is_postgres_url(url) {
        anyhow::bail!("`weft db backup` copies SQLite databases; back up PostgreSQL with pg_dump");
    }
    if file.exists() {
        anyhow::bail!("{} exists: give a new file", file.display());
    }
    let target = file.to_str().context("the backup path is not UTF-8")?;
    let mut conn = sqlite(url).await?;
    sqlx::query("VACUUM INTO $1").bind(target).execute(&mut conn).await?;
    println!("backed up {} to {} ({})", sqlite_file(url).display(), file.display(), size(file));
    Ok(())
}
