//! The `net` broker through a real node, with the `fetch` example: every
//! refused address answers its own code (the example exits with its
//! magnitude) and is counted; with the test-only `[net] allow_cidrs`
//! exemption for 127.0.0.1, a local server shows the allowed path, a capped
//! response, and redirects to private and metadata addresses refused.

use crate::common;

use axum::response::Redirect;
use axum::routing::get;
use axum::Router;
use common::{built_example, call_args, dock_built, dock_wat, print_wat, TestNode};
use nexus_node::client::NodeClient;

/// A local server: `/ok`, `/big` (2 KiB), `/hop` (→ `/ok`), and redirects
/// to 10.0.0.1 and the metadata address.
async fn local_server() -> std::net::SocketAddr {
    let app = Router::new()
        .route("/ok", get(|| async { "hello from the test server" }))
        .route("/big", get(|| async { vec![b'x'; 2048] }))
        .route("/hop", get(|| async { Redirect::temporary("/ok") }))
        .route(
            "/to-private",
            get(|| async { Redirect::temporary("http://10.0.0.1/admin") }),
        )
        .route(
            "/to-metadata",
            get(|| async { Redirect::to("http://169.254.169.254/latest/meta-data/") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn fetch_sandbox(node: &TestNode) -> (NodeClient, String) {
    let admin = node.admin();
    let id = dock_built(&admin, &built_example("fetch"), node.data_dir.path(), None).await;
    (admin, id)
}

/// Checks that the node still serves another sandbox.
async fn still_serves(node: &TestNode, client: &NodeClient) {
    let id = dock_wat(
        client,
        node.data_dir.path(),
        "bystander",
        &print_wat("ok\n"),
    )
    .await;
    let out = call_args(client, &id, &[]).await.expect("bystander call");
    assert_eq!(out.stdout, "ok\n");
}

/// Runs `fetch URL`: (exit code, stdout).
async fn fetch(client: &NodeClient, id: &str, url: &str) -> (i32, String) {
    let out = call_args(client, id, &[url]).await.expect("call");
    (out.exit_code, out.stdout)
}

#[tokio::test]
async fn special_addresses_are_refused_with_their_own_codes() {
    let server = local_server().await;
    let node = TestNode::start().await;
    let (client, id) = fetch_sandbox(&node).await;
    let port = server.port();
    let cases = [
        (format!("http://127.0.0.1:{port}/ok"), 10, "127.0.0.1"),
        (format!("http://[::1]:{port}/ok"), 10, "::1"),
        (format!("http://localhost:{port}/ok"), 10, "localhost"),
        ("http://10.0.0.1/".to_string(), 11, "10.0.0.1"),
        ("http://[::ffff:10.0.0.1]/".to_string(), 11, "10.0.0.1"),
        ("http://100.64.0.1/".to_string(), 11, "100.64.0.1"),
        (
            "http://169.254.169.254/latest/".to_string(),
            12,
            "169.254.169.254",
        ),
        ("http://0.0.0.0/".to_string(), 13, "0.0.0.0"),
        (format!("https://127.0.0.1:{port}/"), 14, "https"),
    ];
    for (url, code, named) in &cases {
        assert_eq!(
            fetch(&client, &id, url).await,
            (*code, String::new()),
            "{url}"
        );
        let denials = client.sandbox(&id).await.expect("info").denials;
        let last = denials.recent.back().expect("a denial");
        assert_eq!(last.capability, "net");
        assert!(last.target.contains(named), "{url}: {}", last.target);
    }
    let denials = client.sandbox(&id).await.expect("info").denials;
    assert_eq!(
        denials.by_capability.get("net"),
        Some(&(cases.len() as u64))
    );
}

#[tokio::test]
async fn with_the_test_exemption_fetches_follow_checked_redirects_and_cap_bodies() {
    let server = local_server().await;
    let node = TestNode::start_with(|config| {
        config.net.allow_cidrs = vec!["127.0.0.1/32".parse().expect("cidr")];
        config.net.max_response_bytes = 1024;
    })
    .await;
    let (client, id) = fetch_sandbox(&node).await;
    let base = format!("http://{server}");
    let ok = (0, "200\nhello from the test server".to_string());
    assert_eq!(fetch(&client, &id, &format!("{base}/ok")).await, ok);
    assert_eq!(fetch(&client, &id, &format!("{base}/hop")).await, ok);
    assert_eq!(
        fetch(&client, &id, &format!("{base}/big")).await,
        (3, String::new())
    );
    assert_eq!(
        fetch(&client, &id, &format!("{base}/to-private")).await,
        (11, String::new())
    );
    assert_eq!(
        fetch(&client, &id, &format!("{base}/to-metadata")).await,
        (12, String::new())
    );
    // The exemption is for exactly 127.0.0.1: other loopback addresses stay refused.
    let other = format!("http://127.0.0.2:{}/ok", server.port());
    assert_eq!(fetch(&client, &id, &other).await, (10, String::new()));
    let denials = client.sandbox(&id).await.expect("info").denials;
    let targets: Vec<_> = denials.recent.iter().map(|d| d.target.as_str()).collect();
    assert_eq!(targets.len(), 4, "{targets:?}");
    assert!(targets[0].contains("over the 1024-byte cap"), "{targets:?}");
    assert!(targets[1].contains("10.0.0.1"), "{targets:?}");
    assert!(targets[2].contains("169.254.169.254"), "{targets:?}");
    still_serves(&node, &client).await;
}

#[tokio::test]
async fn a_profile_without_net_cannot_fetch() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let dir = built_example("fetch");
    let id = dock_built(&admin, &dir, node.data_dir.path(), Some("standard")).await;
    let err = call_args(&admin, &id, &["http://example.com/"])
        .await
        .unwrap_err();
    assert_eq!(err.code, "CALL_INSTANTIATE_FAILED");
    assert!(err.message.contains("nexus_v1.net_fetch"), "{err}");
    assert!(err.message.contains("capability `net`"), "{err}");
}
