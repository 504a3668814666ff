//! Secrets as handles. `{{ secrets.NAME }}` in a step config renders to an
//! opaque handle minted for that one attempt; a plugin only ever holds the
//! handle. A host capability that takes the handle (an HTTP header or body, a
//! signing key) swaps the value in at the last moment, toward the secret's
//! allowed hosts only, and every value revealed in the attempt is redacted
//! from what comes back and from what the attempt leaves behind.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use serde_json::Value;

/// A boxed future, as the object-safe backend traits return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Every handle starts with this.
pub const HANDLE_PREFIX: &str = "weft-secret-";
/// Hex digits of a handle's random part.
const NONCE_HEX: usize = 32;

/// A secret's value and where it may be sent, as the host reads it.
#[derive(Clone)]
pub struct Revealed {
    /// The value.
    pub value: String,
    /// Host names an HTTP request carrying it may go to (`*.example.com`
    /// matches subdomains).
    pub allowed_hosts: Vec<String>,
}

impl fmt::Debug for Revealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Revealed").field("value", &"***").field("allowed_hosts", &self.allowed_hosts).finish()
    }
}

impl Revealed {
    /// Whether a request to `host` may carry this secret.
    pub fn allows_host(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        self.allowed_hosts.iter().any(|allowed| match allowed.strip_prefix("*.") {
            Some(domain) => host.len() > domain.len() + 1 && host.ends_with(&format!(".{domain}")),
            None => *allowed == host,
        })
    }
}

/// Where the host reads secrets from.
pub trait SecretsBackend: Send + Sync {
    /// The value of `name`, or why it cannot be had (never the value).
    fn reveal<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Revealed, String>>;
    /// Which of `names` are not set.
    fn missing<'a>(&'a self, names: &'a [String]) -> BoxFuture<'a, Result<Vec<String>, String>>;
}

/// Whether `name` may name a secret: what a template can write after `secrets.`.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 64
}

#[derive(Debug)]
struct Entry {
    name: String,
    handle: String,
    revealed: Option<Revealed>,
}

/// The handles of one step attempt, and the values revealed through them.
#[derive(Default)]
pub struct SecretScope {
    entries: Mutex<Vec<Entry>>,
}

impl fmt::Debug for SecretScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretScope").field("names", &self.names()).finish()
    }
}

/// A handle found in some text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Byte range of the handle in the text.
    pub range: std::ops::Range<usize>,
    /// The secret it stands for.
    pub name: String,
}

impl SecretScope {
    /// A scope with no handles.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The handle of `name` in this attempt (the same one each time it is asked).
    pub fn handle_for(&self, name: &str) -> String {
        let mut entries = self.lock();
        if let Some(e) = entries.iter().find(|e| e.name == name) {
            return e.handle.clone();
        }
        let nonce: [u8; NONCE_HEX / 2] = rand::random();
        let handle = format!("{HANDLE_PREFIX}{name}-{}", hex::encode(nonce));
        entries.push(Entry { name: name.to_owned(), handle: handle.clone(), revealed: None });
        handle
    }

    /// The names a handle was minted for.
    pub fn names(&self) -> Vec<String> {
        self.lock().iter().map(|e| e.name.clone()).collect()
    }

