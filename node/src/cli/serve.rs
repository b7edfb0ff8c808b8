//! `nexus up` (dev mode) and `nexus --config FILE serve` (a configured node).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::config::{nexus_env, Config};
use crate::daemon::{shutdown_signal, Node};
use nexus_errors::{ErrorCode, UserError};

/// Arguments of `nexus up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Pack, dock and call an example workbook directory at start.
    #[arg(long, num_args = 0..=1, default_missing_value = "examples/hello", value_name = "DIR")]
    pub example: Option<PathBuf>,
    /// Listen address (overrides NEXUS_LISTEN and the --config file's).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Data directory (overrides NEXUS_DATA_DIR and the --config file's).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// Arguments of `nexus serve` (the node's nexus.toml is the global
/// `--config`).
#[derive(Debug, Args)]
pub struct ServeArgs {}

/// Runs a dev node until a signal: the defaults, or the nexus.toml
/// `config` names; then the environment's overrides, then the flags'.
pub async fn up(args: UpArgs, config: Option<&Path>) -> Result<i32, UserError> {
    let mut config = Config::load(config, nexus_env())?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    let node = Node::start(config).await?;
    node.announce();
    if let Some(dir) = args.example {
        node.run_example(&dir).await?;
    }
    Ok(node.serve(shutdown_signal()).await?.exit_code())
}

/// Runs a node configured by a file until a signal (exit code 0) or until
/// the cluster removes it (exit code 3).
pub async fn serve(config: Option<&Path>) -> Result<i32, UserError> {
    let Some(path) = config else {
        return Err(UserError::new(
            ErrorCode::ConfigInvalid,
            "nexus serve runs the node a nexus.toml describes: pass --config FILE (or NEXUS_CONFIG)",
        ));
    };
    let config = Config::load(Some(path), nexus_env())?;
    let node = Node::start(config).await?;
    node.announce();
    Ok(node.serve(shutdown_signal()).await?.exit_code())
}
