//! Weft: a self-hosted workflow automation host. Every step type is a
//! WebAssembly component run in a fresh sandbox per attempt ([`runtime`]); the
//! [`engine`] drives each run as a durable state machine over the [`store`];
//! the [`api`] serves it over HTTP; [`effects`] reach the outside world for the
//! plugins (HTTP, SMTP, notifications).

pub mod api;
pub mod cli;
pub mod effects;
pub mod engine;
pub mod metrics;
pub mod runtime;
pub mod store;
