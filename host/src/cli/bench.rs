//! `weft bench`: end-to-end load against a running host, over HTTP only.
//!
//! - `weft bench runs`: runs of a 3-step pure workflow (update-field,
//!   condition, update-field), each triggered with `?wait=` so the response
//!   marks completion. Closed loop (throughput) or a fixed rate (latency).
//! - `weft bench waiting`: many runs asleep on a one-hour wait at once: host
//!   memory, API latency while they wait, and how late due runs wake.
//! - `weft bench events`: `POST /api/events` answer times, each event
//!   delivered to one of many runs waiting at a `wait-for-event` step.
//! - `weft bench soak`: runs at a constant rate for a long time, with the
//!   size of a SQLite database file and the runs it holds every few seconds:
//!   flat once the host's `--retention` deletes as fast as runs come.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

/// Flags of `weft bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// What to measure.
    #[command(subcommand)]
    pub mode: Mode,
}

/// Benchmarks.
#[derive(Debug, Subcommand)]
pub enum Mode {
    /// Throughput and trigger-to-completed latency of a 3-step pure workflow.
    Runs {
        /// Runs to measure (after 200 warm-up runs).
        #[arg(long, default_value_t = 10_000)]
        runs: usize,
        /// Requests in flight at once (closed loop).
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Trigger at this fixed rate per second instead (open loop).
        #[arg(long)]
        rate: Option<f64>,
        /// Another host of the same database (repeatable): triggers go round
        /// robin over `--server` and these.
        #[arg(long = "also", value_name = "URL")]
        also: Vec<String>,
        /// Report the CPU time per run of the processes of this name (as in
        /// `/proc/PID/comm`, e.g. `weft` or `postgres`; repeatable; Linux).
        #[arg(long = "cpu", value_name = "NAME")]
        cpu: Vec<String>,
    },
    /// Request/response through an inbound webhook: each request is a
    /// bearer-verified `POST /hooks/<id>` answered `when-done` with the run's
    /// `vars.response`, after the same 3 pure steps.
    Hook {
        /// Requests to measure (after 200 warm-up requests).
        #[arg(long, default_value_t = 10_000)]
        requests: usize,
        /// Requests in flight at once (closed loop).
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
    },
    /// Constant load for a while: the database's size and run count over time.
    Soak {
        /// How long, seconds.
        #[arg(long, default_value_t = 300)]
        seconds: u64,
        /// Runs triggered per second.
        #[arg(long, default_value_t = 100.0)]
        rate: f64,
        /// The host's SQLite database file, whose size (with its `-wal`) is reported.
        #[arg(long)]
        database: std::path::PathBuf,
        /// Seconds between two reports.
        #[arg(long, default_value_t = 15)]
        every: u64,
    },
    /// Events delivered to runs waiting for them: `--runs` runs wait at a
    /// `wait-for-event` step, each for its own key; then `--events` events,
    /// one after another, each for one waiting run, report the answer time
    /// of `POST /api/events` (delivery committed).
    Events {
        /// Runs waiting at once.
        #[arg(long, default_value_t = 100_000)]
        runs: usize,
        /// Events sent, one at a time, each delivered to one run.
        #[arg(long, default_value_t = 2_000)]
        events: usize,
        /// Requests in flight at once while starting the runs.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Pause between two events, ms (0: back to back, each event right
        /// after the answer to the one before).
        #[arg(long, default_value_t = 0)]
        pause_ms: u64,
    },
    /// Many runs asleep at once.
    Waiting {
        /// Runs to put to sleep.
        #[arg(long, default_value_t = 100_000)]
        runs: usize,
        /// Requests in flight at once.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
    },
}

struct Client {
    http: reqwest::Client,
    server: String,
    token: String,
}

