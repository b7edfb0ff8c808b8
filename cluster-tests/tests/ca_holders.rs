//! Joins through any node: a member without the CA key forwards the join
//! over mTLS to a node that holds it; with no holder up the join is refused
//! with `JOIN_CA_UNAVAILABLE` and its token stays unused; after `nexus ca
//! export` on the founder and `nexus ca import` on a second node, joins
//! survive the founder's loss.

// Tests: a failed unwrap or panic is a loud test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use nexus_cluster_tests::Cluster;
use serde_json::{json, Value};

/// Mints a learner join token through node `via`; returns the token and
/// its id. Learners keep the voters at 1, 2, 3, so two of them keep a
/// quorum while node 1 is down.
async fn learner_token(cluster: &Cluster, via: u64, uses: u32) -> (String, String) {
    let body = json!({ "uses": uses, "role": "learner" });
    let (status, created) = cluster.post(via, "/v1/cluster/tokens", body).await;
    assert_eq!(status, 201, "{created}");
    let token = created["token"].as_str().unwrap().to_owned();
    let id = created["info"]["id"].as_str().unwrap().to_owned();
    (token, id)
}

/// The uses left of token `id`, read through node `via`.
async fn uses_left(cluster: &Cluster, via: u64, id: &str) -> u64 {
    let (status, list) = cluster.get(via, "/v1/cluster/tokens").await;
    assert_eq!(status, 200, "{list}");
    list["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id)
        .and_then(|t| t["uses_left"].as_u64())
        .unwrap_or_else(|| panic!("token {id} in {list}"))
}

/// The ids `GET /v1/cluster/nodes` on node `via` marks as CA holders.
async fn ca_holders(cluster: &Cluster, via: u64) -> Vec<u64> {
    let (status, list) = cluster.get(via, "/v1/cluster/nodes").await;
    assert_eq!(status, 200, "{list}");
    list["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["holds_ca"] == true)
        .filter_map(|n| n["id"].as_u64())
        .collect()
}

/// Waits (at most 60 s) until node `via` lists exactly `holders`.
async fn wait_ca_holders(cluster: &Cluster, via: u64, holders: &[u64]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        seen = ca_holders(cluster, via).await;
        if seen == holders {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("node {via} lists CA holders {seen:?}, not {holders:?}");
}

fn run_ok(cluster: &Cluster, id: u64, args: &[&str]) -> String {
    let out = cluster.run(id, args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "nexus {args:?} on node {id}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_through_any_node_reach_a_ca_holder_and_survive_the_founders_loss() {
    let mut cluster = Cluster::init_and_join(3).await;
    cluster.wait_members(1, &[1, 2, 3], &[]).await;
    // The founder recorded itself at `nexus init`; joined nodes hold no key.
    wait_ca_holders(&cluster, 2, &[1]).await;

    // Through node 2, which holds no CA key, while node 1 is up: node 2
    // forwards the join to node 1, which admits it.
    let (first, _) = learner_token(&cluster, 1, 1).await;
    let (later, later_id) = learner_token(&cluster, 1, 3).await;
    cluster.join(4, &first, 2).await;
    cluster.wait_members(1, &[1, 2, 3], &[4]).await;
    assert!(
        cluster
            .log(2)
            .contains("a CA holder answered a forwarded join"),
        "{}",
        cluster.log_tail(2)
    );
    assert!(
        cluster.log(1).contains("join request forwarded by a peer"),
        "{}",
        cluster.log_tail(1)
    );
    assert!(!cluster.node(4).data_dir.join("tls/ca").exists());

    // With node 1 down, a join through node 2 finds no holder: refused with
    // the holder it tried, and the token is not spent.
    cluster.kill(1);
    let founder = cluster.node(1).raft.to_string();
    let attempt = cluster.join_attempt("no-holder", &later, cluster.node(2).raft);
    attempt.assert_refused("JOIN_CA_UNAVAILABLE");
    assert!(
        attempt.output.contains(&format!("node 1 at {founder}")),
        "the refusal names the holder it tried: {}",
        attempt.output
    );
    assert!(
        attempt.output.contains("the token was not spent"),
        "{}",
        attempt.output
    );
    assert_eq!(uses_left(&cluster, 2, &later_id).await, 3);

    // The CA backup procedure: export from the founder's data dir, import
    // into node 2's while it is stopped, start node 2 again.
    let export = cluster
        .node(1)
        .data_dir
        .parent()
        .unwrap()
        .join("ca-export.pem");
    let export_arg = export.to_str().unwrap();
    let exported = run_ok(&cluster, 1, &["ca", "export", "--out", export_arg]);
    assert!(exported.contains("exported cluster CA"), "{exported}");
    assert_eq!(mode(&export), 0o600);
    let again = cluster.run(1, &["ca", "export", "--out", export_arg]);
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("error[CA_EXPORT_EXISTS]"),
        "{again:?}"
    );

    let refused_while_running = cluster.run(2, &["ca", "import", export_arg]);
    assert!(
        String::from_utf8_lossy(&refused_while_running.stderr).contains("error[DATA_DIR_LOCKED]"),
        "{refused_while_running:?}"
    );
    cluster.kill(2);
    let imported = run_ok(&cluster, 2, &["ca", "import", export_arg]);
    assert!(imported.contains("imported cluster CA"), "{imported}");
    let ca_dir = cluster.node(2).data_dir.join("tls/ca");
    assert_eq!(mode(&ca_dir), 0o700);
    assert_eq!(mode(&ca_dir.join("ca.key")), 0o600);
    cluster.restart(2).await;
    wait_ca_holders(&cluster, 3, &[1, 2]).await;

    // Node 1 is still down: node 2 admits a join itself, and node 3 (no
    // key) forwards one past the unreachable node 1 to node 2.
    cluster.join(5, &later, 2).await;
    cluster.join(6, &later, 3).await;
    cluster.wait_members(2, &[1, 2, 3], &[4, 5, 6]).await;
    assert_eq!(uses_left(&cluster, 3, &later_id).await, 1);
    let (status, body) = cluster.create_tenant(6, "joined-without-the-founder").await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_whose_only_holder_is_down_refuses_joins_everywhere_with_the_same_code() {
    let mut cluster = Cluster::init_and_join(3).await;
    cluster.wait_members(1, &[1, 2, 3], &[]).await;
    wait_ca_holders(&cluster, 3, &[1]).await;
    let (token, id) = learner_token(&cluster, 1, 1).await;
    cluster.kill(1);
    for via in [2, 3] {
        let attempt = cluster.join_attempt(&format!("via-{via}"), &token, cluster.node(via).raft);
        attempt.assert_refused("JOIN_CA_UNAVAILABLE");
        assert!(
            attempt
                .output
                .contains(&format!("node {via} does not hold the cluster CA key")),
            "{}",
            attempt.output
        );
    }
    assert_eq!(uses_left(&cluster, 2, &id).await, 1);
    // The answer to the operator: `nexus node ls` (the API) names node 1 as
    // the only holder.
    let (_, nodes): (u16, Value) = cluster.get(3, "/v1/cluster/nodes").await;
    let holder = nodes["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["holds_ca"] == true)
        .unwrap();
    assert_eq!(holder["id"], 1, "{nodes}");
}
