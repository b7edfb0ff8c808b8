//! `/metrics`: admin-only on the API port, keyless on `[metrics] listen`,
//! figures that follow what the node did, and `promtool check metrics`
//! (Debian's prometheus package, installed by scripts/setup.sh) accepts it.

use crate::common;

use std::process::{Command, Stdio};

use common::process::free_port;
use common::{built_example, call_args, dock_built, print_wat, wat_workbook, TestNode};
use nexus_node::sandbox::Verb;

/// The value of the sample `series` (name and labels exactly as printed).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

async fn get(url: &str, key: Option<&str>) -> (u16, String, String) {
    let mut req = reqwest::Client::new().get(url);
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let kind = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, kind, res.text().await.unwrap())
}

#[tokio::test]
async fn metrics_follow_calls_denials_and_transitions_and_pass_promtool() {
    let port = free_port();
    let node = TestNode::start_with(|c| {
        c.metrics.listen = Some(format!("127.0.0.1:{port}").parse().unwrap());
    })
    .await;
    let admin = node.admin();
    let scratch = tempfile::tempdir().unwrap();

    // Two calls that exit 0, one that exits 10 after a denied connection.
    let file = wat_workbook(node.data_dir.path(), "hello", &print_wat("hi\n"));
    let hello = admin
        .dock(std::fs::read(file).unwrap(), None, None)
        .await
        .unwrap();
    for _ in 0..2 {
        assert_eq!(
            call_args(&admin, &hello.id, &[]).await.unwrap().exit_code,
            0
        );
    }
    let fetch = dock_built(&admin, &built_example("fetch"), scratch.path(), None).await;
    let denied = call_args(&admin, &fetch, &["http://127.0.0.1:9/"])
        .await
        .unwrap();
    assert_eq!(denied.exit_code, 10);
    admin.transit(&hello.id, Verb::Suspend, None).await.unwrap();

    let url = format!("{}/metrics", node.url());
    let (status, _, body) = get(&url, None).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("AUTH_MISSING_KEY"), "{body}");
    let tenant = admin.create_tenant("t").await.unwrap();
    let (status, _, body) = get(&url, Some(&tenant.api_key)).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("AUTH_FORBIDDEN"), "{body}");

    let (status, kind, text) = get(&url, Some(&node.admin_key)).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(kind, "text/plain; version=0.0.4; charset=utf-8");
    let ok = r#"nexus_calls_total{outcome="ok",shape="command"}"#;
    assert_eq!(sample(&text, ok), Some(2.0), "{text}");
    let nonzero = r#"nexus_calls_total{outcome="exit_nonzero",shape="command"}"#;
    assert_eq!(sample(&text, nonzero), Some(1.0), "{text}");
    let count = r#"nexus_call_duration_seconds_count{shape="command"}"#;
    assert_eq!(sample(&text, count), Some(3.0), "{text}");
    let net = r#"nexus_capability_denials_total{capability="net"}"#;
    assert_eq!(sample(&text, net), Some(1.0), "{text}");
    for (to, n) in [("active", 2.0), ("suspended", 1.0)] {
        let series = format!(r#"nexus_lifecycle_transitions_total{{to="{to}"}}"#);
        assert_eq!(sample(&text, &series), Some(n), "{series}\n{text}");
    }
    for (state, n) in [("active", 1.0), ("suspended", 1.0), ("frozen", 0.0)] {
        let series = format!(r#"nexus_sandboxes{{state="{state}"}}"#);
        assert_eq!(sample(&text, &series), Some(n), "{series}\n{text}");
    }
    assert_eq!(sample(&text, "nexus_raft_leader"), Some(1.0), "{text}");
    assert_eq!(sample(&text, "nexus_raft_members"), Some(1.0), "{text}");
    let applied = sample(&text, "nexus_raft_applied_index").unwrap();
    assert!(applied >= 5.0, "{text}");
    let commit = sample(&text, "nexus_raft_commit_index").unwrap();
    assert!(
        commit >= applied,
        "a single voter commits what it logs\n{text}"
    );
    assert_eq!(sample(&text, "nexus_instances_active"), Some(0.0), "{text}");
    let records = sample(&text, "nexus_registry_idempotency_records").unwrap();
    assert!(records >= 4.0, "every keyed write leaves a record\n{text}");
    let committed = r#"nexus_registry_write_duration_seconds_count{outcome="committed"}"#;
    assert!(sample(&text, committed).unwrap() >= 4.0, "{text}");

    let promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package; scripts/setup.sh installs it)");
    use std::io::Write;
    promtool
        .stdin
        .as_ref()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let checked = promtool.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(checked.status.success(), "promtool: {said}");
    assert!(said.trim().is_empty(), "promtool found problems: {said}");

    // The metrics port: no key, that route only.
    let metrics_port = format!("http://127.0.0.1:{port}");
    let (status, _, plain) = get(&format!("{metrics_port}/metrics"), None).await;
    assert_eq!(status, 200, "{plain}");
    assert_eq!(sample(&plain, ok), Some(2.0), "{plain}");
    let (status, _, body) = get(&format!("{metrics_port}/v1/sandboxes"), None).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("ROUTE_NOT_FOUND"), "{body}");
    node.stop().await;
}
