//! # weft-sdk: write a Weft step plugin
//!
//! A step plugin is a WebAssembly component that implements the
//! `weft:plugin/step-plugin` world. This crate hides the component plumbing:
//! implement [`Step`] for a type, call [`export_step!`] once, and build the crate
//! for `wasm32-wasip2`.
//!
//! ```no_run
//! use weft_sdk::prelude::*;
//!
//! /// Config of the `greet` step, after the host rendered its templates.
//! #[derive(Deserialize, JsonSchema)]
//! struct Config {
//!     /// Who to greet.
//!     name: String,
//! }
//!
//! struct Greet;
//!
//! impl Step for Greet {
//!     type Config = Config;
//!
//!     fn info() -> Info {
//!         Info::new("greet", "0.1.0").description("Says hello")
//!     }
//!
//!     fn run(input: Input<Config>, host: &dyn Host) -> Result<Outcome, StepError> {
//!         host.log(Level::Info, &format!("greeting {}", input.config.name));
//!         Ok(Outcome::done(json!({ "greeting": format!("Hello, {}!", input.config.name) })))
//!     }
//! }
//!
//! weft_sdk::export_step!(Greet);
//! ```
//!
//! A plugin never opens sockets or files: it calls the host through [`Host`], which
//! checks each call against the capabilities the plugin was granted. The
//! [`testing`] module runs a step natively against a fake host.
#![deny(missing_docs)]

mod context;
mod error;
mod host;
mod info;
mod outcome;
mod step;
pub mod testing;
mod wit_host;

#[doc(hidden)]
pub mod bindings {
    //! Generated bindings of the `step-plugin` world; used by [`crate::export_step!`].
    #![allow(missing_docs)]
    wit_bindgen::generate!({
        path: "../wit",
        world: "weft:plugin/step-plugin@0.1.0",
        pub_export_macro: true,
        default_bindings_module: "weft_sdk::bindings",
    });
}

#[doc(hidden)]
pub mod __private;

pub use context::Input;
pub use error::{HostError, StepError};
pub use host::{
    EmailMessage, Host, HttpRequest, HttpResponse, Level, Notification, NotificationLevel, RenderedEmail,
    Signing,
};
pub use info::Info;
pub use outcome::Outcome;
pub use step::Step;

/// What most plugins need, in one import.
pub mod prelude {
    pub use crate::{
        EmailMessage, Host, HostError, HttpRequest, HttpResponse, Info, Input, Level, Notification,
        NotificationLevel, Outcome, Step, StepError,
    };
    pub use schemars::JsonSchema;
    pub use serde::{Deserialize, Serialize};
    pub use serde_json::{Value, json};
}

pub use schemars;
pub use serde;
pub use serde_json;
