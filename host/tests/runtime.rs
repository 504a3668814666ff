//! The plugin runtime against real components built from `plugins/`: the
//! built-ins' behaviour, every hostile plugin's exact failure, load errors,
//! fairness between steps and the compiled-code cache.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use weft::runtime::{
    Backends, CodeSource, CodeTier, Compiler, Grants, LimitOverrides, Limits, LoadError, Outcome, Plugin,
    Runtime, RuntimeConfig, StepFailure, StepInput, builtin,
};
use weft::store::{Store, StoreKv};

const NOW: u64 = 1_764_000_000_000;

fn test_plugin(name: &str) -> Vec<u8> {
    let (_, path) = builtin::TEST_PLUGINS
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no test plugin {name}"));
    std::fs::read(path).unwrap()
}

fn runtime() -> Runtime {
    Runtime::new(RuntimeConfig::default()).unwrap()
}

fn input(config: Value, context: Value) -> StepInput {
    StepInput {
        workflow_id: "wf-1".into(),
        run_id: "run-1".into(),
        step_id: "step-1".into(),
        attempt: 1,
        now_ms: NOW,
        config: config.to_string(),
        context: context.to_string(),
        secrets: None,
    }
}

async fn builtin_plugin(rt: &Runtime, name: &str) -> Arc<Plugin> {
    rt.load_builtins().await.unwrap();
    rt.registry().resolve(name).unwrap()
}

async fn run(rt: &Runtime, plugin: &Plugin, config: Value) -> Result<Outcome, StepFailure> {
    run_with(rt, plugin, config, json!({}), LimitOverrides::default()).await
}

async fn run_with(
    rt: &Runtime,
    plugin: &Plugin,
    config: Value,
    context: Value,
    limits: LimitOverrides,
) -> Result<Outcome, StepFailure> {
    rt.run_step(plugin, &input(config, context), &limits).await.result
}

async fn hostile(rt: &Runtime, grants: &[&str]) -> Arc<Plugin> {
    let grants = Grants::parse(grants).unwrap();
    rt.load(&test_plugin("hostile"), Some(grants), LimitOverrides::default()).await.unwrap()
}

#[tokio::test]
async fn every_builtin_describes_itself_with_a_valid_json_schema() {
    let rt = runtime();
    let loaded = rt.load_builtins().await.unwrap();
    let mut seen: Vec<(String, String, Vec<String>)> = loaded
        .iter()
        .map(|p| (p.info().name.clone(), p.info().version.clone(), p.grants().to_strings()))
        .collect();
    seen.sort();
    let expected = [
        ("condition", vec![]),
        ("email", vec!["email"]),
        ("notification", vec!["notify"]),
        ("update-field", vec![]),
        ("wait", vec![]),
        ("webhook", vec!["http", "sign"]),
    ];
    let expected: Vec<(String, String, Vec<String>)> = expected
        .iter()
        .map(|(n, g)| (n.to_string(), "0.1.0".to_string(), g.iter().map(|s| s.to_string()).collect()))
        .collect();
    assert_eq!(seen, expected);
    for plugin in &loaded {
        let schema = &plugin.info().config_schema;
        assert!(jsonschema::meta::is_valid(schema), "{}: {schema}", plugin.id());
        assert_eq!(schema["type"], "object", "{}", plugin.id());
        assert!(!plugin.info().description.is_empty());
    }
    let wait = rt.registry().resolve("wait").unwrap();
    assert_eq!(wait.validate_config(&json!({ "duration": "2d" })), Vec::<String>::new());
    assert_eq!(
        wait.validate_config(&json!({ "duration": 5 })),
        vec!["/duration: 5 is not of types \"null\", \"string\"".to_string()]
    );
}

#[tokio::test]
async fn condition_picks_the_branch_for_true_false_and_missing_values() {
    let rt = runtime();
    let p = builtin_plugin(&rt, "condition").await;
    let cases = [
        (
            json!({ "if": true, "then": "send", "else": "skip" }),
            Outcome::Branch { target: "send".into(), output: json!({ "result": true }) },
        ),
        (
            json!({ "if": false, "then": "send", "else": "skip" }),
            Outcome::Branch { target: "skip".into(), output: json!({ "result": false }) },
        ),
        (
            json!({ "then": "send", "else": "skip" }),
            Outcome::Branch { target: "skip".into(), output: json!({ "result": false }) },
        ),
        (
            json!({ "if": null, "then": "send", "else": "skip" }),
            Outcome::Branch { target: "skip".into(), output: json!({ "result": false }) },
        ),
        (
            json!({ "if": "a@b.example", "then": "send", "else": "skip" }),
            Outcome::Branch { target: "send".into(), output: json!({ "result": true }) },
        ),
        (json!({ "if": "false", "then": "send" }), Outcome::Done(json!({ "result": false }))),
        (
            json!({ "if": 0, "then": "send", "else": "end" }),
            Outcome::Branch { target: "end".into(), output: json!({ "result": false }) },
        ),
    ];
    for (config, expected) in cases {
        assert_eq!(run(&rt, &p, config.clone()).await, Ok(expected), "{config}");
    }
}

