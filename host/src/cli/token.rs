//! `weft token`: create, list and revoke scoped API tokens (admin).

use anyhow::Context;
use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::client::{Body, Client, cell, table};

/// `weft token ...`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; it is printed once and only its hash is stored.
    Create {
        /// Who or what it is for.
        #[arg(long)]
        name: String,
        /// viewer, operator, editor or admin.
        #[arg(long)]
        role: String,
        /// When it stops working, RFC 3339 (e.g. 2027-01-31T00:00:00Z); never when absent.
        #[arg(long)]
        expires_at: Option<String>,
    },
    /// List tokens (never their values).
    List,
    /// Revoke a token by id: it stops working at once, on every host.
    Revoke {
        /// Token id.
        id: String,
    },
}

/// Runs a token command.
pub async fn run(client: &Client, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { name, role, expires_at } => {
            let mut body = json!({ "name": name, "role": role });
            if let Some(at) = expires_at {
                body["expiresAt"] = json!(at);
            }
            let created = client.send(Method::POST, "/api/tokens", Some(Body::Json(body))).await?;
            let token = created["token"].as_str().context("the host answered no token")?;
            println!(
                "{} ({}, role {}): shown once, only its hash is stored:\n\n    {token}\n",
                cell(&created["name"], 60),
                cell(&created["id"], 30),
                cell(&created["role"], 10)
            );
        }
        TokenCommand::List => {
            let page = client.send(Method::GET, "/api/tokens", None).await?;
            let rows: Vec<Vec<String>> = page["data"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[])
                .iter()
                .map(|t: &Value| {
                    vec![
                        cell(&t["id"], 30),
                        cell(&t["name"], 30),
                        cell(&t["role"], 10),
                        cell(&t["createdAt"], 24),
                        cell(&t["lastUsedAt"], 24),
                        cell(&t["expiresAt"], 24),
                    ]
                })
                .collect();
            table(&["ID", "NAME", "ROLE", "CREATED", "LAST USED", "EXPIRES"], &rows);
        }
        TokenCommand::Revoke { id } => {
            client.send(Method::DELETE, &format!("/api/tokens/{id}"), None).await?;
            println!("revoked {id}");
        }
    }
    Ok(())
}
