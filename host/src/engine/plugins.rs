//! Installed plugins: install and uninstall (database row + registry, never
//! one without the other), loading them at start, and following the installs
//! of other hosts that share the database.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

use sha2::{Digest, Sha256};

use crate::runtime::{Grants, LimitOverrides, LoadError, Plugin, Runtime};
use crate::store::Store;
use crate::store::ids::now_ms;
use crate::store::plugins::{self, PluginRow};
use crate::store::signals::Signal;
use tokio::sync::broadcast::error::RecvError;

/// How often a host looks for plugins installed or removed by another host.
pub const SYNC_EVERY: Duration = Duration::from_secs(2);

/// Why an install or uninstall was refused.
#[derive(Debug, Error)]
pub enum InstallError {
    /// The component is not a usable plugin.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A grant or limit is not acceptable.
    #[error("{0}")]
    Settings(String),
    /// The name belongs to a built-in plugin.
    #[error("`{0}` is a built-in plugin; choose another name")]
    Builtin(String),
    /// The same name and version is installed with other bytes.
    #[error("plugin `{0}` is already installed with different bytes (sha256 {1}); bump the version")]
    Conflict(String, String),
    /// The same bytes are installed with other grants or limits.
    #[error(
        "plugin `{0}` is already installed with these bytes and other settings (grants: {1}); uninstall it \
         and install again to change them"
    )]
    SettingsDiffer(String, String),
    /// Not installed.
    #[error("plugin `{0}` is not installed")]
    NotFound(String),
    /// Pinned by workflows or runs.
    #[error("plugin `{0}` is still used by {1}")]
    InUse(String, String),
    /// Another install is compiling and the queue behind it is full.
    #[error("another install is compiling and {0} more are waiting; try again shortly")]
    Busy(usize),
    /// Storage failed.
    #[error("storage error: {0}")]
    Store(#[from] sqlx::Error),
}

/// Installs a component: cheap checks first (settings, the wasm header, the
/// same bytes already installed), then, one install at a time host-wide:
/// compile, check the world, `describe()`, check the schema, store, register.
/// Returns the plugin and whether it was new (an identical re-install is a
/// no-op that compiles nothing).
pub async fn install(
    store: &Store,
    runtime: &Runtime,
    bytes: &[u8],
    grants: &[String],
    limits: LimitOverrides,
) -> Result<(Arc<Plugin>, bool), InstallError> {
    let parsed = Grants::parse(grants).map_err(|e| InstallError::Settings(format!("grant: {e}")))?;
    let problems = runtime.limits().check(&limits);
    if !problems.is_empty() {
        return Err(InstallError::Settings(problems.join("; ")));
    }
    crate::runtime::check_header(bytes)?;
    let sha256 = hex::encode(Sha256::digest(bytes));
    if let Some(row) = plugins::by_sha256(store.pool(), &sha256).await?
        && let Some(plugin) = runtime.registry().resolve(&format!("{}@{}", row.name, row.version))
        && plugin.sha256() == sha256
    {
        same_settings(&row, &parsed.to_strings(), &limits)?;
        return Ok((plugin, false));
    }
    let _slot = runtime
        .compile_queue()
        .enter()
        .await
        .ok_or(InstallError::Busy(runtime.compile_queue().capacity()))?;
    let asked = parsed.to_strings();
    let plugin = runtime.load(bytes, Some(parsed), limits).await?;
    let info = plugin.info();
    if runtime.registry().is_builtin(&info.name) {
        return Err(InstallError::Builtin(info.name.clone()));
    }
    if let Some(existing) = plugins::get(store.pool(), &info.name, &info.version).await? {
        if existing.sha256 == plugin.sha256() {
            same_settings(&existing, &asked, &limits)?;
            return Ok((plugin, false));
        }
        return Err(InstallError::Conflict(plugin.id().to_owned(), existing.sha256));
    }
    let row = PluginRow {
        name: info.name.clone(),
        version: info.version.clone(),
        description: info.description.clone(),
        config_schema: info.config_schema.to_string(),
        requested: serde_json::to_string(&info.capabilities).unwrap_or_else(|_| "[]".into()),
        granted: serde_json::to_string(&plugin.grants().to_strings()).unwrap_or_else(|_| "[]".into()),
        limits: serde_json::to_string(&limits).unwrap_or_else(|_| "{}".into()),
        sha256: plugin.sha256().to_owned(),
        size: bytes.len() as i64,
        installed_at: now_ms() as i64,
    };
    // Stored first: a failed insert leaves nothing registered.
    plugins::insert(store.pool(), &row, bytes).await?;
    runtime.registry().insert(plugin.clone());
    store.signals().send(Signal::Plugins);
    Ok((plugin, true))
}

