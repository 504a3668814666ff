//! Dispatch cost of a step attempt: fresh store, instantiate from the
//! `InstancePre`, run, drop. Also the latency distribution of no-op dispatch,
//! throughput of one versus two concurrent dispatchers, and the cost of fuel
//! metering on a CPU-bound step.
//!
//! `cargo bench -p weft --bench dispatch`; with `WEFT_BENCH_CODE=quick`, the
//! same on the quick code a tiered host runs before optimised code takes over.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use serde_json::json;
use weft::runtime::{Compiler, LimitOverrides, Limits, Plugin, Runtime, RuntimeConfig, StepInput, builtin};

fn test_plugin(name: &str) -> Vec<u8> {
    let (_, path) = builtin::TEST_PLUGINS.iter().find(|(n, _)| *n == name).expect("test plugin is built");
    std::fs::read(path).expect("read test plugin")
}

fn input(config: serde_json::Value) -> StepInput {
    StepInput {
        workflow_id: "wf-1".into(),
        run_id: "run-bench".into(),
        step_id: "noop".into(),
        attempt: 1,
        now_ms: 0,
        config: config.to_string(),
        context: "{}".into(),
        secrets: None,
    }
}

fn quick_code() -> bool {
    std::env::var("WEFT_BENCH_CODE").is_ok_and(|v| v == "quick")
}

fn setup(meter_fuel: bool, plugin: &str) -> (tokio::runtime::Runtime, Arc<Runtime>, Arc<Plugin>) {
    let executor =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    // Tiered without a cache: the plugin loads on quick code; it is kept after
    // the background compile so that no compile competes with the measurement.
    let compiler = if quick_code() { Compiler::Tiered } else { Compiler::Optimized };
    let rt =
        Arc::new(Runtime::new(RuntimeConfig { meter_fuel, compiler, ..RuntimeConfig::default() }).unwrap());
    let bytes = test_plugin(plugin);
    let p = executor.block_on(rt.load(&bytes, None, LimitOverrides::default())).unwrap();
    executor.block_on(rt.upgrades_finished());
    println!("{plugin}: {} code", p.code_tier().as_str());
    (executor, rt, p)
}

fn noop_dispatch(c: &mut Criterion) {
    let (executor, rt, p) = setup(true, "noop");
    let input = input(json!({}));
    let limits = LimitOverrides::default();
    c.bench_function("dispatch/noop", |b| {
        b.to_async(&executor).iter(|| async {
            let report = rt.run_step(&p, &input, &limits).await;
            assert!(report.result.is_ok());
        })
    });
}

fn fuel_cost(c: &mut Criterion) {
    let mut group = c.benchmark_group("cpu-step");
    let input = input(json!({ "mode": "cpu", "iterations": 1_000_000 }));
    let limits = LimitOverrides { fuel: Some(Limits::MAX.fuel), ..Default::default() };
    for (name, meter) in [("fuel-on", true), ("fuel-off", false)] {
        let (executor, rt, p) = setup(meter, "hostile");
        group.bench_function(name, |b| {
            b.to_async(&executor).iter(|| async {
                let report = rt.run_step(&p, &input, &limits).await;
                assert!(report.result.is_ok());
            })
        });
    }
    group.finish();
}

/// p50/p99 of single no-op dispatches, and throughput with one and two
/// dispatchers: numbers criterion does not report.
fn distribution_and_scaling() {
    let (executor, rt, p) = setup(true, "noop");
    let input = Arc::new(input(json!({})));
    let limits = LimitOverrides::default();
    executor.block_on(async {
        for _ in 0..2_000 {
            rt.run_step(&p, &input, &limits).await;
        }
        let mut samples = Vec::with_capacity(50_000);
        for _ in 0..50_000 {
            let start = Instant::now();
            let report = rt.run_step(&p, &input, &limits).await;
            samples.push(start.elapsed());
            assert!(report.result.is_ok());
        }
        samples.sort();
        let pct = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
        println!(
            "dispatch/noop latency over {} runs: p50 {:.1} us, p99 {:.1} us, p99.9 {:.1} us",
            samples.len(),
            pct(0.50).as_secs_f64() * 1e6,
            pct(0.99).as_secs_f64() * 1e6,
            pct(0.999).as_secs_f64() * 1e6
        );
    });

    let window = Duration::from_secs(3);
    let mut rates = Vec::new();
    for dispatchers in [1usize, 2] {
        let done = executor.block_on(async {
            let deadline = Instant::now() + window;
            let tasks: Vec<_> = (0..dispatchers)
                .map(|_| {
                    let (rt, p, input) = (rt.clone(), p.clone(), input.clone());
                    tokio::spawn(async move {
                        let mut n = 0u64;
                        while Instant::now() < deadline {
                            rt.run_step(&p, &input, &LimitOverrides::default()).await;
                            n += 1;
                        }
                        n
                    })
                })
                .collect();
            let mut total = 0;
            for t in tasks {
                total += t.await.unwrap();
            }
            total
        });
        let rate = done as f64 / window.as_secs_f64();
        println!("dispatch/noop throughput with {dispatchers} dispatcher(s): {rate:.0} steps/s");
        rates.push(rate);
    }
    println!("dispatch/noop scaling, two dispatchers over one: {:.2}x", rates[1] / rates[0]);
}

criterion_group!(benches, noop_dispatch, fuel_cost);

fn main() {
    benches();
    // Skipped under `cargo test --benches`, which passes no `--bench` flag.
    if std::env::args().any(|a| a == "--bench") {
        distribution_and_scaling();
    }
    Criterion::default().configure_from_args().final_summary();
}
