//! `/api/plugins`: install a component into the running host, list, delete.
//!
//! `POST /api/plugins` takes the component as the body (`application/wasm`),
//! with grants and limits as query parameters:
//! `?grant=kv&grant=http:api.example.com&fuel=5000000000&memoryBytes=67108864`;
//! or as `multipart/form-data` with a `component` part and an optional JSON
//! `settings` part: `{ "grants": ["kv"], "limits": { "fuel": 5000000000 } }`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use crate::engine::plugins::{self as installs, InstallError};
use crate::runtime::{LimitOverrides, LoadError, Plugin};
use crate::store::ids::iso;
use crate::store::plugins;

/// Largest component accepted: componentized interpreters (CPython) are ~20 MB.
pub const COMPONENT_LIMIT: usize = 64 << 20;

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/plugins", get(list).post(install))
        .route("/api/plugins/{name}", get(versions))
        .route("/api/plugins/{name}/{version}", delete(uninstall))
        .layer(axum::extract::DefaultBodyLimit::max(COMPONENT_LIMIT))
}

fn view(plugin: &Plugin, builtin: bool, installed_at: Option<i64>) -> Value {
    let info = plugin.info();
    json!({
        "name": info.name,
        "version": info.version,
        "description": info.description,
        "configSchema": info.config_schema,
        "capabilities": info.capabilities,
        "grants": plugin.grants().to_strings(),
        "limits": plugin.limits(),
        "sha256": plugin.sha256(),
        "size": plugin.size(),
        "builtin": builtin,
        "code": plugin.code_tier().as_str(),
        "installedAt": installed_at.map(|t| iso(t as u64)),
    })
}

async fn views(state: &AppState, name: Option<&str>) -> Result<Vec<Value>, ApiError> {
    let installed: HashMap<String, i64> = plugins::list(state.store.pool())
        .await?
        .into_iter()
        .map(|r| (format!("{}@{}", r.name, r.version), r.installed_at))
        .collect();
    let registry = state.engine.runtime().registry();
    Ok(registry
        .list()
        .iter()
        .filter(|p| name.is_none_or(|n| p.info().name == n))
        .map(|p| view(p, registry.is_builtin(&p.info().name), installed.get(p.id()).copied()))
        .collect())
}

async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "data": views(&state, None).await? })))
}

async fn versions(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    let found = views(&state, Some(&name)).await?;
    if found.is_empty() {
        return Err(ApiError::not_found("plugin", &name));
    }
    Ok(Json(json!({ "name": name, "versions": found })))
}

fn settings(query: &[(String, String)]) -> Result<(Vec<String>, LimitOverrides), ApiError> {
    let mut grants = Vec::new();
    let mut limits = LimitOverrides::default();
    for (key, value) in query {
        let number = || {
            value.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!(
                    "query parameter `{key}` must be a positive integer, got {value:?}"
                ))
            })
        };
        match key.as_str() {
            "grant" => grants.push(value.clone()),
            "fuel" => limits.fuel = Some(number()?),
            "memoryBytes" => limits.memory_bytes = Some(number()?),
            "timeMs" => limits.time_ms = Some(number()?),
            "outputBytes" => limits.output_bytes = Some(number()?),
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter `{other}` (known: grant, fuel, memoryBytes, timeMs, outputBytes)"
                )));
            }
        }
    }
    Ok((grants, limits))
}

/// The JSON `settings` part of a multipart install.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    #[serde(default)]
    grants: Vec<String>,
    #[serde(default)]
    limits: LimitOverrides,
}

