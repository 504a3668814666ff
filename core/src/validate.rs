//! Validation of a workflow definition, on save and again on activation. Each
//! error names the step and the field.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::cron::Schedule;
use crate::definition::{END, FOR_EACH, PARALLEL, StepDef, Trigger, Verify, WorkflowSpec};
use crate::limits::{HostLimits, LimitOverrides};

/// A schema property marked with this keyword holds a step id (a branch target).
pub const TARGET_KEYWORD: &str = "x-weft-target";

/// One problem in a definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationError {
    /// The step concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The field, as a path (`config.to`, `trigger.config.expression`).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.step {
            Some(step) => write!(f, "step `{step}`: field `{}`: {}", self.field, self.message),
            None => write!(f, "field `{}`: {}", self.field, self.message),
        }
    }
}

fn err(step: Option<&str>, field: impl Into<String>, message: impl Into<String>) -> ValidationError {
    ValidationError { step: step.map(str::to_owned), field: field.into(), message: message.into() }
}

/// A step type as validation sees it: an installed plugin on a host.
pub trait StepType {
    /// `name@version`.
    fn id(&self) -> &str;
    /// The limits it was installed with.
    fn limits(&self) -> &LimitOverrides;
    /// Its config's JSON Schema.
    fn config_schema(&self) -> &Value;
    /// Schema errors of `config`, as `(JSON pointer, message)`.
    fn config_errors(&self, config: &Value) -> Vec<(String, String)>;
}

/// Where step types are looked up.
pub trait Catalog {
    /// What a lookup returns.
    type Step: std::ops::Deref<Target: StepType>;
    /// The step type `wanted` (`email` or `email@0.1.0`) names.
    fn resolve(&self, wanted: &str) -> Option<Self::Step>;
}

/// The plugin each step type resolves to (`"email"` → `"email@0.1.0"`).
pub type ResolvedTypes = BTreeMap<String, String>;

/// Most step attempts a workflow may allow its runs (`limits.maxSteps`).
pub const MAX_STEPS_CEILING: u32 = 1_000_000;

/// Checks `spec` against the installed plugins; returns the resolved step
/// types (unpinned types resolve to the newest version).
pub fn validate(
    spec: &WorkflowSpec,
    registry: &impl Catalog,
    limits: &HostLimits,
) -> Result<ResolvedTypes, Vec<ValidationError>> {
    validate_pinned(spec, registry, limits, &ResolvedTypes::new())
}

/// Like [`validate`], with the step types in `pins` resolved to the versions
/// they name instead of the newest: how an ACTIVE workflow's edit keeps the
/// versions fixed at its activation.
pub fn validate_pinned(
    spec: &WorkflowSpec,
    registry: &impl Catalog,
    limits: &HostLimits,
    pins: &ResolvedTypes,
) -> Result<ResolvedTypes, Vec<ValidationError>> {
    let mut errors = Vec::new();
    if spec.name.trim().is_empty() {
        errors.push(err(None, "name", "must not be empty"));
    }
    check_trigger(&spec.trigger, &mut errors);
    if spec.steps.is_empty() {
        errors.push(err(None, "steps", "a workflow needs at least one step"));
    }
    let mut seen = HashSet::new();
    for step in spec.all_steps() {
        if step.id.trim().is_empty() || step.id == END {
            errors.push(err(Some(&step.id), "id", format!("`{}` is not a usable step id", step.id)));
        } else if !seen.insert(step.id.as_str()) {
            errors.push(err(Some(&step.id), "id", "duplicate step id"));
        }
    }
    if let Some(max) = spec.limits.and_then(|l| l.max_steps)
        && !(1..=MAX_STEPS_CEILING).contains(&max)
    {
        errors.push(err(
            None,
            "limits.maxSteps",
            format!("must be from 1 to {MAX_STEPS_CEILING}, got {max}"),
        ));
    }
    if let Some(text) = &spec.retention
        && let Err(e) = parse_period(text)
    {
        errors.push(err(None, "retention", e));
    }
    if let Some(text) = &spec.timeout
        && let Err(e) = parse_period(text)
    {
        errors.push(err(None, "timeout", e));
    }
    if let Some(c) = &spec.concurrency {
        if !(1..=crate::definition::MAX_CONCURRENCY).contains(&c.limit) {
            errors.push(err(
                None,
                "concurrency.limit",
                format!("must be from 1 to {}, got {}", crate::definition::MAX_CONCURRENCY, c.limit),
            ));
        }
        if c.key.as_deref().is_some_and(|k| k.len() > crate::flow::MAX_KEY_BYTES) {
            errors.push(err(
                None,
                "concurrency.key",
                format!("must be at most {} bytes", crate::flow::MAX_KEY_BYTES),
            ));
        }
    }
    let mut resolved = ResolvedTypes::new();
    let scope = Scope { registry, limits, pins };
    check_list(&spec.steps, Nest::Top, &scope, &mut resolved, &mut errors);
    if errors.is_empty() { Ok(resolved) } else { Err(errors) }
}

