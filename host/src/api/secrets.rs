//! `/api/secrets` (admin): set a secret (write-only), list them (names,
//! allowed hosts, times and the workflows that name them, never values),
//! remove one.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json as AxumJson;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::json::Json;
use crate::effects::vault::VaultError;
use crate::runtime::secrets::valid_name;
use crate::store::ids::iso;
use crate::store::secrets::{self, SecretRow};

/// Largest secret value, bytes.
const MAX_VALUE_BYTES: usize = 64 * 1024;
/// Most allowed hosts per secret.
const MAX_HOSTS: usize = 100;

/// Routes of this resource.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(set, remove))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SetBody {
    /// The value, 1 to 64 KiB; never shown again.
    value: String,
    /// Hosts an HTTP request carrying it may go to (`api.example.com`, `*.example.com`); none: no HTTP request gets it.
    #[serde(default)]
    allowed_hosts: Vec<String>,
}

/// A workflow that names a secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
struct UsedBy {
    id: String,
    name: String,
}

/// A secret, without its value.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct SecretView {
    name: String,
    allowed_hosts: Vec<String>,
    created_at: String,
    updated_at: String,
    /// The workflows (not archived) whose definitions name it.
    used_by: Vec<UsedBy>,
}

/// Every secret, without values.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct SecretList {
    data: Vec<SecretView>,
    /// Of the key that seals the values, to tell hosts' keys apart.
    key_fingerprint: String,
}

fn view(row: &SecretRow, used_by: Vec<UsedBy>) -> SecretView {
    SecretView {
        name: row.name.clone(),
        allowed_hosts: serde_json::from_str(&row.allowed_hosts).unwrap_or_default(),
        created_at: iso(row.created_at as u64),
        updated_at: iso(row.updated_at as u64),
        used_by,
    }
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if valid_name(name) {
        return Ok(());
    }
    Err(ApiError::field(
        "name",
        format!(
            "`{name}` is not a secret name: 1 to 64 letters, digits and `_`, not starting with a digit \
             (a template names it as `secrets.NAME`)"
        ),
    ))
}

/// A host name as `allowedHosts` takes it: a DNS name or an address, or
/// `*.` before a domain; lowercase, no scheme, port or path.
fn check_host(host: &str, index: usize) -> Result<String, ApiError> {
    let field = format!("allowedHosts[{index}]");
    let lower = host.trim().trim_end_matches('.').to_ascii_lowercase();
    let bare = lower.strip_prefix("*.").unwrap_or(&lower);
    let ok = !bare.is_empty()
        && bare.len() <= 253
        && (bare.parse::<std::net::IpAddr>().is_ok()
            || bare.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            }));
    if !ok {
        return Err(ApiError::field(
            &field,
            format!(
                "`{host}` is not a host name (e.g. `api.example.com` or `*.example.com`; no scheme, port or path)"
            ),
        ));
    }
    Ok(lower)
}

#[utoipa::path(put, path = "/api/secrets/{name}", tag = "secrets", summary = "Set a secret",
    params(("name" = String, Path, description = "Letters, digits and `_`, as templates name it: `secrets.NAME`")),
    request_body = SetBody,
    responses((status = 201, description = "Created", body = SecretView), (status = 200, description = "Replaced", body = SecretView),
              (status = 409, description = "The host's key changed", body = super::openapi::ErrorBody)))]
async fn set(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Json(body): Json<SetBody>,
) -> Result<(StatusCode, AxumJson<SecretView>), ApiError> {
    check_name(&name)?;
    if body.value.is_empty() || body.value.len() > MAX_VALUE_BYTES {
        return Err(ApiError::field(
            "value",
            format!("must be 1 to {MAX_VALUE_BYTES} bytes, got {}", body.value.len()),
        ));
    }
    if body.allowed_hosts.len() > MAX_HOSTS {
        return Err(ApiError::field("allowedHosts", format!("at most {MAX_HOSTS} hosts")));
    }
    let hosts: BTreeSet<String> =
        body.allowed_hosts.iter().enumerate().map(|(i, h)| check_host(h, i)).collect::<Result<_, _>>()?;
    let hosts: Vec<String> = hosts.into_iter().collect();
    let existed = secrets::get(state.store.pool(), &name).await?.is_some();
    let row = state.vault.set(&name, &body.value, &hosts).await.map_err(|e| match e {
        VaultError::KeyChanged => ApiError::conflict(e.to_string()),
        VaultError::Seal(e) => ApiError::internal(e),
        VaultError::Store(e) => ApiError::internal(e),
    })?;
    let used = usage(&state).await?;
    let shown = view(&row, used.get(&name).cloned().unwrap_or_default());
    let status = if existed { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, AxumJson(shown)))
}

