//! `weft serve`: the host. SQLite at `./weft.db` and 127.0.0.1:8080 by default.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use crate::api::{self, AppState, auth::Auth};
use crate::effects::{
    AllowList, HttpClient, HttpConfig, Mailer, Notifier, Secret, SigningKey, SmtpConfig, SmtpTls, Vault,
    vault,
};
use crate::engine::{Engine, EngineConfig};
use crate::runtime::SecretsBackend;
use crate::runtime::{Backends, CompileIsolation, Compiler, Runtime, RuntimeConfig};
use crate::store::{Durability, Store, StoreKv};

/// Flags of `weft serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "WEFT_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Database URL: `sqlite://FILE` (one host) or `postgres://USER@HOST/DB`
    /// (one or many hosts sharing it).
    #[arg(long, env = "WEFT_DATABASE_URL", default_value = "sqlite://weft.db")]
    pub database_url: String,
    /// Most connections to PostgreSQL this host opens (SQLite: unused).
    #[arg(long, env = "WEFT_DATABASE_MAX_CONNECTIONS", default_value_t = crate::store::PgSettings::default().max_connections)]
    pub database_max_connections: u32,
    /// Admin API token; when absent and none is stored, one is created and printed once.
    #[arg(long, env = "WEFT_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Directory of compiled plugin code (default: `weft-cache` beside the database).
    #[arg(long, env = "WEFT_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// `full`: every acknowledged step survives power loss (one fsync per
    /// group commit); `normal`: survives a crash of the process, and may lose
    /// the last commits on power loss, for more speed.
    #[arg(long, env = "WEFT_DURABILITY", value_enum, default_value = "full")]
    pub durability: Durability,
    /// Most time a stop (SIGTERM, Ctrl-C) waits for the steps in flight to
    /// finish and be recorded, ms; a second signal stops at once.
    #[arg(long, env = "WEFT_STOP_TIMEOUT_MS", default_value_t = 60_000)]
    pub stop_timeout_ms: u64,
    /// Lease of a claimed run, ms: how soon another host (or this one,
    /// restarted) resumes the runs of a host that died.
    #[arg(long, env = "WEFT_LEASE_MS", default_value_t = 10_000)]
    pub lease_ms: u64,
    /// How long finished runs (with their logs) and read notifications are
    /// kept, e.g. `30d`; a workflow's own `retention` wins for its runs.
    /// Kept forever when absent.
    #[arg(long, env = "WEFT_RETENTION", value_parser = weft_core::validate::parse_period)]
    pub retention: Option<Duration>,
    /// How often the retention sweep runs, ms.
    #[arg(long, env = "WEFT_RETENTION_SWEEP_MS", default_value_t = 60_000)]
    pub retention_sweep_ms: u64,
    /// Directory of plugin components (`*.wasm`) to load at start, each granted
    /// the capabilities it asks for: the operator vouches for them.
    #[arg(long, env = "WEFT_PLUGIN_DIR")]
    pub plugin_dir: Option<PathBuf>,
    /// How plugins are compiled: `tiered` (quick code at install, optimised
    /// code in the background), `optimized` (optimised before the install
    /// answers) or `fast` (quick code only).
    #[arg(long, env = "WEFT_COMPILER", value_enum, default_value = "tiered")]
    pub compiler: Compiler,
    /// Wall-time limit of compiling one installed plugin, ms: installs
    /// compile in a child process, killed at this limit.
    #[arg(long, env = "WEFT_COMPILE_TIMEOUT_MS", default_value_t = crate::runtime::isolate::DEFAULT_TIMEOUT.as_millis() as u64)]
    pub compile_timeout_ms: u64,
    /// Address-space limit of the process that compiles an installed plugin, bytes.
    #[arg(long, env = "WEFT_COMPILE_MEMORY_BYTES", default_value_t = crate::runtime::isolate::DEFAULT_MEMORY_BYTES)]
    pub compile_memory_bytes: u64,
    /// Installs that may wait while another compiles; more get 429.
    #[arg(long, env = "WEFT_INSTALL_QUEUE", default_value_t = crate::runtime::isolate::DEFAULT_QUEUE)]
    pub install_queue: usize,
    /// Special-purpose destinations outbound HTTP may reach (loopback, private,
    /// link-local and metadata ranges are refused otherwise): comma-separated
    /// host names, addresses and CIDRs.
    #[arg(long, env = "WEFT_HTTP_ALLOW", default_value = "")]
    pub http_allow: String,
    /// Secret that signs webhooks (Standard Webhooks), as `whsec_<base64>`.
    #[arg(long, env = "WEFT_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<Secret>,
    /// Most time an outbound HTTP request may take, ms.
    #[arg(long, env = "WEFT_HTTP_TIMEOUT_MS", default_value_t = 30_000)]
    pub http_timeout_ms: u64,
    /// Largest outbound request and response body, bytes.
    #[arg(long, env = "WEFT_HTTP_MAX_BYTES", default_value_t = 1 << 20)]
    pub http_max_bytes: usize,
    /// SMTP relay host; email steps fail with "not configured" without one.
    #[arg(long, env = "WEFT_SMTP_HOST")]
    pub smtp_host: Option<String>,
    /// SMTP relay port (default: 25, 587 or 465 after `--smtp-tls`).
    #[arg(long, env = "WEFT_SMTP_PORT")]
    pub smtp_port: Option<u16>,
    /// SMTP transport security.
    #[arg(long, env = "WEFT_SMTP_TLS", value_enum, default_value = "starttls")]
    pub smtp_tls: SmtpTls,
    /// SMTP user name.
    #[arg(long, env = "WEFT_SMTP_USER")]
    pub smtp_user: Option<String>,
    /// SMTP password.
    #[arg(long, env = "WEFT_SMTP_PASSWORD", hide_env_values = true)]
    pub smtp_password: Option<Secret>,
    /// Default sender address.
    #[arg(long, env = "WEFT_SMTP_FROM", default_value = "weft@localhost")]
    pub smtp_from: String,
    /// Take the SMTP password from this secret of the secrets store instead
    /// (read at start; its allowed hosts must include the SMTP host).
    #[arg(long, env = "WEFT_SMTP_PASSWORD_SECRET", conflicts_with = "smtp_password")]
    pub smtp_password_secret: Option<String>,
    /// The key secrets are sealed under: 32 bytes in base64 (`weft secret
    /// gen-key`). Hosts sharing a database share it. When absent, a key file
    /// beside the database is used, made on first start.
    #[arg(long, env = "WEFT_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<Secret>,
    /// The key file (default: `<database>.secret-key`, beside the database).
    #[arg(long, env = "WEFT_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,
}

