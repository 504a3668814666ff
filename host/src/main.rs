//! The `weft` command.

use clap::{Parser, Subcommand};
use weft::cli::bench::{self, BenchArgs};
use weft::cli::serve::{self, ServeArgs};
use weft::runtime::{Runtime, RuntimeConfig};

#[derive(Parser)]
#[command(name = "weft", version, about = "Weft: workflow automation with sandboxed WebAssembly steps")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the host: REST API, engine and scheduler.
    Serve(ServeArgs),
    /// List the built-in step plugins with their capabilities.
    Builtins,
    /// Load a running host over HTTP and report throughput, latency and memory.
    Bench(BenchArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "weft=info,warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve(args) => serve::run(args).await?,
        Command::Bench(args) => bench::run(args).await?,
        Command::Builtins => {
            let runtime = Runtime::new(RuntimeConfig::default())?;
            println!("{:<14} {:<8} {:<10} DESCRIPTION", "NAME", "VERSION", "GRANTS");
            for plugin in runtime.load_builtins().await? {
                let info = plugin.info();
                let grants = plugin.grants().to_strings().join(",");
                println!("{:<14} {:<8} {:<10} {}", info.name, info.version, grants, info.description);
            }
        }
    }
    Ok(())
}