#[utoipa::path(get, path = "/api/secrets", tag = "secrets", summary = "List secrets (never their values)",
    responses((status = 200, body = SecretList)))]
async fn list(State(state): State<AppState>) -> Result<AxumJson<SecretList>, ApiError> {
    let rows = secrets::list(state.store.pool()).await?;
    let used = usage(&state).await?;
    let data: Vec<SecretView> =
        rows.iter().map(|r| view(r, used.get(&r.name).cloned().unwrap_or_default())).collect();
    Ok(AxumJson(SecretList { data, key_fingerprint: state.vault.fingerprint().to_string() }))
}

#[utoipa::path(delete, path = "/api/secrets/{name}", tag = "secrets", summary = "Remove a secret",
    params(("name" = String, Path)),
    responses((status = 204, description = "Removed"),
              (status = 422, description = "Not a secret name", body = super::openapi::ErrorBody)))]
async fn remove(State(state): State<AppState>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    check_name(&name)?;
    if !secrets::delete(state.store.pool(), &name).await? {
        return Err(ApiError::not_found("secret", &name));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Which workflows (not archived) name each secret.
async fn usage(state: &AppState) -> Result<BTreeMap<String, Vec<UsedBy>>, ApiError> {
    let rows = crate::store::workflows::all_definitions(state.store.pool()).await?;
    let mut used: BTreeMap<String, Vec<UsedBy>> = BTreeMap::new();
    for (id, name, trigger, steps) in rows {
        let mut names = BTreeSet::new();
        secret_references(&trigger, &mut names);
        secret_references(&steps, &mut names);
        for secret in names {
            used.entry(secret).or_default().push(UsedBy { id: id.clone(), name: name.clone() });
        }
    }
    Ok(used)
}

/// The names after `secrets.` (or in `secrets["..."]`) in a definition's text.
pub fn secret_references(text: &str, out: &mut BTreeSet<String>) {
    let mut rest = text;
    while let Some(at) = rest.find("secrets") {
        let after = &rest[at + "secrets".len()..];
        let before_ok = at == 0 || !rest[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
        let name = if let Some(tail) = after.strip_prefix('.') {
            let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
            Some(&tail[..end])
        } else if let Some(tail) = after.strip_prefix("[\\\"").or_else(|| after.strip_prefix("['")) {
            tail.find(['\\', '\'']).map(|end| &tail[..end])
        } else {
            None
        };
        if let Some(name) = name.filter(|n| before_ok && valid_name(n)) {
            out.insert(name.to_owned());
        }
        rest = after;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_read_from_definition_text() {
        let mut names = BTreeSet::new();
        let text =
            r#"{"h":"Bearer {{ secrets.API_KEY }}","s":"{{ secrets[\"HOOK\"] }}","x":"mysecrets.NOPE"}"#;
        secret_references(text, &mut names);
        assert_eq!(names.into_iter().collect::<Vec<_>>(), vec!["API_KEY".to_owned(), "HOOK".to_owned()]);
    }

    #[test]
    fn hosts_are_plain_names_or_wildcards() {
        assert_eq!(check_host("API.example.com.", 0).unwrap(), "api.example.com");
        assert_eq!(check_host("*.example.com", 0).unwrap(), "*.example.com");
        assert_eq!(check_host("127.0.0.1", 0).unwrap(), "127.0.0.1");
        for bad in ["https://x.example", "x.example:443", "x.example/p", "", "*."] {
            assert!(check_host(bad, 2).is_err(), "{bad}");
        }
    }
}