/// Opens the secrets store with the host's key, saying where a new key went.
pub async fn open_vault(
    store: &Store,
    database_url: &str,
    secret_key: Option<&Secret>,
    key_file: Option<&std::path::Path>,
) -> anyhow::Result<Vault> {
    if crate::store::is_postgres_url(database_url) && secret_key.is_none() && key_file.is_none() {
        // Hosts sharing a database must share its key; a key made up here
        // would lock every other host out of the secrets.
        anyhow::bail!(
            "on PostgreSQL the secret key is not kept beside the database: set WEFT_SECRET_KEY \
             (the same on every host; `weft secret gen-key` prints a new one) or --secret-key-file"
        );
    }
    let default_file = vault::default_key_file(database_url);
    let file = key_file.map(std::path::Path::to_path_buf).or(default_file);
    let (key, source) = vault::load_key(secret_key.map(|s| s.0.as_str()), file.as_deref())?;
    match &source {
        vault::KeySource::Created(path) => {
            println!(
                "Created the secret key file {} (mode 0600): back it up apart from the database",
                path.display()
            )
        }
        vault::KeySource::Ephemeral => {
            tracing::warn!(
                "no secret key and no key file (in-memory database): secrets last until the host stops"
            )
        }
        _ => {}
    }
    Vault::open(store.pool().clone(), key).await
}