#[tokio::test]
async fn update_field_sets_unsets_and_increments_nested_fields() {
    let rt = runtime();
    let p = builtin_plugin(&rt, "update-field").await;
    let context = json!({ "vars": { "status": "new", "stats": { "visits": 2, "old": true }, "keep": 1 } });
    let config = json!({
        "set": { "status": "welcomed", "customer.address.city": "Lyon" },
        "increment": { "stats.visits": 3, "stats.fresh": 1, "score": 0.5 },
        "unset": ["stats.old", "missing.path", "keep"],
    });
    let outcome = run_with(&rt, &p, config, context, LimitOverrides::default()).await;
    assert_eq!(
        outcome,
        Ok(Outcome::SetVars(json!({
            "status": "welcomed",
            "customer": { "address": { "city": "Lyon" } },
            "stats": { "visits": 5, "fresh": 1 },
            "score": 0.5,
        })))
    );

    let bad = run_with(
        &rt,
        &p,
        json!({ "increment": { "status": 1 } }),
        json!({ "vars": { "status": "new" } }),
        LimitOverrides::default(),
    )
    .await;
    assert_eq!(
        bad,
        Err(StepFailure::Failed {
            message: "config field `increment.status`: the current value \"new\" is not a number".into(),
            retryable: false
        })
    );
    let through_scalar = run_with(
        &rt,
        &p,
        json!({ "set": { "status.x": 1 } }),
        json!({ "vars": { "status": "new" } }),
        LimitOverrides::default(),
    )
    .await;
    assert_eq!(
        through_scalar,
        Err(StepFailure::Failed {
            message: "config field `set.status.x`: `x` is inside \"new\", which is not an object".into(),
            retryable: false
        })
    );
}

#[tokio::test]
async fn wait_turns_durations_and_instants_into_wake_times_and_rejects_soon() {
    let rt = runtime();
    let p = builtin_plugin(&rt, "wait").await;
    let until = |outcome: Result<Outcome, StepFailure>| match outcome {
        Ok(Outcome::Sleep { until_ms, .. }) => until_ms,
        other => panic!("expected a sleep, got {other:?}"),
    };
    assert_eq!(until(run(&rt, &p, json!({ "duration": "90s" })).await), NOW + 90_000);
    assert_eq!(until(run(&rt, &p, json!({ "duration": "2d" })).await), NOW + 2 * 86_400_000);
    assert_eq!(until(run(&rt, &p, json!({ "duration": "1h30m" })).await), NOW + 5_400_000);
    assert_eq!(until(run(&rt, &p, json!({ "duration": "PT1H30M" })).await), NOW + 5_400_000);
    let at = run(&rt, &p, json!({ "until": "2026-12-01T09:00:00Z" })).await;
    assert_eq!(
        at,
        Ok(Outcome::Sleep {
            until_ms: 1_796_115_600_000,
            output: json!({ "until": 1_796_115_600_000u64, "untilIso": "2026-12-01T09:00:00.000Z" })
        })
    );
    assert_eq!(
        run(&rt, &p, json!({ "duration": "soon" })).await,
        Err(StepFailure::Failed {
            message: "config field `duration`: \"soon\" is not a duration (use e.g. 90s, 15m, 2h, 2d, 1h30m or PT1H30M)".into(),
            retryable: false
        })
    );
}

/// After each hostile attempt, the same runtime still runs a normal step.
async fn still_serving(rt: &Runtime) {
    let noop = rt.load(&test_plugin("noop"), None, LimitOverrides::default()).await.unwrap();
    let echoed = run(rt, &noop, json!({ "echo": true })).await;
    assert_eq!(
        echoed,
        Ok(Outcome::Done(json!({ "runId": "run-1", "stepId": "step-1", "attempt": 1, "nowMs": NOW })))
    );
}

