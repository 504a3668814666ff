//! The plugin runtime: the only part of Weft that touches wasmtime.
//!
//! One [`Runtime`] per process holds the engines (one per code tier), their
//! linkers and compiled-code caches, and the [`Registry`] of loaded plugins. The engine calls
//! [`Runtime::run_step`] for each attempt and gets a [`StepReport`]: the outcome
//! or a precise [`StepFailure`], with fuel, peak memory and duration.

mod bindings;
mod cache;
pub mod capability;
mod engine;
mod error;
pub mod isolate;
use weft_core::limits;
mod output;
mod plugin;
mod registry;
pub use weft_core::secrets;
mod state;
mod step;
mod types;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

pub use cache::CodeSource;
pub use capability::{
    Backends, Capability, EmailBackend, EmailError, EmailMessage, Grants, HttpBackend, HttpError,
    HttpRequest, HttpResponse, KvBackend, NewNotification, NotifyBackend, RenderedEmail, Signing,
};
pub use engine::{CodeTier, Compiler};
pub use error::{LoadError, MAX_ERROR_BYTES, StepFailure, cap_message};
pub use isolate::{CompileIsolation, CompileQueue};
pub use limits::{HostLimits, LimitOverrides, Limits};
pub use plugin::Plugin;
pub use registry::Registry;
pub use secrets::{Revealed, SecretScope, SecretsBackend};
pub use state::Caller;
pub use step::StepReport;
pub use types::{LogLevel, LogLine, Outcome, PluginInfo, StepInput, Usage};

use bindings::{StepPlugin, StepPluginPre};
use state::{StepData, StepState};

/// The built-in plugins, embedded at build time (see `host/build.rs`).
pub mod builtin {
    include!(concat!(env!("OUT_DIR"), "/plugins.rs"));
}

/// How the runtime is set up.
#[derive(Clone)]
pub struct RuntimeConfig {
    /// Default and maximum limits.
    pub limits: HostLimits,
    /// Directory of the compiled-code cache; `None` compiles on every load.
    pub cache_dir: Option<PathBuf>,
    /// Fuel metering. Only benchmarks turn it off.
    pub meter_fuel: bool,
    /// How plugins are compiled: faster code, faster installs, or both in turn.
    pub compiler: Compiler,
    /// Implementations of the host capabilities.
    pub backends: Backends,
    /// Key of the MACs that prove a compiled-code cache entry was written by
    /// this host; random unless set (`weft serve` derives it from the secret key).
    pub cache_key: [u8; 32],
    /// Compile installed plugins in a child process; `None` compiles in
    /// this one (embedders, tests). Built-ins always compile in the process.
    pub isolation: Option<CompileIsolation>,
    /// Installs that may wait for the compile slot while one compiles.
    pub install_queue: usize,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            limits: HostLimits::default(),
            cache_dir: None,
            meter_fuel: true,
            // Predictable for embedders and tests: one tier, no background
            // compiles. `weft serve` defaults to tiered.
            compiler: Compiler::Optimized,
            backends: Backends::default(),
            cache_key: rand::random(),
            isolation: None,
            install_queue: isolate::DEFAULT_QUEUE,
        }
    }
}

/// One engine with its linker and compiled-code cache.
struct Tier {
    code: CodeTier,
    engine: Engine,
    linker: Linker<StepState>,
    cache: cache::CodeCache,
    meter_fuel: bool,
}

impl Tier {
    fn new(config: &RuntimeConfig, code: CodeTier, pooled: bool) -> anyhow::Result<Arc<Self>> {
        let engine = engine::build(&config.limits, config.meter_fuel, code, pooled)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        StepPlugin::add_to_linker::<StepState, StepData>(&mut linker, |s| s)?;
        let cache = cache::CodeCache::new(config.cache_dir.clone(), &engine, config.cache_key);
        Ok(Arc::new(Self { code, engine, linker, cache, meter_fuel: config.meter_fuel }))
    }