    /// Whether no handle was minted.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Every handle in `text`. A handle-shaped string that this attempt did
    /// not mint (an old attempt's, another step's, a guess) is an error.
    pub fn find(&self, text: &str) -> Result<Vec<Found>, String> {
        let entries = self.lock();
        let mut found = Vec::new();
        let mut from = 0;
        while let Some(at) = text[from..].find(HANDLE_PREFIX) {
            let start = from + at;
            let rest = &text[start + HANDLE_PREFIX.len()..];
            let name_len =
                rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
            let tail = &rest[name_len..];
            // Bytes, not a str slice: the text is the plugin's, and byte
            // NONCE_HEX may fall inside a multi-byte character.
            let nonce_ok = tail.starts_with('-')
                && tail
                    .as_bytes()
                    .get(1..=NONCE_HEX)
                    .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit));
            if name_len == 0 || !nonce_ok {
                from = start + HANDLE_PREFIX.len();
                continue;
            }
            let end = start + HANDLE_PREFIX.len() + name_len + 1 + NONCE_HEX;
            let handle = &text[start..end];
            let Some(entry) = entries.iter().find(|e| e.handle == handle) else {
                return Err(format!(
                    "a handle of secret `{}` that is not valid in this step attempt (a handle works only \
                     in the attempt of the step whose config names the secret)",
                    &rest[..name_len]
                ));
            };
            found.push(Found { range: start..end, name: entry.name.clone() });
            from = end;
        }
        Ok(found)
    }

    /// Keeps `revealed` as the value of `name`, for redaction.
    pub fn remember(&self, name: &str, revealed: &Revealed) {
        if let Some(e) = self.lock().iter_mut().find(|e| e.name == name) {
            e.revealed = Some(revealed.clone());
        }
    }

    /// The value of `name` if this attempt revealed it already.
    pub fn revealed(&self, name: &str) -> Option<Revealed> {
        self.lock().iter().find(|e| e.name == name).and_then(|e| e.revealed.clone())
    }

    /// Each revealed value with the forms the host itself may have put it in
    /// (raw, escaped in a JSON string, percent-encoded in a form body), so an
    /// echo of any of them is caught.
    fn values(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for e in self.lock().iter() {
            let Some(r) = e.revealed.as_ref().filter(|r| !r.value.is_empty()) else { continue };
            for encoding in [BodyEncoding::Raw, BodyEncoding::Json, BodyEncoding::Form] {
                let form = encoding.encode(&r.value);
                if !out.iter().any(|(_, v)| *v == form) {
                    out.push((e.name.clone(), form));
                }
            }
        }
        // Longest first, so a form containing another is replaced whole.
        out.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
        out
    }

    /// Whether this attempt revealed any value (then everything that comes
    /// back to the plugin is redacted, whichever request it answers).
    pub fn any_revealed(&self) -> bool {
        self.lock().iter().any(|e| e.revealed.is_some())
    }

    /// The name of a secret whose revealed value is in `bytes` in one of the
    /// forms [`SecretScope::redact`] knows: a plugin that learned a value
    /// must not send it where its handle could not go.
    pub fn revealed_in(&self, bytes: &[u8]) -> Option<String> {
        self.values()
            .into_iter()
            .find(|(_, v)| bytes.windows(v.len()).any(|w| w == v.as_bytes()))
            .map(|(name, _)| name)
    }

    /// `bytes`, cut short by a size cap, with a trailing start of a revealed
    /// value replaced too: redaction after a cut must not leave a prefix.
    pub fn redact_cut_tail(&self, bytes: Vec<u8>) -> Vec<u8> {
        let mut out = self.redact_bytes(bytes);
        for (name, value) in self.values() {
            let value = value.as_bytes();
            let from = out.len().saturating_sub(value.len().saturating_sub(1));
            if let Some(i) = (from..out.len()).find(|&i| value.starts_with(&out[i..])) {
                out.truncate(i);
                out.extend_from_slice(format!("[secret {name}]").as_bytes());
            }
        }
        out
    }

    /// `text` with every value revealed in this attempt replaced by `[secret NAME]`.
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut out = Cow::Borrowed(text);
        for (name, value) in self.values() {
            if out.contains(value.as_str()) {
                out = Cow::Owned(out.replace(value.as_str(), &format!("[secret {name}]")));
            }
        }
        out
    }

    /// `bytes` with every revealed value replaced, as [`SecretScope::redact`].
    pub fn redact_bytes(&self, bytes: Vec<u8>) -> Vec<u8> {
        let mut out = bytes;
        for (name, value) in self.values() {
            out = replace_bytes(&out, value.as_bytes(), format!("[secret {name}]").as_bytes());
        }
        out
    }

    /// Redacts every string in `value`, keys included.
    pub fn redact_json(&self, value: &mut Value) {
        if self.values().is_empty() {
            return;
        }
        redact_value(self, value);
    }
}

fn redact_value(scope: &SecretScope, value: &mut Value) {
    match value {
        Value::String(s) => {
            if let Cow::Owned(r) = scope.redact(s) {
                *s = r;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact_value(scope, v)),
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (k, mut v) in entries {
                redact_value(scope, &mut v);
                map.insert(scope.redact(&k).into_owned(), v);
            }
        }
        _ => {}
    }
}

fn replace_bytes(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return haystack.to_vec();
    }
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

/// How a value goes into a body of a given content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyEncoding {
    /// Inside a JSON string: escaped as JSON.
    Json,
    /// In an `application/x-www-form-urlencoded` body: percent-encoded.
    Form,
    /// As it is.
    Raw,
}

impl BodyEncoding {
    /// The encoding for a `Content-Type` header value.
    pub fn of(content_type: Option<&str>) -> Self {
        let Some(ct) = content_type else { return BodyEncoding::Raw };
        let essence = ct.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        if essence == "application/json" || essence.ends_with("+json") {
            BodyEncoding::Json
        } else if essence == "application/x-www-form-urlencoded" {
            BodyEncoding::Form
        } else {
            BodyEncoding::Raw
        }
    }

