//! The secrets store: values sealed with XChaCha20-Poly1305 under a key that
//! does not live in the database (`WEFT_SECRET_KEY`, or a key file beside the
//! database, mode 0600). The database keeps the key's fingerprint, so a host
//! started with another key refuses to start instead of failing later, secret
//! by secret. Values leave this module only toward a host capability.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::store::Pool;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::runtime::capability::BoxFuture;
use crate::runtime::{Revealed, SecretsBackend};
use crate::store::secrets::{self, SecretRow};

const NONCE_BYTES: usize = 24;

/// The key secrets are sealed under. Its `Debug` never shows it.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.fingerprint())
    }
}

impl SecretKey {
    /// A new random key.
    pub fn generate() -> Self {
        Self(rand::random())
    }

    /// Reads a key written by [`SecretKey::encode`]: 32 bytes in base64.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bytes =
            STANDARD.decode(text.trim()).map_err(|_| "a secret key must be 32 bytes in base64".to_owned())?;
        let key: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            format!("a secret key must be 32 bytes in base64, got {} bytes", b.len())
        })?;
        Ok(Self(key))
    }

    /// The key in base64.
    pub fn encode(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// A name for the key that does not reveal it: 16 hex digits of an HMAC.
    pub fn fingerprint(&self) -> String {
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&self.0) else { return String::new() };
        mac.update(b"weft secret key fingerprint v1");
        hex::encode(&mac.finalize().into_bytes()[..8])
    }

    /// A key for another purpose, derived from this one (HMAC-SHA256 of the purpose).
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&self.0) else { return [0; 32] };
        mac.update(b"weft derived key v1/");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&self.0).into())
    }

    /// Seals `value` for the secret `name` (the name is bound in as associated data).
    pub fn seal(&self, name: &str, value: &str) -> Result<Vec<u8>, String> {
        let nonce: [u8; NONCE_BYTES] = rand::random();
        let sealed = self
            .cipher()
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: value.as_bytes(), aad: name.as_bytes() })
            .map_err(|_| "sealing failed".to_owned())?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens what [`SecretKey::seal`] made for `name`.
    pub fn open(&self, name: &str, sealed: &[u8]) -> Result<String, String> {
        if sealed.len() < NONCE_BYTES {
            return Err(format!("secret `{name}` is stored damaged"));
        }
        let (nonce, body) = sealed.split_at(NONCE_BYTES);
        let plain = self
            .cipher()
            .decrypt(XNonce::from_slice(nonce), Payload { msg: body, aad: name.as_bytes() })
            .map_err(|_| {
                format!(
                    "secret `{name}` does not open under this host's key (was the key rotated while \
                     the host ran? restart it with the new key)"
                )
            })?;
        String::from_utf8(plain).map_err(|_| format!("secret `{name}` is not UTF-8 text"))
    }
}

/// Where the host's key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `WEFT_SECRET_KEY`.
    Env,
    /// A key file that was there.
    File(PathBuf),
    /// A key file made now, on first start.
    Created(PathBuf),
    /// No file to keep it in (an in-memory database): secrets last as long as the process.
    Ephemeral,
}

/// The default key file of a SQLite database URL: `<database>.secret-key`,
/// beside the database, never inside it. `None` for an in-memory database.
pub fn default_key_file(database_url: &str) -> Option<PathBuf> {
    if crate::store::is_postgres_url(database_url) {
        return None;
    }
    let path = database_url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or(path);
    if path.is_empty() || path.contains(":memory:") || path.starts_with("file::memory") {
        return None;
    }
    Some(PathBuf::from(format!("{path}.secret-key")))
}

/// The host's key: `env` (the value of `WEFT_SECRET_KEY`) when given, else
/// the key file, made with mode 0600 when it does not exist.
pub fn load_key(env: Option<&str>, key_file: Option<&Path>) -> anyhow::Result<(SecretKey, KeySource)> {
    if let Some(text) = env {
        let key = SecretKey::parse(text).map_err(|e| anyhow::anyhow!("WEFT_SECRET_KEY: {e}"))?;
        return Ok((key, KeySource::Env));
    }
    let Some(path) = key_file else { return Ok((SecretKey::generate(), KeySource::Ephemeral)) };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            check_mode(path)?;
            let key =
                SecretKey::parse(&text).map_err(|e| anyhow::anyhow!("key file {}: {e}", path.display()))?;
            Ok((key, KeySource::File(path.to_owned())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SecretKey::generate();
            write_key_file(path, &key, false)?;
            Ok((key, KeySource::Created(path.to_owned())))
        }
        Err(e) => Err(anyhow::anyhow!("key file {}: {e}", path.display())),
    }
}

/// Writes `key` to `path` with mode 0600; `replace` allows an existing file.
pub fn write_key_file(path: &Path, key: &SecretKey, replace: bool) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).mode(0o600);
    if replace {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(|e| anyhow::anyhow!("key file {}: {e}", path.display()))?;
    file.write_all(format!("{}\n", key.encode()).as_bytes())?;
    file.sync_all()?;
    Ok(())
}

fn check_mode(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)?.permissions().mode();
    if mode & 0o077 != 0 {
        anyhow::bail!(
            "key file {} can be read by other users (mode {:o}); run `chmod 600 {}`",
            path.display(),
            mode & 0o777,
            path.display()
        );
    }
    Ok(())
}

/// Why a secret could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// Another key now seals this database's secrets.
    #[error("the database's secret key was rotated since this host started; restart it with the new key")]
    KeyChanged,
    /// Sealing failed.
    #[error("{0}")]
    Seal(String),
    /// Storage failed.
    #[error("storage error: {0}")]
    Store(#[from] sqlx::Error),
}

