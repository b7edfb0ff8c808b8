//! Live migration on real nodes: `nexus serve` processes on loopback moving
//! a sandbox's workbook over QUIC with mTLS while clients call it, and
//! crashing (`NEXUS_FAULT_CRASH_AT`) at every step of a move.

// Tests: a failed unwrap or panic is a loud test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nexus_cluster_tests::{Cluster, ClusterOptions};
use nexus_workbook::{Volume, Workbook, DEFAULT_MODE};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const ALL: [u64; 3] = [1, 2, 3];
const MIB: usize = 1 << 20;

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

/// The echo workbook packed to `out`, holding `files` files of `mib_each`
/// MiB of pseudo-random bytes in its workspace volume; returns the SHA-256
/// of each file by path.
fn ballast_workbook(out: &Path, files: usize, mib_each: usize) -> Vec<(String, String)> {
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/echo-wat");
    let made = std::process::Command::new(nexus_cluster_tests::nexus())
        .args(["workbook", "pack"])
        .arg(&example)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let workbook = Workbook::open(out).unwrap();
    let mut sums = Vec::new();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for i in 0..files {
        let bytes: Vec<u8> = (0..mib_each * MIB)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        let path = format!("ballast/{i}.bin");
        workbook
            .write_file(Volume::Workspace, &path, &bytes, DEFAULT_MODE)
            .unwrap();
        sums.push((path, hex(&Sha256::digest(&bytes))));
    }
    workbook.close().unwrap();
    sums
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of each ballast file in the sandbox's live file on `node`.
fn sums_on(cluster: &Cluster, node: u64, sandbox: &str, files: usize) -> Vec<(String, String)> {
    let path = cluster.live_file(node, sandbox);
    let workbook =
        Workbook::open_read_only(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (0..files)
        .map(|i| {
            let name = format!("ballast/{i}.bin");
            let bytes = workbook
                .read_file(Volume::Workspace, &name)
                .unwrap()
                .unwrap_or_else(|| panic!("{name} missing on node {node}"));
            (name, hex(&Sha256::digest(&bytes)))
        })
        .collect()
}

/// Docks the workbook at `file` as `name`, placed on `node`, through node 1.
async fn dock_file(cluster: &Cluster, file: &Path, name: &str, node: u64) -> String {
    let response = cluster
        .http()
        .post(format!("{}/v1/sandboxes", cluster.node(1).url()))
        .bearer_auth(cluster.admin_key())
        .query(&[("name", name), ("node", &node.to_string())])
        .body(std::fs::read(file).unwrap())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["home_node"], node, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// Asks node `via` to move `sandbox` to node `to`.
async fn move_via(cluster: &Cluster, via: u64, sandbox: &str, to: u64) -> (u16, Value) {
    cluster
        .post(
            via,
            &format!("/v1/sandboxes/{sandbox}/move"),
            json!({ "to": to }),
        )
        .await
}

async fn home_of(cluster: &Cluster, via: u64, sandbox: &str) -> u64 {
    let (status, body) = cluster.get(via, &format!("/v1/sandboxes/{sandbox}")).await;
    assert_eq!(status, 200, "{body}");
    body["home_node"].as_u64().unwrap()
}

async fn echoes(cluster: &Cluster, via: u64, sandbox: &str, said: &str) {
    let (status, body) = cluster.call(via, sandbox, json!({ "stdin": said })).await;
    assert_eq!(
        (status, body["stdout"].as_str()),
        (200, Some(said)),
        "{body} (through node {via}); node logs:\n{}",
        cluster.log_tails()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_256_mib_sandbox_moves_while_a_client_calls_it_and_no_call_fails() {
    let cluster = Arc::new(
        Cluster::start(ClusterOptions {
            extra_config: "[limits]\nmax_upload_bytes = 536870912\n".to_owned(),
            ..ClusterOptions::default()
        })
        .await,
    );
    cluster.agreed_leader(&ALL).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ballast.workbook");
    let sums = ballast_workbook(&file, 8, 32);
    let sandbox = dock_file(&cluster, &file, "heavy", 1).await;
    assert_eq!(sums_on(&cluster, 1, &sandbox, 8), sums);

    // A client calls it in a loop, through every node in turn.
    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let client = {
        let (cluster, stop, calls, sandbox) = (
            cluster.clone(),
            stop.clone(),
            calls.clone(),
            sandbox.clone(),
        );
        tokio::spawn(async move {
            let mut failures = Vec::new();
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let via = ALL[(i % 3) as usize];
                let said = format!("call {i}");
                let (status, body) = cluster.call(via, &sandbox, json!({ "stdin": said })).await;
                if status != 200 || body["stdout"].as_str() != Some(said.as_str()) {
                    failures.push(format!("call {i} through node {via}: {status} {body}"));
                }
                calls.fetch_add(1, Ordering::SeqCst);
                i += 1;
            }
            failures
        })
    };
    while calls.load(Ordering::SeqCst) < 5 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, report) = move_via(&cluster, 3, &sandbox, 2).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["sandbox"]["home_node"], 2, "{report}");
    assert_eq!(report["from_node"], 1, "{report}");
    assert!(
        report["bytes_sent"].as_u64().unwrap() >= 256 * MIB as u64,
        "{report}"
    );
    let moved_at = calls.load(Ordering::SeqCst);
    while calls.load(Ordering::SeqCst) < moved_at + 5 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::SeqCst);
    let failures = client.await.unwrap();
    assert!(
        failures.is_empty(),
        "{} calls failed: {failures:#?}",
        failures.len()
    );

    // The new home has the same bytes; the old one has nothing left.
    for via in ALL {
        assert_eq!(home_of(&cluster, via, &sandbox).await, 2);
    }
    assert_eq!(sums_on(&cluster, 2, &sandbox, 8), sums);
    assert!(!cluster.live_file(1, &sandbox).exists());
    // The old home answers for it no more: a move there is a move to
    // where it already is, refused by its new home.
    let (status, body) = move_via(&cluster, 1, &sandbox, 2).await;
    assert_eq!(
        (status, error_code(&body)),
        (409, "SANDBOX_MOVE_INVALID"),
        "{body}"
    );

    // A suspended sandbox moves as files, without resuming.
    let (status, body) = cluster
        .post(1, &format!("/v1/sandboxes/{sandbox}/suspend"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, report) = move_via(&cluster, 1, &sandbox, 3).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["sandbox"]["state"], "suspended", "{report}");
    assert_eq!(report["sandbox"]["home_node"], 3, "{report}");
    assert_eq!(sums_on(&cluster, 3, &sandbox, 8), sums);
    assert!(!cluster.live_file(2, &sandbox).exists());

    // What a program wrote with std::fs moves with the file.
    files_move_with_the_sandbox(&cluster, dir.path()).await;
}

/// The `files` test guest (plain `std::fs`) writes into its volumes on
/// node 1, moves to node 2 and reads them back there, called through node 3.
async fn files_move_with_the_sandbox(cluster: &Cluster, scratch: &Path) {
    let guest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../node/tests/guests/files");
    let file = scratch.join("files.workbook");
    let made = std::process::Command::new(nexus_cluster_tests::nexus())
        .args(["workbook", "pack"])
        .arg(&guest)
        .arg("-o")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{made:?} (scripts/setup.sh builds the guest)"
    );
    let sandbox = dock_file(cluster, &file, "files", 1).await;
    let run = |via: u64, args: &'static [&'static str]| {
        let sandbox = sandbox.clone();
        async move {
            let (status, body) = cluster.call(via, &sandbox, json!({ "args": args })).await;
            assert_eq!(status, 200, "{args:?}: {body}");
            body["stdout"].as_str().unwrap().trim_end().to_owned()
        }
    };
    assert_eq!(
        run(2, &["write", "/workspace/w", "written on 1"]).await,
        "ok"
    );
    assert_eq!(run(3, &["write", "/memory/m", "kept"]).await, "ok");
    let (status, report) = move_via(cluster, 1, &sandbox, 2).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(run(3, &["read", "/workspace/w"]).await, "written on 1");
    assert_eq!(run(1, &["read", "/memory/m"]).await, "kept");
}

