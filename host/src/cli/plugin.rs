//! `weft plugin`: scaffold, build, install and list step plugins.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use clap::Subcommand;
use reqwest::Method;

use super::client::{Body, Client, ServerArgs, cell, table};
use crate::runtime::{LimitOverrides, Runtime, RuntimeConfig};

/// `weft plugin ...`.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Create a plugin crate on `weft-sdk` that builds as is.
    New {
        /// Plugin name: lowercase letters, digits and `-`.
        name: String,
        /// Where to create it (default: ./NAME).
        #[arg(long)]
        path: Option<PathBuf>,
        /// Path of the weft-sdk crate (default: the one this binary was built with).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Build a plugin crate for wasm32-wasip2 and check it loads as a step plugin.
    Build {
        /// The crate (default: the current directory).
        path: Option<PathBuf>,
    },
    /// Install a component into a running host.
    Install {
        /// The `.wasm` component.
        file: PathBuf,
        /// Capabilities to grant (`kv`, `http`, `http:HOST`, `email`, `notify`); repeat for more.
        #[arg(long = "grant")]
        grants: Vec<String>,
        /// Fuel limit of each step.
        #[arg(long)]
        fuel: Option<u64>,
        /// Memory limit of each step, bytes.
        #[arg(long)]
        memory_bytes: Option<u64>,
        /// Wall-time limit of each step, ms.
        #[arg(long)]
        time_ms: Option<u64>,
    },
    /// List the plugins of a running host.
    List,
}

/// Runs a plugin command.
pub async fn run(command: PluginCommand, server: &ServerArgs) -> anyhow::Result<()> {
    match command {
        PluginCommand::New { name, path, sdk } => {
            let dir = path.unwrap_or_else(|| PathBuf::from(&name));
            let sdk = sdk.unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../sdk")));
            scaffold(&name, &dir, &sdk)?;
            println!(
                "created plugin `{name}` in {}\nnext: weft plugin build {}",
                dir.display(),
                dir.display()
            );
        }
        PluginCommand::Build { path } => {
            let dir = path.unwrap_or_else(|| PathBuf::from("."));
            let wasm = build(&dir)?;
            let bytes = std::fs::read(&wasm).with_context(|| format!("read {}", wasm.display()))?;
            let runtime = Runtime::new(RuntimeConfig::default())?;
            let plugin = runtime
                .load(&bytes, None, LimitOverrides::default())
                .await
                .map_err(|e| anyhow::anyhow!("{} is not a usable plugin: {e}", wasm.display()))?;
            let info = plugin.info();
            table(
                &["NAME", "VERSION", "CAPABILITIES", "SIZE", "COMPONENT"],
                &[vec![
                    info.name.clone(),
                    info.version.clone(),
                    info.capabilities.join(","),
                    format!("{} KB", bytes.len() / 1024),
                    wasm.display().to_string(),
                ]],
            );
        }
        PluginCommand::Install { file, grants, fuel, memory_bytes, time_ms } => {
            let client = Client::new(server)?;
            let bytes = std::fs::read(&file).with_context(|| format!("read {}", file.display()))?;
            let mut query: Vec<(String, String)> =
                grants.into_iter().map(|g| ("grant".to_owned(), g)).collect();
            for (key, value) in [("fuel", fuel), ("memoryBytes", memory_bytes), ("timeMs", time_ms)] {
                if let Some(v) = value {
                    query.push((key.to_owned(), v.to_string()));
                }
            }
            let query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
            let path = if query.is_empty() {
                "/api/plugins".to_owned()
            } else {
                format!("/api/plugins?{}", query.join("&"))
            };
            let plugin = client.send(Method::POST, &path, Some(Body::Wasm(bytes))).await?;
            print_plugins(&[plugin]);
        }
        PluginCommand::List => {
            let client = Client::new(server)?;
            let list = client.send(Method::GET, "/api/plugins", None).await?;
            print_plugins(list["data"].as_array().map(Vec::as_slice).unwrap_or(&[]));
        }
    }
    Ok(())
}

fn print_plugins(items: &[serde_json::Value]) {
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|p| {
            let grants: Vec<String> =
                p["grants"].as_array().map(|g| g.iter().map(|v| cell(v, 40)).collect()).unwrap_or_default();
            vec![
                cell(&p["name"], 24),
                cell(&p["version"], 12),
                if p["builtin"] == true { "yes".into() } else { "no".into() },
                grants.join(","),
                format!("{} KB", p["size"].as_u64().unwrap_or(0) / 1024),
                cell(&p["description"], 50),
            ]
        })
        .collect();
    table(&["NAME", "VERSION", "BUILTIN", "GRANTS", "SIZE", "DESCRIPTION"], &rows);
}

