//! Resource limits of a step attempt: host defaults, per-plugin and per-step
//! overrides, and the host maximum that no override can pass.

use serde::{Deserialize, Serialize};

/// The limits one step attempt runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Limits {
    /// Fuel units (roughly wasm instructions; 10 million is about 1 ms of tight code).
    pub fuel: u64,
    /// Linear memory and tables, in bytes, summed over the component's memories.
    pub memory_bytes: u64,
    /// Wall time of the attempt, host calls included, in milliseconds.
    pub time_ms: u64,
    /// Size of the returned output JSON, in bytes.
    pub output_bytes: u64,
}

impl Limits {
    /// The host defaults when nothing overrides them.
    pub const DEFAULT: Limits =
        Limits { fuel: 2_000_000_000, memory_bytes: 128 << 20, time_ms: 30_000, output_bytes: 1 << 20 };

    /// The host maximum when the host config does not lower it.
    pub const MAX: Limits =
        Limits { fuel: 200_000_000_000, memory_bytes: 1 << 30, time_ms: 15 * 60_000, output_bytes: 16 << 20 };
}

/// Overrides from a plugin's install settings or a step's definition; each
/// field left out keeps the value from the level below.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LimitOverrides {
    /// Fuel units.
    pub fuel: Option<u64>,
    /// Memory in bytes.
    pub memory_bytes: Option<u64>,
    /// Wall time in milliseconds.
    pub time_ms: Option<u64>,
    /// Output size in bytes.
    pub output_bytes: Option<u64>,
}

/// The host's defaults and maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostLimits {
    /// Used where no override applies.
    pub defaults: Limits,
    /// Never exceeded, whatever the overrides say.
    pub max: Limits,
}

impl Default for HostLimits {
    fn default() -> Self {
        Self { defaults: Limits::DEFAULT, max: Limits::MAX }
    }
}

impl HostLimits {
    /// The limits of an attempt: plugin overrides (set by whoever installed
    /// it) win over the host defaults, capped at the maximum; a step may only
    /// lower them, since whoever edits workflows must not lift the cap an
    /// operator installed a plugin with.
    pub fn resolve(&self, plugin: &LimitOverrides, step: &LimitOverrides) -> Limits {
        let pick = |step: Option<u64>, plugin: Option<u64>, default: u64, max: u64| {
            let installed = plugin.unwrap_or(default).min(max);
            step.map_or(installed, |s| s.min(installed))
        };
        let (d, m) = (self.defaults, self.max);
        Limits {
            fuel: pick(step.fuel, plugin.fuel, d.fuel, m.fuel),
            memory_bytes: pick(step.memory_bytes, plugin.memory_bytes, d.memory_bytes, m.memory_bytes),
            time_ms: pick(step.time_ms, plugin.time_ms, d.time_ms, m.time_ms),
            output_bytes: pick(step.output_bytes, plugin.output_bytes, d.output_bytes, m.output_bytes),
        }
    }

    /// Errors for overrides above the maximum, one per field, naming the field:
    /// for validating definitions and installs, where silently capping would hide
    /// a mistake.
    pub fn check(&self, overrides: &LimitOverrides) -> Vec<String> {
        let m = self.max;
        [
            ("fuel", overrides.fuel, m.fuel),
            ("memoryBytes", overrides.memory_bytes, m.memory_bytes),
            ("timeMs", overrides.time_ms, m.time_ms),
            ("outputBytes", overrides.output_bytes, m.output_bytes),
        ]
        .into_iter()
        .filter_map(|(field, value, max)| match value {
            Some(v) if v > max => Some(format!("limits.{field}: {v} is above the host maximum of {max}")),
            Some(0) => Some(format!("limits.{field}: must be greater than 0")),
            _ => None,
        })
        .collect()
    }
}

impl HostLimits {
    /// Errors for step overrides above what `plugin` was installed with (its
    /// overrides, else the host defaults), one per field, naming the field.
    pub fn check_step(&self, plugin: &str, installed: &LimitOverrides, step: &LimitOverrides) -> Vec<String> {
        let (base, m) = (self.resolve(installed, &LimitOverrides::default()), self.max);
        // Values above the maximum are [`HostLimits::check`]'s to report.
        [
            ("fuel", step.fuel, base.fuel, m.fuel),
            ("memoryBytes", step.memory_bytes, base.memory_bytes, m.memory_bytes),
            ("timeMs", step.time_ms, base.time_ms, m.time_ms),
            ("outputBytes", step.output_bytes, base.output_bytes, m.output_bytes),
        ]
        .into_iter()
        .filter_map(|(field, value, limit, max)| match value {
            Some(v) if v > limit && v <= max => Some(format!(
                "limits.{field}: {v} is above the {limit} that plugin `{plugin}` was installed with; a step \
                 may lower a limit, not raise it"
            )),
            _ => None,
        })
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_lowers_limits_and_never_raises_them() {
        let host = HostLimits::default();
        let plugin = LimitOverrides { fuel: Some(10), time_ms: Some(5), ..Default::default() };
        let step = LimitOverrides {
            fuel: Some(20),
            time_ms: Some(2),
            memory_bytes: Some(u64::MAX),
            ..Default::default()
        };
        let limits = host.resolve(&plugin, &step);
        assert_eq!(limits.fuel, 10);
        assert_eq!(limits.time_ms, 2);
        assert_eq!(limits.memory_bytes, Limits::DEFAULT.memory_bytes);
        assert_eq!(limits.output_bytes, Limits::DEFAULT.output_bytes);
        assert_eq!(
            host.check_step("p@1.0.0", &plugin, &LimitOverrides { fuel: Some(20), ..Default::default() }),
            vec![
                "limits.fuel: 20 is above the 10 that plugin `p@1.0.0` was installed with; a step may lower \
                 a limit, not raise it"
                    .to_owned()
            ]
        );
    }

    #[test]
    fn check_names_each_field_above_the_maximum() {
        let host = HostLimits::default();
        let over = LimitOverrides { fuel: Some(u64::MAX), time_ms: Some(0), ..Default::default() };
        assert_eq!(
            host.check(&over),
            vec![
                format!("limits.fuel: {} is above the host maximum of {}", u64::MAX, Limits::MAX.fuel),
                "limits.timeMs: must be greater than 0".to_owned(),
            ]
        );
    }
}
