//! `GET /api/step-types`: every step type a workflow may use, the engine's
//! own (`parallel`) and each installed plugin's (its newest version, with
//! all versions listed), with description and config schema, so an editor's
//! palette shows types added later by itself.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use crate::engine::definition::PARALLEL;
use crate::engine::validate::TARGET_KEYWORD;

/// Routes of this resource.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

/// A step type.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepType {
    /// What a step's `type` names.
    #[serde(rename = "type")]
    step_type: String,
    /// `engine` (handled by the engine itself) or `plugin`.
    kind: String,
    /// With a plugin: shipped with the host.
    #[serde(skip_serializing_if = "Option::is_none")]
    builtin: Option<bool>,
    /// With a plugin: its newest version.
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    /// With a plugin: every loaded version, oldest first.
    versions: Vec<String>,
    description: String,
    /// JSON Schema of a step's config; null for an engine type.
    #[schema(value_type = Option<Object>)]
    config_schema: Value,
    /// Config properties that name a step (`"x-weft-target": true`).
    targets: Vec<String>,
}

/// Every step type.
#[derive(Serialize, ToSchema)]
pub struct StepTypes {
    data: Vec<StepType>,
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

#[utoipa::path(get, path = "/api/step-types", tag = "workflows", summary = "Every step type a workflow may use",
    responses((status = 200, body = StepTypes)))]
async fn list(State(state): State<AppState>) -> Json<StepTypes> {
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
    let mut data = vec![StepType {
        step_type: PARALLEL.to_owned(),
        kind: "engine".to_owned(),
        builtin: None,
        version: None,
        versions: Vec::new(),
        description: "Runs branches of steps at the same time and goes on when all have ended".to_owned(),
        config_schema: Value::Null,
        targets: Vec::new(),
    }];
    for step_type in [
        weft_core::flow::FOR_EACH,
        weft_core::flow::WAIT_FOR_EVENT,
        weft_core::flow::APPROVAL,
        weft_core::flow::CALL_WORKFLOW,
    ] {
        let schema = weft_core::flow::config_schema(step_type).unwrap_or(Value::Null);
        data.push(StepType {
            step_type: step_type.to_owned(),
            kind: "engine".to_owned(),
            builtin: None,
            version: None,
            versions: Vec::new(),
            description: weft_core::flow::description(step_type).to_owned(),
            targets: targets(&schema),
            config_schema: schema,
        });
    }
    for (name, mut versions) in by_name {
        let Some(plugin) = newest.get(&name) else { continue };
        versions.sort();
        let info = plugin.info();
        data.push(StepType {
            builtin: Some(registry.is_builtin(&name)),
            step_type: name,
            kind: "plugin".to_owned(),
            version: Some(info.version.clone()),
            versions: versions.iter().map(ToString::to_string).collect(),
            description: info.description.clone(),
            config_schema: info.config_schema.clone(),
            targets: targets(&info.config_schema),
        });
    }
    Json(StepTypes { data })
}
