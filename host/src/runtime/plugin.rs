//! A loaded plugin: its checked info, grants, limits and the `InstancePre`
//! made once, from which every attempt instantiates.

use std::sync::Arc;

use serde_json::Value;

use super::bindings::StepPluginPre;
use super::cache::CodeSource;
use super::capability::Grants;
use super::engine::CodeTier;
use super::error::LoadError;
use super::limits::LimitOverrides;
use super::state::{Caller, StepState};
use super::types::PluginInfo;

/// A plugin ready to run steps.
pub struct Plugin {
    pub(crate) info: PluginInfo,
    pub(crate) sha256: String,
    pub(crate) size: usize,
    pub(crate) limits: LimitOverrides,
    pub(crate) source: CodeSource,
    pub(crate) caller: Arc<Caller>,
    pub(crate) pre: StepPluginPre<StepState>,
    pub(crate) tier: CodeTier,
    pub(crate) validator: Arc<jsonschema::Validator>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin").field("id", &self.caller.plugin).field("sha256", &self.sha256).finish()
    }
}

impl Plugin {
    /// `name@version`.
    pub fn id(&self) -> &str {
        &self.caller.plugin
    }

    /// What the plugin said about itself.
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    /// Hex sha256 of the component bytes.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Size of the component, bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The capabilities granted.
    pub fn grants(&self) -> &Grants {
        &self.caller.grants
    }

    /// The plugin's limit overrides.
    pub fn limits(&self) -> &LimitOverrides {
        &self.limits
    }

    /// The tier of the code in use: quick until optimised code takes over.
    pub fn code_tier(&self) -> CodeTier {
        self.tier
    }

    /// The same plugin on other code (same bytes, info, grants and limits).
    pub(crate) fn with_code(
        &self,
        pre: StepPluginPre<StepState>,
        tier: CodeTier,
        source: CodeSource,
    ) -> Self {
        Self {
            info: self.info.clone(),
            sha256: self.sha256.clone(),
            size: self.size,
            limits: self.limits,
            source,
            caller: self.caller.clone(),
            pre,
            tier,
            validator: self.validator.clone(),
        }
    }

    /// Whether the code was compiled at load or read from the cache.
    pub fn code_source(&self) -> CodeSource {
        self.source
    }

    /// Validates a (rendered) step config against the plugin's schema: one
    /// message per error, each naming the field by its JSON pointer.
    pub fn validate_config(&self, config: &Value) -> Vec<String> {
        self.validate_config_detailed(config)
            .into_iter()
            .map(|(path, e)| if path.is_empty() { e } else { format!("{path}: {e}") })
            .collect()
    }

    /// Like [`Plugin::validate_config`], as (JSON pointer, message) pairs.
    /// A missing required field is named by its own path, so an editor can
    /// show the error on that field.
    pub fn validate_config_detailed(&self, config: &Value) -> Vec<(String, String)> {
        self.validator
            .iter_errors(config)
            .map(|e| {
                let mut path = e.instance_path().to_string();
                if let jsonschema::error::ValidationErrorKind::Required { property: Value::String(name) } =
                    e.kind()
                {
                    path = format!("{path}/{}", name.replace('~', "~0").replace('/', "~1"));
                }
                (path, e.to_string())
            })
            .collect()
    }
}

/// Checks what `describe()` returned and compiles its schema.
pub(crate) fn check_info(info: &PluginInfo) -> Result<jsonschema::Validator, LoadError> {
    let name_ok = !info.name.is_empty()
        && info.name.len() <= 64
        && info.name.starts_with(|c: char| c.is_ascii_lowercase())
        && info.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !name_ok {
        return Err(LoadError::InvalidInfo(format!(
            "name {:?} must be 1 to 64 lowercase letters, digits or `-`, starting with a letter",
            info.name
        )));
    }
    if semver::Version::parse(&info.version).is_err() {
        return Err(LoadError::InvalidInfo(format!(
            "version {:?} of `{}` is not a semantic version such as 1.2.3",
            info.version, info.name
        )));
    }
    Grants::parse(&info.capabilities).map_err(LoadError::InvalidInfo)?;
    if !info.config_schema.is_object() && !info.config_schema.is_boolean() {
        return Err(LoadError::InvalidSchema(format!("expected a JSON object, got {}", info.config_schema)));
    }
    jsonschema::meta::validate(&info.config_schema).map_err(|e| LoadError::InvalidSchema(e.to_string()))?;
    jsonschema::validator_for(&info.config_schema).map_err(|e| LoadError::InvalidSchema(e.to_string()))
}