impl Client {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        self.call_url(method, &format!("{}{path}", self.server), body).await
    }

    async fn call_url(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut req = self.http.request(method, url).bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.with_context(|| format!("request to {url}"))?;
        let status = resp.status().as_u16();
        let body = resp.json().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    async fn workflow(&self, definition: Value) -> anyhow::Result<String> {
        let (status, body) = self.call(reqwest::Method::POST, "/api/workflows", Some(definition)).await?;
        if status != 201 {
            bail!("creating the bench workflow: HTTP {status}: {body}");
        }
        let id = body["id"].as_str().context("workflow id")?.to_owned();
        let (status, body) =
            self.call(reqwest::Method::PUT, &format!("/api/workflows/{id}/activate"), None).await?;
        if status != 200 {
            bail!("activating the bench workflow: HTTP {status}: {body}");
        }
        Ok(id)
    }
}

/// Runs the benchmark and prints its report.
pub async fn run(args: BenchArgs, server: &super::client::ServerArgs) -> anyhow::Result<()> {
    let token = server.token.clone().context("no API token: pass --token or set WEFT_TOKEN")?;
    let client = Arc::new(Client {
        http: reqwest::Client::builder().pool_max_idle_per_host(256).build()?,
        server: server.server.trim_end_matches('/').to_owned(),
        token,
    });
    match args.mode {
        Mode::Runs { runs, concurrency, rate, also, cpu } => {
            let mut servers = vec![client.server.clone()];
            servers.extend(also.iter().map(|s| s.trim_end_matches('/').to_owned()));
            bench_runs(client, &servers, runs, concurrency, rate, &cpu).await
        }
        Mode::Hook { requests, concurrency } => bench_hook(client, requests, concurrency).await,
        Mode::Waiting { runs, concurrency } => bench_waiting(client, runs, concurrency).await,
        Mode::Events { runs, events, concurrency, pause_ms } => {
            bench_events(client, runs, events, concurrency, pause_ms).await
        }
        Mode::Soak { seconds, rate, database, every } => {
            bench_soak(client, seconds, rate, &database, every).await
        }
    }
}

/// Bytes of a SQLite database with its write-ahead log.
fn database_bytes(path: &std::path::Path) -> u64 {
    let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    size(path) + size(std::path::Path::new(&wal))
}

