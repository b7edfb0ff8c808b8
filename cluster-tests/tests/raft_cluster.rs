//! The replicated registry on real nodes: `nexus serve` processes on
//! loopback, talking gRPC over mTLS through fault-injecting proxies.

// Tests: a failed unwrap or panic is a loud test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use futures::future::join_all;
use nexus_cluster_tests::{Cluster, ClusterOptions};
use serde_json::{json, Value};

const ALL: [u64; 3] = [1, 2, 3];

/// Writes tenants `{prefix}-{i}` for i in `range` through node `via`,
/// `clients` at a time; every write must be acknowledged.
async fn write_tenants(
    cluster: &Cluster,
    via: u64,
    prefix: &str,
    range: std::ops::Range<usize>,
    clients: usize,
) {
    let names: Vec<String> = range.map(|i| format!("{prefix}-{i}")).collect();
    for chunk in names.chunks(clients) {
        let writes = chunk.iter().map(|name| cluster.create_tenant(via, name));
        for (status, body) in join_all(writes).await {
            assert_eq!(status, 201, "write through node {via}: {body}");
        }
    }
}

/// Waits (up to 30 s) until node `via`, leading, reports member `id` with
/// health `want`; returns that status.
async fn wait_health(cluster: &Cluster, via: u64, id: u64, want: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let status = cluster.status(via).await;
        let health = status["members"]
            .as_array()
            .and_then(|ms| ms.iter().find(|m| m["id"] == json!(id)))
            .map(|m| m["health"].clone());
        if health == Some(json!(want)) {
            return status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "node {via} never reported node {id} {want}: {status}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_leader_and_a_write_through_any_node_is_read_back_through_every_other() {
    let cluster = Cluster::start(ClusterOptions::default()).await;
    let leader = cluster.agreed_leader(&ALL).await;
    for id in ALL {
        let status = cluster.status(id).await;
        assert_eq!(status["leader"], json!(leader), "node {id}: {status}");
        let members: Vec<u64> = status["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_u64().unwrap())
            .collect();
        assert_eq!(members, ALL, "node {id}: {status}");
        let expected_role = if id == leader { "leader" } else { "follower" };
        assert_eq!(status["role"], json!(expected_role), "node {id}: {status}");
    }
    for via in ALL {
        let name = format!("via-{via}");
        let (status, body) = cluster.create_tenant(via, &name).await;
        assert_eq!(status, 201, "{body}");
        // Read back through every node, right after the write returned.
        for reader in ALL {
            let names = cluster.tenant_names(reader).await;
            assert!(
                names.contains(&name),
                "node {reader} misses {name}: {names:?}"
            );
        }
    }
}

/// The founder cannot make the admin key before a majority is up; members
/// started later than its write deadline (8 s here) find it still waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_founder_waits_for_members_that_start_after_its_write_deadline() {
    let cluster = Cluster::start(ClusterOptions {
        others_start_after: std::time::Duration::from_secs(10),
        ..ClusterOptions::default()
    })
    .await;
    let log = cluster.log(1);
    assert!(
        log.contains("waiting for a majority of the cluster's members to start"),
        "{log}"
    );
    let (status, body) = cluster.create_tenant(2, "after-the-wait").await;
    assert_eq!(status, 201, "{body}");
    assert!(cluster
        .tenant_names(3)
        .await
        .contains(&"after-the-wait".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_leader_is_replaced_and_catches_up_after_restart() {
    let mut cluster = Cluster::start(ClusterOptions::default()).await;
    let old = cluster.agreed_leader(&ALL).await;
    write_tenants(&cluster, old, "before", 0..5, 5).await;
    for id in ALL {
        let status = wait_health(&cluster, old, id, "up").await;
        assert_eq!(status["warnings"], json!([]), "{status}");
    }
    let follower = ALL.into_iter().find(|id| *id != old).unwrap();
    let seen = cluster.status(follower).await;
    let member = &seen["members"][usize::try_from(old - 1).unwrap()];
    assert_eq!(member["health"], json!("unknown"), "{seen}");

    cluster.kill(old);
    let survivors: Vec<u64> = ALL.into_iter().filter(|id| *id != old).collect();
    let new = cluster.agreed_leader(&survivors).await;
    assert_ne!(new, old);
    let status = wait_health(&cluster, new, old, "down").await;
    let warnings = status["warnings"].to_string();
    assert!(
        warnings.contains(&format!("node(s) {old} have not answered the leader")),
        "{status}"
    );
    for via in &survivors {
        write_tenants(&cluster, *via, &format!("after-{via}"), 0..3, 3).await;
    }

    cluster.restart(old).await;
    wait_health(&cluster, new, old, "up").await;
    let expected = cluster.tenant_names(new).await;
    assert_eq!(expected.len(), 1 + 5 + 6, "{expected:?}");
    assert_eq!(cluster.tenant_names(old).await, expected);
    assert_eq!(cluster.agreed_leader(&ALL).await, new);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_minority_cannot_commit_and_converges_after_healing() {
    let cluster = Cluster::start(ClusterOptions::default()).await;
    let old = cluster.agreed_leader(&ALL).await;
    cluster.isolate(old);
    let majority: Vec<u64> = ALL.into_iter().filter(|id| *id != old).collect();

    // The cut-off leader cannot commit: the write gives up with its code.
    let (status, body) = cluster.create_tenant(old, "minority").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(error_code(&body), "CLUSTER_NO_LEADER", "{body}");
    // Nor can it serve a fresh read.
    let (status, body) = cluster.get(old, "/v1/tenants").await;
    assert_eq!(
        (status, error_code(&body)),
        (503, "CLUSTER_NO_LEADER"),
        "{body}"
    );

    // The majority elects a leader of its own and goes on committing.
    let new = cluster.agreed_leader(&majority).await;
    write_tenants(&cluster, new, "majority", 0..3, 3).await;

    cluster.heal();
    let expected = cluster.tenant_names(new).await;
    assert!(!expected.contains(&"minority".to_owned()), "{expected:?}");
    assert_eq!(expected.len(), 1 + 3, "{expected:?}");
    for id in ALL {
        assert_eq!(cluster.tenant_names(id).await, expected, "node {id}");
    }
    assert_eq!(cluster.agreed_leader(&ALL).await, new);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_follower_never_campaigns_and_rejoins_without_an_election() {
    let cluster = Cluster::start(ClusterOptions::default()).await;
    let leader = cluster.agreed_leader(&ALL).await;
    let term = cluster.status(leader).await["term"].clone();
    let follower = ALL.into_iter().find(|id| *id != leader).unwrap();
    cluster.isolate(follower);
    write_tenants(&cluster, leader, "while-cut", 0..3, 3).await;
    // Longer than the leader timeout, the voters' lease and two campaign
    // pauses: openraft's own timer would have raised its term by now.
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let cut_off = cluster.status(follower).await;
    assert_eq!(
        cut_off["term"], term,
        "the cut-off follower kept its term: {cut_off}"
    );
    assert!(
        !cluster.log(follower).contains("campaigning"),
        "{}",
        cluster.log_tail(follower)
    );

    cluster.heal();
    let expected = cluster.tenant_names(leader).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while cluster.tenant_names(follower).await != expected {
        assert!(
            std::time::Instant::now() < deadline,
            "node {follower} never caught up"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(cluster.agreed_leader(&ALL).await, leader, "no new leader");
    for id in ALL {
        assert_eq!(
            cluster.status(id).await["term"],
            term,
            "node {id}: no election"
        );
    }
}

/// The size of the current snapshot's data file in `dir` (0 without one):
/// `current.json` names it.
fn snapshot_bytes(dir: &std::path::Path) -> u64 {
    let Ok(current) = std::fs::read(dir.join("current.json")) else {
        return 0;
    };
    let current: serde_json::Value = serde_json::from_slice(&current).unwrap();
    let data = current["data"]
        .as_str()
        .expect("current.json names its data file");
    std::fs::metadata(dir.join(data)).map_or(0, |m| m.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_far_behind_catches_up_through_a_snapshot_over_8_mib() {
    let options = ClusterOptions {
        snapshot_every_logs: 2_000,
        logs_kept_after_snapshot: 100,
        ..ClusterOptions::default()
    };
    let mut cluster = Cluster::start(options).await;
    let leader = cluster.agreed_leader(&ALL).await;
    let behind = ALL.into_iter().find(|id| *id != leader).unwrap();
    cluster.kill(behind);

    // Write until the leader's snapshot alone is over 8 MiB.
    let snapshots = cluster.node(leader).data_dir.join("raft/snapshots");
    let mut written = 0;
    while snapshot_bytes(&snapshots) <= 8 << 20 {
        write_tenants(&cluster, leader, "bulk", written..written + 1_000, 64).await;
        written += 1_000;
        assert!(written <= 60_000, "snapshot still not over 8 MiB");
    }
    let size = snapshot_bytes(&snapshots);
    eprintln!("{written} tenants written; leader snapshot {size} bytes");
    // One more round so the log the follower needs is purged past it.
    write_tenants(&cluster, leader, "tail", 0..64, 64).await;

    cluster.restart(behind).await;
    let expected = cluster.tenant_names(leader).await;
    assert_eq!(cluster.tenant_names(behind).await, expected);
    let status = cluster.status(behind).await;
    // Its log was purged far past where it stopped: it can only have caught
    // up by installing the leader's snapshot, the first of which covers
    // the leader's first 2,000 entries (indexes 0 to 1,999; writes travel
    // many to an entry, so 42,000 of them fill about that many).
    let installed = status["snapshot_index"].as_u64().expect("a snapshot index");
    assert!(installed >= 1_999, "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_cluster_restarted_keeps_every_acknowledged_write() {
    let mut cluster = Cluster::start(ClusterOptions::default()).await;
    let leader = cluster.agreed_leader(&ALL).await;
    for via in ALL {
        write_tenants(&cluster, via, &format!("acked-{via}"), 0..10, 10).await;
    }
    let expected = cluster.tenant_names(leader).await;
    assert_eq!(expected.len(), 1 + 30);

    for id in ALL {
        cluster.kill(id);
    }
    for id in ALL {
        cluster.spawn(id);
    }
    for id in ALL {
        cluster.wait_ready(id).await;
    }
    cluster.agreed_leader(&ALL).await;
    for id in ALL {
        assert_eq!(cluster.tenant_names(id).await, expected, "node {id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_generation_checked_transitions_have_one_winner_per_generation() {
    let cluster = Cluster::start(ClusterOptions::default()).await;
    cluster.agreed_leader(&ALL).await;
    let sandbox = cluster.dock_echo(1, "raced").await;
    // A first call makes it active; from there it alternates.
    let (status, body) = cluster.call(1, &sandbox, json!({})).await;
    assert_eq!(status, 200, "{body}");

    for round in 0..6u64 {
        let verb = if round % 2 == 0 { "suspend" } else { "resume" };
        let (_, before) = cluster.get(1, &format!("/v1/sandboxes/{sandbox}")).await;
        let generation = before["generation"].as_u64().expect("generation");
        let path = format!("/v1/sandboxes/{sandbox}/{verb}");
        let body = json!({ "expected_generation": generation });
        let racers = (0..64).map(|_| cluster.post(1, &path, body.clone()));
        let results = join_all(racers).await;
        let winners = results.iter().filter(|(s, _)| *s == 200).count();
        let statuses: Vec<u16> = results.iter().map(|(s, _)| *s).collect();
        assert_eq!(winners, 1, "round {round} ({verb}): {statuses:?}");
        for (status, body) in results.iter().filter(|(s, _)| *s != 200) {
            assert_eq!(*status, 409, "{body}");
            assert!(
                matches!(
                    error_code(body),
                    "SANDBOX_STALE_GENERATION" | "SANDBOX_INVALID_TRANSITION"
                ),
                "{body}"
            );
        }
        let (_, after) = cluster.get(2, &format!("/v1/sandboxes/{sandbox}")).await;
        assert_eq!(
            after["generation"].as_u64(),
            Some(generation + 1),
            "{after}"
        );
    }
}
