//! The fault suite's checker against real nodes: a loopback cluster that
//! loses its leader and a follower keeps a linearizable registry and an
//! exact counter, and a node built to ack tenant creations before they
//! commit is caught.

use std::sync::Arc;
use std::time::Duration;

use nexus_cluster_tests::checker::{counter, registry};
use nexus_cluster_tests::history::{Call, History};
use nexus_cluster_tests::workload::{self, Client, Target, Workload};
use nexus_cluster_tests::{Cluster, ClusterOptions};

/// One call at a time per sandbox: the counter reads and writes its count
/// in two kv calls, which concurrent calls interleave (the third test).
const SERIAL_PROFILE: &str = "[profiles.serial]\nbase = \"compute\"\nmax_concurrent = 1\n";

fn target(cluster: &Cluster, counter: String) -> Target {
    Target {
        nodes: cluster
            .running()
            .iter()
            .map(|id| cluster.node(*id).url())
            .collect(),
        http: cluster.http().clone(),
        admin_key: cluster.admin_key().to_owned(),
        counter,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cluster_losing_its_leader_and_a_follower_stays_linearizable_and_exact() {
    let mut cluster = Cluster::start(ClusterOptions {
        extra_config: SERIAL_PROFILE.to_owned(),
        ..ClusterOptions::default()
    })
    .await;
    let counter_id = cluster
        .dock_example(1, "counter", "counter", &[("profile", "serial")])
        .await;
    let target = target(&cluster, counter_id);
    let history = Arc::new(History::new());
    let workload = Workload {
        pause: Duration::from_millis(20),
        ..Workload::default()
    };
    let clients = workload::start(&target, &workload, &history);

    tokio::time::sleep(Duration::from_secs(2)).await;
    let leader = cluster.agreed_leader(&[1, 2, 3]).await;
    cluster.kill(leader);
    tokio::time::sleep(Duration::from_secs(3)).await;
    cluster.restart(leader).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let leader = cluster.agreed_leader(&[1, 2, 3]).await;
    let follower = (1..=3).find(|id| *id != leader).expect("a follower");
    cluster.isolate(follower);
    tokio::time::sleep(Duration::from_secs(3)).await;
    cluster.heal();
    tokio::time::sleep(Duration::from_secs(2)).await;
    clients.stop().await;
    tokio::time::sleep(workload.timeout + Duration::from_secs(1)).await;

    let final_count = workload::finish(&target, &history, workload.timeout)
        .await
        .expect("the final increment and read");
    let ops = history.ops();
    let registry = registry::check(&ops);
    let counter = counter::check(&ops, final_count);
    assert_eq!(registry.anomalies, Vec::<String>::new());
    assert_eq!(counter.anomalies, Vec::<String>::new());
    assert_eq!(registry.undecided, 0);
    // The run did real work on both sides of the faults.
    assert!(
        registry.elements > 20 && registry.reads > 20,
        "{registry:?}"
    );
    assert!(counter.acknowledged > 20, "{counter:?}");
    assert!(final_count as usize >= counter.acknowledged);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_checker_catches_nodes_that_ack_tenant_creations_before_they_commit() {
    let cluster = Cluster::start(ClusterOptions {
        env: vec![("NEXUS_FAULT_ACK_BEFORE_COMMIT".into(), "1".into())],
        ..ClusterOptions::default()
    })
    .await;
    let target = target(&cluster, String::new());
    let history = Arc::new(History::new());
    let workload = Workload {
        counter_clients: 0,
        ..Workload::default()
    };
    let clients = workload::start(&target, &workload, &history);
    tokio::time::sleep(Duration::from_secs(3)).await;
    clients.stop().await;
    // The late writes land a second after their acks.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let reader = Client {
        process: 9,
        target,
        timeout: workload.timeout,
        history: Arc::clone(&history),
    };
    assert!(reader.run(Call::ReadTenants, 0).await.is_ok());

    let report = registry::check(&history.ops());
    assert!(
        report
            .anomalies
            .iter()
            .any(|a| a.contains("was missing from a read begun at")
                && a.ends_with("after its creation took effect")),
        "{:?}",
        report.anomalies
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_checker_catches_a_counter_that_concurrent_calls_interleave() {
    // Under `compute` four calls of one sandbox run at once, and the
    // counter's kv get and set are two calls: increments get lost.
    let cluster = Cluster::start(ClusterOptions::default()).await;
    let counter_id = cluster.dock_example(1, "counter", "counter", &[]).await;
    let target = target(&cluster, counter_id);
    let history = Arc::new(History::new());
    let workload = Workload {
        registry_clients: 0,
        counter_clients: 4,
        pause: Duration::ZERO,
        ..Workload::default()
    };
    let clients = workload::start(&target, &workload, &history);
    tokio::time::sleep(Duration::from_secs(5)).await;
    clients.stop().await;
    let final_count = workload::finish(&target, &history, workload.timeout)
        .await
        .expect("the final increment");
    let report = counter::check(&history.ops(), final_count);
    assert!(
        report.anomalies.iter().any(
            |a| a.contains("was returned to two acknowledged increments")
                && a.ends_with("one increment was lost")
        ),
        "{report:?}"
    );
}