async fn bench_soak(
    client: Arc<Client>,
    seconds: u64,
    rate: f64,
    database: &std::path::Path,
    every: u64,
) -> anyhow::Result<()> {
    if !database.exists() {
        bail!("{} does not exist: pass the host's database file", database.display());
    }
    let workflow = client.workflow(pure_workflow()).await?;
    let path = Arc::new(format!("/api/workflows/{workflow}/trigger"));
    // A kilobyte of event per run, so the logs weigh something.
    let padding = Arc::new("x".repeat(1024));
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(0.1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let failed = Arc::new(AtomicUsize::new(0));
    let mut sent = 0usize;
    let mut next_report = Duration::ZERO;
    println!("{:>8} {:>12} {:>12} {:>12}", "seconds", "triggered", "runs kept", "database");
    while started.elapsed() < Duration::from_secs(seconds) {
        tick.tick().await;
        let (c, path, padding, failed) = (client.clone(), path.clone(), padding.clone(), failed.clone());
        let n = sent;
        tokio::spawn(async move {
            let r = c.call(reqwest::Method::POST, &path, Some(json!({ "n": n, "padding": *padding }))).await;
            if !matches!(r, Ok((202, _))) {
                failed.fetch_add(1, Ordering::Relaxed);
            }
        });
        sent += 1;
        if started.elapsed() >= next_report {
            let (_, page) = client.call(reqwest::Method::GET, "/api/workflow-runs?pageSize=1", None).await?;
            println!(
                "{:>8.0} {:>12} {:>12} {:>9.1} MiB",
                started.elapsed().as_secs_f64(),
                sent,
                page["total"].as_i64().unwrap_or(-1),
                database_bytes(database) as f64 / 1048576.0
            );
            next_report += Duration::from_secs(every.max(1));
        }
    }
    println!("{sent} runs triggered in {seconds} s, {} failed", failed.load(Ordering::Relaxed));
    Ok(())
}

fn pure_workflow() -> Value {
    json!({
        "name": "bench: 3 pure steps",
        "trigger": { "type": "manual" },
        "steps": [
            { "id": "set", "type": "update-field", "config": { "set": { "n": "{{ event.n }}", "status": "new" } } },
            { "id": "check", "type": "condition", "config": { "if": "{{ vars.n >= 0 }}" } },
            { "id": "count", "type": "update-field", "config": { "increment": { "seen": 1 } } }
        ]
    })
}

async fn bench_runs(
    client: Arc<Client>,
    servers: &[String],
    runs: usize,
    concurrency: usize,
    rate: Option<f64>,
    cpu: &[String],
) -> anyhow::Result<()> {
    let wf = client.workflow(pure_workflow()).await?;
    let paths: Arc<Vec<String>> =
        Arc::new(servers.iter().map(|s| format!("{s}/api/workflows/{wf}/trigger?wait=30000")).collect());
    let one = {
        let (client, paths) = (client.clone(), paths.clone());
        move |n: usize| {
            let (client, paths) = (client.clone(), paths.clone());
            async move {
                let start = Instant::now();
                let url = &paths[n % paths.len()];
                let result = client.call_url(reqwest::Method::POST, url, Some(json!({ "n": n }))).await;
                let ok = matches!(&result, Ok((200, body)) if body["status"] == "COMPLETED");
                (start.elapsed(), ok)
            }
        }
    };
    // Warm-up: connections, caches, the allocator.
    closed_loop(200, concurrency, one.clone()).await;

    let cpu_before: Vec<_> = cpu.iter().map(|name| cpu_ticks(name)).collect();
    let started = Instant::now();
    let results = match rate {
        None => closed_loop(runs, concurrency, one).await,
        Some(rate) => {
            let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut tasks = tokio::task::JoinSet::new();
            for n in 0..runs {
                ticker.tick().await;
                tasks.spawn(one(n));
            }
            let mut results = Vec::with_capacity(runs);
            while let Some(r) = tasks.join_next().await {
                results.push(r?);
            }
            results
        }
    };
    let elapsed = started.elapsed();
    let failed = results.iter().filter(|(_, ok)| !ok).count();
    let mut latencies: Vec<Duration> = results.iter().map(|(d, _)| *d).collect();
    latencies.sort();
    let mode = match rate {
        Some(r) => format!("open loop at {r}/s"),
        None => format!("closed loop, {concurrency} in flight"),
    };
    println!("runs: {runs} of 3 steps ({mode}), {failed} not COMPLETED");
    println!(
        "throughput: {:.0} runs/s ({:.0} steps/s) over {:.2} s",
        runs as f64 / elapsed.as_secs_f64(),
        3.0 * runs as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    println!("trigger-to-completed: {}", percentiles(&latencies));
    if servers.len() > 1 {
        println!("hosts: {} ({})", servers.len(), servers.join(", "));
    }
    for (name, before) in cpu.iter().zip(cpu_before) {
        let after = cpu_ticks(name);
        let ticks: u64 =
            after.iter().map(|(pid, t)| t.saturating_sub(before.get(pid).copied().unwrap_or(0))).sum();
        let ms = ticks as f64 * 1000.0 / clock_ticks_per_second() as f64;
        println!("cpu of `{name}` processes: {:.0} ms in all, {:.3} ms per run", ms, ms / runs as f64);
    }
    if failed > 0 {
        bail!("{failed} runs did not complete");
    }
    Ok(())
}

/// User and system CPU ticks of every process named `name` (not this one).
fn cpu_ticks(name: &str) -> std::collections::HashMap<u32, u64> {
    let me = std::process::id();
    let mut out = std::collections::HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else { return out };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        if pid == me {
            continue;
        }
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if comm.trim() != name {
            continue;
        }
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
        let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else { continue };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
        out.insert(pid, tick(11) + tick(12));
    }
    out
}

fn clock_ticks_per_second() -> u64 {
    rustix::param::clock_ticks_per_second().max(1)
}

async fn bench_hook(client: Arc<Client>, requests: usize, concurrency: usize) -> anyhow::Result<()> {
    let secret = format!("bench-{}", hex::encode(rand::random::<[u8; 16]>()));
    let (status, body) = client
        .call(reqwest::Method::PUT, "/api/secrets/BENCH_HOOK", Some(json!({ "value": secret })))
        .await?;
    if status != 200 && status != 201 {
        bail!("setting the bench secret: HTTP {status}: {body}");
    }
    let mut definition = pure_workflow();
    definition["name"] = json!("bench: request/response through a webhook");
    definition["trigger"] = json!({ "type": "webhook", "config": {
        "verify": { "type": "bearer", "secret": "{{ secrets.BENCH_HOOK }}" },
        "respond": "when-done", "ratePerSecond": 1_000_000 } });
    // A hook's event is the request: its JSON body is `event.body`.
    definition["steps"][0]["config"]["set"]["n"] = json!("{{ event.body.n }}");
    definition["steps"]
        .as_array_mut()
        .context("bench steps")?
        .push(json!({ "id": "answer", "type": "update-field", "config": { "set": {
            "response": { "status": 200, "body": { "n": "{{ vars.n }}", "seen": "{{ vars.seen }}" } } } } }));
    let wf = client.workflow(definition).await?;
    let (_, shown) = client.call(reqwest::Method::GET, &format!("/api/workflows/{wf}"), None).await?;
    let url = Arc::new(format!("{}{}", client.server, shown["hook"]["path"].as_str().context("hook path")?));
    let secret = Arc::new(secret);
    let one = {
        let client = client.clone();
        move |n: usize| {
            let (client, url, secret) = (client.clone(), url.clone(), secret.clone());
            async move {
                let start = Instant::now();
                let sent = client
                    .http
                    .post(url.as_str())
                    .bearer_auth(secret.as_str())
                    .json(&json!({ "n": n }))
                    .send();
                let ok = match sent.await {
                    Ok(resp) if resp.status() == 200 => {
                        resp.json::<Value>().await.is_ok_and(|b| b["n"] == json!(n))
                    }
                    _ => false,
                };
                (start.elapsed(), ok)
            }
        }
    };
    closed_loop(200, concurrency, one.clone()).await;
    let started = Instant::now();
    let results = closed_loop(requests, concurrency, one).await;
    let elapsed = started.elapsed();
    let failed = results.iter().filter(|(_, ok)| !ok).count();
    let mut latencies: Vec<Duration> = results.iter().map(|(d, _)| *d).collect();
    latencies.sort();
    println!(
        "webhook requests: {requests} (closed loop, {concurrency} in flight), {failed} not answered 200"
    );
    println!(
        "throughput: {:.0} requests/s over {:.2} s",
        requests as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    println!("request-to-answer: {}", percentiles(&latencies));
    if failed > 0 {
        bail!("{failed} requests were not answered 200 with their run's result");
    }
    Ok(())
}

async fn closed_loop<F, Fut>(runs: usize, concurrency: usize, one: F) -> Vec<(Duration, bool)>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = (Duration, bool)> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (next, one) = (next.clone(), one.clone());
        tasks.spawn(async move {
            let mut out = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= runs {
                    return out;
                }
                out.push(one(n).await);
            }
        });
    }
    let mut results = Vec::with_capacity(runs);
    while let Some(Ok(part)) = tasks.join_next().await {
        results.extend(part);
    }
    results
}

