//! Workflow definitions as the API and the CLI receive them.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::limits::LimitOverrides;

/// The step type of a parallel block, handled by the engine itself.
pub const PARALLEL: &str = "parallel";
/// The step type of a loop over a list, handled by the engine itself.
pub const FOR_EACH: &str = "for-each";
/// The target that finishes a run (or a parallel branch).
pub const END: &str = "end";

/// A workflow as written by a person: name, trigger, steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkflowSpec {
    /// Display name.
    pub name: String,
    /// Longer text.
    #[serde(default)]
    pub description: Option<String>,
    /// What starts runs.
    #[schema(value_type = TriggerSchema)]
    pub trigger: Trigger,
    /// The steps, run in order.
    pub steps: Vec<StepDef>,
    /// Run-level limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<WorkflowLimits>,
    /// How long finished runs are kept, e.g. `30d` or `12h` (the host's
    /// `--retention` when absent; kept forever when neither is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<String>,
    /// How long a run may take, e.g. `1h`, waits included: past it the run
    /// fails, checked between steps and while it sleeps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// At most `limit` runs in progress per key, the others PENDING in
    /// trigger order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<Concurrency>,
    /// What an editor keeps with the workflow (node positions): stored as
    /// given, never validated or read by the engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub layout: Option<Value>,
}

/// How many runs of a workflow may be in progress at once, per key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Concurrency {
    /// Runs in progress (started and not ended, waits included) per key, 1 to 10,000.
    pub limit: u32,
    /// A template rendered against the trigger's `event` when the run is
    /// started, e.g. `{{ event.customerId }}`; one key for the whole
    /// workflow when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// Most runs one concurrency key may have in progress.
pub const MAX_CONCURRENCY: u32 = 10_000;

/// Limits of each run of a workflow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkflowLimits {
    /// Most step attempts a run may make (retries and loops included) before
    /// it fails; 10,000 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<u32>,
}

/// What starts a workflow's runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawTrigger", into = "RawTrigger")]
pub enum Trigger {
    /// `POST /api/workflows/:id/trigger`.
    Manual(Value),
    /// `POST /api/events` with a matching `type`.
    Event(EventTrigger),
    /// A cron schedule.
    Cron(CronTrigger),
    /// A request to the workflow's own URL, `/hooks/<id>`.
    Webhook(WebhookTrigger),
}

/// The wire form of a trigger, for the API's schema: `config` is the
/// variant's config, optional for `manual`.
#[derive(Serialize, ToSchema)]
#[serde(tag = "type", content = "config", rename_all = "lowercase")]
pub enum TriggerSchema {
    /// `POST /api/workflows/:id/trigger`: any config.
    Manual(Option<Value>),
    /// `POST /api/events` with a matching `type`.
    Event(EventTrigger),
    /// A cron schedule.
    Cron(CronTrigger),
    /// A request to the workflow's own URL, `/hooks/<id>`.
    Webhook(WebhookTrigger),
}

/// The wire form of a trigger: `{ "type": ..., "config": {...} }`, config optional.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrigger {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    config: Value,
}

impl TryFrom<RawTrigger> for Trigger {
    type Error = String;

    fn try_from(raw: RawTrigger) -> Result<Self, String> {
        match raw.kind.as_str() {
            "manual" => Ok(Trigger::Manual(raw.config)),
            "event" => parse_config("event", raw.config).map(Trigger::Event),
            "cron" => parse_config("cron", raw.config).map(Trigger::Cron),
            "webhook" => parse_config("webhook", raw.config).map(Trigger::Webhook),
            other => Err(format!("unknown trigger type `{other}` (expected manual, event, cron or webhook)")),
        }
    }
}

fn parse_config<T: serde::de::DeserializeOwned>(what: &str, v: Value) -> Result<T, String> {
    let v = if v.is_null() { Value::Object(Default::default()) } else { v };
    serde_json::from_value(v).map_err(|e| format!("{what} trigger config: {e}"))
}

impl From<Trigger> for RawTrigger {
    fn from(t: Trigger) -> Self {
        let (kind, config) = match t {
            Trigger::Manual(v) => ("manual", v),
            Trigger::Event(e) => ("event", serde_json::to_value(e).unwrap_or_default()),
            Trigger::Cron(c) => ("cron", serde_json::to_value(c).unwrap_or_default()),
            Trigger::Webhook(w) => ("webhook", serde_json::to_value(w).unwrap_or_default()),
        };
        RawTrigger { kind: kind.to_owned(), config }
    }
}

/// Config of an event trigger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventTrigger {
    /// Event type, e.g. `contact.created`.
    pub event: String,
}

/// Config of a cron trigger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CronTrigger {
    /// Cron expression: 5 fields as in crontab(5) (or `@daily` and friends), 6 with
    /// seconds first, or 7 with a year last.
    pub expression: String,
    /// IANA time zone, e.g. `Europe/Paris`; UTC when absent.
    #[serde(default)]
    pub timezone: Option<String>,
}

/// Config of an inbound webhook trigger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookTrigger {
    /// How a request proves it comes from the sender.
    pub verify: Verify,
    /// When the request is answered.
    #[serde(default)]
    pub respond: Respond,
    /// With `when-done`: how long the answer waits for the run, ms (else 202).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Most requests a second this hook accepts (a burst of as many);
    /// more get 429 with `Retry-After`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_per_second: Option<u32>,
}