/// A period (a retention, a timeout): a duration such as `30d`, `12h` or `1h 30m`, at
/// least a second.
pub fn parse_period(text: &str) -> Result<std::time::Duration, String> {
    let duration = humantime::parse_duration(text.trim())
        .map_err(|e| format!("{text:?} is not a duration such as `30d` or `12h`: {e}"))?;
    if duration < std::time::Duration::from_secs(1) {
        return Err(format!("{text:?} is under a second"));
    }
    Ok(duration)
}

fn check_trigger(trigger: &Trigger, errors: &mut Vec<ValidationError>) {
    match trigger {
        Trigger::Manual(_) => {}
        Trigger::Event(e) => {
            if e.event.trim().is_empty() {
                errors.push(err(None, "trigger.config.event", "must not be empty"));
            }
        }
        Trigger::Cron(c) => {
            if let Err(e) = Schedule::parse(&c.expression, c.timezone.as_deref()) {
                errors.push(err(None, e.field, e.message));
            }
        }
        Trigger::Webhook(w) => {
            if let Some(secret) = w.verify.secret()
                && Verify::secret_name(secret).is_none()
            {
                errors.push(err(
                    None,
                    "trigger.config.verify.secret",
                    "must name a secret as `{{ secrets.NAME }}`; the value is kept in the secrets store \
                     (PUT /api/secrets/NAME), never in a workflow",
                ));
            }
            if let Verify::HmacSha256 { header: Some(h), .. } = &w.verify
                && http::HeaderName::from_bytes(h.as_bytes()).is_err()
            {
                errors.push(err(None, "trigger.config.verify.header", format!("`{h}` is not a header name")));
            }
            if let Some(ms) = w.timeout_ms
                && !(1..=MAX_HOOK_WAIT_MS).contains(&ms)
            {
                errors.push(err(
                    None,
                    "trigger.config.timeoutMs",
                    format!("must be 1 to {MAX_HOOK_WAIT_MS} ms, got {ms}"),
                ));
            }
            if w.rate_per_second == Some(0) {
                errors.push(err(None, "trigger.config.ratePerSecond", "must be at least 1"));
            }
            if let Verify::StandardWebhooks { tolerance_seconds: Some(t), .. } = &w.verify
                && !(1..=MAX_HOOK_TOLERANCE_S).contains(t)
            {
                // Deliveries are deduplicated for a day: a signature accepted
                // for longer could be replayed after its id is forgotten.
                errors.push(err(
                    None,
                    "trigger.config.verify.toleranceSeconds",
                    format!("must be 1 to {MAX_HOOK_TOLERANCE_S} seconds, got {t}"),
                ));
            }
        }
    }
}

/// Widest timestamp tolerance of a Standard Webhooks signature: an hour,
/// well inside the day for which deliveries are deduplicated.
pub const MAX_HOOK_TOLERANCE_S: u64 = 3_600;

/// Longest a `when-done` webhook answer waits for its run, ms.
pub const MAX_HOOK_WAIT_MS: u64 = 60_000;

/// What steps are checked against.
struct Scope<'a, C> {
    registry: &'a C,
    limits: &'a HostLimits,
    pins: &'a ResolvedTypes,
}

/// Where a list of steps sits.
#[derive(Clone, Copy, PartialEq)]
enum Nest {
    Top,
    /// A `parallel` step's branch.
    Branch,
    /// A `for-each` step's body: its steps only go forward, so each item
    /// visits a step at most once (its visit number, and so its
    /// idempotency key, is the item's).
    Body,
}