/// The capability backends from the flags.
async fn backends(
    args: &ServeArgs,
    store: &Store,
    notifier: &Notifier,
    vault: &Vault,
) -> anyhow::Result<Backends> {
    let allow = AllowList::parse(&args.http_allow).map_err(|e| anyhow::anyhow!("WEFT_HTTP_ALLOW: {e}"))?;
    let secret = match &args.webhook_secret {
        Some(secret) => {
            Some(SigningKey::parse(&secret.0).map_err(|e| anyhow::anyhow!("WEFT_WEBHOOK_SECRET: {e}"))?)
        }
        None => None,
    };
    let http = HttpClient::new(HttpConfig {
        allow,
        secret,
        max_request_bytes: args.http_max_bytes,
        max_response_bytes: args.http_max_bytes,
        max_timeout: Duration::from_millis(args.http_timeout_ms.max(1)),
        default_timeout: Duration::from_millis(args.http_timeout_ms.clamp(1, 10_000)),
        ..HttpConfig::default()
    })?;
    // Read once, at start: a new value takes a restart.
    let password = match &args.smtp_password_secret {
        Some(name) => {
            let revealed =
                vault.reveal(name).await.map_err(|e| anyhow::anyhow!("WEFT_SMTP_PASSWORD_SECRET: {e}"))?;
            // The secret's allowed hosts bind it here as everywhere.
            if let Some(host) = &args.smtp_host
                && !revealed.allows_host(host)
            {
                anyhow::bail!(
                    "WEFT_SMTP_PASSWORD_SECRET: secret `{name}` may not be sent to the SMTP host `{host}` \
                     (its allowed hosts: {})",
                    if revealed.allowed_hosts.is_empty() {
                        "none".to_owned()
                    } else {
                        revealed.allowed_hosts.join(", ")
                    }
                );
            }
            Some(Secret(revealed.value))
        }
        None => args.smtp_password.clone(),
    };
    let smtp = args.smtp_host.as_ref().map(|host| SmtpConfig {
        host: host.clone(),
        port: args.smtp_port,
        tls: args.smtp_tls,
        user: args.smtp_user.clone(),
        password,
        from: args.smtp_from.clone(),
        timeout: Duration::from_secs(30),
    });
    Ok(Backends {
        kv: Some(Arc::new(StoreKv::new(store.pool().clone()))),
        http: Some(Arc::new(http)),
        email: Some(Arc::new(Mailer::new(store.pool().clone(), smtp)?)),
        notify: Some(Arc::new(notifier.clone())),
        secrets: Some(Arc::new(vault.clone())),
    })
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
    if crate::store::is_postgres_url(database_url) {
        return PathBuf::from("weft-cache");
    }
    let path = database_url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or(path);
    match PathBuf::from(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join("weft-cache"),
        _ => PathBuf::from("weft-cache"),
    }
}

