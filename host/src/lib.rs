//! Weft: a self-hosted workflow automation host. Every step type is a
//! WebAssembly component run in a fresh sandbox per attempt ([`runtime`]),
//! with durable storage in SQL ([`store`]).

pub mod runtime;
pub mod store;
