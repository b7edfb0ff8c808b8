//! The `nexus` command line: clap definitions and dispatch. Human output by
//! default, `--json` everywhere.

mod bench;
mod ca;
mod cluster;
pub mod fabric;
mod join_token;
mod key;
mod logs;
mod net;
mod node;
mod output;
mod progress;
pub mod render;
mod sandbox;
mod serve;
mod status;
mod target;
mod tenant;
mod token;
pub mod workbook;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use nexus_errors::UserError;

pub use output::report_error;
pub use target::TargetFlags;

/// Nexus: a distributed engine for WebAssembly workbooks.
#[derive(Debug, Parser)]
#[command(name = "nexus", version, about, long_about = None)]
pub struct Cli {
    /// Print machine-readable JSON instead of human output.
    #[arg(long, global = true)]
    pub json: bool,
    /// The node's nexus.toml: `up`, `serve`, `init` and `join` run the node
    /// it describes; the other commands take its API address, admin key and
    /// CA from it.
    #[arg(long, short = 'c', global = true, env = "NEXUS_CONFIG")]
    pub config: Option<PathBuf>,
    /// The node's API URL [default: from --config, else http://127.0.0.1:2026].
    #[arg(long, global = true, env = "NEXUS_NODE")]
    pub node: Option<String>,
    /// API key [default: the admin key in the data dir of --config, else of
    /// $NEXUS_DATA_DIR or ./.nexus].
    #[arg(long, global = true, env = "NEXUS_API_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// PEM CA certificate that verifies the node's HTTPS [default: tls/ca.pem
    /// in the same data dir as the key].
    #[arg(long, global = true, env = "NEXUS_CA")]
    pub ca: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a single-node dev cluster on 127.0.0.1:2026 (data in ./.nexus).
    Up(serve::UpArgs),
    /// Start a node configured by a nexus.toml.
    Serve(serve::ServeArgs),
    /// Found a cluster: CA, this node's certificate, registry and a first join token.
    Init(cluster::InitArgs),
    /// Join a cluster with a token, then run the node.
    Join(cluster::JoinArgs),
    /// List the cluster's nodes, or remove one (admin key needed).
    #[command(subcommand)]
    Node(node::NodeCommand),
    /// Make, pack, inspect and export workbook files.
    #[command(subcommand)]
    Workbook(workbook::WorkbookCommand),
    /// Dock a workbook file into the cluster (placed by --on or by load); prints the sandbox id.
    Dock(sandbox::DockArgs),
    /// List, inspect and remove sandboxes.
    #[command(subcommand)]
    Sandbox(sandbox::SandboxCommand),
    /// Run a sandbox's entry module as a command.
    Call(sandbox::CallArgs),
    /// Fan a kernel out over many inputs; list and cancel jobs.
    #[command(subcommand)]
    Fabric(fabric::FabricCommand),
    /// Render a frame on the fabric with a render workbook (examples/render) into a PNG.
    Render(render::RenderArgs),
    /// Show a sandbox's recent stderr and lifecycle events (from its home node).
    Logs(logs::LogsArgs),
    /// Manage tenants (admin key needed).
    #[command(subcommand)]
    Tenant(tenant::TenantCommand),
    /// Make, list and revoke API keys.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Show the cluster: leader, term, members and roles, log indexes, lag.
    Status,
    /// Exit 0 when the node takes calls (`GET /ready`), 1 otherwise: a
    /// health check for containers and scripts.
    Ready,
    /// The WireGuard mesh (admin key needed).
    #[command(subcommand)]
    Net(net::NetCommand),
    /// Mint, list and revoke join tokens (admin key needed).
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Export the cluster CA from a node that holds it, or import it into a
    /// stopped node of the same cluster (docs/operations.md: CA backup).
    #[command(subcommand)]
    Ca(ca::CaCommand),
    /// Measure this machine against the performance targets.
    Bench(bench::BenchArgs),
    /// Serve fabric inputs over stdin and stdout: the process inside a
    /// container-tier worker (started by the node, not by hand).
    #[command(hide = true, name = "fabric-worker")]
    FabricWorker,
    /// Print a shell completion script: `nexus completions bash > /etc/bash_completion.d/nexus`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

impl Command {
    /// Whether the command runs a node (whose files must stay private).
    pub fn runs_a_node(&self) -> bool {
        matches!(
            self,
            Command::Up(_) | Command::Serve(_) | Command::Init(_) | Command::Join(_)
        )
    }
}

/// Runs the parsed command; returns the process exit code.
pub async fn run(cli: Cli) -> Result<i32, UserError> {
    let json = cli.json;
    let target = TargetFlags {
        config: cli.config,
        node: cli.node,
        key: cli.key,
        ca: cli.ca,
    };
    match cli.command {
        Command::Up(args) => serve::up(args, target.config.as_deref()).await,
        Command::Serve(_) => serve::serve(target.config.as_deref()).await,
        Command::Init(args) => cluster::init(args, target.config.as_deref(), json).await,
        Command::Join(args) => cluster::join(args, target.config.as_deref()).await,
        Command::Node(cmd) => node::run(&target.client()?, cmd, json).await,
        Command::Workbook(cmd) => tokio::task::spawn_blocking(move || workbook::run(cmd, json))
            .await
            .map_err(|e| {
                UserError::new(
                    nexus_errors::ErrorCode::Internal,
                    format!("task failed: {e}"),
                )
            })?
            .map(|_| 0),
        Command::Dock(args) => sandbox::dock(&target.client()?, args, json).await,
        Command::Sandbox(cmd) => sandbox::manage(&target.client()?, cmd, json).await,
        Command::Call(args) => sandbox::call(&target.client()?, args, json).await,
        Command::Fabric(cmd) => fabric::run(&target.client()?, cmd, json).await,
        Command::Render(args) => render::run(&target.client()?, args, json).await,
        Command::Logs(args) => logs::run(&target.client()?, args, json).await,
        Command::Tenant(cmd) => tenant::run(&target.client()?, cmd, json).await,
        Command::Key(cmd) => key::run(&target.client()?, cmd, json).await,
        Command::Status => status::run(&target.client()?, json).await,
        Command::Ready => status::ready(&target.client()?, json).await,
        Command::Net(cmd) => net::run(&target.client()?, cmd, json).await,
        Command::Token(cmd) => token::run(&target.client()?, cmd, json).await,
        Command::Ca(cmd) => ca::run(cmd, target.config.as_deref(), json),
        Command::Bench(args) => bench::run(args, json).await.map(|_| 0),
        Command::FabricWorker => crate::fabric::container::worker_main().await.map(|_| 0),
        Command::Completions { shell } => {
            // Rendered in memory first: clap_complete panics on a failed write,
            // and a reader such as `head` may close the pipe early.
            let mut script = Vec::new();
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "nexus", &mut script);
            let mut stdout = std::io::stdout().lock();
            match std::io::Write::write_all(&mut stdout, &script) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(UserError::new(
                    nexus_errors::ErrorCode::Internal,
                    format!("cannot write the completion script: {e}"),
                )),
                _ => Ok(0),
            }
        }
    }
}
