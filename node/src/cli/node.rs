//! `nexus node ls | remove`: the cluster's nodes (admin key needed).

use clap::Subcommand;

use super::output::print_json;
use crate::client::NodeClient;
use nexus_errors::UserError;

/// Node commands.
#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// List members, admitted joiners and removed nodes; CA marks the nodes
    /// that hold the cluster CA key.
    Ls,
    /// Remove a node: revoke its certificate and take it out of the membership.
    Remove {
        /// The node id (`nexus node ls`).
        id: u64,
    },
}

/// Runs a node command.
pub async fn run(client: &NodeClient, cmd: NodeCommand, json: bool) -> Result<i32, UserError> {
    match cmd {
        NodeCommand::Ls => {
            let list = client.nodes().await?;
            if json {
                print_json(&list);
                return Ok(0);
            }
            let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".to_owned());
            println!(
                "{:<5} {:<8} {:<8} {:<22} {:<22} {:<8} {:<3} {:>6}",
                "ID", "STATUS", "HEALTH", "RAFT", "API", "TOKEN", "CA", "LAG"
            );
            for n in list.nodes {
                println!(
                    "{:<5} {:<8} {:<8} {:<22} {:<22} {:<8} {:<3} {:>6}",
                    n.id,
                    n.status,
                    or_dash(n.health.clone()),
                    n.raft_addr,
                    n.api_addr,
                    or_dash(n.token_role.map(|r| r.as_str().to_owned())),
                    if n.holds_ca { "yes" } else { "-" },
                    or_dash(n.lag.map(|l| l.to_string())),
                );
            }
        }
        NodeCommand::Remove { id } => {
            let removed = client.remove_node(id).await?;
            if json {
                print_json(&removed);
            } else if removed.left_membership {
                println!("removed node {id}: certificate revoked, out of the membership");
            } else {
                println!(
                    "removed node {id}: certificate revoked; the leader has not yet taken it \
                     out of the membership (`nexus node ls` shows when it has)"
                );
            }
        }
    }
    Ok(0)
}