#[tokio::test]
async fn an_infinite_loop_runs_out_of_fuel_naming_the_limit() {
    let rt = runtime();
    let p = hostile(&rt, &[]).await;
    let limits = LimitOverrides { fuel: Some(50_000_000), ..Default::default() };
    let report = rt.run_step(&p, &input(json!({ "mode": "loop" }), json!({})), &limits).await;
    assert_eq!(report.result, Err(StepFailure::FuelExhausted { limit: 50_000_000 }));
    assert_eq!(
        report.error_message().unwrap(),
        "plugin `hostile@0.1.0`: fuel exhausted after 50000000 units (fuel limit)"
    );
    assert_eq!(report.usage.fuel, 50_000_000);
    still_serving(&rt).await;
}

#[tokio::test]
async fn a_memory_bomb_hits_the_memory_limit() {
    let rt = runtime();
    let p = hostile(&rt, &[]).await;
    let limits = LimitOverrides { memory_bytes: Some(32 << 20), ..Default::default() };
    let report = rt.run_step(&p, &input(json!({ "mode": "memory-bomb" }), json!({})), &limits).await;
    match report.result {
        Err(StepFailure::MemoryExceeded { limit, requested }) => {
            assert_eq!(limit, 32 << 20);
            assert!(requested > limit, "requested {requested}");
        }
        other => panic!("expected the memory limit, got {other:?}"),
    }
    assert!(report.usage.peak_memory_bytes <= 32 << 20);
    still_serving(&rt).await;
}

#[tokio::test]
async fn unbounded_recursion_is_a_stack_overflow() {
    let rt = runtime();
    let p = hostile(&rt, &[]).await;
    assert_eq!(run(&rt, &p, json!({ "mode": "recurse" })).await, Err(StepFailure::StackOverflow));
    still_serving(&rt).await;
}

#[tokio::test]
async fn spinning_and_sleeping_past_the_wall_time_limit_are_stopped() {
    let rt = runtime();
    let p = hostile(&rt, &[]).await;
    let limits = LimitOverrides { time_ms: Some(200), fuel: Some(Limits::MAX.fuel), ..Default::default() };
    let spin = run_with(&rt, &p, json!({ "mode": "spin", "ms": 60_000 }), json!({}), limits).await;
    assert_eq!(spin, Err(StepFailure::TimeExceeded { limit_ms: 200 }));
    let sleep = run_with(&rt, &p, json!({ "mode": "sleep", "ms": 60_000 }), json!({}), limits).await;
    assert_eq!(sleep, Err(StepFailure::TimeExceeded { limit_ms: 200 }));
    still_serving(&rt).await;
}

#[tokio::test]
async fn a_panic_is_a_step_error_carrying_the_panic_message() {
    let rt = runtime();
    let p = hostile(&rt, &[]).await;
    let report = rt
        .run_step(
            &p,
            &input(json!({ "mode": "panic", "message": "boom 42" }), json!({})),
            &LimitOverrides::default(),
        )
        .await;
    assert_eq!(report.result, Err(StepFailure::Panicked { message: "boom 42".into() }));
    assert_eq!(report.error_message().unwrap(), "plugin `hostile@0.1.0`: panicked: boom 42");
    still_serving(&rt).await;
}

#[tokio::test]
async fn files_env_and_sockets_fail_inside_the_plugin() {
    let rt = runtime();
    let p = hostile(&rt, &[]).await;
    // No preopened directory: the path cannot be resolved.
    let file = run(&rt, &p, json!({ "mode": "read-file", "path": "/etc/passwd" })).await.unwrap();
    let error = file.output()["error"].as_str().unwrap().to_owned();
    assert!(file.output().get("read").is_none());
    assert_eq!(error, FILE_ERROR, "read-file error");
    // No environment at all.
    let env = run(&rt, &p, json!({ "mode": "env", "name": "HOME" })).await.unwrap();
    assert_eq!(env.output(), &json!({ "value": null, "count": 0 }));
    // Sockets are linked but every address is denied.
    let socket = run(&rt, &p, json!({ "mode": "socket", "addr": "127.0.0.1:9" })).await.unwrap();
    assert_eq!(socket.output()["error"], SOCKET_ERROR, "socket error");
    still_serving(&rt).await;
}

const FILE_ERROR: &str = "No such file or directory (os error 44)";
const SOCKET_ERROR: &str = "Permission denied (os error 2)";

