//! minijinja templates rendered into a step's config just before it runs. A
//! string that is exactly one `{{ expr }}` becomes the expression's typed JSON
//! value; any other string with template syntax renders to a string.
//!
//! Templates run in the host, so they are metered: each config string gets a
//! fuel budget (nested loops stop with a clear error instead of holding a
//! worker thread) and its rendered size is capped. `secrets.NAME` renders to
//! the attempt's handle of the secret, never its value.

use std::sync::Arc;

use minijinja::value::{Enumerator, Object};
use minijinja::{Environment, UndefinedBehavior};
use serde_json::Value;

use crate::secrets::{SecretScope, valid_name};
use crate::validate::is_template;

/// Fuel of one config string (minijinja instructions): ample for any real
/// config, a hard stop for a runaway loop.
pub const TEMPLATE_FUEL: u64 = 5_000_000;
/// Largest rendered config string, bytes.
pub const MAX_RENDERED_BYTES: usize = 1 << 20;

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
        env.set_fuel(Some(TEMPLATE_FUEL));
        Self { env }
    }
}

impl Templates {
    /// Renders every template string inside `config` against `context`, with
    /// `secrets.NAME` minting handles in `secrets`. The error names the field
    /// and the template.
    pub fn render<C: serde::Serialize>(
        &self,
        config: &Value,
        context: &C,
        secrets: Option<&Arc<SecretScope>>,
    ) -> Result<Value, String> {
        if !has_templates(config) {
            return Ok(config.clone());
        }
        let base = minijinja::Value::from_serialize(context);
        let ctx = match secrets {
            Some(scope) => minijinja::context! {
                secrets => minijinja::Value::from_object(Handles(scope.clone())),
                ..base
            },
            None => base,
        };
        self.render_value(config, &ctx, "")
    }

    fn render_value(&self, value: &Value, ctx: &minijinja::Value, path: &str) -> Result<Value, String> {
        Ok(match value {
            Value::String(s) if is_template(s) => {
                let rendered = self
                    .render_string(s, ctx)
                    .map_err(|e| format!("config field `{path}`: template {s:?} failed: {e}"))?;
                let size = match &rendered {
                    Value::String(text) => text.len(),
                    other => other.to_string().len(),
                };
                if size > MAX_RENDERED_BYTES {
                    return Err(format!(
                        "config field `{path}`: template {s:?} renders to {size} bytes, more than the \
                         {MAX_RENDERED_BYTES} a template may produce"
                    ));
                }
                rendered
            }
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
        let template = self.env.template_from_str(s).map_err(|e| e.to_string())?;
        render_capped(&template, ctx, MAX_RENDERED_BYTES).map(Value::String)
    }
}

/// Renders `template` with `ctx`, stopping as soon as its output passes
/// `max` bytes (the output is not built whole first and checked after).
pub fn render_capped<S: serde::Serialize>(
    template: &minijinja::Template<'_, '_>,
    ctx: S,
    max: usize,
) -> Result<String, String> {
    let mut out = Capped { bytes: Vec::new(), max };
    match template.render_captured_to(ctx, &mut out) {
        Ok(_) => String::from_utf8(out.bytes).map_err(|e| e.to_string()),
        Err(_) if out.bytes.len() >= max => {
            Err(format!("renders to more than the {max} bytes a template may produce"))
        }
        Err(e) => Err(e.to_string()),
    }
}

/// A buffer that refuses writes past its cap.
struct Capped {
    bytes: Vec<u8>,
    max: usize,
}

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + buf.len() > self.max {
            self.bytes.extend_from_slice(&buf[..self.max - self.bytes.len()]);
            return Err(std::io::Error::other("output cap"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `secrets` in a template: each name read mints (or repeats) the attempt's
/// handle. Not enumerable, so `{{ secrets }}` lists nothing.
#[derive(Debug)]
struct Handles(Arc<SecretScope>);

impl Object for Handles {
    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        let name = key.as_str().filter(|n| valid_name(n))?;
        Some(minijinja::Value::from(self.0.handle_for(name)))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::NonEnumerable
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
        Templates::default().render(&config, &context, None)
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
    fn a_secret_renders_to_the_attempts_handle_never_a_value() {
        let scope = SecretScope::new();
        let config = json!({ "headers": { "Authorization": "Bearer {{ secrets.API_KEY }}" }, "k": "{{ secrets.API_KEY }}" });
        let out = Templates::default().render(&config, &json!({}), Some(&scope)).unwrap();
        let handle = scope.handle_for("API_KEY");
        assert_eq!(out, json!({ "headers": { "Authorization": format!("Bearer {handle}") }, "k": handle }));
        assert_eq!(scope.names(), vec!["API_KEY".to_owned()]);
        // Without a scope there are no secrets to name.
        assert_eq!(render(json!({ "k": "{{ secrets.API_KEY }}" })), Ok(json!({ "k": null })));
    }

    #[test]
    fn a_runaway_template_runs_out_of_fuel_and_a_huge_one_is_refused() {
        let e = render(
            json!({ "x": "{% for a in range(10000) %}{% for b in range(10000) %}{% set c = b %}{% endfor %}{% endfor %}" }),
        )
        .unwrap_err();
        assert!(e.starts_with("config field `x`: template") && e.contains("fuel"), "{e}");
        let chunk = "x".repeat(1000);
        let e =
            render(json!({ "x": format!("{{% for a in range(2000) %}}{chunk}{{% endfor %}}") })).unwrap_err();
        assert!(e.contains("renders to more than the 1048576 bytes"), "{e}");
        // Cut off while it writes: a loop of 100 MB strings stops at the cap.
        let e = render(
            json!({ "x": "{% set a = 'x' * 50000000 %}{% for i in range(10000) %}{{ a }}{% endfor %}" }),
        )
        .unwrap_err();
        assert!(e.contains("renders to more than the 1048576 bytes"), "{e}");
    }

    #[test]
    fn a_huge_string_repetition_is_refused_before_it_is_built() {
        // Fuel counts instructions, not bytes: one `*` could allocate gigabytes.
        for template in ["{{ 'x' * 100000000000 }}", "{{ ('ab' * 500000000) | length }}"] {
            let error = render(json!({ "big": template })).unwrap_err();
            assert!(
                error.contains("config field `big`") && error.contains("too large"),
                "{template}: {error}"
            );
        }
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
