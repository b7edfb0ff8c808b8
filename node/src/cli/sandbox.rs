//! `nexus dock`, `nexus sandbox ls | info | rm` and `nexus call`.

use std::io::{Read, Write};
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::output::print_json;
use super::progress;
use crate::api::types::{decode_bytes, CallRequest, CloneRequest, Encoding};
use crate::client::{NodeClient, Placement};
use crate::sandbox::{SandboxInfo, Verb};
use nexus_errors::{ErrorCode, UserError};

/// Arguments of `nexus dock`.
#[derive(Debug, Args)]
pub struct DockArgs {
    /// The workbook file.
    pub file: PathBuf,
    /// Sandbox name (default: the workbook's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Profile (default: the workbook's; unknown names mean `compute`).
    #[arg(long)]
    pub profile: Option<String>,
    /// The id of the node to place the sandbox on (default: the member
    /// with the most free capacity).
    #[arg(long, value_name = "NODE_ID")]
    pub on: Option<u64>,
    /// A label the home must carry (`[node] labels` in its nexus.toml);
    /// repeat for several.
    #[arg(long = "where", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Copies the cluster keeps, the home's included (1-8; default: the
    /// node's `[replication] factor`, at most one per member).
    #[arg(long)]
    pub factor: Option<u32>,
    /// `sync`: a call answers once a replica holds its change; `async`:
    /// at once (default: the node's `[replication] durability`).
    #[arg(long, value_name = "sync|async")]
    pub durability: Option<String>,
}

/// Sandbox management commands.
#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// List your sandboxes.
    Ls,
    /// Show one sandbox.
    Info {
        /// Sandbox id.
        id: String,
    },
    /// Remove a sandbox and its file.
    Rm {
        /// Sandbox id.
        id: String,
    },
    /// active → suspended: stop the instance, checkpoint the file.
    Suspend(TransitArgs),
    /// suspended → frozen: move the file to cold storage.
    Freeze(TransitArgs),
    /// suspended, frozen or archived → active.
    Resume(TransitArgs),
    /// active or frozen → archived (calls refused until resumed).
    Archive(TransitArgs),
    /// archived → deleted: drop the data, keep the record.
    Delete(TransitArgs),
    /// Pull a frozen or archived sandbox's file local without resuming it.
    Prefetch(TransitArgs),
    /// Move a sandbox to another node while it keeps serving (live
    /// migration; a suspended or frozen one moves as files).
    Move {
        /// Sandbox id.
        id: String,
        /// The id of the node to move it to.
        #[arg(long, value_name = "NODE_ID")]
        to: u64,
    },
    /// Dock a copy of a sandbox as a new one; the source is not changed.
    Clone {
        /// Source sandbox id.
        id: String,
        /// Name of the copy (default: NAME-clone).
        #[arg(long)]
        name: Option<String>,
        /// Tenant that gets the copy (admin key needed for another tenant).
        #[arg(long)]
        tenant: Option<String>,
    },
}

/// Arguments of the lifecycle verbs.
#[derive(Debug, Args)]
pub struct TransitArgs {
    /// Sandbox id.
    pub id: String,
    /// Refuse unless the sandbox still has this generation.
    #[arg(long)]
    pub expected_generation: Option<u64>,
}

/// Arguments of `nexus call`.
#[derive(Debug, Args)]
pub struct CallArgs {
    /// Sandbox id.
    pub id: String,
    /// File to send as stdin, or `-` for this process's stdin.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// An environment variable for the guest, over the workbook's `[env]`;
    /// repeat for several.
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = env_pair)]
    pub env: Vec<(String, String)>,
    /// Arguments passed to the guest (after `--`).
    #[arg(last = true)]
    pub args: Vec<String>,
}

/// `KEY=VALUE` of `--env` (the value may hold `=`).
fn env_pair(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE"))
}

/// Uploads and docks a workbook; prints the sandbox id.
pub async fn dock(client: &NodeClient, args: DockArgs, json: bool) -> Result<i32, UserError> {
    let bytes = std::fs::read(&args.file).map_err(|e| {
        UserError::new(
            ErrorCode::WorkbookUnreadable,
            format!("cannot read {}: {e}", args.file.display()),
        )
    })?;
    let sandbox = client
        .dock_on(
            bytes,
            args.name.as_deref(),
            args.profile.as_deref(),
            &Placement {
                node: args.on,
                labels: args.labels,
                factor: args.factor,
                durability: args.durability,
            },
        )
        .await?;
    if json {
        print_json(&sandbox);
    } else {
        println!("{}", sandbox.id);
    }
    Ok(0)
}

