//! Installing plugins: a 2 MB component through the same path as
//! `POST /api/plugins` (compile, check, describe, store, register), and a
//! restart with a dozen installed plugins, ready from the compiled cache. A
//! tiered host answers the install on quick code; the benchmark also waits
//! for optimised code to take over.
//!
//! Installs compile in a child process, as `weft serve` does.
//!
//! `cargo bench -p weft --bench install`

use std::time::{Duration, Instant};

use weft::engine::plugins;
use weft::runtime::isolate::{DEFAULT_MEMORY_BYTES, DEFAULT_TIMEOUT};
use weft::runtime::{CodeTier, CompileIsolation, Compiler, LimitOverrides, Runtime, RuntimeConfig, builtin};
use weft::store::Store;

fn component(name: &str) -> Vec<u8> {
    let (_, path) = builtin::TEST_PLUGINS.iter().find(|(n, _)| *n == name).expect("test plugin is built");
    std::fs::read(path).expect("read test plugin")
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Compiles out of the process through the `weft` binary, as `weft serve` does.
fn isolation() -> Option<CompileIsolation> {
    Some(CompileIsolation {
        program: env!("CARGO_BIN_EXE_weft").into(),
        timeout: DEFAULT_TIMEOUT,
        memory_bytes: DEFAULT_MEMORY_BYTES,
    })
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return; // `cargo test --benches` builds this; only `cargo bench` runs it
    }
    let executor =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    executor.block_on(async {
        let big = component("render");
        for compiler in [Compiler::Tiered, Compiler::Optimized] {
            let (mut installs, mut optimized) = (Vec::new(), Vec::new());
            for _ in 0..5 {
                let dir = tempfile::tempdir().unwrap();
                let store =
                    Store::open(&format!("sqlite://{}", dir.path().join("weft.db").display()), Default::default()).await.unwrap();
                let config = RuntimeConfig {
                    cache_dir: Some(dir.path().join("cache")),
                    compiler,
                    isolation: isolation(),
                    ..RuntimeConfig::default()
                };
                let runtime = Runtime::new(config).unwrap();
                let start = Instant::now();
                let plugin = plugins::install(&store, &runtime, &big, &[], LimitOverrides::default()).await.unwrap().0;
                installs.push(start.elapsed());
                runtime.upgrades_finished().await;
                optimized.push(start.elapsed());
                let in_use = runtime.registry().resolve(plugin.id()).unwrap();
                assert_eq!(in_use.code_tier(), CodeTier::Optimized, "optimised code took over");
            }
            println!(
                "install of a {:.1} MB component, compiler {compiler:?} (compile, describe, store, register): median {:.0} ms, max {:.0} ms over {} fresh hosts; optimised code in use after median {:.0} ms",
                big.len() as f64 / 1e6,
                ms(median(installs.clone())),
                ms(*installs.iter().max().unwrap()),
                installs.len(),
                ms(median(optimized.clone())),
            );
        }

        // A host with a dozen installed plugins (the built-ins' components
        // installed as ordinary plugins, plus the test plugins), then restarts.
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("weft.db").display());
        let config = RuntimeConfig {
            cache_dir: Some(dir.path().join("cache")),
            compiler: Compiler::Tiered,
            isolation: isolation(),
            ..RuntimeConfig::default()
        };
        {
            let store = Store::open(&url, Default::default()).await.unwrap();
            let runtime = Runtime::new(config.clone()).unwrap();
            let mut bytes: Vec<Vec<u8>> = builtin::BUILTIN.iter().map(|(_, b)| b.to_vec()).collect();
            for name in ["render", "greeter-v1", "greeter-v2", "flaky", "hostile", "noop"] {
                bytes.push(component(name));
            }
            for b in &bytes {
                plugins::install(&store, &runtime, b, &[], LimitOverrides::default()).await.unwrap();
            }
            runtime.upgrades_finished().await;
        }
        let mut restarts = Vec::new();
        let mut loaded = 0;
        for _ in 0..5 {
            let start = Instant::now();
            let store = Store::open(&url, Default::default()).await.unwrap();
            let runtime = Runtime::new(config.clone()).unwrap();
            loaded = plugins::sync(&store, &runtime).await.unwrap();
            restarts.push(start.elapsed());
            assert_eq!(runtime.compilations(), 0, "a restart compiled code");
            assert!(runtime.registry().list().iter().all(|p| p.code_tier() == CodeTier::Optimized));
        }
        println!(
            "restart with {loaded} installed plugins, ready from the compiled cache: median {:.0} ms, max {:.0} ms",
            ms(median(restarts.clone())),
            ms(*restarts.iter().max().unwrap())
        );
    });
}
