//! `GET /api/step-types`: every step type a workflow may use, the engine's
//! own (`parallel`) and each installed plugin's (its newest version, with
//! all versions listed), with description and config schema, so an editor's
//! palette shows types added later by itself.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::AppState;
use crate::engine::definition::PARALLEL;
use crate::engine::validate::TARGET_KEYWORD;

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/step-types", get(list))
}

/// Config properties that hold a step id (`"x-weft-target": true`), in
/// schema order: one outgoing edge each in an editor.
fn targets(schema: &Value) -> Vec<String> {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else { return Vec::new() };
    properties
        .iter()
        .filter(|(_, p)| p.get(TARGET_KEYWORD).and_then(Value::as_bool) == Some(true))
        .map(|(name, _)| name.clone())
        .collect()
}

async fn list(State(state): State<AppState>) -> Json<Value> {
    let registry = state.engine.runtime().registry();
    let mut by_name: BTreeMap<String, Vec<semver::Version>> = BTreeMap::new();
    let mut newest = BTreeMap::new();
    for plugin in registry.list() {
        let info = plugin.info();
        let Ok(version) = semver::Version::parse(&info.version) else { continue };
        let versions = by_name.entry(info.name.clone()).or_default();
        if versions.iter().all(|v| *v < version) {
            newest.insert(info.name.clone(), plugin.clone());
        }
        versions.push(version);
    }
    let mut data = vec![json!({
        "type": PARALLEL,
        "kind": "engine",
        "description": "Runs branches of steps at the same time and goes on when all have ended",
        "configSchema": null,
        "versions": [],
    })];
    for (name, mut versions) in by_name {
        let Some(plugin) = newest.get(&name) else { continue };
        versions.sort();
        let info = plugin.info();
        data.push(json!({
            "type": name,
            "kind": "plugin",
            "builtin": registry.is_builtin(&name),
            "version": info.version,
            "versions": versions.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "description": info.description,
            "configSchema": info.config_schema,
            "targets": targets(&info.config_schema),
        }));
    }
    Json(json!({ "data": data }))
}