#[tokio::test]
async fn a_call_to_an_ungranted_capability_is_denied() {
    let rt = runtime();
    let p = hostile(&rt, &[]).await;
    assert_eq!(
        run(&rt, &p, json!({ "mode": "http", "url": "http://127.0.0.1:1/" })).await,
        Err(StepFailure::Failed {
            message: "capability `http` is not granted to plugin `hostile@0.1.0`".into(),
            retryable: false
        })
    );
    assert_eq!(
        run(&rt, &p, json!({ "mode": "kv", "key": "k", "value": "v" })).await,
        Err(StepFailure::Failed {
            message: "capability `kv` is not granted to plugin `hostile@0.1.0`".into(),
            retryable: false
        })
    );
    let limited = hostile(&rt, &["http:api.example.com"]).await;
    assert_eq!(
        run(&rt, &limited, json!({ "mode": "http", "url": "http://127.0.0.1:1/" })).await,
        Err(StepFailure::Failed {
            message: "capability `http` of plugin `hostile@0.1.0` does not include host `127.0.0.1`".into(),
            retryable: false
        })
    );
}

#[tokio::test]
async fn an_output_over_the_cap_is_rejected() {
    let rt = runtime();
    let p = hostile(&rt, &[]).await;
    let limits = LimitOverrides { output_bytes: Some(1000), ..Default::default() };
    let big = run_with(&rt, &p, json!({ "mode": "big-output", "bytes": 5000 }), json!({}), limits).await;
    // The JSON string adds its two quotes.
    assert_eq!(big, Err(StepFailure::OutputTooLarge { size: 5002, limit: 1000 }));
    let fits = run_with(&rt, &p, json!({ "mode": "big-output", "bytes": 998 }), json!({}), limits).await;
    assert_eq!(fits.unwrap().output().as_str().map(str::len), Some(998));
}

#[tokio::test]
async fn granted_kv_is_durable_and_namespaced_per_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("kv.db").display());
    for (round, before) in [(1, Value::Null), (2, json!("one"))] {
        let store = Store::open(&url, Default::default()).await.unwrap();
        let backends =
            Backends { kv: Some(Arc::new(StoreKv::new(store.pool().clone()))), ..Backends::default() };
        let rt = Runtime::new(RuntimeConfig { backends, ..RuntimeConfig::default() }).unwrap();
        let p = hostile(&rt, &["kv"]).await;
        let value = if round == 1 { "one" } else { "two" };
        let out = run(&rt, &p, json!({ "mode": "kv", "key": "greeting", "value": value })).await.unwrap();
        assert_eq!(out.output(), &json!({ "before": before, "after": value, "keys": ["greeting"] }));
    }
}

#[tokio::test]
async fn logs_stdout_and_stderr_are_captured() {
    let rt = runtime();
    let p = hostile(&rt, &[]).await;
    let report = rt
        .run_step(&p, &input(json!({ "mode": "chatty", "lines": 2 }), json!({})), &LimitOverrides::default())
        .await;
    assert_eq!(report.result, Ok(Outcome::Done(json!(2))));
    let messages: Vec<&str> = report.logs.iter().map(|l| l.message.as_str()).collect();
    assert_eq!(messages, ["log line 0", "log line 1"]);
    assert_eq!(report.stdout, "stdout line 0\nstdout line 1\n");
    assert_eq!(report.stderr, "stderr line 0\nstderr line 1\n");
    assert!(report.usage.fuel > 0);
    assert!(report.usage.peak_memory_bytes > 0);
}

#[tokio::test]
async fn bad_components_give_clear_load_errors() {
    let rt = runtime();
    let none = LimitOverrides::default();
    assert_eq!(rt.load(b"hello, world", None, none).await.unwrap_err(), LoadError::NotWasm);
    let core = wat::parse_str("(module (func (export \"run\")))").unwrap();
    assert_eq!(rt.load(&core, None, none).await.unwrap_err(), LoadError::CoreModule);
    let mut corrupt = test_plugin("noop");
    let mid = corrupt.len() / 2;
    corrupt.truncate(mid);
    match rt.load(&corrupt, None, none).await.unwrap_err() {
        LoadError::Compile(message) => assert!(!message.is_empty()),
        other => panic!("expected a compile error, got {other:?}"),
    }
    match rt.load(&test_plugin("other-world"), None, none).await.unwrap_err() {
        LoadError::WrongWorld(message) => assert!(message.contains("weft:plugin/step@0.1.0"), "{message}"),
        other => panic!("expected a wrong-world error, got {other:?}"),
    }
}

