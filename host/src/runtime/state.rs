//! The data of one `Store`: one step attempt's WASI context, memory limiter,
//! grants, capability backends and log.

use std::sync::Arc;

use wasmtime::ResourceLimiter;
use wasmtime::component::{HasData, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::capability::{Backends, Grants};
use super::types::{LogLevel, LogLine};

/// Most log lines and bytes per line kept per attempt.
pub const MAX_LOG_LINES: usize = 1_000;
/// Longest log line kept, bytes.
pub const MAX_LOG_LINE_BYTES: usize = 4_096;

/// Who is running, as the capability checks see it.
#[derive(Debug, Clone)]
pub struct Caller {
    /// `name@version`.
    pub plugin: String,
    /// Plugin name: the kv namespace.
    pub name: String,
    /// What the plugin may call.
    pub grants: Grants,
}

/// Which step attempt is calling, for what capabilities record (notifications
/// carry their workflow and run).
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// Workflow id.
    pub workflow_id: String,
    /// Run id.
    pub run_id: String,
    /// Step id.
    pub step_id: String,
}

impl Origin {
    /// The origin of an attempt of `input`.
    pub fn of(input: &super::types::StepInput) -> Self {
        Self {
            workflow_id: input.workflow_id.clone(),
            run_id: input.run_id.clone(),
            step_id: input.step_id.clone(),
        }
    }
}

/// Caps linear memory and tables of one store, and records the peak.
#[derive(Debug, Default)]
pub struct MemoryLimiter {
    limit: u64,
    total: u64,
    /// Highest total reached, bytes.
    pub peak: u64,
    /// Set when a grow was refused: the total that was asked for.
    pub exceeded: Option<u64>,
}

impl MemoryLimiter {
    /// A limiter allowing `limit` bytes in all.
    pub fn new(limit: u64) -> Self {
        Self { limit, ..Self::default() }
    }

    fn grow(&mut self, current: u64, desired: u64) -> bool {
        let total = self.total.saturating_sub(current).saturating_add(desired);
        if total > self.limit {
            self.exceeded = Some(total);
            return false;
        }
        self.total = total;
        self.peak = self.peak.max(total);
        true
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(self.grow(current as u64, desired as u64))
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // A table element is a pointer: count it against the same budget.
        let size = std::mem::size_of::<usize>();
        Ok(self.grow((current * size) as u64, (desired * size) as u64))
    }
}

/// The store data of one step attempt.
pub struct StepState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) caller: Arc<Caller>,
    pub(crate) backends: Arc<Backends>,
    pub(crate) origin: Origin,
    pub(crate) secrets: Arc<super::secrets::SecretScope>,
    pub(crate) logs: Vec<LogLine>,
    pub(crate) logs_dropped: u64,
    /// Keeps the epoch tickers going while this store lives.
    _ticking: super::engine::Ticking,
}

impl StepState {
    /// Adds a line to the attempt's log, as the host (not the plugin) says it.
    pub(crate) fn host_log(&mut self, level: LogLevel, message: String) {
        if self.logs.len() >= MAX_LOG_LINES {
            self.logs_dropped += 1;
            return;
        }
        let message = self.secrets.redact(&message).into_owned();
        self.logs.push(LogLine { level, message });
    }

    pub(crate) fn new(
        wasi: WasiCtx,
        memory_limit: u64,
        caller: Arc<Caller>,
        backends: Arc<Backends>,
        origin: Origin,
        secrets: Arc<super::secrets::SecretScope>,
    ) -> Self {
        Self {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(memory_limit),
            caller,
            backends,
            origin,
            secrets,
            logs: Vec::new(),
            logs_dropped: 0,
            _ticking: super::engine::Ticking::start(),
        }
    }
}

impl WasiView for StepState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// `HasData` marker so the generated `add_to_linker` hands capability modules
/// the whole `StepState`.
pub struct StepData;

impl HasData for StepData {
    type Data<'a> = &'a mut StepState;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_growth_past_the_limit_and_records_the_peak() {
        let mut limiter = MemoryLimiter::new(100);
        assert!(limiter.grow(0, 60));
        assert!(limiter.grow(60, 90));
        assert!(!limiter.grow(90, 120));
        assert_eq!(limiter.exceeded, Some(120));
        assert_eq!(limiter.peak, 90);
    }
}
