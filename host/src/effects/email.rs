//! The `email` capability: templates stored in the database, rendered with
//! minijinja (the HTML body auto-escaped), and an SMTP relay on lettre.
//! A 4xx reply or an unreachable relay is retryable; a 5xx reply or a bad
//! address is not.

use std::time::Duration;

use crate::store::Pool;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use minijinja::{Environment, UndefinedBehavior};
use serde_json::Value;

use super::Secret;
use crate::runtime::capability::BoxFuture;
use crate::runtime::{EmailBackend, EmailError, EmailMessage, RenderedEmail};
use crate::store::email_templates::{self, TemplateRow};

/// How the connection to the relay is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SmtpTls {
    /// Plain text (a relay on the same machine or network).
    None,
    /// Upgrade with STARTTLS, required.
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
}

/// Settings of the SMTP relay.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// Relay host.
    pub host: String,
    /// Relay port; by default 25, 587 or 465 after `tls`.
    pub port: Option<u16>,
    /// Transport security.
    pub tls: SmtpTls,
    /// User name, when the relay wants a login.
    pub user: Option<String>,
    /// Password of `user`.
    pub password: Option<Secret>,
    /// Default sender.
    pub from: String,
    /// Time allowed per message.
    pub timeout: Duration,
}

/// Renders templates and sends mail.
pub struct Mailer {
    pool: Pool,
    env: Environment<'static>,
    smtp: Option<(AsyncSmtpTransport<Tokio1Executor>, Mailbox)>,
}

fn fatal(message: String) -> EmailError {
    EmailError { message, retryable: false }
}

/// The template engine of email templates: undefined values render empty, the
/// HTML body is auto-escaped (by its `.html` name).
pub fn template_env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    // A loop bomb in a template ends with an error instead of holding a
    // worker thread: real templates use a few thousand units.
    env.set_fuel(Some(TEMPLATE_FUEL));
    env
}

/// Most minijinja instructions one rendering of an email template may run.
pub const TEMPLATE_FUEL: u64 = 5_000_000;

/// Checks that each part of a template compiles; the error names the field.
pub fn check_template(subject: &str, text: Option<&str>, html: Option<&str>) -> Result<(), (String, String)> {
    let env = template_env();
    for (field, source) in [("subject", Some(subject)), ("text", text), ("html", html)] {
        if let Some(source) = source {
            env.template_from_named_str(part_name(field), source)
                .map_err(|e| (field.to_owned(), e.to_string()))?;
        }
    }
    Ok(())
}

fn part_name(field: &str) -> &'static str {
    match field {
        "html" => "body.html",
        "text" => "body.txt",
        _ => "subject.txt",
    }
}

/// Most bytes one rendered part of an email may have.
pub const MAX_PART_BYTES: usize = 1 << 20;

/// Renders the parts of `row` with `data` in `env`; the error names the part.
pub fn render(env: &Environment<'_>, row: &TemplateRow, data: &Value) -> Result<RenderedEmail, EmailError> {
    let render = |field: &str, source: &str| {
        let fail = |e: String| fatal(format!("email template `{}`, {field}: {e}", row.slug));
        let template =
            env.template_from_named_str(part_name(field), source).map_err(|e| fail(e.to_string()))?;
        weft_core::template::render_capped(&template, data, MAX_PART_BYTES).map_err(fail)
    };
    let subject = render("subject", &row.subject)?;
    // A subject is one line, whatever the data held.
    let subject = subject.split(['\r', '\n']).map(str::trim).collect::<Vec<_>>().join(" ");
    Ok(RenderedEmail {
        subject,
        text: row.text.as_deref().map(|t| render("text", t)).transpose()?,
        html: row.html.as_deref().map(|h| render("html", h)).transpose()?,
    })
}

