//! Sandbox replicas on real nodes: `nexus serve` processes on loopback
//! shipping workbook changes over QUIC with mTLS, failing over when a home
//! is killed or cut off, and restoring the replication factor.

// Tests: a failed unwrap or panic is a loud test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nexus_cluster_tests::{Cluster, ClusterOptions};
use serde_json::{json, Value};

/// The mark workbook's directory (`cluster-tests/guests/mark`): its guest
/// adds one to the kv counter named by its stdin.
fn mark_workbook() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("guests/mark")
}

/// Docks the mark workbook on node `home` with `query`; returns its id.
async fn dock_mark(cluster: &Cluster, home: u64, query: &[(&str, &str)]) -> String {
    let node = home.to_string();
    let mut query = query.to_vec();
    query.push(("node", &node));
    let (status, body) = cluster
        .dock_dir_with(home, &mark_workbook(), "marks", &query)
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// The sandbox as node `via` answers `GET /v1/sandboxes/{id}`.
async fn info(cluster: &Cluster, via: u64, sandbox: &str) -> Value {
    let (status, body) = cluster.get(via, &format!("/v1/sandboxes/{sandbox}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Waits (at most 30 s) until `check` holds for the sandbox as node `via`
/// sees it; returns that view.
async fn wait_info(
    cluster: &Cluster,
    via: u64,
    sandbox: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = cluster.get(via, &format!("/v1/sandboxes/{sandbox}")).await;
        if status == 200 && check(&body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: last answer {status} {body}; node logs:\n{}",
            cluster.log_tails()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The sandbox's home as node `via` lists it (`GET /v1/sandboxes` is
/// answered by `via` itself, not its home).
async fn home_via_list(cluster: &Cluster, via: u64, sandbox: &str) -> u64 {
    let (status, body) = cluster.get(via, "/v1/sandboxes").await;
    assert_eq!(status, 200, "{body}");
    body["sandboxes"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["id"] == sandbox))
        .and_then(|s| s["home_node"].as_u64())
        .unwrap()
}

fn replica_nodes(sandbox: &Value) -> Vec<u64> {
    sandbox["replicas"]
        .as_array()
        .map(|r| r.iter().filter_map(|r| r["node_id"].as_u64()).collect())
        .unwrap_or_default()
}

/// One call of the mark guest with `key` through node `via`: whether it
/// was acknowledged (200, exit 0), and the answer.
async fn mark_once(cluster: &Cluster, via: u64, sandbox: &str, key: &str) -> (bool, Value) {
    let (status, body) = cluster.call(via, sandbox, json!({ "stdin": key })).await;
    (status == 200 && body["exit_code"] == 0, body)
}

/// Calls the mark guest with `key` through node `via` until it is
/// acknowledged (at most 30 s); returns how many attempts failed first.
async fn mark(cluster: &Cluster, via: u64, sandbox: &str, key: &str) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut failed = 0;
    loop {
        let (acked, body) = mark_once(cluster, via, sandbox, key).await;
        if acked {
            return failed;
        }
        failed += 1;
        assert!(
            Instant::now() < deadline,
            "{key} never acknowledged through node {via}; last answer {body}; node logs:\n{}",
            cluster.log_tails()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every kv counter of the workbook at `path` (read-only, beside a node
/// that may have it open).
fn counters(path: &Path) -> BTreeMap<String, u64> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok", "{}", path.display());
    let mut stmt = conn.prepare("SELECT key, value FROM kv").unwrap();
    let rows = stmt
        .query_map([], |r| {
            let value: Vec<u8> = r.get(1)?;
            Ok((
                r.get::<_, String>(0)?,
                u64::from_le_bytes(value.try_into().unwrap()),
            ))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

fn replica_file(cluster: &Cluster, node: u64, sandbox: &str) -> PathBuf {
    cluster
        .node(node)
        .data_dir
        .join("replicas")
        .join(format!("{sandbox}.workbook"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_replication_keeps_every_acknowledged_write_when_the_home_is_killed() {
    let mut cluster = Cluster::start(ClusterOptions::default()).await;
    let sandbox = dock_mark(&cluster, 1, &[]).await;
    // Factor 2 by default: the home seeds one replica and records it.
    let seeded = wait_info(&cluster, 2, &sandbox, "one replica", |s| {
        replica_nodes(s).len() == 1
    })
    .await;
    assert_eq!(seeded["home_node"], 1, "{seeded}");
    assert_eq!(seeded["replication"]["durability"], "sync", "{seeded}");
    let replica = replica_nodes(&seeded)[0];
    let via = if replica == 2 { 3 } else { 2 };

    let mut retried = Vec::new();
    let mut killed = None;
    let mut first_after_kill = None;
    for i in 0..1000 {
        if i == 300 {
            cluster.kill(1);
            killed = Some(Instant::now());
        }
        if mark(&cluster, via, &sandbox, &format!("inc/{i:04}")).await > 0 {
            retried.push(i);
        }
        if let (Some(at), None) = (killed, first_after_kill) {
            first_after_kill = Some(at.elapsed());
        }
    }
    let after = info(&cluster, via, &sandbox).await;
    assert_eq!(after["home_node"], replica, "{after}");
    assert!(
        after["generation"].as_u64() > seeded["generation"].as_u64(),
        "{after}"
    );
    println!(
        "failover: home SIGKILL -> first acknowledged call {:?}; {} call(s) retried",
        first_after_kill.unwrap(),
        retried.len()
    );
    // Every acknowledged increment is there, exactly once unless its call
    // was retried after a failed attempt (which may have landed).
    let counts = counters(&cluster.live_file(replica, &sandbox));
    assert_eq!(counts.len(), 1000, "keys on the new home");
    for i in 0..1000 {
        let value = counts[&format!("inc/{i:04}")];
        if retried.contains(&i) {
            assert!((1..=2).contains(&value), "inc/{i:04} = {value}");
        } else {
            assert_eq!(value, 1, "inc/{i:04} was acknowledged once");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_old_home_comes_back_as_a_replica_and_converges_byte_for_byte() {
    let mut cluster = Cluster::start(ClusterOptions::default()).await;
    let sandbox = dock_mark(&cluster, 1, &[("factor", "3")]).await;
    wait_info(&cluster, 2, &sandbox, "two replicas", |s| {
        replica_nodes(s) == [2, 3]
    })
    .await;
    for i in 0..50 {
        mark(&cluster, 2, &sandbox, &format!("before/{i}")).await;
    }
    cluster.kill(1);
    for i in 0..50 {
        mark(&cluster, 2, &sandbox, &format!("after/{i}")).await;
    }
    let moved = info(&cluster, 2, &sandbox).await;
    let home = moved["home_node"].as_u64().unwrap();
    assert_ne!(home, 1, "{moved}");
    // Node 1 returns: it drops its stale file and is seeded as a replica.
    cluster.restart(1).await;
    wait_info(&cluster, 2, &sandbox, "node 1 back as a replica", |s| {
        replica_nodes(s).contains(&1)
    })
    .await;
    // Its stale live file goes at its next reconciliation with the registry.
    let deadline = Instant::now() + Duration::from_secs(15);
    while cluster.live_file(1, &sandbox).exists() {
        assert!(Instant::now() < deadline, "the old home kept its live file");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    suspend_and_compare_copies(&cluster, home, &sandbox, 2).await;
    let counts = counters(&cluster.live_file(home, &sandbox));
    assert_eq!(counts.len(), 100);
}

/// Brings the sandbox's file on its home to rest (a suspend through the
/// home), waits until each of its `replicas` holds the last version and
/// asserts every copy is the home's file byte for byte.
async fn suspend_and_compare_copies(cluster: &Cluster, home: u64, sandbox: &str, replicas: usize) {
    let (status, body) = cluster
        .post(home, &format!("/v1/sandboxes/{sandbox}/suspend"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let settled = wait_info(cluster, home, sandbox, "replicas caught up", |s| {
        let r = &s["replication"];
        let version = r["version"].as_u64();
        version.is_some()
            && r["replicas"].as_array().is_some_and(|all| {
                all.len() == replicas
                    && all
                        .iter()
                        .all(|x| x["version"].as_u64() == version && x["lag_bytes"] == 0)
            })
    })
    .await;
    let home_bytes = std::fs::read(cluster.live_file(home, sandbox)).unwrap();
    for replica in replica_nodes(&settled) {
        let copy = std::fs::read(replica_file(cluster, replica, sandbox)).unwrap();
        assert!(
            copy == home_bytes,
            "node {replica}'s copy ({} bytes) differs from the home's ({} bytes)",
            copy.len(),
            home_bytes.len()
        );
    }
}

/// A WAL past the checkpoint size (4 MiB) and a suspend each used to
/// checkpoint it behind the shipper, which then sent a whole copy. The home
/// now checkpoints what it shipped: after the seed only changes go, and the
/// replica's copy stays the home's file byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_on_the_home_ship_changes_not_whole_copies() {
    let cluster = Cluster::start(ClusterOptions::default()).await;
    let mib = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("guests/mib");
    let (status, body) = cluster
        .dock_dir_with(1, &mib, "mib", &[("node", "1")])
        .await;
    assert_eq!(status, 201, "{body}");
    let sandbox = body["id"].as_str().unwrap().to_owned();
    let seeded = wait_info(&cluster, 1, &sandbox, "one replica", |s| {
        replica_nodes(s).len() == 1
    })
    .await;
    let replica = replica_nodes(&seeded)[0];
    let whole_copies = || {
        cluster
            .log(replica)
            .lines()
            .filter(|line| line.contains("replica seeded") && line.contains(&sandbox))
            .count()
    };
    assert_eq!(whole_copies(), 1, "the seed");
    // 1 MiB written per call: the WAL passes 4 MiB three times; a suspend
    // between rounds, and the next call resumes it.
    for round in 0..2u8 {
        for i in 0..6u8 {
            let stdin = char::from(b'a' + 6 * round + i).to_string();
            let (status, body) = cluster.call(1, &sandbox, json!({ "stdin": stdin })).await;
            assert!(status == 200 && body["exit_code"] == 0, "{status} {body}");
        }
        let (status, body) = cluster
            .post(1, &format!("/v1/sandboxes/{sandbox}/suspend"), json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = cluster.call(1, &sandbox, json!({ "stdin": "z" })).await;
    assert!(status == 200 && body["exit_code"] == 0, "{status} {body}");
    assert_eq!(
        whole_copies(),
        1,
        "whole copies after the seed; node {replica}'s log:\n{}",
        cluster.log_tail(replica)
    );
    suspend_and_compare_copies(&cluster, 1, &sandbox, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_replica_is_replaced_on_another_node() {
    let mut cluster = Cluster::start(ClusterOptions::default()).await;
    let sandbox = dock_mark(&cluster, 1, &[]).await;
    let seeded = wait_info(&cluster, 1, &sandbox, "one replica", |s| {
        replica_nodes(s).len() == 1
    })
    .await;
    let lost = replica_nodes(&seeded)[0];
    let other = if lost == 2 { 3 } else { 2 };
    cluster.kill(lost);
    // Calls go on; the dead replica leaves the set and the third node is
    // seeded in its place.
    for i in 0..20 {
        mark(&cluster, 1, &sandbox, &format!("k/{i}")).await;
    }
    let restored = wait_info(&cluster, 1, &sandbox, "factor restored", |s| {
        replica_nodes(s) == [other]
    })
    .await;
    assert_eq!(restored["replication"]["factor"], 2, "{restored}");
    mark(&cluster, 1, &sandbox, "last").await;
    wait_info(
        &cluster,
        1,
        &sandbox,
        "the new replica holds the last call",
        |s| s["replication"]["replicas"][0]["lag_versions"] == 0,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_home_cut_off_from_the_majority_stops_answering_before_the_new_home_starts() {
    let cluster = Cluster::start(ClusterOptions::default()).await;
    let sandbox = dock_mark(&cluster, 1, &[("factor", "3")]).await;
    wait_info(&cluster, 2, &sandbox, "two replicas", |s| {
        replica_nodes(s) == [2, 3]
    })
    .await;
    mark(&cluster, 1, &sandbox, "warm").await;
    // Node 1 loses its Raft links (its API and data plane stay up): one
    // client keeps writing through it directly, another through node 2,
    // until the registry (as node 2 reads it) names a new home, and for 3 s
    // after.
    cluster.isolate(1);
    let started = Instant::now();
    let mut old_acks = Vec::new();
    let mut new_first: Option<Instant> = None;
    let mut i = 0;
    while started.elapsed() < Duration::from_secs(30)
        && new_first.is_none_or(|at| at.elapsed() < Duration::from_secs(3))
    {
        let key = format!("old/{i}");
        let (acked, _) = mark_once(&cluster, 1, &sandbox, &key).await;
        if acked {
            old_acks.push((key, Instant::now()));
        }
        let (acked, _) = mark_once(&cluster, 2, &sandbox, &format!("new/{i}")).await;
        if acked && new_first.is_none() && home_via_list(&cluster, 2, &sandbox).await != 1 {
            new_first = Some(Instant::now());
        }
        i += 1;
    }
    let new_first = new_first.expect("the sandbox failed over within 30 s");
    // No acknowledged write on the old home once the new home answered.
    let late: Vec<&String> = old_acks
        .iter()
        .filter(|(_, at)| *at > new_first)
        .map(|(key, _)| key)
        .collect();
    assert!(
        late.is_empty(),
        "node 1 acknowledged {late:?} after the new home did"
    );
    // And each one it acknowledged before is on the new home.
    let home = home_via_list(&cluster, 2, &sandbox).await;
    let counts = counters(&cluster.live_file(home, &sandbox));
    for (key, _) in &old_acks {
        assert!(
            counts.contains_key(key),
            "{key} acknowledged by node 1 is lost"
        );
    }
    println!(
        "cut-off home: {} write(s) acknowledged before it stopped; new home after {:?}",
        old_acks.len(),
        new_first - started
    );
    cluster.heal();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_replication_loses_at_most_its_window_and_never_corrupts() {
    let mut cluster = Cluster::start(ClusterOptions::default()).await;
    let sandbox = dock_mark(&cluster, 1, &[("durability", "async")]).await;
    let seeded = wait_info(&cluster, 2, &sandbox, "one replica", |s| {
        replica_nodes(s).len() == 1
    })
    .await;
    assert_eq!(seeded["replication"]["durability"], "async", "{seeded}");
    let replica = replica_nodes(&seeded)[0];
    let via = if replica == 2 { 3 } else { 2 };
    let mut acked = 0;
    for i in 0..300 {
        mark(&cluster, via, &sandbox, &format!("a/{i:03}")).await;
        acked += 1;
    }
    cluster.kill(1);
    mark(&cluster, via, &sandbox, "after").await;
    let counts = counters(&cluster.live_file(replica, &sandbox));
    let kept = (0..300)
        .filter(|i| counts.contains_key(&format!("a/{i:03}")))
        .count();
    // What survives is a prefix: the shipments that made it before the kill.
    assert!((0..kept).all(|i| counts.contains_key(&format!("a/{i:03}"))));
    println!(
        "async: {} of {acked} acknowledged write(s) lost at the kill",
        acked - kept
    );
}

/// Docks the mark workbook on node 1, waits for its replica and makes
/// `writes` calls (keys `prefix/i`): the sandbox, its replica's node and
/// the home's file size.
async fn replicated_marks(cluster: &Cluster, writes: u32, prefix: &str) -> (String, u64, u64) {
    let sandbox = dock_mark(cluster, 1, &[]).await;
    let seeded = wait_info(cluster, 1, &sandbox, "one replica", |s| {
        replica_nodes(s).len() == 1
    })
    .await;
    let replica = replica_nodes(&seeded)[0];
    for i in 0..writes {
        mark(cluster, 1, &sandbox, &format!("{prefix}/{i}")).await;
    }
    let file_bytes = std::fs::metadata(cluster.live_file(1, &sandbox))
        .unwrap()
        .len();
    (sandbox, replica, file_bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_to_a_replica_sends_no_file_and_keeps_every_write() {
    let cluster = Cluster::start(ClusterOptions::default()).await;
    let (sandbox, replica, file_bytes) = replicated_marks(&cluster, 30, "m").await;
    let (status, report) = cluster
        .post(
            1,
            &format!("/v1/sandboxes/{sandbox}/move"),
            json!({ "to": replica }),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["sandbox"]["home_node"], replica, "{report}");
    // Only what was pending went (nothing: every call shipped already).
    assert!(
        report["bytes_sent"].as_u64().unwrap() < file_bytes,
        "{report}: the file is {file_bytes} bytes"
    );
    // The new home answers from its copy, with every write.
    mark(&cluster, 1, &sandbox, "after-move").await;
    let counts = counters(&cluster.live_file(replica, &sandbox));
    assert_eq!(counts.len(), 31, "{counts:?}");
    assert!(!cluster.live_file(1, &sandbox).exists());
}

/// A move that begins while the home is seeding the target: the seed
/// stops, the new home keeps no copy beside the moved file, the factor is
/// kept from there and no write is lost. (The seed used to go on and land
/// after the move, leaving the new home a dead copy of the whole workbook.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_during_a_seed_leaves_the_new_home_no_second_copy() {
    let cluster = Cluster::start(ClusterOptions::default()).await;
    // The mark guest with 64 MiB of incompressible ballast: its seed takes
    // long enough to be seen under way.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        mark_workbook().join("mark.wat"),
        dir.path().join("mark.wat"),
    )
    .unwrap();
    let manifest = std::fs::read_to_string(mark_workbook().join("workbook.toml")).unwrap();
    std::fs::write(
        dir.path().join("workbook.toml"),
        format!("{manifest}\n[[files]]\nsrc = \"ballast\"\n"),
    )
    .unwrap();
    let mut ballast = std::fs::File::create(dir.path().join("ballast")).unwrap();
    let mut random = std::fs::File::open("/dev/urandom").unwrap().take(64 << 20);
    std::io::copy(&mut random, &mut ballast).unwrap();
    let (status, body) = cluster
        .dock_dir_with(1, dir.path(), "ballasted", &[("node", "1")])
        .await;
    assert_eq!(status, 201, "{body}");
    let sandbox = body["id"].as_str().unwrap().to_owned();
    mark(&cluster, 1, &sandbox, "before").await;

    let seed_file = |node: u64| {
        cluster
            .node(node)
            .data_dir
            .join("replicas")
            .join(format!("{sandbox}.seed"))
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let to = loop {
        if let Some(node) = [2, 3].into_iter().find(|n| seed_file(*n).exists()) {
            break node;
        }
        assert!(
            Instant::now() < deadline,
            "no seed began; node 1 log:\n{}",
            cluster.log_tail(1)
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    let (status, report) = cluster
        .post(
            1,
            &format!("/v1/sandboxes/{sandbox}/move"),
            json!({ "to": to }),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["sandbox"]["home_node"], to, "{report}");

    // The new home seeds a replica of its own; the seed that was under way
    // has ended one way or the other by then.
    let kept = wait_info(&cluster, to, &sandbox, "a replica from the new home", |s| {
        replica_nodes(s).len() == 1
    })
    .await;
    assert_ne!(replica_nodes(&kept)[0], to, "{kept}");
    for leftover in [replica_file(&cluster, to, &sandbox), seed_file(to)] {
        assert!(
            !leftover.exists(),
            "{} is left on the new home; node 1 log:\n{}\nnode {to} log:\n{}",
            leftover.display(),
            cluster.log_tail(1),
            cluster.log_tail(to)
        );
    }
    mark(&cluster, 1, &sandbox, "after").await;
    let counts = counters(&cluster.live_file(to, &sandbox));
    assert_eq!(counts.get("before"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("after"), Some(&1), "{counts:?}");
}

/// A drain moves a replicated sandbox to the member keeping its replica:
/// no file is copied and every write is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_moves_a_replicated_sandbox_to_its_replica_without_copying_it() {
    let cluster = Cluster::start(ClusterOptions::default()).await;
    let (sandbox, replica, file_bytes) = replicated_marks(&cluster, 10, "d").await;

    let steps = cluster.drain(2, 1).await;
    assert_eq!(
        steps.last().unwrap(),
        &json!({ "event": "done", "moved": 1, "failed": 0 }),
        "{steps:?}"
    );
    let moved = &steps[1];
    assert_eq!(
        (&moved["event"], &moved["sandbox"], &moved["to"]),
        (&json!("moved"), &json!(sandbox), &json!(replica)),
        "{steps:?}"
    );
    assert!(
        moved["bytes_sent"].as_u64().unwrap() < file_bytes,
        "{steps:?}: the file is {file_bytes} bytes"
    );
    mark(&cluster, 1, &sandbox, "after-drain").await;
    let counts = counters(&cluster.live_file(replica, &sandbox));
    assert_eq!(counts.len(), 11, "{counts:?}");
    assert!(!cluster.live_file(1, &sandbox).exists());
}
