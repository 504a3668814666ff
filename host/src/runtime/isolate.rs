//! Compiling an uploaded component in a child process.
//!
//! Cranelift cannot be interrupted inside the process: a component built to
//! make the compiler slow or hungry would hold a host thread and its memory
//! for as long as it likes. So the host compiles what users upload in a child
//! (its own binary re-invoked as `weft compile-component`) that caps its
//! address space and CPU time itself, and that the host kills at a wall-time
//! deadline. The child writes `Engine::precompile_component`'s output; the host
//! deserializes it into an engine with the same code settings.
//!
//! Installs also compile one at a time, host-wide, with a short queue: more
//! concurrent installs than that are refused (429) instead of piling up
//! compiles. (Each upload is read, against its 64 MiB cap, before it joins
//! the queue, so that a refusal does not leave a body unread; installing is
//! an admin's right.)

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::engine::{self, CodeTier};
use super::error::LoadError;
use super::limits::HostLimits;

/// How uploaded components are compiled out of the host process.
#[derive(Debug, Clone)]
pub struct CompileIsolation {
    /// The host binary, run as `<program> compile-component ...`.
    pub program: PathBuf,
    /// Killed after this long.
    pub timeout: Duration,
    /// The child's address-space limit, bytes.
    pub memory_bytes: u64,
}

/// Default wall-time limit of one compile: a 20 MB interpreter component
/// compiles in well under this on 2 cores.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// Default address-space limit of the compiling child.
pub const DEFAULT_MEMORY_BYTES: u64 = 4 << 30;
/// Most of the child's stderr kept for the error message.
const STDERR_BYTES: usize = 4 << 10;

impl CompileIsolation {
    /// The serialized code of `bytes` for `tier`, compiled by a child.
    pub(crate) async fn compile(
        &self,
        tier: CodeTier,
        meter_fuel: bool,
        bytes: Bytes,
    ) -> Result<Vec<u8>, LoadError> {
        let internal =
            |what: &str, e: std::io::Error| LoadError::Internal(format!("compiler process: {what}: {e}"));
        let mut child = tokio::process::Command::new(&self.program)
            .arg("compile-component")
            .arg("--tier")
            .arg(tier.as_str())
            .arg("--memory-bytes")
            .arg(self.memory_bytes.to_string())
            .arg("--cpu-seconds")
            .arg(self.timeout.as_secs_f64().ceil().max(1.0).to_string())
            .args((!meter_fuel).then_some("--no-fuel"))
            // The upload is untrusted: its compiler sees none of the host's
            // settings (secret key, SMTP password, admin token).
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| internal("start", e))?;
        let (Some(mut stdin), Some(mut stdout), Some(mut stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(LoadError::Internal("compiler process: missing pipes".into()));
        };
        let size = bytes.len();
        let started = std::time::Instant::now();
        let run = async move {
            // Written while the output is read: neither pipe may fill up and
            // block the other side.
            let write = async move {
                let written = stdin.write_all(&bytes).await;
                drop(stdin);
                written
            };
            let mut code = Vec::new();
            let mut message = Vec::new();
            // No more code than the child could hold in its memory.
            let mut stdout = (&mut stdout).take(self.memory_bytes);
            let (written, read, _) =
                tokio::join!(write, stdout.read_to_end(&mut code), stderr.read_to_end(&mut message));
            message.truncate(STDERR_BYTES);
            let status = child.wait().await;
            (written, read, status, code, message)
        };
        let Ok((written, read, status, code, message)) = tokio::time::timeout(self.timeout, run).await else {
            return Err(LoadError::Compile(format!(
                "compiling took longer than the host's limit of {} s",
                self.timeout.as_secs_f64()
            )));
        };
        let status = status.map_err(|e| internal("wait", e))?;
        let message = String::from_utf8_lossy(&message).trim().to_owned();
        if status.success() {
            written.map_err(|e| internal("write", e))?;
            read.map_err(|e| internal("read", e))?;
            tracing::info!(
                "compiled a {} KiB component ({} code) in a child process in {} ms",
                size >> 10,
                tier.as_str(),
                started.elapsed().as_millis()
            );
            return Ok(code);
        }
        // The allocator's abort, or a thread that found no memory for its
        // stack (ENOMEM, os error 12) under the address-space limit.
        if ["memory allocation", "out of memory", "Cannot allocate memory", "os error 12"]
            .iter()
            .any(|m| message.contains(m))
        {
            return Err(LoadError::Compile(format!(
                "compiling needs more than the host's limit of {} bytes of memory",
                self.memory_bytes
            )));
        }
        if status.code() == Some(EXIT_REJECTED) {
            return Err(LoadError::Compile(message));
        }
        use std::os::unix::process::ExitStatusExt;
        Err(LoadError::Compile(match status.signal() {
            Some(signal) => format!("the compiler process died (signal {signal}){}", tail(&message)),
            None => format!("the compiler process failed ({status}){}", tail(&message)),
        }))
    }
}

