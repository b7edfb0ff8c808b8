//! How a node serves its API: plain HTTP is refused at start on an address
//! other machines reach, an operator's certificate is served as given, and
//! a cluster node whose certificate does not name its API address refuses
//! to start rather than serve a certificate no client can verify.

use std::process::Command;

use nexus_errors::UserError;
use nexus_node::client::NodeClient;
use nexus_node::config::Config;
use nexus_node::daemon::Node;
use nexus_tls::ca::CA_VALIDITY;
use nexus_tls::ClusterCa;

use crate::common::{self, process::NEXUS};

fn start_error(result: Result<Node, UserError>) -> UserError {
    match result {
        Ok(_) => panic!("the node started"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn plain_http_beyond_loopback_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let mut config = Config {
        listen: "0.0.0.0:0".parse().unwrap(),
        data_dir: data_dir.clone(),
        ..Config::default()
    };
    config.api.tls = Some(false);
    let err = start_error(Node::start(config.clone()).await);
    assert_eq!(err.code, "API_PLAINTEXT_REFUSED", "{err}");
    assert!(err.message.contains("0.0.0.0:0"), "{err}");
    assert!(!data_dir.exists(), "a refused start made its data dir");

    // The same through the CLI, as an operator meets it.
    let toml = dir.path().join("nexus.toml");
    std::fs::write(
        &toml,
        format!(
            "listen = \"0.0.0.0:0\"\ndata_dir = \"{}\"\n[api]\ntls = false\n",
            data_dir.display()
        ),
    )
    .unwrap();
    let out = Command::new(NEXUS)
        .arg("--config")
        .arg(&toml)
        .arg("serve")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error[API_PLAINTEXT_REFUSED]"), "{stderr}");
}

#[tokio::test]
async fn an_operators_certificate_is_served_and_verified_with_its_ca() {
    let certs = tempfile::tempdir().unwrap();
    let ca = ClusterCa::create("operator").unwrap();
    ca.issue_local_identity(9, &["127.0.0.1".parse().unwrap()], CA_VALIDITY)
        .unwrap()
        .save(certs.path())
        .unwrap();
    let node = common::TestNode::start_with(|config| {
        config.api.cert = Some(certs.path().join("node.pem"));
        config.api.key = Some(certs.path().join("node.key"));
    })
    .await;
    let https = node.url().replacen("http://", "https://", 1);
    let ca_pem = ca.ca_pem();
    let client = NodeClient::with_ca(
        &https,
        Some(node.admin_key.clone()),
        Some(ca_pem.as_bytes()),
    )
    .unwrap();
    assert!(client.sandboxes().await.unwrap().sandboxes.is_empty());
    let stranger = NodeClient::with_ca(&https, Some(node.admin_key.clone()), None).unwrap();
    let err = stranger.sandboxes().await.unwrap_err();
    assert_eq!(err.code, "NODE_TLS_UNTRUSTED", "{err}");
    assert!(err.message.contains(&https), "{err}");
    node.stop().await;
}

#[tokio::test]
async fn a_cluster_node_whose_certificate_misses_its_api_address_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    config.cluster.raft_listen = Some("127.0.0.1:0".parse().unwrap());
    // Founded on 127.0.0.1: its certificate names 127.0.0.1 only.
    Node::start(config.clone())
        .await
        .unwrap()
        .serve(async {})
        .await
        .unwrap();
    config.listen = "127.0.0.3:0".parse().unwrap();
    let err = start_error(Node::start(config).await);
    assert_eq!(err.code, "API_CERT_MISMATCH", "{err}");
    assert!(err.message.contains("127.0.0.3"), "{err}");
    assert!(err.message.contains("names only 127.0.0.1"), "{err}");
}