/// The component and settings of a `multipart/form-data` install, read from
/// the request as it streams in (the body limit applies to the stream).
async fn read_multipart(form: &mut Multipart) -> Result<(Bytes, Option<Settings>), ApiError> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        body_error(e.status(), format!("multipart body: {}", e.body_text()))
    };
    let (mut component, mut settings) = (None, None);
    while let Some(mut field) = form.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "component" if component.is_none() => {
                let mut bytes = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(bad)? {
                    bytes.extend_from_slice(&chunk);
                }
                component = Some(Bytes::from(bytes));
            }
            "settings" if settings.is_none() => {
                let text = field.bytes().await.map_err(bad)?;
                let parsed: Settings =
                    super::json::parse(&text).map_err(|e| e.prefixed("part `settings`"))?;
                settings = Some(parsed);
            }
            "component" | "settings" => {
                return Err(ApiError::bad_request(format!("multipart body: part `{name}` appears twice")));
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "multipart body: unknown part `{other}` (known: component, settings)"
                )));
            }
        }
    }
    let component =
        component.ok_or_else(|| ApiError::bad_request("multipart body: part `component` is missing"))?;
    Ok((component, settings))
}

/// Reads what is left of a form, so that an early answer does not leave a
/// keep-alive client's upload unread (the server would drop the connection).
async fn drain(form: &mut Multipart) {
    while let Ok(Some(mut field)) = form.next_field().await {
        while let Ok(Some(_)) = field.chunk().await {}
    }
}

fn body_error(status: StatusCode, text: String) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::too_large(COMPONENT_LIMIT)
    } else {
        ApiError::bad_request(text)
    }
}

fn install_error(e: InstallError) -> ApiError {
    match e {
        InstallError::Load(LoadError::NotWasm) => {
            ApiError::bad_request(format!("plugin rejected: {}", LoadError::NotWasm))
        }
        InstallError::Load(LoadError::Internal(e)) => ApiError::internal(e),
        InstallError::Load(e) => ApiError::invalid(format!("plugin rejected: {e}")),
        InstallError::Settings(e) => ApiError::invalid(e),
        e @ (InstallError::Builtin(_)
        | InstallError::Conflict(..)
        | InstallError::SettingsDiffer(..)
        | InstallError::InUse(..)) => ApiError::conflict(e.to_string()),
        InstallError::NotFound(id) => ApiError::not_found("plugin", &id),
        e @ InstallError::Busy(_) => ApiError::too_many("busy", e.to_string(), 2),
        InstallError::Store(e) => ApiError::internal(e),
    }
}

async fn install(
    State(state): State<AppState>,
    Query(query): Query<Vec<(String, String)>>,
    request: Request,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let content_type =
        request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    // The body is read whole before anything else is answered: answering with
    // a body left unread makes the server drop a keep-alive connection.
    let from_query = settings(&query);
    let (bytes, from_form) = if content_type.starts_with("multipart/form-data") {
        let mut form = Multipart::from_request(request, &state)
            .await
            .map_err(|e| ApiError::bad_request(format!("multipart body: {}", e.body_text())))?;
        let read = read_multipart(&mut form).await;
        drain(&mut form).await;
        let (component, from_form) = read?;
        (component, from_form)
    } else if content_type.is_empty()
        || content_type.starts_with("application/wasm")
        || content_type.starts_with("application/octet-stream")
    {
        let bytes =
            Bytes::from_request(request, &state).await.map_err(|e| body_error(e.status(), e.body_text()))?;
        (bytes, None)
    } else {
        let _ = Bytes::from_request(request, &state).await;
        return Err(ApiError::bad_request(format!(
            "content-type `{content_type}`: send the component as application/wasm (settings as query \
             parameters) or as multipart/form-data (parts `component` and `settings`)"
        )));
    };
    let (mut grants, mut limits) = from_query?;
    if let Some(from_form) = from_form {
        if !query.is_empty() {
            return Err(ApiError::bad_request(
                "give grants and limits in the `settings` part or as query parameters, not both",
            ));
        }
        (grants, limits) = (from_form.grants, from_form.limits);
    }
    let runtime = state.engine.runtime();
    let (plugin, created) =
        installs::install(&state.store, runtime, &bytes, &grants, limits).await.map_err(install_error)?;
    let installed_at = plugins::get(state.store.pool(), &plugin.info().name, &plugin.info().version)
        .await?
        .map(|r| r.installed_at);
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(view(&plugin, false, installed_at))))
}

async fn uninstall(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    installs::uninstall(&state.store, state.engine.runtime(), &name, &version)
        .await
        .map_err(install_error)?;
    Ok(StatusCode::NO_CONTENT)
}
