//! Prometheus metrics: recorded where things happen through the `metrics`
//! facade (a no-op until [`install`] runs, as in unit tests), rendered at
//! `GET /metrics` by `metrics-exporter-prometheus`. The names and labels are
//! listed in the README ("Metrics"); labels are bounded: workflow ids, step
//! types, route patterns (never raw paths), statuses.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::runtime::Usage;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Seconds: from a fast step or request to a slow one.
const SECONDS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0];
/// Fuel units: 10 million is about 1 ms of tight code.
const FUEL: [f64; 8] = [1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12];
/// Bytes of linear memory.
const BYTES: [f64; 8] =
    [65536.0, 1048576.0, 4194304.0, 16777216.0, 67108864.0, 134217728.0, 536870912.0, 1073741824.0];
/// Writes in one group commit.
const WRITES: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// Installs the process's recorder (once; later calls return the same handle).
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Full("weft_step_fuel".into()), &FUEL))
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full("weft_step_peak_memory_bytes".into()), &BYTES)
            })
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full("weft_commit_batch_writes".into()), &WRITES)
            });
        let builder = match builder {
            Ok(builder) => builder,
            Err(e) => {
                tracing::warn!("metrics buckets: {e}; histograms are summaries");
                PrometheusBuilder::new()
            }
        };
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if let Err(e) = metrics::set_global_recorder(recorder) {
            tracing::warn!("metrics recorder: {e}; /metrics shows nothing recorded");
        }
        describe();
        handle
    })
}

/// The installed handle, if any.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE.get()
}

/// Folds recorded histogram samples into their buckets, so memory stays
/// bounded between scrapes; run every few seconds.
pub fn upkeep() {
    if let Some(handle) = HANDLE.get() {
        handle.run_upkeep();
    }
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!("weft_runs_started_total", "Runs started, by workflow");
    describe_counter!("weft_runs_finished_total", "Runs ended, by workflow and final status");
    describe_counter!("weft_step_attempts_total", "Step attempts, by step type and outcome");
    describe_histogram!("weft_step_duration_seconds", "Wall time of a step attempt, by step type");
    describe_histogram!("weft_step_fuel", "Fuel used by a step attempt, by step type");
    describe_histogram!("weft_step_peak_memory_bytes", "Peak linear memory of a step attempt, by step type");
    describe_gauge!("weft_runs_due", "Runs due to be driven and not claimed by any host (the queue)");
    describe_gauge!("weft_runs_waiting", "Runs asleep: waits, backoffs");
    describe_histogram!("weft_commit_batch_writes", "Writes made durable by one group commit");
    describe_histogram!("weft_commit_duration_seconds", "Time of one group commit");
    describe_histogram!("weft_plugin_compile_seconds", "Time to compile (or load from the cache) a plugin");
    describe_counter!("weft_http_requests_total", "HTTP requests, by route pattern, method and status");
    describe_histogram!(
        "weft_http_request_duration_seconds",
        "Time to answer an HTTP request, by route pattern"
    );
}

/// A run was stored.
pub fn run_started(workflow: &str) {
    counter!("weft_runs_started_total", "workflow" => workflow.to_owned()).increment(1);
}

/// A run reached a final status.
pub fn run_finished(workflow: &str, status: &str) {
    counter!("weft_runs_finished_total", "workflow" => workflow.to_owned(), "status" => status.to_owned())
        .increment(1);
}

/// A step attempt ended: `outcome` is `ok`, `error` or `retryable`.
pub fn step_attempt(step_type: &str, outcome: &'static str, usage: Option<&Usage>) {
    counter!("weft_step_attempts_total", "type" => step_type.to_owned(), "outcome" => outcome).increment(1);
    if let Some(usage) = usage {
        histogram!("weft_step_duration_seconds", "type" => step_type.to_owned())
            .record(usage.duration.as_secs_f64());
        histogram!("weft_step_fuel", "type" => step_type.to_owned()).record(usage.fuel as f64);
        histogram!("weft_step_peak_memory_bytes", "type" => step_type.to_owned())
            .record(usage.peak_memory_bytes as f64);
    }
}

/// A group commit of `writes` took `elapsed`.
pub fn commit(writes: usize, elapsed: Duration) {
    histogram!("weft_commit_batch_writes").record(writes as f64);
    histogram!("weft_commit_duration_seconds").record(elapsed.as_secs_f64());
}

/// A plugin's code was made ready (`source`: `compiled` or `cache`).
pub fn plugin_compiled(tier: &'static str, source: &'static str, elapsed: Duration) {
    histogram!("weft_plugin_compile_seconds", "tier" => tier, "source" => source)
        .record(elapsed.as_secs_f64());
}

/// An HTTP request was answered.
pub fn http_request(route: &str, method: &str, status: u16, elapsed: Duration) {
    counter!(
        "weft_http_requests_total",
        "route" => route.to_owned(), "method" => method.to_owned(), "status" => status.to_string()
    )
    .increment(1);
    histogram!("weft_http_request_duration_seconds", "route" => route.to_owned(), "method" => method.to_owned())
        .record(elapsed.as_secs_f64());
}

/// The queue depths, read from the database at scrape time.
pub fn queue(due: i64, waiting: i64) {
    gauge!("weft_runs_due").set(due as f64);
    gauge!("weft_runs_waiting").set(waiting as f64);
}
