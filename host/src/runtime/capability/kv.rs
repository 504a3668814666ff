//! `kv`: the plugin's durable key-value store, namespaced by plugin name.

use super::super::bindings::weft::plugin::kv::Host;
use super::super::state::StepState;
use super::{Capability, not_configured};

/// Longest key, bytes.
pub const MAX_KEY_BYTES: usize = 512;
/// Largest value, bytes.
pub const MAX_VALUE_BYTES: usize = 1 << 20;

impl StepState {
    fn kv_ready(&self) -> Result<std::sync::Arc<dyn super::KvBackend>, String> {
        self.caller.grants.check(&self.caller.plugin, Capability::Kv)?;
        self.backends.kv.clone().ok_or_else(|| not_configured(Capability::Kv))
    }
}

fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(format!("kv key must be 1 to {MAX_KEY_BYTES} bytes, got {}", key.len()));
    }
    Ok(())
}

impl Host for StepState {
    #[tracing::instrument(skip(self), fields(plugin = %self.caller.plugin))]
    async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<String>, String>> {
        let kv = match self.kv_ready().and_then(|kv| check_key(&key).map(|()| kv)) {
            Ok(kv) => kv,
            Err(e) => return Ok(Err(e)),
        };
        Ok(kv.get(&self.caller.name, &key).await)
    }

    #[tracing::instrument(skip(self, value), fields(plugin = %self.caller.plugin))]
    async fn set(&mut self, key: String, value: String) -> wasmtime::Result<Result<(), String>> {
        let kv = match self.kv_ready().and_then(|kv| check_key(&key).map(|()| kv)) {
            Ok(kv) => kv,
            Err(e) => return Ok(Err(e)),
        };
        if value.len() > MAX_VALUE_BYTES {
            return Ok(Err(format!(
                "kv value of {} bytes exceeds the cap of {MAX_VALUE_BYTES} bytes",
                value.len()
            )));
        }
        Ok(kv.set(&self.caller.name, &key, &value).await)
    }

    #[tracing::instrument(skip(self), fields(plugin = %self.caller.plugin))]
    async fn delete(&mut self, key: String) -> wasmtime::Result<Result<(), String>> {
        let kv = match self.kv_ready().and_then(|kv| check_key(&key).map(|()| kv)) {
            Ok(kv) => kv,
            Err(e) => return Ok(Err(e)),
        };
        Ok(kv.delete(&self.caller.name, &key).await)
    }

    #[tracing::instrument(skip(self), fields(plugin = %self.caller.plugin))]
    async fn list_keys(&mut self, prefix: String) -> wasmtime::Result<Result<Vec<String>, String>> {
        let kv = match self.kv_ready() {
            Ok(kv) => kv,
            Err(e) => return Ok(Err(e)),
        };
        Ok(kv.list(&self.caller.name, &prefix).await)
    }
}