    /// Compiles (or reads from the cache) off the async threads, and links.
    /// With `isolation`, a child process compiles.
    async fn prepare(
        self: &Arc<Self>,
        bytes: Bytes,
        sha256: String,
        isolation: Option<&CompileIsolation>,
    ) -> Result<(StepPluginPre<StepState>, CodeSource), LoadError> {
        let tier = self.clone();
        let started = std::time::Instant::now();
        let blocking = |e: tokio::task::JoinError| LoadError::Internal(e.to_string());
        let (component, source) = match isolation {
            None => tokio::task::spawn_blocking(move || tier.cache.load(&tier.engine, &bytes, &sha256))
                .await
                .map_err(blocking)?
                .map_err(|e| LoadError::Compile(format!("{e:#}")))?,
            Some(isolation) => {
                let (cached, key) = (tier.clone(), sha256.clone());
                let hit = tokio::task::spawn_blocking(move || cached.cache.get(&cached.engine, &key))
                    .await
                    .map_err(blocking)?;
                match hit {
                    Some(component) => (component, CodeSource::Cache),
                    None => {
                        let code = isolation.compile(tier.code, tier.meter_fuel, bytes).await?;
                        let component = tokio::task::spawn_blocking(move || {
                            // SAFETY: `code` is what our own binary's
                            // `precompile_component` wrote for an engine with
                            // these code settings; wasmtime checks its header
                            // and the engine's compatibility too.
                            let component = unsafe { Component::deserialize(&tier.engine, &code) };
                            if component.is_ok() {
                                tier.cache.put(&sha256, &code);
                            }
                            component
                        })
                        .await
                        .map_err(blocking)?
                        .map_err(|e| LoadError::Internal(format!("compiled code does not load: {e:#}")))?;
                        (component, CodeSource::Compiled)
                    }
                }
            }
        };
        let from = match source {
            CodeSource::Cache => "cache",
            CodeSource::Compiled => "compiled",
        };
        crate::metrics::plugin_compiled(self.code.as_str(), from, started.elapsed());
        let instance_pre =
            self.linker.instantiate_pre(&component).map_err(|e| LoadError::WrongWorld(format!("{e:#}")))?;
        let pre = StepPluginPre::new(instance_pre).map_err(|e| LoadError::WrongWorld(format!("{e:#}")))?;
        Ok((pre, source))
    }
}

/// How long optimised code waits for its quick plugin to be registered.
const UPGRADE_WAIT: std::time::Duration = std::time::Duration::from_millis(100);
const UPGRADE_WAITS: u32 = 50;

/// Compiles, holds and runs plugins.
pub struct Runtime {
    /// Where plugins end up: optimised code unless the host runs `fast`.
    main: Arc<Tier>,
    /// Tiered hosts: compiles first when the main tier has no cached code.
    quick: Option<Arc<Tier>>,
    limits: HostLimits,
    meter_fuel: bool,
    backends: Arc<Backends>,
    registry: Arc<Registry>,
    compilations: Arc<AtomicU64>,
    upgrades: tokio_util::task::TaskTracker,
    isolation: Option<Arc<CompileIsolation>>,
    /// The same for built-ins: a child process too, so that Cranelift's
    /// allocations stay out of the host's heap, but with the default limits
    /// (the operator's limits are for uploads).
    builtin_isolation: Option<Arc<CompileIsolation>>,
    queue: CompileQueue,
}

impl Runtime {
    /// A runtime with its engines, linkers and epoch tickers.
    pub fn new(config: RuntimeConfig) -> anyhow::Result<Self> {
        let (main, quick) = match config.compiler {
            Compiler::Optimized => (Tier::new(&config, CodeTier::Optimized, true)?, None),
            Compiler::Fast => (Tier::new(&config, CodeTier::Quick, true)?, None),
            Compiler::Tiered => (
                Tier::new(&config, CodeTier::Optimized, true)?,
                Some(Tier::new(&config, CodeTier::Quick, false)?),
            ),
        };
        Ok(Self {
            main,
            quick,
            limits: config.limits,
            meter_fuel: config.meter_fuel,
            backends: Arc::new(config.backends),
            registry: Arc::default(),
            compilations: Arc::default(),
            upgrades: tokio_util::task::TaskTracker::new(),
            builtin_isolation: config.isolation.as_ref().map(|i| {
                Arc::new(CompileIsolation {
                    program: i.program.clone(),
                    timeout: i.timeout.max(isolate::DEFAULT_TIMEOUT),
                    memory_bytes: i.memory_bytes.max(isolate::DEFAULT_MEMORY_BYTES),
                })
            }),
            isolation: config.isolation.map(Arc::new),
            queue: CompileQueue::new(config.install_queue),
        })
    }

