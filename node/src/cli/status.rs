//! `nexus status`: the cluster as the node sees it.

use super::output::print_json;
use crate::client::NodeClient;
use crate::cluster::status::ClusterStatus;
use nexus_errors::UserError;

/// Prints the answering node's view of the cluster.
pub async fn run(client: &NodeClient, json: bool) -> Result<i32, UserError> {
    let status = client.cluster_status().await?;
    if json {
        print_json(&status);
    } else {
        print!("{}", render(&status));
    }
    Ok(0)
}

/// Asks the node whether it takes calls; prints its answer.
pub async fn ready(client: &NodeClient, json: bool) -> Result<i32, UserError> {
    let answer = client.ready().await?;
    if json {
        print_json(&answer);
    } else {
        println!("node {} is ready", answer.node_id);
    }
    Ok(0)
}

/// The human form of a status.
fn render(s: &ClusterStatus) -> String {
    let index = |i: Option<u64>| i.map_or_else(|| "-".to_owned(), |i| i.to_string());
    let leader = s
        .leader
        .map_or_else(|| "none".to_owned(), |l| l.to_string());
    let mut out = format!(
        "node {} ({}), leader {leader}, term {}\nlog: last {}, applied {}, snapshot {}\n\n",
        s.node_id,
        s.role,
        s.term,
        index(s.last_log_index),
        index(s.last_applied_index),
        index(s.snapshot_index),
    );
    out.push_str(&format!(
        "{:<5} {:<8} {:<8} {:<22} {:<22} {:>8} {:>6}\n",
        "ID", "KIND", "HEALTH", "RAFT", "API", "MATCHED", "LAG"
    ));
    for m in &s.members {
        let role = if s.leader == Some(m.id) {
            "leader"
        } else {
            &m.kind
        };
        out.push_str(&format!(
            "{:<5} {:<8} {:<8} {:<22} {:<22} {:>8} {:>6}\n",
            m.id,
            role,
            m.health,
            m.raft_addr,
            m.api_addr,
            index(m.matched_index),
            index(m.lag)
        ));
    }
    if s.leader != Some(s.node_id) && s.members.len() > 1 {
        out.push_str(
            "\n(health and lag are the leader's view: run with --node at the leader's API)\n",
        );
    }
    for warning in &s.warnings {
        out.push_str(&format!("warning: {warning}\n"));
    }
    out
}
