//! The plugins loaded in this process, by name and version.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use semver::Version;

use super::plugin::Plugin;

/// Loaded plugins. A step type `name` resolves to the newest version,
/// `name@version` to that version exactly.
#[derive(Default)]
pub struct Registry {
    plugins: RwLock<BTreeMap<String, BTreeMap<Version, Arc<Plugin>>>>,
    builtin: RwLock<std::collections::HashSet<String>>,
}

impl Registry {
    /// Adds a plugin, replacing one with the same name and version.
    pub fn insert(&self, plugin: Arc<Plugin>) {
        let Ok(version) = Version::parse(&plugin.info.version) else {
            return; // load already checked the version
        };
        let mut plugins = self.plugins.write().unwrap_or_else(|p| p.into_inner());
        plugins.entry(plugin.info.name.clone()).or_default().insert(version, plugin);
    }

    /// Puts `plugin` in place of the entry with its name, version and bytes
    /// when that entry runs other code (optimised code taking over from
    /// quick code); returns whether it did. Runs in flight keep the code
    /// they started with.
    pub fn upgrade(&self, plugin: Arc<Plugin>) -> bool {
        let Ok(version) = Version::parse(&plugin.info.version) else { return false };
        let mut plugins = self.plugins.write().unwrap_or_else(|p| p.into_inner());
        match plugins.get_mut(&plugin.info.name).and_then(|versions| versions.get_mut(&version)) {
            Some(current) if current.sha256 == plugin.sha256 && current.tier != plugin.tier => {
                *current = plugin;
                true
            }
            _ => false,
        }
    }

    /// Removes `name@version`; returns whether it was there.
    pub fn remove(&self, name: &str, version: &str) -> bool {
        let Ok(version) = Version::parse(version) else { return false };
        let mut plugins = self.plugins.write().unwrap_or_else(|p| p.into_inner());
        let removed = plugins.get_mut(name).and_then(|versions| versions.remove(&version)).is_some();
        if plugins.get(name).is_some_and(BTreeMap::is_empty) {
            plugins.remove(name);
        }
        removed
    }

    /// The plugin a step `type` names: `name` (newest) or `name@version`.
    pub fn resolve(&self, step_type: &str) -> Option<Arc<Plugin>> {
        let plugins = self.plugins.read().unwrap_or_else(|p| p.into_inner());
        match step_type.split_once('@') {
            Some((name, version)) => {
                let version = Version::parse(version).ok()?;
                plugins.get(name)?.get(&version).cloned()
            }
            None => plugins.get(step_type)?.values().next_back().cloned(),
        }
    }

    /// Marks a plugin name as built-in: shipped with the host, never deleted.
    pub fn mark_builtin(&self, name: &str) {
        self.builtin.write().unwrap_or_else(|p| p.into_inner()).insert(name.to_owned());
    }

    /// Whether `name` is a built-in plugin.
    pub fn is_builtin(&self, name: &str) -> bool {
        self.builtin.read().unwrap_or_else(|p| p.into_inner()).contains(name)
    }

    /// Every loaded plugin, by name then version.
    pub fn list(&self) -> Vec<Arc<Plugin>> {
        let plugins = self.plugins.read().unwrap_or_else(|p| p.into_inner());
        plugins.values().flat_map(|versions| versions.values().cloned()).collect()
    }
}
