//! What a plugin says about itself.

/// A plugin's name, version, description and requested capabilities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// Step type name: lowercase letters, digits and `-`.
    pub name: String,
    /// Semantic version.
    pub version: String,
    /// One line for people browsing plugins.
    pub description: String,
    /// Host interfaces asked for: `kv`, `http`, `email`, `notify`.
    pub capabilities: Vec<String>,
}

impl Info {
    /// A plugin with this name and version, no description and no capabilities.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            description: String::new(),
            capabilities: Vec::new(),
        }
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Asks for one more capability (`kv`, `http`, `email`, `notify` or `sign`).
    pub fn capability(mut self, capability: impl Into<String>) -> Self {
        self.capabilities.push(capability.into());
        self
    }
}
