//! `weft workflow` and `weft run`: apply definitions, trigger, read runs.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::client::{Body, Client, cell, table};

/// `weft workflow ...`.
#[derive(Debug, Subcommand)]
pub enum WorkflowCommand {
    /// Create a workflow from a JSON or YAML file, or update it when the file has an `id`.
    Apply {
        /// The definition file.
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        /// Activate it afterwards.
        #[arg(long)]
        activate: bool,
    },
    /// Start a run.
    Trigger {
        /// Workflow id.
        id: String,
        /// The payload, JSON.
        #[arg(long, default_value = "{}")]
        data: String,
        /// Wait up to this many ms for the run to end, then show it.
        #[arg(long)]
        wait: Option<u64>,
    },
    /// List workflows.
    List,
}

/// `weft run ...`.
#[derive(Debug, Subcommand)]
pub enum RunCommand {
    /// A run with its log.
    Show {
        /// Run id.
        id: String,
    },
    /// Cancel every unfinished run a filter matches (at least one filter).
    BulkCancel(BulkFilter),
    /// Retry every FAILED run a filter matches (at least one filter).
    BulkRetry(BulkFilter),
    /// Runs waiting at an approval step, oldest first.
    Approvals,
    /// Approve a run waiting at an approval step.
    Approve(Decision),
    /// Reject a run waiting at an approval step.
    Reject(Decision),
}

/// A decision on an approval.
#[derive(Debug, clap::Args)]
pub struct Decision {
    /// Run id.
    id: String,
    /// Why; kept in the step's output.
    #[arg(long)]
    comment: Option<String>,
    /// The approval step, when the run waits at several.
    #[arg(long)]
    step: Option<String>,
}

/// Which runs a bulk command takes.
#[derive(Debug, clap::Args)]
pub struct BulkFilter {
    /// Only runs of this workflow.
    #[arg(long)]
    workflow: Option<String>,
    /// Only runs in this status.
    #[arg(long)]
    status: Option<String>,
    /// Only runs started at or after this time (RFC 3339).
    #[arg(long)]
    started_after: Option<String>,
    /// Only runs started before this time (RFC 3339).
    #[arg(long)]
    started_before: Option<String>,
    /// Most runs taken (default and most: 10,000).
    #[arg(long)]
    limit: Option<i64>,
}

impl BulkFilter {
    fn body(&self) -> Value {
        let mut body = serde_json::Map::new();
        let fields = [
            ("workflowId", self.workflow.as_ref().map(|v| Value::from(v.as_str()))),
            ("status", self.status.as_ref().map(|v| Value::from(v.to_uppercase()))),
            ("startedAfter", self.started_after.as_ref().map(|v| Value::from(v.as_str()))),
            ("startedBefore", self.started_before.as_ref().map(|v| Value::from(v.as_str()))),
            ("limit", self.limit.map(Value::from)),
        ];
        for (name, value) in fields {
            if let Some(value) = value {
                body.insert(name.to_owned(), value);
            }
        }
        Value::Object(body)
    }
}

/// Reads a definition: JSON, or YAML for `.yaml`/`.yml` files.
pub fn read_definition(file: &PathBuf) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(file).with_context(|| format!("read {}", file.display()))?;
    let yaml = file.extension().is_some_and(|e| e == "yaml" || e == "yml");
    if yaml {
        serde_yaml::from_str(&text).with_context(|| format!("{} is not valid YAML", file.display()))
    } else {
        serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", file.display()))
    }
}

fn print_workflows(items: &[Value]) {
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|w| {
            vec![cell(&w["id"], 30), cell(&w["name"], 40), cell(&w["status"], 10), cell(&w["version"], 8)]
        })
        .collect();
    table(&["ID", "NAME", "STATUS", "VERSION"], &rows);
}

/// Runs a workflow command.
pub async fn workflow(client: &Client, command: WorkflowCommand) -> anyhow::Result<()> {
    match command {
        WorkflowCommand::Apply { file, activate } => {
            let definition = read_definition(&file)?;
            let mut saved = match definition["id"].as_str() {
                Some(id) => {
                    client
                        .send(
                            Method::PUT,
                            &format!("/api/workflows/{id}"),
                            Some(Body::Json(definition.clone())),
                        )
                        .await?
                }
                None => client.send(Method::POST, "/api/workflows", Some(Body::Json(definition))).await?,
            };
            if activate {
                let id = saved["id"].as_str().context("workflow id")?.to_owned();
                saved = client.send(Method::PUT, &format!("/api/workflows/{id}/activate"), None).await?;
            }
            print_workflows(&[saved]);
        }
        WorkflowCommand::Trigger { id, data, wait } => {
            let payload: Value = serde_json::from_str(&data).context("--data is not valid JSON")?;
            let path = match wait {
                Some(ms) => format!("/api/workflows/{id}/trigger?wait={ms}"),
                None => format!("/api/workflows/{id}/trigger"),
            };
            let run = client.send(Method::POST, &path, Some(Body::Json(payload))).await?;
            if run.get("logs").is_some() {
                print_run(&run);
            } else {
                table(
                    &["RUN", "WORKFLOW", "STATUS"],
                    &[vec![cell(&run["id"], 30), cell(&run["workflowId"], 30), cell(&run["status"], 10)]],
                );
            }
        }
        WorkflowCommand::List => {
            let page = client.send(Method::GET, "/api/workflows?pageSize=200", None).await?;
            print_workflows(page["data"].as_array().map(Vec::as_slice).unwrap_or(&[]));
        }
    }
    Ok(())
}

