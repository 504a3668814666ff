//! The `weft` command line.

pub mod bench;
pub mod serve;