    /// The capability backends.
    pub fn backends(&self) -> &Backends {
        &self.backends
    }

    /// The host's limits.
    pub fn limits(&self) -> &HostLimits {
        &self.limits
    }

    /// The loaded plugins.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The one compile slot installs share.
    pub fn compile_queue(&self) -> &CompileQueue {
        &self.queue
    }

    /// How many components this runtime compiled (not read from the cache).
    pub fn compilations(&self) -> u64 {
        self.compilations.load(Ordering::Relaxed)
    }

    /// Waits for the background compiles of optimised code started so far.
    pub async fn upgrades_finished(&self) {
        self.upgrades.close();
        self.upgrades.wait().await;
        self.upgrades.reopen();
    }

    /// Compiles (or reads from the cache) a component, checks that it is a
    /// step plugin, calls `describe()` and checks its answer. `grants` of `None`
    /// grants what the plugin asks for (built-ins only). The plugin is not
    /// registered; see [`Registry::insert`]. On a tiered host without cached
    /// optimised code, the plugin comes back on quick code and optimised code
    /// is compiled in the background, then put in its place in the registry.
    pub async fn load(
        &self,
        bytes: &[u8],
        grants: Option<Grants>,
        limits: LimitOverrides,
    ) -> Result<Arc<Plugin>, LoadError> {
        check_header(bytes)?;
        let sha256 = hex::encode(Sha256::digest(bytes));
        let tier = match &self.quick {
            Some(quick) if !self.main.cache.contains(&sha256) => quick.clone(),
            _ => self.main.clone(),
        };
        let bytes = Bytes::copy_from_slice(bytes);
        // Everything compiles out of the process when the host is set up to:
        // an upload because it is untrusted, a built-in because Cranelift's
        // allocations would otherwise stay resident in an idle host's heap
        // (on a fresh start, 97 MiB idle against 46 MiB).
        let mut isolation =
            if grants.is_some() { self.isolation.clone() } else { self.builtin_isolation.clone() };
        let (pre, source) = match tier.prepare(bytes.clone(), sha256.clone(), isolation.as_deref()).await {
            Ok(prepared) => prepared,
            // A built-in's bytes are the host's own: should the child fail
            // (it cannot start, or its limits are too small here), compile
            // them in the process rather than not start.
            Err(e) if grants.is_none() && isolation.is_some() => {
                tracing::warn!(
                    "compiling a built-in in a child process failed ({e}); compiling it in the process"
                );
                isolation = None;
                tier.prepare(bytes.clone(), sha256.clone(), None).await?
            }
            Err(e) => return Err(e),
        };
        if source == CodeSource::Compiled {
            self.compilations.fetch_add(1, Ordering::Relaxed);
        }

        let info = self.describe(&pre).await?;
        let validator = plugin::check_info(&info)?;
        let grants = match grants {
            Some(grants) => grants,
            None => Grants::parse(&info.capabilities).map_err(LoadError::InvalidInfo)?,
        };
        let caller = Arc::new(Caller {
            plugin: format!("{}@{}", info.name, info.version),
            name: info.name.clone(),
            grants,
        });
        let validator = Arc::new(validator);
        let plugin = Arc::new(Plugin {
            info,
            sha256,
            size: bytes.len(),
            limits,
            source,
            caller,
            pre,
            tier: tier.code,
            validator,
        });
        if !Arc::ptr_eq(&tier, &self.main) {
            self.upgrade_later(plugin.clone(), bytes, isolation);
        }
        Ok(plugin)
    }

    /// Compiles optimised code for a plugin loaded on quick code and puts it
    /// in the registry in the quick plugin's place.
    fn upgrade_later(&self, quick: Arc<Plugin>, bytes: Bytes, isolation: Option<Arc<CompileIsolation>>) {
        let (main, registry, compilations) =
            (self.main.clone(), self.registry.clone(), self.compilations.clone());
        self.upgrades.spawn(async move {
            let started = Instant::now();
            match main.prepare(bytes, quick.sha256.clone(), isolation.as_deref()).await {
                Ok((pre, source)) => {
                    if source == CodeSource::Compiled {
                        compilations.fetch_add(1, Ordering::Relaxed);
                    }
                    let optimized = Arc::new(quick.with_code(pre, main.code, source));
                    // The caller registers the quick plugin after `load` returns
                    // (a database write in between): give it time to before
                    // concluding it never will (a refused install).
                    for _ in 0..UPGRADE_WAITS {
                        if registry.upgrade(optimized.clone()) {
                            tracing::info!(
                                "plugin `{}` runs optimised code (compiled in {} ms)",
                                quick.id(),
                                started.elapsed().as_millis()
                            );
                            release_freed_memory();
                            return;
                        }
                        if registry.resolve(quick.id()).is_some() {
                            return; // other bytes now, or optimised already
                        }
                        tokio::time::sleep(UPGRADE_WAIT).await;
                    }
                }
                Err(e) => tracing::warn!(
                    "plugin `{}` stays on quick code: optimised compile failed: {e}",
                    quick.id()
                ),
            }
        });
    }

