//! `/api/plugins`: install a component into the running host, list, delete.
//!
//! `POST /api/plugins` takes the component as the body (`application/wasm`),
//! with grants and limits as query parameters:
//! `?grant=kv&grant=http:api.example.com&fuel=5000000000&memoryBytes=67108864`;
//! or as `multipart/form-data` with a `component` part and an optional JSON
//! `settings` part: `{ "grants": ["kv"], "limits": { "fuel": 5000000000 } }`.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use crate::engine::plugins::{self as installs, InstallError};
use crate::runtime::{LimitOverrides, LoadError, Plugin};
use crate::store::ids::iso;
use crate::store::plugins;

/// Largest component accepted: componentized interpreters (CPython) are ~20 MB.
pub const COMPONENT_LIMIT: usize = 64 << 20;

/// Routes of this resource.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, install))
        .routes(routes!(versions))
        .routes(routes!(uninstall))
        .layer(axum::extract::DefaultBodyLimit::max(COMPONENT_LIMIT))
}

/// A loaded plugin version.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginView {
    /// Its step type.
    name: String,
    /// Semantic version.
    version: String,
    description: String,
    /// JSON Schema of a step's config.
    #[schema(value_type = Object)]
    config_schema: Value,
    /// What it imports: `kv`, `http`, `email`, `notify`, `secrets`, ...
    capabilities: Vec<String>,
    /// What the installer granted, e.g. `http:api.example.com`.
    grants: Vec<String>,
    /// Limits set at install (a step may only lower them).
    limits: LimitOverrides,
    /// Of the component.
    sha256: String,
    /// Of the component, bytes.
    size: usize,
    /// Shipped with the host.
    builtin: bool,
    /// `quick` until the optimised compile is in (tiered hosts), then `optimized`.
    code: String,
    /// RFC 3339; null for a built-in.
    installed_at: Option<String>,
}

/// Every loaded plugin version.
#[derive(Serialize, ToSchema)]
pub struct PluginList {
    data: Vec<PluginView>,
}

/// The versions of one plugin.
#[derive(Serialize, ToSchema)]
pub struct PluginVersions {
    name: String,
    versions: Vec<PluginView>,
}

/// A component as the body: `application/wasm`.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct Component(#[allow(dead_code)] Vec<u8>);

/// A `multipart/form-data` install.
#[derive(ToSchema)]
pub struct InstallForm {
    /// The component.
    #[schema(value_type = String, format = Binary)]
    #[allow(dead_code)]
    component: Vec<u8>,
    /// JSON: `{ "grants": [...], "limits": {...} }`.
    #[schema(value_type = Option<String>)]
    #[allow(dead_code)]
    settings: Option<String>,
}

fn view(plugin: &Plugin, builtin: bool, installed_at: Option<i64>) -> PluginView {
    let info = plugin.info();
    PluginView {
        name: info.name.clone(),
        version: info.version.clone(),
        description: info.description.clone(),
        config_schema: info.config_schema.clone(),
        capabilities: info.capabilities.clone(),
        grants: plugin.grants().to_strings(),
        limits: *plugin.limits(),
        sha256: plugin.sha256().to_owned(),
        size: plugin.size(),
        builtin,
        code: plugin.code_tier().as_str().to_owned(),
        installed_at: installed_at.map(|t| iso(t as u64)),
    }
}

async fn views(state: &AppState, name: Option<&str>) -> Result<Vec<PluginView>, ApiError> {
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

#[utoipa::path(get, path = "/api/plugins", tag = "plugins", summary = "List loaded plugins, built-ins included",
    responses((status = 200, body = PluginList)))]
async fn list(State(state): State<AppState>) -> Result<Json<PluginList>, ApiError> {
    Ok(Json(PluginList { data: views(&state, None).await? }))
}

#[utoipa::path(get, path = "/api/plugins/{name}", tag = "plugins", summary = "The loaded versions of a plugin",
    params(("name" = String, Path)), responses((status = 200, body = PluginVersions)))]
async fn versions(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<PluginVersions>, ApiError> {
    let found = views(&state, Some(&name)).await?;
    if found.is_empty() {
        return Err(ApiError::not_found("plugin", &name));
    }
    Ok(Json(PluginVersions { name, versions: found }))
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

#[utoipa::path(post, path = "/api/plugins", tag = "plugins", summary = "Install a plugin into the running host",
    description = "The component is compiled in a child process under limits, checked against the contract, and \
loaded by every host on the database without a restart. Grants and limits come as query parameters (with \
`application/wasm`) or as the `settings` part (with `multipart/form-data`), not both.",
    params(
        ("grant" = Option<Vec<String>>, Query, description = "A capability granted, e.g. `kv` or `http:api.example.com`; repeat for more"),
        ("fuel" = Option<u64>, Query, description = "Fuel per attempt"),
        ("memoryBytes" = Option<u64>, Query, description = "Memory per attempt, bytes"),
        ("timeMs" = Option<u64>, Query, description = "Wall time per attempt, ms"),
        ("outputBytes" = Option<u64>, Query, description = "Output size per attempt, bytes"),
    ),
    request_body(content((Component = "application/wasm"), (InstallForm = "multipart/form-data"))),
    responses(
        (status = 201, description = "Installed", body = PluginView),
        (status = 200, description = "The same component was installed already, with the same settings", body = PluginView),
        (status = 409, description = "A built-in's name, or this version with other code or settings", body = super::openapi::ErrorBody),
        (status = 429, description = "Too many compiles at once; retry after `Retry-After`", body = super::openapi::ErrorBody),
    ))]
async fn install(
    State(state): State<AppState>,
    Query(query): Query<Vec<(String, String)>>,
    request: Request,
) -> Result<(StatusCode, Json<PluginView>), ApiError> {
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

#[utoipa::path(delete, path = "/api/plugins/{name}/{version}", tag = "plugins", summary = "Remove a plugin version",
    params(("name" = String, Path), ("version" = String, Path)),
    responses((status = 204, description = "Removed"),
              (status = 409, description = "A built-in, or a version an ACTIVE workflow pins", body = super::openapi::ErrorBody)))]
async fn uninstall(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    installs::uninstall(&state.store, state.engine.runtime(), &name, &version)
        .await
        .map_err(install_error)?;
    Ok(StatusCode::NO_CONTENT)
}
