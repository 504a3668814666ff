//! `log`: always granted; lines go to the attempt's log and to tracing.

use super::super::bindings::weft::plugin::log::{Host, Level};
use super::super::state::{MAX_LOG_LINE_BYTES, MAX_LOG_LINES, StepState};
use super::super::types::{LogLevel, LogLine};

impl Host for StepState {
    async fn log(&mut self, level: Level, mut message: String) -> wasmtime::Result<()> {
        if self.logs.len() >= MAX_LOG_LINES {
            self.logs_dropped += 1;
            return Ok(());
        }
        if message.len() > MAX_LOG_LINE_BYTES {
            let mut end = MAX_LOG_LINE_BYTES;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
            message.push('…');
        }
        let level = match level {
            Level::Trace => LogLevel::Trace,
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        };
        tracing::debug!(plugin = %self.caller.plugin, run = %self.origin.run_id, ?level, "{message}");
        self.logs.push(LogLine { level, message });
        Ok(())
    }
}