#[test]
fn a_cpu_heavy_step_yields_so_a_later_light_step_finishes_first() {
    let executor = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    executor.block_on(async {
        let rt = Arc::new(runtime());
        // A step may only lower limits: the plugin is installed with the fuel.
        let fuel = LimitOverrides { fuel: Some(Limits::MAX.fuel), ..Default::default() };
        let heavy = rt.load(&test_plugin("hostile"), Some(Grants::none()), fuel).await.unwrap();
        let light = rt.load(&test_plugin("noop"), None, LimitOverrides::default()).await.unwrap();
        let finished = Arc::new(Mutex::new(Vec::new()));
        let heavy_task = {
            let (rt, finished) = (rt.clone(), finished.clone());
            let limits = LimitOverrides { fuel: Some(Limits::MAX.fuel), ..Default::default() };
            async move {
                let out = run_with(
                    &rt,
                    &heavy,
                    json!({ "mode": "cpu", "iterations": 300_000_000u64 }),
                    json!({}),
                    limits,
                )
                .await;
                assert!(out.is_ok(), "{out:?}");
                finished.lock().unwrap().push("heavy");
            }
        };
        let light_task = {
            let (rt, finished) = (rt.clone(), finished.clone());
            async move {
                // Let the heavy step start first.
                tokio::task::yield_now().await;
                assert!(run(&rt, &light, json!({})).await.is_ok());
                finished.lock().unwrap().push("light");
            }
        };
        tokio::join!(heavy_task, light_task);
        assert_eq!(*finished.lock().unwrap(), ["light", "heavy"]);
    });
}

#[tokio::test]
async fn a_restarted_runtime_reuses_the_compiled_cache() {
    let dir = tempfile::tempdir().unwrap();
    let config = RuntimeConfig { cache_dir: Some(dir.path().to_path_buf()), ..RuntimeConfig::default() };
    let bytes = test_plugin("noop");

    let first = Runtime::new(config.clone()).unwrap();
    let p = first.load(&bytes, None, LimitOverrides::default()).await.unwrap();
    assert_eq!((p.code_source(), first.compilations()), (CodeSource::Compiled, 1));
    drop(p);
    drop(first);

    let second = Runtime::new(config).unwrap();
    let p = second.load(&bytes, None, LimitOverrides::default()).await.unwrap();
    assert_eq!((p.code_source(), second.compilations()), (CodeSource::Cache, 0));
    assert_eq!(run(&second, &p, json!({})).await, Ok(Outcome::Done(Value::Null)));
}

#[tokio::test]
async fn a_tiered_runtime_answers_on_quick_code_then_optimised_code_takes_over() {
    let dir = tempfile::tempdir().unwrap();
    let config = RuntimeConfig {
        cache_dir: Some(dir.path().to_path_buf()),
        compiler: Compiler::Tiered,
        ..RuntimeConfig::default()
    };
    let bytes = test_plugin("noop");

    let first = Runtime::new(config.clone()).unwrap();
    let quick = first.load(&bytes, None, LimitOverrides::default()).await.unwrap();
    assert_eq!(quick.code_tier(), CodeTier::Quick);
    first.registry().insert(quick.clone());
    assert_eq!(run(&first, &quick, json!({})).await, Ok(Outcome::Done(Value::Null)));
    first.upgrades_finished().await;
    let optimized = first.registry().resolve("noop").unwrap();
    assert_eq!((optimized.code_tier(), optimized.sha256()), (CodeTier::Optimized, quick.sha256()));
    assert_eq!(run(&first, &optimized, json!({})).await, Ok(Outcome::Done(Value::Null)));
    // The quick plugin a run already holds still works after the swap.
    assert_eq!(run(&first, &quick, json!({})).await, Ok(Outcome::Done(Value::Null)));
    assert_eq!(first.compilations(), 2);

    // Optimised code that is ready before its quick plugin is registered
    // waits for the registration instead of being lost.
    let late = first.load(&test_plugin("flaky"), None, LimitOverrides::default()).await.unwrap();
    assert_eq!(late.code_tier(), CodeTier::Quick);
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    first.registry().insert(late.clone());
    first.upgrades_finished().await;
    assert_eq!(first.registry().resolve(late.id()).unwrap().code_tier(), CodeTier::Optimized);
    drop((quick, optimized, late, first));

    // A restart finds optimised code in the cache: no compile, no quick tier.
    let second = Runtime::new(config).unwrap();
    let p = second.load(&bytes, None, LimitOverrides::default()).await.unwrap();
    assert_eq!(
        (p.code_tier(), p.code_source(), second.compilations()),
        (CodeTier::Optimized, CodeSource::Cache, 0)
    );
}
