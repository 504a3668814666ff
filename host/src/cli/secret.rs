//! `weft secret`: set, list and remove secrets through the API (admin), and
//! make or rotate the key they are sealed under, on the database itself.

use std::io::Read as _;
use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::client::{Body, Client, ServerArgs, cell, table};
use crate::effects::vault::{self, KeySource, SecretKey};
use crate::store::{Durability, Store};

/// `weft secret ...`.
#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Set a secret. The value is read from standard input (never from the
    /// command line, which shells keep in their history).
    Set {
        /// Name, as templates write it: `{{ secrets.NAME }}`.
        name: String,
        /// A host an HTTP request carrying the value may go to; repeat for
        /// more (`*.example.com` for subdomains). None: no HTTP request gets it.
        #[arg(long = "allow-host")]
        allow_hosts: Vec<String>,
    },
    /// List secrets: names, allowed hosts and the workflows using them, never values.
    List,
    /// Remove a secret.
    Rm {
        /// Name.
        name: String,
    },
    /// Print a new random key for `WEFT_SECRET_KEY`.
    GenKey,
    /// Re-seal every secret of a database under a new key, in one
    /// transaction. Stop the hosts first; they start again only with the new key.
    RotateKey {
        /// Database URL.
        #[arg(long, env = "WEFT_DATABASE_URL", default_value = "sqlite://weft.db")]
        database_url: String,
        /// The current key, when it comes from the environment.
        #[arg(long, env = "WEFT_SECRET_KEY", hide_env_values = true)]
        secret_key: Option<String>,
        /// The current key file (default: `<database>.secret-key`).
        #[arg(long, env = "WEFT_SECRET_KEY_FILE")]
        secret_key_file: Option<PathBuf>,
        /// The new key (base64); a random one when absent.
        #[arg(long, env = "WEFT_NEW_SECRET_KEY", hide_env_values = true)]
        new_key: Option<String>,
    },
}

/// Runs a secret command.
pub async fn run(server: &ServerArgs, command: SecretCommand) -> anyhow::Result<()> {
    match command {
        SecretCommand::Set { name, allow_hosts } => {
            let mut value = String::new();
            std::io::stdin().read_to_string(&mut value).context("reading the value from standard input")?;
            let value = value.strip_suffix('\n').map(|v| v.strip_suffix('\r').unwrap_or(v)).unwrap_or(&value);
            let body = json!({ "value": value, "allowedHosts": allow_hosts });
            let client = Client::new(server)?;
            let set =
                client.send(Method::PUT, &format!("/api/secrets/{name}"), Some(Body::Json(body))).await?;
            let hosts = set["allowedHosts"].as_array().map(|h| h.len()).unwrap_or(0);
            println!("set secret {} ({hosts} allowed hosts)", cell(&set["name"], 64));
        }
        SecretCommand::List => {
            let page = Client::new(server)?.send(Method::GET, "/api/secrets", None).await?;
            let rows: Vec<Vec<String>> = page["data"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[])
                .iter()
                .map(|s: &Value| {
                    let hosts: Vec<&str> = s["allowedHosts"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .collect();
                    let used: Vec<&str> = s["usedBy"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|w| w["name"].as_str())
                        .collect();
                    vec![cell(&s["name"], 40), hosts.join(", "), cell(&s["updatedAt"], 24), used.join(", ")]
                })
                .collect();
            table(&["NAME", "ALLOWED HOSTS", "UPDATED", "USED BY"], &rows);
        }
        SecretCommand::Rm { name } => {
            Client::new(server)?.send(Method::DELETE, &format!("/api/secrets/{name}"), None).await?;
            println!("removed secret {name}");
        }
        SecretCommand::GenKey => println!("{}", SecretKey::generate().encode()),
        SecretCommand::RotateKey { database_url, secret_key, secret_key_file, new_key } => {
            let file = secret_key_file.or_else(|| vault::default_key_file(&database_url));
            if secret_key.is_none() && !file.as_ref().is_some_and(|f| f.exists()) {
                anyhow::bail!(
                    "no current key: set WEFT_SECRET_KEY or point --secret-key-file at the key file"
                );
            }
            let (old, source) = vault::load_key(secret_key.as_deref(), file.as_deref())?;
            let new = match new_key {
                Some(text) => {
                    SecretKey::parse(&text).map_err(|e| anyhow::anyhow!("WEFT_NEW_SECRET_KEY: {e}"))?
                }
                None => SecretKey::generate(),
            };
            let store = Store::open(&database_url, Durability::Full).await?;
            // The new key is on disk before the database moves to it, so a
            // crash in between loses nothing: the old file stays until the end.
            let staged = match &source {
                KeySource::File(path) => {
                    let staged = PathBuf::from(format!("{}.new", path.display()));
                    vault::write_key_file(&staged, &new, true)?;
                    Some((staged, path.clone()))
                }
                _ => None,
            };
            let moved = match vault::rotate(store.pool(), &old, &new).await {
                Ok(moved) => moved,
                Err(e) => {
                    if let Some((staged, _)) = &staged {
                        let _ = std::fs::remove_file(staged);
                    }
                    return Err(e);
                }
            };
            println!(
                "re-sealed {moved} secrets; key fingerprint {} -> {}",
                old.fingerprint(),
                new.fingerprint()
            );
            match staged {
                Some((staged, path)) => {
                    std::fs::rename(&staged, &path).with_context(|| {
                        format!(
                            "the database uses the new key, which is in {}; move it to {}",
                            staged.display(),
                            path.display()
                        )
                    })?;
                    println!("the new key is in {}", path.display());
                }
                None => {
                    println!("set WEFT_SECRET_KEY to the new key on every host:\n\n    {}\n", new.encode())
                }
            }
        }
    }
    Ok(())
}
