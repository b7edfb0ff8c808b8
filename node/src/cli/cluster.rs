//! `nexus init` (found a cluster) and `nexus join` (join one with a token).

use std::path::{Path, PathBuf};

use clap::Args;

use super::join_token::{TokenSource, TOKEN_ENV};
use super::token::{parse_role, parse_ttl};
use crate::cluster::identity::{holds_identity, refuse_existing, tls_dir};
use crate::cluster::join::{self, Joined};
use crate::cluster::join_record::JoinRecord;
use crate::cluster::tokens::TokenTerms;
use crate::config::{nexus_env, ClusterConfig, Config};
use crate::daemon::{shutdown_signal, write_secret, Node, ADMIN_KEY_FILE};
use nexus_errors::{ErrorCode, UserError};

/// File in `{data_dir}/tls` holding the token `nexus init` minted (0600).
pub const INIT_TOKEN_FILE: &str = "join-token";

/// Arguments of `nexus init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Lifetime of the first join token: a number with s, m, h or d.
    #[arg(long, default_value = "24h")]
    pub token_ttl: String,
    /// How many nodes may join with the first token.
    #[arg(long, default_value_t = 1)]
    pub token_uses: u32,
    /// What a node joining with it becomes: voter or learner.
    #[arg(long, default_value = "voter")]
    pub token_role: String,
    /// Go on serving after founding, until a signal; when the data dir
    /// already founded a cluster, serve it straight away (the one command
    /// a container runs on every start).
    #[arg(long)]
    pub serve: bool,
    /// Also write the first join token to this file (0600), e.g. a volume
    /// only the joiners mount.
    #[arg(long, value_name = "PATH")]
    pub token_out: Option<PathBuf>,
    /// With --serve: pack, dock and call this example workbook directory
    /// once, when founding.
    #[arg(long, value_name = "DIR", requires = "serve")]
    pub example: Option<PathBuf>,
}

/// Arguments of `nexus join`.
#[derive(Debug, Args)]
pub struct JoinArgs {
    /// Refused: a token on the command line shows in `ps`. Use --token-file or NEXUS_JOIN_TOKEN.
    #[arg(hide = true, value_name = "TOKEN")]
    pub token: Option<String>,
    /// File holding the join token (`nexus token create`, or tls/join-token on the first
    /// node); `-` reads it from stdin. Without it, the token is taken from NEXUS_JOIN_TOKEN.
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// A cluster node's Raft address (HOST:PORT): any member; one without the
    /// CA key forwards the join to one that holds it.
    #[arg(long)]
    pub peer: String,
}

