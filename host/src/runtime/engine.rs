//! The `wasmtime::Engine`s of the process (one per code tier) and the epoch
//! ticker that gives every store its wall-time deadline and its yield points.

use std::sync::{Condvar, Mutex};
use std::thread;
use std::time::Duration;

use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig, RegallocAlgorithm,
};

use super::limits::HostLimits;

/// How often the epoch advances: the granularity of wall-time limits and of
/// the yields that keep one CPU-heavy step from starving the others.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Concurrent instances the pool holds; more attempts than this wait for a slot.
pub const POOL_INSTANCES: u32 = 1_000;

/// How plugins are compiled, host-wide.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Compiler {
    /// Quick code first, so an install answers fast (a 2 MB component: about
    /// 1.5 s on 2 cores); optimised code is compiled in the background and
    /// takes over when ready. A restart finds the optimised code in the cache.
    #[default]
    Tiered,
    /// Optimised code only: the fastest plugins, the slowest installs (a 2 MB
    /// component: 2.5 to 3 s on 2 cores).
    Optimized,
    /// Quick code only: fast installs, code about twice as large and slower.
    Fast,
}

/// The code one engine produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeTier {
    /// No optimisation passes, single-pass register allocation.
    Quick,
    /// Cranelift's optimisations and backtracking register allocation.
    Optimized,
}

impl CodeTier {
    /// `quick` or `optimized`.
    pub fn as_str(self) -> &'static str {
        match self {
            CodeTier::Quick => "quick",
            CodeTier::Optimized => "optimized",
        }
    }
}

/// Builds an engine for `tier`: epoch interruption, fuel unless `meter_fuel`
/// is off (benchmarks only: without fuel, a loop is stopped by the wall-time
/// limit alone), and the pooling allocator when `pooled` (the engine that runs
/// most attempts; the quick tier of a tiered host serves only the seconds
/// before optimised code is ready, and allocates on demand).
pub fn build(
    limits: &HostLimits,
    meter_fuel: bool,
    tier: CodeTier,
    pooled: bool,
) -> wasmtime::Result<Engine> {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(POOL_INSTANCES)
        .total_core_instances(POOL_INSTANCES * 4)
        .total_memories(POOL_INSTANCES * 2)
        .total_tables(POOL_INSTANCES * 4)
        .total_stacks(POOL_INSTANCES)
        .max_memory_size(usize::try_from(limits.max.memory_bytes).unwrap_or(usize::MAX))
        // Componentized interpreters (CPython, JS) carry many core instances.
        .max_core_instances_per_component(64)
        .max_memories_per_component(16)
        .max_tables_per_component(64)
        .max_component_instance_size(1 << 20)
        .max_core_instance_size(1 << 20)
        // Zeroing the first 256 KiB of a slot in place instead of returning the
        // pages to the kernel avoids a page fault per touched page and a TLB
        // shootdown per instance: it covers a plugin's 128 KiB stack, its data
        // and a small heap (plugins/.cargo/config.toml). Measured: no-op dispatch
        // p50 from 69 us to 31 us.
        .linear_memory_keep_resident(256 << 10)
        .table_keep_resident(64 << 10)
        .async_stack_keep_resident(64 << 10);

    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .consume_fuel(meter_fuel)
        .epoch_interruption(true)
        .cranelift_opt_level(match tier {
            CodeTier::Optimized => OptLevel::Speed,
            CodeTier::Quick => OptLevel::None,
        })
        .cranelift_regalloc_algorithm(match tier {
            CodeTier::Optimized => RegallocAlgorithm::Backtracking,
            CodeTier::Quick => RegallocAlgorithm::SinglePass,
        })
        .max_wasm_stack(1 << 20)
        .async_stack_size(2 << 20)
        .allocation_strategy(if pooled {
            InstanceAllocationStrategy::Pooling(pool)
        } else {
            InstanceAllocationStrategy::OnDemand
        });
    let engine = Engine::new(&config)?;
    start_epoch_ticker(&engine);
    Ok(engine)
}

/// Stores alive (steps and `describe()` calls in flight): the tickers
/// sleep while there are none, so an idle host does not wake every tick.
static STORES: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());

/// Held by every store while it lives: the epoch advances only then.
#[derive(Debug)]
pub struct Ticking(());

impl Ticking {
    /// Counts a new store in, waking the tickers.
    pub fn start() -> Self {
        let (count, wake) = &STORES;
        *count.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        wake.notify_all();
        Ticking(())
    }
}

impl Drop for Ticking {
    fn drop(&mut self) {
        let mut count = STORES.0.lock().unwrap_or_else(|p| p.into_inner());
        *count = count.saturating_sub(1);
    }
}

/// Advances the epoch every [`EPOCH_TICK`] while a store lives, until the
/// engine is dropped. A store's deadline is counted from the epoch when it is
/// set, so ticks skipped while no store lived change no deadline.
fn start_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    let spawned = thread::Builder::new().name("weft-epoch".into()).spawn(move || {
        while let Some(engine) = weak.upgrade() {
            engine.increment_epoch();
            drop(engine);
            thread::sleep(EPOCH_TICK);
            let (count, wake) = &STORES;
            let mut stores = count.lock().unwrap_or_else(|p| p.into_inner());
            while *stores == 0 && weak.upgrade().is_some() {
                // Now and then, to notice the engine dropped.
                stores =
                    wake.wait_timeout(stores, Duration::from_secs(1)).unwrap_or_else(|p| p.into_inner()).0;
            }
        }
    });
    if let Err(e) = spawned {
        tracing::error!(
            "cannot start the epoch ticker, wall-time limits rely on the async timeout alone: {e}"
        );
    }
}
