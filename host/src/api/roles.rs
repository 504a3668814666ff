//! Roles of API tokens, and the one table of which role each route needs.
//! A route missing from the table needs `admin`: a new route is closed
//! until someone decides who may use it.

use std::fmt;
use std::str::FromStr;

use axum::http::Method;
use serde::{Deserialize, Serialize};

/// What a token may do; each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything but secrets.
    Viewer,
    /// Viewer, and starts, cancels and retries runs, sends events.
    Operator,
    /// Operator, and writes workflows and email templates.
    Editor,
    /// Everything: plugins, tokens.
    Admin,
}

impl Role {
    /// Every role, weakest first.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Operator, Role::Editor, Role::Admin];

    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role `{s}` (expected viewer, operator, editor or admin)"))
    }
}

/// The role a route needs, by method and route pattern (as axum matched it).
pub fn required_role(method: &Method, route: &str) -> Role {
    use Role::*;
    let reads = matches!(*method, Method::GET | Method::HEAD);
    match (reads, route) {
        (true, "/api/tokens" | "/api/secrets" | "/api/audit") => Admin,
        (true, _) => Viewer,
        // A computation that stores nothing and costs little.
        (false, "/api/cron/preview") => Viewer,
        // Renders a template the caller writes: as much power as saving one.
        (false, "/api/email-templates/preview") => Editor,
        (false, "/api/workflows/{id}/trigger" | "/api/events") => Operator,
        (false, "/api/workflow-runs/{id}/cancel" | "/api/workflow-runs/{id}/retry") => Operator,
        (false, "/api/workflow-runs/bulk-cancel" | "/api/workflow-runs/bulk-retry") => Operator,
        (false, "/api/workflow-runs/{id}/approve" | "/api/workflow-runs/{id}/reject") => Operator,
        (false, "/api/notifications/{id}/read") => Operator,
        (false, "/api/workflows" | "/api/workflows/{id}") => Editor,
        (
            false,
            "/api/workflows/{id}/activate" | "/api/workflows/{id}/pause" | "/api/workflows/{id}/archive",
        ) => Editor,
        (false, "/api/email-templates" | "/api/email-templates/{slug}") => Editor,
        _ => Admin,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unlisted_write_needs_admin() {
        assert_eq!(required_role(&Method::POST, "/api/plugins"), Role::Admin);
        assert_eq!(required_role(&Method::DELETE, "/api/somewhere-new"), Role::Admin);
    }

    #[test]
    fn roles_are_ordered_and_parse_from_their_names() {
        assert!(Role::Viewer < Role::Operator && Role::Operator < Role::Editor && Role::Editor < Role::Admin);
        assert_eq!("editor".parse::<Role>(), Ok(Role::Editor));
        assert!("root".parse::<Role>().unwrap_err().contains("unknown role `root`"));
    }
}
