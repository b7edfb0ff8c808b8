//! `nexus node ls | remove`: the cluster's nodes (admin key needed).

use clap::Subcommand;

use super::output::print_json;
use crate::client::NodeClient;
use crate::dataplane::drain::DrainEvent;
use nexus_errors::UserError;

/// Node commands.
#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// List members, admitted joiners and removed nodes; CA marks the nodes
    /// that hold the cluster CA key.
    Ls,
    /// Move every sandbox off a node (live), then keep new ones off it
    /// until `undrain`; a progress bar, or JSON lines with --json.
    Drain {
        /// The node id (`nexus node ls`).
        id: u64,
    },
    /// Let a drained node take new sandboxes again.
    Undrain {
        /// The node id.
        id: u64,
    },
    /// Remove a node: revoke its certificate and take it out of the membership.
    Remove {
        /// The node id (`nexus node ls`).
        id: u64,
        /// Remove it even though it homes sandboxes: they are drained to
        /// other members if it answers, otherwise lost (and listed).
        #[arg(long)]
        force: bool,
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
                "{:<5} {:<17} {:<8} {:<22} {:<22} {:<8} {:<3} {:>6} {:>9}  LABELS",
                "ID", "STATUS", "HEALTH", "RAFT", "API", "TOKEN", "CA", "LAG", "SANDBOXES"
            );
            for n in list.nodes {
                let status = if n.drained {
                    format!("{} (drained)", n.status)
                } else {
                    n.status.clone()
                };
                let labels = if n.labels.is_empty() {
                    "-".to_owned()
                } else {
                    crate::config::render(&n.labels)
                };
                println!(
                    "{:<5} {:<17} {:<8} {:<22} {:<22} {:<8} {:<3} {:>6} {:>9}  {}",
                    n.id,
                    status,
                    or_dash(n.health.clone()),
                    n.raft_addr,
                    n.api_addr,
                    or_dash(n.token_role.map(|r| r.as_str().to_owned())),
                    if n.holds_ca { "yes" } else { "-" },
                    or_dash(n.lag.map(|l| l.to_string())),
                    n.sandboxes,
                    labels,
                );
            }
        }
        NodeCommand::Drain { id } => return drain(client, id, json).await,
        NodeCommand::Undrain { id } => {
            let undrained = client.undrain_node(id).await?;
            if json {
                print_json(&undrained);
            } else {
                println!("node {id} takes new sandboxes again");
            }
        }
        NodeCommand::Remove { id, force } => {
            let removed = client.remove_node(id, force).await?;
            if json {
                print_json(&removed);
                return Ok(0);
            }
            if !removed.moved.is_empty() {
                println!(
                    "moved {} sandbox(es) off node {id} first",
                    removed.moved.len()
                );
            }
            for lost in &removed.lost {
                println!(
                    "LOST {} ({}, tenant {}, {}): its only copy was on node {id}",
                    lost.id, lost.name, lost.tenant_id, lost.state
                );
            }
            if removed.left_membership {
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

/// Drains node `id`: a progress bar of the moves (JSON lines with
/// `json`); exit code 1 when a sandbox could not be moved.
async fn drain(client: &NodeClient, id: u64, json: bool) -> Result<i32, UserError> {
    let bar = indicatif::ProgressBar::hidden();
    let last = client
        .drain_node(id, |event| {
            if json {
                // One event per line, as the node streams them.
                println!("{}", serde_json::to_string(event).unwrap_or_default());
                return;
            }
            match event {
                DrainEvent::Started { sandboxes, .. } => {
                    bar.set_length(*sandboxes as u64);
                    bar.set_style(
                        indicatif::ProgressStyle::with_template(
                            "{bar:30} {pos}/{len} sandboxes moved {msg}",
                        )
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                    );
                    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                }
                DrainEvent::Moved { sandbox, to, .. } => {
                    bar.set_message(format!("({sandbox} → node {to})"));
                    bar.inc(1);
                }
                DrainEvent::Failed {
                    sandbox,
                    code,
                    message,
                } => {
                    bar.suspend(|| eprintln!("error[{code}]: {sandbox}: {message}"));
                    bar.inc(1);
                }
                DrainEvent::Done { .. } => bar.finish_and_clear(),
            }
        })
        .await?;
    match last {
        Some(DrainEvent::Done { moved, failed }) => {
            if !json {
                println!(
                    "node {id} drained: {moved} sandbox(es) moved, {failed} left on it; \
                     it takes no new sandboxes until `nexus node undrain {id}`"
                );
            }
            Ok(if failed == 0 { 0 } else { 1 })
        }
        _ => Err(UserError::new(
            nexus_errors::ErrorCode::NodeUnreachable,
            format!("the drain of node {id} ended before it reported the end"),
        )),
    }
}
