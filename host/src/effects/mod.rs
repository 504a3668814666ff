//! What plugins reach through the host: outbound HTTP ([`http`]), email
//! ([`email`]) and in-app notifications ([`notify`]), each behind a capability
//! of the runtime. Configured by `weft serve` flags and `WEFT_*` variables.

pub mod email;
pub mod http;
pub mod net;
pub mod notify;
pub mod signing;
pub mod vault;

pub use email::{Mailer, SmtpConfig, SmtpTls};
pub use http::{HttpClient, HttpConfig};
pub use net::AllowList;
pub use notify::Notifier;
pub use signing::SigningKey;
pub use vault::{SecretKey, Vault};

/// A password or secret: never printed, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}