impl Mailer {
    /// A mailer on the template store, sending through `smtp` when configured.
    pub fn new(pool: Pool, smtp: Option<SmtpConfig>) -> anyhow::Result<Self> {
        let smtp = match smtp {
            None => None,
            Some(config) => {
                let from: Mailbox = config.from.parse().map_err(|e| {
                    anyhow::anyhow!("WEFT_SMTP_FROM `{}` is not an address: {e}", config.from)
                })?;
                let params = || TlsParameters::new(config.host.clone());
                let (tls, port) = match config.tls {
                    SmtpTls::None => (Tls::None, 25),
                    SmtpTls::Starttls => (Tls::Required(params()?), 587),
                    SmtpTls::Tls => (Tls::Wrapper(params()?), 465),
                };
                let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
                    .port(config.port.unwrap_or(port))
                    .tls(tls)
                    .timeout(Some(config.timeout));
                if let Some(user) = config.user {
                    let password = config.password.map(|p| p.0).unwrap_or_default();
                    builder = builder.credentials(Credentials::new(user, password));
                }
                Some((builder.build(), from))
            }
        };
        Ok(Self { pool, env: template_env(), smtp })
    }

    async fn render_template(&self, slug: &str, data: Value) -> Result<RenderedEmail, EmailError> {
        let row = email_templates::get(&self.pool, slug).await.map_err(|e| {
            tracing::error!("email templates: {e}");
            EmailError { message: "email template store unavailable".into(), retryable: true }
        })?;
        let row = row.ok_or_else(|| fatal(format!("email template `{slug}` does not exist")))?;
        self.render_row(&row, &data)
    }

    /// Renders the parts of `row` with `data`.
    pub fn render_row(&self, row: &TemplateRow, data: &Value) -> Result<RenderedEmail, EmailError> {
        render(&self.env, row, data)
    }

    async fn send_message(&self, msg: EmailMessage) -> Result<String, EmailError> {
        let Some((transport, default_from)) = &self.smtp else {
            return Err(fatal(
                "capability `email` is not configured on this host: set WEFT_SMTP_HOST".into(),
            ));
        };
        let parse = |field: &str, address: &str| {
            address
                .trim()
                .parse::<Mailbox>()
                .map_err(|e| fatal(format!("`{field}` address `{address}` is not valid: {e}")))
        };
        if msg.to.is_empty() {
            return Err(fatal("`to` needs at least one recipient".into()));
        }
        let from = match &msg.from {
            Some(from) => parse("from", from)?,
            None => default_from.clone(),
        };
        let mut builder = Message::builder().from(from).subject(msg.subject).message_id(None);
        for to in &msg.to {
            builder = builder.to(parse("to", to)?);
        }
        for cc in &msg.cc {
            builder = builder.cc(parse("cc", cc)?);
        }
        for bcc in &msg.bcc {
            builder = builder.bcc(parse("bcc", bcc)?);
        }
        if let Some(reply_to) = &msg.reply_to {
            builder = builder.reply_to(parse("reply-to", reply_to)?);
        }
        let email = match (msg.text, msg.html) {
            (Some(text), Some(html)) => builder.multipart(MultiPart::alternative_plain_html(text, html)),
            (None, Some(html)) => builder.header(ContentType::TEXT_HTML).body(html),
            (text, None) => builder.header(ContentType::TEXT_PLAIN).body(text.unwrap_or_default()),
        }
        .map_err(|e| fatal(format!("message cannot be built: {e}")))?;
        let id = email
            .headers()
            .get_raw("Message-ID")
            .map(|id| id.trim().trim_start_matches('<').trim_end_matches('>').to_owned())
            .unwrap_or_default();
        match transport.send(email).await {
            Ok(_) => Ok(id),
            Err(e) => Err(EmailError {
                message: format!("SMTP: {e}"),
                // 5xx is final; 4xx, refused connections and timeouts may pass.
                retryable: !e.is_permanent(),
            }),
        }
    }
}

impl EmailBackend for Mailer {
    fn render<'a>(&'a self, slug: &'a str, data: Value) -> BoxFuture<'a, Result<RenderedEmail, EmailError>> {
        Box::pin(self.render_template(slug, data))
    }

    fn send<'a>(&'a self, msg: EmailMessage) -> BoxFuture<'a, Result<String, EmailError>> {
        Box::pin(self.send_message(msg))
    }
}