/// A re-install of the same bytes changes nothing: with other grants or
/// limits it is refused, not answered as if they applied.
fn same_settings(row: &PluginRow, grants: &[String], limits: &LimitOverrides) -> Result<(), InstallError> {
    let stored_grants: Vec<String> = serde_json::from_str(&row.granted).unwrap_or_default();
    let stored_limits: serde_json::Value = serde_json::from_str(&row.limits).unwrap_or_default();
    let mut asked = grants.to_vec();
    let mut had = stored_grants.clone();
    asked.sort();
    had.sort();
    if asked != had || serde_json::to_value(limits).unwrap_or_default() != stored_limits {
        return Err(InstallError::SettingsDiffer(
            format!("{}@{}", row.name, row.version),
            stored_grants.join(", "),
        ));
    }
    Ok(())
}

/// Removes `name@version` unless something still needs it: a workflow that
/// is not archived and pins it (or uses the name when it is the only
/// version), or a run that is unfinished or FAILED whose snapshot resolved it.
pub async fn uninstall(
    store: &Store,
    runtime: &Runtime,
    name: &str,
    version: &str,
) -> Result<(), InstallError> {
    let id = format!("{name}@{version}");
    if runtime.registry().is_builtin(name) {
        return Err(InstallError::Builtin(name.to_owned()));
    }
    if plugins::get(store.pool(), name, version).await?.is_none() {
        return Err(InstallError::NotFound(id));
    }
    const SHOWN: i64 = 20;
    let versions = runtime.registry().list().iter().filter(|p| p.info().name == name).count();
    let users = plugins::users(store.pool(), name, version, versions <= 1, SHOWN + 1).await?;
    if !users.is_empty() {
        let mut list = users.iter().take(SHOWN as usize).cloned().collect::<Vec<_>>().join(", ");
        if users.len() > SHOWN as usize {
            list.push_str(" and more");
        }
        return Err(InstallError::InUse(id, list));
    }
    plugins::delete(store.pool(), name, version).await?;
    runtime.registry().remove(name, version);
    store.signals().send(Signal::Plugins);
    Ok(())
}

/// Loads into the registry every stored plugin it does not have, and drops
/// those no longer stored. Returns how many were loaded.
pub async fn sync(store: &Store, runtime: &Runtime) -> Result<usize, sqlx::Error> {
    sync_skipping(store, runtime, &mut HashSet::new()).await
}

/// [`sync`], skipping the `name@version:sha256` entries of `failed` and
/// adding those that fail to load now: a component that does not load on this
/// host is not read and compiled again on every round of [`follow`].
async fn sync_skipping(
    store: &Store,
    runtime: &Runtime,
    failed: &mut HashSet<String>,
) -> Result<usize, sqlx::Error> {
    let rows = plugins::list(store.pool()).await?;
    let stored: HashSet<String> = rows.iter().map(|r| format!("{}@{}", r.name, r.version)).collect();
    for plugin in runtime.registry().list() {
        let info = plugin.info();
        if !runtime.registry().is_builtin(&info.name) && !stored.contains(plugin.id()) {
            runtime.registry().remove(&info.name, &info.version);
        }
    }
    let mut loaded = 0;
    for row in rows {
        let id = format!("{}@{}", row.name, row.version);
        let attempt = format!("{id}:{}", row.sha256);
        if failed.contains(&attempt)
            || runtime.registry().resolve(&id).is_some_and(|p| p.sha256() == row.sha256)
        {
            continue;
        }
        let Some(bytes) = plugins::component(store.pool(), &row.name, &row.version).await? else { continue };
        let grants: Vec<String> = serde_json::from_str(&row.granted).unwrap_or_default();
        let limits: LimitOverrides = serde_json::from_str(&row.limits).unwrap_or_default();
        let loaded_plugin = match Grants::parse(&grants) {
            Ok(grants) => {
                let _slot = runtime.compile_queue().wait().await;
                runtime.load(&bytes, Some(grants), limits).await.map_err(|e| e.to_string())
            }
            Err(e) => Err(e),
        };
        match loaded_plugin {
            Ok(plugin) => {
                runtime.registry().insert(plugin);
                loaded += 1;
            }
            Err(e) => {
                tracing::error!("stored plugin `{id}` does not load: {e}");
                failed.insert(attempt);
            }
        }
    }
    Ok(loaded)
}

/// Follows other hosts' installs and removals until `stop` is cancelled: at
/// once when they signal one, and every [`SYNC_EVERY`] in any case.
pub async fn follow(store: Store, runtime: Arc<Runtime>, stop: tokio_util::sync::CancellationToken) {
    let mut failed = HashSet::new();
    let mut signals = store.signals().subscribe();
    // A deadline, not a sleep: signals of other kinds must not put it off.
    let mut every = tokio::time::interval_at(tokio::time::Instant::now() + SYNC_EVERY, SYNC_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = every.tick() => {}
            signal = signals.recv() => match signal {
                Ok(Signal::Plugins | Signal::Missed) | Err(RecvError::Lagged(_)) => {}
                Ok(_) => continue,
                Err(RecvError::Closed) => return,
            },
        }
        if let Err(e) = sync_skipping(&store, &runtime, &mut failed).await {
            tracing::error!("plugin sync: {e}");
        }
    }
}
