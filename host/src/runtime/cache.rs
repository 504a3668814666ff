//! Compiled components on disk, keyed by the component's sha256 and the
//! engine's compatibility hash, so a restart deserializes instead of compiling.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

/// Where a loaded component's machine code came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeSource {
    /// Compiled now.
    Compiled,
    /// Read from the on-disk cache.
    Cache,
}

/// The compiled-code cache; `None` directory means compile every time.
#[derive(Debug, Clone)]
pub struct CodeCache {
    dir: Option<PathBuf>,
    engine_key: String,
}

impl CodeCache {
    /// A cache in `dir` for code compiled by `engine`.
    pub fn new(dir: Option<PathBuf>, engine: &Engine) -> Self {
        // SipHash with fixed keys: stable for one host binary, which is all the
        // key needs (wasmtime re-checks compatibility on deserialize anyway).
        #[allow(deprecated)]
        let mut hasher = std::hash::SipHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Self { dir, engine_key: format!("{:016x}", hasher.finish()) }
    }

    fn path(&self, sha256: &str) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(format!("{sha256}-{}.cwasm", self.engine_key)))
    }

    /// Whether compiled code for `sha256` is on disk (it may still turn out
    /// unusable when read).
    pub fn contains(&self, sha256: &str) -> bool {
        self.path(sha256).is_some_and(|p| p.exists())
    }

    /// The component for these bytes: from the cache when a valid entry exists,
    /// compiled (and cached) otherwise.
    pub fn load(
        &self,
        engine: &Engine,
        bytes: &[u8],
        sha256: &str,
    ) -> wasmtime::Result<(Component, CodeSource)> {
        if let Some(path) = self.path(sha256).filter(|p| p.exists()) {
            // SAFETY: the file is in the host's own cache directory, written by
            // `store` below from `Component::serialize` of this engine config;
            // wasmtime checks the header and the engine compatibility.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok((component, CodeSource::Cache)),
                Err(e) => tracing::warn!("ignoring unusable cache entry {}: {e}", path.display()),
            }
        }
        let component = Component::new(engine, bytes)?;
        if let Some(path) = self.path(sha256)
            && let Err(e) = store(&component, &path)
        {
            tracing::warn!("cannot write compiled cache entry {}: {e}", path.display());
        }
        Ok((component, CodeSource::Compiled))
    }
}

/// Writes atomically: a temporary file renamed into place, so a crash never
/// leaves a half-written entry under the final name.
fn store(component: &Component, path: &Path) -> anyhow::Result<()> {
    let code = component.serialize()?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, code)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
