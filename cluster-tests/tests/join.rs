//! Clusters grown with `nexus init` and `nexus join` only: every node's
//! certificate comes from the cluster CA over the join RPC, every link is
//! mTLS, a joined node restarts without its token, a removed node is shut
//! out, and every refused join names its error and changes nothing.

// Tests: a failed unwrap or panic is a loud test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use nexus_cluster_tests::knock::{knock, refused_certificate};
use nexus_cluster_tests::{Cluster, JoinAttempt, Joiner, TokenVia};
use serde_json::{json, Value};

/// Mints a join token through node 1.
async fn token(cluster: &Cluster, body: Value) -> String {
    let (status, created) = cluster.post(1, "/v1/cluster/tokens", body).await;
    assert_eq!(status, 201, "{created}");
    created["token"].as_str().expect("token string").to_owned()
}

fn node_ids(list: &Value, status: &str) -> Vec<u64> {
    list["nodes"]
        .as_array()
        .expect("nodes array")
        .iter()
        .filter(|n| n["status"] == status)
        .filter_map(|n| n["id"].as_u64())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_grown_with_init_and_join_replicates_over_mtls_and_restarts_without_tokens() {
    let mut cluster = Cluster::init_and_join(3).await;
    cluster.wait_members(1, &[1, 2, 3], &[]).await;
    let leader = cluster.agreed_leader(&[1, 2, 3]).await;

    // Writes through any node are read back through every other.
    let (status, body) = cluster.create_tenant(3, "grown-3").await;
    assert_eq!(status, 201, "{body}");
    assert!(cluster
        .tenant_names(2)
        .await
        .contains(&"grown-3".to_owned()));

    // The joiners run `nexus join --token-file`: no process shows the token's secret.
    let secret = cluster.init_token().rsplit('.').next().unwrap().to_owned();
    for id in [1, 2, 3] {
        let pid = cluster.node(id).pid().expect("node runs");
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        assert!(cmdline.contains("--config"), "node {id}: {cmdline}");
        assert!(
            !cmdline.contains(&secret),
            "node {id} shows its token: {cmdline}"
        );
    }

    // The joiners hold their own key and a certificate, never the CA key.
    for id in [2, 3] {
        let data_dir = &cluster.node(id).data_dir;
        assert!(data_dir.join("tls/node.key").exists());
        assert!(!data_dir.join("tls/ca").exists(), "node {id} got the CA");
        assert!(data_dir.join("cluster/joined.json").exists());
    }
    let (status, nodes) = cluster.get(leader, "/v1/cluster/nodes").await;
    assert_eq!(status, 200, "{nodes}");
    let joined: Vec<u64> = nodes["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["token_role"] == "voter")
        .filter_map(|n| n["id"].as_u64())
        .collect();
    assert_eq!(joined, [2, 3]);
    // The init token allowed two joins and is spent.
    let (_, tokens) = cluster.get(1, "/v1/cluster/tokens").await;
    assert_eq!(tokens["tokens"][0]["uses_left"], 0, "{tokens}");

    // The founding node's data dir cannot be founded again.
    let again = cluster.run(1, &["init"]);
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("error[CLUSTER_ALREADY_INITIALIZED]"),
        "{stderr}"
    );

    // Every peer port refuses a TLS client without a certificate.
    for id in [1, 2, 3] {
        let bare = knock(cluster.node(id).raft, id, None, true);
        assert!(
            bare.output.contains("alert certificate required"),
            "node {id}: {}",
            bare.output
        );
    }

    // A joined node restarts with `nexus serve`, no token, and catches up.
    cluster.kill(3);
    let (status, body) = cluster.create_tenant(1, "while-3-was-down").await;
    assert_eq!(status, 201, "{body}");
    cluster.restart(3).await;
    let (status, body) = cluster.create_tenant(3, "after-restart").await;
    assert_eq!(status, 201, "{body}");
    let names = cluster.tenant_names(3).await;
    assert!(names.contains(&"while-3-was-down".to_owned()), "{names:?}");
    cluster.wait_members(3, &[1, 2, 3], &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_node_is_refused_everywhere_and_a_wiped_node_rejoins_under_a_new_id() {
    let mut cluster = Cluster::init_and_join(3).await;
    cluster.wait_members(1, &[1, 2, 3], &[]).await;

    let (status, body) = cluster.delete(1, "/v1/cluster/nodes/1").await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (409, &json!("NODE_REMOVE_SELF"))
    );
    let (status, body) = cluster.delete(1, "/v1/cluster/nodes/99").await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &json!("NODE_NOT_FOUND"))
    );

    let (status, body) = cluster.delete(1, "/v1/cluster/nodes/3").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({ "id": 3, "left_membership": true, "moved": [], "lost": [] })
    );
    cluster.wait_members(1, &[1, 2], &[]).await;
    cluster.wait_members(2, &[1, 2], &[]).await;

    // Node 3's certificate, still valid by date and CA, is refused by every
    // remaining member; a member's certificate is still let in.
    let removed = cluster.node(3).data_dir.join("tls");
    let member = cluster.node(2).data_dir.join("tls");
    for id in [1, 2] {
        let port = cluster.node(id).raft;
        let knocked = knock(port, id, Some(&removed), true);
        assert!(
            refused_certificate(&knocked),
            "node {id}: {}",
            knocked.output
        );
    }
    let admitted = knock(cluster.node(1).raft, 1, Some(&member), false);
    assert!(admitted.success, "{}", admitted.output);

    // The two remaining voters still commit (node 3 stops on its own: see
    // a_removed_leader_and_a_removed_follower_stop_with_exit_code_3).
    let (status, body) = cluster.create_tenant(2, "after-removal").await;
    assert_eq!(status, 201, "{body}");
    let (_, nodes) = cluster.get(1, "/v1/cluster/nodes").await;
    assert_eq!(node_ids(&nodes, "removed"), [3], "{nodes}");

    // Wiped and joined again, the machine is a new node with a new id.
    cluster.wipe(3);
    let again = token(&cluster, json!({ "uses": 1 })).await;
    cluster.join(4, &again, 1).await;
    cluster.wait_members(1, &[1, 2, 4], &[]).await;
    let (status, body) = cluster.create_tenant(4, "from-node-4").await;
    assert_eq!(status, 201, "{body}");
    assert!(cluster
        .tenant_names(4)
        .await
        .contains(&"after-removal".to_owned()));
}