/// Runs a run command.
pub async fn run(client: &Client, command: RunCommand) -> anyhow::Result<()> {
    match command {
        RunCommand::Show { id } => {
            let run = client.send(Method::GET, &format!("/api/workflow-runs/{id}"), None).await?;
            print_run(&run);
        }
        RunCommand::BulkCancel(filter) => bulk(client, "bulk-cancel", "cancelled", &filter).await?,
        RunCommand::BulkRetry(filter) => bulk(client, "bulk-retry", "retried", &filter).await?,
        RunCommand::Approvals => {
            let inbox = client.send(Method::GET, "/api/approvals?limit=500", None).await?;
            let rows: Vec<Vec<String>> = inbox["data"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[])
                .iter()
                .map(|a| {
                    vec![
                        cell(&a["runId"], 30),
                        cell(&a["workflowName"], 24),
                        cell(&a["step"], 16),
                        cell(&a["waitingSince"], 24),
                        cell(&a["message"], 60),
                    ]
                })
                .collect();
            table(&["RUN", "WORKFLOW", "STEP", "WAITING SINCE", "MESSAGE"], &rows);
        }
        RunCommand::Approve(decision) => decide(client, "approve", &decision).await?,
        RunCommand::Reject(decision) => decide(client, "reject", &decision).await?,
    }
    Ok(())
}

async fn decide(client: &Client, route: &str, decision: &Decision) -> anyhow::Result<()> {
    let mut body = json!({});
    if let Some(comment) = &decision.comment {
        body["comment"] = json!(comment);
    }
    if let Some(step) = &decision.step {
        body["step"] = json!(step);
    }
    let path = format!("/api/workflow-runs/{}/{route}", decision.id);
    let done = client.send(Method::POST, &path, Some(Body::Json(body))).await?;
    println!(
        "{} {} at step {} by {}",
        done["runId"].as_str().unwrap_or("?"),
        cell(&done["decision"], 10),
        cell(&done["step"], 40),
        cell(&done["by"], 60)
    );
    Ok(())
}

async fn bulk(client: &Client, route: &str, done: &str, filter: &BulkFilter) -> anyhow::Result<()> {
    let path = format!("/api/workflow-runs/{route}");
    let result = client.send(Method::POST, &path, Some(Body::Json(filter.body()))).await?;
    let count = |field: &str| result[field].as_array().map_or(0, Vec::len);
    println!(
        "{} matched, {} {done}, {} skipped (changed meanwhile)",
        result["matched"],
        count("changed"),
        count("skipped")
    );
    Ok(())
}

fn print_run(run: &Value) {
    println!("run       {}", cell(&run["id"], 40));
    println!("workflow  {}", cell(&run["workflowId"], 40));
    println!("status    {}", cell(&run["status"], 20));
    println!("started   {}", cell(&run["startedAt"], 30));
    if !run["finishedAt"].is_null() {
        println!("finished  {}", cell(&run["finishedAt"], 30));
    }
    if !run["error"].is_null() {
        println!("error     {}", cell(&run["error"], 200));
    }
    println!();
    let rows: Vec<Vec<String>> = run["logs"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .map(|l| {
            let result = &l["result"];
            let summary = if result["error"].is_null() { &result["output"] } else { &result["error"] };
            vec![
                cell(&l["step"], 20),
                cell(&l["action"], 10),
                cell(&l["attempt"], 3),
                format!("{:.2} ms", l["durationUs"].as_f64().unwrap_or(0.0) / 1000.0),
                cell(&l["fuel"], 12),
                cell(&json!(result["plugin"]), 24),
                cell(summary, 60),
            ]
        })
        .collect();
    table(&["STEP", "ACTION", "ATTEMPT", "DURATION", "FUEL", "PLUGIN", "OUTPUT OR ERROR"], &rows);
}
