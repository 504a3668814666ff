//! A template-rendering step with a regex filter: a plugin of realistic size
//! (about 2 MB) for the install benchmark.

use weft_sdk::prelude::*;

/// A template and a pattern.
#[derive(Deserialize, JsonSchema)]
pub struct Config {
    /// minijinja template, rendered with the run context.
    template: String,
    /// Optional regex whose matches in the output are counted.
    pattern: Option<String>,
}

struct Render;

impl Step for Render {
    type Config = Config;

    fn info() -> Info {
        Info::new("render", "0.1.0").description("Renders a template and counts regex matches")
    }

    fn run(input: Input<Config>, _host: &dyn Host) -> Result<Outcome, StepError> {
        let env = minijinja::Environment::new();
        let text = env
            .render_str(&input.config.template, &input.context)
            .map_err(|e| StepError::fatal(format!("config field `template`: {e}")))?;
        let matches = match input.config.pattern {
            Some(p) => regex::Regex::new(&p)
                .map_err(|e| StepError::fatal(format!("config field `pattern`: {e}")))?
                .find_iter(&text)
                .count(),
            None => 0,
        };
        Ok(Outcome::done(json!({ "text": text, "matches": matches })))
    }
}

weft_sdk::export_step!(Render);