fn tail(message: &str) -> String {
    if message.is_empty() { String::new() } else { format!(": {message}") }
}

/// Exit code of a child that compiled nothing because the component is invalid.
const EXIT_REJECTED: i32 = 3;

/// Arguments of `weft compile-component`.
#[derive(Debug, clap::Args)]
pub struct CompileArgs {
    /// `quick` or `optimized`.
    #[arg(long)]
    tier: String,
    /// Address-space limit, bytes.
    #[arg(long)]
    memory_bytes: u64,
    /// CPU-time limit, seconds.
    #[arg(long)]
    cpu_seconds: u64,
    /// Compile for an engine without fuel metering.
    #[arg(long)]
    no_fuel: bool,
}

/// The child: limits itself, reads a component on stdin, writes its compiled
/// code on stdout. Exits with [`EXIT_REJECTED`] when the component does not
/// compile.
pub fn compile_component(args: &CompileArgs) -> anyhow::Result<()> {
    use rustix::process::{Resource, Rlimit, setrlimit};
    let cap = |limit: u64| Rlimit { current: Some(limit), maximum: Some(limit) };
    setrlimit(Resource::As, cap(args.memory_bytes))?;
    // A backstop under the parent's wall-time kill.
    setrlimit(Resource::Cpu, cap(args.cpu_seconds.saturating_mul(2)))?;
    let tier = match args.tier.as_str() {
        "quick" => CodeTier::Quick,
        "optimized" => CodeTier::Optimized,
        other => anyhow::bail!("unknown tier `{other}`"),
    };
    let mut bytes = Vec::new();
    std::io::stdin().lock().read_to_end(&mut bytes)?;
    // Not pooled: pooling does not change the code, and its reservation would
    // not fit under the address-space limit.
    let engine = engine::build(&HostLimits::default(), !args.no_fuel, tier, false)?;
    match engine.precompile_component(&bytes) {
        Ok(code) => {
            let mut out = std::io::stdout().lock();
            out.write_all(&code)?;
            out.flush()?;
            Ok(())
        }
        Err(e) => {
            eprintln!("{e:#}");
            std::process::exit(EXIT_REJECTED);
        }
    }
}

/// One compile at a time, with at most `queue` installs waiting for it.
#[derive(Debug, Clone)]
pub struct CompileQueue {
    slot: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    queue: usize,
}

/// Installs that may wait for the compile slot.
pub const DEFAULT_QUEUE: usize = 2;

/// Counts one waiting install until dropped, also when the request is dropped.
struct Waiter(Arc<AtomicUsize>);

impl Drop for Waiter {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The slot, held while compiling.
pub struct CompileSlot {
    _permit: OwnedSemaphorePermit,
}

impl CompileQueue {
    /// A queue letting `queue` installs wait behind the one compiling.
    pub fn new(queue: usize) -> Self {
        Self { slot: Arc::new(Semaphore::new(1)), waiting: Arc::default(), queue }
    }

    /// The slot, waiting behind at most `queue` others; `None` when the queue is full.
    pub async fn enter(&self) -> Option<CompileSlot> {
        if let Ok(permit) = self.slot.clone().try_acquire_owned() {
            return Some(CompileSlot { _permit: permit });
        }
        let waiter = Waiter(self.waiting.clone());
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.queue {
            return None;
        }
        let permit = self.slot.clone().acquire_owned().await;
        drop(waiter);
        permit.ok().map(|permit| CompileSlot { _permit: permit })
    }

    /// How many installs may wait.
    pub fn capacity(&self) -> usize {
        self.queue
    }

    /// The slot, however long the wait (loading stored plugins).
    pub async fn wait(&self) -> Option<CompileSlot> {
        self.slot.clone().acquire_owned().await.ok().map(|permit| CompileSlot { _permit: permit })
    }
}
