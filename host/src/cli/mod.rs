//! The `weft` command line.

pub mod serve;
