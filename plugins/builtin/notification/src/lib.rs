//! `notification`: create an in-app notification for the people using Weft.

use weft_sdk::prelude::*;

/// Importance of the notification.
#[derive(Deserialize, JsonSchema, Default, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Neutral news.
    #[default]
    Info,
    /// Something went well.
    Success,
    /// Needs attention.
    Warning,
    /// Something failed.
    Error,
}

/// Config of a notification step.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Short title.
    title: String,
    /// Longer text.
    body: Option<String>,
    /// Importance (default `info`).
    #[serde(default)]
    level: Level,
    /// A link to open.
    link: Option<String>,
    /// Extra JSON data.
    data: Option<Value>,
}

struct NotificationStep;

impl Step for NotificationStep {
    type Config = Config;

    fn info() -> Info {
        Info::new("notification", env!("CARGO_PKG_VERSION"))
            .description("Creates an in-app notification")
            .capability("notify")
    }

    fn run(input: Input<Config>, host: &dyn Host) -> Result<Outcome, StepError> {
        let c = input.config;
        if c.title.trim().is_empty() {
            return Err(StepError::fatal("config field `title`: must not be empty"));
        }
        let level = match c.level {
            Level::Info => NotificationLevel::Info,
            Level::Success => NotificationLevel::Success,
            Level::Warning => NotificationLevel::Warning,
            Level::Error => NotificationLevel::Error,
        };
        let id = host.notify(&Notification {
            title: c.title.clone(),
            body: c.body,
            level,
            link: c.link,
            data: c.data,
        })?;
        Ok(Outcome::done(json!({ "notificationId": id, "title": c.title })))
    }
}

weft_sdk::export_step!(NotificationStep);