    /// `value` encoded.
    pub fn encode(self, value: &str) -> String {
        match self {
            BodyEncoding::Json => {
                let quoted = Value::String(value.to_owned()).to_string();
                quoted[1..quoted.len() - 1].to_owned()
            }
            BodyEncoding::Form => form_urlencoded::byte_serialize(value.as_bytes()).collect(),
            BodyEncoding::Raw => value.to_owned(),
        }
    }
}

/// `text` with each found handle replaced by `value_of(name)`, encoded.
pub fn substitute(text: &str, found: &[Found], value_of: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for f in found {
        out.push_str(&text[last..f.range.start]);
        out.push_str(&value_of(&f.name));
        last = f.range.end;
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revealed(value: &str, hosts: &[&str]) -> Revealed {
        Revealed { value: value.into(), allowed_hosts: hosts.iter().map(|h| h.to_string()).collect() }
    }

    #[test]
    fn a_handle_is_found_only_in_the_scope_that_minted_it() {
        let scope = SecretScope::new();
        let handle = scope.handle_for("API_KEY");
        assert_eq!(scope.handle_for("API_KEY"), handle);
        let text = format!("Bearer {handle}");
        let found = scope.find(&text).unwrap();
        assert_eq!(found, vec![Found { range: 7..text.len(), name: "API_KEY".into() }]);
        let other = SecretScope::new();
        let e = other.find(&text).unwrap_err();
        assert!(e.contains("secret `API_KEY`") && e.contains("not valid in this step attempt"), "{e}");
        // Handle-shaped but cut short: not a handle, left as it is.
        assert_eq!(other.find("weft-secret-X-12ab").unwrap(), vec![]);
    }

    #[test]
    fn substitution_encodes_for_the_body_and_redaction_hides_the_value() {
        let scope = SecretScope::new();
        let handle = scope.handle_for("TOKEN");
        let body = format!(r#"{{"token":"{handle}"}}"#);
        let found = scope.find(&body).unwrap();
        let value = "p\"w&d";
        let json = substitute(&body, &found, |_| BodyEncoding::Json.encode(value));
        assert_eq!(serde_json::from_str::<Value>(&json).unwrap()["token"], value);
        assert_eq!(BodyEncoding::Form.encode(value), "p%22w%26d");
        scope.remember("TOKEN", &revealed(value, &[]));
        assert_eq!(scope.redact("echo: p\"w&d!"), "echo: [secret TOKEN]!");
        assert_eq!(scope.redact_bytes(b"xp\"w&dx".to_vec()), b"x[secret TOKEN]x".to_vec());
        let mut v = serde_json::json!({ "p\"w&d": ["p\"w&d"] });
        scope.redact_json(&mut v);
        assert_eq!(v, serde_json::json!({ "[secret TOKEN]": ["[secret TOKEN]"] }));
    }

    #[test]
    fn encoded_echoes_and_cut_prefixes_are_redacted_and_odd_text_is_no_handle() {
        let scope = SecretScope::new();
        scope.handle_for("TOKEN");
        scope.remember("TOKEN", &revealed("p\"w&d", &[]));
        assert!(scope.any_revealed());
        assert_eq!(
            scope.redact(r#"json: p\"w&d form: p%22w%26d"#),
            "json: [secret TOKEN] form: [secret TOKEN]"
        );
        assert_eq!(scope.revealed_in(b"x=p%22w%26d").as_deref(), Some("TOKEN"));
        assert_eq!(scope.revealed_in(b"nothing here"), None);
        assert_eq!(scope.redact_cut_tail(b"body ends p\"w".to_vec()), b"body ends [secret TOKEN]".to_vec());
        assert_eq!(scope.redact_cut_tail(b"body ends x".to_vec()), b"body ends x".to_vec());
        // Handle-shaped text with a multi-byte character where the nonce
        // should be is no handle, and no panic.
        let odd = format!("weft-secret-A-{}\u{e9}", "a".repeat(31));
        assert_eq!(scope.find(&odd).unwrap(), vec![]);
    }

    #[test]
    fn allowed_hosts_match_exactly_or_by_subdomain_wildcard() {
        let r = revealed("v", &["api.example.com", "*.hooks.example"]);
        assert!(r.allows_host("API.example.com"));
        assert!(r.allows_host("a.hooks.example"));
        assert!(!r.allows_host("hooks.example"));
        assert!(!r.allows_host("api.example.com.evil"));
        assert!(!r.allows_host("xhooks.example"));
    }

    #[test]
    fn names_are_template_identifiers() {
        assert!(valid_name("SMTP_PASSWORD") && valid_name("_x1"));
        assert!(!valid_name("") && !valid_name("1x") && !valid_name("a-b") && !valid_name(&"a".repeat(65)));
    }
}
