//! `email`: send an email through the host's SMTP relay, from a stored
//! template (`templateSlug` + `data`) or an inline subject and body.

use weft_sdk::prelude::*;
use weft_sdk::{EmailMessage, HostError};

/// One address, a comma-separated list, or a list of addresses.
#[derive(Deserialize, JsonSchema, Default)]
#[serde(untagged)]
pub enum Recipients {
    /// No recipient.
    #[default]
    None,
    /// One address or a comma-separated list.
    One(String),
    /// A list of addresses.
    Many(Vec<String>),
}

impl Recipients {
    fn into_vec(self) -> Vec<String> {
        let list = match self {
            Recipients::None => Vec::new(),
            Recipients::One(s) => s.split(',').map(str::to_owned).collect(),
            Recipients::Many(v) => v,
        };
        list.into_iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()
    }
}

/// Config of an email step. Give `templateSlug`, or `subject` and `text` or `html`.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// Slug of a stored email template.
    template_slug: Option<String>,
    /// Data for the template, visible at its top level.
    #[serde(default)]
    data: Option<Value>,
    /// Inline subject (without a template).
    subject: Option<String>,
    /// Inline plain-text body.
    text: Option<String>,
    /// Inline HTML body.
    html: Option<String>,
    /// Recipients.
    #[serde(default)]
    to: Recipients,
    /// Carbon-copy recipients.
    #[serde(default)]
    cc: Recipients,
    /// Blind carbon-copy recipients.
    #[serde(default)]
    bcc: Recipients,
    /// Reply-To address.
    reply_to: Option<String>,
    /// Sender; the host's default when absent.
    from: Option<String>,
}

struct Email;

impl Step for Email {
    type Config = Config;

    fn info() -> Info {
        Info::new("email", env!("CARGO_PKG_VERSION"))
            .description("Sends an email from a stored template or inline content")
            .capability("email")
    }

    fn run(input: Input<Config>, host: &dyn Host) -> Result<Outcome, StepError> {
        let config = input.config;
        let to = config.to.into_vec();
        if to.is_empty() {
            return Err(StepError::fatal("config field `to`: at least one recipient is required"));
        }
        let (subject, text, html) = match config.template_slug {
            Some(slug) => {
                let data = template_data(config.data, &input.context)?;
                let rendered = host.email_render(&slug, &data).map_err(step_error)?;
                (rendered.subject, rendered.text, rendered.html)
            }
            None => {
                let subject = config.subject.ok_or_else(|| {
                    StepError::fatal("config field `subject`: required without `templateSlug`")
                })?;
                if config.text.is_none() && config.html.is_none() {
                    return Err(StepError::fatal(
                        "config field `text`: `text` or `html` is required without `templateSlug`",
                    ));
                }
                (subject, config.text, config.html)
            }
        };
        let message = EmailMessage {
            from: config.from,
            to: to.clone(),
            cc: config.cc.into_vec(),
            bcc: config.bcc.into_vec(),
            reply_to: config.reply_to,
            subject: subject.clone(),
            text,
            html,
        };
        let id = host.email_send(&message).map_err(step_error)?;
        Ok(Outcome::done(json!({ "messageId": id, "to": to, "subject": subject })))
    }
}

/// The template sees `data` at the top level and `event`, `steps`, `vars` beside it.
fn template_data(data: Option<Value>, context: &Value) -> Result<Value, StepError> {
    let mut object = match data {
        None | Some(Value::Null) => weft_sdk::serde_json::Map::new(),
        Some(Value::Object(map)) => map,
        Some(other) => {
            return Err(StepError::fatal(format!("config field `data`: expected an object, got {other}")));
        }
    };
    for key in ["event", "steps", "vars"] {
        if let Some(value) = context.get(key) {
            object.entry(key).or_insert_with(|| value.clone());
        }
    }
    Ok(Value::Object(object))
}

fn step_error(e: HostError) -> StepError {
    StepError { message: format!("email: {}", e.message), retryable: e.retryable }
}

weft_sdk::export_step!(Email);