/// Percent-encodes a query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Writes a new plugin crate.
pub fn scaffold(name: &str, dir: &Path, sdk: &Path) -> anyhow::Result<()> {
    if !valid_name(name) {
        bail!("plugin name {name:?} must be lowercase letters, digits or `-`, starting with a letter");
    }
    if dir.exists() && dir.read_dir().map(|mut d| d.next().is_some()).unwrap_or(true) {
        bail!("{} already exists and is not empty", dir.display());
    }
    let sdk =
        sdk.canonicalize().with_context(|| format!("weft-sdk not found at {}; pass --sdk", sdk.display()))?;
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::create_dir_all(dir.join(".cargo"))?;
    let sdk_path = sdk.display().to_string().replace('\\', "/");
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
weft-sdk = {{ path = "{sdk_path}" }}
serde = {{ version = "1", features = ["derive"] }}
schemars = "1"

[profile.release]
opt-level = "s"
strip = true

# A workspace of its own, even inside another project.
[workspace]
"#
        ),
    )?;
    std::fs::write(
        dir.join(".cargo/config.toml"),
        "# Build for Weft: a WASI 0.2 component with a 128 KiB stack, cheap to instantiate.\n\
         [build]\ntarget = \"wasm32-wasip2\"\n\n[target.wasm32-wasip2]\nrustflags = [\"-C\", \"link-arg=-zstack-size=131072\"]\n",
    )?;
    let type_name: String = name
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect();
    std::fs::write(
        dir.join("src/lib.rs"),
        format!(
            r#"//! The `{name}` step.

use weft_sdk::prelude::*;

/// Config of a `{name}` step (templates are rendered before it arrives).
#[derive(Deserialize, JsonSchema)]
pub struct Config {{
    /// Some text to work on.
    text: String,
}}

struct {type_name};

impl Step for {type_name} {{
    type Config = Config;

    fn info() -> Info {{
        Info::new("{name}", env!("CARGO_PKG_VERSION")).description("Counts the characters of a text")
    }}

    fn run(input: Input<Config>, host: &dyn Host) -> Result<Outcome, StepError> {{
        host.log(Level::Info, &format!("step {{}} of run {{}}", input.step_id, input.run_id));
        let text = input.config.text;
        Ok(Outcome::done(json!({{ "text": text, "length": text.chars().count() }})))
    }}
}}

weft_sdk::export_step!({type_name});
"#
        ),
    )?;
    std::fs::write(dir.join(".gitignore"), "target/\n")?;
    Ok(())
}

/// Builds the crate at `dir` for wasm32-wasip2; returns the component's path.
pub fn build(dir: &Path) -> anyhow::Result<PathBuf> {
    let manifest = dir.join("Cargo.toml");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(&cargo)
        .args(["build", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(&manifest)
        .status()
        .with_context(|| format!("run {cargo}"))?;
    if !status.success() {
        bail!("cargo build of {} failed", manifest.display());
    }
    let metadata = Command::new(&cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--manifest-path"])
        .arg(&manifest)
        .output()
        .context("cargo metadata")?;
    let metadata: serde_json::Value =
        serde_json::from_slice(&metadata.stdout).context("cargo metadata output")?;
    let target = metadata["target_directory"].as_str().context("target directory")?;
    let name = metadata["packages"][0]["name"].as_str().context("package name")?;
    let wasm =
        Path::new(target).join("wasm32-wasip2/release").join(format!("{}.wasm", name.replace('-', "_")));
    if !wasm.exists() {
        bail!("the build produced no {}", wasm.display());
    }
    Ok(wasm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaffold_refuses_bad_names_and_non_empty_directories() {
        let dir = tempfile::tempdir().unwrap();
        let sdk = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../sdk"));
        assert!(scaffold("Bad_Name", &dir.path().join("x"), sdk).is_err());
        scaffold("word-count", &dir.path().join("wc"), sdk).unwrap();
        let lib = std::fs::read_to_string(dir.path().join("wc/src/lib.rs")).unwrap();
        assert!(lib.contains("struct WordCount;"));
        assert!(scaffold("word-count", &dir.path().join("wc"), sdk).is_err());
    }
}
