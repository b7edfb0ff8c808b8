//! A cluster node's HTTP API speaks only HTTPS with a certificate from the
//! cluster CA: clients that trust the CA (reqwest, `openssl s_client`, the
//! `nexus` CLI with `--config`) get answers; a plain-HTTP request gets
//! `API_TLS_REQUIRED`; a client without the CA, or with another CA, fails
//! its handshake and the CLI says `NODE_TLS_UNTRUSTED`.

// Tests: a failed unwrap or panic is a loud test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::process::{Command, Stdio};

use nexus_cluster_tests::{nexus, Cluster, ClusterOptions};
use nexus_tls::ClusterCa;
use serde_json::Value;

/// `nexus ARGS --json`, run where no local data dir is to fall back on;
/// exit code and parsed stdout.
fn cli(args: &[&str]) -> (i32, Value) {
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(nexus())
        .args(args)
        .arg("--json")
        .env_remove("NEXUS_NODE")
        .env_remove("NEXUS_API_KEY")
        .env_remove("NEXUS_CA")
        .env_remove("NEXUS_DATA_DIR")
        .env_remove("NEXUS_CONFIG")
        .current_dir(empty.path())
        .output()
        .unwrap();
    let body = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "nexus {args:?}: not JSON: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), body)
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_api_answers_only_clients_that_trust_its_ca() {
    let cluster = Cluster::start(ClusterOptions {
        nodes: 1,
        ..ClusterOptions::default()
    })
    .await;
    let node = cluster.node(1);
    let https = node.url();
    let plain = https.replacen("https://", "http://", 1);
    assert!(https.starts_with("https://"), "{https}");

    // The control: the harness's client trusts the cluster CA.
    let (status, body) = cluster.get(1, "/v1/cluster/status").await;
    assert_eq!(status, 200, "{body}");

    // Plain HTTP is answered with a coded refusal, not a TLS alert.
    let answer = reqwest::get(format!("{plain}/health")).await.unwrap();
    assert_eq!(answer.status(), 400);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(error_code(&body), "API_TLS_REQUIRED", "{body}");

    // No CA, or another cluster's CA: the handshake fails on the client.
    let other = ClusterCa::create("other").unwrap().ca_pem();
    let strangers = [
        reqwest::Client::builder().tls_built_in_root_certs(false),
        reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(other.as_bytes()).unwrap()),
    ];
    for builder in strangers {
        let err = builder
            .build()
            .unwrap()
            .get(format!("{https}/health"))
            .send()
            .await
            .unwrap_err();
        let chain = format!("{:?}", err);
        assert!(chain.contains("UnknownIssuer"), "{chain}");
    }

    // openssl verifies the chain and the IP address, then speaks HTTP/1.1.
    let ca_file = node.data_dir.join("tls").join("ca.pem");
    let mut s_client = Command::new("timeout")
        .args([
            "10",
            "openssl",
            "s_client",
            "-quiet",
            "-verify_return_error",
        ])
        .arg("-connect")
        .arg(node.api.to_string())
        .arg("-CAfile")
        .arg(&ca_file)
        .arg("-verify_ip")
        .arg(node.api.ip().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    s_client
        .stdin
        .take()
        .unwrap()
        .write_all(b"GET /health HTTP/1.1\r\nHost: nexus\r\nConnection: close\r\n\r\n")
        .unwrap();
    let out = s_client.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("HTTP/1.1 200"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The CLI: --config gives it the URL, the admin key and the CA.
    let config = node.config_path().display().to_string();
    let (code, status) = cli(&["--config", &config, "status"]);
    assert_eq!(code, 0, "{status}");
    assert_eq!(status["leader"], 1, "{status}");
    let key = cluster.admin_key().to_owned();
    let (code, body) = cli(&["--node", &https, "--key", &key, "status"]);
    assert_ne!(code, 0);
    assert_eq!(error_code(&body), "NODE_TLS_UNTRUSTED", "{body}");
    let ca = ca_file.display().to_string();
    let (code, body) = cli(&["--node", &plain, "--key", &key, "--ca", &ca, "status"]);
    assert_ne!(code, 0);
    assert_eq!(error_code(&body), "API_TLS_REQUIRED", "{body}");
    let (code, body) = cli(&["--node", &https, "--key", &key, "--ca", &ca, "status"]);
    assert_eq!(code, 0, "{body}");
}
