//! API key revocation across a cluster of real nodes: a key revoked through
//! node 1 is refused (`401 AUTH_KEY_REVOKED`) by nodes 2 and 3 as soon as
//! they have applied the revocation — authentication reads each node's
//! applied copy of the registry.

// Tests: a failed unwrap or panic is a loud test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use nexus_cluster_tests::{Cluster, ClusterOptions};
use serde_json::{json, Value};

const ALL: [u64; 3] = [1, 2, 3];

/// Sends `request` with bearer `key`: status and body.
async fn with_key(request: reqwest::RequestBuilder, key: &str) -> (u16, Value) {
    let response = request.bearer_auth(key).send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The highest log index the leader has applied (a write that returned is
/// at or below it).
async fn leader_applied(cluster: &Cluster) -> u64 {
    let leader = cluster.agreed_leader(&ALL).await;
    let status = cluster.status(leader).await;
    status["last_applied_index"]
        .as_u64()
        .expect("applied index")
}

/// Waits (at most 30 s) until node `id` has applied the log up to `index`.
async fn wait_applied(cluster: &Cluster, id: u64, index: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = cluster.status(id).await;
        if status["last_applied_index"].as_u64().unwrap_or(0) >= index {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "node {id} did not apply index {index} within 30 s: {status}\n{}",
            cluster.log_tail(id)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_revoked_through_one_node_is_refused_by_every_node_that_applied_it() {
    let cluster = Cluster::start(ClusterOptions::default()).await;
    cluster.agreed_leader(&ALL).await;
    let http = cluster.http().clone();
    let url = |id: u64, path: &str| format!("{}{path}", cluster.node(id).url());

    let (status, tenant) = cluster.create_tenant(1, "acme").await;
    assert_eq!(status, 201, "{tenant}");
    let acme_key = tenant["api_key"].as_str().unwrap().to_owned();
    let (status, made) = with_key(
        http.post(url(1, "/v1/keys")).json(&json!({ "name": "ci" })),
        &acme_key,
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let ci_key = made["api_key"].as_str().unwrap().to_owned();

    let created = leader_applied(&cluster).await;
    for id in ALL {
        wait_applied(&cluster, id, created).await;
        let (status, body) = with_key(http.get(url(id, "/v1/sandboxes")), &ci_key).await;
        assert_eq!(status, 200, "node {id} before the revocation: {body}");
    }

    let (status, body) = with_key(http.delete(url(1, "/v1/keys/ci")), &acme_key).await;
    assert_eq!(status, 200, "{body}");

    let revoked = leader_applied(&cluster).await;
    for id in [2, 3, 1] {
        wait_applied(&cluster, id, revoked).await;
        let (status, body) = with_key(http.get(url(id, "/v1/sandboxes")), &ci_key).await;
        assert_eq!(status, 401, "node {id}: {body}");
        assert_eq!(
            body["error"]["code"], "AUTH_KEY_REVOKED",
            "node {id}: {body}"
        );
        // The tenant's other key still works there.
        let (status, body) = with_key(http.get(url(id, "/v1/sandboxes")), &acme_key).await;
        assert_eq!(status, 200, "node {id}: {body}");
    }
}

/// A node stopping after the rest of the cluster is gone gives up its last
/// report of key uses after 2 s (not the 10 s write timeout, longer than a
/// container runtime's grace period), says so, and exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_node_standing_stops_without_waiting_out_the_write_timeout() {
    let mut cluster = Cluster::start(ClusterOptions::default()).await;
    let leader = cluster.agreed_leader(&ALL).await;
    let last = ALL.into_iter().find(|&id| id != leader).unwrap();
    let http = cluster.http().clone();
    let (status, body) = with_key(
        http.get(format!("{}/v1/sandboxes", cluster.node(last).url())),
        cluster.admin_key(),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    for id in ALL.into_iter().filter(|&id| id != last) {
        cluster.kill(id);
    }
    cluster.terminate(last);
    let code = cluster.wait_exit(last, Duration::from_secs(30)).await;
    assert_eq!(code, Some(0), "{}", cluster.log_tail(last));
    let log = cluster.log(last);
    assert!(
        log.contains(
            "no leader committed the last API key uses within 2 s of stopping; \
             they are not recorded"
        ),
        "{}",
        cluster.log_tail(last)
    );
}
