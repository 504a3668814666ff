//! The parts of Weft that read what users write, with no runtime and no
//! database: workflow definitions and their validation, templates (metered,
//! with secrets as handles), cron schedules, and limits. Small on purpose, so
//! that fuzzing it builds quickly (`core/fuzz`).

pub mod cron;
pub mod definition;
pub mod flow;
pub mod limits;
pub mod secrets;
pub mod template;
pub mod validate;