/// What a refused join must leave alone: tokens, nodes and the Raft log.
async fn registry_state(cluster: &Cluster) -> (Value, Value, Value) {
    let (_, tokens) = cluster.get(1, "/v1/cluster/tokens").await;
    let (_, nodes) = cluster.get(1, "/v1/cluster/nodes").await;
    let status = cluster.status(1).await;
    (tokens, nodes, status["last_log_index"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_joins_name_their_error_and_change_nothing() {
    let mut a = Cluster::init_and_join(1).await;
    let b = Cluster::init_and_join(1).await;
    let a_peer = a.node(1).raft;
    let b_peer = b.node(1).raft;

    // A used-up token: its one use admits node 2.
    let single = token(&a, json!({ "uses": 1 })).await;
    a.join(2, &single, 1).await;
    a.wait_members(1, &[1, 2], &[]).await;

    let expired = token(&a, json!({ "ttl_secs": 1 })).await;
    let revoked = token(&a, json!({})).await;
    let revoked_id = revoked.split('.').nth(2).unwrap().to_owned();
    let (status, body) = a
        .delete(1, &format!("/v1/cluster/tokens/{revoked_id}"))
        .await;
    assert_eq!(status, 200, "{body}");
    let valid = token(&a, json!({})).await;
    let mut tampered = valid.clone();
    let last = if tampered.ends_with('0') { '1' } else { '0' };
    tampered.pop();
    tampered.push(last);
    tokio::time::sleep(Duration::from_millis(1_500)).await;

    let before = registry_state(&a).await;
    let other_token = b.init_token();
    let cases = [
        (
            "garbage",
            TokenVia::File("this is not a token"),
            a_peer,
            "JOIN_TOKEN_MALFORMED",
        ),
        (
            "expired",
            TokenVia::File(&expired),
            a_peer,
            "JOIN_TOKEN_EXPIRED",
        ),
        (
            "used-up",
            TokenVia::Stdin(&single),
            a_peer,
            "JOIN_TOKEN_USED_UP",
        ),
        (
            "revoked",
            TokenVia::Env(&revoked),
            a_peer,
            "JOIN_TOKEN_REVOKED",
        ),
        (
            "tampered",
            TokenVia::File(&tampered),
            a_peer,
            "JOIN_TOKEN_INVALID",
        ),
        (
            "other-cluster",
            TokenVia::File(&other_token),
            a_peer,
            "JOIN_CA_MISMATCH",
        ),
        (
            "wrong-server",
            TokenVia::File(&valid),
            b_peer,
            "JOIN_CA_MISMATCH",
        ),
        (
            "argument",
            TokenVia::Argument(&valid),
            a_peer,
            "JOIN_TOKEN_ON_COMMAND_LINE",
        ),
    ];
    for (name, via, peer, code) in cases {
        let attempt = a.join_attempt_via(name, via, peer);
        attempt.assert_refused(code);
    }
    // A joiner that cannot bind its API port stops before sending the
    // token, which stays usable (node 3 joins with it below).
    let busy = a.join_attempt_port_taken("port-taken", &valid, a_peer);
    busy.assert_refused("JOIN_BIND_FAILED");
    assert_eq!(registry_state(&a).await, before, "a refused join wrote");

    // The server of the wrong cluster never received a join request: the
    // joiner stopped at its CA before sending the secret.
    assert!(!b.log(1).contains("join request"), "cluster B heard a join");
    // And that token still works where it belongs.
    a.join(3, &valid, 1).await;
    a.wait_members(1, &[1, 2, 3], &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_racing_joins_with_a_one_use_token_admit_one_and_propose_once() {
    let cluster = Cluster::init_and_join(1).await;
    // A learner-role token: the winner is added as a learner and never
    // promoted, so its join costs exactly two entries (Redeem, learner).
    let single = token(&cluster, json!({ "uses": 1, "role": "learner" })).await;
    let before = cluster.status(1).await["last_log_index"].as_u64().unwrap();

    let peer = cluster.node(1).raft;
    let mut racers: Vec<Joiner> = (0..50)
        .map(|i| cluster.spawn_joiner(&format!("racer-{i}"), TokenVia::File(&single), peer))
        .collect();
    // Each racer either exits (refused) or is admitted and keeps running.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let settled = racers
            .iter_mut()
            .all(|r| r.admitted() || r.process.try_wait().unwrap().is_some());
        if settled {
            break;
        }
        assert!(Instant::now() < deadline, "racing joins did not settle");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let winners = racers.iter().filter(|r| r.admitted()).count();
    assert_eq!(winners, 1, "exactly one racer is admitted");
    cluster.wait_members(1, &[1], &[2]).await;
    let after = cluster.status(1).await["last_log_index"].as_u64().unwrap();

    let attempts: Vec<JoinAttempt> = racers.into_iter().map(Joiner::finish).collect();
    let refused: Vec<&JoinAttempt> = attempts
        .iter()
        .filter(|a| !a.data_dir.join("cluster/joined.json").exists())
        .collect();
    assert_eq!(refused.len(), 49);
    for attempt in refused {
        attempt.assert_refused("JOIN_TOKEN_USED_UP");
    }
    // The admission and the membership change, plus the winner's own report
    // of its labels and capacity (every node states it once at its start).
    assert!(
        after - before <= 3,
        "the race grew the log by {} entries (from {before} to {after})",
        after - before
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_leader_and_a_removed_follower_stop_with_exit_code_3() {
    // Four voters, so every membership change keeps a majority without
    // the node it removes.
    let mut cluster = Cluster::init_and_join(4).await;
    cluster.wait_members(1, &[1, 2, 3, 4], &[]).await;
    let leader = cluster.agreed_leader(&[1, 2, 3, 4]).await;
    let others: Vec<u64> = [1, 2, 3, 4]
        .into_iter()
        .filter(|id| *id != leader)
        .collect();

    // The leader, removed through another node, hands over and stops.
    let started = Instant::now();
    let (status, body) = cluster
        .delete(others[0], &format!("/v1/cluster/nodes/{leader}"))
        .await;
    assert_eq!(status, 200, "{body}");
    let code = cluster.wait_exit(leader, Duration::from_secs(30)).await;
    assert_eq!(code, Some(3), "{}", cluster.log_tail(leader));
    eprintln!(
        "removed leader {leader} exited after {:?}",
        started.elapsed()
    );
    cluster.wait_members(others[0], &others, &[]).await;

    // Then a follower of the new leader, removed through that leader.
    let new_leader = cluster.agreed_leader(&others).await;
    let follower = *others.iter().find(|id| **id != new_leader).unwrap();
    let remaining: Vec<u64> = others
        .iter()
        .copied()
        .filter(|id| *id != follower)
        .collect();
    let started = Instant::now();
    let (status, body) = cluster
        .delete(new_leader, &format!("/v1/cluster/nodes/{follower}"))
        .await;
    assert_eq!(status, 200, "{body}");
    let code = cluster.wait_exit(follower, Duration::from_secs(30)).await;
    assert_eq!(code, Some(3), "{}", cluster.log_tail(follower));
    eprintln!(
        "removed follower {follower} exited after {:?}",
        started.elapsed()
    );
    cluster.wait_members(new_leader, &remaining, &[]).await;

    for id in [leader, follower] {
        let log = cluster.log(id);
        assert!(
            log.contains("this node was removed from the cluster"),
            "node {id} says why it stopped:\n{}",
            cluster.log_tail(id)
        );
        let bytes = cluster.log_bytes(id);
        assert!(
            bytes < 1024 * 1024,
            "node {id} logged {bytes} bytes; most frequent lines:\n{}",
            frequent_lines(&log)
        );
    }
    // The remaining two still commit.
    let (status, body) = cluster.create_tenant(new_leader, "after-removals").await;
    assert_eq!(status, 201, "{body}");
}

/// The five most frequent lines of `log` with digits blanked (timestamps,
/// ids and counts differ), each with its count: what filled a log.
fn frequent_lines(log: &str) -> String {
    let mut counts = std::collections::HashMap::<String, usize>::new();
    for line in log.lines() {
        let shape: String = line
            .chars()
            .map(|c| if c.is_ascii_digit() { '#' } else { c })
            .take(200)
            .collect();
        *counts.entry(shape).or_default() += 1;
    }
    let mut top: Vec<(String, usize)> = counts.into_iter().collect();
    top.sort_by_key(|entry| std::cmp::Reverse(entry.1));
    top.iter()
        .take(5)
        .map(|(line, n)| format!("{n:>7} × {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `nexus ARGS --config CONFIG`: exit code, stdout and stderr.
fn nexus_cli(config: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(nexus_cluster_tests::nexus())
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("run nexus");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

/// Waits until `nexus ready` exits 0 (at most 60 s).
fn wait_ready(config: &std::path::Path) -> String {
    let start = Instant::now();
    loop {
        let (code, out, err) = nexus_cli(config, &["ready"]);
        if code == 0 {
            return out;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "never ready: {err}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn init_serve_founds_once_docks_its_example_once_and_then_just_serves() {
    let dir = tempfile::tempdir().unwrap();
    let port = |ip: &str| {
        std::net::TcpListener::bind((ip, 0))
            .unwrap()
            .local_addr()
            .unwrap()
    };
    let (api, raft) = (port("127.0.3.1"), port("127.0.3.1"));
    let config = dir.path().join("n1.toml");
    let data = dir.path().join("data");
    std::fs::write(
        &config,
        format!(
            "listen = \"{api}\"\ndata_dir = \"{}\"\n[cluster]\nraft_listen = \"{raft}\"\n",
            data.display()
        ),
    )
    .unwrap();
    let token_out = dir.path().join("shared-token");
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/hello");
    let start = || {
        std::process::Command::new(nexus_cluster_tests::nexus())
            .args(["init", "--serve", "--token-uses", "2", "--token-out"])
            .arg(&token_out)
            .arg("--example")
            .arg(&example)
            .arg("--config")
            .arg(&config)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn nexus init --serve")
    };

    let mut first = start();
    assert_eq!(wait_ready(&config), "node 1 is ready\n");
    let token = std::fs::read_to_string(&token_out).unwrap();
    assert_eq!(
        token,
        std::fs::read_to_string(data.join("tls/join-token")).unwrap()
    );
    assert!(token.starts_with("NXJ1."), "{token}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&token_out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let (code, listed, err) = nexus_cli(&config, &["sandbox", "ls", "--json"]);
    assert_eq!(code, 0, "{err}");
    let names = |listed: &str| -> Vec<String> {
        let list: Value = serde_json::from_str(listed).unwrap();
        list["sandboxes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&listed), ["hello"]);
    first.kill().unwrap();
    let _ = first.wait();

    // Down: `nexus ready` fails with the code a health check sees.
    let (code, _, err) = nexus_cli(&config, &["ready"]);
    assert_eq!(code, 1);
    assert!(err.contains("NODE_UNREACHABLE"), "{err}");

    // A second start finds the founded data dir: it serves, mints and docks nothing.
    let mut second = start();
    wait_ready(&config);
    let (code, listed, err) = nexus_cli(&config, &["sandbox", "ls", "--json"]);
    second.kill().unwrap();
    let output = second.wait_with_output().unwrap();
    assert_eq!(code, 0, "{err}");
    assert_eq!(names(&listed), ["hello"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let said = format!(
        "data dir {} already founded this cluster; starting it",
        data.display()
    );
    assert!(stderr.contains(&said), "{stderr}");
    assert_eq!(std::fs::read_to_string(&token_out).unwrap(), token);
}