fn percentiles(sorted: &[Duration]) -> String {
    if sorted.is_empty() {
        return "no samples".into();
    }
    let at = |q: f64| sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)].as_secs_f64() * 1e3;
    format!("p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms", at(0.5), at(0.9), at(0.99), at(1.0))
}

/// Polls until `want` runs of `workflow` are WAITING.
async fn until_waiting(client: &Client, workflow: &str, want: usize) -> anyhow::Result<()> {
    let path = format!("/api/workflow-runs?workflowId={workflow}&status=WAITING&pageSize=1");
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let (_, page) = client.call(reqwest::Method::GET, &path, None).await?;
        let waiting = page["total"].as_u64().unwrap_or(0) as usize;
        if waiting >= want {
            println!("runs waiting at once: {waiting}");
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("only {waiting} runs reached WAITING");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn bench_events(
    client: Arc<Client>,
    runs: usize,
    events: usize,
    concurrency: usize,
    pause_ms: u64,
) -> anyhow::Result<()> {
    if events > runs {
        bail!("--events ({events}) must not be more than --runs ({runs}): each event is for one waiting run");
    }
    let waiters = client
        .workflow(json!({
            "name": "bench: wait for payment",
            "trigger": { "type": "manual" },
            "steps": [
                { "id": "paid", "type": "wait-for-event",
                  "config": { "event": "bench.paid", "correlate": { "key": "{{ event.order }}", "eventPath": "order" }, "timeout": "2h" } },
                { "id": "after", "type": "update-field", "config": { "set": { "paid": true } } }
            ]
        }))
        .await?;
    let path = Arc::new(format!("/api/workflows/{waiters}/trigger"));
    let started = Instant::now();
    let c = client.clone();
    let results = closed_loop(runs, concurrency, move |n| {
        let (client, path) = (c.clone(), path.clone());
        async move {
            let start = Instant::now();
            let r =
                client.call(reqwest::Method::POST, &path, Some(json!({ "order": format!("o-{n}") }))).await;
            (start.elapsed(), matches!(r, Ok((202, _))))
        }
    })
    .await;
    let failed = results.iter().filter(|(_, ok)| !ok).count();
    if failed > 0 {
        bail!("{failed} of {runs} triggers failed");
    }
    println!(
        "triggered {runs} runs in {:.1} s ({:.0}/s)",
        started.elapsed().as_secs_f64(),
        runs as f64 / started.elapsed().as_secs_f64()
    );
    until_waiting(&client, &waiters, runs).await?;
    let rss = |health: Value| health["rssBytes"].as_u64().map_or(0.0, |b| b as f64 / (1 << 20) as f64);
    let (_, health) = client.call(reqwest::Method::GET, "/api/health", None).await?;
    println!("host memory with them waiting: {:.1} MiB", rss(health));

    // Spread over the whole key range, so no part of the index stays warm.
    let step = runs / events.max(1);
    let mut samples = Vec::with_capacity(events);
    for i in 0..events {
        let order = format!("o-{}", i * step);
        let start = Instant::now();
        let (status, body) = client
            .call(
                reqwest::Method::POST,
                "/api/events",
                Some(json!({ "type": "bench.paid", "data": { "order": order } })),
            )
            .await?;
        samples.push(start.elapsed());
        let delivered = body["delivered"].as_array().map_or(0, Vec::len);
        if status != 202 || delivered != 1 {
            bail!("event for {order}: HTTP {status}, delivered to {delivered} runs: {body}");
        }
        if pause_ms > 0 {
            tokio::time::sleep(Duration::from_millis(pause_ms)).await;
        }
    }
    samples.sort();
    let paced = if pause_ms > 0 { format!(", {pause_ms} ms apart") } else { ", back to back".to_owned() };
    println!(
        "POST /api/events{paced}, each delivered to 1 of {runs} waiting runs: {}",
        percentiles(&samples)
    );
    Ok(())
}

async fn bench_waiting(client: Arc<Client>, runs: usize, concurrency: usize) -> anyhow::Result<()> {
    let sleepers = client
        .workflow(json!({
            "name": "bench: sleep an hour",
            "trigger": { "type": "manual" },
            "steps": [
                { "id": "sleep", "type": "wait", "config": { "duration": "1h" } },
                { "id": "after", "type": "update-field", "config": { "set": { "woke": true } } }
            ]
        }))
        .await?;
    let rss = |health: Value| health["rssBytes"].as_u64().map_or(0.0, |b| b as f64 / (1 << 20) as f64);
    let (_, health) = client.call(reqwest::Method::GET, "/api/health", None).await?;
    println!("host memory before: {:.1} MiB", rss(health));

    let path = Arc::new(format!("/api/workflows/{sleepers}/trigger"));
    let started = Instant::now();
    let c = client.clone();
    let results = closed_loop(runs, concurrency, move |n| {
        let (client, path) = (c.clone(), path.clone());
        async move {
            let start = Instant::now();
            let r = client.call(reqwest::Method::POST, &path, Some(json!({ "n": n }))).await;
            (start.elapsed(), matches!(r, Ok((202, _))))
        }
    })
    .await;
    let failed = results.iter().filter(|(_, ok)| !ok).count();
    println!(
        "triggered {runs} runs in {:.1} s ({:.0}/s), {failed} failed",
        started.elapsed().as_secs_f64(),
        runs as f64 / started.elapsed().as_secs_f64()
    );

    until_waiting(&client, &sleepers, runs - failed).await?;
    let (_, health) = client.call(reqwest::Method::GET, "/api/health", None).await?;
    println!("host memory with them waiting: {:.1} MiB", rss(health));

    for (what, path) in [
        ("GET /healthz", "/healthz".to_owned()),
        (
            "GET /api/workflow-runs (a page of waiting runs)",
            format!("/api/workflow-runs?workflowId={sleepers}&status=WAITING&pageSize=50"),
        ),
        ("GET /api/workflows", "/api/workflows".to_owned()),
    ] {
        let mut samples = Vec::new();
        for _ in 0..200 {
            let start = Instant::now();
            let (status, _) = client.call(reqwest::Method::GET, &path, None).await?;
            samples.push(start.elapsed());
            if status != 200 {
                bail!("{what}: HTTP {status}");
            }
        }
        samples.sort();
        println!("{what} while they wait: {}", percentiles(&samples));
    }

    // Due runs still wake on time among the sleepers.
    let short = client
        .workflow(json!({
            "name": "bench: sleep two seconds",
            "trigger": { "type": "manual" },
            "steps": [
                { "id": "sleep", "type": "wait", "config": { "duration": "2s" } },
                { "id": "after", "type": "update-field", "config": { "set": { "woke": true } } }
            ]
        }))
        .await?;
    let mut ids = Vec::new();
    for n in 0..100 {
        let (status, body) = client
            .call(reqwest::Method::POST, &format!("/api/workflows/{short}/trigger"), Some(json!({ "n": n })))
            .await?;
        if status != 202 {
            bail!("trigger: HTTP {status}");
        }
        ids.push(body["id"].as_str().context("run id")?.to_owned());
    }
    let mut lateness = Vec::new();
    for id in ids {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (_, run) =
                client.call(reqwest::Method::GET, &format!("/api/workflow-runs/{id}"), None).await?;
            if run["status"] == "COMPLETED" {
                let logs = run["logs"].as_array().context("logs")?;
                let until = logs.first().and_then(|l| l["result"]["until"].as_i64()).context("sleep log")?;
                let done = logs.last().and_then(|l| l["createdAt"].as_str()).context("last log")?;
                let done = chrono::DateTime::parse_from_rfc3339(done)?.timestamp_millis();
                lateness.push(Duration::from_millis((done - until).max(0) as u64));
                break;
            }
            if Instant::now() > deadline {
                bail!("run {id} did not wake");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    lateness.sort();
    println!("wake lateness of 100 two-second waits among the sleepers: {}", percentiles(&lateness));
    let (_, health) = client.call(reqwest::Method::GET, "/api/health", None).await?;
    println!("host memory after: {:.1} MiB", rss(health));
    Ok(())
}