/// `sandbox ls | info | rm`.
pub async fn manage(
    client: &NodeClient,
    cmd: SandboxCommand,
    json: bool,
) -> Result<i32, UserError> {
    match cmd {
        SandboxCommand::Ls => {
            let list = client.sandboxes().await?;
            if json {
                print_json(&list);
            } else {
                println!(
                    "{:<20} {:<20} {:<10} {:<10} {:<5} GEN",
                    "ID", "NAME", "STATE", "PROFILE", "HOME"
                );
                for s in &list.sandboxes {
                    println!(
                        "{:<20} {:<20} {:<10} {:<10} {:<5} {}",
                        s.id,
                        s.name,
                        s.state.as_str(),
                        s.profile,
                        s.home_node,
                        s.generation
                    );
                }
            }
        }
        SandboxCommand::Info { id } => {
            let sandbox = client.sandbox(&id).await?;
            if json {
                print_json(&sandbox);
            } else {
                print_info(&sandbox);
            }
        }
        SandboxCommand::Suspend(a) => transit(client, a, Verb::Suspend, json).await?,
        SandboxCommand::Freeze(a) => transit(client, a, Verb::Freeze, json).await?,
        SandboxCommand::Resume(a) => transit(client, a, Verb::Resume, json).await?,
        SandboxCommand::Archive(a) => transit(client, a, Verb::Archive, json).await?,
        SandboxCommand::Delete(a) => transit(client, a, Verb::Delete, json).await?,
        SandboxCommand::Prefetch(a) => transit(client, a, Verb::Prefetch, json).await?,
        SandboxCommand::Move { id, to } => {
            let spinner = progress::spinner(format!("moving {id} to node {to}"));
            if json {
                spinner.set_draw_target(indicatif::ProgressDrawTarget::hidden());
            }
            let report = client.move_sandbox(&id, to).await;
            spinner.finish_and_clear();
            let report = report?;
            if json {
                print_json(&report);
            } else {
                println!(
                    "moved {id} from node {} to node {to}: {} bytes sent, {} in the pause \
                     (held {} ms), {} ms in all",
                    report.from_node,
                    report.bytes_sent,
                    report.delta_bytes,
                    report.pause_us / 1000,
                    report.elapsed_us / 1000
                );
            }
        }
        SandboxCommand::Clone { id, name, tenant } => {
            let copy = client
                .clone_sandbox(&id, &CloneRequest { name, tenant })
                .await?;
            if json {
                print_json(&copy);
            } else {
                println!("{}", copy.id);
            }
        }
        SandboxCommand::Rm { id } => {
            let removed = client.remove(&id).await?;
            if json {
                print_json(&removed);
            } else {
                println!("removed {}", removed.id);
            }
        }
    }
    Ok(0)
}

async fn transit(
    client: &NodeClient,
    args: TransitArgs,
    verb: Verb,
    json: bool,
) -> Result<(), UserError> {
    let sandbox = client
        .transit(&args.id, verb, args.expected_generation)
        .await?;
    if json {
        print_json(&sandbox);
    } else {
        println!(
            "{} {} (generation {})",
            sandbox.id, sandbox.state, sandbox.generation
        );
    }
    Ok(())
}

/// Calls a sandbox; writes its stdout and stderr through and returns its exit code.
pub async fn call(client: &NodeClient, args: CallArgs, json: bool) -> Result<i32, UserError> {
    let stdin = match &args.input {
        None => Vec::new(),
        Some(path) => read_input(path)?,
    };
    let request = CallRequest {
        args: args.args,
        stdin: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, stdin),
        stdin_encoding: Encoding::Base64,
        env: args.env.into_iter().collect(),
    };
    let response = client.call(&args.id, &request).await?;
    if json {
        print_json(&response);
        return Ok(response.exit_code);
    }
    let stdout = decode_bytes(response.stdout, response.stdout_encoding).unwrap_or_default();
    let stderr = decode_bytes(response.stderr, response.stderr_encoding).unwrap_or_default();
    let _ = std::io::stdout().write_all(&stdout);
    let _ = std::io::stderr().write_all(&stderr);
    Ok(response.exit_code)
}

fn read_input(path: &PathBuf) -> Result<Vec<u8>, UserError> {
    let mut bytes = Vec::new();
    let result = if path.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut bytes).map(|_| ()))
    };
    result.map_err(|e| {
        UserError::new(
            ErrorCode::RequestInvalid,
            format!("cannot read --input {}: {e}", path.display()),
        )
    })?;
    Ok(bytes)
}

fn print_info(info: &SandboxInfo) {
    let s = &info.sandbox;
    println!("id:         {}", s.id);
    println!("name:       {}", s.name);
    println!("tenant:     {}", s.tenant_id);
    println!("state:      {}", s.state);
    println!("generation: {}", s.generation);
    println!("profile:    {}", s.profile);
    println!("home node:  {}", s.home_node);
    println!("workbook:   sha256 {}", s.workbook_sha256);
    println!("created:    {} ms", s.created_at_ms);
    println!("updated:    {} ms", s.updated_at_ms);
    println!("idle:       {} ms", info.idle_ms);
    println!("in flight:  {} call(s)", info.calls_in_flight);
    if let Some(reason) = &info.not_demoted_reason {
        println!("ladder:     {reason}");
    }
    for v in &info.volumes {
        let mode = if v.read_only { ", read-only" } else { "" };
        println!(
            "volume:     /{:<9} {} file(s), {} of {} bytes{mode}",
            v.volume, v.files, v.bytes, v.quota_bytes
        );
    }
    if let Some(r) = &info.replication {
        let replicas = r.replicas.len();
        let below = if replicas + 1 < r.factor as usize {
            format!(", {} below its factor", r.factor as usize - replicas - 1)
        } else {
            String::new()
        };
        println!(
            "replicas:   {replicas} (factor {}, {}{below})",
            r.factor, r.durability
        );
        for replica in &r.replicas {
            let error = replica
                .error
                .as_deref()
                .map(|e| format!(", last error: {e}"))
                .unwrap_or_default();
            println!(
                "  node {}: version {}, {} version(s) and {} byte(s) behind{error}",
                replica.node_id, replica.version, replica.lag_versions, replica.lag_bytes
            );
        }
    }
    let denials = &info.denials;
    if denials.total == 0 {
        println!("denials:    none");
        return;
    }
    let by: Vec<String> = denials
        .by_capability
        .iter()
        .map(|(capability, n)| format!("{capability} {n}"))
        .collect();
    println!("denials:    {} ({})", denials.total, by.join(", "));
    for denial in &denials.recent {
        println!("  {}: {}", denial.capability, denial.target);
    }
}
