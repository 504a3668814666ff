//! The `weft` command line.

pub mod bench;
pub mod client;
pub mod db;
pub mod plugin;
pub mod secret;
pub mod serve;
pub mod token;
pub mod workflow;
