//! What plugins reach through the host: outbound HTTP ([`http`]), email
//! ([`email`]) and in-app notifications ([`notify`]), each behind a capability
//! of the runtime. Configured by `weft serve` flags and `WEFT_*` variables.

pub mod email;
pub mod http;
pub mod net;
pub mod notify;
pub mod signing;

pub use email::{Mailer, Secret, SmtpConfig, SmtpTls};
pub use http::{HttpClient, HttpConfig};
pub use net::AllowList;
pub use notify::Notifier;
pub use signing::SigningKey;
