//! The Rust hostile guest (node/tests/guests/hostile) against a real node:
//! each attack ends with its exact outcome, and the node keeps serving
//! other sandboxes afterwards.

use crate::common;

use common::{built_hostile, call_args, dock_built, dock_wat, print_wat, TestNode};
use nexus_node::client::NodeClient;

/// A node with the profiles the attacks run under: `tight` (small limits,
/// `standard` capabilities) and `single` (one call at a time).
async fn node() -> TestNode {
    TestNode::start_with(|config| {
        let tight = "base = \"standard\"\nmemory_mib = 32\ncpu_ms = 300\nwall_ms = 20000\noutput_kib = 64\n";
        let single = "base = \"standard\"\nmax_concurrent = 1\n";
        for (name, spec) in [("tight", tight), ("single", single)] {
            let spec = toml::from_str(spec).expect("profile spec");
            config.profiles.insert(name.to_string(), spec);
        }
    })
    .await
}

/// A plain sandbox beside the hostile one.
async fn bystander(node: &TestNode, client: &NodeClient) -> String {
    dock_wat(
        client,
        node.data_dir.path(),
        "bystander",
        &print_wat("fine\n"),
    )
    .await
}

/// Checks that the node still answers the bystander.
async fn still_serves(client: &NodeClient, bystander: &str) {
    let out = call_args(client, bystander, &[])
        .await
        .expect("bystander call");
    assert_eq!(out.stdout, "fine\n");
}

async fn hostile(node: &TestNode, client: &NodeClient, profile: &str) -> String {
    dock_built(
        client,
        &built_hostile(),
        node.data_dir.path(),
        Some(profile),
    )
    .await
}

/// A node with a bystander and the hostile guest under `profile`, all
/// with the admin key: (node, admin client, bystander id, hostile id).
async fn setup(profile: &str) -> (TestNode, NodeClient, String, String) {
    let node = node().await;
    let admin = node.admin();
    let calm = bystander(&node, &admin).await;
    let id = hostile(&node, &admin, profile).await;
    (node, admin, calm, id)
}

#[tokio::test]
async fn attacks_hit_their_limits_and_the_node_keeps_serving() {
    let (_node, admin, calm, id) = setup("tight").await;
    let cases = [
        ("loop", "CALL_CPU_LIMIT", "300ms CPU time limit"),
        (
            "membomb",
            "CALL_MEMORY_LIMIT",
            "past its profile's limit of 32 MiB",
        ),
        (
            "flood",
            "CALL_OUTPUT_LIMIT",
            "64 KiB output limit to stdout",
        ),
        ("recurse", "CALL_TRAPPED", "stack overflow"),
    ];
    for (attack, code, message) in cases {
        let err = call_args(&admin, &id, &[attack]).await.unwrap_err();
        assert_eq!(err.code, code, "{attack}: {err}");
        assert!(err.message.contains(message), "{attack}: {err}");
        still_serves(&admin, &calm).await;
    }
    // The same sandbox still runs after all of that.
    let out = call_args(&admin, &id, &["queue-len", "q"])
        .await
        .expect("call");
    assert_eq!((out.exit_code, out.stdout.as_str()), (0, "0\n"));
}

#[tokio::test]
async fn wasi_cannot_open_host_paths() {
    let (_node, admin, calm, id) = setup("tight").await;
    for path in ["/etc/passwd", "registry.db", "../../admin.key"] {
        let out = call_args(&admin, &id, &["open", path]).await.expect("call");
        assert_eq!(out.exit_code, 0);
        assert!(
            out.stdout.starts_with("open failed:"),
            "{path}: {}",
            out.stdout
        );
    }
    still_serves(&admin, &calm).await;
}

#[tokio::test]
async fn a_queue_flood_is_bounded_and_counted_once() {
    let (_node, admin, calm, id) = setup("standard").await;
    let out = call_args(&admin, &id, &["queue-flood", "jobs", "5000"])
        .await
        .expect("call");
    assert_eq!(out.stdout, "pushed 1024, then error -8\n");
    let out = call_args(&admin, &id, &["queue-len", "jobs"])
        .await
        .expect("len");
    assert_eq!(out.stdout, "1024\n");
    let denials = admin.sandbox(&id).await.expect("info").denials;
    assert_eq!(denials.by_capability.get("queue"), Some(&1));
    let last = denials.recent.back().expect("a denial");
    assert!(last.target.contains("queue `jobs` is full"), "{last:?}");
    still_serves(&admin, &calm).await;
}

#[tokio::test]
async fn one_tenant_cannot_reach_anothers_queue_or_key() {
    let node = node().await;
    let admin = node.admin();
    let calm = bystander(&node, &admin).await;
    let alice = admin.create_tenant("alice").await.expect("alice");
    let bob = admin.create_tenant("bob").await.expect("bob");
    let alice = node.client(Some(&alice.api_key));
    let bob = node.client(Some(&bob.api_key));
    let a = hostile(&node, &alice, "standard").await;
    let b = hostile(&node, &bob, "standard").await;

    call_args(&alice, &a, &["queue-push", "inbox", "for alice only"])
        .await
        .expect("push");
    let out = call_args(&bob, &b, &["queue-pop", "inbox"])
        .await
        .expect("pop");
    assert_eq!(out.stdout, "(empty)\n", "bob must not see alice's queue");
    let out = call_args(&bob, &b, &["queue-len", "inbox"])
        .await
        .expect("len");
    assert_eq!(out.stdout, "0\n");
    let out = call_args(&alice, &a, &["queue-pop", "inbox"])
        .await
        .expect("pop");
    assert_eq!(out.stdout, "for alice only\n");

    let key_a = call_args(&alice, &a, &["pubkey"])
        .await
        .expect("key")
        .stdout;
    let key_b = call_args(&bob, &b, &["pubkey"]).await.expect("key").stdout;
    assert_ne!(key_a, key_b, "each tenant has its own key");
    let sig_b = call_args(&bob, &b, &["sign", "transfer 100"])
        .await
        .expect("sign");
    let key_a = verifying_key(&key_a);
    let sig_b = hex::decode(sig_b.stdout.trim()).expect("hex signature");
    assert!(!nexus_tls::didkey::verify(&key_a, b"transfer 100", &sig_b));
    still_serves(&admin, &calm).await;
}

#[tokio::test]
async fn max_concurrent_one_runs_calls_one_at_a_time() {
    let (_node, admin, calm, id) = setup("single").await;
    let call = || call_args(&admin, &id, &["exclusive", "gate", "150"]);
    let (a, b, c) = tokio::join!(call(), call(), call());
    for out in [a, b, c] {
        assert_eq!(out.expect("call").stdout, "alone\n");
    }
    still_serves(&admin, &calm).await;
}

fn verifying_key(hex_key: &str) -> ed25519_dalek::VerifyingKey {
    let bytes: [u8; 32] = hex::decode(hex_key.trim())
        .expect("hex key")
        .try_into()
        .expect("32 bytes");
    ed25519_dalek::VerifyingKey::from_bytes(&bytes).expect("valid key")
}
