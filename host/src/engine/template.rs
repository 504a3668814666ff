//! minijinja templates rendered into a step's config just before it runs. A
//! string that is exactly one `{{ expr }}` becomes the expression's typed JSON
//! value; any other string with template syntax renders to a string.

use minijinja::{Environment, UndefinedBehavior};
use serde_json::Value;

use super::validate::is_template;

/// The template engine, shared by every run.
pub struct Templates {
    env: Environment<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        let mut env = Environment::new();
        // `event.a.b` on a missing `a` is undefined, not an error, so that
        // `is defined` tests and `default()` filters work on optional data.
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        Self { env }
    }
}

impl Templates {
    /// Renders every template string inside `config` against `context`. The
    /// error names the field and the template.
    pub fn render<C: serde::Serialize>(&self, config: &Value, context: &C) -> Result<Value, String> {
        if !has_templates(config) {
            return Ok(config.clone());
        }
        let ctx = minijinja::Value::from_serialize(context);
        self.render_value(config, &ctx, "")
    }

    fn render_value(&self, value: &Value, ctx: &minijinja::Value, path: &str) -> Result<Value, String> {
        Ok(match value {
            Value::String(s) if is_template(s) => self
                .render_string(s, ctx)
                .map_err(|e| format!("config field `{path}`: template {s:?} failed: {e}"))?,
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| self.render_value(v, ctx, &join(path, &i.to_string())))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), self.render_value(v, ctx, &join(path, k))?)))
                    .collect::<Result<_, String>>()?,
            ),
            other => other.clone(),
        })
    }

    fn render_string(&self, s: &str, ctx: &minijinja::Value) -> Result<Value, String> {
        if let Some(expr) = lone_expression(s) {
            let compiled = self.env.compile_expression(expr).map_err(|e| e.to_string())?;
            let value = compiled.eval(ctx).map_err(|e| e.to_string())?;
            if value.is_undefined() || value.is_none() {
                return Ok(Value::Null);
            }
            return serde_json::to_value(&value).map_err(|e| e.to_string());
        }
        self.env.render_str(s, ctx).map(Value::String).map_err(|e| e.to_string())
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

/// The expression of a string that is exactly `{{ expr }}`.
fn lone_expression(s: &str) -> Option<&str> {
    let inner = s.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}") && !inner.contains("{%")).then_some(inner)
}

fn has_templates(value: &Value) -> bool {
    match value {
        Value::String(s) => is_template(s),
        Value::Array(items) => items.iter().any(has_templates),
        Value::Object(map) => map.values().any(has_templates),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(config: Value) -> Result<Value, String> {
        let context =
            json!({ "event": { "email": "a@b.example", "n": 3, "tags": ["x"] }, "steps": {}, "vars": {} });
        Templates::default().render(&config, &context)
    }

    #[test]
    fn a_lone_expression_keeps_its_type() {
        assert_eq!(
            render(
                json!({ "if": "{{ event.email is defined }}", "n": "{{ event.n + 1 }}", "tags": "{{ event.tags }}" })
            ),
            Ok(json!({ "if": true, "n": 4, "tags": ["x"] }))
        );
        assert_eq!(render(json!({ "v": "{{ event.missing.deeper }}" })), Ok(json!({ "v": null })));
    }

    #[test]
    fn mixed_text_renders_to_a_string() {
        assert_eq!(
            render(json!({ "title": "Hi {{ event.email }} ({{ event.n }})", "list": ["{{ event.n }}"] })),
            Ok(json!({ "title": "Hi a@b.example (3)", "list": [3] }))
        );
    }

    #[test]
    fn a_template_error_names_the_field_and_the_expression() {
        let e = render(json!({ "body": { "id": "{{ event.n | nosuchfilter }}" } })).unwrap_err();
        assert!(
            e.starts_with("config field `body.id`: template \"{{ event.n | nosuchfilter }}\" failed: "),
            "{e}"
        );
        assert!(e.contains("nosuchfilter"), "{e}");
    }
}