fn check_list(
    steps: &[StepDef],
    nest: Nest,
    scope_of: &Scope<'_, impl Catalog>,
    resolved: &mut ResolvedTypes,
    errors: &mut Vec<ValidationError>,
) {
    let (registry, limits) = (scope_of.registry, scope_of.limits);
    let ids: HashSet<&str> = steps.iter().map(|s| s.id.as_str()).collect();
    let scope = match nest {
        Nest::Top => "at the top level",
        Nest::Branch => "in its branch",
        Nest::Body => "in its for-each body",
    };
    for (at, step) in steps.iter().enumerate() {
        let id = Some(step.id.as_str());
        let later: HashSet<&str> = if nest == Nest::Body {
            steps[at + 1..].iter().map(|s| s.id.as_str()).collect()
        } else {
            ids.clone()
        };
        let target_ok = |target: &str| target == END || later.contains(target);
        let where_of = |target: &str| {
            if nest == Nest::Body && ids.contains(target) { "after it in its for-each body" } else { scope }
        };
        for (field, target) in [("next", &step.next), ("onError", &step.on_error)] {
            if let Some(target) = target
                && !target_ok(target)
            {
                errors.push(err(id, field, format!("`{target}` names no step {}", where_of(target))));
            }
        }
        if let Some(retry) = &step.retry
            && retry.max_attempts == 0
        {
            errors.push(err(id, "retry.maxAttempts", "must be at least 1"));
        }
        if let Some(overrides) = &step.limits {
            for message in limits.check(overrides) {
                let (field, message) = message.split_once(": ").unwrap_or(("limits", message.as_str()));
                errors.push(err(id, field, message));
            }
        }
        if step.step_type == PARALLEL {
            match &step.branches {
                Some(branches) if !branches.is_empty() && branches.iter().all(|b| !b.is_empty()) => {
                    if nest != Nest::Top {
                        errors.push(err(id, "type", "a `parallel` step goes at the top level only"));
                    } else {
                        for branch in branches {
                            check_list(branch, Nest::Branch, scope_of, resolved, errors);
                        }
                    }
                }
                _ => errors.push(err(id, "branches", "a parallel step needs non-empty branches")),
            }
            if step.steps.is_some() {
                errors.push(err(id, "steps", "only `for-each` steps have steps"));
            }
            continue;
        }
        if step.branches.is_some() {
            errors.push(err(id, "branches", "only `parallel` steps have branches"));
        }
        if step.step_type == FOR_EACH {
            if nest != Nest::Top {
                errors.push(err(id, "type", "a `for-each` step goes at the top level only"));
            }
            if step.limits.is_some() {
                errors.push(err(id, "limits", "engine steps run no plugin, so they take no limits"));
            }
            if step.retry.is_some() {
                errors.push(err(
                    id,
                    "retry",
                    "a `for-each` step is not retried: give its body steps a retry",
                ));
            }
            for (field, message) in crate::flow::config_errors(&step.step_type, &step.config, &target_ok) {
                errors.push(err(id, field, message));
            }
            match &step.steps {
                Some(body) if !body.is_empty() => {
                    if nest == Nest::Top {
                        check_list(body, Nest::Body, scope_of, resolved, errors);
                    }
                }
                _ => errors.push(err(id, "steps", "a for-each step needs a non-empty list of steps")),
            }
            continue;
        }
        if step.steps.is_some() {
            errors.push(err(id, "steps", "only `for-each` steps have steps"));
        }
        if crate::flow::is_engine_step(&step.step_type) {
            if step.limits.is_some() {
                errors.push(err(id, "limits", "engine steps run no plugin, so they take no limits"));
            }
            for (field, message) in crate::flow::config_errors(&step.step_type, &step.config, &target_ok) {
                errors.push(err(id, field, message));
            }
            continue;
        }
        let wanted = scope_of.pins.get(&step.step_type).unwrap_or(&step.step_type);
        let Some(plugin) = registry.resolve(wanted) else {
            errors.push(err(id, "type", format!("unknown step type `{}`", step.step_type)));
            continue;
        };
        resolved.insert(step.step_type.clone(), plugin.id().to_owned());
        if let Some(overrides) = &step.limits {
            for message in limits.check_step(plugin.id(), plugin.limits(), overrides) {
                let (field, message) = message.split_once(": ").unwrap_or(("limits", message.as_str()));
                errors.push(err(id, field, message));
            }
        }
        if !step.config.is_object() {
            errors.push(err(id, "config", "must be a JSON object"));
            continue;
        }
        for message in schema_errors(&*plugin, &step.config) {
            errors.push(err(id, message.0, message.1));
        }
        let schema = plugin.config_schema();
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (name, prop) in props {
                if prop.get(TARGET_KEYWORD) == Some(&Value::Bool(true))
                    && let Some(Value::String(target)) = step.config.get(name)
                    && !is_template(target)
                    && !target_ok(target)
                {
                    errors.push(err(
                        id,
                        format!("config.{name}"),
                        format!("`{target}` names no step {}", where_of(target)),
                    ));
                }
            }
        }
    }
}

/// Schema errors of a config, skipping values that are templates (they are
/// only known when the step runs, and are checked then).
fn schema_errors(plugin: &(impl StepType + ?Sized), config: &Value) -> Vec<(String, String)> {
    plugin
        .config_errors(config)
        .into_iter()
        .filter(|(pointer, _)| !matches!(config.pointer(pointer), Some(Value::String(s)) if is_template(s)))
        .map(|(pointer, message)| {
            let field = if pointer.is_empty() {
                "config".to_owned()
            } else {
                format!("config{}", pointer.replace('/', "."))
            };
            (field, message)
        })
        .collect()
}

/// Whether a string holds template syntax.
pub fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

#[cfg(test)]
mod retention_tests {
    use super::parse_period;

    #[test]
    fn retention_is_a_duration_of_a_second_or_more() {
        assert_eq!(parse_period("30d").map(|d| d.as_secs()), Ok(30 * 86_400));
        assert_eq!(parse_period("1h 30m").map(|d| d.as_secs()), Ok(5_400));
        assert!(parse_period("soon").unwrap_err().contains("not a duration"));
        assert!(parse_period("500ms").unwrap_err().contains("under a second"));
    }
}