/// Where a move's source (node 1) crashes and which node is the home afterwards.
const SOURCE_CRASHES: [(u64, &str, u64); 5] = [
    (1, "move:source:pre-copy", 1),
    (1, "move:source:pause", 1),
    (1, "move:source:delta", 1),
    (1, "move:source:commit", 1),
    (1, "move:source:release", 2),
];

/// Where a move's target (node 2) crashes and which node is the home afterwards.
const TARGET_CRASHES: [(u64, &str, u64); 3] = [
    (2, "move:target:pre-copy", 1),
    (2, "move:target:place", 1),
    (2, "move:target:reply", 1),
];

// Two tests, each on a cluster of its own, so the two halves run side by side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_of_the_source_at_each_step_leaves_one_home_with_its_data() {
    crash_at_each_step(&SOURCE_CRASHES).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_of_the_target_at_each_step_leaves_one_home_with_its_data() {
    crash_at_each_step(&TARGET_CRASHES).await;
}

/// Moves a sandbox from node 1 to node 2 once per crash, the crashing node
/// set to abort at that step, and checks the home and the data after it.
async fn crash_at_each_step(crashes: &[(u64, &str, u64)]) {
    let mut cluster = Cluster::start(ClusterOptions::default()).await;
    cluster.agreed_leader(&ALL).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("small.workbook");
    let sums = ballast_workbook(&file, 2, 3);
    for (i, &(crashing, step, home)) in crashes.iter().enumerate() {
        let sandbox = dock_file(&cluster, &file, &format!("crash-{i}"), 1).await;
        echoes(&cluster, 3, &sandbox, "before").await;
        cluster.kill(crashing);
        cluster
            .restart_with_env(crashing, &[("NEXUS_FAULT_CRASH_AT", step)])
            .await;
        cluster.agreed_leader(&ALL).await;
        // Through node 3, which never crashes; the answer depends on who died.
        let (status, body) = move_via(&cluster, 3, &sandbox, 2).await;
        eprintln!("{step}: the move answered {status} {body}");
        let code = cluster.wait_exit(crashing, Duration::from_secs(60)).await;
        assert_eq!(code, None, "{step}: node {crashing} should abort");
        cluster.restart(crashing).await;
        cluster.agreed_leader(&ALL).await;

        for via in ALL {
            assert_eq!(home_of(&cluster, via, &sandbox).await, home, "{step}");
        }
        echoes(&cluster, 3, &sandbox, step).await;
        assert_eq!(sums_on(&cluster, home, &sandbox, 2), sums, "{step}");
        // The other node of the move keeps no copy (the target removes an
        // uncommitted one when the move ends, or its recovery does).
        let other = if home == 1 { 2 } else { 1 };
        let deadline = Instant::now() + Duration::from_secs(30);
        while cluster.live_file(other, &sandbox).exists() {
            assert!(
                Instant::now() < deadline,
                "{step}: node {other} still holds a copy of {sandbox}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
