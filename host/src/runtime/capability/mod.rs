//! Host capabilities: one module per WIT interface the plugins import. Each
//! checks the caller's grants first; a guest mistake returns an error value,
//! only a host bug traps (the outer `wasmtime::Result`).

mod email;
mod grants;
mod http;
mod kv;
mod log;
mod notify;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use grants::{Capability, Grants};

use super::state::StepState;

/// A boxed future, for the object-safe backend traits.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Durable storage behind the `kv` interface, namespaced by plugin name.
pub trait KvBackend: Send + Sync {
    /// The value of `key` in `namespace`.
    fn get<'a>(&'a self, namespace: &'a str, key: &'a str) -> BoxFuture<'a, Result<Option<String>, String>>;
    /// Stores `value` under `key`.
    fn set<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<(), String>>;
    /// Removes `key`.
    fn delete<'a>(&'a self, namespace: &'a str, key: &'a str) -> BoxFuture<'a, Result<(), String>>;
    /// Keys starting with `prefix`, ascending.
    fn list<'a>(&'a self, namespace: &'a str, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, String>>;
}

/// The implementations behind the capabilities. A capability without one
/// answers "not configured on this host" to plugins granted it.
#[derive(Default, Clone)]
pub struct Backends {
    /// The `kv` store.
    pub kv: Option<Arc<dyn KvBackend>>,
}

fn not_configured(capability: Capability) -> String {
    format!("capability `{capability}` is not configured on this host")
}

impl super::bindings::weft::plugin::types::Host for StepState {}
