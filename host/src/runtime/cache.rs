//! Compiled components on disk, keyed by the component's sha256 and the
//! engine's compatibility hash, so a restart deserializes instead of compiling.
//!
//! A cache entry is native code, so the host loads only entries it wrote
//! itself: each starts with an HMAC-SHA256 (under a key that is not in the
//! cache directory) of the component's sha256, the engine key and the code.
//! An entry that fails the check is refused and the component recompiled.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;

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
    mac_key: [u8; 32],
}

const MAC_BYTES: usize = 32;

impl CodeCache {
    /// A cache in `dir` for code compiled by `engine`.
    pub fn new(dir: Option<PathBuf>, engine: &Engine, mac_key: [u8; 32]) -> Self {
        // SipHash with fixed keys: stable for one host binary, which is all the
        // key needs (wasmtime re-checks compatibility on deserialize anyway).
        #[allow(deprecated)]
        let mut hasher = std::hash::SipHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Self { dir, engine_key: format!("{:016x}", hasher.finish()), mac_key }
    }

    fn mac(&self, sha256: &str, code: &[u8]) -> Hmac<Sha256> {
        // HMAC takes keys of any length: `new_from_slice` cannot fail.
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.mac_key).expect("HMAC takes any key length");
        mac.update(sha256.as_bytes());
        mac.update(b"/");
        mac.update(self.engine_key.as_bytes());
        mac.update(b"/");
        mac.update(code);
        mac
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
        if let Some(component) = self.get(engine, sha256) {
            return Ok((component, CodeSource::Cache));
        }
        let component = Component::new(engine, bytes)?;
        match component.serialize() {
            Ok(code) => self.put(sha256, &code),
            Err(e) => tracing::warn!("cannot serialize compiled code: {e}"),
        }
        Ok((component, CodeSource::Compiled))
    }

    /// The cached component for `sha256`, if a valid entry exists.
    pub fn get(&self, engine: &Engine, sha256: &str) -> Option<Component> {
        let path = self.path(sha256).filter(|p| p.exists())?;
        match self.read_verified(engine, &path, sha256) {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!("refusing cache entry {}: {e}; compiling again", path.display());
                None
            }
        }
    }

    /// Caches serialized code for `sha256`; a failure to write is logged only.
    pub fn put(&self, sha256: &str, code: &[u8]) {
        if let Some(path) = self.path(sha256)
            && let Err(e) = self.store(code, &path, sha256)
        {
            tracing::warn!("cannot write compiled cache entry {}: {e}", path.display());
        }
    }
}

impl CodeCache {
    /// The component in `path`, if its MAC says this host wrote it for `sha256`.
    fn read_verified(&self, engine: &Engine, path: &Path, sha256: &str) -> anyhow::Result<Component> {
        let entry = std::fs::read(path)?;
        if entry.len() < MAC_BYTES {
            anyhow::bail!("too short");
        }
        let (tag, code) = entry.split_at(MAC_BYTES);
        self.mac(sha256, code).verify_slice(tag).map_err(|_| anyhow::anyhow!("its MAC does not verify"))?;
        // SAFETY: the MAC proves these bytes are what `store` wrote from
        // `Component::serialize` of this engine config for this component;
        // wasmtime checks the header and the engine compatibility too.
        unsafe { Component::deserialize(engine, code) }.map_err(|e| anyhow::anyhow!("{e:#}"))
    }

    /// Writes atomically: a temporary file renamed into place, so a crash
    /// never leaves a half-written entry under the final name.
    fn store(&self, code: &[u8], path: &Path, sha256: &str) -> anyhow::Result<()> {
        let tag = self.mac(sha256, code).finalize().into_bytes();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let mut entry = Vec::with_capacity(MAC_BYTES + code.len());
        entry.extend_from_slice(&tag);
        entry.extend_from_slice(code);
        std::fs::write(&tmp, entry)?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }
}