/// How an inbound webhook request is verified. `secret` is always a
/// reference, `{{ secrets.NAME }}`: the value stays in the secrets store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Verify {
    /// Standard Webhooks: `webhook-id`, `webhook-timestamp` and
    /// `webhook-signature` over `id.timestamp.body`, keyed by a `whsec_` secret.
    #[serde(rename_all = "camelCase")]
    StandardWebhooks {
        /// `{{ secrets.NAME }}`.
        secret: String,
        /// How far the timestamp may be from now, seconds (default 300).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tolerance_seconds: Option<u64>,
    },
    /// A header holding the hex HMAC-SHA256 of the body, optionally after
    /// `sha256=` (GitHub's `X-Hub-Signature-256`).
    #[serde(rename = "hmac-sha256")]
    HmacSha256 {
        /// `{{ secrets.NAME }}`.
        secret: String,
        /// Header name (default `X-Hub-Signature-256`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        header: Option<String>,
    },
    /// `Authorization: Bearer <secret>`.
    Bearer {
        /// `{{ secrets.NAME }}`.
        secret: String,
    },
    /// Nothing but the unguessable URL. Said explicitly, never by default.
    None,
}

/// When an inbound webhook request is answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Respond {
    /// At once: 202 with the run id.
    #[default]
    Accepted,
    /// When the run has ended: its `vars` (or `vars.response`), within the timeout.
    WhenDone,
}

impl Verify {
    /// The secret reference, if the method has one.
    pub fn secret(&self) -> Option<&str> {
        match self {
            Verify::StandardWebhooks { secret, .. }
            | Verify::HmacSha256 { secret, .. }
            | Verify::Bearer { secret } => Some(secret),
            Verify::None => None,
        }
    }

    /// The name in a `{{ secrets.NAME }}` reference.
    pub fn secret_name(reference: &str) -> Option<&str> {
        let inner = reference.trim().strip_prefix("{{")?.strip_suffix("}}")?.trim();
        let name = inner.strip_prefix("secrets.")?;
        crate::secrets::valid_name(name).then_some(name)
    }
}

/// One step of a workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StepDef {
    /// Unique id, used by targets and at `steps.<id>` in templates.
    pub id: String,
    /// Plugin name, optionally pinned (`email@0.1.0`), or `parallel`.
    #[serde(rename = "type")]
    pub step_type: String,
    /// The plugin's config; strings may hold templates.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub config: Value,
    /// The step to run after this one instead of the next in the list, or `end`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// The step to run when this one fails for good.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_error: Option<String>,
    /// Retries of retryable errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
    /// Resource limits of this step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<LimitOverrides>,
    /// Branches of a `parallel` step, each a list of steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(no_recursion)]
    pub branches: Option<Vec<Vec<StepDef>>>,
    /// The body of a `for-each` step, run once per item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(no_recursion)]
    pub steps: Option<Vec<StepDef>>,
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

/// Retry policy of a step: attempt `n` (from 2) waits
/// `min(backoffMs * multiplier^(n-2), maxBackoffMs)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Wait before the second attempt, ms.
    #[serde(default = "default_backoff")]
    pub backoff_ms: u64,
    /// Growth of the wait per attempt.
    #[serde(default = "default_multiplier")]
    pub multiplier: f64,
    /// Longest wait, ms.
    #[serde(default = "default_cap")]
    pub max_backoff_ms: u64,
}

fn default_backoff() -> u64 {
    1_000
}
fn default_multiplier() -> f64 {
    2.0
}
fn default_cap() -> u64 {
    3_600_000
}

impl RetryPolicy {
    /// The wait before attempt `next_attempt` (2 or more).
    pub fn backoff(&self, next_attempt: u32) -> u64 {
        let exp = next_attempt.saturating_sub(2).min(64) as i32;
        let wait = self.backoff_ms as f64 * self.multiplier.max(1.0).powi(exp);
        (wait.min(self.max_backoff_ms as f64)).max(0.0) as u64
    }
}

impl WorkflowSpec {
    /// The event type of an event trigger.
    pub fn event_type(&self) -> Option<&str> {
        match &self.trigger {
            Trigger::Event(e) => Some(&e.event),
            _ => None,
        }
    }

    /// Every step, nested branches included, in definition order.
    pub fn all_steps(&self) -> Vec<&StepDef> {
        fn walk<'a>(steps: &'a [StepDef], out: &mut Vec<&'a StepDef>) {
            for step in steps {
                out.push(step);
                for branch in step.branches.iter().flatten() {
                    walk(branch, out);
                }
                if let Some(body) = &step.steps {
                    walk(body, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.steps, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_by_the_multiplier_up_to_the_cap() {
        let policy = RetryPolicy { max_attempts: 5, backoff_ms: 100, multiplier: 3.0, max_backoff_ms: 1_000 };
        assert_eq!([2, 3, 4, 5].map(|n| policy.backoff(n)), [100, 300, 900, 1_000]);
    }

    #[test]
    fn triggers_read_the_seed_format() {
        let t: Trigger =
            serde_json::from_str(r#"{ "type": "event", "config": { "event": "contact.created" } }"#).unwrap();
        assert_eq!(t, Trigger::Event(EventTrigger { event: "contact.created".into() }));
        let m: Trigger = serde_json::from_str(r#"{ "type": "manual" }"#).unwrap();
        assert_eq!(m, Trigger::Manual(Value::Null));
    }

    /// Found by the fuzzer: a number JSON cannot hold exactly came back one
    /// bit off after a save and a load, until serde_json parsed floats exactly.
    #[test]
    fn a_large_number_in_a_config_survives_a_round_trip() {
        let text = r#"{"name":"w","trigger":{"type":"manual"},"steps":[{"id":"a","type":"condition",
            "config":{"if":"{{ event.x }}","then":"b","elsd":115555555555555555555555550}}]}"#;
        let spec: WorkflowSpec = serde_json::from_str(text).expect("parses");
        let again: WorkflowSpec =
            serde_json::from_str(&serde_json::to_string(&spec).expect("serializes")).expect("parses");
        assert_eq!(spec, again);
    }
}