/// Runs the host until SIGINT or SIGTERM, then shuts down gracefully.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    // Before anything compiles, so compile times are counted too.
    crate::metrics::install();
    tokio::spawn(async {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            every.tick().await;
            crate::metrics::upkeep();
        }
    });
    // Caught from the very start: a stop sent while the host starts (or just
    // after it says it listens) is a graceful stop, not the default death.
    let (mut first, mut signals) = signals()?;
    let startup = async {
        let pg = crate::store::PgSettings { max_connections: args.database_max_connections.max(2) };
        let store = Store::open_with(&args.database_url, args.durability, pg).await?;
        let cache_dir = args.cache_dir.clone().unwrap_or_else(|| default_cache_dir(&args.database_url));
        let notifier = Notifier::new(store.clone());
        let vault =
            open_vault(&store, &args.database_url, args.secret_key.as_ref(), args.secret_key_file.as_deref())
                .await?;
        let backends = backends(&args, &store, &notifier, &vault).await?;
        let runtime = Arc::new(Runtime::new(RuntimeConfig {
            cache_dir: Some(cache_dir),
            compiler: args.compiler,
            backends,
            cache_key: vault.derive("compiled code cache"),
            isolation: Some(CompileIsolation {
                program: std::env::current_exe()?,
                timeout: Duration::from_millis(args.compile_timeout_ms.max(1)),
                memory_bytes: args.compile_memory_bytes,
            }),
            install_queue: args.install_queue,
            ..RuntimeConfig::default()
        })?);
        let builtins = runtime.load_builtins().await?;
        if let Some(dir) = &args.plugin_dir {
            load_dir(&runtime, dir).await?;
        }
        let installed = crate::engine::plugins::sync(&store, &runtime).await?;
        let (auth, created) = Auth::init(&store, args.admin_token.as_deref()).await?;
        if let Some(token) = created {
            println!("Created the admin API token (shown once, only its hash is stored):\n\n    {token}\n");
        }
        let listener = tokio::net::TcpListener::bind(args.addr).await?;
        tracing::info!("{} built-in and {installed} installed plugins loaded", builtins.len());
        crate::runtime::release_freed_memory();
        anyhow::Ok((store, notifier, runtime, auth, listener, vault))
    };
    // A stop while the host starts (migrations, compiles) ends it before it
    // claims anything.
    let (store, notifier, runtime, auth, listener, vault) = tokio::select! {
        started = startup => started?,
        _ = &mut first => {
            println!("weft stopped before it finished starting");
            return Ok(());
        }
    };
    let config = EngineConfig {
        lease: Duration::from_millis(args.lease_ms.max(100)),
        retention: args.retention,
        retention_sweep: Duration::from_millis(args.retention_sweep_ms.max(100)),
        ..EngineConfig::default()
    };
    let engine = Engine::start(store.clone(), runtime, config);
    let addr = listener.local_addr()?;
    println!("weft listening on http://{addr}");
    let hooks = api::hooks::Hooks::default();
    let app = api::app(AppState { store, engine: engine.clone(), auth, notifier, vault, hooks });
    let stopping = engine.stopping();
    let mut server = tokio::spawn(async move {
        axum::serve(listener, app).with_graceful_shutdown(async move { stopping.cancelled().await }).await
    });
    tokio::select! {
        _ = first => {}
        result = &mut server => {
            // The listener failed on its own: stop the engine the same way.
            engine.shutdown().await;
            return result?.map_err(Into::into);
        }
    }
    // Stop claiming and end the event streams at once; the HTTP server
    // drains its connections while the steps in flight finish.
    println!("weft stopping: finishing the steps in flight");
    let deadline = tokio::time::sleep(Duration::from_millis(args.stop_timeout_ms));
    tokio::pin!(deadline);
    let drained = tokio::select! {
        _ = engine.shutdown() => true,
        _ = &mut deadline => false,
        _ = signals.recv() => {
            println!("weft stopped at once on a second signal; runs in flight resume when their leases lapse");
            std::process::exit(130);
        }
    };
    // Answers that waited on those runs (`?wait=`) go out before the exit.
    tokio::select! {
        _ = &mut server => {}
        _ = &mut deadline => {}
        _ = signals.recv() => std::process::exit(130),
    }
    if drained {
        println!("weft stopped");
    } else {
        println!(
            "weft stopped after {} ms with steps still in flight; their runs resume when their leases lapse",
            args.stop_timeout_ms
        );
    }
    Ok(())
}

/// The first SIGINT or SIGTERM, and a channel of the ones after it. The
/// handlers are installed before this returns.
fn signals() -> std::io::Result<(tokio::sync::oneshot::Receiver<()>, tokio::sync::mpsc::UnboundedReceiver<()>)>
{
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let (first_tx, first_rx) = tokio::sync::oneshot::channel();
    let (more_tx, more_rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut first = Some(first_tx);
        loop {
            tokio::select! {
                _ = term.recv() => {}
                _ = interrupt.recv() => {}
            }
            match first.take() {
                Some(tx) => {
                    let _ = tx.send(());
                }
                None => {
                    if more_tx.send(()).is_err() {
                        return;
                    }
                }
            }
        }
    });
    Ok((first_rx, more_rx))
}
