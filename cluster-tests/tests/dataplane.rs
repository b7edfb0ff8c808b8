//! The data plane on real nodes: `nexus serve` processes on loopback whose
//! requests for a sandbox homed elsewhere travel to its home over QUIC with
//! mTLS, so every node serves every sandbox.

// Tests: a failed unwrap or panic is a loud test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use nexus_cluster_tests::{json_lines, Cluster, ClusterOptions};
use serde_json::{json, Value};

const ALL: [u64; 3] = [1, 2, 3];

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_docked_through_node_1_is_called_suspended_and_resumed_through_every_node() {
    let mut cluster = Cluster::start(ClusterOptions::default()).await;
    cluster.agreed_leader(&ALL).await;
    let sandbox = cluster.dock_echo(1, "everywhere").await;
    let path = |verb: &str| format!("/v1/sandboxes/{sandbox}/{verb}");

    for via in ALL {
        let said = format!("hello through node {via}");
        let (status, body) = cluster
            .post(via, &path("call"), json!({ "stdin": said }))
            .await;
        assert_eq!(status, 200, "call through node {via}: {body}");
        assert_eq!(body["exit_code"], 0, "{body}");
        assert_eq!(body["stdout"], said, "{body}");

        let (status, body) = cluster.post(via, &path("suspend"), json!({})).await;
        assert_eq!(status, 200, "suspend through node {via}: {body}");
        assert_eq!(body["state"], "suspended", "{body}");
        assert_eq!(body["home_node"], 1, "{body}");

        let (status, body) = cluster.post(via, &path("resume"), json!({})).await;
        assert_eq!(status, 200, "resume through node {via}: {body}");
        assert_eq!(body["state"], "active", "{body}");

        // `sandbox info` through any node is the home's view of it.
        let (status, body) = cluster.get(via, &format!("/v1/sandboxes/{sandbox}")).await;
        assert_eq!(status, 200, "info through node {via}: {body}");
        assert_eq!(body["home_node"], 1, "{body}");
    }

    // Its log, read through another node, is the home's.
    let (status, logs) = cluster.get(3, &path("logs")).await;
    assert_eq!(status, 200, "{logs}");
    assert_eq!(logs["node_id"], 1, "{logs}");
    let events: Vec<&str> = logs["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "event")
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "created → active (first call)",
            "active → suspended",
            "suspended → active",
            "active → suspended",
            "suspended → active",
            "active → suspended",
            "suspended → active",
        ]
    );

    // Each node's metrics say what it did: the home ran every call, the
    // others forwarded theirs over QUIC; the leader reports its peers' lag.
    let home = metrics(&cluster, 1).await;
    let ok = r#"nexus_calls_total{outcome="ok",shape="command"}"#;
    assert_eq!(sample(&home, ok), Some(3.0), "{home}");
    assert_eq!(
        sample(&home, r#"nexus_sandboxes{state="active"}"#),
        Some(1.0)
    );
    let accepted = sample(&home, r#"nexus_quic_streams_total{direction="accepted"}"#);
    assert!(accepted.unwrap_or(0.0) >= 8.0, "{home}");
    for via in [2, 3] {
        let text = metrics(&cluster, via).await;
        assert_eq!(sample(&text, ok), None, "node {via} ran no call\n{text}");
        let opened = sample(&text, r#"nexus_quic_streams_total{direction="opened"}"#);
        assert!(opened.unwrap_or(0.0) >= 4.0, "node {via}\n{text}");
        let sent = sample(&text, r#"nexus_quic_bytes_total{direction="sent"}"#);
        assert!(sent.unwrap_or(0.0) > 0.0, "node {via}\n{text}");
        assert_eq!(sample(&text, "nexus_raft_members"), Some(3.0), "{text}");
    }
    let leader = cluster.agreed_leader(&ALL).await;
    let text = metrics(&cluster, leader).await;
    assert_eq!(sample(&text, "nexus_raft_leader"), Some(1.0), "{text}");
    for peer in ALL {
        let lag = format!(r#"nexus_raft_peer_lag_entries{{peer="{peer}"}}"#);
        assert!(sample(&text, &lag).is_some(), "{lag}\n{text}");
    }

    // Another tenant's key is refused by the node it reaches, as at home.
    let (status, tenant) = cluster.create_tenant(1, "stranger").await;
    assert_eq!(status, 201, "{tenant}");
    let stranger_key = tenant["api_key"].as_str().expect("tenant key").to_owned();
    let refused = cluster
        .http()
        .post(format!("{}{}", cluster.node(2).url(), path("call")))
        .bearer_auth(&stranger_key)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 404);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(error_code(&body), "SANDBOX_NOT_FOUND", "{body}");

    // With its home down, the sandbox is unreachable through the others,
    // and the refusal names the home and its address.
    cluster.kill(1);
    let home_bulk = cluster.node(1).raft.to_string();
    for via in [2, 3] {
        let (status, body) = cluster.post(via, &path("call"), json!({})).await;
        assert_eq!(
            (status, error_code(&body)),
            (503, "SANDBOX_HOME_UNREACHABLE"),
            "{body}"
        );
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("lives on node 1"), "{message}");
        assert!(message.contains(&home_bulk), "{message}");
        assert!(!body["error"]["hint"]
            .as_str()
            .unwrap_or_default()
            .is_empty());
    }
    // Back up, it answers through every node again.
    cluster.spawn(1);
    cluster.wait_ready(1).await;
    for via in ALL {
        let (status, body) = cluster
            .post(via, &path("call"), json!({ "stdin": "back" }))
            .await;
        assert_eq!(status, 200, "call through node {via} after restart: {body}");
        assert_eq!(body["stdout"], "back", "{body}");
    }
}

/// Node `id`'s `/metrics` (admin key).
async fn metrics(cluster: &Cluster, id: u64) -> String {
    let response = cluster
        .http()
        .get(format!("{}/metrics", cluster.node(id).url()))
        .bearer_auth(cluster.admin_key())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// The value of the sample `series` (name and labels exactly as printed).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Labels and capacity of the placement test's nodes: node 3 is small
/// (128 MiB of sandbox memory, two compute sandboxes' worth).
fn labelled_nodes() -> ClusterOptions {
    ClusterOptions {
        node_config: BTreeMap::from([
            (1, "[node]\nlabels = { zone = \"a\" }\n".to_owned()),
            (
                2,
                "[node]\nlabels = { zone = \"b\", disk = \"ssd\" }\n".to_owned(),
            ),
            (
                3,
                "[node]\nlabels = { zone = \"b\" }\nmemory_bytes = 134217728\n".to_owned(),
            ),
        ]),
        ..ClusterOptions::default()
    }
}

/// Waits until every node's report (labels, capacity) is in the registry.
async fn reports_in(cluster: &Cluster) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = cluster.get(1, "/v1/cluster/nodes").await;
        let nodes = body["nodes"].as_array().cloned().unwrap_or_default();
        let reported = nodes.iter().filter(|n| n["max_sandboxes"].is_u64()).count();
        if status == 200 && reported == ALL.len() {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "nodes did not report their labels: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docks_go_to_the_named_node_to_matching_labels_or_where_most_capacity_is_free() {
    let cluster = Cluster::start(labelled_nodes()).await;
    cluster.agreed_leader(&ALL).await;
    let listed = reports_in(&cluster).await;
    assert_eq!(
        listed["nodes"][1]["labels"],
        json!({"zone": "b", "disk": "ssd"})
    );
    assert_eq!(listed["nodes"][2]["memory_bytes"], 134_217_728, "{listed}");
    assert_eq!(listed["nodes"][0]["max_sandboxes"], 1000, "{listed}");
    let home_of = |body: &Value| body["home_node"].as_u64().expect("home_node");

    // `?node=2` through node 1: the upload goes to node 2, which homes it.
    let (status, body) = cluster.dock_echo_with(1, "placed", &[("node", "2")]).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(home_of(&body), 2, "{body}");
    let placed = body["id"].as_str().unwrap().to_owned();
    let (status, body) = cluster
        .post(
            3,
            &format!("/v1/sandboxes/{placed}/call"),
            json!({ "stdin": "hi" }),
        )
        .await;
    assert_eq!(
        (status, body["stdout"].as_str()),
        (200, Some("hi")),
        "{body}"
    );

    // A node that is not a member is refused before the upload is read.
    let (status, body) = cluster.dock_echo_with(1, "nowhere", &[("node", "9")]).await;
    assert_eq!(
        (status, error_code(&body)),
        (404, "NODE_NOT_FOUND"),
        "{body}"
    );

    // Without a node: the most free capacity wins. Node 3 homes nothing
    // but is small (half its memory goes with one sandbox), so it comes
    // last; nodes 1 and 2 take turns (node 1, the receiving one, first
    // among equals).
    let mut homes = Vec::new();
    for i in 0..4 {
        let (status, body) = cluster.dock_echo_with(1, &format!("auto-{i}"), &[]).await;
        assert_eq!(status, 201, "{body}");
        homes.push(home_of(&body));
    }
    assert_eq!(homes, [1, 1, 2, 1]);
    let (_, listed) = cluster.get(2, "/v1/cluster/nodes").await;
    let live: Vec<u64> = (0..3)
        .map(|i| listed["nodes"][i]["live_sandboxes"].as_u64().unwrap())
        .collect();
    assert_eq!(live, [3, 2, 0], "{listed}");

    // `?where=`: only nodes carrying every label; among them, capacity.
    let (status, body) = cluster
        .dock_echo_with(1, "in-b", &[("where", "zone=b")])
        .await;
    assert_eq!((status, home_of(&body)), (201, 2), "{body}");
    let (status, body) = cluster
        .dock_echo_with(3, "ssd", &[("where", "disk=ssd,zone=b")])
        .await;
    assert_eq!((status, home_of(&body)), (201, 2), "{body}");
    let (status, body) = cluster
        .dock_echo_with(2, "nowhere-c", &[("where", "zone=c")])
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (409, "PLACEMENT_NO_MATCH"),
        "{body}"
    );
    assert_eq!(
        body["error"]["message"],
        "no available node has the labels zone=c: node 1 {zone=a}, node 2 {disk=ssd,zone=b}, \
         node 3 {zone=b}"
    );
    let (status, body) = cluster
        .dock_echo_with(2, "wrong-node", &[("node", "1"), ("where", "zone=b")])
        .await;
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (
            409,
            Some("node 1 does not have the labels zone=b (it has {zone=a})")
        ),
        "{body}"
    );
    let (status, body) = cluster
        .dock_echo_with(1, "bad-label", &[("where", "Zone")])
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (400, "REQUEST_INVALID"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drained_node_is_emptied_and_takes_no_new_sandboxes_until_undrained() {
    let cluster = Cluster::start(ClusterOptions::default()).await;
    cluster.agreed_leader(&ALL).await;
    let mut on_one = Vec::new();
    for i in 0..3 {
        let (status, body) = cluster
            .dock_echo_with(1, &format!("drained-{i}"), &[("node", "1")])
            .await;
        assert_eq!(status, 201, "{body}");
        on_one.push(body["id"].as_str().unwrap().to_owned());
    }

    // Through node 3: forwarded to node 1, which moves its sandboxes away.
    let steps = cluster.drain(3, 1).await;
    assert_eq!(
        steps[0],
        json!({ "event": "started", "node": 1, "sandboxes": 3 })
    );
    assert_eq!(
        steps.last().unwrap(),
        &json!({ "event": "done", "moved": 3, "failed": 0 })
    );
    for sandbox in &on_one {
        let (status, body) = cluster.get(3, &format!("/v1/sandboxes/{sandbox}")).await;
        assert_eq!(status, 200, "{body}");
        assert_ne!(body["home_node"], 1, "{body}");
        let (status, body) = cluster
            .call(1, sandbox, json!({ "stdin": "still here" }))
            .await;
        assert_eq!(
            (status, body["stdout"].as_str()),
            (200, Some("still here")),
            "{body}"
        );
    }

    // Drained: placement passes node 1 over and refuses it by name.
    for i in 0..2 {
        let (status, body) = cluster.dock_echo_with(1, &format!("after-{i}"), &[]).await;
        assert_eq!(status, 201, "{body}");
        assert_ne!(body["home_node"], 1, "{body}");
    }
    let (status, body) = cluster.dock_echo_with(2, "refused", &[("node", "1")]).await;
    assert_eq!((status, error_code(&body)), (409, "NODE_DRAINED"), "{body}");
    let (status, body) = cluster
        .post(
            2,
            &format!("/v1/sandboxes/{}/move", on_one[0]),
            json!({ "to": 1 }),
        )
        .await;
    assert_eq!((status, error_code(&body)), (409, "NODE_DRAINED"), "{body}");

    // Undrained, it takes sandboxes again.
    let (status, body) = cluster
        .post(2, "/v1/cluster/nodes/1/undrain", json!({}))
        .await;
    assert_eq!((status, &body), (200, &json!({ "id": 1 })), "{body}");
    let (status, body) = cluster
        .dock_echo_with(2, "welcome-back", &[("node", "1")])
        .await;
    assert_eq!((status, &body["home_node"]), (201, &json!(1)), "{body}");

    // The CLI: `nexus node drain 2 --json` prints the same steps.
    let out = std::process::Command::new(nexus_cluster_tests::nexus())
        .args(["node", "drain", "2", "--json", "--config"])
        .arg(cluster.node(1).config_path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let steps = json_lines(&String::from_utf8_lossy(&out.stdout));
    let done = steps.last().unwrap();
    assert_eq!(done["event"], "done", "{steps:?}");
    assert_eq!(done["failed"], 0, "{steps:?}");
    assert!(done["moved"].as_u64().unwrap() >= 1, "{steps:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_node_that_homes_sandboxes_needs_force_which_drains_or_names_the_lost() {
    let mut cluster = Cluster::start(ClusterOptions::default()).await;
    cluster.agreed_leader(&ALL).await;
    let dock_on = |node: u64, name: &'static str| {
        let cluster = &cluster;
        async move {
            let (status, body) = cluster
                .dock_echo_with(1, name, &[("node", &node.to_string())])
                .await;
            assert_eq!(status, 201, "{body}");
            body["id"].as_str().unwrap().to_owned()
        }
    };
    let on_two = dock_on(2, "on-two").await;
    let on_three = [
        dock_on(3, "on-three-a").await,
        dock_on(3, "on-three-b").await,
    ];

    let (status, body) = cluster.delete(1, "/v1/cluster/nodes/3").await;
    assert_eq!(
        (status, error_code(&body)),
        (409, "NODE_HOMES_SANDBOXES"),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("homes 2 sandbox(es)"),
        "{body}"
    );

    // Node 3 is dead: its sandboxes had no other copy; --force says so.
    cluster.kill(3);
    let (status, body) = cluster.delete(1, "/v1/cluster/nodes/3?force=true").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["moved"], json!([]), "{body}");
    let mut lost: Vec<&str> = body["lost"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    lost.sort_unstable();
    let mut expected: Vec<&str> = on_three.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(lost, expected, "{body}");
    for sandbox in &on_three {
        let (status, body) = cluster.get(2, &format!("/v1/sandboxes/{sandbox}")).await;
        assert_eq!(
            (status, error_code(&body)),
            (404, "SANDBOX_NOT_FOUND"),
            "{body}"
        );
    }

    // Node 2 is up: --force drains it first, and its sandbox lives on.
    let (status, body) = cluster.delete(1, "/v1/cluster/nodes/2?force=true").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["moved"], json!([on_two]), "{body}");
    assert_eq!(body["lost"], json!([]), "{body}");
    let (status, body) = cluster
        .post(
            1,
            &format!("/v1/sandboxes/{on_two}/call"),
            json!({ "stdin": "moved" }),
        )
        .await;
    assert_eq!(
        (status, body["stdout"].as_str()),
        (200, Some("moved")),
        "{body}"
    );
    let (status, body) = cluster.get(1, "/v1/cluster/nodes").await;
    assert_eq!(status, 200, "{body}");
    let one = body["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == 1)
        .unwrap();
    assert_eq!(one["sandboxes"], 1, "{body}");
}
