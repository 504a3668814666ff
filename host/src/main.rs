//! The `weft` command.

use clap::{Parser, Subcommand};
use weft::cli::bench::{self, BenchArgs};
use weft::cli::client::{Client, ServerArgs};
use weft::cli::db::{self, DbCommand};
use weft::cli::plugin::{self, PluginCommand};
use weft::cli::secret::{self, SecretCommand};
use weft::cli::serve::{self, ServeArgs};
use weft::cli::token::{self, TokenCommand};
use weft::cli::workflow::{self, RunCommand, WorkflowCommand};
use weft::runtime::isolate::{CompileArgs, compile_component};
use weft::runtime::{Runtime, RuntimeConfig};

#[derive(Parser)]
#[command(name = "weft", version, about = "Weft: workflow automation with sandboxed WebAssembly steps")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    server: ServerArgs,
    /// How log lines are written to stderr: `pretty` (one line each, for
    /// people) or `json` (one object per line, with the fields of the spans
    /// it happened in: `run_id`, `workflow_id`, `step`, `attempt`). Filter
    /// with `RUST_LOG` (default `weft=info,warn`).
    #[arg(long, global = true, env = "WEFT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    log_format: LogFormat,
}

/// How log lines look.
#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    /// One line per event, for people.
    Pretty,
    /// One JSON object per line, for log pipelines.
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the host: REST API, engine and scheduler.
    Serve(Box<ServeArgs>),
    /// List the built-in step plugins with their capabilities.
    Builtins,
    /// Load a running host over HTTP and report throughput, latency and memory.
    Bench(BenchArgs),
    /// Write, build, install and list step plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Apply, list and trigger workflows.
    #[command(subcommand)]
    Workflow(WorkflowCommand),
    /// Show runs.
    #[command(subcommand)]
    Run(RunCommand),
    /// Create, list and revoke scoped API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Set, list and remove secrets; make and rotate the key they are sealed under.
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Vacuum a database, or back a SQLite one up while hosts use it.
    #[command(subcommand)]
    Db(DbCommand),
    /// Compile a component read on stdin (the host runs this for each install).
    #[command(hide = true)]
    CompileComponent(CompileArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "weft=info,warn".into());
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Pretty => logs.init(),
        // Every parent span's fields too: a line inside a step carries its run.
        LogFormat::Json => logs.json().with_current_span(false).with_span_list(true).init(),
    }
    match cli.command {
        Command::Plugin(command) => plugin::run(command, &cli.server).await?,
        Command::Workflow(command) => workflow::workflow(&Client::new(&cli.server)?, command).await?,
        Command::Run(command) => workflow::run(&Client::new(&cli.server)?, command).await?,
        Command::Token(command) => token::run(&Client::new(&cli.server)?, command).await?,
        Command::Secret(command) => secret::run(&cli.server, command).await?,
        Command::Serve(args) => serve::run(*args).await?,
        Command::Db(command) => db::run(command).await?,
        Command::CompileComponent(args) => compile_component(&args)?,
        Command::Bench(args) => bench::run(args, &cli.server).await?,
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
