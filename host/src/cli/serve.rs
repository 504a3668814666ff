//! `weft serve`: the host. SQLite at `./weft.db` and 127.0.0.1:8080 by default.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use crate::api::{self, AppState, auth::Auth};
use crate::engine::{Engine, EngineConfig};
use crate::runtime::{Backends, Runtime, RuntimeConfig};
use crate::store::{SqliteKv, Store};

/// Flags of `weft serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "WEFT_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Database URL.
    #[arg(long, env = "WEFT_DATABASE_URL", default_value = "sqlite://weft.db")]
    pub database_url: String,
    /// Admin API token; when absent and none is stored, one is created and printed once.
    #[arg(long, env = "WEFT_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Directory of compiled plugin code (default: `weft-cache` beside the database).
    #[arg(long, env = "WEFT_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Lease of a claimed run, ms: how soon another host (or this one,
    /// restarted) resumes the runs of a host that died.
    #[arg(long, env = "WEFT_LEASE_MS", default_value_t = 10_000)]
    pub lease_ms: u64,
    /// Directory of plugin components (`*.wasm`) to load at start, each granted
    /// the capabilities it asks for: the operator vouches for them.
    #[arg(long, env = "WEFT_PLUGIN_DIR")]
    pub plugin_dir: Option<PathBuf>,
}

/// Loads every `*.wasm` of `dir` into the registry.
async fn load_dir(runtime: &Runtime, dir: &std::path::Path) -> anyhow::Result<usize> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .collect();
    paths.sort();
    for path in &paths {
        let bytes = std::fs::read(path)?;
        let plugin = runtime
            .load(&bytes, None, Default::default())
            .await
            .map_err(|e| anyhow::anyhow!("plugin {}: {e}", path.display()))?;
        tracing::info!("loaded plugin `{}` from {}", plugin.id(), path.display());
        // Operator-provided: like a built-in, not the API's to replace or delete.
        runtime.registry().mark_builtin(&plugin.info().name);
        runtime.registry().insert(plugin);
    }
    Ok(paths.len())
}

fn default_cache_dir(database_url: &str) -> PathBuf {
    let path = database_url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or(path);
    match PathBuf::from(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join("weft-cache"),
        _ => PathBuf::from("weft-cache"),
    }
}

/// Runs the host until SIGINT or SIGTERM, then shuts down gracefully.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let store = Store::open(&args.database_url).await?;
    let cache_dir = args.cache_dir.clone().unwrap_or_else(|| default_cache_dir(&args.database_url));
    let backends = Backends { kv: Some(Arc::new(SqliteKv::new(store.pool().clone()))) };
    let runtime = Arc::new(Runtime::new(RuntimeConfig {
        cache_dir: Some(cache_dir),
        backends,
        ..RuntimeConfig::default()
    })?);
    let builtins = runtime.load_builtins().await?;
    if let Some(dir) = &args.plugin_dir {
        load_dir(&runtime, dir).await?;
    }
    let installed = crate::engine::plugins::sync(&store, &runtime).await?;
    let config =
        EngineConfig { lease: Duration::from_millis(args.lease_ms.max(100)), ..EngineConfig::default() };
    let engine = Engine::start(store.clone(), runtime, config);

    let (auth, created) = Auth::init(&store, args.admin_token.as_deref()).await?;
    if let Some(token) = created {
        println!("Created the admin API token (shown once, only its hash is stored):\n\n    {token}\n");
    }
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    let addr = listener.local_addr()?;
    tracing::info!("{} built-in and {installed} installed plugins loaded", builtins.len());
    println!("weft listening on http://{addr}");
    let app = api::app(AppState { store, engine: engine.clone(), auth });
    axum::serve(listener, app).with_graceful_shutdown(signal()).await?;
    tracing::info!("draining runs in flight");
    engine.shutdown().await;
    println!("weft stopped");
    Ok(())
}

async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