    /// Loads and registers every built-in plugin.
    pub async fn load_builtins(&self) -> Result<Vec<Arc<Plugin>>, LoadError> {
        let mut loaded = Vec::new();
        for (crate_name, bytes) in builtin::BUILTIN {
            let plugin = self
                .load(bytes, None, LimitOverrides::default())
                .await
                .map_err(|e| LoadError::Internal(format!("built-in plugin `{crate_name}`: {e}")))?;
            self.registry.mark_builtin(&plugin.info().name);
            self.registry.insert(plugin.clone());
            loaded.push(plugin);
        }
        Ok(loaded)
    }

    async fn describe(&self, pre: &StepPluginPre<StepState>) -> Result<PluginInfo, LoadError> {
        let limits = self.limits.defaults;
        let caller =
            Arc::new(Caller { plugin: "(loading)".into(), name: String::new(), grants: Grants::none() });
        let attempt =
            step::Attempt { engine: pre.engine(), backends: &self.backends, meter_fuel: self.meter_fuel };
        let stdout = output::CapturedOutput::new(step::CAPTURE_BYTES);
        let stderr = output::CapturedOutput::new(step::CAPTURE_BYTES);
        let mut store = step::new_store(
            &attempt,
            caller,
            &limits,
            Default::default(),
            Default::default(),
            &stdout,
            &stderr,
            Instant::now(),
        )
        .map_err(|e| LoadError::Internal(e.to_string()))?;
        let call = async {
            let instance = pre.instantiate_async(&mut store).await?;
            instance.weft_plugin_step().call_describe(&mut store).await
        };
        let described = tokio::time::timeout(std::time::Duration::from_millis(limits.time_ms), call).await;
        let info = match described {
            Err(_) => {
                return Err(LoadError::Describe(
                    StepFailure::TimeExceeded { limit_ms: limits.time_ms }.to_string(),
                ));
            }
            Ok(Err(e)) => {
                return Err(LoadError::Describe(
                    step::classify_trap(&e, &store, &limits, &stderr.text()).to_string(),
                ));
            }
            Ok(Ok(info)) => info,
        };
        let config_schema = serde_json::from_str(&info.config_schema)
            .map_err(|e| LoadError::InvalidSchema(format!("not valid JSON: {e}")))?;
        Ok(PluginInfo {
            name: info.name,
            version: info.version,
            description: info.description,
            config_schema,
            capabilities: info.capabilities,
        })
    }

    /// Runs one attempt of `plugin` with the limits that apply: host defaults,
    /// then the plugin's overrides, then `step_limits`, capped at the maximum.
    pub async fn run_step(
        &self,
        plugin: &Plugin,
        input: &StepInput,
        step_limits: &LimitOverrides,
    ) -> StepReport {
        let limits = self.limits.resolve(&plugin.limits, step_limits);
        let attempt = step::Attempt {
            engine: plugin.pre.engine(),
            backends: &self.backends,
            meter_fuel: self.meter_fuel,
        };
        step::run(attempt, plugin, input, limits).await
    }
}

/// Tells a core module and non-wasm bytes from a component before compiling.
pub fn check_header(bytes: &[u8]) -> Result<(), LoadError> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(LoadError::NotWasm);
    }
    // Bytes 6..8 are the layer: 0 for core modules, 1 for components.
    match bytes[6..8] {
        [0, 0] => Err(LoadError::CoreModule),
        _ => Ok(()),
    }
}

/// Gives the heap pages a compile freed back to the system: Cranelift's
/// allocations are many and short-lived, and glibc keeps what they freed
/// resident, which an idle host would carry for good.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}