/// Founds a cluster in the configured data dir: the cluster CA, this
/// node's identity, the registry with its admin key, and a first join
/// token in `{data_dir}/tls/join-token`. Then stops (`nexus serve` runs
/// it), or with `--serve` goes on serving.
pub async fn init(args: InitArgs, path: Option<&Path>, json: bool) -> Result<i32, UserError> {
    let config = Config::load(path, nexus_env())?;
    let terms = TokenTerms {
        ttl_secs: parse_ttl(&args.token_ttl)?,
        uses: args.token_uses,
        role: parse_role(&args.token_role)?,
    };
    if config.cluster.raft_listen.is_none() || !config.cluster.peers.is_empty() {
        return Err(UserError::new(
            ErrorCode::ConfigInvalid,
            "nexus init founds a cluster that others join: set [cluster] raft_listen \
             (or NEXUS_RAFT_LISTEN) and list no [cluster] peers",
        ));
    }
    if args.serve && founded_here(&config)? {
        eprintln!(
            "data dir {} already founded this cluster; starting it",
            config.data_dir.display()
        );
        let node = Node::start(config).await?;
        node.announce();
        return Ok(node.serve(shutdown_signal()).await?.exit_code());
    }
    refuse_initialized(&config)?;
    let data_dir = config.data_dir.clone();
    let cluster = config.cluster.clone();
    let node = Node::start(config).await?;
    let minted = async {
        node.record_ca_holding().await?;
        node.mint_join_token(terms).await
    }
    .await;
    let (token, fingerprint) = match minted {
        Ok(minted) => minted,
        Err(e) => {
            node.serve(async {}).await?;
            return Err(e);
        }
    };
    let token_file = tls_dir(&data_dir).join(INIT_TOKEN_FILE);
    write_secret(&token_file, &token)?;
    if let Some(out) = &args.token_out {
        write_secret(out, &token)?;
    }
    if json {
        super::output::print_json(&serde_json::json!({
            "ca_fingerprint": fingerprint,
            "token_file": token_file,
            "admin_key_file": data_dir.join(ADMIN_KEY_FILE),
        }));
    } else {
        println!("cluster CA {fingerprint}");
        println!("join token in {} (0600)", token_file.display());
        println!("admin key in {}", data_dir.join(ADMIN_KEY_FILE).display());
        if !args.serve {
            let config_arg = path.map_or("NODE.toml".into(), |p| p.display().to_string());
            let raft = advertised_raft(&cluster);
            println!("start this node:  nexus --config {config_arg} serve");
            println!(
                "then on each new machine, with its own nexus.toml and a copy of the token file:"
            );
            println!("  nexus --config NEW-NODE.toml join --token-file join-token --peer {raft}");
        }
    }
    if !args.serve {
        node.serve(async {}).await?;
        return Ok(0);
    }
    node.announce();
    if let Some(dir) = &args.example {
        node.run_example(dir).await?;
    }
    Ok(node.serve(shutdown_signal()).await?.exit_code())
}

/// Whether this data dir founded its cluster already: it holds a node
/// identity but did not get it by joining.
fn founded_here(config: &Config) -> Result<bool, UserError> {
    Ok(holds_identity(&config.data_dir) && JoinRecord::load(&config.data_dir)?.is_none())
}

/// The Raft address other nodes dial: `advertise_raft`, else `raft_listen`.
fn advertised_raft(cluster: &ClusterConfig) -> String {
    match (&cluster.advertise_raft, cluster.raft_listen) {
        (Some(advertised), _) => advertised.clone(),
        (None, Some(listen)) => listen.to_string(),
        (None, None) => "THIS-RAFT-ADDRESS".into(),
    }
}

fn refuse_initialized(config: &Config) -> Result<(), UserError> {
    refuse_existing(&config.data_dir, ErrorCode::ClusterAlreadyInitialized)?;
    if let Some(record) = JoinRecord::load(&config.data_dir)? {
        return Err(UserError::new(
            ErrorCode::ClusterAlreadyInitialized,
            format!(
                "data dir {} already joined a cluster as node {}",
                config.data_dir.display(),
                record.node_id
            ),
        ));
    }
    Ok(())
}

/// Joins the token's cluster (or, if this data dir already did, goes on
/// as that node) and serves until a signal.
pub async fn join(args: JoinArgs, path: Option<&Path>) -> Result<i32, UserError> {
    let token = TokenSource {
        positional: args.token.as_deref(),
        file: args.token_file.as_deref(),
        env: std::env::var(TOKEN_ENV).ok(),
    }
    .read(std::io::stdin().lock())?;
    let config = Config::load(path, nexus_env())?;
    let listeners = match join::join(&config, &token, &args.peer).await? {
        Joined::Admitted(record, listeners) => {
            eprintln!(
                "joined cluster {} as node {} ({})",
                record.cluster_name,
                record.node_id,
                record.role.as_str()
            );
            Some(listeners)
        }
        Joined::Already(record) => {
            eprintln!(
                "data dir {} already joined cluster {} as node {}; starting it",
                config.data_dir.display(),
                record.cluster_name,
                record.node_id
            );
            None
        }
    };
    let node = Node::start_on(config, listeners).await?;
    node.announce();
    Ok(node.serve(shutdown_signal()).await?.exit_code())
}
