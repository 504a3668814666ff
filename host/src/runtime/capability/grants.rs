//! Which host interfaces a plugin may call. Denied by default; `log` is always
//! granted. `http` may be limited to named hosts (`http:api.example.com`).

use std::collections::BTreeSet;
use std::fmt;

/// A host interface behind a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Capability {
    /// The plugin's key-value store.
    Kv,
    /// Outbound HTTP.
    Http,
    /// Email over SMTP.
    Email,
    /// In-app notifications.
    Notify,
    /// Signing outbound requests with the host's webhook secret. Apart from
    /// `http`, because a plugin that may sign with the host's key can make
    /// the host vouch for any bytes it sends.
    Sign,
}

impl Capability {
    /// The name used in grants and in `plugin-info.capabilities`.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Kv => "kv",
            Capability::Http => "http",
            Capability::Email => "email",
            Capability::Notify => "notify",
            Capability::Sign => "sign",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The capabilities granted to one plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    granted: BTreeSet<Capability>,
    /// When set, `http` may only reach these host names (lowercase).
    http_hosts: Option<BTreeSet<String>>,
}

impl Grants {
    /// No capability but `log`.
    pub fn none() -> Self {
        Self::default()
    }

    /// Parses grants such as `["kv", "http:api.example.com", "http:hooks.example.com"]`.
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<Self, String> {
        let mut grants = Grants::none();
        for item in items {
            let item = item.as_ref().trim();
            let (name, arg) = match item.split_once(':') {
                Some((name, arg)) => (name, Some(arg.trim())),
                None => (item, None),
            };
            let capability = match name {
                "kv" => Capability::Kv,
                "http" => Capability::Http,
                "email" => Capability::Email,
                "notify" => Capability::Notify,
                "sign" => Capability::Sign,
                "log" if arg.is_none() => continue,
                _ => {
                    return Err(format!(
                        "unknown capability `{item}` (known: log, kv, http, http:HOST, email, notify, sign)"
                    ));
                }
            };
            match (capability, arg) {
                (Capability::Http, Some(host)) if !host.is_empty() => {
                    grants.http_hosts.get_or_insert_with(BTreeSet::new).insert(host.to_ascii_lowercase());
                }
                (_, Some(_)) => return Err(format!("capability `{name}` takes no argument: `{item}`")),
                (_, None) => {}
            }
            grants.granted.insert(capability);
        }
        Ok(grants)
    }

    /// Whether `capability` is granted.
    pub fn allows(&self, capability: Capability) -> bool {
        self.granted.contains(&capability)
    }

    /// Ok when `capability` is granted; otherwise the error the plugin sees.
    pub fn check(&self, plugin: &str, capability: Capability) -> Result<(), String> {
        if self.allows(capability) {
            Ok(())
        } else {
            Err(format!("capability `{capability}` is not granted to plugin `{plugin}`"))
        }
    }

    /// Ok when `http` is granted for `host`.
    pub fn check_http_host(&self, plugin: &str, host: &str) -> Result<(), String> {
        self.check(plugin, Capability::Http)?;
        match &self.http_hosts {
            Some(hosts) if !hosts.contains(&host.to_ascii_lowercase()) => {
                Err(format!("capability `http` of plugin `{plugin}` does not include host `{host}`"))
            }
            _ => Ok(()),
        }
    }

    /// The grants as strings, in the form [`Grants::parse`] reads.
    pub fn to_strings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for capability in &self.granted {
            match (capability, &self.http_hosts) {
                (Capability::Http, Some(hosts)) => out.extend(hosts.iter().map(|h| format!("http:{h}"))),
                _ => out.push(capability.as_str().to_owned()),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_an_error_when_no_capability_is_granted() {
        let grants = Grants::none();
        assert_eq!(
            grants.check("resize@0.2.0", Capability::Kv),
            Err("capability `kv` is not granted to plugin `resize@0.2.0`".to_owned())
        );
    }

    #[test]
    fn limits_http_to_the_named_hosts() {
        let grants = Grants::parse(&["http:API.example.com"]).unwrap();
        assert_eq!(grants.check_http_host("p@1.0.0", "api.example.com"), Ok(()));
        assert_eq!(
            grants.check_http_host("p@1.0.0", "evil.example"),
            Err("capability `http` of plugin `p@1.0.0` does not include host `evil.example`".to_owned())
        );
        assert_eq!(grants.to_strings(), vec!["http:api.example.com".to_owned()]);
    }

    #[test]
    fn plain_http_allows_every_host_and_log_is_implicit() {
        let grants = Grants::parse(&["log", "http", "kv"]).unwrap();
        assert_eq!(grants.check_http_host("p@1.0.0", "anything.example"), Ok(()));
        assert!(grants.allows(Capability::Kv));
        assert!(!grants.allows(Capability::Email));
    }

    #[test]
    fn rejects_unknown_capabilities_by_name() {
        assert_eq!(
            Grants::parse(&["filesystem"]),
            Err("unknown capability `filesystem` (known: log, kv, http, http:HOST, email, notify, sign)"
                .to_owned())
        );
        assert_eq!(Grants::parse(&["kv:x"]), Err("capability `kv` takes no argument: `kv:x`".to_owned()));
    }
}