/// The secrets of one database, opened with the host's key.
#[derive(Clone)]
pub struct Vault {
    pool: Pool,
    key: Arc<SecretKey>,
    fingerprint: String,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault").field("fingerprint", &self.fingerprint).finish()
    }
}

impl Vault {
    /// Opens the vault of `pool` with `key`; the first key a database sees is
    /// its key, and another one is refused here, at start.
    pub async fn open(pool: Pool, key: SecretKey) -> anyhow::Result<Self> {
        let fingerprint = key.fingerprint();
        let stored = secrets::claim_fingerprint(&pool, &fingerprint).await?;
        if stored != fingerprint {
            anyhow::bail!(
                "the secret key does not match this database: its secrets are sealed under the key with \
                 fingerprint {stored}, and this host's key has fingerprint {fingerprint}. Start it with the \
                 original key (WEFT_SECRET_KEY, or the key file beside the database); hosts sharing a \
                 database must share WEFT_SECRET_KEY"
            );
        }
        Ok(Self { pool, key: Arc::new(key), fingerprint })
    }

    /// A key for `purpose` derived from the host's secret key.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        self.key.derive(purpose)
    }

    /// The fingerprint of the key in use.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Sets `name` to `value`; returns the row as stored.
    pub async fn set(
        &self,
        name: &str,
        value: &str,
        allowed_hosts: &[String],
    ) -> Result<SecretRow, VaultError> {
        let now = crate::store::ids::now_ms() as i64;
        let row = SecretRow {
            name: name.to_owned(),
            sealed: self.key.seal(name, value).map_err(VaultError::Seal)?,
            allowed_hosts: serde_json::to_string(allowed_hosts).unwrap_or_else(|_| "[]".into()),
            created_at: now,
            updated_at: now,
        };
        if !secrets::put(&self.pool, &row, &self.fingerprint).await? {
            return Err(VaultError::KeyChanged);
        }
        Ok(secrets::get(&self.pool, name).await?.unwrap_or(row))
    }

    async fn reveal_name(&self, name: &str) -> Result<Revealed, String> {
        let row = secrets::get(&self.pool, name)
            .await
            .map_err(|e| format!("secret `{name}` could not be read: {e}"))?
            .ok_or_else(|| format!("secret `{name}` is not set on this host"))?;
        let value = self.key.open(name, &row.sealed)?;
        let allowed_hosts = serde_json::from_str(&row.allowed_hosts).unwrap_or_default();
        Ok(Revealed { value, allowed_hosts })
    }
}

impl SecretsBackend for Vault {
    fn reveal<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Revealed, String>> {
        Box::pin(self.reveal_name(name))
    }

    fn missing<'a>(&'a self, names: &'a [String]) -> BoxFuture<'a, Result<Vec<String>, String>> {
        Box::pin(async move {
            let stored =
                secrets::names(&self.pool).await.map_err(|e| format!("secrets could not be read: {e}"))?;
            Ok(names.iter().filter(|n| !stored.contains(n)).cloned().collect())
        })
    }
}

/// Re-seals every secret of `pool` from `old` to `new`, and moves the
/// fingerprint, in one transaction. Returns how many secrets moved.
pub async fn rotate(pool: &Pool, old: &SecretKey, new: &SecretKey) -> anyhow::Result<usize> {
    let stored = secrets::setting(pool, secrets::FINGERPRINT).await?;
    match stored {
        Some(fp) if fp != old.fingerprint() => anyhow::bail!(
            "the current key (fingerprint {}) is not this database's (fingerprint {fp})",
            old.fingerprint()
        ),
        _ => {}
    }
    secrets::claim_fingerprint(pool, &old.fingerprint()).await?;
    let moved = secrets::reseal_all(pool, &old.fingerprint(), &new.fingerprint(), |row| {
        let value = old.open(&row.name, &row.sealed)?;
        new.seal(&row.name, &value)
    })
    .await?;
    moved.ok_or_else(|| anyhow::anyhow!("the database's key changed while rotating; nothing was changed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_under_its_key_and_name() {
        let key = SecretKey::generate();
        let sealed = key.seal("API", "s3cret").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"s3cret"));
        assert_eq!(key.open("API", &sealed).unwrap(), "s3cret");
        assert!(key.open("OTHER", &sealed).unwrap_err().contains("does not open"));
        assert!(SecretKey::generate().open("API", &sealed).is_err());
        // Two seals of one value differ (random nonces).
        assert_ne!(key.seal("API", "s3cret").unwrap(), sealed);
    }

    #[test]
    fn keys_round_trip_and_fingerprints_differ() {
        let key = SecretKey::generate();
        let again = SecretKey::parse(&key.encode()).unwrap();
        assert_eq!(again.fingerprint(), key.fingerprint());
        assert_ne!(SecretKey::generate().fingerprint(), key.fingerprint());
        assert!(SecretKey::parse("c2hvcnQ=").unwrap_err().contains("got 5 bytes"));
        assert!(!format!("{key:?}").contains(&key.encode()));
    }

    #[test]
    fn the_key_file_sits_beside_the_database() {
        assert_eq!(default_key_file("sqlite://data/weft.db"), Some(PathBuf::from("data/weft.db.secret-key")));
        assert_eq!(default_key_file("sqlite:weft.db?mode=rwc"), Some(PathBuf::from("weft.db.secret-key")));
        assert_eq!(default_key_file("sqlite::memory:"), None);
        assert_eq!(default_key_file("postgres://weft@localhost/weft"), None);
    }
}
